/* blackhole.c -- accepted connections are read and discarded: nothing reaches the upstream and
 * nothing comes back (default direction: both). The upstream connection is still opened, so
 * the dependency looks up; it just never answers.
 *
 * Exposes: clients with no timeout (they wait forever on a call that was accepted), pools that
 * fill with stuck connections, and health checks that only test "can connect". The moment the
 * client gives up is recorded as for hang (the connection is marked as held).
 *
 * No keys. EOFs are swallowed too. When the fault ends the connection flows again; what was
 * discarded is gone.
 */
#include "faults/fault.h"

static void bh_start(struct stage *st)
{
    stage_mark_hanging(st);
}

static void bh_data(struct stage *st, struct evbuffer *in) { stage_discard(st, in, (size_t)-1); }
static int bh_eof(struct stage *st) { return 1; }

const struct fault_type fault_blackhole = {
    .name = "blackhole",
    .summary = "read and discard everything: nothing reaches the upstream, nothing comes back",
    .default_dir = FDIR_BOTH,
    .on_start = bh_start,
    .on_data = bh_data,
    .on_eof = bh_eof,
};
