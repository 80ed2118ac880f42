/* http.c -- mode = http: HTTP/1.x framing on both directions of a connection pair, so that
 * faults act per request (protocol_http, proxy/protocol.h).
 *
 * Both directions are parsed with libhttp-parser (Debian's, not by hand): requests from the
 * client, responses from the upstream. Bytes are streamed, never buffered whole: only a head
 * (at most HTTP_HEAD_MAX bytes) is gathered, because a fault can only be chosen once the
 * method, path, Host and headers are known. Everything after a head (bodies, chunk framing) is
 * forwarded as raw bytes the moment the parser has walked over them, so a body leaves exactly
 * as it came. The only change ever made to a head is an added `Via` line when add_via = yes.
 *
 * The parser is paused in on_headers_complete and on_message_complete, so every call of
 * http_parser_execute() ends at a boundary we care about and the count it returns says which
 * raw bytes belong to the head, to the body, or to the next message.
 *
 * Requests are kept in a FIFO in arrival order; responses are written to the client in that
 * order (HTTP/1.1 pipelining). A request answered by the proxy (http_error, 400, 431, 502)
 * keeps its place: its answer goes out when every request before it was answered. Each
 * upstream response belongs to the oldest forwarded request still waiting for one. Nothing is
 * ever reordered towards the upstream either: while a request is delayed or held, the client's
 * later bytes wait unread in its input buffer (bounded: reading stops at the proxy's buffer
 * size), exactly the head-of-line blocking a real HTTP/1.1 connection has.
 *
 * "Waiting" is always the same trick: input is left in the bufferevent's input buffer and
 * http_run() is called again when the reason to wait is gone (a timer, a fault ending, the
 * response that unblocks it). http_run() loops over both directions until neither moves.
 *
 * Ownership: struct http_conn is owned by its conn (conn->proto); requests are owned by the
 * FIFO; faults are borrowed (every pointer to a fault is dropped in http_fault_ended()).
 *
 * Files: http.c (here) frames; http_answer.c keeps the FIFO and faultline's own answers;
 * http_plan.c chooses each request's fault and runs the waits it causes (http_int.h).
 */
#include "proxy/protocols/http.h"
#include "proxy/protocols/http_int.h"
#include "proxy/proxy.h"
#include "proxy/protocol.h"
#include "faults/http_fault.h"
#include "record/record.h"
#include "common/log.h"
#include "common/parse.h"

#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <event2/buffer.h>

/* ---- small helpers ---- */

static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) abort();
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

static void hb_add(struct http_conn *hc, const char *at, size_t len)
{
    if (hc->hb_len + len > HTTP_HEAD_MAX + 1024) { hc->hdr_overflow = 1; return; }
    if (hc->hb_len + len > hc->hb_cap) {
        size_t ncap = hc->hb_cap ? hc->hb_cap : 1024;
        while (ncap < hc->hb_len + len) ncap *= 2;
        char *nb = realloc(hc->hb, ncap);
        if (!nb) abort();
        hc->hb = nb;
        hc->hb_cap = ncap;
    }
    memcpy(hc->hb + hc->hb_len, at, len);
    hc->hb_len += len;
}

/* Value of the first header `name` (case-insensitive), copied into buf; NULL if absent. */
static const char *hdr_get(struct http_conn *hc, const char *name, char *buf, size_t blen, int from)
{
    size_t nl = strlen(name);
    for (int i = from; i < hc->nhdr; i++) {
        struct hdr *h = &hc->hdr[i];
        if (h->n_len == nl && strncasecmp(hc->hb + h->n_off, name, nl) == 0) {
            size_t vl = h->v_len < blen - 1 ? h->v_len : blen - 1;
            memcpy(buf, hc->hb + h->v_off, vl);
            buf[vl] = 0;
            return buf;
        }
    }
    return NULL;
}

static void arm(struct event *ev, int64_t us)
{
    if (us < 0) us = 0;
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    evtimer_add(ev, &tv);
}

/* A latency plan's delay for one request: delay_us, moved by up to +-jitter_us (uniform). The
 * request side and the response side draw it alike. */
static int64_t plan_delay_us(const struct http_fault_plan *pl)
{
    return pl->delay_us + fl_jitter_us(pl->jitter_us);
}

/* How much of a head may still be gathered into buffer head (0: it is already too large). */
static size_t head_room(struct evbuffer *head)
{
    size_t have = evbuffer_get_length(head);
    return have < HTTP_HEAD_MAX ? HTTP_HEAD_MAX - have : 0;
}

