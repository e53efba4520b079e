"""The browser client (app/) in the real Chromium against the real minihttpsd: first visit and
pinning, browsing, downloads, logout and forgetting. Each test asserts what the user sees and
what the browser stored."""
import hashlib
import os
import re
import subprocess
import tempfile
import threading
import time
import unittest

from selenium.webdriver.common.by import By

from browser_support import CLIENT_BIN, BrowserTest, Server, poll, run_client, sha256_file
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


def wait_transfers(browser, kind, names, timeout):
    """{name: (data-result, state text)} of the transfers of a kind, once every one has a result."""
    def probe():
        items = {e.get_attribute("data-name"): e for e in
                 browser.driver.find_elements(By.CSS_SELECTOR, f'.transfer[data-kind="{kind}"]')}
        if all(n in items and items[n].get_attribute("data-result") for n in names):
            return {n: (items[n].get_attribute("data-result"), items[n].find_element(By.CSS_SELECTOR, ".state").text)
                    for n in names}
        return None
    return poll(probe, timeout, lambda: f"{kind}: no result for {names} after {timeout} s")


# Headless Chromium has the File System Access API, but nobody can answer its save dialog. A test
# either takes the picker away (the service-worker path, as in browsers without the API) or puts
# one in its place that answers with a file in the origin-private file system, which has the same
# handles and writables the dialog gives; what is written, and how, is the browser's own.
def without_picker(browser):
    browser.driver.execute_script("window.showSaveFilePicker = undefined;")


def with_private_picker(browser, cancel=False):
    browser.driver.execute_script("""
      const cancel = arguments[0];
      window.pickerCalls = [];
      window.showSaveFilePicker = async (options) => {
        window.pickerCalls.push(options);
        if (cancel) throw new DOMException('The user aborted a request.', 'AbortError');
        const dir = await navigator.storage.getDirectory();
        return dir.getFileHandle(options.suggestedName, { create: true });
      };""", cancel)


def private_files(browser):
    """{name: SHA-256 hex} of the origin-private file system's files (each read back in the page)."""
    return browser.script("""
      const dir = await navigator.storage.getDirectory();
      const found = {};
      for await (const [name, handle] of dir.entries()) {
        const digest = await crypto.subtle.digest('SHA-256', await (await handle.getFile()).arrayBuffer());
        found[name] = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
      }
      return found;""")


def download_through(test, proxy, name, picker=without_picker):
    """Connects through `proxy`, downloads `name` from the listing: its (result, state text)."""
    try:
        test.first_visit(fingerprint=test.server.fingerprint, origin=proxy.origin)
        row_names(test.browser)
        picker(test.browser)
        test.browser.driver.find_element(By.LINK_TEXT, name).click()
        return wait_transfers(test.browser, "downloading", [name], 120)[name]
    finally:
        proxy.close()


