/* check_retry_spacing.c -- `check = retry_spacing`: the attempts of one logical call are spaced.
 *
 * What retry libraries do on the wire, seen from the dependency: after a failed attempt the
 * client sleeps, then sends the call again. The sleep is the policy:
 *   - resilience4j Retry (IntervalFunction.ofExponentialRandomBackoff(200ms, 2, 0.5)): 200 ms x
 *     2^k, randomized by +/-50%; Polly WaitAndRetry with DecorrelatedJitterBackoffV2; gRPC's
 *     retry policy (initialBackoff x multiplier^k, capped at maxBackoff, the actual delay random
 *     in [0, that]); botocore's standard mode (random x min(cap, base x 2^k), "full jitter");
 *     failsafe-go WithBackoff + WithJitter; urllib3 Retry (no sleep before the first retry,
 *     then backoff_factor x 2^k, with backoff_jitter added in urllib3 2).
 * From that, three properties, each optional but min_gap:
 *   1. every pause (attempt start - end of the failed attempt before it) is >= `min_gap`: an
 *      immediate retry hits a dependency that has just failed;
 *   2. `backoff = exponential`: the pauses grow. Judged per retry number k over all retried
 *      calls (the median pause before retry k+1 >= `growth` x the median before retry k), since
 *      a jittered client's single pauses need not grow one by one; pauses at or above `cap`
 *      (maxBackoff) need not grow further;
 *   3. `jitter = required`: the callers are not synchronised. Many calls fail together (the
 *      moment the dependency breaks, every call in flight fails at once); without jitter they
 *      all sleep the same time and come back as one herd at the same instants. So the pauses
 *      before the same retry number must spread across calls: (p90 - p10) >= `min_spread` x
 *      the median, and >= 5 ms (scheduling noise alone is not jitter). urllib3's stock first
 *      retry (always at once) is a herd. The default is 30%: a loaded machine alone spreads a
 *      fixed pause by up to ~22% (300 ms pauses over 301..342 ms at load 10, the client waking
 *      late), while real jitter spreads far more (+/-50%, resilience4j's default factor, ~70-80%;
 *      full jitter ~160%); a +/-20% factor (~32%) is the narrowest the default still admits.
 * Calls are identified as `retries` does (verify/attempts.h): request ids, or fingerprints the
 * baseline does not repeat (ambiguous ones are left out). Evidence: `min_calls` retried calls
 * (default 3); for growth, calls with 3+ attempts; for jitter, 5 pauses before one retry number.
 */
#include "verify/attempts.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const backoff_names[] = {"any", "exponential", NULL};
static const char *const jitter_names[] = {"any", "required", NULL};

#define MAXK 16                /* retry numbers judged: 1..MAXK */

struct sp_params {
    struct vatt_params id;
    double min_gap, growth, cap, spread, minc;
    int backoff, jitter;
};

