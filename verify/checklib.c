/* verify/checklib.c -- what the checks share: typed parameters with line numbers, result texts, the fault
 * windows and baseline of an expectation, and rates read off the per-second series.
 *
 * The baseline is the period before the first fault window (from the run's start), or the
 * phase named by `baseline = PHASE`, or the phase called "baseline" when the run has phases.
 * Rates only use buckets that lie wholly inside a period: a bucket cut by a window's start
 * holds calls from both sides and would blur exactly the edge the checks look at.
 */
#include "verify/check.h"
#include "common/parse.h"
#include "common/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vexp_fail(struct vexp *e, const char *key, const char *fmt, ...)
{
    char m[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    int line = e->sec->line;
    if (key) inisec_get(e->sec, key, &line);
    return inidoc_err(e->doc, line, e->err, e->errlen, "[expect %s] %s%s%s", e->name, key ? key : "",
                      key ? ": " : "", m);
}

const char *vexp_str(struct vexp *e, const char *key)
{
    int line;
    return inisec_get(e->sec, key, &line);
}

int vexp_dur(struct vexp *e, const char *key, double def_ms, double *ms)
{
    const char *v = vexp_str(e, key);
    if (!v) {
        if (def_ms == VREQ) return vexp_fail(e, NULL, "needs '%s' (a duration such as 2s)", key);
        *ms = def_ms;
        return 0;
    }
    int64_t us;
    char m[256];
    if (parse_duration(v, &us, m, sizeof(m)) < 0) return vexp_fail(e, key, "%s", m);
    *ms = (double)us / 1000.0;
    return 0;
}

int vexp_ratio(struct vexp *e, const char *key, double def, double hi, double *out)
{
    const char *v = vexp_str(e, key);
    if (!v) {
        if (def < 0) return vexp_fail(e, NULL, "needs '%s' (a ratio such as 90%% or 0.9)", key);
        *out = def;
        return 0;
    }
    char *end;
    double d = strtod(v, &end);
    if (end == v) return vexp_fail(e, key, "'%s' is not a ratio (90%% or 0.9)", v);
    while (*end == ' ') end++;
    if (*end == '%') { d /= 100.0; end++; }
    while (*end == ' ') end++;
    if (*end || d < 0 || d > hi) return vexp_fail(e, key, "'%s' is not a ratio between 0 and %g%%", v, hi * 100);
    *out = d;
    return 0;
}

int vexp_num(struct vexp *e, const char *key, double def, double lo, double hi, double *out)
{
    const char *v = vexp_str(e, key);
    if (!v) {
        if (isnan(def)) return vexp_fail(e, NULL, "needs '%s' (a number)", key);
        *out = def;
        return 0;
    }
    char m[256];
    if (parse_double(v, lo, hi, out, m, sizeof(m)) < 0) return vexp_fail(e, key, "%s", m);
    return 0;
}

int vexp_bool(struct vexp *e, const char *key, int def, int *out)
{
    const char *v = vexp_str(e, key);
    if (!v) { *out = def; return 0; }
    char m[256];
    if (parse_bool(v, out, m, sizeof(m)) < 0) return vexp_fail(e, key, "%s", m);
    return 0;
}

int vexp_enum(struct vexp *e, const char *key, const char *const *choices, int def, int *out)
{
    const char *v = vexp_str(e, key);
    if (!v) { *out = def; return 0; }
    for (int i = 0; choices[i]; i++)
        if (!strcmp(v, choices[i])) { *out = i; return 0; }
    char list[256] = "";
    for (int i = 0; choices[i]; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", choices[i]);
    return vexp_fail(e, key, "'%s' is not one of %s", v, list);
}

/* ---- results ---- */

void vres(struct verify_result *r, enum verdict v, const char *why, ...)
{
    r->v = v;
    va_list ap;
    va_start(ap, why);
    vsnprintf(r->why, sizeof(r->why), why, ap);
    va_end(ap);
}

void vres_measured(struct verify_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->measured, sizeof(r->measured), fmt, ap);
    va_end(ap);
}

void vres_bound(struct verify_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->bound, sizeof(r->bound), fmt, ap);
    va_end(ap);
}

