#!/usr/bin/env python3
"""make bench, shared-store part (docs/ARCHITECTURE.md §7): what --store redis costs a signed GET,
and two instances behind HAProxy against one instance alone, in the same run on this machine.
Prints one markdown table (appended to bench/results/latest.md by bench/run.sh).

Rows:
  * store commands per signed 1 KiB GET (each is one round trip; the target is at most one),
    Redis CPU per GET, the instance's own CPU per GET, with --store memory and --store redis;
  * req/s of one instance (--threads 1, core 0) with --store redis over --store memory;
  * req/s of two instances (--threads 1 each, cores 0 and 1) behind HAProxy (mode tcp) over one
    instance alone with --threads 2 on the same two cores. On 2 cores the load generator, Redis and
    HAProxy share them too: the ratio says what this machine allows, and the per-request store cost
    above is what decides scaling on bigger ones.

usage: store.py BUILD_DIR
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.argv = sys.argv[:2] + ["", "", ""]  # peer.py reads its own arguments at import
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer  # noqa: E402

COUNT = 20000  # pre-signed GETs per cost measurement (each sent once)
# Pre-signed GETs for a DURATION-second rate run: more than one core (or two) can verify in that
# time (about 12,000 a second per core for 2048-bit keys), so no request is sent twice.
RATE_1 = int(12000 * (peer.DURATION + 2) * 1.3)
RATE_2 = 2 * RATE_1


class Redis:
    def __init__(self, work, cpu):
        self.dir = os.path.join(work, "redis")
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "redis.sock")
        self.proc = subprocess.Popen(
            ["taskset", "-c", cpu, "redis-server", "--port", "0", "--unixsocket", self.sock, "--unixsocketperm",
             "700", "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(self.sock):
                return
            time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    @property
    def url(self):
        return "unix://" + self.sock

    def commands(self):
        out = peer.run(["redis-cli", "-s", self.sock, "INFO", "stats"]).stdout
        return int(re.search(r"total_commands_processed:(\d+)", out).group(1))

    def flush(self):
        """Empties the store: the next server identity to use it claims it."""
        peer.run(["redis-cli", "-s", self.sock, "FLUSHALL"])

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


class HAProxy:
    def __init__(self, work, ports, cpus):
        self.port = peer.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = os.path.join(work, "haproxy.cfg")
        servers = "\n".join(f"  server i{i} 127.0.0.1:{p}" for i, p in enumerate(ports))
        with open(conf, "w") as f:
            f.write(f"""global
  maxconn 5000
defaults
  mode tcp
  timeout connect 2s
  timeout client 600s
  timeout server 600s
frontend minihttps
  bind 127.0.0.1:{self.port}
  default_backend instances
backend instances
  balance roundrobin
{servers}
""")
        self.proc = subprocess.Popen(["taskset", "-c", cpus, "haproxy", "-f", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise SystemExit("haproxy did not start")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def signed_gets(home, port, url, count, name, pids, once, redis=None):
    """wrk sends `count` pre-signed GETs of /1k.bin for authority 127.0.0.1:PORT to `url`; returns
    wrk's numbers, the CPU per request of `pids` and, with `redis`, its commands and CPU per request."""
    requests = os.path.join(os.path.dirname(home), f"{name}.req")
    peer.run([peer.PRESIGN, "get", home, f"127.0.0.1:{port}", "/1k.bin", str(count), requests])
    cpu0 = [peer.cpu_seconds(p) for p in pids]
    rcpu0, cmd0 = (peer.cpu_seconds(redis.proc.pid), redis.commands()) if redis else (0, 0)
    r = peer.wrk(url + "/1k.bin", 50, os.path.join(peer.HERE, "replay.lua"),
                 {"REQUESTS_FILE": requests, **({"REPLAY_ONCE": "1"} if once else {})})
    served = max(1, r["replayed"] if once else r["requests"])
    r["cpu_us"] = sum(peer.cpu_seconds(p) - c for p, c in zip(pids, cpu0)) / served * 1e6
    if redis:
        r["redis_us"] = (peer.cpu_seconds(redis.proc.pid) - rcpu0) / served * 1e6
        r["commands"] = (redis.commands() - cmd0 - 1) / served  # less the INFO that measured it
    os.remove(requests)
    if r["non2xx"] or r["socket_errors"]:
        peer.log(f"warning: {name}: {r['non2xx']} refused, {r['socket_errors']} socket errors")
    return r


def round_trips(home, server, redis, count=2000):
    """Requests the instance sent to Redis per signed GET: MONITOR shows each command a client
    sent (a script's own calls are marked "lua" and are not round trips); the subscriber's
    heartbeat PINGs are left out. A run of its own, as MONITOR slows Redis down."""
    requests = os.path.join(os.path.dirname(home), "monitored.req")
    peer.run([peer.PRESIGN, "get", home, f"127.0.0.1:{server.port}", "/1k.bin", str(count), requests])
    log = os.path.join(os.path.dirname(home), "monitor.log")
    with open(log, "w") as out:
        monitor = subprocess.Popen(["redis-cli", "-s", redis.sock, "monitor"], stdout=out)
        time.sleep(0.3)
        r = peer.wrk(server.url + "/1k.bin", 50, os.path.join(peer.HERE, "replay.lua"),
                     {"REQUESTS_FILE": requests, "REPLAY_ONCE": "1"}, duration=3)
        time.sleep(0.3)
        monitor.terminate()
        monitor.wait(timeout=10)
    with open(log) as f:
        sent = [line for line in f if " lua]" not in line and '"PING"' not in line and line.strip() != "OK"]
    os.remove(requests)
    return len(sent) / max(1, r["replayed"])


