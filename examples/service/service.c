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
 *   --backoff on|off  ... with exponential backoff and jitter (200 ms doubling, 90-100% of it), or at once
 *                     (the retry-storm bug)
 *   --pg DSN          before calling payments, run one query on Postgres (libpq, async) ...
 *   --pg-pool N       ... on a pool of at most N connections (extra requests: 503); 0 = a new
 *                     connection per request (the database pool-exhaustion bug)
 *   --pg-tx on|off    ... inside BEGIN ... COMMIT
 *   --pg-leak on|off  on a timeout, leave the connection (and its open transaction) behind
 *                     instead of closing it (the idle-in-transaction / connection-leak bug)
 *   --timeout also bounds the Postgres step; --dep off skips the payments call.
 *   --fallback on|off when the dependency fails, answer /checkout 200 "accepted, payment
 *                     pending" instead of 502/503/504 (degrading instead of failing along)
 *   --graceful on|off on SIGTERM stop accepting, finish the requests in flight (at most
 *                     --grace MS, default 10000) and exit; off = exit at once, dropping them
 *                     (the no-graceful-shutdown bug)
 *   --deadline MS     one deadline on the whole dependency call (connect, head, body): the
 *                     connection is closed when it runs out. --timeout alone is an idle
 *                     timeout (libevent's): a trickling response never trips it (slow-stream)
 *   --leak on|off     with --pool N and --timeout: when the timeout fires, the call is walked
 *                     away from instead of closed, and its keep-alive connection is never
 *                     returned to the pool nor closed (a pooled connection never released, a
 *                     response body never closed): the connection-leak bug. The dependency
 *                     sees the connection stay open after it has answered.
 *   --inventory HOST:PORT  a second dependency: GET /stock calls it (path /stock)
 *   --bulkhead on|off with --pool N: a pool of N per dependency (on), or one pool of N shared by
 *                     payments and inventory (off: a hung payments starves /stock)
 *
 *   service --listen 127.0.0.1:8080 --dep 127.0.0.1:9001 [--dep-path /pay] [switches]
 *   service --payments --listen 127.0.0.1:9001     (plays the dependency: GET /pay -> 200 "paid")
 *
 * GET /healthz answers 200 "ok". GET /stats answers a line of counters, GET /metrics the same
 * in Prometheus text (checkout_workers: calls in flight plus workers stuck for good). Single-threaded
 * libevent (evhttp server and client). The dependency is loopback only in the demo and tests.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <libpq-fe.h>
#include <poll.h>
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
    char pg_dsn[512];
    int pg_pool, pg_tx, pg_leak;
    int fallback, graceful, grace_ms;
    int deadline_ms, leak, bulkhead;
    char inv_host[128];
    int inv_port;
};

static struct cfg C = {.listen_host = "127.0.0.1", .listen_port = 8080, .dep_host = "127.0.0.1", .dep_port = 9001, .dep_path = "/pay", .grace_ms = 10000};
static struct event_base *base;

/* pool of keep-alive connections (pool > 0) */
struct pconn { struct evhttp_connection *c; int busy; };

/* one HTTP dependency: payments (/checkout) or inventory (/stock) */
struct dep {
    const char *host, *path;
    int port;
    struct pconn *pool;   /* C.pool keep-alive slots (pool > 0) */
    int inflight;         /* calls in flight to this dependency */
    int own;              /* in-flight count the pool bound is checked against (bulkhead on) */
    int *sem;             /* &own, or &shared_sem when the pool is shared (bulkhead off) */
};
static struct dep PAY, INV;
static int shared_sem;
static int inflight;      /* both dependencies */
static unsigned long stat_leaked;

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
    struct dep *d;
    int attempt;
    int slot;                    /* pool slot, -1 = own connection */
    int probe;
    struct event *retry_ev;
    struct evhttp_connection *own;   /* the call's own connection (pool 0) while it is in flight */
    struct call *prev_open, *next_open;
    struct evhttp_connection *conn;  /* the connection of the attempt in flight */
    struct event *dl_ev;         /* --deadline, or the walk-away timer of --leak */
    int abandoned;               /* --leak: the caller was answered, the connection forgotten */
};

