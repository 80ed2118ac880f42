/* http2_int.h -- what the files of the HTTP/2 engine share (proxy/protocols/http2*.c, grpc.c);
 * the rest of the daemon sees http2.h and struct protocol only.
 *
 *   http2.c         the two nghttp2 sessions of a connection pair, their callbacks, the I/O
 *                   (bytes read in, frames written out), the connection's end, the protocols
 *   http2_stream.c  a stream: its heads and bodies, the data providers that move bodies from
 *                   one session to the other (flow control), submitting requests and
 *                   responses, local answers, resets, the record
 *   http2_plan.c    a stream's fault: matching, choosing, acting (timers, holds, resets,
 *                   GOAWAY), the per-connection faults (SETTINGS, PING) and a fault's end
 *   http2_facts.c   the totals per proxy name, /stats and the record's facts
 *   grpc.c          mode = grpc: the gRPC message framing on top (struct h2_mode)
 *
 * Ownership: a struct h2_conn is owned by its conn (c->proto) and owns both sessions and every
 * stream; a stream is owned by its connection's list until both of its sides closed. Faults are
 * borrowed (every pointer to one is dropped in h2_fault_ended).
 */
#ifndef FL_HTTP2_INT_H
#define FL_HTTP2_INT_H

#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include "proxy/proxy.h"
#include "proxy/protocols/frame.h"
#include "faults/http_fault.h"

/* ---- limits (named; docs/http2.md "Limits") ---- */
#define H2_MAX_STREAMS      100          /* SETTINGS_MAX_CONCURRENT_STREAMS offered to clients */
#define H2_HEAD_MAX         (64 * 1024)  /* decoded bytes of one header block (names + values) */
#define H2_HEADERS_MAX      128          /* fields in one header block */
#define H2_CONN_WINDOW_MUL  4            /* a connection's receive window: this many stream windows */
#define H2_RESET_BURST      400          /* client resets of unanswered streams allowed at once ... */
#define H2_RESET_RATE       100          /* ... and per second after that; past them: GOAWAY, close */
#define H2_MAX_CONTINUATIONS 8           /* CONTINUATION frames after one HEADERS (nghttp2's check) */
#define H2_MAX_SETTINGS     32           /* entries in one SETTINGS frame (nghttp2's check) */
#define H2_CONN_DECISIONS   8            /* per-connection faults remembered by one connection */

/* one decoded header field, as offsets into its block's text */
struct h2_hdr { uint32_t n_off, n_len, v_off, v_len; };

/* A decoded header block (a request or response head, or trailers), bounded by H2_HEAD_MAX and
 * H2_HEADERS_MAX: past either, `over` is set and nothing more is kept. */
struct h2_head {
    char *b;                      /* names and values, back to back (owned) */
    uint32_t len, cap;
    struct h2_hdr *h;             /* owned */
    int n, hcap;
    int over;
};

/* gRPC's message framing (a 5-byte prefix: flag, length), followed over a body's bytes */
struct grpc_fr {
    uint8_t pre[5];
    uint8_t have;                 /* prefix bytes seen of the message being read */
    uint32_t left;                /* payload bytes left of it (0 with have == 5: at its end) */
    uint64_t msgs;                /* messages whose prefix is complete */
};

/* One direction of a stream's body: [0] the request's (client -> upstream), [1] the response's. */
struct h2_body {
    struct evbuffer *buf;         /* received, not yet passed on (owned) */
    struct h2_head tr;            /* trailers received (tr.n > 0) */
    uint64_t in, out;             /* bytes received, bytes passed on */
    struct grpc_fr fin, fout;     /* grpc: the framing of what arrived, and of what left */
    int64_t gate_until;           /* grpc: the next message waits until then (0: no wait set) */
    unsigned eof : 1;             /* END_STREAM received */
    unsigned sent_eof : 1;        /* END_STREAM (or the trailers) passed on */
    unsigned deferred : 1;        /* its provider returned DEFERRED: resume it when bytes come */
    unsigned gate_ok : 1;         /* grpc: the message at the front has waited its turn */
    unsigned stalled : 1;         /* h2_flow_stall: the sender's stream window is never reopened */
};

enum h2_wait { H2W_NONE = 0, H2W_LATENCY, H2W_HOLD };

struct h2_conn;

