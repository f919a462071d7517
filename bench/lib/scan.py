"""The scan-resistance benchmark (bench/scan.sh): the graph cache's hit rate for a hot set of
users while a crawler reads every user's page once, on a real server, and the server's RSS
against `CACHE_MB`.

It makes a fresh PostgreSQL database on BENCH_PG_URL (dropped at the end), seeds it
(`community-gateway seed`), and runs the same sequence on two servers, one after the other:

1. a calibration server with a budget the whole graph fits in: the cache's byte gauge after
   the hot set's warm-up (the hot set's footprint) and after a full scan (the graph's);
2. the measured server, with a budget chosen from those (by default twice the hot set's
   footprint, which must be at most a third of the graph's, so the scan presses on it).

Each server: warm-up of the hot set (uniform over `--hot` user ids, `--hot-conns` keep-alive
connections, for `--warmup` s), a hot-only baseline, then the scan (every user once, shuffled,
`--scan-conns` connections) with the hot set's load running beside it, then a hot-only period
after it. The cache's counters are global, so the hot set's own hit rate is measured in
windows during which nothing else reads: every `--window-every` s the crawler stops handing
out ids, waits until its requests in flight are answered, and the counters are read at the
start and at the end of a `--window` s period in which only the hot set's client is running.
The deltas count the hot set's lookups only, exactly. VmRSS of the server is sampled every
100 ms. Every answer must be a 200 with a JSON page body; any failure fails the run.

Writes a Markdown section to stdout, and to bench/scan/RESULTS.md with --write.
"""

import argparse
import http.client
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from relay import create_database, drop_database, psql
from scaleout import CHILDREN, ROOT, free_port, release_binary, run, spawn, stop, wait_http

JWT_SECRET = "scan-bench-secret-0123456789"
PAGE = "/api/v2/user/{}/connections/"
MIB = 1 << 20
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CACHE = "gateway_cache_"
SQL_API = 'gateway_sql_statements_total{source="api"}'


def log(msg):
    print(f"[scan {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def metrics(port):
    """/metrics as {name with labels: value}."""
    body = NO_PROXY.open(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def delta(m1, m0, name):
    return m1.get(name, 0.0) - m0.get(name, 0.0)


def lookups(m1, m0):
    """(hits, misses) of the cache between two scrapes."""
    return delta(m1, m0, CACHE + "hits_total"), delta(m1, m0, CACHE + "misses_total")


def rate(hits, misses):
    return hits / (hits + misses) if hits + misses else float("nan")


def proc_status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def sketch_bytes(budget):
    """The admission sketch's size for a budget of `budget` bytes (`Admission::new` of
    src/cache/graph.rs: 4 rows of 1-byte counters, `width` = budget ÷ 512 entries rounded up
    to a power of two, at least 1,024; a doorkeeper of 80 bits per counter of a row)."""
    width = 1 << (min(max(budget // 512, 1024), 1 << 24) - 1).bit_length()
    door_bits = 1 << (80 * width - 1).bit_length()
    return 4 * width + door_bits // 8


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(p / 100 * len(values)) - 1))]


class Client:
    """One keep-alive HTTP connection to the server. `get` returns None for a good answer (a
    200 with a JSON page body), else what was wrong. No retries: a failure counts."""

    def __init__(self, port, auth):
        self.port, self.auth, self.conn = port, auth, None

    def get(self, path):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": self.auth} if self.auth else {}
        try:
            self.conn.request("GET", path, headers=headers)
            response = self.conn.getresponse()
            body = response.read()
        except (http.client.HTTPException, OSError) as exc:
            self.conn.close()
            self.conn = None
            return f"{path}: {type(exc).__name__}: {exc}"
        if response.status != 200:
            return f"{path}: HTTP {response.status}: {body[:200]!r}"
        if not (response.getheader("Content-Type") or "").startswith("application/json"):
            return f"{path}: Content-Type {response.getheader('Content-Type')!r}"
        try:
            page = json.loads(body)
        except ValueError:
            return f"{path}: not JSON: {body[:200]!r}"
        if not isinstance(page, dict) or not isinstance(page.get("results"), list) or "count" not in page:
            return f"{path}: not a page: {body[:200]!r}"
        return None


def guarded(client, path):
    """`client.get`, with anything unexpected counted as a failure rather than ending the
    thread (a crawler thread that died would never let the scan finish)."""
    try:
        return client.get(path)
    except Exception as exc:  # noqa: BLE001 - reported as a failed answer
        return f"{path}: {type(exc).__name__}: {exc}"


class Failures:
    def __init__(self):
        self.lock = threading.Lock()
        self.count = 0
        self.samples = []

    def add(self, what):
        with self.lock:
            self.count += 1
            if len(self.samples) < 5:
                self.samples.append(what)


class HotLoad:
    """The hot set's client: `conns` threads, each requesting the page of a user drawn
    uniformly from `ids`, one after the other, until stopped. Latencies are kept per phase."""

    def __init__(self, port, auth, ids, conns, seed, failures):
        self.port, self.auth, self.ids, self.failures = port, auth, ids, failures
        self.counts = [0] * conns
        self.phase = "warm-up"
        self.latency = {}
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.loop, args=(i, seed + i), daemon=True) for i in range(conns)]

    def start(self):
        for t in self.threads:
            t.start()

    def loop(self, slot, seed):
        rng, client = random.Random(seed), Client(self.port, self.auth)
        while not self.done.is_set():
            started = time.perf_counter()
            error = guarded(client, PAGE.format(rng.choice(self.ids)))
            self.latency.setdefault(self.phase, []).append(time.perf_counter() - started)
            self.counts[slot] += 1
            if error:
                self.failures.add(error)

    def requests(self):
        return sum(self.counts)

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(60)


