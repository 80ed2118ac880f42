/* common/httpc.h -- one small blocking HTTP/1.1 client: one request per connection, then close.
 *
 * Three commands talk HTTP to something for a moment and need nothing more: `faultline ctl` and
 * `faultline run --admin` to faultline's admin API, and the runner's probe sampler to a
 * service's /metrics, /debug/vars or goroutine profile. This is their one client. A call
 * connects (TCP, a name resolved with getaddrinfo, or a unix socket) within a connect deadline,
 * sends one request with `Connection: close`, and reads the answer within a deadline on the
 * whole exchange: a body of Content-Length bytes, or up to the peer's close when the answer has
 * no length. Every answer is bounded (max_answer): a peer cannot make us allocate more.
 *
 * What it is not: no keep-alive, no redirects, no TLS, no chunked bodies (a request sent as
 * HTTP/1.0 is never answered chunked: use that towards servers that stream, such as Go's
 * net/http), no event loop. It blocks the calling thread for at most total_ms: call it from a
 * command, a child process or between loop turns, never from the daemon's event loop.
 *
 * Errors: 0, or -1 with one line in err (FL_ERRLEN is enough) and out->fail saying which step
 * failed, so that callers can word the error for their user ("cannot reach the admin API at
 * ...") without parsing text.
 */
#ifndef FL_HTTPC_H
#define FL_HTTPC_H

#include <stddef.h>
#include "common/parse.h"

#define HTTPC_MAX_ANSWER (16u << 20)   /* the default bound on one answer (head and body) */

/* Where requests go. */
struct httpc_target {
    struct fl_addr addr;      /* ADDR_INET, ADDR_UNIX, or ADDR_NAME (resolved at each call) */
    char text[300];           /* the address as written, without "http://" ("127.0.0.1:8474") */
    char host[300];           /* the Host header: text for TCP, "localhost" for a unix socket */
};

/* An address as a user writes one: "host:port", "[v6]:port", "unix:/path", with an optional
 * "http://" before and "/" after; "localhost:PORT" means 127.0.0.1. Other names only when
 * allow_name. 0, or -1 with err (common/parse's reason). */
int httpc_target(const char *addr, int allow_name, struct httpc_target *t, char *err, size_t errlen);

/* A URL "http://HOST[:PORT][/PATH[?QUERY]]" (names allowed, port 80 by default). *path points
 * into url at the path ("/" when it has none). 0, or -1 with err. */
int httpc_url(const char *url, struct httpc_target *t, const char **path, char *err, size_t errlen);

struct httpc_req {
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* origin form: "/faults/x", "/metrics?x=1" */
    const char *headers;      /* more header lines, each ending in "\r\n", or NULL */
    const char *body;         /* NULL: none (Content-Length: 0 unless GET/HEAD) */
    size_t blen;
    int http10;               /* send HTTP/1.0: the answer is never chunked */
    int connect_ms;           /* deadline on connecting (capped by total_ms) */
    int total_ms;             /* deadline on the whole exchange, from the call */
    size_t max_answer;        /* at most this many bytes of head and body; 0 = HTTPC_MAX_ANSWER */
};

enum httpc_fail {
    HTTPC_OK = 0,
    HTTPC_ECONNECT,           /* no connection (refused, unreachable, name unknown, timed out) */
    HTTPC_ESEND,              /* the request could not be sent */
    HTTPC_ERECV,              /* reading failed, or the answer ended before its Content-Length */
    HTTPC_ETIMEOUT,           /* connected, but no complete answer within total_ms */
    HTTPC_ETOOBIG,            /* the answer passed max_answer */
    HTTPC_EPROTO,             /* not an HTTP answer (no status line, no end of head, chunked) */
};

/* The answer. body is NUL-terminated (blen bytes before the NUL) and owned by the caller:
 * httpc_resp_free. */
struct httpc_resp {
    int status;
    char *body;
    size_t blen;
    enum httpc_fail fail;     /* HTTPC_OK, or what went wrong when the call returned -1 */
};

/* The admin API's bearer token as its clients send it: at most HTTPC_TOKEN_MAX bytes (the daemon
 * keeps no longer one: admin_token, admin_token_file, FAULTLINE_ADMIN_TOKEN), no space or
 * control byte (a CR or LF would end the header early and start another). */
#define HTTPC_TOKEN_MAX 255
#define HTTPC_BEARER_MAX (HTTPC_TOKEN_MAX + 32)   /* the whole header line */
/* "Authorization: Bearer TOKEN\r\n" into out (HTTPC_BEARER_MAX bytes), or "" for a NULL or empty
 * token. 0, or -1 with err saying what is wrong with the token (never the token itself). */
int httpc_bearer(const char *token, char out[HTTPC_BEARER_MAX], char *err, size_t errlen);

/* One request to t. 0 with *out filled (any status: 404 is an answer), or -1 with err and
 * out->fail set (out->body NULL). */
int httpc_call(const struct httpc_target *t, const struct httpc_req *rq, struct httpc_resp *out,
               char *err, size_t errlen);
void httpc_resp_free(struct httpc_resp *r);   /* frees body; r itself is the caller's */

#endif
