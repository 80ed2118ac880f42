/* check_breaker.c -- `check = breaker`: calls stop soon after the fault starts, only probes
 * get through while it lasts, and calls resume after it ends.
 *
 * A circuit breaker (resilience4j CircuitBreaker, sony/gobreaker, opossum, Polly) counts
 * failures; past its threshold it opens and fails calls locally, so the dependency sees the
 * call rate collapse. After a wait (resilience4j waitDurationInOpenState, gobreaker Timeout,
 * opossum resetTimeout) it lets a few trial calls through (half-open: permittedNumberOfCalls,
 * MaxRequests) and closes again when they succeed. From the dependency side:
 *   1. rate during the fault, after `open_within`, is at most (1 - min_drop) x baseline;
 *   2. in every `probe_window` of that period at most `max_probes` calls arrive (optional);
 *   3. after the fault ends, the rate is back to >= recover_ratio x baseline within
 *      `recover_within` (a breaker that never closes again fails here).
 * The rate is requests/s for http proxies and new connections/s for tcp (`measure`).
 *
 * Every fault window is judged on its own (against the one baseline) and must pass; the
 * measured text lists each window (w1, w2...).
 *
 * A client stuck on a hung fault also stops calling, without any breaker. So when calls held
 * by the fault are still open in the middle of the open period, the drop is blamed on stuck
 * calls and the check fails: use a fail-fast fault (reset, refuse, http_error) for breakers,
 * or an open_within longer than the client's timeout.
 */
#include "verify/check.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct wres { enum verdict v; char measured[160], why[400]; };

