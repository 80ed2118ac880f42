/* recording.c -- what the core tells the recorder (record/record.h), and what it answers when the
 * recorder asks.
 *
 * The recorder sees none of the core's objects. This file turns them into its inputs: at start,
 * the [faultline] settings and a struct rec_source; once per interval, when the recorder asks
 * (observe), every live proxy's counters (copied into a struct rec_stats), its protocol's facts
 * (struct protocol totals_facts / state_facts, called back while the interval is written) and
 * every fault's counters; at a connection's close, a struct rec_conn filled from struct conn; at a
 * fault window's edge, a struct rec_fault_window. A proxy object's recorder entry is got once, on
 * first use, and kept in px->rec (proxy_rec).
 *
 * Cost: nothing here runs when not recording -- every call site tests rec_active first, so the
 * data path pays one test, as it paid one call before. A connection's record is built on the
 * stack at its close (no allocation); its peer is formatted only if the recorder has a Redis
 * connection to send the event on.
 */
#include "proxy/proxy.h"
#include "proxy/protocol.h"
#include "proxy/tls.h"
#include "record/record.h"
#include "common/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rec_px *proxy_rec_attach(struct fl_proxy *px)
{
    px->rec = rec_proxy_attach(px->spec.name, px);
    return px->rec;
}

/* ---- what the recorder asks (struct rec_source) ---- */

static void src_meta(void *ctx, struct rec_kv *kv)
{
    struct fl_server *s = ctx;
    if (s->prof && s->prof->text) {
        /* the profile as recorded: its shape and on_end keys for the verifier, never its secrets
         * (admin_token, Redis passwords, a scenario's commands: common/text.h) */
        char *shown = fl_redact_profile(s->prof->text);
        rec_kv_text(kv, "profile", shown);
        free(shown);
    }
    char plist[4096];
    size_t o = 0;
    plist[0] = 0;
    for (int i = 0; i < s->nproxies && o < sizeof(plist) - 1; i++)
        o += (size_t)snprintf(plist + o, sizeof(plist) - o, "%s%s", i ? "," : "", s->proxies[i]->spec.name);
    rec_kv_text(kv, "proxies", plist);
    for (int i = 0; i < s->nproxies; i++) {    /* role:<proxy> = ingress|egress (docs/metrics.md) */
        char k[160];
        snprintf(k, sizeof(k), "role:%s", s->proxies[i]->spec.name);
        rec_kv_str(kv, k, s->proxies[i]->spec.role == ROLE_INGRESS ? "ingress" : "egress");
    }
}

static const void *src_meta_version(void *ctx) { return ((struct fl_server *)ctx)->prof; }

static void stats_for_rec(const struct proxy_stats *a, struct rec_stats *r)
{
    *r = (struct rec_stats){
        .accepted = a->accepted, .active = a->active, .peak_active = a->peak_active,
        .upstream_ok = a->upstream_ok, .upstream_failed = a->upstream_failed,
        .closed_client = a->closed_by[CLOSER_CLIENT], .closed_upstream = a->closed_by[CLOSER_UPSTREAM],
        .closed_proxy = a->closed_by[CLOSER_PROXY], .closed_fault = a->closed_by[CLOSER_FAULT],
        .bytes_up = a->bytes_up, .bytes_down = a->bytes_down,
        .refused = a->refused, .accept_errors = a->accept_errors,
        .requests = a->requests, .responses = a->responses,
        .bad_requests = a->bad_requests, .bad_responses = a->bad_responses,
        .inflight = a->inflight, .peak_inflight = a->peak_inflight,
    };
    memcpy(r->status_class, a->status_class, sizeof(r->status_class));
}

static void fault_counters_for_rec(const struct fault_counters *a, struct rec_fault_counters *r)
{
    /* the same fields (record.h REC_FC_FIELDS): a counter added to one and not the other is caught here */
    _Static_assert(sizeof(struct rec_fault_counters) == sizeof(struct fault_counters),
                   "struct fault_counters and REC_FC_FIELDS differ");
#define REC_FC_COPY(field) r->field = a->field;
    REC_FC_FIELDS(REC_FC_COPY)
#undef REC_FC_COPY
}

static void px_totals(void *arg, struct rec_kv *kv)
{
    const struct fl_proxy *px = arg;
    if (px->spec.protocol->totals_facts) px->spec.protocol->totals_facts(px, kv);
    if (px->tls) tls_totals_facts(px, kv);
}

static void px_state(void *arg, struct rec_kv *kv)
{
    struct fl_proxy *px = arg;
    px->spec.protocol->state_facts(px, kv);
}

static void observe_proxy(struct fl_proxy *px)
{
    struct rec_stats st;
    stats_for_rec(&px->st, &st);
    const struct protocol *pr = px->spec.protocol;
    struct rec_facts fx = {pr->totals_facts || px->tls ? px_totals : NULL, pr->state_facts ? px_state : NULL, px};
    rec_observe_proxy(proxy_rec(px), px, &st, &fx);
    for (int j = 0; j < px->nfaults; j++) {
        const struct fault *f = px->faults[j];
        struct rec_fault_counters c;
        fault_counters_for_rec(&f->c, &c);
        rec_observe_fault(f->name, f->proxy, f->type ? f->type->name : "", f, &c);
    }
}