struct h2_stream {
    struct h2_conn *h;
    struct h2_stream *prev, *next;    /* in h->streams */
    int32_t cid, uid;                 /* the client's stream id; the upstream's (0: not submitted) */
    unsigned cid_open : 1, uid_open : 1;
    unsigned rs_final : 1;            /* the final response head was received */
    unsigned rs_sent : 1;             /* ... and submitted to the client */
    unsigned local : 1;               /* answered by the proxy: the upstream is not (or no more) used */
    unsigned held : 1, held_at_end : 1;
    unsigned recorded : 1, counted_done : 1;
    unsigned rq_end_seen : 1;         /* the request's END_STREAM came with its head */
    unsigned bad : 1;                 /* its head was over a limit (answered 431) */
    unsigned cut_pending : 1;         /* reset after the DATA frame now being sent (truncate, grpc_cut) */
    unsigned scoped : 1;              /* holds one of f's max_active places until freed (faults/scope.h) */
    struct h2_head rq, rs;            /* the request head; the response head being received */
    struct h2_body b[2];              /* [0] request body, [1] response body */
    char method[24];
    char *path, *authority, *reqid;   /* owned */
    int status;                       /* the response's :status (0: none) */
    int64_t t_req, t_fwd, t_resp_head, t_done, t_abandoned;
    uint64_t body_hash;               /* FNV-1a 64 of the request body */
    /* its fault */
    struct fault *f;                  /* NULL once the fault ended (fault_name stays) */
    char fault_name[128];
    struct http_fault_plan pl;        /* numeric fields only are read after the decision */
    enum h2_wait rq_wait, rs_wait;    /* the request waits before it is forwarded; the response head */
    struct event *tm[2];              /* per direction: latency, slow body, message gate (owned) */
    double sb_tokens;                 /* slow_body */
    int64_t sb_last_us;
    uint64_t cut_left;                /* grpc_cut: bytes of the cut message still to pass */
    /* how it ended */
    uint32_t rst_code;
    enum closer rst_by;               /* who reset it (CLOSER_NONE: nobody) */
    /* grpc (mode = grpc) */
    int64_t grpc_timeout_us;          /* grpc-timeout the caller sent (-1: none) */
    int grpc_status;                  /* from the trailers or a trailers-only answer (-1: none) */
    int prev_attempts;                /* grpc-previous-rpc-attempts (0: none) */
    /* header_control (http2_ctl.c): answered instead of forwarding, after a delay if any */
    int ctl_abort;                    /* an HTTP status (0: none) */
    int ctl_grpc;                     /* a grpc-status, trailers-only (-1 or 0: none) */
};

/* What a mode adds on top of HTTP/2 (grpc.c); NULL for mode = http2. */
struct h2_mode {
    /* the request head is complete: read what the mode records (grpc-timeout, ...) */
    void (*request_head)(struct h2_stream *s);
    /* the response head or trailers arrived (grpc-status) */
    void (*response_fields)(struct h2_stream *s, const struct h2_head *hd);
    /* bytes of direction d may leave: how many of `want` (0 = wait; the mode arms s->tm[d] or
     * waits for a fault's end), after the body's front was framed */
    size_t (*out_limit)(struct h2_stream *s, int d, size_t want);
    /* n bytes of direction d arrived / left */
    void (*in_bytes)(struct h2_stream *s, int d, const uint8_t *p, size_t n);
    void (*out_bytes)(struct h2_stream *s, int d, const uint8_t *p, size_t n);
    /* corrupt: flips bytes of p[0..n), about to leave in direction d, that are message payload
     * (never the mode's own framing) with corrupt_flip; returns the bytes changed */
    uint64_t (*corrupt)(struct h2_stream *s, int d, uint8_t *p, size_t n);
    /* the fault plan is one of the mode's (HACT_GRPC_*): acted on, 1; else 0 */
    int (*act)(struct h2_stream *s);
    /* the request event's fields of the mode; failed: the call failed in the mode's terms */
    void (*facts)(const struct h2_stream *s, struct rec_kv *kv);
    int (*failed)(const struct h2_stream *s);
};

/* per-connection decisions of per-connection faults (h2_max_streams, h2_ping_drop) */
struct h2_decision { const struct fault *f; int yes, scoped; };   /* scoped: holds a max_active place */

