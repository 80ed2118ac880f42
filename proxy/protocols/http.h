/* http.h -- mode = http: the connection pair understands HTTP/1.x so faults act per request.
 *
 * protocol_http (proxy/protocol.h) is how the core reaches it: proxy/conn_relay.c hands every byte of
 * an http proxy's connection to it instead of moving it straight across; what HTTP decides to
 * forward then enters the direction's fault chain (pipe_input), so connection-level faults keep
 * working on http proxies. The state lives in conn->proto (created by http_conn_new, freed by
 * http_conn_free). See docs/http.md for the behaviour and the choices made. The functions below
 * are the protocol's operations, public for the fuzz harness (tests/fuzz/fuzz_http.c).
 */
#ifndef FL_HTTP_H
#define FL_HTTP_H

struct conn;
struct fault;
struct fl_proxy;
struct protocol;

extern const struct protocol protocol_http;

/* Heads (request line + headers, or status line + headers) larger than this are refused:
 * 431 to the client for a request, 502 for a response. */
#define HTTP_HEAD_MAX (64 * 1024)

/* Attaches http state to a fresh connection (conn->proto). Aborts on out of memory. */
void http_conn_new(struct conn *c);
/* Records the requests still open (abandoned / held) and frees conn->proto. c stays readable. */
void http_conn_free(struct conn *c);
/* New bytes wait in the input of the direction's source (dir 0 = client, 1 = upstream). */
void http_on_data(struct conn *c, int dir);
/* The direction's source reached EOF. */
void http_on_eof(struct conn *c, int dir);
/* The upstream connect failed: requests are answered 502 and the connection then closed. */
void http_upstream_failed(struct conn *c);
/* The upstream reset the connection after it was up: unanswered requests get a 502 (as after
 * an early EOF), bytes still queued toward it are dropped. */
void http_upstream_reset(struct conn *c);
/* A fault with per-request ops (faults/http_fault.h) ended or is being removed (f->removing):
 * requests it holds follow its on_end, and the engine drops every pointer to f. A no-op for
 * faults of non-http proxies. */
void http_fault_ended(struct fault *f);

#endif