class Crawler:
    """Reads the page of every id of `ids` once, `conns` at a time. `pause` stops handing out
    ids and returns once every request in flight is answered; `resume` goes on."""

    def __init__(self, port, auth, ids, conns, failures):
        self.port, self.auth, self.ids, self.failures = port, auth, ids, failures
        self.cond = threading.Condition()
        self.next = self.inflight = self.answered = 0
        self.paused = False
        self.running = conns
        self.finished = threading.Event()
        self.latency = []
        self.threads = [threading.Thread(target=self.loop, daemon=True) for _ in range(conns)]

    def start(self):
        for t in self.threads:
            t.start()

    def loop(self):
        client = Client(self.port, self.auth)
        while True:
            with self.cond:
                while self.paused:
                    self.cond.wait()
                if self.next >= len(self.ids):
                    self.running -= 1
                    if self.running == 0:
                        self.finished.set()
                    return
                user = self.ids[self.next]
                self.next += 1
                self.inflight += 1
            started = time.perf_counter()
            error = guarded(client, PAGE.format(user))
            self.latency.append(time.perf_counter() - started)
            if error:
                self.failures.add(error)
            with self.cond:
                self.inflight -= 1
                self.answered += 1
                self.cond.notify_all()

    def pause(self):
        with self.cond:
            self.paused = True
            while self.inflight:
                self.cond.wait()

    def resume(self):
        with self.cond:
            self.paused = False
            self.cond.notify_all()


class Sampler:
    """VmRSS of `pid` every 100 ms, and the cache's byte gauge every 500 ms."""

    def __init__(self, pid, port):
        self.pid, self.port = pid, port
        self.rss = []  # (monotonic, kB)
        self.cache_bytes = []  # (monotonic, bytes)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        tick = 0
        while not self.done.is_set():
            kb = proc_status_kb(self.pid, "VmRSS")
            if kb is not None:
                self.rss.append((time.monotonic(), kb))
            if tick % 5 == 0:
                try:
                    self.cache_bytes.append((time.monotonic(), metrics(self.port).get(CACHE + "bytes", 0.0)))
                except OSError:
                    pass
            tick += 1
            self.done.wait(0.1)

    def now_kb(self):
        return proc_status_kb(self.pid, "VmRSS")

    def peak(self, series, t0, t1):
        values = [v for t, v in series if t0 <= t <= t1]
        return max(values) if values else float("nan")

    def stop(self):
        self.done.set()
        self.thread.join(5)


def hot_only(port, hot, seconds):
    """The counters around `seconds` during which only the hot set's client reads, with its
    requests and the time."""
    m0, r0, t0 = metrics(port), hot.requests(), time.monotonic()
    time.sleep(seconds)
    m1, r1, t1 = metrics(port), hot.requests(), time.monotonic()
    return {"m": (m0, m1), "requests": r1 - r0, "seconds": t1 - t0}


