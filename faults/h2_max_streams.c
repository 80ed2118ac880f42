/* h2_max_streams.c -- while active, the proxy advertises a lower SETTINGS_MAX_CONCURRENT_STREAMS
 * to its HTTP/2 clients (on new connections, and in a new SETTINGS frame on live ones): a client
 * must queue the calls past it or open more connections.
 *
 * Exposes: clients that assume a fixed number of streams per connection (and fail the calls past
 * it with REFUSED_STREAM instead of queueing them), pools sized by connections that never notice
 * the lower limit, latency that appears only when calls queue behind slow ones.
 *
 * Keys: max_streams (0 .. 2147483647, required; 0 lets no new stream start). Per connection: the
 * probability is rolled once per connection; the match_* keys do not apply. When the fault ends
 * the proxy's own limit is advertised again. http2 and grpc proxies only.
 */
#include "faults/fault.h"
#include "faults/http_fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <string.h>

struct maxs_cfg { int64_t max; int set; };

static int maxs_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct maxs_cfg *c = cfg;
    if (!strcmp(k, "max_streams")) {
        if (parse_int(v, 0, 2147483647, &c->max, err, errlen) < 0) return FKEY_BAD;
        c->set = 1;
        return FKEY_OK;
    }
    return FKEY_UNKNOWN;
}

static int maxs_validate(const void *cfg, char *err, size_t errlen)
{
    if (((const struct maxs_cfg *)cfg)->set) return 0;
    snprintf(err, errlen, "max_streams is required");
    return -1;
}

static void maxs_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    char b[32];
    snprintf(b, sizeof(b), "%lld", (long long)((const struct maxs_cfg *)cfg)->max);
    emit(ud, "max_streams", b);
}

static void maxs_plan(const struct fault *f, struct http_fault_plan *out)
{
    out->act = HACT_MAX_STREAMS;
    out->max_streams = (uint32_t)((const struct maxs_cfg *)f->cfg)->max;
}

static const struct fault_http_ops maxs_ops = {.plan = maxs_plan};

const struct fault_type fault_h2_max_streams = {
    .name = "h2_max_streams",
    .summary = "advertise a lower SETTINGS_MAX_CONCURRENT_STREAMS to HTTP/2 clients while active",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct maxs_cfg),
    .set = maxs_set,
    .validate = maxs_validate,
    .attrs = maxs_attrs,
    .http = &maxs_ops,
    .flags = FT_H2_ONLY,
};
