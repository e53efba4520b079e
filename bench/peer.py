#!/usr/bin/env python3
"""make bench, peer part: minihttpsd against nginx (HTTPS, TLS 1.3) and the crypto limits, all
measured in the same run on this machine. Prints one markdown table (appended to
bench/results/latest.md by bench/run.sh).

Cores: with 2 or more, the server under test (minihttpsd with --threads 1, nginx with
worker_processes 1) is pinned to core 0 and the load generator / client to core 1 (taskset).
Scenario 6 also runs minihttpsd --threads 2 on cores 0 and 1; its raw reader then goes to core 2,
or shares core 1 on a 2-core machine.

BENCH_TLS=1 runs minihttpsd with --tls-self-signed (its clients on https://), for the same rows
over TLS; only the scenarios whose clients speak TLS run then (1, 2, 3, 5, 8).

Scenarios (BENCH_ONLY): 1 signed 1 KiB GETs, 2 one 256 MiB GET, 3 handshakes, 4 memory (idle
connections, peak RSS streaming 1 GiB), 5 256 MiB upload, 6 server encryption alone on 1 and 2
threads, 7 resume after an interruption, 8 sealed vs unsealed 1 KiB GETs, 9 chunk size sweep, 10 one
1 KiB GET taken apart beside nginx (perf stat, strace -c -f, perf record).

usage: peer.py BUILD_DIR CORE_BENCH_JSON OPENSSL_AES OPENSSL_HMAC
"""
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from micro_table import speed_16k  # noqa: E402  (same parser for both tables)

BUILD = os.path.abspath(sys.argv[1])
SERVER = os.path.join(BUILD, "src", "minihttpsd")
CLIENT = os.path.join(BUILD, "src", "minihttps")
PRESIGN = os.path.join(BUILD, "bench", "bench_presign")
IDLE = os.path.join(BUILD, "bench", "bench_idle")
FERNET_FILE = os.path.join(BUILD, "bench", "bench_fernet_file")
HERE = os.path.dirname(os.path.abspath(__file__))
RAW_GET = os.path.join(HERE, "raw_get.py")
CORES = os.cpu_count() or 1
SERVER_CPU = "0"
LOAD_CPU = "1" if CORES > 1 else "0"
SERVER2_CPUS = "0,1" if CORES > 1 else "0"  # minihttpsd --threads 2 (scenario 6)
READER_CPU = "2" if CORES > 2 else LOAD_CPU  # its raw reader
DURATION = int(os.environ.get("BENCH_SECONDS", "5"))
PROFILE_DIR = os.environ.get("BENCH_PROFILE_DIR")  # set: perf profiles of scenarios 1, 2, 3, 8 and 10 go there
ONLY = set(os.environ.get("BENCH_ONLY", "1,2,3,4,5,6,7,8,9,10").split(","))  # scenarios to run, e.g. BENCH_ONLY=1,3
TLS = os.environ.get("BENCH_TLS") == "1"  # minihttpsd over TLS (the raw readers and idle sockets speak none)
if TLS:
    ONLY &= {"1", "2", "3", "5", "8"}
MIB = 1024 * 1024
DEFAULT_CHUNK = 262144  # minihttpsd --chunk-size default (src/server/options.hpp)
SEALED_VS_PLAIN_REQUESTS = 20000  # scenario 8, per kind
FERNET_RUNS = 5  # Fernet of the 256 MiB file vs Python: timed runs each
RAW_REPEATS = 3  # raw-reader GETs per server; the best one counts (the machine is shared and noisy)


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def run(cmd, cpu=None, **kw):
    if cpu is not None:
        cmd = ["taskset", "-c", cpu] + cmd
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Minihttpsd:
    """One server instance of its own (keys, uploads): `threads` worker threads pinned to `cpus`;
    `chunk_size` None keeps the server's default; with `access_log` its lines (bytes sent per
    request) go to DIR/err and access_bytes() reads them."""

    def __init__(self, work, www, name="mh", threads=1, cpus=SERVER_CPU, chunk_size=None, access_log=False,
                 extra=(), keys=None):
        self.dir = os.path.join(work, name)
        self.keys = keys or os.path.join(self.dir, "keys")
        os.makedirs(self.dir, exist_ok=True)
        os.makedirs(self.keys, mode=0o700, exist_ok=True)
        self.out = open(os.path.join(self.dir, "out"), "w+")
        self.err = os.path.join(self.dir, "err")
        options = ["--log-level", "info"] if access_log else ["--no-access-log", "--log-level", "warn"]
        if TLS:
            options += ["--tls-self-signed"]
        if chunk_size:
            options += ["--chunk-size", str(chunk_size)]
        self.proc = subprocess.Popen(
            ["taskset", "-c", cpus, SERVER, "--listen", "127.0.0.1:0", "--root", www,
             "--keys", self.keys, "--upload-dir", os.path.join(self.dir, "uploads"),
             "--threads", str(threads), *options, "--control-socket", "off",
             "--max-skew", "900", "--handshake-rate", "1000000", "--handshake-burst", "1000000",
             "--server-handshake-rate", "1000000", "--server-handshake-burst", "1000000",
             "--max-clients-per-address", "100000", "--replay-per-client", str(1 << 22),
             "--max-connections", "15000", "--request-timeout", "600", "--max-clients", "100000",
             "--max-upload-size", str(4 << 30), "--upload-quota", str(8 << 30), *extra],
            stdout=self.out, stderr=open(self.err, "w"))
        for _ in range(200):
            self.out.seek(0)
            m = re.search(r"listening on (https?://[\d.]+:(\d+))", self.out.read())
            if m:
                self.url, self.port = m.group(1), int(m.group(2))
                return
            time.sleep(0.05)
        raise SystemExit("minihttpsd did not start")

    def access_bytes(self):
        """Bytes the server wrote for each request so far (access log, in order)."""
        with open(self.err) as f:
            return [int(m.group(1)) for m in re.finditer(r" access .* \d{3} (\d+)B \d+us$", f.read(), re.M)]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def connect(server, home, bits):
    run([CLIENT, "--home", home, "-q", "connect", "--server", server.url, "--name", os.path.basename(home),
         "--rsa-bits", str(bits)])