/* One fault window [win.start, win.end): open, probes, closing again before next_start. */
static void judge_window(struct vpx *p, enum vmeasure m, double base, const struct vwin *win, const char *cut,
                         double next_start, double dend, double min_drop, double open_within, double max_probes,
                         double probe_window, double ratio, double rwithin, struct wres *o)
{
    char b1[32], b2[32], b3[32];
    const char *u = vmeasure_unit(m);
    memset(o, 0, sizeof(*o));
    double oend = isinf(win->end) ? dend : win->end;
    int no;
    double orate = vpx_rate(p, m, win->start + open_within, oend, &no);
    if (no < 1) {
        snprintf(o->measured, sizeof(o->measured), "lasted %s", vfmt_ms(oend - win->start, b1, sizeof(b1)));
        snprintf(o->why, sizeof(o->why), "the fault lasted %s: no whole second after open_within (%s)",
                 vfmt_ms(oend - win->start, b1, sizeof(b1)), vfmt_ms(open_within, b2, sizeof(b2)));
        o->v = V_INCONCLUSIVE;
        return;
    }
    double drop = 1 - orate / base;
    /* calls stuck in the fault in the middle of the open period */
    double mid = (win->start + open_within + oend) / 2;
    int stuck = 0;
    for (int i = 0; i < p->nev; i++) {
        struct vev *ev = &p->ev[i];
        if (ev->kind == VEV_REQUEST) {
            if (!ev->fault[0] || isnan(ev->req_ms) || !isnan(ev->abandoned_ms)) continue;
            double end = !isnan(ev->total_ms) ? ev->req_ms + ev->total_ms : INFINITY;
            if (ev->req_ms <= mid && end > mid + 1000) stuck++;
            continue;
        }
        double h = ev->hang_ms;
        if (isnan(h) || h > mid) continue;
        double gone = !isnan(ev->gave_up_ms) ? ev->gave_up_ms : !isnan(ev->close_ms) ? ev->close_ms : INFINITY;
        if (gone <= mid) continue;
        /* a call held, not a pooled connection idling through the hold: a turn still open at
         * the close that began before mid (older records without call_open_ms: any bytes sent) */
        if (!isnan(ev->call_open_ms) ? ev->call_open_ms <= mid : !isnan(ev->last_up_ms) && isnan(ev->call_max_at_ms)) stuck++;
    }
    /* probes: the most calls in any probe_window of the open period */
    double probes = -1;
    if (max_probes >= 0) {
        double *t = fl_calloc((size_t)p->nev + 1, sizeof(double));
        int nt = 0, use_ev = 0;
        for (int i = 0; i < p->nev; i++) {
            struct vev *ev = &p->ev[i];
            double at = m == VM_REQUESTS ? (ev->kind == VEV_REQUEST ? ev->req_ms : NAN)
                                         : (ev->kind == VEV_CONN ? ev->open_ms : NAN);
            if (isnan(at)) continue;
            use_ev = 1;
            if (at >= win->start + open_within && at < oend) t[nt++] = at;
        }
        if (use_ev) {
            qsort(t, (size_t)nt, sizeof(double), cmp_d);
            probes = 0;
            for (int i = 0, j = 0; i < nt; i++) {
                while (t[i] - t[j] >= probe_window) j++;
                if (i - j + 1 > probes) probes = i - j + 1;
            }
        } else {  /* no events: whole buckets */
            int i0, i1;
            vpx_range(p, win->start + open_within, oend, &i0, &i1);
            int k = (int)ceil(probe_window / (p->interval_s * 1000));
            probes = 0;
            for (int i = i0; i < i1; i++) {
                double s = 0;
                for (int j = i; j < i1 && j < i + k; j++) s += vts_value(&p->ts[j], m);
                if (s > probes) probes = s;
            }
        }
        free(t);
    }
    /* closing again, before the next window starts */
    double back_after = NAN, best_after = 0;
    int recov_state = 0;  /* 0 unknown, 1 back, 2 never, 3 next window came first */
    if (!cut) {
        double limit = win->end + rwithin;
        for (int i = 0; i < p->nts; i++) {
            double t0 = (double)p->ts[i].sec * 1000, t1 = t0 + p->interval_s * 1000;
            if (t0 < win->end - 1) continue;
            if (t0 > limit || t1 > next_start + 1) break;
            double rate = vts_value(&p->ts[i], m) / p->interval_s;
            if (rate > best_after) best_after = rate;
            if (rate >= ratio * base) { back_after = t1 - win->end; recov_state = 1; break; }
        }
        if (!recov_state && dend >= limit && next_start >= limit) recov_state = 2;
        else if (!recov_state && next_start < limit && dend >= next_start) recov_state = 3;   /* cannot tell */
    }
    char ps[64] = "";
    if (probes >= 0) snprintf(ps, sizeof(ps), ", max %g/%s", probes, vfmt_ms(probe_window, b3, sizeof(b3)));
    char rs[64] = "";
    if (recov_state == 1) snprintf(rs, sizeof(rs), ", back after %s", vfmt_ms(back_after, b2, sizeof(b2)));
    else if (recov_state >= 2) snprintf(rs, sizeof(rs), ", after: %.3g %s", best_after, u);
    snprintf(o->measured, sizeof(o->measured), "open %.3g %s (%+.0f%%)%s%s", orate, u, -drop * 100, ps, rs);
    o->v = V_FAIL;
    if (drop < min_drop) {
        snprintf(o->why, sizeof(o->why), "the call rate fell only %.0f%% during the fault (needs %g%%): no breaker, or it never opened",
                 drop < 0 ? 0 : drop * 100, min_drop * 100);
    } else if (stuck) {
        snprintf(o->why, sizeof(o->why), "calls stopped because %d are stuck in the fault, not because a breaker opened", stuck);
    } else if (max_probes >= 0 && probes > max_probes) {
        snprintf(o->why, sizeof(o->why), "%g calls in %s while open (at most %g probes allowed)", probes,
                 vfmt_ms(probe_window, b1, sizeof(b1)), max_probes);
    } else if (recov_state == 2) {
        snprintf(o->why, sizeof(o->why), "the rate stayed below %g%% of baseline for %s after the fault: the breaker never closed",
                 ratio * 100, vfmt_ms(rwithin, b1, sizeof(b1)));
    } else if (recov_state == 3) {
        o->v = V_INCONCLUSIVE;
        snprintf(o->why, sizeof(o->why), "the rate was not back to %g%% of baseline when the next fault window began %s later, "
                 "before recover_within (%s) ran out: closing cannot be judged",
                 ratio * 100, vfmt_ms(next_start - win->end, b1, sizeof(b1)), vfmt_ms(rwithin, b2, sizeof(b2)));
    } else if (recov_state == 0) {
        o->v = V_INCONCLUSIVE;
        if (cut) snprintf(o->why, sizeof(o->why), "%.300s: closing again was never observed", cut);
        else snprintf(o->why, sizeof(o->why), "the record ends before recover_within ran out");
    } else {
        o->v = V_PASS;
        snprintf(o->why, sizeof(o->why), "the breaker opened, probed and closed again");
    }
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double min_drop, open_within, max_probes, probe_window, ratio, rwithin, minb;
    int meas;
    if (vexp_ratio(e, "min_drop", 0.9, 1, &min_drop) < 0) return -1;
    if (vexp_dur(e, "open_within", 5000, &open_within) < 0) return -1;
    if (vexp_num(e, "max_probes", -1, 0, 1e9, &max_probes) < 0) return -1;
    if (vexp_dur(e, "probe_window", 5000, &probe_window) < 0) return -1;
    if (probe_window <= 0) return vexp_fail(e, "probe_window", "must be above 0");
    if (vexp_ratio(e, "recover_ratio", 0.5, 10, &ratio) < 0) return -1;
    if (vexp_dur(e, "recover_within", 10000, &rwithin) < 0) return -1;
    if (vexp_enum(e, "measure", vmeasure_names, VM_AUTO, &meas) < 0) return -1;
    if (vexp_num(e, "min_baseline", 2, 1, 1e6, &minb) < 0) return -1;
    if (!cx) return 0;

    char b1[32], b2[32], b3[32];
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    if (vctx_need_fault(cx, e, &w, r)) { vwins_free(&w); return 0; }
    struct vpx *p = vrec_proxy(cx->rec, e->proxy, 1, e->err, e->errlen);
    if (!p) { vwins_free(&w); return -1; }
    enum vmeasure m = vmeasure_resolve((enum vmeasure)meas, p);
    const char *u = vmeasure_unit(m);
    double a, b;
    if (vctx_baseline(cx, e, &w, &a, &b, r) < 0) { vwins_free(&w); return 0; }
    int nb;
    double base = vpx_rate(p, m, a, b, &nb);
    vres_bound(r, "drop >= %g%% within %s%s, back to %g%% within %s", min_drop * 100,
               vfmt_ms(open_within, b1, sizeof(b1)), "", ratio * 100, vfmt_ms(rwithin, b2, sizeof(b2)));
    if (max_probes >= 0)
        vres_bound(r, "drop >= %g%% within %s, <= %g probes/%s, back to %g%% within %s", min_drop * 100,
                   vfmt_ms(open_within, b1, sizeof(b1)), max_probes, vfmt_ms(probe_window, b3, sizeof(b3)),
                   ratio * 100, vfmt_ms(rwithin, b2, sizeof(b2)));
    if (nb < minb || !(base > 0)) {
        vres_measured(r, "baseline %.3g %s over %d s", isnan(base) ? 0 : base, u, nb);
        vres(r, V_INCONCLUSIVE, nb < minb ? "%d seconds of baseline (needs %g)" : "no calls in the baseline (%d s)",
             nb, minb);
        vwins_free(&w);
        return 0;
    }
    double dend = vpx_data_end(p);
    /* every window of the fault: each must open, probe only, and close again */
    int nfail = 0, ninc = 0, npass = 0;
    char det[256] = "", why[512] = "";
    for (int k = 0; k < w.n; k++) {
        struct wres wr;
        char cut[256];
        judge_window(p, m, base, &w.w[k], vwin_cut(cx, &w.w[k], cut, sizeof(cut)) ? cut : NULL,
                     k + 1 < w.n ? w.w[k + 1].start : INFINITY, dend, min_drop, open_within, max_probes, probe_window,
                     ratio, rwithin, &wr);
        if (wr.v == V_FAIL) nfail++;
        else if (wr.v == V_INCONCLUSIVE) ninc++;
        else npass++;
        if (strlen(det) < sizeof(det) - 8)
            snprintf(det + strlen(det), sizeof(det) - strlen(det), "%s%s%d: %s", det[0] ? "; " : "",
                     w.n > 1 ? "w" : "", k + 1, wr.measured);
        /* the first failing window explains the verdict, else the first inconclusive one */
        if ((wr.v == V_FAIL && nfail == 1) || (wr.v == V_INCONCLUSIVE && !nfail && ninc == 1))
            snprintf(why, sizeof(why), "%s%s", w.n > 1 ? (k == 0 ? "window 1: " : k == 1 ? "window 2: " : "a later window: ") : "", wr.why);
    }
    if (w.n == 1) memmove(det, det + 3, strlen(det + 3) + 1);   /* drop the "1: " of a lone window */
    vres_measured(r, "baseline %.3g %s; %s", base, u, det);
    if (nfail) vres(r, V_FAIL, "%s", why);
    else if (ninc) vres(r, V_INCONCLUSIVE, "%s", why);
    else vres(r, V_PASS, w.n > 1 ? "the breaker opened, probed and closed again in each of %d fault windows"
                                  : "the breaker opened, probed and closed again", w.n);
    vwins_free(&w);
    return 0;
}

const struct vcheck vcheck_breaker = {"breaker", 1, judge};