def saved_files(browser):
    """The download folder's files, once the browser had time to settle a failed download."""
    time.sleep(2)
    return [f for f in os.listdir(browser.downloads) if not f.startswith(".")]


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
        return wait_transfers(self.browser, "downloading", [name], timeout)[name]

    def test_a_small_file_and_a_20_mib_file_arrive_byte_for_byte(self):
        b = self.browser
        self.first_visit(fingerprint=self.server.fingerprint)
        row_names(b)
        b.driver.find_element(By.LINK_TEXT, "hello.txt").click()
        self.assertEqual(self.wait_result("hello.txt")[0], "done")
        with open(b.downloaded("hello.txt"), "rb") as f:
            self.assertEqual(f.read(), b"Hello, world!\n")

        without_picker(b)
        b.driver.find_element(By.LINK_TEXT, "big.bin").click()
        result, text = self.wait_result("big.bin")
        self.assertEqual(result, "done", text)
        self.assertTrue(text.startswith("done: 20 MiB, verified"), text)
        self.assertEqual(self.sink("big.bin"), "stream")
        b.screenshot("download")
        self.assertEqual(sha256_file(b.downloaded("big.bin")), hashlib.sha256(BIG).hexdigest())

    def sink(self, name):
        return self.browser.find(f'.transfer[data-kind="downloading"][data-name="{name}"]').get_attribute("data-sink")

    def test_where_the_browser_has_a_picker_a_large_file_goes_into_the_file_picked(self):
        b = self.browser
        self.first_visit(fingerprint=self.server.fingerprint)
        row_names(b)
        with_private_picker(b)
        b.driver.find_element(By.LINK_TEXT, "hello.txt").click()  # small: no picker, a Blob
        self.assertEqual(self.wait_result("hello.txt")[0], "done")
        b.driver.find_element(By.LINK_TEXT, "big.bin").click()
        result, text = self.wait_result("big.bin")
        self.assertEqual(result, "done", text)
        self.assertTrue(text.startswith("done: 20 MiB, verified"), text)
        self.assertEqual((self.sink("hello.txt"), self.sink("big.bin")), ("memory", "file"))
        self.assertEqual(b.driver.execute_script("return window.pickerCalls"),
                         [{"suggestedName": "big.bin", "id": "minihttps-downloads"}])
        self.assertEqual(private_files(b), {"big.bin": hashlib.sha256(BIG).hexdigest()})
        self.assertEqual(saved_files(b), ["hello.txt"])

    def test_a_tampered_chunk_leaves_nothing_under_the_name_picked(self):
        proxy = TamperProxy(self.server.port, min_length=1 << 20, offset=4 * 349624 + 77)
        result, text = download_through(self, proxy, "big.bin", picker=with_private_picker)
        self.assertEqual(proxy.tampered, 1)
        self.assertEqual((result, text), ("failed", "failed, nothing saved: chunk 4 does not verify "
                                                    "(tampered, reordered, duplicated, or from another response)"))
        self.assertEqual(private_files(self.browser), {})
        self.assertEqual(saved_files(self.browser), [])

    def test_cancelling_the_picker_downloads_nothing(self):
        b = self.browser
        self.first_visit(fingerprint=self.server.fingerprint)
        row_names(b)
        with_private_picker(b, cancel=True)
        b.driver.find_element(By.LINK_TEXT, "big.bin").click()
        self.assertEqual(self.wait_result("big.bin"), ("cancelled", "cancelled: no file was picked"))
        self.assertEqual(private_files(b), {})
        self.assertEqual(saved_files(b), [])

    def test_a_tampered_chunk_shows_an_error_and_saves_nothing(self):
        proxy = TamperProxy(self.server.port, min_length=1 << 20, offset=5 * 349624 + 1000)
        result, text = download_through(self, proxy, "big.bin")
        self.assertEqual(proxy.tampered, 1)
        self.assertEqual(result, "failed")
        self.assertEqual(text, "failed, nothing saved: chunk 5 does not verify "
                               "(tampered, reordered, duplicated, or from another response)")
        self.browser.screenshot("tampered")
        self.assertEqual(saved_files(self.browser), [])


class Resume(BrowserTest):
    files = {"big.bin": BIG}

    def test_a_download_whose_connection_breaks_goes_on_from_the_next_chunk(self):
        proxy = TamperProxy(self.server.port, min_length=1 << 20, offset=7 * 349624 + 5000, cut=True)
        result, text = download_through(self, proxy, "big.bin")
        self.assertEqual(proxy.tampered, 1)
        self.assertEqual(result, "done", text)
        self.assertRegex(text, r"^done: 20 MiB, verified, in [0-9.]+ s, resumed 1×$")
        self.assertEqual(sha256_file(self.browser.downloaded("big.bin")), hashlib.sha256(BIG).hexdigest())

    def test_a_download_into_the_file_picked_resumes_too_even_before_its_first_chunk(self):
        # Cut inside chunk 0: nothing verified yet, so the resume is a Range from byte 0.
        proxy = TamperProxy(self.server.port, min_length=1 << 20, offset=300, cut=True)
        result, text = download_through(self, proxy, "big.bin", picker=with_private_picker)
        self.assertEqual(proxy.tampered, 1)
        self.assertRegex(text, r"^done: 20 MiB, verified, in [0-9.]+ s, resumed 1×$")
        self.assertEqual(private_files(self.browser), {"big.bin": hashlib.sha256(BIG).hexdigest()})
        self.assertEqual(saved_files(self.browser), [])

    def test_a_file_changed_before_the_resume_is_refused_and_nothing_is_saved(self):
        path = os.path.join(self.server.root, "changing.bin")
        with open(path, "wb") as f:
            f.write(BIG)

        def change():
            with open(path + ".new", "wb") as f:
                f.write(os.urandom(len(BIG)))
            os.replace(path + ".new", path)

        proxy = TamperProxy(self.server.port, min_length=1 << 20, offset=3 * 349624 + 10, cut=True, on_cut=change)
        result, text = download_through(self, proxy, "changing.bin")
        self.assertEqual(proxy.tampered, 1)
        self.assertEqual((result, text), ("failed", "failed, nothing saved: the file changed on the server during "
                                                    "the download: start it again"))
        self.assertEqual(saved_files(self.browser), [])


