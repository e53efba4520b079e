#!/usr/bin/python3
"""The browser page's download speed next to the CLI's (issue 17): one 256 MiB file from the same
minihttpsd, fetched by the page in headless Chromium (each chunk opened by WebCrypto, streamed to
the download folder through the service worker) and by `minihttps get -o FILE`, each RUNS times in
turn in one run. Prints a markdown table: MB/s (median of the runs, and their spread) and the ratio
page / CLI. Usage: bench/page.py BUILD_DIR [SIZE_MIB] [RUNS]"""
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
    server = bs.Server(files={"big.bin": os.urandom(size)})
    browser = bs.Browser()
    home = tempfile.mkdtemp(prefix="mh-bench-page-")
    out = tempfile.mkdtemp(prefix="mh-bench-page-out-")
    page, cli = [], []
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
            browser.script("document.getElementById('transfers').replaceChildren(); return 1;")
            browser.driver.find_element(By.LINK_TEXT, "big.bin").click()
            deadline = time.time() + 600
            while time.time() < deadline:
                els = browser.driver.find_elements(By.CSS_SELECTOR, '.transfer[data-name="big.bin"][data-result]')
                if els:
                    break
                time.sleep(0.05)
            if not els or els[0].get_attribute("data-result") != "done":
                raise SystemExit("page download failed: " + (els[0].text if els else "no result"))
            browser.downloaded("big.bin")
            page.append(size / float(els[0].get_attribute("data-seconds")) / 1e6)
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
    print(f"| {size_mib} MiB download, {runs} runs each, same server | page (Chromium {browser_version()}) | CLI | page / CLI |")
    print("|---|---|---|---|")
    print(f"| median MB/s (min–max) | {cell(page)} | {cell(cli)} | {statistics.median(page) / statistics.median(cli):.2f} |")


def browser_version():
    try:
        return subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True).stdout.split()[1]
    except (OSError, IndexError):
        return "?"


if __name__ == "__main__":
    main()
