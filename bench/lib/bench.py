#!/usr/bin/env python3
"""The serving benchmark of community-gateway (issue 5). Run it through `bench/run`.

Per backend (PostgreSQL, SQLite): seed a fresh database, find the popular user and a viewer
with many mutual connections, capture the SQL the server runs per scenario from its statement
trace, build the SQL floor from the captured R1 statements (pgbench on PostgreSQL, the
`sqlite-floor` tool on SQLite), then drive the server with wrk at each concurrency, next to the
HTTP floor (/healthz) and the SQL floor, in the same run. Writes bench/RESULTS.md.

Standard library only. Everything it starts runs in its own process group and is stopped on
exit (normal, error, Ctrl-C, SIGTERM); the PostgreSQL database is dropped and the temporary
directory (SQLite files) removed.
"""

import datetime
import hashlib
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIB = REPO / "bench" / "lib"
SECTION = "## Serving benchmarks (issue 5)"
JWT_SECRET = "cg-bench-secret-0123456789abcdef"
SCENARIOS = ["healthz", "floor", "R1", "R2", "G1", "G2", "G3"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


# ---------------------------------------------------------------------------------------------
# Settings


def env(name, default):
    value = os.environ.get(name, "").strip()
    return value if value else default


QUICK = "--quick" in sys.argv[1:] or env("BENCH_QUICK", "0") not in ("0", "")
for arg in sys.argv[1:]:
    if arg not in ("--quick",):
        sys.exit(f"bench/run: unknown argument {arg!r} (settings are environment variables, see bench/README.md)")

CFG = {
    "duration": float(env("BENCH_DURATION", "2" if QUICK else "10")),
    "warmup": float(env("BENCH_WARMUP", "1" if QUICK else "5")),
    "concurrency": [int(c) for c in env("BENCH_CONCURRENCY", "8,32" if QUICK else "8,32,128").split(",")],
    "users": int(env("BENCH_USERS", "5000" if QUICK else "100000")),
    "avg_degree": int(env("BENCH_AVG_DEGREE", "20" if QUICK else "40")),
    "seed": int(env("BENCH_SEED", "1")),
    "backends": [b.strip() for b in env("BENCH_BACKENDS", "postgres,sqlite").split(",") if b.strip()],
    "pg_url": env("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/"),
    "pgbench_max_clients": int(env("BENCH_PGBENCH_MAX_CLIENTS", "64")),
    "wrk_threads": int(env("BENCH_WRK_THREADS", str(min(2, NCPU)))),
    "bin": env("BENCH_BIN", ""),
    "keep": env("BENCH_KEEP", "0") not in ("0", ""),
    "results": Path(env("BENCH_RESULTS", "" if QUICK else str(REPO / "bench" / "RESULTS.md")) or "/dev/null"),
    # Empty: the server's own default (16; on SQLite 2 × cores).
    "pool_size": env("DB_POOL_SIZE", ""),
}
for b in CFG["backends"]:
    if b not in ("postgres", "sqlite"):
        sys.exit(f"BENCH_BACKENDS: unknown backend {b!r} (postgres, sqlite)")
if CFG["duration"] <= 0 or CFG["duration"] > 600 or CFG["warmup"] < 0 or CFG["warmup"] > 600:
    sys.exit("BENCH_DURATION must be in (0, 600] s and BENCH_WARMUP in [0, 600] s")
_pg_host = urllib.parse.urlsplit(CFG["pg_url"]).hostname or ""
if _pg_host not in ("127.0.0.1", "localhost", "::1"):
    sys.exit("BENCH_PG_URL must point at this machine (127.0.0.1): load goes to loopback only")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# Processes: everything started here is tracked and stopped at exit.

CHILDREN = []
CLEANUPS = []


def spawn(cmd, **kw):
    proc = subprocess.Popen(cmd, start_new_session=True, **kw)
    CHILDREN.append(proc)
    return proc


def stop(proc, grace=10.0):
    """SIGTERM to the child's own process group (it was started in a new session), then SIGKILL."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
    if proc in CHILDREN:
        CHILDREN.remove(proc)


def run_bounded(cmd, timeout, **kw):
    """Runs `cmd` to completion within `timeout` seconds (killed past it); returns
    (returncode, stdout, stderr)."""
    proc = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc, grace=2)
        raise RuntimeError(f"timed out after {timeout:.0f} s: {shlex.join(map(str, cmd))}")
    CHILDREN.remove(proc)
    return proc.returncode, out, err


def check(cmd, timeout=600, both=False, **kw):
    code, out, err = run_bounded(cmd, timeout, **kw)
    if code != 0:
        raise RuntimeError(f"failed ({code}): {shlex.join(map(str, cmd))}\n{out[-2000:]}\n{err[-4000:]}")
    return (out, err) if both else out


def cleanup():
    for proc in list(CHILDREN):
        try:
            stop(proc, grace=5)
        except Exception as exc:  # keep cleaning up
            print(f"cleanup: {exc}", file=sys.stderr)
    while CLEANUPS:
        fn = CLEANUPS.pop()
        try:
            fn()
        except Exception as exc:
            print(f"cleanup: {exc}", file=sys.stderr)


def on_signal(signum, _frame):
    raise SystemExit(f"interrupted by signal {signum}")


for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, on_signal)


# ---------------------------------------------------------------------------------------------
# Small helpers

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(port, method, path, auth=None, body=None, timeout=60):
    headers = {}
    if auth:
        headers["Authorization"] = auth
    data = None
    if body is not None:
        data = body.encode()
        headers["Content-Type"] = "application/json"
        headers["Accept"] = "application/json"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers)
    try:
        with NO_PROXY.open(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def scrape_metrics(port):
    """The server's /metrics (Prometheus text), as {name: summed value}; {} when there is none."""
    try:
        status, body = http(port, "GET", "/metrics", timeout=10)
    except OSError:
        return {}
    if status != 200:
        return {}
    out = {}
    for line in body.decode(errors="replace").splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$", line)
        if not m:
            continue
        name, labels, value = m.groups()
        if name.endswith("http_requests_total") and labels and 'route="/metrics"' in labels:
            continue
        try:
            out[name] = out.get(name, 0.0) + float(value)
        except ValueError:
            pass
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values, p):
    if not sorted_values:
        return 0
    k = max(1, min(len(sorted_values), int(-(-p * len(sorted_values) // 100))))
    return sorted_values[k - 1]


def first_line(cmd):
    try:
        code, out, err = run_bounded(cmd, 60)
        return (out or err).strip().splitlines()[0]
    except Exception as exc:
        return f"unknown ({exc})"


def proc_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return None


def proc_status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])  # kB
    except OSError:
        pass
    return None


def cpu_busy_total():
    """Busy and total ticks of the machine since boot, and the steal among the busy: time the
    hypervisor gave this virtual machine's vCPUs to someone else."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]) - idle, sum(v[:8]), v[7]


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


class CpuSampler:
    """CPU used during one load run, split between the server, the database (PostgreSQL
    backends of the bench database, found by their process title), the load generator and
    everything else on the machine (other people's builds and tests), as % of one core."""

    def __init__(self, server_pid, dbname, loadgen_pid, loadgen_is_db=False):
        self.server_pid, self.dbname = server_pid, dbname
        self.loadgen_pid, self.loadgen_is_db = loadgen_pid, loadgen_is_db
        self.base, self.last, self.role = {}, {}, {}
        self.stop_event = threading.Event()
        self.t0 = time.monotonic()
        self.busy0, self.total0, self.steal0 = cpu_busy_total()
        self._scan(initial=True)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _db_pids(self):
        if not self.dbname:
            return []
        pids = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    title = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres:") and f" {self.dbname} " in title:
                pids.append(int(name))
        return pids

    def _scan(self, initial=False):
        tracked = [(self.server_pid, "server")]
        if self.loadgen_pid:
            tracked.append((self.loadgen_pid, "db" if self.loadgen_is_db else "loadgen"))
        tracked += [(pid, "db") for pid in self._db_pids()]
        for pid, role in tracked:
            ticks = proc_ticks(pid)
            if ticks is None:
                continue
            if pid not in self.base:
                # Present at the start: count from now. Appeared during the run: from zero.
                self.base[pid] = ticks if initial else 0
                self.role[pid] = role
            self.last[pid] = ticks

    def _loop(self):
        while not self.stop_event.wait(0.5):
            self._scan()

    def finish(self):
        self._scan()
        self.stop_event.set()
        self.thread.join()
        wall = time.monotonic() - self.t0
        busy1, total1, steal1 = cpu_busy_total()
        split = {"server": 0.0, "db": 0.0, "loadgen": 0.0}
        for pid, base in self.base.items():
            split[self.role[pid]] += (self.last[pid] - base) / CLK_TCK / wall * 100
        ticks = max(1, total1 - self.total0)
        machine = (busy1 - self.busy0) / ticks * NCPU * 100
        # Steal is no process's: the hypervisor ran someone else on our vCPUs. A run with much
        # of it measured a smaller machine than the runs beside it.
        split["steal"] = (steal1 - self.steal0) / ticks * NCPU * 100
        split["other"] = max(0.0, machine - split["steal"] - split["server"] - split["db"] - split["loadgen"])
        return {k: round(v) for k, v in split.items()}


# ---------------------------------------------------------------------------------------------
# Databases


class Postgres:
    kind = "postgres"
    label = "PostgreSQL"

    def __init__(self, tmp):
        self.dbname = f"cg_bench_{time.strftime('%Y%m%d%H%M%S')}_{os.getpid()}"
        self.admin = CFG["pg_url"] + "/postgres"
        self.url = f"{CFG['pg_url']}/{self.dbname}"
        self.tmp = tmp

    def create(self):
        self.sql_admin(f'CREATE DATABASE "{self.dbname}"')
        CLEANUPS.append(self.drop)

    def drop(self):
        self.sql_admin(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
        log(f"dropped database {self.dbname}")

    def sql_admin(self, sql):
        check(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.admin, "-c", sql], timeout=120)

    def query(self, sql):
        out = check(["psql", "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", self.url, "-c", sql], timeout=600)
        return [line.split("\t") for line in out.splitlines() if line]

    def version(self):
        return "PostgreSQL " + self.query("SHOW server_version")[0][0].split()[0]

    def max_connections(self):
        total = int(self.query("SHOW max_connections")[0][0])
        used = int(self.query("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")[0][0])
        return total, used


class Sqlite:
    kind = "sqlite"
    label = "SQLite"

    def __init__(self, tmp):
        self.path = tmp / "bench.db"
        self.url = f"sqlite://{self.path}?mode=rwc"
        self.dbname = None

    def create(self):
        CLEANUPS.append(self.drop)

    def drop(self):
        for suffix in ("", "-wal", "-shm", ".jwt-secret"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                p.unlink()

    def query(self, sql):
        import sqlite3

        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            return [[str(v) for v in row] for row in con.execute(sql).fetchall()]
        finally:
            con.close()


# ---------------------------------------------------------------------------------------------
# The server


class Server:
    def __init__(self, binary, db, logfile, rust_log, cache="on"):
        self.port = free_port()
        self.logfile = logfile
        environ = dict(os.environ)
        for k in list(environ):
            if k.lower().endswith("_proxy"):
                del environ[k]
        environ.update(
            DATABASE_URL=db.url,
            JWT_SECRET=JWT_SECRET,
            RUST_LOG=rust_log,
            BIND=f"127.0.0.1:{self.port}",
            NO_DEMO="true",
            CACHE=cache,
        )
        if CFG["pool_size"]:
            environ["DB_POOL_SIZE"] = CFG["pool_size"]
        self.out = open(logfile, "wb")
        self.proc = spawn([binary, "serve", "--no-demo"], env=environ, stdout=self.out, stderr=self.out)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}); see {logfile}:\n" + Path(logfile).read_text()[-3000:])
            try:
                status, _ = http(self.port, "GET", "/healthz", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer /healthz within 120 s; see {logfile}")

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log_size(self):
        self.out.flush()
        return os.path.getsize(self.logfile)

    def log_since(self, offset):
        # The trace is written synchronously before the response leaves; wait for it to settle.
        size, stable = -1, 0
        for _ in range(40):
            now = self.log_size()
            stable = stable + 1 if now == size else 0
            if stable >= 2:
                break
            size = now
            time.sleep(0.03)
        with open(self.logfile, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def stop(self):
        stop(self.proc, grace=15)
        self.out.close()


def sql_lines(text, sender=None):
    """The statements of a slice of the server's log (RUST_LOG=community_gateway::sql=trace);
    with `sender` ("Api", "Feed", "Replicas"), only the ones it sent (the change feed polls on
    its own clock, whatever request is being traced)."""
    return [line.split(" sql=", 1)[1] for line in text.splitlines()
            if "community_gateway::sql" in line and " sql=" in line
            and (sender is None or f" sender={sender} " in line)]


# ---------------------------------------------------------------------------------------------
# The workload


def make_workload(db, binary, tmp, workdir):
    """Finds T (most connections) and V (most mutual connections with T), issues tokens, and
    writes the request files of every scenario (one request a line, see requests.lua)."""
    users_min, users_max, users_n = (int(x) for x in db.query("SELECT MIN(id), MAX(id), COUNT(*) FROM users")[0])
    top = [(int(u), int(n)) for u, n in db.query(
        "SELECT user_id, COUNT(*) FROM connections GROUP BY user_id ORDER BY 2 DESC, 1 LIMIT 50")]
    target, degree = top[0]
    # Connections are stored both ways, so friends-of-friends by the primary key (user_id, ...)
    # count the mutual connections of every candidate viewer with T.
    viewer, mutuals = (int(x) for x in db.query(
        f"SELECT f.friend_id, COUNT(*) FROM connections t JOIN connections f ON f.user_id = t.friend_id "
        f"WHERE t.user_id = {target} AND f.friend_id <> {target} GROUP BY f.friend_id ORDER BY 2 DESC, 1 LIMIT 1")[0])
    viewer_degree = int(db.query(f"SELECT COUNT(*) FROM connections WHERE user_id = {viewer}")[0][0])
    viewer_connected = int(db.query(
        f"SELECT COUNT(*) FROM connections WHERE user_id = {viewer} AND friend_id = {target}")[0][0]) > 0

    rng = random.Random(CFG["seed"])
    if users_max - users_min + 1 == users_n:
        pick_user = lambda: rng.randint(users_min, users_max)  # noqa: E731
        sample_users = lambda k: rng.sample(range(users_min, users_max + 1), k)  # noqa: E731
    else:
        ids = [int(r[0]) for r in db.query("SELECT id FROM users ORDER BY id")]
        pick_user = lambda: rng.choice(ids)  # noqa: E731
        sample_users = lambda k: rng.sample(ids, k)  # noqa: E731

    environ = dict(os.environ, DATABASE_URL=db.url, JWT_SECRET=JWT_SECRET)

    def token(user):
        return check([binary, "token", "--user", str(user), "--ttl", "12h"], env=environ, timeout=60).strip()

    v_auth = "Bearer " + token(viewer)
    r2_viewers = ["Bearer " + token(u) for u in sample_users(16)]

    def gql(query):
        return json.dumps({"query": query}, separators=(",", ":"))

    all_fields = ("id username realName avatar extId followingsCounter followersCounter postsCounter "
                  "discussionsCounter pollsCounter connectionStatus categoriesCounter dateJoined bio location "
                  "locationLatLng positionLatLng dateOfBirth description gender website cover "
                  "tags { id name } reputation communityBadge regApproved deleted companyName companyRole")
    g2_ids = sample_users(50)
    requests = {
        "healthz": [("GET", "/healthz", None, None)],
        "R1": [("GET", f"/api/v2/user/{target}/connections/", v_auth, None)],
        "G1": [("POST", "/graphql", v_auth, gql(
            f'{{ user(id: "{target}") {{ connections {{ count next previous results {{ {all_fields} }} }} }} }}'))],
        "G2": [("POST", "/graphql", v_auth, gql(
            "{ users(ids: [" + ", ".join(f'"{i}"' for i in g2_ids) + "]) "
            "{ id connections { results { id tags { name } connectionStatus } } } }"))],
        "G3": [("POST", "/graphql", v_auth, gql(
            f'{{ user(id: "{target}") {{ id connections(limit: 10) {{ count results {{ id username '
            f'connections(limit: 10) {{ count results {{ id username }} }} }} }} }} }}'))],
    }
    r2 = []
    for _ in range(2000):
        if rng.random() < 0.05:
            owner, owner_degree = rng.choice(top)  # a popular user, anywhere in the list
            offset = rng.randint(0, owner_degree)
        else:
            owner = pick_user()
            offset = rng.choice([None, 0, rng.randint(0, 20), rng.randint(0, 80)])
        params = []
        if offset is not None:
            params.append(f"offset={offset}")
        mutual = rng.choice([None, "0", "1"])
        if mutual is not None:
            params.append(f"mutual={mutual}")
        rng.shuffle(params)
        path = f"/api/v2/user/{owner}/connections/" + ("?" + "&".join(params) if params else "")
        auth = None if rng.random() < 0.5 else rng.choice(r2_viewers)
        r2.append(("GET", path, auth, None))
    requests["R2"] = r2

    files = {}
    for name, reqs in requests.items():
        path = workdir / f"{name}.requests"
        with open(path, "w") as f:
            for method, p, auth, body in reqs:
                f.write("\t".join([method, p, auth or "-", body or "-"]) + "\n")
        files[name] = path
    return {
        "users": users_n, "target": target, "target_degree": degree, "viewer": viewer,
        "viewer_mutuals": mutuals, "viewer_degree": viewer_degree, "viewer_connected": viewer_connected,
        "requests": requests, "files": files,
    }


def trace_statements(server, wl, workdir):
    """One request of each scenario (a sample of 40 for R2) against a server that logs every
    statement; returns the statements per request and checks every answer is a clean 200."""
    out = {}
    rng = random.Random(CFG["seed"] + 7)
    for name in ["healthz", "R1", "R2", "G1", "G2", "G3"]:
        reqs = wl["requests"][name]
        sample = rng.sample(reqs, 40) if len(reqs) > 40 else reqs * 5
        counts, texts, bodies = [], [], []
        for method, path, auth, body in sample:
            offset = server.log_size()
            status, resp = http(server.port, method, path, auth, body)
            if status != 200 or (body is not None and b'"errors"' in resp):
                raise RuntimeError(f"{name}: {method} {path} answered {status}: {resp[:500]!r}")
            stmts = sql_lines(server.log_since(offset), sender="Api")
            counts.append(len(stmts))
            texts.append(stmts)
            bodies.append(resp)
        (workdir / f"{name}.response.json").write_bytes(bodies[0])
        with open(workdir / f"{name}.sql.txt", "w") as f:
            for (method, path, _, body), stmts in zip(sample, texts):
                f.write(f"# {method} {path} {body or ''}: {len(stmts)} statements\n")
                f.write("".join(st + "\n" for st in stmts))
        out[name] = {"counts": counts, "statements": texts[0], "body": bodies[0],
                     "bytes": len(bodies[0])}
    return out


# ---------------------------------------------------------------------------------------------
# The SQL floor: R1's statements with R1's bound values


PLACEHOLDER = re.compile(r"\$(\d+)|\?")
IN_LIST = re.compile(r"([\w.]+) IN \(((?:\$\d+|\?)(?:, (?:\$\d+|\?))*)\)")


UT_USER_ID = r'(?:\but\.user_id|"user_tags"\."user_id")'


def tag_column(name):
    """The text before a placeholder compared with the tags' column `name`, either spelling."""
    return rf'(?:\bt\.{name}|"tags"\."{name}") = $'


def r1_bindings(statements, wl, r1_body, offset=0, limit=20):
    """The values the server bound to each captured R1 statement, in placeholder order, and the
    number of rows each must return (from R1's response).

    The trace logs the statement text, not the values, so each placeholder's value is worked out
    from the SQL around it: `v.user_id = ?` is the viewer, `c.user_id IN (?)` the page's owner,
    `p.rn > ?` the offset, `ut.user_id IN (?, ...)` the ids of the page's users, and so on. A
    placeholder no rule explains stops the run, naming the statement (teach RULES below)."""
    page = json.loads(r1_body)
    ids = [u["id"] for u in page["results"]]
    T, V = wl["target"], wl["viewer"]
    lists = {  # the column before `IN (...)` -> the list bound there
        "c.user_id": [T],
        "ut.user_id": ids, "friend_id": ids, "to_user_id": ids, "from_user_id": ids, "u.id": ids,
    }
    rules = [  # (regex on the text before, regex on the text after, value)
        (r"FROM users WHERE id = $", r"^\) AS target_exists", T),
        (r"FROM users WHERE id = $", r"^\) AS viewer_exists", V),
        (r"\bv\.user_id = $", None, V),
        (r"\bsr\.from_user_id = $", None, V),
        (r"\brr\.to_user_id = $", None, V),
        # The statuses statement (`... WHERE user_id = V AND friend_id IN (...)`), when statuses
        # had a statement of their own.
        (r"\bWHERE (user_id|from_user_id|to_user_id) = $", r"^ AND (friend_id|to_user_id|from_user_id) IN", V),
        # The one-owner page statement: the owner's list, its count, the mutual set.
        (r"\bWHERE user_id = $", r"^ AND friend_id NOT IN", T),
        (r"\bWHERE user_id = $", r"^\) AS total", T),
        (r"\bc\.user_id = $", None, T),
        (r"\bLIMIT $", None, offset + limit),
        (r"\b(p\.rn|pos) > $", None, offset),
        (r"\b(p\.rn|pos) <= $", None, offset + limit),
        # The tags of the page's users, hand-written (`ut.`, `t.`) or as the entity query
        # writes it (quoted names). The users' ids are bound as one value: an array on
        # PostgreSQL, JSON text on SQLite.
        (UT_USER_ID + r" = ANY\($", None, list(ids)),
        (UT_USER_ID + r" IN \(SELECT value FROM json_each\($", None, json.dumps(ids, separators=(",", ":"))),
        (tag_column("visible"), None, True),
        (tag_column("active"), None, True),
        (tag_column("deleted"), None, False),
    ]
    out = []
    for sql in statements:
        in_list = {}  # placeholder start offset -> value
        for m in IN_LIST.finditer(sql):
            column = m.group(1)
            items = [x.start() + m.start(2) for x in PLACEHOLDER.finditer(m.group(2))]
            if column not in lists:
                raise RuntimeError(f"bench: no rule for the list `{column} IN (...)` in this R1 statement; "
                                   f"teach r1_bindings() in bench/lib/bench.py:\n{sql}")
            if len(items) != len(lists[column]):
                raise RuntimeError(f"bench: `{column} IN` has {len(items)} placeholders, expected "
                                   f"{len(lists[column])}:\n{sql}")
            in_list.update(zip(items, lists[column]))
        by_number, values = {}, []
        for i, m in enumerate(PLACEHOLDER.finditer(sql), 1):
            number = int(m.group(1)) if m.group(1) else i
            if m.start() in in_list:
                value = in_list[m.start()]
            else:
                before, after = sql[max(0, m.start() - 80):m.start()], sql[m.end():m.end() + 40]
                found = [v for b, a, v in rules if re.search(b, before) and (a is None or re.search(a, after))]
                if len(found) != 1:
                    raise RuntimeError(f"bench: {'no' if not found else 'more than one'} rule for placeholder "
                                       f"{m.group(0)} after {before[-40:]!r}; teach r1_bindings() in "
                                       f"bench/lib/bench.py:\n{sql}")
                value = found[0]
            if number in by_number and by_number[number] != value:
                raise RuntimeError(f"bench: placeholder ${number} given two values in:\n{sql}")
            by_number[number] = value
        values = [by_number[n] for n in sorted(by_number)]
        if sql.startswith("SELECT s.connection_enabled"):
            rows = 1
        elif sql.startswith("SELECT p.owner_id"):
            rows = len(ids) + (1 if offset > 0 else 0)
        elif sql.startswith("WITH m AS"):
            rows = max(1, len(ids))  # an empty page is one row, for the counts
        elif sql.startswith(("SELECT ut.user_id AS owner_id", 'SELECT "tags"."id"')):
            rows = sum(len(u["tags"]) for u in page["results"])
        elif sql.startswith("SELECT friend_id AS other_id"):
            rows = sum(1 for u in page["results"] if u["connection_status"] is not None)
        else:
            raise RuntimeError("bench: this R1 statement is new to bench/lib/bench.py, which cannot tell how "
                               f"many rows it must return; teach r1_bindings():\n{sql}")
        out.append({"sql": sql, "params": values, "expected_rows": rows})
    return out


def sql_literal(v):
    if isinstance(v, list):  # an array value (PostgreSQL)
        return "'{" + ",".join(str(int(x)) for x in v) + "}'"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return ("true" if v else "false") if isinstance(v, bool) else str(int(v))


def pgbench_script(bound, path):
    """pgbench (and psql) script: \\set per bound value, the statement with :pN in place of $N."""
    lines = []
    for i, st in enumerate(bound, 1):
        lines.append(f"-- statement {i} of R1 (expected rows: {st['expected_rows']})")
        for n, v in enumerate(st["params"], 1):
            if not isinstance(v, list):
                lines.append(f"\\set s{i}p{n} {sql_literal(v)}")
        # pgbench variables hold numbers only: an array value goes in as a literal.
        lines.append(re.sub(r"\$(\d+)", lambda m: (
            sql_literal(st["params"][int(m.group(1)) - 1]) if isinstance(st["params"][int(m.group(1)) - 1], list)
            else f":s{i}p{m.group(1)}"), st["sql"]) + ";")
    path.write_text("\n".join(lines) + "\n")


def verify_pg_floor(db, script, bound):
    out = check(["psql", "-X", "-v", "ON_ERROR_STOP=1", db.url, "-f", str(script)], timeout=120)
    rows = [int(m) for m in re.findall(r"^\((\d+) rows?\)$", out, re.M)]
    return rows


def pg_explain(db, bound, workdir):
    page = next(st for st in bound if st["sql"].startswith(("SELECT p.owner_id", "WITH m AS")))
    script = workdir / "explain_page.sql"
    sql = re.sub(r"\$(\d+)", lambda m: sql_literal(page["params"][int(m.group(1)) - 1]), page["sql"])
    script.write_text("EXPLAIN (ANALYZE, BUFFERS) " + sql + ";\n")
    check(["psql", "-X", db.url, "-f", str(script)], timeout=120)  # warm
    out = check(["psql", "-X", db.url, "-f", str(script)], timeout=120)
    (workdir / "explain_page.txt").write_text(out)
    exe = re.search(r"Execution Time: ([\d.]+) ms", out)
    plan = re.search(r"Planning Time: ([\d.]+) ms", out)
    # Index entries read: rows × loops of every index scan node.
    entries = sum(int(rows) * int(loops) for rows, loops in
                  re.findall(r"Index (?:Only )?Scan .*?actual time=\S+ rows=(\d+) loops=(\d+)", out))
    return {
        "execution_ms": float(exe.group(1)) if exe else None,
        "planning_ms": float(plan.group(1)) if plan else None,
        "index_entries": entries,
    }


def run_pgbench(db, script, clients, duration, workdir, tag, server_pid, profile=False):
    prefix = workdir / f"pgbench_{tag}"
    for old in workdir.glob(f"pgbench_{tag}.*"):
        old.unlink()
    cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, NCPU)),
           "-T", str(int(round(duration))), "-f", str(script)]
    if profile:
        cmd += ["-r"]
    else:
        cmd += ["-l", f"--log-prefix={prefix}"]
    cmd.append(db.url)
    # The server's plan mode (src/store/mod.rs), so the floor plans the statements as it does.
    env = dict(os.environ, PGOPTIONS="-c plan_cache_mode=force_generic_plan")
    proc = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=workdir, env=env)
    sampler = CpuSampler(server_pid, db.dbname, proc.pid)
    la = loadavg()
    try:
        out, err = proc.communicate(timeout=duration + 120)
    except subprocess.TimeoutExpired:
        stop(proc, grace=2)
        raise RuntimeError("pgbench did not finish in time")
    CHILDREN.remove(proc)
    cpu = sampler.finish()
    (workdir / f"pgbench_{tag}.out").write_text(out + "\n" + err)
    if proc.returncode != 0:
        raise RuntimeError(f"pgbench failed ({proc.returncode}):\n{out[-2000:]}\n{err[-2000:]}")
    if profile:
        # "latency average per statement" lines: "   0.123  0  SELECT ..."
        return [float(m) for m in re.findall(r"^\s+([\d.]+)\s+\d+\s+SELECT", out, re.M)]
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    lat = []
    for f in workdir.glob(f"pgbench_{tag}.*"):
        if f.suffix == ".out":
            continue
        for line in f.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[2].isdigit():
                lat.append(int(parts[2]))
        f.unlink()
    lat.sort()
    return {
        "rps": tps, "p50_ms": percentile(lat, 50) / 1000, "p99_ms": percentile(lat, 99) / 1000,
        "max_ms": (lat[-1] if lat else 0) / 1000, "errors": int(failed.group(1)) if failed else 0,
        "cpu": cpu, "load": la, "clients": clients, "requests": len(lat),
    }


