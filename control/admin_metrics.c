/* admin_metrics.c -- GET /stats (JSON) and GET /metrics (Prometheus text exposition 0.0.4).
 *
 * Both read the same counters: struct proxy_stats per proxy and struct fault_counters per
 * fault, kept by the data path; nothing here counts anything itself. Counters only grow while
 * the daemon runs (a proxy or fault that is removed takes its counters with it, which
 * Prometheus reads as a series that ended). Label values are escaped as the format requires
 * (backslash, double quote, newline).
 */
#define FL_ADMIN_INTERNAL
#include "proxy/tls.h"
#include "proxy/proxy.h"
#include "control/admin.h"
#include "control/fleet.h"
#include "common/version.h"
#include "record/record.h"
#include "proxy/protocol.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *fault_counters_json(const struct fault *f)
{
    const struct fault_counters *c = &f->c;
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "type", f->type->name, "state",
                     adm_fault_state(f), "conns_seen", (json_int_t)c->conns_seen, "conns_affected",
                     (json_int_t)c->conns_affected, "bytes_delayed", (json_int_t)c->bytes_delayed, "bytes_held",
                     (json_int_t)c->bytes_held, "bytes_dropped", (json_int_t)c->bytes_dropped, "closes",
                     (json_int_t)c->closes, "resets", (json_int_t)c->resets, "abandoned", (json_int_t)c->abandoned,
                     "refused", (json_int_t)c->refused, "requests_affected", (json_int_t)c->requests_affected);
    if (f->max_active) {   /* scoping (faults/scope.h): places taken now, callers passed unfaulted */
        json_object_set_new(o, "active", json_integer((json_int_t)f->n_active));
        json_object_set_new(o, "capped", json_integer((json_int_t)f->capped));
    }
    return o;
}

static json_t *proxy_stats_json(const struct fl_proxy *px)
{
    const struct proxy_stats *st = &px->st;
    json_t *closed = json_object();
    for (int i = 1; i < 5; i++) json_object_set_new(closed, closer_str((enum closer)i), json_integer((json_int_t)st->closed_by[i]));
    json_t *status = json_object();
    static const char *cls[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 0; i < 6; i++) json_object_set_new(status, cls[i], json_integer((json_int_t)st->status_class[i]));
    json_t *faults = json_object();
    for (int i = 0; i < px->nfaults; i++) json_object_set_new(faults, px->faults[i]->name, fault_counters_json(px->faults[i]));
    json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "listen",
                          px->spec.listen_text, "upstream", px->spec.upstream_text, "mode", px->spec.protocol->name,
                          "enabled", px->spec.enabled, "accepted", (json_int_t)st->accepted, "active",
                          (json_int_t)st->active, "peak_active", (json_int_t)st->peak_active, "upstream_ok",
                          (json_int_t)st->upstream_ok, "upstream_failed", (json_int_t)st->upstream_failed, "refused",
                          (json_int_t)st->refused, "accept_errors", (json_int_t)st->accept_errors, "bytes_up",
                          (json_int_t)st->bytes_up, "bytes_down", (json_int_t)st->bytes_down, "closed_by", closed);
    json_object_set_new(o, "http", json_pack("{s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I}", "requests",
                                             (json_int_t)st->requests, "responses", (json_int_t)st->responses, "status",
                                             status, "bad_requests", (json_int_t)st->bad_requests, "bad_responses",
                                             (json_int_t)st->bad_responses, "inflight", (json_int_t)st->inflight,
                                             "peak_inflight", (json_int_t)st->peak_inflight, "response_us_total",
                                             (json_int_t)st->resp_us));
    json_object_set_new(o, "capped", json_integer((json_int_t)st->capped));
    json_object_set_new(o, "idle_closed", json_integer((json_int_t)st->idle_closed));
    json_object_set_new(o, "faults", faults);
    /* a protocol's own facts, under its name (struct protocol stats_json: postgres, redis) */
    const struct protocol *pr = px->spec.protocol;
    if (pr->stats_json) {
        char *txt = pr->stats_json(px);
        json_t *pj = json_loads(txt, 0, NULL);
        free(txt);
        if (pj) json_object_set_new(o, pr->name, pj);
    }
    /* TLS on either side (proxy/tls.h): handshakes, resumptions, failures by alert */
    char *tt = tls_stats_json(px);
    if (tt) {
        json_t *tj = json_loads(tt, 0, NULL);
        free(tt);
        if (tj) json_object_set_new(o, "tls", tj);
    }
    return o;
}

