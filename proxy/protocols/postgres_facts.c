/* postgres_facts.c -- what a postgres proxy knows: totals per proxy, sessions per (user,
 * application_name), and how they are told -- /stats (pg_stats_json) and the record (a
 * connection's pg_* fields, the per-proxy totals hash, the pgstate stream: record/record.h,
 * docs/metrics.md).
 *
 * Totals live in a table by proxy name for the life of the process, so a reload that keeps a
 * proxy's name keeps its totals; the sessions open on it (of the live proxy object and of any
 * retired one whose connections still run) are linked from its row. The groups are the pool a
 * service holds, as pg_stat_activity would show it: PG_GROUPS per proxy, then one shared row.
 */
#include "proxy/protocols/postgres.h"
#include "proxy/protocols/postgres_int.h"
#include "proxy/proxy.h"
#include "record/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct frame_table totals = {sizeof(struct pg_totals), 256, 0, NULL};

struct pg_totals *pg_totals_for(const char *name)
{
    return (struct pg_totals *)frame_totals_for(&totals, name);
}

/* s as the inside of a JSON string (control characters dropped), cut to fit n. */
static const char *pg_json_esc(const char *s, char *b, size_t n)
{
    size_t o = 0;
    for (; *s && o + 3 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20) continue;
        if (ch >= 0x80) ch = '?';            /* JSON wants UTF-8; the wire may have any bytes */
        if (ch == '"' || ch == '\\') b[o++] = '\\';
        b[o++] = (char)ch;
    }
    b[o] = 0;
    return b;
}

struct pg_group *pg_group_for(struct pg_totals *t, const char *user, const char *app)
{
    for (int i = 0; i < t->ngroups; i++)
        if (!strcmp(t->groups[i].user, user) && !strcmp(t->groups[i].app, app)) return &t->groups[i];
    struct pg_group *g;
    if (t->ngroups < PG_GROUPS - 1) {
        g = &t->groups[t->ngroups++];
        snprintf(g->user, sizeof(g->user), "%s", user);
        snprintf(g->app, sizeof(g->app), "%s", app);
    } else {
        g = &t->groups[PG_GROUPS - 1];                 /* shared overflow row */
        snprintf(g->user, sizeof(g->user), "(other)");
        snprintf(g->app, sizeof(g->app), "(other)");
        t->ngroups = PG_GROUPS;
    }
    return g;
}

static const struct pg_totals *pg_totals_find(const char *name)
{
    return (const struct pg_totals *)frame_totals_find(&totals, name);
}

/* Live state of a group's sessions on px: in a transaction now, longest idle in one now. */
struct pg_gstate { uint32_t in_tx; int64_t idle_max_us; };

static void pg_group_states(const struct pg_totals *t, struct pg_gstate *gs)
{
    int64_t now = fl_now_us();
    memset(gs, 0, sizeof(*gs) * PG_GROUPS);
    for (struct frame_sess *o = t->h.open; o; o = o->onext) {
        const struct pg_sess *s = pg_of(o);
        if (!s->grp) continue;
        struct pg_gstate *g = &gs[s->grp - t->groups];
        if (s->txs == 'T' || s->txs == 'E') g->in_tx++;
        if (s->idle_tx_since && now - s->idle_tx_since > g->idle_max_us) g->idle_max_us = now - s->idle_tx_since;
    }
}

