// Where a download goes once its chunks verify. A small file is collected in memory and handed
// to the browser as a Blob when complete, so a failure saves nothing. A large one goes straight
// to disk, one verified chunk at a time:
// - where the browser has the File System Access API, into the file the user picks; the browser
//   writes to a temporary file and moves it into place only when the writable closes, so a failure
//   leaves none of the download's bytes under that name;
// - elsewhere, through the service worker (sw.js) into the browser's own download, which the
//   browser also names only when the stream ends cleanly (a stream that breaks off fails it).
export const STREAM_ABOVE = 8 << 20;  // bytes: larger files are streamed, smaller ones collected

function clickDownload(href, name) {
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
}

class BlobSink {
  kind = 'memory';
  constructor(name, mime) {
    Object.assign(this, { name, mime, parts: [] });
  }
  async write(bytes) {
    this.parts.push(bytes);
  }
  async close() {
    const url = URL.createObjectURL(new Blob(this.parts, { type: this.mime || 'application/octet-stream' }));
    this.parts = [];
    clickDownload(url, this.name);
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }
  async abort() {
    this.parts = [];
  }
}

class WorkerSink {
  kind = 'stream';
  constructor(port) {
    this.port = port;
    this.credits = 0;
    this.waiting = null;
    this.cancelled = false;
    port.onmessage = (m) => {
      if (m.data.type === 'pull') this.credits++;
      if (m.data.type === 'cancel') this.cancelled = true;
      if (this.waiting) this.waiting();
    };
  }
  async credit() {
    while (!this.credits && !this.cancelled) await new Promise((r) => { this.waiting = r; });
    this.waiting = null;
    if (this.cancelled) throw new DOMException('the download was cancelled in the browser', 'AbortError');
    this.credits--;
  }
  async write(bytes) {
    await this.credit();
    this.port.postMessage({ type: 'chunk', bytes }, [bytes.buffer]);
  }
  async close() {
    await this.credit();
    this.port.postMessage({ type: 'done' });
  }
  async abort(reason) {
    if (!this.cancelled) this.port.postMessage({ type: 'error', reason: String(reason) });
  }
}

// The picker's own file: the browser makes it (empty) when the user picks it, so a download that
// fails removes it again where the browser lets a page do that (FileSystemHandle.remove). Each
// write is awaited: several in flight measured no faster (docs/BENCHMARKS.md).
class FileSink {
  kind = 'file';
  constructor(handle, writable) {
    Object.assign(this, { handle, writable });
  }
  async write(bytes) {
    await this.writable.write(bytes);
  }
  async close() {
    await this.writable.close();
  }
  async abort() {
    await this.writable.abort().catch(() => {});
    await this.handle.remove?.().catch(() => {});
  }
}

// Asks the user where a large download goes, where the browser can (showSaveFilePicker). It must
// run before anything else is awaited: the picker needs the click's user activation. Returns null
// where the file is small or the browser has no picker; throws an AbortError if the user cancels.
export async function pickFile(name, size) {
  if (!(size > STREAM_ABOVE) || typeof window.showSaveFilePicker !== 'function') return null;
  return window.showSaveFilePicker({ suggestedName: name, id: 'minihttps-downloads' });
}

async function worker() {
  if (!('serviceWorker' in navigator)) return null;
  await navigator.serviceWorker.register('sw.js', { scope: './' });
  await navigator.serviceWorker.ready;
  if (navigator.serviceWorker.controller) return navigator.serviceWorker.controller;
  await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
  return navigator.serviceWorker.controller;
}

// A sink for a file of `size` bytes: write(bytes) in order, then close() or abort(reason); into
// `picked` (from pickFile) when there is one. The service worker's download starts with the first
// write, so a response that fails before its first chunk verified leaves no trace at all.
export async function sinkFor(name, size, mime, picked = null) {
  if (picked) return new FileSink(picked, await picked.createWritable());
  const sw = size > STREAM_ABOVE ? await worker().catch(() => null) : null;
  if (!sw) return new BlobSink(name, mime);
  const id = crypto.randomUUID();
  const channel = new MessageChannel();
  const ready = new Promise((r) => { channel.port1.onmessage = r; });
  sw.postMessage({ type: 'stream', id, name, size, mime }, [channel.port2]);
  await ready;
  const sink = new WorkerSink(channel.port1);
  let started = false;
  const write = sink.write.bind(sink);
  sink.write = async (bytes) => {
    if (!started) {
      started = true;
      const frame = document.createElement('iframe');
      frame.hidden = true;
      frame.src = `stream/${id}`;
      document.body.append(frame);
      setTimeout(() => frame.remove(), 600000);
    }
    return write(bytes);
  };
  return sink;
}
