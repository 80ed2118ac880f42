#!/usr/bin/env python3
# tests/run/docs_ini_whole.py FRAGMENT FAULTLINE ETC WHERE -- used by tests/run/docs_ini.sh (not a
# test itself): makes a doc's ini fragment the smallest whole file around it and runs
# `faultline check` on that, so a misspelt key or a bad value in the fragment fails.
#
# What it supplies, each only where the fragment lacks it:
#   - the files it names: /etc/faultline/NAME becomes ETC/NAME, which docs_ini.sh made (a CA from
#     `faultline ca init`, openssl certificates and keys, a 0600 fleet key);
#   - listen and upstream of a [proxy] it has (a forward proxy takes no upstream);
#   - the proxies it names (a fault's `proxy`, halt_if's error_rate(P)), in the first mode of
#     tcp, http, http2, grpc, postgres, redis, dns that takes it;
#   - in a scenario piece ([scenario], [action]): the phases its actions are `at`, else one, and
#     the expectations its halt_if names (a probe: a valid check for any check(E) too);
#   - [faultline] admin = off.
# Its own lines keep their place, so an error names the doc's line (WHERE is DOC:FIRSTLINE);
# a supplied line is called so. Prints what it checked as, or the error; exit 0 or 1.
# A fragment of [expect] sections alone is an expectation file: checked as it stands.
import re
import subprocess
import sys

frag, fl, etc, where = sys.argv[1:5]
doc, first = where.rsplit(":", 1)
body = open(frag).read().rstrip("\n").replace("/etc/faultline/", etc + "/").split("\n")

secs = []  # [type, name, {key: value}, index of the header, index past the last line]
for i, line in enumerate(body):
    s = re.split(r"[ \t][;#]", line, 1)[0].strip()
    m = re.match(r"\[([A-Za-z_]+)(?:\s+([^\]]+))?\]", s)
    if m:
        if secs:
            secs[-1][4] = i
        secs.append([m.group(1), (m.group(2) or "").strip(), {}, i, len(body)])
    elif secs and "=" in s and not s.startswith((";", "#")):
        k, v = s.split("=", 1)
        secs[-1][2][k.strip()] = v.strip()
types = {s[0] for s in secs}
if not types:
    print("no [section] in it")
    sys.exit(1)


def run_check(path):
    r = subprocess.run([fl, "check", path], capture_output=True, text=True)
    return r.returncode, (r.stderr + r.stdout).strip()


if types == {"expect"}:
    rc, out = run_check(frag)
    print("checked as an expectation file" if rc == 0 else out)
    sys.exit(1 if rc else 0)
unknown = types - {"faultline", "proxy", "fault", "fleet", "scenario", "phase", "action", "expect"}
if unknown:
    print("sections faultline does not read: %s" % ", ".join(sorted(unknown)))
    sys.exit(1)

# the fragment's lines, each with its doc line; keys a [proxy] lacks go at the end of it
lines = [(l, int(first) + n) for n, l in enumerate(body)]
for t, name, keys, _, end in reversed(secs):
    if t != "proxy":
        continue
    add = [] if "listen" in keys else ["listen = 127.0.0.1:1"]
    if "upstream" not in keys and keys.get("mode") != "forward":
        add.append("upstream = 127.0.0.1:2")
    while end > 0 and not body[end - 1].strip():
        end -= 1
    lines[end:end] = [(a, None) for a in add]

have = {(t, name) for t, name, _, _, _ in secs}
halt = " ".join(k.get("halt_if", "") for t, _, k, _, _ in secs if t == "scenario")
need = sorted({k["proxy"] for t, _, k, _, _ in secs if t == "fault" and "proxy" in k}
              | set(re.findall(r"error_rate\(([^)]+)\)", halt)))
need = [p for p in need if ("proxy", p) not in have]
tail = []
if types & {"scenario", "action"} and "phase" not in types:
    phases = sorted({re.split(r"[+-]", k["at"], 1)[0].strip() for t, _, k, _, _ in secs
                     if t == "action" and "at" in k}) or ["run"]
    for p in phases:
        tail += ["[phase %s]" % p, "duration = 1m"]
for e in sorted(set(re.findall(r"(?:probe|check)\(([^)]+)\)", halt))):
    if ("expect", e) not in have:
        tail += ["[expect %s]" % e, "check = probe", "url = http://127.0.0.1:3/metrics",
                 "metric = go_goroutines", "within = 10s"]
if "faultline" not in types:
    tail += ["[faultline]", "admin = off"]

whole = frag + ".whole.ini"
errs = []
for mode in ["tcp", "http", "http2", "grpc", "postgres", "redis", "dns"] if need else ["as it is"]:
    px = []
    for p in need:
        px += ["[proxy %s]" % p, "listen = 127.0.0.1:1", "upstream = 127.0.0.1:2", "mode = %s" % mode]
    out = lines + [(l, None) for l in px + tail]
    open(whole, "w").write("\n".join(l for l, _ in out) + "\n")
    rc, msg = run_check(whole)
    if rc == 0:
        print("checked" + ("" if mode == "as it is" else " with its proxies in mode %s" % mode))
        sys.exit(0)
    m = re.match(re.escape(whole) + r":(\d+): (.*)", msg.split("\n")[0])
    if m:  # name the doc's line, or say the line was supplied
        at = out[int(m.group(1)) - 1][1] if 0 < int(m.group(1)) <= len(out) else None
        msg = "%s: %s" % ("%s:%d" % (doc, at) if at else "(supplied line %s)" % m.group(1), m.group(2))
    errs.append("%s: %s" % (mode, msg.split("\n")[0]))
print(" | ".join(errs))
sys.exit(1)
