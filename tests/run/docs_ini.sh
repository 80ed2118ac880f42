#!/usr/bin/env bash
# Every ```ini block of README.md and docs/ is a file `faultline check` accepts: the examples a
# user copies work as written. A block that is deliberately a piece of a larger file carries the
# marker line `<!-- ini: fragment -->` (an HTML comment, invisible once rendered) right before
# its fence; a fragment must read as INI the way faultline reads it ([section], key = value,
# comments, no key twice in a section) and is run through `check` once the smallest whole file
# around it is made (tests/run/docs_ini_whole.py): the files it names exist (a CA, certificates,
# a fleet key, made here), the proxies, phases and expectations it names are supplied; a
# fragment of [expect] sections alone is checked as it stands. So a misspelt key or value in
# any block fails. A block that is not faultline's INI is exempt from `check`, listed in EXEMPT
# below with its reason (an entry that matches no block fails: the list stays true).
# Plus the INI rules themselves, each naming file:line:
#   inline comments (" ;" and " #" after whitespace) are comments, in every INI faultline reads;
#   a line without '=' and a key given twice are errors naming the line;
#   `check` on an expectation file validates the expectations and says what it holds.
. "$(dirname "$0")/../lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

# EXEMPT: one block a line, FILE|its first line|why it is not run through `check`
EXEMPT='docs/deploy.md|# /etc/systemd/system/faultline.service|a systemd unit (systemd'"'"'s INI, not faultline'"'"'s)'

# the files the fragments name under /etc/faultline/, made in ETC (docs_ini_whole.py substitutes
# the path): a fragment naming another one fails with "cannot read": make it here
ETC=$TT/etc
mkdir -p "$ETC"
"$FL" ca init "$ETC/ca" >/dev/null
cp "$ETC/ca/ca.crt" "$ETC/upstream-ca.pem"
for c in api client; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ETC/$c.key" \
        -out "$ETC/$c.pem" -days 2 -subj "/CN=$c.example.test" >/dev/null 2>&1
done
openssl rand -hex 32 >"$ETC/fleet.key"
chmod 600 "$ETC/fleet.key"
check made_etc_files bash -c 'for f; do [ -s "$f" ] || exit 1; done' _ "$ETC/ca/ca.key" "$ETC/api.pem" "$ETC/api.key" \
    "$ETC/client.pem" "$ETC/client.key" "$ETC/fleet.key"

EXEMPT=$EXEMPT python3 - "$ROOT" "$TT" <<'PY' >"$TT/blocks.txt"
import glob, os, re, sys
root, out = sys.argv[1], sys.argv[2]
exempt = {tuple(e.split("|", 2)[:2]): e.split("|", 2)[2] for e in os.environ["EXEMPT"].split("\n") if e}
used = set()
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
            rel = os.path.relpath(f, root)
            key = (rel, lines[i + 1].strip() if i + 1 < j else "")
            kind = "exempt" if key in exempt else "fragment" if frag else "whole"
            used |= {key} & exempt.keys()
            print("%s %s %s:%d %s" % (kind, name, rel, i + 2, exempt.get(key, "")))
            i = j
        i += 1
for k in exempt.keys() - used:
    print("stale %s %s" % (k[0], k[1].replace(" ", "_")))
PY
nblocks=$(grep -vc '^stale ' "$TT/blocks.txt")
echo "# $nblocks ini blocks"
check found_ini_blocks [ "$nblocks" -ge 15 ]
while read -r kind name where why; do
    if [ "$kind" = stale ]; then
        fail "exempt_entry_$name" "EXEMPT names a block of $name that is not there (first line $where)"
        continue
    fi
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
        # and a whole file once what it leaves out is supplied (tests/run/docs_ini_whole.py)
        if [ "$kind" = exempt ]; then echo "# $where: not run through check: $why"
        elif out=$(python3 "$ROOT/tests/run/docs_ini_whole.py" "$TT/$name" "$FL" "$ETC" "$where"); then
            echo "# $where: $out"; pass "fragment_checked_$where"
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
