/* conn_relay.c -- a connection pair's bytes: reading both sockets, relaying them through each
 * direction's fault chain, backpressure and half-close.
 *
 * The data path is libevent's le-proxy loop: on read, move the input evbuffer into the
 * partner's output (no copy); when the partner's output, plus whatever fault stages hold, passes
 * the proxy's buffer bound, stop reading this side until the partner drains below half of it.
 * With no fault acting on a direction that is all that happens (the fast path). Otherwise the
 * bytes go through the direction's stage chain (faults/chain.c) and come out in pipe_deliver().
 *
 * Reading: conn_relay.c reads both sockets itself (conn_readable, on the bufferevents' ev_read)
 * and the bufferevents only write; libevent 2.1's own reading costs an ioctl(FIONREAD) per read
 * and stops at 4 KiB. On the fast path (no protocol engine, no stage acting), with nothing
 * queued for the destination, one recv() and one send() move a message: only what the
 * destination's socket did not take is queued in its output. Otherwise the bytes are read into
 * the source's input and handed to the protocol's engine (struct protocol on_read) or to the
 * chain (conn_on_read).
 *
 * Closing: EOF on one side is passed on as a shutdown(SHUT_WR) of the other once everything
 * before it was written (half-close); the pair ends when both directions are shut, or on an
 * error, or when a fault or the proxy closes it (conn_close.c). A close never frees the
 * connection under a callback that is still using it: callbacks hold c->busy and the last one
 * out frees.
 */
#include "proxy/proxy.h"
#include "proxy/conn_int.h"
#include "proxy/protocol.h"
#include "proxy/tls.h"
#include "faults/chain.h"
#include "common/fd.h"
#include "common/log.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent_struct.h>   /* ev_read, ev_write: see conn.c's essay */

static void pipe_shut_now(struct pipe *p);

/* Starts or stops reading one side. The side's ev_read is our own reading (conn_readable, assigned
 * in conn_accept and, with libevent's connect, on connect; its argument stays the bufferevent,
 * which libevent's deferred free of the bufferevent relies on); with libevent's connect, until
 * the upstream is connected its ev_read is still libevent's, and the connect handler arms ours. */
void conn_side_read(struct conn *c, struct bufferevent *bev, int on)
{
    if (!c->own_read) {
        if (on) bufferevent_enable(bev, EV_READ);
        else bufferevent_disable(bev, EV_READ);
    } else if (bev == c->cli || event_get_callback(&bev->ev_read) == conn_readable ||
               event_get_callback(&bev->ev_read) == conn_readable_slow || event_get_callback(&bev->ev_read) == tls_readable) {
        if (on) event_add(&bev->ev_read, NULL);
        else event_del(&bev->ev_read);
        if (on && c->tls) tls_read_resumed(c, bev);   /* records OpenSSL already holds */
        /* a shutdown of this side waiting for its read (pipe_shut) waits no more */
        struct pipe *w = &c->p[bev == c->cli ? 1 : 0];
        if (!on && w->shut_deferred && !c->closing) pipe_shut_now(w);
    }
}

static inline int conn_frames_input(const struct conn *c)
{
    return c->proto && (c->px->spec.protocol->flags & PROTO_KEEPS_INPUT);
}

size_t conn_pipe_pending(struct pipe *p)
{
    size_t n = p->dst ? evbuffer_get_length(bufferevent_get_output(p->dst)) : 0;
    for (int i = 0; i < p->ch.nstages; i++) n += stage_held(p->ch.stages[i]);
    /* protocols that keep what they cannot pass yet (a gated request, a partial message) in the
     * source's input (PROTO_KEEPS_INPUT: postgres, redis): it counts against the same bound */
    if (conn_frames_input(p->c) && p->src) n += evbuffer_get_length(bufferevent_get_input(p->src));
    /* plaintext waiting for the destination's TLS handshake */
    if (p->c->tls) n += tls_pending(p->c, !p->dir);
    return n;
}

void pipe_after_io(struct pipe *p)
{
    struct conn *c = p->c;
    if (c->closing || !p->src) return;
    size_t hiwat = c->px->srv->g.buffer;
    size_t pend = conn_pipe_pending(p);
    if (!p->read_paused && pend >= hiwat) {
        conn_side_read(c, p->src, 0);
        p->read_paused = 1;
    } else if (p->read_paused && pend <= hiwat / 2 && !p->src_eof) {
        p->read_paused = 0;
        conn_side_read(c, p->src, 1);
    }
}

