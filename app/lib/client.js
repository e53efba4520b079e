// The page's minihttps client over fetch(): the handshake, sealed requests, listings and
// downloads, with a record kept in IndexedDB (store.js). The protocol is in handshake.js and
// sealed.js; this file moves bytes and decides when to handshake again.
import { concat, fromUtf8 } from './bytes.js';
import { fernetSeal, rsaGenerate, rsaSign, rsaSpki } from './crypto.js';
import { key } from './keys.js';
import { checkServer, finishHandshake, makeHello } from './handshake.js';
import { CutOffError, IntegrityError, Layout, SEALED_FIELD, SEALED_PATH, StreamOpener, openResponseHead, sealRequest } from './sealed.js';
import * as store from './store.js';

const MAX_PLAIN_REFUSAL = 65536;
const MAX_UPLOAD_ANSWER = 1 << 20;

// A refusal with its HTTP status and the server's reason (untrusted text: shown, never parsed).
export class ServerError extends Error {
  constructor(status, reason, sealed) {
    super(reason);
    Object.assign(this, { status, sealed });
  }
}

// At most `limit` bytes of a plain body as text; '' when it is longer (the read stops there, so a
// hostile answer cannot fill memory).
async function readTextBounded(response, limit) {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const parts = [];
  let held = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    held += value.length;
    if (held > limit) {
      reader.cancel().catch(() => {});
      return '';
    }
    parts.push(value);
  }
  return fromUtf8(concat(...parts));
}

async function readJsonBounded(response, limit) {
  try {
    return JSON.parse(await readTextBounded(response, limit));
  } catch {
    return null;
  }
}

export async function describeServer() {
  const r = await fetch('/.well-known/minihttps', { cache: 'no-store', redirect: 'error' });
  if (!r.ok) throw new ServerError(r.status, `the server description answered HTTP ${r.status}`, false);
  const json = await readJsonBounded(r, MAX_PLAIN_REFUSAL);
  if (!json) throw new ServerError(r.status, 'the server description is not JSON', false);
  return json;
}

// XMLHttpRequest rather than fetch for requests with a body: it reports upload progress, and a
// request body cannot stream over HTTP/1.1 either way. Resolves with the whole answer.
function xhr(method, url, headers, body, onProgress) {
  return new Promise((resolve, reject) => {
    const r = new XMLHttpRequest();
    r.open(method, url);
    r.responseType = 'arraybuffer';
    for (const [k, v] of Object.entries(headers)) r.setRequestHeader(k, v);
    if (onProgress) r.upload.onprogress = (e) => onProgress(e.loaded, e.total);
    // The answer to an upload is a few small chunks; a longer one is not read to its end.
    r.onprogress = (e) => e.loaded > MAX_UPLOAD_ANSWER && r.abort();
    r.onabort = () => reject(new IntegrityError('the answer is too large'));
    r.onload = () => resolve({ status: r.status, header: (n) => r.getResponseHeader(n), bytes: new Uint8Array(r.response ?? new ArrayBuffer(0)) });
    r.onerror = () => reject(new ServerError(0, 'the connection to the server failed', false));
    r.send(body);
  });
}

// The error of an answer of `status` whose body is `text` ({"error", "reason"}, §1): the server's
// reason when there is one, else the status says enough.
function refusal(status, text, sealed) {
  let reason = `HTTP ${status}`;
  try {
    const json = JSON.parse(text);
    if (typeof json?.reason === 'string') reason = json.reason;
  } catch { /* not JSON */ }
  return new ServerError(status, reason, sealed);
}

// A refusal made before the request verified comes in clear (§5.3): its status and reason only.
function plainRefusal(status, text) {
  if (status < 400) return new IntegrityError(`the server answered a sealed request in clear (HTTP ${status})`);
  return refusal(status, text, false);
}

const declaredLength = (v) => (v !== null && /^[0-9]{1,16}$/.test(v) ? Number(v) : null);