/* every call not answered yet, so that an exit mid-call (SIGTERM without --graceful) frees them */
static struct call *calls_open;

static struct call *call_new(void)
{
    struct call *cl = calloc(1, sizeof(*cl));
    if (!cl) return NULL;
    cl->next_open = calls_open;
    if (calls_open) calls_open->prev_open = cl;
    calls_open = cl;
    return cl;
}

static void call_free(struct call *cl)
{
    if (cl->prev_open) cl->prev_open->next_open = cl->next_open;
    else calls_open = cl->next_open;
    if (cl->next_open) cl->next_open->prev_open = cl->prev_open;
    free(cl);
}

static int active;           /* /checkout requests whose response has not been written out */
static int draining;         /* SIGTERM received with --graceful on */
static unsigned long stat_fallback;

static void reply(struct evhttp_request *in, int code, const char *reason, const char *body)
{
    const char *uri = evhttp_request_get_uri(in);
    int checkout = uri && !strncmp(uri, "/checkout", 9);
    if (checkout && C.fallback && code >= 500) {   /* degrade: the order is taken, paid later */
        stat_fallback++;
        code = 200;
        reason = "OK";
        body = "checkout accepted (payment pending)";
    }
    if (draining) evhttp_add_header(evhttp_request_get_output_headers(in), "Connection", "close");
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
    if (cl->slot >= 0) cl->d->pool[cl->slot].busy = 0;
    cl->slot = -1;
    cl->d->inflight--;
    (*cl->d->sem)--;
    inflight--;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct call *cl = arg;
    event_free(cl->retry_ev);
    cl->retry_ev = NULL;
    start_attempt(cl);
}

/* A call's own connection is freed once its request's callback has returned. Not with
 * evhttp_connection_free_on_completion: libevent 2.1.12 does not free such a connection when
 * the connect itself fails (libevent issue #1535), the retry scenarios' refused and reset
 * connections leaked one each (make asan, run/catalog_retries.sh). */
static void free_conn_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    evhttp_connection_free(arg);
}

static void dep_done(struct evhttp_request *req, void *arg)
{
    struct call *cl = arg;
    if (cl->own) {
        struct timeval now = {0, 0};
        if (event_base_once(base, -1, EV_TIMEOUT, free_conn_cb, cl->own, &now) < 0)
            fprintf(stderr, "cannot schedule a connection's release\n");
        cl->own = NULL;
    }
    int code = req ? evhttp_request_get_response_code(req) : 0;
    int ok = code >= 200 && code < 300;
    if (cl->abandoned) {   /* --leak: the answer came; its connection stays open, forgotten */
        call_free(cl);
        return;
    }
    if (cl->dl_ev) { event_free(cl->dl_ev); cl->dl_ev = NULL; }
    cl->conn = NULL;
    release_slot(cl);
    int pay = cl->d == &PAY;
    if (cl->probe) probe_in_flight = 0;
    if (pay) breaker_result(ok);
    if (ok) {
        stat_ok++;
        reply(cl->in, 200, "OK", "checkout ok");
        call_free(cl);
        return;
    }
    if (pay && cl->attempt < C.retries && !(C.breaker && breaker_open)) {
        cl->attempt++;
        int delay = 0;
        if (C.backoff) {
            delay = 200 << (cl->attempt - 1);
            if (delay > 3200) delay = 3200;
            /* jitter: 90-100 %, so each pause is clearly longer than the one before, even seen
             * from the dependency's side on a loaded machine (loop delays of 100 ms and more) */
            delay = delay * 9 / 10 + rand() % (delay / 10 + 1);
        }
        struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
        cl->retry_ev = evtimer_new(base, retry_cb, cl);
        evtimer_add(cl->retry_ev, &tv);
        return;
    }
    stat_fail++;
    if (code == 0) reply(cl->in, 504, "Gateway Timeout", pay ? "payments did not answer" : "inventory did not answer");
    else reply(cl->in, 502, "Bad Gateway", pay ? "payments failed" : "inventory failed");
    call_free(cl);
}

