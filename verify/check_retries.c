/* check_retries.c -- `check = retries`: upstream attempts per logical call <= max_attempts,
 * and, with `backoff = yes`, growing pauses between them.
 *
 * Retry libraries (hashicorp/go-retryablehttp, urllib3 Retry, axios-retry, resilience4j
 * Retry, gRPC retry policy) send the same call again after a failure; without a bound or a
 * backoff a whole fleet multiplies the dependency's load exactly when it is weakest (a retry
 * storm). From the dependency side an attempt is an http request event, and a retry is the
 * same request again:
 *   - by request id (`id = request_id`, or `id_header`): attempts sharing the id recorded as
 *     request_id (the proxy's `id_header`, X-Request-Id by default) and the same method, host
 *     and path are one call (an id propagated from one user request to several different
 *     calls is not mistaken for retries);
 *   - by fingerprint: method + host + path + body hash (FNV-1a 64 of the whole body, recorded
 *     by the proxy). An attempt continues the call of the previous one with the same
 *     fingerprint when that one failed (5xx, 408, 429, no response, abandoned) and it starts
 *     within `window` of that one's end. A fingerprint the baseline already repeats within
 *     `window` (a poll, the same GET from every user) cannot tell a retry from the next
 *     user's request; for those, attempts per call are estimated as the request rate in each
 *     `window` of the fault over the baseline rate (for a steady caller the ratio is the
 *     number of attempts each call makes).
 * gRPC retries name themselves (grpc-previous-rpc-attempts, recorded as prev_attempts): where a
 * fingerprint's attempts carry it, they are grouped by it exactly, whatever the baseline repeats.
 * Backoff (`backoff = yes`), judged on calls identified exactly (ids, or fingerprints the
 * baseline does not repeat):
 *   - each pause before a retry (start of the attempt - end of the failed one before it) is
 *     >= `min_backoff`, pause by pause: a timer never fires early, so a loaded machine cannot
 *     break it, and one retry sent too soon is the bug itself;
 *   - the pauses grow, judged on the population, not call by call: the median pause before the
 *     highest retry number that 3 or more calls reached is >= GROW_RATIO x the median before
 *     retry 1 and >= GROW_MS longer. One call cannot decide it either way: a single timer that
 *     fires 260 ms late on a loaded machine makes a 200 ms pause longer than the 400 ms one
 *     after it, and a jittered exponential backoff draws its pauses from overlapping ranges
 *     (+/-50% of 200 ms and of 400 ms: [100, 300] and [200, 600]), so its last pause is not
 *     always its longest. A fixed or no delay keeps the medians level and FAILs; the absolute
 *     GROW_MS keeps the scheduling noise of a no-delay retrier (0.3 ms, then 0.5 ms) from
 *     reading as growth. Medians, not single pauses, so a few late timers move nothing.
 *     First against last (not each retry number against the one before) so a backoff that
 *     reached its cap (gRPC maxBackoff) is still backoff; retry_spacing judges each step.
 *     Fewer than 3 calls with 3+ attempts: INCONCLUSIVE (never a PASS on thin evidence, never
 *     a FAIL on one call). With max_attempts < 3 a call has one pause: only min_backoff applies.
 */
#include "verify/attempts.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GROW_RATIO 1.2         /* the last judged median pause over the first, at least */
#define GROW_MS 10.0           /* ... and at least this much longer (ms) */
#define GROW_MIN_CALLS 3       /* pauses (calls) a retry number needs to be judged */

/* mean duration (end - start) of the attempts in [i, j) that start within [t0, t1); NAN if none */
static double mean_dur(const struct vatt *at, int i, int j, double t0, double t1)
{
    double sum = 0;
    int c = 0;
    for (int q = i; q < j; q++)
        if (at[q].start >= t0 && at[q].start < t1 && at[q].end >= at[q].start) { sum += at[q].end - at[q].start; c++; }
    return c ? sum / c : NAN;
}

/* attempts per call for a fingerprint the baseline repeats: the most requests in a `window`
 * of the fault over what the baseline rate predicts. *speed: how much faster that window's
 * requests ended than the baseline's (>1: faster): a caller that sends its next request when
 * the last one ends (a closed loop) raises its rate by as much without any retry. */
