// The key schedule of docs/PROTOCOL.md §4: every Fernet key of a session is derived from the
// session secret by purpose, binding, index and last flag. The secret itself is kept only as its
// HKDF pseudo-random key (PRK = HMAC-SHA256(32 zero bytes, secret)), imported as a
// non-extractable HMAC key, so a derivation is one HMAC (HKDF-Expand of 32 bytes) and script can
// never read the secret back.
import { concat, field, fieldFlag, fieldInt, fields } from './bytes.js';
import { fernetKey, hmac, hmacKey, sha256 } from './crypto.js';

export const PURPOSES = ['request head', 'request body', 'response head', 'response body', 'chat to server', 'chat to client'];

// The session's PRK as a CryptoKey; the caller should drop `secret` afterwards.
export async function sessionPrk(secret) {
  const prk = await hmac(await hmacKey(new Uint8Array(32), ['sign']), secret);
  const key = await hmacKey(prk, ['sign']);
  prk.fill(0);
  return key;
}

// The info of K(purpose, binding, index, last): F("minihttps/2 " || purpose) || F(binding) ||
// F(int index) || F(flag last).
export function keyInfo(purpose, binding, index, last) {
  if (!PURPOSES.includes(purpose)) throw new Error(`no key purpose "${purpose}"`);
  return fields(field(`minihttps/2 ${purpose}`), field(binding), fieldInt(index), fieldFlag(last));
}

// K(...) as 32 raw bytes (HKDF-Expand: T(1) = HMAC(PRK, info || 01)).
export const rawKey = async (prk, purpose, binding, index, last) =>
  hmac(prk, concat(keyInfo(purpose, binding, index, last), Uint8Array.of(1)));

// K(...) ready for Fernet.
export const key = async (prk, purpose, binding, index, last) => fernetKey(await rawKey(prk, purpose, binding, index, last));

// BH = SHA-256(F("minihttps/2 request head") || F(keyid bytes) || F(int created) || F(nonce)).
export const headBinding = (keyid, created, nonce) =>
  sha256(fields(field('minihttps/2 request head'), field(keyid), fieldInt(created), field(nonce)));

// B = SHA-256(F("minihttps/2 request") || F(signature base) || F(signature bytes)).
export const requestBinding = (signatureBase, signature) =>
  sha256(fields(field('minihttps/2 request'), field(signatureBase), field(signature)));
