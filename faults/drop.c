/* drop.c -- the connection is closed cleanly (FIN both sides): at connect, after exactly
 * `after_bytes` have passed in the fault's direction, or `after` time, whichever comes first.
 *
 * Exposes: readers that trust a stream to finish (a response cut short looks like a complete
 * one to a client that does not check lengths), pools that hand out connections the server
 * already closed, and retry loops with no backoff (every attempt is dropped at once).
 *
 * Keys: after_bytes (size, default 0 = not by bytes), after (duration, default 0 = not by time).
 * With both 0 the connection is closed as soon as it is accepted. trigger = data: the first
 * bytes in the fault's direction (dropped) start `after` instead (faults/cut.h).
 */
#include "faults/cut.h"

static void drop_start(struct stage *st) { cut_start(st, CLOSE_FIN); }
static void drop_data(struct stage *st, struct evbuffer *in) { cut_data(st, in, CLOSE_FIN); }
static void drop_timer(struct stage *st) { cut_timer(st, CLOSE_FIN); }

const struct fault_type fault_drop = {
    .name = "drop",
    .summary = "close both sides cleanly (FIN) at connect, after after_bytes or after a time",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct cut_cfg),
    .state_size = sizeof(struct cut_state),
    .set = cut_set_after,
    .validate = cut_validate_after,
    .attrs = cut_attrs_after,
    .on_start = drop_start,
    .on_data = drop_data,
    .on_timer = drop_timer,
};
