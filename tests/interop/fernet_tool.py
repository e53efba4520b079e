#!/usr/bin/env python3
"""Independent Fernet implementation for the interop tests: Python's `cryptography.fernet`.

    fernet_tool.py decrypt KEY TOKEN_FILE OUT_FILE   -> writes the plaintext
    fernet_tool.py encrypt KEY IN_FILE TOKEN_FILE    -> writes a token (Python's own IV and time)
"""
import sys

from cryptography.fernet import Fernet


def main(argv):
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