const char *vfmt_ms(double ms, char *b, size_t n)
{
    if (isinf(ms)) snprintf(b, n, "forever");
    else if (isnan(ms)) snprintf(b, n, "?");
    else if (ms < 1000) snprintf(b, n, "%.0fms", ms);
    else if (ms < 60000) snprintf(b, n, "%.3gs", ms / 1000);
    else snprintf(b, n, "%dm%02ds", (int)(ms / 60000), (int)(ms / 1000) % 60);
    return b;
}

const char *vfmt_off(double ms, char *b, size_t n)
{
    char d[32];
    vfmt_ms(fabs(ms), d, sizeof(d));
    snprintf(b, n, "%s%s", ms < 0 ? "-" : "+", d);
    return b;
}

/* ---- windows ---- */

/* Is f the fault `sel` names? sel is NAME or PROXY/NAME; a NAME that several proxies' faults have
 * is the one on `proxy` when that proxy has one, else all of them. */
static int fault_named(struct vrec *v, const struct vfault *f, const char *sel, const char *proxy)
{
    const char *slash = strchr(sel, '/');
    if (slash)
        return strlen(f->proxy) == (size_t)(slash - sel) && !strncmp(f->proxy, sel, (size_t)(slash - sel)) &&
               !strcmp(f->name, slash + 1);
    if (strcmp(f->name, sel)) return 0;
    if (proxy && vrec_fault(v, proxy, sel)) return !strcmp(f->proxy, proxy);
    return 1;
}

int vexp_fault_is(const struct vexp *e, const char *proxy, const char *name)
{
    if (!e->fault) return 1;
    const char *slash = strchr(e->fault, '/');
    if (!slash) return !strcmp(e->fault, name);
    return strlen(proxy) == (size_t)(slash - e->fault) && !strncmp(proxy, e->fault, (size_t)(slash - e->fault)) &&
           !strcmp(slash + 1, name);
}

void vctx_windows(struct vctx *cx, struct vexp *e, const char *proxy, struct vwins *out)
{
    memset(out, 0, sizeof(*out));
    struct vrec *v = cx->rec;
    for (int i = 0; i < v->nfaults; i++) {
        struct vfault *f = &v->faults[i];
        if (e->fault ? !fault_named(v, f, e->fault, proxy ? proxy : e->proxy) : (proxy && strcmp(f->proxy, proxy)))
            continue;
        out->affected += f->affected;
        out->nfaults++;
        snprintf(out->names + strlen(out->names), sizeof(out->names) - strlen(out->names), "%s%s",
                 out->names[0] ? "," : "", f->name);
        if (!strstr(out->types, f->type))
            snprintf(out->types + strlen(out->types), sizeof(out->types) - strlen(out->types), "%s%s",
                     out->types[0] ? "," : "", f->type);
        for (int k = 0; k < f->nw; k++) {
            struct vwin *nw = fl_realloc(out->w, sizeof(*nw) * (size_t)(out->n + 1));
            out->w = nw;
            out->w[out->n++] = f->w[k];
        }
    }
    vwin_union(out->w, &out->n);
}

int vwin_cut(struct vctx *cx, const struct vwin *w, char *b, size_t n)
{
    if (!w->cut && !isinf(w->end)) return 0;
    struct vrec *v = cx->rec;
    if (isinf(w->end)) snprintf(b, n, "the fault was still active when the record ends");
    else if (!strcmp(v->outcome, "halted")) snprintf(b, n, "the run was halted while the fault acted (%s)", v->stop_reason);
    else if (!strcmp(v->outcome, "aborted")) snprintf(b, n, "the run was aborted while the fault acted (%s)", v->stop_reason);
    else snprintf(b, n, "the run ended while the fault acted");
    return 1;
}

