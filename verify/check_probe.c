/* check_probe.c -- `check = probe`: a value the service reports about itself (goroutines,
 * heap, open fds, queue length) returns within `tolerance` of its baseline within `within`
 * after the fault.
 *
 * The dependency side cannot see inside the service: a Go service whose http.Client has no
 * timeout keeps one goroutine per hung call (go_goroutines climbs and, with on_end = keep,
 * never comes down); a Node service leaks sockets/promises the same way. The sampler reads the
 * service's endpoint every `interval` into R:probe:<expect name>, in one of four formats:
 * `json` (a number at `json_path`), `prometheus` (the sum of the series of `metric`), `expvar`
 * (Go's /debug/vars: JSON with `json_path`, e.g. memstats.HeapAlloc) and `go_goroutines` (Go's
 * text goroutine profile, /debug/pprof/goroutine?debug=1: the total, and the count per stack).
 * The check compares the samples after each fault window with the mean of the baseline
 * samples. `tolerance` is relative ("20%" or 0.2, like every ratio), `tolerance_abs` absolute
 * ("5"): 12 ± 5 goroutines after the fault is back; 300 is a leak.
 *
 * With go_goroutines a number is not all: when the check does not pass, the verdict's detail
 * lists the stacks whose count grew most between the baseline (mean) and the last sample (the
 * end of recovery), each with its top frames and the first frame of the program's own code
 * (R:gostacks:<expect name>): a goroutine leak shown with the code that leaks.
 */
#include "verify/check.h"
#include "verify/samples.h"
#include "verify/goprof.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_MAX_PAIRS (1 << 20)     /* (stack, count) pairs read back from one record: 16 MiB */

struct pair { uint64_t key; double count; };
struct ps { double at, v; int p0, np; };
struct psacc { struct ps *s; int n, failed; struct pair *p; int np, pcap, cut; };

static void add_pairs(struct psacc *a, struct ps *s, const char *txt)
{
    s->p0 = a->np;
    for (const char *q = txt; *q;) {
        char k[GOPROF_KEY_LEN + 1];
        size_t kl = strcspn(q, ":,");
        uint64_t key;
        if (kl == GOPROF_KEY_LEN && q[kl] == ':') {
            memcpy(k, q, kl);
            k[kl] = 0;
            char *end;
            double c = strtod(q + kl + 1, &end);
            if (goprof_key_parse(k, &key) == 0 && end != q + kl + 1) {
                if (a->np >= PROBE_MAX_PAIRS) { a->cut = 1; break; }
                if (a->np == a->pcap) {
                    a->pcap = a->pcap ? a->pcap * 2 : 256;
                    a->p = fl_realloc(a->p, sizeof(*a->p) * (size_t)a->pcap);
                }
                a->p[a->np++] = (struct pair){key, c};
            }
        }
        q += strcspn(q, ",");
        if (*q == ',') q++;
    }
    s->np = a->np - s->p0;
}

static void ps_entry(void *ud, const char **f, const char **v, int n)
{
    struct psacc *a = ud;
    struct ps s = {NAN, NAN, 0, 0};
    int ok = 0;
    const char *stacks = NULL;
    for (int i = 0; i < n; i++) {
        if (!strcmp(f[i], "at_ms")) s.at = strtod(v[i], NULL);
        else if (!strcmp(f[i], "value")) s.v = strtod(v[i], NULL);
        else if (!strcmp(f[i], "ok")) ok = !strcmp(v[i], "1");
        else if (!strcmp(f[i], "stacks")) stacks = v[i];
    }
    if (!ok || isnan(s.at) || isnan(s.v)) { a->failed++; return; }
    if (stacks) add_pairs(a, &s, stacks);
    a->s = fl_realloc(a->s, sizeof(*a->s) * (size_t)(a->n + 1));
    a->s[a->n++] = s;
}

struct grown { uint64_t key; double base, end; };

static int cmp_grown(const void *x, const void *y)
{
    const struct grown *a = x, *b = y;
    double ga = a->end - a->base, gb = b->end - b->base;
    return ga < gb ? 1 : ga > gb ? -1 : 0;
}

/* The stacks that grew between the baseline samples (before `base_end`) and the last sample,
 * into r->detail. */
