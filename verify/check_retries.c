/* check_retries.c -- `check = retries`: upstream attempts per logical call <= max_attempts,
 * and, with `backoff = yes`, growing pauses between them.
 *
 * Retry libraries (hashicorp/go-retryablehttp, axios-retry, resilience4j Retry, pgx's
 * reconnects, gRPC retry policy) send the same call again after a failure; without a bound or a
 * backoff a whole fleet multiplies the dependency's load exactly when it is weakest (a retry
 * storm). From the dependency side an attempt is an http request event. With request ids
 * (`id = request_id`: the X-Request-Id header, or the proxy's id_header, recorded as
 * `request_id`), attempts of one logical call share the id and are counted exactly. Without
 * ids (`id = fingerprint`), the record cannot tell a retry from the next user's identical
 * request, so attempts per call are estimated per fingerprint (method + host + path; the record
 * carries no body hash) as the request rate in each `window` of the fault over the baseline
 * rate: for a steady caller, that ratio is the attempts each call makes.
 *
 * Backoff: the pause before each retry (start of the attempt - end of the previous one) is
 * >= `min_backoff`, and for calls with 3 or more attempts the last pause is longer than the
 * first (exponential backoff with +/-50% jitter satisfies this; a fixed or no delay does not).
 */
#include "vcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const id_names[] = {"auto", "request_id", "fingerprint", NULL};

struct att { double start, end; int failed; int call; const struct vev *ev; };

static int g_idmode;

static int cmp_keyonly(const struct att *x, const struct att *y)
{
    if (g_idmode) return strcmp(x->ev->request_id, y->ev->request_id);
    int c = strcmp(x->ev->method, y->ev->method);
    if (!c) c = strcmp(x->ev->host, y->ev->host);
    if (!c) c = strcmp(x->ev->path, y->ev->path);
    return c;
}

