/* audit.c -- the audit log: entries built from admin requests and fleet notes, written to the
 * log, the record and an in-memory ring; GET /audit. See audit.h.
 *
 * The ring is AUDIT_RING entries (about 600 KiB), filled in order and overwritten oldest
 * first; it lives as long as the process. The record's stream is bounded by the recorder
 * (MAXLEN ~ 10000). Entries are built only from what the request names -- the method, the
 * path without its query (?proxy= excepted), the fault's name, type and proxy -- so no token,
 * password or body reaches them.
 */
#define FL_ADMIN_INTERNAL
#include "proxy/proxy.h"
#include "control/admin.h"
#include "control/audit.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/parse.h"
#include "record/record.h"

#include <arpa/inet.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

static struct audit_entry *g_ring;   /* owned: AUDIT_RING entries, allocated on first use */
static uint64_t g_total;             /* entries added since the start; g_ring[g_total % N] is next */
static char g_inst[128];

void audit_set_instance(const char *inst)
{
    if (inst && *inst) { snprintf(g_inst, sizeof(g_inst), "%s", inst); return; }
    char host[100] = "localhost";
    if (gethostname(host, sizeof(host)) < 0) snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = 0;
    snprintf(g_inst, sizeof(g_inst), "%s-%ld", host, (long)getpid());
}

const char *audit_instance(void)
{
    const char *ri = rec_instance();   /* the record's name wins: the report joins on it */
    return *ri ? ri : g_inst;
}

/* Bytes below 0x20 and DEL become '?': an entry is one line wherever it is shown. */
static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

void audit_add(struct audit_entry *e)
{
    if (!e->at_ms) e->at_ms = fl_wall_us() / 1000;
    if (!e->inst[0]) snprintf(e->inst, sizeof(e->inst), "%s", audit_instance());
    char *fields[] = {e->who, e->via, e->what, e->method, e->path, e->fault, e->type, e->inst, e->remote};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        one_line(fields[i]);
        for (long at; (at = utf8_bad_at(fields[i])) >= 0;) fields[i][at] = '?';
    }
    log_info("audit", "who=%s via=%s what=%s status=%d inst=%s remote=%s", log_q(e->who), e->via, log_q(e->what),
             e->status, log_q(e->inst), log_q(e->remote[0] ? e->remote : "-"));
    char at[32], st[16];
    snprintf(at, sizeof(at), "%lld", (long long)e->at_ms);
    snprintf(st, sizeof(st), "%d", e->status);
    const char *kv[] = {"at_ms", at, "who", e->who, "via", e->via, "what", e->what, "method", e->method,
                        "path", e->path, "fault", e->fault, "type", e->type, "status", st, "inst", e->inst,
                        "remote", e->remote};
    rec_audit(kv, (int)(sizeof(kv) / sizeof(kv[0]) / 2));
    if (!g_ring) {
        g_ring = calloc(AUDIT_RING, sizeof(*g_ring));
        if (!g_ring) abort();
    }
    g_ring[g_total % AUDIT_RING] = *e;
    g_total++;
}

void audit_note(const char *who, const char *what, const char *where)
{
    struct audit_entry e = {0};
    snprintf(e.who, sizeof(e.who), "%s", who && *who ? who : "?");
    snprintf(e.via, sizeof(e.via), "fleet");
    snprintf(e.what, sizeof(e.what), "%s", what ? what : "");
    if (where && *where) snprintf(e.inst, sizeof(e.inst), "%s", where);
    audit_add(&e);
}

int audit_last(struct audit_entry *out, int n, uint64_t *total)
{
    if (total) *total = g_total;
    uint64_t have = g_total < AUDIT_RING ? g_total : AUDIT_RING;
    if (n < 0) n = 0;
    if ((uint64_t)n > have) n = (int)have;
    for (int i = 0; i < n; i++) out[i] = g_ring[(g_total - (uint64_t)n + (uint64_t)i) % AUDIT_RING];
    return n;
}

/* ---- entries from admin requests ---- */

static const char *via_of(struct adm_req *r)
{
    if (r->console) return "console";
    const char *ua = evhttp_find_header(evhttp_request_get_input_headers(r->req), "User-Agent");
    if (ua && !strncmp(ua, "faultline-ctl", 13)) return "ctl";
    if (ua && !strncmp(ua, "faultline-run", 13)) return "run";
    if (r->nseg && (!strcmp(r->seg[0], "proxies") || !strcmp(r->seg[0], "populate") || !strcmp(r->seg[0], "reset")))
        return "toxiproxy";
    return "api";
}

static void body_str(json_t *j, const char *key, char *out, size_t n)
{
    json_t *v = json_is_object(j) ? json_object_get(j, key) : NULL;
    if (json_is_string(v) && !out[0]) snprintf(out, n, "%s", json_string_value(v));
}

