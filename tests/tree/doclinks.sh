#!/usr/bin/env bash
# tests/tree/doclinks.sh -- the user docs have no dead links (scripts/doclinks.py): every
# relative link in README.md and docs/ names a file that exists and, with an #anchor, a heading
# of that file; docs/README.md indexes every docs/*.md page. A dead link fails `make test`.
cd "$(dirname "$0")/../.." || exit 1
python3 scripts/doclinks.py --tap
