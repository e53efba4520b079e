#!/usr/bin/env python3
"""make bench, peer part: minihttpsd against nginx (HTTPS, TLS 1.3) and the crypto limits, all
measured in the same run on this machine. Prints one markdown table (appended to
bench/results/latest.md by bench/run.sh).

Cores: with 2 or more, the server under test (minihttpsd with --threads 1, nginx with
worker_processes 1) is pinned to core 0 and the load generator / client to core 1 (taskset).

usage: peer.py BUILD_DIR CORE_BENCH_JSON OPENSSL_AES OPENSSL_HMAC
"""
import json
import os
import re
import shutil
import signal
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
HERE = os.path.dirname(os.path.abspath(__file__))
CORES = os.cpu_count() or 1
SERVER_CPU = "0"
LOAD_CPU = "1" if CORES > 1 else "0"
DURATION = int(os.environ.get("BENCH_SECONDS", "5"))
PROFILE_DIR = os.environ.get("BENCH_PROFILE_DIR")  # set: perf profiles of scenarios 1 and 2 go there
ONLY = set(os.environ.get("BENCH_ONLY", "1,2,3,4,5").split(","))  # scenarios to run, e.g. BENCH_ONLY=1,3
MIB = 1024 * 1024


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
    def __init__(self, work, www, name="mh"):
        self.dir = os.path.join(work, name)
        os.makedirs(os.path.join(self.dir, "keys"), mode=0o700, exist_ok=True)
        self.out = open(os.path.join(self.dir, "out"), "w+")
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, SERVER, "--listen", "127.0.0.1:0", "--root", www,
             "--keys", os.path.join(self.dir, "keys"), "--upload-dir", os.path.join(self.dir, "uploads"),
             "--threads", "1", "--no-access-log", "--log-level", "warn", "--control-socket", "off",
             "--max-skew", "900", "--handshake-rate", "1000000", "--handshake-burst", "1000000",
             "--server-handshake-rate", "1000000", "--server-handshake-burst", "1000000",
             "--max-clients-per-address", "100000", "--replay-per-client", str(1 << 22),
             "--max-connections", "15000", "--request-timeout", "600", "--max-clients", "100000",
             "--max-upload-size", str(4 << 30), "--upload-quota", str(8 << 30)],
            stdout=self.out, stderr=subprocess.DEVNULL)
        for _ in range(200):
            self.out.seek(0)
            m = re.search(r"listening on (http://[\d.]+:(\d+))", self.out.read())
            if m:
                self.url, self.port = m.group(1), int(m.group(2))
                return
            time.sleep(0.05)
        raise SystemExit("minihttpsd did not start")

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
        self.port_rsa, self.port_ecdsa = free_port(), free_port()
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


class Profile:
    """perf record (cpu-clock sampling, works without hardware counters) of a process while a
    scenario runs; the report lists where its time went."""

    def __init__(self, pid, name):
        self.proc = None
        if PROFILE_DIR and shutil.which("perf"):
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
        out = subprocess.run(["perf", "report", "-i", self.data, "--stdio", "--no-children", "--sort", "dso,symbol",
                              "--percent-limit", "0.5", "-g", "none"], capture_output=True, text=True).stdout
        with open(self.report, "w") as f:
            f.write(out)
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
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(map(int, errors.groups())) if errors else 0, "requests": total}


