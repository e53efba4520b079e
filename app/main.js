// The page: first visit and pinning, browsing, downloads, uploads, chat (chat_panel.js), logout.
// The protocol lives in lib/; this file only decides what is on screen.
import { ChatPanel } from './chat_panel.js';
import { Client, ServerError, describeServer } from './lib/client.js';
import { fingerprintOf, normalizeFingerprint } from './lib/handshake.js';
import { fromB64u } from './lib/bytes.js';
import { CutOffError, IntegrityError } from './lib/sealed.js';
import { pickFile, sinkFor } from './lib/save.js';
import { removeFile, uploadFile } from './lib/upload.js';
import * as store from './lib/store.js';
import { h, humanSize, humanTime, visible } from './lib/view.js';

const root = document.getElementById('app');
let client = null;
let sort = { key: 'name', descending: false };

const NAME_RULE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,31}$/;

function show(...children) {
  root.replaceChildren(...children);
}

function errorText(e) {
  if (e instanceof ServerError) return `${e.status}: ${visible(e.message)}`;
  return visible(e?.message ?? String(e));
}

const chat = new ChatPanel(document.getElementById('chat-panel'), () => client, errorText);

function setMessage(kind, text) {
  const el = document.getElementById(kind);
  if (el) el.textContent = text;
}

// ---- first visit ---------------------------------------------------------------------------------

