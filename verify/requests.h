/* verify/requests.h -- the service's own view: what the ingress checks (slo, graceful) share.
 *
 * An ingress proxy (`role = ingress`, http mode) stands between the service's callers and the
 * service, so its request events (docs/metrics.md) are the service's answers as its callers saw
 * them: a status, a latency, and how the request ended (`end` = done, aborted, reset,
 * inflight). These helpers read those events for verify/check_slo.c and verify/check_graceful.c.
 *
 * Ownership: nothing here allocates but vreq_pick's array, which the caller frees.
 */
#ifndef FL_VREQ_H
#define FL_VREQ_H

#include "verify/check.h"

enum vreq_kind {
    VRQ_OK = 0,      /* a whole response below error_status */
    VRQ_5XX,         /* a whole response at or above error_status (502 from the proxy included) */
    VRQ_RESET,       /* no whole response: the service (or a fault) closed or reset it */
    VRQ_ABORTED,     /* the client gave up after waiting at least abort_after */
    VRQ_INFLIGHT,    /* unanswered when the proxy closed it (run end), after abort_after */
    VRQ_SKIP,        /* the client left (or the run ended) sooner than abort_after: says nothing */
    VRQ_NKINDS
};

struct vreq {
    double start_ms, end_ms;   /* end: response complete / abandonment / close (NAN if unknown) */
    double lat_ms;             /* end - start, the latency the caller saw (a lower bound if unanswered) */
    int status;
    int refused;               /* the upstream connection was never established (nothing listened) */
    enum vreq_kind kind;
};

/* The ingress proxy's requests. Sets r INCONCLUSIVE and returns 1 when the proxy is not an
 * ingress proxy or saw no request events; -1 on a Redis error (e->err); 0 with *p set. */
int vreq_proxy(struct vctx *cx, struct vexp *e, struct vpx **p, struct verify_result *r);
/* Classifies one request event (kind must be VEV_REQUEST). */
void vreq_of(const struct vev *ev, int error_status, double abort_after_ms, double run_end_ms, struct vreq *q);
/* `quantile`: p99, 99% or 0.99 (0 < q <= 1). */
int vreq_quantile_param(struct vexp *e, const char *key, double def, double *q);
/* The q-quantile of v[0..n) (sorts v in place); NAN when n == 0. */
double vreq_quantile(double *v, int n, double q);
/* "3 5xx, 2 reset, 1 aborted" into b; "" when none. */
const char *vreq_fail_text(const int *counts, char *b, size_t n);
/* Checks that a phase name exists when the document has [phase] sections. 0 or -1 (e->err). */
int vreq_phase_param(struct vexp *e, const char *key);

#endif
