#!/usr/bin/env bash
# Every ```ini block of README.md and docs/ is a file `faultline check` accepts: the examples a
# user copies work as written. A block that is deliberately a piece of a larger file carries the
# marker line `<!-- ini: fragment -->` (an HTML comment, invisible once rendered) right before
# its fence; a fragment is not run through `check` as it stands (it names sections that live elsewhere) but
# must still read as INI the way faultline reads it: [section], key = value, comments, no key
# twice in a section; a fragment of [fault] sections is also run through `check` once the
# proxies it names are supplied, and one of [expect] sections alone as it stands. Plus the INI rules themselves, each naming file:line:
#   inline comments (" ;" and " #" after whitespace) are comments, in every INI faultline reads;
#   a line without '=' and a key given twice are errors naming the line;
#   `check` on an expectation file validates the expectations and says what it holds.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

python3 - "$ROOT" "$TT" <<'PY' >"$TT/blocks.txt"
import glob, os, re, sys
root, out = sys.argv[1], sys.argv[2]
files = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "**", "*.md"), recursive=True))
n = 0
for f in files:
    lines = open(f, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        if re.match(r"^\s*```ini\s*$", lines[i]):
            frag = i > 0 and lines[i - 1].strip() == "<!-- ini: fragment -->"
            j = i + 1
            while j < len(lines) and not re.match(r"^\s*```\s*$", lines[j]):
                j += 1
            n += 1
            name = "%s_%d.ini" % (os.path.relpath(f, root).replace("/", "_"), i + 2)
            with open(os.path.join(out, name), "w") as o:
                o.write("\n".join(lines[i + 1:j]) + "\n")
            print("%s %s %s:%d" % ("fragment" if frag else "whole", name, os.path.relpath(f, root), i + 2))
            i = j
        i += 1
PY
nblocks=$(wc -l <"$TT/blocks.txt")
echo "# $nblocks ini blocks"
check found_ini_blocks [ "$nblocks" -ge 15 ]
while read -r kind name where; do
    if [ "$kind" = whole ]; then
        if out=$(cd "$TT" && "$FL" check "$name" 2>&1); then pass "check_$where"
        else fail "check_$where" "$out"; fi
    else
        # a fragment: lines are [section], key = value, comments or blank; no key twice per section
        if out=$(python3 - "$TT/$name" <<'PY'
import re, sys
sec, keys, bad = None, {}, []
for n, l in enumerate(open(sys.argv[1]), 1):
    s = re.split(r"[ \t][;#]", l.rstrip("\n"), 1)[0].strip()
    if not s or s[0] in ";#":
        continue
    if s.startswith("["):
        if not s.endswith("]"): bad.append("%d: %s" % (n, s))
        sec, keys = s, {}
        continue
    if "=" not in s or sec is None:
        bad.append("%d: %s" % (n, s)); continue
    k = s.split("=", 1)[0].strip()
    if k in keys: bad.append("%d: %s twice" % (n, k))
    keys[k] = n
print("; ".join(bad)); sys.exit(1 if bad else 0)
PY
); then pass "fragment_$where"; else fail "fragment_$where" "$out"; fi
        # a fragment of [fault] (and [proxy]) sections is also a profile once its proxies are
        # there: `check` it with [faultline] admin = off and each proxy it names but lacks, in the
        # first mode (tcp, http, http2, grpc, postgres, redis, dns) that takes its faults; a
        # misspelt key or a bad value then fails. Not for blocks naming TLS files (they must exist).
        # A fragment of [expect] sections alone is an expectation file: `check` as it stands.
        if out=$(python3 - "$TT/$name" "$FL" <<'PY'
import re, subprocess, sys
body = open(sys.argv[1]).read().split("\n")
secs = [m.group(1) for m in (re.match(r"\s*\[([a-z_]+)", l) for l in body) if m]
if secs and set(secs) == {"expect"}:   # an expectation file as it stands
    r = subprocess.run([sys.argv[2], "check", sys.argv[1]], capture_output=True, text=True)
    print("checked" if r.returncode == 0 else (r.stderr + r.stdout).strip()); sys.exit(r.returncode)
if not secs or set(secs) - {"fault", "proxy"} or any(re.match(r"\s*(tls_|upstream_ca|upstream_cert|upstream_key)", l) for l in body):
    print("skip"); sys.exit(0)
have = {m.group(1).strip() for m in (re.match(r"\s*\[proxy\s+([^\]]+)\]", l) for l in body) if m}
need = sorted({m.group(1) for m in (re.match(r"\s*proxy\s*=\s*([^\s;#]+)", l) for l in body) if m} - have)
errs = []
for mode in ["tcp", "http", "http2", "grpc", "postgres", "redis", "dns"]:
    pre = "[faultline]\nadmin = off\n" + "".join(
        "[proxy %s]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\nmode = %s\n" % (p, mode) for p in need)
    f = sys.argv[1] + ".whole.ini"
    open(f, "w").write(pre + "\n".join(body))
    r = subprocess.run([sys.argv[2], "check", f], capture_output=True, text=True)
    if r.returncode == 0:
        print("checked as mode %s" % mode); sys.exit(0)
    errs.append("%s: %s" % (mode, (r.stderr + r.stdout).strip().split("\n")[0]))
print(" | ".join(errs)); sys.exit(1)
PY
); then
            [ "$out" = skip ] || pass "fragment_checked_$where"
        else fail "fragment_checked_$where" "$out"; fi
    fi
done <"$TT/blocks.txt"

# the INI rules, in a profile and in an expectation file
cat >"$TT/inline.ini" <<'INI'
[faultline]
admin = off   # no admin API
[proxy a]
listen = 127.0.0.1:1   ; a comment
upstream = 127.0.0.1:2	# a tab, then a comment
[expect t]
check = timeout   # the client gives up
proxy = a
within = 2s ; in time
INI
check inline_comments "$FL" check "$TT/inline.ini"
printf '[faultline]\nadmin = off\n[proxy a]\nlisten = 127.0.0.1:1\nupstream 127.0.0.1:2\n' >"$TT/noeq.ini"
out=$("$FL" check "$TT/noeq.ini" 2>&1); rc=$?
echo "# $out"
check no_equals_names_line bash -c "[ $rc = 2 ] && echo \"\$1\" | grep -q 'noeq.ini:5: syntax error: .upstream 127.0.0.1:2. is not key = value'" _ "$out"
printf '[faultline]\nadmin = off\n[proxy a]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\nlisten = 127.0.0.1:3\n' >"$TT/dup.ini"
out=$("$FL" check "$TT/dup.ini" 2>&1); rc=$?
echo "# $out"
check duplicate_key_names_line bash -c "[ $rc = 2 ] && echo \"\$1\" | grep -q \"dup.ini:6: duplicate key 'listen' in \\[proxy a\\] (first at line 4)\"" _ "$out"
printf '[expect t]\ncheck = timeout\nproxy = a\nwithin = 2s\nwithin = 3s\n' >"$TT/dupe.ini"
out=$("$FL" verify "$TT/dupe.ini" --run x 2>&1); rc=$?
echo "# $out"
check duplicate_key_in_expectations bash -c "[ $rc = 2 ] && echo \"\$1\" | grep -q 'dupe.ini:5: duplicate key'" _ "$out"
# `check` on a file of [expect] sections alone: validated as the verifier reads it
printf '[expect slow]\ncheck = timeout\nproxy = db\nwithin = 2s\n[expect pool]\ncheck = pool\nproxy = db\nmax = 5\n' >"$TT/exp.ini"
out=$("$FL" check "$TT/exp.ini" 2>&1); rc=$?
echo "# $out"
check expect_file_summary bash -c "[ $rc = 0 ] && echo \"\$1\" | grep -q 'exp.ini: ok (2 expectations: slow (timeout), pool (pool))'" _ "$out"
printf '[expect slow]\ncheck = timeout\nproxy = db\nwithin = soon\n' >"$TT/expbad.ini"
out=$("$FL" check "$TT/expbad.ini" 2>&1); rc=$?
echo "# $out"
check expect_file_bad_value bash -c "[ $rc = 2 ] && echo \"\$1\" | grep -q 'expbad.ini:4: \[expect slow\] within'" _ "$out"
printf '[expect slow]\ncheck = timeuot\nproxy = db\n' >"$TT/expbad2.ini"
out=$("$FL" check "$TT/expbad2.ini" 2>&1); rc=$?
echo "# $out"
check expect_file_unknown_check bash -c "[ $rc = 2 ] && echo \"\$1\" | grep -q \"expbad2.ini:2: \\[expect slow\\] check: unknown check 'timeuot'\"" _ "$out"
done_tests