/* Feeds the parser the head's last LF. Both parsers pause in on_headers_complete, which
 * http-parser calls on that LF before it counts it as consumed, so the caller has moved the
 * head (with the LF) out of the input and hands the LF in again on its own: the parser then
 * finishes the head (and a body-less message) where it stands. Returns the parser's errno;
 * a pause it ends in (message complete) is lifted, ev_mc says whether it happened. */
static enum http_errno head_last_lf(struct http_conn *hc, http_parser *p, const http_parser_settings *st, char lf)
{
    http_parser_pause(p, 0);
    hc->ev_mc = 0;
    http_parser_execute(p, st, &lf, 1);
    enum http_errno e = HTTP_PARSER_ERRNO(p);
    if (e == HPE_PAUSED) http_parser_pause(p, 0);
    return e;
}

/* Inserts "Via: 1.x faultline" before the blank line that ends a head. */
static void head_add_via(struct evbuffer *head, unsigned short major, unsigned short minor)
{
    size_t len = evbuffer_get_length(head);
    if (len < 2) return;
    unsigned char *p = evbuffer_pullup(head, -1);
    int crlf = len >= 4 && memcmp(p + len - 4, "\r\n\r\n", 4) == 0;
    struct evbuffer *nb = evbuffer_new();
    if (!nb) abort();
    size_t keep = len - (crlf ? 2 : 1);
    evbuffer_add(nb, p, keep);
    evbuffer_add_printf(nb, "Via: %u.%u " VIA_TEXT "%s%s", major, minor, crlf ? "\r\n" : "\n", crlf ? "\r\n" : "\n");
    evbuffer_drain(head, len);
    evbuffer_add_buffer(head, nb);
    evbuffer_free(nb);
}

/* ---- request parser callbacks ---- */

static int rq_begin(http_parser *p)
{
    struct http_conn *hc = p->data;
    hc->hb_len = 0;
    hc->url_off = hc->url_len = 0;
    hc->nhdr = 0;
    hc->last_was_value = 0;
    hc->hdr_overflow = 0;
    hc->hdr_skip = 0;
    return 0;
}

static int rq_url(http_parser *p, const char *at, size_t len)
{
    struct http_conn *hc = p->data;
    if (hc->url_len == 0) hc->url_off = (uint32_t)hc->hb_len;
    hb_add(hc, at, len);
    hc->url_len += (uint32_t)len;
    return 0;
}

static int rq_hfield(http_parser *p, const char *at, size_t len)
{
    struct http_conn *hc = p->data;
    if (hc->last_was_value || hc->nhdr == 0) {
        hc->last_was_value = 0;
        hc->hdr_skip = hc->nhdr >= HTTP_MAX_CAPTURED_HEADERS;   /* past the limit: not matchable */
        if (hc->hdr_skip) return 0;
        hc->hdr[hc->nhdr++] = (struct hdr){(uint32_t)hc->hb_len, 0, 0, 0};
    }
    if (hc->hdr_skip) return 0;
    hb_add(hc, at, len);
    hc->hdr[hc->nhdr - 1].n_len += (uint32_t)len;
    return 0;
}

static int rq_hvalue(http_parser *p, const char *at, size_t len)
{
    struct http_conn *hc = p->data;
    int first = !hc->last_was_value;
    hc->last_was_value = 1;
    if (hc->hdr_skip || hc->nhdr == 0) return 0;
    struct hdr *h = &hc->hdr[hc->nhdr - 1];
    if (first) h->v_off = (uint32_t)hc->hb_len;
    hb_add(hc, at, len);
    h->v_len += (uint32_t)len;
    return 0;
}

static int rq_headers_complete(http_parser *p)
{
    struct http_conn *hc = p->data;
    hc->ev_hc = 1;
    http_parser_pause(p, 1);
    return 0;
}

/* Body bytes (chunk framing removed by the parser): counted and hashed as they pass, also
 * after the request was answered (a retry is recognised by the same body: docs/metrics.md). */
static int rq_body(http_parser *p, const char *at, size_t len)
{
    struct http_conn *hc = p->data;
    struct http_req *r = hc->rq_hash;
    if (!r) return 0;
    r->bytes_req += len;
    uint64_t h = r->body_hash;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)at[i]) * 0x100000001b3ULL;
    r->body_hash = h;
    return 0;
}

