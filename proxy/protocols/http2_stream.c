/* http2_stream.c -- one HTTP/2 stream across the proxy: its heads and bodies, the data provider
 * that moves a body from one session to the other, submitting the request upstream and the
 * response to the client, faultline's own answers and resets, and the stream's record.
 *
 * A body is received into its direction's buffer (h2_body_in) and leaves through the other
 * session's data provider (h2_body_read), which nghttp2 calls when the stream may send (its
 * window and the connection's allow it). Only then are the bytes "consumed" in the receiving
 * session (nghttp2_session_consume), which gives the sender its window back: flow control runs
 * end to end, and what waits here per stream is bounded by the window the proxy advertised. A
 * fault that slows a body (slow_body, a gRPC message gate) or stops it (truncate, grpc_cut, a
 * hold) acts in the provider (h2_plan_out_limit): bytes it does not let go simply stay, and the
 * sender is throttled by the same window.
 *
 * A stream lives until both of its sides closed: the client's (cid) and the upstream's (uid,
 * when it was ever submitted). It is recorded once, when the client's side closes (or at the
 * connection's end), as one `kind=request` event with the http mode's fields plus the stream's
 * own (http2_facts.c).
 */
#include "proxy/protocols/http2_int.h"
#include "faults/scope.h"
#include "proxy/protocols/http2.h"
#include "proxy/proxy.h"
#include "record/record.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- heads ---- */

int h2_head_add(struct h2_head *hd, const uint8_t *n, size_t nl, const uint8_t *v, size_t vl)
{
    if (hd->over) return -1;
    if (hd->n >= H2_HEADERS_MAX || (size_t)hd->len + nl + vl > H2_HEAD_MAX) {
        hd->over = 1;
        return -1;
    }
    if (hd->n == hd->hcap) {
        int nc = hd->hcap ? hd->hcap * 2 : 16;
        struct h2_hdr *nh = realloc(hd->h, (size_t)nc * sizeof(*nh));
        if (!nh) abort();
        hd->h = nh;
        hd->hcap = nc;
    }
    if (hd->len + nl + vl > hd->cap) {
        uint32_t nc = hd->cap ? hd->cap : 512;
        while (nc < hd->len + nl + vl) nc *= 2;
        char *nb = realloc(hd->b, nc);
        if (!nb) abort();
        hd->b = nb;
        hd->cap = nc;
    }
    struct h2_hdr *e = &hd->h[hd->n++];
    e->n_off = hd->len;
    e->n_len = (uint32_t)nl;
    memcpy(hd->b + hd->len, n, nl);
    hd->len += (uint32_t)nl;
    e->v_off = hd->len;
    e->v_len = (uint32_t)vl;
    memcpy(hd->b + hd->len, v, vl);
    hd->len += (uint32_t)vl;
    return 0;
}

void h2_head_reset(struct h2_head *hd)
{
    hd->n = 0;
    hd->len = 0;
    hd->over = 0;
}

void h2_head_free(struct h2_head *hd)
{
    free(hd->b);
    free(hd->h);
    memset(hd, 0, sizeof(*hd));
}

const char *h2_head_get(const struct h2_head *hd, const char *name, char *buf, size_t blen)
{
    size_t nl = strlen(name);
    for (int i = 0; i < hd->n; i++) {
        const struct h2_hdr *e = &hd->h[i];
        if (e->n_len != nl || strncasecmp(hd->b + e->n_off, name, nl) != 0) continue;
        size_t vl = e->v_len < blen - 1 ? e->v_len : blen - 1;
        memcpy(buf, hd->b + e->v_off, vl);
        buf[vl] = 0;
        return buf;
    }
    return NULL;
}

/* The head as nghttp2 name/value pairs (pointing into hd; nghttp2 copies them on submit). */
static int head_nva(const struct h2_head *hd, nghttp2_nv *nva, int max)
{
    int n = 0;
    for (int i = 0; i < hd->n && n < max; i++, n++) {
        const struct h2_hdr *e = &hd->h[i];
        nva[n] = (nghttp2_nv){(uint8_t *)hd->b + e->n_off, (uint8_t *)hd->b + e->v_off, e->n_len, e->v_len,
                              NGHTTP2_NV_FLAG_NONE};
    }
    return n;
}