/* --deadline ran out: close the connection (whatever is still arriving on it) and fail the
 * attempt as a timeout. evhttp_connection_free does not call the request's callback. */
static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct call *cl = arg;
    event_free(cl->dl_ev);
    cl->dl_ev = NULL;
    if (cl->slot >= 0) cl->d->pool[cl->slot].c = NULL;
    evhttp_connection_free(cl->conn);
    cl->own = NULL;
    dep_done(NULL, cl);
}

/* --leak: the timeout ran out; answer the caller, forget the request and its connection
 * (neither cancelled nor closed: the bug). The request's callback comes when the dependency
 * answers and only frees the call. */
static struct evhttp_connection **forgotten;   /* walked-away connections, freed only at exit */
static int nforgotten;

static void leak_cb(evutil_socket_t fd, short what, void *arg)
{
    struct call *cl = arg;
    event_free(cl->dl_ev);
    cl->dl_ev = NULL;
    struct evhttp_connection **nf = realloc(forgotten, sizeof(*nf) * (size_t)(nforgotten + 1));
    if (nf) { forgotten = nf; forgotten[nforgotten++] = cl->conn; }
    if (cl->slot >= 0) cl->d->pool[cl->slot].c = NULL;   /* the slot gets a new connection */
    release_slot(cl);
    cl->abandoned = 1;
    stat_leaked++;
    stat_fail++;
    reply(cl->in, 504, "Gateway Timeout", "dependency did not answer");
    cl->in = NULL;
}

static void start_attempt(struct call *cl)
{
    struct dep *d = cl->d;
    struct pconn *pool = d->pool;
    int walk_away = C.leak && C.pool > 0 && C.timeout_ms > 0;
    if (C.pool > 0) {
        int slot = -1;
        for (int i = 0; i < C.pool && *d->sem < C.pool; i++)
            if (!pool[i].busy) { slot = i; break; }
        if (slot < 0) {
            stat_rejected++;
            reply(cl->in, 503, "Service Unavailable", "pool exhausted");
            call_free(cl);
            return;
        }
        pool[slot].busy = 1;
        cl->slot = slot;
    } else cl->slot = -1;
    inflight++;
    d->inflight++;
    (*d->sem)++;
    stat_calls++;
    struct evhttp_connection *conn;
    if (cl->slot >= 0) {
        if (!pool[cl->slot].c) {
            pool[cl->slot].c = evhttp_connection_base_new(base, NULL, d->host, (unsigned short)d->port);
            if (walk_away) {
                struct timeval tv = {24 * 3600, 0};   /* the leak timer answers the caller instead */
                evhttp_connection_set_timeout_tv(pool[cl->slot].c, &tv);
            } else if (C.timeout_ms > 0) {
                struct timeval tv = {C.timeout_ms / 1000, (C.timeout_ms % 1000) * 1000};
                evhttp_connection_set_timeout_tv(pool[cl->slot].c, &tv);
            }
            evhttp_connection_set_retries(pool[cl->slot].c, 0);
        }
        conn = pool[cl->slot].c;
    } else {
        conn = evhttp_connection_base_new(base, NULL, d->host, (unsigned short)d->port);
        if (C.timeout_ms > 0) {
            struct timeval tv = {C.timeout_ms / 1000, (C.timeout_ms % 1000) * 1000};
            evhttp_connection_set_timeout_tv(conn, &tv);
        } else {
            struct timeval tv = {24 * 3600, 0};   /* "no timeout": a day */
            evhttp_connection_set_timeout_tv(conn, &tv);
        }
        cl->own = conn;                  /* freed after its request completes (dep_done) */
    }
    struct evhttp_request *r = evhttp_request_new(dep_done, cl);
    evhttp_add_header(evhttp_request_get_output_headers(r), "Host", d->host);
    if (cl->slot < 0) evhttp_add_header(evhttp_request_get_output_headers(r), "Connection", "close");
    const char *rid = evhttp_find_header(evhttp_request_get_input_headers(cl->in), "X-Request-Id");
    if (rid) evhttp_add_header(evhttp_request_get_output_headers(r), "X-Request-Id", rid);
    if (evhttp_make_request(conn, r, EVHTTP_REQ_GET, d->path) < 0) {
        /* the request was freed by libevent; fail the call */
        if (cl->own) evhttp_connection_free(cl->own);
        cl->own = NULL;
        release_slot(cl);
        stat_fail++;
        reply(cl->in, 502, "Bad Gateway", "cannot call the dependency");
        call_free(cl);
        return;
    }
    cl->conn = conn;
    if (walk_away) {
        struct timeval tv = {C.timeout_ms / 1000, (C.timeout_ms % 1000) * 1000};
        cl->dl_ev = evtimer_new(base, leak_cb, cl);
        evtimer_add(cl->dl_ev, &tv);
    } else if (C.deadline_ms > 0) {
        struct timeval tv = {C.deadline_ms / 1000, (C.deadline_ms % 1000) * 1000};
        cl->dl_ev = evtimer_new(base, deadline_cb, cl);
        evtimer_add(cl->dl_ev, &tv);
    }
}


