// Uploads from the page (docs/PROTOCOL.md §8). A browser cannot stream a request body, so a file
// goes as parts: each part is one sealed PUT of the file's name whose body stream is bound to that
// PUT alone, making one attempt; the server answers each part's size and cksum, which must match
// the part's own (else the attempt is dropped and the part sent again, at most 4 times); then one
// POST joins the attempts in order, with the whole file's size and cksum, which the server checks
// before it renames the file into place. Nothing is visible until then.
import { Cksum } from './cksum.js';
import { ServerError } from './client.js';

export const MIN_PART = 16 << 20;  // bytes; a multiple of every chunk size
export const MAX_PARTS = 12;       // of the server's 16 pending attempts, leave room for others
const TRIES = 4;

const areaPath = (name) => `/.uploads/${name.split('/').map(encodeURIComponent).join('/')}`;

// Part size: at least MIN_PART, a whole number of chunks, at most MAX_PARTS parts.
export function partSize(size, chunkSize) {
  const even = Math.ceil(Math.ceil(size / MAX_PARTS) / chunkSize) * chunkSize;
  return Math.max(MIN_PART, even);
}

// Uploads `file` (a File or Blob) as `name` in the client's area; onProgress(sentBytes, total).
// Returns the commit's answer {name, size, cksum}.
export async function uploadFile(client, file, name, onProgress = () => {}) {
  const path = areaPath(name);
  const whole = new Cksum();
  const attempts = [];
  const part = partSize(file.size, client.session?.chunkSize ?? 262144);
  try {
    for (let from = 0; from < file.size || (file.size === 0 && !attempts.length); from += part) {
      const bytes = new Uint8Array(await file.slice(from, Math.min(file.size, from + part)).arrayBuffer());
      whole.update(bytes);
      const own = new Cksum().update(bytes).value();
      attempts.push(await sendPart(client, path, bytes, own, (sent, total) =>
        onProgress(from + (total ? (sent / total) * bytes.length : 0), file.size)));
    }
    const query = `commit=${attempts.join(',')}&size=${file.size}&cksum=${whole.value()}`;
    const done = await client.call({ method: 'POST', path: `${path}?${query}` });
    attempts.length = 0;  // committed: nothing to discard
    if (done.size !== file.size || done.cksum !== whole.value())
      throw new ServerError(0, `the server committed ${done.size} bytes with cksum ${done.cksum}, not what was sent`, true);
    onProgress(file.size, file.size);
    return done;
  } finally {
    for (const id of attempts) client.call({ method: 'DELETE', path: `${path}?attempt=${id}` }).catch(() => {});
  }
}

// One part: PUT until the server's size and cksum match ours; the attempt id.
async function sendPart(client, path, bytes, own, onProgress) {
  for (let attempt = 1; ; attempt++) {
    let reply;
    try {
      reply = JSON.parse((await client.sendWithBody({ method: 'PUT', path }, bytes, { onProgress })).text);
    } catch (e) {
      // A replaced or ended session: handshake and send the PUT again (never a commit, §8 step 4).
      if (!(e instanceof ServerError && e.status === 401 && !e.sealed) || attempt >= TRIES) throw e;
      await client.handshake();
      continue;
    }
    if (reply.size === bytes.length && reply.cksum === own) return reply.attempt;
    await client.call({ method: 'DELETE', path: `${path}?attempt=${reply.attempt}` }).catch(() => {});
    if (attempt >= TRIES)
      throw new ServerError(0, `upload: the server received ${reply.size} bytes with cksum ${reply.cksum}, `
        + `not ${bytes.length} with ${own}, ${TRIES} times: giving up`, true);
  }
}

export const removeFile = (client, name) => client.call({ method: 'DELETE', path: areaPath(name) });