class Nginx:
    def __init__(self, work, www):
        self.dir = os.path.join(work, "nginx")
        os.makedirs(os.path.join(self.dir, "logs"))
        for kind, args in (("rsa", ["-newkey", "rsa:2048"]),
                           ("ecdsa", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])):
            run(["openssl", "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", *args,
                 "-keyout", f"{self.dir}/{kind}.key", "-out", f"{self.dir}/{kind}.crt"])
        self.port_rsa, self.port_ecdsa, self.port_http = free_port(), free_port(), free_port()
        conf = f"""
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/logs/error.log warn;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  sendfile on;
  keepalive_requests 10000000;
  keepalive_timeout 600s;
  ssl_protocols TLSv1.3;
  ssl_session_cache off;
  ssl_session_tickets off;
  server {{ listen 127.0.0.1:{self.port_rsa} ssl; ssl_certificate {self.dir}/rsa.crt; ssl_certificate_key {self.dir}/rsa.key; root {www}; }}
  server {{ listen 127.0.0.1:{self.port_ecdsa} ssl; ssl_certificate {self.dir}/ecdsa.crt; ssl_certificate_key {self.dir}/ecdsa.key; root {www}; }}
  server {{ listen 127.0.0.1:{self.port_http}; root {www}; }}
}}
"""
        with open(f"{self.dir}/nginx.conf", "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(["taskset", "-c", SERVER_CPU, "nginx", "-c", f"{self.dir}/nginx.conf",
                                      "-p", self.dir, "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise SystemExit("nginx did not start: " + open(f"{self.dir}/logs/error.log").read())

    def worker_pids(self):
        out = run(["pgrep", "-P", str(self.proc.pid)]).stdout.split()
        return [int(p) for p in out]

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        self.proc.wait(timeout=30)


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def perf_report(data, sort, percent_limit):
    """perf report of a perf record file: self time by `sort` keys, no call graphs."""
    return subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", sort, "-g", "none",
                           "--percent-limit", str(percent_limit)], capture_output=True, text=True).stdout


class Profile:
    """perf record (cpu-clock sampling, works without hardware counters) of a process while a
    scenario runs; the report lists where its time went."""

    def __init__(self, pid, name):
        self.proc = None
        if name and PROFILE_DIR and shutil.which("perf"):
            os.makedirs(PROFILE_DIR, exist_ok=True)
            self.data = os.path.join(PROFILE_DIR, f"{name}.data")
            self.report = os.path.join(PROFILE_DIR, f"{name}.txt")
            self.proc = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-g", "-p", str(pid), "-o", self.data],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        if os.environ.get("BENCH_KEEP_PERF"):
            subprocess.run(["cp", self.data, self.data + ".keep"])
        with open(self.report, "w") as f:
            f.write(perf_report(self.data, "dso", 0))  # first where, by library, then by symbol
            f.write(perf_report(self.data, "dso,symbol", 0.5))
        os.remove(self.data)


def wrk(url, connections, script=None, env=None, duration=DURATION):
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    if script:
        cmd += ["-s", script]
    out = run(cmd + [url], cpu=LOAD_CPU, env={**os.environ, **(env or {})}).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    replayed = re.search(r"^replayed (\d+)$", out, re.M)  # bench/replay.lua
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(map(int, errors.groups())) if errors else 0, "requests": total,
            "replayed": int(replayed.group(1)) if replayed else None}


