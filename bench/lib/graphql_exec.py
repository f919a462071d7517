"""The GraphQL execution benchmark (bench/graphql-exec): the compiled path against the
reference executor, in one run, on one database.

Two servers on the same database: `GRAPHQL_COMPILED=true` (the default) and `false` (every
operation on async-graphql). Rounds interleave them so drift on a shared machine hits both.
Per scenario and server: req/s and p99 from wrk (bench/lib/requests.lua checks every answer),
the server's CPU time over the run (utime + stime from /proc), and so CPU µs per request and
per field written (fields = the JSON values of the answer, counted once). Then the plan cache's
hit rate from /metrics, and a verification pass: a third server with GRAPHQL_VERIFY=on answers
every scenario, and must count no difference.

Scenarios (those of the side-by-side run, same documents):
  healthz  GET /healthz (the HTTP floor)
  R1       GET /api/v2/user/T/connections/ as V
  G1       the same page in GraphQL, every User field, tags, status
  G2       users(ids: [50 ids]) x their first 20 connections, every field
  G3       T's first 10 connections x their first 10, every field

Env: BENCH_PG_URL (postgres://postgres@127.0.0.1:5432), BENCH_DB (a database already holding
a community; else one is seeded: BENCH_USERS 100000, BENCH_DEGREE 40, and dropped at the end),
BENCH_BIN (target/release/community-gateway), BENCH_CONC (32), BENCH_DURATION (10),
BENCH_ROUNDS (3).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PG = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
BIN = os.environ.get("BENCH_BIN", str(ROOT / "target/release/community-gateway"))
CONC = int(os.environ.get("BENCH_CONC", "32"))
DUR = int(os.environ.get("BENCH_DURATION", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECRET = "graphql-exec-bench-secret-0123456789"
TICK = os.sysconf("SC_CLK_TCK")

USER_FIELDS = (
    "id username realName avatar extId followingsCounter followersCounter postsCounter "
    "discussionsCounter pollsCounter connectionStatus categoriesCounter dateJoined bio location "
    "locationLatLng positionLatLng dateOfBirth description gender website cover "
    "tags { id type name description color visible visibilityBoost createdAt active deleted } "
    "reputation communityBadge regApproved deleted companyName companyRole"
)


def psql(db_url, sql):
    out = subprocess.run(["psql", db_url, "-qAt", "-c", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def http(port, method, path, token=None, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=body.encode() if body else None)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if body:
        req.add_header("Content-Type", "application/json")
        req.add_header("Accept", "application/json")
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.status, resp.read()


def count_fields(value):
    """JSON values written below `data` (each object key's value and each list item)."""
    if isinstance(value, dict):
        return sum(1 + count_fields(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_fields(v) for v in value)
    return 0


class Server:
    def __init__(self, db_url, port, env, log):
        self.port = port
        full = dict(os.environ, DATABASE_URL=db_url, JWT_SECRET=SECRET, BIND=f"127.0.0.1:{port}",
                    RUST_LOG="warn", **env)
        self.proc = subprocess.Popen([BIN, "serve", "--no-demo"], env=full, stdout=log, stderr=log)
        for _ in range(240):
            try:
                if http(port, "GET", "/readyz")[0] == 200:
                    return
            except Exception:
                time.sleep(0.5)
        raise RuntimeError(f"server on {port} did not become ready")

    def metrics(self):
        return http(self.port, "GET", "/metrics")[1].decode()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def metric(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def wrk(port, req_file, tmp, tag, duration):
    out = tmp / f"wrk-{tag}.json"
    env = dict(os.environ, BENCH_REQUESTS=str(req_file), BENCH_WRK_OUT=str(out))
    subprocess.run(["wrk", "-t2", f"-c{CONC}", f"-d{duration}s", "--timeout", "10s", "-s",
                    str(HERE / "requests.lua"), f"http://127.0.0.1:{port}"],
                   env=env, check=True, capture_output=True)
    return json.loads(out.read_text())


def main():
    tmp = Path(tempfile.mkdtemp(prefix="graphql-exec-"))
    own_db = "BENCH_DB" not in os.environ
    dbname = os.environ.get("BENCH_DB", f"cg_exec_{int(time.time())}_{os.getpid()}")
    db_url = f"{PG}/{dbname}"
    log = open(tmp / "servers.log", "w")
    servers = []
    try:
        if own_db:
            psql(f"{PG}/postgres", f"CREATE DATABASE {dbname}")
            users, degree = os.environ.get("BENCH_USERS", "100000"), os.environ.get("BENCH_DEGREE", "40")
            print(f"# seeding {users} users, average degree {degree}", flush=True)
            subprocess.run([BIN, "seed", "--users", users, "--avg-degree", degree, "--seed", "7"],
                           env=dict(os.environ, DATABASE_URL=db_url, JWT_SECRET=SECRET), check=True,
                           capture_output=True)
            psql(db_url, "VACUUM ANALYZE")
        # T: the best-connected user with at most 600 connections; V: T's connection sharing the
        # most connections with T; IDS: T and the 49 lowest other ids with connections.
        t = int(psql(db_url, "SELECT user_id FROM connections GROUP BY user_id HAVING count(*) <= 600 "
                             "ORDER BY count(*) DESC, user_id LIMIT 1"))
        v = int(psql(db_url, f"SELECT c.friend_id FROM connections c JOIN connections m ON m.user_id = c.friend_id "
                             f"JOIN connections n ON n.user_id = {t} AND n.friend_id = m.friend_id "
                             f"WHERE c.user_id = {t} GROUP BY c.friend_id ORDER BY count(*) DESC, c.friend_id LIMIT 1"))
        ids = [t] + [int(x) for x in psql(db_url, f"SELECT DISTINCT user_id FROM connections WHERE user_id <> {t} "
                                                  f"ORDER BY user_id LIMIT 49").split()]
        token = subprocess.run([BIN, "token", "--user", str(v)], env=dict(os.environ, DATABASE_URL=db_url, JWT_SECRET=SECRET),
                               check=True, capture_output=True, text=True).stdout.split()[-1]
        documents = {
            "G1": (f"query G1($id: ID!) {{ user(id: $id) {{ connections(limit: 20) {{ count results {{ {USER_FIELDS} }} }} }} }}",
                   {"id": str(t)}),
            "G2": (f"query G2($ids: [ID!]!) {{ users(ids: $ids) {{ id connections(limit: 20) {{ count results {{ {USER_FIELDS} }} }} }} }}",
                   {"ids": [str(i) for i in ids]}),
            "G3": (f"query G3($id: ID!) {{ user(id: $id) {{ connections(limit: 10) {{ count results {{ {USER_FIELDS} "
                   f"connections(limit: 10) {{ count results {{ {USER_FIELDS} }} }} }} }} }} }}", {"id": str(t)}),
        }
        requests = {"healthz": ("GET", "/healthz", "-", "-"),
                    "R1": ("GET", f"/api/v2/user/{t}/connections/", f"Bearer {token}", "-")}
        for name, (query, variables) in documents.items():
            requests[name] = ("POST", "/graphql", f"Bearer {token}", json.dumps({"query": query, "variables": variables}))
        files = {}
        for name, line in requests.items():
            files[name] = tmp / f"{name}.tsv"
            files[name].write_text("\t".join(line) + "\n")

        compiled = Server(db_url, 18201, {}, log)
        reference = Server(db_url, 18202, {"GRAPHQL_COMPILED": "false"}, log)
        servers += [compiled, reference]
        # The answers: equal on both servers, and their field counts.
        fields = {}
        for name, (method, path, auth, body) in requests.items():
            answers = []
            for server in (compiled, reference):
                for _ in range(2):  # the second answer of a document is the plan's
                    status, data = http(server.port, method, path, auth[7:] if auth != "-" else None,
                                        body if body != "-" else None)
                    assert status == 200, (name, status)
                answers.append(data)
            # (REST links name the server's own port: only the GraphQL answers are compared.)
            assert method == "GET" or answers[0] == answers[1], f"{name}: the executors differ"
            try:
                doc = json.loads(answers[0])
                fields[name] = count_fields(doc.get("data", doc) if isinstance(doc, dict) else doc)
            except ValueError:  # /healthz answers plain text
                fields[name] = 0
        print(f"# target {t} viewer {v}; fields per answer: {fields}", flush=True)

        results = {}
        for round_ in range(ROUNDS):
            for name in requests:
                pairs = [("compiled", compiled)] if name in ("healthz", "R1") else [("compiled", compiled), ("reference", reference)]
                for label, server in pairs:
                    before = cpu_seconds(server.proc.pid)
                    out = wrk(server.port, files[name], tmp, f"{name}-{label}-{round_}", DUR)
                    cpu = cpu_seconds(server.proc.pid) - before
                    bad = out["bad_status"] + out["bad_graphql"] + out["err_read"] + out["err_timeout"]
                    assert bad == 0, (name, label, out)
                    results.setdefault((name, label), []).append((out["requests"] / (out["duration_us"] / 1e6),
                                                                 out["lat_p99_us"] / 1000, cpu, out["requests"]))
        text = compiled.metrics()
        hits = metric(text, 'gateway_graphql_plan_cache_total{result="hit"}')
        misses = metric(text, 'gateway_graphql_plan_cache_total{result="miss"}')
        falls = metric(text, 'gateway_graphql_executions_total{path="fallback"}')

        # Verification: every scenario on a GRAPHQL_VERIFY=on server.
        verify = Server(db_url, 18203, {"GRAPHQL_VERIFY": "on"}, log)
        servers.append(verify)
        for name in ("G1", "G2", "G3"):
            wrk(verify.port, files[name], tmp, f"{name}-verify", max(3, DUR // 2))
        vtext = verify.metrics()
        differences = sum(metric(vtext, f'gateway_graphql_verify_differences_total{{part="{p}"}}')
                          for p in ("status", "headers", "body"))
        verified = metric(vtext, 'gateway_graphql_executions_total{path="compiled"}')

        def median(xs):
            xs = sorted(xs)
            return xs[len(xs) // 2]

        print("\n| scenario | executor | req/s | p99 ms | CPU µs / request | fields / answer | CPU µs / field |")
        print("|---|---|--:|--:|--:|--:|--:|")
        summary = {}
        for (name, label), runs in results.items():
            rps = median([r[0] for r in runs])
            p99 = median([r[1] for r in runs])
            cpu_us = sum(r[2] for r in runs) * 1e6 / max(1, sum(r[3] for r in runs))
            per_field = cpu_us / fields[name] if fields[name] else 0
            summary[(name, label)] = rps
            print(f"| {name} | {label} | {rps:,.0f} | {p99:.1f} | {cpu_us:,.0f} | {fields[name]:,} | "
                  f"{per_field:.3f} |")
        print()
        g1, r1, hz = summary[("G1", "compiled")], summary[("R1", "compiled")], summary[("healthz", "compiled")]
        print(f"- G1 ÷ R1 throughput: **{g1 / r1:.2f}** (reference executor: {summary[('G1', 'reference')] / r1:.2f})")
        print(f"- R1 ÷ /healthz: **{r1 / hz:.2f}**")
        for name in ("G1", "G2", "G3"):
            print(f"- {name} compiled ÷ reference: {summary[(name, 'compiled')] / summary[(name, 'reference')]:.1f}×")
        print(f"- plan cache on the compiled server: {hits:,.0f} hits, {misses:,.0f} misses "
              f"(hit rate {hits / max(1, hits + misses):.4%}), {falls:,.0f} fallbacks")
        print(f"- GRAPHQL_VERIFY=on pass: {verified:,.0f} compiled answers compared with the reference's, "
              f"**{differences:,.0f} differences**")
        print(f"- machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end; "
              f"c={CONC}, {DUR} s x {ROUNDS} rounds, interleaved")
        return 0 if differences == 0 else 1
    finally:
        for s in servers:
            try:
                s.stop()
            except Exception:
                pass
        if own_db:
            subprocess.run(["psql", f"{PG}/postgres", "-qAt", "-c", f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"],
                           capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