static int read_params(struct vexp *e, struct sp_params *pm)
{
    if (vatt_params_read(e, &pm->id) < 0) return -1;
    if (vexp_dur(e, "min_gap", VREQ, &pm->min_gap) < 0) return -1;
    if (vexp_enum(e, "backoff", backoff_names, 0, &pm->backoff) < 0) return -1;
    if (vexp_num(e, "growth", 1.5, 1.01, 100, &pm->growth) < 0) return -1;
    if (vexp_dur(e, "cap", -2, &pm->cap) < 0) return -1;   /* -2: no cap */
    if (vexp_enum(e, "jitter", jitter_names, 0, &pm->jitter) < 0) return -1;
    if (vexp_ratio(e, "min_spread", 0.3, 10, &pm->spread) < 0) return -1;
    if (vexp_num(e, "min_calls", 3, 1, 1e9, &pm->minc) < 0) return -1;
    if (!pm->backoff && vexp_str(e, "growth")) return vexp_fail(e, "growth", "needs backoff = exponential");
    if (!pm->jitter && vexp_str(e, "min_spread")) return vexp_fail(e, "min_spread", "needs jitter = required");
    return 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, int n, double q)   /* v sorted */
{
    int k = (int)ceil(q * n - 1e-9) - 1;
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

struct gaps { double *v[MAXK + 1]; int n[MAXK + 1]; };

/* The pauses before each retry number, over the identified calls; counts into *retried. The
 * first pause under min_gap is described in short. */
static void collect(const struct vatt *at, int n, const struct sp_params *pm, struct gaps *g, int *retried,
                    int *too_soon, char *soon, size_t soonlen)
{
    char b1[32], b2[32];
    memset(g, 0, sizeof(*g));
    for (int k = 0; k <= MAXK; k++) g->v[k] = fl_calloc((size_t)n + 1, sizeof(double));
    for (int i = 0; i < n; i++) {
        if (at[i].call < 0) continue;
        if (at[i].idx == 1) (*retried)++;
        if (at[i].idx < 1 || at[i].idx > MAXK) continue;
        double gap = at[i].start - at[i - 1].end;
        g->v[at[i].idx][g->n[at[i].idx]++] = gap;
        if (gap < pm->min_gap - 1) {
            if (!*too_soon)
                snprintf(soon, soonlen, "retry %d of %s %.60s came %s after the failure", at[i].idx, at[i].ev->method,
                         at[i].ev->path, vfmt_ms(gap < 0 ? 0 : gap, b1, sizeof(b1)));
            (*too_soon)++;
        }
    }
    (void)b2;
    for (int k = 1; k <= MAXK; k++) qsort(g->v[k], (size_t)g->n[k], sizeof(double), cmp_d);
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    struct sp_params pm;
    if (read_params(e, &pm) < 0) return -1;
    if (!cx) return 0;

    char b1[32], b2[32], b3[32];
    char bound[200];
    snprintf(bound, sizeof(bound), "pauses >= %s%s%s", vfmt_ms(pm.min_gap, b1, sizeof(b1)),
             pm.backoff ? ", growing" : "", pm.jitter ? ", jittered" : "");
    vres_bound(r, "%s", bound);
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    if (vctx_need_fault(cx, e, &w, r)) { vwins_free(&w); return 0; }
    struct vatt *at;
    int n, ncalls;
    int rc = vatt_calls(cx, e, &pm.id, &w, &at, &n, &ncalls, r);
    vwins_free(&w);
    if (rc) return rc < 0 ? -1 : 0;
    int nfailed = 0;
    for (int i = 0; i < n; i++) nfailed += at[i].failed;
    struct gaps g;
    int retried = 0, too_soon = 0;
    char soon[200] = "";
    collect(at, n, &pm, &g, &retried, &too_soon, soon, sizeof(soon));
    int K = 0;   /* highest retry number with 3+ pauses */
    for (int k = 1; k <= MAXK; k++) if (g.n[k] >= 3) K = k;
    char meas[256] = "";
    for (int k = 1; k <= K && k <= 4; k++)
        snprintf(meas + strlen(meas), sizeof(meas) - strlen(meas), "%sretry %d: %s (%s..%s)", k > 1 ? "; " : "", k,
                 vfmt_ms(pct(g.v[k], g.n[k], 0.5), b1, sizeof(b1)), vfmt_ms(pct(g.v[k], g.n[k], 0.1), b2, sizeof(b2)),
                 vfmt_ms(pct(g.v[k], g.n[k], 0.9), b3, sizeof(b3)));
    vres_measured(r, "%d of %d calls retried; pauses median (p10..p90) %s", retried, ncalls, meas[0] ? meas : "none");
    if (!nfailed) {
        vres(r, V_INCONCLUSIVE, "no attempt failed: nothing was retried, so the spacing was never exercised");
    } else if (retried < pm.minc) {
        vres(r, V_INCONCLUSIVE, "%d retried call%s identified (needs %g: min_calls)%s", retried, retried == 1 ? "" : "s",
             pm.minc, pm.id.idm == 2 ? "; requests the baseline repeats need a request id (id_header)" : "");
    } else if (too_soon) {
        vres(r, V_FAIL, "%d retr%s sooner than min_gap %s (%s): retrying into a dependency that has just failed",
             too_soon, too_soon == 1 ? "y came" : "ies came", vfmt_ms(pm.min_gap, b1, sizeof(b1)), soon);
    } else {
        enum verdict v = V_PASS;
        char why[400] = "";
        if (pm.backoff && K < 2) {
            v = V_INCONCLUSIVE;
            snprintf(why, sizeof(why), "no retry number after the first has 3 pauses (calls retried twice): growth cannot be seen");
        }
        for (int k = 1; pm.backoff && k < K && v == V_PASS; k++) {
            double m0 = pct(g.v[k], g.n[k], 0.5), m1 = pct(g.v[k + 1], g.n[k + 1], 0.5);
            if (pm.cap > 0 && m0 >= pm.cap * 0.9) break;
            if (m1 < pm.growth * m0 - 1) {
                v = V_FAIL;
                snprintf(why, sizeof(why), "pauses do not grow: median %s before retry %d, %s before retry %d (at least x%g "
                         "for backoff = exponential)", vfmt_ms(m0, b1, sizeof(b1)), k, vfmt_ms(m1, b2, sizeof(b2)), k + 1,
                         pm.growth);
            }
        }
        if (pm.jitter && v == V_PASS) {
            int k = 1;
            for (int q = 1; q <= MAXK; q++) if (g.n[q] > g.n[k]) k = q;
            if (g.n[k] < 5) {
                v = V_INCONCLUSIVE;
                snprintf(why, sizeof(why), "%d pauses before retry %d (needs 5 from different calls): jitter cannot be judged",
                         g.n[k], k);
            }
            for (k = 1; k <= MAXK && v == V_PASS; k++) {
                if (g.n[k] < 5) continue;
                double lo = pct(g.v[k], g.n[k], 0.1), hi = pct(g.v[k], g.n[k], 0.9), med = pct(g.v[k], g.n[k], 0.5);
                if (hi - lo < pm.spread * med || hi - lo < 5) {
                    v = V_FAIL;
                    snprintf(why, sizeof(why), "callers retry in step: %d calls paused %s..%s (p10..p90) before retry %d, "
                             "a spread under %g%% of %s: no jitter, a herd at the same instants", g.n[k],
                             vfmt_ms(lo, b1, sizeof(b1)), vfmt_ms(hi, b2, sizeof(b2)), k, pm.spread * 100,
                             vfmt_ms(med, b3, sizeof(b3)));
                }
            }
        }
        if (v == V_PASS) snprintf(why, sizeof(why), "retries were spaced%s%s", pm.backoff ? ", growing" : "",
                                  pm.jitter ? " and jittered" : "");
        vres(r, v, "%s", why);
    }
    for (int k = 0; k <= MAXK; k++) free(g.v[k]);
    free(at);
    return 0;
}

const struct vcheck vcheck_retry_spacing = {"retry_spacing", 1, judge};
