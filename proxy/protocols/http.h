/* http.h -- http mode: the connection pair understands HTTP/1.x so faults act per request.
 *
 * proxy/conn.c hands every byte of an http proxy's connection to these functions instead of
 * moving it straight across; what HTTP decides to forward then enters the direction's TCP
 * stage chain (chain_input), so connection-level faults keep working on http proxies. The
 * state lives in conn->proto (created by http_conn_new, freed by http_conn_free). See
 * docs/http.md for the behaviour and the choices made.
 */
#ifndef FL_HTTP_H
#define FL_HTTP_H

struct conn;
struct fault;
struct fl_proxy;

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
/* 1 if f acts per request on px (http proxy and a type with .http): no TCP stage for it. */
int http_fault_per_request(const struct fl_proxy *px, const struct fault *f);

#endif
