/* check_deadline.c -- `check = deadline`: every gRPC call carries a deadline no longer than `max`,
 * and under a fault that holds calls the client cancels each one within its deadline.
 *
 * A gRPC call without a deadline waits forever on a dependency that hangs, holding a goroutine,
 * a thread or a stream slot for good: the first bug of a service with no timeouts, in gRPC's
 * form. A deadline travels with the call (the grpc-timeout request header: grpc-go's
 * context.WithTimeout, grpc-java's withDeadlineAfter, grpc-js's `deadline` option, Python's
 * `timeout=`), so the dependency's side -- a grpc proxy -- sees it on every call
 * (grpc_timeout_ms in the request event, docs/metrics.md). When the call's time is up the
 * client cancels the stream (RST_STREAM CANCEL): the record has that moment (abandoned_ms,
 * reset_by = client, rst_code = CANCEL).
 *
 * Judged on the proxy's gRPC calls (request events of a grpc proxy):
 *   - a call with no grpc-timeout FAILs the check, one with more than `max` too;
 *   - a call that a holding fault (hang, latency, slow_body, h2_flow_stall) acted on must end on
 *     the client's side within its own deadline plus `tolerance`: cancelled (or answered) in
 *     time passes; cancelled later, or still held past it (no cancel at all), FAILs.
 * No gRPC calls at all is INCONCLUSIVE; so is a `fault` that never acted.
 */
#include "verify/check.h"

#include <stdio.h>
#include <string.h>

static const char *const holding[] = {"hang", "latency", "slow_body", "h2_flow_stall", "timeout", "blackhole", NULL};

static int is_holding(const char *type)
{
    for (int i = 0; holding[i]; i++)
        if (!strcmp(type, holding[i])) return 1;
    return 0;
}

struct tally {
    int calls, none, over, held, late, stuck, ok_held;
    double worst_over, worst_late;   /* the longest deadline over max; the worst lateness */
    int cancels;                     /* held calls ended by the client's RST_STREAM CANCEL */
};

/* A held call: how long the client's side lasted past its deadline (<= 0: in time), or NAN when
 * it says nothing (released by the fault before its deadline). */
static double lateness(struct vctx *cx, const struct vev *ev, double tol, int *stuck, int *cancel)
{
    double d = ev->grpc_timeout_ms;
    *stuck = 0;
    *cancel = !strcmp(ev->reset_by, "client") && !strcmp(ev->rst_code, "CANCEL");
    if (!isnan(ev->abandoned_ms)) return ev->abandoned_ms - d;
    if (!isnan(ev->total_ms)) return ev->total_ms > d + tol ? ev->total_ms - d : NAN;
    /* still open when the record ends (held to the end, or the run stopped) */
    double open = cx->rec->end_ms - ev->req_ms;
    if (open > d + tol) { *stuck = 1; return open - d; }
    return NAN;
}

static void tally_call(struct vctx *cx, struct vexp *e, const struct vev *ev, double max, double tol, struct tally *t)
{
    t->calls++;
    if (isnan(ev->grpc_timeout_ms)) { t->none++; return; }
    if (!isnan(max) && ev->grpc_timeout_ms > max) {
        t->over++;
        if (ev->grpc_timeout_ms > t->worst_over) t->worst_over = ev->grpc_timeout_ms;
    }
    if (!ev->fault[0] || (e->fault && strcmp(ev->fault, e->fault))) return;
    struct vfault *f = vrec_fault(cx->rec, ev->fault);
    if (f && !is_holding(f->type)) return;
    int stuck, cancel;
    double late = lateness(cx, ev, tol, &stuck, &cancel);
    if (isnan(late)) return;
    t->held++;
    if (cancel) t->cancels++;
    if (late <= tol) { t->ok_held++; return; }
    if (stuck) t->stuck++;
    else t->late++;
    if (late > t->worst_late) t->worst_late = late;
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double max, tol;
    if (vexp_dur(e, "max", NAN, &max) < 0) return -1;
    if (vexp_dur(e, "tolerance", 100, &tol) < 0) return -1;
    if (!cx) return 0;

    char b1[32], b2[32];
    if (!isnan(max)) vres_bound(r, "every call has a deadline <= %s; held calls cancelled within it", vfmt_ms(max, b1, sizeof(b1)));
    else vres_bound(r, "every call has a deadline; held calls cancelled within it");
    if (e->fault) {
        struct vwins w;
        vctx_windows(cx, e, e->proxy, &w);
        int none = vctx_need_fault(cx, e, &w, r);
        vwins_free(&w);
        if (none) return 0;
    }
    struct vpx *p = vrec_proxy(cx->rec, e->proxy, 1, e->err, e->errlen);
    if (!p) return -1;
    struct tally t;
    memset(&t, 0, sizeof(t));
    for (int i = 0; i < p->nev; i++) {
        const struct vev *ev = &p->ev[i];
        if (ev->kind == VEV_REQUEST && !isnan(ev->msgs_req) && !isnan(ev->req_ms)) tally_call(cx, e, ev, max, tol, &t);
    }
    if (!t.calls) {
        vres_measured(r, "no gRPC calls");
        vres(r, V_INCONCLUSIVE, "no gRPC calls on proxy '%s' (a grpc proxy with traffic is needed)", e->proxy);
        return 0;
    }
    vres_measured(r, "%d calls: %d without a deadline, %d over max; %d held: %d ended in time (%d by CANCEL), %d late, %d never",
                  t.calls, t.none, t.over, t.held, t.ok_held, t.cancels, t.late, t.stuck);
    if (t.none)
        vres(r, V_FAIL, "%d of %d calls carried no deadline (no grpc-timeout): they wait forever on a hung dependency",
             t.none, t.calls);
    else if (t.over)
        vres(r, V_FAIL, "%d calls carried a deadline over %s (up to %s)", t.over, vfmt_ms(max, b1, sizeof(b1)),
             vfmt_ms(t.worst_over, b2, sizeof(b2)));
    else if (t.stuck)
        vres(r, V_FAIL, "%d held call%s stayed open %s past %s deadline: the client never cancelled", t.stuck,
             t.stuck == 1 ? "" : "s", vfmt_ms(t.worst_late, b1, sizeof(b1)), t.stuck == 1 ? "its" : "their");
    else if (t.late)
        vres(r, V_FAIL, "%d held call%s ended %s after %s deadline (tolerance %s)", t.late, t.late == 1 ? "" : "s",
             vfmt_ms(t.worst_late, b1, sizeof(b1)), t.late == 1 ? "its" : "their", vfmt_ms(tol, b2, sizeof(b2)));
    else if (e->fault && !t.held)
        vres(r, V_INCONCLUSIVE, "the fault held no call long enough to judge its cancel");
    else
        vres(r, V_PASS, "every call carried a deadline%s%s", t.held ? " and the client ended every held call within it" : "",
             t.held ? "" : " (no held call to judge the cancel)");
    return 0;
}

const struct vcheck vcheck_deadline = {"deadline", 1, judge};