char *pg_stats_json(const struct fl_proxy *px)
{
    static struct pg_totals zero;
    const struct pg_totals *t = pg_totals_find(px->spec.name);
    if (!t) t = &zero;
    uint64_t live = 0, in_tx = 0, held = 0;
    for (struct frame_sess *o = t->h.open; o && px->spec.protocol == &protocol_postgres; o = o->onext) {
        live++;
        if (pg_of(o)->txs == 'T' || pg_of(o)->txs == 'E') in_tx++;
        if (o->gate_until == INT64_MAX) held++;
    }
    char *out = malloc(2048);
    if (!out) abort();
#define U(x) (unsigned long long)(x)
    snprintf(out, 2048,
             "{\"conns\":%llu,\"live\":%llu,\"live_in_tx\":%llu,\"held\":%llu,\"startups\":%llu,\"queries\":%llu,"
             "\"xacts\":%llu,\"rows\":%llu,\"cancel_requests\":%llu,\"cancels_matched\":%llu,"
             "\"cancels_while_held\":%llu,\"errors_server\":%llu,\"errors_injected\":%llu,"
             "\"startup_errors\":%llu,\"delayed\":%llu,\"hung\":%llu,\"dropped\":%llu,\"abandoned_held\":%llu,"
             "\"closed_in_tx\":%llu,\"terminated\":%llu,\"ssl_refused\":%llu,\"ssl_passthrough\":%llu,"
             "\"ssl_terminated\":%llu,\"gss_refused\":%llu,\"garbage_client\":%llu,\"garbage_server\":%llu,\"idle_in_tx_ms\":%.1f}",
             U(t->h.conns), U(live), U(in_tx), U(held), U(t->startups), U(t->queries), U(t->xacts), U(t->rows),
             U(t->cancel_requests), U(t->cancels_matched), U(t->cancels_while_held), U(t->errors_server),
             U(t->errors_injected), U(t->startup_errors), U(t->h.delayed), U(t->h.hung), U(t->dropped),
             U(t->abandoned_held), U(t->closed_in_tx), U(t->terminated), U(t->ssl_refused),
             U(t->ssl_passthrough), U(t->ssl_terminated), U(t->gss_refused), U(t->h.garbage_client), U(t->h.garbage_server),
             (double)t->idle_tx_us / 1000.0);
    /* ... then the sessions per (user, application), as a pool seen from the database */
    size_t o = strlen(out) - 1, cap = 2048 + (size_t)t->ngroups * 400;
    out = realloc(out, cap);
    if (!out) abort();
    o += (size_t)snprintf(out + o, cap - o, ",\"sessions\":[");
    struct pg_gstate gs[PG_GROUPS];
    pg_group_states(t, gs);
    for (int i = 0; i < t->ngroups; i++) {
        const struct pg_group *g = &t->groups[i];
        char ue[200], ae[200];
        o += (size_t)snprintf(out + o, cap - o,
                              "%s{\"user\":\"%s\",\"application_name\":\"%s\",\"conns\":%llu,\"live\":%u,"
                              "\"in_tx\":%u,\"idle_in_tx_max_ms\":%.1f}",
                              i ? "," : "", pg_json_esc(g->user, ue, sizeof(ue)), pg_json_esc(g->app, ae, sizeof(ae)),
                              U(g->conns), g->live, gs[i].in_tx, (double)gs[i].idle_max_us / 1000.0);
    }
    snprintf(out + o, cap - o, "]}");
#undef U
    return out;
}

void pg_totals_facts(const struct fl_proxy *px, struct rec_kv *kv)
{
    const struct pg_totals *t = pg_totals_find(px->spec.name);
    static const struct pg_totals zero;
    if (!t) t = &zero;
    uint64_t live = 0, in_tx = 0, held = 0;
    for (struct frame_sess *o = t->h.open; o; o = o->onext) {
        live++;
        if (pg_of(o)->txs == 'T' || pg_of(o)->txs == 'E') in_tx++;
        if (o->gate_until == INT64_MAX) held++;
    }
#define F(k) rec_kv_u64(kv, #k, t->k)
#define FH(k) rec_kv_u64(kv, #k, t->h.k)
    rec_kv_str(kv, "mode", "postgres");
    FH(conns); F(startups); F(queries); F(xacts); F(rows); F(cancel_requests); F(cancels_matched);
    F(cancels_while_held); F(errors_server); F(errors_injected); F(startup_errors); FH(delayed); FH(hung);
    F(dropped); F(abandoned_held); F(closed_in_tx); F(terminated); F(ssl_refused); F(ssl_passthrough); F(ssl_terminated);
    F(gss_refused); FH(garbage_client); FH(garbage_server);
#undef FH
#undef F
    rec_kv_ms(kv, "idle_in_tx_ms", (int64_t)t->idle_tx_us);
    rec_kv_u64(kv, "live", live);
    rec_kv_u64(kv, "live_in_tx", in_tx);
    rec_kv_u64(kv, "held", held);
}

