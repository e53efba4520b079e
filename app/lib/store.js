// What the page keeps about this server, in IndexedDB (one record per origin): the pinned
// fingerprint, the user's name, the RSA key pair (the private key a non-extractable CryptoKey,
// which script can use but never read), and the current session (its secret only as a
// non-extractable HMAC key, keys.js). Nothing is stored before a handshake succeeded.
const DB = 'minihttps';
const STORE = 'server';
const KEY = 'this';

function open() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

async function run(mode, fn) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req?.result);
      tx.onerror = tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export const load = () => run('readonly', (s) => s.get(KEY)).then((r) => r ?? null);
export const save = (record) => run('readwrite', (s) => s.put(record, KEY));
export const forget = () => run('readwrite', (s) => s.delete(KEY));