/* A protocol with PROTO_CORK (http) delivers a response head and its body (or several pipelined
 * answers) in separate calls while it handles one read. During that read the bytes bound for an idle destination
 * are gathered here ("corked") and leave in one write when the read's handling ends, instead of
 * one write each. Only the connection whose read is being handled corks; anything that looks
 * at or closes its destinations first uncorks (pipe_eof_out, conn_close). */
static struct evbuffer *cork_buf[2];
static struct conn *cork_conn;

static void pipe_uncork(struct pipe *p)
{
    struct evbuffer *b = cork_buf[p->dir];
    if (!b || !evbuffer_get_length(b)) return;
    struct conn *c = p->c;
    if (c->closing || !p->dst || p->shut) {
        evbuffer_drain(b, evbuffer_get_length(b));
        return;
    }
    if (tls_wraps(c, c->tls, !p->dir)) {
        tls_deliver(c, !p->dir, b, evbuffer_get_length(b));
        return;
    }
    struct evbuffer *out = bufferevent_get_output(p->dst);
    if (evbuffer_get_length(out) == 0) evbuffer_write(b, bufferevent_getfd(p->dst));
    if (evbuffer_get_length(b)) evbuffer_add_buffer(out, b);
}

void conn_uncork(struct conn *c)
{
    if (cork_conn != c) return;
    cork_conn = NULL;
    pipe_uncork(&c->p[0]);
    pipe_uncork(&c->p[1]);
}

void pipe_deliver(struct pipe *p, struct evbuffer *buf, size_t n)
{
    size_t len = evbuffer_get_length(buf);
    if (n > len) n = len;
    if (!n) return;
    struct conn *c = p->c;
    if (c->closing || !p->dst || p->shut) {
        evbuffer_drain(buf, n);
        return;
    }
    struct evbuffer *out = bufferevent_get_output(p->dst);
    size_t left = n;
    if (cork_conn == c && evbuffer_get_length(out) == 0 && (p->dir == 1 || c->up_connected)) {
        struct evbuffer *b = cork_buf[p->dir];
        if (!b && !(b = cork_buf[p->dir] = evbuffer_new())) abort();
        if (n == len) evbuffer_add_buffer(b, buf);
        else evbuffer_remove_buffer(buf, b, n);
        left = 0;
    } else if (tls_wraps(c, c->tls, !p->dir)) {
        tls_deliver(c, !p->dir, buf, n);   /* encrypted into the destination's socket or output */
        left = 0;
    } else if (evbuffer_get_length(out) == 0 && (p->dir == 1 || c->up_connected) && !c->p[!p->dir].src_eof) {
        /* nothing queued: write now rather than arm the write event for the next loop turn
         * (what a fault releases leaves when it is due; an error is left for the write event).
         * Not toward a side that has sent its EOF: a peer that closed for good answers the
         * bytes with a reset, and only the write event's next write sees it (a direct write
         * succeeds, nothing watches the socket, and the pair would wait forever) */
        int w = evbuffer_write_atmost(buf, bufferevent_getfd(p->dst), (ev_ssize_t)n);
        if (w > 0) left -= (size_t)w;
    }
    if (left == evbuffer_get_length(buf)) evbuffer_add_buffer(out, buf);
    else if (left) evbuffer_remove_buffer(buf, out, left);
    p->bytes += n;
    if (p->dir == 0) c->px->st.bytes_up += n;
    else { c->px->st.bytes_down += n; if (!c->t_cli_eof) c->t_last_down = fl_now_us(); }
}

/* Shuts dst's write side now (the direction's EOF has reached it). */
static void pipe_shut_now(struct pipe *p)
{
    if (p->shut || !p->dst) return;
    p->shut = 1;
    p->shut_deferred = 0;
    /* When the other direction is already shut (or its shutdown waits, see pipe_shut) and dst has
     * sent its EOF, the pair closes right now, and close() sends the same FIN (nothing is unread
     * after dst's EOF): save the call(s). */
    struct pipe *o = &p->c->p[!p->dir];
    evutil_socket_t fd = bufferevent_getfd(p->dst);
    int queued = 0;   /* TLS: the close_notify is still queued, the FIN comes at close */
    if (fd >= 0 && !((o->shut || o->shut_deferred) && o->src_eof)) {
        if (p->c->tls) queued = tls_shut_write(p->c, !p->dir, fd);
        else shutdown(fd, SHUT_WR);
    }
    if (!queued) bufferevent_disable(p->dst, EV_WRITE);
    if (o->shut_deferred && o->src_eof) {
        o->shut_deferred = 0;
        o->shut = 1;
        if (o->dst) bufferevent_disable(o->dst, EV_WRITE);
    }
}

