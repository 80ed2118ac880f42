/* bandwidth.c -- a slow stream: bytes leave the stage at `rate` bytes per second.
 *
 * Exposes: readers that trust a stream to finish quickly (a download with no overall deadline
 * ties up a worker for minutes), per-request timeouts that count only idle time, and buffers
 * sized for a fast dependency.
 *
 * A token bucket driven by the stage's one timer: every tick (BW_TICK_US) the stage is credited
 * rate * elapsed, measured on the monotonic clock, and emits the whole bytes of its credit;
 * the fraction carries over to the next tick, so the long-run rate is exact whatever the tick
 * jitter. The bucket holds at most one tick's worth while idle (no burst after a pause); a
 * stream that starts gets that one tick's worth at once, so a small message is not delayed by
 * a tick. The timer only runs while bytes are held. Held bytes count towards the proxy's
 * buffer bound, so a fast source is paused by backpressure instead of filling memory.
 */
#include "faults/fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <string.h>

#define BW_TICK_US 10000   /* 10 ms: 100 small releases a second */

struct bw_cfg { uint64_t rate; };
struct bw_state { double credit; int64_t last_us; int running; };

static int bw_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct bw_cfg *c = cfg;
    if (!strcmp(k, "rate")) return fkey_size(v, &c->rate, err, errlen);
    return FKEY_UNKNOWN;
}

static int bw_validate(const void *cfg, char *err, size_t errlen)
{
    const struct bw_cfg *c = cfg;
    if (c->rate == 0) { snprintf(err, errlen, "rate: required, bytes per second above 0 (e.g. 16KiB)"); return -1; }
    return 0;
}

static void bw_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct bw_cfg *c = cfg;
    char b[32];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)c->rate);
    emit(ud, "rate", b);
}

static double bw_burst(const struct bw_cfg *c)
{
    double b = (double)c->rate * BW_TICK_US / 1e6;
    return b < 1.0 ? 1.0 : b;
}

/* credit for the time since the last tick, then emit what the credit allows */
static void bw_pump(struct stage *st)
{
    const struct bw_cfg *c = st->cfg;
    struct bw_state *s = st->state;
    int64_t now = fl_now_us();
    s->credit += (double)c->rate * (double)(now - s->last_us) / 1e6;
    s->last_us = now;
    size_t held = stage_held(st);
    size_t n = s->credit >= (double)held ? held : (size_t)s->credit;
    if (n) {
        s->credit -= (double)n;
        stage_release(st, n);
        if (stage_closing(st)) return;
    }
    if (stage_held(st)) {
        stage_timer(st, BW_TICK_US);
        s->running = 1;
    } else {
        s->running = 0;
        double burst = bw_burst(c);
        if (s->credit > burst) s->credit = burst;
    }
}

static void bw_data(struct stage *st, struct evbuffer *in)
{
    const struct bw_cfg *c = st->cfg;
    struct bw_state *s = st->state;
    stage_hold(st, in);
    if (s->running) return;
    /* idle until now: the bucket refills up to one tick's worth */
    int64_t now = fl_now_us();
    if (s->last_us == 0) s->credit = bw_burst(c);
    else {
        s->credit += (double)c->rate * (double)(now - s->last_us) / 1e6;
        double burst = bw_burst(c);
        if (s->credit > burst) s->credit = burst;
    }
    s->last_us = now;
    bw_pump(st);
}

static void bw_timer(struct stage *st) { bw_pump(st); }

const struct fault_type fault_bandwidth = {
    .name = "bandwidth",
    .summary = "limit the stream to rate bytes per second",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct bw_cfg),
    .state_size = sizeof(struct bw_state),
    .set = bw_set,
    .validate = bw_validate,
    .attrs = bw_attrs,
    .on_data = bw_data,
    .on_timer = bw_timer,
};
