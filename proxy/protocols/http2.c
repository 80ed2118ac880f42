/* http2.c -- mode = http2 (and the HTTP/2 under mode = grpc): a connection pair that speaks
 * HTTP/2 on both sides, so that faults act per stream (protocol_http2, protocol_grpc).
 *
 * nghttp2 owns the protocol; this engine owns the I/O. Each connection pair has two sessions: a
 * server session towards the client and a client session towards the upstream (one upstream
 * connection per client connection, as the core pairs them). What the core reads from a side is
 * fed whole to that side's session (nghttp2_session_mem_recv); everything the library decides
 * arrives as callbacks (a header, a head complete, a DATA chunk, a stream closed), and what the
 * sessions have to send is taken with nghttp2_session_mem_send and handed to the core
 * (pipe_input: the direction's tcp fault chain, then the socket). No frame or HPACK byte is
 * produced here.
 *
 * Streams are mapped 1:1: a client's stream (its id `cid`) becomes one upstream stream (`uid`,
 * from nghttp2_submit_request) when the fault plan lets it go on. Flow control is end to end:
 * both sessions run with automatic WINDOW_UPDATEs off, and a DATA byte is "consumed" (its window
 * given back to its sender) only when the other session takes it for sending
 * (http2_stream.c, h2_body_read). So a slow reader slows its writer across the proxy, and what
 * the proxy holds per stream is bounded by the window it advertised (the proxy's `buffer`).
 *
 * Settings offered: to clients MAX_CONCURRENT_STREAMS (H2_MAX_STREAMS, lowered by an
 * h2_max_streams fault), the stream window (the proxy's buffer), MAX_HEADER_LIST_SIZE
 * (H2_HEAD_MAX); to the upstream no server push. Hostile input is bounded: nghttp2's own checks
 * (CONTINUATION count, SETTINGS entries, outbound queue floods, stream reset rate) and this
 * engine's counters (head sizes, a rapid-reset bucket); each is counted (/stats h2) and ends
 * the connection or the stream it concerns, never the others.
 *
 * Files: http2.c (here) the sessions and I/O; http2_stream.c a stream's bodies, answers and
 * record; http2_plan.c faults; http2_facts.c counters and facts; grpc.c the gRPC layer.
 */
#include "proxy/protocols/http2.h"
#include "proxy/protocols/http2_int.h"
#include "faults/scope.h"
#include "proxy/proxy.h"
#include "proxy/protocol.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SRV(h, sess) ((sess) == (h)->srv)

static struct h2_stream *stream_of(nghttp2_session *sess, int32_t id)
{
    return id > 0 ? nghttp2_session_get_stream_user_data(sess, id) : NULL;
}

/* ---- callbacks of both sessions ---- */

