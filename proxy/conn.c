/* conn.c -- one client connection paired with one upstream connection.
 *
 * The data path is libevent's le-proxy loop: on read, move the input evbuffer into the
 * partner's output (no copy); when the partner's output, plus whatever fault stages hold, passes
 * the proxy's buffer bound, stop reading this side until the partner drains below half of it.
 * With no fault acting on a direction that is all that happens (the fast path). Otherwise the
 * bytes go through the direction's stage chain (faults/chain.c) and come out in pipe_deliver().
 *
 * Reading: in tcp mode conn.c reads both sockets itself (conn_readable) and the bufferevents only
 * write; libevent 2.1's own reading costs an ioctl(FIONREAD) per read and stops at 4 KiB. On the
 * fast path, with nothing queued for the destination, one recv() and one send() move a message:
 * only what the destination's socket did not take is queued in its output. http mode reads the
 * same way into the bufferevent's input and hands it to its parser (on_read); postgres and redis
 * modes (read watermarks, their own writes) keep the bufferevents' reading.
 *
 * Closing: EOF on one side is passed on as a shutdown(SHUT_WR) of the other once everything
 * before it was written (half-close); the pair ends when both directions are shut, or on an
 * error, or when a fault or the proxy closes it. A close never frees the connection under a
 * callback that is still using it: callbacks hold c->busy and the last one out frees.
 */
#include "proxy/proxy.h"
#include "proxy/protocol.h"
#include "faults/chain.h"
#include "common/log.h"
#include "record/record.h"

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
#include <event2/bufferevent_struct.h>   /* ev_write: see conn_accept (libevent 2.1) */

static const char *closer_names[] = {"none", "client", "upstream", "proxy", "fault"};
const char *closer_str(enum closer c) { return closer_names[c]; }

static void conn_try_finish(struct conn *c);
static void conn_readable(evutil_socket_t fd, short what, void *arg);
static void pipe_shut_now(struct pipe *p);

/* Small answers leave at once (no Nagle wait behind an unacknowledged segment), as haproxy and
 * nginx do: TCP_NODELAY on the upstream socket (the client side inherits it from the listening
 * socket, proxy_bind). */
