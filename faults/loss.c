/* loss.c -- what packet loss does to a TCP stream: it stalls for a retransmission timeout.
 *
 * A user-space proxy cannot lose bytes of a TCP stream (the kernel would retransmit them, and
 * the application never sees a gap). What an application sees of loss is time: the stream stops
 * until the sender's retransmission timer fires, then goes on; a retransmission that is lost
 * too waits twice as long (exponential backoff), so bursts of loss make long stalls. This type
 * reproduces that: the stream is cut into segments of `mss` bytes, each segment is "sent"
 * through a Gilbert-Elliott loss model, and a lost one holds it and everything after it for an
 * RTO (`rto`, doubling for each consecutive loss of the same segment's retransmissions, capped
 * at `rto_max`). Bytes are never dropped, reordered or changed.
 *
 * The model is netem's `loss gemodel p r 1-h 1-k`: two states, good and bad; before each
 * segment the state moves good -> bad with probability p and bad -> good with probability r;
 * in the bad state a segment gets through with probability h, in the good one with probability
 * k. The defaults make the simpler models netem names: only p (r = 1 - p, h = 0, k = 1) is
 * independent (Bernoulli) loss of p per segment; p and r is the simple Gilbert model (bursts
 * of mean length 1/r).
 *
 * Exposes: clients whose read timeout is shorter than one RTO (200 ms is the Linux minimum),
 * retry storms when a burst turns one slow call into several, p99s that a mean-latency fault
 * never shows, streaming consumers that treat a pause as the end.
 *
 * What not: no fast retransmit (a real bulk stream with data after the lost segment often
 * recovers in one round trip instead of an RTO), no congestion window: the rate after a stall
 * is the rate before it. The first transmission is the only one drawn per segment; each
 * retransmission is another draw of the same chain.
 *
 * Keys: p (fraction or %, required), r, h, k (fractions), mss (size, default 1448),
 * rto (duration, default 200ms), rto_max (duration, default 60s).
 */
#include "faults/fault.h"
#include "faults/dist.h"
#include "faults/release_q.h"
#include "common/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct loss_cfg {
    double p, r, h, k;
    int have_p, have_r, have_h, have_k;
    uint64_t mss;
    int64_t rto_us, rto_max_us;
};
struct loss_state {
    struct release_q rq;           /* when each held segment may go on */
    int64_t last_at;
    int bad;                       /* the model's state */
};

static void loss_init(void *cfg)
{
    struct loss_cfg *c = cfg;
    c->mss = 1448;
    c->rto_us = 200000;
    c->rto_max_us = 60000000;
}

static int loss_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct loss_cfg *c = cfg;
    if (!strcmp(k, "p")) { c->have_p = 1; return fkey_fraction(v, &c->p, err, errlen); }
    if (!strcmp(k, "r")) { c->have_r = 1; return fkey_fraction(v, &c->r, err, errlen); }
    if (!strcmp(k, "h")) { c->have_h = 1; return fkey_fraction(v, &c->h, err, errlen); }
    if (!strcmp(k, "k")) { c->have_k = 1; return fkey_fraction(v, &c->k, err, errlen); }
    if (!strcmp(k, "mss")) return fkey_size(v, &c->mss, err, errlen);
    if (!strcmp(k, "rto")) return fkey_duration(v, &c->rto_us, err, errlen);
    if (!strcmp(k, "rto_max")) return fkey_duration(v, &c->rto_max_us, err, errlen);
    return FKEY_UNKNOWN;
}

static int loss_validate(const void *cfg, char *err, size_t errlen)
{
    const struct loss_cfg *c = cfg;
    if (!c->have_p) { snprintf(err, errlen, "p: required, the good -> bad probability (e.g. 1%%)"); return -1; }
    if (c->mss < 1 || c->mss > 65536) { snprintf(err, errlen, "mss: must be 1..65536 bytes"); return -1; }
    if (c->rto_us < 1000) { snprintf(err, errlen, "rto: at least 1ms"); return -1; }
    if (c->rto_max_us < c->rto_us) { snprintf(err, errlen, "rto_max: must not be below rto"); return -1; }
    double r = c->have_r ? c->r : 1.0 - c->p, h = c->have_h ? c->h : 0.0;
    if (c->p > 0 && r == 0 && h == 0) {
        snprintf(err, errlen, "r: 0 with h = 0 would lose every segment once the bad state is reached");
        return -1;
    }
    return 0;
}