/* The fault (or toxic) and proxy the request names, from its path and JSON body. */
static void names_of(struct adm_req *r, struct audit_entry *e, char *proxy, size_t plen)
{
    json_t *j = r->body && r->blen && r->body[0] == '{' ? json_loadb(r->body, r->blen, 0, NULL) : NULL;
    const char *s0 = r->nseg ? r->seg[0] : "";
    if (!strcmp(s0, "faults")) {
        if (r->nseg >= 2) snprintf(e->fault, sizeof(e->fault), "%s", r->seg[r->nseg - 1]);
        if (r->nseg == 3) snprintf(proxy, plen, "%s", r->seg[1]);
        body_str(j, "name", e->fault, sizeof(e->fault));
        body_str(j, "type", e->type, sizeof(e->type));
        body_str(j, "proxy", proxy, plen);
    } else if (!strcmp(s0, "proxies")) {
        if (r->nseg >= 2) snprintf(proxy, plen, "%s", r->seg[1]);
        if (r->nseg == 4) snprintf(e->fault, sizeof(e->fault), "%s", r->seg[3]);
        if (r->nseg >= 3) {
            body_str(j, "name", e->fault, sizeof(e->fault));
            body_str(j, "type", e->type, sizeof(e->type));
        } else {
            body_str(j, "name", proxy, plen);
        }
    }
    json_decref(j);
    if (!proxy[0]) {   /* ?proxy= */
        const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(r->req);
        const char *q = u ? evhttp_uri_get_query(u) : NULL;
        struct evkeyvalq kv;
        TAILQ_INIT(&kv);
        if (q && evhttp_parse_query_str(q, &kv) == 0) {
            const char *v = evhttp_find_header(&kv, "proxy");
            if (v) snprintf(proxy, plen, "%s", v);
        }
        evhttp_clear_headers(&kv);
    }
}

void audit_api(struct adm_req *r, int status)
{
    struct audit_entry e = {0};
    static const char *mnames[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH"};
    const char *m = "OTHER";
    for (unsigned i = 0; i < sizeof(mnames) / sizeof(mnames[0]); i++)
        if (r->method == (enum evhttp_cmd_type)(1u << i)) m = mnames[i];
    snprintf(e.method, sizeof(e.method), "%s", m);
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(r->req);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    snprintf(e.path, sizeof(e.path), "%s", path && *path ? path : "/");
    snprintf(e.who, sizeof(e.who), "%s", r->who[0] ? r->who : "?");
    snprintf(e.via, sizeof(e.via), "%s", via_of(r));
    e.status = status;
    char proxy[128] = "";
    names_of(r, &e, proxy, sizeof(proxy));
    int o = snprintf(e.what, sizeof(e.what), "%s %s", e.method, e.path);
    if (e.fault[0] && o < (int)sizeof(e.what)) o += snprintf(e.what + o, sizeof(e.what) - (size_t)o, " fault=%s", e.fault);
    if (e.type[0] && o < (int)sizeof(e.what)) o += snprintf(e.what + o, sizeof(e.what) - (size_t)o, " type=%s", e.type);
    if (proxy[0] && o < (int)sizeof(e.what)) snprintf(e.what + o, sizeof(e.what) - (size_t)o, " proxy=%s", proxy);
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
    char *addr = NULL;
    ev_uint16_t port = 0;
    if (evcon) evhttp_connection_get_peer(evcon, &addr, &port);
    if (addr && *addr) snprintf(e.remote, sizeof(e.remote), strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr, (unsigned)port);
    else if (r->s->g.admin.kind == ADDR_UNIX) snprintf(e.remote, sizeof(e.remote), "unix");
    audit_add(&e);
}

static json_t *entry_json(const struct audit_entry *e)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "at_ms", (json_int_t)e->at_ms, "who",
                     e->who, "via", e->via, "what", e->what, "method", e->method, "path", e->path, "fault", e->fault,
                     "type", e->type, "status", e->status, "inst", e->inst, "remote", e->remote);
}

int adm_audit_route(struct adm_req *r)
{
    if (r->nseg != 1 || strcmp(r->seg[0], "audit")) return 0;
    if (r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_HEAD) { adm_method_not_allowed(r, "GET"); return 1; }
    int n = 100;
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(r->req);
    const char *q = u ? evhttp_uri_get_query(u) : NULL;
    struct evkeyvalq kv;
    TAILQ_INIT(&kv);
    if (q && evhttp_parse_query_str(q, &kv) == 0) {
        const char *v = evhttp_find_header(&kv, "n");
        int64_t nn;
        if (v && parse_int(v, 0, AUDIT_RING, &nn, NULL, 0) < 0) {
            adm_error(r, 400, "n: '%.40s' is not a number from 0 to %d", v, AUDIT_RING);
            evhttp_clear_headers(&kv);
            return 1;
        }
        if (v) n = (int)nn;
    }
    evhttp_clear_headers(&kv);
    struct audit_entry *es = calloc((size_t)(n ? n : 1), sizeof(*es));
    if (!es) abort();
    uint64_t total;
    int got = audit_last(es, n, &total);
    json_t *a = json_array();
    for (int i = 0; i < got; i++) json_array_append_new(a, entry_json(&es[i]));
    free(es);
    adm_json(r, 200, json_pack("{s:o, s:I, s:s, s:s}", "entries", a, "total", (json_int_t)total, "run", rec_run_id(),
                               "inst", audit_instance()));
    return 1;
}