// The request body stream of `plaintext` (§6, §8): chunk i under K("request body", B, i, last),
// sealed several at a time, as one Blob of tokens.
async function sealBody(session, binding, plaintext) {
  const layout = new Layout(plaintext.length, session.chunkSize, 0, Math.max(1, Math.ceil(plaintext.length / session.chunkSize)) - 1);
  const now = Math.floor(Date.now() / 1000);
  const tokens = [];
  for (let i = 0; i <= layout.last; i += 8) {
    const batch = [];
    for (let j = i; j <= Math.min(layout.last, i + 7); j++) {
      const from = j * session.chunkSize;
      batch.push(key(session.prk, 'request body', binding, j, j === layout.last)
        .then((k) => fernetSeal(k, plaintext.subarray(from, from + layout.plaintextSize(j)), now)));
    }
    tokens.push(...(await Promise.all(batch)));
  }
  return new Blob(tokens, { type: 'application/minihttps-stream' });
}

export class Client {
  constructor(record) {
    this.record = record;  // {fingerprint, name, rsa: {privateKey, publicKey, spki}, session, uuid}
  }

  // First visit: checks the server against `fingerprint` (null: trust on first use, the caller
  // showed the fingerprint and the user confirmed it), makes the RSA key and handshakes. Stores the
  // record only once the handshake succeeded.
  static async firstVisit(description, fingerprint, name) {
    const server = await checkServer(description, fingerprint);
    const pair = await rsaGenerate(3072);
    const rsa = { privateKey: pair.privateKey, publicKey: pair.publicKey, spki: await rsaSpki(pair.publicKey) };
    const client = new Client({ fingerprint: server.fingerprint, name, rsa, session: null, uuid: null });
    await client.handshake(server);
    return client;
  }

  async handshake(server = null) {
    const r = this.record;
    server ??= await checkServer(await describeServer(), r.fingerprint);
    const hello = await makeHello(server, { name: r.name, rsa: r.rsa, uuid: r.uuid });
    const answer = await fetch('/auth/handshake', {
      method: 'POST', body: hello.body, headers: { 'Content-Type': 'application/json' }, cache: 'no-store', redirect: 'error',
    });
    const json = await readJsonBounded(answer, MAX_PLAIN_REFUSAL);
    if (answer.status !== 200) throw new ServerError(answer.status, json?.reason ?? `handshake: HTTP ${answer.status}`, false);
    const session = await finishHandshake(hello.state, json);
    this.record = { ...r, session, uuid: session.uuid };
    await store.save(this.record);
  }

  get session() {
    return this.record.session;
  }

  sign(bytes) {
    return rsaSign(this.record.rsa.privateKey, bytes);
  }

  // One sealed request; returns {answer (the opened head), response (for its body), binding}.
  async send(inner, { signal } = {}) {
    if (!this.session || this.session.expires <= Date.now() / 1000) await this.handshake();
    const outer = { scheme: location.protocol.slice(0, -1), authority: location.host };
    const sealed = await sealRequest(this.session, (b) => this.sign(b), inner, outer);
    const response = await fetch(SEALED_PATH, {
      method: sealed.method, headers: sealed.headers, cache: 'no-store', redirect: 'error', signal,
    });
    const token = response.headers.get(SEALED_FIELD);
    if (token === null) {
      throw plainRefusal(response.status, await readTextBounded(response, MAX_PLAIN_REFUSAL));
    }
    if (response.status !== 200) throw new IntegrityError(`a sealed answer came with the outer status ${response.status} instead of 200`);
    const answer = await openResponseHead(this.session, sealed.binding, token, declaredLength(response.headers.get('Content-Length')));
    return { answer, response, binding: sealed.binding };
  }

  // One sealed request with a body (an upload part): the body is sealed under this request's
  // binding, sent whole, and the whole answer read. Returns {answer, body (the plaintext)}.
  async sendWithBody(inner, plaintext, { onProgress } = {}) {
    if (!this.session || this.session.expires <= Date.now() / 1000) await this.handshake();
    const session = this.session;
    const outer = { scheme: location.protocol.slice(0, -1), authority: location.host };
    const sealed = await sealRequest(session, (b) => this.sign(b), inner, outer);
    const body = await sealBody(session, sealed.binding, plaintext);
    const r = await xhr(sealed.method, SEALED_PATH, sealed.headers, body, onProgress);
    const token = r.header(SEALED_FIELD);
    if (token === null) throw plainRefusal(r.status, r.bytes.length > MAX_PLAIN_REFUSAL ? '' : fromUtf8(r.bytes));
    if (r.status !== 200) throw new IntegrityError(`a sealed answer came with the outer status ${r.status} instead of 200`);
    const answer = await openResponseHead(session, sealed.binding, token, declaredLength(r.header('Content-Length')));
    const parts = [];
    if (answer.layout) {
      const opener = new StreamOpener(session, 'response body', sealed.binding, answer.layout, (i, b) => parts.push(b));
      await opener.push(r.bytes);
      await opener.finish();
    } else if (r.bytes.length) {
      throw new IntegrityError('the stream continues after its last chunk');
    }
    const text = fromUtf8(concat(...parts));  // whole: a character may span two chunks
    if (answer.status >= 400) throw refusal(answer.status, text, true);
    return { answer, text };
  }