/* ---- the optional Postgres step (libpq, non-blocking, on the same loop) ---- */
struct pgconn {
    PGconn *c;
    struct event *ev, *tmo;
    struct call *cl;
    int slot;            /* pool slot, -1 = own connection */
    int connecting, stage, leaked;
    struct pgconn *prev_all, *next_all;   /* every live one, leaked too: freed at exit */
};
static struct pgconn **pgpool;
static struct pgconn *pg_all;
static unsigned long stat_pg_ok, stat_pg_fail, stat_pg_leaked;

static void pg_io(evutil_socket_t fd, short what, void *arg);

static void pg_wait(struct pgconn *pc, short what)
{
    if (pc->ev) event_free(pc->ev);
    pc->ev = event_new(base, PQsocket(pc->c), what, pg_io, pc);
    event_add(pc->ev, NULL);
}

static void pg_release(struct pgconn *pc, int keep)
{
    if (pc->ev) { event_free(pc->ev); pc->ev = NULL; }
    if (pc->tmo) { event_free(pc->tmo); pc->tmo = NULL; }
    pc->cl = NULL;
    if (keep && pc->slot >= 0) return;             /* idle in the pool */
    if (pc->slot >= 0) pgpool[pc->slot] = NULL;
    if (pc->prev_all) pc->prev_all->next_all = pc->next_all;
    else pg_all = pc->next_all;
    if (pc->next_all) pc->next_all->prev_all = pc->prev_all;
    PQfinish(pc->c);
    free(pc);
}

static void pg_done(struct pgconn *pc, int ok, const char *why)
{
    struct call *cl = pc->cl;
    pg_release(pc, ok);
    if (!ok) {
        stat_pg_fail++;
        reply(cl->in, 502, "Bad Gateway", why);
        call_free(cl);
        return;
    }
    stat_pg_ok++;
    if (!PAY.port) {
        stat_ok++;
        reply(cl->in, 200, "OK", "checkout ok");
        call_free(cl);
        return;
    }
    start_attempt(cl);
}

static void pg_send(struct pgconn *pc)
{
    const char *q = !C.pg_tx ? "SELECT 1" : pc->stage == 0 ? "BEGIN; SELECT 1" : "COMMIT";
    if (!PQsendQuery(pc->c, q)) { pg_done(pc, 0, "postgres: cannot send"); return; }
    pg_wait(pc, PQflush(pc->c) == 1 ? EV_WRITE : EV_READ);
}

