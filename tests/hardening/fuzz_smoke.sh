#!/usr/bin/env bash
# make fuzz-smoke as part of the suite: every libFuzzer harness on its seeds, 60 s in all.
. "$(dirname "$0")/../lib.sh"
if ! command -v clang >/dev/null; then
    fail fuzz_smoke "clang missing (scripts/install-deps.sh installs it)"; exit 1
fi
if ! make --no-print-directory -s -j2 fuzz >"$TT/build.log" 2>&1; then
    fail fuzz_build "$(tail -n 5 "$TT/build.log" | tr '\n' ' ')"; exit 1
fi
scripts/fuzz.sh build-fuzz smoke
done_tests
