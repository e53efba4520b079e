// Binary HTTP heads (RFC 9292 §3, known length) as docs/PROTOCOL.md §5.1 and §5.3 use them: the
// client encodes request heads and decodes response heads. Every section is present; content
// and trailers are always empty.
import { concat, fromUtf8, utf8 } from './bytes.js';

export const MAX_HEAD_BYTES = 8192;

// QUIC varint (RFC 9000 §16), shortest form.
export function varint(v) {
  if (v < 0x40) return Uint8Array.of(v);
  if (v < 0x4000) return Uint8Array.of(0x40 | (v >> 8), v & 255);
  if (v < 0x40000000) return Uint8Array.of(0x80 | (v >>> 24), (v >> 16) & 255, (v >> 8) & 255, v & 255);
  throw new Error('varint: value too large for a head');
}
const prefixed = (s) => {
  const b = typeof s === 'string' ? utf8(s) : s;
  return concat(varint(b.length), b);
};

// A request head: method, scheme, authority, path (with query), fields [[name, value], ...] with
// lower-case names.
export function encodeRequest({ method, scheme, authority, path, fields = [] }) {
  const lines = concat(...fields.map(([n, v]) => concat(prefixed(n), prefixed(v))));
  const head = concat(varint(0), prefixed(method), prefixed(scheme), prefixed(authority), prefixed(path),
    varint(lines.length), lines, varint(0), varint(0));
  if (head.length > MAX_HEAD_BYTES) throw new Error('sealed: the request head is too large');
  return head;
}

class Cursor {
  constructor(bytes) {
    this.b = bytes;
    this.at = 0;
  }
  end() { return this.at === this.b.length; }
  varint() {
    if (this.end()) throw new Error('truncated head');
    const size = 1 << (this.b[this.at] >> 6);
    if (this.b.length - this.at < size) throw new Error('truncated varint');
    let v = this.b[this.at] & 0x3f;
    for (let i = 1; i < size; i++) v = v * 256 + this.b[this.at + i];
    this.at += size;
    return v;
  }
  bytes() {
    const n = this.varint();
    if (n > this.b.length - this.at) throw new Error('a length runs past the end of the head');
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
}

// A response head: {status, fields: Map(name -> value)}. Throws with a reason on anything the
// server could not have sent; a repeated field keeps its first value.
export function decodeResponse(bytes) {
  const c = new Cursor(bytes);
  if (c.varint() !== 1) throw new Error('not a known-length response');
  const status = c.varint();
  if (status < 200 || status > 599) throw new Error(`status ${status} is not a final status`);
  const section = new Cursor(c.bytes());
  const fields = new Map();
  while (!section.end()) {
    const name = fromUtf8(section.bytes());
    const value = fromUtf8(section.bytes());
    if (!/^[a-z0-9_.-]{1,64}$/.test(name)) throw new Error('bad field name');
    if (!fields.has(name)) fields.set(name, value);
  }
  if (c.bytes().length) throw new Error('the head carries content');
  if (c.bytes().length) throw new Error('the head carries trailers');
  for (; !c.end(); c.at++) if (c.b[c.at] !== 0) throw new Error('padding is not zero');
  return { status, fields };
}