void vwins_free(struct vwins *w) { if (w) { free(w->w); w->w = NULL; w->n = 0; } }

int vctx_need_fault(struct vctx *cx, struct vexp *e, const struct vwins *w, struct verify_result *r)
{
    if (!cx->rec->known) {
        vres(r, V_INCONCLUSIVE, "run '%s' has no record in Redis (not in fl:runs, no instances)", cx->rec->run);
        return 1;
    }
    if (!w->nfaults || !w->n) {
        if (e->fault) vres(r, V_INCONCLUSIVE, "fault '%s' never had a window in this run (R:faults)", e->fault);
        else vres(r, V_INCONCLUSIVE, "no fault window on proxy '%s' in this run (R:faults)", e->proxy ? e->proxy : "*");
        return 1;
    }
    if (w->affected <= 0) {
        vres(r, V_INCONCLUSIVE, "fault %s never applied to a connection or request (conns_affected = 0)", w->names);
        return 1;
    }
    return 0;
}

int vctx_baseline(struct vctx *cx, struct vexp *e, const struct vwins *w, double *a, double *b,
                  struct verify_result *r)
{
    struct vrec *v = cx->rec;
    const char *want = vexp_str(e, "baseline");
    for (int i = 0; i < v->nph; i++)
        if (!strcmp(v->ph[i].name, want ? want : "baseline")) {
            *a = v->ph[i].start;
            *b = isinf(v->ph[i].end) ? v->end_ms : v->ph[i].end;
            return 0;
        }
    if (want) {
        vres(r, V_INCONCLUSIVE, "the run has no phase '%s' (R:phases) for the baseline", want);
        return -1;
    }
    *a = v->start_ms;
    *b = w->n ? w->w[0].start : v->end_ms;
    if (*b <= *a) {
        vres(r, V_INCONCLUSIVE, "no baseline: the first fault started with the run");
        return -1;
    }
    return 0;
}

/* ---- series ---- */

const char *const vmeasure_names[] = {"auto", "connections", "requests", "bytes", NULL};

enum vmeasure vmeasure_resolve(enum vmeasure m, const struct vpx *p)
{
    if (m != VM_AUTO) return m;
    return p && p->http ? VM_REQUESTS : VM_CONNS;
}

const char *vmeasure_unit(enum vmeasure m)
{
    return m == VM_REQUESTS ? "req/s" : m == VM_BYTES ? "B/s" : "conn/s";
}

double vts_value(const struct vts *t, enum vmeasure m)
{
    switch (m) {
    case VM_REQUESTS: return t->req;
    case VM_BYTES: return t->up + t->down;
    default: return t->nnew;
    }
}

int vpx_range(const struct vpx *p, double a, double b, int *i0, int *i1)
{
    double L = p->interval_s * 1000;
    int s = -1, n = 0;
    for (int i = 0; i < p->nts; i++) {
        double t0 = (double)p->ts[i].sec * 1000, t1 = t0 + L;
        if (t0 >= a - 1 && t1 <= b + 1) {
            if (s < 0) s = i;
            n = i + 1;
        }
    }
    *i0 = s < 0 ? 0 : s;
    *i1 = s < 0 ? 0 : n;
    return *i1 - *i0;
}

double vpx_rate(const struct vpx *p, enum vmeasure m, double a, double b, int *nb)
{
    int i0, i1;
    int n = vpx_range(p, a, b, &i0, &i1);
    if (nb) *nb = n;
    if (n <= 0) return NAN;
    double s = 0;
    for (int i = i0; i < i1; i++) s += vts_value(&p->ts[i], m);
    /* missing buckets inside the range count as zero traffic */
    double span = ((double)(p->ts[i1 - 1].sec - p->ts[i0].sec) + p->interval_s);
    return s / span;
}

double vpx_data_end(const struct vpx *p)
{
    return p->nts ? ((double)p->ts[p->nts - 1].sec + p->interval_s) * 1000 : 0;
}