static int on_begin_headers(nghttp2_session *sess, const nghttp2_frame *fr, void *ud)
{
    struct h2_conn *h = ud;
    if (fr->hd.type != NGHTTP2_HEADERS) return 0;
    int32_t id = fr->hd.stream_id;
    if (SRV(h, sess)) {
        if (fr->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
        struct h2_stream *s = h2_stream_new(h, id);
        nghttp2_session_set_stream_user_data(sess, id, s);
        return 0;
    }
    struct h2_stream *s = stream_of(sess, id);
    if (s && !s->rs_final) h2_head_reset(&s->rs);   /* a response head (again, after a 1xx) */
    return 0;
}

static int on_header(nghttp2_session *sess, const nghttp2_frame *fr, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    struct h2_conn *h = ud;
    (void)flags;
    if (fr->hd.type != NGHTTP2_HEADERS) return 0;
    struct h2_stream *s = stream_of(sess, fr->hd.stream_id);
    if (!s) return 0;
    int srv = SRV(h, sess);
    struct h2_head *hd;
    if (srv) hd = fr->headers.cat == NGHTTP2_HCAT_REQUEST ? &s->rq : &s->b[0].tr;
    else hd = !s->rs_final ? &s->rs : &s->b[1].tr;
    if (h2_head_add(hd, name, namelen, value, valuelen) < 0 && hd->over == 1) {
        hd->over = 2;   /* counted once */
        h->tot->head_overflows++;
    }
    return 0;
}

/* A client's frame, complete. */
static void srv_frame(struct h2_conn *h, const nghttp2_frame *fr)
{
    struct h2_stream *s = stream_of(h->srv, fr->hd.stream_id);
    int end = (fr->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (fr->hd.type) {
    case NGHTTP2_HEADERS:
        if (!s) break;
        if (fr->headers.cat == NGHTTP2_HCAT_REQUEST) {
            s->rq_end_seen = end;
            if (end) s->b[0].eof = 1;
            h2_request_ready(s);
        } else if (end) {
            h2_body_end(s, 0);   /* the request's trailers */
        }
        break;
    case NGHTTP2_DATA:
        if (s && end) h2_body_end(s, 0);
        break;
    case NGHTTP2_RST_STREAM:
        h->tot->resets_client++;
        if (s) {
            s->rst_code = fr->rst_stream.error_code;
            s->rst_by = CLOSER_CLIENT;
            /* the 2023 rapid-reset shape: streams opened and cancelled before their answer */
            if (!s->t_done) {
                int64_t now = fl_now_us();
                h->rst_tokens += (double)(now - h->rst_last_us) * H2_RESET_RATE / 1e6;
                if (h->rst_tokens > H2_RESET_BURST) h->rst_tokens = H2_RESET_BURST;
                h->rst_last_us = now;
                if (--h->rst_tokens < 0 && !h->goaway) {
                    h->tot->rapid_reset_closes++;
                    log_info("h2_rapid_reset", "proxy=%s id=%llu what=\"client resets streams faster than %d/s: GOAWAY\"",
                             log_q(h->c->px->spec.name), (unsigned long long)h->c->id, H2_RESET_RATE);
                    nghttp2_session_terminate_session(h->srv, NGHTTP2_ENHANCE_YOUR_CALM);
                    h->goaway = 1;
                    h->closing_by = CLOSER_PROXY;
                }
            }
        }
        break;
    case NGHTTP2_PING:
        if (fr->hd.flags & NGHTTP2_FLAG_ACK) break;
        h->tot->pings++;
        if (h2_conn_drops_pings(h)) {
            h->tot->pings_dropped++;
            break;
        }
        nghttp2_submit_ping(h->srv, NGHTTP2_FLAG_ACK, fr->ping.opaque_data);
        break;
    default:
        break;
    }
}

/* An upstream's frame, complete. */
static void cli_frame(struct h2_conn *h, const nghttp2_frame *fr)
{
    struct h2_stream *s = stream_of(h->cli, fr->hd.stream_id);
    int end = (fr->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (fr->hd.type) {
    case NGHTTP2_HEADERS:
        if (!s) break;
        if (!s->rs_final) {
            char st[8];
            int status = h2_head_get(&s->rs, ":status", st, sizeof(st)) ? atoi(st) : 0;
            if (status >= 100 && status < 200) {
                /* an interim answer (100 Continue, 103): passed on as it is */
                if (!s->local && s->cid_open) {
                    nghttp2_nv nv = {(uint8_t *)":status", (uint8_t *)st, 7, strlen(st), NGHTTP2_NV_FLAG_NONE};
                    nghttp2_submit_headers(h->srv, NGHTTP2_FLAG_NONE, s->cid, NULL, &nv, 1, NULL);
                }
                h2_head_reset(&s->rs);
                break;
            }
            s->rs_final = 1;
            s->status = status;
            if (end) s->b[1].eof = 1;
            h2_response_ready(s);
        } else if (end) {
            if (h->mode && h->mode->response_fields) h->mode->response_fields(s, &s->b[1].tr);
            h2_body_end(s, 1);   /* trailers */
        }
        break;
    case NGHTTP2_DATA:
        if (s && end) h2_body_end(s, 1);
        break;
    case NGHTTP2_RST_STREAM:
        h->tot->resets_upstream++;
        if (s) {
            s->rst_code = fr->rst_stream.error_code;
            s->rst_by = CLOSER_UPSTREAM;
        }
        break;
    case NGHTTP2_GOAWAY:
        /* the upstream drains (a deploy): the client must move on too */
        h->tot->goaways_upstream++;
        if (!h->goaway && h->srv) {
            nghttp2_submit_goaway(h->srv, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->srv),
                                  NGHTTP2_NO_ERROR, NULL, 0);
            h->goaway = 1;
            h->closing_by = CLOSER_UPSTREAM;
        }
        break;
    default:
        break;
    }
}

static int on_frame_recv(nghttp2_session *sess, const nghttp2_frame *fr, void *ud)
{
    struct h2_conn *h = ud;
    if (h->c->closing) return 0;
    if (SRV(h, sess)) srv_frame(h, fr);
    else cli_frame(h, fr);
    return 0;
}

static int on_data_chunk(nghttp2_session *sess, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
    struct h2_conn *h = ud;
    (void)flags;
    struct h2_stream *s = stream_of(sess, id);
    int d = SRV(h, sess) ? 0 : 1;
    if (!s || h->c->closing || (d == 0 && s->local) || (d == 1 && (s->local || !s->cid_open))) {
        nghttp2_session_consume(sess, id, len);   /* nobody will take it: its window goes back */
        if (s && d == 0) h2_body_seen(s, 0, data, len);   /* still the request's body (its hash) */
        return 0;
    }
    h2_body_in(s, d, data, len);
    return 0;
}

static int on_stream_close(nghttp2_session *sess, int32_t id, uint32_t code, void *ud)
{
    struct h2_conn *h = ud;
    struct h2_stream *s = stream_of(sess, id);
    if (!s) return 0;
    nghttp2_session_set_stream_user_data(sess, id, NULL);
    if (SRV(h, sess)) h2_cid_closed(s, code);
    else h2_uid_closed(s, code);
    return 0;
}

static int on_frame_send(nghttp2_session *sess, const nghttp2_frame *fr, void *ud)
{
    struct h2_conn *h = ud;
    struct h2_stream *s = stream_of(sess, fr->hd.stream_id);
    int srv = SRV(h, sess);
    switch (fr->hd.type) {
    case NGHTTP2_HEADERS:
        if (s && !srv && fr->headers.cat == NGHTTP2_HCAT_REQUEST) s->t_fwd = fl_now_us();
        /* a response head or trailers may end the stream, as DATA does */
        /* fall through */
    case NGHTTP2_DATA:
        if (s && srv && (fr->hd.flags & NGHTTP2_FLAG_END_STREAM)) h2_response_sent(s);
        if (s && srv && s->cut_pending && fr->hd.type == NGHTTP2_DATA) {
            s->cut_pending = 0;
            h2_reset(s, s->pl.act == HACT_TRUNCATE ? NGHTTP2_INTERNAL_ERROR : s->pl.h2_code, CLOSER_FAULT);
        }
        break;
    case NGHTTP2_RST_STREAM:
        if (srv) {
            h->tot->resets_sent++;
            if (fr->rst_stream.error_code == NGHTTP2_REFUSED_STREAM && !s) h->tot->refused_streams++;
        }
        break;
    case NGHTTP2_GOAWAY:
        if (srv) h->tot->goaways_sent++;
        break;
    case NGHTTP2_SETTINGS:
        if (srv && !(fr->hd.flags & NGHTTP2_FLAG_ACK)) h->tot->settings_sent++;
        break;
    default:
        break;
    }
    return 0;
}

static int on_invalid_frame(nghttp2_session *sess, const nghttp2_frame *fr, int lib_error, void *ud)
{
    struct h2_conn *h = ud;
    (void)fr;
    if (SRV(h, sess)) h->tot->invalid_frames++;   /* the stream is reset (or refused), the connection goes on */
    log_debug("h2_invalid_frame", "proxy=%s id=%llu side=%s error=%s", log_q(h->c->px->spec.name),
              (unsigned long long)h->c->id, SRV(h, sess) ? "client" : "upstream", nghttp2_strerror(lib_error));
    return 0;
}

static nghttp2_session_callbacks *callbacks(void)
{
    static nghttp2_session_callbacks *cb;
    if (cb) return cb;
    if (nghttp2_session_callbacks_new(&cb) != 0) abort();
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, on_invalid_frame);
    return cb;
}

/* ---- the sessions ---- */

static uint32_t stream_window(const struct conn *c)
{
    uint64_t w = c->px->srv->g.buffer;
    return w > NGHTTP2_MAX_WINDOW_SIZE ? NGHTTP2_MAX_WINDOW_SIZE : (uint32_t)w;
}

static void sessions_new(struct h2_conn *h)
{
    static nghttp2_option *opt_srv, *opt_cli;
    if (!opt_srv) {
        if (nghttp2_option_new(&opt_srv) != 0 || nghttp2_option_new(&opt_cli) != 0) abort();
        nghttp2_option_set_no_auto_window_update(opt_srv, 1);
        nghttp2_option_set_no_auto_window_update(opt_cli, 1);
        nghttp2_option_set_no_auto_ping_ack(opt_srv, 1);   /* answered in srv_frame (h2_ping_drop) */
        nghttp2_option_set_max_continuations(opt_srv, H2_MAX_CONTINUATIONS);
        nghttp2_option_set_max_settings(opt_srv, H2_MAX_SETTINGS);
        /* nghttp2's own reset limiter stays a backstop behind this engine's counted one */
        nghttp2_option_set_stream_reset_rate_limit(opt_srv, 2 * H2_RESET_BURST, 2 * H2_RESET_RATE);
        nghttp2_option_set_peer_max_concurrent_streams(opt_cli, H2_MAX_STREAMS);
    }
    if (nghttp2_session_server_new2(&h->srv, callbacks(), h, opt_srv) != 0) abort();
    if (nghttp2_session_client_new2(&h->cli, callbacks(), h, opt_cli) != 0) abort();
    uint32_t win = stream_window(h->c);
    h->adv_max = h2_conn_max_streams(h);   /* an h2_max_streams fault's, from the first SETTINGS */
    nghttp2_settings_entry s_iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, h->adv_max},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, win},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_HEAD_MAX},
    };
    nghttp2_submit_settings(h->srv, NGHTTP2_FLAG_NONE, s_iv, 3);
    nghttp2_settings_entry c_iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, win},
    };
    nghttp2_submit_settings(h->cli, NGHTTP2_FLAG_NONE, c_iv, 2);
    uint64_t cw = (uint64_t)win * H2_CONN_WINDOW_MUL;
    if (cw > NGHTTP2_MAX_WINDOW_SIZE) cw = NGHTTP2_MAX_WINDOW_SIZE;
    nghttp2_session_set_local_window_size(h->srv, NGHTTP2_FLAG_NONE, 0, (int32_t)cw);
    nghttp2_session_set_local_window_size(h->cli, NGHTTP2_FLAG_NONE, 0, (int32_t)cw);
}