static void pg_io(evutil_socket_t fd, short what, void *arg)
{
    struct pgconn *pc = arg;
    if (pc->connecting) {
        PostgresPollingStatusType st = PQconnectPoll(pc->c);
        if (st == PGRES_POLLING_FAILED) { pg_done(pc, 0, "postgres: connect failed"); return; }
        if (st == PGRES_POLLING_OK) { pc->connecting = 0; PQsetnonblocking(pc->c, 1); pg_send(pc); return; }
        pg_wait(pc, st == PGRES_POLLING_WRITING ? EV_WRITE : EV_READ);
        return;
    }
    if (what & EV_WRITE) {
        int f = PQflush(pc->c);
        if (f < 0) { pg_done(pc, 0, "postgres: write failed"); return; }
        pg_wait(pc, f == 1 ? EV_WRITE : EV_READ);
        return;
    }
    if (!PQconsumeInput(pc->c)) { pg_done(pc, 0, "postgres: connection lost"); return; }
    int bad = 0;
    while (!PQisBusy(pc->c)) {
        PGresult *r = PQgetResult(pc->c);
        if (!r) {   /* this query is complete */
            if (bad) { pg_done(pc, 0, "postgres: query failed"); return; }
            if (C.pg_tx && pc->stage == 0) { pc->stage = 1; pg_send(pc); return; }
            pg_done(pc, 1, NULL);
            return;
        }
        ExecStatusType es = PQresultStatus(r);
        if (es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK) bad = 1;
        PQclear(r);
    }
    pg_wait(pc, EV_READ);
}

static void pg_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct pgconn *pc = arg;
    struct call *cl = pc->cl;
    event_free(pc->tmo);
    pc->tmo = NULL;
    if (C.pg_leak) {
        /* the bug: walk away from the connection, transaction and all; nobody closes it */
        if (pc->ev) { event_free(pc->ev); pc->ev = NULL; }
        pc->leaked = 1;
        pc->cl = NULL;
        if (pc->slot >= 0) pgpool[pc->slot] = NULL;   /* the pool forgets it, the socket stays */
        stat_pg_leaked++;
    } else {
        pc->cl = NULL;
        pg_release(pc, 0);    /* closing the connection ends its transaction on the server */
    }
    stat_pg_fail++;
    reply(cl->in, 504, "Gateway Timeout", "postgres did not answer");
    call_free(cl);
}

static void pg_start(struct call *cl)
{
    struct pgconn *pc = NULL;
    int slot = -1;
    if (C.pg_pool > 0) {
        for (int i = 0; i < C.pg_pool && !pc; i++)
            if (pgpool[i] && !pgpool[i]->cl && PQstatus(pgpool[i]->c) == CONNECTION_OK) { pc = pgpool[i]; slot = i; }
        for (int i = 0; i < C.pg_pool && !pc && slot < 0; i++)
            if (!pgpool[i]) slot = i;
        if (!pc && slot < 0) {
            stat_rejected++;
            reply(cl->in, 503, "Service Unavailable", "db pool exhausted");
            call_free(cl);
            return;
        }
    }
    if (!pc) {
        pc = calloc(1, sizeof(*pc));
        pc->slot = slot;
        pc->c = PQconnectStart(C.pg_dsn);
        if (!pc->c || PQstatus(pc->c) == CONNECTION_BAD) {
            if (pc->c) PQfinish(pc->c);
            free(pc);
            reply(cl->in, 502, "Bad Gateway", "postgres: bad DSN or no connection");
            call_free(cl);
            return;
        }
        pc->connecting = 1;
        if (slot >= 0) pgpool[slot] = pc;
        pc->next_all = pg_all;
        if (pg_all) pg_all->prev_all = pc;
        pg_all = pc;
    }
    pc->cl = cl;
    pc->stage = 0;
    if (C.timeout_ms > 0) {
        struct timeval tv = {C.timeout_ms / 1000, (C.timeout_ms % 1000) * 1000};
        pc->tmo = evtimer_new(base, pg_timeout, pc);
        evtimer_add(pc->tmo, &tv);
    }
    if (pc->connecting) pg_wait(pc, EV_WRITE);
    else pg_send(pc);
}