def serve(binary, db_url, budget_mb, tmp, label):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(DATABASE_URL=db_url, JWT_SECRET=JWT_SECRET, BIND=f"127.0.0.1:{port}", CACHE="on",
               CACHE_MB=str(budget_mb), NO_DEMO="true", RUST_LOG="warn", SHUTDOWN_DRAIN_MS="0")
    logfile = os.path.join(tmp, f"gw-{label}.log")
    proc = spawn([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=open(logfile, "w"))
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz")
        deadline = time.time() + 30
        while metrics(port).get(CACHE + "serving") != 1:
            if time.time() > deadline:
                raise RuntimeError("the graph cache does not serve (gateway_cache_serving is not 1)")
            time.sleep(0.1)
    except Exception:
        sys.stderr.write(open(logfile).read()[-3000:])
        raise
    return proc, port


def measure(binary, db_url, budget_mb, hot_ids, scan_ids, auth, args, tmp, label):
    """One server with `budget_mb`: warm-up, baseline, scan with windows, after. Returns the
    figures."""
    log(f"{label}: CACHE_MB={budget_mb}")
    proc, port = serve(binary, db_url, budget_mb, tmp, label)
    failures = Failures()
    sampler = Sampler(proc.pid, port)
    out = {"label": label, "budget_mb": budget_mb}
    try:
        time.sleep(1.0)
        out["rss_idle_kb"] = sampler.now_kb()
        hot = HotLoad(port, auth, hot_ids, args.hot_conns, args.seed, failures)
        hot.start()
        time.sleep(args.warmup)
        hot.phase = "baseline"
        out["baseline"] = hot_only(port, hot, args.baseline)
        b0, b1 = out["baseline"]["m"]
        out["hot_bytes"] = b1.get(CACHE + "bytes", 0.0)
        out["rss_warm_kb"] = sampler.now_kb()
        log(f"{label}: warm: {out['hot_bytes'] / MIB:.1f} MiB cached, baseline hit rate "
            f"{100 * rate(*lookups(b1, b0)):.2f} %")

        hot.phase = "scan"
        crawler = Crawler(port, auth, scan_ids, args.scan_conns, failures)
        s0, t_scan0 = metrics(port), time.monotonic()
        hot_scan0 = hot.requests()
        crawler.start()
        windows = []
        while not crawler.finished.wait(args.window_every):
            crawler.pause()
            w0, h0, tw0 = metrics(port), hot.requests(), time.monotonic()
            time.sleep(args.window)
            w1, h1, tw1 = metrics(port), hot.requests(), time.monotonic()
            scanned = crawler.answered
            crawler.resume()
            hits, misses = lookups(w1, w0)
            windows.append({
                "t": tw0 - t_scan0, "seconds": tw1 - tw0, "scanned": scanned, "hits": hits, "misses": misses,
                "sql": delta(w1, w0, SQL_API), "hot_requests": h1 - h0,
                "bytes": w1.get(CACHE + "bytes", 0.0), "entries": w1.get(CACHE + "entries", 0.0),
                "evictions": delta(w1, s0, CACHE + "evictions_total"),
                "not_admitted": delta(w1, s0, CACHE + "not_admitted_total"),
            })
            if len(windows) % 10 == 0:
                log(f"{label}: {scanned:,} scanned, window hit rate {100 * rate(hits, misses):.2f} %, "
                    f"{w1.get(CACHE + 'bytes', 0) / MIB:.1f} MiB cached")
        t_scan1 = time.monotonic()
        s1 = metrics(port)
        hot_scan1 = hot.requests()
        out.update(scan=(s0, s1), scan_s=t_scan1 - t_scan0, windows=windows, scanned=crawler.answered,
                   scan_latency=crawler.latency, hot_scan_requests=hot_scan1 - hot_scan0,
                   full_bytes=s1.get(CACHE + "bytes", 0.0))
        out["rss_scan_peak_kb"] = sampler.peak(sampler.rss, t_scan0, t_scan1)
        out["cache_bytes_peak"] = max(sampler.peak(sampler.cache_bytes, t_scan0, t_scan1),
                                      max((w["bytes"] for w in windows), default=0.0), out["full_bytes"])

        hot.phase = "after"
        out["after"] = hot_only(port, hot, args.baseline)
        hot.stop()
        out["hot_latency"] = hot.latency
        out["final"] = metrics(port)
        out["rss_peak_kb"] = max(kb for _, kb in sampler.rss)
        out["vmhwm_kb"] = proc_status_kb(proc.pid, "VmHWM")
    finally:
        sampler.stop()
        stop(proc)
    out["failures"], out["failure_samples"] = failures.count, failures.samples
    log(f"{label}: scan of {out['scanned']:,} in {out['scan_s']:.1f} s, {len(out['windows'])} windows, "
        f"{failures.count} failures, RSS peak {out['rss_peak_kb'] / 1024:.1f} MiB")
    return out


def machine():
    with open("/proc/meminfo") as f:
        total_kb = int(f.readline().split()[1])
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return total_kb, load


def git_commit():
    commit = run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT).strip()
    dirty = run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT).strip()
    return commit + (" (with uncommitted changes)" if dirty else "")


