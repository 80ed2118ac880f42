/* stale_idle.c -- a connection left idle longer than `idle` is silently dead: its next use
 * meets a reset (or silence).
 *
 * Exposes: connection pools that hand out a connection without checking it after an idle
 * spell. Between a client and its server, something often forgets idle connections without
 * telling either side: a NAT or a firewall drops its state (conntrack timeouts, an AWS NLB after
 * 350 s, Azure's load balancer after 4 min), pgbouncer closes server connections idle past
 * server_idle_timeout, a server restarts behind a proxy. Neither end sees a FIN, so the pool
 * keeps the connection; the next request on it gets an RST back (or nothing at all), and the
 * caller gets an error for a request that never reached the server -- Go's database/sql
 * driver.ErrBadConn, HikariCP's validation failures, urllib3's "Connection aborted".
 *
 * Both directions (default) share one clock: the connection is idle from the last byte in
 * either direction. Nothing happens when `idle` runs out -- that is the point: the drop is
 * silent. The first bytes after it, in either direction, are discarded and then:
 *   on_use = reset (default)  the connection is reset (the client reads ECONNRESET; faultline
 *                             also closes its upstream socket with an RST at that moment,
 *                             where a real middlebox would leave the server to find out later)
 *   on_use = drop             everything is discarded from then on and nothing is answered:
 *                             the client's request times out (a firewall that drops packets
 *                             of connections it no longer knows)
 *
 * Keys: idle (duration, required, > 0), on_use = reset | drop.
 */
#include "faults/fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <string.h>

struct si_cfg { int64_t idle_us; int drop; };
struct si_state { int64_t last_us; int dead; };

static int si_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct si_cfg *c = cfg;
    if (!strcmp(k, "idle")) return fkey_duration(v, &c->idle_us, err, errlen);
    if (!strcmp(k, "on_use")) {
        if (!strcmp(v, "reset")) c->drop = 0;
        else if (!strcmp(v, "drop")) c->drop = 1;
        else { snprintf(err, errlen, "'%s' is not reset or drop", v); return FKEY_BAD; }
        return FKEY_OK;
    }
    return FKEY_UNKNOWN;
}

static int si_validate(const void *cfg, char *err, size_t errlen)
{
    const struct si_cfg *c = cfg;
    if (c->idle_us <= 0) { snprintf(err, errlen, "idle: required, a duration above 0 (e.g. 350s)"); return -1; }
    return 0;
}

static void si_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct si_cfg *c = cfg;
    char b[64];
    emit(ud, "idle", duration_str(c->idle_us, b, sizeof(b)));
    emit(ud, "on_use", c->drop ? "drop" : "reset");
}

static void si_start(struct stage *st)
{
    struct si_state *s = st->state;
    s->last_us = fl_now_us();
}

static void si_data(struct stage *st, struct evbuffer *in)
{
    const struct si_cfg *c = st->cfg;
    struct si_state *s = st->state;
    struct stage *tw = stage_twin(st);
    struct si_state *ts = tw && tw->acting ? tw->state : NULL;
    int64_t now = fl_now_us(), last = s->last_us;
    if (ts && ts->last_us > last) last = ts->last_us;
    if (!s->dead && !(ts && ts->dead) && now - last <= c->idle_us) {
        s->last_us = now;
        stage_emit(st, in, (size_t)-1);
        return;
    }
    /* the connection went stale: this use meets the dead path */
    int first = !s->dead && !(ts && ts->dead);
    s->dead = 1;
    if (ts) ts->dead = 1;
    stage_discard(st, in, (size_t)-1);
    if (first && !c->drop) stage_close(st, CLOSE_RST);
}

const struct fault_type fault_stale_idle = {
    .name = "stale_idle",
    .summary = "a connection idle longer than `idle` is silently dead: its next use is reset (or dropped)",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct si_cfg),
    .state_size = sizeof(struct si_state),
    .set = si_set,
    .validate = si_validate,
    .attrs = si_attrs,
    .on_start = si_start,
    .on_data = si_data,
};
