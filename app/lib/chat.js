// The chat of docs/PROTOCOL.md §9 from a page. A page cannot put headers on a WebSocket upgrade, so
// it asks for a ticket with a sealed POST /chat?room=NAME and spends it on the unsigned upgrade of
// /.well-known/minihttps/chat?ticket=T (§9.1, "From a browser"). Frame n each way is one Fernet
// token under K("chat to server" / "chat to client", B, n, 0), B being the ticket request's binding,
// and its JSON says "seq": n; a frame from the server that does not open as the next one ends the
// connection.
import { fromUtf8, utf8 } from './bytes.js';
import { fernetOpen, fernetSeal } from './crypto.js';
import { key } from './keys.js';

export const TICKETED_CHAT_PATH = '/.well-known/minihttps/chat';
export const REFUSED = 'frame refused: out of sequence or tampered';

// handlers: onEvent(json) for every frame from the server (seq taken off), onClose(reason) once.
export async function openChat(client, room, { onEvent, onClose }) {
  // Asking again after a plain 401 (a new session) is harmless: a ticket nobody spends expires.
  const sent = await client.check(await client.sendIdempotent({ method: 'POST', path: `/chat?room=${encodeURIComponent(room)}` }));
  let granted = null;
  try {
    granted = JSON.parse(fromUtf8(await client.body(sent, 4096)));
  } catch { /* refused below */ }
  if (typeof granted?.ticket !== 'string' || !/^[A-Za-z0-9_-]{1,256}$/.test(granted.ticket)) throw new Error('chat: the server sent no ticket');
  return new ChatConnection(client.session, sent.binding, granted.ticket, { onEvent, onClose });
}

class ChatConnection {
  constructor(session, binding, ticket, { onEvent, onClose }) {
    this.session = session;
    this.binding = binding;
    this.sent = 0;
    this.received = 0;
    this.closed = false;
    this.onClose = onClose;
    // Frames are sealed and opened one at a time, in order, though WebCrypto is asynchronous; the
    // first one goes out once the socket is open.
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    this.ws = new WebSocket(`${scheme}://${location.host}${TICKETED_CHAT_PATH}?ticket=${ticket}`);
    this.outgoing = new Promise((resolve) => { this.ws.onopen = resolve; });
    this.incoming = Promise.resolve();
    this.ws.onmessage = (e) => {
      this.incoming = this.incoming.then(() => this.take(e.data, onEvent));
    };
    this.ws.onclose = (e) => {
      this.incoming = this.incoming.then(() => this.end(e.reason ? `${e.code} ${e.reason}` : `connection closed (${e.code})`));
    };
  }

  async take(data, onEvent) {
    if (this.closed) return;
    const n = this.received++;
    let message;
    try {
      if (typeof data !== 'string') throw new Error('binary');
      const k = await key(this.session.prk, 'chat to client', this.binding, n, false);
      message = JSON.parse(fromUtf8(await fernetOpen(k, data)));
      if (!message || typeof message !== 'object' || message.seq !== n || typeof message.type !== 'string') throw new Error('seq');
    } catch {
      this.ws.close(1000, REFUSED);
      this.end(REFUSED);
      return;
    }
    delete message.seq;
    onEvent(message);
  }

  end(reason) {
    if (this.closed) return;
    this.closed = true;
    this.onClose(reason);
  }

  // Sends {type, ...fields} as the next frame.
  send(message) {
    const n = this.sent++;
    this.outgoing = this.outgoing.then(async () => {
      if (this.closed) return;
      const k = await key(this.session.prk, 'chat to server', this.binding, n, false);
      this.ws.send(await fernetSeal(k, utf8(JSON.stringify({ ...message, seq: n })), Math.floor(Date.now() / 1000)));
    }).catch(() => { /* the socket is closing: onclose says why */ });
    return this.outgoing;
  }

  close() {
    if (!this.closed) this.ws.close(1000, 'bye');
    this.end('you left');
  }
}
