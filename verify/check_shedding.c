/* check_shedding.c -- `check = shedding`: while a dependency is slow, the service rejects its
 * excess load fast instead of queueing it, and the calls it accepts stay fast.
 *
 * A slow dependency lowers what a service can serve: each call holds a worker (a thread, a
 * connection, a slot) longer. A service that queues the excess (an unbounded executor queue,
 * Tomcat's acceptCount, a listen backlog, a pool's wait queue) makes every caller wait behind
 * the backlog, and its latency grows without bound. A service that sheds answers the excess at
 * once with 429 or 503 (Envoy's adaptive concurrency and local rate limit, Netflix
 * concurrency-limits, gRPC's RESOURCE_EXHAUSTED, resilience4j Bulkhead with maxWaitDuration 0,
 * a bounded pool that fails fast), so its callers can go elsewhere or back off, and the calls it
 * does accept are served at the dependency's pace.
 *
 * Read from an ingress proxy (`role = ingress`; verify/requests.h): during the fault windows,
 * requests answered with a status in `reject_status` (429, 503) are rejections, and the rest
 * (answered, failed, or given up on after `abort_after`) were accepted. Bounds: the
 * `quantile` latency of the rejections <= `reject_within` (a rejection after a wait is a queue
 * in disguise), and the `quantile` latency of the accepted <= `p99` (the excess was not
 * queued). Evidence: an ingress proxy, a fault window, `min_requests` counted requests, and
 * excess load: some requests rejected or the accepted ones slow. Nothing rejected and every
 * accepted call fast means the load never exceeded what the service could serve: there was
 * nothing to shed (INCONCLUSIVE: raise the load).
 */
#include "verify/requests.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "429,503" into a list of statuses; 0 or -1 (e->err). */
static int statuses(struct vexp *e, int *st, int *n)
{
    const char *v = vexp_str(e, "reject_status");
    *n = 0;
    if (!v) { st[0] = 429; st[1] = 503; *n = 2; return 0; }
    char buf[200];
    snprintf(buf, sizeof(buf), "%s", v);
    char *save = NULL;
    for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        char *end;
        long s = strtol(t, &end, 10);
        if (*end || s < 100 || s > 599 || *n >= 16) return vexp_fail(e, "reject_status", "'%s' is not a list of HTTP statuses (429,503)", v);
        st[(*n)++] = (int)s;
    }
    if (!*n) return vexp_fail(e, "reject_status", "needs at least one status");
    return 0;
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double rw, p99, q, abort_after, minreq;
    int st[16], nst;
    if (vexp_dur(e, "reject_within", VREQ, &rw) < 0) return -1;
    if (vexp_dur(e, "p99", VREQ, &p99) < 0) return -1;
    if (vreq_quantile_param(e, "quantile", 0.99, &q) < 0) return -1;
    if (statuses(e, st, &nst) < 0) return -1;
    if (vexp_dur(e, "abort_after", p99, &abort_after) < 0) return -1;
    double defmin = q < 1 && ceil(1 / (1 - q) - 1e-9) > 20 ? ceil(1 / (1 - q) - 1e-9) : 20;
    if (vexp_num(e, "min_requests", defmin, 1, 1e9, &minreq) < 0) return -1;
    if (!cx) return 0;

    char b1[32], b2[32], b3[32], b4[32];
    vres_bound(r, "rejections p%g <= %s, accepted p%g <= %s", q * 100, vfmt_ms(rw, b1, sizeof(b1)), q * 100,
               vfmt_ms(p99, b2, sizeof(b2)));
    struct vwins w;
    vctx_windows(cx, e, NULL, &w);
    if (!w.n) {
        vres(r, V_INCONCLUSIVE, "no fault window in the record%s: the dependency was never slow", e->fault ? " for that fault" : "");
        vwins_free(&w);
        return 0;
    }
    struct vpx *p;
    int rc = vreq_proxy(cx, e, &p, r);
    if (rc) { vwins_free(&w); return rc < 0 ? -1 : 0; }
    struct vrec *v = cx->rec;
    double *rej = fl_calloc((size_t)p->nev + 1, sizeof(double)), *acc = fl_calloc((size_t)p->nev + 1, sizeof(double));
    int nrej = 0, nacc = 0, skipped = 0;
    for (int i = 0; i < p->nev; i++) {
        const struct vev *ev = &p->ev[i];
        if (ev->kind != VEV_REQUEST || isnan(ev->req_ms)) continue;
        int in = 0;
        for (int k = 0; k < w.n && !in; k++)
            in = ev->req_ms >= w.w[k].start && ev->req_ms < (isinf(w.w[k].end) ? v->end_ms : w.w[k].end);
        if (!in) continue;
        struct vreq rq;
        vreq_of(ev, 600, abort_after, v->end_ms, &rq);
        if (rq.kind == VRQ_SKIP) { skipped++; continue; }
        int is_rej = 0;
        for (int k = 0; k < nst && rq.kind == VRQ_OK; k++) is_rej |= rq.status == st[k];
        double lat = isnan(rq.lat_ms) ? abort_after : rq.lat_ms;
        if (is_rej) rej[nrej++] = lat;
        else acc[nacc++] = lat;
    }
    vwins_free(&w);
    int n = nrej + nacc;
    double rq_ = vreq_quantile(rej, nrej, q), aq = vreq_quantile(acc, nacc, q);
    free(rej);
    free(acc);
    vres_measured(r, "%d requests during the fault: %d rejected (p%g %s), %d accepted (p%g %s)", n, nrej, q * 100,
                  nrej ? vfmt_ms(rq_, b1, sizeof(b1)) : "-", nacc, q * 100, nacc ? vfmt_ms(aq, b2, sizeof(b2)) : "-");
    if (n < minreq) {
        vres(r, V_INCONCLUSIVE, "%d requests counted during the fault (needs %g: min_requests)%s", n, minreq,
             skipped ? "; clients that left sooner than abort_after are not counted" : "");
    } else if (nrej && rq_ > rw) {
        vres(r, V_FAIL, "rejections took %s (p%g), more than reject_within %s: the excess waited before it was turned away",
             vfmt_ms(rq_, b1, sizeof(b1)), q * 100, vfmt_ms(rw, b2, sizeof(b2)));
    } else if (nacc && aq > p99) {
        vres(r, V_FAIL, "accepted calls took %s (p%g), more than %s%s: the excess was queued instead of shed",
             vfmt_ms(aq, b3, sizeof(b3)), q * 100, vfmt_ms(p99, b4, sizeof(b4)),
             nrej ? " even with some rejected" : ", and nothing was rejected");
    } else if (!nrej) {
        vres(r, V_INCONCLUSIVE, "nothing was rejected and the accepted calls stayed fast: the load never exceeded what the "
             "service could serve, so there was nothing to shed (raise the load)");
    } else {
        vres(r, V_PASS, "the service shed %d of %d requests fast and kept the accepted ones under %s", nrej, n,
             vfmt_ms(p99, b1, sizeof(b1)));
    }
    return 0;
}

const struct vcheck vcheck_shedding = {"shedding", 1, judge};
