/* connect_delay.c -- the connection opens at once, but nothing moves on it for a while.
 *
 * Exposes: connect timeouts that are not the whole story. A slow server or a saturated accept
 * queue behind a load balancer (or a TLS terminator, a sidecar, a cold serverless backend)
 * accepts at once and answers late: the client's connect() returns in microseconds, its connect
 * timeout never fires, and the first request waits -- a pool whose "connect timeout" was meant
 * to bound the cost of a new connection does not bound it. This is Toxiproxy issue #123's
 * slow_open.
 *
 * The accept is faultline's and instant; the stage holds every byte in both directions (default)
 * until the connection's delay has passed since the stage began acting (the connection's open),
 * then lets everything through in order and gets out of the way: a server that speaks first
 * (a greeting) is held as much as a client that speaks first. The upstream's TCP connection is
 * made at once (faultline connects when it accepts); only bytes wait. A connection the fault
 * meets already carrying bytes (the fault became active while it was open) is left alone.
 *
 * The delay is a draw of delay, jitter, distribution and correlation (faults/dist.h), once per
 * connection -- both directions share it -- with the correlation's memory kept per fault, so
 * consecutive connections' delays are alike.
 *
 * Keys: delay (duration, required > 0), jitter, distribution, correlation.
 */
#include "faults/fault.h"
#include "faults/dist.h"

#include <stdio.h>
#include <string.h>

struct cd_cfg { struct dist_cfg d; struct dist_state ds; };
struct cd_state { int64_t until; int open; };

static int cd_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct cd_cfg *c = cfg;
    return dist_set(&c->d, k, v, err, errlen);
}

static int cd_validate(const void *cfg, char *err, size_t errlen)
{
    const struct cd_cfg *c = cfg;
    if (c->d.delay_us <= 0) { snprintf(err, errlen, "delay: required, a duration above 0 (e.g. 2s)"); return -1; }
    return dist_validate(&c->d, err, errlen);
}

static void cd_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct cd_cfg *c = cfg;
    dist_attrs(&c->d, emit, ud);
}

static void cd_start(struct stage *st)
{
    struct cd_state *s = st->state;
    struct cd_cfg *c = st->f->cfg;
    struct stage *tw = stage_twin(st);
    const struct cd_state *ts = tw && tw->acting ? tw->state : NULL;
    int64_t now = fl_now_us();
    if (st->bytes_in || (tw && tw->bytes_in)) { s->open = 1; return; }   /* a live connection */
    s->until = ts ? ts->until : now + dist_sample(&c->d, &c->ds);
    if (s->until <= now) { s->open = 1; return; }
    stage_timer(st, s->until - now);
}

static void cd_data(struct stage *st, struct evbuffer *in)
{
    struct cd_state *s = st->state;
    if (s->open) { stage_emit(st, in, (size_t)-1); return; }
    st->f->c.bytes_delayed += evbuffer_get_length(in);
    stage_hold(st, in);
}

static void cd_timer(struct stage *st)
{
    struct cd_state *s = st->state;
    s->open = 1;
    stage_release(st, (size_t)-1);
}

const struct fault_type fault_connect_delay = {
    .name = "connect_delay",
    .summary = "accept at once, then hold the connection's first bytes (both ways) for delay",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct cd_cfg),
    .state_size = sizeof(struct cd_state),
    .set = cd_set,
    .validate = cd_validate,
    .attrs = cd_attrs,
    .on_start = cd_start,
    .on_data = cd_data,
    .on_timer = cd_timer,
};
