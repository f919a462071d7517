"""Connection lifecycle throughput on PostgreSQL (issue 13): request/accept pairs per second.

For a fresh database seeded with `community-gateway seed`, disjoint pairs (A, B) of users with
nothing between them; A requests B (`POST /api/v2/user/B/connection/request/`), then B accepts
A (`POST /api/v2/user/A/connection/accept/`), each call with its own user's JWT. Every pair is
used once. Measured, in one run:

1. the statements of one request and one accept: the server's statement trace
   (`RUST_LOG=community_gateway::sql=trace`) and what PostgreSQL itself logged for the bench
   database (`log_statement = all`, set on that database only, while the trace runs);
2. SQL statements per action from `/metrics` (`sql_statements_total`) around N sequential
   requests, then N sequential accepts, on one connection;
3. pairs/s and per-call p50/p99 with wrk (`lib/lifecycle.lua`, one connection per wrk thread)
   at each concurrency;
4. the SQL floor with pgbench (`-M prepared`, same database, triggers in place, the server
   stopped): the gateway's statements verbatim, and a minimal pair of transactions.

Run by bench/lifecycle; settings are environment variables (bench/README.md).
"""

import base64
import datetime
import hashlib
import hmac
import http.client as httpclient
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_argv, sys.argv = sys.argv, sys.argv[:1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the serving benchmark's helpers: processes, server, database, pgbench)
from bench import (CHILDREN, CLEANUPS, CpuSampler, Postgres, Server, check, cleanup, first_line,  # noqa: E402
                   free_port, loadavg, log, percentile, proc_status, run_pgbench, scrape_metrics,
                   spawn, sql_lines, stop)

sys.argv = _argv

REPO = bench.REPO
LIB = bench.LIB
SECTION = "## Connection lifecycle throughput (issue 13)"
NCPU = os.cpu_count() or 1


def env(name, default):
    value = os.environ.get(name, "").strip()
    return value or default


CFG = {
    "users": int(env("BENCH_LC_USERS", "20000")),
    "avg_degree": int(env("BENCH_LC_AVG_DEGREE", "20")),
    "seed": int(env("BENCH_LC_SEED", "1")),
    "concurrency": [int(c) for c in env("BENCH_LC_CONCURRENCY", "1,8,32").split(",")],
    "duration": int(env("BENCH_LC_DURATION", "10")),
    "warmup": int(env("BENCH_LC_WARMUP", "3")),
    "rounds": int(env("BENCH_LC_ROUNDS", "2")),
    "count_pairs": int(env("BENCH_LC_COUNT_PAIRS", "200")),
    "budget": int(env("BENCH_LC_PAIRS_PER_RUN", "30000")),
    "bin": env("BENCH_BIN", str(REPO / "target" / "release" / "community-gateway")),
    "keep": env("BENCH_KEEP", "0") not in ("0", ""),
    "results": env("BENCH_RESULTS", str(REPO / "bench" / "RESULTS.md")),
    "pg_log": env("BENCH_PG_LOG", "/var/log/postgresql/postgresql-15-main.log"),
    "waits": env("BENCH_LC_WAITS", "0") not in ("0", ""),
    # "off": the bench database commits without waiting for the WAL flush (ALTER DATABASE ...
    # SET synchronous_commit = off; that database only), to see the CPU cost apart from fsync.
    "sync_commit": env("BENCH_LC_SYNC_COMMIT", "on"),
    # The other backends, gateway figures only (pgbench is PostgreSQL's; no floor there), one
    # round at each concurrency, after PostgreSQL's rounds. `none`: PostgreSQL only.
    "others": [b for b in env("BENCH_LC_BACKENDS", "mysql,sqlite").split(",") if b and b != "none"],
    "mysql_url": env("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306").rstrip("/"),
    # Where the processes run during PostgreSQL's rounds (`Placement`): `shared`, every process
    # on every core; `split`, PostgreSQL on the first core and everything else (the server, wrk,
    # pgbench, this script) on the others. Each round runs every placement given, in turn.
    "placements": [p for p in env("BENCH_LC_PLACEMENTS", "shared,split").split(",") if p],
    # A virtual machine's neighbours can take its vCPUs mid-run (steal, in /proc/stat): a round
    # and concurrency whose gateway or floor run lost more than this (% of one core) is run
    # again, at most BENCH_LC_STEAL_RETRIES more times, then kept and marked.
    "max_steal": float(env("BENCH_LC_MAX_STEAL", "10")),
    "steal_retries": int(env("BENCH_LC_STEAL_RETRIES", "2")),
}
SECRET = bench.JWT_SECRET


# ---------------------------------------------------------------------------------------------
# Tokens: the claims `community-gateway token --user N` issues (src/auth.rs), HS256, minted here
# because a process per user would take minutes for 20k users. The first one is checked against
# the binary's own token (same claims, same header), and every call's answer is checked anyway.


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(user, now, ttl=6 * 3600):
    header = b64(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    claims = {"token_type": "access", "exp": now + ttl, "iat": now, "jti": os.urandom(16).hex(), "user_id": user}
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(SECRET.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(sig)}"


def jwt_claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# ---------------------------------------------------------------------------------------------
# Pairs


class Pairs:
    """Pairs (L[k], R[(k + r) mod m]) for rounds r = 0, 1, ...: the users of one round are
    disjoint, no pair comes twice, and pairs the seed already linked (a connection or a request,
    either way) are skipped. Handed out in order: pairs in flight at the same time are a few
    dozen consecutive ones, so they share no user."""

    def __init__(self, users, linked, seed):
        users = list(users)
        random.Random(seed).shuffle(users)
        self.m = len(users) // 2
        self.left, self.right = users[: self.m], users[self.m: 2 * self.m]
        self.linked = linked
        self.round, self.k = 0, 0
        self.handed = 0

    def take(self, count):
        out = []
        while len(out) < count:
            if self.round >= self.m:
                raise RuntimeError("out of pairs")
            a, b = self.left[self.k], self.right[(self.k + self.round) % self.m]
            self.k += 1
            if self.k == self.m:
                self.k, self.round = 0, self.round + 1
            if (min(a, b), max(a, b)) not in self.linked:
                out.append((a, b))
        self.handed += len(out)
        return out


# ---------------------------------------------------------------------------------------------
# Calls


class Client:
    """One keep-alive HTTP connection to the server."""

    def __init__(self, port):
        self.conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path, token):
        self.conn.request("POST", path, body=b"", headers={"Authorization": f"Bearer {token}"})
        r = self.conn.getresponse()
        return r.status, r.read()


EXPECT = {
    "request": b'{"connection_status":"sent_connection_request"}',
    "accept": b'{"connection_status":"connected"}',
}


def call(client, kind, a, b, tokens):
    if kind == "request":
        status, body = client.post(f"/api/v2/user/{b}/connection/request/", tokens[a])
    else:
        status, body = client.post(f"/api/v2/user/{a}/connection/accept/", tokens[b])
    if status != 200 or body != EXPECT[kind]:
        raise RuntimeError(f"{kind} {a}->{b}: {status} {body[:300]!r}")


def statements_metric(port):
    """`sql_statements_total`, every sender together."""
    by_source = statements_by_source(port)
    if not by_source:
        raise RuntimeError("/metrics has no sql_statements_total")
    return sum(by_source.values())


def statements_by_source(port):
    """`sql_statements_total` by its `source` label (api, feed, replicas)."""
    status, body = bench.http(port, "GET", "/metrics", timeout=10)
    out = {}
    if status == 200:
        for m in re.finditer(r'^(?:gateway_)?sql_statements_total\{source="(\w+)"\}\s+(\S+)$',
                             body.decode(errors="replace"), re.M):
            out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(2))
    return out


