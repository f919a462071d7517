"""Live events (issue 13): how long a `connectionEvents` subscriber waits for the event of an
action, while the server is under read load.

For each backend: a fresh database seeded with `community-gateway seed`, one release server,
`wrk -c16` loading a popular user's connections page for the whole run, and
`bench/lib/events-client.mjs` (Node, graphql-ws): a subscriber S and an actor A in one process
(one clock). A alternates `request` and `cancel_request` towards S through REST, ROUNDS times
each (2 x ROUNDS events, one action at a time), after a few unmeasured warm-up rounds. Per
event: send -> event (just before A's HTTP request is written to the event's arrival at S: an
upper bound of commit -> client, the commit happening inside the request) and answer -> event
(from the HTTP answer's arrival; negative when the event arrives first).

Run by bench/events; the database helpers are those of bench/lib/staleness.py. Settings
(environment): BENCH_EVENTS_BACKENDS (postgres), BENCH_EVENTS_ROUNDS (1000),
BENCH_EVENTS_USERS (20000), BENCH_EVENTS_LOAD_CONC (16), BENCH_PG_URL, BENCH_MYSQL_URL,
BENCH_BIN, BENCH_EVENTS_MODULES (a package.json next to a node_modules with graphql-ws and ws).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from staleness import Database, env, execute, free_port, percentile  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SECRET = "events-secret-0123456789abcdef"


BACKENDS = [b for b in env("BENCH_EVENTS_BACKENDS", "postgres").split(",") if b]
ROUNDS = int(env("BENCH_EVENTS_ROUNDS", "1000"))
USERS = int(env("BENCH_EVENTS_USERS", "20000"))
LOAD_CONC = int(env("BENCH_EVENTS_LOAD_CONC", "16"))
BIN = env("BENCH_BIN", str(REPO / "target" / "release" / "community-gateway"))
CLIENT = Path(__file__).resolve().parent / "events-client.mjs"


def log(msg):
    print(f"[events] {msg}", file=sys.stderr, flush=True)


def wait_for_port(port, server, what):
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"{what}: the server did not start")
            time.sleep(0.2)


def pick_pair(db, kind, t):
    """S and A: two users other than T, neither soft-deleted, with nothing between them."""
    client = db.client()
    free = "FALSE" if kind == "postgres" else "0"
    users = [r[0] for r in execute(client, kind, f"SELECT id FROM users WHERE id <> {t} AND deleted = {free} "
                                                 f"ORDER BY id LIMIT 200")]
    s = users[0]
    linked = {r[0] for r in execute(client, kind, f"SELECT friend_id FROM connections WHERE user_id = {s}")}
    linked |= {r[0] for r in execute(client, kind, f"SELECT to_user_id FROM connection_requests WHERE from_user_id = {s}")}
    linked |= {r[0] for r in execute(client, kind, f"SELECT from_user_id FROM connection_requests WHERE to_user_id = {s}")}
    a = next(u for u in users[1:] if u not in linked)
    return s, a


def stats(values):
    return {"p50": percentile(values, 50), "p90": percentile(values, 90),
            "p99": percentile(values, 99), "max": max(values), "min": min(values)}


def run_backend(kind, tmp):
    db = Database(kind, tmp)
    server = load = None
    try:
        environ = dict(os.environ, DATABASE_URL=db.url, JWT_SECRET=SECRET, RUST_LOG="warn")
        log(f"{kind}: seeding {USERS} users")
        subprocess.run([BIN, "seed", "--users", str(USERS), "--avg-degree", "40", "--seed", "3"],
                       env=environ, check=True, stdout=subprocess.DEVNULL)
        client = db.client()
        t = execute(client, kind, "SELECT user_id FROM connections GROUP BY user_id "
                                  "ORDER BY COUNT(*) DESC, user_id LIMIT 1")[0][0]
        s, a = pick_pair(db, kind, t)

        def token(user):
            return subprocess.run([BIN, "token", "--user", str(user), "--ttl", "2h"], env=environ, check=True,
                                  capture_output=True, text=True).stdout.strip().split()[-1]

        port = free_port()
        server = subprocess.Popen([BIN, "serve", "--no-demo"], env=dict(environ, BIND=f"127.0.0.1:{port}"),
                                  stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / f"{kind}-server.log", "wb"),
                                  start_new_session=True)
        wait_for_port(port, server, kind)
        page = f"/api/v2/user/{t}/connections/"
        load_out = Path(tmp) / f"{kind}-wrk.txt"
        load = subprocess.Popen(["wrk", "-t1", f"-c{LOAD_CONC}", f"-d{max(120, ROUNDS // 5)}s", "--latency",
                                 "-H", f"Authorization: Bearer {token(t)}", f"http://127.0.0.1:{port}{page}"],
                                stdout=open(load_out, "w"), stderr=subprocess.STDOUT, start_new_session=True)
        time.sleep(2)  # the load is running; the page cache is warm
        log(f"{kind}: T={t}, subscriber S={s}, actor A={a}; {ROUNDS} rounds of request + cancel_request")
        cenv = dict(os.environ, EVENTS_BASE=f"http://127.0.0.1:{port}", EVENTS_TARGET=str(s), EVENTS_ACTOR=str(a),
                    EVENTS_TARGET_TOKEN=token(s), EVENTS_ACTOR_TOKEN=token(a), EVENTS_ROUNDS=str(ROUNDS))
        if os.environ.get("BENCH_EVENTS_MODULES"):
            cenv["EVENTS_MODULES"] = os.environ["BENCH_EVENTS_MODULES"]
        load_before = os.getloadavg()[0]
        out = subprocess.run(["node", str(CLIENT)], env=cenv, check=True, capture_output=True, text=True,
                             timeout=max(600, ROUNDS))
        result = json.loads(out.stdout)
        load_after = os.getloadavg()[0]
        still_loading = load.poll() is None
        load.send_signal(signal.SIGINT)
        load.wait(timeout=30)
        wrk = load_out.read_text()
        rps = next((l.split()[1] for l in wrk.splitlines() if l.startswith("Requests/sec")), "?")
        errors = "Non-2xx" in wrk or "Socket errors" in wrk
        rows = result["rows"]
        return {"backend": kind, "events": len(rows), "seconds": round(result["seconds"], 1),
                "send": stats([r["send"] for r in rows]), "answer": stats([r["answer"] for r in rows]),
                "http": stats([r["http"] for r in rows]),
                "event_first": sum(1 for r in rows if r["answer"] < 0),
                "load_rps": rps, "load_errors": errors, "load_whole_run": still_loading,
                "loadavg": (load_before, load_after)}
    finally:
        for p in (load, server):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
        db.drop()


NAMES = {"postgres": "PostgreSQL", "mysql": "MariaDB", "sqlite": "SQLite"}


def main():
    tmp = tempfile.mkdtemp(prefix="events-")
    rows = []
    try:
        for kind in BACKENDS:
            r = run_backend(kind, tmp)
            rows.append(r)
            log(f"{kind}: send->event p50 {r['send']['p50']:.1f} ms, p99 {r['send']['p99']:.1f} ms, "
                f"max {r['send']['max']:.1f} ms over {r['events']} events; load {r['load_rps']} req/s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"| backend | events | measured from | p50 ms | p90 ms | p99 ms | max ms | "
          f"load (wrk -c{LOAD_CONC}) req/s |")
    print("|---|--:|---|--:|--:|--:|--:|--:|")
    for r in rows:
        err = " (errors!)" if r["load_errors"] else ""
        err += "" if r["load_whole_run"] else " (ended early)"
        name = NAMES.get(r["backend"], r["backend"])
        for label, key in (("request sent", "send"), ("answer received", "answer"),
                           ("(HTTP answer time)", "http")):
            s = r[key]
            first = f"| {name} | {r['events']} " if key == "send" else "| | "
            load = f"{r['load_rps']}{err}" if key == "send" else ""
            print(f"{first}| {label} | {s['p50']:.1f} | {s['p90']:.1f} | {s['p99']:.1f} | {s['max']:.1f} | {load} |")
        print(f"| | | event before answer | {r['event_first']} of {r['events']} | | | "
              f"min {r['answer']['min']:.1f} | |")
        print(f"| | | {r['seconds']} s; load average (1 min) {r['loadavg'][0]:.1f} → {r['loadavg'][1]:.1f} "
              f"| | | | | |")


if __name__ == "__main__":
    main()
