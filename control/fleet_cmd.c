/* fleet_cmd.c -- one fleet command on an instance: judged (fleet_sign.c), matched (targets or
 * selector), applied, acknowledged; and the leases of the faults it added. Design: fleet.h.
 *
 * A command (the stream entry's `m`, JSON) names its operation and whom it is for: `targets`
 * (the instance ids the controller picked, the blast radius recorded in the command itself) or
 * else `sel` (a selector; "" = all). An instance that is not meant ignores it without a word;
 * one that is acts on it before anything else runs on the loop and pushes one ack, a JSON
 * object {"id", "ok", "reason", "op", "at_ms"}, onto the list faultline:fleet:NAME:ack:CMDID
 * (expiring after 5 minutes), which the controller counts.
 *
 * Leases: a fault added through the fleet carries lease_ms (default 15 s, capped by [fleet]
 * max_lease) and a lease_id (the controller's). `renew` moves every fault of a lease_id to now +
 * lease_ms. The tick (every 50 ms) removes a fault whose lease ran out, on this process's own
 * monotonic clock: no Redis, no controller needed for a fault to end.
 */
#define FL_ADMIN_INTERNAL
#include "control/fleet_int.h"
#include "control/admin.h"
#include "control/audit.h"
#include "control/guard.h"
#include "proxy/proxy.h"
#include "proxy/protocol.h"
#include "common/log.h"
#include "common/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>

/* ---- acks ---- */

static void ack(const char *cmd_id, const char *op, int ok, const char *reason, json_t *extra)
{
    struct fleet *fl = fleet_st;
    json_t *j = json_pack("{s:s, s:b, s:s, s:s, s:I}", "id", fl->id, "ok", ok, "reason", reason ? reason : "", "op", op,
                          "at_ms", (json_int_t)(fl_wall_us() / 1000));
    if (extra) json_object_update(j, extra);
    char *txt = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!txt) return;
    char key[400], ttl[16];
    snprintf(key, sizeof(key), "%s%s", fl->k_ack, cmd_id);
    snprintf(ttl, sizeof(ttl), "%d", FLEET_ACK_TTL_S);
    const char *a1[] = {"RPUSH", key, txt};
    size_t l1[] = {5, strlen(key), strlen(txt)};
    const char *a2[] = {"EXPIRE", key, ttl};
    size_t l2[] = {6, strlen(key), strlen(ttl)};
    /* lost when the connection is down: the controller counts this instance as timed out */
    if (fleet_cmd(NULL, NULL, 3, a1, l1) == 0) fleet_cmd(NULL, NULL, 3, a2, l2);
    free(txt);
}

/* ---- leases ---- */

static struct fleet_lease *lease_find(const char *proxy, const char *name)
{
    struct fleet *fl = fleet_st;
    for (int i = 0; i < fl->nleases; i++)
        if (!strcmp(fl->leases[i].proxy, proxy) && !strcmp(fl->leases[i].name, name)) return &fl->leases[i];
    return NULL;
}

static void lease_drop(struct fleet_lease *l)
{
    struct fleet *fl = fleet_st;
    *l = fl->leases[--fl->nleases];
}

static void lease_set(const struct fault *f, const char *lease_id, int64_t lease_ms)
{
    struct fleet *fl = fleet_st;
    struct fleet_lease *l = lease_find(f->proxy, f->name);
    if (!l) {
        if (fl->nleases == fl->caplease) {
            fl->caplease = fl->caplease ? fl->caplease * 2 : 16;
            fl->leases = realloc(fl->leases, sizeof(*fl->leases) * (size_t)fl->caplease);
            if (!fl->leases) abort();
        }
        l = &fl->leases[fl->nleases++];
        memset(l, 0, sizeof(*l));
        snprintf(l->proxy, sizeof(l->proxy), "%s", f->proxy);
        snprintf(l->name, sizeof(l->name), "%s", f->name);
    }
    snprintf(l->lease_id, sizeof(l->lease_id), "%s", lease_id);
    l->expires_us = fl_now_us() + lease_ms * 1000;
    l->f = f;
}

/* The live fault a lease is for, or NULL (removed, replaced or its proxy gone since). */
static struct fault *lease_fault(const struct fleet_lease *l, struct fl_proxy **pxo)
{
    struct fl_proxy *px = server_find_proxy(fleet_st->s, l->proxy);
    struct fault *f = px ? proxy_find_fault(px, l->name) : NULL;
    *pxo = px;
    return f && (const void *)f == l->f ? f : NULL;
}

void fleet_leases_tick(void)
{
    struct fleet *fl = fleet_st;
    int64_t now = fl_now_us();
    int changed = 0;
    for (int i = 0; i < fl->nleases;) {
        struct fleet_lease *l = &fl->leases[i];
        struct fl_proxy *px;
        struct fault *f = lease_fault(l, &px);
        if (!f) { lease_drop(l); continue; }
        if (now < l->expires_us) { i++; continue; }
        log_info("fleet_lease_expired", "fault=%s proxy=%s lease=%s action=removed", log_q(l->name), log_q(l->proxy),
                 log_q(l->lease_id));
        proxy_fault_remove(px, f);
        fl->expired++;
        lease_drop(l);
        changed = 1;
    }
    if (changed) fleet_heartbeat();
}

