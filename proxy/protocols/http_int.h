/* http_int.h -- what the files of the http engine share (proxy/protocols/http*.c); the rest of the
 * daemon sees http.h and struct protocol only.
 *
 *   http.c         the framing: both parsers, the client -> upstream and upstream -> client
 *                  directions, EOFs, input bounds, the run loop, the entry points
 *   http_answer.c  the request FIFO and faultline's own answers: local responses (a fault's
 *                  error, 400/431/502), a request's end and its record
 *   http_plan.c    a request's fault: matching and choosing it, the holds and waits it causes
 *                  (the latency timers), and a fault's end
 */
#ifndef FL_HTTP_INT_H
#define FL_HTTP_INT_H

#include <http_parser.h>
#include <stdint.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include "proxy/proxy.h"
#include "faults/http_fault.h"

#define HTTP_MAX_CAPTURED_HEADERS 128
/* Memory per connection (docs/http.md "Limits"): at most [faultline] max_pipeline requests
 * wait in the FIFO; a request keeps its path, Host and id header clipped (common/text.h: 256
 * bytes and a hash) once its fault is chosen; the captured head (hb) is let go after a head
 * over HTTP_HB_KEEP; the client's unparsed input stops being read at HTTP_INPUT_AHEAD (the
 * head being gathered is not in it); and no new request is read while the answers waiting for
 * the client fill the proxy's buffer. */
#define HTTP_HB_KEEP (16 * 1024)
#define HTTP_INPUT_AHEAD (16 * 1024)
#define VIA_TEXT "faultline"

enum rq_wait { RQW_NONE = 0, RQW_LATENCY, RQW_HOLD, RQW_UPGRADE, RQW_ROUTE };   /* ROUTE: forward.c */
enum rs_wait { RSW_NONE = 0, RSW_LATENCY, RSW_SLOW };

struct http_req {
    struct http_req *next;
    char method[24];
    char *path, *host, *reqid;
    int is_head, is_connect, upgrade, keep_alive;
    unsigned short major, minor;
    struct fault *f;                 /* NULL once the fault ended (see fault_name) */
    char fault_name[128];
    int scoped;                      /* holds one of r->f's max_active places (faults/scope.h) */
    int ctl_abort;                   /* header_control: the status answered after the delay (0: none) */
    struct http_fault_plan pl;       /* numeric fields only are read after the decision */
    struct evbuffer *pending_head;   /* head not yet forwarded (latency request / hold) */
    struct evbuffer *local;          /* the proxy's own answer, sent at the FIFO head */
    int local_close;                 /* close the connection after the local answer */
    int forwarded, fwd_body, req_done;
    int held, held_at_end;
    int resp_started, resp_done, resp_head_seen, resp_complete_pending, latency_done;
    int status;
    unsigned clipped;                /* of path, host, reqid: how many were clipped (the record counts them) */
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
    int nq;                          /* its length (bounded by [faultline] max_pipeline) */
    struct http_req *rs_target;      /* set while parsing a response */
    enum rq_wait rq_wait;
    enum rs_wait rs_wait;
    int tunnel, rq_bad, rs_dead;
    int cli_eof, up_eof, cli_eof_passed, up_eof_done, up_failed;
    int in_paused[2];
    int running, again;
    int out_wait;                    /* reading requests stopped: answers fill the client's buffer (on_drain) */
    struct event *rq_timer, *rs_timer;
    double sb_tokens;
    int64_t sb_last_us;
    uint64_t responses;              /* responses passed whole (close_after's requests) */
    struct fwd_conn *fwd;            /* owned: mode = forward's state (forward.c), NULL for mode = http */
};

/* ---- http.c ---- */
/* Frames both directions until neither moves (re-entrant: a nested call only asks for a rerun). */
void http_run(struct http_conn *hc);
/* Sends request r's head (and from then its body) upstream, or answers 502 when the upstream is gone. */
void http_forward_request(struct http_conn *hc, struct http_req *r, struct evbuffer *head);
/* The oldest forwarded request still waiting for its response (NULL: none). */
struct http_req *http_rs_find_target(struct http_conn *hc);
/* Sends the response head held in hc->rs_head (after a latency, or at once). */
void http_response_head_release(struct http_conn *hc, struct http_req *t);

