/* pg_flow.c -- per-query timing faults of postgres proxies: pg_latency, pg_hang, pg_drop.
 *
 * pg_latency: a matching query (and everything the client sends after it, to keep order) is
 *   held for a delay drawn from delay, jitter, distribution and correlation (faults/dist.h)
 *   before it reaches the server. Exposes missing statement timeouts
 *   and pools sized for fast queries.
 * pg_hang: a matching query is held and never reaches the server; the connection stays open
 *   until the client gives up (that moment is recorded: the service's effective query
 *   timeout). on_end = keep | release | reset says what held queries do when the fault stops.
 *   Exposes clients without a query timeout and pools that never reclaim a stuck connection.
 * pg_drop: the matching query runs, and after `after_rows` DataRows of its result the
 *   connection is closed (close = fin) or reset (close = rst) in the middle of the result set;
 *   a result with fewer rows is cut before its CommandComplete. Exposes code that treats a
 *   partial result as complete and retry logic that is not idempotent.
 *
 * The engine (proxy/protocols/postgres.c) does the acting; these are settings only.
 */
#include "faults/pg_fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static void lat_init(void *cfg) { ((struct pg_fcfg *)cfg)->act = PGA_LATENCY; }
static void hang_init(void *cfg) { ((struct pg_fcfg *)cfg)->act = PGA_HANG; }
static void drop_init(void *cfg) { ((struct pg_fcfg *)cfg)->act = PGA_DROP; }

static int lat_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct pg_fcfg *c = cfg;
    int rc = pg_match_set(&c->m, k, v, err, errlen);
    if (rc != FKEY_UNKNOWN) return rc;
    return dist_set(&c->lat, k, v, err, errlen);
}

static int lat_validate(const void *cfg, char *err, size_t errlen)
{
    const struct pg_fcfg *c = cfg;
    return dist_validate(&c->lat, err, errlen);
}

static void lat_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct pg_fcfg *c = cfg;
    dist_attrs(&c->lat, emit, ud);
    pg_match_attrs(&c->m, emit, ud);
}

static int hang_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct pg_fcfg *c = cfg;
    int rc = pg_match_set(&c->m, k, v, err, errlen);
    if (rc != FKEY_UNKNOWN) return rc;
    if (!strcmp(k, "on_end")) return fkey_hang_end(v, &c->on_end, err, errlen);
    return FKEY_UNKNOWN;
}

static void hang_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct pg_fcfg *c = cfg;
    emit(ud, "on_end", hang_end_str(c->on_end));
    pg_match_attrs(&c->m, emit, ud);
}

static int drop_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct pg_fcfg *c = cfg;
    int rc = pg_match_set(&c->m, k, v, err, errlen);
    if (rc != FKEY_UNKNOWN) return rc;
    if (!strcmp(k, "after_rows")) {
        int64_t n;
        if (parse_int(v, 0, 1000000000, &n, err, errlen) < 0) return FKEY_BAD;
        c->after_rows = (uint64_t)n;
        return FKEY_OK;
    }
    if (!strcmp(k, "close")) {
        if (!strcasecmp(v, "fin")) c->rst = 0;
        else if (!strcasecmp(v, "rst")) c->rst = 1;
        else { snprintf(err, errlen, "'%s' is not fin or rst", v); return FKEY_BAD; }
        return FKEY_OK;
    }
    return FKEY_UNKNOWN;
}

static void drop_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct pg_fcfg *c = cfg;
    char b[32];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)c->after_rows);
    emit(ud, "after_rows", b);
    emit(ud, "close", c->rst ? "rst" : "fin");
    pg_match_attrs(&c->m, emit, ud);
}

const struct fault_type fault_pg_latency = {
    .name = "pg_latency",
    .summary = "postgres: hold a matching query for delay ± jitter before it reaches the server",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct pg_fcfg),
    .init = lat_init,
    .set = lat_set,
    .validate = lat_validate,
    .attrs = lat_attrs,
    .cfg_free = pg_fcfg_free,
    .flags = FT_PG_ONLY,
};

const struct fault_type fault_pg_hang = {
    .name = "pg_hang",
    .summary = "postgres: hold a matching query forever (until the client gives up or the fault ends)",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct pg_fcfg),
    .init = hang_init,
    .set = hang_set,
    .attrs = hang_attrs,
    .cfg_free = pg_fcfg_free,
    .flags = FT_PG_ONLY,
};

const struct fault_type fault_pg_drop = {
    .name = "pg_drop",
    .summary = "postgres: close (fin) or reset (rst) the connection after after_rows rows of a matching query's result",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct pg_fcfg),
    .init = drop_init,
    .set = drop_set,
    .attrs = drop_attrs,
    .cfg_free = pg_fcfg_free,
    .flags = FT_PG_ONLY,
};