json_t *fleet_faults_json(void)
{
    struct fleet *fl = fleet_st;
    struct fl_server *s = fl->s;
    json_t *a = json_array();
    int64_t now = fl_now_us();
    for (int i = 0; i < s->nproxies; i++)
        for (int k = 0; k < s->proxies[i]->nfaults; k++) {
            struct fault *f = s->proxies[i]->faults[k];
            struct fleet_lease *l = lease_find(f->proxy, f->name);
            if (l && l->f != (const void *)f) l = NULL;
            json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "name", f->name, "proxy", f->proxy, "type", f->type->name,
                                  "state", adm_fault_state(f));
            json_object_set_new(o, "lease_left_ms",
                                l ? json_integer((json_int_t)((l->expires_us - now) / 1000 > 0 ? (l->expires_us - now) / 1000 : 0))
                                  : json_null());
            if (l) json_object_set_new(o, "lease_id", json_string(l->lease_id));
            json_array_append_new(a, o);
        }
    return a;
}

void fleet_leases_free(void)
{
    if (fleet_st) fleet_st->nleases = 0;
}

/* ---- the operations: 0, or -1 with the reason (the ack's) ---- */

static int64_t lease_ms_of(json_t *m)
{
    json_t *v = json_object_get(m, "lease_ms");
    int64_t ms = json_is_integer(v) ? (int64_t)json_integer_value(v) : FLEET_LEASE_DEFAULT_MS;
    if (ms <= 0) ms = FLEET_LEASE_DEFAULT_MS;
    if (ms * 1000 > fleet_st->spec.max_lease_us) ms = fleet_st->spec.max_lease_us / 1000;
    return ms;
}

static int op_add(json_t *m, char *why, size_t wl)
{
    json_t *spec = json_object_get(m, "fault"), *jl = json_object_get(m, "lease_id");
    json_t *jn = json_object_get(spec, "name");
    if (!json_is_object(spec) || !json_is_string(jn) || !json_is_string(jl)) {
        snprintf(why, wl, "add: needs fault {name, ...} and lease_id");
        return -1;
    }
    const char *keys[64], *vals[64];
    char vbuf[64][256];
    int n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(spec, k, v) {
        if (!strcmp(k, "name")) continue;
        if (n == 64 || adm_scalar_str(v, vbuf[n], sizeof(vbuf[n])) < 0) {
            snprintf(why, wl, "%s: must be a string or a number", k);
            return -1;
        }
        keys[n] = k;
        vals[n] = vbuf[n];
        n++;
    }
    int bad;
    struct fault *f = fault_build(json_string_value(jn), keys, vals, n, &bad, why, wl);
    if (!f) return -1;
    struct fl_proxy *px = server_find_proxy(fleet_st->s, f->proxy);
    if (!px || !protocol_accepts(px->spec.protocol, f->type)) {
        if (!px) snprintf(why, wl, "proxy: no proxy named '%s'", f->proxy);
        else snprintf(why, wl, "type: '%s' does not act on proxy %s (mode %s)", f->type->name, px->spec.name,
                      px->spec.protocol->name);
        fault_free(f);
        return -1;
    }
    struct fault *old = proxy_find_fault(px, f->name);
    struct fleet_lease *ol = old ? lease_find(old->proxy, old->name) : NULL;
    int ours = ol && ol->f == (const void *)old && !strcmp(ol->lease_id, json_string_value(jl));
    if (old && !old->killed && !ours) {
        snprintf(why, wl, "fault already exists: %s on proxy %s", f->name, px->spec.name);
        fault_free(f);
        return -1;
    }
    if (old) proxy_fault_replace(px, old, f);
    else proxy_fault_add(px, f);
    f->from_api = 1;
    lease_set(f, json_string_value(jl), lease_ms_of(m));
    return 0;
}

static int op_rm(json_t *m, char *why, size_t wl)
{
    const char *name = json_string_value(json_object_get(m, "name"));
    const char *pxn = json_string_value(json_object_get(m, "proxy"));
    if (!name) { snprintf(why, wl, "rm: needs name"); return -1; }
    struct fl_proxy *px = NULL;
    struct fault *f = pxn ? ((px = server_find_proxy(fleet_st->s, pxn)) ? proxy_find_fault(px, name) : NULL)
                          : server_find_fault(fleet_st->s, name, &px);
    if (!f) { snprintf(why, wl, "fault not found: %s", name); return -1; }
    struct fleet_lease *l = lease_find(f->proxy, f->name);
    if (l) lease_drop(l);
    proxy_fault_remove(px, f);
    return 0;
}

