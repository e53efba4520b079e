"""The browser client (app/) in the real Chromium against the real minihttpsd: first visit and
pinning, browsing, downloads, logout and forgetting. Each test asserts what the user sees and
what the browser stored."""
import os
import time
import unittest

from selenium.webdriver.common.by import By

from browser_support import BrowserTest, Server, sha256_file
from tamper_proxy import TamperProxy

BIG = os.urandom(20 << 20)  # 20 MiB: streamed through the service worker (above 8 MiB)
HOSTILE = '<img src=x onerror="document.title=1">&amp;.txt'
FILES = {
    "hello.txt": b"Hello, world!\n",
    "docs/guide.md": b"# Guide\n",
    "docs/deep/leaf.txt": b"leaf\n",
    "big.bin": BIG,
    HOSTILE: b"not markup\n",
    "\u202eexe.txt": b"bidi\n",
}


def row_names(browser):
    browser.find("#listing tbody tr")
    return [r.get_attribute("data-name") for r in browser.driver.find_elements(By.CSS_SELECTOR, "#listing tbody tr")]


class FirstVisit(BrowserTest):
    files = FILES

    def test_the_fingerprint_given_pins_the_server_and_the_key_is_not_extractable(self):
        b = self.browser
        b.open(self.server.origin + "/.app/")
        self.assertEqual(b.text("#shown-fingerprint"), self.server.fingerprint)
        b.find("#fingerprint").send_keys(self.server.fingerprint)
        b.find("#name").send_keys("alice")
        b.screenshot("connect")
        b.find("#connect").click()
        self.assertEqual(row_names(b), ["docs", HOSTILE, "big.bin", "hello.txt", "\u202eexe.txt"])
        b.screenshot("listing")
        record = b.idb_record()
        self.assertEqual(record["fingerprint"], self.server.fingerprint)
        self.assertEqual(record["name"], "alice")
        self.assertRegex(record["uuid"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        self.assertIs(record["extractable"], False)
        self.assertIs(record["session"]["prkExtractable"], False)
        self.assertEqual(b.text("#who-name"), "alice")
        self.assertEqual(b.text("#pinned"), self.server.fingerprint)

        # A reload keeps the identity and the session: no form, the same UUID.
        b.driver.refresh()
        self.assertEqual(row_names(b)[0], "docs")
        self.assertEqual(b.driver.find_elements(By.CSS_SELECTOR, "#connect-form"), [])
        self.assertEqual(b.idb_record()["uuid"], record["uuid"])

    def test_a_wrong_fingerprint_is_refused_and_nothing_is_stored(self):
        b = self.browser
        b.open(self.server.origin + "/.app/")
        other = "SHA256:" + "A" * 43
        b.find("#fingerprint").send_keys(other)
        b.find("#name").send_keys("mallory")
        b.find("#connect").click()
        error = b.wait_text("#error", lambda t: t != "")
        self.assertEqual(error, f"this server's key {self.server.fingerprint} is not the pinned {other}: "
                                "refusing to connect (someone may be impersonating it)")
        self.assertIsNone(b.idb_record())
        self.assertEqual(b.driver.find_elements(By.CSS_SELECTOR, "#listing"), [])

    def test_without_a_fingerprint_the_user_must_accept_the_key_shown(self):
        b = self.browser
        b.open(self.server.origin + "/.app/")
        b.find("#name").send_keys("bob")
        b.find("#connect").click()
        self.assertEqual(b.wait_text("#error", lambda t: t != ""),
                         "Paste the fingerprint you were given, or tick the box to trust the key shown.")
        self.assertIsNone(b.idb_record())
        b.find("#tofu").click()
        b.find("#connect").click()
        self.assertEqual(row_names(b)[0], "docs")
        self.assertEqual(b.idb_record()["fingerprint"], self.server.fingerprint)

    def test_a_bad_name_or_fingerprint_text_is_explained(self):
        b = self.browser
        b.open(self.server.origin + "/.app/")
        b.find("#fingerprint").send_keys("not a fingerprint")
        b.find("#name").send_keys("carol")
        b.find("#connect").click()
        self.assertEqual(b.wait_text("#error", lambda t: t != ""),
                         "That is not a fingerprint: it looks like SHA256: followed by 43 characters.")
        b.find("#fingerprint").clear()
        # Pasted without its prefix and with spaces around it, the fingerprint is still recognised.
        b.find("#fingerprint").send_keys("  " + self.server.fingerprint[len("SHA256:"):] + " ")
        b.find("#name").clear()
        b.find("#name").send_keys("-carol")
        b.find("#connect").click()
        self.assertEqual(b.wait_text("#error", lambda t: t.startswith("A name")),
                         "A name is 1–32 of A–Z a–z 0–9 . _ - and does not start with . or -.")
        b.find("#name").clear()
        b.find("#name").send_keys("carol")
        b.find("#connect").click()
        self.assertEqual(row_names(b)[0], "docs")


class Browse(BrowserTest):
    files = FILES

    def test_names_are_shown_as_text_folders_open_and_breadcrumbs_lead_back(self):
        b = self.browser
        self.first_visit(fingerprint=self.server.fingerprint)
        row_names(b)
        hostile = b.driver.find_element(By.CSS_SELECTOR, "#listing tbody tr:nth-child(2) a")
        self.assertEqual(hostile.text, HOSTILE)
        self.assertEqual(b.driver.find_elements(By.CSS_SELECTOR, "#listing img"), [])
        self.assertNotEqual(b.driver.title, "1")
        bidi = b.driver.find_element(By.CSS_SELECTOR, "#listing tbody tr:nth-child(5) a")
        self.assertEqual(bidi.text, "\\u{202e}exe.txt")

        b.driver.find_element(By.CSS_SELECTOR, "#listing a.dir").click()
        b.wait_text("#crumbs", lambda t: t == "root / docs")
        self.assertEqual(row_names(b), ["deep", "guide.md"])
        b.driver.find_element(By.CSS_SELECTOR, "#listing a.dir").click()
        b.wait_text("#crumbs", lambda t: t == "root / docs / deep")
        self.assertEqual(row_names(b), ["leaf.txt"])
        b.driver.find_element(By.LINK_TEXT, "docs").click()
        b.wait_text("#crumbs", lambda t: t == "root / docs")
        b.driver.find_element(By.LINK_TEXT, "root").click()
        b.wait_text("#crumbs", lambda t: t == "root")
        self.assertEqual(len(row_names(b)), 5)

    def test_sorting_by_size_and_back(self):
        b = self.browser
        self.first_visit(fingerprint=self.server.fingerprint)
        row_names(b)
        b.find("#sort-size").click()
        self.assertEqual(row_names(b), ["docs", "\u202eexe.txt", HOSTILE, "hello.txt", "big.bin"])
        b.find("#sort-size").click()
        self.assertEqual(row_names(b), ["docs", "big.bin", "hello.txt", HOSTILE, "\u202eexe.txt"])
        self.assertEqual(b.find("#listing th:nth-child(2)").get_attribute("aria-sort"), "descending")

    def test_a_missing_folder_shows_the_servers_reason(self):
        b = self.browser
        self.first_visit(fingerprint=self.server.fingerprint)
        row_names(b)
        b.open(self.server.origin + "/.app/#/nowhere/")
        self.assertEqual(b.wait_text("#error", lambda t: t != ""), "404: file: not found")


class Download(BrowserTest):
    files = FILES

    def wait_result(self, name, timeout=120):
        b = self.browser
        item = f'.transfer[data-name="{name}"]'
        deadline = time.time() + timeout
        while time.time() < deadline:
            els = b.driver.find_elements(By.CSS_SELECTOR, item)
            if els and els[0].get_attribute("data-result"):
                return els[0].get_attribute("data-result"), els[0].find_element(By.CSS_SELECTOR, ".state").text
            time.sleep(0.1)
        raise AssertionError(f"{name}: no result after {timeout} s")

    def test_a_small_file_and_a_20_mib_file_arrive_byte_for_byte(self):
        b = self.browser
        self.first_visit(fingerprint=self.server.fingerprint)
        row_names(b)
        b.driver.find_element(By.LINK_TEXT, "hello.txt").click()
        self.assertEqual(self.wait_result("hello.txt")[0], "done")
        with open(b.downloaded("hello.txt"), "rb") as f:
            self.assertEqual(f.read(), b"Hello, world!\n")

        b.driver.find_element(By.LINK_TEXT, "big.bin").click()
        result, text = self.wait_result("big.bin")
        self.assertEqual(result, "done", text)
        self.assertTrue(text.startswith("done: 20 MiB, verified"), text)
        b.screenshot("download")
        import hashlib
        self.assertEqual(sha256_file(b.downloaded("big.bin")), hashlib.sha256(BIG).hexdigest())

    def test_a_tampered_chunk_shows_an_error_and_saves_nothing(self):
        proxy = TamperProxy(self.server.port, min_length=1 << 20, offset=5 * 349624 + 1000)
        try:
            b = self.browser
            self.first_visit(fingerprint=self.server.fingerprint, origin=proxy.origin)
            row_names(b)
            b.driver.find_element(By.LINK_TEXT, "big.bin").click()
            result, text = self.wait_result("big.bin")
            self.assertEqual(proxy.tampered, 1)
            self.assertEqual(result, "failed")
            self.assertEqual(text, "failed, nothing saved: chunk 5 does not verify "
                                   "(tampered, reordered, duplicated, or from another response)")
            b.screenshot("tampered")
            time.sleep(2)  # let the browser settle the failed download
            self.assertEqual([f for f in os.listdir(b.downloads) if not f.startswith(".")], [])
        finally:
            proxy.close()


class Upload(BrowserTest):
    files = {"hello.txt": b"Hello, world!\n"}

    def wait_results(self, kind, names, timeout=180):
        b = self.browser
        deadline = time.time() + timeout
        while time.time() < deadline:
            items = {e.get_attribute("data-name"): e for e in
                     b.driver.find_elements(By.CSS_SELECTOR, f'.transfer[data-kind="{kind}"]')}
            if all(n in items and items[n].get_attribute("data-result") for n in names):
                return {n: (items[n].get_attribute("data-result"), items[n].find_element(By.CSS_SELECTOR, ".state").text)
                        for n in names}
            time.sleep(0.1)
        raise AssertionError(f"{kind}: no result for {names} after {timeout} s")

    def area(self):
        uploads = os.path.join(self.server.dir, "uploads")
        areas = [d for d in os.listdir(uploads) if not d.startswith(".")]
        self.assertEqual(len(areas), 1)
        return os.path.join(uploads, areas[0])

    def test_files_picked_are_uploaded_in_parts_listed_read_back_and_deleted(self):
        import hashlib
        import tempfile
        b = self.browser
        work = tempfile.mkdtemp(prefix="mh-up-")
        small, big = os.path.join(work, "note.txt"), os.path.join(work, "video.bin")
        big_bytes = os.urandom(40 << 20)  # three parts: 16 + 16 + 8 MiB, joined by one commit
        with open(small, "wb") as f:
            f.write(b"a note\n")
        with open(big, "wb") as f:
            f.write(big_bytes)
        self.first_visit(fingerprint=self.server.fingerprint)
        row_names(b)
        b.find("#tab-uploads").click()
        b.find("#dropzone")
        self.assertEqual(b.text("#listing tbody"), "This folder is empty.")
        b.find("#upload-input").send_keys(small + "\n" + big)
        results = self.wait_results("uploading", ["note.txt", "video.bin"])
        self.assertEqual(results["note.txt"], ("done", "uploaded: 7 B, cksum 3327804096 confirmed"))
        self.assertEqual(results["video.bin"][0], "done", results["video.bin"][1])
        self.assertEqual(b.wait_text("#listing tbody", lambda t: "video.bin" in t and "note.txt" in t).count("\n"), 1)
        b.screenshot("uploads")

        # On the server: exactly the two files, byte for byte, and no attempt left behind.
        area = self.area()
        with open(os.path.join(area, "files", "video.bin"), "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), hashlib.sha256(big_bytes).hexdigest())
        with open(os.path.join(area, "files", "note.txt"), "rb") as f:
            self.assertEqual(f.read(), b"a note\n")
        self.assertEqual(os.listdir(os.path.join(area, ".attempts")), [])

        # Read back through the page, then deleted.
        b.driver.find_element(By.LINK_TEXT, "video.bin").click()
        self.assertEqual(self.wait_results("downloading", ["video.bin"])["video.bin"][0], "done")
        self.assertEqual(sha256_file(b.downloaded("video.bin")), hashlib.sha256(big_bytes).hexdigest())
        b.find('tr[data-name="note.txt"] button.delete').click()
        b.gone('tr[data-name="note.txt"]')
        self.assertEqual(sorted(os.listdir(os.path.join(area, "files"))), ["video.bin"])


class Logout(BrowserTest):
    files = FILES

    def test_logout_ends_the_session_and_connecting_again_keeps_the_identity(self):
        b = self.browser
        self.first_visit(fingerprint=self.server.fingerprint)
        row_names(b)
        before = b.idb_record()
        b.find("#logout").click()
        b.find("#signed-out")
        after = b.idb_record()
        self.assertIsNone(after["session"])
        self.assertEqual(after["uuid"], before["uuid"])
        b.find("#reconnect").click()
        self.assertEqual(row_names(b)[0], "docs")
        again = b.idb_record()
        self.assertEqual(again["uuid"], before["uuid"])
        self.assertNotEqual(again["session"]["keyid"], before["session"]["keyid"])

    def test_forget_asks_first_then_removes_everything(self):
        b = self.browser
        self.first_visit(fingerprint=self.server.fingerprint)
        row_names(b)
        b.find("#forget").click()
        b.find("#forget-cancel").click()
        b.gone("#forget-ask")
        self.assertIsNotNone(b.idb_record())
        b.find("#forget").click()
        b.find("#forget-confirm").click()
        b.find("#connect-form")
        self.assertIsNone(b.idb_record())


class Serving(unittest.TestCase):
    """The page over real HTTP from the real server, and its absence with --no-web-app."""

    def fetch(self, server, path):
        import urllib.error
        import urllib.request
        try:
            with urllib.request.urlopen(server.origin + path, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def test_the_page_is_served_and_the_server_says_where(self):
        server = Server()
        try:
            status, headers, body = self.fetch(server, "/.app/")
            self.assertEqual(status, 200)
            self.assertEqual(headers["Content-Type"], "text/html; charset=utf-8")
            self.assertIn("frame-ancestors 'none'", headers["Content-Security-Policy"])
            with open(os.path.join(os.path.dirname(__file__), "..", "..", "app", "index.html"), "rb") as f:
                self.assertEqual(body, f.read())
            line = next(l for l in server.output if l.startswith("web page "))
            self.assertRegex(line, rf"^web page http://127\.0\.0\.1:{server.port}/\.app/ \(page SHA256:[A-Za-z0-9+/]{{43}}\)$")
        finally:
            server.stop()

    def test_with_no_web_app_the_path_is_an_ordinary_signed_one(self):
        server = Server(["--no-web-app"])
        try:
            status, headers, body = self.fetch(server, "/.app/")
            self.assertEqual(status, 401)
            self.assertEqual(headers["WWW-Authenticate"], 'MiniHTTPS handshake="/auth/handshake"')
            self.assertFalse(any(l.startswith("web page ") for l in server.output))
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
