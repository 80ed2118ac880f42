/* service.c -- a small checkout service to point faultline at: good or buggy on demand.
 *
 * It is the demo's and the catalog's subject. GET /checkout calls one HTTP dependency (the
 * "payments" API, reached through faultline) and answers 200 when the call succeeded, 502/503/
 * 504 when it did not. Every classic resilience habit is a switch, so the same binary plays the
 * well-behaved service and the one with the bug:
 *
 *   --timeout MS      deadline on the dependency call; 0 = none (the hung-dependency bug)
 *   --pool N          at most N calls in flight, extra requests fail fast with 503;
 *                     0 = unbounded (a new connection per call: the pool-exhaustion bug)
 *   --breaker on|off  after 5 consecutive failures, fail fast for 2 s, then let one probe
 *                     through (half-open); a success closes it
 *   --retries N       retry a failed call up to N times ...
 *   --backoff on|off  ... with exponential backoff and jitter (50 ms doubling), or at once
 *                     (the retry-storm bug)
 *
 *   service --listen 127.0.0.1:8080 --dep 127.0.0.1:9001 [--dep-path /pay] [switches]
 *   service --payments --listen 127.0.0.1:9001     (plays the dependency: GET /pay -> 200 "paid")
 *
 * GET /healthz answers 200 "ok". GET /stats answers a line of counters. Single-threaded
 * libevent (evhttp server and client). The dependency is loopback only in the demo and tests.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct cfg {
    char listen_host[128];
    int listen_port;
    char dep_host[128];
    int dep_port;
    char dep_path[256];
    int timeout_ms, pool, breaker, retries, backoff;
    int payments;   /* play the dependency instead */
};

static struct cfg C = {.listen_host = "127.0.0.1", .listen_port = 8080, .dep_host = "127.0.0.1", .dep_port = 9001, .dep_path = "/pay"};
static struct event_base *base;

/* pool of keep-alive connections (pool > 0) */
struct pconn { struct evhttp_connection *c; int busy; };
static struct pconn *pool;
static int inflight;

/* breaker */
static int consecutive_failures;
static int breaker_open;
static double open_until_ms;
static int probe_in_flight;

static unsigned long stat_ok, stat_fail, stat_rejected, stat_calls;

static double now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec * 1e3 + (double)tv.tv_usec / 1e3;
}

struct call {
    struct evhttp_request *in;   /* the client's request */
    int attempt;
    int slot;                    /* pool slot, -1 = own connection */
    int probe;
    struct event *retry_ev;
};

static void reply(struct evhttp_request *in, int code, const char *reason, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "%s\n", body);
    evhttp_add_header(evhttp_request_get_output_headers(in), "Content-Type", "text/plain");
    evhttp_send_reply(in, code, reason, b);
    evbuffer_free(b);
}

static void start_attempt(struct call *cl);

static void breaker_result(int ok)
{
    if (!C.breaker) return;
    if (ok) {
        consecutive_failures = 0;
        if (breaker_open) fprintf(stderr, "breaker closed\n");
        breaker_open = 0;
        return;
    }
    if (breaker_open) {               /* the probe failed: stay open */
        open_until_ms = now_ms() + 2000;
        return;
    }
    if (++consecutive_failures >= 5) {
        breaker_open = 1;
        open_until_ms = now_ms() + 2000;
        fprintf(stderr, "breaker opened\n");
    }
}

static void release_slot(struct call *cl)
{
    if (cl->slot >= 0) pool[cl->slot].busy = 0;
    cl->slot = -1;
    inflight--;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct call *cl = arg;
    event_free(cl->retry_ev);
    cl->retry_ev = NULL;
    start_attempt(cl);
}

