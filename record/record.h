/* record.h -- what the daemon tells the recorder (record/record.c; its Redis side in
 * record/record_redis.c). The schema written is docs/metrics.md.
 *
 * The recorder knows nothing of the daemon's objects: its inputs are the types below, which the
 * proxy core fills (proxy/recording.c holds the core's side). Three kinds of input:
 *   - the run: rec_start with a struct rec_config (the [faultline] settings, the event loop,
 *     and a struct rec_source the recorder calls back once per interval to observe the live
 *     proxies and faults, and to describe the run in its meta hash); rec_stop at the end;
 *   - hooks on the data path (a connection opened or closed, a fault acted, an http request
 *     began or ended, a fault's window opened or closed): each takes the proxy's entry (struct
 *     rec_px, got once per proxy object from rec_proxy_attach) and plain values;
 *   - facts of a protocol (struct rec_kv): fields a protocol engine appends while the recorder
 *     builds an event or an interval's entry.
 *
 * Cost: every hook is cheap and never blocks (a few counters, or one command formatted into a
 * reusable buffer at a close; the Redis side queues and batches on the same loop and counts
 * what it must drop). With no [faultline] redis, rec_active is 0 and the core skips the hooks,
 * and the building of their inputs, with one test.
 */
#ifndef FL_RECORD_H
#define FL_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct rec_kv;
struct rec_px;

/* 1 while recording (between rec_start and the end of rec_stop): the hooks are no-ops otherwise. */
extern int rec_active;

/* ---- the run ---- */

/* What the recorder reads back from the daemon that started it. Called on the daemon's loop,
 * never from inside a hook. */
struct rec_source {
    void *ctx;
    /* The run's description for its meta hash: appends the fields "profile" (the profile's text,
     * when there is one), "proxies" (the names, comma-separated) and "role:<proxy>" (ingress or
     * egress) with rec_kv_str. */
    void (*meta)(void *ctx, struct rec_kv *kv);
    /* Identity of that description (the profile in force): the meta hash is written again
     * when it changes. */
    const void *(*meta_version)(void *ctx);
    /* Every interval and at the end: reports each live proxy object (rec_observe_proxy) and
     * each of its faults (rec_observe_fault). A name not reported is gone: its last values join
     * the totals kept for the name. */
    void (*observe)(void *ctx);
};

struct rec_config {
    const char *redis;           /* [faultline] redis: the URL (rec_url_parse); "" = no recording */
    const char *run;             /* run id; "" = generate one (rec_run_id) */
    const char *instance;        /* "" = hostname-pid */
    int64_t interval_us;         /* series resolution */
    int64_t retention_us;        /* TTL of everything written */
    uint64_t max_bytes;          /* record_max_bytes: the run's budget of events in Redis (bytes of the
                                  * entries written by this instance); past it events are counted, not
                                  * written. 0 = no budget */
    struct event_base *base;     /* the loop the recorder's timers and Redis connection run on */
    struct rec_source src;
};

/* Starts recording (nothing when cfg->redis is ""). 0, or -1 with err (bad URL, a host that does
 * not resolve). A Redis that is down is not an error: the recorder reconnects with backoff. Logs
 * `event=recording run=…`. */
int rec_start(const struct rec_config *cfg, char *err, size_t errlen);
/* Observes a last time, flushes what it can (bounded: 2 s), writes the run's end, closes. The
 * entries handed out (struct rec_px) are freed: the core forgets them. */
void rec_stop(void);
void rec_tick(void);             /* once per second (watchdog of the Redis connection) */
/* The run id in use ("" when not recording). */
const char *rec_run_id(void);
/* Records the recorder could not write (events, fault windows, series buckets), for /stats. */
uint64_t rec_dropped(void);

/* ---- per proxy ---- */

/* A proxy's counters as recorded (fl:run:<run>:counters:<proxy>:<inst>). Totals only grow; active
 * and inflight are values now. The core copies its own counters into one at each observation. */
