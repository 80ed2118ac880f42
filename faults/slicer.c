/* slicer.c -- data is cut into small pieces of `size` ± `size_jitter` bytes with a pause of
 * `delay` between them.
 *
 * Exposes: parsers that assume one read returns one whole message (a header split across
 * reads, a length prefix cut in two), and code that measures "time to first byte" as if it
 * were "time to response".
 *
 * The stage holds what arrives and emits one piece per timer tick; the first piece of a burst
 * goes out at once. With delay = 0 the pieces are emitted back to back and TCP will usually
 * merge them again: a delay of at least a millisecond keeps them apart on the wire (the proxy
 * sets TCP_NODELAY).
 *
 * Keys: size (size, required, > 0), size_jitter (size, default 0, at most size: a piece is never
 * under 1 byte), delay (duration,
 * default 0).
 */
#include "faults/fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <string.h>

struct slicer_cfg { uint64_t size, jitter; int64_t delay_us; };
struct slicer_state { int running; };

static int slicer_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct slicer_cfg *c = cfg;
    if (!strcmp(k, "size")) return fkey_size(v, &c->size, err, errlen);
    if (!strcmp(k, "size_jitter")) return fkey_size(v, &c->jitter, err, errlen);
    if (!strcmp(k, "delay")) return fkey_duration(v, &c->delay_us, err, errlen);
    return FKEY_UNKNOWN;
}

static int slicer_validate(const void *cfg, char *err, size_t errlen)
{
    const struct slicer_cfg *c = cfg;
    if (c->size == 0) { snprintf(err, errlen, "size: required, a piece size above 0 (e.g. 64)"); return -1; }
    if (c->jitter > c->size) { snprintf(err, errlen, "size_jitter: must be at most size"); return -1; }
    return 0;
}

static void slicer_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct slicer_cfg *c = cfg;
    char b[64];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)c->size);
    emit(ud, "size", b);
    snprintf(b, sizeof(b), "%llu", (unsigned long long)c->jitter);
    emit(ud, "size_jitter", b);
    emit(ud, "delay", duration_str(c->delay_us, b, sizeof(b)));
}

static size_t piece(const struct slicer_cfg *c)
{
    double j = c->jitter ? (fl_rand01() * 2.0 - 1.0) * (double)c->jitter : 0;
    double n = (double)c->size + j;
    return n < 1 ? 1 : (size_t)n;
}

static void slicer_pump(struct stage *st)
{
    const struct slicer_cfg *c = st->cfg;
    struct slicer_state *s = st->state;
    s->running = 0;
    if (c->delay_us == 0) {
        /* back to back: bounded by what is held now */
        while (stage_held(st) && !stage_closing(st)) stage_release(st, piece(c));
        return;
    }
    if (!stage_held(st)) return;
    stage_release(st, piece(c));
    if (stage_closing(st)) return;
    if (stage_held(st)) {
        s->running = 1;
        stage_timer(st, c->delay_us);
    }
}

static void slicer_data(struct stage *st, struct evbuffer *in)
{
    struct slicer_state *s = st->state;
    stage_hold(st, in);
    if (!s->running) slicer_pump(st);
}

static void slicer_timer(struct stage *st) { slicer_pump(st); }

static int slicer_end(struct stage *st)
{
    ((struct slicer_state *)st->state)->running = 0;
    return 0;
}

const struct fault_type fault_slicer = {
    .name = "slicer",
    .summary = "cut data into pieces of size ± size_jitter with delay between them",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct slicer_cfg),
    .state_size = sizeof(struct slicer_state),
    .set = slicer_set,
    .validate = slicer_validate,
    .attrs = slicer_attrs,
    .on_data = slicer_data,
    .on_timer = slicer_timer,
    .on_end = slicer_end,
};
