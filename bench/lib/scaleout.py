"""The scale-out benchmark (bench/scaleout.sh): R1 with the reads on the primary and on a hot
standby, cache on and off, and one against two gateways behind HAProxy, all in one run.

It makes a PostgreSQL primary and a streaming standby of its own (initdb + pg_basebackup -R,
free loopback ports), seeds the primary, and loads each setup with wrk for the same time,
writing a Markdown table to stdout and to bench/scaleout/RESULTS.md (with --write).
"""

import argparse
import json
import os
import pathlib
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
LIB = ROOT / "bench" / "lib"
JWT_SECRET = "scaleout-bench-secret-0123456789"
CHILDREN = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def as_postgres(cmd):
    return (["runuser", "-u", "postgres", "--"] + cmd) if os.geteuid() == 0 else cmd


def pg_bin():
    versions = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not versions:
        sys.exit("no initdb under /usr/lib/postgresql")
    return versions[-1].parent


def psql(port, sql):
    return run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-Atc", sql]).strip()


class Cluster:
    def __init__(self, tmp, name, bin_dir):
        self.dir = pathlib.Path(tmp) / name
        self.port = free_port()
        self.bin = bin_dir

    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def start(self):
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
        run(as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.dir), "-o", opts,
                         "-l", str(self.dir) + ".log", "-w", "start"]))

    def stop(self):
        subprocess.run(as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.dir), "-m", "immediate", "stop"]),
                       capture_output=True)


def release_binary(tag):
    """Builds the release binary (`cargo build --release`) and returns its path (under
    CARGO_TARGET_DIR when set)."""
    print(f"[{tag}] building the release binary", file=sys.stderr)
    subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "community-gateway"], cwd=ROOT, check=True)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return str(target / "release" / "community-gateway")


def spawn(cmd, **kw):
    proc = subprocess.Popen(cmd, start_new_session=True, **kw)
    CHILDREN.append(proc)
    return proc


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    if proc in CHILDREN:
        CHILDREN.remove(proc)


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200")


