// Sealed requests and their answers, docs/PROTOCOL.md §5.1-§5.3 and §6: the request head under
// K("request head", BH), the RFC 9421 signature over the outer request, the binding B; then the
// sealed response head, the layout of the chunks it announces, and each chunk opened under
// K("response body", B, i, last) in order. Network-free: the caller moves the bytes.
import { b64, b64u, randomBytes, utf8 } from './bytes.js';
import { FernetError, fernetOpen, fernetSeal, tokenLength } from './crypto.js';
import { decodeResponse, encodeRequest } from './bhttp.js';
import { headBinding, key, requestBinding } from './keys.js';

export const SEALED_PATH = '/.well-known/minihttps/sealed';
export const SEALED_FIELD = 'MiniHTTPS-Sealed';

// An answer that cannot be trusted (exit status 5 on the CLI): tampered, truncated, not ours.
export class IntegrityError extends Error {}
// The stream stopped before its last chunk (the connection broke off): what arrived verified, the
// rest may be asked for again (a Range from the next chunk).
export class CutOffError extends IntegrityError {}
const broken = (why) => {
  throw new IntegrityError(why);
};

// ---- request (§5.1, §5.2) ------------------------------------------------------------------------

// The one signing profile: "@method" "@authority" "@path" "minihttps-sealed", then the parameters
// in this order (RFC 9421 §2.3).
export function signatureParams({ created, nonce, keyid }) {
  return `("@method" "@authority" "@path" "minihttps-sealed");created=${created};nonce="${nonce}";alg="rsa-pss-sha512";keyid="${keyid}"`;
}

export function signatureBase({ method, authority, token, params }) {
  return [`"@method": ${method}`, `"@authority": ${authority}`, `"@path": ${SEALED_PATH}`,
    `"minihttps-sealed": ${token}`, `"@signature-params": ${params}`].join('\n');
}

// Seals `inner` = {method, path (with query), fields: [[name, value]]} for the session. `sign`
// signs bytes with the client's RSA key. Returns the outer request's method and headers and the
// binding B its body and answer are bound to. `fixed` may pin created, nonce and iv.
export async function sealRequest(session, sign, inner, { scheme, authority, upgrade = false }, fixed = {}) {
  const created = fixed.created ?? Math.floor(Date.now() / 1000);
  const nonce = fixed.nonce ?? b64u(randomBytes(16));
  // The head's authority stays empty, as the CLI sends it: the outer Host carries it, signed.
  const head = encodeRequest({ method: inner.method, scheme, authority: '', path: inner.path, fields: inner.fields ?? [] });
  const bh = await headBinding(session.keyid, created, utf8(nonce));
  const token = await fernetSeal(await key(session.prk, 'request head', bh, 0, true), head, created, fixed.iv);
  const method = upgrade ? 'GET' : 'POST';
  const params = signatureParams({ created, nonce, keyid: session.keyidText });
  const base = signatureBase({ method, authority: authority.toLowerCase(), token, params });
  const signature = await sign(utf8(base));
  return {
    method,
    headers: { [SEALED_FIELD]: token, 'Signature-Input': `sig1=${params}`, Signature: `sig1=:${b64(signature)}:` },
    binding: await requestBinding(utf8(base), signature),
    head, bh, signatureBase: base, signature,
  };
}

// ---- response head (§5.3) ------------------------------------------------------------------------

const decimal = (name, s) => {
  if (typeof s !== 'string' || !/^(0|[1-9][0-9]{0,15})$/.test(s)) broken(`response head: ${name} is not a decimal integer`);
  const v = Number(s);
  if (!Number.isSafeInteger(v)) broken(`response head: ${name} is too large`);
  return v;
};

// The chunks of a representation of `size` bytes in chunks of `chunkSize`, first..last (§6.1).
export class Layout {
  constructor(size, chunkSize, first, last) {
    this.size = size;
    this.chunkSize = chunkSize;
    this.count = Math.max(1, Math.ceil(size / chunkSize));
    if (!(first <= last && last < this.count)) broken('response head: chunks outside the representation');
    this.first = first;
    this.last = last;
  }
  plaintextSize(i) {
    return i < this.count - 1 ? this.chunkSize : this.size - (this.count - 1) * this.chunkSize;
  }
  firstByte() { return this.first * this.chunkSize; }
  lastByte() { return Math.min((this.last + 1) * this.chunkSize, this.size) - 1; }
  byteCount() { return this.lastByte() + 1 - this.firstByte(); }
  streamLength() {
    let n = 0;
    for (let i = this.first; i <= this.last; i++) n += tokenLength(this.plaintextSize(i));
    return n;
  }
}

