/* http2_ctl.c -- header_control on mode = http2 and grpc: faults a caller asks for in its own
 * request headers, per stream, as http mode does (docs/http.md, "Per-request faults from
 * headers"; Envoy's x-envoy-fault-* headers).
 *
 * With `header_control = on` on the proxy, every x-faultline-* field is removed from a request
 * head before it goes upstream, whoever sent it. For a client inside header_control_clients (by
 * the address of the connection the stream came on) the fields plan the stream's fault instead
 * of the proxy's [fault] sections:
 *   x-faultline-delay: 200ms | 200    the request waits that long before it is forwarded (a bare
 *                                     number is milliseconds; capped at header_control_max_delay)
 *   x-faultline-abort: 503            the proxy answers that status (after the delay, if any)
 *   x-faultline-abort-grpc: 14 | unavailable   grpc only: a trailers-only answer with that
 *                                     grpc-status (1..16 or its name), after the delay, if any
 * A value it cannot read leaves the stream unfaulted (logged at warn). The stream's record names
 * `header_control` as its fault.
 *
 * What it does not do: other x-faultline-* names are only removed; no per-response or
 * per-message control (a delay is before the request is forwarded).
 */
#include "proxy/protocols/http2_int.h"
#include "proxy/proxy.h"
#include "faults/scope.h"
#include "record/record.h"
#include "common/parse.h"
#include "common/log.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CTL_PREFIX "x-faultline-"

/* Drops every x-faultline-* field of the request head (its text stays; only the index goes). */
static void strip_control(struct h2_head *hd)
{
    size_t pl = strlen(CTL_PREFIX);
    int k = 0;
    for (int i = 0; i < hd->n; i++) {
        const struct h2_hdr *e = &hd->h[i];
        if (e->n_len > pl && strncasecmp(hd->b + e->n_off, CTL_PREFIX, pl) == 0) continue;
        hd->h[k++] = *e;
    }
    hd->n = k;
}

/* The values asked for: delay (us, 0: none), an HTTP status (0: none), a gRPC status (-1: none).
 * 0, or -1 when one cannot be read. */
static int read_control(struct h2_stream *s, const char *d, const char *a, const char *g, int64_t *delay,
                        int64_t *status, int *grpc)
{
    const struct proxy_spec *sp = &s->h->c->px->spec;
    char e[300];
    if (d) {
        /* a duration with its unit, or a bare number of milliseconds (as Envoy's) */
        if (parse_duration(d, delay, e, sizeof(e)) == 0) (void)0;
        else if (parse_int(d, 0, INT64_MAX / 1000, delay, e, sizeof(e)) == 0) *delay *= 1000;
        else return -1;
        if (*delay < 0) return -1;
        if (*delay > sp->hdrctl.max_delay_us) *delay = sp->hdrctl.max_delay_us;
    }
    if (a && parse_int(a, 200, 599, status, e, sizeof(e)) < 0) return -1;
    if (g && (fkey_grpc_status(g, grpc, e, sizeof(e)) != FKEY_OK || *grpc == 0)) return -1;
    return 0;
}

int h2_header_control(struct h2_stream *s)
{
    struct conn *c = s->h->c;
    struct fl_proxy *px = c->px;
    char dv[64], av[64], gv[64];
    const char *d = h2_head_get(&s->rq, CTL_PREFIX "delay", dv, sizeof(dv));
    const char *a = h2_head_get(&s->rq, CTL_PREFIX "abort", av, sizeof(av));
    const char *g = s->h->mode ? h2_head_get(&s->rq, CTL_PREFIX "abort-grpc", gv, sizeof(gv)) : NULL;
    strip_control(&s->rq);   /* never seen by the upstream */
    if (!d && !a && !g) return 0;
    if (!cidr_match(&px->spec.hdrctl.clients, (const struct sockaddr *)&c->peer_sa)) {
        log_debug("header_control_ignored", "proxy=%s peer=%s stream=%d reason=%s", log_q(px->spec.name), conn_peer(c),
                  (int)s->cid, "not in header_control_clients");
        return 0;
    }
    int64_t delay = 0, status = 0;
    int grpc = -1;
    if (read_control(s, d, a, g, &delay, &status, &grpc) < 0) {
        log_warn("header_control_bad", "proxy=%s delay=%s abort=%s abort_grpc=%s", log_q(px->spec.name), log_q(d ? d : ""),
                 log_q(a ? a : ""), log_q(g ? g : ""));
        return 0;   /* a value it cannot read: the stream passes unfaulted */
    }
    memset(&s->pl, 0, sizeof(s->pl));
    s->ctl_abort = (int)status;
    s->ctl_grpc = grpc;
    if (delay > 0) {
        s->pl.act = HACT_LATENCY;   /* before the request goes on; h2_forward_request answers an abort then */
        s->pl.delay_us = delay;
    } else if (!(grpc > 0 || status)) {   /* (an abort alone: h2_forward_request answers it at once) */
        return 0;
    }
    snprintf(s->fault_name, sizeof(s->fault_name), "header_control");
    if (!c->fault_name[0]) snprintf(c->fault_name, sizeof(c->fault_name), "header_control");
    if (rec_active) rec_fault_applied(proxy_rec(px));
    log_debug("header_control", "proxy=%s peer=%s stream=%d delay_ms=%lld abort=%d abort_grpc=%d", log_q(px->spec.name),
              conn_peer(c), (int)s->cid, (long long)(delay / 1000), (int)status, grpc);
    return 1;
}

int h2_header_answer(struct h2_stream *s)
{
    if (s->ctl_grpc > 0) {
        h2_answer_grpc(s, s->ctl_grpc, "");
        s->h->tot->grpc_errors++;
        return 1;
    }
    if (s->ctl_abort) {
        h2_answer(s, s->ctl_abort, NULL, NULL, 0);
        return 1;
    }
    return 0;
}
