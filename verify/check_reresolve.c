/* check_reresolve.c -- `check = reresolve`: after a name's address changes (a dns_flip on a
 * `mode = dns` proxy), the service asks for the name again within `within`.
 *
 * A service that resolves a name once and keeps the address forever (a JVM with
 * networkaddress.cache.ttl = -1, a connection pool built at start, a client that caches
 * lookups without their TTL) goes on calling the old address after a failover or a blue/green
 * switch. From the DNS side: the dns proxy records every query (kind=request events: the name
 * in `path`); the service must have asked for `name` before the fault's window (else nothing
 * says it uses the name at all) and must ask again between the window's start and `within`
 * after it (the records' TTL plus what its resolver adds). A window the run's end cut before
 * `within` passed proves nothing: INCONCLUSIVE.
 */
#include "verify/check.h"

#include <math.h>
#include <stdio.h>
#include <strings.h>

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double within;
    const char *name = vexp_str(e, "name");
    if (!name || !name[0]) return vexp_fail(e, NULL, "needs 'name' (the host name the service must resolve again)");
    if (vexp_dur(e, "within", VREQ, &within) < 0) return -1;
    if (!cx) return 0;

    char b1[32];
    vres_bound(r, "a query for %s within %s of the change", name, vfmt_ms(within, b1, sizeof(b1)));
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    /* a window is needed; a flip that never applied is no reason to stop: nobody asking again
     * for the name is exactly the failure judged here */
    struct vwins wa = w;
    wa.affected = 1;
    if (vctx_need_fault(cx, e, &wa, r)) { vwins_free(&w); return 0; }
    struct vpx *p = vrec_proxy(cx->rec, e->proxy, 1, e->err, e->errlen);
    if (!p) { vwins_free(&w); return -1; }
    double t0 = w.w[0].start, seen_before = 0, first_after = NAN, last_seen = 0;
    for (int i = 0; i < p->nev; i++) {
        const struct vev *v = &p->ev[i];
        if (v->kind != VEV_REQUEST || strcasecmp(v->path, name) != 0) continue;
        if (v->req_ms > last_seen) last_seen = v->req_ms;
        if (v->req_ms < t0) seen_before++;
        else if (isnan(first_after) || v->req_ms < first_after) first_after = v->req_ms;
    }
    double data_end = vpx_data_end(p) > last_seen ? vpx_data_end(p) : last_seen;
    int cut = w.w[0].cut && w.w[0].end < t0 + within;
    vwins_free(&w);
    if (!seen_before) {
        vres_measured(r, "no query for %s before the change", name);
        vres(r, V_INCONCLUSIVE, "the service never asked for %s before the change (does it use the name?)", name);
        return 0;
    }
    if (!isnan(first_after) && first_after - t0 <= within) {
        vres_measured(r, "asked again %s after the change (%g quer%s before it)", vfmt_ms(first_after - t0, b1, sizeof(b1)),
                      seen_before, seen_before == 1 ? "y" : "ies");
        vres(r, V_PASS, "the service resolved %s again after its address changed", name);
        return 0;
    }
    if (cut || data_end < t0 + within) {
        vres_measured(r, "no query for %s in the %s recorded after the change", name,
                      vfmt_ms(data_end > t0 ? data_end - t0 : 0, b1, sizeof(b1)));
        vres(r, V_INCONCLUSIVE, "the record ends before 'within' passed after the change");
        return 0;
    }
    vres_measured(r, isnan(first_after) ? "no query for %s after the change" : "the next query for %s came too late", name);
    vres(r, V_FAIL, "the service kept the old address of %s: it did not resolve it again after the change", name);
    return 0;
}

const struct vcheck vcheck_reresolve = {"reresolve", 1, judge};
