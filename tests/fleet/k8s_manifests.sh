#!/usr/bin/env bash
# deploy/k8s (issue 23), without a cluster: every manifest parses as YAML with apiVersion, kind
# and name; the Deployment's faultline sidecar mounts the ConfigMap and the Secret the other
# files define, the key 0400, read-only root, no capabilities; the profile's key_file and token
# file lie under the Secret's mount; the NetworkPolicy selects the sidecar pods and lets only the
# controller reach the admin port the profile binds; and the profile in the ConfigMap passes
# `faultline check` (its key file path pointed at a real 0600 key here).
. "$(dirname "$0")/../lib.sh"
K=deploy/k8s
check k8s_dir_has_all bash -c "ls $K/configmap.yaml $K/secret.yaml $K/deployment.yaml $K/controller.yaml $K/networkpolicy.yaml >/dev/null"
python3 - "$K" "$TT" >"$TT/out" 2>&1 <<'PY'
import sys, yaml, glob, os
k, tt = sys.argv[1], sys.argv[2]
docs = {}
def ok(name, cond, why=""):
    print(("ok " if cond else "not ok ") + name + ("" if cond else " # " + why))
for f in sorted(glob.glob(k + "/*.yaml")):
    try:
        ds = [d for d in yaml.safe_load_all(open(f)) if d]
    except Exception as e:
        ok("yaml_" + os.path.basename(f), False, str(e)); continue
    good = all(d.get("apiVersion") and d.get("kind") and d.get("metadata", {}).get("name") for d in ds)
    ok("yaml_" + os.path.basename(f), good and len(ds) > 0, "apiVersion/kind/metadata.name missing")
    for d in ds: docs[(d["kind"], d["metadata"]["name"])] = d
cm = docs.get(("ConfigMap", "checkout-faultline"))
sec = docs.get(("Secret", "faultline-fleet"))
dep = docs.get(("Deployment", "checkout"))
ctl = docs.get(("Deployment", "faultline-controller"))
np = docs.get(("NetworkPolicy", "checkout-faultline-admin"))
ok("all_objects_present", all([cm, sec, dep, ctl, np]))
prof = cm["data"]["faultline.ini"]
ok("secret_has_key_and_token", set(sec["stringData"]) == {"fleet.key", "admin-token"})
pod = dep["spec"]["template"]["spec"]
side = [c for c in pod["containers"] if c["name"] == "faultline"][0]
vols = {v["name"]: v for v in pod["volumes"]}
mounts = {m["name"]: m for m in side["volumeMounts"]}
ok("sidecar_mounts_configmap", vols[[n for n in mounts if "configMap" in vols[n]][0]]["configMap"]["name"] == "checkout-faultline")
sv = [n for n in mounts if "secret" in vols[n]][0]
ok("sidecar_mounts_secret", vols[sv]["secret"]["secretName"] == "faultline-fleet")
ok("secret_mode_0400", vols[sv]["secret"].get("defaultMode") == 0o400, str(vols[sv]["secret"].get("defaultMode")))
smount = mounts[sv]["mountPath"]
pmount = [mounts[n]["mountPath"] for n in mounts if "configMap" in vols[n]][0]
ok("serve_reads_the_mounted_profile", side["args"] == ["serve", pmount + "/faultline.ini"], str(side["args"]))
sc = side["securityContext"]
ok("sidecar_locked_down", sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
   and sc.get("capabilities", {}).get("drop") == ["ALL"] and pod["securityContext"].get("runAsNonRoot"))
kv = dict(l.split(" = ", 1) for l in prof.splitlines() if " = " in l)
ok("key_file_under_secret_mount", kv["key_file"] == smount + "/fleet.key", kv["key_file"])
ok("token_file_under_secret_mount", kv["admin_token_file"] == smount + "/admin-token")
aport = int(kv["admin"].rsplit(":", 1)[1])
ok("admin_port_declared", any(p["containerPort"] == aport for p in side["ports"]))
sel = np["spec"]["podSelector"]["matchLabels"]
ok("policy_selects_sidecar_pods", all(dep["spec"]["template"]["metadata"]["labels"].get(a) == b for a, b in sel.items()))
rules = np["spec"]["ingress"]
admin_rules = [r for r in rules if any(p["port"] == aport for p in r.get("ports", []))]
ok("policy_admin_only_from_controller", len(admin_rules) == 1 and admin_rules[0].get("from") == [
    {"podSelector": {"matchLabels": ctl["spec"]["template"]["metadata"]["labels"]}}], str(admin_rules))
ok("policy_no_open_rule_has_admin", all(r.get("from") for r in admin_rules))
cv = {v["name"]: v for v in ctl["spec"]["template"]["spec"]["volumes"]}
ok("controller_has_key", any(v.get("secret", {}).get("secretName") == "faultline-fleet" for v in cv.values()))
# the profile, with the key file pointed at a real one, for faultline check
p = prof.replace(kv["key_file"], tt + "/fleet.key").replace(kv["admin_token_file"], tt + "/admin-token")
open(tt + "/k8s.ini", "w").write(p)
PY
cat "$TT/out"
_FAILS=$((_FAILS + $(grep -c '^not ok' "$TT/out")))
openssl rand -hex 32 >"$TT/fleet.key"; chmod 600 "$TT/fleet.key"
openssl rand -base64 24 >"$TT/admin-token"; chmod 600 "$TT/admin-token"
out=$("$FL" check "$TT/k8s.ini" 2>&1)
check configmap_profile_passes_check grep -q ': ok (1 proxy, 0 faults)' <<<"$out"
[ -f "$TT/k8s.ini" ] || fail configmap_profile_written "python did not write it"
done_tests