class Upload(BrowserTest):
    files = {"hello.txt": b"Hello, world!\n"}

    def wait_results(self, kind, names, timeout=180):
        return wait_transfers(self.browser, kind, names, timeout)

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

        # Read back through the page (into the download folder), then deleted.
        without_picker(b)
        b.driver.find_element(By.LINK_TEXT, "video.bin").click()
        self.assertEqual(self.wait_results("downloading", ["video.bin"])["video.bin"][0], "done")
        self.assertEqual(sha256_file(b.downloaded("video.bin")), hashlib.sha256(big_bytes).hexdigest())
        b.find('tr[data-name="note.txt"] button.delete').click()
        b.gone('tr[data-name="note.txt"]')
        self.assertEqual(sorted(os.listdir(os.path.join(area, "files"))), ["video.bin"])


def connected_cli(server, name):
    """A fresh CLI home connected to `server` as `name`, the server's key pinned."""
    home = tempfile.mkdtemp(prefix="mh-cli-")
    connected = run_client(home, "connect", "--server", server.origin, "--name", name,
                           "--fingerprint", server.fingerprint, "--rsa-bits", "2048")
    if connected.returncode:
        raise AssertionError(f"connect as {name}: {connected.stderr}")
    return home


def open_lobby(browser):
    browser.find("#open-chat").click()
    browser.wait_text("#chat-title", lambda t: t == "Chat · lobby")


