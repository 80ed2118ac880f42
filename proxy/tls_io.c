/* tls_io.c -- the TLS transport on one connection: OpenSSL between a side's socket and the
 * plaintext the core relays (see proxy/tls.h for where it sits in the data path).
 *
 * Why SSL_read/SSL_write on the sockets the core owns, and not libevent's bufferevent_openssl:
 * the core reads both sockets itself (conn_relay.c, on the bufferevents' own read events) and
 * writes through the bufferevents' outputs; an openssl bufferevent would take both over, and
 * every place that touches a socket (the fast path's recv/send, the direct writes, the
 * half-close, the drain at close) would need a second branch for it. Here one BIO of ours is
 * the only thing OpenSSL sees:
 *   - read: recv() on the socket (or, for STARTTLS, first the bytes the engine had read past
 *     its request); with read-ahead one recv takes a run of records;
 *   - write: send() at once when the side's output is empty (as pipe_deliver does for plaintext),
 *     else the ciphertext is appended to the output, which libevent writes like any other;
 *     so OpenSSL never sees a blocked write (no WANT_WRITE to juggle), the output counts
 *     against the proxy's buffer as plaintext does, and a FIN close drains it as usual.
 *
 * A side's life: TS_WAIT (upstream: its TCP connect) -> TS_PRELUDE (upstream of a STARTTLS
 * protocol: its request sent, the answer awaited) -> TS_HANDSHAKE (bounded by
 * tls_handshake_timeout: the read event carries the remaining time) -> TS_OPEN -> TS_DONE.
 * Plaintext for a side whose handshake has not ended waits in its `early` buffer (counted
 * against the proxy's buffer) and is encrypted when it ends. A client side that starts TLS at
 * accept makes the upstream connect wait for its handshake: a client that never completes one
 * costs the upstream nothing. A failed handshake is counted by the alert sent or received,
 * logged (tls_handshake_failed) and recorded; it closes the pair (client side) or is the
 * upstream's failure (upstream side: http answers 502).
 */
#include "proxy/tls_int.h"
#include "proxy/proxy.h"
#include "proxy/conn_int.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent_struct.h>   /* ev_read: see conn.c's essay */
#include <openssl/err.h>

#define TLS_RECORD 16384   /* plaintext per SSL_read/SSL_write call: one record */

static unsigned char tls_rbuf[TLS_RECORD];   /* one event loop per process: one scratch buffer */

static struct bufferevent *side_bev(const struct tls_side *ts) { return ts->side ? ts->c->up : ts->c->cli; }

/* ---- the BIO ---- */

static int bio_write(BIO *b, const char *data, int len)
{
    struct tls_side *ts = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    struct bufferevent *bev = side_bev(ts);
    if (!bev || len <= 0) return len;   /* the side is gone: nobody will read it */
    struct evbuffer *out = bufferevent_get_output(bev);
    size_t n = (size_t)len;
    if (ts->direct && evbuffer_get_length(out) == 0) {
        ssize_t w = send(bufferevent_getfd(bev), data, n, MSG_NOSIGNAL);
        if (w > 0) { data += w; n -= (size_t)w; }
        /* (an error is left for libevent's write of the rest, or the next read, to see) */
    }
    if (n) evbuffer_add(out, data, n);
    return len;
}

static int bio_read(BIO *b, char *buf, int len)
{
    struct tls_side *ts = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0) return 0;
    if (ts->preread && evbuffer_get_length(ts->preread)) return evbuffer_remove(ts->preread, buf, (size_t)len);
    struct bufferevent *bev = side_bev(ts);
    if (!bev) return 0;
    ssize_t r = recv(bufferevent_getfd(bev), buf, (size_t)len, 0);
    if (r > 0) return (int)r;
    if (r == 0) { ts->eof = 1; return 0; }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_read(b);
    else ts->eof = 1;
    return -1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num; (void)ptr;
    struct tls_side *ts = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH: case BIO_CTRL_DUP: return 1;
    case BIO_CTRL_PENDING: return ts && ts->preread ? (long)evbuffer_get_length(ts->preread) : 0;
    case BIO_CTRL_EOF: return ts ? ts->eof : 1;
    default: return 0;
    }
}

BIO_METHOD *tls_bio_method(void)
{
    static BIO_METHOD *m;
    if (!m) {
        m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "faultline");
        if (!m) abort();
        BIO_meth_set_write(m, bio_write);
        BIO_meth_set_read(m, bio_read);
        BIO_meth_set_ctrl(m, bio_ctrl);
    }
    return m;
}

/* ---- a connection's sides ---- */

