/* http_fault.h -- how a fault type acts on one HTTP request (http mode, proxy/protocols/http.c).
 *
 * A type that can act per request sets `.http` in its struct fault_type to a struct
 * fault_http_ops (the engine, proxy/protocols/http.c, reads them). On an http proxy every fault whose type has `.http` acts per request and
 * makes no TCP stages; faults of other types (no `.http`) stay connection-level TCP stages
 * there, exactly as on a tcp proxy. The same type name can so mean both: `hang` on a tcp proxy
 * holds bytes, `hang` on an http proxy holds one request.
 *
 * When a request head is complete, the HTTP engine walks the proxy's faults in profile order
 * and takes the first one that is active, whose match_* keys all match and whose probability
 * roll says yes (one roll per request). It asks the type's plan() what to do, and does it: the
 * type says *what*, the engine owns every socket, timer and byte. One fault per request.
 *
 * plan() fills `out` from the fault's settings; strings in `out` are borrowed from f->cfg and
 * are read only during the call that decided the request (the engine copies what it keeps).
 */
#ifndef FL_HTTP_FAULT_H
#define FL_HTTP_FAULT_H

#include <stdint.h>
#include "faults/fault.h"

enum http_act {
    HACT_NONE = 0,
    HACT_ERROR,       /* answer locally: status, body, headers; upstream never contacted */
    HACT_HANG,        /* forward (or hold) the request; never return the response */
    HACT_LATENCY,     /* delay before forwarding the request, or before the response head */
    HACT_SLOW_BODY,   /* response body at `rate` bytes per second */
    HACT_TRUNCATE,    /* response head + after_bytes of the body, then close */
    HACT_RESET,       /* RST the client connection when the request arrives */
    HACT_CORRUPT,     /* flip response body data bytes (never head or chunk framing) */
    /* HTTP/2 and gRPC proxies only (FT_H2_ONLY, FT_GRPC_ONLY types; proxy/protocols/http2*.c) */
    HACT_RST_STREAM,  /* RST_STREAM h2_code: instead of forwarding, or (where_response) at the response head */
    HACT_GOAWAY,      /* GOAWAY on the request's connection: graceful (the stream is the last one served) or not */
    HACT_MAX_STREAMS, /* per connection: SETTINGS_MAX_CONCURRENT_STREAMS = max_streams while active */
    HACT_FLOW_STALL,  /* the stream's window is never reopened: the client's (request) or the upstream's */
    HACT_PING_DROP,   /* per connection: the client's PINGs go unanswered while active */
    HACT_GRPC_ERROR,  /* a trailers-only answer: grpc_status, body as grpc-message; upstream never contacted */
    HACT_GRPC_CUT,    /* after `messages` response messages, part of the next one, then RST_STREAM h2_code */
};

#define HTTP_FAULT_MAX_HEADERS 16

struct http_fault_plan {
    enum http_act act;
    /* HACT_ERROR */
    int status;
    const char *body;                       /* NULL = a short default text */
    const char *headers[HTTP_FAULT_MAX_HEADERS];  /* "Name: value" lines */
    int nheaders;
    /* HACT_HANG */
    int forward;                            /* 1: request goes upstream, response never returns */
    enum hang_end on_end;
    /* HACT_LATENCY */
    int64_t delay_us, jitter_us;
    int where_response;                     /* 0: before forwarding the request; 1: before the response head */
    /* HACT_SLOW_BODY */
    uint64_t rate;                          /* bytes per second, > 0 */
    /* HACT_TRUNCATE */
    uint64_t after_bytes;                   /* body bytes (as on the wire) passed before the close */
    /* HACT_CORRUPT */
    double corrupt_rate;                    /* probability per body byte */
    uint64_t corrupt_gap;                   /* corrupt_flip's state for this response (0 at the start) */
    /* HTTP/2 and gRPC (HACT_RST_STREAM .. HACT_GRPC_CUT; grpc mode reads `messages` of HACT_HANG too) */
    uint32_t h2_code;                       /* an HTTP/2 error code (RST_STREAM, GOAWAY) */
    int graceful;                           /* HACT_GOAWAY: the stream that triggers it is served */
    uint32_t max_streams;                   /* HACT_MAX_STREAMS */
    int grpc_status;                        /* HACT_GRPC_ERROR: 1..16 */
    uint64_t messages;                      /* gRPC messages passed before the hold (HACT_HANG) or cut */
};

struct fault_http_ops {
    /* NULL: the type never takes a request's place in the choice above (close_after) */
    void (*plan)(const struct fault *f, struct http_fault_plan *out);
    /* Optional, per connection: asked after every whole response (age from the connection's
     * open, bytes passed to the client so far); returns 0, CLOSE_FIN or CLOSE_RST, and the
     * engine closes the connection then, between responses. */
    int (*after_response)(const struct fault *f, uint64_t responses, int64_t age_us, uint64_t bytes_down);
};

/* When the fault's window closes (or it is removed), the engine lets go of the requests it holds,
 * following plan.on_end: the type has nothing to do for it. */

/* Flips each byte of p[0..len) with probability rate (faults/corrupt.c); *gap carries the
 * distance to the next hit across calls (start it at 0). Returns the bytes changed. */
uint64_t corrupt_flip(unsigned char *p, size_t len, double rate, uint64_t *gap);

/* Per-request ops of types whose settings live in their own files. */
extern const struct fault_http_ops http_reset_ops;

/* HTTP/2 error codes by name (RFC 9113 section 7: no_error, protocol_error, internal_error,
 * flow_control_error, settings_timeout, stream_closed, frame_size_error, refused_stream, cancel,
 * compression_error, connect_error, enhance_your_calm, inadequate_security, http_1_1_required;
 * case-insensitive, or a number) and gRPC status codes (ok, cancelled, unknown, invalid_argument,
 * deadline_exceeded, not_found, already_exists, permission_denied, resource_exhausted,
 * failed_precondition, aborted, out_of_range, unimplemented, internal, unavailable, data_loss,
 * unauthenticated; or 0..16): faults/h2_codes.c. */
int fkey_h2_code(const char *v, uint32_t *out, char *err, size_t errlen);
const char *h2_code_str(uint32_t code);       /* "CANCEL"; "0x42" style text for unknown codes (static) */
int fkey_grpc_status(const char *v, int *out, char *err, size_t errlen);
const char *grpc_status_str(int status);      /* "UNAVAILABLE"; NULL when outside 0..16 */

#endif