struct h2_conn {
    struct conn *c;
    const struct h2_mode *mode;        /* NULL: http2 */
    nghttp2_session *srv;              /* towards the client (we are its server) */
    nghttp2_session *cli;              /* towards the upstream (we are its client) */
    struct evbuffer *tmp;              /* scratch, empty between calls (owned) */
    struct h2_stream *streams;         /* every live stream */
    int nstreams;
    struct h2_totals *tot;             /* the proxy's totals row */
    uint32_t adv_max;                  /* SETTINGS_MAX_CONCURRENT_STREAMS last advertised */
    struct h2_decision dec[H2_CONN_DECISIONS];
    int ndec;
    int32_t last_fwd_cid;              /* the highest client stream id forwarded */
    double rst_tokens;                 /* rapid-reset bucket */
    int64_t rst_last_us;
    unsigned up_dead : 1;              /* the upstream is gone (EOF, reset, failed): 502s */
    unsigned up_failed : 1;            /* ... it never connected */
    unsigned cli_eof : 1;
    unsigned goaway : 1;               /* a GOAWAY went to the client: close when streams are done */
    unsigned closing_by : 3;           /* enum closer for that close */
    unsigned flushing : 1, again : 1;
    unsigned dead : 1;                 /* a session failed: no more framing */
    unsigned ca_rst : 1;               /* close_after (close = rst) is due: reset at the flush's end */
    unsigned started : 1;              /* the client sent bytes: a flush may write to both sides */
    uint64_t responses;                /* responses sent whole (close_after's requests) */
};

/* The per-proxy totals row (frame.h's table), /stats "h2" and the record's h2_* facts. */
struct h2_totals {
    struct frame_totals ft;
    uint64_t streams, local_answers, resets_sent, resets_client, resets_upstream;
    uint64_t goaways_sent, goaways_upstream, pings, pings_dropped, settings_sent;
    uint64_t rapid_reset_closes, head_overflows, continuation_floods, flood_closes, protocol_errors, invalid_frames;
    uint64_t bad_preface, refused_streams, stalled_streams;
    uint64_t grpc_calls, grpc_errors, grpc_msgs_req, grpc_msgs_resp, grpc_no_deadline;
};

/* ---- http2.c ---- */
/* Sends what both sessions have to send (each direction through its fault chain), then ends the
 * connection if the sessions are done. Re-entrant: a nested call asks for another round. */
void h2_flush(struct h2_conn *h);
/* Ends the connection pair (after a flush of what is queued, for FIN). */
void h2_close(struct h2_conn *h, enum closer who, enum close_how how);

/* ---- http2_stream.c ---- */
struct h2_stream *h2_stream_new(struct h2_conn *h, int32_t cid);
/* Frees s once both of its sides are closed (or were never opened). 1 if it was freed. */
int h2_stream_maybe_free(struct h2_stream *s);
void h2_stream_free(struct h2_stream *s);
/* Appends a header field to a head; 0, or -1 once it is over a limit (hd->over). */
int h2_head_add(struct h2_head *hd, const uint8_t *n, size_t nl, const uint8_t *v, size_t vl);
void h2_head_reset(struct h2_head *hd);
void h2_head_free(struct h2_head *hd);
/* The value of field `name` (lowercase), copied into buf; NULL when absent. */
const char *h2_head_get(const struct h2_head *hd, const char *name, char *buf, size_t blen);
/* The request head is complete: counted, its fault chosen and acted on, forwarded or not. */
void h2_request_ready(struct h2_stream *s);
/* Submits the request upstream (or answers 502 when the upstream is gone). */
void h2_forward_request(struct h2_stream *s);
/* The final response head arrived (end: with END_STREAM). */
void h2_response_ready(struct h2_stream *s);
/* Submits the held response head (and from then its body) to the client. */
void h2_submit_response(struct h2_stream *s);
/* The proxy answers s itself: status, body (NULL: a default text), extra "Name: value" lines. */
void h2_answer(struct h2_stream *s, int status, const char *body, const char *const *hdrs, int nhdrs);
/* The proxy answers s with gRPC trailers-only: grpc-status, grpc-message. */
void h2_answer_grpc(struct h2_stream *s, int grpc_status, const char *message);
/* Resets s towards the client with code (who: fault or proxy) and cancels its upstream stream. */
void h2_reset(struct h2_stream *s, uint32_t code, enum closer who);
/* Bytes arrived for direction d of s (DATA); or its end. h2_body_seen counts and hashes them
 * only (a body nobody takes: a stream the proxy answered). */