def run_sqlite_floor(tool, db, spec, threads, duration, server_pid, warmup=0.0):
    cmd = [tool, "--db", str(db.path), "--spec", str(spec), "--threads", str(threads),
           "--duration", str(duration), "--warmup", str(warmup)]
    proc = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = CpuSampler(server_pid, None, proc.pid, loadgen_is_db=True)
    la = loadavg()
    try:
        out, err = proc.communicate(timeout=duration + warmup + 120)
    except subprocess.TimeoutExpired:
        stop(proc, grace=2)
        raise RuntimeError("sqlite-floor did not finish in time")
    CHILDREN.remove(proc)
    cpu = sampler.finish()
    if proc.returncode != 0:
        raise RuntimeError(f"sqlite-floor failed ({proc.returncode}):\n{err[-3000:]}")
    r = json.loads(out)
    return {"rps": r["tps"], "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000,
            "max_ms": r["max_us"] / 1000, "errors": 0, "cpu": cpu, "load": la, "clients": threads,
            "requests": r["tx"]}


# ---------------------------------------------------------------------------------------------
# HTTP load: wrk with bench/lib/requests.lua


def run_wrk(server, db, req_file, conns, duration, workdir, tag):
    out_file = workdir / f"wrk_{tag}.json"
    if out_file.exists():
        out_file.unlink()
    environ = dict(os.environ, BENCH_REQUESTS=str(req_file), BENCH_WRK_OUT=str(out_file))
    threads = max(1, min(CFG["wrk_threads"], conns))
    cmd = ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{int(round(duration))}s", "--timeout", "10s",
           "-s", str(LIB / "requests.lua"), f"http://127.0.0.1:{server.port}"]
    before = scrape_metrics(server.port)
    proc = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ)
    sampler = CpuSampler(server.pid, db.dbname, proc.pid)
    la = loadavg()
    try:
        out, err = proc.communicate(timeout=duration + 120)
    except subprocess.TimeoutExpired:
        stop(proc, grace=2)
        raise RuntimeError("wrk did not finish in time")
    CHILDREN.remove(proc)
    cpu = sampler.finish()
    (workdir / f"wrk_{tag}.out").write_text(out + "\n" + err)
    if proc.returncode != 0 or not out_file.exists():
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{out[-2000:]}\n{err[-2000:]}")
    if not server.alive():
        raise RuntimeError(f"the server died during {tag}; see {server.logfile}")
    r = json.loads(out_file.read_text())
    rss_now = (proc_status(server.pid, "VmRSS") or 0) / 1024
    time.sleep(1.0)  # let requests still in flight when wrk stopped finish before counting
    after = scrape_metrics(server.port)
    sql_load = None
    dreq = after.get("gateway_http_requests_total", 0) - before.get("gateway_http_requests_total", 0)
    dsql = after.get("gateway_sql_statements_total", 0) - before.get("gateway_sql_statements_total", 0)
    if after and dreq > 0:
        sql_load = dsql / dreq
    errors = (r["bad_status"] + r["bad_graphql"] + r["err_connect"] + r["err_read"] + r["err_write"]
              + r["err_timeout"])
    return {
        "rps": r["requests"] / (r["duration_us"] / 1e6), "p50_ms": r["lat_p50_us"] / 1000,
        "p99_ms": r["lat_p99_us"] / 1000, "max_ms": r["lat_max_us"] / 1000, "errors": errors,
        "error_detail": {k: r[k] for k in ("bad_status", "bad_graphql", "err_connect", "err_read", "err_write", "err_timeout")},
        "cpu": cpu, "load": la, "clients": conns, "requests": r["requests"],
        "rss_mb": (proc_status(server.pid, "VmHWM") or 0) / 1024, "rss_now_mb": rss_now,
        "sql_under_load": sql_load,
    }


