#!/usr/bin/env python3
"""Turns the Google Benchmark JSON of core_bench and `openssl speed` output into one table.

usage: micro_table.py BENCH_JSON OPENSSL_AES OPENSSL_HMAC OPENSSL_RSA
The Fernet limit is the serial single-core cost of AES-128-CBC encryption plus HMAC-SHA256 over
the same bytes: 1 / (1/aes + 1/hmac).
"""
import json
import re
import sys


def speed_16k(path):
    """MB/s of the 16384-byte column of `openssl speed -bytes 16384`."""
    for line in open(path):
        m = re.match(r"^(\S+)\s+([\d.]+)k\s*$", line.strip())
        if m:
            return float(m.group(2)) * 1000 / 1e6
    raise SystemExit(f"no figure in {path}")


def rsa_speed(path):
    """{bits: (sign/s, verify/s)} from `openssl speed rsaNNNN` (PKCS#1 v1.5)."""
    out = {}
    for line in open(path):
        m = re.match(r"^rsa\s+(\d+) bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", line.strip())
        if m:
            out[int(m.group(1))] = (float(m.group(2)), float(m.group(3)))
    return out


def main():
    bench = {b["name"]: b for b in json.load(open(sys.argv[1]))["benchmarks"]}
    aes, hmac = speed_16k(sys.argv[2]), speed_16k(sys.argv[3])
    rsa = rsa_speed(sys.argv[4])
    fernet_limit = 1 / (1 / aes + 1 / hmac)

    def mbps(name):
        return bench[name]["bytes_per_second"] / 1e6

    def per_s(name):
        return bench[name]["items_per_second"]

    rows = [
        ("Fernet encrypt 1 KiB (stream)", f"{mbps('BM_FernetEncrypt/1024'):.0f} MB/s", f"{fernet_limit:.0f} MB/s", mbps("BM_FernetEncrypt/1024") / fernet_limit),
        ("Fernet encrypt 16 MiB (stream)", f"{mbps('BM_FernetEncrypt/16777216'):.0f} MB/s", f"{fernet_limit:.0f} MB/s", mbps("BM_FernetEncrypt/16777216") / fernet_limit),
        ("Fernet decrypt 1 KiB (stream)", f"{mbps('BM_FernetDecrypt/1024'):.0f} MB/s", f"{fernet_limit:.0f} MB/s", mbps("BM_FernetDecrypt/1024") / fernet_limit),
        ("Fernet decrypt 16 MiB (stream)", f"{mbps('BM_FernetDecrypt/16777216'):.0f} MB/s", f"{fernet_limit:.0f} MB/s", mbps("BM_FernetDecrypt/16777216") / fernet_limit),
        ("base64url encode", f"{mbps('BM_Base64UrlEncode'):.0f} MB/s", "-", None),
        ("cksum CRC", f"{mbps('BM_Cksum'):.0f} MB/s", f"{aes:.0f} MB/s (AES-CBC)", mbps("BM_Cksum") / aes),
    ]
    for bits in (2048, 3072):
        s, v = rsa.get(bits, (None, None))
        rows.append((f"RSA-PSS-SHA512 sign {bits}", f"{per_s(f'BM_RsaPssSign/{bits}'):.0f}/s", f"{s:.0f}/s (PKCS#1)" if s else "-", per_s(f"BM_RsaPssSign/{bits}") / s if s else None))
        rows.append((f"RSA-PSS-SHA512 verify {bits}", f"{per_s(f'BM_RsaPssVerify/{bits}'):.0f}/s", f"{v:.0f}/s (PKCS#1)" if v else "-", per_s(f"BM_RsaPssVerify/{bits}") / v if v else None))
    rows += [
        ("X25519 shared secret", f"{per_s('BM_X25519'):.0f}/s", "-", None),
        ("Ed25519 sign", f"{per_s('BM_Ed25519Sign'):.0f}/s", "-", None),
        ("Ed25519 verify", f"{per_s('BM_Ed25519Verify'):.0f}/s", "-", None),
    ]
    print(f"openssl speed (1 core, 16 KiB blocks): AES-128-CBC encrypt {aes:.0f} MB/s, HMAC-SHA256 {hmac:.0f} MB/s"
          f" -> serial Fernet limit {fernet_limit:.0f} MB/s\n")
    print("| primitive | minihttps core | peer (openssl speed) | ratio |")
    print("|---|---|---|---|")
    for name, ours, peer, ratio in rows:
        print(f"| {name} | {ours} | {peer} | {'' if ratio is None else f'{ratio:.2f}'} |")


if __name__ == "__main__":
    main()