/* ---- I/O ---- */

/* The bytes session `sess` has to send, into direction dir (0: to the upstream, 1: to the
 * client). Returns how many; -1 when the session failed. */
static ssize_t send_session(struct h2_conn *h, nghttp2_session *sess, int dir)
{
    struct conn *c = h->c;
    size_t total = 0;
    /* A dead upstream's session is never driven again: h2_upstream_gone let go of its streams
     * (they may be freed), but its queued DATA still names them as their data source. */
    if (dir == 0 && h->up_dead) return 0;
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(sess, &data);
        if (n < 0) {
            log_debug("h2_send_error", "proxy=%s id=%llu error=%s", log_q(c->px->spec.name), (unsigned long long)c->id,
                      nghttp2_strerror((int)n));
            return -1;
        }
        if (n == 0) break;
        evbuffer_add(h->tmp, data, (size_t)n);
        total += (size_t)n;
        if (c->closing) break;
    }
    if (!total) return 0;
    pipe_input(&c->p[dir], h->tmp);
    size_t left = evbuffer_get_length(h->tmp);
    if (left) evbuffer_drain(h->tmp, left);
    return (ssize_t)total;
}

void h2_close(struct h2_conn *h, enum closer who, enum close_how how)
{
    h->dead = 1;
    if (!h->c->closing) conn_close(h->c, who, how);
}

