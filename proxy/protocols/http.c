/* http.c -- http mode: HTTP/1.x framing on both directions of a connection pair, and the
 * per-request faults.
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
 */
#include "proxy/protocols/http.h"
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

#define HTTP_MAX_CAPTURED_HEADERS 128
#define HTTP_PIPELINE_MAX 256          /* requests in the FIFO of one connection */
#define VIA_TEXT "faultline"

enum rq_wait { RQW_NONE = 0, RQW_LATENCY, RQW_HOLD, RQW_UPGRADE };
enum rs_wait { RSW_NONE = 0, RSW_LATENCY, RSW_SLOW };

struct http_req {
    struct http_req *next;
    char method[24];
    char *path, *host, *reqid;
    int is_head, is_connect, upgrade, keep_alive;
    unsigned short major, minor;
    struct fault *f;                 /* NULL once the fault ended (see fault_name) */
    char fault_name[128];
    struct http_fault_plan pl;       /* numeric fields only are read after the decision */
    struct evbuffer *pending_head;   /* head not yet forwarded (latency request / hold) */
    struct evbuffer *local;          /* the proxy's own answer, sent at the FIFO head */
    int local_close;                 /* close the connection after the local answer */
    int forwarded, fwd_body, req_done;
    int held, held_at_end;
    int resp_started, resp_done, resp_head_seen, resp_complete_pending, latency_done;
    int status;
    int64_t t_req, t_fwd, t_resp_head, t_done, t_abandoned;
    uint64_t bytes_req, bytes_resp, body_wire;
    uint64_t body_hash;              /* FNV-1a 64 of the body bytes (de-chunked) seen so far */
    int body_whole;                  /* the whole body was read (body_hash is final) */
};

struct hdr { uint32_t n_off, n_len, v_off, v_len; };

struct http_conn {
    struct conn *c;
    http_parser rq, rs;
    struct evbuffer *rq_head, *rs_head, *tmp;
    /* what the request parser captured of the head being read */
    char *hb;
    size_t hb_len, hb_cap;
    uint32_t url_off, url_len;
    struct hdr hdr[HTTP_MAX_CAPTURED_HEADERS];
    int nhdr, last_was_value, hdr_overflow, hdr_skip;
    int ev_hc, ev_mc;                /* parser events of the last execute() */
    int rq_in_body, rs_in_body;
    struct http_req *rq_cur;         /* request whose body is being read (NULL once answered) */
    struct http_req *rq_hash;        /* request whose body is being read, answered or not: hashed */
    struct http_req *rq_linger;      /* answered before its body was read whole: recorded (and
                                      * freed) once the body ends or the connection closes */
    int rq_body_fwd;                 /* the body being read goes upstream (else dropped) */
    struct http_req *q, *q_tail;     /* FIFO */
    int nq;                          /* its length (bounded by HTTP_PIPELINE_MAX) */
    struct http_req *rs_target;      /* set while parsing a response */
    enum rq_wait rq_wait;
    enum rs_wait rs_wait;
    int tunnel, rq_bad, rs_dead;
    int cli_eof, up_eof, cli_eof_passed, up_eof_done, up_failed;
    int in_paused[2];
    int running, again;
    struct event *rq_timer, *rs_timer;
    double sb_tokens;
    int64_t sb_last_us;
};

/* Every type with per-request ops acts per request here (faults/http_fault.h): no tcp stage. */
static int http_fault_inside(const struct fault *f) { return f->type->http != NULL; }

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

/* Hands b to the stages of direction dir (0 = towards the upstream, 1 = towards the client).
 * Whatever they did not take (the pair is closing) is dropped, so b is empty afterwards. */
static void send_on(struct http_conn *hc, int dir, struct evbuffer *b)
{
    pipe_input(&hc->c->p[dir], b);
    if (evbuffer_get_length(b)) evbuffer_drain(b, evbuffer_get_length(b));
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

static const char *reason_of(int status)
{
    const char *r = http_status_str((enum http_status)status);
    return (r && strcmp(r, "<unknown>") != 0) ? r : "Status";
}

/* The proxy's own answer to req. */
static struct evbuffer *local_response(struct http_conn *hc, struct http_req *req, int status, const char *body,
                                       const char *const *headers, int nheaders, int close)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) abort();
    char defbody[160];
    if (!body) {
        snprintf(defbody, sizeof(defbody), "%d %s (faultline)\n", status, reason_of(status));
        body = defbody;
    }
    size_t bl = strlen(body);
    evbuffer_add_printf(b, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n", status,
                        reason_of(status), bl);
    for (int i = 0; i < nheaders; i++) evbuffer_add_printf(b, "%s\r\n", headers[i]);
    if (hc->c->px->spec.add_via) evbuffer_add_printf(b, "Via: 1.1 " VIA_TEXT "\r\n");
    if (close) evbuffer_add_printf(b, "Connection: close\r\n");
    evbuffer_add(b, "\r\n", 2);
    if (!(req && req->is_head)) evbuffer_add(b, body, bl);
    return b;
}

