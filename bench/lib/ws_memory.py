"""What an idle WebSocket costs the server: RSS before and after N authenticated sockets, each
holding K `connectionEvents` subscriptions.

One SQLite database seeded with `community-gateway seed`; one token per user from
`community-gateway token --user ID`. For each N of BENCH_WS_SOCKETS and each K of
BENCH_WS_SUBSCRIPTIONS, a fresh release server: warmed up (a few sockets of the same kind
opened and closed, so what is allocated once per process is in "before"), its VmRSS read
("before"), then `ws-memory/client.mjs` opens the N sockets (connection_init with a token,
K subscribes, a ping whose pong says they are registered); once all are open and
BENCH_WS_SETTLE seconds have passed, VmRSS again ("after"). Bytes per socket =
(after - before) / N; bytes per subscription = the difference between the K = 4 and K = 1 runs
/ (3 N). Prints a Markdown block (command, machine, table) on standard output.

Run by bench/ws-memory. Settings (environment): BENCH_WS_SOCKETS (2000), BENCH_WS_SUBSCRIPTIONS
(0,1,4), BENCH_WS_USERS (2000: tokens are used round robin), BENCH_WS_SETTLE (3),
BENCH_BIN (target/release/community-gateway).
"""

import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLIENT = Path(__file__).resolve().parent / "ws-memory" / "client.mjs"
SECRET = "ws-memory-secret-0123456789abcdef"


def env(name, default):
    value = os.environ.get(name, "")
    return value if value else default


SOCKETS = [int(n) for n in env("BENCH_WS_SOCKETS", "2000").split(",") if n]
SUBSCRIPTIONS = [int(k) for k in env("BENCH_WS_SUBSCRIPTIONS", "0,1,4").split(",") if k]
USERS = int(env("BENCH_WS_USERS", "2000"))
SETTLE = float(env("BENCH_WS_SETTLE", "3"))
BIN = env("BENCH_BIN", str(REPO / "target" / "release" / "community-gateway"))