/* The connection ends when the client's session is done (after GOAWAY both ways, or a fatal
 * error it answered with GOAWAY), or when a GOAWAY went out and no stream is left. */
static void check_end(struct h2_conn *h)
{
    struct conn *c = h->c;
    if (c->closing) return;
    if (h->ca_rst && !nghttp2_session_want_write(h->srv)) {   /* close_after, close = rst (h2_close_after) */
        h2_close(h, CLOSER_FAULT, CLOSE_RST);
        return;
    }
    int done = !nghttp2_session_want_read(h->srv) && !nghttp2_session_want_write(h->srv);
    if (!done && h->goaway && h->nstreams == 0 && !nghttp2_session_want_write(h->srv)) done = 1;
    if (!done && h->up_dead && h->nstreams == 0 && !h->up_failed) {
        /* the upstream left and nothing is open: tell the client, then close */
        if (!h->goaway) {
            nghttp2_submit_goaway(h->srv, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->srv),
                                  NGHTTP2_NO_ERROR, NULL, 0);
            h->goaway = 1;
            h->closing_by = CLOSER_UPSTREAM;
            h->again = 1;
            return;
        }
    }
    if (done) h2_close(h, h->closing_by ? (enum closer)h->closing_by : CLOSER_CLIENT, CLOSE_FIN);
}

