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
 * A call held for less than `within` that the fault itself released proves nothing and is not
 * counted. `quantile` (default 1 = all calls) relaxes the bound for clients with jitter.
 */
#include "verify/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *holding[] = {"hang", "timeout", "blackhole", "pg_hang", "redis_hang", "latency", "slow_body",
                                "bandwidth", "slow", "slicer", "pg_latency", "redis_latency", NULL};
/* the types that mark the calls they hold (hang_ms); the others slow calls down */
static const char *marking[] = {"hang", "timeout", "blackhole", "pg_hang", "redis_hang", NULL};

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

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double within, q, minc;
    if (vexp_dur(e, "within", VREQ, &within) < 0) return -1;
    const char *qs0 = vexp_str(e, "quantile");
    if (qs0 && (qs0[0] == 'p' || qs0[0] == 'P')) {          /* p99, p99.9 */
        char *end;
        q = strtod(qs0 + 1, &end) / 100;
        if (end == qs0 + 1 || *end || q <= 0 || q > 1) return vexp_fail(e, "quantile", "'%s' is not p50..p100 or a ratio", qs0);
    } else if (vexp_ratio(e, "quantile", 1.0, 1.0, &q) < 0) {
        return -1;
    }
    if (q <= 0) return vexp_fail(e, "quantile", "must be above 0");
    double defmin = q >= 1 ? 1 : ceil(1 / (1 - q) - 1e-9);
    if (vexp_num(e, "min_calls", defmin, 1, 1e9, &minc) < 0) return -1;
    if (!cx) return 0;

    char b1[32], b2[32];
    if (q < 1) vres_bound(r, "p%g <= %s", q * 100, vfmt_ms(within, b1, sizeof(b1)));
    else vres_bound(r, "all <= %s", vfmt_ms(within, b1, sizeof(b1)));
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    if (vctx_need_fault(cx, e, &w, r)) { vwins_free(&w); return 0; }
    vwins_free(&w);
    struct vpx *p = vrec_proxy(cx->rec, e->proxy, 1, e->err, e->errlen);
    if (!p) return -1;
    int http = 0;
    for (int i = 0; i < p->nev; i++) if (p->ev[i].kind == VEV_REQUEST) { http = 1; break; }

    double *wt = calloc(2 * (size_t)p->nev + 1, sizeof(double));
    if (!wt) abort();
    int n = 0, stuck = 0, abandoned = 0, skipped = 0;
    for (int i = 0; i < p->nev; i++) {
        struct vev *ev = &p->ev[i];
        if (e->fault && strcmp(ev->fault, e->fault)) continue;
        double start, gave = NAN, end_hold, closed;
        if (!http && ev->kind == VEV_CONN && isnan(ev->hang_ms) && ev->fault[0]) {
            /* a slowing fault (latency, bandwidth, slicer...) marks no hold: the record's turns
             * say which calls it slowed (docs/metrics.md, call_*) */
            struct vfault *f = vrec_fault(cx->rec, ev->fault);
            if (!f || !is_holding(f->type) || in_list(marking, f->type)) continue;
            double cl = !isnan(ev->close_ms) ? ev->close_ms : cx->rec->end_ms;
            /* the call still open at the close (no answer since the client spoke, or bytes
             * still held towards it): abandoned when the client closed, else held to the end */
            if (!isnan(ev->call_open_ms) && in_windows(f, ev->call_open_ms, cl)) {
                if (!isnan(ev->client_eof_ms) || !strcmp(ev->closed_by, "client")) {
                    /* the client hung up on it */
                    wt[n++] = (!isnan(ev->client_eof_ms) ? ev->client_eof_ms : cl) - ev->call_open_ms;
                    abandoned++;
                } else if (cl - ev->call_open_ms > within) {
                    wt[n++] = cl - ev->call_open_ms;
                    stuck++;
                } else {
                    skipped++;
                }
            }
            /* the longest answered call: the client waited it out */
            if (!isnan(ev->call_max_ms) && !isnan(ev->call_max_at_ms) &&
                in_windows(f, ev->call_max_at_ms, ev->call_max_at_ms + ev->call_max_ms)) {
                if (ev->call_max_ms > within) { wt[n++] = ev->call_max_ms; stuck++; }
                else skipped++;
            }
            continue;
        }
        if (!http) {
            if (ev->kind != VEV_CONN || isnan(ev->hang_ms) || isnan(ev->last_up_ms)) continue;
            end_hold = hold_end(cx->rec, ev->fault, ev->hang_ms);
            closed = !isnan(ev->close_ms) ? ev->close_ms : cx->rec->end_ms;
            if (!isnan(ev->call_open_ms) || !isnan(ev->call_max_at_ms)) {
                /* turns recorded: a held call is one open at the close (sent, never answered),
                 * or one the fault released and that was answered after the hold began; a
                 * pooled connection idling through the hold, and closed by the pool, is none.
                 * A turn opened after the hold ended (a Postgres Terminate, a last request the
                 * client sent after its released call was answered) was never held: then the
                 * answered one is the call */
                if (!isnan(ev->call_open_ms) && !(ev->call_open_ms >= end_hold && !isnan(ev->call_max_at_ms))) {
                    start = ev->call_open_ms > ev->hang_ms ? ev->call_open_ms : ev->hang_ms;
                    if (!isnan(ev->gave_up_ms) && ev->gave_up_ms <= end_hold + 1) gave = ev->gave_up_ms - start;
                } else {
                    double cs = ev->call_max_at_ms, ce = cs + ev->call_max_ms;
                    if (ce < ev->hang_ms) continue;          /* answered before the hold */
                    start = cs > ev->hang_ms ? cs : ev->hang_ms;
                    closed = ce;
                }
            } else {
                /* older records: any bytes sent; a request answered before the hold is no call */
                if (ev->last_up_ms < ev->hang_ms - 1 && !isnan(ev->first_down_ms) && ev->first_down_ms > ev->last_up_ms) continue;
                start = ev->last_up_ms > ev->hang_ms ? ev->last_up_ms : ev->hang_ms;
                if (!isnan(ev->gave_up_ms) && ev->gave_up_ms <= end_hold + 1)
                    gave = !isnan(ev->waited_ms) ? ev->waited_ms : ev->gave_up_ms - start;
            }
        } else {
            if (ev->kind != VEV_REQUEST || !ev->fault[0] || isnan(ev->req_ms)) continue;
            struct vfault *f = vrec_fault(cx->rec, ev->fault);
            if (f && !is_holding(f->type)) continue;
            start = ev->req_ms;
            end_hold = hold_end(cx->rec, ev->fault, ev->req_ms);
            if (!isnan(ev->abandoned_ms)) gave = ev->abandoned_ms;
            closed = !isnan(ev->total_ms) ? start + ev->total_ms : (ev->held_at_end ? cx->rec->end_ms : NAN);
            if (isnan(closed)) continue;
        }
        if (!isnan(gave)) {
            wt[n++] = gave;
            abandoned++;
            continue;
        }
        double held = (end_hold < closed ? end_hold : closed) - start;
        if (held > within) {
            wt[n++] = held;
            stuck++;
        } else {
            skipped++;
        }
    }
    if (n == 0 || (n < minc && !(q >= 1 && stuck))) {
        vres_measured(r, "%d held call%s", n, n == 1 ? "" : "s");
        vres(r, V_INCONCLUSIVE, "%d call%s held long enough to judge (needs %g)%s", n, n == 1 ? "" : "s", minc,
             skipped ? "; calls released by the fault before the bound are not counted" : "");
        free(wt);
        return 0;
    }
    qsort(wt, (size_t)n, sizeof(double), cmp_d);
    int k = (int)ceil(q * n - 1e-9) - 1;
    if (k < 0) k = 0;
    if (k >= n) k = n - 1;
    double pq = wt[k];
    char qs[16];
    if (q >= 1) snprintf(qs, sizeof(qs), "max");
    else snprintf(qs, sizeof(qs), "p%g", q * 100);
    vres_measured(r, "%s waited %s (%d held calls: %d abandoned, %d never)", qs, vfmt_ms(pq, b1, sizeof(b1)), n,
                  abandoned, stuck);
    if (pq <= within) {
        vres(r, V_PASS, "the client gave up on held calls within %s", vfmt_ms(within, b2, sizeof(b2)));
    } else if (stuck) {
        vres(r, V_FAIL, "%d call%s stayed held longer than %s without the client giving up (no timeout?)", stuck,
             stuck == 1 ? "" : "s", vfmt_ms(within, b2, sizeof(b2)));
    } else {
        vres(r, V_FAIL, "the client waited %s on a held call, more than %s (timeout too long)",
             vfmt_ms(pq, b1, sizeof(b1)), vfmt_ms(within, b2, sizeof(b2)));
    }
    free(wt);
    return 0;
}

const struct vcheck vcheck_timeout = {"timeout", 1, judge};
