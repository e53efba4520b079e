// The page's protocol code recomputes the worked example of docs/PROTOCOL.md §13 (run in the
// page by test_kat.py as the body of an async function; returns the list of mismatches).
const bytes = await import('/.app/lib/bytes.js');
const cr = await import('/.app/lib/crypto.js');
const hs = await import('/.app/lib/handshake.js');
const keys = await import('/.app/lib/keys.js');
const sealed = await import('/.app/lib/sealed.js');
const { fromHex, hex, b64u, b64uPadded, fromB64u, fromB64uPadded, utf8 } = bytes;
const seq = (from, n) => Uint8Array.from({ length: n }, (_, i) => from + i);
const failures = [];
const expect = (what, got, want) => { if (got !== want) failures.push(`${what}: got ${got}, want ${want}`); };
const expectThrows = async (what, fn, reason) => {
  try { await fn(); failures.push(`${what}: did not throw`); } catch (e) {
    if (!String(e.message).includes(reason)) failures.push(`${what}: threw ${e.message}, want ${reason}`);
  }
};

const spki = fromHex(`30820120300b06092a864886f70d01010a0382010f003082010a0282010100af8b669b7af6d1677f3dbaaf3f5b36f9012dbe9b91695f18ab8d208d447ccb6463c5ae9da46d865c76cf7ef32cf1cb7e2e1d461f8e71dbc470dd1cb9de69bea005e3c90f3a3a70e467937c9586e0803e0edf0e8cea902f2e4864f79027753ae27db2053cd53c3cf30eececab1401ea803b339e33c59933ad08470dd99d45a5681c870b982cf2fe5a892a96d775d67aaace2f9b27d72f48a00361d50000de5652dcdda62cba2db4e04b13fba1c894e139f483923a683649ec0f0bce8d0a4b2658a00e3ce66a9c3b419501d570f65ab868e4fdbfa77e9dbe1b9cd91056494b4377d502f266fb17433a9f4b08d08de3c576a670ce90557af94f67579a3273a5c8db0203010001`);
const E_c = fromHex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
const e_c = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
const S_id = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
const S_x = fromHex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
const staticSig = fromHex('397cc5d18e33950ecc80642404a755d0fd952bdfbbfa65545c95c273a98bd63a211545f6754d66bc5eda98984ec07b310bd904b33041d0ebba4f694f990f1c0b');
const clientSig = fromHex('96da515a90e98ad3c6878687792f78fda0429869f1db9c5a7f02503b937aefadfd5591f4492c3661ddbf81ce7f164545921421388389ad1688fb98bdb2290c27fae00660e87157b2a5b7eb4561379628cdcaad41094c6569cbccde2015cdba0e2787c03524aee8367f33623e369e13b8ee13111228d1d267177ed79501fdfced0d4e15050d6118ed86f02123dd5904d63387ca085f17efa2c57d80adc84bbc429e6c6f93542386c762c91b4404bb0293c7b254c7ebcf059f3df1143438d6aeddfcf7352dd764ca13f09855962202506bc73ec46e8ac6068f64b84a744d8f16de2c6a6c109cec17a8e5bf9a3d70a2bc74fff670db87a4377b04105a529dec2322');
const requestSig = fromHex('993254076372ddfacb113f4d81704921bd7c8193ed8a28228e3d5ce636fc7fab6cb87c1450de8ef6b1c31ab5c99f23e7ce843e4d3f1a8b7398467389f86f94c924647a32537e2b421b1789fca5cec2d5a8a7957bd24c3a2b089ce93a872265bbb8829a2dad79f7f07272e618060b6097ebb857162144fd1752a372614167e7c60c8a5991e5907f84a1b701d4353f6944f76148d434717273784b347a748af521e45b8bb2d0cb1d0255a964a484ba28a4ab272bd425ee9cd445f51a5a6095d850f17bb6805d88b888e55687c1354e45daf8a9a986350ca9bc52addf95b3e781d7f8a49dba19e3e2f16c77d1c7c8f3c5350f9ec894552370af57ca00efb988e913');

// §2: the description and the pinned fingerprint.
const description = { chunk_size: 262144, fingerprint: 'SHA256:If4x36FUomFia/hUBG/SJxt77UtqvkWqWId+9H+XIbk', handshake: '/auth/handshake',
  protocol: 'minihttps/2', public_key: b64u(S_id), sealed: '/.well-known/minihttps/sealed', static_key: b64u(S_x), static_signature: b64u(staticSig), version: 2 };