  // A sealed request without a body whose whole answer is JSON (or nothing): the parsed JSON, or
  // null for a 204. Errors become ServerError.
  async call(inner) {
    const sent = await this.check(await this.send(inner));
    const bytes = await this.body(sent, MAX_PLAIN_REFUSAL);
    return bytes.length ? JSON.parse(fromUtf8(bytes)) : null;
  }

  // send() that handshakes again once after a plain 401 (a replaced or expired session). Only for
  // requests that may be repeated (GET, HEAD).
  async sendIdempotent(inner, options) {
    try {
      return await this.send(inner, options);
    } catch (e) {
      if (!(e instanceof ServerError) || e.status !== 401 || e.sealed) throw e;
      await this.handshake();
      return this.send(inner, options);
    }
  }

  // Reads the body stream of a sent request, handing each opened chunk to onChunk(index, bytes).
  async receive({ answer, response, binding }, onChunk, { signal } = {}) {
    if (!answer.layout) {
      await response.body?.cancel();
      return;
    }
    const opener = new StreamOpener(this.session, 'response body', binding, answer.layout, onChunk);
    const reader = response.body.getReader();
    try {
      for (;;) {
        signal?.throwIfAborted();
        const { value, done } = await reader.read();
        if (done) break;
        await opener.push(value);
      }
    } catch (e) {
      reader.cancel().catch(() => {});
      if (e instanceof IntegrityError || e?.name === 'AbortError') throw e;
      throw new CutOffError(`output incomplete: the connection broke off (${e.message})`);
    }
    await opener.finish();
  }

  // The whole body of a small answer (listings, errors).
  async body(sent, limit = 64 << 20) {
    if (sent.answer.layout && sent.answer.layout.byteCount() > limit) throw new IntegrityError('the answer is too large');
    const parts = [];
    await this.receive(sent, (i, b) => parts.push(b));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  // A sealed error answer becomes a ServerError with the server's reason.
  async check(sent) {
    if (sent.answer.status < 400) return sent;
    throw refusal(sent.answer.status, fromUtf8(await this.body(sent, MAX_PLAIN_REFUSAL)), true);
  }

  async list(path) {
    const sent = await this.check(await this.sendIdempotent({ method: 'GET', path: `${path}?list` }));
    const json = JSON.parse(fromUtf8(await this.body(sent)));
    if (!json || !Array.isArray(json.entries)) throw new IntegrityError('the listing is malformed');
    return json;
  }

  // Starts a download: the sealed GET is sent and its head checked; returns {answer, sent} for
  // receive(). With the ETag of the file, and `from` (a multiple of the chunk size, 0 included), it
  // asks for the rest only if the file is still that one (range + if-range, §7.1, §7.2), so a 200
  // says it is not.
  async startDownload(path, { signal, from = 0, etag = null } = {}) {
    // A resume asks for a Range even from byte 0: the browser may drop what it had buffered when a
    // connection breaks, so nothing verified yet is a resume too, and only a 206 of that ETag is one.
    const fields = etag ? [['range', `bytes=${from}-`], ['if-range', etag]] : [];
    return this.check(await this.sendIdempotent({ method: 'GET', path, fields }, { signal }));
  }

  async logout() {
    if (this.session && this.session.expires > Date.now() / 1000) {
      try {
        await this.check(await this.send({ method: 'POST', path: '/auth/logout' }));
      } catch (e) {
        if (!(e instanceof ServerError && e.status === 401)) throw e;  // already ended
      }
    }
    this.record = { ...this.record, session: null };
    await store.save(this.record);
  }
}
