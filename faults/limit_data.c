/* limit_data.c -- the connection is closed (FIN both sides) once exactly `bytes` have passed
 * in the fault's direction (each direction counts its own bytes when direction = both).
 *
 * Exposes: readers that trust a stream to finish -- a truncated body, file or result set that
 * the client accepts as complete because it never checks a length or a terminator.
 *
 * Keys: bytes (size, required; 0 = closed as soon as the stage starts).
 */
#include "faults/cut.h"

#include <string.h>

static int limit_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct cut_cfg *c = cfg;
    if (!strcmp(k, "bytes")) {
        c->have_bytes = 1;
        return fkey_size(v, &c->after_bytes, err, errlen);
    }
    return FKEY_UNKNOWN;
}

static int limit_validate(const void *cfg, char *err, size_t errlen)
{
    const struct cut_cfg *c = cfg;
    if (!c->have_bytes) { snprintf(err, errlen, "'bytes' is required (a size, e.g. 1KiB)"); return -1; }
    return 0;
}

static void limit_attrs(const void *cfg, fault_attr_fn emit, void *ud) { cut_attrs(cfg, "bytes", 0, emit, ud); }
static void limit_start(struct stage *st) { cut_start(st, CLOSE_FIN); }
static void limit_data(struct stage *st, struct evbuffer *in) { cut_data(st, in, CLOSE_FIN); }

const struct fault_type fault_limit_data = {
    .name = "limit_data",
    .summary = "close both sides (FIN) after exactly `bytes` have passed in the direction",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct cut_cfg),
    .state_size = sizeof(struct cut_state),
    .set = limit_set,
    .validate = limit_validate,
    .attrs = limit_attrs,
    .on_start = limit_start,
    .on_data = limit_data,
};