def pg_log_size():
    try:
        return os.path.getsize(CFG["pg_log"])
    except OSError:
        return None


def pg_log_statements(offset, dbname):
    """Statements PostgreSQL logged for `dbname` since `offset` (log_statement = all):
    (pid, text) each."""
    if offset is None:
        return []
    with open(CFG["pg_log"], "rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    out = []
    pat = re.compile(r"\[(\d+)\] \S*@" + re.escape(dbname) + r" LOG:  (?:statement|execute [^:]*): (.*)")
    for line in text.splitlines():
        m = pat.search(line)
        if m:
            out.append((int(m.group(1)), m.group(2)))
    return out


def trace(binary, db, workdir, pairs, tokens):
    """The statements of one request and one accept, from the server's trace and from
    PostgreSQL's log of the bench database; three pairs, the third one kept."""
    pg_logging = pg_log_size() is not None and os.access(CFG["pg_log"], os.R_OK)
    if pg_logging:
        db.sql_admin(f'ALTER DATABASE "{db.dbname}" SET log_statement = \'all\'')
    server = Server(binary, db, workdir / "server-trace.log", "warn,community_gateway::sql=trace")
    client = Client(server.port)
    out = {}
    try:
        for a, b in pairs:
            for kind in ("request", "accept"):
                offset, pg_offset = server.log_size(), pg_log_size() if pg_logging else None
                call(client, kind, a, b, tokens)
                time.sleep(0.5)  # the feed's reads after the commit, then the log flushes
                out[kind] = {"server": sql_lines(server.log_since(offset)),
                             "postgres": pg_log_statements(pg_offset, db.dbname) if pg_logging else None}
    finally:
        server.stop()
        if pg_logging:
            db.sql_admin(f'ALTER DATABASE "{db.dbname}" RESET log_statement')
    with open(workdir / "statements.txt", "w") as f:
        for kind, v in out.items():
            f.write(f"# {kind}: server trace ({len(v['server'])})\n" + "".join(s + "\n" for s in v["server"]))
            if v["postgres"] is not None:
                f.write(f"# {kind}: PostgreSQL log ({len(v['postgres'])})\n"
                        + "".join(f"[{pid}] {s}\n" for pid, s in v["postgres"]))
    return out


def wait_serving(server, timeout=30.0):
    """Waits until the graph cache serves (`gateway_cache_serving` 1: its feed follower is
    listening and polled within its lease); before that every read goes to SQL."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if scrape_metrics(server.port).get("gateway_cache_serving", 1) >= 1:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the graph cache did not start serving within {timeout:.0f} s")


def count_statements(server, pairs, tokens):
    """sql_statements_total per action: N requests one after the other on one connection, then
    the N accepts; the counter is read around each batch (and while idle, to see drift)."""
    client = Client(server.port)
    wait_serving(server)
    time.sleep(1.0)
    s0 = statements_metric(server.port)
    time.sleep(2.0)
    idle = statements_metric(server.port) - s0
    per = {}
    for kind in ("request", "accept"):
        before = statements_metric(server.port)
        t0 = time.monotonic()
        for a, b in pairs:
            call(client, kind, a, b, tokens)
        elapsed = time.monotonic() - t0
        time.sleep(0.5)
        per[kind] = {"statements": (statements_metric(server.port) - before) / len(pairs),
                     "ms_per_call": elapsed / len(pairs) * 1000}
    return {"idle_2s": idle, **per, "n": len(pairs)}


# ---------------------------------------------------------------------------------------------
# Load


class WaitSampler:
    """BENCH_LC_WAITS=1 (a diagnostic; it costs CPU): what the bench database's active backends
    wait for, sampled every 0.25 s from pg_stat_activity during a run."""

    def __init__(self, db):
        import threading

        self.db, self.counts, self.samples = db, {}, 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.on = CFG["waits"] and db is not None
        if self.on:
            self.thread.start()

    def _loop(self):
        sql = ("SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), count(*) FROM pg_stat_activity "
               f"WHERE datname = '{self.db.dbname}' AND state = 'active' AND pid <> pg_backend_pid() "
               "AND backend_type = 'client backend' GROUP BY 1")
        while not self.stop_event.wait(0.25):
            try:
                rows = self.db.query(sql)
            except Exception:
                continue
            self.samples += 1
            for event, n in rows:
                self.counts[event] = self.counts.get(event, 0) + int(n)

    def finish(self):
        if not self.on:
            return None
        self.stop_event.set()
        self.thread.join()
        return {k: round(v / max(1, self.samples), 2) for k, v in sorted(self.counts.items(), key=lambda kv: -kv[1])}


def run_wrk(server, db, pairs, tokens, conns, duration, workdir, tag):
    pf = workdir / f"pairs_{tag}.tsv"
    files = [open(f"{pf}.{t}", "w") for t in range(1, conns + 1)]
    for i, (a, b) in enumerate(pairs):
        files[i % conns].write(f"{a}\t{b}\t{tokens[a]}\t{tokens[b]}\n")
    for f in files:
        f.close()
    out_file = workdir / f"wrk_{tag}.json"
    environ = dict(os.environ, BENCH_PAIRS=str(pf), BENCH_WRK_OUT=str(out_file))
    cmd = ["wrk", "-t", str(conns), "-c", str(conns), "-d", f"{duration}s", "--timeout", "10s",
           "-s", str(LIB / "lifecycle.lua"), f"http://127.0.0.1:{server.port}"]
    by_source = statements_by_source(server.port)
    proc = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ)
    sampler = CpuSampler(server.pid, db.dbname, proc.pid)
    waits = WaitSampler(db if isinstance(db, Postgres) else None)
    la = loadavg()
    try:
        out, err = proc.communicate(timeout=duration + 120)
    except subprocess.TimeoutExpired:
        stop(proc, grace=2)
        raise RuntimeError("wrk did not finish in time")
    CHILDREN.remove(proc)
    cpu = sampler.finish()
    waits = waits.finish()
    (workdir / f"wrk_{tag}.out").write_text(out + "\n" + err)
    if proc.returncode != 0 or not out_file.exists():
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{out[-2000:]}\n{err[-2000:]}")
    if not server.alive():
        raise RuntimeError(f"the server died during {tag}; see {server.logfile}")
    time.sleep(1.0)
    by_source = {k: v - by_source.get(k, 0.0) for k, v in statements_by_source(server.port).items()}
    r = json.loads(out_file.read_text())
    for t in range(1, conns + 1):
        Path(f"{pf}.{t}").unlink()
    secs = r["duration_us"] / 1e6
    lr, la_ = sorted(r["lat_request_us"]), sorted(r["lat_accept_us"])
    sockets = r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
    return {
        "conns": conns, "pairs_s": r["accepts_ok"] / secs, "calls_s": r["calls"] / secs,
        "requests_ok": r["requests_ok"], "accepts_ok": r["accepts_ok"], "bad": r["bad"],
        "bad_bodies": r["bad_bodies"], "socket_errors": sockets, "exhausted": r["exhausted_threads"],
        "req_p50": percentile(lr, 50) / 1000, "req_p99": percentile(lr, 99) / 1000,
        "acc_p50": percentile(la_, 50) / 1000, "acc_p99": percentile(la_, 99) / 1000,
        "sql_per_call": sum(by_source.values()) / max(1, r["requests_ok"] + r["accepts_ok"]),
        "sql_per_call_by_source": {k: round(v / max(1, r["requests_ok"] + r["accepts_ok"]), 2)
                                   for k, v in by_source.items() if v},
        "cpu": cpu, "load": la, "waits": waits,
    }


# ---------------------------------------------------------------------------------------------
# The SQL floor (pgbench)


PAIR_PICK = ("SELECT a, b, LEAST(a, b) AS lo, GREATEST(a, b) AS hi FROM lc_pairs "
             "WHERE k = (SELECT nextval('lc_pair_seq')) \\gset\n")


def floor_scripts(workdir, now_us):
    """Two pgbench scripts, one transaction of pgbench = one pair (request, then accept).

    `same`: the statements src/store/lifecycle.rs and src/store/events.rs run on PostgreSQL, in
    their order, with their text (columns as sea-orm lists them), on a connection whose default
    is READ COMMITTED (as the server's pool): both users locked in one statement that also
    defers the change feed's NOTIFY, the pair read, the request inserted (its id from the
    column's sequence), the event and its change row in one statement; then the accept. (The
    lock statement reads whether the target is soft-deleted, and the pair read is one
    statement for the connection and the requests.) The
    server's notifier sends one NOTIFY after the commits on its own connection; the floor sends
    none (it is the writer's share). `minimal`: what the two actions need at least: both users
    locked in one statement, the request inserted with an id from a sequence; then both locked
    again, the request deleted, both connection rows inserted; no event, and the change feed's
    NOTIFY in each commit (the trigger as any other writer meets it)."""
    lock = ("SELECT \"users\".\"id\", \"users\".\"deleted\", set_config('community_gateway.notify', 'deferred', true) "
            "FROM \"users\" WHERE \"users\".\"id\" IN (:lo, :hi) ORDER BY \"users\".\"id\" ASC FOR UPDATE;\n")
    read = (
        "SELECT c.connected_at_us, r.from_user_id, r.to_user_id, r.created_at_us, r.id, "
        "r.rejected_at_us, r.viewed_at_us FROM (SELECT 1 AS one) AS pair "
        "LEFT JOIN connections c ON c.user_id = :{v} AND c.friend_id = :{t} "
        "LEFT JOIN connection_requests r ON (r.from_user_id = :{v} AND r.to_user_id = :{t}) "
        "OR (r.from_user_id = :{t} AND r.to_user_id = :{v});\n")

    def event(kind, actor, target, status, request):
        return ("WITH e AS (INSERT INTO \"connection_events\" (\"kind\", \"actor_id\", \"target_id\", \"at_us\", "
                "\"target_status\", \"request_id\", \"request_from_id\", \"request_to_id\", \"request_created_us\", "
                "\"request_rejected_us\", \"request_viewed_us\") VALUES "
                f"({kind}, :{actor}, :{target}, {now_us}, {status}, {request}) RETURNING id, target_id) "
                "INSERT INTO graph_changes (kind, a, b) SELECT 8, id, target_id FROM e;\n")

    same = (
        PAIR_PICK + "BEGIN;\n" + lock + read.format(v="a", t="b")
        + "INSERT INTO \"connection_requests\" (\"from_user_id\", \"to_user_id\", \"created_at_us\", "
          f"\"rejected_at_us\", \"viewed_at_us\") VALUES (:a, :b, {now_us}, NULL, NULL) RETURNING "
          "\"from_user_id\", \"to_user_id\", \"created_at_us\", \"id\", \"rejected_at_us\", \"viewed_at_us\" \\gset r_\n"
        + event(1, "a", "b", 2, f":r_id, :a, :b, {now_us}, NULL, NULL")
        + "COMMIT;\n"
        + "BEGIN;\n" + lock + read.format(v="b", t="a")
        + "DELETE FROM \"connection_requests\" WHERE (\"connection_requests\".\"from_user_id\" = :b AND "
          "\"connection_requests\".\"to_user_id\" = :a) OR (\"connection_requests\".\"from_user_id\" = :a AND "
          "\"connection_requests\".\"to_user_id\" = :b);\n"
        + "INSERT INTO \"connections\" (\"user_id\", \"friend_id\", \"connected_at_us\") VALUES "
          f"(:b, :a, {now_us}), (:a, :b, {now_us});\n"
        + event(3, "b", "a", 1, "NULL, NULL, NULL, NULL, NULL, NULL")
        + "COMMIT;\n")
    lock2 = "SELECT id FROM users WHERE id IN (:lo, :hi) ORDER BY id FOR UPDATE;\n"
    minimal = (
        PAIR_PICK + "BEGIN;\n" + lock2
        + "INSERT INTO connection_requests (from_user_id, to_user_id, created_at_us, id) "
          f"VALUES (:a, :b, {now_us}, nextval('lc_request_id_seq'));\n"
        + "COMMIT;\n"
        + "BEGIN;\n" + lock2
        + "DELETE FROM connection_requests WHERE from_user_id = :a AND to_user_id = :b;\n"
        + "INSERT INTO connections (user_id, friend_id, connected_at_us) VALUES "
          f"(:b, :a, {now_us}), (:a, :b, {now_us});\n"
        + "COMMIT;\n")
    paths = {}
    for name, text in (("same", same), ("minimal", minimal)):
        paths[name] = workdir / f"floor_{name}.sql"
        paths[name].write_text(text)
    return paths


class MariaDb:
    """A fresh MariaDB/MySQL database for the gateway-only runs, read with the `mysql` client."""

    kind, label = "mysql", "MariaDB"

    def __init__(self):
        import urllib.parse

        self.name = f"cg_lifecycle_{time.strftime('%Y%m%d%H%M%S')}_{os.getpid()}"
        self.url = f"{CFG['mysql_url']}/{self.name}"
        u = urllib.parse.urlsplit(CFG["mysql_url"])
        self.client = ["mysql", "-h", u.hostname or "127.0.0.1", "-P", str(u.port or 3306),
                       "-u", u.username or "root"] + ([f"-p{u.password}"] if u.password else [])
        # No per-database processes to tell apart (one mariadbd for every database): its CPU
        # is in "other".
        self.dbname = None

    def create(self):
        check(self.client + ["-e", f"CREATE DATABASE {self.name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"])
        CLEANUPS.append(self.drop)

    def drop(self):
        check(self.client + ["-e", f"DROP DATABASE IF EXISTS {self.name}"])
        log(f"dropped database {self.name}")

    def query(self, sql):
        out = check(self.client + ["-N", "-B", self.name, "-e", sql], timeout=600)
        return [line.split("\t") for line in out.splitlines() if line]

    def version(self):
        return self.query("SELECT VERSION()")[0][0]


def other_backend(kind, binary, tmp):
    """The gateway alone on MariaDB or SQLite: the same community, pairs and calls as on
    PostgreSQL, one run per concurrency after a warm-up."""
    db = MariaDb() if kind == "mysql" else bench.Sqlite(tmp)
    db.create()
    environ = dict(os.environ, DATABASE_URL=db.url, JWT_SECRET=SECRET, RUST_LOG="warn")
    seed_args = ["--users", str(CFG["users"]), "--avg-degree", str(CFG["avg_degree"]), "--seed", str(CFG["seed"])]
    log(f"{kind}: seeding {db.url}")
    check([binary, "seed"] + seed_args, env=environ, timeout=1800, both=True)
    low, high = ("LEAST", "GREATEST") if kind == "mysql" else ("MIN", "MAX")
    users = [int(r[0]) for r in db.query("SELECT id FROM users WHERE NOT deleted ORDER BY id")]
    linked = {(int(a), int(b)) for a, b in db.query(
        "SELECT user_id, friend_id FROM connections WHERE user_id < friend_id "
        f"UNION SELECT {low}(from_user_id, to_user_id), {high}(from_user_id, to_user_id) FROM connection_requests")}
    pairs = Pairs(users, linked, CFG["seed"])
    tokens = {u: mint(u, int(time.time())) for u in users}
    version = db.version() if kind == "mysql" else "SQLite (bundled with the server)"
    runs = []
    for c in CFG["concurrency"]:
        server = Server(binary, db, tmp / f"server_{kind}_c{c}.log", "warn")
        wait_serving(server)
        budget = CFG["budget"]
        if CFG["warmup"] > 0:
            w = run_wrk(server, db, pairs.take(min(budget, 2000 * CFG["warmup"])), tokens, c, CFG["warmup"], tmp,
                        f"warmup_{kind}_c{c}")
            budget = min(budget, max(1000, int(3 * w["pairs_s"] * CFG["duration"])))
        r = run_wrk(server, db, pairs.take(budget), tokens, c, CFG["duration"], tmp, f"{kind}_c{c}")
        server.stop()
        if r["bad"] or r["socket_errors"] or r["exhausted"]:
            raise RuntimeError(f"{kind} c={c}: {r['bad']} bad answers, {r['socket_errors']} socket errors, "
                               f"{r['exhausted']} threads out of pairs: {r['bad_bodies']}")
        r.update(kind="other", backend=kind, version=version)
        runs.append(r)
        log(f"{kind} gateway c={c}: {r['pairs_s']:.0f} pairs/s, request p50/p99 {fmt_ms(r['req_p50'])}/"
            f"{fmt_ms(r['req_p99'])} ms, accept p50/p99 {fmt_ms(r['acc_p50'])}/{fmt_ms(r['acc_p99'])} ms, "
            f"CPU {r['cpu']}")
    return runs


class Placement:
    """Which cores the processes of a run may use (`BENCH_LC_PLACEMENTS`).

    `split` gives PostgreSQL a core of its own, as a database server has in production: its
    postmaster and every process it has forked are moved to core 0 (backends forked later
    inherit it), and this script, and so every process it starts (the server, wrk, pgbench),
    to the other cores. The gateway and its floor then meet the same database capacity, and
    neither client's CPU comes out of the database's share. `restore` gives every process
    all cores again (also at exit, should the run fail). Needs the right to set another
    user's processes' affinity (root), and PostgreSQL on this machine."""

    def __init__(self, db, name):
        self.db, self.name = db, name
        self.all = set(range(NCPU))
        self.postmaster = None
        if name not in ("shared", "split"):
            raise RuntimeError(f"BENCH_LC_PLACEMENTS: unknown placement {name!r} (shared, split)")
        if name == "split" and NCPU < 2:
            raise RuntimeError("BENCH_LC_PLACEMENTS=split needs 2 cores or more")

    def _postgres_pids(self):
        if self.postmaster is None:
            data = self.db.query("SHOW data_directory")[0][0]
            self.postmaster = int(Path(data, "postmaster.pid").read_text().split()[0])
        pids = [self.postmaster]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                if ppid == self.postmaster:
                    pids.append(int(entry.name))
        return pids

    def _set(self, pids, cpus):
        for pid in pids:
            try:
                os.sched_setaffinity(pid, cpus)
            except ProcessLookupError:
                pass  # a backend that ended meanwhile

    def apply(self):
        if self.name == "split":
            CLEANUPS.append(self.restore)
            self._set(self._postgres_pids(), {0})
            os.sched_setaffinity(0, self.all - {0})
            log(f"placement split: PostgreSQL (postmaster {self.postmaster}) on core 0, the rest on "
                f"{sorted(self.all - {0})}")

    def restore(self):
        if self.name == "split":
            self._set(self._postgres_pids(), self.all)
            os.sched_setaffinity(0, self.all)


def load_floor_pairs(db, workdir, pairs):
    pf = workdir / "floor_pairs.tsv"
    with open(pf, "w") as f:
        for k, (a, b) in enumerate(pairs, 1):
            f.write(f"{k}\t{a}\t{b}\n")
    check(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", db.url, "-c", "TRUNCATE lc_pairs",
           "-c", f"\\copy lc_pairs (k, a, b) FROM '{pf}'", "-c", "SELECT setval('lc_pair_seq', 1, false)",
           "-c", "ANALYZE lc_pairs"], timeout=300)
    pf.unlink()


def floor_check(db):
    """After a floor run: the pairs it took are connected, with no request left between them."""
    n = int(db.query("SELECT last_value FROM lc_pair_seq")[0][0])
    bad = db.query(
        "SELECT count(*) FROM lc_pairs p WHERE p.k < (SELECT last_value FROM lc_pair_seq) - 64 AND ("
        "NOT EXISTS (SELECT 1 FROM connections c WHERE c.user_id = p.a AND c.friend_id = p.b) OR "
        "EXISTS (SELECT 1 FROM connection_requests r WHERE (r.from_user_id, r.to_user_id) IN ((p.a, p.b), (p.b, p.a))))")
    return n, int(bad[0][0])


# ---------------------------------------------------------------------------------------------


def fmt_ms(v):
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def postgres_runs(binary, db, pairs, tokens, scripts, tmp, rnd, where, c):
    """One gateway run (a fresh server, warmed up) at concurrency c, then, with the server
    stopped (its feed follower would otherwise read every floor commit), the two floors on the
    same database: their results, and the server's peak RSS in MB."""
    tag = f"r{rnd}_{where}_c{c}"
    server = Server(str(binary), db, tmp / f"server_{tag}.log", "warn")
    wait_serving(server)
    # Pairs for a run: 3 × what the warm-up's rate would use (a small file keeps wrk's start
    # quick), at most BENCH_LC_PAIRS_PER_RUN.
    budget = CFG["budget"]
    if CFG["warmup"] > 0:
        w = run_wrk(server, db, pairs.take(min(budget, 2000 * CFG["warmup"])), tokens, c, CFG["warmup"], tmp,
                    f"warmup_{tag}")
        if w["bad"] or w["socket_errors"]:
            raise RuntimeError(f"warm-up: {w['bad']} bad answers, {w['socket_errors']} socket errors: {w['bad_bodies']}")
        budget = min(budget, max(1000, int(3 * w["pairs_s"] * CFG["duration"])))
    r = run_wrk(server, db, pairs.take(budget), tokens, c, CFG["duration"], tmp, tag)
    r.update(kind="gateway", round=rnd, placement=where)
    runs = [r]
    log(f"round {rnd} {where} gateway c={c}: {r['pairs_s']:.0f} pairs/s, request p50/p99 {fmt_ms(r['req_p50'])}/"
        f"{fmt_ms(r['req_p99'])} ms, accept p50/p99 {fmt_ms(r['acc_p50'])}/{fmt_ms(r['acc_p99'])} ms, "
        f"bad {r['bad']}, socket errors {r['socket_errors']}, CPU {r['cpu']}, "
        f"SQL per call by sender {r['sql_per_call_by_source']}"
        + (f", waits {r['waits']}" if r["waits"] else ""))
    if r["bad"] or r["socket_errors"] or r["exhausted"]:
        raise RuntimeError(f"c={c}: {r['bad']} bad answers, {r['socket_errors']} socket errors, "
                           f"{r['exhausted']} threads out of pairs: {r['bad_bodies']}")
    rss = (proc_status(server.pid, "VmHWM") or 0) / 1024
    server.stop()
    for name in ("same", "minimal"):
        load_floor_pairs(db, tmp, pairs.take(CFG["budget"]))
        waits = WaitSampler(db)
        r = run_pgbench(db, scripts[name], c, CFG["duration"], tmp, f"{name}_{tag}", None)
        r["waits"] = waits.finish()
        used, wrong = floor_check(db)
        if r["errors"] or wrong:
            raise RuntimeError(f"floor {name} c={c}: {r['errors']} failed transactions, {wrong} pairs not connected")
        if used >= CFG["budget"]:
            raise RuntimeError(f"floor {name} c={c}: out of pairs")
        r.update(kind=f"floor_{name}", conns=c, pairs_s=r["rps"], round=rnd, placement=where)
        runs.append(r)
        log(f"round {rnd} {where} floor {name} c={c}: {r['rps']:.0f} pairs/s, pair p50/p99 {fmt_ms(r['p50_ms'])}/"
            f"{fmt_ms(r['p99_ms'])} ms, CPU {r['cpu']}" + (f", waits {r['waits']}" if r["waits"] else ""))
    return runs, rss


def steady_runs(binary, db, pairs, tokens, scripts, tmp, rnd, where, c):
    """`postgres_runs`, run again while the hypervisor took more than `max_steal` % of a core
    from any of its three runs (their ratio would compare two different machines), at most
    `steal_retries` more times; the last one is kept, its runs marked `stolen`."""
    for attempt in range(CFG["steal_retries"] + 1):
        got, peak = postgres_runs(binary, db, pairs, tokens, scripts, tmp, rnd, where, c)
        worst = max(r["cpu"].get("steal", 0) for r in got)
        if worst <= CFG["max_steal"]:
            return got, peak
        last = attempt == CFG["steal_retries"]
        log(f"round {rnd} {where} c={c}: one run lost {worst} % of a core to steal; "
            + ("kept, marked" if last else "again"))
    for r in got:
        r["stolen"] = True
    return got, peak


def main():
    started = datetime.datetime.now(datetime.timezone.utc)
    tmp = Path(tempfile.mkdtemp(prefix="cg-lifecycle-"))
    CLEANUPS.append(lambda: None if CFG["keep"] else shutil.rmtree(tmp, ignore_errors=True))
    log(f"work directory {tmp}" + (" (kept: BENCH_KEEP=1)" if CFG["keep"] else ""))
    load_before = loadavg()
    binary = tmp / "community-gateway"
    shutil.copy2(CFG["bin"], binary)  # others may rebuild while the benchmark runs
    bin_sha = hashlib.sha256(binary.read_bytes()).hexdigest()[:12]
    commit = first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])

    db = Postgres(tmp)
    db.dbname = db.dbname.replace("cg_bench_", "cg_lifecycle_")
    db.url = f"{bench.CFG['pg_url']}/{db.dbname}"
    db.create()
    environ = dict(os.environ, DATABASE_URL=db.url, JWT_SECRET=SECRET, RUST_LOG="warn")
    seed_args = ["--users", str(CFG["users"]), "--avg-degree", str(CFG["avg_degree"]), "--seed", str(CFG["seed"])]
    log(f"seeding {db.dbname}: seed {' '.join(seed_args)}")
    t0 = time.monotonic()
    seed_out = check([str(binary), "seed"] + seed_args, env=environ, timeout=1800, both=True)
    seed_s = time.monotonic() - t0
    check(["psql", "-X", "-q", db.url, "-c", "VACUUM ANALYZE"], timeout=1800)
    if CFG["sync_commit"] != "on":
        db.sql_admin(f'ALTER DATABASE "{db.dbname}" SET synchronous_commit = {CFG["sync_commit"]}')
    users = [int(r[0]) for r in db.query("SELECT id FROM users WHERE NOT deleted ORDER BY id")]
    linked = set()
    for a, b in db.query("SELECT user_id, friend_id FROM connections WHERE user_id < friend_id "
                         "UNION SELECT LEAST(from_user_id, to_user_id), GREATEST(from_user_id, to_user_id) "
                         "FROM connection_requests"):
        linked.add((int(a), int(b)))
    counts = db.query("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM connections), "
                      "(SELECT count(*) FROM connection_requests), (SELECT count(*) FROM pg_trigger "
                      "WHERE NOT tgisinternal AND tgname LIKE 'graph_%')")[0]
    log(f"seeded in {seed_s:.1f} s: {counts[0]} users, {counts[1]} connection rows, {counts[2]} requests, "
        f"{counts[3]} change-feed triggers")
    pairs = Pairs(users, linked, CFG["seed"])
    now = int(time.time())
    tokens = {u: mint(u, now) for u in users}
    ref = check([str(binary), "token", "--user", str(users[0])], env=environ).strip().splitlines()[-1]
    if sorted(jwt_claims(ref)) != sorted(jwt_claims(tokens[users[0]])) or \
            ref.split(".")[0] != tokens[users[0]].split(".")[0]:
        raise RuntimeError(f"minted tokens differ from `community-gateway token`: {jwt_claims(ref)}")

    # 1. The statements of one request and one accept.
    log("tracing the statements of a request and an accept")
    traced = trace(str(binary), db, tmp, pairs.take(3), tokens)

    # 2. Statements per action, on the server as benchmarked (default settings: graph cache on).
    server = Server(str(binary), db, tmp / "server.log", "warn")
    log(f"server on port {server.port}; counting statements per action over "
        f"{CFG['count_pairs']} sequential pairs")
    counted = count_statements(server, pairs.take(CFG["count_pairs"]), tokens)
    log(f"statements per action (/metrics): request {counted['request']['statements']:.2f}, "
        f"accept {counted['accept']['statements']:.2f}; idle drift {counted['idle_2s']:.0f} in 2 s")
    server.stop()

    # 3 + 4. Per round and concurrency, back to back so that they see the same machine: the
    # gateway (a fresh server, warmed up), then, with the server stopped (its feed follower would
    # otherwise read every floor commit), the two floors on the same database.
    check(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", db.url,
           "-c", "CREATE TABLE lc_pairs (k bigint PRIMARY KEY, a bigint NOT NULL, b bigint NOT NULL)",
           "-c", "CREATE SEQUENCE lc_pair_seq",
           "-c", "CREATE SEQUENCE lc_request_id_seq START 100000000"], timeout=60)
    scripts = floor_scripts(tmp, now * 1_000_000)
    runs, rss = [], 0
    for rnd in range(1, CFG["rounds"] + 1):
        for where in CFG["placements"]:
            placement = Placement(db, where)
            placement.apply()
            try:
                for c in CFG["concurrency"]:
                    got, peak = steady_runs(binary, db, pairs, tokens, scripts, tmp, rnd, where, c)
                    runs += got
                    rss = max(rss, peak)
            finally:
                placement.restore()

    for kind in CFG["others"]:
        runs += other_backend(kind, str(binary), tmp)

    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    cpu_model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    set_vars = [f"{k}={v}" for k, v in sorted(os.environ.items())
                if k.startswith("BENCH_LC_")]
    meta = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"), "commit": commit, "sha": bin_sha,
        "command": " ".join(set_vars + ["bench/lifecycle"]),
        "machine": f"{NCPU} cores ({cpu_model}), {mem_kb / 1024 / 1024:.1f} GiB, Linux {os.uname().release}",
        "pg": db.version(), "sync_commit": db.query("SHOW synchronous_commit")[0][0], "wrk": first_line(["wrk", "-v"]).split(" Copyright")[0],
        "pgbench": first_line(["pgbench", "--version"]), "load_before": load_before, "load_after": loadavg(),
        "seed": " ".join(seed_args), "seed_s": seed_s, "counts": counts, "rss": rss,
    }
    block = render(meta, traced, counted, runs)
    (tmp / "results.json").write_text(json.dumps({"meta": meta, "traced": traced, "counted": counted,
                                                  "runs": runs}, indent=1, default=str))
    print()
    print(block)
    write_results(block)