static int any_message_complete(http_parser *p)
{
    struct http_conn *hc = p->data;
    hc->ev_mc = 1;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings rq_settings = {
    .on_message_begin = rq_begin,
    .on_url = rq_url,
    .on_header_field = rq_hfield,
    .on_header_value = rq_hvalue,
    .on_headers_complete = rq_headers_complete,
    .on_body = rq_body,
    .on_message_complete = any_message_complete,
};

/* ---- response parser callbacks ---- */

static int rs_headers_complete(http_parser *p)
{
    struct http_conn *hc = p->data;
    hc->ev_hc = 1;
    http_parser_pause(p, 1);
    struct http_req *t = hc->rs_target;
    if (t && t->is_connect && p->status_code >= 200 && p->status_code < 300) return 2;  /* tunnel */
    if (t && t->is_head && p->status_code >= 200) return 1;                            /* no body */
    return 0;
}

static int rs_body(http_parser *p, const char *at, size_t len)
{
    struct http_conn *hc = p->data;
    struct http_req *t = hc->rs_target;
    if (t) t->bytes_resp += len;
    /* corrupt: the body's data bytes only (at points into the input buffer, which is ours) */
    if (t && t->pl.act == HACT_CORRUPT) corrupt_flip((unsigned char *)(uintptr_t)at, len, t->pl.corrupt_rate, &t->pl.corrupt_gap);
    return 0;
}

static const http_parser_settings rs_settings = {
    .on_headers_complete = rs_headers_complete,
    .on_body = rs_body,
    .on_message_complete = any_message_complete,
};

/* ---- the client -> upstream direction ---- */

void http_forward_request(struct http_conn *hc, struct http_req *r, struct evbuffer *head)
{
    struct conn *c = hc->c;
    if (hc->fwd && http_fwd_route(hc, r, head)) return;   /* mode = forward: r's destination (forward.c) */
    if (hc->up_eof || !c->up) {
        /* the upstream already went away (or never came): this request cannot be sent */
        if (!hc->up_failed) c->px->st.bad_responses++;
        evbuffer_drain(head, evbuffer_get_length(head));
        http_answer_locally(hc, r, 502, NULL, NULL, 0, 1);
        return;
    }
    if (c->px->spec.add_via) head_add_via(head, r->major, r->minor);
    r->forwarded = 1;
    r->fwd_body = 1;
    if (r == hc->rq_cur) hc->rq_body_fwd = 1;
    r->t_fwd = fl_now_us();
    if (r->upgrade || r->is_connect) hc->rq_wait = RQW_UPGRADE;
    pipe_input(&c->p[0], head);
}

/* A request head is complete: hc->rq_head holds its raw bytes. */
static void request_head(struct http_conn *hc)
{
    struct conn *c = hc->c;
    struct fl_proxy *px = c->px;
    struct http_req *r = calloc(1, sizeof(*r));
    if (!r) abort();
    snprintf(r->method, sizeof(r->method), "%s", http_method_str((enum http_method)hc->rq.method));
    r->is_head = hc->rq.method == HTTP_HEAD;
    r->is_connect = hc->rq.method == HTTP_CONNECT;
    r->upgrade = hc->rq.upgrade && !r->is_connect;
    r->keep_alive = http_should_keep_alive(&hc->rq);
    r->major = hc->rq.http_major;
    r->minor = hc->rq.http_minor;
    const char *url = hc->hb + hc->url_off;
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (hc->url_len && http_parser_parse_url(url, hc->url_len, r->is_connect, &u) == 0 && (u.field_set & (1 << UF_PATH)))
        r->path = dupn(url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
    else
        r->path = dupn(url, hc->url_len);
    char v[1024];
    if (hdr_get(hc, "Host", v, sizeof(v), 0)) r->host = strdup(v);
    if (hdr_get(hc, px->spec.id_header[0] ? px->spec.id_header : "X-Request-Id", v, sizeof(v), 0))
        r->reqid = strdup(v);
    r->body_hash = 0xcbf29ce484222325ULL;  /* FNV-1a 64 offset basis */
    r->t_req = fl_now_us();
    if (hc->cli_eof) r->t_abandoned = r->t_req;   /* read after the client left (http_client_left) */
    px->st.requests++;
    px->st.inflight++;
    if (px->st.inflight > px->st.peak_inflight) px->st.peak_inflight = px->st.inflight;
    if (rec_active) rec_request_start(proxy_rec(px), px->st.inflight);
    http_q_push(hc, r);
    hc->rq_cur = r;
    hc->rq_hash = r;
    hc->rq_body_fwd = 0;
    if (hc->fwd && http_fwd_request(hc, r)) return;   /* mode = forward: the target (forward.c) */
    if (!px->spec.hdrctl.on || !http_header_control(hc, r)) http_choose_fault(hc, r);
    http_keep_clipped(r);
    if (hc->hb_cap > HTTP_HB_KEEP) {   /* a large head's capture is not kept for the next one */
        free(hc->hb);
        hc->hb = NULL;
        hc->hb_cap = 0;
    }

    switch (r->pl.act) {
    case HACT_ERROR:
        http_answer_locally(hc, r, r->pl.status, r->pl.body, r->pl.headers, r->pl.nheaders, 0);
        evbuffer_drain(hc->rq_head, evbuffer_get_length(hc->rq_head));
        break;
    case HACT_RESET:
        if (r->f) r->f->c.resets++;
        r->t_done = fl_now_us();
        conn_close(c, CLOSER_FAULT, CLOSE_RST);
        break;
    case HACT_HANG:
        http_hang_mark(hc, r);
        if (r->pl.forward) {
            http_forward_request(hc, r, hc->rq_head);
        } else {
            r->pending_head = evbuffer_new();
            evbuffer_add_buffer(r->pending_head, hc->rq_head);
            hc->rq_wait = RQW_HOLD;
        }
        break;
    case HACT_LATENCY:
        if (!r->pl.where_response) {
            r->pending_head = evbuffer_new();
            evbuffer_add_buffer(r->pending_head, hc->rq_head);
            hc->rq_wait = RQW_LATENCY;
            if (r->f) r->f->c.bytes_delayed += evbuffer_get_length(r->pending_head);
            arm(hc->rq_timer, plan_delay_us(&r->pl));
            break;
        }
        http_forward_request(hc, r, hc->rq_head);   /* the delay comes before the response head */
        break;
    default:
        http_forward_request(hc, r, hc->rq_head);
        break;
    }
}

/* The request being read (hc->rq_cur) has been read whole. */
static void request_done(struct http_conn *hc)
{
    if (hc->rq_cur) hc->rq_cur->req_done = 1;
    hc->rq_cur = NULL;
    hc->rq_in_body = 0;
    if (hc->rq_hash) {
        hc->rq_hash->body_whole = 1;
        if (hc->rq_hash == hc->rq_linger) {
            http_req_record(hc, hc->rq_linger);
            http_req_free(hc->rq_linger);
            hc->rq_linger = NULL;
        }
        hc->rq_hash = NULL;
    }
}

static int client_process(struct http_conn *hc)
{
    struct conn *c = hc->c;
    int progress = 0;
    for (int guard = 0; guard < 100000; guard++) {
        if (c->closing || !c->cli) break;
        struct evbuffer *in = bufferevent_get_input(c->cli);
        size_t avail = evbuffer_get_length(in);
        if (!avail) break;
        if (hc->tunnel) {
            pipe_input(&c->p[0], in);
            progress = 1;
            break;
        }
        if (hc->rq_bad) {
            evbuffer_drain(in, avail);
            progress = 1;
            break;
        }
        if (hc->rq_wait) break;
        /* a client pipelining far ahead of the answers waits (unread input is bounded) */
        if (!hc->rq_in_body && hc->nq >= (int)c->px->srv->g.lim.max_pipeline) break;
        /* nor is a new request read while answers wait for a client that does not read them:
         * faultline's own (an http_error) would pile up past any bound (http_on_drain) */
        if (!hc->rq_in_body && evbuffer_get_length(bufferevent_get_output(c->cli)) >= c->px->srv->g.buffer) {
            hc->out_wait = 1;
            break;
        }
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1) break;
        size_t len = v.iov_len;
        if (!hc->rq_in_body) {
            size_t room = head_room(hc->rq_head);
            if (room == 0) { http_bad_request(hc, 431); progress = 1; continue; }
            if (len > room) len = room;
        }
        hc->ev_hc = hc->ev_mc = 0;
        size_t n = http_parser_execute(&hc->rq, &rq_settings, v.iov_base, len);
        enum http_errno e = HTTP_PARSER_ERRNO(&hc->rq);
        progress = 1;
        if (e != HPE_OK && e != HPE_PAUSED) {
            http_bad_request(hc, e == HPE_HEADER_OVERFLOW || hc->hdr_overflow ? 431 : 400);
            continue;
        }
        if (hc->ev_hc) {
            /* paused on the head's last LF, which the parser has not consumed yet */
            char lf = ((const char *)v.iov_base)[n];
            evbuffer_remove_buffer(in, hc->rq_head, n + 1);
            if (evbuffer_get_length(hc->rq_head) > HTTP_HEAD_MAX) { http_bad_request(hc, 431); continue; }
            e = head_last_lf(hc, &hc->rq, &rq_settings, lf);
            if (e != HPE_OK && e != HPE_PAUSED) { http_bad_request(hc, 400); continue; }
            int mc = hc->ev_mc;
            hc->rq_in_body = 1;
            request_head(hc);
            if (c->closing) break;
            if (mc) request_done(hc);
            continue;
        }
        if (!hc->rq_in_body) {
            evbuffer_remove_buffer(in, hc->rq_head, n);
            if (evbuffer_get_length(hc->rq_head) >= HTTP_HEAD_MAX) http_bad_request(hc, 431);
        } else {
            if (hc->rq_body_fwd) {
                evbuffer_remove_buffer(in, hc->tmp, n);
                http_send_on(hc, 0, hc->tmp);
            } else {
                evbuffer_drain(in, n);
            }
            if (hc->ev_mc) {
                http_parser_pause(&hc->rq, 0);
                request_done(hc);
            }
        }
        if (n == 0 && !hc->ev_mc) break;   /* nothing moved: wait for more */
    }
    return progress;
}

/* ---- the upstream -> client direction ---- */

struct http_req *http_rs_find_target(struct http_conn *hc)
{
    for (struct http_req *r = hc->q; r; r = r->next)
        if (r->forwarded && !r->resp_done && !r->local) return r;
    return NULL;
}

static void rs_close_client(struct http_conn *hc, enum closer who)
{
    conn_close(hc->c, who, CLOSE_FIN);
}

/* The upstream's answer is unusable: 502 if nothing of it reached the client, else close. */
static void bad_response(struct http_conn *hc, struct http_req *t, const char *why)
{
    struct conn *c = hc->c;
    c->px->st.bad_responses++;
    hc->rs_dead = 1;
    log_debug("http_bad_response", "proxy=%s id=%llu why=%s", log_q(c->px->spec.name), (unsigned long long)c->id, why);
    if (c->up) {
        struct evbuffer *in = bufferevent_get_input(c->up);
        evbuffer_drain(in, evbuffer_get_length(in));
    }
    if (t && !t->resp_started) {
        t->forwarded = 0;
        http_answer_locally(hc, t, 502, NULL, NULL, 0, 1);
        hc->rs_in_body = 0;
        return;
    }
    rs_close_client(hc, CLOSER_UPSTREAM);
}

static void truncate_close(struct http_conn *hc, struct http_req *t)
{
    if (t->f) t->f->c.closes++;
    t->t_done = fl_now_us();
    conn_close(hc->c, CLOSER_FAULT, CLOSE_FIN);
}

static void response_done(struct http_conn *hc, struct http_req *t);

/* Sends the response head held in rs_head (after a latency, or at once). */
void http_response_head_release(struct http_conn *hc, struct http_req *t)
{
    struct conn *c = hc->c;
    if (c->px->spec.add_via) head_add_via(hc->rs_head, hc->rs.http_major, hc->rs.http_minor);
    if (!(t->status >= 100 && t->status < 200 && t->status != 101)) t->resp_started = 1;
    http_send_on(hc, 1, hc->rs_head);
    if (c->closing) return;
    if (t->pl.act == HACT_TRUNCATE && t->status >= 200 && t->pl.after_bytes == 0) {
        truncate_close(hc, t);
        return;
    }
    if (t->pl.act == HACT_SLOW_BODY) {
        hc->sb_tokens = 0;
        hc->sb_last_us = fl_now_us();
    }
    if (t->resp_complete_pending) {
        t->resp_complete_pending = 0;
        response_done(hc, t);
    }
}

static void response_head(struct http_conn *hc, struct http_req *t)
{
    int status = hc->rs.status_code;
    t->status = status;
    if (!t->t_resp_head) t->t_resp_head = fl_now_us();
    if (status == 101 || (t->is_connect && status >= 200 && status < 300)) {
        http_response_head_release(hc, t);
        hc->tunnel = 1;
        hc->rq_wait = RQW_NONE;
        return;
    }
    if (hc->rq_wait == RQW_UPGRADE && status >= 200) {
        /* upgrade refused: the connection stays HTTP */
        hc->rq_wait = RQW_NONE;
        http_parser_init(&hc->rq, HTTP_REQUEST);
        hc->rq.data = hc;
        hc->rq_in_body = 0;
    }
    if (status >= 200 && t->pl.act == HACT_LATENCY && t->pl.where_response && !t->latency_done) {
        t->latency_done = 1;
        hc->rs_wait = RSW_LATENCY;
        if (t->f) t->f->c.bytes_delayed += evbuffer_get_length(hc->rs_head);
        arm(hc->rs_timer, plan_delay_us(&t->pl));
        return;
    }
    http_response_head_release(hc, t);
}

static void response_done(struct http_conn *hc, struct http_req *t)
{
    hc->rs_in_body = 0;
    if (t->status >= 100 && t->status < 200 && t->status != 101) return;   /* interim: wait for the final one */
    if (hc->rs_wait == RSW_LATENCY) { t->resp_complete_pending = 1; return; }
    t->resp_done = 1;
    t->t_done = fl_now_us();
    int trunc = t->pl.act == HACT_TRUNCATE;
    if (hc->q == t) http_q_finish_head(hc);
    if (!trunc) http_close_after(hc);
    if (trunc) {
        conn_close(hc->c, CLOSER_FAULT, CLOSE_FIN);
    }
}

static int upstream_process(struct http_conn *hc)
{
    struct conn *c = hc->c;
    int progress = 0;
    for (int guard = 0; guard < 100000; guard++) {
        if (c->closing || !c->up) break;
        struct evbuffer *in = bufferevent_get_input(c->up);
        size_t avail = evbuffer_get_length(in);
        if (!avail) break;
        if (hc->tunnel) {
            pipe_input(&c->p[1], in);
            progress = 1;
            break;
        }
        if (hc->rs_dead) { evbuffer_drain(in, avail); break; }
        if (hc->rs_wait) break;
        struct http_req *t = http_rs_find_target(hc);
        if (!t) {
            /* bytes nobody asked for */
            bad_response(hc, NULL, "unsolicited");
            progress = 1;
            break;
        }
        if (t != hc->q) break;          /* earlier requests are answered first */
        if (t->held) break;             /* hang: the response is never returned */
        hc->rs_target = t;
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1) break;
        size_t len = v.iov_len;
        if (!hc->rs_in_body) {
            size_t room = head_room(hc->rs_head);
            if (room == 0) { bad_response(hc, t, "head too large"); progress = 1; continue; }
            if (len > room) len = room;
        } else {
            if (t->pl.act == HACT_SLOW_BODY) {
                int64_t now = fl_now_us();
                double burst = (double)t->pl.rate / 20.0;
                if (burst < 1) burst = 1;
                hc->sb_tokens += (double)(now - hc->sb_last_us) * (double)t->pl.rate / 1e6;
                if (hc->sb_tokens > burst) hc->sb_tokens = burst;
                hc->sb_last_us = now;
                if (hc->sb_tokens < 1) {
                    hc->rs_wait = RSW_SLOW;
                    arm(hc->rs_timer, (int64_t)((burst - hc->sb_tokens) * 1e6 / (double)t->pl.rate));
                    break;
                }
                if ((double)len > hc->sb_tokens) len = (size_t)hc->sb_tokens;
            }
            if (t->pl.act == HACT_TRUNCATE) {
                uint64_t left = t->pl.after_bytes > t->body_wire ? t->pl.after_bytes - t->body_wire : 0;
                if (left == 0) { truncate_close(hc, t); break; }
                if (len > left) len = (size_t)left;
            }
        }
        hc->ev_hc = hc->ev_mc = 0;
        size_t n = http_parser_execute(&hc->rs, &rs_settings, v.iov_base, len);
        enum http_errno e = HTTP_PARSER_ERRNO(&hc->rs);
        progress = 1;
        if (e != HPE_OK && e != HPE_PAUSED) {
            bad_response(hc, t, http_errno_name(e));
            continue;
        }
        if (hc->ev_hc) {
            char lf = ((const char *)v.iov_base)[n];
            evbuffer_remove_buffer(in, hc->rs_head, n + 1);
            e = head_last_lf(hc, &hc->rs, &rs_settings, lf);
            if (e != HPE_OK && e != HPE_PAUSED) { bad_response(hc, t, http_errno_name(e)); continue; }
            int mc = hc->ev_mc;
            hc->rs_in_body = 1;
            response_head(hc, t);
            if (c->closing) break;
            if (mc) response_done(hc, t);
            continue;
        }
        if (!hc->rs_in_body) {
            evbuffer_remove_buffer(in, hc->rs_head, n);
            if (evbuffer_get_length(hc->rs_head) >= HTTP_HEAD_MAX) bad_response(hc, t, "head too large");
        } else {
            evbuffer_remove_buffer(in, hc->tmp, n);
            t->body_wire += n;
            t->resp_started = 1;
            if (t->pl.act == HACT_SLOW_BODY) hc->sb_tokens -= (double)n;
            http_send_on(hc, 1, hc->tmp);
            if (c->closing) break;
            if (hc->ev_mc) {
                http_parser_pause(&hc->rs, 0);
                response_done(hc, t);
            } else if (t->pl.act == HACT_TRUNCATE && t->body_wire >= t->pl.after_bytes) {
                truncate_close(hc, t);
                break;
            }
        }
        if (n == 0 && !hc->ev_mc) break;
    }
    hc->rs_target = NULL;
    return progress;
}

