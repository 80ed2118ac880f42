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

#endif