const server = await hs.checkServer(description, 'SHA256:If4x36FUomFia/hUBG/SJxt77UtqvkWqWId+9H+XIbk');
expect('fingerprint', server.fingerprint, description.fingerprint);
await expectThrows('another pinned key', () => hs.checkServer(description, 'SHA256:' + 'A'.repeat(43)), 'is not the pinned');
const forged = { ...description, static_signature: b64u(staticSig.map((x, i) => (i === 0 ? x ^ 1 : x))) };
await expectThrows('a static key not vouched for', () => hs.checkServer(forged, null), 'not signed by its identity key');

// §3.1: the hello.
const hello = await hs.makeHello(server, { name: 'alice', rsa: { spki, privateKey: null } }, {
  ephemeral: await cr.x25519FromSecret(e_c, E_c), time: 1700000000, nonce: seq(0, 32), iv: seq(0xa0, 16), signature: clientSig });
expect('hello key', b64uPadded(hello.helloKey), 'd-wPdzntmrG6FnctbBml3bKNCrMyG8nTax_OUEQ_wqg=');
expect('TH1', hex(hello.th1), '9710652d731f4eebcaa0e8d8991dd6fd2bc71cda8e7187b8f5164d67a78a3a70');
const wantHello = JSON.parse(EXAMPLE.hello);
expect('client hello', hello.body, JSON.stringify(wantHello));

// §3.3-§3.5: the reply and the session (the server's ephemeral secret is not needed: the client
// only ever holds its own).
const session = await hs.finishHandshake(hello.state, JSON.parse(EXAMPLE.reply), { keepSecret: true });
expect('reply key', b64uPadded(session.replyKey), 'DYwYnTRyLQz24Fw7F4Ppcnw13t1_zt7P6jdmt2_Hgv8=');
expect('TH2', hex(session.th2), 'c81c92540d8298d062c20c777a6be5ce22f78315d805f8524d1d592f8be4d928');
expect('session secret', hex(session.secret), 'b6fcfbff561731630177bb3ad4273edd99760fb550cf53f9788997af73a17fe2');
expect('uuid', session.uuid, '3f1c5a4e-8b2d-4c6f-9a1e-7d5b3c2a1f0e');
expect('keyid', session.keyidText, 'QEFCQ0RFRkdISUpLTE1OTw');
expect('expires', session.expires, 1700003600);
expect('chunk size', session.chunkSize, 262144);
expect('prk not extractable', session.prk.extractable, false);
const tamperedReply = JSON.parse(EXAMPLE.reply);
tamperedReply.sealed = tamperedReply.sealed.slice(0, 40) + (tamperedReply.sealed[40] === 'A' ? 'B' : 'A') + tamperedReply.sealed.slice(41);
const again = await hs.makeHello(server, { name: 'alice', rsa: { spki, privateKey: null } }, {
  ephemeral: await cr.x25519FromSecret(e_c, E_c), time: 1700000000, nonce: seq(0, 32), iv: seq(0xa0, 16), signature: clientSig });
await expectThrows('a tampered reply', () => hs.finishHandshake(again.state, tamperedReply), 'the reply does not open');

// §5.1: the sealed request.
const req = await sealed.sealRequest(session, async () => requestSig, { method: 'GET', path: '/docs/hello.txt' },
  { scheme: 'http', authority: '127.0.0.1:8443' }, { created: 1700000005, nonce: 'AAECAwQFBgcICQoLDA0ODw', iv: seq(0xc0, 16) });
expect('request head', hex(req.head), '00034745540468747470000f2f646f63732f68656c6c6f2e747874000000');
expect('BH', hex(req.bh), '349009cbfd6dd1388c0b29b374eb5050db47ea48c9e50950f7a57d219d612f54');
expect('K(request head)', b64uPadded(await keys.rawKey(session.prk, 'request head', req.bh, 0, true)), 'tz1yrAgvtUchMFh1o3SFjXYLtmN_Mah8gDit_dn6idY=');
expect('signature base', req.signatureBase, EXAMPLE.base);
expect('MiniHTTPS-Sealed', req.headers['MiniHTTPS-Sealed'], EXAMPLE.requestToken);
expect('Signature-Input', req.headers['Signature-Input'], EXAMPLE.signatureInput);
expect('Signature', req.headers.Signature, EXAMPLE.signature);
expect('B', hex(req.binding), '6c0b9ed6cd3ace4fab16108e070a6f1665e8ffd9ff71a12a3dcc33759433e5fc');

