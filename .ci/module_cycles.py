#!/usr/bin/env python3
"""Fails when the library's modules import each other in a cycle, or across the table.

A node is a module (one file: `src/a/b.rs` or `src/a/b/mod.rs` is `a::b`). There is an edge
A -> B when A's code names B or an item of B: `use crate::b::X`, `super::X`, `b::f()` for a
child `b`, a `pub use` re-export. Declaring a child (`mod b;`) is ownership, not an edge.
So a parent that re-exports its children must not define anything its children use:
shared items live in a sibling module both import. The binary (`src/main.rs`) is a separate
crate on top of the library and is not checked.

The same graph is checked against the "Who may import whom" table of docs/ARCHITECTURE.md
(found from SRC_DIR's parent, the repo root), so the table stays true to the code: every edge
between two top-level modules (and into a workspace crate such as `migrations`) must be allowed
by a row. A row's first cell names modules in backticks, its second the modules they may use;
a child path on either side (`graphql::playground`, `store::faults`) narrows the row or the
entry to that child. Other cells and unquoted words are prose. An entry that no code uses is a
warning, not a failure: the table may allow more than is used today.

Usage: .ci/module_cycles.py [SRC_DIR]   (prints cycles and edges the table does not allow,
exit 1 if any)
"""
import re
import sys
from pathlib import Path

src = Path(sys.argv[1] if len(sys.argv) > 1 else "src")


def module_of(path: Path) -> tuple:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return tuple(parts)


def strip(code: str) -> str:
    """Removes comments, string and char literals (so paths in text are not edges)."""
    code = re.sub(r"/\*.*?\*/", " ", code, flags=re.S)
    code = re.sub(r'r(#*)".*?"\1', '""', code, flags=re.S)
    code = re.sub(r'"(\\.|[^"\\])*"', '""', code, flags=re.S)
    code = re.sub(r"'(\\.|[^'\\])'", "' '", code)
    return re.sub(r"//[^\n]*", " ", code)


def inline_modules(code: str) -> str:
    """In an inline `mod tests { ... }`, `super` is the file's own module: say `self`."""
    out, pos = [], 0
    for m in re.finditer(r"\bmod\s+\w+\s*\{", code):
        if m.start() < pos:
            continue
        depth, end = 0, len(code)
        for i in range(m.end() - 1, len(code)):
            depth += {"{": 1, "}": -1}.get(code[i], 0)
            if depth == 0:
                end = i
                break
        out += [code[pos:m.end()], re.sub(r"\bsuper::", "self::", code[m.end():end])]
        pos = end
    return "".join(out) + code[pos:]


def expand_use(tree: str) -> list:
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e] (aliases and globs trimmed)."""
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix: str, text: str):
        depth, start, items = 0, 0, []
        for i, ch in enumerate(text):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                items.append(text[start:i])
                start = i + 1
        items.append(text[start:])
        for item in filter(None, items):
            m = re.match(r"^(.*?)::\{(.*)\}$", item) or re.match(r"^\{(.*)\}$", item)
            if m and m.re.pattern.startswith("^(.*?)"):
                walk(prefix + m.group(1) + "::", m.group(2))
            elif m:
                walk(prefix, m.group(1))
            else:
                item = re.sub(r"as\w+$", "", item.replace(" as ", "as"))
                out.append((prefix + item).rstrip(":*").removesuffix("::self"))

    walk("", tree)
    return out


def workspace_crates() -> set:
    """The path dependencies of the crate (not the vendored ones): crates of this workspace,
    whose use a layer should show in the table just as a module's."""
    manifest = src.parent / "Cargo.toml"
    if not manifest.exists():
        return set()
    deps = re.findall(r'^([\w-]+)\s*=\s*\{[^}\n]*\bpath\s*=\s*"([^"]+)"', manifest.read_text(), re.M)
    return {name.replace("-", "_") for name, path in deps if not path.startswith("vendor")}


crates = workspace_crates()
files = {module_of(p): p for p in sorted(src.rglob("*.rs")) if p.name != "main.rs" or p.parent != src}
modules = set(files)
children = {m: {c[-1] for c in modules if len(c) == len(m) + 1 and c[:-1] == m} for m in modules}


def resolve(current: tuple, path: str):
    """The module a path names (the longest module prefix), or None for outside the crate."""
    segs = [s for s in path.split("::") if s]
    if not segs:
        return None
    base = list(current)
    if segs[0] == "crate":
        base, segs = [], segs[1:]
    elif segs[0] in ("self", "super"):
        while segs and segs[0] in ("self", "super"):
            if segs.pop(0) == "super":
                base = base[:-1]
    elif segs[0] not in children.get(current, ()):
        return None  # an external crate, a std path or a local name
    target = tuple(base)
    for seg in segs:
        if target + (seg,) in modules:
            target = target + (seg,)
        else:
            break
    return target