async function connectView(description, note = '') {
  let shown = '(the server did not describe itself)';
  try {
    shown = await fingerprintOf(fromB64u(description.public_key));
  } catch { /* checkServer refuses it below */ }
  const form = h('form', { id: 'connect-form', novalidate: true },
    h('h1', {}, 'Connect to this server'),
    note && h('p', { class: 'note' }, note),
    h('p', {}, 'The server presents this key:'),
    h('p', {}, h('code', { id: 'shown-fingerprint' }, shown)),
    h('p', { class: 'warning' },
      'Check it with the server\'s operator (minihttpsd prints its fingerprint when it starts) before you trust it: ',
      'anyone between you and the server could show you another one. Once you connect, this page remembers the key and ',
      'refuses any other.'),
    h('label', { for: 'fingerprint' }, 'Fingerprint you were given'),
    h('input', { id: 'fingerprint', name: 'fingerprint', autocomplete: 'off', spellcheck: 'false', placeholder: 'SHA256:…' }),
    h('label', { class: 'check' },
      h('input', { type: 'checkbox', id: 'tofu' }),
      ' I cannot check it: trust the key shown above (trust on first use)'),
    h('label', { for: 'name' }, 'Your name (1–32 of A–Z a–z 0–9 . _ -)'),
    h('input', { id: 'name', name: 'name', autocomplete: 'username', maxlength: 32, required: true }),
    h('button', { id: 'connect', type: 'submit' }, 'Connect'),
    h('p', { id: 'status', role: 'status' }),
    h('p', { id: 'error', role: 'alert' }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setMessage('error', '');
    const typed = document.getElementById('fingerprint').value;
    const tofu = document.getElementById('tofu').checked;
    const name = document.getElementById('name').value.trim();
    let pinned = null;
    if (typed.trim()) {
      pinned = normalizeFingerprint(typed);
      if (!pinned) return setMessage('error', 'That is not a fingerprint: it looks like SHA256: followed by 43 characters.');
    } else if (!tofu) {
      return setMessage('error', 'Paste the fingerprint you were given, or tick the box to trust the key shown.');
    }
    if (!NAME_RULE.test(name)) return setMessage('error', 'A name is 1–32 of A–Z a–z 0–9 . _ - and does not start with . or -.');
    const button = document.getElementById('connect');
    button.disabled = true;
    setMessage('status', 'Making your key and connecting…');
    try {
      client = await Client.firstVisit(description, pinned, name);
      if (location.hash.replace(/^#/, '') === '/' || !location.hash) await browse();
      else location.hash = '#/';  // the hashchange shows it
    } catch (e) {
      setMessage('status', '');
      setMessage('error', errorText(e));
      button.disabled = false;
    }
  });
  show(form);
  document.getElementById('fingerprint').focus();
}

// ---- browsing ------------------------------------------------------------------------------------

// The hash says what is shown: "#/docs/" a folder of the server, "#~/a/" a folder of the user's
// own upload area (/.uploads/ on the wire).
function currentPlace() {
  const raw = location.hash.replace(/^#/, '');
  const uploads = raw.startsWith('~');
  let p = '/';
  try {
    p = decodeURIComponent(uploads ? raw.slice(1) : raw) || '/';
  } catch { /* a mangled hash shows the top */ }
  if (!p.startsWith('/')) p = '/';
  return { uploads, names: p.split('/').filter(Boolean) };
}

// A path of names as a request target: each name percent-encoded.
const target = (names, dir) => `/${names.map(encodeURIComponent).join('/')}${dir && names.length ? '/' : ''}`;
const hashOf = (uploads, names) => `#${uploads ? '~' : ''}${target(names, true)}`;
const wirePath = (uploads, names, dir) => (uploads ? `/.uploads${target(names, dir)}` : target(names, dir));

function header(uploads) {
  const r = client.record;
  return h('header', {},
    h('strong', {}, 'minihttps'),
    h('span', { class: 'who' }, 'signed in as ', h('span', { id: 'who-name' }, visible(r.name)), ' · server ',
      h('code', { id: 'pinned' }, r.fingerprint)),
    h('nav', { class: 'actions' },
      h('button', { id: 'open-chat', type: 'button', onclick: () => (chat.isOpen ? chat.text.focus() : chat.open()) }, 'Chat'),
      h('button', { id: 'logout', type: 'button', onclick: logout }, 'Log out'),
      h('button', { id: 'forget', type: 'button', onclick: forgetServer }, 'Forget this server')),
    h('nav', { class: 'tabs', 'aria-label': 'Views' },
      h('a', { id: 'tab-files', href: '#/', 'aria-current': uploads ? null : 'page' }, 'Files'),
      h('a', { id: 'tab-uploads', href: '#~/', 'aria-current': uploads ? 'page' : null }, 'My uploads')));
}

function crumbs(uploads, names) {
  const parts = [h('a', { href: hashOf(uploads, []) }, uploads ? 'my uploads' : 'root')];
  names.forEach((n, i) => parts.push(' / ', h('a', { href: hashOf(uploads, names.slice(0, i + 1)) }, visible(n))));
  return h('nav', { id: 'crumbs', 'aria-label': 'Folder' }, parts);
}

function sortEntries(entries) {
  const dirFirst = (a, b) => (a.type === 'dir') === (b.type === 'dir') ? 0 : a.type === 'dir' ? -1 : 1;
  const by = {
    name: (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    size: (a, b) => (a.size ?? -1) - (b.size ?? -1),
    mtime: (a, b) => (a.mtime ?? 0) - (b.mtime ?? 0),
  }[sort.key];
  return [...entries].sort((a, b) => dirFirst(a, b) || (sort.descending ? -by(a, b) : by(a, b)) || by(a, b));
}

function sortButton(key, label, render) {
  const active = sort.key === key;
  return h('th', { scope: 'col', 'aria-sort': active ? (sort.descending ? 'descending' : 'ascending') : 'none' },
    h('button', {
      type: 'button', id: `sort-${key}`,
      onclick: () => {
        sort = { key, descending: active ? !sort.descending : false };
        render();
      },
    }, label, active ? (sort.descending ? ' ▼' : ' ▲') : ''));
}

function listingTable({ uploads, names }, listing) {
  const table = h('table', { id: 'listing' });
  const render = () => {
    const rows = sortEntries(listing.entries).map((e) => {
      const dir = e.type === 'dir';
      const path = wirePath(uploads, [...names, e.name], dir);
      const link = dir
        ? h('a', { href: hashOf(uploads, [...names, e.name]), class: 'dir' }, `${visible(e.name)}/`)
        : h('a', { href: path, class: 'file', onclick: (ev) => { ev.preventDefault(); download(path, e.name, e.size); } }, visible(e.name));
      const actions = uploads && !dir
        ? h('button', { type: 'button', class: 'delete', 'aria-label': `Delete ${visible(e.name)}`, onclick: () => remove([...names, e.name]) }, 'Delete')
        : '';
      return h('tr', { dataset: { name: e.name, type: e.type } },
        h('td', {}, link),
        h('td', { class: 'size' }, dir ? '' : humanSize(e.size)),
        h('td', { class: 'time' }, e.mtime ? humanTime(e.mtime) : ''),
        uploads ? h('td', {}, actions) : null);
    });
    const columns = uploads ? 4 : 3;
    table.replaceChildren(
      h('thead', {}, h('tr', {}, sortButton('name', 'Name', render), sortButton('size', 'Size', render),
        sortButton('mtime', 'Modified', render), uploads ? h('th', { scope: 'col' }, h('span', { class: 'sr' }, 'Actions')) : null)),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: columns, class: 'empty' }, 'This folder is empty.'))));
  };
  render();
  return table;
}

