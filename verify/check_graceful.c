/* check_graceful.c -- `check = graceful`: the service went through an action (a restart, a
 * SIGTERM, a deploy step) without failing a request its callers had sent.
 *
 * The action is a scenario's `[action NAME]` (docs/scenarios.md); `faultline run` records its
 * start and end in the stream R:actions (docs/metrics.md). The window is the action's start to
 * its end plus `settle` (default 2s). Every request the ingress proxy saw that crossed the
 * window (its head arrived before the window's end and it had not ended before the window's
 * start) must have been answered in full below `error_status` (default 500): none reset, none
 * answered 5xx, none abandoned or left unanswered (after `abort_after`, default 1s, as in slo).
 * Requests in flight at the action's start must have completed: that is exactly what a server
 * without graceful shutdown breaks (it exits, and the connections it was answering are reset).
 *
 * A request that found nothing listening (the upstream connect was refused, so the proxy
 * answered 502 itself) is counted apart and, by default, not as a failure: while one instance
 * restarts, a real load balancer sends new connections elsewhere; that is availability (judge it
 * with slo), not shutdown behaviour. `count_refused = yes` counts them too, for a service that
 * is meant to hand its socket over (SO_REUSEPORT, socket activation) with no gap.
 *
 * INCONCLUSIVE: the action never ran (not in R:actions), the proxy is not an ingress proxy, or
 * fewer than `min_requests` (default 1) requests crossed the window.
 */
#include "verify/requests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct act_times { const char *name; double start, end; int status_set; char result[64]; };

static const char *fld(const char **f, const char **val, int n, const char *k)
{
    for (int i = 0; i < n; i++) if (!strcmp(f[i], k)) return val[i];
    return NULL;
}

static void act_entry(void *ud, const char **f, const char **val, int n)
{
    struct act_times *a = ud;
    const char *name = fld(f, val, n, "action"), *ev = fld(f, val, n, "event"), *at = fld(f, val, n, "at_ms");
    if (!name || !ev || !at || strcmp(name, a->name)) return;
    double t = strtod(at, NULL);
    if (!strcmp(ev, "start") && isnan(a->start)) a->start = t;
    else if (!strcmp(ev, "end") && isnan(a->end)) {
        a->end = t;
        const char *res = fld(f, val, n, "result");
        if (res) snprintf(a->result, sizeof(a->result), "%s", res);
    }
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double settle, errst, abort_after, minreq;
    int count_refused;
    const char *action = vexp_str(e, "action");
    if (!action) return vexp_fail(e, NULL, "needs 'action' (the [action NAME] whose window is judged)");
    int any = 0, found = 0;
    for (int i = 0; i < e->doc->nsecs; i++)
        if (!strcmp(e->doc->secs[i].type, "action")) {
            any = 1;
            if (!strcmp(e->doc->secs[i].name, action)) found = 1;
        }
    if (any && !found) return vexp_fail(e, "action", "no [action %s] in this file", action);
    if (vexp_dur(e, "settle", 2000, &settle) < 0) return -1;
    if (vexp_num(e, "error_status", 500, 100, 600, &errst) < 0) return -1;
    if (vexp_dur(e, "abort_after", 1000, &abort_after) < 0) return -1;
    if (vexp_bool(e, "count_refused", 0, &count_refused) < 0) return -1;
    if (vexp_num(e, "min_requests", 1, 1, 1e9, &minreq) < 0) return -1;
    if (!cx) return 0;

    char b1[32], b2[32], b3[256];
    vres_bound(r, "no failed request across %s (+%s settle)", action, vfmt_ms(settle, b1, sizeof(b1)));
    struct act_times a = {action, NAN, NAN, 0, ""};
    if (vrec_stream(cx->rec, "actions", act_entry, &a, e->err, e->errlen) < 0) return -1;
    if (isnan(a.start)) {
        vres(r, V_INCONCLUSIVE, "action %s never ran (not in R:actions): only faultline run runs actions", action);
        return 0;
    }
    double w0 = a.start, w1 = (isnan(a.end) ? cx->rec->end_ms : a.end) + settle;
    struct vpx *p;
    int rc = vreq_proxy(cx, e, &p, r);
    if (rc) return rc < 0 ? -1 : 0;

    char first[320] = "";
    int first_bad = 0;
    int cnt[VRQ_NKINDS] = {0}, n = 0, refused = 0, refused_failed = 0, at_start = 0, at_start_ok = 0;
    for (int i = 0; i < p->nev; i++) {
        const struct vev *ev = &p->ev[i];
        if (ev->kind != VEV_REQUEST || isnan(ev->req_ms)) continue;
        struct vreq rq;
        vreq_of(ev, (int)errst, abort_after, cx->rec->end_ms, &rq);
        if (rq.start_ms >= w1) continue;
        if (!isnan(rq.end_ms) && rq.end_ms < w0) continue;
        if (rq.kind == VRQ_SKIP) { cnt[VRQ_SKIP]++; continue; }
        if (rq.refused && !count_refused) { refused++; continue; }
        if (rq.refused) refused_failed++;
        n++;
        cnt[rq.kind]++;
        if (rq.kind != VRQ_OK && !first_bad) {
            first_bad = 1;
            snprintf(first, sizeof(first), "; first: %.15s %.60s at %+.0fms from the action's start, status %d, %s%s",
                     ev->method, ev->path, rq.start_ms - w0, ev->status, ev->end[0] ? ev->end : "?",
                     rq.refused ? ", nothing listening" : "");
        }
        if (rq.start_ms < w0) {
            at_start++;
            at_start_ok += rq.kind == VRQ_OK;
        }
    }
    char reftxt[160] = "";
    if (refused)
        snprintf(reftxt, sizeof(reftxt), "; %d found nothing listening (not counted: count_refused = yes to count)", refused);
    if (n < minreq) {
        vres_measured(r, "%d request%s across the window", n, n == 1 ? "" : "s");
        vres(r, V_INCONCLUSIVE, "%d request%s crossed the window of action %s (needs %g: min_requests)%s", n,
             n == 1 ? "" : "s", action, minreq, reftxt);
        return 0;
    }
    int failed = n - cnt[VRQ_OK];
    vres_measured(r, "%d of %d failed, %d/%d in flight at the start completed (window %s + %s)", failed, n,
                  at_start_ok, at_start, vfmt_ms((isnan(a.end) ? cx->rec->end_ms : a.end) - a.start, b1, sizeof(b1)),
                  vfmt_ms(settle, b2, sizeof(b2)));
    if (failed) {
        vreq_fail_text(cnt, b3, sizeof(b3));
        vres(r, V_FAIL, "%d request%s failed across action %s (%s)%s: no graceful shutdown (in-flight requests "
             "dropped, or answered 5xx)", failed, failed == 1 ? "" : "s", action, b3, reftxt);
        if (at_start > at_start_ok)
            snprintf(r->why + strlen(r->why), sizeof(r->why) - strlen(r->why), "; %d of %d in flight at its start did not complete",
                     at_start - at_start_ok, at_start);
        snprintf(r->why + strlen(r->why), sizeof(r->why) - strlen(r->why), "%s", first);
    } else {
        vres(r, V_PASS, "every request across action %s was answered (%d in flight at its start completed)%s", action,
             at_start, reftxt);
    }
    (void)refused_failed;
    return 0;
}

const struct vcheck vcheck_graceful = {"graceful", 1, judge};