static void loss_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct loss_cfg *c = cfg;
    char b[64];
    snprintf(b, sizeof(b), "%g", c->p);
    emit(ud, "p", b);
    snprintf(b, sizeof(b), "%g", c->have_r ? c->r : 1.0 - c->p);
    emit(ud, "r", b);
    snprintf(b, sizeof(b), "%g", c->have_h ? c->h : 0.0);
    emit(ud, "h", b);
    snprintf(b, sizeof(b), "%g", c->have_k ? c->k : 1.0);
    emit(ud, "k", b);
    snprintf(b, sizeof(b), "%llu", (unsigned long long)c->mss);
    emit(ud, "mss", b);
    emit(ud, "rto", duration_str(c->rto_us, b, sizeof(b)));
    emit(ud, "rto_max", duration_str(c->rto_max_us, b, sizeof(b)));
}

/* One transmission through the Gilbert-Elliott chain: 1 = lost. */
static int ge_lost(const struct loss_cfg *c, struct loss_state *s)
{
    double r = c->have_r ? c->r : 1.0 - c->p, h = c->have_h ? c->h : 0.0, k = c->have_k ? c->k : 1.0;
    if (!s->bad) {
        if (fl_rand01() < c->p) s->bad = 1;
    } else if (fl_rand01() < r) {
        s->bad = 0;
    }
    return fl_rand01() >= (s->bad ? h : k);
}

/* The stall one segment costs: 0, or rto, + 2 rto, + 4 rto ... while its retransmissions are lost. */
static int64_t segment_stall(const struct loss_cfg *c, struct loss_state *s)
{
    int64_t stall = 0, rto = c->rto_us;
    while (ge_lost(c, s)) {
        stall += rto;
        rto = rto * 2 > c->rto_max_us ? c->rto_max_us : rto * 2;
        if (stall > 3600LL * 1000000) break;    /* an hour: TCP would have given up long ago */
    }
    return stall;
}

static void loss_data(struct stage *st, struct evbuffer *in)
{
    const struct loss_cfg *c = st->cfg;
    struct loss_state *s = st->state;
    size_t len = evbuffer_get_length(in);
    if (!len) return;
    int64_t now = fl_now_us(), t = s->last_at > now ? s->last_at : now;
    int was_empty = s->rq.n == 0;
    for (size_t off = 0; off < len; off += (size_t)c->mss) {
        size_t seg = len - off < c->mss ? len - off : (size_t)c->mss;
        int64_t stall = segment_stall(c, s);
        if (stall) st->f->c.bytes_delayed += len - off;   /* this segment and the rest of the chunk wait */
        t += stall;
        rq_push(&s->rq, t, seg);
    }
    s->last_at = t;
    if (was_empty && s->rq.n == 1 && s->rq.q[s->rq.head].at <= now) {   /* nothing lost, nothing waiting */
        rq_clear(&s->rq);
        stage_emit(st, in, (size_t)-1);
        return;
    }
    stage_hold(st, in);
    if (was_empty) rq_arm(st, &s->rq);
}

static void loss_timer(struct stage *st)
{
    struct loss_state *s = st->state;
    rq_release_due(st, &s->rq);
}

static int loss_end(struct stage *st)
{
    struct loss_state *s = st->state;
    rq_clear(&s->rq);
    return 0;   /* release what is held, in order */
}

static void loss_free(struct stage *st)
{
    struct loss_state *s = st->state;
    rq_free(&s->rq);
}

const struct fault_type fault_loss = {
    .name = "loss",
    .summary = "packet loss as TCP shows it: RTO stalls with backoff, in Gilbert-Elliott bursts",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct loss_cfg),
    .state_size = sizeof(struct loss_state),
    .init = loss_init,
    .set = loss_set,
    .validate = loss_validate,
    .attrs = loss_attrs,
    .on_data = loss_data,
    .on_timer = loss_timer,
    .on_end = loss_end,
    .on_free = loss_free,
};