/* the response left (written out in full): only then is the request done for the drain */
static void checkout_sent(struct evhttp_request *in, void *arg) { active--; }

static void checkout_cb(struct evhttp_request *in, void *arg)
{
    active++;
    evhttp_request_set_on_complete_cb(in, checkout_sent, NULL);
    if (C.breaker && breaker_open) {
        if (now_ms() < open_until_ms || probe_in_flight) {
            stat_rejected++;
            reply(in, 503, "Service Unavailable", "breaker open");
            return;
        }
        probe_in_flight = 1;   /* half-open: this request is the probe */
    }
    struct call *cl = call_new();
    if (!cl) { reply(in, 500, "Internal Server Error", "oom"); return; }
    cl->in = in;
    cl->d = &PAY;
    cl->slot = -1;
    cl->probe = C.breaker && breaker_open;
    if (C.pg_dsn[0]) pg_start(cl);
    else if (!C.dep_port) { reply(in, 200, "OK", "checkout ok"); call_free(cl); }
    else start_attempt(cl);
}

/* GET /stock: one call to inventory (no breaker, no retries), through the shared or own pool */
static void stock_cb(struct evhttp_request *in, void *arg)
{
    if (!INV.port) { reply(in, 404, "Not Found", "no --inventory"); return; }
    struct call *cl = call_new();
    if (!cl) { reply(in, 500, "Internal Server Error", "oom"); return; }
    cl->in = in;
    cl->d = &INV;
    cl->slot = -1;
    start_attempt(cl);
}

static void pay_cb(struct evhttp_request *in, void *arg) { reply(in, 200, "OK", "paid"); }

static void healthz_cb(struct evhttp_request *in, void *arg) { reply(in, 200, "OK", "ok"); }

static void stats_cb(struct evhttp_request *in, void *arg)
{
    char b[500];
    snprintf(b, sizeof(b), "ok=%lu fail=%lu rejected=%lu calls=%lu inflight=%d breaker=%s pg_ok=%lu pg_fail=%lu pg_leaked=%lu fallback=%lu leaked=%lu",
             stat_ok, stat_fail, stat_rejected, stat_calls, inflight, breaker_open ? "open" : "closed", stat_pg_ok,
             stat_pg_fail, stat_pg_leaked, stat_fallback, stat_leaked);
    reply(in, 200, "OK", b);
}

/* Prometheus text: what a probe (check = probe) reads */
static void metrics_cb(struct evhttp_request *in, void *arg)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b,
                        "# HELP checkout_workers Calls in flight to the dependencies (a call that never ends stays counted).\n"
                        "# TYPE checkout_workers gauge\ncheckout_workers %d\n"
                        "# TYPE checkout_inflight gauge\ncheckout_inflight{dep=\"payments\"} %d\ncheckout_inflight{dep=\"inventory\"} %d\n"
                        "# TYPE checkout_leaked_sockets counter\ncheckout_leaked_sockets %lu\n"
                        "# TYPE checkout_requests_total counter\n"
                        "checkout_requests_total{result=\"ok\"} %lu\ncheckout_requests_total{result=\"fail\"} %lu\n"
                        "checkout_requests_total{result=\"rejected\"} %lu\n",
                        inflight, PAY.inflight, INV.inflight, stat_leaked, stat_ok, stat_fail, stat_rejected);
    evhttp_add_header(evhttp_request_get_output_headers(in), "Content-Type", "text/plain; version=0.0.4");
    evhttp_send_reply(in, 200, "OK", b);
    evbuffer_free(b);
}

