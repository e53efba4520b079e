// An independent RFC 9421 signer for the interop tests: npm's http-message-signatures signs an
// ordinary (unsealed) GET with the client's RSA key and the session's keyid (docs/PROTOCOL.md
// §5.4), Node's own http module sends it to minihttpsd, and the answer is printed as JSON for the
// C++ test: status, headers, raw body, and the signature base and signature the library made —
// what the answer's stream is bound to (B, §4).
//
//   node sign_get.mjs URL TARGET KEY.pem KEYID salt64|default
//
// "default" uses the library's createSigner (Node's PSS default: the maximum salt length);
// "salt64" is a custom signer with salt length 64, as the minihttps client signs.
import { createSigner, httpbis } from 'http-message-signatures';
import { constants, createPrivateKey, createSign, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

const [, , base, target, keyPath, keyid, mode] = process.argv;
const key = createPrivateKey(readFileSync(keyPath));
const inner = mode === 'salt64'
  ? {
      id: keyid,
      alg: 'rsa-pss-sha512',
      sign: async (data) =>
        createSign('sha512').update(data).sign({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }),
    }
  : createSigner(key, 'rsa-pss-sha512', keyid);
// The library hands its signer the signature base: kept, with the signature, for the test.
let signatureBase = null;
let signature = null;
const signer = {
  id: inner.id,
  alg: inner.alg,
  sign: async (data) => {
    signatureBase = Buffer.from(data).toString('utf8');
    signature = await inner.sign(data);
    return signature;
  },
};

const url = new URL(target, base);
const fields = ['@method', '@authority', '@path'];
if (url.search) fields.push('@query');
const request = { method: 'GET', url: url.toString(), headers: { Host: url.host } };
const signed = await httpbis.signMessage(
  {
    key: signer,
    name: 'sig1',
    fields,
    params: ['created', 'nonce', 'alg', 'keyid'],
    paramValues: { nonce: randomBytes(16).toString('base64url') },
  },
  request,
);

const response = await new Promise((resolve, reject) => {
  const req = http.request(url, { method: 'GET', headers: signed.headers }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () =>
      resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') }));
  });
  req.on('error', reject);
  req.end();
});
process.stdout.write(JSON.stringify({
  status: response.status,
  headers: response.headers,
  body: response.body,
  signature_input: signed.headers['Signature-Input'],
  signature_base: signatureBase,
  signature: Buffer.from(signature).toString('base64'),
}));