static void src_observe(void *ctx)
{
    struct fl_server *s = ctx;
    for (int i = 0; i < s->nproxies; i++) observe_proxy(s->proxies[i]);
    for (struct fl_proxy *px = s->retired; px; px = px->next_retired) observe_proxy(px);
}

/* ---- start and stop ---- */

int server_record_start(struct fl_server *s, char *err, size_t errlen)
{
    struct rec_config cfg = {
        .redis = s->g.redis,
        .run = s->g.run,
        .instance = s->g.instance,
        .interval_us = s->g.record_interval_us,
        .retention_us = s->g.retention_us,
        .max_bytes = s->g.record_max_bytes,
        .base = s->base,
        .src = {s, src_meta, src_meta_version, src_observe},
    };
    if (rec_start(&cfg, err, errlen) < 0) return -1;
    if (!rec_active) return 0;
    if (!s->g.run[0]) snprintf(s->g.run, sizeof(s->g.run), "%s", rec_run_id());   /* the one generated */
    for (int i = 0; i < s->nproxies; i++) proxy_rec(s->proxies[i]);
    return 0;
}

/* Why a fault's window closed, as the record says it. */
static const char *fault_end_reason(const struct fault *f)
{
    if (f->removing) {
        int64_t now = fl_now_us();
        if (f->ttl_us && now >= f->loaded_us + f->ttl_us) return "ttl";
        int64_t cap = f->px ? f->px->srv->g.max_fault_duration_us : 0;
        if (cap && now >= f->loaded_us + f->start_us + cap) return "ttl";
        return "removed";
    }
    if (f->killed) return "killed";
    return "duration";
}

void fault_record_window(const struct fault *f, int active, const char *reason)
{
    struct rec_fault_window w = {
        .name = f->name,
        .proxy = f->px ? f->px->spec.name : f->proxy,
        .type = f->type ? f->type->name : "",
        .active = active,
        .reason = active ? NULL : reason ? reason : fault_end_reason(f),
        .obj = f,
        .removing = !active && f->removing && !reason,
    };
    fault_counters_for_rec(&f->c, &w.c);
    rec_fault_window(&w);
}

void server_record_stop(struct fl_server *s)
{
    if (!rec_active) return;
    /* faults still acting when the run ends */
    for (int i = 0; i < s->nproxies; i++)
        for (int j = 0; j < s->proxies[i]->nfaults; j++)
            if (s->proxies[i]->faults[j]->phase == FAULT_ACTIVE) fault_record_window(s->proxies[i]->faults[j], 0, "stopped");
    rec_stop();
    /* the recorder freed its entries: forget them */
    for (int i = 0; i < s->nproxies; i++) s->proxies[i]->rec = NULL;
    for (struct fl_proxy *px = s->retired; px; px = px->next_retired) px->rec = NULL;
}

/* ---- a connection's close ---- */

static void conn_facts(const void *arg, struct rec_kv *kv)
{
    const struct conn *c = arg;
    if (c->px->spec.protocol->conn_facts) c->px->spec.protocol->conn_facts(c, kv);
    if (c->tls) tls_conn_facts(c, kv);
}

void conn_record_close(struct conn *c)
{
    struct rec_conn r = {
        .id = c->id,
        .peer = (const struct sockaddr *)&c->peer_sa,
        .t_open = c->t_open, .t_connected = c->t_connected,
        .t_first_up = c->t_first_up, .t_first_down = c->t_first_down, .t_last_up = c->t_last_up,
        .t_hang = c->t_hang, .t_hang_end = c->t_hang_end, .t_gave_up = c->t_gave_up,
        .held_at_end = c->held_at_end,
        .turn_max_us = c->turn_max_us, .t_turn_max = c->t_turn_max, .t_turn = c->t_turn,
        .t_last_down = c->t_last_down, .t_cli_eof = c->t_cli_eof,
        /* tcp relay: bytes read from the upstream that faults still held (protocol engines keep
         * no such count) */
        .pending_down = !c->proto && c->p[1].bytes_in > c->p[1].bytes ? c->p[1].bytes_in - c->p[1].bytes : 0,
        .t_close = c->t_close,
        .closed_by = closer_str(c->closed_by),
        .fault = c->fault_name,
        .bytes_up = c->p[0].bytes, .bytes_down = c->p[1].bytes,
        /* (a client whose TLS handshake failed never got as far as the upstream's connect) */
        .upstream_failed = !c->t_connected && c->closed_by == CLOSER_PROXY && !(c->tls && c->tls->connect_waits),
        .facts = c->px->spec.protocol->conn_facts || c->tls ? conn_facts : NULL,
        .facts_arg = c,
    };
    rec_conn_close(proxy_rec(c->px), &r);
}