/* ---- streams ---- */

struct h2_stream *h2_stream_new(struct h2_conn *h, int32_t cid)
{
    struct h2_stream *s = calloc(1, sizeof(*s));
    if (!s) abort();
    s->h = h;
    s->cid = cid;
    s->cid_open = 1;
    s->grpc_timeout_us = -1;
    s->grpc_status = -1;
    for (int d = 0; d < 2; d++) {
        s->b[d].buf = evbuffer_new();
        if (!s->b[d].buf) abort();
    }
    s->b[0].gate_ok = s->b[1].gate_ok = 1;
    s->next = h->streams;
    if (h->streams) h->streams->prev = s;
    h->streams = s;
    h->nstreams++;
    h->tot->streams++;
    return s;
}

void h2_stream_free(struct h2_stream *s)
{
    struct h2_conn *h = s->h;
    if (s->prev) s->prev->next = s->next;
    else h->streams = s->next;
    if (s->next) s->next->prev = s->prev;
    h->nstreams--;
    if (s->scoped && s->f) scope_leave(s->f);   /* its max_active place (faults/scope.h) */
    for (int d = 0; d < 2; d++) {
        evbuffer_free(s->b[d].buf);
        h2_head_free(&s->b[d].tr);
        if (s->tm[d]) event_free(s->tm[d]);
    }
    h2_head_free(&s->rq);
    h2_head_free(&s->rs);
    free(s->path);
    free(s->authority);
    free(s->reqid);
    free(s);
}

int h2_stream_maybe_free(struct h2_stream *s)
{
    if (s->cid_open || s->uid_open) return 0;
    h2_stream_free(s);
    return 1;
}

void h2_arm(struct h2_stream *s, int d, int64_t us)
{
    if (!s->tm[d]) {
        s->tm[d] = evtimer_new(s->h->c->px->srv->base, h2_timer_cb, s);
        if (!s->tm[d]) abort();
        event_priority_set(s->tm[d], 0);   /* per-request delays: before I/O (server.c) */
    }
    if (us < 0) us = 0;
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    evtimer_add(s->tm[d], &tv);
}

/* ---- the request ---- */

static char *dupz(const char *v) { return v ? strdup(v) : NULL; }

void h2_request_ready(struct h2_stream *s)
{
    struct h2_conn *h = s->h;
    struct fl_proxy *px = h->c->px;
    char v[1024];
    if (h2_head_get(&s->rq, ":method", s->method, sizeof(s->method)) == NULL) s->method[0] = 0;
    s->path = dupz(h2_head_get(&s->rq, ":path", v, sizeof(v)));   /* without its query, as http mode */
    if (s->path && strchr(s->path, '?')) *strchr(s->path, '?') = 0;
    s->authority = dupz(h2_head_get(&s->rq, ":authority", v, sizeof(v)));
    if (!s->authority) s->authority = dupz(h2_head_get(&s->rq, "host", v, sizeof(v)));
    s->reqid = dupz(h2_head_get(&s->rq, px->spec.id_header[0] ? px->spec.id_header : "x-request-id", v, sizeof(v)));
    s->body_hash = 0xcbf29ce484222325ULL;   /* FNV-1a 64 offset basis */
    s->t_req = fl_now_us();
    if (h->cli_eof) s->t_abandoned = s->t_req;
    px->st.requests++;
    px->st.inflight++;
    if (px->st.inflight > px->st.peak_inflight) px->st.peak_inflight = px->st.inflight;
    if (rec_active) rec_request_start(proxy_rec(px), px->st.inflight);
    if (h->mode) h->mode->request_head(s);
    if (s->rq.over) {
        s->bad = 1;
        px->st.bad_requests++;
        h2_answer(s, 431, NULL, NULL, 0);
        return;
    }
    if (!px->spec.hdrctl.on || !h2_header_control(s)) h2_choose_fault(s);
    if (h2_plan_request(s)) h2_forward_request(s);
}