def gateway(binary, primary, standby, cache, log):
    port = free_port()
    env = dict(os.environ, DATABASE_URL=primary.url(), JWT_SECRET=JWT_SECRET, BIND=f"127.0.0.1:{port}",
               CACHE=cache, NO_DEMO="true", RUST_LOG="warn", SHUTDOWN_DRAIN_MS="0")
    if standby:
        env["READ_DATABASE_URL"] = standby.url()
    proc = spawn([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz")
    except RuntimeError:
        sys.stderr.write(pathlib.Path(log).read_text()[-3000:])
        raise
    if standby:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz").read().decode()
        if "serving reads" not in body:
            raise RuntimeError(f"the standby is not serving reads: {body}")
    return proc, port


def balancer(ports, log):
    port, stats = free_port(), free_port()
    a, b = (ports + ports)[:2]  # one gateway: the same server twice
    env = dict(os.environ, LB_BIND=f"127.0.0.1:{port}", LB_STATS_BIND=f"127.0.0.1:{stats}",
               GATEWAY_A=f"127.0.0.1:{a}", GATEWAY_B=f"127.0.0.1:{b}")
    proc = spawn(["haproxy", "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")], env=env,
                 stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            csv = urllib.request.urlopen(f"http://127.0.0.1:{stats}/stats;csv", timeout=1).read().decode()
            if sum(1 for line in csv.splitlines() if ",UP," in line and "BACKEND" not in line) >= 2:
                return proc, port
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("HAProxy did not bring its servers up")


def wrk(port, requests_file, conns, seconds, workdir, tag):
    out = pathlib.Path(workdir) / f"wrk_{tag}.json"
    env = dict(os.environ, BENCH_REQUESTS=str(requests_file), BENCH_WRK_OUT=str(out))
    run(["wrk", "-t", "2", "-c", str(conns), "-d", f"{seconds}s", "--timeout", "10s",
         "-s", str(LIB / "requests.lua"), f"http://127.0.0.1:{port}"], env=env)
    r = json.loads(out.read_text())
    errors = sum(r[k] for k in ("bad_status", "bad_graphql", "err_connect", "err_read", "err_write", "err_timeout"))
    return {"rps": r["requests"] / (r["duration_us"] / 1e6), "p99_ms": r["lat_p99_us"] / 1000, "errors": errors}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--write", action="store_true", help="write bench/scaleout/RESULTS.md")
    args = parser.parse_args()

    binary = release_binary("scaleout")

    tmp = tempfile.mkdtemp(prefix="scaleout-")
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
    bin_dir = pg_bin()
    primary, standby = Cluster(tmp, "primary", bin_dir), Cluster(tmp, "standby", bin_dir)
    try:
        run(as_postgres([str(bin_dir / "initdb"), "-D", str(primary.dir), "-U", "postgres", "--auth=trust",
                         "-E", "UTF8", "--no-sync"]))
        primary.start()
        run(as_postgres([str(bin_dir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U",
                         "postgres", "-D", str(standby.dir), "-R", "-X", "stream", "--no-sync"]))
        standby.start()
        print(f"[scaleout] seeding {args.users} users on the primary", file=sys.stderr)
        env = dict(os.environ, DATABASE_URL=primary.url(), JWT_SECRET=JWT_SECRET)
        run([binary, "seed", "--users", str(args.users), "--quiet"], env=env)
        lsn = psql(primary.port, "SELECT pg_current_wal_lsn()")
        while psql(standby.port, f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'") != "t":
            time.sleep(0.2)
        target_user = psql(primary.port,
                           "SELECT user_id FROM connections GROUP BY user_id ORDER BY COUNT(*) DESC, 1 LIMIT 1")
        token = run([binary, "token", "--user", "1", "--ttl", "2h"], env=env).strip()
        rng = random.Random(1)
        users = int(psql(primary.port, "SELECT MAX(id) FROM users"))
        requests_file = pathlib.Path(tmp) / "r1.txt"
        # R1 of bench/run (the most connected user's page), and the same route over random
        # users (a mix the cache holds only part of).
        requests_file.write_text(f"GET\t/api/v2/user/{target_user}/connections/\tBearer {token}\t-\n")
        mixed_file = pathlib.Path(tmp) / "r1-mixed.txt"
        mixed_file.write_text("".join(
            f"GET\t/api/v2/user/{rng.randint(1, users)}/connections/\tBearer {token}\t-\n" for _ in range(5000)))

        rows = []

        def measure(label, port, file):
            result = wrk(port, file, args.connections, args.seconds, tmp, label.replace(" ", "_"))
            rows.append((label, result))
            print(f"[scaleout] {label}: {result['rps']:,.0f} req/s, p99 {result['p99_ms']:.1f} ms, "
                  f"{result['errors']} errors", file=sys.stderr)

        for cache in ("on", "off"):
            for reads in ("primary", "standby"):
                proc, port = gateway(binary, primary, standby if reads == "standby" else None, cache,
                                     pathlib.Path(tmp) / f"gw-{cache}-{reads}.log")
                measure(f"R1, reads on the {reads}, CACHE={cache}", port, requests_file)
                measure(f"R1 over random users, reads on the {reads}, CACHE={cache}", port, mixed_file)
                stop(proc)
        gateways = [gateway(binary, primary, None, "on", pathlib.Path(tmp) / f"lb-gw{i}.log") for i in range(2)]
        for n in (1, 2):
            lb, port = balancer([p for _, p in gateways[:n]], pathlib.Path(tmp) / f"haproxy{n}.log")
            measure(f"R1 through HAProxy, {n} gateway{'s' if n > 1 else ''}", port, requests_file)
            stop(lb)
        for proc, _ in gateways:
            stop(proc)
    finally:
        for proc in list(CHILDREN):
            stop(proc)
        standby.stop()
        primary.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    cpus = os.cpu_count()
    lines = [
        f"# Scale-out benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"`bench/scaleout.sh --users {args.users} --seconds {args.seconds} --connections {args.connections}`"
        f" on one machine ({cpus} cores): a PostgreSQL primary and a streaming standby of the run's own,"
        " the gateways, HAProxy and wrk all share the cores, so the figures compare setups measured"
        " in the same run, not machines.",
        "",
        "| setup | req/s | p99 ms | errors |",
        "|---|--:|--:|--:|",
    ]
    lines += [f"| {label} | {r['rps']:,.0f} | {r['p99_ms']:.1f} | {r['errors']} |" for label, r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        out = ROOT / "bench" / "scaleout" / "RESULTS.md"
        out.parent.mkdir(exist_ok=True)
        out.write_text(text)


if __name__ == "__main__":
    main()