struct rec_stats {
    uint64_t accepted, active, peak_active;
    uint64_t upstream_ok, upstream_failed;
    uint64_t closed_client, closed_upstream, closed_proxy, closed_fault;
    uint64_t bytes_up, bytes_down;
    uint64_t refused, accept_errors;
    uint64_t requests, responses;
    uint64_t status_class[6];    /* 1xx..5xx at [1]..[5], [0] = other */
    uint64_t bad_requests, bad_responses, inflight, peak_inflight;
};

/* A proxy's protocol facts (struct protocol totals_facts / state_facts), called back with arg
 * while an interval's entries are written: the totals hash fl:run:<run>:proto:<proxy>:<inst>
 * and one entry of the state stream fl:run:<run>:pgstate:<proxy>. NULL = none. */
struct rec_facts {
    void (*totals)(void *arg, struct rec_kv *kv);
    void (*state)(void *arg, struct rec_kv *kv);
    void *arg;
};

/* The entry of proxy `name` for the proxy object obj (an identity, never dereferenced): the
 * entry lives for the run; an earlier object's values with this name become its base, so the
 * counters never go backwards across a reload. NULL when not recording. */
struct rec_px *rec_proxy_attach(const char *name, const void *obj);
/* From the source's observe: obj is live, with these counters and facts now (copied). Ignored
 * unless obj is the entry's latest object. */
void rec_observe_proxy(struct rec_px *rp, const void *obj, const struct rec_stats *st, const struct rec_facts *fx);

/* ---- per fault ---- */

/* Every counter of a fault, in the order written (fl:run:<run>:fault:<name>:<inst>). Each is a
 * total that only grows, written under its own name. The core's struct fault_counters has the
 * same fields (it copies them with REC_FC_FIELDS). */
#define REC_FC_FIELDS(X) \
    X(conns_seen) X(conns_affected) X(bytes_delayed) X(bytes_held) X(bytes_dropped) \
    X(closes) X(resets) X(abandoned) X(refused) X(requests_affected)
struct rec_fault_counters {
#define REC_FC_DECL(field) uint64_t field;
    REC_FC_FIELDS(REC_FC_DECL)
#undef REC_FC_DECL
};

/* From the source's observe: fault `name` (object obj, an identity) of proxy `proxy`, of type
 * `type`, with these counters now. */
void rec_observe_fault(const char *name, const char *proxy, const char *type, const void *obj,
                       const struct rec_fault_counters *c);

/* A fault's window opened or closed (the stream fl:run:<run>:faults). */
struct rec_fault_window {
    const char *name, *proxy, *type;
    int active;                  /* 1 = opened, 0 = closed */
    const char *reason;          /* closed: duration, killed, removed, ttl, stopped */
    const void *obj;             /* the fault object (identity) */
    int removing;                /* the object is freed next: c holds its final counters */
    struct rec_fault_counters c;
};
void rec_fault_window(const struct rec_fault_window *w);

/* ---- hooks on the data path (each a no-op when rp is NULL) ---- */

/* A connection was accepted; active: the proxy's open connections now (its per-second peak). */
void rec_conn_open(struct rec_px *rp, uint64_t active);
/* A fault acted on one of the proxy's connections (or requests). */
void rec_fault_applied(struct rec_px *rp);

/* A connection ended: one `kind=conn` event. Times are monotonic microseconds (fl_now_us), 0 =
 * did not happen. Strings and peer are borrowed for the duration of the call. */
struct rec_conn {
    uint64_t id;
    const struct sockaddr *peer;     /* the client as accepted (AF_INET, AF_INET6; else "unix") */
    int64_t t_open, t_connected, t_first_up, t_first_down, t_last_up;
    int64_t t_hang, t_hang_end, t_gave_up;   /* a held call: began, ended, the client gave up */
    int held_at_end;                 /* still held when the proxy or a fault closed it */
    /* calls as turns (docs/metrics.md, call_*): the longest finished one, the open one */
    int64_t turn_max_us, t_turn_max, t_turn, t_last_down, t_cli_eof;
    uint64_t pending_down;           /* bytes read from the upstream and never delivered (held) */
    int64_t t_close;
    const char *closed_by;           /* client, upstream, proxy, fault */
    const char *fault;               /* the first fault applied or holding ("" = none) */
    uint64_t bytes_up, bytes_down;
    int upstream_failed;             /* the upstream was never connected and the proxy closed */
    /* the protocol's facts for this connection (struct protocol conn_facts), NULL = none */
    void (*facts)(const void *arg, struct rec_kv *kv);
    const void *facts_arg;
};
void rec_conn_close(struct rec_px *rp, const struct rec_conn *c);

