/* verify/attempts.c -- attempts and logical calls for the retry checks (verify/attempts.h). */
#include "verify/attempts.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const vatt_id_names[] = {"auto", "request_id", "fingerprint", NULL};

int vatt_params_read(struct vexp *e, struct vatt_params *pm)
{
    if (vexp_enum(e, "id", vatt_id_names, 0, &pm->idm) < 0) return -1;
    pm->idh = vexp_str(e, "id_header");
    if (pm->idh && pm->idm == 2) return vexp_fail(e, "id_header", "contradicts id = fingerprint");
    if (pm->idh) pm->idm = 1;
    if (vexp_dur(e, "window", 5000, &pm->window) < 0) return -1;
    if (pm->window <= 0) return vexp_fail(e, "window", "must be above 0");
    return 0;
}

int vatt_wrong_id_header(struct vctx *cx, struct vexp *e, const char *idh, struct verify_result *r)
{
    if (!idh) return 0;
    const char *rec = vrec_id_header(cx->rec, e->proxy);
    if (!rec) rec = "X-Request-Id";
    if (!strcasecmp(rec, idh)) return 0;
    vres_measured(r, "proxy records %s", rec);
    vres(r, V_INCONCLUSIVE, "proxy '%s' recorded the header %s as request_id, not %s (set id_header = %s in [proxy %s])",
         e->proxy, rec, idh, idh, e->proxy);
    return 1;
}

struct vatt *vatt_collect(const struct vpx *p, int *n, int *with_id)
{
    struct vatt *at = fl_calloc((size_t)p->nev + 1, sizeof(*at));
    *n = *with_id = 0;
    for (int i = 0; i < p->nev; i++) {
        const struct vev *ev = &p->ev[i];
        if (ev->kind != VEV_REQUEST || isnan(ev->req_ms)) continue;
        struct vatt *t = &at[(*n)++];
        t->start = ev->req_ms;
        t->end = ev->req_ms + (!isnan(ev->total_ms) ? ev->total_ms : !isnan(ev->abandoned_ms) ? ev->abandoned_ms : 0);
        t->failed = ev->status >= 500 || ev->status == 0 || ev->status == 408 || ev->status == 429 ||
                    !isnan(ev->abandoned_ms) || ev->grpc_status > 0;   /* gRPC: 200 with a failed status */
        t->ev = ev;
        if (ev->request_id[0]) (*with_id)++;
    }
    return at;
}

int vatt_identity_cmp(const struct vatt *x, const struct vatt *y)
{
    if (x->byid != y->byid) return x->byid ? -1 : 1;
    int c = 0;
    if (x->byid) c = strcmp(x->ev->request_id, y->ev->request_id);
    if (!c) c = strcmp(x->ev->method, y->ev->method);
    if (!c) c = strcmp(x->ev->host, y->ev->host);
    if (!c) c = strcmp(x->ev->path, y->ev->path);
    if (!c && !x->byid) c = strcmp(x->ev->body_hash, y->ev->body_hash);
    return c;
}

