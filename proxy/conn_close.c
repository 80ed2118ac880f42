/* conn_close.c -- the end of a connection pair: closing it, the drain of a side still flushing,
 * and freeing it.
 *
 * A FIN close (CLOSE_FIN: the pair's half-closes are done, an error, a fault's drop, the proxy's
 * own close) flushes what each side still has queued, bounded by the drain time, then frees
 * that side; a side with nothing queued is freed at once, after its unread bytes are read and
 * dropped so that close(2) sends a FIN, not a reset. A RST close (CLOSE_RST: reset faults,
 * conn_kill) sets SO_LINGER 0 and frees both sides at once. When both sides are gone the
 * connection is dead: it is counted, logged, recorded and unlinked from its proxy, and freed as
 * soon as no callback holds it (c->busy). A retired proxy (removed by a reload) is freed with
 * its last connection.
 */
#include "proxy/proxy.h"
#include "proxy/conn_int.h"
#include "proxy/protocol.h"
#include "proxy/tls.h"
#include "faults/chain.h"
#include "common/log.h"
#include "record/record.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <event2/buffer.h>

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
    if (px->srv->active_conns) px->srv->active_conns--;
    px->st.closed_by[c->closed_by]++;
    if (log_min_level <= LOG_DEBUG) {
        char up[320];
        log_debug("close", "id=%llu proxy=%s peer=%s upstream=%s bytes_up=%llu bytes_down=%llu duration_ms=%.1f "
                  "closed_by=%s fault=%s",
                  (unsigned long long)c->id, log_q(px->spec.name), log_q(conn_peer(c)),
                  log_q(c->route ? c->route : addr_str(&px->spec.upstream, up, sizeof(up))), (unsigned long long)c->p[0].bytes,
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
    if (c->tls) tls_conn_free(c);
    free(c->route);
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
    conn_side_read(c, bev, 0);
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
    if (c->tls && how == CLOSE_FIN) tls_closing(c);   /* close_notify before the FIN */
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

void conn_try_finish(struct conn *c)
{
    if (c->closing) return;
    if (c->p[0].shut && c->p[1].shut) conn_close(c, c->closed_by ? c->closed_by : CLOSER_PROXY, CLOSE_FIN);
}
