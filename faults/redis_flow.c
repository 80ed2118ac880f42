/* redis_flow.c -- per-command timing faults of redis proxies: redis_latency and redis_hang.
 *
 * redis_latency: a matching command (and every command after it on the connection, to keep
 *   order) is held for a delay drawn from delay, jitter, distribution and correlation (faults/dist.h)
 *   before it reaches the server. Exposes client timeouts
 *   shorter than a slow day and pools sized for sub-millisecond calls.
 * redis_hang: a matching command is held and never reaches the server; the connection stays
 *   open until the client gives up (abandonment is recorded). on_end = keep | release | reset.
 *   Exposes clients without a command timeout.
 * The engine (proxy/protocols/redis.c) does the acting.
 */
#include "faults/redis_fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <string.h>

static void lat_init(void *cfg) { ((struct resp_fcfg *)cfg)->act = RESPA_LATENCY; }
static void hang_init(void *cfg) { ((struct resp_fcfg *)cfg)->act = RESPA_HANG; }

static int lat_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct resp_fcfg *c = cfg;
    int rc = resp_match_set(c, k, v, err, errlen);
    if (rc != FKEY_UNKNOWN) return rc;
    return dist_set(&c->lat, k, v, err, errlen);
}

static int lat_validate(const void *cfg, char *err, size_t errlen)
{
    const struct resp_fcfg *c = cfg;
    return dist_validate(&c->lat, err, errlen);
}

static void lat_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct resp_fcfg *c = cfg;
    dist_attrs(&c->lat, emit, ud);
    resp_match_attrs(c, emit, ud);
}

static int hang_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct resp_fcfg *c = cfg;
    int rc = resp_match_set(c, k, v, err, errlen);
    if (rc != FKEY_UNKNOWN) return rc;
    if (!strcmp(k, "on_end")) return fkey_hang_end(v, &c->on_end, err, errlen);
    return FKEY_UNKNOWN;
}

static void hang_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct resp_fcfg *c = cfg;
    emit(ud, "on_end", hang_end_str(c->on_end));
    resp_match_attrs(c, emit, ud);
}

const struct fault_type fault_redis_latency = {
    .name = "redis_latency",
    .summary = "redis: hold a matching command for delay ± jitter before it reaches the server",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct resp_fcfg),
    .init = lat_init,
    .set = lat_set,
    .validate = lat_validate,
    .attrs = lat_attrs,
    .cfg_free = resp_fcfg_free,
    .flags = FT_REDIS_ONLY,
};

const struct fault_type fault_redis_hang = {
    .name = "redis_hang",
    .summary = "redis: hold a matching command forever (until the client gives up or the fault ends)",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct resp_fcfg),
    .init = hang_init,
    .set = hang_set,
    .attrs = hang_attrs,
    .cfg_free = resp_fcfg_free,
    .flags = FT_REDIS_ONLY,
};