# ---------------------------------------------------------------------------------------------
# One backend


def bench_backend(Backend, binary, floor_tool, tmp):
    db = Backend(tmp)
    workdir = tmp / db.kind
    workdir.mkdir()
    res = {"backend": db.kind, "label": db.label}
    log(f"{db.label}: creating the database" + (f" {db.dbname}" if db.dbname else f" {db.path}"))
    db.create()
    environ = dict(os.environ, DATABASE_URL=db.url, JWT_SECRET=JWT_SECRET, RUST_LOG="warn")
    seed_cmd = [binary, "seed", "--users", str(CFG["users"]), "--avg-degree", str(CFG["avg_degree"]),
                "--seed", str(CFG["seed"])]
    log(f"{db.label}: {shlex.join(['community-gateway'] + seed_cmd[1:])}")
    t0 = time.monotonic()
    out, err = check(seed_cmd, env=environ, timeout=3600, both=True)
    res["seed_s"] = time.monotonic() - t0
    report = [l for l in (out + err).splitlines() if l.strip()]
    res["seed_report"] = report[-1].strip() if report else ""
    log(f"{db.label}: seeded in {res['seed_s']:.1f} s")
    if db.kind == "postgres":
        res["version"] = db.version()
        db.query("VACUUM ANALYZE")  # as autovacuum would soon after a bulk load
    else:
        res["version"] = "SQLite " + check([floor_tool, "--version"]).strip()
        res["db_bytes"] = db.path.stat().st_size

    wl = make_workload(db, binary, tmp, workdir)
    res["workload"] = {k: v for k, v in wl.items() if k not in ("requests", "files")}
    log(f"{db.label}: T={wl['target']} ({wl['target_degree']} connections), V={wl['viewer']} "
        f"({wl['viewer_mutuals']} mutual, {wl['viewer_degree']} connections)")

    # Statements per request, from the server's own trace.
    log(f"{db.label}: capturing the SQL of each scenario (RUST_LOG=community_gateway::sql=trace)")
    # With the graph cache off: the statements of the SQL path (what a miss or CACHE=off runs),
    # from which the floor is built. The measured server below runs with the cache on.
    tracer = Server(binary, db, workdir / "server-trace.log", "warn,community_gateway::sql=trace", cache="off")
    try:
        traced = trace_statements(tracer, wl, workdir)
    finally:
        tracer.stop()
    res["sql"] = {k: v["counts"] for k, v in traced.items()}
    res["sql_text"] = {k: v["statements"] for k, v in traced.items()}
    res["bytes"] = {k: v["bytes"] for k, v in traced.items()}

    # The SQL floor.
    bound = r1_bindings(traced["R1"]["statements"], wl, traced["R1"]["body"])
    res["floor_statements"] = len(bound)
    expected = [st["expected_rows"] for st in bound]
    if db.kind == "postgres":
        script = workdir / "r1_floor.pgbench.sql"
        pgbench_script(bound, script)
        got = verify_pg_floor(db, script, bound)
        res["explain"] = pg_explain(db, bound, workdir)
    else:
        script = workdir / "r1_floor.sqlite.json"
        script.write_text(json.dumps({"statements": [{"sql": s["sql"], "params": s["params"]} for s in bound]}, indent=1))
        got = json.loads(check([floor_tool, "--db", str(db.path), "--spec", str(script), "--verify"]))["rows"]
    res["floor_rows"] = {"expected": expected, "got": got}
    if got != expected:
        raise RuntimeError(f"{db.label}: the floor script's row counts {got} differ from R1's {expected} ({script})")
    log(f"{db.label}: floor script verified, rows per statement {got} ({script.name})")

    server = Server(binary, db, workdir / "server.log", "warn")
    res["pool_size"] = CFG["pool_size"]
    rss_idle = (proc_status(server.pid, "VmHWM") or 0) / 1024
    try:
        # Single-client cost of each R1 statement (the SQL floor's profile).
        if db.kind == "postgres":
            res["profile_ms"] = run_pgbench(db, script, 1, 3, workdir, "profile", server.pid, profile=True)
        else:
            res["profile_ms"] = json.loads(check([floor_tool, "--db", str(db.path), "--spec", str(script),
                                                  "--profile", "0.5"]))["mean_ms"]

        pg_cap = None
        if db.kind == "postgres":
            total, used = db.max_connections()
            pg_cap = max(4, min(CFG["pgbench_max_clients"], total - used - 10))
            res["pg_max_connections"] = total

        def one(scenario, conns, duration, tag):
            if scenario == "floor":
                if db.kind == "postgres":
                    return run_pgbench(db, script, min(conns, pg_cap), duration, workdir, tag, server.pid)
                return run_sqlite_floor(floor_tool, db, script, conns, duration, server.pid)
            return run_wrk(server, db, wl["files"][scenario], conns, duration, workdir, tag)

        runs = []
        for i, conns in enumerate(CFG["concurrency"]):
            for sc in SCENARIOS:
                if i == 0 and CFG["warmup"] > 0:
                    # Each scenario's warm-up right before its first run, at the first
                    # concurrency: the server's peak RSS (VmHWM, read after every run) then
                    # grows in the table's order and shows which scenario raised it.
                    w = one(sc, conns, CFG["warmup"], f"warmup_{sc}")
                    if w["errors"]:
                        log(f"{db.label}: warm-up {sc}: {w['errors']} errors")
                r = one(sc, conns, CFG["duration"], f"{sc}_c{conns}")
                r.update(scenario=sc, concurrency=conns)
                runs.append(r)
                log(f"{db.label}: {sc:7s} c={conns:<3d} {r['rps']:9.1f} req/s  p50 {r['p50_ms']:7.2f} ms  "
                    f"p99 {r['p99_ms']:7.2f} ms  errors {r['errors']}  cpu {r['cpu']}")
        res["runs"] = runs
        res["rss_mb"] = (proc_status(server.pid, "VmHWM") or 0) / 1024
        res["rss_idle_mb"] = rss_idle
        log(f"{db.label}: server peak RSS (VmHWM) {res['rss_mb']:.1f} MB")
    finally:
        server.stop()
    db.drop()
    CLEANUPS.remove(db.drop)
    return res