/* Shuts dst's write side, or, for a plain relay (no engine), waits for the rest of this loop turn when dst's own
 * read is already due in it: when the peers close at once (a client hanging up as soon as it has
 * its answer while the upstream closes too), that read is often dst's EOF, and then the pair
 * closes with no shutdown at all (pipe_shut_now). Otherwise the shutdown follows that read
 * (conn_readable), or the pause of that read (conn_side_read), within the same turn. The test
 * reads libevent's EVLIST_ACTIVE flag of the event: see conn_int.h. */
static void pipe_shut(struct pipe *p)
{
    if (p->shut || !p->dst) return;
    struct pipe *o = &p->c->p[!p->dir];
    if (!p->c->proto && !o->src_eof && !p->shut_deferred && (p->dst->ev_read.ev_evcallback.evcb_flags & EVLIST_ACTIVE) &&
        event_get_callback(&p->dst->ev_read) == conn_readable) {
        p->shut_deferred = 1;
        return;
    }
    pipe_shut_now(p);
}

void pipe_eof_out(struct pipe *p)
{
    p->eof_at_sink = 1;
    if (cork_conn == p->c) pipe_uncork(p);   /* the EOF goes after what was corked */
    if (p->c->closing || !p->dst) return;
    if (p->dir == 0 && !p->c->up_connected && (p->c->px->spec.protocol->flags & PROTO_ROUTES) && !p->c->route) {
        conn_close(p->c, CLOSER_CLIENT, CLOSE_FIN);     /* a forward proxy's client left before any destination */
        return;
    }
    if (p->dir == 0 && !p->c->up_connected) return;     /* shut after connect */
    if (evbuffer_get_length(bufferevent_get_output(p->dst)) == 0) {
        pipe_shut(p);
        conn_try_finish(p->c);
    } else {
        bufferevent_setwatermark(p->dst, EV_WRITE, 0, 0);
    }
}

/* ---- bufferevent callbacks ---- */

/* The client speaks: the turn before it ended with the last bytes it was sent (if any were). */
static void turn_up(struct conn *c)
{
    if (c->t_turn && c->t_last_down > c->t_turn) {
        int64_t d = c->t_last_down - c->t_turn;
        if (d > c->turn_max_us) { c->turn_max_us = d; c->t_turn_max = c->t_turn; }
        c->t_turn = 0;
    }
    if (!c->t_turn) c->t_turn = c->t_last_up;
}

/* A read into the source's input (conn_readable, or libevent's own): a protocol engine decides what
 * enters the chain (struct protocol on_read), else it all does */
void conn_on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct pipe *p = (bev == c->cli) ? &c->p[0] : &c->p[1];
    struct evbuffer *in = bufferevent_get_input(bev);
    if (p->dir == 0) { c->t_last_up = fl_now_us(); if (!c->t_first_up) c->t_first_up = c->t_last_up; turn_up(c); }
    else if (!c->t_first_down) c->t_first_down = fl_now_us();
    c->busy++;
    if (c->proto) {
        uint64_t down0 = c->p[1].bytes;
        const struct protocol *pr = c->px->spec.protocol;
        if (pr->flags & PROTO_CORK) {
            cork_conn = c;
            pr->on_read(c, p, in);
            conn_uncork(c);
        } else {
            pr->on_read(c, p, in);
        }
        if (c->p[1].bytes != down0 && !c->t_cli_eof) c->t_last_down = fl_now_us();   /* written straight to the client */
    } else {
        p->bytes_in += evbuffer_get_length(in);
        pipe_input(p, in);
    }
    if (!c->closing) pipe_after_io(p);
    if (--c->busy == 0 && c->dead) conn_free(c);
}

/* ---- reading ---- */

/* One read asks for at most this much: a 64 KiB evbuffer chain with its header. */
#define READ_CHUNK (64 * 1024 - 256)
static char conn_rbuf[READ_CHUNK];   /* one event loop per process: one scratch buffer */

/* Reads at most want bytes from fd at the end of buf. Returns the count, 0 at EOF, -1 on error
 * (errno set; EAGAIN when nothing was there). */
