// The page's service worker has one job: turn a download the page decrypts into a file the
// browser streams to disk, without holding it in memory. The page sends {type: 'stream', id,
// name, size, mime} with a MessagePort; a navigation to /.app/stream/ID then answers with a body
// that asks the page for one verified chunk at a time (its "pull"), so the page decrypts only as
// fast as the disk takes the bytes. The worker never sees a key or a ciphertext.
const pending = new Map();

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));

self.addEventListener('message', (e) => {
  const m = e.data;
  if (m?.type !== 'stream' || typeof m.id !== 'string' || !e.ports[0]) return;
  pending.set(m.id, { ...m, port: e.ports[0] });
  e.ports[0].postMessage({ type: 'ready' });
});

// RFC 6266 / RFC 8187: an attachment with the name percent-encoded as UTF-8.
const disposition = (name) =>
  `attachment; filename*=UTF-8''${encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  const prefix = `${self.registration.scope}stream/`;
  if (!url.href.startsWith(prefix)) return;
  const job = pending.get(url.href.slice(prefix.length));
  if (!job) {
    e.respondWith(new Response('no such download', { status: 404 }));
    return;
  }
  pending.delete(job.id);
  const { port } = job;
  let wake = null;
  const queue = [];
  port.onmessage = (m) => {
    queue.push(m.data);
    if (wake) wake();
  };
  const next = async () => {
    while (!queue.length) await new Promise((r) => { wake = r; });
    wake = null;
    return queue.shift();
  };
  const body = new ReadableStream({
    async pull(controller) {
      port.postMessage({ type: 'pull' });
      const m = await next();
      if (m.type === 'chunk') controller.enqueue(m.bytes);
      else if (m.type === 'done') controller.close();
      else controller.error(new Error(m.reason ?? 'download failed'));
    },
    cancel() {
      port.postMessage({ type: 'cancel' });
    },
  }, { highWaterMark: 16 });  // chunks: up to 4 MiB on their way to disk, so the page never waits on one
  e.respondWith(new Response(body, {
    headers: {
      'Content-Type': 'application/octet-stream',
      'Content-Disposition': disposition(job.name),
      'Content-Length': String(job.size),
      'X-Content-Type-Options': 'nosniff',
    },
  }));
});