static void dep_done(struct evhttp_request *req, void *arg)
{
    struct call *cl = arg;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    int ok = code >= 200 && code < 300;
    release_slot(cl);
    if (cl->probe) probe_in_flight = 0;
    breaker_result(ok);
    if (ok) {
        stat_ok++;
        reply(cl->in, 200, "OK", "checkout ok");
        free(cl);
        return;
    }
    if (cl->attempt < C.retries && !(C.breaker && breaker_open)) {
        cl->attempt++;
        int delay = 0;
        if (C.backoff) {
            delay = 50 << (cl->attempt - 1);
            if (delay > 2000) delay = 2000;
            delay = delay / 2 + rand() % (delay / 2 + 1);   /* jitter */
        }
        struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
        cl->retry_ev = evtimer_new(base, retry_cb, cl);
        evtimer_add(cl->retry_ev, &tv);
        return;
    }
    stat_fail++;
    if (code == 0) reply(cl->in, 504, "Gateway Timeout", "payments did not answer");
    else reply(cl->in, 502, "Bad Gateway", "payments failed");
    free(cl);
}

static void start_attempt(struct call *cl)
{
    if (C.pool > 0) {
        int slot = -1;
        for (int i = 0; i < C.pool; i++)
            if (!pool[i].busy) { slot = i; break; }
        if (slot < 0) {
            stat_rejected++;
            reply(cl->in, 503, "Service Unavailable", "pool exhausted");
            free(cl);
            return;
        }
        pool[slot].busy = 1;
        cl->slot = slot;
    } else cl->slot = -1;
    inflight++;
    stat_calls++;
    struct evhttp_connection *conn;
    if (cl->slot >= 0) {
        if (!pool[cl->slot].c) {
            pool[cl->slot].c = evhttp_connection_base_new(base, NULL, C.dep_host, (unsigned short)C.dep_port);
            if (C.timeout_ms > 0) {
                struct timeval tv = {C.timeout_ms / 1000, (C.timeout_ms % 1000) * 1000};
                evhttp_connection_set_timeout_tv(pool[cl->slot].c, &tv);
            }
            evhttp_connection_set_retries(pool[cl->slot].c, 0);
        }
        conn = pool[cl->slot].c;
    } else {
        conn = evhttp_connection_base_new(base, NULL, C.dep_host, (unsigned short)C.dep_port);
        if (C.timeout_ms > 0) {
            struct timeval tv = {C.timeout_ms / 1000, (C.timeout_ms % 1000) * 1000};
            evhttp_connection_set_timeout_tv(conn, &tv);
        } else {
            struct timeval tv = {24 * 3600, 0};   /* "no timeout": a day */
            evhttp_connection_set_timeout_tv(conn, &tv);
        }
        evhttp_connection_free_on_completion(conn);
    }
    struct evhttp_request *r = evhttp_request_new(dep_done, cl);
    evhttp_add_header(evhttp_request_get_output_headers(r), "Host", C.dep_host);
    if (cl->slot < 0) evhttp_add_header(evhttp_request_get_output_headers(r), "Connection", "close");
    const char *rid = evhttp_find_header(evhttp_request_get_input_headers(cl->in), "X-Request-Id");
    if (rid) evhttp_add_header(evhttp_request_get_output_headers(r), "X-Request-Id", rid);
    if (evhttp_make_request(conn, r, EVHTTP_REQ_GET, C.dep_path) < 0) {
        /* the request was freed by libevent; fail the call */
        release_slot(cl);
        stat_fail++;
        reply(cl->in, 502, "Bad Gateway", "cannot call payments");
        free(cl);
    }
}

static void checkout_cb(struct evhttp_request *in, void *arg)
{
    if (C.breaker && breaker_open) {
        if (now_ms() < open_until_ms || probe_in_flight) {
            stat_rejected++;
            reply(in, 503, "Service Unavailable", "breaker open");
            return;
        }
        probe_in_flight = 1;   /* half-open: this request is the probe */
    }
    struct call *cl = calloc(1, sizeof(*cl));
    if (!cl) { reply(in, 500, "Internal Server Error", "oom"); return; }
    cl->in = in;
    cl->slot = -1;
    cl->probe = C.breaker && breaker_open;
    start_attempt(cl);
}

static void pay_cb(struct evhttp_request *in, void *arg) { reply(in, 200, "OK", "paid"); }

