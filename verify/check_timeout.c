/* check_timeout.c -- `check = timeout`: the client abandons a held call within `within`.
 *
 * Seen from the dependency, a client timeout is the moment the client hangs up on a call that
 * got no answer: Go's http.Client{Timeout} and context deadlines, pgx/database/sql contexts,
 * axios `timeout`, HikariCP's connectionTimeout/socketTimeout all end in a FIN or RST while the
 * fault holds the call. The record has that moment (gave_up_ms, waited_ms for connections;
 * abandoned_ms for http requests).
 *
 * A call counts when the fault held it: a connection with hang_ms on which the client sent
 * something (a pooled connection idling in the pool is not a call), or an http request to which
 * a holding fault (hang, timeout, blackhole, latency, slow_body, bandwidth) was applied. Each
 * For tcp faults that slow rather than hold (bandwidth, latency, slow), a connection whose
 * client sent its last bytes while the fault acted counts as a call lasting from those bytes to
 * the connection's end (this assumes a connection per call; an idle keep-alive connection
 * closed long after its last call reads as a long wait). Each
 * counted call either was abandoned (waited = how long the client waited) or was still held
 * for longer than `within` without the client giving up (a client with no timeout: it fails).
 * A call held for less than `within` that the fault itself released proves nothing and is not
 * counted. `quantile` (default 1 = all calls) relaxes the bound for clients with jitter.
 */
#include "vcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *holding[] = {"hang", "timeout", "blackhole", "latency", "slow_body", "bandwidth", "slow", NULL};

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

    double *wt = calloc((size_t)p->nev + 1, sizeof(double));
    int n = 0, stuck = 0, abandoned = 0, skipped = 0;
    for (int i = 0; i < p->nev; i++) {
        struct vev *ev = &p->ev[i];
        if (e->fault && strcmp(ev->fault, e->fault)) continue;
        double start, gave = NAN, end_hold, closed;
        if (!http && ev->kind == VEV_CONN && isnan(ev->hang_ms) && ev->fault[0] && !isnan(ev->last_up_ms)) {
            /* a slowing fault (bandwidth, latency...) marks no hold: the call is the time from the
             * client's last bytes to the connection's end, if it began while the fault acted */
            struct vfault *f = vrec_fault(cx->rec, ev->fault);
            if (!f || !is_holding(f->type) || !strcmp(f->type, "hang")) continue;
            int inwin = 0;
            for (int k = 0; k < f->nw; k++) if (ev->last_up_ms >= f->w[k].start && ev->last_up_ms <= f->w[k].end) inwin = 1;
            double end = !isnan(ev->gave_up_ms) ? ev->gave_up_ms : ev->close_ms;
            if (!inwin || isnan(end)) continue;
            double waited = end - ev->last_up_ms;
            if (!strcmp(ev->closed_by, "client")) { wt[n++] = waited; abandoned++; }
            else if (waited > within) { wt[n++] = waited; stuck++; }
            else skipped++;
            continue;
        }
        if (!http) {
            if (ev->kind != VEV_CONN || isnan(ev->hang_ms) || isnan(ev->last_up_ms)) continue;
            /* a request answered before the hold began is not a held call */
            if (ev->last_up_ms < ev->hang_ms - 1 && !isnan(ev->first_down_ms) && ev->first_down_ms > ev->last_up_ms) continue;
            start = ev->last_up_ms > ev->hang_ms ? ev->last_up_ms : ev->hang_ms;
            end_hold = hold_end(cx->rec, ev->fault, ev->hang_ms);
            if (!isnan(ev->gave_up_ms) && ev->gave_up_ms <= end_hold + 1)
                gave = !isnan(ev->waited_ms) ? ev->waited_ms : ev->gave_up_ms - start;
            closed = !isnan(ev->close_ms) ? ev->close_ms : cx->rec->end_ms;
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
