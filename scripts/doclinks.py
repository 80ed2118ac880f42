#!/usr/bin/env python3
"""scripts/doclinks.py -- the user docs have no dead links.

    scripts/doclinks.py          prints each dead link as "PATH:LINE: reason", exits 1 if any
    scripts/doclinks.py --tap    the same as test lines ("ok NAME" / "not ok NAME # why")

What it reads: README.md and every docs/**/*.md. What it checks: each relative Markdown link
[text](target) names a file or folder that exists, and its #anchor (if any) names a heading of
that file, spelled the way GitHub spells heading anchors (lowercase, punctuation dropped, spaces
to dashes, -1/-2 for repeats). Also: docs/README.md names every docs/*.md page. What it does
not check: absolute URLs (http:, https:, mailto:), links inside code spans and fenced blocks.
"""
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def strip_code(lines, spans=True):
    """Yields (line number, text) outside fenced blocks, code spans removed if spans."""
    fenced = False
    for n, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        yield n, re.sub(r"`[^`]*`", "", line) if spans else line


def slug(text):
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading keeps its text
    text = text.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        seen, out = {}, set()
        with open(path, encoding="utf-8") as f:
            for _, line in strip_code(f.read().split("\n"), spans=False):
                m = HEADING.match(line)
                if not m:
                    continue
                s = slug(m.group(2))
                k = seen.get(s, 0)
                seen[s] = k + 1
                out.add(s if k == 0 else f"{s}-{k}")
        cache[path] = out
    return cache[path]


def md_files():
    out = ["README.md"]
    for d, _, files in os.walk(os.path.join(ROOT, "docs")):
        out += [os.path.relpath(os.path.join(d, f), ROOT) for f in sorted(files) if f.endswith(".md")]
    return out


def check_file(rel):
    errs = []
    path = os.path.join(ROOT, rel)
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for n, line in strip_code(lines):
        for target in LINK.findall(line):
            if re.match(r"^[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not os.path.exists(dest):
                errs.append(f"{rel}:{n}: {target}: no such file")
            elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                errs.append(f"{rel}:{n}: {target}: no heading #{anchor} in {os.path.relpath(dest, ROOT)}")
    return errs


def check_index():
    idx = os.path.join(ROOT, "docs", "README.md")
    with open(idx, encoding="utf-8") as f:
        text = f.read()
    pages = sorted(p for p in os.listdir(os.path.join(ROOT, "docs")) if p.endswith(".md") and p != "README.md")
    return [f"docs/README.md:1: {p} is not in the index" for p in pages if f"({p}" not in text]


def main():
    tap = "--tap" in sys.argv
    errs = {"links": [e for rel in md_files() for e in check_file(rel)], "index": check_index()}
    bad = 0
    for name, lines in errs.items():
        if tap:
            print(f"ok doclinks_{name}" if not lines else f"not ok doclinks_{name} # {len(lines)} found")
        for line in lines:
            print(("  " if tap else "") + line)
        bad += len(lines)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