static void stats(struct adm_req *r)
{
    struct fl_server *s = r->s;
    json_t *px = json_object();
    int killed = 0;
    for (int i = 0; i < s->nproxies; i++) {
        json_object_set_new(px, s->proxies[i]->spec.name, proxy_stats_json(s->proxies[i]));
        for (int k = 0; k < s->proxies[i]->nfaults; k++) killed += s->proxies[i]->faults[k]->killed != 0;
    }
    json_t *o = json_pack("{s:s, s:f, s:I, s:I, s:s, s:o}", "version", FAULTLINE_VERSION, "uptime_s",
                          (double)(fl_now_us() - s->started_us) / 1e6, "reloads", (json_int_t)s->reloads,
                          "reload_failures", (json_int_t)s->reload_failures, "run", rec_run_id(), "proxies", px);
    json_object_set_new(o, "record_dropped", json_integer((json_int_t)rec_dropped()));
    json_object_set_new(o, "killed", json_integer(killed));   /* faults stopped by the kill switch */
    /* when this daemon started, and with it its recording of the run (the console's timeline starts there) */
    json_object_set_new(o, "started_ms", json_integer((json_int_t)((fl_wall_us() - (fl_now_us() - s->started_us)) / 1000)));
    json_t *fj = fleet_stats_json();
    if (fj) json_object_set_new(o, "fleet", fj);
    adm_json(r, 200, o);
}

/* ---- Prometheus text ---- */

struct out { char *b; size_t n, cap; };

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(o->b + o->n, o->cap - o->n, fmt, ap);
        va_end(ap);
        if (w < 0) return;
        if ((size_t)w < o->cap - o->n) { o->n += (size_t)w; return; }
        o->cap = (o->cap + (size_t)w + 1) * 2;
        o->b = realloc(o->b, o->cap);
        if (!o->b) abort();
    }
}

/* A label value escaped for the exposition format (one of 3 rotating buffers). */
static const char *esc(const char *s)
{
    static char buf[3][600];
    static int k;
    char *b = buf[k++ % 3];
    size_t o = 0;
    for (; *s && o < sizeof(buf[0]) - 3; s++) {
        if (*s == '\\' || *s == '"') { b[o++] = '\\'; b[o++] = *s; }
        else if (*s == '\n') { b[o++] = '\\'; b[o++] = 'n'; }
        else b[o++] = *s;
    }
    b[o] = 0;
    return b;
}

static void put_text(void *ud, const char *text) { outf(ud, "%s", text); }

