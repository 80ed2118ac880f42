/* check_timeout.c -- `check = timeout`: the client abandons a held call within `within`.
 *
 * Seen from the dependency, a client timeout is the moment the client hangs up on a call that
 * got no answer: Go's http.Client{Timeout} and context deadlines, pgx/database/sql contexts,
 * axios `timeout`, HikariCP's connectionTimeout/socketTimeout all end in a FIN or RST while the
 * fault holds the call. The record has that moment (gave_up_ms, waited_ms for connections;
 * abandoned_ms for http requests).
 *
 * A call counts when the fault held it. On tcp the record follows calls as turns (the
 * client's bytes, then what the upstream sends back until the client speaks again:
 * call_open_ms, call_max_ms, call_max_at_ms): for faults that mark their holds (hang, timeout,
 * blackhole, pg_hang, redis_hang) a held call is a turn still open at the close (sent, no answer,
 * or bytes still held towards the client) or one answered after the hold began; a pooled
 * connection idling through the hold is none. For faults that slow rather than hold (latency,
 * bandwidth, slicer, slow_body...) the open turn counts (abandoned when the client closed the
 * connection, else held until its close), and so does the longest answered turn, when it
 * overlapped a fault window: an idle keep-alive connection waits for nothing. On http, a
 * request to which a holding fault was applied. Each
 * counted call either was abandoned (waited = how long the client waited) or was still held
 * for longer than `within` without the client giving up (a client with no timeout: it fails).
 * A TLS handshake held by tls_hang or tls_slow (the record's tls_fault = hang | slow, on any
 * mode) is a call too: from hang_ms until the client gave up (gave_up_ms), or until the hold
 * ended (hang_end_ms: the fault's delay or window was over) or the connection closed. A client
 * whose connect timeout does not cover the handshake waits it out: it fails like any other.
 * A call held for less than `within` that the fault itself released proves nothing and is not
 * counted. `quantile` (default 1 = all calls) relaxes the bound for clients with jitter.
 */
#include "verify/check.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *holding[] = {"hang", "timeout", "blackhole", "pg_hang", "redis_hang", "latency", "slow_body",
                                "bandwidth", "slow", "slicer", "pg_latency", "redis_latency", "tls_hang", "tls_slow", "h2_flow_stall", NULL};
/* the types that mark the calls they hold (hang_ms); the others slow calls down */
static const char *marking[] = {"hang", "timeout", "blackhole", "pg_hang", "redis_hang", "tls_hang", "tls_slow", NULL};

static int in_list(const char *const *l, const char *type)
{
    for (int i = 0; l[i]; i++)
        if (!strcmp(type, l[i])) return 1;
    return 0;
}

static int is_holding(const char *type)
{
    if (!type || !type[0]) return 1;    /* unknown type: trust the record's own held marks */
    for (int i = 0; holding[i]; i++)
        if (!strcmp(type, holding[i])) return 1;
    return 0;
}

/* When a hold ends by itself: the window end for faults that release or reset, else never. */
static double hold_end(struct vrec *v, const char *fault, double at)
{
    struct vfault *f = vrec_fault(v, fault);
    if (!f || !strcmp(f->on_end, "keep")) return INFINITY;
    for (int i = 0; i < f->nw; i++)
        if (at >= f->w[i].start - 1 && at <= f->w[i].end) return f->w[i].end;
    return INFINITY;
}

