// The primitives of docs/PROTOCOL.md §1 over WebCrypto: SHA-256, HMAC-SHA256, HKDF-SHA256, X25519,
// Ed25519 and RSA-PSS-SHA512 (salt 64), and Fernet tokens (AES-128-CBC + HMAC-SHA256). Every
// function is async because WebCrypto is.
import { concat, fromB64uPadded, b64uPadded, isAllZero, randomBytes, utf8 } from './bytes.js';

const subtle = crypto.subtle;

export const sha256 = async (data) => new Uint8Array(await subtle.digest('SHA-256', data));

export async function hmacKey(raw, usages = ['sign', 'verify']) {
  return subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, usages);
}
export const hmac = async (key, data) => new Uint8Array(await subtle.sign('HMAC', key, data));

// HKDF-SHA256(IKM, salt, info, L bytes), RFC 5869.
export async function hkdf(ikm, salt, info, length = 32) {
  const key = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  const bits = await subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt, info: typeof info === 'string' ? utf8(info) : info },
    key,
    8 * length,
  );
  return new Uint8Array(bits);
}

// ---- X25519 (RFC 7748) --------------------------------------------------------------------------

export async function x25519Generate() {
  const pair = await subtle.generateKey({ name: 'X25519' }, false, ['deriveBits']);
  return { privateKey: pair.privateKey, publicKey: new Uint8Array(await subtle.exportKey('raw', pair.publicKey)) };
}

// A fixed secret (the worked example): PKCS#8 is the one private format WebCrypto imports raw.
export async function x25519FromSecret(secret, publicKey) {
  const pkcs8 = concat(Uint8Array.from([0x30, 0x2e, 2, 1, 0, 0x30, 5, 6, 3, 0x2b, 0x65, 0x6e, 4, 0x22, 4, 0x20]), secret);
  const privateKey = await subtle.importKey('pkcs8', pkcs8, { name: 'X25519' }, false, ['deriveBits']);
  return { privateKey, publicKey };
}

// X25519(our secret, their public); an all-zero result (a small-order point) is refused.
export async function x25519(privateKey, theirPublic) {
  if (theirPublic.length !== 32) throw new Error('x25519: a public key is 32 bytes');
  const pub = await subtle.importKey('raw', theirPublic, { name: 'X25519' }, true, []);
  let shared;
  try {
    shared = new Uint8Array(await subtle.deriveBits({ name: 'X25519', public: pub }, privateKey, 256));
  } catch {
    throw new Error('x25519: small-order key');  // WebCrypto refuses the all-zero result itself
  }
  if (isAllZero(shared)) throw new Error('x25519: small-order key');
  return shared;
}

// ---- Ed25519 (RFC 8032) -------------------------------------------------------------------------

export async function ed25519Verify(publicKey, signature, message) {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  const key = await subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
  return subtle.verify({ name: 'Ed25519' }, key, signature, message);
}

// ---- RSA-PSS-SHA512 -----------------------------------------------------------------------------

export const RSA_ALGORITHM = { name: 'RSA-PSS', hash: 'SHA-512' };

// The client's key: 3072 bits, e = 65537, and a private half that script can never read back.
export async function rsaGenerate(bits = 3072) {
  return subtle.generateKey(
    { ...RSA_ALGORITHM, modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]) },
    false,
    ['sign', 'verify'],
  );
}
export const rsaSpki = async (publicKey) => new Uint8Array(await subtle.exportKey('spki', publicKey));
export const rsaSign = async (privateKey, message) =>
  new Uint8Array(await subtle.sign({ name: 'RSA-PSS', saltLength: 64 }, privateKey, message));

// ---- Fernet (https://github.com/fernet/spec) ----------------------------------------------------

// L(n): the length in characters of the token of n plaintext bytes (§1).
export const tokenLength = (n) => 4 * Math.ceil((57 + 16 * (Math.floor(n / 16) + 1)) / 3);

export class FernetError extends Error {}

// A 32-byte Fernet key as WebCrypto keys: the first 16 bytes sign (HMAC), the last 16 encrypt.
export async function fernetKey(raw) {
  if (raw.length !== 32) throw new Error('fernet: a key is 32 bytes');
  const [mac, aes] = await Promise.all([
    hmacKey(raw.subarray(0, 16)),
    subtle.importKey('raw', raw.subarray(16), { name: 'AES-CBC' }, false, ['encrypt', 'decrypt']),
  ]);
  return { mac, aes };
}

// The token of `plaintext` at `time` (Unix seconds); `iv` is random unless given (the worked example).
export async function fernetSeal(key, plaintext, time, iv = randomBytes(16)) {
  const ct = new Uint8Array(await subtle.encrypt({ name: 'AES-CBC', iv }, key.aes, plaintext));
  const head = new Uint8Array(25);
  head[0] = 0x80;
  new DataView(head.buffer).setBigUint64(1, BigInt(time));
  head.set(iv, 9);
  const signed = concat(head, ct);
  return b64uPadded(concat(signed, await hmac(key.mac, signed)));
}

// The plaintext of a token (a string, or its ASCII bytes); FernetError when it does not open (bad
// encoding, version, MAC or padding). Tokens are never checked for age (§1).
export async function fernetOpen(key, token) {
  let raw;
  try {
    raw = fromB64uPadded(token);
  } catch {
    throw new FernetError('not a Fernet token');
  }
  if (raw.length < 73 || (raw.length - 57) % 16 || raw[0] !== 0x80) throw new FernetError('not a Fernet token');
  const signed = raw.subarray(0, raw.length - 32);
  const ok = await subtle.verify('HMAC', key.mac, raw.subarray(raw.length - 32), signed);
  if (!ok) throw new FernetError('MAC does not verify');
  try {
    return new Uint8Array(await subtle.decrypt({ name: 'AES-CBC', iv: raw.subarray(9, 25) }, key.aes, raw.subarray(25, raw.length - 32)));
  } catch {
    throw new FernetError('bad padding');
  }
}