static int op_renew(json_t *m, int *count)
{
    const char *lid = json_string_value(json_object_get(m, "lease_id"));
    int64_t ms = lease_ms_of(m);
    struct fleet *fl = fleet_st;
    *count = 0;
    for (int i = 0; lid && i < fl->nleases; i++)
        if (!strcmp(fl->leases[i].lease_id, lid)) {
            fl->leases[i].expires_us = fl_now_us() + ms * 1000;
            (*count)++;
        }
    return 0;
}

static int op_load(json_t *m, char *why, size_t wl)
{
    const char *text = json_string_value(json_object_get(m, "profile"));
    if (!text) { snprintf(why, wl, "load: needs profile"); return -1; }
    struct profile *p = profile_parse("fleet load", text, 0, why, wl);
    if (!p) return -1;
    /* signed with the fleet key, yet held to the reach policy an admin request is: the key
     * commands faults, it does not widen where an instance may listen or connect */
    if (guard_profile_reach(fleet_st->s, p, why, wl) < 0 || server_apply(fleet_st->s, p, why, wl) < 0) {
        profile_free(p);
        return -1;
    }
    return 0;
}

/* 1 if the command is for this instance. */
static int meant_for_me(json_t *m)
{
    struct fleet *fl = fleet_st;
    json_t *t = json_object_get(m, "targets");
    if (json_is_array(t)) {
        size_t i;
        json_t *v;
        json_array_foreach(t, i, v)
            if (json_is_string(v) && !strcmp(json_string_value(v), fl->id)) return 1;
        return 0;
    }
    struct fleet_sel sel;
    char e[300];
    const char *st = json_string_value(json_object_get(m, "sel"));
    if (fleet_sel_parse(st ? st : "", &sel, e, sizeof(e)) < 0) return 0;
    return fleet_sel_match(&sel, fl->id, fl->labels);
}

static void refused(const char *entry_id, enum fleet_verdict v)
{
    struct fleet *fl = fleet_st;
    fl->refused[v]++;
    int64_t now = fl_now_us();
    if (now - fl->last_refuse_log_us < 1000000) return;   /* at most one line a second */
    fl->last_refuse_log_us = now;
    log_warn("fleet_refused", "entry=%s reason=%s refused_total=%llu", log_q(entry_id), fleet_verdict_str(v),
             (unsigned long long)fl->refused[v]);
}

void fleet_entry(const char *entry_id, const char *m, size_t mlen, const char *sig)
{
    struct fleet *fl = fleet_st;
    fl->seen++;
    json_t *j = NULL;
    enum fleet_verdict v = fleet_verify(fl->key, fl->klen, &fl->nonces, m, mlen, sig, fl_wall_us() / 1000, &j);
    if (v != FV_OK) { refused(entry_id, v); return; }
    const char *op = json_string_value(json_object_get(j, "op"));
    const char *cid = json_string_value(json_object_get(j, "id"));
    if (!cid || !fleet_word_ok(cid, 100)) { refused(entry_id, FV_MALFORMED); json_decref(j); return; }
    if (!meant_for_me(j)) { fl->ignored++; json_decref(j); return; }
    char why[600] = "";
    int rc = 0, n = 0;
    json_t *extra = NULL;
    if (!strcmp(op, "add")) rc = op_add(j, why, sizeof(why));
    else if (!strcmp(op, "rm")) rc = op_rm(j, why, sizeof(why));
    else if (!strcmp(op, "kill")) extra = json_pack("{s:i}", "killed", server_kill_faults(fl->s));
    else if (!strcmp(op, "resume")) extra = json_pack("{s:i}", "resumed", server_resume_faults(fl->s));
    else if (!strcmp(op, "renew")) { op_renew(j, &n); extra = json_pack("{s:i}", "renewed", n); }
    else if (!strcmp(op, "load")) rc = op_load(j, why, sizeof(why));
    else { rc = -1; snprintf(why, sizeof(why), "unknown op '%s'", op); }
    if (rc == 0) fl->applied++;
    else fl->failed++;
    log_info("fleet_command", "cmd=%s op=%s from=%s status=%s%s%s", log_q(cid), op,
             log_q(json_string_value(json_object_get(j, "from")) ? json_string_value(json_object_get(j, "from")) : "?"),
             rc ? "failed" : "applied", rc ? " reason=" : "", rc ? log_q(why) : "");
    if (strcmp(op, "renew")) {   /* a change: in the audit log as the API's are (renewals are not changes) */
        const char *from = json_string_value(json_object_get(j, "from"));
        const char *fname = json_string_value(json_object_get(j, "name"));
        if (!fname) fname = json_string_value(json_object_get(json_object_get(j, "fault"), "name"));   /* add */
        char what[200];
        snprintf(what, sizeof(what), "fleet %s%s%.80s cmd=%.100s%s", op, fname ? " " : "", fname ? fname : "", cid,
                 rc ? " failed" : "");
        audit_note(from ? from : "fleet", what, fl->id);
    }
    if (strcmp(op, "renew") || json_is_true(json_object_get(j, "ack"))) ack(cid, op, rc == 0, why, extra);
    json_decref(extra);
    json_decref(j);
    fleet_heartbeat();
}