static void healthz_cb(struct evhttp_request *in, void *arg) { reply(in, 200, "OK", "ok"); }

static void stats_cb(struct evhttp_request *in, void *arg)
{
    char b[256];
    snprintf(b, sizeof(b), "ok=%lu fail=%lu rejected=%lu calls=%lu inflight=%d breaker=%s", stat_ok, stat_fail,
             stat_rejected, stat_calls, inflight, breaker_open ? "open" : "closed");
    reply(in, 200, "OK", b);
}

static void sig_cb(evutil_socket_t s, short w, void *arg) { event_base_loopexit(base, NULL); }

static int hostport(const char *s, char *host, size_t hl, int *port)
{
    const char *c = strrchr(s, ':');
    if (!c) return -1;
    snprintf(host, hl, "%.*s", (int)(c - s), s);
    *port = atoi(c + 1);
    return *port > 0 && *port < 65536 ? 0 : -1;
}

static int onoff(const char *v) { return !strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "1"); }

static void usage(FILE *f)
{
    fprintf(f, "usage: service --listen HOST:PORT --dep HOST:PORT [--dep-path /pay] [--timeout MS] [--pool N]\n"
               "               [--breaker on|off] [--retries N] [--backoff on|off]\n"
               "       service --payments --listen HOST:PORT     (the dependency: every path answers 200)\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { usage(stdout); return 0; }
        if (!strcmp(a, "--payments")) { C.payments = 1; continue; }
        if (!v) { usage(stderr); return 2; }
        i++;
        if (!strcmp(a, "--listen")) { if (hostport(v, C.listen_host, sizeof(C.listen_host), &C.listen_port) < 0) return 2; }
        else if (!strcmp(a, "--dep")) { if (hostport(v, C.dep_host, sizeof(C.dep_host), &C.dep_port) < 0) return 2; }
        else if (!strcmp(a, "--dep-path")) snprintf(C.dep_path, sizeof(C.dep_path), "%s", v);
        else if (!strcmp(a, "--timeout")) C.timeout_ms = atoi(v);
        else if (!strcmp(a, "--pool")) C.pool = atoi(v);
        else if (!strcmp(a, "--breaker")) C.breaker = onoff(v);
        else if (!strcmp(a, "--retries")) C.retries = atoi(v);
        else if (!strcmp(a, "--backoff")) C.backoff = onoff(v);
        else { usage(stderr); return 2; }
    }
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    if (C.pool > 0) pool = calloc((size_t)C.pool, sizeof(*pool));
    struct evhttp *h = evhttp_new(base);
    if (C.payments) evhttp_set_gencb(h, pay_cb, NULL);   /* every path: 200 "paid" */
    else evhttp_set_cb(h, "/checkout", checkout_cb, NULL);
    evhttp_set_cb(h, "/healthz", healthz_cb, NULL);
    evhttp_set_cb(h, "/stats", stats_cb, NULL);
    if (!evhttp_bind_socket_with_handle(h, C.listen_host, (unsigned short)C.listen_port)) {
        fprintf(stderr, "service: cannot listen on %s:%d: %s\n", C.listen_host, C.listen_port, strerror(errno));
        return 1;
    }
    struct event *si = evsignal_new(base, SIGINT, sig_cb, NULL), *st = evsignal_new(base, SIGTERM, sig_cb, NULL);
    event_add(si, NULL);
    event_add(st, NULL);
    fprintf(stderr, "service listening on %s:%d dep %s:%d%s timeout=%dms pool=%d breaker=%s retries=%d backoff=%s\n",
            C.listen_host, C.listen_port, C.dep_host, C.dep_port, C.dep_path, C.timeout_ms, C.pool,
            C.breaker ? "on" : "off", C.retries, C.backoff ? "on" : "off");
    event_base_dispatch(base);
    event_free(si);
    event_free(st);
    evhttp_free(h);
    for (int i = 0; i < C.pool; i++) if (pool[i].c) evhttp_connection_free(pool[i].c);
    free(pool);
    event_base_free(base);
    return 0;
}