static double estimate(const struct vatt *at, int i, int j, int nb, double a, double b, const struct vwins *w,
                       double dend, double window, double *cnt, double *base_s, double *speed)
{
    double base = nb / (b - a), best = 0;      /* per ms */
    double bdur = mean_dur(at, i, j, a, b);
    for (int k = 0; k < w->n; k++) {
        double ws = w->w[k].start, we = isinf(w->w[k].end) ? dend : w->w[k].end;
        for (double t = ws; t < we; t += window) {
            double te = t + window < we ? t + window : we;
            if (te - t < window / 2 && t > ws) break;
            int c = 0;
            for (int q = i; q < j; q++) if (at[q].start >= t && at[q].start < te) c++;
            double amp = c / (base * (te - t));
            if (amp > best) {
                double fdur = mean_dur(at, i, j, t, te);
                best = amp; *cnt = c; *base_s = base * 1000;
                *speed = isnan(bdur) || isnan(fdur) ? 1 : fdur <= 0 ? (bdur > 0 ? 1e9 : 1) : bdur / fdur;
            }
        }
    }
    return best;
}

struct params {
    struct vatt_params id;     /* id, id_header, window */
    double maxa, minbo, minc;
    int backoff;
};

/* What the attempts add up to. */
struct tally {
    int ncalls, namb;          /* calls identified; fingerprints the baseline repeats */
    double est_best, est_cnt, est_base;   /* the highest estimate for those, with its evidence */
    double est_speed;          /* how much faster its requests ended than in the baseline (estimate) */
    const struct vev *est_ev;
    int worst, worst_i, retried;
    int too_soon;              /* pauses under min_backoff */
    char soon[160];            /* the first of them, in short */
    struct vpauses g;          /* pauses per retry number, over the identified calls (owned) */
};

static int read_params(struct vexp *e, struct params *pm)
{
    if (vexp_num(e, "max_attempts", NAN, 1, 1e6, &pm->maxa) < 0) return -1;
    if (vatt_params_read(e, &pm->id) < 0) return -1;
    if (vexp_bool(e, "backoff", 0, &pm->backoff) < 0) return -1;
    if (vexp_dur(e, "min_backoff", 0, &pm->minbo) < 0) return -1;
    if (vexp_num(e, "min_calls", 1, 1, 1e9, &pm->minc) < 0) return -1;
    return 0;
}

/* Groups the attempts (sorted by identity, then start) into calls: at[k].call. An identity the
 * baseline [a, b) repeats within `window` is ambiguous: its attempts get call -1, and its
 * attempts per call are estimated from rates instead (into t). */
static void group_calls(struct vatt *at, int n, double a, double b, const struct vwins *w, double dend,
                        double window, struct tally *t)
{
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && vatt_identity_cmp(&at[i], &at[j]) == 0) j++;
        int nb;
        if (vatt_group_by_attempts(at, i, j, &t->ncalls)) {
            i = j;
            continue;
        }
        if (vatt_ambiguous(at, i, j, a, b, window, &nb)) {
            t->namb++;
            double cnt = 0, bs = 0, sp = 1;
            double est = estimate(at, i, j, nb, a, b, w, dend, window, &cnt, &bs, &sp);
            if (est > t->est_best) {
                t->est_best = est; t->est_cnt = cnt; t->est_base = bs; t->est_ev = at[i].ev; t->est_speed = sp;
            }
            for (int k = i; k < j; k++) { at[k].amb = 1; at[k].call = -1; }
            i = j;
            continue;
        }
        for (int k = i; k < j; k++) {
            int same = k > i && (at[k].byid || (at[k - 1].failed && at[k].start - at[k - 1].end <= window));
            at[k].call = same ? at[k - 1].call : t->ncalls++;
        }
        i = j;
    }
}

/* Attempts per call and the pauses between them, over the attempts sorted by call and
 * numbered (into t). */
static void count_calls(const struct vatt *at, int n, const struct params *pm, struct tally *t)
{
    char b1[32];
    t->worst_i = -1;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && at[j].call == at[i].call) j++;
        if (at[i].amb) { i = j; continue; }
        int k = j - i;
        if (k > t->worst) { t->worst = k; t->worst_i = i; }
        if (k > 1) t->retried++;
        for (int q = i + 1; pm->backoff && q < j; q++) {
            double gap = at[q].start - at[q - 1].end;
            if (gap >= pm->minbo) continue;
            if (!t->too_soon++)
                snprintf(t->soon, sizeof(t->soon), "retry %d of %s %.60s came %s after the failure", at[q].idx,
                         at[q].ev->method, at[q].ev->path, vfmt_ms(gap < 0 ? 0 : gap, b1, sizeof(b1)));
        }
        i = j;
    }
    if (pm->backoff) vpauses_collect(at, n, &t->g);
}

enum growth { G_NONE, G_GROWS, G_FLAT, G_THIN };

/* Do the pauses grow (GROW_RATIO and GROW_MS, first retry number against the highest one
 * GROW_MIN_CALLS calls reached)? G_NONE when not asked (no backoff, max_attempts < 3, no call
 * retried); the medians compared into *m1, *mk, the retry number into *k. */
