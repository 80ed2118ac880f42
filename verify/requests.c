/* verify/requests.c -- reading an ingress proxy's request events as the service's callers saw them
 * (verify/requests.h). Older records without the `end` field are read from status, total_ms and
 * abandoned_ms the same way the recorder derives `end`.
 */
#include "verify/requests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vreq_proxy(struct vctx *cx, struct vexp *e, struct vpx **pp, struct verify_result *r)
{
    struct vpx *p = vrec_proxy(cx->rec, e->proxy, 1, e->err, e->errlen);
    if (!p) return -1;
    int nreq = 0;
    for (int i = 0; i < p->nev; i++) nreq += p->ev[i].kind == VEV_REQUEST;
    if (!p->ingress) {
        vres(r, V_INCONCLUSIVE, "proxy %s is not an ingress proxy (role = ingress, mode = http): its record is a "
             "dependency's view, not the service's answers", e->proxy);
        return 1;
    }
    if (!nreq) {
        vres(r, V_INCONCLUSIVE, "ingress proxy %s recorded no request events (no load went through it?)", e->proxy);
        return 1;
    }
    *pp = p;
    return 0;
}

void vreq_of(const struct vev *ev, int error_status, double abort_after_ms, double run_end_ms, struct vreq *q)
{
    memset(q, 0, sizeof(*q));
    q->start_ms = ev->req_ms;
    q->status = ev->status;
    q->refused = ev->upstream_failed;
    const char *end = ev->end;
    if (!end[0]) {   /* a record from before `end` existed */
        end = !isnan(ev->abandoned_ms) ? "aborted" : ev->held_at_end ? "inflight" : ev->status > 0 ? "done" : "reset";
    }
    q->lat_ms = !isnan(ev->total_ms) ? ev->total_ms : !isnan(ev->abandoned_ms) ? ev->abandoned_ms : NAN;
    if (isnan(q->lat_ms) && !strcmp(end, "inflight") && !isnan(run_end_ms) && !isnan(ev->req_ms))
        q->lat_ms = run_end_ms - ev->req_ms;
    q->end_ms = isnan(q->lat_ms) ? NAN : ev->req_ms + q->lat_ms;
    if (!strcmp(end, "done")) {
        q->kind = ev->status >= error_status ? VRQ_5XX : VRQ_OK;
    } else if (!strcmp(end, "aborted") || !strcmp(end, "inflight")) {
        /* a client that left sooner than abort_after (the load being stopped, a user going away)
         * tells nothing about the service */
        if (isnan(q->lat_ms) || q->lat_ms < abort_after_ms) q->kind = VRQ_SKIP;
        else q->kind = !strcmp(end, "aborted") ? VRQ_ABORTED : VRQ_INFLIGHT;
    } else {
        q->kind = VRQ_RESET;
    }
}

int vreq_quantile_param(struct vexp *e, const char *key, double def, double *q)
{
    const char *s = vexp_str(e, key);
    if (s && (s[0] == 'p' || s[0] == 'P')) {
        char *end;
        *q = strtod(s + 1, &end) / 100;
        if (end == s + 1 || *end || *q <= 0 || *q > 1) return vexp_fail(e, key, "'%s' is not p50..p100 or a ratio", s);
        return 0;
    }
    if (vexp_ratio(e, key, def, 1.0, q) < 0) return -1;
    if (*q <= 0) return vexp_fail(e, key, "must be above 0");
    return 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double vreq_quantile(double *v, int n, double q)
{
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof(double), cmp_d);
    int k = (int)ceil(q * n - 1e-9) - 1;
    if (k < 0) k = 0;
    if (k >= n) k = n - 1;
    return v[k];
}

const char *vreq_fail_text(const int *c, char *b, size_t n)
{
    static const char *names[VRQ_NKINDS] = {"ok", "5xx", "reset", "aborted by the client", "unanswered at the end", "skipped"};
    b[0] = 0;
    for (int k = VRQ_5XX; k <= VRQ_INFLIGHT; k++) {
        if (!c[k]) continue;
        size_t o = strlen(b);
        snprintf(b + o, n - o, "%s%d %s", o ? ", " : "", c[k], names[k]);
    }
    return b;
}

int vreq_phase_param(struct vexp *e, const char *key)
{
    const char *ph = vexp_str(e, key);
    if (!ph) return 0;
    int any = 0;
    for (int i = 0; i < e->doc->nsecs; i++) {
        if (strcmp(e->doc->secs[i].type, "phase")) continue;
        any = 1;
        if (!strcmp(e->doc->secs[i].name, ph)) return 0;
    }
    if (any) return vexp_fail(e, key, "no [phase %s] in this file", ph);
    return 0;
}