def main():
    core = {b["name"]: b for b in json.load(open(sys.argv[2]))["benchmarks"]}
    aes, hmac = speed_16k(sys.argv[3]), speed_16k(sys.argv[4])
    fernet_limit = 1 / (1 / aes + 1 / hmac)
    work = tempfile.mkdtemp(prefix="minihttps-bench-")
    # nginx's workers drop root for an unprivileged user: mkdtemp's 0700 would make every file 403.
    os.chmod(work, 0o755)
    rows = []
    sweep = []
    try:
        www = os.path.join(work, "www")
        os.makedirs(www)
        with open(f"{www}/1k.bin", "wb") as f:
            f.write(os.urandom(1024))
        with open(f"{www}/256m.bin", "wb") as f:
            for _ in range(256):
                f.write(os.urandom(MIB))
        with open(f"{www}/1g.bin", "wb") as f:
            f.truncate(1 << 30)
        nginx = Nginx(work, www)
        server = Minihttpsd(work, www)
        try:
            if ONLY & {"1", "2", "3", "5", "8", "10"}:
                connect(server, os.path.join(work, "client2048"), 2048)
            if "1" in ONLY:
                rows += scenario_small_gets(work, server, nginx, core)
            if "2" in ONLY:
                rows += scenario_large_file(work, www, server, nginx, fernet_limit)
            if "3" in ONLY:
                rows += scenario_handshakes(work, server, nginx)
            if "5" in ONLY:
                rows += scenario_upload(work, www, server, fernet_limit)
            if "8" in ONLY:
                rows += scenario_sealed_vs_plain(work, server)
            if "10" in ONLY:
                rows += scenario_anatomy(work, server, nginx)
            if "6" in ONLY:  # servers of its own (1 and 2 threads); nginx gives the raw reader's ceiling
                rows += scenario_server_threads(work, www, nginx, fernet_limit)
        finally:
            server.stop()
            nginx.stop()
        # Each of these starts servers of its own (chunk sizes, an access log).
        if "7" in ONLY:
            rows += scenario_resume(work, www)
        if "4" in ONLY:
            rows += scenario_memory(work, www)
        if "9" in ONLY:
            sweep = scenario_chunk_sizes(work, www, fernet_limit)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    over = " over TLS (--tls-self-signed, TLS 1.3)" if TLS else ""
    print(f"\n## minihttpsd{over} vs nginx (HTTPS, TLS 1.3)\n\nServer on core {SERVER_CPU} (minihttpsd --threads 1, "
          f"nginx worker_processes 1), load generator and clients on core {LOAD_CPU}; {DURATION} s runs.\n")
    print("| scenario | minihttpsd | peer | ratio |")
    print("|---|---|---|---|")
    for name, ours, peer, ratio in rows:
        print(f"| {name} | {ours} | {peer} | {'' if ratio is None else f'{ratio:.2f}'} |")
    if sweep:
        print(f"\n## Chunk size (--chunk-size), 256 MiB GET\n\nOne server per chunk size (--threads 1, core "
              f"{SERVER_CPU}), client on core {LOAD_CPU}; Fernet limit {fernet_limit:.0f} MB/s (openssl speed, one core).\n")
        print("| chunk size | end to end (minihttps get): MB/s | / Fernet limit | server MB per CPU-second | "
              f"server alone (raw reader, best of {RAW_REPEATS}): MB/s | / Fernet limit |")
        print("|---|---|---|---|---|---|")
        for size, e2e, per_cpu, alone in sweep:
            default = " (default)" if size == DEFAULT_CHUNK else ""
            print(f"| {size // 1024} KiB{default} | {e2e:.0f} | {e2e / fernet_limit:.2f} | {per_cpu:.0f} | {alone:.0f} | "
                  f"{alone / fernet_limit:.2f} |")


def per_second(b):
    # Google Benchmark JSON: time per iteration in ns (real_time, time_unit ns).
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3}[b.get("time_unit", "ns")]
    return 1 / (b["real_time"] * scale)


def replay_gets(server, home, count, name, plain=False, once=False, duration=DURATION, profile=True):
    """wrk replays `count` GETs of /1k.bin that bench_presign signed with the session in `home`
    (sealed as the CLI sends them, or `plain`: unsealed, PROTOCOL.md §5.4) over 50 connections for
    DURATION seconds. Returns wrk's numbers plus the server's CPU time per request in µs (cpu_us).
    `once`: stop sending when the requests run out (no refused replays; req/s is then meaningless)
    and divide by the requests sent. `profile`: False when another tool is attached to the server.
    """
    requests = os.path.join(os.path.dirname(home), f"{name}.req")
    run([PRESIGN, "get", *(["--plain"] if plain else []), home, f"127.0.0.1:{server.port}", "/1k.bin", str(count),
         requests])
    cpu0 = cpu_seconds(server.proc.pid)
    with Profile(server.proc.pid, name if profile else None):
        r = wrk(server.url + "/1k.bin", 50, os.path.join(HERE, "replay.lua"),
                {"REQUESTS_FILE": requests, **({"REPLAY_ONCE": "1"} if once else {})}, duration=duration)
    cpu = cpu_seconds(server.proc.pid) - cpu0
    os.remove(requests)
    served = r["replayed"] if once else r["requests"]
    r["cpu_us"] = cpu / max(1, served) * 1e6
    log(f"server CPU {cpu:.2f} s for {served} requests ({r['cpu_us']:.0f} us each)")
    if r["non2xx"] or r["requests"] > count:
        log(f"warning: {r['non2xx']} refused responses (pre-signed {count}, sent {r['requests']})")
    return r