static enum growth growth(const struct params *pm, const struct tally *t, double *m1, double *mk, int *k)
{
    *k = vpauses_top(&t->g, GROW_MIN_CALLS);
    *m1 = vpauses_median(&t->g, 1);
    *mk = vpauses_median(&t->g, *k);
    if (!pm->backoff || pm->maxa < 3 || !t->retried) return G_NONE;
    if (*k < 2) return G_THIN;
    return *mk >= GROW_RATIO * *m1 && *mk - *m1 >= GROW_MS ? G_GROWS : G_FLAT;
}

/* "; median pause before retry 1: 212ms (40 calls), retry 2: 398ms (38 calls)" into b */
static void pauses_text(const struct tally *t, char *b, size_t n)
{
    char b1[32];
    b[0] = 0;
    for (int k = 1; k <= 4 && t->g.n[k] > 0; k++)
        snprintf(b + strlen(b), n - strlen(b), "%s%d: %s (%d call%s)", k == 1 ? "; median pause before retry " :
                 ", retry ", k, vfmt_ms(vpauses_median(&t->g, k), b1, sizeof(b1)), t->g.n[k], t->g.n[k] == 1 ? "" : "s");
}

/* The measured text and the verdict. */
static void verdict(const struct vatt *at, const struct params *pm, const struct tally *t, struct verify_result *r)
{
    char b1[32], b2[32];
    const char *mode = pm->id.idm == 1 ? "request id" : "fingerprint";
    char m1[256] = "", m2[160] = "", mp[160] = "";
    if (t->worst_i >= 0) {
        const struct vev *wv = at[t->worst_i].ev;
        char what[64] = "";
        if (at[t->worst_i].byid) snprintf(what, sizeof(what), " id=%.40s", wv->request_id);
        else if (wv->body_hash[0]) snprintf(what, sizeof(what), " body %.8s", wv->body_hash);
        snprintf(m1, sizeof(m1), "max %d attempts (%s %.60s%s), %d of %d calls retried (by %s)", t->worst, wv->method,
                 wv->path, what, t->retried, t->ncalls, mode);
    }
    if (pm->backoff) pauses_text(t, mp, sizeof(mp));
    if (t->est_ev)
        snprintf(m2, sizeof(m2), "%s~%.1f attempts per call for %d repeated request%s (%s %.40s: %g in %s, baseline %.3g/s)",
                 m1[0] ? "; " : "", t->est_best, t->namb, t->namb == 1 ? "" : "s", t->est_ev->method, t->est_ev->path,
                 t->est_cnt, vfmt_ms(pm->id.window, b2, sizeof(b2)), t->est_base);
    else if (t->namb)
        snprintf(m2, sizeof(m2), "%s%d repeated request%s, no rise", m1[0] ? "; " : "", t->namb, t->namb == 1 ? "" : "s");
    vres_measured(r, "%s%s%s", m1, mp, m2);
    double m1p, mkp;
    int k;
    enum growth gr = growth(pm, t, &m1p, &mkp, &k);
    double total_calls = t->ncalls + (t->namb ? 1 : 0);
    if (total_calls < pm->minc) vres(r, V_INCONCLUSIVE, "%d logical calls (needs %g)", t->ncalls, pm->minc);
    else if (t->worst > pm->maxa)
        vres(r, V_FAIL, "a call was attempted %d times (at most %g): retry storm", t->worst, pm->maxa);
    else if (t->est_best > pm->maxa && t->est_best > pm->maxa * (t->est_speed > 1 ? t->est_speed : 1))
        vres(r, V_FAIL, "the rate of a repeated request rose %.1fx during the fault (at most %g attempts per call): retry storm",
             t->est_best, pm->maxa);
    else if (t->est_best > pm->maxa)
        vres(r, V_INCONCLUSIVE, "the rate of a repeated request rose %.1fx, but its requests also ended %.1fx faster: a caller "
                                "that sends the next request when the last one ends does that without retrying (send a "
                                "request id: id_header)", t->est_best, t->est_speed);
    else if (t->too_soon)
        vres(r, V_FAIL, "%d retr%s sooner than min_backoff %s (%s): retrying into a dependency that has just failed",
             t->too_soon, t->too_soon == 1 ? "y came" : "ies came", vfmt_ms(pm->minbo, b1, sizeof(b1)), t->soon);
    else if (gr == G_FLAT)
        vres(r, V_FAIL, "retries without growing backoff: median pause %s before retry 1, %s before retry %d (%d calls; "
             "needs x%g and +%gms)", vfmt_ms(m1p, b1, sizeof(b1)), vfmt_ms(mkp, b2, sizeof(b2)), k, t->g.n[k], GROW_RATIO,
             GROW_MS);
    else if (pm->backoff && !t->retried && t->est_best > 1.2)
        vres(r, V_INCONCLUSIVE, "attempts within bounds; the retried requests repeat in the baseline, so their backoff "
                                "cannot be judged (send a request id: id_header)");
    else if (gr == G_THIN)
        vres(r, V_INCONCLUSIVE, "attempts within bounds; %d call%s made 3 or more attempts (needs %d): whether the pauses "
             "grow cannot be judged (max_attempts = 2 judges a client that retries once by min_backoff alone)", t->g.n[2],
             t->g.n[2] == 1 ? "" : "s", GROW_MIN_CALLS);
    else if (t->namb && t->est_speed > 1.2)
        vres(r, V_INCONCLUSIVE, "requests that repeat in the baseline ended %.1fx faster during the fault: a caller that "
                                "sends the next request when the last one ends hides its retries in that rate (send a "
                                "request id: id_header)", t->est_speed);
    else if (gr == G_GROWS)
        vres(r, V_PASS, "retries stayed bounded and backed off: median pause %s before retry 1, %s before retry %d",
             vfmt_ms(m1p, b1, sizeof(b1)), vfmt_ms(mkp, b2, sizeof(b2)), k);
    else vres(r, V_PASS, t->retried || t->est_best > 1.2 ? "retries stayed bounded" : "no call was retried");
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    struct params pm;
    if (read_params(e, &pm) < 0) return -1;
    if (!cx) return 0;

    char b1[32];
    if (!pm.backoff) vres_bound(r, "attempts <= %g", pm.maxa);
    else if (pm.maxa < 3) vres_bound(r, "attempts <= %g, pauses >= %s", pm.maxa, vfmt_ms(pm.minbo, b1, sizeof(b1)));
    else vres_bound(r, "attempts <= %g, pauses >= %s, median pause growing (x%g and +%gms from retry 1)", pm.maxa,
                    vfmt_ms(pm.minbo, b1, sizeof(b1)), GROW_RATIO, GROW_MS);
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    if (vctx_need_fault(cx, e, &w, r)) { vwins_free(&w); return 0; }
    struct vpx *p = vrec_proxy(cx->rec, e->proxy, 1, e->err, e->errlen);
    if (!p) { vwins_free(&w); return -1; }
    if (vatt_wrong_id_header(cx, e, pm.id.idh, r)) { vwins_free(&w); return 0; }
    int n, with_id;
    struct vatt *at = vatt_collect(p, &n, &with_id);
    if (n == 0) {
        vres_measured(r, "no requests");
        vres(r, V_INCONCLUSIVE, "no request events on proxy '%s' (retries needs an http proxy with traffic)", e->proxy);
        free(at);
        vwins_free(&w);
        return 0;
    }
    if (pm.id.idm == 0) pm.id.idm = with_id ? 1 : 2;
    if (pm.id.idm == 1 && !with_id) {
        vres_measured(r, "%d requests, none with %s", n, pm.id.idh ? pm.id.idh : "a request id");
        vres(r, V_INCONCLUSIVE, "no request carried %s: attempts cannot be told apart by id",
             pm.id.idh ? pm.id.idh : "a request id");
        free(at);
        vwins_free(&w);
        return 0;
    }
    for (int i = 0; i < n; i++) at[i].byid = pm.id.idm == 1 && at[i].ev->request_id[0];
    /* a retry answers a failure: with no failed attempt the policy had nothing to act on */
    int nfailed = 0;
    for (int i = 0; i < n; i++) nfailed += at[i].failed;
    if (!nfailed) {
        vres_measured(r, "%d requests, none failed", n);
        vres(r, V_INCONCLUSIVE, "no attempt failed (5xx, 408, 429, no answer, abandoned): nothing to retry, so the retry "
             "policy was never exercised");
        free(at);
        vwins_free(&w);
        return 0;
    }

    /* the baseline, to find fingerprints the normal traffic repeats */
    double a = NAN, b = NAN;
    struct verify_result tmp;
    memset(&tmp, 0, sizeof(tmp));
    if (vctx_baseline(cx, e, &w, &a, &b, &tmp) < 0) a = b = NAN;
    struct tally t;
    memset(&t, 0, sizeof(t));
    vatt_sort_identity(at, n);
    group_calls(at, n, a, b, &w, vpx_data_end(p), pm.id.window, &t);
    vwins_free(&w);
    vatt_sort_calls(at, n);
    vatt_number(at, n);
    count_calls(at, n, &pm, &t);
    verdict(at, &pm, &t, r);
    vpauses_free(&t.g);
    free(at);
    return 0;
}

const struct vcheck vcheck_retries = {"retries", 1, judge};
