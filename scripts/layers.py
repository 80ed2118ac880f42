#!/usr/bin/env python3
"""scripts/layers.py -- keeps the tree's layering honest (docs/architecture.md, "Rules").

    scripts/layers.py            check the tree; one line per violation, exit 1 if any
    scripts/layers.py --tap      the same as test lines ("ok NAME" / "not ok NAME # why")

Each folder is a layer, and a file may include only headers of the layers its folder may use
(ALLOWED below). Includes of the project's own headers name their folder from the one include
root ("faults/fault.h"). Protocol branches (`mode ==`, `MODE_*`) live only in the protocol
files. No source file passes MAX_LINES lines and no function passes MAX_FUNC lines. The folder
graph has no cycle. The rules are read from this file alone; nothing here compiles anything.
"""
import os
import re
import subprocess
import sys

MAX_LINES = 900
MAX_FUNC = 120

# folder -> the folders whose headers its files may include (itself always)
ALLOWED = {
    "common": [],
    "faults": ["common"],
    "record": ["common"],
    "proxy/protocols": ["common", "faults", "record", "proxy"],
    "proxy": ["common", "faults", "record"],
    "control": ["common", "faults", "record", "proxy"],
    "verify": ["common", "record"],
    "run": ["common", "record", "verify", "control", "proxy"],
    "cli": ["common", "faults", "record", "proxy", "proxy/protocols", "control", "verify", "run"],
}
# the only proxy/ headers the runner may use: the documented embedding API and the profile
RUN_PROXY_HEADERS = {"proxy/embed.h", "proxy/profile.h"}
# where a protocol may be named by its mode
PROTOCOL_DIR = "proxy/protocols"
MODE_RX = re.compile(r"\bmode\s*[!=]=|\bMODE_[A-Z]+\b|case\s+MODE_")
INCLUDE_RX = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(path):
    d = os.path.dirname(path)
    return d if d in ALLOWED else None


def sources():
    out = subprocess.check_output(["git", "ls-files", "*.c", "*.h"], text=True)
    return [f for f in out.split() if layer_of(f)]


def functions(text):
    """(name, first line, length) of each function body: '{' and '}' alone at column 0."""
    lines = text.split("\n")
    start = None
    for i, line in enumerate(lines):
        if line.startswith("{") and start is None:
            start = i
        elif line.startswith("}") and start is not None:
            head = " ".join(lines[max(0, start - 3):start])
            m = re.findall(r"(\w+)\s*\(", head)
            yield (m[-1] if m else "?"), start + 1, i - start + 1
            start = None


def check():
    errs = {"includes": [], "prefixed": [], "modes": [], "file_size": [], "func_size": [], "cycles": []}
    edges = set()
    for f in sources():
        lay = layer_of(f)
        text = open(f, encoding="utf-8", errors="replace").read()
        for inc in INCLUDE_RX.findall(text):
            if "/" not in inc:
                errs["prefixed"].append(f"{f}: #include \"{inc}\" does not name its folder")
                continue
            il = os.path.dirname(inc)
            if il not in ALLOWED:
                continue
            if il != lay:
                edges.add((lay, il))
            if il == lay or il in ALLOWED[lay]:
                if lay == "run" and il == "proxy" and inc not in RUN_PROXY_HEADERS:
                    errs["includes"].append(f"{f}: the runner includes {inc}; it may use only "
                                            f"{', '.join(sorted(RUN_PROXY_HEADERS))} of proxy/")
                continue
            errs["includes"].append(f"{f}: layer {lay}/ may not include {inc}")
        if lay != PROTOCOL_DIR:
            for n, line in enumerate(text.split("\n"), 1):
                code = line.split("//")[0]
                if MODE_RX.search(code) and not code.lstrip().startswith(("*", "/*")):
                    errs["modes"].append(f"{f}:{n}: a protocol branch outside {PROTOCOL_DIR}/: {line.strip()}")
        nlines = text.count("\n")
        if nlines > MAX_LINES:
            errs["file_size"].append(f"{f}: {nlines} lines (at most {MAX_LINES})")
        if f.endswith(".c"):
            for name, at, length in functions(text):
                if length > MAX_FUNC:
                    errs["func_size"].append(f"{f}:{at}: {name}() is {length} lines (at most {MAX_FUNC})")
    # folder cycles (a -> b and b ->* a)
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)

    def reach(a, seen):
        for b in graph.get(a, ()):
            if b not in seen:
                seen.add(b)
                reach(b, seen)
        return seen
    for a in sorted(graph):
        if a in reach(a, set()):
            errs["cycles"].append(f"{a}/ reaches itself through includes: {sorted(graph[a])}")
    return errs


def main():
    os.chdir(subprocess.check_output(["git", "rev-parse", "--show-toplevel"], text=True).strip())
    tap = "--tap" in sys.argv
    errs = check()
    bad = 0
    for name, lines in errs.items():
        if tap:
            print(f"ok layers_{name}" if not lines else f"not ok layers_{name} # {len(lines)} found")
        for line in lines:
            print(("  " if tap else "") + line)
        bad += len(lines)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
