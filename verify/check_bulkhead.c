/* check_bulkhead.c -- `check = bulkhead`: while proxy A is faulted, calls through proxy
 * `other` keep flowing at >= min_ratio of their baseline rate.
 *
 * Without a bulkhead, one slow dependency takes every worker (a shared goroutine/thread pool,
 * one shared http.Transport or HikariCP pool, Node's libuv threadpool for dns/fs) and the calls
 * to healthy dependencies stop too. resilience4j Bulkhead, separate pools per dependency, or
 * per-dependency concurrency limits keep the others going. From the dependency side: the rate
 * of calls through `other` during A's fault windows, against its rate before the first one:
 * requests/s for http, bytes/s for tcp (a pooled client calls without opening connections).
 */
#include "verify/check.h"

#include <stdio.h>
#include <string.h>

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double ratio, minb;
    int meas;
    const char *other = vexp_str(e, "other");
    if (!other || !other[0]) return vexp_fail(e, NULL, "needs 'other' (the proxy that must keep flowing)");
    if (vexp_ratio(e, "min_ratio", 0.8, 10, &ratio) < 0) return -1;
    if (vexp_enum(e, "measure", vmeasure_names, VM_AUTO, &meas) < 0) return -1;
    if (vexp_num(e, "min_baseline", 2, 1, 1e6, &minb) < 0) return -1;
    if (!cx) return 0;

    vres_bound(r, "%s >= %g%% of baseline", other, ratio * 100);
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    if (vctx_need_fault(cx, e, &w, r)) { vwins_free(&w); return 0; }
    struct vpx *p = vrec_proxy(cx->rec, other, 0, e->err, e->errlen);
    if (!p) { vwins_free(&w); return -1; }
    /* tcp: bytes, since a pooled keep-alive client makes its calls without new connections */
    enum vmeasure m = meas == VM_AUTO && !p->http ? VM_BYTES : vmeasure_resolve((enum vmeasure)meas, p);
    const char *u = vmeasure_unit(m);
    double a, b;
    if (vctx_baseline(cx, e, &w, &a, &b, r) < 0) { vwins_free(&w); return 0; }
    int nb;
    double base = vpx_rate(p, m, a, b, &nb);
    if (nb < minb || !(base > 0)) {
        vres_measured(r, "%s baseline %.3g %s over %d s", other, isnan(base) ? 0 : base, u, nb);
        if (nb < minb) vres(r, V_INCONCLUSIVE, "%d seconds of baseline on '%s' (needs %g)", nb, other, minb);
        else vres(r, V_INCONCLUSIVE, "no calls through '%s' in the baseline", other);
        vwins_free(&w);
        return 0;
    }
    double worst = INFINITY;
    int nf = 0;
    for (int k = 0; k < w.n; k++) {
        double end = isinf(w.w[k].end) ? vpx_data_end(p) : w.w[k].end;
        int n;
        double rate = vpx_rate(p, m, w.w[k].start, end, &n);
        if (n < 1) continue;
        nf += n;
        if (rate < worst) worst = rate;
    }
    vwins_free(&w);
    if (!nf) {
        vres_measured(r, "%s baseline %.3g %s", other, base, u);
        vres(r, V_INCONCLUSIVE, "no whole second of series on '%s' during the fault", other);
        return 0;
    }
    vres_measured(r, "%s %.3g %s during the fault, baseline %.3g (%.0f%%)", other, worst, u, base, worst / base * 100);
    if (worst >= ratio * base) vres(r, V_PASS, "'%s' kept flowing while '%s' was faulted", other, e->proxy);
    else vres(r, V_FAIL, "'%s' fell to %.0f%% of its baseline while '%s' was faulted: no bulkhead", other,
              worst / base * 100, e->proxy);
    return 0;
}

const struct vcheck vcheck_bulkhead = {"bulkhead", 1, judge};
