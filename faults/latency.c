/* latency.c -- every chunk is delayed by a draw of `delay`, `jitter`, `distribution` and
 * `correlation` (faults/dist.h: uniform ± jitter by default; normal, pareto, paretonormal as
 * netem draws them); order is kept.
 *
 * Exposes: clients and pools tuned for a fast dependency (timeouts shorter than a slow day's
 * p99, pools sized for short holds), and callers with no deadline propagation.
 *
 * Each chunk that arrives is held with a release deadline; a deadline earlier than the previous
 * chunk's is pushed back to it, so jitter never reorders bytes. One timer per stage, armed for
 * the head of the queue.
 *
 * The delay counts from when the bytes reached the proxy's socket (the kernel's receive time,
 * stage_arrival_us), not from when the proxy got round to reading them: the proxy's own wake-up
 * on the read is not added to the delay (like netem, which stamps a packet when it is queued).
 */
#include "faults/fault.h"
#include "faults/http_fault.h"
#include "faults/dist.h"
#include "faults/release_q.h"
#include "common/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct latency_cfg {
    struct dist_cfg d;
    int where_request;            /* http: where = request */
    struct dist_state per_req;    /* http: the correlation's memory, per fault (plan draws) */
};
struct latency_state {
    struct release_q rq;          /* when each held run of bytes may go on */
    int64_t last_at;
    struct dist_state ds;         /* the correlation's memory for this direction */
};

static int latency_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct latency_cfg *c = cfg;
    int rc = dist_set(&c->d, k, v, err, errlen);
    if (rc != FKEY_UNKNOWN) return rc;
    if (!strcmp(k, "where")) {      /* http mode: before the request or before the response head */
        if (!strcmp(v, "request")) c->where_request = 1;
        else if (!strcmp(v, "response")) c->where_request = 0;
        else { snprintf(err, errlen, "'%s' is not request or response", v); return FKEY_BAD; }
        return FKEY_OK;
    }
    return FKEY_UNKNOWN;
}

static int latency_validate(const void *cfg, char *err, size_t errlen)
{
    const struct latency_cfg *c = cfg;
    return dist_validate(&c->d, err, errlen);
}

static void latency_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct latency_cfg *c = cfg;
    dist_attrs(&c->d, emit, ud);
    if (c->where_request) emit(ud, "where", "request");
}

/* http mode: per request (proxy/protocols/http.c does the waiting); the delay is drawn here,
 * once per request, with the fault's own correlation memory */
static void latency_http_plan(const struct fault *f, struct http_fault_plan *out)
{
    struct latency_cfg *c = f->cfg;
    out->act = HACT_LATENCY;
    out->delay_us = dist_sample(&c->d, &c->per_req);
    out->jitter_us = 0;
    out->where_response = !c->where_request;
}
static const struct fault_http_ops latency_http_ops = {.plan = latency_http_plan};

static void latency_data(struct stage *st, struct evbuffer *in)
{
    const struct latency_cfg *c = st->cfg;
    struct latency_state *s = st->state;
    size_t len = evbuffer_get_length(in);
    if (!len) return;
    int64_t at = stage_arrival_us(st) + dist_sample(&c->d, &s->ds);
    if (at < s->last_at) at = s->last_at;
    s->last_at = at;
    rq_push(&s->rq, at, len);
    st->f->c.bytes_delayed += len;
    stage_hold(st, in);
    if (s->rq.n == 1) rq_arm(st, &s->rq);
}

static void latency_start(struct stage *st)
{
    stage_want_arrival(st);
}

static void latency_timer(struct stage *st)
{
    struct latency_state *s = st->state;
    rq_release_due(st, &s->rq);
}

static int latency_end(struct stage *st)
{
    struct latency_state *s = st->state;
    rq_clear(&s->rq);
    return 0;   /* release what is held, in order */
}

static void latency_free(struct stage *st)
{
    struct latency_state *s = st->state;
    rq_free(&s->rq);
}

const struct fault_type fault_latency = {
    .name = "latency",
    .summary = "delay every chunk by delay ± jitter (uniform, normal, pareto, paretonormal), keeping order",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct latency_cfg),
    .state_size = sizeof(struct latency_state),
    .set = latency_set,
    .validate = latency_validate,
    .attrs = latency_attrs,
    .on_start = latency_start,
    .on_data = latency_data,
    .on_timer = latency_timer,
    .on_end = latency_end,
    .on_free = latency_free,
    .http = &latency_http_ops,
};