// Opens the sealed head of an answer (`token`) and checks it against the outer Content-Length.
// Returns {status, fields (Map), contentType, etag, layout (null when no body follows)}.
export async function openResponseHead(session, binding, token, outerLength, { upgrade = false } = {}) {
  let head;
  try {
    head = decodeResponse(await fernetOpen(await key(session.prk, 'response head', binding, 0, true), token));
  } catch (e) {
    if (e instanceof FernetError) broken('the response head is not bound to this request');
    broken(`response head: ${e.message}`);
  }
  const f = head.fields;
  const answer = { status: head.status, fields: f, contentType: f.get('content-type') ?? null, etag: f.get('etag') ?? null, layout: null };
  const contentLength = decimal('content-length', f.get('content-length') ?? '');
  const chunkFields = ['minihttps-chunk-size', 'minihttps-first-chunk', 'minihttps-last-chunk'].map((n) => f.get(n));
  if (chunkFields.some((v) => v !== undefined)) {
    if (upgrade || chunkFields.some((v) => v === undefined)) broken('response head: the chunk fields come together or not at all');
    const [size, first, last] = chunkFields.map((v, i) => decimal(['chunk size', 'first chunk', 'last chunk'][i], v));
    if (size !== session.chunkSize) broken(`response head: chunk size ${size} is not the session's ${session.chunkSize}`);
    if (head.status === 206) {
      const m = /^bytes (0|[1-9][0-9]*)-(0|[1-9][0-9]*)\/(0|[1-9][0-9]*)$/.exec(f.get('content-range') ?? '');
      if (!m) broken('response head: content-range is not bytes FIRST-LAST/SIZE');
      answer.layout = new Layout(Number(m[3]), size, first, last);
      const l = answer.layout;
      if (l.firstByte() !== Number(m[1]) || l.lastByte() !== Number(m[2]) || l.byteCount() !== contentLength)
        broken('response head: content-range and content-length do not match the chunks sent');
    } else {
      answer.layout = new Layout(contentLength, size, first, last);
      if (first !== 0 || last + 1 !== answer.layout.count) broken(`response head: a ${head.status} answer must carry every chunk`);
    }
  }
  const expected = answer.layout ? answer.layout.streamLength() : 0;
  if (outerLength !== expected)
    broken(`the answer's Content-Length ${outerLength ?? '(none)'} is not the length of the stream its head announces (${expected})`);
  return answer;
}

// ---- the stream (§6.3) ---------------------------------------------------------------------------

// Cuts the body stream of `layout` into its tokens as bytes arrive (push), opens them in index
// order with up to `ahead` chunks decrypting at once, and hands each plaintext to `onChunk(index,
// bytes)` (awaited, in order). finish() checks that the chunk marked last arrived.
export class StreamOpener {
  constructor(session, purpose, binding, layout, onChunk, ahead = 4) {
    Object.assign(this, { session, purpose, binding, layout, onChunk, ahead });
    this.next = layout.first;  // the next chunk to cut from the bytes
    this.pending = [];         // chunk openings in flight, in index order
    this.pieces = [];  // bytes received and not yet cut into tokens, as they came (no copies)
    this.held = 0;     // their total length
    this.delivered = layout.first;  // the next index handed to onChunk
  }

  async open(i, token) {
    let plain;
    try {
      plain = await fernetOpen(await key(this.session.prk, this.purpose, this.binding, i, i === this.layout.last), token);
    } catch (e) {
      if (e instanceof FernetError) broken(`chunk ${i} does not verify (tampered, reordered, duplicated, or from another response)`);
      throw e;
    }
    const expected = this.layout.plaintextSize(i);
    if (plain.length !== expected) broken(`chunk ${i} holds ${plain.length} bytes, expected ${expected}`);
    return plain;
  }

  async push(bytes) {
    if (this.next > this.layout.last) {
      if (bytes.length) broken('the stream continues after its last chunk');
      return;
    }
    if (bytes.length) {
      this.pieces.push(bytes);
      this.held += bytes.length;
    }
    while (this.next <= this.layout.last) {
      const n = tokenLength(this.layout.plaintextSize(this.next));
      if (this.held < n) break;
      const i = this.next++;
      const opening = this.open(i, this.take(n));
      opening.catch(() => {});  // awaited below, in order; this only keeps it from going unhandled
      this.pending.push(opening);
      if (this.pending.length >= this.ahead) await this.deliver();
    }
    if (this.next > this.layout.last && this.held) broken('the stream continues after its last chunk');
  }

  // The next n bytes received, copied once into one token.
  take(n) {
    const out = new Uint8Array(n);
    for (let at = 0; at < n;) {
      const piece = this.pieces[0];
      const k = Math.min(piece.length, n - at);
      out.set(piece.subarray(0, k), at);
      at += k;
      if (k === piece.length) this.pieces.shift();
      else this.pieces[0] = piece.subarray(k);
    }
    this.held -= n;
    return out;
  }

  async deliver() {
    const plain = await this.pending.shift();
    await this.onChunk(this.delivered++, plain);
  }

  async finish() {
    while (this.pending.length) await this.deliver();
    if (this.next <= this.layout.last)
      throw new CutOffError(this.next === this.layout.first
        ? 'the stream ended before its first chunk: the output is incomplete'
        : `the stream ended after chunk ${this.next - 1}, before its last chunk: the output is incomplete`);
  }
}

