// An independent RFC 9421 signer for the interop tests: npm's http-message-signatures signs a
// GET with the client's RSA key and UUID, Node's own http module sends it to minihttpsd, and the
// status and raw body are printed as JSON for the C++ test to check.
//
//   node sign_get.mjs URL TARGET KEY.pem UUID salt64|default
//
// "default" uses the library's createSigner (Node's PSS default: the maximum salt length);
// "salt64" is a custom signer with salt length 64, as the minihttps client signs.
import { createSigner, httpbis } from 'http-message-signatures';
import { constants, createPrivateKey, createSign, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

const [, , base, target, keyPath, uuid, mode] = process.argv;
const key = createPrivateKey(readFileSync(keyPath));
const signer = mode === 'salt64'
  ? {
      id: uuid,
      alg: 'rsa-pss-sha512',
      sign: async (data) =>
        createSign('sha512').update(data).sign({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }),
    }
  : createSigner(key, 'rsa-pss-sha512', uuid);

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
    res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('latin1') }));
  });
  req.on('error', reject);
  req.end();
});
process.stdout.write(JSON.stringify({ status: response.status, signature_input: signed.headers['Signature-Input'], body: response.body }));