static int cmp_key(const void *a, const void *b)
{
    const struct vatt *x = a, *y = b;
    int c = vatt_identity_cmp(x, y);
    if (c) return c;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int cmp_call(const void *a, const void *b)
{
    const struct vatt *x = a, *y = b;
    if (x->call != y->call) return x->call < y->call ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

void vatt_sort_identity(struct vatt *at, int n) { qsort(at, (size_t)n, sizeof(*at), cmp_key); }
void vatt_sort_calls(struct vatt *at, int n) { qsort(at, (size_t)n, sizeof(*at), cmp_call); }

int vatt_ambiguous(const struct vatt *at, int i, int j, double a, double b, double window, int *nb)
{
    int amb = 0;
    *nb = 0;
    if (at[i].byid || isnan(a)) return 0;
    for (int k = i; k < j; k++) {
        if (at[k].start < a || at[k].start >= b) continue;
        (*nb)++;
        if (k > i && at[k - 1].start >= a && !at[k - 1].failed && at[k].start - at[k - 1].end <= window) amb = 1;
    }
    return amb && *nb >= 5;
}

int vatt_group_by_attempts(struct vatt *at, int i, int j, int *ncalls)
{
    int hdr = 0;
    for (int k = i; k < j && !hdr; k++) hdr = at[k].ev->prev_attempts > 0;
    if (!hdr || at[i].byid) return 0;
    for (int k = i; k < j; k++) at[k].call = k > i && at[k].ev->prev_attempts > 0 ? at[k - 1].call : (*ncalls)++;
    return 1;
}

int vatt_calls(struct vctx *cx, struct vexp *e, struct vatt_params *pm, const struct vwins *w, struct vatt **out,
               int *n, int *ncalls, struct verify_result *r)
{
    *out = NULL;
    *n = *ncalls = 0;
    struct vpx *p = vrec_proxy(cx->rec, e->proxy, 1, e->err, e->errlen);
    if (!p) return -1;
    if (vatt_wrong_id_header(cx, e, pm->idh, r)) return 1;
    int with_id;
    struct vatt *at = vatt_collect(p, n, &with_id);
    if (*n == 0) {
        vres_measured(r, "no requests");
        vres(r, V_INCONCLUSIVE, "no request events on proxy '%s' (an http proxy with traffic is needed)", e->proxy);
        free(at);
        return 1;
    }
    if (pm->idm == 0) pm->idm = with_id ? 1 : 2;
    if (pm->idm == 1 && !with_id) {
        vres_measured(r, "%d requests, none with %s", *n, pm->idh ? pm->idh : "a request id");
        vres(r, V_INCONCLUSIVE, "no request carried %s: attempts cannot be told apart by id", pm->idh ? pm->idh : "a request id");
        free(at);
        return 1;
    }
    for (int i = 0; i < *n; i++) at[i].byid = pm->idm == 1 && at[i].ev->request_id[0];
    double a = NAN, b = NAN;
    struct verify_result tmp;
    memset(&tmp, 0, sizeof(tmp));
    if (vctx_baseline(cx, e, w, &a, &b, &tmp) < 0) a = b = NAN;
    vatt_sort_identity(at, *n);
    for (int i = 0; i < *n;) {
        int j = i, nb;
        while (j < *n && vatt_identity_cmp(&at[i], &at[j]) == 0) j++;
        if (vatt_group_by_attempts(at, i, j, ncalls)) {
            /* grouped by grpc-previous-rpc-attempts */
        } else if (vatt_ambiguous(at, i, j, a, b, pm->window, &nb)) {
            for (int k = i; k < j; k++) { at[k].amb = 1; at[k].call = -1; }
        } else {
            for (int k = i; k < j; k++) {
                int same = k > i && (at[k].byid || (at[k - 1].failed && at[k].start - at[k - 1].end <= pm->window));
                at[k].call = same ? at[k - 1].call : (*ncalls)++;
            }
        }
        i = j;
    }
    vatt_sort_calls(at, *n);
    vatt_number(at, *n);
    *out = at;
    return 0;
}

void vatt_number(struct vatt *at, int n)
{
    for (int i = 0; i < n; i++) at[i].idx = i > 0 && at[i].call == at[i - 1].call && at[i].call >= 0 ? at[i - 1].idx + 1 : 0;
}

/* ---- pauses per retry number ---- */

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void vpauses_collect(const struct vatt *at, int n, struct vpauses *g)
{
    memset(g, 0, sizeof(*g));
    for (int k = 0; k <= VATT_MAXK; k++) g->v[k] = fl_calloc((size_t)n + 1, sizeof(double));
    for (int i = 1; i < n; i++) {
        if (at[i].call < 0 || at[i].idx < 1 || at[i].idx > VATT_MAXK) continue;
        g->v[at[i].idx][g->n[at[i].idx]++] = at[i].start - at[i - 1].end;
    }
    for (int k = 1; k <= VATT_MAXK; k++) qsort(g->v[k], (size_t)g->n[k], sizeof(double), cmp_d);
}

void vpauses_free(struct vpauses *g)
{
    for (int k = 0; k <= VATT_MAXK; k++) { free(g->v[k]); g->v[k] = NULL; g->n[k] = 0; }
}

int vpauses_top(const struct vpauses *g, int min)
{
    int top = 0;
    for (int k = 1; k <= VATT_MAXK; k++) if (g->n[k] >= min) top = k;
    return top;
}

double vquantile(const double *v, int n, double q)
{
    if (n <= 0) return NAN;
    int k = (int)ceil(q * n - 1e-9) - 1;
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

double vpauses_median(const struct vpauses *g, int k)
{
    return k >= 1 && k <= VATT_MAXK ? vquantile(g->v[k], g->n[k], 0.5) : NAN;
}