static void side_new_ssl(struct conn *c, struct tls_side *ts)
{
    ts->ssl = tls_ssl_new(c->px->tls, ts);
    if (!ts->ssl) abort();   /* (SSL_new fails only without memory) */
    ts->t_start = fl_now_us();
}

int tls_conn_init(struct conn *c)
{
    struct tls_px *t = c->px->tls;
    if (!t) return 0;
    struct tls_conn *tc = calloc(1, sizeof(*tc));
    if (!tc) abort();
    c->tls = tc;
    for (int i = 0; i < 2; i++) {
        tc->s[i].c = c;
        tc->s[i].side = (unsigned char)i;
        tc->s[i].alert = -1;
    }
    if (t->cli && !(c->px->spec.protocol->flags & PROTO_ROUTES)) tc->s[1].state = TS_WAIT;   /* (forward: per CONNECT) */
    if (t->srv && !t->starttls) {
        side_new_ssl(c, &tc->s[0]);
        tc->s[0].state = TS_HANDSHAKE;
        tc->connect_waits = 1;
        return 1;
    }
    return 0;
}

void tls_conn_free(struct conn *c)
{
    struct tls_conn *tc = c->tls;
    if (!tc) return;
    for (int i = 0; i < 2; i++) {
        struct tls_side *ts = &tc->s[i];
        SSL_free(ts->ssl);
        if (ts->preread) evbuffer_free(ts->preread);
        if (ts->early) evbuffer_free(ts->early);
        free(ts->sni);
        free(ts->name);
        free(ts->fs);
    }
    free(tc);
    c->tls = NULL;
}

event_callback_fn tls_read_fn(const struct conn *c, int side)
{
    return c->tls->s[side].state != TS_PLAIN ? tls_readable : conn_readable_slow;
}

/* The handshake's deadline on the side's read event (a persistent event's timeout restarts at
 * each wakeup: it is set to what is left each time). */
static void arm_timeout(struct conn *c, struct tls_side *ts)
{
    struct bufferevent *bev = side_bev(ts);
    int64_t left = ts->t_start + tls_fault_held_us(ts) + c->px->tls->hs_timeout_us - fl_now_us();
    if (left < 1000) left = 1000;
    struct timeval tv = {(time_t)(left / 1000000), (suseconds_t)(left % 1000000)};
    event_add(&bev->ev_read, &tv);
}

/* Switches bev's reading to tls_readable (STARTTLS, the upstream's connect). */
static void read_with_tls(struct conn *c, struct bufferevent *bev)
{
    event_del(&bev->ev_read);
    event_assign(&bev->ev_read, c->px->srv->base, bufferevent_getfd(bev), EV_READ | EV_CLOSED | EV_PERSIST | EV_FINALIZE,
                 tls_readable, bev);
}

/* Plaintext out through ts (state TS_OPEN): one record per SSL_write, small pieces gathered. */
static void send_now(struct conn *c, struct tls_side *ts, struct evbuffer *buf, size_t n)
{
    size_t drop = 0;
    if (ts->fs) {   /* a cut fault: what goes past its point is dropped (proxy/tls_fault.c) */
        size_t m = tls_fault_cut_room(c, ts, n);
        drop = n - m;
        n = m;
    }
    ts->direct = !c->p[ts->side].src_eof;   /* not at a peer that closed: see pipe_deliver */
    while (n) {
        size_t m = n < TLS_RECORD ? n : TLS_RECORD, w = 0;
        const unsigned char *ptr = evbuffer_pullup(buf, (ev_ssize_t)m);
        ERR_clear_error();
        if (!ptr || SSL_write_ex(ts->ssl, ptr, m, &w) != 1 || w == 0) {
            /* the session failed (a fatal alert came in): nothing more can go out */
            ERR_clear_error();
            ts->state = TS_DONE;
            evbuffer_drain(buf, n);
            break;
        }
        evbuffer_drain(buf, w);
        n -= w;
    }
    ts->direct = 0;
    if (drop) evbuffer_drain(buf, drop);
}

void tls_deliver(struct conn *c, int side, struct evbuffer *buf, size_t n)
{
    struct tls_side *ts = &c->tls->s[side];
    if (ts->state == TS_OPEN) {
        send_now(c, ts, buf, n);
    } else if (ts->state == TS_DONE) {
        evbuffer_drain(buf, n);
    } else {
        if (!ts->early && !(ts->early = evbuffer_new())) abort();
        evbuffer_remove_buffer(buf, ts->early, n);
    }
}

size_t tls_pending(const struct conn *c, int side)
{
    const struct tls_side *ts = &c->tls->s[side];
    return ts->early ? evbuffer_get_length(ts->early) : 0;
}

