"""What the browser tests share: the real minihttpsd on a free port, the real minihttps client,
and a headless Chromium (Debian's chromium + chromium-driver, driven by Selenium) with its own
profile and download folder. Nothing here fakes a part that runs on this machine."""
import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

SERVER_BIN = os.environ.get("MH_SERVER_BIN", "build/release/src/minihttpsd")
CLIENT_BIN = os.environ.get("MH_CLIENT_BIN", "build/release/src/minihttps")
CHROMIUM = os.environ.get("MH_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("MH_CHROMEDRIVER", "/usr/bin/chromedriver")
# Screenshots of the main views land here (the README shows one).
SHOTS = os.environ.get("MH_SCREENSHOT_DIR", os.path.join(tempfile.gettempdir(), "minihttps-screenshots"))


class Server:
    """minihttpsd serving a temporary folder, on 127.0.0.1 and a port it picks."""

    def __init__(self, extra_args=(), files=None):
        self.dir = tempfile.mkdtemp(prefix="mh-browser-")
        self.root = os.path.join(self.dir, "www")
        os.makedirs(self.root)
        for name, data in (files or {}).items():
            path = os.path.join(self.root, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        args = [SERVER_BIN, "--listen", "127.0.0.1:0", "--root", self.root,
                "--keys", os.path.join(self.dir, "keys"), "--upload-dir", os.path.join(self.dir, "uploads"),
                "--log-level", "info", "--grace", "1", *extra_args]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.output = []
        self.port = None
        self.fingerprint = None
        self.scheme = "http"
        self.tls_key = None  # with TLS: the base64 SHA-256 of the certificate's public key
        ready = threading.Event()

        def drain():
            for line in self.proc.stdout:
                self.output.append(line)
                m = re.search(r"listening on (https?)://127\.0\.0\.1:(\d+)", line)
                if m:
                    self.scheme, self.port = m.group(1), int(m.group(2))
                m = re.search(r"its public key sha256//([A-Za-z0-9+/]{43}=)", line)
                if m:
                    self.tls_key = m.group(1)
                m = re.search(r"fingerprint (SHA256:[A-Za-z0-9+/]{43})", line)
                if m:
                    self.fingerprint = m.group(1)
                if self.port and self.fingerprint:
                    ready.set()
            ready.set()

        self.drainer = threading.Thread(target=drain, daemon=True)
        self.drainer.start()
        if not ready.wait(30) or not self.port:
            self.stop()
            raise RuntimeError("minihttpsd did not start:\n" + "".join(self.output))

    @property
    def origin(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.drainer.join(10)
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_client(home, *args, timeout=60):
    """The real minihttps binary with its own home folder."""
    return subprocess.run([CLIENT_BIN, "--home", home, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


class Browser:
    """A headless Chromium with a fresh profile and download folder."""

    def __init__(self, extra_args=()):
        self.downloads = tempfile.mkdtemp(prefix="mh-downloads-")
        self.profile = tempfile.mkdtemp(prefix="mh-profile-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    "--no-first-run", "--no-default-browser-check", "--window-size=1100,800",
                    f"--user-data-dir={self.profile}", *extra_args):
            options.add_argument(arg)
        options.add_experimental_option("prefs", {
            "download.default_directory": self.downloads,
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        })
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                                    {"behavior": "allow", "downloadPath": self.downloads, "eventsEnabled": True})

    def open(self, url):
        self.driver.get(url)

    def find(self, css, timeout=30):
        return WebDriverWait(self.driver, timeout).until(lambda d: (d.find_elements(By.CSS_SELECTOR, css) or [None])[0])

    def gone(self, css, timeout=30):
        WebDriverWait(self.driver, timeout).until(lambda d: not d.find_elements(By.CSS_SELECTOR, css))

    def text(self, css, timeout=30):
        return self.find(css, timeout).text

    def wait_text(self, css, predicate, timeout=60):
        """The text of css once predicate(text) holds; the last text seen on timeout."""
        seen = [""]

        def check(d):
            els = d.find_elements(By.CSS_SELECTOR, css)
            seen[0] = els[0].text if els else ""
            return predicate(seen[0])
        try:
            WebDriverWait(self.driver, timeout).until(check)
        except TimeoutException:
            raise AssertionError(f"{css}: waited {timeout} s, last text {seen[0]!r}") from None
        return seen[0]

    def script(self, body, *args):
        """Runs an async function body in the page; its return value (or 'error: ...')."""
        wrapper = ("const done = arguments[arguments.length - 1];"
                   "(async (...args) => {" + body + "})(...Array.from(arguments).slice(0, -1))"
                   ".then(done, (e) => done('error: ' + (e && e.stack || e)));")
        self.driver.set_script_timeout(120)
        return self.driver.execute_async_script(wrapper, *args)

    def idb_record(self):
        return self.script("""
          const store = await import('/.app/lib/store.js');
          const r = await store.load();
          return r === null ? null : {fingerprint: r.fingerprint, name: r.name, uuid: r.uuid,
            extractable: r.rsa.privateKey.extractable, session: r.session === null ? null : {
              keyid: r.session.keyidText, prkExtractable: r.session.prk.extractable}};""")

    def screenshot(self, name):
        os.makedirs(SHOTS, exist_ok=True)
        path = os.path.join(SHOTS, name + ".png")
        self.driver.save_screenshot(path)
        return path

    def downloaded(self, name, timeout=120):
        """The path of a finished download (Chromium names it only once it completed)."""
        path = os.path.join(self.downloads, name)
        return poll(lambda: os.path.exists(path) and not any(f.endswith(".crdownload") for f in os.listdir(self.downloads))
                    and path, timeout, lambda: f"no finished download {name}: the folder holds {os.listdir(self.downloads)}")

    def console_errors(self):
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def quit(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.downloads, ignore_errors=True)
            shutil.rmtree(self.profile, ignore_errors=True)


def poll(probe, timeout, failure):
    """probe()'s first truthy value, trying every 50 ms; AssertionError(failure()) after timeout s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(failure())


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BrowserTest(unittest.TestCase):
    """A server and a browser per test class; a fresh browser profile per test."""
    files = {}
    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.server = Server(cls.server_args, cls.files)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.browser = Browser(self.browser_args())

    def browser_args(self):
        """Chromium's extra flags for this class's server: with TLS, accept its certificate's key
        (what a user does by comparing the fingerprint the server printed and accepting it)."""
        if self.server.tls_key:
            return [f"--ignore-certificate-errors-spki-list={self.server.tls_key}"]
        return []

    def tearDown(self):
        self.browser.quit()

    def first_visit(self, name=None, fingerprint=None, tofu=False, origin=None):
        """Fills the connect form and connects. A name belongs to one key, and every test's browser
        makes a new key: each gets a name of its own unless told."""
        name = name or "u" + os.urandom(4).hex()
        b = self.browser
        b.open((origin or self.server.origin) + "/.app/")
        b.find("#connect-form")
        if fingerprint:
            b.find("#fingerprint").send_keys(fingerprint)
        if tofu:
            b.find("#tofu").click()
        b.find("#name").send_keys(name)
        b.find("#connect").click()