void h2_forward_request(struct h2_stream *s)
{
    struct h2_conn *h = s->h;
    if (s->local || !s->cid_open || s->uid) return;
    if ((s->ctl_abort || s->ctl_grpc > 0) && h2_header_answer(s)) return;   /* header_control, after its delay */
    if (h->up_dead || h->c->closing) {
        if (!h->up_failed) h->c->px->st.bad_responses++;
        h2_answer(s, 502, NULL, NULL, 0);
        return;
    }
    nghttp2_nv nva[H2_HEADERS_MAX + 1];
    int n = head_nva(&s->rq, nva, H2_HEADERS_MAX);
    if (h->c->px->spec.add_via) nva[n++] = (nghttp2_nv){(uint8_t *)"via", (uint8_t *)"2 faultline", 3, 11, NGHTTP2_NV_FLAG_NONE};
    struct h2_body *b = &s->b[0];
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = h2_body_read};
    int body = !(b->eof && !evbuffer_get_length(b->buf) && !b->tr.n);
    int32_t id = nghttp2_submit_request(h->cli, NULL, nva, (size_t)n, body ? &prd : NULL, s);
    if (id < 0) {
        log_debug("h2_submit_failed", "proxy=%s id=%llu error=%s", log_q(h->c->px->spec.name),
                  (unsigned long long)h->c->id, nghttp2_strerror(id));
        h2_answer(s, 502, NULL, NULL, 0);
        return;
    }
    s->uid = id;
    s->uid_open = 1;
    if (!body) b->sent_eof = 1;
    if (s->cid > h->last_fwd_cid) h->last_fwd_cid = s->cid;
}

/* ---- the response ---- */

void h2_response_ready(struct h2_stream *s)
{
    struct h2_conn *h = s->h;
    s->t_resp_head = fl_now_us();
    if (h->mode && h->mode->response_fields) h->mode->response_fields(s, &s->rs);
    if (s->local || !s->cid_open) return;
    if (h2_plan_response(s)) h2_submit_response(s);
}

void h2_submit_response(struct h2_stream *s)
{
    struct h2_conn *h = s->h;
    if (s->rs_sent || s->local || !s->cid_open) return;
    nghttp2_nv nva[H2_HEADERS_MAX + 1];
    int n = head_nva(&s->rs, nva, H2_HEADERS_MAX);
    if (h->c->px->spec.add_via) nva[n++] = (nghttp2_nv){(uint8_t *)"via", (uint8_t *)"2 faultline", 3, 11, NGHTTP2_NV_FLAG_NONE};
    struct h2_body *b = &s->b[1];
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = h2_body_read};
    int body = !(b->eof && !evbuffer_get_length(b->buf) && !b->tr.n);
    s->rs_sent = 1;
    if (nghttp2_submit_response(h->srv, s->cid, nva, (size_t)n, body ? &prd : NULL) != 0) {
        h2_reset(s, NGHTTP2_INTERNAL_ERROR, CLOSER_PROXY);
        return;
    }
    if (!body) b->sent_eof = 1;
}

/* The upstream's side of s is no more of use: cancelled when it is still open. */
static void cancel_upstream(struct h2_stream *s)
{
    struct h2_conn *h = s->h;
    if (s->uid_open && h->cli && !h->up_dead) nghttp2_submit_rst_stream(h->cli, NGHTTP2_FLAG_NONE, s->uid, NGHTTP2_CANCEL);
}

static void drop_body(struct h2_stream *s, int d)
{
    struct h2_conn *h = s->h;
    struct h2_body *b = &s->b[d];
    size_t n = evbuffer_get_length(b->buf);
    if (!n) return;
    evbuffer_drain(b->buf, n);
    nghttp2_session *rx = d == 0 ? h->srv : h->cli;
    int32_t id = d == 0 ? s->cid : s->uid;
    if (rx && id > 0) nghttp2_session_consume(rx, id, n);
}

static void answer_common(struct h2_stream *s, int status)
{
    s->local = 1;
    s->status = status;
    s->h->tot->local_answers++;
    cancel_upstream(s);
    drop_body(s, 0);
    drop_body(s, 1);
    h2_head_free(&s->b[1].tr);
    s->b[1].eof = 1;
    s->b[1].sent_eof = 0;
}

