"""Staleness of the graph cache: how long after a commit made by another client (not the
gateway) every page shows it, while the gateway is under load.

For each backend: a fresh database seeded with `community-gateway seed`, one gateway with the
cache on (the default), wrk driving R1 (a popular user's page) at BENCH_STALE_LOAD_CONC
connections for the whole run. Then, CHANGES times: a client of the database itself (psycopg,
PyMySQL or Python's sqlite3, never the gateway) commits a connection between the target T and
a user U (two directed rows, newest first) or deletes it again, and the script polls
`GET /api/v2/user/T/connections/?limit=1` until the page shows the change. The staleness of a
change is the time from just before the commit was sent to the first answer that shows it
(so it includes the commit itself). Prints p50 / p90 / p99 / max per backend, and the load's
throughput while it ran.

Run by bench/staleness (which installs the drivers); settings are environment variables:
BENCH_STALE_BACKENDS (postgres,mysql,sqlite), BENCH_STALE_CHANGES (1000), BENCH_STALE_USERS
(20000), BENCH_STALE_LOAD_CONC (16), BENCH_PG_URL, BENCH_MYSQL_URL, BENCH_BIN.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SECRET = "staleness-secret-0123456789abcdef"


def env(name, default):
    value = os.environ.get(name, "").strip()
    return value or default


BACKENDS = [b for b in env("BENCH_STALE_BACKENDS", "postgres,mysql,sqlite").split(",") if b]
CHANGES = int(env("BENCH_STALE_CHANGES", "1000"))
USERS = int(env("BENCH_STALE_USERS", "20000"))
LOAD_CONC = int(env("BENCH_STALE_LOAD_CONC", "16"))
PG_URL = env("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
MYSQL_URL = env("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306").rstrip("/")
BIN = env("BENCH_BIN", str(REPO / "target" / "release" / "community-gateway"))
TIMEOUT = 5.0  # a change not shown within this is a failure, not a data point


def log(msg):
    print(f"[staleness] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Database:
    """A fresh database on one backend, and a client connection of its own."""

    def __init__(self, kind, tmp):
        self.kind = kind
        self.name = f"cg_stale_{int(time.time())}_{os.getpid()}"
        if kind == "postgres":
            import psycopg

            self.admin = psycopg.connect(PG_URL + "/postgres", autocommit=True)
            self.admin.execute(f"CREATE DATABASE {self.name}")
            self.url = f"{PG_URL}/{self.name}"
        elif kind == "mysql":
            import pymysql

            self.admin = self._mysql(None)
            with self.admin.cursor() as c:
                c.execute(f"CREATE DATABASE {self.name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            self.url = f"{MYSQL_URL}/{self.name}"
        else:
            self.path = Path(tmp) / "stale.db"
            self.url = f"sqlite://{self.path}?mode=rwc"

    def _mysql(self, db):
        import pymysql

        u = urllib.parse.urlsplit(MYSQL_URL)
        return pymysql.connect(host=u.hostname, port=u.port or 3306, user=u.username or "root",
                               password=u.password or "", database=db, autocommit=True)

    def client(self):
        if self.kind == "postgres":
            import psycopg

            return psycopg.connect(self.url, autocommit=True)
        if self.kind == "mysql":
            return self._mysql(self.name)
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn

    def drop(self):
        if self.kind == "postgres":
            self.admin.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        elif self.kind == "mysql":
            with self.admin.cursor() as c:
                c.execute(f"DROP DATABASE IF EXISTS {self.name}")


def execute(conn, kind, sql):
    if kind == "mysql":
        with conn.cursor() as c:
            c.execute(sql)
            return c.fetchall()
    cur = conn.execute(sql)
    try:
        return cur.fetchall()
    except Exception:
        return []


def get(conn, path, token):
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError(f"GET {path}: {r.status} {body[:200]!r}")
    return json.loads(body)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run_backend(kind, tmp):
    db = Database(kind, tmp)
    server = load = None
    try:
        environ = dict(os.environ, DATABASE_URL=db.url, JWT_SECRET=SECRET, RUST_LOG="warn")
        log(f"{kind}: seeding {USERS} users")
        subprocess.run([BIN, "seed", "--users", str(USERS), "--avg-degree", "40", "--seed", "3"],
                       env=environ, check=True, stdout=subprocess.DEVNULL)
        client = db.client()
        # T: the user with the most connections; U: users not connected to T.
        t = execute(client, kind, "SELECT user_id FROM connections GROUP BY user_id "
                                  "ORDER BY COUNT(*) DESC, user_id LIMIT 1")[0][0]
        others = [r[0] for r in execute(client, kind, f"SELECT id FROM users WHERE id <> {t} AND id NOT IN "
                                                       f"(SELECT friend_id FROM connections WHERE user_id = {t}) "
                                                       f"ORDER BY id LIMIT {CHANGES}")]
        token = subprocess.run([BIN, "token", "--user", str(t)], env=environ, check=True,
                               capture_output=True, text=True).stdout.strip().split()[-1]
        port = free_port()
        server = subprocess.Popen([BIN, "serve", "--no-demo"], env=dict(environ, BIND=f"127.0.0.1:{port}"),
                                  stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / f"{kind}-server.log", "wb"))
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"{kind}: the server did not start")
                time.sleep(0.2)
        page = f"/api/v2/user/{t}/connections/"
        load_out = Path(tmp) / f"{kind}-wrk.txt"
        duration = max(30, CHANGES // 10)
        load = subprocess.Popen(["wrk", "-t1", f"-c{LOAD_CONC}", f"-d{duration * 4}s", "--latency",
                                 "-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:{port}{page}"],
                                stdout=open(load_out, "w"), stderr=subprocess.STDOUT)
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        get(probe, page, token)
        time.sleep(2)  # the load is running; the cache is warm
        lags, started = [], time.monotonic()
        for i in range(CHANGES):
            u = others[i // 2 % len(others)]
            adding = i % 2 == 0
            now_us = int(time.time() * 1e6) + 10_000_000  # newest of all: first on the page
            if adding:
                sql = (f"INSERT INTO connections (user_id, friend_id, connected_at_us) VALUES "
                       f"({t}, {u}, {now_us}), ({u}, {t}, {now_us})")
            else:
                sql = f"DELETE FROM connections WHERE (user_id = {t} AND friend_id = {u}) OR (user_id = {u} AND friend_id = {t})"
            sent = time.monotonic()
            execute(client, kind, sql)
            while True:
                body = get(probe, page + "?limit=1", token)
                first = body["results"][0]["id"] if body["results"] else None
                if (first == u) == adding:
                    lags.append(time.monotonic() - sent)
                    break
                if time.monotonic() - sent > TIMEOUT:
                    raise RuntimeError(f"{kind}: change {i} not shown within {TIMEOUT} s")
        elapsed = time.monotonic() - started
        load.send_signal(signal.SIGINT)
        load.wait(timeout=30)
        wrk = load_out.read_text()
        rps = next((l.split()[1] for l in wrk.splitlines() if l.startswith("Requests/sec")), "?")
        errors = "Non-2xx" in wrk or "Socket errors" in wrk
        ms = [x * 1000 for x in lags]
        return {"backend": kind, "changes": len(lags), "p50": percentile(ms, 50), "p90": percentile(ms, 90),
                "p99": percentile(ms, 99), "max": max(ms), "load_rps": rps, "load_errors": errors,
                "seconds": round(elapsed, 1)}
    finally:
        for p in (load, server):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
        db.drop()


def main():
    if not Path(BIN).exists():
        subprocess.run(["cargo", "build", "--release", "-q"], cwd=REPO, check=True)
    tmp = tempfile.mkdtemp(prefix="staleness-")
    rows = []
    try:
        for kind in BACKENDS:
            rows.append(run_backend(kind, tmp))
            r = rows[-1]
            log(f"{kind}: p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, max {r['max']:.1f} ms "
                f"over {r['changes']} changes; load {r['load_rps']} req/s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"| backend | changes | p50 ms | p90 ms | p99 ms | max ms | R1 load (c={LOAD_CONC}) req/s |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        err = " (errors!)" if r["load_errors"] else ""
        print(f"| {r['backend']} | {r['changes']} | {r['p50']:.1f} | {r['p90']:.1f} | {r['p99']:.1f} | "
              f"{r['max']:.1f} | {r['load_rps']}{err} |")


if __name__ == "__main__":
    main()
