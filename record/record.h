/* record.h -- what the daemon tells the recorder (record/record.c; its Redis side in
 * record/record_redis.c). Every call is cheap and never blocks: the recorder queues and batches
 * towards Redis on the same event loop, and counts what it had to drop. With no [faultline] redis configured every call is a no-op.
 * The schema written is docs/metrics.md.
 */
#ifndef FL_RECORD_H
#define FL_RECORD_H

#include <stddef.h>
#include <stdint.h>

struct fl_server;
struct fl_proxy;
struct conn;
struct fault;

/* Starts recording for the server's [faultline] settings. 0, or -1 with err (bad URL, host
 * that does not resolve). A Redis that is down is not an error: the recorder reconnects with
 * backoff. Generates the run id when the profile gave none and logs `event=recording run=…`. */
int rec_start(struct fl_server *s, char *err, size_t errlen);
/* Flushes what it can (bounded: 2 s), writes the run's end, closes. Hooks are no-ops after. */
void rec_stop(struct fl_server *s);
void rec_conn_open(struct conn *c);
void rec_conn_close(struct conn *c);             /* c is still fully readable */
void rec_fault_applied(struct fault *f, struct conn *c);
void rec_fault_window(struct fault *f, int active); /* the fault's window opened (1) / closed (0) */
void rec_tick(struct fl_server *s);              /* once per second from the server (watchdog) */
/* The run id in use ("" when not recording). */
const char *rec_run_id(void);
/* Records the recorder could not write (events, fault windows, series buckets), for /stats. */
uint64_t rec_dropped(void);

/* ---- http mode (called by the HTTP proxy code) ----
 * Times are monotonic microseconds (fl_now_us), 0 = did not happen. Strings are borrowed for
 * the duration of the call (NULL or "" = absent). */
struct rec_request {
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
};
/* A request head arrived (call after px->st.inflight++): per-second in-flight peak. */
void rec_request_start(struct conn *c);
/* A request finished (answered, abandoned or failed): one `kind=request` event, and the
 * per-second error count (status >= 500, or no response and not abandoned). */
void rec_request(struct conn *c, const struct rec_request *r);

/* ---- protocol modes (proxy/protocols/postgres.c, proxy/protocols/redis.c) ----
 * The recorder asks a protocol module for its facts; the module answers by appending fields to
 * `kv` (owned by the recorder, valid for the duration of the call; keys and values are copied).
 * The moments: a connection's close (fields added to its `kind=conn` event: pg_conn_facts /
 * resp_conn_facts), every interval (the per-proxy hash R:proto:<proxy>:<inst>: pg_totals_facts
 * / resp_totals_facts) and, for postgres, every interval again (one entry of the stream
 * R:pgstate:<proxy>: pg_state_facts). docs/metrics.md has the schema. */
struct rec_kv;
void rec_kv_str(struct rec_kv *kv, const char *key, const char *val);
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