void h2_answer(struct h2_stream *s, int status, const char *body, const char *const *hdrs, int nhdrs)
{
    struct h2_conn *h = s->h;
    if (!s->cid_open || s->rs_sent) {
        if (s->cid_open) h2_reset(s, NGHTTP2_INTERNAL_ERROR, CLOSER_PROXY);
        return;
    }
    answer_common(s, status);
    char defbody[96], st[8], cl[24];
    if (!body) {
        snprintf(defbody, sizeof(defbody), "%d (faultline)\n", status);
        body = defbody;
    }
    size_t bl = strlen(body);
    snprintf(st, sizeof(st), "%d", status);
    snprintf(cl, sizeof(cl), "%zu", bl);
    int head = !strcmp(s->method, "HEAD");
    if (!head) evbuffer_add(s->b[1].buf, body, bl);
    nghttp2_nv nva[HTTP_FAULT_MAX_HEADERS + 4];
    int n = 0;
    nva[n++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)st, 7, strlen(st), NGHTTP2_NV_FLAG_NONE};
    nva[n++] = (nghttp2_nv){(uint8_t *)"content-type", (uint8_t *)"text/plain", 12, 10, NGHTTP2_NV_FLAG_NONE};
    nva[n++] = (nghttp2_nv){(uint8_t *)"content-length", (uint8_t *)cl, 14, strlen(cl), NGHTTP2_NV_FLAG_NONE};
    char lower[HTTP_FAULT_MAX_HEADERS][128];
    for (int i = 0; i < nhdrs && i < HTTP_FAULT_MAX_HEADERS; i++) {
        const char *colon = strchr(hdrs[i], ':');
        if (!colon || (size_t)(colon - hdrs[i]) >= sizeof(lower[i])) continue;
        size_t nl = (size_t)(colon - hdrs[i]);
        for (size_t k = 0; k < nl; k++) lower[i][k] = (char)(hdrs[i][k] >= 'A' && hdrs[i][k] <= 'Z' ? hdrs[i][k] + 32 : hdrs[i][k]);
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        nva[n++] = (nghttp2_nv){(uint8_t *)lower[i], (uint8_t *)v, nl, strlen(v), NGHTTP2_NV_FLAG_NONE};
    }
    if (h->c->px->spec.add_via) nva[n++] = (nghttp2_nv){(uint8_t *)"via", (uint8_t *)"2 faultline", 3, 11, NGHTTP2_NV_FLAG_NONE};
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = h2_body_read};
    s->rs_sent = 1;
    if (nghttp2_submit_response(h->srv, s->cid, nva, (size_t)n, head ? NULL : &prd) != 0) h2_reset(s, NGHTTP2_INTERNAL_ERROR, CLOSER_PROXY);
    else if (head) s->b[1].sent_eof = 1;
}

void h2_answer_grpc(struct h2_stream *s, int grpc_status, const char *message)
{
    struct h2_conn *h = s->h;
    if (!s->cid_open || s->rs_sent) {
        if (s->cid_open) h2_reset(s, NGHTTP2_INTERNAL_ERROR, CLOSER_PROXY);
        return;
    }
    answer_common(s, 200);
    s->grpc_status = grpc_status;
    char gs[8];
    snprintf(gs, sizeof(gs), "%d", grpc_status);
    nghttp2_nv nva[] = {
        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"grpc-status", (uint8_t *)gs, 11, strlen(gs), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"grpc-message", (uint8_t *)message, 12, strlen(message), NGHTTP2_NV_FLAG_NONE},
    };
    s->rs_sent = 1;
    s->b[1].sent_eof = 1;
    if (nghttp2_submit_response(h->srv, s->cid, nva, message[0] ? 4 : 3, NULL) != 0) h2_reset(s, NGHTTP2_INTERNAL_ERROR, CLOSER_PROXY);
}

void h2_reset(struct h2_stream *s, uint32_t code, enum closer who)
{
    struct h2_conn *h = s->h;
    if (!s->rst_by) {
        s->rst_by = who;
        s->rst_code = code;
    }
    s->local = 1;
    cancel_upstream(s);
    drop_body(s, 1);
    if (s->cid_open && h->srv) nghttp2_submit_rst_stream(h->srv, NGHTTP2_FLAG_NONE, s->cid, code);
}

