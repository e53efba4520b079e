// The client side of the handshake, docs/PROTOCOL.md §2-§3: check the server's description
// against the pinned identity key, seal the hello to the static key, open and verify the reply,
// derive the session. Network-free: the caller sends the hello and passes the reply in, and every
// random or clock input can be given (the worked example of §13 pins them all).
import {
  b64NoPad, b64u, concat, field, fieldInt, fields, fromB64u, fromUtf8, randomBytes, utf8, uuidBytes,
} from './bytes.js';
import {
  ed25519Verify, fernetKey, fernetOpen, fernetSeal, hkdf, rsaSign, rsaSpki, sha256, x25519, x25519Generate,
} from './crypto.js';
import { sessionPrk } from './keys.js';

export class HandshakeError extends Error {}
const refuse = (why) => {
  throw new HandshakeError(why);
};

// "SHA256:" + unpadded base64 of SHA-256 over the raw 32-byte identity key (§2).
export const fingerprintOf = async (publicKey) => `SHA256:${b64NoPad(await sha256(publicKey))}`;

// A fingerprint as a user may paste it: surrounding spaces are dropped, and the "SHA256:" prefix
// may be left out.
export function normalizeFingerprint(text) {
  const t = text.trim();
  const body = t.startsWith('SHA256:') ? t.slice(7) : t;
  return /^[A-Za-z0-9+/]{43}$/.test(body) ? `SHA256:${body}` : null;
}

const bytesOf = (json, name, length) => {
  const v = json[name];
  if (typeof v !== 'string') refuse(`the server description has no ${name}`);
  let b;
  try {
    b = fromB64u(v);
  } catch {
    refuse(`the server description's ${name} is not base64url`);
  }
  if (b.length !== length) refuse(`the server description's ${name} is not ${length} bytes`);
  return b;
};

// Checks GET /.well-known/minihttps (§2). `pinned` is the fingerprint the user trusts, or null on a
// first visit (then the caller must show the fingerprint returned here and have it confirmed).
export async function checkServer(description, pinned) {
  if (description.version !== 2) refuse('the server does not speak minihttps/2');
  const identity = bytesOf(description, 'public_key', 32);
  const staticKey = bytesOf(description, 'static_key', 32);
  const staticSignature = bytesOf(description, 'static_signature', 64);
  const fingerprint = await fingerprintOf(identity);
  if (description.fingerprint !== fingerprint) refuse('the server description contradicts itself (fingerprint)');
  if (pinned !== null && pinned !== fingerprint)
    refuse(`this server's key ${fingerprint} is not the pinned ${pinned}: refusing to connect (someone may be impersonating it)`);
  const vouched = fields(field('minihttps/2 static key'), field(staticKey));
  if (!(await ed25519Verify(identity, staticSignature, vouched)))
    refuse("the server's static key is not signed by its identity key");
  return { identity, staticKey, fingerprint };
}

// The hello (§3.1). `rsa` is {privateKey, spki}; `fixed` may pin ephemeral, nonce, time, iv and
// sign (the worked example); otherwise they are fresh.
export async function makeHello(server, { name, rsa, uuid = null }, fixed = {}) {
  const ephemeral = fixed.ephemeral ?? (await x25519Generate());
  const time = fixed.time ?? Math.floor(Date.now() / 1000);
  const nonce = fixed.nonce ?? randomBytes(32);
  const es = await x25519(ephemeral.privateKey, server.staticKey);
  const h0 = await sha256(fields(field('minihttps/2 hello key'), field(server.identity), field(server.staticKey), field(ephemeral.publicKey)));
  const helloKey = await hkdf(es, h0, 'minihttps/2 hello key');
  const th1 = await sha256(fields(
    field('minihttps/2 client hello'), fieldInt(2), field(server.identity), field(server.staticKey),
    field(ephemeral.publicKey), field(name), field(nonce), field(rsa.spki),
    field(uuid ? uuidBytes(uuid) : new Uint8Array(0)), fieldInt(time)));
  const signature = fixed.signature ?? (await rsaSign(rsa.privateKey, th1));
  // Keys in sorted order, as the CLI writes them (the server does not care; the worked example does).
  const identity = { name, nonce: b64u(nonce), rsa_spki: b64u(rsa.spki), signature: b64u(signature), time, ...(uuid ? { uuid } : {}) };
  const sealed = await fernetSeal(await fernetKey(helloKey), utf8(JSON.stringify(identity)), time, fixed.iv);
  return {
    body: JSON.stringify({ sealed, version: 2, x25519: b64u(ephemeral.publicKey) }),
    state: { server, ephemeral, es, th1, signature },
    helloKey, th1,
  };
}

const REPLY_FIELDS = ['chunk_size', 'expires', 'keyid', 'nonce', 'signature', 'uuid'];

// Opens and checks the reply (§3.3-§3.5); returns the session: {keyid (16 bytes), keyidText, uuid,
// expires, chunkSize, prk (non-extractable CryptoKey)} and, for the worked example, the secret.
export async function finishHandshake(state, reply, { keepSecret = false } = {}) {
  if (typeof reply !== 'object' || reply === null || reply.version !== 2 || typeof reply.sealed !== 'string' || typeof reply.x25519 !== 'string')
    refuse('the handshake reply is malformed');
  let serverEphemeral;
  try {
    serverEphemeral = fromB64u(reply.x25519);
  } catch {
    refuse('the handshake reply is malformed');
  }
  if (serverEphemeral.length !== 32) refuse('the handshake reply is malformed');
  const ee = await x25519(state.ephemeral.privateKey, serverEphemeral);
  const ikm = concat(ee, state.es);
  const replyKey = await hkdf(ikm, state.th1, 'minihttps/2 reply key');
  let identity;
  try {
    identity = JSON.parse(fromUtf8(await fernetOpen(await fernetKey(replyKey), reply.sealed)));
  } catch {
    refuse('the reply does not open: not the server holding the static key');
  }
  const keys = identity && typeof identity === 'object' ? Object.keys(identity).sort() : [];
  if (keys.join() !== REPLY_FIELDS.join()) refuse('the reply identity is malformed');
  const { uuid, expires, chunk_size: chunkSize } = identity;
  let keyid, nonce, signature;
  try {
    keyid = fromB64u(identity.keyid);
    nonce = fromB64u(identity.nonce);
    signature = fromB64u(identity.signature);
    uuidBytes(uuid);
  } catch {
    refuse('the reply identity is malformed');
  }
  if (keyid.length !== 16 || nonce.length !== 32 || signature.length !== 64 || !Number.isSafeInteger(expires))
    refuse('the reply identity is malformed');
  if (!Number.isInteger(chunkSize) || chunkSize < 4096 || chunkSize > 4194304 || (chunkSize & (chunkSize - 1)))
    refuse(`the reply's chunk size ${chunkSize} is not a power of two from 4096 to 4194304`);
  const th2 = await sha256(fields(
    field('minihttps/2 server reply'), field(state.th1), field(state.signature), field(serverEphemeral),
    field(uuidBytes(uuid)), field(keyid), fieldInt(expires), field(nonce), fieldInt(chunkSize)));
  if (!(await ed25519Verify(state.server.identity, signature, th2))) refuse('the reply is not signed by the pinned server key');
  const secret = await hkdf(ikm, th2, 'minihttps/2 session secret');
  const session = { keyid, keyidText: identity.keyid, uuid, expires, chunkSize, prk: await sessionPrk(secret) };
  if (keepSecret) Object.assign(session, { secret, replyKey, th2 });
  else secret.fill(0);
  ikm.fill(0);
  return session;
}

