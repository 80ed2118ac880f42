/* check_half_open.c -- `check = half_open`: after the breaker opens, its probes come on time and
 * one at a time; a failed probe opens it again, a good one closes it.
 *
 * What breakers do on the wire, seen from the dependency (calls fail fast during the fault):
 * sony/gobreaker opens after ReadyToTrip (5 consecutive failures by default) and after Timeout
 * (60 s by default) lets MaxRequests (1) calls through half-open; resilience4j waits
 * waitDurationInOpenState, then permits permittedNumberOfCallsInHalfOpenState calls; opossum
 * tries one call after resetTimeout; Polly's AdvancedCircuitBreaker breaks for
 * durationOfBreak, then one trial call; cockatiel's ConsecutiveBreaker uses halfOpenAfter;
 * failsafe-go WithDelay, WithSuccessThreshold. So, per fault window, from the attempts (request
 * events) of the proxy:
 *   - the breaker opens: calls that failed, then a silence of at least `after_min`. It opens at
 *     the last failed call before the first such silence. None (calls kept coming at the
 *     baseline pace through the fault): FAIL, no breaker;
 *   - its first probe (the first call after that silence) comes no sooner than `after_min` and
 *     no later than `after_max` after it opened (a breaker that never probes stays open);
 *   - a half-open episode is the probe and the calls right behind it (within `after_min` / 2):
 *     at most `max_probes` (gobreaker's MaxRequests, resilience4j's permitted calls; default 1).
 *     When they fail (the fault still acts), the breaker opens again: the next call comes no
 *     sooner than `after_min` after the episode. More calls than that is a breaker without a
 *     half-open state (re-closed after the wait, it needs a whole failure threshold to trip
 *     again: a burst of probes each time);
 *   - after the fault ends, a good probe closes it: within `close_within` (default after_max +
 *     2 s) of the window's end the calls flow again (a gap of at least after_min after a
 *     successful call means it did not close).
 * Needs request events (an http proxy). Evidence: failed calls during the window (a fail-fast
 * fault: http_error, reset, refuse), a fault window lasting at least after_max after the
 * breaker opened (else no probe could be due), and for closing, the record going on past
 * close_within with the window not cut by the run's end.
 */
#include "verify/check.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct call { double start, end; int failed; };

