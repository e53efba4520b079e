"""A TCP proxy between the browser and minihttpsd that flips one byte inside the body of the first
answer whose Content-Length is at least `min_length`, at `offset` bytes into that body (or, with
cut=True, passes the body up to that byte, calls on_cut and drops the connection); every other byte passes
unchanged. It speaks no HTTP beyond finding that head."""
import re
import socket
import threading


class TamperProxy:
    def __init__(self, server_port, min_length, offset, cut=False, on_cut=None):
        self.server_port = server_port
        self.cut = cut
        self.on_cut = on_cut  # runs before the connection is dropped
        self.min_length = min_length
        self.offset = offset
        self.tampered = 0
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    @property
    def origin(self):
        return f"http://127.0.0.1:{self.port}"

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.server_port))
            threading.Thread(target=self.pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self.pipe, args=(server, client, True), daemon=True).start()

    def pipe(self, src, dst, from_server):
        pending = b""       # bytes not yet looked at for a head, from stream position `pending_at`
        pending_at = 0
        target = None       # stream position of the byte to flip, once that answer's head is seen
        position = 0        # bytes passed so far on this connection
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_server and target is None and not self.tampered:
                    pending += data
                    while target is None:
                        end = pending.find(b"\r\n\r\n")
                        if end < 0:
                            break
                        head = pending[:end].lower()
                        m = re.search(rb"\r\ncontent-length: *(\d+)", head)
                        if m and int(m.group(1)) >= self.min_length and b"\r\nminihttps-sealed:" in head:
                            target = pending_at + end + 4 + self.offset
                        pending_at += end + 4
                        pending = pending[end + 4:]
                if target is not None and target >= 0 and position <= target < position + len(data):
                    with self.lock:
                        if self.cut and not self.tampered:
                            self.tampered += 1
                            dst.sendall(data[:target - position])
                            if self.on_cut:
                                self.on_cut()
                            break
                        if not self.tampered:
                            data = bytearray(data)
                            i = target - position
                            data[i] = ord("B") if data[i] != ord("B") else ord("C")  # stays base64
                            data = bytes(data)
                            self.tampered += 1
                    target = -1
                position += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self):
        self.listener.close()