def main():
    core = {b["name"]: b for b in json.load(open(sys.argv[2]))["benchmarks"]}
    aes, hmac = speed_16k(sys.argv[3]), speed_16k(sys.argv[4])
    fernet_limit = 1 / (1 / aes + 1 / hmac)
    work = tempfile.mkdtemp(prefix="minihttps-bench-")
    rows = []
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
            if ONLY & {"1", "2", "5"}:
                connect(server, os.path.join(work, "client2048"), 2048)
            if "1" in ONLY:
                rows += scenario_small_gets(work, server, nginx, core)
            if "2" in ONLY:
                rows += scenario_large_file(work, www, server, nginx, fernet_limit)
            if "3" in ONLY:
                rows += scenario_handshakes(work, server, nginx)
            if "5" in ONLY:
                rows += scenario_upload(work, www, server)
        finally:
            server.stop()
            nginx.stop()
        if "4" in ONLY:
            rows += scenario_memory(work, www)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n## minihttpsd vs nginx (HTTPS, TLS 1.3)\n\nServer on core {SERVER_CPU} (minihttpsd --threads 1, "
          f"nginx worker_processes 1), load generator and clients on core {LOAD_CPU}; {DURATION} s runs.\n")
    print("| scenario | minihttpsd | peer | ratio |")
    print("|---|---|---|---|")
    for name, ours, peer, ratio in rows:
        print(f"| {name} | {ours} | {peer} | {'' if ratio is None else f'{ratio:.2f}'} |")


def per_second(b):
    # Google Benchmark JSON: time per iteration in ns (real_time, time_unit ns).
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3}[b.get("time_unit", "ns")]
    return 1 / (b["real_time"] * scale)


def scenario_small_gets(work, server, nginx, core):
    rows = []
    fernet_1k = 1 / per_second(core["BM_FernetEncrypt/1024"])
    for bits in (2048, 3072):
        log(f"scenario 1: signed 1 KiB GETs, {bits}-bit client key")
        home = os.path.join(work, f"client{bits}")
        if bits != 2048:
            connect(server, home, bits)
        verify = 1 / per_second(core[f"BM_RsaPssVerify/{bits}"])
        bound = 1 / (verify + fernet_1k)
        count = int(bound * (DURATION + 2) * 1.3)
        requests = os.path.join(work, f"get{bits}.req")
        run([PRESIGN, "get", home, f"127.0.0.1:{server.port}", "/1k.bin", str(count), requests])
        cpu0 = cpu_seconds(server.proc.pid)
        with Profile(server.proc.pid, f"scenario1-get1k-rsa{bits}"):
            r = wrk(server.url + "/1k.bin", 50, os.path.join(HERE, "replay.lua"), {"REQUESTS_FILE": requests})
        log(f"server CPU {cpu_seconds(server.proc.pid) - cpu0:.2f} s for {r['requests']} requests "
            f"({(cpu_seconds(server.proc.pid) - cpu0) / max(1, r['requests']) * 1e6:.0f} us each)")
        if r["non2xx"] or r["requests"] > count:
            log(f"warning: {r['non2xx']} refused responses (pre-signed {count}, sent {r['requests']})")
        rows.append((f"1 KiB signed GET, {bits}-bit key: req/s (p50 / p99 ms)",
                     f"{r['rps']:.0f} ({r['p50']:.2f} / {r['p99']:.2f})",
                     f"crypto bound {bound:.0f}", r["rps"] / bound))
    log("scenario 1: nginx HTTPS 1 KiB GETs")
    n = wrk(f"https://127.0.0.1:{nginx.port_rsa}/1k.bin", 50)
    rows.append(("1 KiB GET, nginx HTTPS: req/s (p50 / p99 ms)", "-",
                 f"{n['rps']:.0f} ({n['p50']:.2f} / {n['p99']:.2f})", None))
    ours2048 = float(rows[0][1].split()[0])
    rows.append(("1 KiB GET, minihttpsd (2048) / nginx HTTPS", f"{ours2048:.0f}", f"{n['rps']:.0f}", ours2048 / n["rps"]))
    return rows


def timed(cmd, cpu):
    t0 = time.monotonic()
    run(cmd, cpu=cpu)
    return time.monotonic() - t0


