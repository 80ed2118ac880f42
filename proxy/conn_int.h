/* conn_int.h -- what the three files of a connection pair share (proxy/conn.c: accept, connect,
 * stages; proxy/conn_relay.c: the bytes; proxy/conn_close.c: the end). The rest of the daemon
 * sees proxy.h only.
 *
 * The sockets' events: each side of a pair is a libevent bufferevent, and conn_relay.c reads
 * the sockets itself on the bufferevent's own read event (ev_read, re-assigned to
 * conn_readable); a tcp connect that is not proven yet watches the upstream on its write event
 * (ev_write, re-assigned to conn_connect_cb and handed back to libevent afterwards). That takes
 * libevent 2.1's struct bufferevent (event2/bufferevent_struct.h). Events owned by conn.c
 * instead were weighed and left out: struct event is 128 bytes, two more per connection (three
 * with the connect watch) grow a held connection by 256-384 bytes (+10-15%) while the
 * bufferevent's own two stay allocated unused, and the "is this read due in this loop turn"
 * test of pipe_shut reads a flag (EVLIST_ACTIVE) that libevent's public API does not expose for
 * any event, owned or not. docs/datapath.md ("libevent's events") has the numbers.
 */
#ifndef FL_CONN_INT_H
#define FL_CONN_INT_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include "proxy/proxy.h"

/* ---- conn.c: the upstream connect ---- */
/* The upstream connect is proven: counts it, hands the write event back to libevent (armed if
 * bytes are queued) and passes on an EOF that came out of the chain meanwhile. */
void conn_up_connected(struct conn *c);
/* The tcp connect watch (the upstream's ev_write until the connect is proven). */
void conn_connect_cb(evutil_socket_t fd, short what, void *arg);
/* The upstream connect failed (err: an errno value; dns: libevent's getaddrinfo error, or 0):
 * logged, counted, and the client's connection closed (or the protocol answers). */
void conn_upstream_failed(struct conn *c, int err, int dns);
/* Starts the upstream connect of an accepted pair (libevent's connect: a name, or any protocol
 * but tcp's direct one). conn_accept calls it, or the TLS transport once the client's handshake
 * is done (proxy/tls_io.c). */
void conn_connect_upstream(struct conn *c);

/* tcp: the upstream connect is under way (its write event is the connect watch). On the fast
 * path, per read: inline. */
static inline int conn_up_connecting(const struct conn *c)
{
    return !c->up_connected && c->up && event_get_callback(&c->up->ev_write) == conn_connect_cb;
}

/* Small answers leave at once (no Nagle wait behind an unacknowledged segment), as haproxy and
 * nginx do: TCP_NODELAY on the upstream socket (the client side inherits it from the listening
 * socket, proxy_bind). */
static inline void conn_set_nodelay(evutil_socket_t fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- conn_relay.c: the sockets' callbacks and reading ---- */
void conn_readable(evutil_socket_t fd, short what, void *arg);     /* a socket is readable */
/* The same without the fast path (a plain side of a connection with TLS: its bytes go to the
 * other side through pipe_deliver, which encrypts them). */
void conn_readable_slow(evutil_socket_t fd, short what, void *arg);
/* What a direction holds against the proxy's buffer (its destination's output, its stages,
 * and what an engine or the TLS transport keeps). */
size_t conn_pipe_pending(struct pipe *p);
void conn_on_read(struct bufferevent *bev, void *arg);             /* bytes in a side's input */
void conn_on_write(struct bufferevent *bev, void *arg);            /* a side's output drained */
void conn_on_event(struct bufferevent *bev, short what, void *arg);  /* connected, EOF, error */
/* Starts or stops reading one side (its ev_read, or libevent's reading without own_read). */
void conn_side_read(struct conn *c, struct bufferevent *bev, int on);
/* What one read's handling gathered for c's destinations leaves now (before a close). */
void conn_uncork(struct conn *c);

/* ---- conn_close.c ---- */
/* Both directions are shut: the pair closes (FIN). */
void conn_try_finish(struct conn *c);

#endif
