#!/usr/bin/env python3
"""Fails when the library's modules import each other in a cycle.

A node is a module (one file: `src/a/b.rs` or `src/a/b/mod.rs` is `a::b`). There is an edge
A -> B when A's code names B or an item of B: `use crate::b::X`, `super::X`, `b::f()` for a
child `b`, a `pub use` re-export. Declaring a child (`mod b;`) is ownership, not an edge.
So a parent that re-exports its children must not define anything its children use:
shared items live in a sibling module both import. The binary (`src/main.rs`) is a separate
crate on top of the library and is not checked.

Usage: .ci/module_cycles.py [SRC_DIR]   (prints the graph's cycles, exit 1 if any)
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
if sccs:
    for scc in sccs:
        members = set(scc)
        print("cycle among:", ", ".join(name(m) for m in scc))
        for m in scc:
            for t in sorted(edges[m] & members):
                print(f"    {name(m)} -> {name(t)}")
    sys.exit(1)
print(f"no module cycles ({len(modules)} modules, {sum(len(e) for e in edges.values())} edges)")