void pg_state_facts(struct fl_proxy *px, struct rec_kv *kv)
{
    struct pg_totals *t = pg_totals_for(px->spec.name);
    struct pg_gstate gs[PG_GROUPS];
    pg_group_states(t, gs);
    uint64_t live = 0, in_tx = 0;
    int64_t idle = 0;
    int n = 0;
    for (int i = 0; i < t->ngroups; i++) {
        struct pg_group *g = &t->groups[i];
        int64_t gi = gs[i].idle_max_us > g->idle_done_max_us ? gs[i].idle_max_us : g->idle_done_max_us;
        live += g->live;
        in_tx += gs[i].in_tx;
        if (gi > idle) idle = gi;
        if (g->live || g->peak || gi) {
            char k[32];
            snprintf(k, sizeof(k), "user.%d", n); rec_kv_str(kv, k, g->user);
            snprintf(k, sizeof(k), "app.%d", n); rec_kv_str(kv, k, g->app);
            snprintf(k, sizeof(k), "conns.%d", n); rec_kv_u64(kv, k, g->live);
            snprintf(k, sizeof(k), "peak.%d", n); rec_kv_u64(kv, k, g->peak > g->live ? g->peak : g->live);
            snprintf(k, sizeof(k), "in_tx.%d", n); rec_kv_u64(kv, k, gs[i].in_tx);
            snprintf(k, sizeof(k), "idle_in_tx_max_ms.%d", n); rec_kv_ms(kv, k, gi);
            n++;
        }
        g->peak = g->live;
        g->idle_done_max_us = 0;
    }
    rec_kv_u64(kv, "conns", live);
    rec_kv_u64(kv, "in_tx", in_tx);
    rec_kv_ms(kv, "idle_in_tx_max_ms", idle);
    rec_kv_u64(kv, "groups", (uint64_t)n);
}

void pg_conn_facts(const struct conn *c, struct rec_kv *kv)
{
    const struct pg_sess *s = c->proto;
    if (!s) return;
    if (s->is_cancel) {
        rec_kv_str(kv, "pg_cancel_request", "1");
        if (s->cancel_target) rec_kv_u64(kv, "pg_cancel_target", s->cancel_target);
        return;
    }
    if (s->phase == PGP_RAW) rec_kv_str(kv, "pg_passthrough", "1");
    if (!s->grp) return;                 /* no startup packet: nothing else is known */
    int64_t idle = s->idle_tx_us, idle_max = s->idle_tx_max_us;
    if (s->idle_tx_since) {
        int64_t d = (c->t_close ? c->t_close : fl_now_us()) - s->idle_tx_since;
        idle += d;
        if (d > idle_max) idle_max = d;
    }
    rec_kv_str(kv, "pg_user", s->user);
    rec_kv_str(kv, "pg_database", s->database);
    rec_kv_str(kv, "pg_app", s->app);
    rec_kv_u64(kv, "pg_queries", s->queries);
    rec_kv_u64(kv, "pg_xacts", s->xacts);
    rec_kv_u64(kv, "pg_rows", s->rows);
    rec_kv_ms(kv, "pg_idle_in_tx_ms", idle);
    rec_kv_ms(kv, "pg_idle_in_tx_max_ms", idle_max);
    rec_kv_str(kv, "pg_in_tx_at_close", s->txs == 'T' || s->txs == 'E' ? "1" : "0");
    rec_kv_u64(kv, "pg_cancels_received", s->cancels);
    rec_kv_u64(kv, "pg_errors_server", s->errors_server);
    rec_kv_u64(kv, "pg_errors_injected", s->errors_injected);
    if (s->fs.gate_until == INT64_MAX) rec_kv_str(kv, "pg_held_at_close", "1");
    rec_kv_str(kv, "pg_terminate", s->fs.client_ended ? "1" : "0");
}