def log(msg):
    print(f"[ws-memory] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid, key="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {key} for {pid}")


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        mem_kib = int(info.readline().split()[1])
    load = open("/proc/loadavg").read().split()[:3]
    return (f"{os.cpu_count()} cores ({cpu}), {mem_kib // 1024} MiB RAM, "
            f"Linux {platform.release()}, load average {' '.join(load)} at the start")


class Server:
    """A release server on `db`, on a free port, stopped by `stop`."""

    def __init__(self, db, logfile, max_sockets):
        self.port = free_port()
        server_env = dict(os.environ, DATABASE_URL=db, JWT_SECRET=SECRET, RUST_LOG="warn",
                          WS_MAX_SOCKETS=str(max_sockets))
        self.proc = subprocess.Popen(
            [BIN, "serve", "--no-demo", "--bind", f"127.0.0.1:{self.port}"],
            env=server_env, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the server did not start")
                time.sleep(0.2)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def open_sockets(server, tokens, n, k):
    """Starts the client; returns it once its n sockets are open (it holds them until its
    standard input closes)."""
    client_env = dict(os.environ, WSMEM_URL=f"ws://127.0.0.1:{server.port}/graphql",
                      WSMEM_TOKENS=str(tokens), WSMEM_SOCKETS=str(n), WSMEM_SUBSCRIPTIONS=str(k))
    client = subprocess.Popen(["node", str(CLIENT)], env=client_env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    line = client.stdout.readline()
    if not line:
        client.wait()
        raise RuntimeError(f"the client failed (exit {client.returncode})")
    return client, json.loads(line)


def close(client):
    client.stdin.close()
    client.wait(timeout=60)


def measure(db, tokens, workdir, n, k):
    with open(workdir / f"server-{n}-{k}.log", "w") as logfile:
        server = Server(db, logfile, max_sockets=n + 100)
        try:
            warm, _ = open_sockets(server, tokens, 50, k)
            close(warm)
            time.sleep(SETTLE)
            before = rss_kib(server.proc.pid)
            client, opened = open_sockets(server, tokens, n, k)
            time.sleep(SETTLE)
            after = rss_kib(server.proc.pid)
            peak = rss_kib(server.proc.pid, "VmHWM")
            close(client)
            return {"sockets": n, "subscriptions": k, "before_kib": before, "after_kib": after,
                    "peak_kib": peak, "open_ms": opened["ms"]}
        finally:
            server.stop()


def main():
    workdir = Path(tempfile.mkdtemp(prefix="cg-ws-memory-"))
    try:
        db = f"sqlite://{workdir}/bench.db?mode=rwc"
        seed_env = dict(os.environ, DATABASE_URL=db, JWT_SECRET=SECRET, RUST_LOG="warn")
        log(f"seed: {USERS} users")
        subprocess.run([BIN, "seed", "--users", str(USERS), "--avg-degree", "10", "--seed", "1",
                        "-q"], env=seed_env, check=True, stdout=subprocess.DEVNULL)

        def token(user):
            out = subprocess.run([BIN, "token", "--user", str(user), "--ttl", "4h"],
                                 env=seed_env, check=True, capture_output=True, text=True)
            return out.stdout.strip().splitlines()[-1]

        log(f"tokens: {USERS}")
        with ThreadPoolExecutor(max_workers=4) as pool:
            tokens = list(pool.map(token, range(1, USERS + 1)))
        token_file = workdir / "tokens"
        token_file.write_text("\n".join(tokens) + "\n")

        rows = []
        for n in SOCKETS:
            for k in SUBSCRIPTIONS:
                log(f"{n} sockets x {k} subscriptions")
                row = measure(db, token_file, workdir, n, k)
                log(json.dumps(row))
                rows.append(row)
        report(rows)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(rows):
    binary = hashlib.sha256(Path(BIN).read_bytes()).hexdigest()[:12]
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
                           capture_output=True, text=True).stdout.strip()
    state = f"`{commit}`" + (" + uncommitted changes in src/" if dirty else "")
    print(f"### {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · {state} "
          f"(binary sha256 {binary}…)")
    print()
    settings = " ".join(f"{name}={os.environ[name]}" for name in
                        ("BENCH_WS_SOCKETS", "BENCH_WS_SUBSCRIPTIONS", "BENCH_WS_USERS")
                        if os.environ.get(name))
    print(f"Command: `{settings + ' ' if settings else ''}bench/ws-memory`. Machine: {machine()}.")
    print()
    print("| sockets | subscriptions each | RSS before | RSS after | delta | per socket | "
          "VmHWM | open time |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    by = {}
    for r in rows:
        delta = r["after_kib"] - r["before_kib"]
        by[(r["sockets"], r["subscriptions"])] = delta
        print(f"| {r['sockets']} | {r['subscriptions']} | {r['before_kib'] / 1024:.1f} MiB | "
              f"{r['after_kib'] / 1024:.1f} MiB | {delta / 1024:+.1f} MiB | "
              f"{delta / r['sockets']:.1f} KiB | {r['peak_kib'] / 1024:.1f} MiB | "
              f"{r['open_ms'] / 1000:.1f} s |")
    print()
    for n in SOCKETS:
        if (n, 1) in by and (n, 4) in by:
            per_sub = (by[(n, 4)] - by[(n, 1)]) / (3 * n)
            print(f"- {n} sockets: one more subscription costs {per_sub:.1f} KiB "
                  f"((4 subscriptions - 1) / 3 / sockets)")
        if (n, 0) in by and (n, 1) in by:
            print(f"- {n} sockets: a socket with no subscription {by[(n, 0)] / n:.1f} KiB, "
                  f"with one {by[(n, 1)] / n:.1f} KiB")


if __name__ == "__main__":
    main()