/* Hands b to the stages of direction dir (0 = towards the upstream, 1 = towards the client).
 * Whatever they did not take (the pair is closing) is dropped, so b is empty afterwards. */
static inline void http_send_on(struct http_conn *hc, int dir, struct evbuffer *b)
{
    pipe_input(&hc->c->p[dir], b);
    if (evbuffer_get_length(b)) evbuffer_drain(b, evbuffer_get_length(b));
}

/* ---- http_answer.c ---- */
void http_q_push(struct http_conn *hc, struct http_req *r);
/* The FIFO head is finished (answered): counted, recorded, freed (or kept while its body arrives). */
void http_q_finish_head(struct http_conn *hc);
/* r will be answered by the proxy (status, body or a default text, extra header lines; close:
 * the connection closes after it), in its turn at the FIFO head. */
void http_answer_locally(struct http_conn *hc, struct http_req *r, int status, const char *body,
                         const char *const *headers, int nheaders, int close);
/* The request head could not be read (status 400 or 431): answered and the connection closed. */
void http_bad_request(struct http_conn *hc, int status);
/* Sends the proxy's answers that reached the FIFO head. 1 if any went. */
int http_emit_locals(struct http_conn *hc);
/* The client closed its side: the requests not answered in full were given up on (t_abandoned). */
void http_client_left(struct http_conn *hc);
void http_req_record(struct http_conn *hc, struct http_req *r);   /* its `kind=request` event */
/* r's fault is chosen: its path, Host and id header are kept clipped (r->clipped counts them). */
void http_keep_clipped(struct http_req *r);
void http_on_drain(struct conn *c, struct pipe *p);   /* struct protocol on_drain */
int http_idle_state(const struct conn *c);            /* struct protocol idle_state */
void http_req_free(struct http_req *r);

/* ---- forward.c: mode = forward's hooks, called when hc->fwd is set ---- */
/* A request head was read (r pushed, no fault chosen yet): its target checked and rewritten. 1 when
 * r was answered or taken care of (no fault is chosen for it). */
int http_fwd_request(struct http_conn *hc, struct http_req *r);
/* r goes upstream: its destination connected (or r waits for the answers before it). 1 when the
 * head was taken (waiting, a CONNECT, a 502), 0 to send it as usual. */
int http_fwd_route(struct http_conn *hc, struct http_req *r, struct evbuffer *head);
/* A waiting request that reached the FIFO's head goes on. 1 on progress. */
int http_fwd_poll(struct http_conn *hc);
/* The upstream closed with nothing asked of it: 1 when the client's connection stays (its next
 * request connects again), 0 to pass the EOF on (an opened CONNECT: the destination closed). */
int http_fwd_idle_eof(struct http_conn *hc);

/* ---- http_plan.c ---- */
int http_fault_inside(const struct fault *f);                  /* struct protocol fault_inside */
/* The first active fault that matches r and whose roll says yes: planned into r->pl. */
void http_choose_fault(struct http_conn *hc, struct http_req *r);
/* header_control = on (docs/http.md): strips x-faultline-* lines from hc->rq_head and, for a client
 * in header_control_clients, plans the delay / abort they ask for. 1 when r got a plan. */
int http_header_control(struct http_conn *hc, struct http_req *r);
void http_close_after(struct http_conn *hc);   /* after a whole response: close_after */
void http_hang_mark(struct http_conn *hc, struct http_req *r);   /* r is held: the call hangs */
/* Forwards the head a latency or a hang kept back (r->pending_head), its wait being over. */
void http_forward_pending(struct http_conn *hc, struct http_req *r);
void http_rq_timer_cb(evutil_socket_t fd, short what, void *arg);   /* request latency over */
void http_rs_timer_cb(evutil_socket_t fd, short what, void *arg);   /* response latency / slow body */

#endif