edges = {m: set() for m in modules}
# Edges into a workspace crate, `(crate_name,)`: kept apart, as they cannot close a cycle.
crate_edges = {m: set() for m in modules}
for module, path in files.items():
    code = inline_modules(strip(path.read_text()))
    refs = []
    for m in re.finditer(r"\buse\s+([^;]+);", code):
        refs += expand_use(m.group(1))
    refs += re.findall(r"\b(?:crate|super|self)(?:::\w+)+", code)
    kids = children.get(module, ())
    if kids:
        refs += [r for r in re.findall(r"\b(\w+(?:::\w+)+)", code) if r.split("::")[0] in kids]
    for ref in refs:
        target = resolve(module, ref)
        if target is not None and target != module:
            edges[module].add(target)
    uses = expand_use(" , ".join(re.findall(r"\buse\s+([^;]+);", code)))
    paths = re.findall(r"(?<![\w:])(\w+)::\w", code)
    for first in {u.split("::")[0] for u in uses} | set(paths):
        if first in crates and first not in children.get(module, ()):
            crate_edges[module].add((first,))

# Tarjan's strongly connected components.
index, low, stack, on_stack, sccs, counter = {}, {}, [], set(), [], [0]


def connect(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on_stack.add(v)
    for w in sorted(edges[v]):
        if w not in index:
            connect(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        scc = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            scc.append(w)
            if w == v:
                break
        if len(scc) > 1:
            sccs.append(sorted(scc))


sys.setrecursionlimit(10000)
for v in sorted(modules):
    if v not in index:
        connect(v)

name = lambda m: "crate::" + "::".join(m) if m else "crate"
failed = False
if sccs:
    failed = True
    for scc in sccs:
        members = set(scc)
        print("cycle among:", ", ".join(name(m) for m in scc))
        for m in scc:
            for t in sorted(edges[m] & members):
                print(f"    {name(m)} -> {name(t)}")
else:
    print(f"no module cycles ({len(modules)} modules, {sum(len(e) for e in edges.values())} edges)")


def import_table(doc: Path) -> list:
    """The rows of the table under "## Who may import whom": [(line, [row paths], [allowed])]."""
    rows, in_section, in_table = [], False, False
    for number, line in enumerate(doc.read_text().splitlines(), 1):
        if line.startswith("## "):
            in_section = line.strip() == "## Who may import whom"
            in_table = False
            continue
        if not in_section:
            continue
        if not line.startswith("|"):
            if in_table:
                break  # the first table of the section is the one
            continue
        in_table = True
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or set(cells[0]) <= set("-: ") or cells[0] == "module":
            continue  # the separator and the header
        quoted = lambda cell: [tuple(n.split("::")) for n in re.findall(r"`([\w:]+)`", cell)]
        rows.append((number, quoted(cells[0]), quoted(cells[1])))
    return rows


doc = src.parent / "docs" / "ARCHITECTURE.md"
rows = import_table(doc) if doc.exists() else []
if not rows:
    print(f"no import table: {doc} has no table under '## Who may import whom'")
    sys.exit(1)
known = modules | {(c,) for c in crates}
for number, sources, allowed in rows:
    for path in sources + allowed:
        if path not in known:
            failed = True
            print(f"ARCHITECTURE.md:{number}: `{'::'.join(path)}` is no module of the crate")

is_prefix = lambda p, m: m[: len(p)] == p
used, refused = set(), {}
# The crate root (lib.rs) only declares the modules: ownership, not an edge to check.
for m in sorted(x for x in modules if x):
    for t in sorted(edges[m] | crate_edges[m]):
        if not t or t[0] == m[0]:
            continue
        grants = [
            (number, path, entry)
            for number, sources, allowed in rows
            for path in sources
            if is_prefix(path, m)
            for entry in allowed
            if is_prefix(entry, t)
        ]
        used.update(grants)
        if not grants:
            refused.setdefault((m[0], t[0]), []).append((m, t))
for (a, b), pairs in sorted(refused.items()):
    failed = True
    print(f"import not in the table (docs/ARCHITECTURE.md): {a} -> {b}")
    for m, t in pairs:
        target = "::".join(t) if t in crate_edges[m] else name(t)
        print(f"    {name(m)} -> {target}")
for number, sources, allowed in rows:
    for path in sources:
        for entry in allowed:
            if (number, path, entry) not in used:
                print(
                    f"warning: ARCHITECTURE.md:{number}: {'::'.join(path)} may use "
                    f"{'::'.join(entry)}, but no code does"
                )
if failed:
    sys.exit(1)
checked = sum(1 for m in modules if m for t in edges[m] | crate_edges[m] if t and t[0] != m[0])
print(f"import table: all {checked} edges between top-level modules are in docs/ARCHITECTURE.md")
