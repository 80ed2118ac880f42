/* slow_body.c -- the response body of a matching request is streamed at `rate` bytes per
 * second; the head comes at once.
 *
 * Exposes: read timeouts that only cover the head (time to first byte) but not the whole body,
 * per-request deadlines that are never set, and buffers held by slow readers.
 *
 * Keys: rate (bytes per second, a size: "1KiB" = 1024 B/s; required, > 0). http mode only.
 * The rate counts body bytes as on the wire (chunk framing included).
 */
#include "faults/fault.h"
#include "faults/http_fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <string.h>

struct slow_body_cfg { uint64_t rate; };

static int slow_body_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct slow_body_cfg *c = cfg;
    if (!strcmp(k, "rate")) return fkey_size(v, &c->rate, err, errlen);
    return FKEY_UNKNOWN;
}

static int slow_body_validate(const void *cfg, char *err, size_t errlen)
{
    const struct slow_body_cfg *c = cfg;
    if (c->rate == 0) {
        snprintf(err, errlen, "rate: required, in bytes per second (> 0)");
        return -1;
    }
    return 0;
}

static void slow_body_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct slow_body_cfg *c = cfg;
    char b[32];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)c->rate);
    emit(ud, "rate", b);
}

static void slow_body_plan(const struct fault *f, struct http_fault_plan *out)
{
    const struct slow_body_cfg *c = f->cfg;
    out->act = HACT_SLOW_BODY;
    out->rate = c->rate;
}

static const struct fault_http_ops slow_body_ops = {.plan = slow_body_plan};

const struct fault_type fault_slow_body = {
    .name = "slow_body",
    .summary = "stream the response body of matching requests at rate bytes per second",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct slow_body_cfg),
    .set = slow_body_set,
    .validate = slow_body_validate,
    .attrs = slow_body_attrs,
    .http = &slow_body_ops,
    .flags = FT_HTTP_ONLY,
};
