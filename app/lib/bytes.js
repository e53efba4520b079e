// Bytes, text and the encodings of docs/PROTOCOL.md §1: strict base64 and base64url, the
// length-prefixed fields F(x) that every transcript and binding is made of, and constant-time
// comparison. Pure: no I/O, no clock.

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export const utf8 = (s) => encoder.encode(s);
// Throws on invalid UTF-8 (a name or a path that is not text is refused, never mangled).
export const fromUtf8 = (b) => decoder.decode(b);

export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export const isAllZero = (b) => b.every((x) => x === 0);

export const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
export function fromHex(s) {
  if (s.length % 2 || /[^0-9a-f]/i.test(s)) throw new Error('not hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}

export function randomBytes(n) {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return b;
}

// ---- base64 (RFC 4648): strict decoders --------------------------------------------------------

const STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const table = (alphabet) => {
  const t = new Int16Array(256).fill(-1);
  for (let i = 0; i < 64; i++) t[alphabet.charCodeAt(i)] = i;
  return t;
};
const STD_T = table(STD);
const URL_T = table(URL);

function encode(bytes, alphabet, pad) {
  let out = '';
  const chunk = [];
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    chunk.push(alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63], alphabet[v & 63]);
    if (chunk.length >= 4096) {
      out += chunk.join('');
      chunk.length = 0;
    }
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const v = bytes[i] << 16;
    chunk.push(alphabet[v >> 18], alphabet[(v >> 12) & 63], pad ? '==' : '');
  } else if (rest === 2) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    chunk.push(alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63], pad ? '=' : '');
  }
  return out + chunk.join('');
}

// Decodes the characters of `src` (a string, or the bytes of ASCII text) strictly: only the
// alphabet, padding exactly when `padded` (then the length is a multiple of 4), and the unused
// bits of the last character zero (one text, one value). Strings go through their UTF-8 bytes, so
// one tight loop over a Uint8Array decodes both (a response chunk's token is 350 kB).
function decode(src, t, padded) {
  // Every alphabet is ASCII, so a character past U+007F becomes bytes that no table holds.
  if (typeof src === 'string') src = encoder.encode(src);
  const n = src.length;
  let end = n;
  if (padded) {
    if (n % 4) throw new Error('base64: length is not a multiple of 4');
    if (n && src[n - 1] === 61) end--;
    if (n && src[n - 2] === 61) end--;
  }
  if (end % 4 === 1) throw new Error('base64: impossible length');
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let o = 0;
  let i = 0;
  let bad = 0;
  for (; i + 4 <= end; i += 4) {
    const a = t[src[i]], b = t[src[i + 1]], c = t[src[i + 2]], d = t[src[i + 3]];
    bad |= a | b | c | d;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >> 16;
    out[o++] = (v >> 8) & 255;
    out[o++] = v & 255;
  }
  if (bad < 0) throw new Error('base64: character outside the alphabet');
  const rest = end - i;
  if (rest) {
    const a = t[src[i]], b = t[src[i + 1]], c = rest === 3 ? t[src[i + 2]] : 0;
    if ((a | b | c) < 0) throw new Error('base64: character outside the alphabet');
    if (rest === 2 && b & 15) throw new Error('base64: non-canonical trailing bits');
    if (rest === 3 && c & 3) throw new Error('base64: non-canonical trailing bits');
    const v = (a << 18) | (b << 12) | (c << 6);
    out[o++] = v >> 16;
    if (rest === 3) out[o++] = (v >> 8) & 255;
  }
  return out;
}

// Where the browser has it (TC39 "Uint8Array base64"), the native decoder takes the long inputs
// (response chunks) at twice the speed, held to the same rules: lastChunkHandling 'strict' asks
// for the padding and zero trailing bits, and ASCII whitespace, which it would skip, is refused
// first. On any refusal the decoder above runs, for its exact reason.
const NATIVE_FROM = 4096;  // characters; shorter inputs are not worth a second path
const nativeDecode = typeof Uint8Array.fromBase64 === 'function';
const latin1 = new TextDecoder('latin1');

function decodePaddedUrl(src) {
  if (!nativeDecode || src.length < NATIVE_FROM) return decode(src, URL_T, true);
  const text = typeof src === 'string' ? src : latin1.decode(src);
  if (!/[\t\n\f\r ]/.test(text)) {
    try {
      return Uint8Array.fromBase64(text, { alphabet: 'base64url', lastChunkHandling: 'strict' });
    } catch { /* the reason comes from the decoder above */ }
  }
  return decode(src, URL_T, true);
}

export const b64 = (b) => encode(b, STD, true);
export const b64NoPad = (b) => encode(b, STD, false);
export const b64u = (b) => encode(b, URL, false);
export const b64uPadded = (b) => encode(b, URL, true);
export const fromB64 = (s) => decode(s, STD_T, true);
export const fromB64u = (s) => decode(s, URL_T, false);
export const fromB64uPadded = (s) => decodePaddedUrl(s);

// ---- fields (§1) --------------------------------------------------------------------------------

const asBytes = (x) => (typeof x === 'string' ? utf8(x) : x);

// F(x): 4-byte big-endian length, then the bytes (strings as UTF-8).
export function field(x) {
  const b = asBytes(x);
  const out = new Uint8Array(4 + b.length);
  new DataView(out.buffer).setUint32(0, b.length);
  out.set(b, 4);
  return out;
}

// F(int v): a field of 8 bytes, big-endian two's complement.
export function fieldInt(v) {
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  view.setUint32(0, 8);
  view.setBigInt64(4, BigInt(v));
  return out;
}

export const fieldFlag = (flag) => new Uint8Array([0, 0, 0, 1, flag ? 1 : 0]);

export const fields = (...parts) => concat(...parts);

// A UUID as its 16 raw bytes (lower-case canonical text only).
export function uuidBytes(text) {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(text)) throw new Error('not a UUID');
  return fromHex(text.replaceAll('-', ''));
}
