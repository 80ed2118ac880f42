/* cut.h -- the shared machinery of the faults that end a connection: drop (FIN), reset (RST)
 * and limit_data (FIN after a byte budget).
 *
 * Internal to faults/: each of those types is still one file with its own keys, and includes
 * this header for the common per-stage logic. A stage counts the bytes it passes in its own
 * direction (a fault on `both` directions keeps one count per direction); the moment it has
 * passed exactly `after_bytes`, or `after` has run out since the stage started acting, it asks
 * the connection to close. Bytes that arrive past the budget are dropped (counted), never
 * forwarded. When neither limit is set the connection is cut as soon as the stage starts.
 *
 * drop and reset also take `trigger = connect | data` (default connect). With `data` nothing
 * happens until the first bytes reach the stage in its direction: those bytes and every later
 * one are dropped, and the cut comes `after` later (0: at once). That is Toxiproxy's
 * reset_peer (its `timeout` starts with the first data, and 0 resets on the first data), which
 * the Toxiproxy API maps here.
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
    int on_data;              /* trigger = data: the first bytes start `after` (drop, reset) */
};
struct cut_state { uint64_t passed; int cut, triggered; };

static inline void cut_attrs(const struct cut_cfg *c, const char *bytes_key, int with_after, fault_attr_fn emit,
                             void *ud)
{
    char b[64];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)c->after_bytes);
    emit(ud, bytes_key, b);
    if (with_after) {
        emit(ud, "after", duration_str(c->after_us, b, sizeof(b)));
        emit(ud, "trigger", c->on_data ? "data" : "connect");
    }
}

/* drop and reset take the same keys: after_bytes (size), after (duration), trigger */
static inline int cut_set_after(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct cut_cfg *c = cfg;
    if (!strcmp(k, "after_bytes")) {
        int rc = fkey_size(v, &c->after_bytes, err, errlen);
        c->have_bytes = c->after_bytes > 0;
        return rc;
    }
    if (!strcmp(k, "after")) return fkey_duration(v, &c->after_us, err, errlen);
    if (!strcmp(k, "trigger")) {
        if (!strcmp(v, "connect") || !strcmp(v, "data")) {
            c->on_data = !strcmp(v, "data");
            return FKEY_OK;
        }
        snprintf(err, errlen, "'%s' is not a trigger (valid: connect, data)", v);
        return FKEY_BAD;
    }
    return FKEY_UNKNOWN;
}
static inline int cut_validate_after(const void *cfg, char *err, size_t errlen)
{
    const struct cut_cfg *c = cfg;
    if (c->on_data && c->have_bytes) {
        snprintf(err, errlen, "after_bytes: cannot be combined with trigger = data (the first bytes are the trigger)");
        return -1;
    }
    return 0;
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
    if (c->on_data) return;                      /* waits for the first bytes (cut_data) */
    if (c->after_bytes == 0 && c->after_us == 0 && !c->have_bytes) { cut_now(st, how); return; }
    if (c->have_bytes && c->after_bytes == 0) { cut_now(st, how); return; }
    if (c->after_us > 0) stage_timer(st, c->after_us);
}

static inline void cut_data(struct stage *st, struct evbuffer *in, enum close_how how)
{
    const struct cut_cfg *c = st->cfg;
    struct cut_state *s = st->state;
    if (c->on_data && !s->cut) {
        /* trigger = data: nothing of it goes on; the cut follows `after` after the first bytes */
        stage_discard(st, in, (size_t)-1);
        if (s->triggered) return;
        s->triggered = 1;
        if (c->after_us > 0) stage_timer(st, c->after_us);
        else cut_now(st, how);
        return;
    }
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