def pct(x):
    return "n/a" if x != x else f"{100 * x:.2f} %"


def mib(x):
    return f"{x / MIB:.1f}"


def kib_mib(kb):
    return f"{kb / 1024:.1f}"


def render(args, meta, calib, main_run, choice):
    b = main_run
    windows = b["windows"]
    w_rates = [rate(w["hits"], w["misses"]) for w in windows]
    w_hits = sum(w["hits"] for w in windows)
    w_misses = sum(w["misses"] for w in windows)
    w_hot = sum(w["hot_requests"] for w in windows)
    w_sql = sum(w["sql"] for w in windows)
    during = rate(w_hits, w_misses)
    s0, s1 = b["scan"]
    blended = rate(*lookups(s1, s0))
    base = rate(*lookups(b["baseline"]["m"][1], b["baseline"]["m"][0]))
    after = rate(*lookups(b["after"]["m"][1], b["after"]["m"][0]))
    c_windows = calib["windows"]
    c_during = rate(sum(w["hits"] for w in c_windows), sum(w["misses"] for w in c_windows))
    budget = b["budget_mb"] * MIB
    peak_kb = b["rss_scan_peak_kb"]
    overhead_mib = peak_kb / 1024 - b["budget_mb"]
    if not windows:
        raise RuntimeError("the scan ended before its first window: lower --window-every")
    worst = windows[w_rates.index(min(w_rates))]
    met_rate = min(w_rates) >= 0.90
    met_bytes = b["cache_bytes_peak"] <= budget
    hot_lat = b["hot_latency"]

    def hot_row(name, period):
        m0, m1 = period["m"]
        hits, misses = lookups(m1, m0)
        reqs = period["requests"]
        return (f"| {name} | {period['seconds']:.1f} | {reqs:,} | {hits + misses:,.0f} | {pct(rate(hits, misses))} | "
                f"{delta(m1, m0, SQL_API) / max(1, reqs):.3f} |")

    lines = [
        f"## Scan resistance of the graph cache ({meta['date']})",
        "",
        f"Command: `{meta['command']}`. Commit `{meta['commit']}`. Machine: {meta['nproc']} cores, "
        f"{meta['mem_gib']:.1f} GiB RAM, load average {meta['load_before']} before and {meta['load_after']} "
        "after (1, 5, 15 min); PostgreSQL, the server and the Python clients share the cores.",
        "",
        f"Community: `community-gateway seed --users {args.users} --avg-degree {args.avg_degree} --seed "
        f"{args.seed}` ({meta['users']:,} users, {meta['connections']:,} connections: average degree "
        f"{meta['degree']:.1f}). Every request is `GET /api/v2/user/{{id}}/connections/` (the default page "
        f"of 20, anonymous{'' if not meta['auth'] else ': no, with a token'}); each looks up about "
        f"{meta['keys_per_request']:.0f} cache entries (settings, the owner's record and list, the listed users' "
        "records and tags).",
        "",
        f"- **Hot set:** {len(meta['hot_ids']):,} user ids drawn at random (seed {args.seed}), each request picks "
        f"one **uniformly** (no Zipf head to lean on: every hot key is only as popular as the others), "
        f"{args.hot_conns} keep-alive connections, closed loop; {args.warmup:.0f} s of warm-up first.",
        f"- **Scan:** every user's page once ({b['scanned']:,} ids, shuffled), {args.scan_conns} keep-alive "
        f"connections, while the hot set's client keeps running.",
        f"- **Budget: `CACHE_MB={b['budget_mb']}`.** A calibration server with `CACHE_MB={calib['budget_mb']}` "
        f"(everything fits) held {mib(calib['hot_bytes'])} MiB (cache_bytes) after the hot set's warm-up and "
        f"{mib(calib['full_bytes'])} MiB after the full scan. {choice} The scan therefore needs "
        f"{calib['full_bytes'] / budget:.1f}× the budget.",
        f"- **Exact hot-set figures:** every {args.window_every:g} s the crawler stops handing out ids; once "
        f"its requests in flight are answered, the counters are read at the start and at the end of a "
        f"{args.window:g} s window in which only the hot set's client runs. The deltas are the hot set's "
        "lookups and nothing else (the counters are global; nothing but requests looks up the cache). "
        f"{len(windows)} windows during the scan. Hit rate = `gateway_cache_hits_total` ÷ "
        "(hits + `gateway_cache_misses_total`), per cache entry looked up.",
        "",
        "| hot set, phase | seconds | requests | lookups | hit rate | SQL statements / request |",
        "|---|--:|--:|--:|--:|--:|",
        hot_row("baseline: no scan", b["baseline"]),
        f"| **during the scan: {len(windows)} windows, overall** | {sum(w['seconds'] for w in windows):.1f} | "
        f"{w_hot:,.0f} | {w_hits + w_misses:,.0f} | **{pct(during)}** | {w_sql / w_hot if w_hot else float('nan'):.3f} |",
        f"| during the scan: the worst window (t = {worst['t']:.1f} s) | {worst['seconds']:.1f} | "
        f"{worst['hot_requests']:,} | {worst['hits'] + worst['misses']:,.0f} | **{pct(min(w_rates))}** | "
        f"{worst['sql'] / max(1, worst['hot_requests']):.3f} |",
        f"| during the scan: median window | | | | {pct(statistics.median(w_rates)) if w_rates else 'n/a'} | |",
        hot_row("after the scan: no scan", b["after"]),
        f"| calibration (`CACHE_MB={calib['budget_mb']}`, all fits): during its scan, {len(c_windows)} windows | | | | "
        f"{pct(c_during)} | |",
        "",
        f"Goal (issue 21): the hot set's hit rate ≥ 90 % during the scan: **{'met' if met_rate else 'not met'}** "
        f"(worst window {pct(min(w_rates)) if w_rates else 'n/a'}, all windows {pct(during)}).",
        "",
        "| the whole scan (hot set + crawler) | |",
        "|---|--:|",
        f"| duration | {b['scan_s']:.1f} s (with the windows) |",
        f"| crawler | {b['scanned']:,} pages, {b['scanned'] / b['scan_s']:,.0f} /s, p50 "
        f"{1000 * percentile(b['scan_latency'], 50):.1f} ms, p99 {1000 * percentile(b['scan_latency'], 99):.1f} ms |",
        f"| hot set's client meanwhile | {b['hot_scan_requests']:,} requests, {b['hot_scan_requests'] / b['scan_s']:,.0f} /s, "
        f"p50 {1000 * percentile(hot_lat.get('scan', []), 50):.1f} ms, p99 {1000 * percentile(hot_lat.get('scan', []), 99):.1f} ms "
        f"(baseline p50 {1000 * percentile(hot_lat.get('baseline', []), 50):.1f}, p99 "
        f"{1000 * percentile(hot_lat.get('baseline', []), 99):.1f}) |",
        f"| blended hit rate (every lookup of both clients) | {pct(blended)} |",
        f"| `gateway_cache_hits_total` / `_misses_total` | {delta(s1, s0, CACHE + 'hits_total'):,.0f} / "
        f"{delta(s1, s0, CACHE + 'misses_total'):,.0f} |",
        f"| `gateway_cache_evictions_total` | {delta(s1, s0, CACHE + 'evictions_total'):,.0f} |",
        f"| `gateway_cache_not_admitted_total` | {delta(s1, s0, CACHE + 'not_admitted_total'):,.0f} |",
        f"| `gateway_cache_refused_total`, `_resets_total` | {delta(s1, s0, CACHE + 'refused_total'):,.0f}, "
        f"{delta(s1, s0, CACHE + 'resets_total'):,.0f} |",
        f"| SQL statements (api) | {delta(s1, s0, SQL_API):,.0f} |",
        f"| `gateway_cache_entries` at the end | {s1.get(CACHE + 'entries', 0):,.0f} |",
        f"| failed answers (not a 200 with a JSON page), whole run, both servers | {meta['failures']} |",
        "",
        f"| memory (`CACHE_MB={b['budget_mb']}` = {b['budget_mb']} MiB) | MiB |",
        "|---|--:|",
        f"| VmRSS before the warm-up (the process's fixed part) | {kib_mib(b['rss_idle_kb'])} |",
        f"| VmRSS after the warm-up | {kib_mib(b['rss_warm_kb'])} |",
        f"| **VmRSS peak during the scan** (sampled every 100 ms) | **{kib_mib(peak_kb)}** |",
        f"| VmHWM at the end (the kernel's peak) | {kib_mib(b['vmhwm_kb'])} |",
        f"| **overhead = peak − budget** | **{overhead_mib:.1f}** |",
        f"| of which the fixed part (before the warm-up) | {kib_mib(b['rss_idle_kb'])} |",
        f"| `gateway_cache_bytes`: peak during the scan (≤ budget: {'yes' if met_bytes else 'NO'}) | "
        f"{mib(b['cache_bytes_peak'])} |",
        f"| TinyLFU sketch for this budget (outside it; sized as `src/cache/graph.rs` does) | "
        f"{mib(sketch_bytes(budget))} |",
        f"| calibration server (`CACHE_MB={calib['budget_mb']}`, sketch {mib(sketch_bytes(calib['budget_mb'] * MIB))}): "
        f"VmRSS peak with {mib(calib['full_bytes'])} MiB cached | "
        f"{kib_mib(calib['rss_scan_peak_kb'])} (fixed part {kib_mib(calib['rss_idle_kb'])}) |",
        "",
        "Per window during the scan (t from the scan's start; counters of the window alone, then the "
        "scan's running totals):",
        "",
        "| t s | pages scanned | hot requests | lookups | hit rate | SQL / hot request | cache MiB | entries | evictions | not admitted |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for w in windows:
        lines.append(
            f"| {w['t']:.1f} | {w['scanned']:,} | {w['hot_requests']:,} | {w['hits'] + w['misses']:,.0f} | "
            f"{pct(rate(w['hits'], w['misses']))} | {w['sql'] / max(1, w['hot_requests']):.3f} | {mib(w['bytes'])} | "
            f"{w['entries']:,.0f} | {w['evictions']:,.0f} | {w['not_admitted']:,.0f} |")
    summary = {
        "budget_mb": b["budget_mb"], "during": during, "worst": min(w_rates) if w_rates else None,
        "baseline": base, "after": after, "blended": blended, "peak_rss_mib": peak_kb / 1024,
        "overhead_mib": overhead_mib, "met": met_rate and met_bytes,
    }
    return "\n".join(lines) + "\n", summary


def main():
    parser = argparse.ArgumentParser(description="hot-set hit rate of the graph cache during a full scan")
    parser.add_argument("--users", type=int, default=100000)
    parser.add_argument("--avg-degree", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hot", type=int, default=1000, help="users in the hot set")
    parser.add_argument("--hot-conns", type=int, default=4)
    parser.add_argument("--scan-conns", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of hot-set warm-up")
    parser.add_argument("--baseline", type=float, default=5.0, help="seconds of hot-only load before and after the scan")
    parser.add_argument("--window-every", type=float, default=2.0, help="seconds of scan between two windows")
    parser.add_argument("--window", type=float, default=0.3, help="seconds of a hot-only window")
    parser.add_argument("--cache-mb", default="auto",
                        help="budget of the measured server; auto: twice the hot set's footprint (calibrated)")
    parser.add_argument("--calibration-mb", type=int, default=512, help="budget of the calibration server")
    parser.add_argument("--write", action="store_true", help="write bench/scan/RESULTS.md")
    args = parser.parse_args()
    # SIGTERM and SIGHUP unwind like Ctrl-C: the servers are stopped and the database dropped.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda number, _frame: sys.exit(f"stopped by signal {number}"))
    base_url = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    command = "bench/scan.sh" + "".join(f" {a}" for a in sys.argv[1:])

    binary = release_binary("scan")
    total_kb, load_before = machine()
    meta = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "commit": git_commit(), "nproc": os.cpu_count(), "mem_gib": total_kb / (1 << 20),
            "load_before": load_before}

    name, db_url = create_database(base_url, "cg_scan")
    tmp = tempfile.mkdtemp(prefix="scan-")
    try:
        env = dict(os.environ, DATABASE_URL=db_url, JWT_SECRET=JWT_SECRET)
        log(f"seeding {args.users:,} users, average degree {args.avg_degree}")
        run([binary, "seed", "--users", str(args.users), "--avg-degree", str(args.avg_degree),
             "--seed", str(args.seed), "--quiet"], env=env)
        psql(db_url, "VACUUM ANALYZE")
        ids = [int(x) for x in psql(db_url, "SELECT id FROM users ORDER BY id").split()]
        connections = int(psql(db_url, "SELECT COUNT(*) FROM connections")) // 2
        meta.update(users=len(ids), connections=connections, degree=2 * connections / len(ids))
        rng = random.Random(args.seed)
        hot_ids = rng.sample(ids, args.hot)
        scan_ids = ids[:]
        rng.shuffle(scan_ids)
        meta["hot_ids"] = hot_ids

        # Anonymous when the community's settings allow it, else as a user with a token.
        auth = None
        proc, port = serve(binary, db_url, 64, tmp, "probe")
        try:
            status = None
            try:
                NO_PROXY.open(f"http://127.0.0.1:{port}{PAGE.format(hot_ids[0])}", timeout=10).read()
                status = 200
            except urllib.error.HTTPError as exc:
                status = exc.code
            if status == 401:
                token = run([binary, "token", "--user", str(ids[0]), "--ttl", "2h"], env=env).strip()
                auth = f"Bearer {token}"
            m0 = metrics(port)
            probe = Client(port, auth)
            for user in hot_ids[:50]:
                error = probe.get(PAGE.format(user))
                if error:
                    raise RuntimeError(f"probe: {error}")
            hits, misses = lookups(metrics(port), m0)
            meta["keys_per_request"] = (hits + misses) / 50
        finally:
            stop(proc)
        meta["auth"] = auth is not None

        calib = measure(binary, db_url, args.calibration_mb, hot_ids, scan_ids, auth, args, tmp, "calibration")
        if calib["full_bytes"] >= args.calibration_mb * MIB * 0.95:
            raise RuntimeError("the calibration budget is too small to hold the whole graph: raise --calibration-mb")
        hot_mib, full_mib = calib["hot_bytes"] / MIB, calib["full_bytes"] / MIB
        if args.cache_mb == "auto":
            budget_mb = math.ceil(2 * hot_mib)
            choice = (f"The budget is twice the hot set's footprint, rounded up to a MiB ({budget_mb} MiB): room "
                      "for the whole hot set with as much again for the scan's entries to come and go.")
        else:
            budget_mb = int(args.cache_mb)
            choice = f"The budget was given (`--cache-mb {budget_mb}`)."
        if budget_mb > full_mib / 3:
            raise RuntimeError(f"CACHE_MB={budget_mb} is more than a third of what the scan needs "
                               f"({full_mib:.1f} MiB): no pressure on the budget")
        if budget_mb < hot_mib:
            raise RuntimeError(f"CACHE_MB={budget_mb} cannot hold the hot set ({hot_mib:.1f} MiB)")
        log(f"hot set {hot_mib:.1f} MiB, full scan {full_mib:.1f} MiB: CACHE_MB={budget_mb}")

        main_run = measure(binary, db_url, budget_mb, hot_ids, scan_ids, auth, args, tmp, "budget")
    finally:
        for proc in list(CHILDREN):
            stop(proc)
        drop_database(base_url, name)
        shutil.rmtree(tmp, ignore_errors=True)

    meta["load_after"] = machine()[1]
    meta["failures"] = calib["failures"] + main_run["failures"]
    text, summary = render(args, meta, calib, main_run, choice)
    print(text)
    log(f"hot set during the scan: {pct(summary['during'])} (worst window {pct(summary['worst'])}); "
        f"blended {pct(summary['blended'])}; RSS peak {summary['peak_rss_mib']:.1f} MiB with CACHE_MB="
        f"{summary['budget_mb']} (overhead {summary['overhead_mib']:.1f} MiB)")
    if meta["failures"]:
        for sample in calib["failure_samples"] + main_run["failure_samples"]:
            log(f"failure: {sample}")
        sys.exit(f"{meta['failures']} failed answers: results not written")
    if args.write:
        out = ROOT / "bench" / "scan" / "RESULTS.md"
        out.parent.mkdir(exist_ok=True)
        out.write_text(text)
        log(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