/* EOFs that can be passed on now. */
static int eof_process(struct http_conn *hc)
{
    struct conn *c = hc->c;
    if (c->closing) return 0;
    int progress = 0;
    if (hc->cli_eof && !hc->cli_eof_passed && (!c->cli || !evbuffer_get_length(bufferevent_get_input(c->cli))) &&
        (hc->rq_wait == RQW_NONE || hc->rq_wait == RQW_UPGRADE)) {
        hc->cli_eof_passed = 1;
        pipe_eof_in(&c->p[0]);
        progress = 1;
    }
    if (c->closing) return progress;
    if (hc->up_eof && !hc->up_eof_done && (!c->up || !evbuffer_get_length(bufferevent_get_input(c->up)))) {
        if (hc->tunnel) {
            hc->up_eof_done = 1;
            pipe_eof_in(&c->p[1]);
            return 1;
        }
        struct http_req *t = http_rs_find_target(hc);
        if (t && t->held) return progress;              /* a hung dependency never says goodbye */
        if (hc->rs_wait) return progress;
        if (t && t == hc->q && hc->rs_in_body) {
            /* a body that ends with the connection */
            hc->rs_target = t;
            hc->ev_mc = 0;
            http_parser_execute(&hc->rs, &rs_settings, NULL, 0);
            hc->rs_target = NULL;
            if (hc->ev_mc) {
                http_parser_pause(&hc->rs, 0);
                response_done(hc, t);
                return 1;
            }
        }
        if (t) {
            /* the upstream closed before answering in full */
            hc->up_eof_done = 1;
            bad_response(hc, t, "upstream closed early");
            /* requests behind it will never be answered either */
            for (struct http_req *o = t->next; o; o = o->next)
                if (o->forwarded && !o->resp_done && !o->local) { o->forwarded = 0; o->status = 0; }
            return 1;
        }
        if (hc->q) return progress;   /* local answers or held requests first */
        if (hc->fwd && !hc->cli_eof_passed && http_fwd_idle_eof(hc)) return progress;   /* the client stays */
        if (hc->up_failed) {
            /* no upstream: wait for a request to answer 502, unless the client left */
            if (hc->cli_eof) {
                conn_close(c, CLOSER_CLIENT, CLOSE_FIN);
                return 1;
            }
            return progress;
        }
        hc->up_eof_done = 1;
        pipe_eof_in(&c->p[1]);
        progress = 1;
    }
    return progress;
}