def main():
    work = tempfile.mkdtemp(prefix="minihttps-store-bench-")
    rows = []
    try:
        www = os.path.join(work, "www")
        os.makedirs(www)
        with open(f"{www}/1k.bin", "wb") as f:
            f.write(os.urandom(1024))
        redis = Redis(work, peer.LOAD_CPU)
        try:
            # One instance, --threads 1 on core 0: memory, then Redis.
            results = {}
            for store in ("memory", "redis"):
                extra = ["--store", redis.url] if store == "redis" else []
                server = peer.Minihttpsd(work, www, name=f"one-{store}", extra=extra)
                try:
                    home = os.path.join(work, f"client-{store}")
                    peer.connect(server, home, 2048)
                    peer.log(f"store: cost per signed GET, --store {store}")
                    cost = signed_gets(home, server.port, server.url, COUNT, f"cost-{store}", [server.proc.pid], True,
                                       redis if store == "redis" else None)
                    if store == "redis":
                        cost["round_trips"] = round_trips(home, server, redis)
                    peer.log(f"store: req/s, --store {store}")
                    rate = signed_gets(home, server.port, server.url, RATE_1, f"rate-{store}", [server.proc.pid], False)
                    results[store] = (cost, rate)
                finally:
                    server.stop()
            mem, red = results["memory"], results["redis"]
            rows.append(("round trips to the store per signed 1 KiB GET (target: at most 1)",
                         f"{red[0]['round_trips']:.3f}", "0", None))
            rows.append(("Redis commands run per GET (a script's own calls included)", f"{red[0]['commands']:.2f}", "",
                         None))
            rows.append(("Redis CPU per GET", f"{red[0]['redis_us']:.1f} µs", "", None))
            rows.append(("instance CPU per GET, --store redis vs memory", f"{red[0]['cpu_us']:.0f} µs",
                         f"{mem[0]['cpu_us']:.0f} µs", red[0]["cpu_us"] / mem[0]["cpu_us"]))
            rows.append(("1 KiB GETs, 1 instance (1 thread): --store redis vs memory", f"{red[1]['rps']:.0f} req/s",
                         f"{mem[1]['rps']:.0f} req/s", red[1]["rps"] / mem[1]["rps"]))
            rows.append(("p99 latency, --store redis vs memory", f"{red[1]['p99']:.2f} ms", f"{mem[1]['p99']:.2f} ms",
                         red[1]["p99"] / mem[1]["p99"]))

            # Two instances (one core each) behind HAProxy vs one instance with two threads.
            both = "0,1" if peer.CORES > 1 else "0"
            redis.flush()  # another deployment (server identity) from here on
            alone = peer.Minihttpsd(work, www, name="alone", threads=2, cpus=both, extra=["--store", redis.url])
            try:
                home = os.path.join(work, "client-alone")
                peer.connect(alone, home, 2048)
                peer.log("store: req/s, one instance with 2 threads")
                one = signed_gets(home, alone.port, alone.url, RATE_2, "alone", [alone.proc.pid], False)
                keys = alone.keys
            finally:
                alone.stop()
            a = peer.Minihttpsd(work, www, name="a", cpus=peer.SERVER_CPU, extra=["--store", redis.url], keys=keys)
            bkeys = os.path.join(work, "b-keys")
            os.makedirs(bkeys, mode=0o700)
            for f in ("server_ed25519.key", "server_ed25519.pub", "server_x25519.key"):
                shutil.copy2(os.path.join(keys, f), bkeys)
            b = peer.Minihttpsd(work, www, name="b", cpus=peer.LOAD_CPU, extra=["--store", redis.url], keys=bkeys)
            proxy = None
            try:
                proxy = HAProxy(work, [a.port, b.port], both)
                home = os.path.join(work, "client-two")
                peer.run([peer.CLIENT, "--home", home, "-q", "connect", "--server", proxy.url, "--name", "two",
                          "--rsa-bits", "2048"])
                peer.log("store: req/s, two instances behind HAProxy")
                two = signed_gets(home, proxy.port, proxy.url, RATE_2, "two", [a.proc.pid, b.proc.pid], False)
            finally:
                if proxy:
                    proxy.stop()
                a.stop()
                b.stop()
            rows.append(("1 KiB GETs: 2 instances behind HAProxy vs 1 instance, 2 threads (same 2 cores)",
                         f"{two['rps']:.0f} req/s", f"{one['rps']:.0f} req/s", two["rps"] / one["rps"]))
        finally:
            redis.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n## Shared store (--store redis)\n\nInstances on core {peer.SERVER_CPU} (and {peer.LOAD_CPU} for the "
          f"second), Redis and the load generator on core {peer.LOAD_CPU}; {peer.DURATION} s runs; costs from "
          f"{COUNT} GETs each sent once.\n")
    print("| measure | --store redis | peer | ratio |")
    print("|---|---|---|---|")
    for name, ours, other, ratio in rows:
        print(f"| {name} | {ours} | {other} | {'' if ratio is None else f'{ratio:.2f}'} |")


if __name__ == "__main__":
    main()