void h2_flush(struct h2_conn *h)
{
    if (h->flushing) { h->again = 1; return; }
    struct conn *c = h->c;
    h->flushing = 1;
    c->busy++;
    for (int round = 0; round < 64 && !c->closing && !h->dead; round++) {
        h->again = 0;
        ssize_t a = send_session(h, h->cli, 0);
        ssize_t b = c->closing ? 0 : send_session(h, h->srv, 1);
        if (a < 0 || b < 0) {
            h2_close(h, CLOSER_PROXY, CLOSE_FIN);
            break;
        }
        if (!c->closing) check_end(h);
        if (!a && !b && !h->again) break;
    }
    h->flushing = 0;
    if (--c->busy == 0 && c->dead) conn_free(c);
}

/* Feeds what the core read to the side's session. */
static void h2_on_read(struct conn *c, struct pipe *p, struct evbuffer *in)
{
    struct h2_conn *h = c->proto;
    if (h->dead || c->closing || (p->dir == 1 && h->up_dead)) {
        evbuffer_drain(in, evbuffer_get_length(in));   /* a dead upstream's bytes name freed streams */
        return;
    }
    nghttp2_session *sess = p->dir == 0 ? h->srv : h->cli;
    if (p->dir == 0) {
        h->started = 1;
        h2_conn_faults(h);
    }
    struct evbuffer_iovec v[8];
    while (evbuffer_get_length(in) && !c->closing) {
        int nv = evbuffer_peek(in, -1, NULL, v, 8);
        if (nv > 8) nv = 8;
        size_t used = 0;
        ssize_t rv = 0;
        for (int i = 0; i < nv && rv >= 0 && !c->closing; i++) {
            rv = nghttp2_session_mem_recv(sess, v[i].iov_base, v[i].iov_len);
            if (rv >= 0) used += v[i].iov_len;
        }
        evbuffer_drain(in, used);
        if (rv < 0) {
            evbuffer_drain(in, evbuffer_get_length(in));
            if (p->dir == 0) {
                if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC) h->tot->bad_preface++;
                else if (rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) h->tot->continuation_floods++;
                else if (rv == NGHTTP2_ERR_FLOODED) h->tot->flood_closes++;
                else h->tot->protocol_errors++;
            }
            log_debug("h2_recv_error", "proxy=%s id=%llu side=%s error=%s", log_q(c->px->spec.name),
                      (unsigned long long)c->id, p->dir ? "upstream" : "client", nghttp2_strerror((int)rv));
            if (p->dir == 0) {
                /* nghttp2 queued its GOAWAY: send it, then end the pair */
                h->goaway = 1;
                h->closing_by = CLOSER_PROXY;
                send_session(h, h->srv, 1);
                h2_close(h, CLOSER_PROXY, CLOSE_FIN);
            } else {
                h->up_dead = 1;
                h2_upstream_gone(h);
            }
            break;
        }
    }
    h2_flush(h);
}