/* Input bounds: a direction that is waiting stops reading once its input holds a buffer. */
static void input_bounds(struct http_conn *hc)
{
    struct conn *c = hc->c;
    if (c->closing) return;
    for (int d = 0; d < 2; d++) {
        struct bufferevent *b = d == 0 ? c->cli : c->up;
        if (!b) continue;
        size_t hiwat = c->px->srv->g.buffer;
        if (d == 0 && !hc->tunnel && hiwat > HTTP_INPUT_AHEAD) hiwat = HTTP_INPUT_AHEAD;   /* read ahead of the requests */
        size_t n = evbuffer_get_length(bufferevent_get_input(b));
        if (n >= hiwat) {   /* also when pipe_after_io re-enabled reading meanwhile */
            hc->in_paused[d] = 1;
            bufferevent_disable(b, EV_READ);
        } else if (hc->in_paused[d] && n <= hiwat / 2) {
            hc->in_paused[d] = 0;
            if (!c->p[d].read_paused && !c->p[d].src_eof) bufferevent_enable(b, EV_READ);
        }
    }
}

void http_run(struct http_conn *hc)
{
    if (hc->running) { hc->again = 1; return; }
    hc->running = 1;
    struct conn *c = hc->c;
    for (int i = 0; i < 64 && !c->closing; i++) {
        hc->again = 0;
        int p = client_process(hc);
        if (!c->closing) p |= http_emit_locals(hc);
        if (!c->closing) p |= upstream_process(hc);
        if (!c->closing) p |= http_emit_locals(hc);
        if (!c->closing) p |= eof_process(hc);
        if (hc->fwd && !c->closing) p |= http_fwd_poll(hc);
        if (!p && !hc->again) break;
    }
    input_bounds(hc);
    hc->running = 0;
}