// §5.3, §6: the answer.
expect('K(response head)', b64uPadded(await keys.rawKey(session.prk, 'response head', req.binding, 0, true)), '0Pv5S8zPgRT2Lq1yApSw_KPeKJczw0EHbEvZyzw5Ae4=');
expect('K(response body, last)', b64uPadded(await keys.rawKey(session.prk, 'response body', req.binding, 0, true)), 'YYxqlEZqUbISyb_k1sOX-FRN2pRh_V21tnXbzqUFYkI=');
expect('K(response body, not last)', b64uPadded(await keys.rawKey(session.prk, 'response body', req.binding, 0, false)), 'ai7XDUiQ7CED5CwKrrxYWCClGbDRAx0NzsEBW-N8uco=');
const answer = await sealed.openResponseHead(session, req.binding, EXAMPLE.responseToken, 100);
expect('status', answer.status, 200);
expect('content-type', answer.contentType, 'text/plain; charset=utf-8');
expect('etag', answer.etag, '"C5f_WRBMif3BCYzIm1r49w"');
expect('size', answer.layout.size, 14);
await expectThrows('another Content-Length', () => sealed.openResponseHead(session, req.binding, EXAMPLE.responseToken, 120), 'is not the length of the stream');
await expectThrows('a head of another request', () => sealed.openResponseHead(session, req.bh, EXAMPLE.responseToken, 100), 'not bound to this request');
const got = [];
const opener = new sealed.StreamOpener(session, 'response body', req.binding, answer.layout, (i, b) => got.push(new TextDecoder().decode(b)));
await opener.push(utf8(EXAMPLE.chunk.slice(0, 37)));
await opener.push(utf8(EXAMPLE.chunk.slice(37)));
await opener.finish();
expect('chunk 0', got.join(''), 'Hello, world!\n');
const flipped = utf8(EXAMPLE.chunk);
flipped[50] = flipped[50] === 65 ? 66 : 65;
const bad = new sealed.StreamOpener(session, 'response body', req.binding, answer.layout, () => {});
await expectThrows('a tampered chunk', async () => { await bad.push(flipped); await bad.finish(); }, 'chunk 0 does not verify');
const cut = new sealed.StreamOpener(session, 'response body', req.binding, answer.layout, () => {});
await expectThrows('a cut stream', async () => { await cut.push(utf8(EXAMPLE.chunk.slice(0, 99))); await cut.finish(); }, 'the output is incomplete');
const long = new sealed.StreamOpener(session, 'response body', req.binding, answer.layout, () => {});
await expectThrows('bytes after the last chunk', async () => { await long.push(utf8(EXAMPLE.chunk + 'x')); }, 'continues after its last chunk');

// §1: strict base64 and token lengths.
await expectThrows('base64url with padding where none is expected', async () => fromB64u('QQ=='), 'base64');
await expectThrows('non-canonical trailing bits', async () => fromB64u('QR'), 'non-canonical');
// The same rules for a long input (a chunk's token), which may take the native decoder.
const longBytes = new Uint8Array(6000).map((_, i) => (i * 7) & 255);
const longText = b64uPadded(longBytes.subarray(0, 5999));  // ends in one "="
expect('a long token decodes', hex(fromB64uPadded(longText)), hex(longBytes.subarray(0, 5999)));
expect('a long token decodes from its bytes', hex(fromB64uPadded(utf8(longText))), hex(longBytes.subarray(0, 5999)));
const cutAt = (s, i, x) => s.slice(0, i) + x + s.slice(i + 1);
await expectThrows('a long token with a space inside', async () => fromB64uPadded(cutAt(longText, 3000, ' ')), 'outside the alphabet');
await expectThrows('a long token with a newline inside', async () => fromB64uPadded(cutAt(longText, 3000, '\n')), 'outside the alphabet');
await expectThrows('a long token with + (standard alphabet)', async () => fromB64uPadded(cutAt(longText, 8, '+')), 'outside the alphabet');
await expectThrows('a long token with = inside', async () => fromB64uPadded(cutAt(longText, 8, '=')), 'outside the alphabet');
await expectThrows('a long token with a non-ASCII character', async () => fromB64uPadded(cutAt(longText, 8, '\u00c0')), 'base64');
await expectThrows('a long token without its padding', async () => fromB64uPadded(longText.slice(0, -1)), 'multiple of 4');
await expectThrows('a long token with non-canonical trailing bits', async () =>
  fromB64uPadded(longText.slice(0, -2) + String.fromCharCode(longText.charCodeAt(longText.length - 2) + 1) + '='), 'non-canonical');
expect('L(0)', cr.tokenLength(0), 100);
expect('L(14)', cr.tokenLength(14), 100);
expect('L(262144)', cr.tokenLength(262144), 349624);
return failures;