static int cmp_key(const void *a, const void *b)
{
    const struct att *x = a, *y = b;
    int c = cmp_keyonly(x, y);
    if (c) return c;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int cmp_att(const void *a, const void *b)
{
    const struct att *x = a, *y = b;
    if (x->call != y->call) return x->call < y->call ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Without request ids, attempts per call are estimated per fingerprint (method + host + path)
 * as the request rate in each `window` of the fault over the baseline rate: with a steady
 * caller (open loop) that ratio is the number of attempts each logical call makes. */
static int judge_fingerprint(struct vctx *cx, struct vexp *e, struct verify_result *r, struct vpx *p,
                             struct att *at, int n, double maxa, double window, int backoff)
{
    char b1[32];
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    double a, b;
    if (vctx_baseline(cx, e, &w, &a, &b, r) < 0) { vwins_free(&w); return 0; }
    g_idmode = 0;
    qsort(at, (size_t)n, sizeof(*at), cmp_key);
    double best = 0, best_n = 0, best_base = 0;
    int best_i = -1, groups = 0;
    double dend = vpx_data_end(p);
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && cmp_keyonly(&at[i], &at[j]) == 0) j++;
        int nb = 0;
        for (int k = i; k < j; k++) if (at[k].start >= a && at[k].start < b) nb++;
        if (nb >= 5) {
            groups++;
            double base = nb / (b - a);            /* per ms */
            for (int k = 0; k < w.n; k++) {
                double ws = w.w[k].start, we = isinf(w.w[k].end) ? dend : w.w[k].end;
                for (double t = ws; t < we; t += window) {
                    double te = t + window < we ? t + window : we;
                    if (te - t < window / 2 && t > ws) break;
                    int c = 0;
                    for (int q = i; q < j; q++) if (at[q].start >= t && at[q].start < te) c++;
                    double amp = c / (base * (te - t));
                    if (amp > best) { best = amp; best_i = i; best_n = c; best_base = base * 1000; }
                }
            }
        }
        i = j;
    }
    vwins_free(&w);
    if (best_i < 0) {
        vres_measured(r, "%d requests, no fingerprint with 5 in the baseline", n);
        vres(r, V_INCONCLUSIVE, "no request fingerprint (method + host + path) seen at least 5 times in the baseline");
        return 0;
    }
    const struct vev *wv = at[best_i].ev;
    vres_measured(r, "~%.1f attempts per call (%s %s: %g requests in %s, baseline %.3g/s; by fingerprint)", best,
                  wv->method, wv->path, best_n, vfmt_ms(window, b1, sizeof(b1)), best_base);
    if (best > maxa) vres(r, V_FAIL, "the request rate rose %.1fx during the fault (at most %g attempts per call): retry storm",
                          best, maxa);
    else if (backoff) vres(r, V_INCONCLUSIVE, "attempts within bounds; backoff needs request ids (id = request_id) to be judged");
    else vres(r, V_PASS, "the request rate stayed within %g attempts per call (%d fingerprints)", maxa, groups);
    return 0;
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double maxa, window, minbo, minc;
    int idm, backoff;
    if (vexp_num(e, "max_attempts", NAN, 1, 1e6, &maxa) < 0) return -1;
    if (vexp_enum(e, "id", id_names, 0, &idm) < 0) return -1;
    if (vexp_str(e, "id_header") && idm == 0) idm = 1;
    if (vexp_dur(e, "window", 5000, &window) < 0) return -1;
    if (window <= 0) return vexp_fail(e, "window", "must be above 0");
    if (vexp_bool(e, "backoff", 0, &backoff) < 0) return -1;
    if (vexp_dur(e, "min_backoff", 0, &minbo) < 0) return -1;
    if (vexp_num(e, "min_calls", 1, 1, 1e9, &minc) < 0) return -1;
    if (!cx) return 0;

    char b1[32], b2[32];
    vres_bound(r, "attempts <= %g%s", maxa, backoff ? ", growing backoff" : "");
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    int nofault = vctx_need_fault(cx, e, &w, r);
    vwins_free(&w);
    if (nofault) return 0;
    struct vpx *p = vrec_proxy(cx->rec, e->proxy, 1, e->err, e->errlen);
    if (!p) return -1;
    struct att *at = calloc((size_t)p->nev + 1, sizeof(*at));
    int n = 0, with_id = 0;
    for (int i = 0; i < p->nev; i++) {
        const struct vev *ev = &p->ev[i];
        if (ev->kind != VEV_REQUEST || isnan(ev->req_ms)) continue;
        at[n].start = ev->req_ms;
        at[n].end = ev->req_ms + (!isnan(ev->total_ms) ? ev->total_ms : !isnan(ev->abandoned_ms) ? ev->abandoned_ms : 0);
        at[n].failed = ev->status >= 500 || ev->status == 0 || !isnan(ev->abandoned_ms);
        at[n].ev = ev;
        if (ev->request_id[0]) with_id++;
        n++;
    }
    if (n == 0) {
        vres_measured(r, "no requests");
        vres(r, V_INCONCLUSIVE, "no request events on proxy '%s' (retries needs an http proxy with traffic)", e->proxy);
        free(at);
        return 0;
    }
    if (idm == 0) idm = with_id ? 1 : 2;
    const char *mode = idm == 1 ? "request id" : "fingerprint";
    if (idm == 2) {
        int rc = judge_fingerprint(cx, e, r, p, at, n, maxa, window, backoff);
        free(at);
        return rc;
    }
    /* assign calls: sort by (id or fingerprint, start), then chain neighbours */
    g_idmode = idm == 1;
    qsort(at, (size_t)n, sizeof(*at), cmp_key);
    int ncalls = 0;
    for (int i = 0; i < n; i++) {
        int same = i > 0 && cmp_keyonly(&at[i - 1], &at[i]) == 0;
        same = same && at[i].ev->request_id[0];
        at[i].call = same ? at[i - 1].call : ncalls++;
    }
    qsort(at, (size_t)n, sizeof(*at), cmp_att);
    int worst = 0, worst_i = 0, retried = 0, bad_backoff = 0, bad_i = -1;
    char badgaps[160] = "";
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && at[j].call == at[i].call) j++;
        int k = j - i;
        if (k > worst) { worst = k; worst_i = i; }
        if (k > 1) retried++;
        if (backoff && k > 1) {
            int bad = 0;
            double first = at[i + 1].start - at[i].end, last = at[j - 1].start - at[j - 2].end;
            for (int q = i + 1; q < j; q++) if (at[q].start - at[q - 1].end < minbo) bad = 1;
            if (k >= 3 && !(last > first)) bad = 1;
            if (bad) {
                bad_backoff++;
                if (bad_i < 0) {
                    bad_i = i;
                    for (int q = i + 1; q < j && strlen(badgaps) < 120; q++)
                        snprintf(badgaps + strlen(badgaps), sizeof(badgaps) - strlen(badgaps), "%s%s",
                                 badgaps[0] ? ", " : "", vfmt_ms(at[q].start - at[q - 1].end, b1, sizeof(b1)));
                }
            }
        }
        i = j;
    }
    const struct vev *wv = at[worst_i].ev;
    vres_measured(r, "max %d attempts (%s %s%s%s), %d of %d calls retried (by %s)", worst, wv->method, wv->path,
                  wv->request_id[0] ? " id=" : "", wv->request_id, retried, ncalls, mode);
    if (ncalls < minc) vres(r, V_INCONCLUSIVE, "%d logical calls (needs %g)", ncalls, minc);
    else if (worst > maxa)
        vres(r, V_FAIL, "a call was attempted %d times (at most %g): retry storm", worst, maxa);
    else if (bad_backoff)
        vres(r, V_FAIL, "%d retried call%s without growing backoff (pauses %s; min_backoff %s)", bad_backoff,
             bad_backoff == 1 ? "" : "s", badgaps, vfmt_ms(minbo, b2, sizeof(b2)));
    else vres(r, V_PASS, retried ? "retries stayed bounded" : "no call was retried");
    free(at);
    return 0;
}

const struct vcheck vcheck_retries = {"retries", 1, judge};