/* [a, b] overlaps a window of f */
static int in_windows(const struct vfault *f, double a, double b)
{
    for (int k = 0; k < f->nw; k++)
        if (a <= f->w[k].end && b >= f->w[k].start) return 1;
    return 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The waits of the held calls, and how each ended. */
struct waits {
    double *wt;                /* one per counted call: how long the client waited */
    int n, stuck, abandoned, skipped;
};

static void add_wait(struct waits *t, double waited, int *which)
{
    t->wt[t->n++] = waited;
    (*which)++;
}

/* A tcp connection a slowing fault (latency, bandwidth, slicer...) acted on: it marks no hold,
 * so the record's turns say which calls it slowed (docs/metrics.md, call_*). */
static void slowed_calls(struct vctx *cx, const struct vev *ev, double within, struct waits *t)
{
    struct vfault *f = vrec_fault(cx->rec, ev->fault);
    if (!f || !is_holding(f->type) || in_list(marking, f->type)) return;
    double cl = !isnan(ev->close_ms) ? ev->close_ms : cx->rec->end_ms;
    /* the call still open at the close (no answer since the client spoke, or bytes
     * still held towards it): abandoned when the client closed, else held to the end */
    if (!isnan(ev->call_open_ms) && in_windows(f, ev->call_open_ms, cl)) {
        if (!isnan(ev->client_eof_ms) || !strcmp(ev->closed_by, "client"))   /* the client hung up on it */
            add_wait(t, (!isnan(ev->client_eof_ms) ? ev->client_eof_ms : cl) - ev->call_open_ms, &t->abandoned);
        else if (cl - ev->call_open_ms > within) add_wait(t, cl - ev->call_open_ms, &t->stuck);
        else t->skipped++;
    }
    /* the longest answered call: the client waited it out */
    if (!isnan(ev->call_max_ms) && !isnan(ev->call_max_at_ms) &&
        in_windows(f, ev->call_max_at_ms, ev->call_max_at_ms + ev->call_max_ms)) {
        if (ev->call_max_ms > within) add_wait(t, ev->call_max_ms, &t->stuck);
        else t->skipped++;
    }
}

/* A tcp connection a holding fault held: when its call started, when the client gave up on it
 * (*gave, NAN: never), when the hold ends by itself and when the call ended. 0 when it holds no
 * call. */
static int held_conn(struct vctx *cx, const struct vev *ev, double *start, double *gave, double *end_hold,
                     double *closed)
{
    if (ev->kind != VEV_CONN || isnan(ev->hang_ms) || isnan(ev->last_up_ms)) return 0;
    *end_hold = hold_end(cx->rec, ev->fault, ev->hang_ms);
    *closed = !isnan(ev->close_ms) ? ev->close_ms : cx->rec->end_ms;
    if (!isnan(ev->call_open_ms) || !isnan(ev->call_max_at_ms)) {
        /* turns recorded: a held call is one open at the close (sent, never answered),
         * or one the fault released and that was answered after the hold began; a
         * pooled connection idling through the hold, and closed by the pool, is none.
         * A turn opened after the hold ended (a Postgres Terminate, a last request the
         * client sent after its released call was answered) was never held: then the
         * answered one is the call */
        if (!isnan(ev->call_open_ms) && !(ev->call_open_ms >= *end_hold && !isnan(ev->call_max_at_ms))) {
            *start = ev->call_open_ms > ev->hang_ms ? ev->call_open_ms : ev->hang_ms;
            if (!isnan(ev->gave_up_ms) && ev->gave_up_ms <= *end_hold + 1) *gave = ev->gave_up_ms - *start;
        } else {
            double cs = ev->call_max_at_ms, ce = cs + ev->call_max_ms;
            if (ce < ev->hang_ms) return 0;          /* answered before the hold */
            *start = cs > ev->hang_ms ? cs : ev->hang_ms;
            *closed = ce;
        }
    } else {
        /* older records: any bytes sent; a request answered before the hold is no call */
        if (ev->last_up_ms < ev->hang_ms - 1 && !isnan(ev->first_down_ms) && ev->first_down_ms > ev->last_up_ms) return 0;
        *start = ev->last_up_ms > ev->hang_ms ? ev->last_up_ms : ev->hang_ms;
        if (!isnan(ev->gave_up_ms) && ev->gave_up_ms <= *end_hold + 1)
            *gave = !isnan(ev->waited_ms) ? ev->waited_ms : ev->gave_up_ms - *start;
    }
    return 1;
}

/* An http request a holding fault was applied to: as held_conn. */
static int held_request(struct vctx *cx, const struct vev *ev, double *start, double *gave, double *end_hold,
                        double *closed)
{
    if (ev->kind != VEV_REQUEST || !ev->fault[0] || isnan(ev->req_ms)) return 0;
    struct vfault *f = vrec_fault(cx->rec, ev->fault);
    if (f && !is_holding(f->type)) return 0;
    *start = ev->req_ms;
    *end_hold = hold_end(cx->rec, ev->fault, ev->req_ms);
    if (!isnan(ev->abandoned_ms)) *gave = ev->abandoned_ms;
    *closed = !isnan(ev->total_ms) ? *start + ev->total_ms : (ev->held_at_end ? cx->rec->end_ms : NAN);
    return !isnan(*closed);
}

/* A TLS handshake a tls_hang or tls_slow fault held (tls_fault = hang | slow): as held_conn, the
 * call being the handshake. */
static int held_handshake(struct vctx *cx, const struct vev *ev, double *start, double *gave, double *end_hold,
                          double *closed)
{
    if (ev->kind != VEV_CONN || isnan(ev->hang_ms) || (strcmp(ev->tls_fault, "hang") && strcmp(ev->tls_fault, "slow")))
        return 0;
    *start = ev->hang_ms;
    *end_hold = !isnan(ev->hang_end_ms) ? ev->hang_end_ms : hold_end(cx->rec, ev->fault, ev->hang_ms);
    *closed = !isnan(ev->close_ms) ? ev->close_ms : cx->rec->end_ms;
    if (!isnan(ev->gave_up_ms) && ev->gave_up_ms <= *end_hold + 1) *gave = ev->gave_up_ms - *start;
    return 1;
}

/* Every held call of the proxy's events into t. */
static void collect_waits(struct vctx *cx, struct vexp *e, const struct vpx *p, double within, struct waits *t)
{
    int http = 0;
    for (int i = 0; i < p->nev; i++) if (p->ev[i].kind == VEV_REQUEST) { http = 1; break; }
    for (int i = 0; i < p->nev; i++) {
        const struct vev *ev = &p->ev[i];
        if (e->fault && strcmp(ev->fault, e->fault)) continue;
        double start, gave = NAN, end_hold, closed;
        if (held_handshake(cx, ev, &start, &gave, &end_hold, &closed)) {
            double held = (end_hold < closed ? end_hold : closed) - start;
            if (!isnan(gave)) add_wait(t, gave, &t->abandoned);
            else if (held > within) add_wait(t, held, &t->stuck);
            else t->skipped++;
            continue;
        }
        if (!http && ev->kind == VEV_CONN && isnan(ev->hang_ms) && ev->fault[0]) {
            slowed_calls(cx, ev, within, t);
            continue;
        }
        if (!(http ? held_request : held_conn)(cx, ev, &start, &gave, &end_hold, &closed)) continue;
        if (!isnan(gave)) {
            add_wait(t, gave, &t->abandoned);
            continue;
        }
        double held = (end_hold < closed ? end_hold : closed) - start;
        if (held > within) add_wait(t, held, &t->stuck);
        else t->skipped++;
    }
}

/* `quantile`: p99, p99.9, or a ratio (default 1: every call). */
static int read_quantile(struct vexp *e, double *q)
{
    const char *qs0 = vexp_str(e, "quantile");
    if (qs0 && (qs0[0] == 'p' || qs0[0] == 'P')) {          /* p99, p99.9 */
        char *end;
        *q = strtod(qs0 + 1, &end) / 100;
        if (end == qs0 + 1 || *end || *q <= 0 || *q > 1) return vexp_fail(e, "quantile", "'%s' is not p50..p100 or a ratio", qs0);
    } else if (vexp_ratio(e, "quantile", 1.0, 1.0, q) < 0) {
        return -1;
    }
    if (*q <= 0) return vexp_fail(e, "quantile", "must be above 0");
    return 0;
}

/* The q-quantile of the waits against `within`. */
static void verdict(struct waits *t, double q, double within, double minc, struct verify_result *r)
{
    char b1[32], b2[32];
    int n = t->n;
    if (n == 0 || (n < minc && !(q >= 1 && t->stuck))) {
        vres_measured(r, "%d held call%s", n, n == 1 ? "" : "s");
        vres(r, V_INCONCLUSIVE, "%d call%s held long enough to judge (needs %g)%s", n, n == 1 ? "" : "s", minc,
             t->skipped ? "; calls released by the fault before the bound are not counted" : "");
        return;
    }
    qsort(t->wt, (size_t)n, sizeof(double), cmp_d);
    int k = (int)ceil(q * n - 1e-9) - 1;
    if (k < 0) k = 0;
    if (k >= n) k = n - 1;
    double pq = t->wt[k];
    char qs[16];
    if (q >= 1) snprintf(qs, sizeof(qs), "max");
    else snprintf(qs, sizeof(qs), "p%g", q * 100);
    vres_measured(r, "%s waited %s (%d held calls: %d abandoned, %d never)", qs, vfmt_ms(pq, b1, sizeof(b1)), n,
                  t->abandoned, t->stuck);
    if (pq <= within) {
        vres(r, V_PASS, "the client gave up on held calls within %s", vfmt_ms(within, b2, sizeof(b2)));
    } else if (t->stuck) {
        vres(r, V_FAIL, "%d call%s stayed held longer than %s without the client giving up (no timeout?)", t->stuck,
             t->stuck == 1 ? "" : "s", vfmt_ms(within, b2, sizeof(b2)));
    } else {
        vres(r, V_FAIL, "the client waited %s on a held call, more than %s (timeout too long)",
             vfmt_ms(pq, b1, sizeof(b1)), vfmt_ms(within, b2, sizeof(b2)));
    }
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double within, q, minc;
    if (vexp_dur(e, "within", VREQ, &within) < 0) return -1;
    if (read_quantile(e, &q) < 0) return -1;
    double defmin = q >= 1 ? 1 : ceil(1 / (1 - q) - 1e-9);
    if (vexp_num(e, "min_calls", defmin, 1, 1e9, &minc) < 0) return -1;
    if (!cx) return 0;

    char b1[32];
    if (q < 1) vres_bound(r, "p%g <= %s", q * 100, vfmt_ms(within, b1, sizeof(b1)));
    else vres_bound(r, "all <= %s", vfmt_ms(within, b1, sizeof(b1)));
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    if (vctx_need_fault(cx, e, &w, r)) { vwins_free(&w); return 0; }
    vwins_free(&w);
    struct vpx *p = vrec_proxy(cx->rec, e->proxy, 1, e->err, e->errlen);
    if (!p) return -1;
    struct waits t = {fl_calloc(2 * (size_t)p->nev + 1, sizeof(double)), 0, 0, 0, 0};
    collect_waits(cx, e, p, within, &t);
    verdict(&t, q, within, minc, r);
    free(t.wt);
    return 0;
}

const struct vcheck vcheck_timeout = {"timeout", 1, judge};