# ---------------------------------------------------------------------------------------------
# Report


def fmt(v, digits=1):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


def sql_per_req(res, sc):
    if sc == "floor":
        return str(res["floor_statements"])
    counts = res["sql"].get(sc)
    if not counts:
        return "—"
    lo, hi = min(counts), max(counts)
    if lo == hi:
        return str(lo)
    return f"{sum(counts) / len(counts):.1f} ({lo}–{hi})"


def cpu_ms(r):
    """CPU time per request of the serving path (server + database), in ms: less sensitive to
    what else runs on the machine than req/s."""
    return (r["cpu"]["server"] + r["cpu"]["db"]) / 100 / max(r["rps"], 1e-9) * 1000


def get_run(res, sc, c):
    for r in res["runs"]:
        if r["scenario"] == sc and r["concurrency"] == c:
            return r
    return None


def targets(results):
    rows = []
    by = {r["backend"]: r for r in results}
    cs = CFG["concurrency"]

    def mark(ok):
        return "met" if ok else "**MISSED**"

    for kind in ("postgres", "sqlite"):
        if kind not in by:
            continue
        res = by[kind]
        ratios = [(c, get_run(res, "R1", c)["rps"] / max(1e-9, get_run(res, "floor", c)["rps"])) for c in cs]
        ok = all(v >= 0.70 for _, v in ratios)
        rows.append((f"R1 ≥ 70 % of the SQL floor ({res['label']})",
                     ", ".join(f"c={c}: {v * 100:.0f} %" for c, v in ratios), mark(ok)))
    for kind in ("postgres", "sqlite"):
        if kind not in by:
            continue
        res = by[kind]
        g2 = max(res["sql"]["G2"])
        rows.append((f"G2 ≤ 5 SQL statements ({res['label']})", f"{g2}", mark(g2 <= 5)))
        ratios = [(c, get_run(res, "G2", c)["p50_ms"] / max(1e-9, get_run(res, "G1", c)["p50_ms"])) for c in cs]
        rows.append((f"G2 p50 ≤ 5 × G1 p50 ({res['label']})",
                     ", ".join(f"c={c}: {v:.1f}×" for c, v in ratios), mark(all(v <= 5 for _, v in ratios))))
    errs = sum(r["errors"] for res in results for r in res["runs"])
    rows.append(("0 errors (non-2xx, GraphQL errors, socket errors, failed SQL transactions)", str(errs), mark(errs == 0)))
    if "postgres" in by and 32 in cs:
        res = by["postgres"]
        for sc in ("R1", "G1"):
            p99 = get_run(res, sc, 32)["p99_ms"]
            rows.append((f"{sc} p99 at 32 connections < 25 ms (PostgreSQL)", f"{p99:.1f} ms", mark(p99 < 25)))
    for res in results:
        over = next((r for r in res["runs"] if r.get("rss_mb", 0) >= 100), None)
        where = f" (first over 100 MB after {over['scenario']} at c={over['concurrency']})" if over else ""
        rows.append((f"server peak RSS < 100 MB ({res['label']})", f"{res['rss_mb']:.0f} MB{where}",
                     mark(res["rss_mb"] < 100)))
    return rows


