#!/usr/bin/env bash
# tests/tree/layers.sh -- the tree keeps its layering (scripts/layers.py, docs/architecture.md
# "Rules"): allowed includes per folder, folder-prefixed includes, protocol branches only in
# proxy/protocols/, files <= 900 lines, functions <= 120 lines, no folder cycle. A violation
# fails `make test`, with the offending lines printed.
cd "$(dirname "$0")/../.." || exit 1
python3 scripts/layers.py --tap