def sql_cell(r):
    """Statements per call under load, and their senders (`api` = the actions' own)."""
    parts = " + ".join(f"{k} {v:.2f}" for k, v in sorted(r.get("sql_per_call_by_source", {}).items()))
    return f"{r['sql_per_call']:.2f}" + (f" ({parts})" if parts else "")


def floor_of(runs, gateway, kind):
    """The floor run of `kind` measured right after the `gateway` run."""
    return next(x for x in runs if x["kind"] == kind and x["conns"] == gateway["conns"]
                and x["round"] == gateway["round"] and x["placement"] == gateway["placement"])


def mark(r):
    return " †" if r.get("stolen") else ""


def steady_medians(runs):
    """The median gateway ÷ `same` of each placement and concurrency, over the unmarked rows."""
    cells = {}
    for r in runs:
        if r["kind"] == "gateway" and not r.get("stolen"):
            same = floor_of(runs, r, "floor_same")
            cells.setdefault((r["placement"], r["conns"]), []).append(r["pairs_s"] / same["rps"])
    if not cells:
        return "Every row is marked: no median."
    return "Median gateway ÷ `same` over the unmarked rows: " + "; ".join(
        f"{where} c={c}: {statistics.median(v):.2f} ({len(v)} of them)"
        for (where, c), v in sorted(cells.items())) + "."