/* ---- bodies ---- */

void h2_body_resume(struct h2_stream *s, int d)
{
    struct h2_conn *h = s->h;
    struct h2_body *b = &s->b[d];
    if (!b->deferred) return;
    nghttp2_session *tx = d == 0 ? h->cli : h->srv;
    int32_t id = d == 0 ? s->uid : s->cid;
    if (!tx || id <= 0) return;
    b->deferred = 0;
    nghttp2_session_resume_data(tx, id);
}

void h2_body_seen(struct h2_stream *s, int d, const uint8_t *p, size_t n)
{
    struct h2_conn *h = s->h;
    s->b[d].in += n;
    if (d == 0) {
        for (size_t i = 0; i < n; i++) {
            s->body_hash ^= p[i];
            s->body_hash *= 0x100000001b3ULL;
        }
    }
    if (h->mode) h->mode->in_bytes(s, d, p, n);
}

void h2_body_in(struct h2_stream *s, int d, const uint8_t *p, size_t n)
{
    evbuffer_add(s->b[d].buf, p, n);
    h2_body_seen(s, d, p, n);
    h2_body_resume(s, d);
}

void h2_body_end(struct h2_stream *s, int d)
{
    s->b[d].eof = 1;
    h2_body_resume(s, d);
}

/* The window of n bytes taken from direction d goes back to their sender (unless stalled). */
static void give_back(struct h2_stream *s, int d, size_t n)
{
    struct h2_conn *h = s->h;
    nghttp2_session *rx = d == 0 ? h->srv : h->cli;
    int32_t id = d == 0 ? s->cid : s->uid;
    if (!rx || !n) return;
    if (s->b[d].stalled) nghttp2_session_consume_connection(rx, n);
    else nghttp2_session_consume(rx, id, n);
}