class CliChat:
    """A real `minihttps chat` in a room, typed into like a user at a terminal; its lines kept."""

    def __init__(self, home, room="lobby"):
        self.proc = subprocess.Popen([CLIENT_BIN, "--home", home, "chat", "--room", room], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")),
                                       daemon=True)
        self.reader.start()

    def type(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait_line(self, pattern, timeout=30):
        full = re.compile(r"\[\d\d:\d\d:\d\d\] " + pattern)
        return poll(lambda: next((l for l in list(self.lines) if full.fullmatch(l.rstrip("\n"))), None), timeout,
                    lambda: f"no line matching {pattern!r}; the chat printed {self.lines!r}")

    def quit(self):
        if self.proc.poll() is None:
            try:
                self.type("/quit")
                self.proc.wait(10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)
        self.reader.join(10)
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except BrokenPipeError:
                pass


class Chat(BrowserTest):
    """The page's chat panel and a CLI client in the same room: each reads what the other says, a
    private message reaches only its reader, and markup in a message is shown as text."""
    files = {"hello.txt": b"Hello, world!\n", "docs/guide.md": b"# Guide\n", "notes/todo.txt": b"todo\n"}

    def message_texts(self):
        return [(e.get_attribute("data-from"), e.find_element(By.CSS_SELECTOR, ".text").text)
                for e in self.browser.driver.find_elements(By.CSS_SELECTOR, "#chat-messages li[data-from]")]

    def wait_message(self, sender, text, timeout=30):
        poll(lambda: (sender, text) in self.message_texts(), timeout,
             lambda: f"the page shows no message {text!r} from {sender}: {self.message_texts()!r}")

    def test_the_page_and_the_cli_chat_both_ways(self):
        b = self.browser
        home = connected_cli(self.server, "clara")
        self.first_visit(name="pia", fingerprint=self.server.fingerprint)
        row_names(b)
        open_lobby(b)
        cli = CliChat(home)
        try:
            cli.wait_line(r"\* you joined lobby")
            # The page learns who came in (a join notice, then who).
            b.find('#chat-who li[data-name="clara"]')
            self.assertEqual(b.text("#chat-who"), "clara\npia (you)")

            cli.type("hello from the terminal <b>not bold</b> &amp;")
            self.wait_message("clara", "hello from the terminal <b>not bold</b> &amp;")
            self.assertEqual(b.driver.find_elements(By.CSS_SELECTOR, "#chat-messages b"), [])

            b.find("#chat-text").send_keys("hello from the page")
            b.find("#chat-send").click()
            cli.wait_line("pia: hello from the page")

            # Private: the page picks clara; the CLI marks it private.
            b.wait_text("#chat-to", lambda t: "only clara" in t)
            from selenium.webdriver.support.ui import Select
            Select(b.find("#chat-to")).select_by_value("clara")
            b.find("#chat-text").send_keys("just for you")
            b.find("#chat-send").click()
            cli.wait_line(r"pia \(private\): just for you")
            cli.type("/msg pia and back")
            self.wait_message("clara", "and back")
            private = b.driver.find_elements(By.CSS_SELECTOR, '#chat-messages li[data-from="clara"][data-private="true"]')
            self.assertEqual([e.find_element(By.CSS_SELECTOR, ".text").text for e in private], ["and back"])
            b.driver.set_window_size(1100, 1000)  # the listing and the whole chat panel (README)
            b.screenshot("chat")

            # Another room: the page moves, and what the CLI says in the lobby no longer reaches it.
            b.find("#chat-room").send_keys("side")
            b.find("#chat-join-room").click()
            b.wait_text("#chat-title", lambda t: t == "Chat · side")
            cli.type("/rooms")
            cli.wait_line(r"\* rooms: lobby \(1\), side \(1\)")
            cli.type("only the lobby hears this")
            cli.type("/msg pia marker")
            self.wait_message("clara", "marker")
            self.assertNotIn(("clara", "only the lobby hears this"), self.message_texts())
        finally:
            cli.quit()
        self.assertEqual(cli.proc.returncode, 0, "".join(cli.lines))
        self.assertEqual(b.console_errors(), [])

    def test_when_the_session_ends_the_panel_joins_again_with_a_new_one(self):
        b = self.browser
        self.first_visit(fingerprint=self.server.fingerprint)
        row_names(b)
        open_lobby(b)
        # A handshake elsewhere (here: by script, as another tab would) replaces the session; the
        # server closes the chat at its next frame, and the panel comes back on its own.
        self.assertEqual(b.script("""
          const { Client } = await import('/.app/lib/client.js');
          const store = await import('/.app/lib/store.js');
          await new Client(await store.load()).handshake();
          return 'ok';"""), "ok")
        b.find("#chat-text").send_keys("under the old session")
        b.find("#chat-send").click()
        b.wait_text("#chat-messages", lambda t: "chat ended: 1008 session ended: handshake again" in t)
        b.wait_text("#chat-messages", lambda t: t.count("you joined lobby") == 2)
        b.find("#chat-text").send_keys("under the new one")
        b.find("#chat-send").click()
        b.find('#chat-messages li[data-mine="true"]:last-child')
        time.sleep(1.5)  # a frame the server refused would close the chat within this
        shown = b.text("#chat-messages")
        self.assertEqual((shown.count("chat ended"), shown.count("you joined lobby")), (1, 2), shown)
        self.assertEqual(b.text("#chat-messages li:last-child .text"), "under the new one")

    def test_a_ticket_opens_one_chat_only(self):
        """The page's way in (PROTOCOL.md §9.1, from a browser) from the page itself: a ticket spent
        once, then refused; no ticket, no chat."""
        b = self.browser
        self.first_visit(fingerprint=self.server.fingerprint)
        row_names(b)
        result = b.script("""
          const { Client } = await import('/.app/lib/client.js');
          const store = await import('/.app/lib/store.js');
          const { fromUtf8 } = await import('/.app/lib/bytes.js');
          const client = new Client(await store.load());
          const sent = await client.check(await client.send({ method: 'POST', path: '/chat?room=lobby' }));
          const granted = JSON.parse(fromUtf8(await client.body(sent)));
          const url = `ws://${location.host}/.well-known/minihttps/chat?ticket=${granted.ticket}`;
          const opens = (u) => new Promise((resolve) => {
            const ws = new WebSocket(u);
            ws.onopen = () => { ws.close(1000); resolve('open'); };
            ws.onerror = () => resolve('refused');
          });
          return [Object.keys(granted).sort().join(','), granted.room, granted.expires - Math.floor(Date.now() / 1000),
                  await opens(url), await opens(url), await opens(url.slice(0, -2) + 'AA')];""")
        self.assertIsInstance(result, list, result)
        keys, room, lifetime, first, second, forged = result
        self.assertEqual(keys, "expires,room,ticket")
        self.assertEqual(room, "lobby")
        self.assertIn(lifetime, range(28, 32))
        self.assertEqual((first, second, forged), ("open", "refused", "refused"))


class Usability(BrowserTest):
    """The keyboard alone is enough, every control has a name, and a phone-sized window needs no
    sideways scrolling."""
    files = FILES

    def active(self):
        e = self.browser.driver.switch_to.active_element
        return e.get_attribute("id") or e.text

    def test_the_keyboard_alone_connects_browses_and_chats(self):
        from selenium.webdriver.common.keys import Keys
        b = self.browser
        b.open(self.server.origin + "/.app/")
        b.find("#connect-form")
        self.assertEqual(self.active(), "fingerprint")  # where typing starts
        typing = b.driver.switch_to.active_element
        typing.send_keys(self.server.fingerprint, Keys.TAB)
        self.assertEqual(self.active(), "tofu")
        b.driver.switch_to.active_element.send_keys(Keys.TAB)
        self.assertEqual(self.active(), "name")
        b.driver.switch_to.active_element.send_keys("kim", Keys.ENTER)  # Enter submits
        row_names(b)

        # Tab walks every control of the view, in reading order.
        seen = []
        b.driver.find_element(By.TAG_NAME, "body").click()
        for _ in range(25):
            b.driver.switch_to.active_element.send_keys(Keys.TAB)
            seen.append(self.active())
        for control in ["open-chat", "logout", "forget", "tab-files", "tab-uploads", "root", "sort-name", "sort-size",
                        "sort-mtime", "docs/", "hello.txt"]:
            self.assertIn(control, seen)
        self.assertLess(seen.index("open-chat"), seen.index("tab-files"))
        self.assertLess(seen.index("sort-mtime"), seen.index("docs/"))
        # Enter on a folder opens it; on a sort button it sorts.
        b.driver.find_element(By.LINK_TEXT, "docs/").send_keys(Keys.ENTER)
        b.wait_text("#crumbs", lambda t: t == "root / docs")
        b.find("#sort-name").send_keys(Keys.ENTER)
        b.wait_text("#sort-name", lambda t: t == "Name ▼")

        b.find("#open-chat").send_keys(Keys.ENTER)
        b.wait_text("#chat-title", lambda t: t == "Chat · lobby")
        poll(lambda: self.active() == "chat-text", 10, lambda: f"the focus is on {self.active()!r}, not the message")
        b.driver.switch_to.active_element.send_keys("typed, not clicked", Keys.ENTER)
        b.find('#chat-messages li[data-mine="true"]')
        self.assertEqual(b.text('#chat-messages li[data-mine="true"] .text'), "typed, not clicked")

    def test_a_narrow_window_scrolls_only_down_and_every_control_has_a_name(self):
        b = self.browser
        b.driver.set_window_size(360, 740)
        self.first_visit(fingerprint=self.server.fingerprint)
        row_names(b)
        open_lobby(b)
        unnamed = """
          const named = (e) => (e.getAttribute('aria-label') || e.labels?.length || e.textContent.trim());
          return [...document.querySelectorAll('button, input, select, a[href]')]
            .filter((e) => e.offsetParent !== null || e.type === 'file').filter((e) => !named(e))
            .map((e) => e.outerHTML.slice(0, 80));"""
        self.assertEqual(b.script(unnamed), [])
        sideways = "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
        self.assertEqual(b.script(sideways), 0)
        b.screenshot("narrow")
        b.find("#tab-uploads").click()
        b.find("#dropzone")
        self.assertEqual(b.script(unnamed), [])
        self.assertEqual(b.script(sideways), 0)


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


class OverTls(BrowserTest):
    """The page from a server started with --tls-self-signed, in Chromium told to accept that
    certificate's key: a secure context away from localhost. The handshake, a listing, a download
    verified chunk by chunk, and the chat (wss://, through a ticket) with a CLI client on https://."""
    files = {"hello.txt": b"Hello over TLS\n", "big.bin": BIG}
    server_args = ("--tls-self-signed",)

    def test_the_page_works_over_https_as_over_http(self):
        b = self.browser
        self.assertEqual(self.server.origin[:8], "https://")
        self.first_visit(name="tina", fingerprint=self.server.fingerprint)
        self.assertEqual(row_names(b), ["big.bin", "hello.txt"])
        self.assertEqual(b.driver.execute_script("return [location.protocol, isSecureContext]"), ["https:", True])
        without_picker(b)
        for name in ("hello.txt", "big.bin"):
            b.driver.find_element(By.LINK_TEXT, name).click()
            result, text = wait_transfers(b, "downloading", [name], 120)[name]
            self.assertEqual(result, "done", text)
        with open(b.downloaded("hello.txt"), "rb") as f:
            self.assertEqual(f.read(), b"Hello over TLS\n")
        self.assertEqual(sha256_file(b.downloaded("big.bin")), hashlib.sha256(BIG).hexdigest())

        home = connected_cli(self.server, "tom")  # on https://
        open_lobby(b)
        cli = CliChat(home)
        try:
            cli.wait_line(r"\* you joined lobby")
            b.find('#chat-who li[data-name="tom"]')
            b.find("#chat-text").send_keys("from the page, over wss")
            b.find("#chat-send").click()
            cli.wait_line("tina: from the page, over wss")
            cli.type("and back over https")
            poll(lambda: any(e.get_attribute("data-from") == "tom" and "and back over https" in e.text
                             for e in b.driver.find_elements(By.CSS_SELECTOR, "#chat-messages li[data-from]")),
                 30, lambda: "the page shows no message from tom")
            b.screenshot("tls")
        finally:
            cli.quit()
        self.assertEqual(b.console_errors(), [])


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
