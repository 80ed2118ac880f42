/* redis_facts.c -- what a redis proxy knows, and how it is told: totals per proxy and per
 * command name (RESP_NAMES_MAX names, then "(other)"), /stats (resp_stats_json) and the record
 * (a connection's redis_* fields, the per-proxy totals hash: record/record.h, docs/metrics.md).
 * Totals live in a table by proxy name for the life of the process; the sessions open on a
 * proxy (of its live object and of retired ones whose connections still run) are linked from
 * its row.
 */
#include "proxy/protocols/redis.h"
#include "proxy/protocols/redis_int.h"
#include "proxy/proxy.h"
#include "record/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct frame_table totals = {sizeof(struct resp_totals), 128, 0, NULL};

struct resp_totals *resp_totals_for(const char *name)
{
    return (struct resp_totals *)frame_totals_for(&totals, name);
}

/* The totals of proxy px (a zero row when it never had a connection). */
static const struct resp_totals *resp_totals_of(const struct fl_proxy *px)
{
    static const struct resp_totals zero;
    const struct resp_totals *t = (const struct resp_totals *)frame_totals_find(&totals, px->spec.name);
    return t ? t : &zero;
}

char *resp_stats_json(const struct fl_proxy *px)
{
    const struct resp_totals *t = resp_totals_of(px);
    uint64_t live = 0, inflight = 0, held = 0;
    for (struct frame_sess *o = t->h.open; o && px->spec.protocol == &protocol_redis; o = o->onext) {
        live++;
        inflight += resp_inflight(resp_of(o));
        if (o->gate_until == INT64_MAX) held++;
    }
    size_t cap = 1024 + (size_t)t->nnames * 120, o = 0;
    char *out = malloc(cap);
    if (!out) abort();
#define U(x) (unsigned long long)(x)
    o += (size_t)snprintf(out + o, cap - o,
                          "{\"conns\":%llu,\"live\":%llu,\"inflight\":%llu,\"held\":%llu,\"peak_inflight\":%llu,"
                          "\"commands\":%llu,\"replies\":%llu,\"errors_server\":%llu,\"errors_injected\":%llu,"
                          "\"delayed\":%llu,\"hung\":%llu,\"abandoned_inflight\":%llu,\"abandoned_held\":%llu,"
                          "\"garbage_client\":%llu,\"garbage_server\":%llu,\"passthrough\":%llu,\"pushes\":%llu,"
                          "\"unsolicited\":%llu,\"by_command\":{",
                          U(t->h.conns), U(live), U(inflight), U(held), U(t->peak_inflight), U(t->commands), U(t->replies),
                          U(t->errors_server), U(t->errors_injected), U(t->h.delayed), U(t->h.hung),
                          U(t->abandoned_inflight), U(t->abandoned_held), U(t->h.garbage_client), U(t->h.garbage_server),
                          U(t->passthrough), U(t->pushes), U(t->unsolicited));
    for (int i = 0; i < t->nnames && o < cap; i++) {
        /* names are upper-cased letters/digits from the wire; anything else was replaced */
        o += (size_t)snprintf(out + o, cap - o, "%s\"%s\":{\"calls\":%llu,\"errors\":%llu,\"injected\":%llu}",
                              i ? "," : "", t->names[i].name, U(t->names[i].calls), U(t->names[i].errors),
                              U(t->names[i].injected));
    }
    if (o < cap) snprintf(out + o, cap - o, "}}");
#undef U
    return out;
}

void resp_conn_facts(const struct conn *c, struct rec_kv *kv)
{
    const struct resp_sess *s = c->proto;
    if (!s) return;
    uint64_t inflight = resp_inflight(s);
    int held = s->fs.gate_until == INT64_MAX;
    rec_kv_u64(kv, "redis_commands", s->commands);
    rec_kv_u64(kv, "redis_replies", s->replies);
    rec_kv_u64(kv, "redis_errors_server", s->errors_server);
    rec_kv_u64(kv, "redis_errors_injected", s->errors_injected);
    rec_kv_u64(kv, "redis_peak_inflight", s->peak_inflight);
    rec_kv_u64(kv, "redis_inflight_at_close", inflight);
    if (held) rec_kv_str(kv, "redis_held_at_close", "1");
    if (c->closed_by == CLOSER_CLIENT && (inflight || held))
        rec_kv_u64(kv, "redis_abandoned", inflight + (held ? 1 : 0));
    if (s->raw) rec_kv_str(kv, "redis_passthrough", "1");
    char by[16 * 48] = "";
    size_t o = 0;
    for (int i = 0; i < s->nby && s->tot && o < sizeof(by); i++)
        o += (size_t)snprintf(by + o, sizeof(by) - o, "%s%s:%u/%u", i ? "," : "", s->tot->names[s->by[i].idx].name,
                              s->by[i].calls, s->by[i].errors);
    if (by[0]) rec_kv_str(kv, "redis_by_command", by);
}

void resp_totals_facts(const struct fl_proxy *px, struct rec_kv *kv)
{
    const struct resp_totals *t = resp_totals_of(px);
    uint64_t live = 0, inflight = 0, held = 0;
    for (struct frame_sess *o = t->h.open; o; o = o->onext) {
        live++;
        inflight += resp_inflight(resp_of(o));
        if (o->gate_until == INT64_MAX) held++;
    }
#define F(k) rec_kv_u64(kv, #k, t->k)
#define FH(k) rec_kv_u64(kv, #k, t->h.k)
    rec_kv_str(kv, "mode", "redis");
    FH(conns); F(commands); F(replies); F(errors_server); F(errors_injected); FH(delayed); FH(hung);
    F(abandoned_inflight); F(abandoned_held); FH(garbage_client); FH(garbage_server); F(passthrough);
    F(pushes); F(unsolicited); F(peak_inflight);
#undef FH
#undef F
    rec_kv_u64(kv, "live", live);
    rec_kv_u64(kv, "inflight", inflight);
    rec_kv_u64(kv, "held", held);
    char k[RESP_NAME_MAX + 16];
    for (int i = 0; i < t->nnames; i++) {
        snprintf(k, sizeof(k), "cmd:%s:calls", t->names[i].name);
        rec_kv_u64(kv, k, t->names[i].calls);
        snprintf(k, sizeof(k), "cmd:%s:errors", t->names[i].name);
        rec_kv_u64(kv, k, t->names[i].errors);
        snprintf(k, sizeof(k), "cmd:%s:injected", t->names[i].name);
        rec_kv_u64(kv, k, t->names[i].injected);
    }
}