/* The client's EOF: HTTP/2 has no half-close of a connection, so the client is gone and its open
 * streams were given up on (as an http client's close); the upstream gets their cancels and a
 * GOAWAY, and the pair ends. The upstream's EOF: what is open gets a 502 (or a reset), the client
 * a GOAWAY (http2.c check_end). */
static int h2_on_eof(struct conn *c, struct pipe *p)
{
    struct h2_conn *h = c->proto;
    if (p->dir == 0) {
        h->cli_eof = 1;
        int64_t at = c->t_cli_eof ? c->t_cli_eof : fl_now_us();
        for (struct h2_stream *s = h->streams; s; s = s->next) {
            if (!s->t_done && !s->t_abandoned) s->t_abandoned = at;
            if (s->held && s->f && !s->t_done) s->f->c.abandoned++;
            if (s->uid_open && h->cli && !h->up_dead) nghttp2_submit_rst_stream(h->cli, NGHTTP2_FLAG_NONE, s->uid, NGHTTP2_CANCEL);
        }
        if (!h->dead && !c->closing && !h->up_dead) {
            nghttp2_session_terminate_session(h->cli, NGHTTP2_NO_ERROR);
            send_session(h, h->cli, 0);
        }
        h2_close(h, CLOSER_CLIENT, CLOSE_FIN);
        return 1;
    }
    h->up_dead = 1;
    h2_upstream_gone(h);
    h2_flush(h);
    return 1;
}

static void h2_upstream_failed(struct conn *c)
{
    struct h2_conn *h = c->proto;
    if (!h || c->closing) return;
    h->up_dead = h->up_failed = 1;
    c->p[1].src_eof = 1;
    h2_upstream_gone(h);
    h2_flush(h);
    /* nothing was asked yet: the pair stays for the requests to come, answered 502 (as http) */
}

static void h2_upstream_reset(struct conn *c)
{
    struct h2_conn *h = c->proto;
    if (!h || c->closing) return;
    h->up_dead = 1;
    if (c->up) {
        bufferevent_disable(c->up, EV_READ | EV_WRITE);
        struct evbuffer *o = bufferevent_get_output(c->up);
        evbuffer_drain(o, evbuffer_get_length(o));
    }
    h2_upstream_gone(h);
    h2_flush(h);
}

