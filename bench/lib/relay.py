"""The cursor-page benchmark (bench/relay): a page of a hub's connections at the start of its
list and 50,000 deep, by cursor (`friends(after:)`) and by offset (`connections(offset:)`,
and the REST route), with the graph cache on and off, in one run.

It makes a fresh PostgreSQL database on BENCH_PG_URL (dropped at the end), seeds it
(`community-gateway seed`), connects user 1 with every other user (the hub: 100,000
connections by default, a second apart), and loads each request with wrk for the same time.
Writes a Markdown table to stdout, and to bench/relay/RESULTS.md with --write.
"""

import argparse
import base64
import os
import pathlib
import subprocess
import sys
import tempfile
import time

from scaleout import CHILDREN, ROOT, free_port, release_binary, run, spawn, stop, wait_http, wrk

JWT_SECRET = "relay-bench-secret-0123456789"
HUB, VIEWER = 1, 2


def psql(url, sql):
    return run(["psql", url, "-v", "ON_ERROR_STOP=1", "-Atc", sql]).strip()


def create_database(base_url, prefix):
    """A new empty database `<prefix>_<time>_<pid>` on the server of `base_url` (a URL naming
    an existing database, e.g. `postgres`); returns its name and URL."""
    name = f"{prefix}_{int(time.time())}_{os.getpid()}"
    psql(base_url, f"CREATE DATABASE {name}")
    return name, base_url.rsplit("/", 1)[0] + "/" + name


def drop_database(base_url, name):
    """Drops `name` even with sessions still open (never raises: it runs on the way out)."""
    subprocess.run(["psql", base_url, "-Atc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                   capture_output=True)


def cursor(owner, viewer, mutual, at_us, friend):
    """A `friends` cursor (docs/cursors.md), no `mutual` filter."""
    text = f"f1:{owner}:{viewer}:a:{1 if mutual else 0}:{at_us}:{friend}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100000)
    parser.add_argument("--depth", type=int, default=50000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--write", action="store_true", help="write bench/relay/RESULTS.md")
    args = parser.parse_args()
    base_url = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")

    binary = release_binary("relay")

    name, db_url = create_database(base_url, "cg_relay")
    tmp = tempfile.mkdtemp(prefix="relay-")
    rows = []
    try:
        env = dict(os.environ, DATABASE_URL=db_url, JWT_SECRET=JWT_SECRET)
        print(f"[relay] seeding {args.users} users; user {HUB} becomes the hub", file=sys.stderr)
        run([binary, "seed", "--users", str(args.users), "--avg-degree", "4", "--quiet"], env=env)
        # The hub: connected with everyone, a second apart, newest to the highest id.
        psql(db_url, f"""
            INSERT INTO connections (user_id, friend_id, connected_at_us)
            SELECT {HUB}, id, 1700000000000000 + id * 1000000 FROM users WHERE id <> {HUB}
            ON CONFLICT DO NOTHING;
            INSERT INTO connections (user_id, friend_id, connected_at_us)
            SELECT friend_id, user_id, connected_at_us FROM connections WHERE user_id = {HUB}
            ON CONFLICT DO NOTHING;""")
        psql(db_url, "VACUUM ANALYZE")
        hub_size = int(psql(db_url, f"SELECT COUNT(*) FROM connections WHERE user_id = {HUB}"))
        token = run([binary, "token", "--user", str(VIEWER), "--ttl", "2h"], env=env).strip()
        # The edge at the depth, in the API's order for the viewer: its mutual ones first.
        mutuals = int(psql(db_url, f"""SELECT COUNT(*) FROM connections c JOIN connections v
            ON v.user_id = {VIEWER} AND v.friend_id = c.friend_id WHERE c.user_id = {HUB}"""))
        assert args.depth > mutuals, "the depth must be past the viewer's mutual part"
        at, friend = psql(db_url, f"""SELECT connected_at_us, friend_id FROM connections
            WHERE user_id = {HUB} AND friend_id NOT IN (SELECT friend_id FROM connections WHERE user_id = {VIEWER})
            ORDER BY connected_at_us DESC, friend_id OFFSET {args.depth - mutuals - 1} LIMIT 1""").split("|")
        deep = cursor(HUB, VIEWER, False, at, friend)
        fields = "edges { cursor node { id username } } pageInfo { hasNextPage }"
        queries = {
            "friends(first: 20), the first page": f'{{ user(id: \\"{HUB}\\") {{ friends(first: 20) {{ {fields} }} }} }}',
            f"friends(first: 20, after: the cursor at {args.depth:,})":
                f'{{ user(id: \\"{HUB}\\") {{ friends(first: 20, after: \\"{deep}\\") {{ {fields} }} }} }}',
            f"connections(limit: 20, offset: {args.depth:,})":
                f'{{ user(id: \\"{HUB}\\") {{ connections(limit: 20, offset: {args.depth}) {{ results {{ id username }} }} }} }}',
        }
        files = {}
        for label, query in queries.items():
            path = pathlib.Path(tmp) / f"q{len(files)}.txt"
            path.write_text(f'POST\t/graphql\tBearer {token}\t{{"query": "{query}"}}\n')
            files[label] = path
        rest = pathlib.Path(tmp) / "rest.txt"
        rest.write_text(f"GET\t/api/v2/user/{HUB}/connections/?limit=20&offset={args.depth}\tBearer {token}\t-\n")
        files[f"REST ?limit=20&offset={args.depth:,}"] = rest

        for cache in ("on", "off"):
            port = free_port()
            genv = dict(env, BIND=f"127.0.0.1:{port}", CACHE=cache, NO_DEMO="true", RUST_LOG="warn",
                        SHUTDOWN_DRAIN_MS="0")
            proc = spawn([binary, "serve"], env=genv, stdout=subprocess.DEVNULL,
                         stderr=open(pathlib.Path(tmp) / f"gw-{cache}.log", "w"))
            wait_http(f"http://127.0.0.1:{port}/readyz")
            for label, path in files.items():
                result = wrk(port, path, args.connections, args.seconds, tmp, f"{cache}{len(rows)}")
                rows.append((cache, label, result))
                print(f"[relay] CACHE={cache} {label}: {result['rps']:,.0f} req/s, "
                      f"p99 {result['p99_ms']:.1f} ms, {result['errors']} errors", file=sys.stderr)
            stop(proc)
    finally:
        for proc in list(CHILDREN):
            stop(proc)
        drop_database(base_url, name)

    lines = [
        f"# Cursor pages against offset pages ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"`bench/relay --users {args.users} --depth {args.depth} --seconds {args.seconds} "
        f"--connections {args.connections}` on one machine ({os.cpu_count()} cores), PostgreSQL: a hub "
        f"with {hub_size:,} connections, read by a viewer with {mutuals} of them in common (so the "
        "mutual part comes first); 20 users a page with their usernames; wrk and the server share "
        "the cores. Every answer checked (a non-2xx or a GraphQL error counts as an error).",
        "",
        "| CACHE | request | req/s | p99 ms | errors |",
        "|---|---|--:|--:|--:|",
    ]
    lines += [f"| {c} | {label} | {r['rps']:,.0f} | {r['p99_ms']:.1f} | {r['errors']} |" for c, label, r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        (ROOT / "bench" / "relay").mkdir(exist_ok=True)
        (ROOT / "bench" / "relay" / "RESULTS.md").write_text(text)


if __name__ == "__main__":
    main()
