/* slow_close.c -- the EOF of the source is passed on only `delay` after it arrived: data flows
 * untouched, but the close lingers (default direction downstream: the upstream's close reaches
 * the client late).
 *
 * Exposes: readers that wait for EOF instead of a length (a response is "slow" though every
 * byte arrived), connection pools that count a closing connection as busy, and shutdown paths
 * that wait for peers to close.
 *
 * Keys: delay (duration, required).
 */
#include "faults/fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <string.h>

struct sc_cfg { int64_t delay_us; int have_delay; };

static int sc_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct sc_cfg *c = cfg;
    if (!strcmp(k, "delay")) { c->have_delay = 1; return fkey_duration(v, &c->delay_us, err, errlen); }
    return FKEY_UNKNOWN;
}

static int sc_validate(const void *cfg, char *err, size_t errlen)
{
    const struct sc_cfg *c = cfg;
    if (!c->have_delay) { snprintf(err, errlen, "'delay' is required (a duration, e.g. 2s)"); return -1; }
    return 0;
}

static void sc_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct sc_cfg *c = cfg;
    char b[64];
    emit(ud, "delay", duration_str(c->delay_us, b, sizeof(b)));
}

static int sc_eof(struct stage *st)
{
    const struct sc_cfg *c = st->cfg;
    stage_timer(st, c->delay_us);
    return 1;
}

static void sc_timer(struct stage *st) { stage_eof(st); }

const struct fault_type fault_slow_close = {
    .name = "slow_close",
    .summary = "pass the source's EOF on only after delay",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct sc_cfg),
    .set = sc_set,
    .validate = sc_validate,
    .attrs = sc_attrs,
    .on_eof = sc_eof,
    .on_timer = sc_timer,
};