static void set_nodelay(evutil_socket_t fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Starts or stops reading one side. In tcp and http mode the side's ev_read is conn.c's own read event
 * (conn_readable, assigned in conn_accept and, in http mode, on connect; its argument stays the
 * bufferevent, which libevent's deferred free of the bufferevent relies on); in http mode, until
 * the upstream is connected its ev_read is still libevent's, and the connect handler arms ours. */
static void side_read(struct conn *c, struct bufferevent *bev, int on)
{
    if (!c->own_read) {
        if (on) bufferevent_enable(bev, EV_READ);
        else bufferevent_disable(bev, EV_READ);
    } else if (bev == c->cli || event_get_callback(&bev->ev_read) == conn_readable) {
        if (on) event_add(&bev->ev_read, NULL);
        else event_del(&bev->ev_read);
        /* a shutdown of this side waiting for its read (pipe_shut) waits no more */
        struct pipe *w = &c->p[bev == c->cli ? 1 : 0];
        if (!on && w->shut_deferred && !c->closing) pipe_shut_now(w);
    }
}

static inline int conn_frames_input(const struct conn *c)
{
    return c->proto && (c->px->spec.protocol->flags & PROTO_KEEPS_INPUT);
}

static size_t pipe_pending(struct pipe *p)
{
    size_t n = p->dst ? evbuffer_get_length(bufferevent_get_output(p->dst)) : 0;
    for (int i = 0; i < p->ch.nstages; i++) n += stage_held(p->ch.stages[i]);
    /* protocols that keep what they cannot pass yet (a gated request, a partial message) in the
     * source's input (PROTO_KEEPS_INPUT: postgres, redis): it counts against the same bound */
    if (conn_frames_input(p->c) && p->src) n += evbuffer_get_length(bufferevent_get_input(p->src));
    return n;
}

void pipe_after_io(struct pipe *p)
{
    struct conn *c = p->c;
    if (c->closing || !p->src) return;
    size_t hiwat = c->px->srv->g.buffer;
    size_t pend = pipe_pending(p);
    if (!p->read_paused && pend >= hiwat) {
        side_read(c, p->src, 0);
        p->read_paused = 1;
    } else if (p->read_paused && pend <= hiwat / 2 && !p->src_eof) {
        p->read_paused = 0;
        side_read(c, p->src, 1);
    }
}

/* http mode delivers a response head and its body (or several pipelined answers) in separate
 * calls while it handles one read. During that read the bytes bound for an idle destination
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
    struct evbuffer *out = bufferevent_get_output(p->dst);
    if (evbuffer_get_length(out) == 0) evbuffer_write(b, bufferevent_getfd(p->dst));
    if (evbuffer_get_length(b)) evbuffer_add_buffer(out, b);
}

static void conn_uncork(struct conn *c)
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
    if (fd >= 0 && !((o->shut || o->shut_deferred) && o->src_eof)) shutdown(fd, SHUT_WR);
    bufferevent_disable(p->dst, EV_WRITE);
    if (o->shut_deferred && o->src_eof) {
        o->shut_deferred = 0;
        o->shut = 1;
        if (o->dst) bufferevent_disable(o->dst, EV_WRITE);
    }
}

/* Shuts dst's write side, or, in tcp mode, waits for the rest of this loop turn when dst's own
 * read is already due in it: when the peers close at once (a client hanging up as soon as it has
 * its answer while the upstream closes too), that read is often dst's EOF, and then the pair
 * closes with no shutdown at all (pipe_shut_now). Otherwise the shutdown follows that read
 * (conn_readable), or the pause of that read (side_read), within the same turn. */
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
    if (p->dir == 0 && !p->c->up_connected) return;     /* shut after connect */
    if (evbuffer_get_length(bufferevent_get_output(p->dst)) == 0) {
        pipe_shut(p);
        conn_try_finish(p->c);
    } else {
        bufferevent_setwatermark(p->dst, EV_WRITE, 0, 0);
    }
}

const char *conn_peer(const struct conn *c)
{
    static char text[64];
    return sockaddr_str((const struct sockaddr *)&c->peer_sa, text, sizeof(text));
}

static void conn_unlink(struct conn *c)
{
    struct fl_proxy *px = c->px;
    if (c->prev) c->prev->next = c->next;
    else px->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void conn_mark_dead(struct conn *c)
{
    if (c->dead) return;
    c->dead = 1;
    struct fl_proxy *px = c->px;
    c->t_close = fl_now_us();
    if (c->t_hang && !c->t_hang_end && !c->t_gave_up && c->closed_by != CLOSER_CLIENT) c->held_at_end = 1;
    px->st.active--;
    px->st.closed_by[c->closed_by]++;
    if (log_min_level <= LOG_DEBUG) {
        char up[320];
        log_debug("close", "id=%llu proxy=%s peer=%s upstream=%s bytes_up=%llu bytes_down=%llu duration_ms=%.1f "
                  "closed_by=%s fault=%s",
                  (unsigned long long)c->id, log_q(px->spec.name), log_q(conn_peer(c)),
                  log_q(addr_str(&px->spec.upstream, up, sizeof(up))), (unsigned long long)c->p[0].bytes,
                  (unsigned long long)c->p[1].bytes, (double)(c->t_close - c->t_open) / 1000.0,
                  closer_str(c->closed_by), c->fault_name[0] ? log_q(c->fault_name) : "-");
    }
    if (rec_active) conn_record_close(c);
    conn_unlink(c);
}

void conn_free(struct conn *c)
{
    struct fl_proxy *px = c->px;
    if (px->spec.protocol->conn_free) px->spec.protocol->conn_free(c);   /* its state (c->proto) */
    for (int d = 0; d < 2; d++) {
        for (int i = 0; i < c->p[d].ch.nstages; i++) stage_free(c->p[d].ch.stages[i]);
        free(c->p[d].ch.stages);
    }
    if (c->cli) bufferevent_free(c->cli);
    if (c->up) bufferevent_free(c->up);
    free(c);
    if (px->retired && !px->conns) {
        struct fl_server *s = px->srv;
        for (struct fl_proxy **pp = &s->retired; *pp; pp = &(*pp)->next_retired)
            if (*pp == px) { *pp = px->next_retired; break; }
        proxy_free(px);
    }
}

static void linger0(struct bufferevent *bev)
{
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd < 0) return;
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* FIN close of one side: flush its output first, bounded by the drain time. */
static void closing_write_cb(struct bufferevent *bev, void *arg);
static void closing_event_cb(struct bufferevent *bev, short what, void *arg);

/* Reads and drops what the peer sent that nobody will read (e.g. a request to an upstream that
 * is down): close(2) on a socket with unread bytes sends a reset, and a FIN close should look
 * like one. Bounded: 64 KiB at most. */
static void drop_unread(struct bufferevent *bev)
{
    evutil_socket_t fd = bufferevent_getfd(bev);
    char buf[4096];
    for (int i = 0; fd >= 0 && i < 16 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++) {}
}

static void close_side(struct conn *c, struct bufferevent **bevp)
{
    struct bufferevent *bev = *bevp;
    if (!bev) return;
    side_read(c, bev, 0);
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 || (bev == c->up && !c->up_connected)) {
        /* (a side whose EOF was read has nothing unread: skip the syscall) */
        if ((bev == c->cli && !c->p[0].src_eof) || (bev == c->up && c->up_connected && !c->p[1].src_eof))
            drop_unread(bev);
        bufferevent_free(bev);
        *bevp = NULL;
        return;
    }
    struct timeval tv = {(time_t)(c->px->srv->g.drain_us / 1000000), (suseconds_t)(c->px->srv->g.drain_us % 1000000)};
    if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_sec = 1;
    bufferevent_set_timeouts(bev, NULL, &tv);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    bufferevent_setcb(bev, NULL, closing_write_cb, closing_event_cb, c);
    bufferevent_enable(bev, EV_WRITE);
}

static void side_done(struct conn *c, struct bufferevent *bev)
{
    if (bev == c->cli) c->cli = NULL;
    else if (bev == c->up) c->up = NULL;
    bufferevent_free(bev);
    if (!c->cli && !c->up) conn_mark_dead(c);
}

static void closing_write_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        c->busy++;
        side_done(c, bev);
        if (--c->busy == 0 && c->dead) conn_free(c);
    }
}