def scenario_small_gets(work, server, nginx, core):
    rows = []
    for bits in (2048, 3072):
        log(f"scenario 1: signed 1 KiB GETs, {bits}-bit client key")
        home = os.path.join(work, f"client{bits}")
        if bits != 2048:
            connect(server, home, bits)
        bound = crypto_bound(core, bits)
        r = replay_gets(server, home, int(bound * (DURATION + 2) * 1.3), f"scenario1-get1k-rsa{bits}")
        rows.append((f"1 KiB signed GET, {bits}-bit key: req/s (p50 / p99 ms)",
                     f"{r['rps']:.0f} ({r['p50']:.2f} / {r['p99']:.2f})",
                     f"crypto bound {bound:.0f}", r["rps"] / bound))
    log("scenario 1: nginx HTTPS 1 KiB GETs")
    n = wrk(f"https://127.0.0.1:{nginx.port_rsa}/1k.bin", 50)
    if n["non2xx"]:
        raise SystemExit(f"nginx answered {n['non2xx']} of the 1 KiB GETs with an error")
    rows.append(("1 KiB GET, nginx HTTPS: req/s (p50 / p99 ms)", "-",
                 f"{n['rps']:.0f} ({n['p50']:.2f} / {n['p99']:.2f})", None))
    ours2048 = float(rows[0][1].split()[0])
    rows.append(("1 KiB GET, minihttpsd (2048) / nginx HTTPS", f"{ours2048:.0f}", f"{n['rps']:.0f}", ours2048 / n["rps"]))
    return rows


def timed(cmd, cpu):
    t0 = time.monotonic()
    run(cmd, cpu=cpu)
    return time.monotonic() - t0


def get_256m(server, home, out, profile=None):
    """`minihttps get 256m.bin -o out` on the client core: its wall time and the server's CPU
    seconds for it (the output is removed)."""
    cpu0 = cpu_seconds(server.proc.pid)
    with Profile(server.proc.pid, profile):
        t = timed([CLIENT, "--home", home, "-q", "get", "256m.bin", "-o", out], LOAD_CPU)
    server_cpu = cpu_seconds(server.proc.pid) - cpu0
    os.remove(out)
    return t, server_cpu


def scenario_large_file(work, www, server, nginx, fernet_limit):
    log("scenario 2: 256 MiB file end to end")
    home = os.path.join(work, "client2048")
    size = 256 * MIB
    out = os.path.join(work, "out.bin")
    t_ours, server_cpu = get_256m(server, home, out, "scenario2-get256m-server")
    t_nginx = timed(["curl", "-sk", "--fail", "-o", out, f"https://127.0.0.1:{nginx.port_rsa}/256m.bin"], LOAD_CPU)
    if os.path.getsize(out) != size:
        raise SystemExit(f"curl + nginx: {os.path.getsize(out)} bytes instead of {size}")
    os.remove(out)
    mbps = size / 1e6
    server_mbps = mbps / server_cpu if server_cpu else 0
    ours = mbps / t_ours
    return [
        ("256 MiB GET end to end (minihttps get: client verifies and writes): MB/s vs Fernet limit, target ≥ 0.80",
         f"{ours:.0f}", f"Fernet limit (openssl speed) {fernet_limit:.0f}", ours / fernet_limit),
        ("256 MiB GET end to end: minihttps get vs curl + nginx HTTPS (info)", f"{ours:.0f}",
         f"curl + nginx HTTPS {mbps / t_nginx:.0f}", t_nginx / t_ours),
        ("server MB per CPU-second while serving it (read, encrypt, send)", f"{server_mbps:.0f}",
         f"Fernet limit (openssl speed) {fernet_limit:.0f}", server_mbps / fernet_limit),
        fernet_vs_python(f"{www}/256m.bin", size),
    ]


def fernet_vs_python(path, size):
    """The same work on both sides: one Fernet token of the whole file, already in memory, on the
    server's core, after a warm-up run, FERNET_RUNS timed runs each. The ratio is of the medians;
    the row also gives the spread of the run-by-run ratios."""
    ours = [float(t) for t in run([FERNET_FILE, path, str(FERNET_RUNS)], cpu=SERVER_CPU).stdout.split()]
    theirs = [float(t) for t in run(["python3", "-c",
                                     "import sys,time\nfrom cryptography.fernet import Fernet\n"
                                     "d=open(sys.argv[1],'rb').read(); f=Fernet(Fernet.generate_key()); f.encrypt(d)\n"
                                     "for _ in range(int(sys.argv[2])):\n"
                                     "  t=time.perf_counter(); f.encrypt(d); print(time.perf_counter()-t)",
                                     path, str(FERNET_RUNS)], cpu=SERVER_CPU).stdout.split()]
    mb = size / 1e6
    ratios = sorted(t / o for o, t in zip(ours, theirs))
    med = statistics.median
    return (f"Fernet token of the 256 MiB file in memory, MB/s: core fernet_encrypt vs Python cryptography "
            f"(median of {FERNET_RUNS}; run-by-run ratios {ratios[0]:.2f}–{ratios[-1]:.2f})",
            f"{mb / med(ours):.0f}", f"Python {mb / med(theirs):.0f}", med(theirs) / med(ours))


