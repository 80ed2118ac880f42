/* conn.c -- one client connection paired with one upstream connection: accept, the upstream
 * connect, and the fault stages of the pair's two directions.
 *
 * A connection (struct conn, proxy.h) is two bufferevents, one per socket, and two directions
 * (struct pipe): client -> upstream and upstream -> client. Each direction carries its fault chain
 * (faults/chain.h), one stage per fault of the proxy that covers it, re-synced whenever the
 * proxy's faults change (conn_sync_stages). A protocol (proxy/protocol.h) may attach its engine
 * to the pair when it is accepted; tcp attaches none.
 *
 * The pair's life is in three files:
 *   conn.c        (here) accepting, connecting the upstream, the stages, what faults report
 *   conn_relay.c  the bytes: reading both sockets, the fast path, delivering out of a chain,
 *                 backpressure, corked writes, half-close, the sockets' events
 *   conn_close.c  the end: FIN or RST closes, the drain of a closing side, freeing
 * and what they share is proxy/conn_int.h.
 *
 * libevent internals: conn.c and conn_relay.c reach into libevent 2.1's struct bufferevent
 * (event2/bufferevent_struct.h) for its two events, ev_read and ev_write, which they re-assign:
 * ev_read becomes conn_relay.c's own reading (conn_readable) and, while a tcp connect is not
 * proven, ev_write the connect watch (conn_connect_cb). Events of conn.c's own would cost
 * memory on every connection (see conn_int.h and docs/datapath.md, "libevent's events").
 */
#include "proxy/proxy.h"
#include "proxy/conn_int.h"
#include "proxy/protocol.h"
#include "proxy/tls.h"
#include "faults/chain.h"
#include "common/log.h"
#include "record/record.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent_struct.h>   /* ev_read, ev_write: see the essay */

static const char *closer_names[] = {"none", "client", "upstream", "proxy", "fault"};
const char *closer_str(enum closer c) { return closer_names[c]; }

const char *conn_peer(const struct conn *c)
{
    static char text[64];
    return sockaddr_str((const struct sockaddr *)&c->peer_sa, text, sizeof(text));
}

/* ---- the upstream connect (tcp: PROTO_DIRECT_CONNECT) ----
 *
 * For tcp, conn.c connects the upstream socket itself rather than through bufferevent_socket_connect,
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
 * Names (ADDR_NAME, resolved by evdns) and the protocols with an engine keep libevent's connect. */

/* libevent's own write callback of a socket bufferevent, put back once the connect is proven */
static event_callback_fn bev_writecb;

/* The upstream connect is proven: counts it, hands the write event back to libevent (armed
 * if bytes are queued) and passes on an EOF that came out of the chain meanwhile. */
void conn_up_connected(struct conn *c)
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
    const struct protocol *pr = c->px->spec.protocol;
    if (c->proto && pr->upstream_connected && !c->closing) pr->upstream_connected(c);
}

/* The upstream socket became writable (or failed) before anything proved the connect: write what
 * is queued for it (success proves the connect) or, with nothing queued, ask for the result. */
void conn_connect_cb(evutil_socket_t fd, short what, void *arg)
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
        conn_up_connected(c);
        if (!c->closing && c->up) conn_on_write(c->up, c);   /* as after libevent's write: EOF, backpressure */
    }
    if (--c->busy == 0 && c->dead) conn_free(c);
}

/* The upstream connect failed (err: an errno value; dns: libevent's getaddrinfo error, or 0):
 * logged, counted, and the client's connection closed (or the protocol answers: http's 502). */