static int cmp_call(const void *a, const void *b)
{
    const struct call *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

struct hp { double amin, amax, maxp, close_within; };

/* One fault window [ws, we): opening, probes, re-opening, and closing after we. */
static enum verdict one_window(const struct call *c, int n, const struct vwin *win, double dend, const char *cut,
                               const struct hp *pm, char *meas, size_t ml, char *why, size_t wl)
{
    char b1[32], b2[32], b3[32];
    double ws = win->start, we = isinf(win->end) ? dend : win->end;
    int i = 0;
    while (i < n && c[i].start < ws) i++;
    int first = i, nfail = 0;
    /* the opening: the first silence of at least after_min after a failed call */
    int open_i = -1;
    for (int k = first; k < n && c[k].start < we; k++) {
        if (c[k].failed) nfail++;
        double next = k + 1 < n ? c[k + 1].start : dend;
        if (c[k].failed && next - c[k].start >= pm->amin) { open_i = k; break; }
    }
    if (!nfail) {
        snprintf(meas, ml, "no failed call in the window");
        snprintf(why, wl, "no call failed during the fault (use a fail-fast fault: http_error, reset): the breaker had "
                 "nothing to trip on");
        return V_INCONCLUSIVE;
    }
    if (open_i < 0) {
        int cnt = 0;
        for (int k = first; k < n && c[k].start < we; k++) cnt++;
        snprintf(meas, ml, "%d calls in %s, no pause of %s", cnt, vfmt_ms(we - ws, b1, sizeof(b1)),
                 vfmt_ms(pm->amin, b2, sizeof(b2)));
        if (we - ws < pm->amin) {
            snprintf(why, wl, "the fault lasted %s, less than after_min: no open period could show", vfmt_ms(we - ws, b1, sizeof(b1)));
            return V_INCONCLUSIVE;
        }
        snprintf(why, wl, "calls kept coming through the fault (%d failed, never a pause of %s): the breaker never opened, "
                 "or it probes sooner than after_min", nfail, vfmt_ms(pm->amin, b1, sizeof(b1)));
        return V_FAIL;
    }
    double opened = c[open_i].start;
    int p = open_i + 1;
    if (p >= n || c[p].start >= we) {
        snprintf(meas, ml, "opened at %s, no probe during the fault", vfmt_off(opened - ws, b1, sizeof(b1)));
        if (we - opened < pm->amax) {
            snprintf(why, wl, "the fault ended %s after the breaker opened, before after_max (%s): the first probe was not due yet",
                     vfmt_ms(we - opened, b1, sizeof(b1)), vfmt_ms(pm->amax, b2, sizeof(b2)));
            return V_INCONCLUSIVE;
        }
        snprintf(why, wl, "no probe for %s after the breaker opened (after_max %s): it never went half-open",
                 vfmt_ms(we - opened, b1, sizeof(b1)), vfmt_ms(pm->amax, b2, sizeof(b2)));
        return V_FAIL;
    }
    double first_after = c[p].start - opened;
    /* the episodes while the fault acts: probe + calls right behind it, then the next gap */
    int episodes = 0, worst_burst = 0, early = 0;
    double early_gap = 0, prev_end = opened;
    for (int k = p; k < n && c[k].start < we;) {
        int j = k;
        while (j + 1 < n && c[j + 1].start < we && c[j + 1].start - c[k].start < pm->amin / 2) j++;
        int burst = j - k + 1, ok = 0;
        for (int q = k; q <= j; q++) ok |= !c[q].failed;
        double gap = c[k].start - prev_end;
        if (episodes > 0 && gap < pm->amin - 1 && !early) { early = 1; early_gap = gap; }
        if (!ok && burst > worst_burst) worst_burst = burst;
        episodes++;
        prev_end = c[j].start;
        k = j + 1;
    }
    snprintf(meas, ml, "opened at %s; first probe after %s; %d half-open episode%s, at most %d call%s each",
             vfmt_off(opened - ws, b1, sizeof(b1)), vfmt_ms(first_after, b2, sizeof(b2)), episodes, episodes == 1 ? "" : "s",
             worst_burst, worst_burst == 1 ? "" : "s");
    if (first_after < pm->amin - 1) {
        snprintf(why, wl, "first probe %s after the breaker opened, sooner than after_min %s", vfmt_ms(first_after, b1, sizeof(b1)),
                 vfmt_ms(pm->amin, b2, sizeof(b2)));
        return V_FAIL;
    }
    if (first_after > pm->amax + 1) {
        snprintf(why, wl, "first probe %s after the breaker opened, later than after_max %s", vfmt_ms(first_after, b1, sizeof(b1)),
                 vfmt_ms(pm->amax, b2, sizeof(b2)));
        return V_FAIL;
    }
    if (worst_burst > pm->maxp) {
        snprintf(why, wl, "a burst of %d calls went through half-open while the fault acted (at most %g): no half-open "
                 "limit, the breaker re-closed and had to trip again", worst_burst, pm->maxp);
        return V_FAIL;
    }
    if (early) {
        snprintf(why, wl, "a failed probe did not re-open the breaker for after_min: the next call came %s later",
                 vfmt_ms(early_gap, b1, sizeof(b1)));
        return V_FAIL;
    }
    /* closing: after the window, a good call and then the calls flowing */
    if (cut) { snprintf(why, wl, "%.300s: closing was never observed", cut); return V_INCONCLUSIVE; }
    double limit = we + pm->close_within;
    int good = -1;
    for (int k = i; k < n; k++) if (c[k].start >= we && !c[k].failed) { good = k; break; }
    if (good < 0 || c[good].start > limit) {
        if (dend < limit) { snprintf(why, wl, "the record ends before close_within ran out after the fault"); return V_INCONCLUSIVE; }
        snprintf(why, wl, "no successful call within %s after the fault: the breaker never closed",
                 vfmt_ms(pm->close_within, b1, sizeof(b1)));
        return V_FAIL;
    }
    for (int k = good; k + 1 < n && c[k].start < limit; k++)
        if (c[k + 1].start - c[k].start >= pm->amin && !c[k].failed) {
            snprintf(why, wl, "after a good probe at %s the calls stopped again for %s: it did not close",
                     vfmt_off(c[good].start - we, b1, sizeof(b1)), vfmt_ms(c[k + 1].start - c[k].start, b2, sizeof(b2)));
            return V_FAIL;
        }
    size_t o = strlen(meas);
    snprintf(meas + o, ml - o, "; closed %s after the fault", vfmt_off(c[good].start - we, b3, sizeof(b3)));
    snprintf(why, wl, "the breaker opened, probed on time one at a time and closed after the fault");
    return V_PASS;
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    struct hp pm;
    if (vexp_dur(e, "after_min", VREQ, &pm.amin) < 0) return -1;
    if (vexp_dur(e, "after_max", VREQ, &pm.amax) < 0) return -1;
    if (pm.amin <= 0) return vexp_fail(e, "after_min", "must be above 0");
    if (pm.amax < pm.amin) return vexp_fail(e, "after_max", "must be at least after_min");
    if (vexp_num(e, "max_probes", 1, 1, 1e6, &pm.maxp) < 0) return -1;
    if (vexp_dur(e, "close_within", pm.amax + 2000, &pm.close_within) < 0) return -1;
    if (!cx) return 0;

    char b1[32], b2[32];
    vres_bound(r, "first probe %s..%s after opening, <= %g per half-open", vfmt_ms(pm.amin, b1, sizeof(b1)),
               vfmt_ms(pm.amax, b2, sizeof(b2)), pm.maxp);
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    if (vctx_need_fault(cx, e, &w, r)) { vwins_free(&w); return 0; }
    struct vpx *p = vrec_proxy(cx->rec, e->proxy, 1, e->err, e->errlen);
    if (!p) { vwins_free(&w); return -1; }
    struct call *c = fl_calloc((size_t)p->nev + 1, sizeof(*c));
    int n = 0;
    for (int i = 0; i < p->nev; i++) {
        const struct vev *ev = &p->ev[i];
        if (ev->kind != VEV_REQUEST || isnan(ev->req_ms)) continue;
        c[n].start = ev->req_ms;
        c[n].failed = ev->status >= 500 || ev->status == 0 || ev->status == 429 || !isnan(ev->abandoned_ms);
        n++;
    }
    if (!n) {
        vres(r, V_INCONCLUSIVE, "no request events on proxy '%s' (half_open needs an http proxy with traffic)", e->proxy);
        free(c);
        vwins_free(&w);
        return 0;
    }
    qsort(c, (size_t)n, sizeof(*c), cmp_call);
    double dend = vpx_data_end(p);
    if (cx->rec->ended && cx->rec->end_ms < dend) dend = cx->rec->end_ms;
    enum verdict worst = V_PASS;
    char meas[256] = "", why[512] = "";
    for (int k = 0; k < w.n; k++) {
        char m[200], y[400], cut[256];
        enum verdict v = one_window(c, n, &w.w[k], dend, vwin_cut(cx, &w.w[k], cut, sizeof(cut)) ? cut : NULL, &pm, m,
                                    sizeof(m), y, sizeof(y));
        if (k == 0 || (v == V_FAIL && worst != V_FAIL) || (v == V_INCONCLUSIVE && worst == V_PASS)) {
            snprintf(meas, sizeof(meas), "%s%s", w.n > 1 ? "" : "", m);
            snprintf(why, sizeof(why), "%s%.400s", w.n > 1 ? (k == 0 ? "window 1: " : "a later window: ") : "", y);
        }
        if (v == V_FAIL) worst = V_FAIL;
        else if (v == V_INCONCLUSIVE && worst == V_PASS) worst = V_INCONCLUSIVE;
    }
    vres_measured(r, "%s", meas);
    vres(r, worst, "%s", why);
    free(c);
    vwins_free(&w);
    return 0;
}

const struct vcheck vcheck_half_open = {"half_open", 1, judge};
