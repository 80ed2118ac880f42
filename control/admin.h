/* admin.h -- the admin HTTP API (evhttp on [faultline] admin). See docs/api.md.
 *
 * Two faces on one listener: Toxiproxy v2's REST API (/version, /proxies..., /populate,
 * /reset), so existing Toxiproxy clients drive faultline unchanged, and faultline's own API
 * (/faults, /profile, /stats, /metrics, /healthz, /kill). Everything runs on the server's event
 * loop: a request acts on the live proxies and faults before its reply is sent.
 *
 * Files: admin.c (listener, auth, routing, faultline endpoints), admin_toxi.c (the Toxiproxy
 * face), admin_toxi_pop.c (its /populate, -config and toxiproxy-server's /version and /metrics),
 * admin_fault.c (a fault as JSON), admin_metrics.c (/stats and /metrics), audit.c (the audit log, /audit), console.c
 * (the game-day console, its login and sessions, /verdicts).
 */
#ifndef FL_ADMIN_H
#define FL_ADMIN_H
#include <stddef.h>
struct fl_server;
/* Binds the admin API unless admin = off. 0, or -1 with the reason (port in use, non-loopback
 * address without admin_token). */
int admin_start(struct fl_server *s, char *err, size_t errlen);
/* Closes the listener and frees the API state. Idempotent; safe when never started. */
void admin_stop(struct fl_server *s);
/* The two as a server part (proxy/proxy.h server_compose): whoever builds the daemon composes it
 * (cli/main.c does, for serve and run), so every server it creates starts the admin API. */
struct server_part;
extern const struct server_part admin_part;

/* ---- the Toxiproxy drop-in (control/admin_toxi.c; `faultline toxiproxy-server`, cli/toxiproxy.c) ---- */
/* From now on the API answers as toxiproxy-server does where the two differ: /version is
 * Toxiproxy's object, /metrics adds Toxiproxy's metric names (proxy_metrics) and process
 * metrics (runtime_metrics). */
void adm_toxi_server_mode(int proxy_metrics, int runtime_metrics);
/* POST /populate with the JSON array in file path (Toxiproxy's -config; toxics inside allowed),
 * as the operator's own file: the API's reach policy does not apply. The proxies created are
 * the API's (a reload keeps them). 0, or -1 with the reason in err. */
int adm_toxi_populate_file(struct fl_server *s, const char *path, char *err, size_t errlen);

/* ---- internal to proxy/admin*.c ---- */
#ifdef FL_ADMIN_INTERNAL
#include <jansson.h>
#include <stdint.h>
#include <event2/http.h>
#include "faults/fault.h"

#define ADM_MAX_BODY (1024 * 1024)          /* bodies above this are refused with 413 */

/* One request being handled. Segments are the URL path split on '/', %-decoded. */
struct adm_req {
    struct evhttp_request *req;
    struct fl_server *s;
    enum evhttp_cmd_type method;
    char *seg[6];
    int nseg;
    char *body;                             /* NUL-terminated copy of the body (may be "") */
    size_t blen;
    int replied;
    int err_proxies;                        /* errors carry "proxies": [] (POST /populate) */
    int browser_ok;                         /* a console path or request: the user-agent gate
                                             * does not apply (control/console.c checks it) */
    int console;                            /* a console session's request (cookie + CSRF) */
    char who[64];                           /* for the audit: the token's name, "loopback" */
    int trusted;                            /* the body is the operator's (a -config file): no reach policy */
    /* req == NULL (a request made in-process): the reply's status and body (malloc'd) land here */
    int out_code;
    char *out;
};

/* Replies: adm_json takes ownership of j; adm_error formats {"error": msg, "status": code}. */
void adm_json(struct adm_req *r, int code, json_t *j);
void adm_text(struct adm_req *r, int code, const char *ctype, const char *text, size_t len);
void adm_empty(struct adm_req *r, int code);
void adm_error(struct adm_req *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void adm_method_not_allowed(struct adm_req *r, const char *allow);
/* A reply that comes later, from a callback on the loop (the fleet's answers from Redis): marks
 * r replied and returns a handle that adm_defer_json answers and frees (it takes j). When the
 * client's connection closes first, adm_defer_json only frees. */
struct adm_defer;
struct adm_defer *adm_defer(struct adm_req *r);
void adm_defer_json(struct adm_defer *d, int code, json_t *j);
/* Parses the body as JSON; on failure replies 400 "bad request body: ..." and returns NULL. */
json_t *adm_body_json(struct adm_req *r);
/* A JSON scalar as fault-key text ("100ms", 5, 0.5, true). 0, or -1 when not a scalar. */
int adm_scalar_str(json_t *v, char *buf, size_t len);

/* The admin connections open now, and those refused past admin_max_conns, evicted (never
 * served) to make room, and closed for missing the request deadline, since the start. */
void adm_conn_counts(struct fl_server *s, uint64_t *open, uint64_t *refused, uint64_t *evicted, uint64_t *slow);

/* Route handlers: return 1 if the path is theirs (a reply was sent), 0 otherwise. */
int adm_toxi_route(struct adm_req *r);
int adm_metrics_route(struct adm_req *r);
/* Toxiproxy's metric lines for /metrics in toxiproxy-server mode (malloc'd), or NULL. */
char *adm_toxi_metrics_text(const struct fl_server *s);
/* pending, active, ended, disabled (enabled = no) or killed. */
const char *adm_fault_state(const struct fault *f);
/* The fault as faultline JSON (GET /faults/NAME). */
json_t *adm_fault_json(const struct fault *f);
#endif

#endif