/* ---- entry points ---- */

void http_conn_new(struct conn *c)
{
    struct http_conn *hc = calloc(1, sizeof(*hc));
    if (!hc) abort();
    hc->c = c;
    http_parser_init(&hc->rq, HTTP_REQUEST);
    http_parser_init(&hc->rs, HTTP_RESPONSE);
    hc->rq.data = hc->rs.data = hc;
    hc->rq_head = evbuffer_new();
    hc->rs_head = evbuffer_new();
    hc->tmp = evbuffer_new();
    hc->rq_timer = evtimer_new(c->px->srv->base, http_rq_timer_cb, hc);
    hc->rs_timer = evtimer_new(c->px->srv->base, http_rs_timer_cb, hc);
    event_priority_set(hc->rq_timer, 0);   /* per-request delays: before I/O (see server.c) */
    event_priority_set(hc->rs_timer, 0);
    if (!hc->rq_head || !hc->rs_head || !hc->tmp || !hc->rq_timer || !hc->rs_timer) abort();
    c->proto = hc;
}

void http_conn_free(struct conn *c)
{
    struct http_conn *hc = c->proto;
    if (!hc) return;
    int64_t gone = c->t_gave_up ? c->t_gave_up : (c->closed_by == CLOSER_CLIENT ? c->t_close : 0);
    if (hc->rq_linger) {
        http_req_record(hc, hc->rq_linger);
        http_req_free(hc->rq_linger);
        hc->rq_linger = hc->rq_hash = NULL;
    }
    while (hc->q) {
        struct http_req *r = hc->q;
        hc->q = r->next;
        if (r->held && c->closed_by != CLOSER_CLIENT) r->held_at_end = 1;
        if (!r->t_done && !r->t_abandoned) r->t_abandoned = gone;
        if (c->px->st.inflight) c->px->st.inflight--;
        http_req_record(hc, r);
        http_req_free(r);
    }
    evbuffer_free(hc->rq_head);
    evbuffer_free(hc->rs_head);
    evbuffer_free(hc->tmp);
    event_free(hc->rq_timer);
    event_free(hc->rs_timer);
    free(hc->hb);
    free(hc);
    c->proto = NULL;
}

