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
 * Backoff: the pause before each retry (start of the attempt - end of the previous one) is
 * >= `min_backoff`, and for calls with 3 or more attempts the last pause is longer than the
 * first (exponential backoff with +/-50% jitter satisfies this; a fixed or no delay does not).
 * It is judged on calls identified exactly (ids, or fingerprints the baseline does not repeat).
 */
#include "verify/attempts.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* attempts per call for a fingerprint the baseline repeats: the most requests in a `window`
 * of the fault over what the baseline rate predicts */
static double estimate(const struct vatt *at, int i, int j, int nb, double a, double b, const struct vwins *w,
                       double dend, double window, double *cnt, double *base_s)
{
    double base = nb / (b - a), best = 0;      /* per ms */
    for (int k = 0; k < w->n; k++) {
        double ws = w->w[k].start, we = isinf(w->w[k].end) ? dend : w->w[k].end;
        for (double t = ws; t < we; t += window) {
            double te = t + window < we ? t + window : we;
            if (te - t < window / 2 && t > ws) break;
            int c = 0;
            for (int q = i; q < j; q++) if (at[q].start >= t && at[q].start < te) c++;
            double amp = c / (base * (te - t));
            if (amp > best) { best = amp; *cnt = c; *base_s = base * 1000; }
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
    const struct vev *est_ev;
    int worst, worst_i, retried, bad_backoff, bad_i;
    char badgaps[160];         /* the pauses of the first call without growing backoff */
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
            double cnt = 0, bs = 0;
            double est = estimate(at, i, j, nb, a, b, w, dend, window, &cnt, &bs);
            if (est > t->est_best) { t->est_best = est; t->est_cnt = cnt; t->est_base = bs; t->est_ev = at[i].ev; }
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

/* Attempts per call and the pauses between them, over the attempts sorted by call (into t). */
static void count_calls(const struct vatt *at, int n, const struct params *pm, struct tally *t)
{
    char b1[32];
    t->worst_i = t->bad_i = -1;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && at[j].call == at[i].call) j++;
        if (at[i].amb) { i = j; continue; }
        int k = j - i;
        if (k > t->worst) { t->worst = k; t->worst_i = i; }
        if (k > 1) t->retried++;
        if (pm->backoff && k > 1) {
            int bad = 0;
            double first = at[i + 1].start - at[i].end, last = at[j - 1].start - at[j - 2].end;
            for (int q = i + 1; q < j; q++) if (at[q].start - at[q - 1].end < pm->minbo) bad = 1;
            if (k >= 3 && !(last > first)) bad = 1;
            if (bad) {
                t->bad_backoff++;
                if (t->bad_i < 0) {
                    t->bad_i = i;
                    for (int q = i + 1; q < j && strlen(t->badgaps) < 120; q++)
                        snprintf(t->badgaps + strlen(t->badgaps), sizeof(t->badgaps) - strlen(t->badgaps), "%s%s",
                                 t->badgaps[0] ? ", " : "", vfmt_ms(at[q].start - at[q - 1].end, b1, sizeof(b1)));
                }
            }
        }
        i = j;
    }
}

/* The measured text and the verdict. */
static void verdict(const struct vatt *at, const struct params *pm, const struct tally *t, struct verify_result *r)
{
    char b2[32];
    const char *mode = pm->id.idm == 1 ? "request id" : "fingerprint";
    char m1[256] = "", m2[160] = "";
    if (t->worst_i >= 0) {
        const struct vev *wv = at[t->worst_i].ev;
        char what[64] = "";
        if (at[t->worst_i].byid) snprintf(what, sizeof(what), " id=%.40s", wv->request_id);
        else if (wv->body_hash[0]) snprintf(what, sizeof(what), " body %.8s", wv->body_hash);
        snprintf(m1, sizeof(m1), "max %d attempts (%s %.60s%s), %d of %d calls retried (by %s)", t->worst, wv->method,
                 wv->path, what, t->retried, t->ncalls, mode);
    }
    if (t->est_ev)
        snprintf(m2, sizeof(m2), "%s~%.1f attempts per call for %d repeated request%s (%s %.40s: %g in %s, baseline %.3g/s)",
                 m1[0] ? "; " : "", t->est_best, t->namb, t->namb == 1 ? "" : "s", t->est_ev->method, t->est_ev->path,
                 t->est_cnt, vfmt_ms(pm->id.window, b2, sizeof(b2)), t->est_base);
    else if (t->namb)
        snprintf(m2, sizeof(m2), "%s%d repeated request%s, no rise", m1[0] ? "; " : "", t->namb, t->namb == 1 ? "" : "s");
    vres_measured(r, "%s%s", m1, m2);
    double total_calls = t->ncalls + (t->namb ? 1 : 0);
    if (total_calls < pm->minc) vres(r, V_INCONCLUSIVE, "%d logical calls (needs %g)", t->ncalls, pm->minc);
    else if (t->worst > pm->maxa)
        vres(r, V_FAIL, "a call was attempted %d times (at most %g): retry storm", t->worst, pm->maxa);
    else if (t->est_best > pm->maxa)
        vres(r, V_FAIL, "the rate of a repeated request rose %.1fx during the fault (at most %g attempts per call): retry storm",
             t->est_best, pm->maxa);
    else if (t->bad_backoff)
        vres(r, V_FAIL, "%d retried call%s without growing backoff (pauses %s; min_backoff %s)", t->bad_backoff,
             t->bad_backoff == 1 ? "" : "s", t->badgaps, vfmt_ms(pm->minbo, b2, sizeof(b2)));
    else if (pm->backoff && !t->retried && t->est_best > 1.2)
        vres(r, V_INCONCLUSIVE, "attempts within bounds; the retried requests repeat in the baseline, so their backoff "
                                "cannot be judged (send a request id: id_header)");
    else vres(r, V_PASS, t->retried || t->est_best > 1.2 ? "retries stayed bounded" : "no call was retried");
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    struct params pm;
    if (read_params(e, &pm) < 0) return -1;
    if (!cx) return 0;

    vres_bound(r, "attempts <= %g%s", pm.maxa, pm.backoff ? ", growing backoff" : "");
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
    count_calls(at, n, &pm, &t);
    verdict(at, &pm, &t, r);
    free(at);
    return 0;
}

const struct vcheck vcheck_retries = {"retries", 1, judge};