static void closing_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    c->busy++;
    side_done(c, bev);
    if (--c->busy == 0 && c->dead) conn_free(c);
}

void conn_close(struct conn *c, enum closer who, enum close_how how)
{
    if (c->closing) return;
    conn_uncork(c);   /* a FIN close flushes what was delivered before it */
    c->closing = 1;
    if (c->closed_by == CLOSER_NONE) c->closed_by = who;
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < c->p[d].ch.nstages; i++) stage_timer(c->p[d].ch.stages[i], -1);
    if (how == CLOSE_RST) {
        if (c->cli) { linger0(c->cli); bufferevent_free(c->cli); c->cli = NULL; }
        if (c->up) { linger0(c->up); bufferevent_free(c->up); c->up = NULL; }
    } else {
        close_side(c, &c->cli);
        close_side(c, &c->up);
    }
    c->p[0].src = c->p[0].dst = c->p[1].src = c->p[1].dst = NULL;
    if (!c->cli && !c->up) conn_mark_dead(c);
    if (c->busy == 0 && c->dead) conn_free(c);
}

void conn_kill(struct conn *c)
{
    c->busy++;
    conn_close(c, CLOSER_PROXY, CLOSE_RST);
    if (!c->dead) {
        /* it was already closing: a side still flushing (FIN close) is cut now */
        if (c->cli) { linger0(c->cli); bufferevent_free(c->cli); c->cli = NULL; }
        if (c->up) { linger0(c->up); bufferevent_free(c->up); c->up = NULL; }
        conn_mark_dead(c);
    }
    if (--c->busy == 0 && c->dead) conn_free(c);
}