static void send_notify(struct tls_side *ts)
{
    if (ts->notify_sent || ts->state != TS_OPEN || !side_bev(ts)) return;
    if (ts->fs && ts->fs->cut) return;   /* a cut ends without close_notify (tls_cut) */
    ts->notify_sent = 1;
    ts->direct = 1;
    ERR_clear_error();
    SSL_shutdown(ts->ssl);
    ERR_clear_error();
    ts->direct = 0;
}

int tls_shut_write(struct conn *c, int side, evutil_socket_t fd)
{
    struct tls_side *ts = &c->tls->s[side];
    if (ts->state == TS_OPEN) {
        send_notify(ts);
        if (evbuffer_get_length(bufferevent_get_output(side_bev(ts)))) return 1;   /* the FIN comes at close */
    }
    shutdown(fd, SHUT_WR);
    return 0;
}

void tls_closing(struct conn *c)
{
    for (int i = 0; i < 2; i++) send_notify(&c->tls->s[i]);
}

void tls_read_resumed(struct conn *c, struct bufferevent *bev)
{
    struct tls_side *ts = &c->tls->s[bev == c->cli ? 0 : 1];
    if (ts->state == TS_OPEN && SSL_has_pending(ts->ssl)) event_active(&bev->ev_read, EV_READ, 1);   /* (once: read_app) */
}

/* ---- the handshake ---- */

static void hs_fail(struct conn *c, struct tls_side *ts, const char *why, int timeout)
{
    struct tls_counts *n = &c->px->tls->n[ts->side];
    if (!ts->error) ts->error = why;
    ts->state = TS_DONE;
    n->failures++;
    if (timeout) n->timeouts++;
    if (ts->alert >= 0) n->alerts[ts->alert]++;
    else n->no_alert++;
    log_info("tls_handshake_failed", "proxy=%s id=%llu side=%s peer=%s error=%s alert=%s", log_q(c->px->spec.name),
             (unsigned long long)c->id, ts->side ? "upstream" : "client", log_q(conn_peer(c)), log_q(ts->error),
             ts->alert >= 0 ? tls_alert_name(ts->alert) : "-");
    struct bufferevent *bev = side_bev(ts);
    if (bev) event_del(&bev->ev_read);
    if (ts->side == 1) conn_upstream_failed(c, EPROTO, 0);
    else conn_close(c, ts->eof || (ts->alert >= 0 && !ts->alert_sent) ? CLOSER_CLIENT : CLOSER_PROXY, CLOSE_FIN);
}

static void hs_done(struct conn *c, struct tls_side *ts)
{
    struct tls_px *t = c->px->tls;
    ts->state = TS_OPEN;
    ts->hs_us = fl_now_us() - ts->t_start;
    if (ts->hs_us <= 0) ts->hs_us = 1;
    ts->resumed = SSL_session_reused(ts->ssl) == 1;
    t->n[ts->side].handshakes++;
    if (ts->resumed) t->n[ts->side].resumed++;
    if (ts->side == 0 && !ts->sni) {
        const char *sni = SSL_get_servername(ts->ssl, TLSEXT_NAMETYPE_host_name);
        if (sni) ts->sni = strndup(sni, TLS_HOST_MAX + 2);
    }
    struct bufferevent *bev = side_bev(ts);
    event_remove_timer(&bev->ev_read);
    log_debug("tls_handshake", "proxy=%s id=%llu side=%s version=%s cipher=%s resumed=%d ms=%.2f", log_q(c->px->spec.name),
              (unsigned long long)c->id, ts->side ? "upstream" : "client", SSL_get_version(ts->ssl),
              SSL_get_cipher_name(ts->ssl), ts->resumed, (double)ts->hs_us / 1000.0);
    if (ts->early && evbuffer_get_length(ts->early)) send_now(c, ts, ts->early, evbuffer_get_length(ts->early));
    if (ts->side == 0) {
        if (c->tls->connect_waits) {
            c->tls->connect_waits = 0;
            conn_connect_upstream(c);
        }
    } else {
        conn_up_connected(c);
    }
}

static const char *hs_error(struct tls_side *ts, int e)
{
    long v = SSL_get_verify_result(ts->ssl);
    if (ts->side == 1 && v != X509_V_OK) return X509_verify_cert_error_string(v);
    if (e == SSL_ERROR_SSL) {
        unsigned long le = ERR_peek_last_error();
        const char *r = le ? ERR_reason_error_string(le) : NULL;
        if (r) return r;
    }
    return ts->eof ? "the peer closed during the handshake" : "the handshake failed";
}