// The drop zone of the upload area: a file picker, or files dropped on it, go into the folder shown.
function dropZone(names) {
  const input = h('input', { type: 'file', id: 'upload-input', multiple: true, class: 'sr' });
  const zone = h('label', { id: 'dropzone', for: 'upload-input' },
    'Drop files here, or ', h('span', { class: 'link' }, 'choose files'), ' to upload them here.', input);
  const take = (files) => {
    for (const f of files) upload(f, [...names, f.name].join('/'));
  };
  input.addEventListener('change', () => {
    take([...input.files]);
    input.value = '';
  });
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    take([...e.dataTransfer.files]);
  });
  return zone;
}

async function browse() {
  const place = currentPlace();
  const transfers = document.getElementById('transfers') ?? h('section', { id: 'transfers', 'aria-label': 'Transfers' });
  const status = h('p', { id: 'status', role: 'status' }, 'Loading…');
  const error = h('p', { id: 'error', role: 'alert' });
  show(header(place.uploads), crumbs(place.uploads, place.names), place.uploads ? dropZone(place.names) : '', status, error, transfers);
  try {
    const listing = await client.list(wirePath(place.uploads, place.names, true));
    status.textContent = listing.truncated ? 'Only the first 10000 entries are shown.' : '';
    status.after(listingTable(place, listing));
  } catch (e) {
    status.textContent = '';
    error.textContent = errorText(e);
  }
}

function transferItem(name, verb) {
  const progress = h('progress', { max: 1, value: 0, 'aria-label': `${verb} ${visible(name)}` });
  const state = h('span', { class: 'state' }, 'starting…');
  const item = h('div', { class: 'transfer', dataset: { name, kind: verb.toLowerCase() } }, h('span', { class: 'name' }, visible(name)), progress, state);
  document.getElementById('transfers').prepend(item);
  return { item, progress, state };
}

async function upload(file, name) {
  const { item, progress, state } = transferItem(name, 'Uploading');
  progress.max = file.size || 1;
  try {
    const done = await uploadFile(client, file, name, (sent, total) => {
      progress.value = sent;
      state.textContent = `${humanSize(Math.round(sent))} of ${humanSize(total)}`;
    });
    progress.value = progress.max;
    item.dataset.result = 'done';
    state.textContent = `uploaded: ${humanSize(done.size)}, cksum ${done.cksum} confirmed`;
    if (currentPlace().uploads) await browse();
  } catch (e) {
    item.dataset.result = 'failed';
    item.classList.add('failed');
    state.textContent = `failed, nothing stored: ${errorText(e)}`;
  }
}

async function remove(names) {
  try {
    await removeFile(client, names.join('/'));
    await browse();
  } catch (e) {
    setMessage('error', errorText(e));
  }
}

// ---- downloads -----------------------------------------------------------------------------------

// A download whose connection breaks off goes on from the next chunk it lacks (a Range for the
// same ETag), up to MAX_RESUMES times; what was written stays, every chunk verified either way.
const MAX_RESUMES = 5;

