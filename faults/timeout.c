/* timeout.c -- like hang (data in the direction stops and is held), then both sides are closed
 * (FIN) once `timeout` has passed since the stage started acting; timeout = 0 never closes.
 *
 * Exposes: clients with no timeout or one longer than the dependency's own (they learn of the
 * failure only when the server gives up), and retry loops that retry immediately after a
 * dependency closed on them. The moment the client gives up first is recorded, as for hang.
 *
 * Keys: timeout (duration, default 0 = never close), on_end (keep | release | reset, default
 * keep). on_end acts as for hang; with keep the connection stays hung and is no longer closed
 * at `timeout` (the fault that would have closed it has ended).
 */
#include "faults/fault.h"
#include "faults/hold.h"
#include "common/parse.h"

#include <stdio.h>
#include <string.h>

struct timeout_cfg { int64_t timeout_us; enum hang_end on_end; };
struct timeout_state { int dead; };

static int timeout_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct timeout_cfg *c = cfg;
    if (!strcmp(k, "timeout")) return fkey_duration(v, &c->timeout_us, err, errlen);
    if (!strcmp(k, "on_end")) return fkey_hang_end(v, &c->on_end, err, errlen);
    return FKEY_UNKNOWN;
}

static void timeout_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct timeout_cfg *c = cfg;
    char b[64];
    emit(ud, "timeout", duration_str(c->timeout_us, b, sizeof(b)));
    emit(ud, "on_end", hang_end_str(c->on_end));
}

static void timeout_start(struct stage *st)
{
    const struct timeout_cfg *c = st->cfg;
    stage_mark_hanging(st);
    if (c->timeout_us > 0) stage_timer(st, c->timeout_us);
}

static void timeout_data(struct stage *st, struct evbuffer *in)
{
    struct timeout_state *s = st->state;
    if (s->dead) stage_discard(st, in, (size_t)-1);
    else stage_hold(st, in);
}

static int timeout_eof(struct stage *st) { return 1; }   /* held with the bytes */

static void timeout_timer(struct stage *st)
{
    struct timeout_state *s = st->state;
    if (!s->dead) stage_close(st, CLOSE_FIN);
}

static int timeout_end(struct stage *st)
{
    const struct timeout_cfg *c = st->cfg;
    struct timeout_state *s = st->state;
    stage_timer(st, -1);   /* with keep it is no longer closed at `timeout` either */
    return hold_on_end(st, c->on_end, &s->dead);
}

const struct fault_type fault_timeout = {
    .name = "timeout",
    .summary = "hold data like hang, then close both sides after timeout (0 = never)",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct timeout_cfg),
    .state_size = sizeof(struct timeout_state),
    .set = timeout_set,
    .attrs = timeout_attrs,
    .on_start = timeout_start,
    .on_data = timeout_data,
    .on_eof = timeout_eof,
    .on_timer = timeout_timer,
    .on_end = timeout_end,
};