def scenario_large_file(work, www, server, nginx, fernet_limit):
    log("scenario 2: 256 MiB file end to end")
    home = os.path.join(work, "client2048")
    size = 256 * MIB
    out = os.path.join(work, "out.bin")
    cpu0 = cpu_seconds(server.proc.pid)
    with Profile(server.proc.pid, "scenario2-get256m-server"):
        t_ours = timed([CLIENT, "--home", home, "-q", "get", "256m.bin", "-o", out], LOAD_CPU)
    server_cpu = cpu_seconds(server.proc.pid) - cpu0
    os.remove(out)
    t_nginx = timed(["curl", "-sk", "-o", out, f"https://127.0.0.1:{nginx.port_rsa}/256m.bin"], LOAD_CPU)
    os.remove(out)
    py = run(["python3", "-c",
              "import sys,time\nfrom cryptography.fernet import Fernet\n"
              "d=open(sys.argv[1],'rb').read(); f=Fernet(Fernet.generate_key())\n"
              "t=time.perf_counter(); f.encrypt(d); print(time.perf_counter()-t)",
              f"{www}/256m.bin"], cpu=SERVER_CPU).stdout
    t_py = float(py)
    mbps = size / 1e6
    server_mbps = mbps / server_cpu if server_cpu else 0
    return [
        ("256 MiB GET end to end: MB/s (client verifies and writes)", f"{mbps / t_ours:.0f}",
         f"curl + nginx HTTPS {mbps / t_nginx:.0f}", t_nginx / t_ours),
        ("server MB per CPU-second while serving it (encrypt, digest, send)", f"{server_mbps:.0f}",
         f"Fernet limit (openssl speed) {fernet_limit:.0f}", server_mbps / fernet_limit),
        ("Fernet encryption of the file vs Python cryptography", f"{server_mbps:.0f}",
         f"Python {mbps / t_py:.0f}", server_mbps / (mbps / t_py)),
    ]


def scenario_handshakes(work, server, nginx):
    log("scenario 3: handshakes")
    count = 20000
    requests = os.path.join(work, "hello.req")
    # The hellos are sealed to the server's static key, which a connected home has recorded.
    run([PRESIGN, "hello", "2048", f"127.0.0.1:{server.port}", str(count), requests, os.path.join(work, "client2048")])
    r = wrk(server.url + "/auth/handshake", 2, os.path.join(HERE, "replay.lua"), {"REQUESTS_FILE": requests},
            duration=3)
    if r["non2xx"]:
        log(f"warning: {r['non2xx']} handshakes refused")
    rows = [("handshakes/s, 2 concurrent clients (pre-computed hellos)", f"{r['rps']:.0f}", "", None)]
    for kind, port in (("RSA-2048", nginx.port_rsa), ("ECDSA P-256", nginx.port_ecdsa)):
        procs = [subprocess.Popen(["taskset", "-c", LOAD_CPU, "openssl", "s_time", "-connect", f"127.0.0.1:{port}",
                                   "-new", "-tls1_3", "-time", str(DURATION)],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
        total = 0.0
        for p in procs:
            out = p.communicate()[0]
            m = re.search(r"(\d+) connections in (\d+) real seconds", out)
            total += int(m.group(1)) / max(1, int(m.group(2)))
        rows.append((f"TLS 1.3 full handshakes/s, nginx {kind}, 2 concurrent clients", "", f"{total:.0f}", None))
        rows.append((f"handshakes: minihttpsd / nginx {kind}", f"{r['rps']:.0f}", f"{total:.0f}", r["rps"] / total))
    return rows


def scenario_upload(work, www, server):
    log("scenario 5: 256 MiB upload")
    home = os.path.join(work, "client2048")
    t = timed([CLIENT, "--home", home, "-q", "put", f"{www}/256m.bin", "up.bin"], LOAD_CPU)
    return [("256 MiB upload end to end (encrypt, send, decrypt, cksum, commit): MB/s", f"{256 * MIB / 1e6 / t:.0f}",
             "", None)]


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
        rows.append(("server RSS per idle keep-alive connection (10,000 open)", f"{per:.1f} KiB",
                     "target < 64 KiB", 64 / per if per else None))
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
        rows.append(("peak RSS streaming 1 GiB: server / client", f"{server_peak / 1024:.1f} / {client_peak / 1024:.1f} MiB",
                     "target < 32 MiB each", None))
    finally:
        server.stop()
    return rows


if __name__ == "__main__":
    main()