void http_on_data(struct conn *c, int dir)
{
    struct http_conn *hc = c->proto;
    if (!hc) return;
    http_run(hc);
    if (!c->closing) pipe_after_io(&c->p[!dir]);
}

void http_on_eof(struct conn *c, int dir)
{
    struct http_conn *hc = c->proto;
    if (!hc) return;
    if (dir == 0) {
        hc->cli_eof = 1;
        http_client_left(hc);
    } else {
        hc->up_eof = 1;
    }
    http_run(hc);
}

/* The upstream socket is gone (reset, or never connected): it counts as EOF, and nothing more
 * can be written to or read from it. */
static void upstream_gone(struct http_conn *hc)
{
    struct conn *c = hc->c;
    hc->up_eof = 1;
    if (c->up) {
        bufferevent_disable(c->up, EV_READ | EV_WRITE);
        struct evbuffer *o = bufferevent_get_output(c->up);
        evbuffer_drain(o, evbuffer_get_length(o));
    }
    http_run(hc);
}

void http_upstream_reset(struct conn *c)
{
    struct http_conn *hc = c->proto;
    if (!hc || c->closing) return;
    upstream_gone(hc);
}

void http_upstream_failed(struct conn *c)
{
    struct http_conn *hc = c->proto;
    if (!hc || c->closing) return;
    hc->up_failed = 1;
    upstream_gone(hc);
}

/* ---- the protocol (proxy/protocol.h) ---- */

static void http_on_read(struct conn *c, struct pipe *p, struct evbuffer *in)
{
    (void)in;
    http_on_data(c, p->dir);
}

static int http_on_eof_op(struct conn *c, struct pipe *p)
{
    http_on_eof(c, p->dir);
    return 1;   /* passed on by eof_process once every request before it is done */
}

const struct protocol protocol_http = {
    .name = "http",
    .flags = PROTO_CORK | PROTO_REQUESTS,
    .alpn = "http/1.1",   /* (h2 once the engine speaks it: tls_alpn can list it already) */
    .fault_flag = FT_HTTP_ONLY,
    .conn_init = http_conn_new,
    .conn_free = http_conn_free,
    .on_read = http_on_read,
    .on_eof = http_on_eof_op,
    .upstream_failed = http_upstream_failed,
    .upstream_reset = http_upstream_reset,
    .on_drain = http_on_drain,
    .idle_state = http_idle_state,
    .fault_inside = http_fault_inside,
    .fault_ended = http_fault_ended,
};