static ssize_t read_into(evutil_socket_t fd, struct evbuffer *buf, size_t want)
{
    struct evbuffer_iovec v[2];
    int nv = evbuffer_reserve_space(buf, (ev_ssize_t)want, v, 2);
    if (nv <= 0) { errno = ENOMEM; return -1; }
    struct iovec iov[2];
    size_t room = 0;
    for (int i = 0; i < nv; i++) {
        iov[i].iov_base = v[i].iov_base;
        iov[i].iov_len = v[i].iov_len < want - room ? v[i].iov_len : want - room;
        room += iov[i].iov_len;
    }
    ssize_t r = nv == 1 ? recv(fd, iov[0].iov_base, iov[0].iov_len, 0) : readv(fd, iov, nv);
    if (r <= 0) return r;
    size_t left = (size_t)r;
    int used = 0;
    for (int i = 0; i < nv && left; i++, used++) {
        v[i].iov_len = left < iov[i].iov_len ? left : iov[i].iov_len;
        left -= v[i].iov_len;
    }
    evbuffer_commit_space(buf, v, used);
    return r;
}

/* The chain's read when a fault asked for arrival times (stage_want_arrival, the latency fault):
 * recvmsg() with the kernel's receive time of the bytes, kept in p->ch.rx_us (monotonic; 0 if the
 * kernel gave none) while they go through the chain. The fast path never comes here. */
void pipe_stamp_arrivals(struct pipe *p, evutil_socket_t fd)
{
    if (p->rxts_on || fd < 0) return;
    int one = 1;
    p->rxts_on = 1;
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
}

static ssize_t recv_stamped(struct pipe *p, evutil_socket_t fd, size_t want)
{
    pipe_stamp_arrivals(p, fd);
    union { char b[CMSG_SPACE(sizeof(struct timespec))]; struct cmsghdr align; } cm;
    struct iovec iov = {conn_rbuf, want};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof(cm.b)};
    ssize_t r = recvmsg(fd, &mh, 0);
    p->ch.rx_us = 0;
    if (r > 0)
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h))
            if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(h), sizeof(ts));
                p->ch.rx_us = fl_now_us() - (fl_wall_us() - ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000));
            }
    return r;
}

/* A socket is readable. Fast path (no engine, no fault acting on the direction): with nothing
 * queued for the destination, recv() into a scratch buffer and send() at once, queueing only
 * what the socket did not take; else append to its output. A read that fills what it asked for
 * is followed by another, up to the direction's bound per wakeup (the socket may hold more: one
 * wakeup, not one per 4 KiB); only those follow-up reads go straight into the output's memory,
 * since they are likely to fill what they reserve. Otherwise one read into the source's input,
 * which enters the chain. Memory follows the bytes read: no 64 KiB chain for a 5-byte read (a
 * hung connection keeps what it holds). EOF and errors go to conn_on_event as libevent would. */