/* One step of the handshake: 1 = done, 0 = waits for bytes, -1 = failed (the pair is closing). */
static int hs_step(struct conn *c, struct tls_side *ts)
{
    ts->direct = 1;
    ERR_clear_error();
    int r = SSL_do_handshake(ts->ssl);
    ts->direct = 0;
    if (r == 1) {
        hs_done(c, ts);
        return 1;
    }
    int e = SSL_get_error(ts->ssl, r);
    if (e == SSL_ERROR_WANT_READ && !ts->eof) {
        arm_timeout(c, ts);
        return 0;
    }
    if (e == SSL_ERROR_WANT_CLIENT_HELLO_CB) {   /* a TLS fault holds the ClientHello unanswered */
        tls_fault_paused(c, ts);
        return 0;
    }
    const char *why = hs_error(ts, e);
    ERR_clear_error();
    hs_fail(c, ts, why, 0);
    return -1;
}

void tls_accept_start(struct conn *c)
{
    struct tls_side *ts = &c->tls->s[0];
    ts->t_start = fl_now_us();
    /* the ClientHello is often there already: go on now rather than a loop turn later */
    tls_readable(bufferevent_getfd(c->cli), EV_READ, c->cli);
    if (!c->closing && ts->state == TS_HANDSHAKE && !(ts->fs && ts->fs->t_hold)) arm_timeout(c, ts);
}

int tls_starttls_accept(struct conn *c, struct evbuffer *rest, const void *answer, size_t len)
{
    struct tls_px *t = c->px->tls;
    if (!t || !t->srv || !c->tls || c->tls->s[0].state != TS_PLAIN || !c->cli) return -1;
    struct tls_side *ts = &c->tls->s[0];
    struct evbuffer *out = bufferevent_get_output(c->cli);
    ssize_t w = 0;
    if (len && evbuffer_get_length(out) == 0) w = send(bufferevent_getfd(c->cli), answer, len, MSG_NOSIGNAL);
    if (w < 0) w = 0;
    if ((size_t)w < len) evbuffer_add(out, (const char *)answer + w, len - (size_t)w);
    side_new_ssl(c, ts);
    ts->state = TS_HANDSHAKE;
    if (evbuffer_get_length(rest)) {
        if (!(ts->preread = evbuffer_new())) abort();
        evbuffer_add_buffer(ts->preread, rest);
    }
    read_with_tls(c, c->cli);
    arm_timeout(c, ts);
    if (ts->preread) event_active(&c->cli->ev_read, EV_READ, 1);   /* the handshake's start is here already */
    return 0;
}

int tls_forward_upstream(struct conn *c, const char *host)
{
    struct tls_px *t = c->px->tls;
    if (!t || !t->cli || !c->tls || c->tls->s[1].state != TS_PLAIN || !c->up || !c->up_connected) return -1;
    struct tls_side *ts = &c->tls->s[1];
    free(ts->name);
    if (!(ts->name = strdup(host))) abort();
    read_with_tls(c, c->up);
    side_new_ssl(c, ts);
    ts->state = TS_HANDSHAKE;
    arm_timeout(c, ts);
    hs_step(c, ts);   /* the ClientHello leaves now (the socket is connected) */
    return 0;
}

int tls_forward_client(struct conn *c, const char *host, struct evbuffer *rest, const void *answer, size_t len)
{
    if (!c->tls) return -1;
    struct tls_side *ts = &c->tls->s[0];
    free(ts->name);
    if (!(ts->name = strdup(host))) abort();
    return tls_starttls_accept(c, rest, answer, len);
}

int tls_up_connected(struct conn *c)
{
    if (!c->tls || c->tls->s[1].state != TS_WAIT) return 0;
    struct tls_side *ts = &c->tls->s[1];
    const struct protocol *pr = c->px->spec.protocol;
    read_with_tls(c, c->up);
    side_new_ssl(c, ts);
    arm_timeout(c, ts);
    if (pr->starttls) {
        ts->state = TS_PRELUDE;
        struct evbuffer *out = bufferevent_get_output(c->up);
        ssize_t w = send(bufferevent_getfd(c->up), pr->starttls->request, pr->starttls->len, MSG_NOSIGNAL);
        if (w < 0) w = 0;
        if ((size_t)w < pr->starttls->len) evbuffer_add(out, (const char *)pr->starttls->request + w, pr->starttls->len - (size_t)w);
        return 1;
    }
    ts->state = TS_HANDSHAKE;
    hs_step(c, ts);
    return 1;
}

/* ---- reading ---- */

