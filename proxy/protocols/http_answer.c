/* http_answer.c -- the http engine's request FIFO and faultline's own answers.
 *
 * Requests are kept in a FIFO in arrival order and answered in that order (HTTP/1.1
 * pipelining). A request answered by the proxy -- a fault's error (http_error), a head it could
 * not read (400, 431), an upstream that is gone (502) -- keeps its place: its answer is built
 * here at once (http_answer_locally) and goes out when every request before it was answered
 * (http_emit_locals). When a request is finished it is counted (responses, status class,
 * inflight) and recorded (one `kind=request` event, record/record.h), then freed; one answered
 * before its body was read whole is recorded once the body ends (its hash is final then).
 */
#include "proxy/protocols/http.h"
#include "proxy/protocols/http_int.h"
#include "proxy/proxy.h"
#include "record/record.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void http_req_record(struct http_conn *hc, struct http_req *r)
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
        /* answered after the client left: it was given up on (end=aborted, total = abandoned) */
        .t_done = r->t_abandoned && r->t_done >= r->t_abandoned ? 0 : r->t_done,
        .t_abandoned = r->t_abandoned && (!r->t_done || r->t_done >= r->t_abandoned) ? r->t_abandoned : 0,
        .held_at_end = r->held_at_end && !r->t_abandoned,     /* given up on: not held */
        .bytes_req = r->bytes_req,
        .bytes_resp = r->bytes_resp,
        .body_hash = r->body_hash,
        .body_whole = r->body_whole,
        .clipped = r->clipped,
    };
    rec_request(proxy_rec(c->px), &rr);
}

/* The client closed its side (EOF): every request not yet answered in full was given up on then
 * (the client's timeout acting), whatever the fault delaying or holding it -- what reaches the
 * client later answers nothing (as the tcp relay's turns read client_eof_ms). Requests still in
 * its unread input (behind a held one) are given up on as they are read (request_head). */
void http_client_left(struct http_conn *hc)
{
    int64_t at = hc->c->t_cli_eof ? hc->c->t_cli_eof : fl_now_us();
    for (struct http_req *r = hc->q; r; r = r->next)
        if (!r->t_done && !r->t_abandoned) r->t_abandoned = at;
}

void http_req_free(struct http_req *r)
{
    if (!r) return;
    free(r->path);
    free(r->host);
    free(r->reqid);
    if (r->pending_head) evbuffer_free(r->pending_head);
    if (r->local) evbuffer_free(r->local);
    free(r);
}

void http_q_push(struct http_conn *hc, struct http_req *r)
{
    if (hc->q_tail) hc->q_tail->next = r;
    else hc->q = r;
    hc->q_tail = r;
    hc->nq++;
}

/* The FIFO head is finished (answered): count, record, free. */
void http_q_finish_head(struct http_conn *hc)
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
    http_req_record(hc, r);
    http_req_free(r);
}

/* The request's response will not come through the upstream (local answer / give up). */
void http_answer_locally(struct http_conn *hc, struct http_req *r, int status, const char *body,
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

void http_bad_request(struct http_conn *hc, int status)
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
    http_answer_locally(hc, r, status, NULL, NULL, 0, 1);
    http_q_push(hc, r);
}

/* Sends the proxy's own answers that reached the FIFO head. */
int http_emit_locals(struct http_conn *hc)
{
    struct conn *c = hc->c;
    int progress = 0;
    while (!c->closing && hc->q && hc->q->local) {
        struct http_req *r = hc->q;
        int close = r->local_close;
        r->resp_started = 1;
        http_send_on(hc, 1, r->local);
        http_q_finish_head(hc);
        progress = 1;
        if (close) {
            conn_close(c, CLOSER_PROXY, CLOSE_FIN);
            break;
        }
    }
    return progress;
}

/* ---- memory and idleness (http_int.h, proxy/limits.h) ---- */

/* Once its fault is chosen, a request keeps its texts (for the record) clipped: 256 bytes and a
 * hash, not a 64 KiB path for each of the requests queued behind a slow answer. */
static void clip_one(char **s, unsigned *n)
{
    size_t len = *s ? strlen(*s) : 0;
    if (len <= FL_CLIP_MAX) return;
    char c[FL_CLIP_MAX + 1];
    size_t k = fl_clip(*s, len, c, NULL);
    free(*s);
    *s = fl_strndup(c, k);
    (*n)++;
}

void http_keep_clipped(struct http_req *r)
{
    clip_one(&r->path, &r->clipped);
    clip_one(&r->host, &r->clipped);
    clip_one(&r->reqid, &r->clipped);
}

/* The client took answers: requests stopped for them are read again (client_process). */
void http_on_drain(struct conn *c, struct pipe *p)
{
    struct http_conn *hc = c->proto;
    if (!hc || p->dir != 1 || !hc->out_wait) return;
    hc->out_wait = 0;
    http_run(hc);
}

/* For the idle timeouts (proxy/limits.h): a request a fault delays or holds is held; requests in
 * flight wait for the upstream; otherwise nothing is owed. */
int http_idle_state(const struct conn *c)
{
    const struct http_conn *hc = c->proto;
    if (hc->rq_wait == RQW_LATENCY || hc->rq_wait == RQW_HOLD || hc->rs_wait) return CONN_HELD;
    for (const struct http_req *r = hc->q; r; r = r->next)
        if (r->held) return CONN_HELD;
    if (hc->tunnel) return c->t_last_up > c->t_last_down ? CONN_WAITING : CONN_QUIET;
    return hc->nq ? CONN_WAITING : CONN_QUIET;
}