static inline __attribute__((always_inline)) void conn_read(evutil_socket_t fd, short what, void *arg, const int may_fast)
{
    struct bufferevent *bev = arg;
    struct conn *c = bev->cbarg;
    if (c->closing) return;
    struct pipe *p = &c->p[bev == c->cli ? 0 : 1];
    size_t bound = c->px->srv->g.buffer, total = 0;
    ssize_t r = 0;
    int sent_up = 0, up_err = 0, held_more = 0;
    int fast = may_fast && !c->proto && p->ch.nlive == 0 && p->dst;
    /* the peer's FIN is in (EPOLLRDHUP): the bytes read now are its last */
    int last = (what & EV_CLOSED) != 0;
    if (fast) {
        struct evbuffer *out = bufferevent_get_output(p->dst);
        /* toward an upstream still connecting: the send proves the connect (see above) */
        int direct = (p->dir == 1 || c->up_connected || conn_up_connecting(c)) && !p->shut;
        evutil_socket_t dfd = event_get_fd(&p->dst->ev_write);
        for (int i = 0;; i++) {
            size_t have = evbuffer_get_length(out), want = bound > have ? bound - have : 0;
            if (want > READ_CHUNK) want = READ_CHUNK;
            if (want == 0) break;
            if (have == 0 && direct) {
                r = recv(fd, conn_rbuf, want, 0);
                if (r > 0) {
                    /* the source's last bytes, all of them (a short read after its FIN): held
                     * back (MSG_MORE) for the EOF that this call passes on next, so that they
                     * and the FIN leave in one segment rather than two */
                    int more = last && (size_t)r < want && (p->dir == 1 || c->up_connected);
                    ssize_t w = send(dfd, conn_rbuf, (size_t)r, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
                    if (more && w > 0) held_more = 1;
                    if (p->dir == 0 && !c->up_connected && !sent_up) {
                        if (w > 0) sent_up = 1;
                        else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { up_err = errno; break; }
                    }
                    /* not all taken (or an error, which the output's write will report) */
                    if (w < r) evbuffer_add(out, conn_rbuf + (w > 0 ? w : 0), (size_t)(r - (w > 0 ? w : 0)));
                }
            } else if (i == 0) {
                /* copied in: a reservation of `want` would allocate a 64 KiB chain for a few bytes */
                r = recv(fd, conn_rbuf, want, 0);
                if (r > 0) evbuffer_add(out, conn_rbuf, (size_t)r);
            } else {
                /* the last read came back full: a stream, read in place */
                r = read_into(fd, out, want);
            }
            if (r <= 0) break;
            total += (size_t)r;
            if (total >= bound) break;
            if ((size_t)r < want && !last) break;
            /* (after the FIN, a short read is followed by the EOF: read it now, not on the
             * loop's next turn) */
        }
        if (evbuffer_get_length(out) >= bound) {
            event_del(&bev->ev_read);
            p->read_paused = 1;
        }
    } else {
        struct evbuffer *in = bufferevent_get_input(bev);
        size_t pend = conn_pipe_pending(p), want = bound > pend ? bound - pend : 0;
        if (want > READ_CHUNK) want = READ_CHUNK;
        if (want == 0) want = 1;   /* pipe_after_io pauses after this read */
        r = p->want_rxts ? recv_stamped(p, fd, want) : recv(fd, conn_rbuf, want, 0);
        if (r > 0) {
            total = (size_t)r;
            evbuffer_unfreeze(in, 0);   /* a bufferevent's input takes bytes only from its reader */
            evbuffer_add(in, conn_rbuf, total);
            evbuffer_freeze(in, 0);
        }
    }
    int err = errno;
    c->busy++;
    if (up_err) {
        conn_upstream_failed(c, up_err, 0);
        goto out;
    }
    /* the first bytes taken by, or read from, a connecting upstream prove its connect */
    if ((sent_up || (bev == c->up && (total || r == 0))) && conn_up_connecting(c)) {
        conn_up_connected(c);
        if (c->closing) goto out;
    }
    if (total && fast) {
        if (p->dir == 0) { c->t_last_up = fl_now_us(); if (!c->t_first_up) c->t_first_up = c->t_last_up; turn_up(c); }
        else if (!c->t_first_down) c->t_first_down = fl_now_us();
        p->bytes += total;
        p->bytes_in += total;
        if (p->dir == 0) c->px->st.bytes_up += total;
        else { c->px->st.bytes_down += total; if (!c->t_cli_eof) c->t_last_down = fl_now_us(); }
    } else if (total) {
        conn_on_read(bev, c);   /* the chain, or the protocol's engine: as after libevent's own read */
        p->ch.rx_us = 0;   /* later emits (a stage's timer) are not this read's bytes */
    }
    if (r == 0 && !c->closing) {
        event_del(&bev->ev_read);
        conn_on_event(bev, BEV_EVENT_READING | BEV_EVENT_EOF, c);
    } else if (r < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR && !c->closing) {
        event_del(&bev->ev_read);
        EVUTIL_SET_SOCKET_ERROR(err);
        conn_on_event(bev, BEV_EVENT_READING | BEV_EVENT_ERROR, c);
    }
    /* this side's shutdown waited for this read (pipe_shut): it was not the EOF */
    struct pipe *w = &c->p[bev == c->cli ? 1 : 0];
    if (w->shut_deferred && !c->closing) {
        pipe_shut_now(w);
        conn_try_finish(c);
    }
    /* bytes held for a FIN that did not follow after all: sent now (setting TCP_NODELAY pushes
     * what is pending) */
    if (held_more && !c->closing && p->dst && !p->shut && !p->shut_deferred) {
        int one = 1;
        setsockopt(bufferevent_getfd(p->dst), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
out:
    if (--c->busy == 0 && c->dead) conn_free(c);
}

/* Two instances of the same read: the plain path's, and one with no fast path for the plain side of
 * a connection with TLS (its other side encrypts) -- so the plain path itself tests nothing more. */
void conn_readable(evutil_socket_t fd, short what, void *arg) { conn_read(fd, what, arg, 1); }
void conn_readable_slow(evutil_socket_t fd, short what, void *arg) { conn_read(fd, what, arg, 0); }

void conn_on_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct pipe *p = (bev == c->up) ? &c->p[0] : &c->p[1];   /* the pipe writing into bev */
    c->busy++;
    if (p->eof_at_sink && !p->shut && (p->dir == 1 || c->up_connected) && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        pipe_shut(p);
        conn_try_finish(c);
    } else {
        pipe_after_io(p);
        if (c->proto && c->px->spec.protocol->on_drain && !c->closing) c->px->spec.protocol->on_drain(c, p);
    }
    if (--c->busy == 0 && c->dead) conn_free(c);
}

static void on_client_gone(struct conn *c)
{
    /* what reaches the client after this answers nothing: it hung up (turns, docs/metrics.md) */
    if (!c->t_cli_eof) c->t_cli_eof = fl_now_us();
    /* the upstream's EOF came first but never left for the client (a fault or the engine still
     * holds it, with what came before it): the client did not see the upstream close, it hung
     * up itself -- the pair is the client's close */
    if (c->closed_by == CLOSER_UPSTREAM && !c->p[1].eof_at_sink) c->closed_by = CLOSER_CLIENT;
    /* the client hung up while a fault held its call: that moment is its effective timeout */
    if (c->t_hang && !c->t_hang_end && !c->t_gave_up) {
        c->t_gave_up = fl_now_us();
        if (c->hang_fault) ((struct fault *)c->hang_fault)->c.abandoned++;
    }
}

void conn_on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    int is_cli = (bev == c->cli);
    c->busy++;
    if (what & BEV_EVENT_CONNECTED) {
        /* a named upstream's socket is made by libevent once the name is resolved (without
         * close-on-exec: common/fd.h) */
        if (c->px->spec.upstream.kind == ADDR_NAME) {
            conn_set_nodelay(bufferevent_getfd(c->up));
            fl_cloexec(bufferevent_getfd(c->up));
        }
        if (c->tls && tls_up_connected(c)) goto out;   /* TLS: connected once its handshake is (proxy/tls_io.c) */
        if (c->own_read) {
            /* libevent's connect handling is done with ev_read: it becomes conn_readable */
            event_del(&c->up->ev_read);
            event_assign(&c->up->ev_read, c->px->srv->base, bufferevent_getfd(c->up), EV_READ | EV_CLOSED | EV_PERSIST | EV_FINALIZE,
                         c->tls ? tls_read_fn(c, 1) : conn_readable, c->up);
            if (!c->p[1].read_paused && !c->p[1].src_eof) event_add(&c->up->ev_read, NULL);
        }
        conn_up_connected(c);   /* counts it; passes on an EOF that came out of the chain meanwhile */
        goto out;
    }
    if (!is_cli && !c->up_connected) {
        int err = EVUTIL_SOCKET_ERROR();
        int dns = (what & BEV_EVENT_ERROR) ? bufferevent_socket_get_dns_error(bev) : 0;
        conn_upstream_failed(c, err, dns);
        goto out;
    }
    if (is_cli) on_client_gone(c);
    enum closer who = is_cli ? CLOSER_CLIENT : CLOSER_UPSTREAM;
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
        /* a client that hangs up on a held call has given up: end the pair */
        if (is_cli && c->t_hang && !c->t_hang_end) {
            conn_close(c, CLOSER_CLIENT, CLOSE_FIN);
            goto out;
        }
        struct pipe *p = is_cli ? &c->p[0] : &c->p[1];
        if (!c->closed_by) c->closed_by = who;
        p->src_eof = 1;
        /* a protocol engine may pass the EOF on later itself, after what it holds */
        const struct protocol *pr = c->px->spec.protocol;
        if (!c->proto || !pr->on_eof || !pr->on_eof(c, p)) pipe_eof_in(p);
        goto out;
    }
    if (!is_cli && (what & BEV_EVENT_ERROR) && c->proto && c->px->spec.protocol->upstream_reset) {
        /* an upstream reset (a server closing with unread requests sends RST, not FIN): the
         * engine answers what it left open (http: a 502, as after an early EOF) */
        if (!c->closed_by) c->closed_by = who;
        c->p[1].src_eof = 1;
        c->px->spec.protocol->upstream_reset(c);
        goto out;
    }
    /* error or timeout: the pair ends */
    conn_close(c, who, CLOSE_FIN);
out:
    if (--c->busy == 0 && c->dead) conn_free(c);
}