void h2_body_in(struct h2_stream *s, int d, const uint8_t *p, size_t n);
void h2_body_seen(struct h2_stream *s, int d, const uint8_t *p, size_t n);
void h2_body_end(struct h2_stream *s, int d);
/* Wakes the provider of direction d if it waits for bytes (or a gate opened). */
void h2_body_resume(struct h2_stream *s, int d);
/* The data provider of both sessions (request bodies upstream, response bodies to the client). */
ssize_t h2_body_read(nghttp2_session *sess, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                     nghttp2_data_source *src, void *ud);
/* The client's side of s closed (code: the RST_STREAM's, or 0); the upstream's side closed. */
void h2_cid_closed(struct h2_stream *s, uint32_t code);
void h2_uid_closed(struct h2_stream *s, uint32_t code);
/* The END_STREAM of the response reached the client's session's output. */
void h2_response_sent(struct h2_stream *s);
/* The request event and the counters (once). */
void h2_stream_record(struct h2_stream *s);
/* Streams with no response yet get a 502 (or a reset once their answer began): the upstream
 * is gone. */
void h2_upstream_gone(struct h2_conn *h);
/* Arms s->tm[d] for us microseconds (created on first use). */
void h2_arm(struct h2_stream *s, int d, int64_t us);

/* ---- http2_plan.c ---- */
int h2_fault_inside(const struct fault *f);        /* struct protocol fault_inside */
void h2_fault_ended(struct fault *f);              /* struct protocol fault_ended */
void h2_fault_started(struct fault *f);            /* struct protocol fault_started */
/* Chooses s's fault (the first active one that matches and wins its roll) into s->pl. */
void h2_choose_fault(struct h2_stream *s);
/* Acts on s's plan at its request head. Returns 1 when the request goes on (forward now). */
int h2_plan_request(struct h2_stream *s);
/* Acts on s's plan at its response head. Returns 1 when the head goes on to the client now. */
int h2_plan_response(struct h2_stream *s);
/* How many of `want` bytes of direction d may leave now (slow_body, truncate; the mode's gates). */
size_t h2_plan_out_limit(struct h2_stream *s, int d, size_t want);
/* SETTINGS_MAX_CONCURRENT_STREAMS for this connection now (H2_MAX_STREAMS, or an h2_max_streams
 * fault's). */
uint32_t h2_conn_max_streams(struct h2_conn *h);
/* The per-connection faults (max streams, ping drop) against this connection, now. */
void h2_conn_faults(struct h2_conn *h);
/* corrupt: flips response body bytes about to go out in a DATA frame's payload (nghttp2 writes the
 * frame header and HPACK; the mode keeps its own framing, gRPC's prefixes, intact). */
void h2_corrupt(struct h2_stream *s, uint8_t *p, size_t n);
/* A response went out whole: close_after's after_response may end the connection (GOAWAY, or a
 * reset when close = rst), between responses. */
void h2_close_after(struct h2_conn *h);
/* 1 if an active h2_ping_drop fault was rolled yes for this connection. */
int h2_conn_drops_pings(struct h2_conn *h);
void h2_timer_cb(evutil_socket_t fd, short what, void *arg);   /* s->tm[0], s->tm[1] */

/* ---- http2_ctl.c ---- */
/* header_control = on: strips x-faultline-* fields from s's request head and, for a client in
 * header_control_clients, plans the delay / abort they ask for into s->pl. 1 when s got a plan. */
int h2_header_control(struct h2_stream *s);
/* s carries a header_control abort: answers it (status or gRPC trailers-only) and returns 1. */
int h2_header_answer(struct h2_stream *s);

/* ---- http2_facts.c ---- */
struct h2_totals *h2_totals_for(const char *proxy);
char *h2_stats_json(const struct fl_proxy *px);
void h2_totals_facts(const struct fl_proxy *px, struct rec_kv *kv);
void h2_stream_facts(const void *arg, struct rec_kv *kv);    /* struct rec_request facts */

/* ---- grpc.c ---- */
extern const struct h2_mode h2_mode_grpc;
/* "1S", "100m", "5000u" ... (at most 8 digits and a unit): microseconds, or -1. */
int64_t grpc_timeout_parse(const char *v);

#endif