SC_DESC = {
    "healthz": "HTTP floor: GET /healthz",
    "floor": "SQL floor: R1's statements",
    "R1": "R1 REST, popular user, viewer V",
    "R2": "R2 REST, random target/offset/mutual/viewer",
    "G1": "G1 GraphQL, R1's page, all fields",
    "G2": "G2 GraphQL, users(ids: 50) pages",
    "G3": "G3 GraphQL, 10 × 10 nested",
}


def render(results, meta):
    L = []
    L.append(f"### {meta['date']} · `{meta['commit']}`{meta['dirty']}")
    L.append("")
    L.append(f"- command: `{meta['command']}`")
    L.append(f"- machine: {meta['nproc']} cores ({meta['cpu']}), {meta['mem']}, {meta['kernel']}; "
             f"{meta['rustc']}; {meta['versions']}; {meta['wrk']}; {meta['pgbench']}")
    L.append(f"- load: {meta['duration']:g} s per run; each scenario warmed up {meta['warmup']:g} s before its first run; "
             f"wrk {CFG['wrk_threads']} threads, keep-alive connections = concurrency; server pool "
             f"{('`DB_POOL_SIZE=' + CFG['pool_size'] + '`') if CFG['pool_size'] else 'default (16; SQLite: 2 × cores)'}; machine load average before the run {meta['load_before']:.2f}")
    for res in results:
        w = res["workload"]
        L.append(f"- {res['label']}: seed `--users {CFG['users']} --avg-degree {CFG['avg_degree']} --seed {CFG['seed']}` "
                 f"took **{res['seed_s']:.1f} s** ({res['seed_report']}); T = user {w['target']} "
                 f"({w['target_degree']} connections), V = user {w['viewer']} ({w['viewer_mutuals']} mutual with T, "
                 f"{w['viewer_degree']} connections{', connected to T' if w['viewer_connected'] else ''}); "
                 f"server RSS {res['rss_idle_mb']:.0f} MB at start, peak (VmHWM) **{res['rss_mb']:.0f} MB**")
    L.append("")
    L.append("Columns: latency as wrk measures it (pgbench's per-transaction log, sqlite-floor's own clock for "
             "the SQL floor); errors = non-2xx + GraphQL `errors` + socket errors/timeouts (failed transactions "
             "for the floor); SQL/req = statements in the server's trace for one request (min–max over 5 runs, "
             "over 40 random requests for R2) · statements per request under load from /metrics; CPU in % of one "
             "core (200 = the whole machine), `other` = everything else on the machine, `steal` = what the hypervisor "
             "gave other virtual machines (a run with much of it had a smaller machine than its neighbours); CPU ms/req = (server + DB) CPU "
             "time per request (for the floor: the database's per transaction); VmHWM read after each run.")
    L.append("")
    L.append("Targets:")
    L.append("")
    L.append("| target | measured | |")
    L.append("|---|---|---|")
    for name, value, status in targets(results):
        L.append(f"| {name} | {value} | {status} |")
    L.append("")
    for res in results:
        L.append(f"**{res['label']}** ({res['version']})")
        L.append("")
        L.append("| scenario | conc. | req/s | p50 ms | p99 ms | max ms | errors | SQL/req trace · load "
                 "| CPU % server / DB / load gen. / other / steal | CPU ms/req | server VmHWM MB | load avg |")
        L.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for c in CFG["concurrency"]:
            for sc in SCENARIOS:
                r = get_run(res, sc, c)
                name = SC_DESC[sc]
                conc = str(c)
                if sc == "floor":
                    tool = "pgbench -M prepared" if res["backend"] == "postgres" else "sqlite-floor"
                    name += f" ({tool})"
                    if r["clients"] != c:
                        conc = f"{c} ({r['clients']} clients)"
                cpu = r["cpu"]
                db_cpu = str(cpu["db"]) if res["backend"] == "postgres" or sc == "floor" else "(in server)"
                load_cpu = "—" if (sc == "floor" and res["backend"] == "sqlite") else str(cpu["loadgen"])
                sql = sql_per_req(res, sc)
                if r.get("sql_under_load") is not None:
                    sql += f" · {r['sql_under_load']:.2f}"
                rss = f"{r['rss_mb']:.0f}" if r.get("rss_mb") else "—"
                L.append(f"| {name} | {conc} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                         f"{r['max_ms']:.1f} | {r['errors']} | {sql} | "
                         f"{cpu['server']} / {db_cpu} / {load_cpu} / {cpu['other']} / {cpu.get('steal', 0)} | {cpu_ms(r):.2f} | {rss} | "
                         f"{r['load']:.1f} |")
        L.append("")
        L.append("| ratio | " + " | ".join(f"c={c}" for c in CFG["concurrency"]) + " |")
        L.append("|---|" + "--:|" * len(CFG["concurrency"]))
        def ratio_row(label, fn):
            L.append(f"| {label} | " + " | ".join(fn(c) for c in CFG["concurrency"]) + " |")
        ratio_row("R1 req/s ÷ SQL-floor tx/s", lambda c: f"{get_run(res, 'R1', c)['rps'] / get_run(res, 'floor', c)['rps']:.2f}")
        ratio_row("same, CPU-normalized: floor CPU ms/tx ÷ R1 CPU ms/req",
                  lambda c: f"{cpu_ms(get_run(res, 'floor', c)) / cpu_ms(get_run(res, 'R1', c)):.2f}")
        ratio_row("R1 req/s ÷ /healthz req/s", lambda c: f"{get_run(res, 'R1', c)['rps'] / get_run(res, 'healthz', c)['rps']:.3f}")
        ratio_row("G1 req/s ÷ R1 req/s", lambda c: f"{get_run(res, 'G1', c)['rps'] / get_run(res, 'R1', c)['rps']:.2f}")
        ratio_row("G2 p50 ÷ G1 p50", lambda c: f"{get_run(res, 'G2', c)['p50_ms'] / get_run(res, 'G1', c)['p50_ms']:.2f}")
        ratio_row("G2 p99 ÷ G1 p99", lambda c: f"{get_run(res, 'G2', c)['p99_ms'] / get_run(res, 'G1', c)['p99_ms']:.2f}")
        L.append("")
        prof = res.get("profile_ms") or []
        rows = res["floor_rows"]["got"]
        names = []
        for s in res["sql_text"]["R1"]:
            if s.startswith("SELECT s.connection_enabled"):
                names.append("gates (settings, target, viewer)")
            elif s.startswith("SELECT p.owner_id"):
                names.append("page + count" + (" + statuses" if "connection_requests" in s else "")
                             + " (window functions)")
            elif s.startswith("WITH m AS"):
                names.append("page + counts + statuses (one-owner statement)")
            elif s.startswith("SELECT ut.user_id"):
                names.append("tags of the page's users")
            elif s.startswith("SELECT friend_id AS"):
                names.append("connection statuses")
            else:
                names.append(f"`{s[:40]}…`")
        desc = "; ".join(f"{n}: {rows[i]} rows, {prof[i]:.3f} ms" if i < len(prof) else f"{n}: {rows[i]} rows"
                         for i, n in enumerate(names))
        tool = "pgbench -c 1 -r" if res["backend"] == "postgres" else "sqlite-floor --profile"
        L.append(f"R1's statements, single client ({tool}): {desc}.")
        if res.get("explain"):
            e = res["explain"]
            L.append(f"EXPLAIN ANALYZE of the page statement for T: {fmt(e['execution_ms'], 2)} ms execution "
                     f"({fmt(e['planning_ms'], 2)} ms planning); it reads {fmt(e['index_entries'])} index "
                     f"entries (T has {fmt(res['workload']['target_degree'])} connections, V "
                     f"{fmt(res['workload']['viewer_degree'])}) to return 20 rows.")
        L.append(f"Response sizes: " + ", ".join(f"{k} {v:,} B" for k, v in res["bytes"].items() if k != "healthz") + ".")
        L.append("")
    return "\n".join(L) + "\n"