/* ---- http requests (called by the HTTP engine) ----
 * Times are monotonic microseconds (fl_now_us), 0 = did not happen. Strings are borrowed for
 * the duration of the call (NULL or "" = absent). */
struct rec_request {
    uint64_t conn;               /* the connection's id */
    int upstream_connected;      /* the connection's upstream was ever connected */
    int closed_by_proxy;         /* the proxy closed the connection (the run or the daemon stopped) */
    const char *method, *path, *host;
    const char *request_id;      /* X-Request-Id (or the proxy's id_header) value */
    const char *fault;           /* fault applied to this request */
    int status;                  /* 0 = no response */
    int64_t t_req;               /* request head received from the client */
    int64_t t_forwarded;         /* request forwarded upstream */
    int64_t t_resp_head;         /* response head received */
    int64_t t_done;              /* response complete */
    int64_t t_abandoned;         /* the client closed before the response completed */
    int held_at_end;             /* still held when the run / the fault (keep) ended */
    uint64_t bytes_req, bytes_resp;  /* body bytes */
    uint64_t body_hash;          /* FNV-1a 64 of the request body (de-chunked) */
    int body_whole;              /* body_hash covers the whole body (else it is not recorded) */
    int failed;                  /* the protocol's own failure besides the status (a gRPC status
                                  * other than OK): counted as an error like a 5xx */
    /* the protocol's own fields for this request (http2: the stream, its reset; grpc: the
     * status, the deadline, the messages), NULL = none */
    void (*facts)(const void *arg, struct rec_kv *kv);
    const void *facts_arg;
    unsigned clipped;            /* text fields the engine already clipped (common/text.h fl_clip): counted */
};
/* A request head arrived; inflight: the proxy's requests in flight now (per-second peak). */
void rec_request_start(struct rec_px *rp, uint64_t inflight);
/* A request finished (answered, abandoned or failed): one `kind=request` event, and the
 * per-second error count (status >= 500, failed, or no response and not abandoned). */
void rec_request(struct rec_px *rp, const struct rec_request *r);

/* ---- facts of a protocol ----
 * A protocol engine answers the recorder by appending fields to `kv` (owned by the recorder,
 * valid for the duration of the call; keys and values are copied). A value longer than
 * FL_CLIP_MAX bytes (common/text.h) is recorded clipped, its first bytes and a hash, and counted
 * (fields_clipped): a peer's 64 KiB user name costs the record 268 bytes. rec_kv_text records
 * the whole value: for the daemon's own texts (the profile, the proxies' names), never a peer's. */
void rec_kv_str(struct rec_kv *kv, const char *key, const char *val);
void rec_kv_text(struct rec_kv *kv, const char *key, const char *val);
void rec_kv_u64(struct rec_kv *kv, const char *key, uint64_t v);
void rec_kv_ms(struct rec_kv *kv, const char *key, int64_t us);    /* a duration, written in ms */

/* ---- the Redis URL, exposed for `faultline check` and the unit tests ---- */
struct rec_url {
    int is_unix;
    char host[256];              /* tcp: host name or address (no brackets) */
    int port;                    /* tcp: default 6379 */
    char path[256];              /* unix: socket path */
    char user[128], pass[256];   /* "" = none */
    int db;                      /* 0 = default (no SELECT) */
};
/* Parses `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]` or `unix:/path[?db=N&password=P]`.
 * 0, or -1 with the reason in err. */
int rec_url_parse(const char *url, struct rec_url *u, char *err, size_t errlen);

#endif
