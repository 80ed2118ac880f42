/* check_deadline_propagation.c -- `check = deadline_propagation`: a gRPC call that reaches the
 * service with a deadline D leaves towards its dependencies with at most what is left of D.
 *
 * A deadline is a budget for the whole call tree: a service that receives a call with 300 ms
 * left and calls its own dependency with a fresh 10 s deadline (or none) keeps working -- and
 * keeps the dependency working -- long after its caller gave up. grpc-go and grpc-java pass the
 * incoming context's deadline on when the service uses that context; a fresh
 * context.Background(), a new fixed timeout or a call in a goroutine that outlives the request
 * breaks the chain.
 *
 * Two grpc proxies see the two ends: `ingress` (role = ingress) in front of the service records
 * the calls it receives (arrival, grpc-timeout D, end), and `proxy` between the service and its
 * dependency records the calls it makes. An outgoing call made at t while an incoming call that
 * arrived at t0 with deadline D was still open has at most D - (t - t0) left; its own
 * grpc-timeout must be no more than that plus `tolerance`, and it must carry one. When several
 * incoming calls are open at t (concurrency), the one leaving the most time is taken (a
 * violation is certain, never a guess); with request ids on both sides (the proxies'
 * id_header) only the incoming call with the same id counts. Outgoing calls made while no
 * incoming call with a deadline was open are not judged.
 */
#include "verify/check.h"

#include <stdio.h>
#include <string.h>

struct prop {
    int judged, none, over;
    double worst;            /* the most an outgoing deadline went over what was left */
};

/* The most time any incoming call open at t (and with the same id, when both have one) had
 * left; NAN when none with a deadline was open. */
static double left_at(const struct vpx *in, const struct vev *out)
{
    double t = out->req_ms, best = NAN;
    for (int i = 0; i < in->nev; i++) {
        const struct vev *ev = &in->ev[i];
        if (ev->kind != VEV_REQUEST || isnan(ev->req_ms) || isnan(ev->grpc_timeout_ms)) continue;
        if (out->request_id[0] && ev->request_id[0] && strcmp(out->request_id, ev->request_id)) continue;
        double end = !isnan(ev->total_ms) ? ev->req_ms + ev->total_ms
                   : !isnan(ev->abandoned_ms) ? ev->req_ms + ev->abandoned_ms : INFINITY;
        if (t < ev->req_ms || t > end) continue;
        double left = ev->grpc_timeout_ms - (t - ev->req_ms);
        if (isnan(best) || left > best) best = left;
    }
    return best;
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double tol;
    const char *ing = vexp_str(e, "ingress");
    if (!ing) return vexp_fail(e, NULL, "needs 'ingress' (the grpc proxy in front of the service)");
    if (vexp_dur(e, "tolerance", 50, &tol) < 0) return -1;
    if (!cx) return 0;

    char b1[32], b2[32];
    vres_bound(r, "outgoing deadline <= what is left of the incoming one (+%s)", vfmt_ms(tol, b1, sizeof(b1)));
    struct vpx *in = vrec_proxy(cx->rec, ing, 1, e->err, e->errlen);
    if (!in) return -1;
    struct vpx *out = vrec_proxy(cx->rec, e->proxy, 1, e->err, e->errlen);
    if (!out) return -1;
    struct prop pr;
    memset(&pr, 0, sizeof(pr));
    int outgoing = 0;
    for (int i = 0; i < out->nev; i++) {
        const struct vev *ev = &out->ev[i];
        if (ev->kind != VEV_REQUEST || isnan(ev->msgs_req) || isnan(ev->req_ms)) continue;
        outgoing++;
        double left = left_at(in, ev);
        if (isnan(left)) continue;
        pr.judged++;
        if (isnan(ev->grpc_timeout_ms)) {
            pr.none++;
            continue;
        }
        double over = ev->grpc_timeout_ms - left;
        if (over > tol) {
            pr.over++;
            if (over > pr.worst) pr.worst = over;
        }
    }
    vres_measured(r, "%d outgoing calls during incoming ones with a deadline: %d without a deadline, %d longer than "
                  "what was left", pr.judged, pr.none, pr.over);
    if (!pr.judged) {
        vres(r, V_INCONCLUSIVE, "%s", outgoing ? "no outgoing call was made while an incoming call with a deadline was open"
                                               : "no gRPC calls on the outgoing proxy");
        return 0;
    }
    if (pr.none)
        vres(r, V_FAIL, "%d of %d outgoing calls left without a deadline although their caller's had one (not propagated)",
             pr.none, pr.judged);
    else if (pr.over)
        vres(r, V_FAIL, "%d of %d outgoing calls carried a deadline up to %s longer than what was left of their caller's",
             pr.over, pr.judged, vfmt_ms(pr.worst, b2, sizeof(b2)));
    else
        vres(r, V_PASS, "every outgoing call carried at most what was left of its caller's deadline");
    return 0;
}

const struct vcheck vcheck_deadline_propagation = {"deadline_propagation", 1, judge};