ssize_t h2_body_read(nghttp2_session *sess, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                     nghttp2_data_source *src, void *ud)
{
    struct h2_stream *s = src->ptr;
    struct h2_conn *h = ud;
    int d = sess == h->cli ? 0 : 1;
    struct h2_body *b = &s->b[d];
    size_t avail = evbuffer_get_length(b->buf);
    size_t n = avail < len ? avail : len;
    if (n) n = h2_plan_out_limit(s, d, n);
    if (n == 0 && (avail || !b->eof)) {
        b->deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (n) {
        evbuffer_remove(b->buf, buf, n);
        b->out += n;
        if (d == 1 && s->pl.act == HACT_CORRUPT) h2_corrupt(s, buf, n);   /* DATA payload only */
        if (h->mode) h->mode->out_bytes(s, d, buf, n);
        give_back(s, d, n);
    }
    if (b->eof && !evbuffer_get_length(b->buf)) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        b->sent_eof = 1;
        if (b->tr.n && !b->tr.over) {
            nghttp2_nv nva[H2_HEADERS_MAX];
            int k = head_nva(&b->tr, nva, H2_HEADERS_MAX);
            if (nghttp2_submit_trailer(sess, id, nva, (size_t)k) == 0) *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
    }
    return (ssize_t)n;
}

/* ---- ends ---- */

void h2_response_sent(struct h2_stream *s)
{
    if (!s->t_done) s->t_done = fl_now_us();
    if (s->h->c->px->nfaults) h2_close_after(s->h);
}

void h2_cid_closed(struct h2_stream *s, uint32_t code)
{
    struct h2_conn *h = s->h;
    s->cid_open = 0;
    if (!s->t_done) {
        if (s->rst_by == CLOSER_CLIENT || (code == NGHTTP2_CANCEL && !s->rst_by)) {
            /* the client gave up on it (a deadline, a cancel): as an http client's close */
            if (!s->t_abandoned) s->t_abandoned = fl_now_us();
            if (!s->rst_by) { s->rst_by = CLOSER_CLIENT; s->rst_code = code; }
            if (s->held && s->f) s->f->c.abandoned++;
        } else if (code && !s->rst_by) {
            s->rst_by = CLOSER_PROXY;
            s->rst_code = code;
        }
    }
    cancel_upstream(s);
    h2_stream_record(s);
    h2_stream_maybe_free(s);
    (void)h;
}

void h2_uid_closed(struct h2_stream *s, uint32_t code)
{
    struct h2_conn *h = s->h;
    s->uid_open = 0;
    int complete = s->b[1].eof;
    if (!complete && s->cid_open && !s->local) {
        /* the upstream reset the stream (or refused it): the client's stream ends the same way */
        if (!s->rst_by) {
            s->rst_by = CLOSER_UPSTREAM;
            s->rst_code = code;
        }
        uint32_t c = code ? code : NGHTTP2_INTERNAL_ERROR;
        if (!s->rs_sent && code == NGHTTP2_REFUSED_STREAM) c = NGHTTP2_REFUSED_STREAM;
        s->local = 1;
        if (h->srv) nghttp2_submit_rst_stream(h->srv, NGHTTP2_FLAG_NONE, s->cid, c);
    }
    h2_stream_maybe_free(s);
}

void h2_upstream_gone(struct h2_conn *h)
{
    for (struct h2_stream *s = h->streams, *next; s; s = next) {
        next = s->next;
        if (s->local || !s->cid_open) continue;
        if (s->b[1].eof && s->rs_sent) continue;   /* its answer is whole: it goes on */
        if (s->uid || s->rs_final) {
            if (!h->up_failed) h->c->px->st.bad_responses++;
        }
        if (s->uid_open && h->cli) nghttp2_session_set_stream_user_data(h->cli, s->uid, NULL);
        s->uid_open = 0;   /* the upstream's session is not driven again (http2.c send_session) */
        if (!s->rs_sent && !s->held) {
            if (s->uid || !s->rq_wait) h2_answer(s, 502, NULL, NULL, 0);
        } else if (s->rs_sent) {
            h2_reset(s, NGHTTP2_INTERNAL_ERROR, CLOSER_UPSTREAM);
        }
    }
}

void h2_stream_record(struct h2_stream *s)
{
    if (s->recorded || !s->t_req) return;
    s->recorded = 1;
    struct h2_conn *h = s->h;
    struct conn *c = h->c;
    struct fl_proxy *px = c->px;
    if (s->t_done && s->status) {
        px->st.responses++;
        if (s->t_done > s->t_req) px->st.resp_us += (uint64_t)(s->t_done - s->t_req);
        int cls = s->status / 100;
        px->st.status_class[cls >= 1 && cls <= 5 ? cls : 0]++;
    }
    if (px->st.inflight) px->st.inflight--;
    if (!rec_active) return;
    int reset = s->rst_by && s->rst_by != CLOSER_CLIENT;   /* by the upstream, a fault or the proxy */
    struct rec_request rr = {
        .conn = c->id,
        .upstream_connected = c->t_connected != 0,
        .closed_by_proxy = c->closed_by == CLOSER_PROXY && !s->t_done && !s->t_abandoned,
        .method = s->method,
        .path = s->path,
        .host = s->authority,
        .request_id = s->reqid,
        .fault = s->fault_name[0] ? s->fault_name : NULL,
        .status = reset ? 0 : s->status,   /* a reset stream has no (whole) answer: end=reset */
        .t_req = s->t_req,
        .t_forwarded = s->t_fwd,
        .t_resp_head = s->t_resp_head,
        .t_done = reset && !s->t_abandoned ? (s->t_done ? s->t_done : fl_now_us()) : s->t_done,
        .t_abandoned = s->t_abandoned && (!s->t_done || s->t_done >= s->t_abandoned) ? s->t_abandoned : 0,
        .held_at_end = s->held_at_end && !s->t_abandoned,
        .bytes_req = s->b[0].in,
        .bytes_resp = s->b[1].out,
        .body_hash = s->body_hash,
        .body_whole = s->b[0].eof,
        .failed = h->mode && h->mode->failed(s),
        .facts = h2_stream_facts,
        .facts_arg = s,
    };
    if (rr.t_abandoned && rr.t_done >= rr.t_abandoned) rr.t_done = 0;   /* answered after the client left */
    rec_request(proxy_rec(px), &rr);
}