static void conn_new_mode(struct conn *c, const struct h2_mode *mode)
{
    struct h2_conn *h = calloc(1, sizeof(*h));
    if (!h) abort();
    h->c = c;
    h->mode = mode;
    h->tmp = evbuffer_new();
    if (!h->tmp) abort();
    h->tot = h2_totals_for(c->px->spec.name);
    h->rst_tokens = H2_RESET_BURST;
    h->rst_last_us = fl_now_us();
    c->proto = h;
    sessions_new(h);
    /* nothing is sent yet: TLS (proxy/tls.h) is set up after conn_init; both sessions' SETTINGS
     * leave with the first flush, when the client's preface arrives */
}

/* For the idle timeouts (proxy/limits.h): a stream a fault holds, delays (a pending timer) or
 * stalls holds the pair; open streams wait for the upstream; otherwise nothing is owed. */
static int h2_idle_state(const struct conn *c)
{
    const struct h2_conn *h = c->proto;
    int open = 0;
    for (const struct h2_stream *s = h->streams; s; s = s->next) {
        if (s->held || s->b[0].stalled || s->b[1].stalled) return CONN_HELD;
        for (int d = 0; d < 2; d++)
            if (s->tm[d] && evtimer_pending(s->tm[d], NULL)) return CONN_HELD;
        if (s->cid_open) open = 1;
    }
    return open ? CONN_WAITING : CONN_QUIET;
}

static void h2_conn_init(struct conn *c) { conn_new_mode(c, NULL); }
static void grpc_conn_init(struct conn *c) { conn_new_mode(c, &h2_mode_grpc); }

static void h2_conn_free(struct conn *c)
{
    struct h2_conn *h = c->proto;
    if (!h) return;
    int64_t gone = c->t_gave_up ? c->t_gave_up : (c->closed_by == CLOSER_CLIENT ? c->t_close : 0);
    /* the sessions go first: nghttp2 calls nothing back from nghttp2_session_del */
    nghttp2_session_del(h->srv);
    nghttp2_session_del(h->cli);
    h->srv = h->cli = NULL;
    while (h->streams) {
        struct h2_stream *s = h->streams;
        if (s->held && c->closed_by != CLOSER_CLIENT) s->held_at_end = 1;
        if (!s->t_done && !s->t_abandoned) s->t_abandoned = gone;
        h2_stream_record(s);
        h2_stream_free(s);
    }
    for (int i = 0; i < h->ndec; i++)   /* per-connection faults' max_active places */
        if (h->dec[i].scoped) scope_leave((struct fault *)h->dec[i].f);
    evbuffer_free(h->tmp);
    free(h);
    c->proto = NULL;
}

const struct protocol protocol_http2 = {
    .name = "http2",
    .flags = PROTO_CORK | PROTO_REQUESTS,
    .alpn = "h2",
    .fault_flag = FT_HTTP_ONLY | FT_H2_ONLY,
    .conn_init = h2_conn_init,
    .conn_free = h2_conn_free,
    .on_read = h2_on_read,
    .on_eof = h2_on_eof,
    .upstream_failed = h2_upstream_failed,
    .upstream_reset = h2_upstream_reset,
    .idle_state = h2_idle_state,
    .fault_inside = h2_fault_inside,
    .fault_ended = h2_fault_ended,
    .fault_started = h2_fault_started,
    .stats_json = h2_stats_json,
    .totals_facts = h2_totals_facts,
};

const struct protocol protocol_grpc = {
    .name = "grpc",
    .flags = PROTO_CORK | PROTO_REQUESTS,
    .alpn = "h2",
    .fault_flag = FT_HTTP_ONLY | FT_H2_ONLY | FT_GRPC_ONLY,
    .conn_init = grpc_conn_init,
    .conn_free = h2_conn_free,
    .on_read = h2_on_read,
    .on_eof = h2_on_eof,
    .upstream_failed = h2_upstream_failed,
    .upstream_reset = h2_upstream_reset,
    .idle_state = h2_idle_state,
    .fault_inside = h2_fault_inside,
    .fault_ended = h2_fault_ended,
    .fault_started = h2_fault_started,
    .stats_json = h2_stats_json,
    .totals_facts = h2_totals_facts,
};
