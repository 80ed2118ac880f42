/* check_pool.c -- `check = pool`: concurrency towards the dependency never exceeds `max`.
 *
 * A bounded pool (database/sql SetMaxOpenConns, pgx pool MaxConns, HikariCP maximumPoolSize,
 * node-postgres Pool max, Go http.Transport MaxConnsPerHost, an axios/agent maxSockets) shows
 * from the dependency side as a ceiling on concurrent connections that holds even when every
 * call hangs: callers queue inside the client instead of opening more. An unbounded pool, or
 * a goroutine per request, opens a new connection for every call stuck behind the fault. So
 * the check reads the per-second peak of concurrent connections (`peak`, tcp) or of in-flight
 * requests (`inflight`, http proxies) over the whole run (or only the fault windows with
 * `during = fault`), and by default needs a fault that acted: without pressure no pool ever
 * reaches its ceiling, so a quiet run proves nothing (`need_fault = no` to judge anyway).
 */
#include "verify/check.h"

#include <stdio.h>
#include <string.h>

static const char *const during_names[] = {"run", "fault", NULL};

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double max, mins;
    int meas, during, needf;
    if (vexp_num(e, "max", NAN, 0, 1e9, &max) < 0) return -1;
    if (vexp_enum(e, "measure", vmeasure_names, VM_AUTO, &meas) < 0) return -1;
    if (meas == VM_BYTES) return vexp_fail(e, "measure", "pool measures connections or requests");
    if (vexp_enum(e, "during", during_names, 0, &during) < 0) return -1;
    if (vexp_bool(e, "need_fault", 1, &needf) < 0) return -1;
    if (vexp_num(e, "min_seconds", 3, 1, 1e6, &mins) < 0) return -1;
    if (!cx) return 0;

    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    if ((needf || during == 1) && vctx_need_fault(cx, e, &w, r)) { vwins_free(&w); return 0; }
    struct vpx *p = vrec_proxy(cx->rec, e->proxy, 0, e->err, e->errlen);
    if (!p) { vwins_free(&w); return -1; }
    enum vmeasure m = vmeasure_resolve((enum vmeasure)meas, p);
    const char *what = m == VM_REQUESTS ? "in-flight requests" : "concurrent connections";
    vres_bound(r, "%s <= %g", what, max);
    double peak = -1, at = 0, traffic = 0;
    int nb = 0;
    for (int i = 0; i < p->nts; i++) {
        const struct vts *t = &p->ts[i];
        double t0 = (double)t->sec * 1000, t1 = t0 + p->interval_s * 1000;
        if (during == 1) {
            int in = 0;
            for (int k = 0; k < w.n; k++) if (t1 > w.w[k].start && t0 < w.w[k].end) in = 1;
            if (!in) continue;
        }
        nb++;
        traffic += t->nnew + t->req + t->cur;
        double v = m == VM_REQUESTS ? t->inflight : t->peak;
        if (v > peak) { peak = v; at = t0; }
    }
    if (nb < mins || traffic <= 0) {
        vwins_free(&w);
        vres_measured(r, "%d second%s of series, %s", nb, nb == 1 ? "" : "s", traffic > 0 ? "traffic" : "no traffic");
        vres(r, V_INCONCLUSIVE, traffic <= 0 ? "no traffic through proxy '%s' in the series" :
             "too few seconds of series for proxy '%s' (needs min_seconds)", e->proxy);
        return 0;
    }
    /* http: could the load have pushed an unbounded client past max at all? At the baseline
     * request rate, the calls offered during the fault windows must outnumber `max` (a held call
     * occupies a slot for the whole window at most); if not, even a client with no pool bound
     * stays under it and a pass proves nothing. (tcp: a pooled client's calls are not counted
     * in the series, so this is not judged there.) */
    double a, bb;
    struct verify_result tmp;
    memset(&tmp, 0, sizeof(tmp));
    if (m == VM_REQUESTS && peak <= max && w.n && vctx_baseline(cx, e, &w, &a, &bb, &tmp) == 0) {
        int nb2;
        double base = vpx_rate(p, VM_REQUESTS, a, bb, &nb2), span = 0;
        for (int k = 0; k < w.n; k++) span += (isinf(w.w[k].end) ? vpx_data_end(p) : w.w[k].end) - w.w[k].start;
        if (nb2 >= 1 && base * span / 1000 <= max) {
            char b1[32];
            vres_measured(r, "peak %g %s; ~%.0f calls offered during the fault", peak, what, base * span / 1000);
            vres(r, V_INCONCLUSIVE, "at the baseline rate (%.3g req/s) about %.0f calls arrive during the fault (%s): not "
                 "more than max (%g), so even an unbounded client would stay under it", base, base * span / 1000,
                 vfmt_ms(span, b1, sizeof(b1)), max);
            vwins_free(&w);
            return 0;
        }
    }
    vwins_free(&w);
    char b[32];
    /* a bucket is labelled by its whole second: the run's first one starts before the run */
    vres_measured(r, "peak %g %s (at %s)", peak, what, vfmt_off(at < cx->rec->start_ms ? 0 : at - cx->rec->start_ms, b, sizeof(b)));
    if (peak <= max) vres(r, V_PASS, "the client kept at most %g %s", peak, what);
    else vres(r, V_FAIL, "%g %s, above the pool bound %g (unbounded pool or fan-out?)", peak, what, max);
    return 0;
}

const struct vcheck vcheck_pool = {"pool", 1, judge};