static void stacks_detail(struct vctx *cx, struct vexp *e, const struct vprobe_spec *sp, struct psacc *a,
                          double base_end, double fault_end, struct verify_result *r)
{
    if (!sp->show_stacks || !a->n) return;
    const struct ps *last = &a->s[a->n - 1];
    if (!last->np) return;
    int nb = 0;
    for (int i = 0; i < a->n; i++) nb += a->s[i].at < base_end;
    if (!nb) return;
    struct grown *g = fl_calloc((size_t)last->np, sizeof(*g));
    int ng = 0;
    for (int k = 0; k < last->np; k++) {
        const struct pair *pk = &a->p[last->p0 + k];
        double base = 0;
        for (int i = 0; i < a->n && a->s[i].at < base_end; i++)
            for (int j = 0; j < a->s[i].np; j++)
                if (a->p[a->s[i].p0 + j].key == pk->key) { base += a->p[a->s[i].p0 + j].count; break; }
        base /= nb;
        if (pk->count - base >= 1) g[ng++] = (struct grown){pk->key, base, pk->count};
    }
    qsort(g, (size_t)ng, sizeof(*g), cmp_grown);
    size_t len = 0;
    char b1[32];
    if (!ng) {
        snprintf(r->detail, sizeof(r->detail), "no goroutine stack grew between the baseline and the last sample\n");
        free(g);
        return;
    }
    len += (size_t)snprintf(r->detail, sizeof(r->detail), "goroutine stacks that grew (baseline mean -> last sample, %s after the fault):\n",
                            isnan(fault_end) ? "?" : vfmt_ms(last->at - fault_end, b1, sizeof(b1)));
    for (int k = 0; k < ng && k < sp->show_stacks && len < sizeof(r->detail) - 1; k++) {
        char ks[GOPROF_KEY_LEN + 1], desc[1024] = "(frames not recorded)";
        goprof_key_str(g[k].key, ks);
        char hash[200];
        snprintf(hash, sizeof(hash), "gostacks:%s", e->name);
        char *frames = vrec_hget(cx->rec, hash, ks, e->err, e->errlen);
        if (frames) {
            struct goprof_stack st;
            memset(&st, 0, sizeof(st));
            goprof_frames_parse(frames, &st);
            goprof_describe(&st, 4, desc, sizeof(desc));
            free(frames);
        }
        int w = snprintf(r->detail + len, sizeof(r->detail) - len, "  +%.0f (%.3g -> %.0f) %s: %s\n", g[k].end - g[k].base,
                         g[k].base, g[k].end, ks, desc);
        if (w < 0) break;
        len += (size_t)w;
    }
    if (len >= sizeof(r->detail) - 1) memcpy(r->detail + sizeof(r->detail) - 5, "...\n", 5);
    if (a->cut) snprintf(r->detail + strlen(r->detail), sizeof(r->detail) - strlen(r->detail),
                         "(stacks of later samples not read: more than %d in the record)\n", PROBE_MAX_PAIRS);
    free(g);
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double within, interval, tmo, minb;
    struct vprobe_spec sp;
    if (vprobe_spec_read(e, &sp) < 0) return -1;
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
    else vres_bound(r, "within ±%g of baseline after %s", tv, vfmt_ms(within, b1, sizeof(b1)));
    struct psacc a;
    memset(&a, 0, sizeof(a));
    char sfx[200];
    snprintf(sfx, sizeof(sfx), "probe:%s", e->name);
    if (vrec_stream(cx->rec, sfx, ps_entry, &a, e->err, e->errlen) < 0) { free(a.s); free(a.p); return -1; }
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    double base_end = NAN, fault_end = NAN;
    if (vctx_need_fault(cx, e, &w, r)) goto out;
    base_end = w.w[0].start;
    double base = 0;
    int nb = 0;
    for (int i = 0; i < a.n; i++)
        if (a.s[i].at < w.w[0].start) { base += a.s[i].v; nb++; }
    if (nb < minb) {
        vres_measured(r, "%d samples (%d before the fault, %d failed)", a.n, nb, a.failed);
        vres(r, V_INCONCLUSIVE, "%d probe samples before the fault (needs %g) in R:probe:%s%s", nb, minb, e->name,
             a.n ? "" : ": samples are taken during the run by `faultline run`, `faultline serve PROFILE --expect FILE`, "
                        "or `faultline verify FILE --run ID --sample` beside it");
        goto out;
    }
    base /= nb;
    double allowed = rel ? tv * fabs(base) : tv;
    double peak = base, worst_after = 0;
    for (int i = 0; i < a.n; i++) if (a.s[i].at >= w.w[0].start && a.s[i].v > peak) peak = a.s[i].v;
    for (int k = 0; k < w.n; k++) {
        struct vwin *win = &w.w[k];
        char cut[300];
        if (vwin_cut(cx, win, cut, sizeof(cut))) {
            vres_measured(r, "baseline %.4g, peak %.4g", base, peak);
            vres(r, V_INCONCLUSIVE, "%s: the value coming back was never observed", cut);
            goto out;
        }
        fault_end = win->end;
        double back = NAN, last = NAN, lastv = NAN;
        for (int i = 0; i < a.n; i++) {
            if (a.s[i].at < win->end) continue;
            last = a.s[i].at;
            lastv = a.s[i].v;
            if (fabs(a.s[i].v - base) <= allowed) { back = a.s[i].at - win->end; break; }
            if (a.s[i].at > win->end + within) break;
        }
        if (!isnan(back) && back <= within) { if (back > worst_after) worst_after = back; continue; }
        vres_measured(r, "baseline %.4g, peak %.4g, %.4g at %s after the fault", base, peak, lastv,
                      vfmt_off(isnan(last) ? 0 : last - win->end, b1, sizeof(b1)));
        if (!isnan(last) && last >= win->end + within)
            vres(r, V_FAIL, "the value stayed at %.4g, beyond %.4g ± %.4g, %s after the fault: leak?", lastv, base,
                 allowed, vfmt_ms(within, b2, sizeof(b2)));
        else
            vres(r, V_INCONCLUSIVE, "probe samples end before 'within' ran out after the fault");
        goto out;
    }
    vres_measured(r, "baseline %.4g, peak %.4g, back after %s", base, peak, vfmt_ms(worst_after, b1, sizeof(b1)));
    vres(r, V_PASS, "the value came back to its baseline after the fault");
out:
    if (sp.format == VPF_GOROUTINES && r->v != V_PASS && !isnan(base_end))
        stacks_detail(cx, e, &sp, &a, base_end, fault_end, r);
    vwins_free(&w);
    free(a.s);
    free(a.p);
    return 0;
}

const struct vcheck vcheck_probe = {"probe", 0, judge};
