/* proxy/limits.h -- what clients can cost the daemon: how many connections it keeps open, how
 * long one may sit idle, how many requests one may queue (docs/profiles.md "Limits",
 * docs/security.md). The keys are read here (proxy/limits.c); the core enforces them where
 * the memory is taken: at accept (max_conns), once a second over the open connections (the
 * idle timeouts), and in the http engine's request FIFO (max_pipeline).
 *
 * Why: every connection costs at most a bounded amount (two directions of `buffer`, a request
 * head, the queued requests' bookkeeping), so the daemon's memory is bounded by the number of
 * connections it keeps. Without a cap and a timeout, a neighbour that opens connections and
 * never closes them, or never reads what it asked for, holds memory for as long as it likes.
 *
 * Idle, by this measure: nothing moved either way (no byte from the client, none delivered to
 * it) for the timeout. Which timeout applies depends on who is expected to speak: while a call
 * waits for the upstream (an http request in flight, a query sent; for tcp, the client spoke
 * last), upstream_idle_timeout; otherwise (nothing owed, or the client does not read what it
 * was sent), client_idle_timeout. A call a fault holds (a hang, a latency, bytes held by a
 * stage) is never idle: the fault decides when it ends, not the timeout.
 */
#ifndef FL_PROXY_LIMITS_H
#define FL_PROXY_LIMITS_H

#include <stddef.h>
#include <stdint.h>

struct conn_limits {
    /* [faultline]: client connections open at once, all proxies together (0 = no cap);
     * [proxy]: this proxy's own cap (0 = only the total applies) */
    uint64_t max_conns;
    /* [faultline]: 0 = off. [proxy]: 0 = as [faultline], -1 = off here */
    int64_t client_idle_us, upstream_idle_us;
    uint32_t max_pipeline;          /* [faultline] only: http requests queued per connection */
};

#define LIMITS_MAX_CONNS       20000
#define LIMITS_CLIENT_IDLE_US  (300LL * 1000000)     /* 5m */
#define LIMITS_UPSTREAM_IDLE_US (600LL * 1000000)    /* 10m */
#define LIMITS_MAX_PIPELINE    16

struct inidoc;
struct inisec;

/* The [faultline] defaults above. */
void limits_defaults(struct conn_limits *l);
/* Reads the keys of section s into l: global = [faultline] (max_conns, client_idle_timeout,
 * upstream_idle_timeout, max_pipeline), else [proxy] (max_conns and the two timeouts). Call
 * before inisec_check_unused. 0, or -1 with "PATH:LINE: reason". */
int limits_load(struct inidoc *d, struct inisec *s, struct conn_limits *l, int global, char *err, size_t errlen);
/* The timeout in force for a proxy: its own, or [faultline]'s (0 = off). */
static inline int64_t limits_timeout(int64_t px, int64_t global) { return px > 0 ? px : px < 0 ? 0 : global; }

#endif
