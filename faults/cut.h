/* cut.h -- the shared machinery of the faults that end a connection: drop (FIN), reset (RST)
 * and limit_data (FIN after a byte budget).
 *
 * Internal to faults/: each of those types is still one file with its own keys, and includes
 * this header for the common per-stage logic. A stage counts the bytes it passes in its own
 * direction (a fault on `both` directions keeps one count per direction); the moment it has
 * passed exactly `after_bytes`, or `after` has run out since the stage started acting, it asks
 * the connection to close. Bytes that arrive past the budget are dropped (counted), never
 * forwarded. When neither limit is set the connection is cut as soon as the stage starts.
 */
#ifndef FL_CUT_H
#define FL_CUT_H

#include "faults/fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <string.h>

struct cut_cfg {
    uint64_t after_bytes;
    int64_t after_us;
    int have_bytes;           /* after_bytes was given (limit_data requires it) */
};
struct cut_state { uint64_t passed; int cut; };

static inline void cut_attrs(const struct cut_cfg *c, const char *bytes_key, int with_after, fault_attr_fn emit,
                             void *ud)
{
    char b[64];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)c->after_bytes);
    emit(ud, bytes_key, b);
    if (with_after) emit(ud, "after", duration_str(c->after_us, b, sizeof(b)));
}

/* drop and reset take the same keys: after_bytes (size), after (duration) */
static inline int cut_set_after(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct cut_cfg *c = cfg;
    if (!strcmp(k, "after_bytes")) {
        int rc = fkey_size(v, &c->after_bytes, err, errlen);
        c->have_bytes = c->after_bytes > 0;
        return rc;
    }
    if (!strcmp(k, "after")) return fkey_duration(v, &c->after_us, err, errlen);
    return FKEY_UNKNOWN;
}
static inline void cut_attrs_after(const void *cfg, fault_attr_fn emit, void *ud) { cut_attrs(cfg, "after_bytes", 1, emit, ud); }

static inline void cut_now(struct stage *st, enum close_how how)
{
    struct cut_state *s = st->state;
    if (s->cut || stage_closing(st)) return;
    s->cut = 1;
    stage_close(st, how);
}

static inline void cut_start(struct stage *st, enum close_how how)
{
    const struct cut_cfg *c = st->cfg;
    if (c->after_bytes == 0 && c->after_us == 0 && !c->have_bytes) { cut_now(st, how); return; }
    if (c->have_bytes && c->after_bytes == 0) { cut_now(st, how); return; }
    if (c->after_us > 0) stage_timer(st, c->after_us);
}

static inline void cut_data(struct stage *st, struct evbuffer *in, enum close_how how)
{
    const struct cut_cfg *c = st->cfg;
    struct cut_state *s = st->state;
    if (s->cut || !c->have_bytes) {
        if (s->cut) stage_discard(st, in, (size_t)-1);
        else stage_emit(st, in, (size_t)-1);
        return;
    }
    size_t len = evbuffer_get_length(in);
    uint64_t room = c->after_bytes > s->passed ? c->after_bytes - s->passed : 0;
    size_t n = len < room ? len : (size_t)room;
    s->passed += n;
    stage_emit(st, in, n);
    if (s->passed >= c->after_bytes) {
        stage_discard(st, in, (size_t)-1);
        cut_now(st, how);
    }
}

static inline void cut_timer(struct stage *st, enum close_how how) { cut_now(st, how); }

#endif
