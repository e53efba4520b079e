#!/usr/bin/env python3
"""Independent Fernet implementation for the interop tests: Python's `cryptography`.

    fernet_tool.py decrypt KEY TOKEN_FILE OUT_FILE   -> writes the plaintext
    fernet_tool.py encrypt KEY IN_FILE TOKEN_FILE    -> writes a token (Python's own IV and time)
    fernet_tool.py open TRIALS_JSON OUT_JSON         -> opens stream tokens (docs/PROTOCOL.md §4, §6)

`open` reads {"secret": HEX, "trials": [{"purpose": "response body", "binding": HEX, "index": N,
"last": BOOL, "token": TOKEN}, ...]}, derives each trial's key from the session secret with
HKDF-SHA256 (no salt, info = F("minihttps/2 " + purpose) || F(binding) || F(int index) ||
F(flag last)), and writes a list: the hex plaintext of each trial, or null where the token does
not open (cryptography.fernet.InvalidToken). Tokens are never checked for age.
"""
import base64
import json
import struct
import sys

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def field(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def stream_key(secret: bytes, purpose: str, binding: bytes, index: int, last: bool) -> bytes:
    info = (field(("minihttps/2 " + purpose).encode()) + field(binding) + field(struct.pack(">q", index))
            + field(b"\x01" if last else b"\x00"))
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)
    return base64.urlsafe_b64encode(key)


def open_trials(spec):
    secret = bytes.fromhex(spec["secret"])
    out = []
    for t in spec["trials"]:
        f = Fernet(stream_key(secret, t["purpose"], bytes.fromhex(t["binding"]), t["index"], t["last"]))
        try:
            out.append(f.decrypt(t["token"].encode()).hex())
        except InvalidToken:
            out.append(None)
    return out


def main(argv):
    if len(argv) == 4 and argv[1] == "open":
        with open(argv[2]) as src:
            result = open_trials(json.load(src))
        with open(argv[3], "w") as dst:
            json.dump(result, dst)
        return 0
    if len(argv) != 5 or argv[1] not in ("encrypt", "decrypt"):
        print(__doc__, file=sys.stderr)
        return 2
    f = Fernet(argv[2].encode())
    with open(argv[3], "rb") as src:
        data = src.read()
    out = f.decrypt(data.strip()) if argv[1] == "decrypt" else f.encrypt(data)
    with open(argv[4], "wb") as dst:
        dst.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