static void head(struct out *o, const char *name, const char *type, const char *help)
{
    outf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one unlabelled sample: the daemon's own totals. */
static void one(struct out *o, const char *name, const char *type, const char *help, uint64_t v)
{
    head(o, name, type, help);
    outf(o, "%s %llu\n", name, (unsigned long long)v);
}

typedef uint64_t (*pget)(const struct fl_proxy *);
#define PGET(fn, expr) static uint64_t fn(const struct fl_proxy *px) { return (expr); }
PGET(p_acc, px->st.accepted)
PGET(p_act, px->st.active)
PGET(p_upfail, px->st.upstream_failed)
PGET(p_refused, px->st.refused)
PGET(p_accerr, px->st.accept_errors)
PGET(p_capped, px->st.capped)
PGET(p_idle, px->st.idle_closed)
PGET(p_req, px->st.requests)
PGET(p_inflight, px->st.inflight)
PGET(p_enabled, (uint64_t)px->spec.enabled)

static void per_proxy(struct out *o, struct fl_server *s, const char *name, const char *type, const char *help, pget g)
{
    head(o, name, type, help);
    for (int i = 0; i < s->nproxies; i++)
        outf(o, "%s{proxy=\"%s\"} %llu\n", name, esc(s->proxies[i]->spec.name), (unsigned long long)g(s->proxies[i]));
}

typedef uint64_t (*fget)(const struct fault *);
#define FGET(fn, field) static uint64_t fn(const struct fault *f) { return f->c.field; }
FGET(f_seen, conns_seen)
FGET(f_aff, conns_affected)
FGET(f_req, requests_affected)
FGET(f_del, bytes_delayed)
FGET(f_held, bytes_held)
FGET(f_drop, bytes_dropped)
FGET(f_closes, closes)
FGET(f_resets, resets)
FGET(f_refused, refused)
FGET(f_aband, abandoned)
static uint64_t f_capped(const struct fault *f) { return f->capped; }
static uint64_t f_nactive(const struct fault *f) { return f->n_active; }
static uint64_t f_active(const struct fault *f) { return f->phase == FAULT_ACTIVE && !f->killed; }
static uint64_t f_killed(const struct fault *f) { return f->killed != 0; }

static void per_fault(struct out *o, struct fl_server *s, const char *name, const char *type, const char *help, fget g)
{
    head(o, name, type, help);
    for (int i = 0; i < s->nproxies; i++)
        for (int k = 0; k < s->proxies[i]->nfaults; k++) {
            const struct fault *f = s->proxies[i]->faults[k];
            outf(o, "%s{proxy=\"%s\",fault=\"%s\",type=\"%s\"} %llu\n", name, esc(s->proxies[i]->spec.name), esc(f->name),
                 esc(f->type->name), (unsigned long long)g(f));
        }
}

static void metrics(struct adm_req *r)
{
    struct fl_server *s = r->s;
    struct out o = {0};
    o.cap = 8192;
    o.b = malloc(o.cap);
    if (!o.b) abort();
    head(&o, "faultline_info", "gauge", "Build information (always 1).");
    outf(&o, "faultline_info{version=\"%s\"} 1\n", FAULTLINE_VERSION);
    head(&o, "faultline_uptime_seconds", "gauge", "Seconds since the daemon started.");
    outf(&o, "faultline_uptime_seconds %.3f\n", (double)(fl_now_us() - s->started_us) / 1e6);
    one(&o, "faultline_reloads_total", "counter", "Profile reloads applied (SIGHUP).", s->reloads);
    one(&o, "faultline_reload_failures_total", "counter", "Profile reloads refused (the running profile was kept).",
        s->reload_failures);
    uint64_t aopen, arefused, aevicted, aslow;
    adm_conn_counts(s, &aopen, &arefused, &aevicted, &aslow);
    one(&o, "faultline_admin_connections_open", "gauge", "Admin API connections open now.", aopen);
    one(&o, "faultline_admin_connections_refused_total", "counter",
        "Admin API connections refused past admin_max_conns (every open one had been served).", arefused);
    one(&o, "faultline_admin_connections_evicted_total", "counter",
        "Admin API connections closed past admin_max_conns to make room (they never sent a whole request).", aevicted);
    one(&o, "faultline_admin_slow_clients_closed_total", "counter",
        "Admin API connections closed for not sending a whole request within 10 s.", aslow);
    one(&o, "faultline_record_dropped_total", "counter", "Records the recorder could not write to Redis.", rec_dropped());
    per_proxy(&o, s, "faultline_proxy_enabled", "gauge", "1 while the proxy is enabled.", p_enabled);
    per_proxy(&o, s, "faultline_connections_total", "counter", "Client connections accepted.", p_acc);
    per_proxy(&o, s, "faultline_connections_active", "gauge", "Client connections open now.", p_act);
    per_proxy(&o, s, "faultline_upstream_connect_failures_total", "counter", "Connections whose upstream could not be reached.", p_upfail);
    per_proxy(&o, s, "faultline_connections_refused_total", "counter",
              "Connection attempts refused while a refuse fault held the listener closed, counted from their SYNs "
              "(needs CAP_NET_RAW, else 0); a disabled proxy's refusals are not counted.", p_refused);
    per_proxy(&o, s, "faultline_accept_errors_total", "counter", "accept() failures (EMFILE and others).", p_accerr);
    per_proxy(&o, s, "faultline_connections_capped_total", "counter",
              "Connections reset at accept: the proxy's or the total max_conns was reached.", p_capped);
    per_proxy(&o, s, "faultline_connections_idle_closed_total", "counter",
              "Connections closed for idling past client_idle_timeout or upstream_idle_timeout.", p_idle);
    head(&o, "faultline_connections_closed_total", "counter",
         "Connections closed, by the side that ended them (an upstream close still held back from the client when "
         "the client hung up is the client's).");
    for (int i = 0; i < s->nproxies; i++)
        for (int c = 1; c < 5; c++)
            outf(&o, "faultline_connections_closed_total{proxy=\"%s\",by=\"%s\"} %llu\n", esc(s->proxies[i]->spec.name),
                 closer_str((enum closer)c), (unsigned long long)s->proxies[i]->st.closed_by[c]);
    head(&o, "faultline_bytes_total", "counter", "Bytes forwarded; direction upstream = client to upstream.");
    for (int i = 0; i < s->nproxies; i++) {
        outf(&o, "faultline_bytes_total{proxy=\"%s\",direction=\"upstream\"} %llu\n", esc(s->proxies[i]->spec.name),
             (unsigned long long)s->proxies[i]->st.bytes_up);
        outf(&o, "faultline_bytes_total{proxy=\"%s\",direction=\"downstream\"} %llu\n", esc(s->proxies[i]->spec.name),
             (unsigned long long)s->proxies[i]->st.bytes_down);
    }
    per_proxy(&o, s, "faultline_http_requests_total", "counter", "HTTP requests seen (http mode).", p_req);
    head(&o, "faultline_http_responses_total", "counter", "HTTP responses by status class (http mode).");
    static const char *cls[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 0; i < s->nproxies; i++)
        for (int c = 0; c < 6; c++)
            outf(&o, "faultline_http_responses_total{proxy=\"%s\",status=\"%s\"} %llu\n", esc(s->proxies[i]->spec.name),
                 cls[c], (unsigned long long)s->proxies[i]->st.status_class[c]);
    per_proxy(&o, s, "faultline_http_inflight_requests", "gauge", "HTTP requests waiting for their response now.", p_inflight);
    per_fault(&o, s, "faultline_fault_active", "gauge", "1 while the fault is in its active window.", f_active);
    per_fault(&o, s, "faultline_fault_killed", "gauge",
              "1 while the fault is stopped by the kill switch (POST /kill, SIGUSR1) and not resumed or replaced.",
              f_killed);
    per_fault(&o, s, "faultline_fault_connections_seen_total", "counter", "Connections (or requests) offered to the fault.", f_seen);
    per_fault(&o, s, "faultline_fault_applied_total", "counter",
              "Connections (on http, postgres and redis proxies: requests, queries, commands) the fault acted on "
              "(selected by probability while active).", f_aff);
    per_fault(&o, s, "faultline_fault_requests_applied_total", "counter", "HTTP requests the fault was applied to.", f_req);
    per_fault(&o, s, "faultline_fault_bytes_delayed_total", "counter", "Bytes the fault delayed.", f_del);
    per_fault(&o, s, "faultline_fault_bytes_held_total", "counter", "Bytes the fault held back.", f_held);
    per_fault(&o, s, "faultline_fault_bytes_dropped_total", "counter", "Bytes the fault dropped.", f_drop);
    per_fault(&o, s, "faultline_fault_closes_total", "counter", "FIN closes done by the fault.", f_closes);
    per_fault(&o, s, "faultline_fault_resets_total", "counter", "RSTs sent by the fault.", f_resets);
    per_fault(&o, s, "faultline_fault_refused_total", "counter",
              "Connection attempts (SYNs) refused while this refuse fault held the listener closed (needs CAP_NET_RAW, "
              "else 0).", f_refused);
    per_fault(&o, s, "faultline_fault_abandoned_total", "counter", "Held calls the client gave up on.", f_aband);
    per_fault(&o, s, "faultline_fault_held_now", "gauge",
              "Connections or requests holding one of the fault's max_active places now.", f_nactive);
    per_fault(&o, s, "faultline_fault_capped_total", "counter",
              "Callers the fault selected but let pass unfaulted: its max_active places were all taken.", f_capped);
    fleet_metrics(put_text, &o);
    char *tx = adm_toxi_metrics_text(s);   /* toxiproxy-server mode: Toxiproxy's names too */
    if (tx) outf(&o, "%s", tx);
    free(tx);
    adm_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", o.b, o.n);
    free(o.b);
}

int adm_metrics_route(struct adm_req *r)
{
    if (r->nseg != 1) return 0;
    int is_stats = !strcmp(r->seg[0], "stats"), is_metrics = !strcmp(r->seg[0], "metrics");
    if (!is_stats && !is_metrics) return 0;
    if (r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_HEAD) { adm_method_not_allowed(r, "GET"); return 1; }
    if (is_stats) stats(r);
    else metrics(r);
    return 1;
}