static void conn_try_finish(struct conn *c)
{
    if (c->closing) return;
    if (c->p[0].shut && c->p[1].shut) conn_close(c, c->closed_by ? c->closed_by : CLOSER_PROXY, CLOSE_FIN);
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
static void on_read(struct bufferevent *bev, void *arg)
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

static void on_event(struct bufferevent *bev, short what, void *arg);

/* ---- tcp and http mode reading ---- */

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

/* ---- tcp mode: the upstream connect ----
 *
 * tcp mode connects the upstream socket itself rather than through bufferevent_socket_connect,
 * to spend fewer system calls per new connection (bench/results.md, "Per-request cost"):
 * - the client's first bytes are usually in its socket when it is accepted, so conn_accept reads
 *   them at once and sends them to the upstream without waiting for the connect to complete: on
 *   loopback the handshake is done by the time connect() returns, and a send that takes bytes
 *   proves the connect (one that cannot yet returns EAGAIN: the bytes are queued and the connect
 *   watch below writes them);
 * - so the upstream socket is registered once, for reading (conn_readable), and its write event
 *   is armed only while the connect is not proven: libevent's connect handling costs an epoll
 *   EPOLL_CTL_ADD for writing, a MOD to reading once connected and a getsockopt(SO_ERROR);
 * - a first read or write that succeeds on the upstream proves the connect too (up_connected);
 *   the first one that fails reports the connect's error (conn_upstream_failed), as libevent's
 *   connect handling would have. Only a connect that completes with nothing to send and nothing
 *   received yet costs the getsockopt (conn_connect_cb).
 * Names (ADDR_NAME, resolved by evdns) and the protocol modes keep libevent's connect. */

/* libevent's own write callback of a socket bufferevent, put back once the connect is proven */
static event_callback_fn bev_writecb;

static void conn_upstream_failed(struct conn *c, int err, int dns);
static void on_write(struct bufferevent *bev, void *arg);

static void conn_connect_cb(evutil_socket_t fd, short what, void *arg);

/* tcp mode: the upstream connect is under way (its write event is the connect watch) */
static int up_connecting(const struct conn *c)
{
    return !c->up_connected && c->up && event_get_callback(&c->up->ev_write) == conn_connect_cb;
}

/* The upstream connect is proven: counts it, hands the write event back to libevent (armed
 * if bytes are queued) and passes on an EOF that came out of the chain meanwhile. */
static void up_connected(struct conn *c)
{
    if (c->up_connected) return;
    c->up_connected = 1;
    c->t_connected = fl_now_us();
    c->px->st.upstream_ok++;
    struct bufferevent *up = c->up;
    if (event_get_callback(&up->ev_write) == conn_connect_cb) {
        int armed = event_pending(&up->ev_write, EV_WRITE, NULL) != 0;
        event_del(&up->ev_write);
        event_assign(&up->ev_write, c->px->srv->base, event_get_fd(&up->ev_read), EV_WRITE | EV_PERSIST | EV_FINALIZE,
                     bev_writecb, up);
        if (armed && evbuffer_get_length(bufferevent_get_output(up))) event_add(&up->ev_write, NULL);
    }
    if (c->p[0].eof_at_sink) pipe_eof_out(&c->p[0]);
}

/* The upstream socket became writable (or failed) before anything proved the connect: write what
 * is queued for it (success proves the connect) or, with nothing queued, ask for the result. */
static void conn_connect_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct bufferevent *bev = arg;
    struct conn *c = bev->cbarg;
    if (c->closing || c->up_connected) return;
    c->busy++;
    struct evbuffer *out = bufferevent_get_output(bev);
    int err = 0;
    if (evbuffer_get_length(out)) {
        /* a bufferevent's output gives bytes only to its own writer: frozen at the front */
        evbuffer_unfreeze(out, 1);
        errno = 0;
        if (evbuffer_write(out, fd) < 0) err = errno ? errno : EIO;
        evbuffer_freeze(out, 1);
    } else {
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    }
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == EINPROGRESS) {
        /* not yet */
    } else if (err) {
        conn_upstream_failed(c, err, 0);
    } else {
        up_connected(c);
        if (!c->closing && c->up) on_write(c->up, c);   /* as after libevent's write: EOF, backpressure */
    }
    if (--c->busy == 0 && c->dead) conn_free(c);
}