/* The upstream's answer to the protocol's STARTTLS request (one byte). 1 = go on with the handshake. */
static int prelude_read(struct conn *c, struct tls_side *ts, evutil_socket_t fd)
{
    unsigned char b;
    ssize_t r = recv(fd, &b, 1, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
    if (r <= 0) {
        ts->eof = 1;
        hs_fail(c, ts, "the upstream closed before answering the request for TLS", 0);
        return 0;
    }
    if (b != c->px->spec.protocol->starttls->yes) {
        hs_fail(c, ts, "the upstream refused TLS", 0);
        return 0;
    }
    ts->state = TS_HANDSHAKE;
    return 1;
}

/* Plaintext into the side's input, up to what the proxy's buffer allows, then the core's read. */
static void read_app(struct conn *c, struct tls_side *ts, struct bufferevent *bev)
{
    struct pipe *p = &c->p[ts->side];
    if (p->read_paused) return;   /* (an event_active from before the pause) */
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t bound = c->px->srv->g.buffer, pend = conn_pipe_pending(p), want = bound > pend ? bound - pend : 1;
    size_t total = 0;
    int eof = 0, fatal = 0, starved = 0;
    ts->direct = !c->p[ts->side].src_eof;
    while (total < want) {
        size_t n = 0;
        ERR_clear_error();
        if (SSL_read_ex(ts->ssl, tls_rbuf, sizeof(tls_rbuf), &n) == 1) {
            evbuffer_unfreeze(in, 0);   /* a bufferevent's input takes bytes only from its reader */
            evbuffer_add(in, tls_rbuf, n);
            evbuffer_freeze(in, 0);
            total += n;
            continue;
        }
        int e = SSL_get_error(ts->ssl, 0);
        if (e == SSL_ERROR_WANT_READ) { starved = 1; break; }
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ts->eof)) eof = 1;
        else fatal = 1;
        break;
    }
    ts->direct = 0;
    ts->app_in += total;
    if (fatal) {
        unsigned long le = ERR_peek_last_error();
        log_info("tls_error", "proxy=%s id=%llu side=%s error=%s", log_q(c->px->spec.name), (unsigned long long)c->id,
                 ts->side ? "upstream" : "client", log_q(le && ERR_reason_error_string(le) ? ERR_reason_error_string(le) : "read failed"));
    }
    ERR_clear_error();
    if (total) conn_on_read(bev, c);
    if (c->closing) return;
    if (eof) {
        event_del(&bev->ev_read);
        conn_on_event(bev, BEV_EVENT_READING | BEV_EVENT_EOF, c);
    } else if (fatal) {
        ts->state = TS_DONE;
        event_del(&bev->ev_read);
        EVUTIL_SET_SOCKET_ERROR(EPROTO);
        conn_on_event(bev, BEV_EVENT_READING | BEV_EVENT_ERROR, c);
    } else if (!p->read_paused && !starved && SSL_has_pending(ts->ssl)) {
        /* the budget ended the loop with records OpenSSL read ahead: the socket may not say so
         * again. Not after WANT_READ: what is buffered then is part of a record (SSL_has_pending
         * counts it too), the socket says when the rest comes, and an event_active here would
         * spin the loop without ever polling until it did */
        event_active(&bev->ev_read, EV_READ, 1);
    }
}

void tls_readable(evutil_socket_t fd, short what, void *arg)
{
    struct bufferevent *bev = arg;
    struct conn *c = bev->cbarg;
    if (c->closing || !c->tls) return;
    struct tls_side *ts = &c->tls->s[bev == c->cli ? 0 : 1];
    c->busy++;
    if (ts->fs && (ts->fs->t_hold || ts->fs->cut)) {   /* a TLS fault holds the handshake, or cut the session */
        if (!tls_fault_wake(c, ts, what) || c->closing) goto out;
        what = EV_READ;   /* released: the handshake goes on, its timeout counting again from now */
        arm_timeout(c, ts);
    }
    if ((what & EV_TIMEOUT) && ts->state < TS_OPEN) {
        if (fl_now_us() >= ts->t_start + tls_fault_held_us(ts) + c->px->tls->hs_timeout_us) hs_fail(c, ts, "handshake timeout", 1);
        else arm_timeout(c, ts);
        goto out;
    }
    if (ts->state == TS_PRELUDE && !prelude_read(c, ts, fd)) goto out;
    if (ts->state == TS_HANDSHAKE && hs_step(c, ts) <= 0) goto out;
    if (ts->state == TS_OPEN && !c->closing) read_app(c, ts, bev);
out:
    if (--c->busy == 0 && c->dead) conn_free(c);
}
