// The chat panel: rooms, who is here, messages to the room or to one person. It stays open while
// the user browses (it lives outside the view main.js redraws). Everything from the network is
// inserted as text (view.js), names and messages with their control characters made visible.
import { openChat } from './lib/chat.js';
import { h, visible } from './lib/view.js';

const ROOM_RULE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,31}$/;
const MAX_LINES = 500;  // messages kept on screen
const MAX_REJOINS = 3;  // a minute, after the session ended

const clock = (seconds) => new Date(seconds * 1000).toLocaleTimeString([], { hour12: false });

export class ChatPanel {
  constructor(container, getClient, describe) {
    this.container = container;
    this.getClient = getClient;
    this.describe = describe;  // error -> text for people
    this.connection = null;
    this.room = null;
    this.members = [];
  }

  get isOpen() {
    return this.connection !== null;
  }

  async open(room = 'lobby') {
    this.render();
    await this.connect(room);
  }

  render() {
    this.status = h('p', { id: 'chat-status', role: 'status' });
    this.lines = h('ol', { id: 'chat-messages', 'aria-live': 'polite', 'aria-label': 'Messages' });
    this.who = h('ul', { id: 'chat-who', 'aria-label': 'Who is here' });
    this.rooms = h('ul', { id: 'chat-rooms', 'aria-label': 'Rooms' });
    this.to = h('select', { id: 'chat-to', 'aria-label': 'Send to' }, h('option', { value: '' }, 'everyone in the room'));
    this.text = h('input', { id: 'chat-text', autocomplete: 'off', maxlength: 4096, 'aria-label': 'Message' });
    const roomInput = h('input', { id: 'chat-room', autocomplete: 'off', maxlength: 32, placeholder: 'room', 'aria-label': 'Room to join' });
    const send = h('form', { id: 'chat-form', class: 'chat-line' }, this.to, this.text, h('button', { id: 'chat-send', type: 'submit' }, 'Send'));
    send.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.say();
    });
    const join = h('form', { id: 'chat-join', class: 'chat-line' }, roomInput, h('button', { id: 'chat-join-room', type: 'submit' }, 'Join'),
      h('button', { id: 'chat-list-rooms', type: 'button', onclick: () => this.connection?.send({ type: 'rooms' }) }, 'List rooms'));
    join.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const room = roomInput.value.trim();
      if (!ROOM_RULE.test(room)) return this.note('A room name is 1–32 of A–Z a–z 0–9 . _ - and does not start with . or -.');
      if (!this.connection) return this.connect(room);
      this.connection.send({ type: 'join', room });
      roomInput.value = '';
    });
    this.title = h('h2', { id: 'chat-title' }, 'Chat');
    this.container.replaceChildren(
      h('div', { class: 'chat-head' }, this.title, h('button', { id: 'chat-close', type: 'button', onclick: () => this.close() }, 'Leave chat')),
      join, this.status,
      h('div', { class: 'chat-body' }, this.lines, h('div', { class: 'chat-side' }, h('h3', {}, 'Here'), this.who, h('h3', {}, 'Rooms'), this.rooms)),
      send);
    this.container.hidden = false;
  }

  async connect(room) {
    this.status.textContent = 'Connecting…';
    try {
      this.connection = await openChat(this.getClient(), room, {
        onEvent: (m) => this.event(m),
        onClose: (reason) => this.closed(reason),
      });
      this.status.textContent = '';
    } catch (e) {
      this.connection = null;
      this.status.textContent = '';
      this.note(`chat not opened: ${this.describe(e)}`);
    }
  }

  event(m) {
    switch (m.type) {
      case 'message':
        return this.line(m.time, m.private ? `${visible(m.from)} → ${visible(m.to)} (private)` : visible(m.from), visible(m.text), {
          from: m.from, private: m.private ? 'true' : 'false',
        });
      case 'notice':
        if (m.event === 'joined') {
          this.room = m.room;
          this.title.textContent = `Chat · ${visible(m.room)}`;
          this.text.focus();
        } else if (m.event === 'join' || m.event === 'leave') {
          this.connection?.send({ type: 'who' });
        }
        return this.line(m.time, '*', visible(m.text), { event: m.event ?? '' });
      case 'who':
        this.members = Array.isArray(m.members) ? m.members.filter((n) => typeof n === 'string') : [];
        return this.showMembers();
      case 'rooms':
        return this.rooms.replaceChildren(...(Array.isArray(m.rooms) ? m.rooms : []).map((r) => h('li', {},
          h('button', { type: 'button', class: 'room', dataset: { room: String(r.name) }, onclick: () => this.connection?.send({ type: 'join', room: String(r.name) }) },
            `${visible(r.name)} (${Number(r.members) || 0})`))));
      case 'error':
        return this.line(m.time, '!', visible(m.reason), { event: 'error' });
      default:
        return undefined;  // a type this page does not know: ignored
    }
  }

  showMembers() {
    const me = this.getClient().record.name;
    this.who.replaceChildren(...this.members.map((n) => h('li', { dataset: { name: n } }, visible(n), n === me ? ' (you)' : '')));
    const chosen = this.to.value;
    this.to.replaceChildren(h('option', { value: '' }, 'everyone in the room'),
      ...this.members.filter((n) => n !== me).map((n) => h('option', { value: n }, `only ${visible(n)}`)));
    if ([...this.to.options].some((o) => o.value === chosen)) this.to.value = chosen;
  }

  say() {
    const text = this.text.value;
    if (!text.trim() || !this.connection) return;
    if (/[\u0000-\u001f\u007f]/.test(text)) return this.note('A message cannot hold control characters.');
    const to = this.to.value;
    this.connection.send(to ? { type: 'msg', to, text } : { type: 'say', text });
    const me = visible(this.getClient().record.name);
    this.line(Date.now() / 1000, to ? `${me} → ${visible(to)} (private)` : me, visible(text), { from: this.getClient().record.name, mine: 'true' });
    this.text.value = '';
  }

  line(time, who, text, dataset = {}) {
    this.lines.append(h('li', { class: 'chat-message', dataset },
      h('time', {}, clock(Number(time) || Date.now() / 1000)), ' ', h('span', { class: 'from' }, who), ' ', h('span', { class: 'text' }, text)));
    while (this.lines.children.length > MAX_LINES) this.lines.firstChild.remove();
    this.lines.scrollTop = this.lines.scrollHeight;
  }

  note(text) {
    this.line(Date.now() / 1000, '!', text, { event: 'local' });
  }

  // A session that ended (expired, or replaced by a handshake elsewhere) is the one reason to come
  // back by ourselves: a new ticket handshakes again. Not after a kick or a refused frame, and at
  // most MAX_REJOINS times a minute, so a server that keeps closing is not hammered.
  closed(reason) {
    this.connection = null;
    this.note(`chat ended: ${visible(reason)}`);
    const now = Date.now();
    this.rejoins = (this.rejoins ?? []).filter((t) => now - t < 60000);
    if (/session ended/.test(reason) && this.rejoins.length < MAX_REJOINS && !this.container.hidden) {
      this.rejoins.push(now);
      this.note('joining again with a new session…');
      this.connect(this.room ?? 'lobby');
    }
  }

  close() {
    this.connection?.close();
    this.connection = null;
    this.container.hidden = true;
    this.container.replaceChildren();
  }
}