static struct evhttp *http;
static struct evhttp_bound_socket *bound;
static double drain_deadline_ms;
static struct event *drain_ev;
static double closed_ms;

/* --graceful on: poll until every /checkout request was answered (or the grace ran out) */
static void drain_cb(evutil_socket_t fd, short w, void *arg)
{
    if (bound) {
        /* stop accepting only once the listen backlog is empty: a connection the kernel already
         * accepted would be reset by the close (the race every "close the listener" has) */
        struct pollfd pf = {evconnlistener_get_fd(evhttp_bound_socket_get_listener(bound)), POLLIN, 0};
        if (poll(&pf, 1, 0) == 0 || now_ms() >= drain_deadline_ms) {
            evhttp_del_accept_socket(http, bound);   /* new connections are refused from now on */
            bound = NULL;
            closed_ms = now_ms();
        }
    }
    if (bound) {
        struct timeval tv = {0, 2000};
        event_add((struct event *)arg, &tv);
        return;
    }
    /* a connection accepted just before the close may not have sent its request yet: like Go's
     * Shutdown waiting for new connections, give it 200 ms before calling it idle */
    if ((active <= 0 && now_ms() >= closed_ms + 200) || now_ms() >= drain_deadline_ms) {
        fprintf(stderr, "service: drained (%d unanswered), exiting\n", active > 0 ? active : 0);
        event_base_loopexit(base, NULL);
        return;
    }
    struct timeval tv = {0, 20000};
    event_add((struct event *)arg, &tv);
}