def scenario_handshakes(work, server, nginx):
    log("scenario 3: handshakes")
    count = 20000
    requests = os.path.join(work, "hello.req")
    # The hellos are sealed to the server's static key, which a connected home has recorded.
    run([PRESIGN, "hello", "2048", f"127.0.0.1:{server.port}", str(count), requests, os.path.join(work, "client2048")])
    cpu0 = cpu_seconds(server.proc.pid)
    with Profile(server.proc.pid, "handshakes"):
        r = wrk(server.url + "/auth/handshake", 2, os.path.join(HERE, "replay.lua"), {"REQUESTS_FILE": requests},
                duration=3)
    # Server CPU per handshake: the fair comparison when the clients, not the servers, limit the
    # rates (the s_time clients share one core).
    ours_us = (cpu_seconds(server.proc.pid) - cpu0) / max(1, r["requests"]) * 1e6
    if r["non2xx"]:
        log(f"warning: {r['non2xx']} handshakes refused")
    rows = [("handshakes/s, 2 concurrent clients (pre-computed hellos)", f"{r['rps']:.0f}", "", None)]
    if TLS:  # the TLS layer alone, on both servers' ECDSA P-256 certificates
        ours_tls, ours_tls_us = s_time(server.port, server.proc.pid)
        _, nginx_tls_us = s_time(nginx.port_ecdsa, nginx.worker_pids()[0])
        rows.append(("TLS 1.3 full handshakes/s alone, ECDSA P-256: minihttpsd (server CPU each) / nginx",
                     f"{ours_tls:.0f} ({ours_tls_us:.0f} µs)", f"{nginx_tls_us:.0f} µs", nginx_tls_us / ours_tls_us))
    (worker,) = nginx.worker_pids()
    for kind, port in (("RSA-2048", nginx.port_rsa), ("ECDSA P-256", nginx.port_ecdsa)):
        total, theirs_us = s_time(port, worker)
        rows.append((f"TLS 1.3 full handshakes/s, nginx {kind}, 2 concurrent clients", "", f"{total:.0f}", None))
        rows.append((f"handshakes: minihttpsd / nginx {kind}", f"{r['rps']:.0f}", f"{total:.0f}", r["rps"] / total))
        rows.append((f"server CPU per handshake: nginx {kind} / minihttpsd (handshakes per server CPU-second, "
                     "ratio of)", f"{ours_us:.0f} µs", f"{theirs_us:.0f} µs", theirs_us / ours_us))
    return rows


