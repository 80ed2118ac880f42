/* check_retry_budget.c -- `check = retry_budget`: retries stay a bounded share of first attempts.
 *
 * A retry budget caps retries in proportion to the traffic instead of per call: Finagle's
 * RetryBudget (each request deposits, each retry withdraws; percentCanRetry 20% over a 10 s
 * ttl, plus minRetriesPerSec), Envoy's retry_budget (budget_percent of the active requests,
 * min_retry_concurrency), gRPC's retryThrottling (a token bucket: maxTokens, tokenRatio), and
 * the AWS SDKs' retry quota. Per-call bounds alone (max_attempts) still let a fleet triple its
 * load on a dependency that fails every call; a budget keeps the total near 1 + budget.
 *
 * From the dependency's side, over every sliding `window` (default 10 s, Finagle's ttl) ending
 * at a retry: retries / first attempts <= `budget`, beyond `min_retries` retries the window may
 * always hold (Finagle's minRetriesPerSec x ttl, Envoy's min_retry_concurrency; default 0).
 * Windows with fewer than `min_first` first attempts are not judged (a trickle says nothing
 * about a ratio). First attempts and retries are told apart per logical call as `retries` does
 * (verify/attempts.h); attempts of fingerprints the baseline repeats (ambiguous) are left out,
 * and when they are most of the traffic the check is INCONCLUSIVE (send a request id).
 * Evidence: failed attempts (a budget is spent on retries of failures) and a judged window.
 */
#include "verify/attempts.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* How many of the sorted v[0..n) lie in (a, b]. */
static int count_in(const double *v, int n, double a, double b)
{
    int lo = 0, hi = n;
    while (lo < hi) { int m = (lo + hi) / 2; if (v[m] <= a) lo = m + 1; else hi = m; }
    int s = lo;
    hi = n;
    while (lo < hi) { int m = (lo + hi) / 2; if (v[m] <= b) lo = m + 1; else hi = m; }
    return lo - s;
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    struct vatt_params id;
    double budget, win, minr, minf;
    if (vatt_params_read(e, &id) < 0) return -1;
    if (vexp_ratio(e, "budget", -1, 100, &budget) < 0) return -1;
    if (vexp_dur(e, "budget_window", 10000, &win) < 0) return -1;
    if (win <= 0) return vexp_fail(e, "budget_window", "must be above 0");
    if (vexp_num(e, "min_retries", 0, 0, 1e9, &minr) < 0) return -1;
    if (vexp_num(e, "min_first", 20, 1, 1e9, &minf) < 0) return -1;
    if (!cx) return 0;

    char b1[32], b2[32];
    vres_bound(r, "retries <= %g%% of first attempts per %s%s", budget * 100, vfmt_ms(win, b1, sizeof(b1)),
               minr > 0 ? " (+ min_retries)" : "");
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    if (vctx_need_fault(cx, e, &w, r)) { vwins_free(&w); return 0; }
    struct vatt *at;
    int n, ncalls;
    int rc = vatt_calls(cx, e, &id, &w, &at, &n, &ncalls, r);
    vwins_free(&w);
    if (rc) return rc < 0 ? -1 : 0;
    double *first = fl_calloc((size_t)n + 1, sizeof(double)), *retry = fl_calloc((size_t)n + 1, sizeof(double));
    int nf = 0, nr = 0, namb = 0, nfailed = 0;
    for (int i = 0; i < n; i++) {
        nfailed += at[i].failed;
        if (at[i].call < 0) { namb++; continue; }
        if (at[i].idx == 0) first[nf++] = at[i].start;
        else retry[nr++] = at[i].start;
    }
    free(at);
    qsort(first, (size_t)nf, sizeof(double), cmp_d);
    qsort(retry, (size_t)nr, sizeof(double), cmp_d);
    /* the worst window ending at a retry */
    double worst = -1, worst_at = 0;
    int wf = 0, wr = 0, judged = 0;
    for (int i = 0; i < nr; i++) {
        double t1 = retry[i], t0 = t1 - win;
        int f = count_in(first, nf, t0, t1), k = count_in(retry, nr, t0, t1);
        if (f < minf) continue;
        judged++;
        double ratio = (k - minr > 0 ? k - minr : 0) / f;
        if (ratio > worst) { worst = ratio; worst_at = t1; wf = f; wr = k; }
    }
    free(first);
    free(retry);
    if (judged) vres_measured(r, "worst %s: %d retries for %d first attempts (%.0f%%), at %s", vfmt_ms(win, b1, sizeof(b1)),
                              wr, wf, 100.0 * wr / wf, vfmt_off(worst_at - cx->rec->start_ms, b2, sizeof(b2)));
    else vres_measured(r, "%d first attempts, %d retries", nf, nr);
    if (!nfailed) {
        vres(r, V_INCONCLUSIVE, "no attempt failed: nothing to retry, so the budget was never spent");
    } else if (namb > nf + nr) {
        vres(r, V_INCONCLUSIVE, "%d of %d attempts repeat a request the baseline repeats: first attempts and retries cannot "
             "be told apart (send a request id: id_header)", namb, n);
    } else if (!nr) {
        vres(r, V_PASS, "no call was retried (%d failed attempts)", nfailed);
    } else if (!judged) {
        vres(r, V_INCONCLUSIVE, "no %s window with %g first attempts around a retry (min_first): too little traffic for a ratio",
             vfmt_ms(win, b1, sizeof(b1)), minf);
    } else if (worst > budget + 1e-9) {
        vres(r, V_FAIL, "retries reached %.0f%% of first attempts over %s (%d for %d; budget %g%%): no retry budget, the load "
             "multiplies when the dependency fails", 100.0 * wr / wf, vfmt_ms(win, b1, sizeof(b1)), wr, wf, budget * 100);
    } else {
        vres(r, V_PASS, "retries stayed within %g%% of first attempts in every %s window", budget * 100,
             vfmt_ms(win, b1, sizeof(b1)));
    }
    return 0;
}

const struct vcheck vcheck_retry_budget = {"retry_budget", 1, judge};