/* ---- FIFO and records ---- */

static void req_record(struct http_conn *hc, struct http_req *r)
{
    if (!rec_active) return;
    struct conn *c = hc->c;
    struct rec_request rr = {
        .conn = c->id,
        .upstream_connected = c->t_connected != 0,
        .closed_by_proxy = c->closed_by == CLOSER_PROXY,
        .method = r->method,
        .path = r->path,
        .host = r->host,
        .request_id = r->reqid,
        .fault = r->fault_name[0] ? r->fault_name : NULL,
        .status = r->status,
        .t_req = r->t_req,
        .t_forwarded = r->t_fwd,
        .t_resp_head = r->t_resp_head,
        .t_done = r->t_done,
        .t_abandoned = r->t_abandoned,
        .held_at_end = r->held_at_end,
        .bytes_req = r->bytes_req,
        .bytes_resp = r->bytes_resp,
        .body_hash = r->body_hash,
        .body_whole = r->body_whole,
    };
    rec_request(proxy_rec(c->px), &rr);
}

static void req_free(struct http_req *r)
{
    if (!r) return;
    free(r->path);
    free(r->host);
    free(r->reqid);
    if (r->pending_head) evbuffer_free(r->pending_head);
    if (r->local) evbuffer_free(r->local);
    free(r);
}

static void q_push(struct http_conn *hc, struct http_req *r)
{
    if (hc->q_tail) hc->q_tail->next = r;
    else hc->q = r;
    hc->q_tail = r;
    hc->nq++;
}

/* The FIFO head is finished (answered): count, record, free. */
static void q_finish_head(struct http_conn *hc)
{
    struct http_req *r = hc->q;
    if (!r) return;
    struct fl_proxy *px = hc->c->px;
    hc->q = r->next;
    if (!hc->q) hc->q_tail = NULL;
    hc->nq--;
    if (hc->rq_cur == r) hc->rq_cur = NULL;
    if (!r->t_done) r->t_done = fl_now_us();
    px->st.responses++;
    int cls = r->status / 100;
    px->st.status_class[cls >= 1 && cls <= 5 ? cls : 0]++;
    if (px->st.inflight) px->st.inflight--;
    if (r == hc->rq_hash) {
        hc->rq_linger = r;    /* its body still arrives: recorded with the whole body's hash */
        return;
    }
    req_record(hc, r);
    req_free(r);
}

/* The request's response will not come through the upstream (local answer / give up). */
static void req_answer_locally(struct http_conn *hc, struct http_req *r, int status, const char *body,
                               const char *const *headers, int nheaders, int close)
{
    if (r->local) evbuffer_free(r->local);
    if (!r->keep_alive) close = 1;
    r->local = local_response(hc, r, status, body, headers, nheaders, close);
    r->local_close = close;
    r->status = status;
    r->fwd_body = 0;
    if (r == hc->rq_cur) hc->rq_body_fwd = 0;
}

static void hang_mark(struct http_conn *hc, struct http_req *r)
{
    struct conn *c = hc->c;
    r->held = 1;
    if (!c->t_hang) {
        c->t_hang = fl_now_us();
        c->hang_fault = r->f;
        snprintf(c->fault_name, sizeof(c->fault_name), "%s", r->fault_name);
    }
}

static void hang_unmark(struct http_conn *hc, struct http_req *r)
{
    r->held = 0;
    for (struct http_req *o = hc->q; o; o = o->next)
        if (o->held) return;
    hc->c->t_hang = 0;
    hc->c->hang_fault = NULL;
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
    if (hc->rs_target) hc->rs_target->bytes_resp += len;
    return 0;
}

static const http_parser_settings rs_settings = {
    .on_headers_complete = rs_headers_complete,
    .on_body = rs_body,
    .on_message_complete = any_message_complete,
};

/* ---- matching and choosing a fault ---- */