async function download(path, name, size) {
  const { item, progress, state } = transferItem(name, 'Downloading');
  progress.max = size || 1;
  let sink = null;
  let picked = null;
  try {
    picked = await pickFile(name, size);
  } catch (e) {
    item.dataset.result = 'cancelled';
    state.textContent = e?.name === 'AbortError' ? 'cancelled: no file was picked' : `failed, nothing saved: ${errorText(e)}`;
    return;
  }
  const started = performance.now();
  try {
    let sent = await client.startDownload(path);
    const { etag } = sent.answer;
    const total = sent.answer.layout ? sent.answer.layout.size : 0;
    progress.max = total || 1;
    sink = await sinkFor(name, total, sent.answer.contentType, picked);
    item.dataset.sink = sink.kind;
    let done = 0;
    let resumes = 0;
    const onChunk = async (i, bytes) => {
      done += bytes.length;
      await sink.write(bytes);
      progress.value = done;
      state.textContent = `${humanSize(done)} of ${humanSize(total)}`;
    };
    for (;;) {
      try {
        await client.receive(sent, onChunk);
        break;
      } catch (e) {
        if (!(e instanceof CutOffError) || !etag || resumes >= MAX_RESUMES) throw e;
        resumes++;
        state.textContent = `the connection broke off after ${humanSize(done)}: resuming (${resumes} of ${MAX_RESUMES})…`;
        sent = await client.startDownload(path, { from: done, etag });
        const l = sent.answer.layout;
        if (sent.answer.status !== 206 || sent.answer.etag !== etag || !l || l.size !== total || l.firstByte() !== done)
          throw new IntegrityError('the file changed on the server during the download: start it again');
      }
    }
    await sink.close();
    if (!total) progress.value = 1;
    const seconds = (performance.now() - started) / 1000;
    item.dataset.result = 'done';
    item.dataset.seconds = seconds.toFixed(3);
    item.dataset.resumes = String(resumes);
    state.textContent = `done: ${humanSize(total)}, verified, in ${seconds.toFixed(1)} s${resumes ? `, resumed ${resumes}×` : ''}`;
  } catch (e) {
    if (sink) await sink.abort(e.message);
    else await picked?.remove?.().catch(() => {});
    item.dataset.result = 'failed';
    item.classList.add('failed');
    state.textContent = `failed, nothing saved: ${errorText(e)}`;
  }
}

// ---- logout, forget --------------------------------------------------------------------------------

async function logout() {
  chat.close();
  try {
    await client.logout();
  } catch (e) {
    setMessage('error', errorText(e));
    return;
  }
  show(h('section', { id: 'signed-out' },
    h('h1', {}, 'Signed out'),
    h('p', {}, 'Your key stays in this browser; connecting again gives you the same identity.'),
    h('button', { id: 'reconnect', type: 'button', onclick: () => browse() }, 'Connect again'),
    ' ',
    h('button', { id: 'forget', type: 'button', onclick: forgetServer }, 'Forget this server')));
}

// Forgetting loses the key, so it asks first, in the page (no modal dialog).
function forgetServer(ev) {
  const button = ev.currentTarget;
  if (document.getElementById('forget-confirm')) return;
  const ask = h('span', { id: 'forget-ask', role: 'alert' },
    ' This browser loses its key for this server; connecting again makes a new identity. ',
    h('button', { id: 'forget-confirm', type: 'button', onclick: forgetNow }, 'Forget'),
    ' ',
    h('button', { id: 'forget-cancel', type: 'button', onclick: () => ask.remove() }, 'Keep'));
  button.after(ask);
  document.getElementById('forget-confirm').focus();
}

async function forgetNow() {
  chat.close();
  try {
    await client?.logout();
  } catch { /* forgetting does not need the server */ }
  await store.forget();
  client = null;
  location.hash = '';
  await start();
}

// ---- start ---------------------------------------------------------------------------------------

async function start() {
  const record = await store.load();
  if (record?.rsa) {
    client = new Client(record);
    await browse();
    return;
  }
  try {
    await connectView(await describeServer());
  } catch (e) {
    show(h('p', { id: 'error', role: 'alert' }, `This server cannot be reached: ${errorText(e)}`));
  }
}

window.addEventListener('hashchange', () => client && browse());
start();
