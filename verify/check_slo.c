/* check_slo.c -- `check = slo`: the service kept answering its own callers during the fault.
 *
 * The other checks look at a dependency's side of the wire. This one reads an ingress proxy
 * (`role = ingress`, http mode), which sits in front of the service with the load going through
 * it, so its request events are what the service's callers got. During the judged period (a
 * phase, the fault windows, or the whole run) the share of successful requests must be at
 * least `min_success` and the `quantile` latency at most `max_latency`.
 *
 * Success is a whole response with a status below `error_status` (default 500). A failure is a
 * response at or above it (a 502 the proxy gave because the service was not listening included:
 * the caller saw it), a request the service reset or closed without a whole answer, and a
 * request the client abandoned (or that was still unanswered at the end) after waiting at least
 * `abort_after` (default `max_latency`, else 1s): a client that left sooner than that -- the
 * load generator being stopped, a user navigating away -- says nothing about the service and is
 * not counted at all. Latency is the caller's: request head to response complete, or to the
 * client giving up (a lower bound). A request belongs to the period its head arrived in.
 *
 * What it catches: a service that fails along with its dependency (no fallback, no timeout, a
 * retry storm that never answers) instead of degrading, measured from its callers' side.
 */
#include "verify/requests.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const windows[] = {"faults", "run", NULL};

/* The period judged: the phase's runs, the whole run, or the fault windows (ends still open
 * taken at the record's end), into *per (fl_malloc'd, *nper entries) and its name. 1 with r
 * INCONCLUSIVE when the record has no such period. */