SECTION_INTRO = """Written by `bench/run` (see bench/README.md): on PostgreSQL and SQLite, the release server is
driven with wrk at 8, 32 and 128 connections next to two floors measured in the same run: the
HTTP floor (`/healthz`) and the SQL floor (the exact statements the server runs for R1, with the
values it binds: pgbench `-M prepared` on PostgreSQL, `bench/lib/sqlite-floor` on SQLite). Other
work shares the 2-core machine, so compare ratios within one run rather than absolute numbers
across runs; the `other` CPU column shows how much of the machine something else took. Newest
run first.
"""


def write_results(block):
    path = CFG["results"]
    if str(path) == "/dev/null":
        return
    text = path.read_text() if path.exists() else ""
    lines = text.splitlines(keepends=True)
    start = next((i for i, l in enumerate(lines) if l.rstrip("\n") == SECTION), None)
    if start is None:
        # New section: above "## Import (issue 2)" (or any other section), under a title line.
        new = SECTION + "\n\n" + SECTION_INTRO + "\n" + block + "\n"
        first_section = next((i for i, l in enumerate(lines) if l.startswith("## ")), None)
        if first_section is None:
            if not text.strip():
                text = "# Benchmark results\n\n" + new
            else:
                text = text.rstrip("\n") + "\n\n" + new
        else:
            text = "".join(lines[:first_section]) + new + "".join(lines[first_section:])
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        body = lines[start + 1:end]
        first_run = next((i for i, l in enumerate(body) if l.startswith("### ")), None)
        if first_run is None:
            new_body = body + (["\n"] if body and body[-1].strip() else []) + [block, "\n"]
        else:
            new_body = body[:first_run] + [block, "\n"] + body[first_run:]
        text = "".join(lines[:start + 1]) + "".join(new_body) + "".join(lines[end:])
    path.write_text(text)
    log(f"wrote {path}")


