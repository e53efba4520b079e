#!/usr/bin/env python3
"""Raw reader for bench/peer.py: sends each pre-signed request of REQUESTS_FILE (bench_presign
output, "<length>\\n<raw request>" records) on a connection of its own, reads the answer's body and
drops it without decrypting. The time is then the server's (verify, read the file, encrypt, send),
not the client's. Prints one JSON list: status, Content-Length and seconds (from sending the
request to the body's last byte) of each answer.

usage: raw_get.py HOST PORT REQUESTS_FILE
"""
import json
import socket
import sys
import time


def records(path):
    data = open(path, "rb").read()
    pos = 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        length = int(data[pos:nl])
        yield data[nl + 1:nl + 1 + length]
        pos = nl + 1 + length


def fetch(host, port, request, buf):
    with socket.create_connection((host, port)) as s:
        t0 = time.perf_counter()
        s.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit("raw_get: connection closed before the answer's head")
            head += chunk
        head, rest = head.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(int(v) for k, v in (l.split(":", 1) for l in lines[1:]) if k.strip().lower() == "content-length")
        got = len(rest)
        view = memoryview(buf)
        while got < length:
            n = s.recv_into(view)
            if n == 0:
                raise SystemExit(f"raw_get: the body ended after {got} of {length} bytes")
            got += n
        return {"status": status, "length": length, "seconds": time.perf_counter() - t0}


def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    buf = bytearray(4 << 20)
    print(json.dumps([fetch(host, port, r, buf) for r in records(path)]))


if __name__ == "__main__":
    main()