static int fault_matches(struct http_conn *hc, const struct fault *f, const struct http_req *r)
{
    if (f->match_method && strcasecmp(f->match_method, r->method) != 0 && !glob_match(f->match_method, r->method))
        return 0;
    if (f->match_path && !glob_match(f->match_path, r->path ? r->path : "")) return 0;
    if (f->match_host) {
        const char *h = r->host ? r->host : "";
        if (!glob_match(f->match_host, h)) {
            /* also without the port */
            char nop[512];
            snprintf(nop, sizeof(nop), "%s", h);
            char *colon = strrchr(nop, ':');
            if (colon && !strchr(nop, ']')) *colon = 0;
            else if (colon && colon > strchr(nop, ']')) *colon = 0;
            if (strcasecmp(f->match_host, nop) != 0 && !glob_match(f->match_host, nop)) return 0;
        }
    }
    if (f->match_header_name) {
        char v[8192];
        int found = 0;
        for (int i = 0; i < hc->nhdr && !found; i++) {
            struct hdr *h = &hc->hdr[i];
            size_t nl = strlen(f->match_header_name);
            if (h->n_len != nl || strncasecmp(hc->hb + h->n_off, f->match_header_name, nl) != 0) continue;
            size_t vl = h->v_len < sizeof(v) - 1 ? h->v_len : sizeof(v) - 1;
            memcpy(v, hc->hb + h->v_off, vl);
            v[vl] = 0;
            if (glob_match(f->match_header_value, v)) found = 1;
        }
        if (!found) return 0;
    }
    return 1;
}

static void choose_fault(struct http_conn *hc, struct http_req *r)
{
    struct conn *c = hc->c;
    struct fl_proxy *px = c->px;
    for (int i = 0; i < px->nfaults; i++) {
        struct fault *f = px->faults[i];
        if (!f->type->http || !fault_is_active(f)) continue;
        if (!fault_matches(hc, f, r)) continue;
        f->c.conns_seen++;
        int sel = f->probability >= 1.0 || (f->probability > 0 && fl_rand01() < f->probability);
        if (!sel) continue;
        f->c.conns_affected++;
        f->c.requests_affected++;
        r->f = f;
        snprintf(r->fault_name, sizeof(r->fault_name), "%s", f->name);
        memset(&r->pl, 0, sizeof(r->pl));
        f->type->http->plan(f, &r->pl);
        conn_fault_applied(c, f);
        return;
    }
}

/* ---- the client -> upstream direction ---- */