# ---------------------------------------------------------------------------------------------


def main():
    started = datetime.datetime.now(datetime.timezone.utc)
    tmp = Path(tempfile.mkdtemp(prefix="cg-bench-"))
    CLEANUPS.append(lambda: None if CFG["keep"] else shutil.rmtree(tmp, ignore_errors=True))
    log(f"work directory {tmp}" + (" (kept: BENCH_KEEP=1)" if CFG["keep"] else ""))
    load_before = loadavg()
    for tool in ("wrk", "psql", "pgbench", "cargo"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} is not installed (bench/run installs wrk and pgbench; run it through bench/run)")

    # What is built: HEAD and the working tree's state now (others may commit during the run).
    commit = first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    _, status, _ = run_bounded(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no",
                                "--", ".", ":(exclude)bench"], 60)  # bench/ does not go into the binary
    changed = [l for l in status.splitlines() if l.strip()]
    # Build.
    if CFG["bin"]:
        src = Path(CFG["bin"])
        log(f"using BENCH_BIN={src} (no build)")
    else:
        log("building the release binary (cargo build --release)")
        t0 = time.monotonic()
        check(["cargo", "build", "--release", "--bin", "community-gateway"], cwd=REPO, timeout=3600)
        log(f"built in {time.monotonic() - t0:.0f} s")
        src = REPO / "target" / "release" / "community-gateway"
    binary = tmp / "community-gateway"
    shutil.copy2(src, binary)  # others may rebuild target/ while the benchmark runs
    bin_sha = hashlib.sha256(binary.read_bytes()).hexdigest()[:12]
    floor_tool = None
    if "sqlite" in CFG["backends"]:
        log("building bench/lib/sqlite-floor")
        check(["cargo", "build", "--release", "--manifest-path", str(LIB / "sqlite-floor" / "Cargo.toml")],
              env=dict(os.environ, CARGO_TARGET_DIR=str(REPO / "target" / "bench-tools")), timeout=3600)
        floor_tool = tmp / "sqlite-floor"
        shutil.copy2(REPO / "target" / "bench-tools" / "release" / "sqlite-floor", floor_tool)

    results = []
    for kind in CFG["backends"]:
        Backend = Postgres if kind == "postgres" else Sqlite
        results.append(bench_backend(Backend, str(binary), str(floor_tool) if floor_tool else None, tmp))

    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    cpu_model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    set_vars = [f"{k}={shlex.quote(v)}" for k, v in sorted(os.environ.items())
                if k.startswith("BENCH_") and k not in ("BENCH_REQUESTS", "BENCH_WRK_OUT")]
    meta = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit if not CFG["bin"] else f"{commit}?",
        "dirty": (f" + uncommitted changes in {len(changed)} tracked files" if changed else "")
                 + (f" (BENCH_BIN {CFG['bin']}" if CFG["bin"] else " (built at the start of the run")
                 + f"; binary sha256 {bin_sha}…)",
        "command": " ".join(set_vars + ["bench/run"] + sys.argv[1:]),
        "nproc": NCPU, "cpu": cpu_model, "mem": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": "Linux " + os.uname().release,
        "rustc": first_line(["rustc", "-V"]),
        "versions": ", ".join(r["version"] for r in results) + (
            " (bundled by libsqlite3-sys in both the server and sqlite-floor)" if floor_tool else ""),
        "wrk": first_line(["wrk", "-v"]).split(" Copyright")[0],
        "pgbench": first_line(["pgbench", "--version"]),
        "duration": CFG["duration"], "warmup": CFG["warmup"], "load_before": load_before,
    }
    block = render(results, meta)
    (tmp / "results.json").write_text(json.dumps({"meta": meta, "results": [
        {k: v for k, v in r.items()} for r in results]}, indent=1, default=str))
    print()
    print(block)
    write_results(block)


if __name__ == "__main__":
    try:
        main()
    except SystemExit as exc:
        if exc.code not in (0, None):
            print(f"bench: {exc.code}", file=sys.stderr)
        raise
    except Exception as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        sys.exit(1)
    finally:
        cleanup()
