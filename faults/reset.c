/* reset.c -- like drop, but the connection is aborted with a TCP RST (SO_LINGER 0) on both
 * sides: the client's next read or write fails with ECONNRESET. Bytes not yet written to the
 * client when the RST goes out are lost, as they are when a real peer crashes.
 *
 * Exposes: error handling that only knows "clean EOF" (a reset surfaces as an exception or an
 * error class nobody catches), retries of non-idempotent calls that may have been applied, and
 * pools that keep a reset connection.
 *
 * Keys: after_bytes (size, default 0), after (duration, default 0); both 0 = reset at connect.
 * trigger = data: the first bytes in the fault's direction (dropped) start `after` instead
 * (Toxiproxy's reset_peer; faults/cut.h).
 */
#include "faults/cut.h"
#include "faults/http_fault.h"


static void reset_start(struct stage *st) { cut_start(st, CLOSE_RST); }
static void reset_data(struct stage *st, struct evbuffer *in) { cut_data(st, in, CLOSE_RST); }
static void reset_timer(struct stage *st) { cut_timer(st, CLOSE_RST); }

const struct fault_type fault_reset = {
    .name = "reset",
    .summary = "abort both sides with a TCP RST at connect, after after_bytes or after a time",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct cut_cfg),
    .state_size = sizeof(struct cut_state),
    .set = cut_set_after,
    .validate = cut_validate_after,
    .attrs = cut_attrs_after,
    .on_start = reset_start,
    .on_data = reset_data,
    .on_timer = reset_timer,
    .http = &http_reset_ops,
};