static int judged_period(struct vctx *cx, struct vexp *e, const char *phase, int win, struct vwin **per, int *nper,
                         char *pname, size_t plen, struct verify_result *r)
{
    struct vrec *v = cx->rec;
    *per = NULL;
    *nper = 0;
    if (phase) {
        for (int i = 0; i < v->nph; i++)
            if (!strcmp(v->ph[i].name, phase)) {
                *per = fl_realloc(*per, sizeof(**per) * (size_t)(*nper + 1));
                (*per)[*nper].start = v->ph[i].start;
                (*per)[*nper].end = isinf(v->ph[i].end) ? v->end_ms : v->ph[i].end;
                (*nper)++;
            }
        if (!*nper) {
            vres(r, V_INCONCLUSIVE, "the run has no phase '%s' (R:phases): was it run with faultline run?", phase);
            return 1;
        }
        snprintf(pname, plen, "phase %s", phase);
    } else if (win == 1) {
        *per = fl_malloc(sizeof(**per));
        (*per)[0].start = v->start_ms;
        (*per)[0].end = v->end_ms;
        *nper = 1;
        snprintf(pname, plen, "the whole run");
    } else {
        struct vwins w;
        vctx_windows(cx, e, NULL, &w);
        if (!w.n) {
            vres(r, V_INCONCLUSIVE, "no fault window in the record%s: name a phase (phase = NAME) or window = run",
                 e->fault ? " for that fault" : "");
            vwins_free(&w);
            return 1;
        }
        *per = fl_malloc(sizeof(**per) * (size_t)w.n);
        for (int i = 0; i < w.n; i++) {
            (*per)[i] = w.w[i];
            if (isinf((*per)[i].end)) (*per)[i].end = v->end_ms;
        }
        *nper = w.n;
        snprintf(pname, plen, "fault windows (%s)", w.names);
        vwins_free(&w);
    }
    return 0;
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double min_success, maxlat, q, minreq, errst, abort_after;
    int win;
    const char *phase = vexp_str(e, "phase");
    if (vreq_phase_param(e, "phase") < 0) return -1;
    if (vexp_enum(e, "window", windows, 0, &win) < 0) return -1;
    if (phase && vexp_str(e, "window")) return vexp_fail(e, "window", "give either 'phase' or 'window', not both");
    if (vexp_ratio(e, "min_success", 0.99, 1.0, &min_success) < 0) return -1;
    if (vexp_dur(e, "max_latency", -2, &maxlat) < 0) return -1;      /* -2: no latency bound */
    if (vreq_quantile_param(e, "quantile", 0.99, &q) < 0) return -1;
    if (vexp_dur(e, "abort_after", maxlat > 0 ? maxlat : 1000, &abort_after) < 0) return -1;
    if (vexp_num(e, "error_status", 500, 100, 600, &errst) < 0) return -1;
    double defmin = 20;
    if (maxlat > 0 && q < 1 && ceil(1 / (1 - q) - 1e-9) > defmin) defmin = ceil(1 / (1 - q) - 1e-9);
    if (vexp_num(e, "min_requests", defmin, 1, 1e9, &minreq) < 0) return -1;
    if (!cx) return 0;

    char b1[32], b2[32], b3[256];
    if (maxlat > 0)
        vres_bound(r, "success >= %g%%, p%g <= %s", min_success * 100, q * 100, vfmt_ms(maxlat, b1, sizeof(b1)));
    else
        vres_bound(r, "success >= %g%%", min_success * 100);

    struct vwin *per;
    int nper;
    char pname[300];
    if (judged_period(cx, e, phase, win, &per, &nper, pname, sizeof(pname), r)) return 0;
    struct vrec *v = cx->rec;

    struct vpx *p;
    int rc = vreq_proxy(cx, e, &p, r);
    if (rc) { free(per); return rc < 0 ? -1 : 0; }

    int cnt[VRQ_NKINDS] = {0}, n = 0, refused = 0, nl = 0;
    double *lat = fl_calloc((size_t)p->nev + 1, sizeof(double));
    for (int i = 0; i < p->nev; i++) {
        const struct vev *ev = &p->ev[i];
        if (ev->kind != VEV_REQUEST || isnan(ev->req_ms)) continue;
        int in = 0;
        for (int k = 0; k < nper && !in; k++) in = ev->req_ms >= per[k].start && ev->req_ms < per[k].end;
        if (!in) continue;
        struct vreq rq;
        vreq_of(ev, (int)errst, abort_after, v->end_ms, &rq);
        cnt[rq.kind]++;
        if (rq.kind == VRQ_SKIP) continue;
        n++;
        if (rq.refused) refused++;
        if (!isnan(rq.lat_ms)) lat[nl++] = rq.lat_ms;
    }
    free(per);
    if (n < minreq) {
        vres_measured(r, "%d request%s in %s", n, n == 1 ? "" : "s", pname);
        vres(r, V_INCONCLUSIVE, "%d request%s counted in %s (needs %g: min_requests)%s", n, n == 1 ? "" : "s", pname,
             minreq, cnt[VRQ_SKIP] ? "; clients that left sooner than abort_after are not counted" : "");
        free(lat);
        return 0;
    }
    double share = (double)cnt[VRQ_OK] / n;
    double pq = vreq_quantile(lat, nl, q);
    free(lat);
    if (maxlat > 0)
        vres_measured(r, "%.1f%% of %d ok, p%g %s (%s)", share * 100, n, q * 100, vfmt_ms(pq, b1, sizeof(b1)), pname);
    else
        vres_measured(r, "%.1f%% of %d ok (%s)", share * 100, n, pname);
    vreq_fail_text(cnt, b3, sizeof(b3));
    char refused_txt[96] = "";
    if (refused) snprintf(refused_txt, sizeof(refused_txt), "; %d found the service not listening", refused);
    if (share < min_success) {
        vres(r, V_FAIL, "%d of %d requests failed during %s (%s%s): the service failed with its dependency "
             "instead of degrading", n - cnt[VRQ_OK], n, pname, b3, refused_txt);
    } else if (maxlat > 0 && pq > maxlat) {
        vres(r, V_FAIL, "p%g latency %s during %s, more than %s: callers waited on the service", q * 100,
             vfmt_ms(pq, b1, sizeof(b1)), pname, vfmt_ms(maxlat, b2, sizeof(b2)));
    } else {
        vres(r, V_PASS, "the service kept answering its callers during %s%s%s", pname, b3[0] ? " (" : "",
             b3[0] ? b3 : "");
        if (b3[0]) snprintf(r->why + strlen(r->why), sizeof(r->why) - strlen(r->why), ")");
    }
    return 0;
}

const struct vcheck vcheck_slo = {"slo", 1, judge};
