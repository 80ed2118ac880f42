/* check_probe.c -- `check = probe`: a value the service reports about itself (goroutines,
 * heap, open fds, queue length) returns within `tolerance` of its baseline within `within`
 * after the fault.
 *
 * The dependency side cannot see inside the service: a Go service whose http.Client has no
 * timeout keeps one goroutine per hung call (go_goroutines climbs and, with on_end = keep,
 * never comes down); a Node service leaks sockets/promises the same way. The sampler reads the
 * service's endpoint (`url`, JSON with `json_path` or Prometheus text with `metric`) every
 * `interval` into R:probe:<expect name>; the check compares the samples after each fault
 * window with the mean of the baseline samples. `tolerance` is relative ("20%" or 0.2, like
 * every ratio), `tolerance_abs` absolute ("5"): 12 +/- 5 goroutines after the fault is back;
 * 300 is a leak.
 */
#include "vcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ps { double at, v; };
struct psacc { struct ps *s; int n, failed; };

static void ps_entry(void *ud, const char **f, const char **v, int n)
{
    struct psacc *a = ud;
    struct ps s = {NAN, NAN};
    int ok = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(f[i], "at_ms")) s.at = strtod(v[i], NULL);
        else if (!strcmp(f[i], "value")) s.v = strtod(v[i], NULL);
        else if (!strcmp(f[i], "ok")) ok = !strcmp(v[i], "1");
    }
    if (!ok || isnan(s.at) || isnan(s.v)) { a->failed++; return; }
    struct ps *ns = realloc(a->s, sizeof(*ns) * (size_t)(a->n + 1));
    if (!ns) abort();
    a->s = ns;
    a->s[a->n++] = s;
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double within, interval, tmo, minb;
    const char *url = vexp_str(e, "url"), *jp = vexp_str(e, "json_path"), *metric = vexp_str(e, "metric");
    if (!url) return vexp_fail(e, NULL, "needs 'url' (http://HOST:PORT/path)");
    if (strncmp(url, "http://", 7)) return vexp_fail(e, "url", "'%s': only http:// URLs", url);
    if (!jp == !metric) return vexp_fail(e, NULL, "needs exactly one of json_path, metric");
    if (vexp_dur(e, "within", VREQ, &within) < 0) return -1;
    if (vexp_dur(e, "interval", 1000, &interval) < 0) return -1;
    if (vexp_dur(e, "timeout", 1000, &tmo) < 0) return -1;
    if (vexp_num(e, "min_baseline", 2, 1, 1e6, &minb) < 0) return -1;
    double tv, tabs;
    if (vexp_ratio(e, "tolerance", 0.1, 100, &tv) < 0) return -1;
    if (vexp_num(e, "tolerance_abs", -1, 0, 1e18, &tabs) < 0) return -1;
    if (tabs >= 0 && vexp_str(e, "tolerance")) return vexp_fail(e, "tolerance_abs", "give tolerance or tolerance_abs, not both");
    int rel = tabs < 0;
    if (!rel) tv = tabs;
    if (!cx) return 0;

    char b1[32], b2[32];
    if (rel) vres_bound(r, "within %g%% of baseline after %s", tv * 100, vfmt_ms(within, b1, sizeof(b1)));
    else vres_bound(r, "within +/-%g of baseline after %s", tv, vfmt_ms(within, b1, sizeof(b1)));
    struct psacc a = {NULL, 0, 0};
    char sfx[200];
    snprintf(sfx, sizeof(sfx), "probe:%s", e->name);
    if (vrec_stream(cx->rec, sfx, ps_entry, &a, e->err, e->errlen) < 0) { free(a.s); return -1; }
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    if (vctx_need_fault(cx, e, &w, r)) goto out;
    double base = 0;
    int nb = 0;
    for (int i = 0; i < a.n; i++)
        if (a.s[i].at < w.w[0].start) { base += a.s[i].v; nb++; }
    if (nb < minb) {
        vres_measured(r, "%d samples (%d before the fault, %d failed)", a.n, nb, a.failed);
        vres(r, V_INCONCLUSIVE, "%d probe samples before the fault (needs %g) in R:probe:%s", nb, minb, e->name);
        goto out;
    }
    base /= nb;
    double allowed = rel ? tv * fabs(base) : tv;
    double peak = base, worst_after = 0;
    for (int i = 0; i < a.n; i++) if (a.s[i].at >= w.w[0].start && a.s[i].v > peak) peak = a.s[i].v;
    for (int k = 0; k < w.n; k++) {
        struct vwin *win = &w.w[k];
        if (isinf(win->end)) {
            vres_measured(r, "baseline %.4g, peak %.4g", base, peak);
            vres(r, V_INCONCLUSIVE, "the fault was still active when the record ends");
            goto out;
        }
        double back = NAN, last = NAN, lastv = NAN;
        for (int i = 0; i < a.n; i++) {
            if (a.s[i].at < win->end) continue;
            last = a.s[i].at;
            lastv = a.s[i].v;
            if (fabs(a.s[i].v - base) <= allowed) { back = a.s[i].at - win->end; break; }
            if (a.s[i].at > win->end + within) break;
        }
        if (!isnan(back) && back <= within) { if (back > worst_after) worst_after = back; continue; }
        vres_measured(r, "baseline %.4g, peak %.4g, %.4g at +%s after the fault", base, peak, lastv,
                      vfmt_ms(isnan(last) ? 0 : last - win->end, b1, sizeof(b1)));
        if (!isnan(last) && last >= win->end + within)
            vres(r, V_FAIL, "the value stayed at %.4g, beyond %.4g +/- %.4g, %s after the fault: leak?", lastv, base,
                 allowed, vfmt_ms(within, b2, sizeof(b2)));
        else
            vres(r, V_INCONCLUSIVE, "probe samples end before 'within' ran out after the fault");
        goto out;
    }
    vres_measured(r, "baseline %.4g, peak %.4g, back after %s", base, peak, vfmt_ms(worst_after, b1, sizeof(b1)));
    vres(r, V_PASS, "the value came back to its baseline after the fault");
out:
    vwins_free(&w);
    free(a.s);
    return 0;
}

const struct vcheck vcheck_probe = {"probe", 0, judge};
