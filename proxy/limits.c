/* proxy/limits.c -- the connection caps and idle timeouts of proxy/limits.h: their keys, the
 * check at accept, and the sweep that closes idle connections.
 *
 * Accept: a connection past max_conns (the proxy's, or the total) is accepted and reset at once
 * (SO_LINGER 0): the client learns right away, rather than waiting in the listen backlog, and
 * the refusal is counted (`capped`, /stats and /metrics) and logged at most once a second.
 *
 * The sweep runs once a second (the server's tick) over every open connection of every proxy,
 * retired ones too. It reads times the data path keeps anyway (the last read from the client,
 * the last bytes delivered to it): nothing is added per read, and a connection costs no timer
 * of its own. A connection found idle past its timeout is closed by the proxy (closed_by=proxy)
 * and counted (`idle_closed`).
 */
#include "proxy/limits.h"
#include "proxy/proxy.h"
#include "proxy/protocol.h"
#include "faults/fault.h"
#include "common/inidoc.h"
#include "common/log.h"
#include "common/parse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/buffer.h>

#define KEYERR(line, ...) inidoc_err(d, line, err, errlen, __VA_ARGS__)

void limits_defaults(struct conn_limits *l)
{
    l->max_conns = LIMITS_MAX_CONNS;
    l->client_idle_us = LIMITS_CLIENT_IDLE_US;
    l->upstream_idle_us = LIMITS_UPSTREAM_IDLE_US;
    l->max_pipeline = LIMITS_MAX_PIPELINE;
}

/* A timeout key: a duration of at least 1s, or 0 / off (global: off; proxy: off here, -1). */
static int timeout_key(struct inidoc *d, struct inisec *s, const char *key, int global, int64_t *out, char *err,
                       size_t errlen)
{
    int line;
    const char *v = inisec_get(s, key, &line);
    if (!v) return 0;
    char e[300];
    int64_t us;
    if (!strcasecmp(v, "off")) us = 0;
    else if (parse_duration(v, &us, e, sizeof(e)) < 0) return KEYERR(line, "%s: %s", key, e);
    if (us != 0 && us < 1000000) return KEYERR(line, "%s: at least 1s (or 0 / off: none)", key);
    *out = us ? us : global ? 0 : -1;
    return 0;
}

int limits_load(struct inidoc *d, struct inisec *s, struct conn_limits *l, int global, char *err, size_t errlen)
{
    char e[300];
    int line;
    const char *v;
    if ((v = inisec_get(s, "max_conns", &line))) {
        int64_t n;
        if (parse_int(v, 0, 10000000, &n, e, sizeof(e)) < 0) return KEYERR(line, "max_conns: %s", e);
        l->max_conns = (uint64_t)n;
    }
    if (timeout_key(d, s, "client_idle_timeout", global, &l->client_idle_us, err, errlen) < 0) return -1;
    if (timeout_key(d, s, "upstream_idle_timeout", global, &l->upstream_idle_us, err, errlen) < 0) return -1;
    if (global && (v = inisec_get(s, "max_pipeline", &line))) {
        int64_t n;
        if (parse_int(v, 1, 1024, &n, e, sizeof(e)) < 0) return KEYERR(line, "max_pipeline: %s", e);
        l->max_pipeline = (uint32_t)n;
    }
    return 0;
}

/* ---- accept ---- */

int proxy_admit(struct fl_proxy *px, evutil_socket_t fd)
{
    struct fl_server *s = px->srv;
    uint64_t total = s->g.lim.max_conns, own = px->spec.lim.max_conns;
    int over_total = total && s->active_conns >= total, over_own = own && px->st.active >= own;
    if (!over_total && !over_own) return 1;
    px->st.capped++;
    struct linger lg = {1, 0};   /* a reset: the client learns now, not after the backlog */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    evutil_closesocket(fd);
    int64_t now = fl_now_us();
    if (now - px->last_cap_log_us >= 1000000) {
        px->last_cap_log_us = now;
        log_warn("conn_capped", "proxy=%s active=%llu max_conns=%llu which=%s refused=%llu action=reset",
                 log_q(px->spec.name), (unsigned long long)(over_own ? px->st.active : s->active_conns),
                 (unsigned long long)(over_own ? own : total), over_own ? "proxy" : "total",
                 (unsigned long long)px->st.capped);
    }
    return 0;
}

/* ---- idle connections ---- */

/* What c waits for now (enum conn_wait). */
static int conn_wait_state(const struct conn *c)
{
    if (c->t_hang && !c->t_hang_end) return CONN_HELD;
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < c->p[d].ch.nstages; i++)
            if (stage_held(c->p[d].ch.stages[i])) return CONN_HELD;
    const struct protocol *pr = c->px->spec.protocol;
    int w = c->proto && pr->idle_state ? pr->idle_state(c) : (c->t_last_up > c->t_last_down ? CONN_WAITING : CONN_QUIET);
    /* a client that does not take what it was sent is the one idling, whatever it waits for */
    if (w == CONN_WAITING && c->cli && evbuffer_get_length(bufferevent_get_output(c->cli))) w = CONN_QUIET;
    return w;
}

static int64_t last_moved(const struct conn *c)
{
    int64_t t = c->t_open;
    if (c->t_connected > t) t = c->t_connected;
    if (c->t_last_up > t) t = c->t_last_up;
    if (c->t_last_down > t) t = c->t_last_down;
    return t;
}

static void sweep_proxy(struct fl_proxy *px, int64_t now)
{
    const struct conn_limits *g = &px->srv->g.lim, *l = &px->spec.lim;
    int64_t cli = limits_timeout(l->client_idle_us, g->client_idle_us);
    int64_t up = limits_timeout(l->upstream_idle_us, g->upstream_idle_us);
    if (!cli && !up) return;
    struct conn *next;
    for (struct conn *c = px->conns; c; c = next) {
        next = c->next;
        if (c->closing) continue;
        int w = conn_wait_state(c);
        if (w == CONN_HELD) continue;
        int64_t tmo = w == CONN_WAITING ? up : cli, idle = now - last_moved(c);
        if (!tmo || idle < tmo) continue;
        px->st.idle_closed++;
        log_info("idle_closed", "proxy=%s id=%llu peer=%s waiting_for=%s idle_ms=%lld", log_q(px->spec.name),
                 (unsigned long long)c->id, log_q(conn_peer(c)), w == CONN_WAITING ? "upstream" : "client",
                 (long long)(idle / 1000));
        conn_close(c, CLOSER_PROXY, CLOSE_FIN);
    }
}

void server_idle_sweep(struct fl_server *s)
{
    int64_t now = fl_now_us();
    for (int i = 0; i < s->nproxies; i++) sweep_proxy(s->proxies[i], now);
    for (struct fl_proxy *px = s->retired; px; px = px->next_retired) sweep_proxy(px, now);
}