/* A tcp-mode socket is readable. Fast path (no fault acts on the direction): with nothing
 * queued for the destination, recv() into a scratch buffer and send() at once, queueing only
 * what the socket did not take; else append to its output. A read that fills what it asked for
 * is followed by another, up to the direction's bound per wakeup (the socket may hold more: one
 * wakeup, not one per 4 KiB); only those follow-up reads go straight into the output's memory,
 * since they are likely to fill what they reserve. Otherwise one read into the source's input,
 * which enters the chain. Memory follows the bytes read: no 64 KiB chain for a 5-byte read (a
 * hung connection keeps what it holds). EOF and errors go to on_event as libevent would. */
static void conn_readable(evutil_socket_t fd, short what, void *arg)
{
    struct bufferevent *bev = arg;
    struct conn *c = bev->cbarg;
    if (c->closing) return;
    struct pipe *p = &c->p[bev == c->cli ? 0 : 1];
    size_t bound = c->px->srv->g.buffer, total = 0;
    ssize_t r = 0;
    int sent_up = 0, up_err = 0, held_more = 0;
    int fast = !c->proto && p->ch.nlive == 0 && p->dst;
    /* the peer's FIN is in (EPOLLRDHUP): the bytes read now are its last */
    int last = (what & EV_CLOSED) != 0;
    if (fast) {
        struct evbuffer *out = bufferevent_get_output(p->dst);
        /* toward an upstream still connecting: the send proves the connect (see above) */
        int direct = (p->dir == 1 || c->up_connected || up_connecting(c)) && !p->shut;
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
        size_t pend = pipe_pending(p), want = bound > pend ? bound - pend : 0;
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
    if ((sent_up || (bev == c->up && (total || r == 0))) && up_connecting(c)) {
        up_connected(c);
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
        on_read(bev, c);   /* the chain, or the protocol's engine: as after libevent's own read */
        p->ch.rx_us = 0;   /* later emits (a stage's timer) are not this read's bytes */
    }
    if (r == 0 && !c->closing) {
        event_del(&bev->ev_read);
        on_event(bev, BEV_EVENT_READING | BEV_EVENT_EOF, c);
    } else if (r < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR && !c->closing) {
        event_del(&bev->ev_read);
        EVUTIL_SET_SOCKET_ERROR(err);
        on_event(bev, BEV_EVENT_READING | BEV_EVENT_ERROR, c);
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

static void on_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct pipe *p = (bev == c->up) ? &c->p[0] : &c->p[1];   /* the pipe writing into bev */
    c->busy++;
    if (p->eof_at_sink && !p->shut && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        pipe_shut(p);
        conn_try_finish(c);
    } else {
        pipe_after_io(p);
    }
    if (--c->busy == 0 && c->dead) conn_free(c);
}

static void on_client_gone(struct conn *c)
{
    /* what reaches the client after this answers nothing: it hung up (turns, docs/metrics.md) */
    if (!c->t_cli_eof) c->t_cli_eof = fl_now_us();
    /* the client hung up while a fault held its call: that moment is its effective timeout */
    if (c->t_hang && !c->t_hang_end && !c->t_gave_up) {
        c->t_gave_up = fl_now_us();
        if (c->hang_fault) ((struct fault *)c->hang_fault)->c.abandoned++;
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    int is_cli = (bev == c->cli);
    c->busy++;
    if (what & BEV_EVENT_CONNECTED) {
        /* a named upstream's socket is made by libevent once the name is resolved */
        if (c->px->spec.upstream.kind == ADDR_NAME) set_nodelay(bufferevent_getfd(c->up));
        if (c->own_read) {
            /* libevent's connect handling is done with ev_read: it becomes conn_readable */
            event_del(&c->up->ev_read);
            event_assign(&c->up->ev_read, c->px->srv->base, bufferevent_getfd(c->up), EV_READ | EV_CLOSED | EV_PERSIST | EV_FINALIZE,
                         conn_readable, c->up);
            if (!c->p[1].read_paused && !c->p[1].src_eof) event_add(&c->up->ev_read, NULL);
        }
        up_connected(c);   /* counts it; passes on an EOF that came out of the chain meanwhile */
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
        if (!c->proto || !c->px->spec.protocol->on_eof(c, p)) pipe_eof_in(p);
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

/* The upstream connect failed (err: an errno value; dns: libevent's getaddrinfo error, or 0):
 * logged, counted, and the client's connection closed (http mode answers 502 instead). */
static void conn_upstream_failed(struct conn *c, int err, int dns)
{
    c->px->st.upstream_failed++;
    char up[320];
    log_info("upstream_failed", "proxy=%s upstream=%s id=%llu error=%s", log_q(c->px->spec.name),
             log_q(addr_str(&c->px->spec.upstream, up, sizeof(up))), (unsigned long long)c->id,
             dns ? log_q(evutil_gai_strerror(dns)) : log_q(evutil_socket_error_to_string(err)));
    if (c->proto && c->px->spec.protocol->upstream_failed) {   /* the engine answers (http: a 502) */
        c->px->spec.protocol->upstream_failed(c);
        return;
    }
    /* the failure ends the pair, even when the client's EOF was read first (tcp mode reads the
     * client before the connect completes): the record's upstream_failed counts on it */
    c->closed_by = CLOSER_PROXY;
    conn_close(c, CLOSER_PROXY, CLOSE_FIN);
}

/* ---- what faults report (faults/host.h, and the protocol engines) ---- */

void conn_fault_applied(struct conn *c, const struct fault *f)
{
    if (!c->fault_name[0]) {
        snprintf(c->fault_name, sizeof(c->fault_name), "%s", f->name);
        c->applied = f;
    }
    if (rec_active) rec_fault_applied(proxy_rec(c->px));
}

void conn_hold_started(struct conn *c, const struct fault *f)
{
    if (!c->t_hang || c->t_hang_end) {   /* (a new hold after one that was released) */
        c->t_hang = fl_now_us();
        c->t_hang_end = 0;
        c->hang_fault = f;
        if (f) snprintf(c->fault_name, sizeof(c->fault_name), "%s", f->name);
    }
}

void conn_hold_ended(struct conn *c, const struct fault *f)
{
    if (c->hang_fault == f && c->t_hang && !c->t_hang_end && !c->t_gave_up) {
        c->t_hang_end = fl_now_us();
        c->hang_fault = NULL;
    }
}

/* ---- stages ---- */

static int fault_covers(const struct fl_proxy *px, const struct fault *f, int dir)
{
    if (f->type->flags & (FT_CONN_LEVEL | FT_PROTOCOL_ONLY)) return 0;
    if (protocol_owns_fault(px->spec.protocol, f)) return 0;   /* acts inside the protocol's engine */
    return (f->dir & (dir == 0 ? FDIR_UP : FDIR_DOWN)) != 0;
}

void conn_sync_stages(struct conn *c)
{
    struct fl_proxy *px = c->px;
    for (int d = 0; d < 2; d++) {
        struct pipe *p = &c->p[d];
        int cap = px->nfaults + p->ch.nstages;
        struct stage **ns = calloc((size_t)cap + 1, sizeof(*ns));
        if (!ns) abort();
        int n = 0;
        /* orphans (hangs whose fault was removed) go first: they swallow everything. Bytes held
         * by stages that were before an orphan were on their way into it: they are dropped,
         * not let past the hang by the move. */
        int last_orphan = -1;
        for (int i = 0; i < p->ch.nstages; i++)
            if (p->ch.stages[i]->orphan) { ns[n++] = p->ch.stages[i]; last_orphan = i; }
        for (int i = 0; i < last_orphan; i++)
            if (!p->ch.stages[i]->orphan && stage_held(p->ch.stages[i]))
                stage_discard(p->ch.stages[i], p->ch.stages[i]->held, (size_t)-1);
        for (int j = 0; j < px->nfaults; j++) {
            struct fault *f = px->faults[j];
            if (!fault_covers(px, f, d)) continue;
            struct stage *st = NULL;
            for (int i = 0; i < p->ch.nstages; i++)
                if (p->ch.stages[i] && p->ch.stages[i]->f == f) { st = p->ch.stages[i]; p->ch.stages[i] = NULL; break; }
            if (!st) {
                int sel = -1;
                struct pipe *o = &c->p[!d];
                for (int i = 0; i < o->ch.nstages; i++)
                    if (o->ch.stages[i] && o->ch.stages[i]->f == f) sel = o->ch.stages[i]->selected;
                if (sel < 0) {
                    f->c.conns_seen++;
                    sel = f->probability >= 1.0 || (f->probability > 0 && fl_rand01() < f->probability);
                }
                st = stage_new(&p->ch, d, f, sel);
            }
            ns[n++] = st;
        }
        /* stages of faults no longer on the proxy (already ended by proxy_fault_remove) */
        for (int i = 0; i < p->ch.nstages; i++)
            if (p->ch.stages[i] && !p->ch.stages[i]->orphan) stage_free(p->ch.stages[i]);
        free(p->ch.stages);
        p->ch.stages = ns;
        p->ch.nstages = n;
        p->ch.nlive = 0;
        for (int i = 0; i < n; i++) {
            ns[i]->idx = i;
            if (ns[i]->acting) p->ch.nlive++;
        }
    }
    /* start the selected stages of faults acting now */
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < c->p[d].ch.nstages && !c->closing; i++) stage_start(c->p[d].ch.stages[i]);
}

/* ---- accept ---- */

void conn_setcb(struct conn *c)
{
    bufferevent_setcb(c->cli, on_read, on_write, on_event, c);
    bufferevent_setcb(c->up, on_read, on_write, on_event, c);
}

/* tcp mode, a literal upstream address: connects c->up's socket and starts both sides (see
 * "tcp mode: the upstream connect" above). Called with c->busy held. */
static void conn_connect_tcp(struct conn *c, evutil_socket_t cfd)
{
    struct event_base *base = c->px->srv->base;
    const struct fl_addr *ua = &c->px->spec.upstream;
    evutil_socket_t ufd = bufferevent_getfd(c->up);
    int err = 0;
    if (connect(ufd, (const struct sockaddr *)&ua->ss, (socklen_t)ua->sslen) < 0) err = errno;
    if (err && err != EINPROGRESS && err != EINTR) {
        /* refused at once (a unix socket nobody listens on, its backlog full, no route) */
        conn_upstream_failed(c, err, 0);
        return;
    }
    if (!bev_writecb) bev_writecb = event_get_callback(&c->up->ev_write);
    event_assign(&c->cli->ev_read, base, cfd, EV_READ | EV_CLOSED | EV_PERSIST | EV_FINALIZE, conn_readable, c->cli);
    event_assign(&c->up->ev_read, base, ufd, EV_READ | EV_CLOSED | EV_PERSIST | EV_FINALIZE, conn_readable, c->up);
    if (err)   /* in progress: the write event watches the connect until something proves it */
        event_assign(&c->up->ev_write, base, ufd, EV_WRITE | EV_PERSIST | EV_FINALIZE, conn_connect_cb, c->up);
    /* EV_WRITE stays enabled on both; the write events are armed when bytes are queued (see the
     * end of conn_accept), except the connect watch */
    bufferevent_enable(c->cli, EV_WRITE);
    event_del(&c->cli->ev_write);
    bufferevent_enable(c->up, EV_WRITE);
    if (!err) {
        event_del(&c->up->ev_write);
        up_connected(c);
    }
    event_add(&c->up->ev_read, NULL);
    event_add(&c->cli->ev_read, NULL);
    if (c->px->nfaults) conn_sync_stages(c);
    /* the client's first bytes are usually there already: read them now, and send them on
     * before the loop turns (which also spares the upstream's write event) */
    if (!c->closing && !c->p[0].read_paused) conn_readable(cfd, EV_READ, c->cli);
}

void conn_accept(struct fl_proxy *px, evutil_socket_t fd, const struct sockaddr *sa, int salen)
{
    struct fl_server *s = px->srv;
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) { evutil_closesocket(fd); return; }
    c->id = ++s->next_conn_id;
    c->px = px;
    c->t_open = fl_now_us();
    /* the peer's address is kept as it is and written out only when a log line or a record
     * asks for it (conn_peer): most connections are never named. (TCP_NODELAY: inherited from
     * the listening socket, proxy_bind.) */
    if (sa->sa_family == AF_INET) {
        memcpy(&c->peer_sa.in, sa, sizeof(c->peer_sa.in));
    } else if (sa->sa_family == AF_INET6) {
        memcpy(&c->peer_sa.in6, sa, sizeof(c->peer_sa.in6));
    } else {
        c->peer_sa.in.sin_family = AF_UNIX;
    }
    (void)salen;
    c->cli = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    const struct fl_addr *ua = &px->spec.upstream;
    evutil_socket_t ufd = -1;
    if (ua->kind != ADDR_NAME) {
        ufd = socket(ua->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (ufd >= 0 && ua->kind == ADDR_INET) set_nodelay(ufd);
    }
    c->up = bufferevent_socket_new(s->base, ufd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->cli || !c->up || (ua->kind != ADDR_NAME && ufd < 0)) {
        int err = errno;
        if (c->cli) bufferevent_free(c->cli);
        else evutil_closesocket(fd);
        if (c->up) bufferevent_free(c->up);
        else if (ufd >= 0) evutil_closesocket(ufd);
        free(c);
        /* no descriptor for the upstream side: this client is dropped, the others wait in the
         * backlog while accepting pauses (one log line per second at most) */
        proxy_accept_pause(px, err ? err : ENOMEM);
        return;
    }
    c->p[0] = (struct pipe){.c = c, .dir = 0, .src = c->cli, .dst = c->up};
    c->p[1] = (struct pipe){.c = c, .dir = 1, .src = c->up, .dst = c->cli};
    c->own_read = 1;   /* every mode (0 only in tests/fuzz/fuzz_http.c: bufferevent pairs, no socket) */
    if (px->spec.protocol->conn_init) px->spec.protocol->conn_init(c);
    conn_setcb(c);
    size_t half = s->g.buffer / 2;
    bufferevent_setwatermark(c->cli, EV_WRITE, half, 0);
    bufferevent_setwatermark(c->up, EV_WRITE, half, 0);
    /* libevent's default is 16 KiB per write event; let one writev flush the whole bound */
    bufferevent_set_max_single_write(c->cli, s->g.buffer);
    bufferevent_set_max_single_write(c->up, s->g.buffer);
    c->next = px->conns;
    if (px->conns) px->conns->prev = c;
    px->conns = c;
    px->st.accepted++;
    px->st.active++;
    if (px->st.active > px->st.peak_active) px->st.peak_active = px->st.active;
    if (rec_active) rec_conn_open(proxy_rec(px), px->st.active);
    c->busy++;
    int rc;
    if ((px->spec.protocol->flags & PROTO_DIRECT_CONNECT) && ua->kind != ADDR_NAME) {
        conn_connect_tcp(c, fd);
        if (--c->busy == 0 && c->dead) conn_free(c);
        return;
    }
    if (ua->kind == ADDR_NAME)
        rc = bufferevent_socket_connect_hostname(c->up, s->dns, AF_UNSPEC, ua->host, ua->port);
    else
        rc = bufferevent_socket_connect(c->up, (const struct sockaddr *)&ua->ss, (int)ua->sslen);
    if (rc < 0) {
        if (!c->closing) {
            px->st.upstream_failed++;
            conn_close(c, CLOSER_PROXY, CLOSE_FIN);
        }
    } else if (!c->closing) {
        /* EV_WRITE enabled for the client, but its write event unarmed before the loop applies
         * the change: on a fresh socket it would fire at once only to be removed again (an
         * epoll_ctl and a wakeup per connection); libevent arms it again as soon as bytes are
         * queued for the client. Reading is conn.c's own event (conn_readable). */
        bufferevent_enable(c->cli, EV_WRITE);
        event_del(&c->cli->ev_write);
        event_assign(&c->cli->ev_read, s->base, fd, EV_READ | EV_CLOSED | EV_PERSIST | EV_FINALIZE, conn_readable, c->cli);
        event_add(&c->cli->ev_read, NULL);
        bufferevent_enable(c->up, EV_WRITE);
        if (px->nfaults) conn_sync_stages(c);
    }
    if (--c->busy == 0 && c->dead) conn_free(c);
}