def render(meta, traced, counted, runs):
    L = []
    L.append(f"### {meta['date']} · `{meta['commit']}` (binary sha256 {meta['sha']}…)")
    L.append("")
    L.append(f"- command: `{meta['command']}`")
    L.append(f"- machine: {meta['machine']}; shared with other work (load average {meta['load_before']:.1f} "
             f"before the run, {meta['load_after']:.1f} after): compare the ratios within this run")
    L.append(f"- {meta['pg']} on the same machine, `synchronous_commit = {meta['sync_commit']}` for the bench database"
             + (" (the server's default: every commit waits for its WAL flush)" if meta['sync_commit'] == 'on'
                else " (commits do not wait for the WAL flush: the CPU cost apart from fsync)") + "; "
             f"{meta['wrk']}; {meta['pgbench']}")
    c = meta["counts"]
    L.append(f"- community: `seed {meta['seed']}` ({meta['seed_s']:.1f} s): {c[0]} users, {c[1]} connection rows, "
             f"{c[2]} requests, {c[3]} change-feed triggers; server with default settings (graph cache on, "
             f"pool 16), peak RSS {meta['rss']:.0f} MB")
    L.append("")
    L.append("Statements of one action (one request A → B, then B's accept):")
    L.append("")
    L.append("| action | `/metrics` `sql_statements_total` per call (sequential, one connection) | server trace (`community_gateway::sql`) | PostgreSQL log (`log_statement = all`) | latency, sequential |")
    L.append("|---|--:|--:|--:|--:|")
    for kind in ("request", "accept"):
        t = traced[kind]
        pg = t["postgres"]
        if pg is None:
            pg_txt = "n/a"
        else:
            txn = sum(1 for _, s in pg if s.split()[0].upper() in ("BEGIN", "COMMIT", "SET"))
            pg_txt = f"{len(pg)} ({txn} BEGIN/SET/COMMIT)"
        L.append(f"| {kind} | {counted[kind]['statements']:.2f} | {len(t['server'])} | {pg_txt} | "
                 f"{counted[kind]['ms_per_call']:.2f} ms |")
    L.append("")
    L.append(f"(`/metrics` over {counted['n']} requests, then their {counted['n']} accepts; the counter moved by "
             f"{counted['idle_2s']:.0f} while the server was idle for 2 s. The listings show what PostgreSQL "
             "logged from the call until 0.5 s after its answer: the change feed's reads, on its own connection, "
             "are the two right after the commit plus its 100 ms poll.)")
    L.append("")
    for kind in ("request", "accept"):
        L.append(f"{kind.capitalize()}, as PostgreSQL logged it:")
        L.append("")
        L.append("```sql")
        stmts = traced[kind]["postgres"] if traced[kind]["postgres"] is not None else [(0, s) for s in traced[kind]["server"]]
        pids = []
        for pid, _ in stmts:
            if pid not in pids:
                pids.append(pid)
        runs_of = []  # consecutive repeats of one statement on one connection, collapsed
        for pid, s in stmts:
            if runs_of and runs_of[-1][0] == (pid, s):
                runs_of[-1][1] += 1
            else:
                runs_of.append([(pid, s), 1])
        for (pid, s), times in runs_of:
            tag = f"-- conn {pids.index(pid) + 1}: " if len(pids) > 1 else ""
            line = f"{tag}{s}" if len(s) < 400 else f"{tag}{s[:400]} …"
            L.append(line + (f"   -- × {times}" if times > 1 else ""))
        L.append("```")
        L.append("")
    L.append("Throughput: gateway = wrk (`bench/lib/lifecycle.lua`, one keep-alive connection per wrk thread, "
             "each connection doing request then accept for its own pairs); floors = pgbench `-M prepared` on the "
             "same database (change-feed triggers in place, server stopped), one pgbench transaction = one pair "
             "(both database transactions). `same` = the gateway's statements verbatim; `minimal` = lock both users "
             "in one statement + insert the request (id from a sequence), then lock + delete the request + insert "
             "both connection rows. "
             f"Per round and concurrency, back to back: a fresh server warmed up {CFG['warmup']} s at that "
             f"concurrency, the gateway run, then the server stopped and the two floors. Each run {CFG['duration']} s; every answer checked (0 bad answers, 0 socket errors, "
             "0 failed transactions in every row).")
    L.append("")
    L.append("Placement (`BENCH_LC_PLACEMENTS`): `shared` = every process on every core; `split` = "
             "PostgreSQL on core 0 (its postmaster and every backend), the server, wrk and pgbench on the "
             "other cores, as with a database server of its own: both clients then meet the same database "
             "capacity, and neither one's CPU comes out of the database's share.")
    L.append("")
    L.append("| round | placement | conc. | gateway pairs/s | request p50 / p99 ms | accept p50 / p99 ms | SQL/call under load | CPU % server / DB / wrk / other / steal | floor `same` pairs/s (pair p50 / p99 ms) | floor `minimal` pairs/s (pair p50 / p99 ms) | gateway ÷ `same` | gateway ÷ `minimal` |")
    L.append("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in runs:
        if r["kind"] != "gateway":
            continue
        same, mini = floor_of(runs, r, "floor_same"), floor_of(runs, r, "floor_minimal")
        cpu = r["cpu"]
        L.append(f"| {r['round']} | {r['placement']} | {r['conns']} | **{r['pairs_s']:,.0f}** | {fmt_ms(r['req_p50'])} / {fmt_ms(r['req_p99'])} | "
                 f"{fmt_ms(r['acc_p50'])} / {fmt_ms(r['acc_p99'])} | {sql_cell(r)} | "
                 f"{cpu['server']} / {cpu['db']} / {cpu['loadgen']} / {cpu['other']} / {cpu.get('steal', 0)} | "
                 f"{same['rps']:,.0f} ({fmt_ms(same['p50_ms'])} / {fmt_ms(same['p99_ms'])}) | "
                 f"{mini['rps']:,.0f} ({fmt_ms(mini['p50_ms'])} / {fmt_ms(mini['p99_ms'])}) | "
                 f"**{r['pairs_s'] / same['rps']:.2f}**{mark(r)} | **{r['pairs_s'] / mini['rps']:.2f}**{mark(r)} |")
    L.append("")
    L.append(f"Steal: CPU time the hypervisor gave to other machines while a run ran. A round and "
             f"concurrency with more than {CFG['max_steal']:g} % of a core of it in its gateway or floor "
             f"run was run again (at most {CFG['steal_retries']} more times); † marks one that still had "
             f"it. " + steady_medians(runs))
    L.append("")
    L.append("Floor CPU (% of one core, DB / pgbench / other / steal): " + "; ".join(
        f"{r['kind'].replace('floor_', '')} r{r['round']} {r['placement']} c={r['conns']}: {r['cpu']['db']} / {r['cpu']['loadgen']} / {r['cpu']['other']} / {r['cpu'].get('steal', 0)}"
        for r in runs if r["kind"].startswith("floor_")) + ".")
    others = [r for r in runs if r["kind"] == "other"]
    if others:
        L.append("")
        L.append("The gateway on the other backends (the same community, pairs and calls; one run per "
                 "concurrency after its warm-up; no floor: pgbench is PostgreSQL's). CPU: MariaDB's one "
                 "`mariadbd` process serves every database on the machine, so it is in `other`; SQLite runs "
                 "inside the server.")
        L.append("")
        L.append("| backend | conc. | gateway pairs/s | request p50 / p99 ms | accept p50 / p99 ms | SQL/call under load | CPU % server / wrk / other / steal |")
        L.append("|---|--:|--:|--:|--:|--:|--:|")
        for r in others:
            cpu = r["cpu"]
            L.append(f"| {r['version']} | {r['conns']} | **{r['pairs_s']:,.0f}** | {fmt_ms(r['req_p50'])} / "
                     f"{fmt_ms(r['req_p99'])} | {fmt_ms(r['acc_p50'])} / {fmt_ms(r['acc_p99'])} | "
                     f"{r['sql_per_call']:.2f} | {cpu['server']} / {cpu['loadgen']} / {cpu['other']} / {cpu.get('steal', 0)} |")
    if any(r.get("waits") for r in runs):
        L.append("")
        L.append("What the bench database's active backends waited for (`BENCH_LC_WAITS=1`: pg_stat_activity "
                 "every 0.25 s; mean number of backends per sample; `CPU` = active, not waiting):")
        L.append("")
        L.append("| round | placement | conc. | gateway | floor `same` | floor `minimal` |")
        L.append("|--:|---|--:|---|---|---|")
        for r in runs:
            if r["kind"] != "gateway":
                continue
            cells = []
            for x in (r, floor_of(runs, r, "floor_same"), floor_of(runs, r, "floor_minimal")):
                cells.append(", ".join(f"{k} {v:.1f}" for k, v in list((x.get("waits") or {}).items())[:5]) or "—")
            L.append(f"| {r['round']} | {r['placement']} | {r['conns']} | " + " | ".join(cells) + " |")
    return "\n".join(L) + "\n"


SECTION_INTRO = """Written by `bench/lifecycle` (see bench/README.md): request/accept pairs per second on
PostgreSQL, disjoint pairs each used once, next to a pgbench floor of the same work measured in
the same run. Newest run first."""


def write_results(block):
    path = Path(CFG["results"])
    if not str(path) or str(path) == "/dev/null":
        return
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if SECTION in text:
        head, rest = text.split(SECTION, 1)
        m = re.search(r"^### ", rest, re.M)
        nxt = re.search(r"^## ", rest, re.M)
        at = m.start() if m and (not nxt or m.start() < nxt.start()) else (nxt.start() if nxt else len(rest))
        text = head + SECTION + rest[:at] + block + "\n" + rest[at:]
    else:
        m = re.search(r"^## ", text, re.M)
        new = f"{SECTION}\n\n{SECTION_INTRO}\n\n{block}\n"
        text = text[: m.start()] + new + text[m.start():] if m else text.rstrip("\n") + "\n\n" + new
    path.write_text(text)
    log(f"wrote {path}")


if __name__ == "__main__":
    try:
        main()
    except SystemExit as exc:
        if exc.code not in (0, None):
            print(f"lifecycle: {exc.code}", file=sys.stderr)
        raise
    except Exception as exc:
        print(f"lifecycle: error: {exc}", file=sys.stderr)
        sys.exit(1)
    finally:
        cleanup()