static void sig_cb(evutil_socket_t s, short w, void *arg)
{
    if (!C.graceful || s != SIGTERM || draining) {   /* SIGINT, a second SIGTERM, or no graceful shutdown */
        event_base_loopexit(base, NULL);
        return;
    }
    draining = 1;
    drain_deadline_ms = now_ms() + C.grace_ms;
    fprintf(stderr, "service: SIGTERM, draining %d request(s)\n", active);
    drain_ev = event_new(base, -1, 0, drain_cb, event_self_cbarg());
    drain_cb(-1, 0, drain_ev);
}

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
               "               [--breaker on|off] [--retries N] [--backoff on|off] [--fallback on|off]\n"
               "               [--graceful on|off [--grace MS]]\n"
               "               [--pg DSN [--pg-pool N] [--pg-tx on|off] [--pg-leak on|off]]   (--dep off: no payments call)\n"
               "               [--deadline MS] [--leak on|off] [--inventory HOST:PORT [--bulkhead on|off]]\n"
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
        else if (!strcmp(a, "--dep")) {
            if (!strcmp(v, "off")) C.dep_port = 0;
            else if (hostport(v, C.dep_host, sizeof(C.dep_host), &C.dep_port) < 0) return 2;
        }
        else if (!strcmp(a, "--pg")) snprintf(C.pg_dsn, sizeof(C.pg_dsn), "%s", v);
        else if (!strcmp(a, "--pg-pool")) C.pg_pool = atoi(v);
        else if (!strcmp(a, "--pg-tx")) C.pg_tx = onoff(v);
        else if (!strcmp(a, "--pg-leak")) C.pg_leak = onoff(v);
        else if (!strcmp(a, "--dep-path")) snprintf(C.dep_path, sizeof(C.dep_path), "%s", v);
        else if (!strcmp(a, "--timeout")) C.timeout_ms = atoi(v);
        else if (!strcmp(a, "--pool")) C.pool = atoi(v);
        else if (!strcmp(a, "--breaker")) C.breaker = onoff(v);
        else if (!strcmp(a, "--retries")) C.retries = atoi(v);
        else if (!strcmp(a, "--backoff")) C.backoff = onoff(v);
        else if (!strcmp(a, "--fallback")) C.fallback = onoff(v);
        else if (!strcmp(a, "--graceful")) C.graceful = onoff(v);
        else if (!strcmp(a, "--grace")) C.grace_ms = atoi(v);
        else if (!strcmp(a, "--deadline")) C.deadline_ms = atoi(v);
        else if (!strcmp(a, "--leak")) C.leak = onoff(v);
        else if (!strcmp(a, "--bulkhead")) C.bulkhead = onoff(v);
        else if (!strcmp(a, "--inventory")) { if (hostport(v, C.inv_host, sizeof(C.inv_host), &C.inv_port) < 0) return 2; }
        else { usage(stderr); return 2; }
    }
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    PAY = (struct dep){C.dep_host, C.dep_path, C.dep_port, NULL, 0, 0, NULL};
    INV = (struct dep){C.inv_host, "/stock", C.inv_port, NULL, 0, 0, NULL};
    PAY.sem = C.bulkhead ? &PAY.own : &shared_sem;
    INV.sem = C.bulkhead ? &INV.own : &shared_sem;
    if (C.pool > 0) {
        PAY.pool = calloc((size_t)C.pool, sizeof(struct pconn));
        INV.pool = calloc((size_t)C.pool, sizeof(struct pconn));
    }
    if (C.pg_pool > 0) pgpool = calloc((size_t)C.pg_pool, sizeof(*pgpool));
    struct evhttp *h = http = evhttp_new(base);
    if (C.payments) evhttp_set_gencb(h, pay_cb, NULL);   /* every path: 200 "paid" */
    else {
        evhttp_set_cb(h, "/checkout", checkout_cb, NULL);
        evhttp_set_cb(h, "/stock", stock_cb, NULL);
    }
    evhttp_set_cb(h, "/metrics", metrics_cb, NULL);
    evhttp_set_cb(h, "/healthz", healthz_cb, NULL);
    evhttp_set_cb(h, "/stats", stats_cb, NULL);
    if (!(bound = evhttp_bind_socket_with_handle(h, C.listen_host, (unsigned short)C.listen_port))) {
        fprintf(stderr, "service: cannot listen on %s:%d: %s\n", C.listen_host, C.listen_port, strerror(errno));
        return 1;
    }
    struct event *si = evsignal_new(base, SIGINT, sig_cb, NULL), *st = evsignal_new(base, SIGTERM, sig_cb, NULL);
    event_add(si, NULL);
    event_add(st, NULL);
    fprintf(stderr, "service listening on %s:%d dep %s:%d%s timeout=%dms pool=%d breaker=%s retries=%d backoff=%s fallback=%s graceful=%s\n",
            C.listen_host, C.listen_port, C.dep_host, C.dep_port, C.dep_path, C.timeout_ms, C.pool,
            C.breaker ? "on" : "off", C.retries, C.backoff ? "on" : "off", C.fallback ? "on" : "off",
            C.graceful ? "on" : "off");
    event_base_dispatch(base);
    while (calls_open) {   /* calls cut by an exit mid-call: their connections and timers */
        struct call *cl = calls_open;
        if (cl->own) evhttp_connection_free(cl->own);   /* frees its request, without its callback */
        if (cl->retry_ev) event_free(cl->retry_ev);
        if (cl->dl_ev) event_free(cl->dl_ev);
        call_free(cl);
    }
    while (pg_all) {   /* Postgres connections in flight, idle in the pool or leaked (--pg-leak) */
        pg_all->slot = -1;
        pg_release(pg_all, 0);
    }
    free(pgpool);
    for (int i = 0; i < nforgotten; i++) evhttp_connection_free(forgotten[i]);
    free(forgotten);
    event_free(si);
    event_free(st);
    if (drain_ev) event_free(drain_ev);
    evhttp_free(h);
    for (int i = 0; i < C.pool; i++) {
        if (PAY.pool[i].c) evhttp_connection_free(PAY.pool[i].c);
        if (INV.pool[i].c) evhttp_connection_free(INV.pool[i].c);
    }
    free(PAY.pool);
    free(INV.pool);
    event_base_free(base);
    return 0;
}