void conn_upstream_failed(struct conn *c, int err, int dns)
{
    c->px->st.upstream_failed++;
    char up[320];
    log_info("upstream_failed", "proxy=%s upstream=%s id=%llu error=%s", log_q(c->px->spec.name),
             log_q(c->route ? c->route : addr_str(&c->px->spec.upstream, up, sizeof(up))), (unsigned long long)c->id,
             dns ? log_q(evutil_gai_strerror(dns)) : log_q(evutil_socket_error_to_string(err)));
    if (c->proto && c->px->spec.protocol->upstream_failed) {   /* the engine answers (http: a 502) */
        c->px->spec.protocol->upstream_failed(c);
        return;
    }
    /* the failure ends the pair, even when the client's EOF was read first (a tcp relay reads the
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
    bufferevent_setcb(c->cli, conn_on_read, conn_on_write, conn_on_event, c);
    bufferevent_setcb(c->up, conn_on_read, conn_on_write, conn_on_event, c);
}

/* tcp, a literal upstream address: connects c->up's socket and starts both sides (see "the
 * upstream connect" above). Called with c->busy held. */
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
        conn_up_connected(c);
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
        if (ufd >= 0 && ua->kind == ADDR_INET) conn_set_nodelay(ufd);
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
    c->own_read = 1;   /* every protocol (0 only in tests/fuzz/fuzz_http.c: bufferevent pairs, no socket) */
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
    s->active_conns++;
    if (px->st.active > px->st.peak_active) px->st.peak_active = px->st.active;
    if (rec_active) rec_conn_open(proxy_rec(px), px->st.active);
    c->busy++;
    /* TLS on a side (proxy/tls.h): the client's handshake may come first (the upstream connect
     * waits for it), and neither side takes the direct paths, which would bypass the encryption */
    int tls_first = px->tls ? tls_conn_init(c) : 0;
    if ((px->spec.protocol->flags & PROTO_DIRECT_CONNECT) && ua->kind != ADDR_NAME && !c->tls) {
        conn_connect_tcp(c, fd);
        if (--c->busy == 0 && c->dead) conn_free(c);
        return;
    }
    if (!tls_first && !(px->spec.protocol->flags & PROTO_ROUTES)) {   /* (a forward proxy's engine connects) */
        conn_connect_upstream(c);
        if (c->closing) goto out;
    }
    /* EV_WRITE enabled for the client, but its write event unarmed before the loop applies the
     * change: on a fresh socket it would fire at once only to be removed again (an epoll_ctl and
     * a wakeup per connection); libevent arms it again as soon as bytes are queued for the
     * client. Reading is conn.c's own event (conn_readable). */
    bufferevent_enable(c->cli, EV_WRITE);
    event_del(&c->cli->ev_write);
    event_assign(&c->cli->ev_read, s->base, fd, EV_READ | EV_CLOSED | EV_PERSIST | EV_FINALIZE,
                 c->tls ? tls_read_fn(c, 0) : conn_readable, c->cli);
    event_add(&c->cli->ev_read, NULL);
    if (px->nfaults) conn_sync_stages(c);
    if (tls_first && !c->closing) tls_accept_start(c);
out:
    if (--c->busy == 0 && c->dead) conn_free(c);
}

void conn_connect_upstream(struct conn *c)
{
    struct fl_server *s = c->px->srv;
    const struct fl_addr *ua = &c->px->spec.upstream;
    int rc;
    if (ua->kind == ADDR_NAME)
        rc = bufferevent_socket_connect_hostname(c->up, s->dns, AF_UNSPEC, ua->host, ua->port);
    else
        rc = bufferevent_socket_connect(c->up, (const struct sockaddr *)&ua->ss, (int)ua->sslen);
    if (rc < 0) {
        if (!c->closing) {
            c->px->st.upstream_failed++;
            conn_close(c, CLOSER_PROXY, CLOSE_FIN);
        }
    } else if (!c->closing) {
        bufferevent_enable(c->up, EV_WRITE);
    }
}

/* ---- a forward proxy's upstreams (PROTO_ROUTES) ---- */

int conn_connect_route(struct conn *c, const char *route, const char *host, int port, const struct sockaddr *sa, int salen)
{
    free(c->route);
    if (!(c->route = strdup(route))) abort();
    int rc = sa ? bufferevent_socket_connect(c->up, sa, salen)
                : bufferevent_socket_connect_hostname(c->up, c->px->srv->dns, AF_UNSPEC, host, port);
    if (rc < 0) return -1;
    if (!c->closing && c->up) bufferevent_enable(c->up, EV_WRITE);
    return 0;
}

void conn_upstream_renew(struct conn *c)
{
    struct fl_server *s = c->px->srv;
    conn_uncork(c);   /* (what one read gathered for the old upstream leaves before it goes) */
    if (c->up) {
        conn_side_read(c, c->up, 0);
        bufferevent_free(c->up);
    }
    c->up = bufferevent_socket_new(s->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!c->up) abort();
    bufferevent_setcb(c->up, conn_on_read, conn_on_write, conn_on_event, c);
    bufferevent_setwatermark(c->up, EV_WRITE, s->g.buffer / 2, 0);
    bufferevent_set_max_single_write(c->up, s->g.buffer);
    c->up_connected = 0;
    struct pipe *to = &c->p[0], *from = &c->p[1];
    to->dst = c->up;
    to->shut = to->shut_deferred = to->eof_at_sink = 0;
    from->src = c->up;
    from->src_eof = from->read_paused = from->eof_at_sink = 0;
    from->rxts_on = 0;
    if (c->closed_by == CLOSER_UPSTREAM) c->closed_by = CLOSER_NONE;   /* the old upstream's close ended nothing */
}