static void forward_request(struct http_conn *hc, struct http_req *r, struct evbuffer *head)
{
    struct conn *c = hc->c;
    if (hc->up_eof || !c->up) {
        /* the upstream already went away (or never came): this request cannot be sent */
        if (!hc->up_failed) c->px->st.bad_responses++;
        evbuffer_drain(head, evbuffer_get_length(head));
        req_answer_locally(hc, r, 502, NULL, NULL, 0, 1);
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

/* Sends the head a latency or a hang kept back (r->pending_head), once its wait is over. */
static void forward_pending(struct http_conn *hc, struct http_req *r)
{
    struct evbuffer *h = r->pending_head;
    r->pending_head = NULL;
    forward_request(hc, r, h);
    evbuffer_free(h);
}

static void bad_request(struct http_conn *hc, int status)
{
    struct conn *c = hc->c;
    c->px->st.bad_requests++;
    hc->rq_bad = 1;
    log_debug("http_bad_request", "proxy=%s id=%llu status=%d error=%s", log_q(c->px->spec.name),
              (unsigned long long)c->id, status, http_errno_name(HTTP_PARSER_ERRNO(&hc->rq)));
    if (hc->rq_in_body && hc->rq_body_fwd) {
        /* half a request went upstream: its answer can never be matched; end the pair */
        conn_close(c, CLOSER_PROXY, CLOSE_FIN);
        return;
    }
    struct http_req *r = calloc(1, sizeof(*r));
    if (!r) abort();
    snprintf(r->method, sizeof(r->method), "-");
    r->t_req = fl_now_us();
    r->keep_alive = 0;
    r->req_done = 1;
    c->px->st.requests++;
    c->px->st.inflight++;
    if (c->px->st.inflight > c->px->st.peak_inflight) c->px->st.peak_inflight = c->px->st.inflight;
    req_answer_locally(hc, r, status, NULL, NULL, 0, 1);
    q_push(hc, r);
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
    px->st.requests++;
    px->st.inflight++;
    if (px->st.inflight > px->st.peak_inflight) px->st.peak_inflight = px->st.inflight;
    if (rec_active) rec_request_start(proxy_rec(px), px->st.inflight);
    q_push(hc, r);
    hc->rq_cur = r;
    hc->rq_hash = r;
    hc->rq_body_fwd = 0;
    choose_fault(hc, r);

    switch (r->pl.act) {
    case HACT_ERROR:
        req_answer_locally(hc, r, r->pl.status, r->pl.body, r->pl.headers, r->pl.nheaders, 0);
        evbuffer_drain(hc->rq_head, evbuffer_get_length(hc->rq_head));
        break;
    case HACT_RESET:
        if (r->f) r->f->c.resets++;
        r->t_done = fl_now_us();
        conn_close(c, CLOSER_FAULT, CLOSE_RST);
        break;
    case HACT_HANG:
        hang_mark(hc, r);
        if (r->pl.forward) {
            forward_request(hc, r, hc->rq_head);
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
        forward_request(hc, r, hc->rq_head);   /* the delay comes before the response head */
        break;
    default:
        forward_request(hc, r, hc->rq_head);
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
            req_record(hc, hc->rq_linger);
            req_free(hc->rq_linger);
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
        if (!hc->rq_in_body && hc->nq >= HTTP_PIPELINE_MAX) break;
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1) break;
        size_t len = v.iov_len;
        if (!hc->rq_in_body) {
            size_t room = head_room(hc->rq_head);
            if (room == 0) { bad_request(hc, 431); progress = 1; continue; }
            if (len > room) len = room;
        }
        hc->ev_hc = hc->ev_mc = 0;
        size_t n = http_parser_execute(&hc->rq, &rq_settings, v.iov_base, len);
        enum http_errno e = HTTP_PARSER_ERRNO(&hc->rq);
        progress = 1;
        if (e != HPE_OK && e != HPE_PAUSED) {
            bad_request(hc, e == HPE_HEADER_OVERFLOW || hc->hdr_overflow ? 431 : 400);
            continue;
        }
        if (hc->ev_hc) {
            /* paused on the head's last LF, which the parser has not consumed yet */
            char lf = ((const char *)v.iov_base)[n];
            evbuffer_remove_buffer(in, hc->rq_head, n + 1);
            if (evbuffer_get_length(hc->rq_head) > HTTP_HEAD_MAX) { bad_request(hc, 431); continue; }
            e = head_last_lf(hc, &hc->rq, &rq_settings, lf);
            if (e != HPE_OK && e != HPE_PAUSED) { bad_request(hc, 400); continue; }
            int mc = hc->ev_mc;
            hc->rq_in_body = 1;
            request_head(hc);
            if (c->closing) break;
            if (mc) request_done(hc);
            continue;
        }
        if (!hc->rq_in_body) {
            evbuffer_remove_buffer(in, hc->rq_head, n);
            if (evbuffer_get_length(hc->rq_head) >= HTTP_HEAD_MAX) bad_request(hc, 431);
        } else {
            if (hc->rq_body_fwd) {
                evbuffer_remove_buffer(in, hc->tmp, n);
                send_on(hc, 0, hc->tmp);
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

static struct http_req *rs_find_target(struct http_conn *hc)
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
        req_answer_locally(hc, t, 502, NULL, NULL, 0, 1);
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
static void response_head_release(struct http_conn *hc, struct http_req *t)
{
    struct conn *c = hc->c;
    if (c->px->spec.add_via) head_add_via(hc->rs_head, hc->rs.http_major, hc->rs.http_minor);
    if (!(t->status >= 100 && t->status < 200 && t->status != 101)) t->resp_started = 1;
    send_on(hc, 1, hc->rs_head);
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
        response_head_release(hc, t);
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
    response_head_release(hc, t);
}

static void response_done(struct http_conn *hc, struct http_req *t)
{
    hc->rs_in_body = 0;
    if (t->status >= 100 && t->status < 200 && t->status != 101) return;   /* interim: wait for the final one */
    if (hc->rs_wait == RSW_LATENCY) { t->resp_complete_pending = 1; return; }
    t->resp_done = 1;
    t->t_done = fl_now_us();
    int trunc = t->pl.act == HACT_TRUNCATE;
    if (hc->q == t) q_finish_head(hc);
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
        struct http_req *t = rs_find_target(hc);
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
            send_on(hc, 1, hc->tmp);
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

/* Sends the proxy's own answers that reached the FIFO head. */
static int emit_locals(struct http_conn *hc)
{
    struct conn *c = hc->c;
    int progress = 0;
    while (!c->closing && hc->q && hc->q->local) {
        struct http_req *r = hc->q;
        int close = r->local_close;
        r->resp_started = 1;
        send_on(hc, 1, r->local);
        q_finish_head(hc);
        progress = 1;
        if (close) {
            conn_close(c, CLOSER_PROXY, CLOSE_FIN);
            break;
        }
    }
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
        struct http_req *t = rs_find_target(hc);
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
    size_t hiwat = c->px->srv->g.buffer;
    for (int d = 0; d < 2; d++) {
        struct bufferevent *b = d == 0 ? c->cli : c->up;
        if (!b) continue;
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

static void http_run(struct http_conn *hc)
{
    if (hc->running) { hc->again = 1; return; }
    hc->running = 1;
    struct conn *c = hc->c;
    for (int i = 0; i < 64 && !c->closing; i++) {
        hc->again = 0;
        int p = client_process(hc);
        if (!c->closing) p |= emit_locals(hc);
        if (!c->closing) p |= upstream_process(hc);
        if (!c->closing) p |= emit_locals(hc);
        if (!c->closing) p |= eof_process(hc);
        if (!p && !hc->again) break;
    }
    input_bounds(hc);
    hc->running = 0;
}

/* ---- timers ---- */

static void rq_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *hc = arg;
    struct conn *c = hc->c;
    c->busy++;
    if (!c->closing && hc->rq_wait == RQW_LATENCY) {
        hc->rq_wait = RQW_NONE;
        struct http_req *r = NULL;
        for (struct http_req *o = hc->q; o; o = o->next)
            if (o->pending_head && !o->held) r = o;
        if (r) forward_pending(hc, r);
        http_run(hc);
        pipe_after_io(&c->p[0]);
        pipe_after_io(&c->p[1]);
    }
    if (--c->busy == 0 && c->dead) conn_free(c);
}

static void rs_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *hc = arg;
    struct conn *c = hc->c;
    c->busy++;
    if (!c->closing) {
        if (hc->rs_wait == RSW_LATENCY) {
            hc->rs_wait = RSW_NONE;
            struct http_req *t = rs_find_target(hc);
            if (t) response_head_release(hc, t);
        } else if (hc->rs_wait == RSW_SLOW) {
            hc->rs_wait = RSW_NONE;
        }
        if (!c->closing) http_run(hc);
        pipe_after_io(&c->p[0]);
        pipe_after_io(&c->p[1]);
    }
    if (--c->busy == 0 && c->dead) conn_free(c);
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
    hc->rq_timer = evtimer_new(fl_srv->base, rq_timer_cb, hc);
    hc->rs_timer = evtimer_new(fl_srv->base, rs_timer_cb, hc);
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
        req_record(hc, hc->rq_linger);
        req_free(hc->rq_linger);
        hc->rq_linger = hc->rq_hash = NULL;
    }
    while (hc->q) {
        struct http_req *r = hc->q;
        hc->q = r->next;
        if (r->held && c->closed_by != CLOSER_CLIENT) r->held_at_end = 1;
        if (!r->t_done) r->t_abandoned = gone;
        if (c->px->st.inflight) c->px->st.inflight--;
        req_record(hc, r);
        req_free(r);
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
    if (dir == 0) hc->cli_eof = 1;
    else hc->up_eof = 1;
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

/* ---- a fault's window closed ---- */

void http_fault_ended(struct fault *f)
{
    struct fl_proxy *px = f->px;
    if (!px || px->spec.protocol != &protocol_http) return;
    for (struct conn *c = px->conns, *next; c; c = next) {
        c->busy++;
        struct http_conn *hc = c->proto;
        int reset = 0, kick = 0;
        for (struct http_req *r = hc ? hc->q : NULL; r && !c->closing; r = r->next) {
            if (r->f != f) continue;
            if (r->held) {
                switch (r->pl.on_end) {
                case HANG_RELEASE:
                    hang_unmark(hc, r);
                    if (r->pending_head) {
                        hc->rq_wait = RQW_NONE;
                        forward_pending(hc, r);
                    }
                    kick = 1;
                    break;
                case HANG_RESET:
                    reset = 1;
                    break;
                case HANG_KEEP:
                default:
                    r->held_at_end = 1;   /* stays held: a dependency that really died */
                    break;
                }
            }
            r->f = NULL;
        }
        if (c->hang_fault == f && !c->t_hang) c->hang_fault = NULL;
        if (reset && !c->closing) {
            f->c.resets++;
            conn_close(c, CLOSER_FAULT, CLOSE_RST);
        } else if (kick && !c->closing) {
            http_run(hc);
            pipe_after_io(&c->p[0]);
            pipe_after_io(&c->p[1]);
        }
        next = c->next;
        if (--c->busy == 0 && c->dead) conn_free(c);
    }
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
    .fault_flag = FT_HTTP_ONLY,
    .conn_init = http_conn_new,
    .conn_free = http_conn_free,
    .on_read = http_on_read,
    .on_eof = http_on_eof_op,
    .upstream_failed = http_upstream_failed,
    .upstream_reset = http_upstream_reset,
    .fault_inside = http_fault_inside,
    .fault_ended = http_fault_ended,
};
