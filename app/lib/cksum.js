// The POSIX cksum CRC (docs/PROTOCOL.md §8): CRC-32, polynomial 0x04C11DB7, most significant bit
// first, over the data and then its length (least significant byte first, as few bytes as
// needed), complemented. Incremental, so a file is summed part by part as it is read.
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export class Cksum {
  constructor() {
    this.crc = 0;
    this.size = 0;
  }
  update(bytes) {
    let c = this.crc;
    for (let i = 0; i < bytes.length; i++) c = (c << 8) ^ TABLE[((c >>> 24) ^ bytes[i]) & 0xff];
    this.crc = c >>> 0;
    this.size += bytes.length;
    return this;
  }
  // Of everything so far; update may continue.
  value() {
    let c = this.crc;
    for (let n = this.size; n > 0; n = Math.floor(n / 256)) c = (c << 8) ^ TABLE[((c >>> 24) ^ (n % 256)) & 0xff];
    return ~c >>> 0;
  }
}

export const cksum = (bytes) => new Cksum().update(bytes).value();
