#!/usr/bin/python3
"""The browser page's download speed next to the CLI's (issue 17): one 256 MiB file from the same
minihttpsd, fetched by the page in headless Chromium (each chunk opened by WebCrypto) both ways it
saves a large file (streamed to the download folder through the service worker, and written into a
picked file with the File System Access API, here a file of the origin-private file system since
nobody answers the save dialog), and by `minihttps get -o FILE`, each RUNS times in turn in one
run. Prints a markdown table: MB/s (median of the runs, and their spread) and the ratios to the
CLI. BENCH_TLS=1: the server on --tls-self-signed, the page and the CLI on https://.
Usage: bench/page.py BUILD_DIR [SIZE_MIB] [RUNS]"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "browser"))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build/bench"
    size_mib = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    os.environ["MH_SERVER_BIN"] = os.path.join(build, "src", "minihttpsd")
    os.environ["MH_CLIENT_BIN"] = os.path.join(build, "src", "minihttps")
    import browser_support as bs
    from selenium.webdriver.common.by import By

    size = size_mib << 20
    tls = os.environ.get("BENCH_TLS") == "1"
    server = bs.Server(("--tls-self-signed",) if tls else (), files={"big.bin": os.urandom(size)})
    browser = bs.Browser([f"--ignore-certificate-errors-spki-list={server.tls_key}"] if tls else [])
    home = tempfile.mkdtemp(prefix="mh-bench-page-")
    out = tempfile.mkdtemp(prefix="mh-bench-page-out-")
    page, picked, writes, cli = [], [], [], []
    try:
        r = bs.run_client(home, "connect", "--server", server.origin, "--name", "bench",
                          "--fingerprint", server.fingerprint)
        if r.returncode:
            raise SystemExit("connect failed: " + r.stderr)
        browser.open(server.origin + "/.app/")
        browser.find("#fingerprint").send_keys(server.fingerprint)
        browser.find("#name").send_keys("benchpage")
        browser.find("#connect").click()
        browser.find('#listing tr[data-name="big.bin"]')
        for i in range(runs):
            # The page: the time the page itself measured, first request to last byte written.
            for f in os.listdir(browser.downloads):
                os.remove(os.path.join(browser.downloads, f))
            page.append(page_download(browser, By, size, "stream"))
            browser.downloaded("big.bin")
            picked.append(page_download(browser, By, size, "file"))
            writes.append(file_writes_alone(browser, size))
            # The CLI: the whole command, connection and verification included.
            target = os.path.join(out, "big.bin")
            if os.path.exists(target):
                os.remove(target)
            t0 = time.perf_counter()
            r = bs.run_client(home, "get", "big.bin", "-o", target, timeout=600)
            seconds = time.perf_counter() - t0
            if r.returncode or os.path.getsize(target) != size:
                raise SystemExit("CLI download failed: " + r.stderr)
            cli.append(size / seconds / 1e6)
    finally:
        browser.quit()
        server.stop()

    def cell(xs):
        return f"{statistics.median(xs):.0f} MB/s ({min(xs):.0f}–{max(xs):.0f})"
    def ratio(xs):
        return f"{statistics.median(xs) / statistics.median(cli):.2f}"
    over = ", over TLS" if tls else ""
    print(f"| {size_mib} MiB download, {runs} runs each, same server{over}, Chromium {browser_version()} "
          "| MB/s, median (min–max) | / CLI |")
    print("|---|---|---|")
    print(f"| page → service worker → download folder | {cell(page)} | {ratio(page)} |")
    print(f"| page → picked file (File System Access) | {cell(picked)} | {ratio(picked)} |")
    print(f"| CLI `get -o` | {cell(cli)} | 1 |")
    print(f"| the picked file's writes alone: 256 KiB writes of zeros, no network, no crypto | {cell(writes)} | {ratio(writes)} |")


def file_writes_alone(browser, size):
    """MB/s of writing `size` bytes into a file of the origin-private file system as the page's
    FileSink does (one awaited 256 KiB write at a time), closed."""
    seconds = browser.script("""
      const dir = await navigator.storage.getDirectory();
      for await (const name of dir.keys()) await dir.removeEntry(name);
      const writable = await (await dir.getFileHandle('writes.bin', { create: true })).createWritable();
      const started = performance.now();
      for (let at = 0; at < args[0]; at += 262144) await writable.write(new Uint8Array(Math.min(262144, args[0] - at)));
      await writable.close();
      await dir.removeEntry('writes.bin');
      return (performance.now() - started) / 1000;""", size)
    return size / float(seconds) / 1e6


def page_download(browser, By, size, sink):
    """One download by the page into `sink` ("stream" or "file"): MB/s as the page timed it."""
    browser.script("""
      document.getElementById('transfers').replaceChildren();
      const dir = await navigator.storage.getDirectory();
      for await (const name of dir.keys()) await dir.removeEntry(name);
      window.showSaveFilePicker = args[0] === 'file'
        ? async (o) => (await navigator.storage.getDirectory()).getFileHandle(o.suggestedName, { create: true })
        : undefined;
      return 1;""", sink)
    browser.driver.find_element(By.LINK_TEXT, "big.bin").click()
    deadline = time.time() + 600
    while time.time() < deadline:
        els = browser.driver.find_elements(By.CSS_SELECTOR, '.transfer[data-name="big.bin"][data-result]')
        if els:
            break
        time.sleep(0.05)
    if not els or els[0].get_attribute("data-result") != "done" or els[0].get_attribute("data-sink") != sink:
        raise SystemExit(f"page download ({sink}) failed: " + (els[0].text if els else "no result"))
    return size / float(els[0].get_attribute("data-seconds")) / 1e6


def browser_version():
    try:
        return subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True).stdout.split()[1]
    except (OSError, IndexError):
        return "?"


if __name__ == "__main__":
    main()