def s_time(port, pid):
    """Full TLS 1.3 handshakes by two `openssl s_time -new` clients on the load core for DURATION
    seconds: handshakes per second, and the server's CPU µs per handshake (process `pid`)."""
    cpu0 = cpu_seconds(pid)
    procs = [subprocess.Popen(["taskset", "-c", LOAD_CPU, "openssl", "s_time", "-connect", f"127.0.0.1:{port}",
                               "-new", "-tls1_3", "-time", str(DURATION)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
    total = 0.0
    connections = 0
    for p in procs:
        out = p.communicate()[0]
        m = re.search(r"(\d+) connections in (\d+) real seconds", out)
        total += int(m.group(1)) / max(1, int(m.group(2)))
        connections += int(m.group(1))
    return total, (cpu_seconds(pid) - cpu0) / max(1, connections) * 1e6


def scenario_upload(work, www, server, fernet_limit):
    log("scenario 5: 256 MiB upload")
    home = os.path.join(work, "client2048")
    t = timed([CLIENT, "--home", home, "-q", "put", f"{www}/256m.bin", "up.bin"], LOAD_CPU)
    ours = 256 * MIB / 1e6 / t
    return [("256 MiB upload end to end (minihttps put: encrypt, send, decrypt, cksum, commit): MB/s vs Fernet limit, "
             "target ≥ 0.70", f"{ours:.0f}", f"Fernet limit (openssl speed) {fernet_limit:.0f}", ours / fernet_limit)]


def scenario_memory(work, www):
    rows = []
    log("scenario 4: 10,000 idle keep-alive connections")
    server = Minihttpsd(work, www, "mem")
    try:
        time.sleep(0.3)
        before = rss_kib(server.proc.pid)
        idle = subprocess.Popen(["taskset", "-c", LOAD_CPU, IDLE, "127.0.0.1", str(server.port), "10000"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = idle.stdout.readline()
        if not line.startswith("ready"):
            raise SystemExit("bench_idle failed")
        time.sleep(0.5)
        after = rss_kib(server.proc.pid)
        idle.stdin.close()
        idle.wait()
        per = (after - before) / 10000
        # No ratio: a quotient of a target and a measure says nothing a reader can compare.
        rows.append(("server RSS per idle keep-alive connection (10,000 open), target < 64 KiB", f"{per:.1f} KiB",
                     "reached" if per < 64 else "NOT reached", None))
    finally:
        server.stop()
    log("scenario 4: peak RSS while streaming 1 GiB")
    server = Minihttpsd(work, www, "stream")
    try:
        home = os.path.join(work, "stream-client")
        connect(server, home, 2048)
        out = os.path.join(work, "1g.out")
        r = run(["/usr/bin/time", "-f", "%M", CLIENT, "--home", home, "-q", "get", "1g.bin", "-o", out], cpu=LOAD_CPU)
        client_peak = int(r.stderr.strip().splitlines()[-1])
        server_peak = rss_kib(server.proc.pid, "VmHWM")
        os.remove(out)
        rows.append(("peak RSS streaming 1 GiB: server / client, target < 32 MiB each",
                     f"{server_peak / 1024:.1f} / {client_peak / 1024:.1f} MiB",
                     "reached" if max(server_peak, client_peak) < 32 * 1024 else "NOT reached", None))
    finally:
        server.stop()
    return rows


def crypto_bound(core, bits):
    """Sealed 1 KiB GETs per second one core could do if their cryptography were all: every
    crypto call the server makes for one (bench/core_bench.cpp, BM_SealedGetCrypto)."""
    return per_second(core[f"BM_SealedGetCrypto/{bits}"])


def scenario_sealed_vs_plain(work, server):
    home = os.path.join(work, "client2048")
    r = {}
    for mode in ("sealed", "plain"):
        log(f"scenario 8: 1 KiB GETs, {mode}")
        # A cost per request, not a rate: a fixed number, each sent once (pre-signing is the slow part).
        r[mode] = replay_gets(server, home, SEALED_VS_PLAIN_REQUESTS, f"scenario8-get1k-{mode}",
                              plain=mode == "plain", once=True)
    sealed, plain = r["sealed"]["cpu_us"], r["plain"]["cpu_us"]
    return [("1 KiB GET, 2048-bit key: server CPU per request, sealed (as the CLI sends it) vs plain signed "
             "(unsealed, §5.4), ratio sealed / plain (info)", f"{sealed:.0f} µs", f"plain {plain:.0f} µs",
             sealed / plain)]


ANATOMY_REQUESTS = 20000  # scenario 10: sealed GETs per tool run (pre-signed, each sent once)


class Attached:
    """A tool attached to a running process for the length of a `with` block: perf stat (CPU,
    context switches), strace -c -f (system calls) or perf record (a profile). Its output file is
    `out`, complete once the block has ended."""

    COMMANDS = {
        "stat": ["perf", "stat", "-x", ",", "-e", "task-clock,context-switches"],
        "strace": ["strace", "-c", "-f", "-qq"],
        "record": ["perf", "record", "-e", "cpu-clock", "-g", "-q"],
    }

    def __init__(self, tool, pid, out):
        self.out = out
        self.proc = subprocess.Popen([*self.COMMANDS[tool], "-p", str(pid), "-o", out],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # attached before the load starts

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=120)


def perf_stat_values(path):
    """perf stat -x , output: event name -> value (task-clock in ms)."""
    out = {}
    for line in open(path):
        f = line.strip().split(",")
        if len(f) > 3 and f[0] and f[0][0].isdigit():
            out[f[2].split(":")[0]] = float(f[0])
    return out


def strace_counts(path):
    """strace -c output: syscall -> calls."""
    out = {}
    for line in open(path):
        m = re.match(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
        if m and m.group(2) != "total":
            out[m.group(2)] = int(m.group(1))
    return out


def profile_by_dso(data):
    """Where a perf record's samples went, by shared object: [(dso, percent)], largest first."""
    return [(m.group(2), float(m.group(1)))
            for m in re.finditer(r"^\s+([\d.]+)%\s+(\S+)\s*$", perf_report(data, "dso", 2), re.M)]


def anatomy(name, pid, load, work):
    """Per-request system calls, context switches, CPU and a profile of the server process `pid`,
    each from a load run of its own (`load()` returns the requests it had answered)."""
    base = os.path.join(work, f"anatomy-{name}")
    with Attached("stat", pid, base + ".stat"):
        n_stat = load()
    with Attached("strace", pid, base + ".strace"):
        n_strace = load()
    with Attached("record", pid, base + ".perf"):
        load()
    stat, calls = perf_stat_values(base + ".stat"), strace_counts(base + ".strace")
    profile = profile_by_dso(base + ".perf")
    if PROFILE_DIR:
        os.makedirs(PROFILE_DIR, exist_ok=True)
        with open(os.path.join(PROFILE_DIR, f"scenario10-{name}.txt"), "w") as f:
            f.write(perf_report(base + ".perf", "dso,symbol", 0.5))
    total_calls = sum(calls.values())
    top = sorted(calls.items(), key=lambda kv: -kv[1])[:8]
    return {
        "cpu_us": stat.get("task-clock", 0) * 1000 / n_stat,
        "switches": stat.get("context-switches", 0) / n_stat,
        "syscalls": total_calls / n_strace,
        "calls": ", ".join(f"{k} {v / n_strace:.2f}" for k, v in top if v / n_strace >= 0.01),
        "profile": ", ".join(f"{d} {p:.0f} %" for d, p in profile[:6]),
    }


def scenario_anatomy(work, server, nginx):
    """Scenario 10: one 1 KiB GET taken apart, minihttpsd (sealed, as the CLI sends it) beside
    nginx (HTTPS, TLS 1.3), both one worker on the server core under wrk with 50 connections."""
    log("scenario 10: per-request anatomy (perf stat, strace -c -f, perf record)")
    home = os.path.join(work, "client2048")

    def ours():
        # 30 s: room for all of them even while strace slows the server down.
        r = replay_gets(server, home, ANATOMY_REQUESTS, "scenario10", once=True, duration=30, profile=False)
        if r["non2xx"]:
            raise SystemExit(f"scenario 10: minihttpsd refused {r['non2xx']} requests")
        return r["replayed"]

    def theirs():
        return wrk(f"https://127.0.0.1:{nginx.port_rsa}/1k.bin", 50, duration=3)["requests"]

    a = anatomy("minihttpsd", server.proc.pid, ours, work)
    (worker,) = nginx.worker_pids()
    b = anatomy("nginx", worker, theirs, work)
    return [
        ("1 KiB GET anatomy: server CPU per request (perf stat task-clock)", f"{a['cpu_us']:.1f} µs",
         f"nginx {b['cpu_us']:.1f} µs", a["cpu_us"] / b["cpu_us"]),
        ("1 KiB GET anatomy: context switches per request (perf stat)", f"{a['switches']:.3f}",
         f"nginx {b['switches']:.3f}", None),
        ("1 KiB GET anatomy: system calls per request (strace -c -f)", f"{a['syscalls']:.2f} ({a['calls']})",
         f"nginx {b['syscalls']:.2f} ({b['calls']})", a["syscalls"] / b["syscalls"]),
        ("1 KiB GET anatomy: profile by object (perf record -e cpu-clock)", a["profile"], "nginx " + b["profile"],
         None),
    ]


def raw_read(port, requests, reader_cpu):
    """bench/raw_get.py on reader_cpu: the answers to the records of `requests`, each checked to be
    a 200 with a body at least as long as the 256 MiB file (the outer status of a sealed answer is
    always 200; only a stream that long says the inner one was too)."""
    answers = json.loads(run(["python3", RAW_GET, "127.0.0.1", str(port), requests], cpu=reader_cpu).stdout)
    for a in answers:
        if a["status"] != 200 or a["length"] < 256 * MIB:
            raise SystemExit(f"raw GET of /256m.bin: status {a['status']}, {a['length']} bytes")
    return answers


def raw_gets(server, home, reader_cpu):
    """RAW_REPEATS GETs of /256m.bin, sealed as the CLI sends them (bench_presign), read without
    decrypting: the best plaintext MB/s, and the server's MB per CPU-second over all of them."""
    requests = os.path.join(os.path.dirname(home), "raw-256m.req")
    run([PRESIGN, "get", home, f"127.0.0.1:{server.port}", "/256m.bin", str(RAW_REPEATS), requests])
    cpu0 = cpu_seconds(server.proc.pid)
    answers = raw_read(server.port, requests, reader_cpu)
    server_cpu = cpu_seconds(server.proc.pid) - cpu0
    os.remove(requests)
    best = min(answers, key=lambda a: a["seconds"])
    mb = 256 * MIB / 1e6
    log(f"raw reader: best {best['length'] / 1e6 / best['seconds']:.0f} MB/s on the wire")
    return mb / best["seconds"], len(answers) * mb / server_cpu


def raw_ceiling(work, nginx):
    """The raw reader's ceiling over loopback: nginx (core 0) sending the 256 MiB file in plain
    HTTP with sendfile, best of RAW_REPEATS, in MB/s on the wire."""
    requests = os.path.join(work, "plain-256m.req")
    request = f"GET /256m.bin HTTP/1.1\r\nHost: 127.0.0.1:{nginx.port_http}\r\nConnection: close\r\n\r\n"
    with open(requests, "w") as f:
        f.write(f"{len(request)}\n{request}" * RAW_REPEATS)
    answers = raw_read(nginx.port_http, requests, LOAD_CPU)
    return max(a["length"] / 1e6 / a["seconds"] for a in answers)


def scenario_server_threads(work, www, nginx, fernet_limit):
    mbps = {}
    for threads, cpus, reader in ((1, SERVER_CPU, LOAD_CPU), (2, SERVER2_CPUS, READER_CPU)):
        log(f"scenario 6: server encryption alone, --threads {threads} on cores {cpus}, reader on core {reader}")
        server = Minihttpsd(work, www, f"threads{threads}", threads=threads, cpus=cpus)
        try:
            home = os.path.join(work, f"threads{threads}-client")
            connect(server, home, 2048)
            mbps[threads], per_cpu = raw_gets(server, home, reader)
            log(f"--threads {threads}: best {mbps[threads]:.0f} MB/s, {per_cpu:.0f} MB per server CPU-second")
        finally:
            server.stop()
    shared = f", the reader shares core {READER_CPU}" if READER_CPU in SERVER2_CPUS.split(",") else ""
    one, two = mbps[1], mbps[2]
    ceiling = raw_ceiling(work, nginx)
    return [
        (f"server encryption alone, --threads 1 on core {SERVER_CPU}: plaintext MB/s of a sealed 256 MiB GET to a "
         "raw reader (body not decrypted), vs Fernet limit, target ≥ 0.85", f"{one:.0f}",
         f"Fernet limit (openssl speed) {fernet_limit:.0f}", one / fernet_limit),
        (f"server encryption alone, --threads 2 on cores {SERVER2_CPUS}{shared}: plaintext MB/s vs 2 × Fernet limit, "
         "target ≥ 0.85 per core", f"{two:.0f}", f"2 × Fernet limit {2 * fernet_limit:.0f}", two / (2 * fernet_limit)),
        ("server encryption alone: --threads 2 / --threads 1, target ≥ 1.7", f"{two:.0f}", f"{one:.0f}", two / one),
        ("raw reader's ceiling: nginx plain HTTP (sendfile) of the 256 MiB file to the same reader, MB/s on the wire "
         "(info; a sealed stream is 4/3 of its plaintext on the wire)", "", f"{ceiling:.0f}", None),
    ]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def scenario_resume(work, www):
    log("scenario 7: resume after an interruption at half")
    size = 256 * MIB
    server = Minihttpsd(work, www, "resume", access_log=True)
    try:
        home = os.path.join(work, "resume-client")
        connect(server, home, 2048)
        out = os.path.join(work, "resume.bin")
        part, record = out + ".part", out + ".part.minihttps"
        get = [CLIENT, "--home", home, "-q", "get", "256m.bin", "-o", out]

        def sent_by(action):
            # Bytes the server wrote for the requests `action` made, from its access log.
            before = len(server.access_bytes())
            action()
            time.sleep(0.5)  # a request is logged once its answer is written, or the write failed
            return sum(server.access_bytes()[before:])

        full = sent_by(lambda: run(get, cpu=LOAD_CPU))
        os.remove(out)
        cut = {}

        def interrupt():
            p = subprocess.Popen(["taskset", "-c", LOAD_CPU, *get], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while p.poll() is None and (not os.path.exists(part) or os.path.getsize(part) < size // 2):
                time.sleep(0.002)
            if p.poll() is not None:
                raise SystemExit(f"scenario 7: the download ended (status {p.returncode}) before reaching half")
            p.send_signal(signal.SIGINT)
            p.wait(timeout=30)
            if not os.path.exists(part) or not os.path.exists(record) or os.path.exists(out):
                raise SystemExit(f"scenario 7: SIGINT left no {part} with its record")
            cut["kept"] = json.load(open(record))["verified"]

        sent_by(interrupt)
        resumed = sent_by(lambda: run(get + ["-C"], cpu=LOAD_CPU))
        same = sha256(out) == sha256(f"{www}/256m.bin")
        if not same:
            log("warning: scenario 7: the resumed file differs from the original")
        os.remove(out)
    finally:
        server.stop()
    return [(f"resume (minihttps get -C) after SIGINT at {cut['kept'] / size:.0%} of 256 MiB: bytes the server sent "
             "for the rest / for a whole GET (its access log), target ≤ 0.55",
             f"{resumed / 1e6:.0f} MB, SHA-256 {'matches' if same else 'DIFFERS'}", f"whole GET {full / 1e6:.0f} MB",
             resumed / full)]


def scenario_chunk_sizes(work, www, fernet_limit):
    sweep = []
    for chunk in (65536, DEFAULT_CHUNK, 1048576):
        log(f"scenario 9: --chunk-size {chunk}")
        server = Minihttpsd(work, www, f"chunk{chunk}", chunk_size=chunk)
        try:
            home = os.path.join(work, f"chunk{chunk}-client")
            connect(server, home, 2048)
            t, server_cpu = get_256m(server, home, os.path.join(work, "chunk.out"))
            alone, _ = raw_gets(server, home, LOAD_CPU)
            mb = 256 * MIB / 1e6
            sweep.append((chunk, mb / t, mb / server_cpu, alone))
        finally:
            server.stop()
    return sweep


if __name__ == "__main__":
    main()
