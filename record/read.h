/* record/read.h -- the record of one run, read back for the verifier (docs/metrics.md): from Redis,
 * or from the record.json `faultline run` leaves behind (vrec_open_file).
 *
 * A synchronous hiredis client (verify is a command, not a daemon). vrec_open reads what every
 * check needs anyway -- instances, run start/end, fault windows and counters, phases -- and the
 * per-proxy series and event streams are read on first use and cached. Everything recorded by
 * several instances is merged here, so checks never see instance names: counters and series are
 * summed, fault windows are paired per instance and then unioned.
 *
 * Times are wall-clock milliseconds (double). Absent numeric fields are NAN.
 * Ownership: a struct vrec owns everything reachable from it; vrec_free releases it all.
 */
#ifndef FL_VREC_H
#define FL_VREC_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

struct vts {                  /* one bucket of R:ts:<proxy>:*, merged over instances */
    int64_t sec;
    double nnew, peak, cur, req, err, inflight, faults, up, down;
};

enum vev_kind { VEV_CONN = 1, VEV_REQUEST };

struct vev {                  /* one entry of R:events:<proxy> */
    enum vev_kind kind;
    char inst[64];
    uint64_t id;              /* conn: id; request: conn */
    char closed_by[12];
    char fault[96];
    char method[16], path[192], host[96], request_id[96];   /* longer values are cut */
    char body_hash[20];       /* request: FNV-1a 64 of the whole body, hex ("" = not recorded) */
    int status, held_at_end, upstream_failed;
    char end[12];             /* request: done|aborted|reset|inflight ("" in older records) */
    double open_ms, connected_ms, first_up_ms, first_down_ms, last_up_ms, hang_ms, gave_up_ms,
        waited_ms, close_ms, bytes_up, bytes_down;
    double req_ms, upstream_ms, total_ms, abandoned_ms;
    /* conn: calls as turns (docs/metrics.md) */
    double call_max_ms, call_max_at_ms, call_open_ms, pending_down, client_eof_ms;
    double hang_end_ms;       /* conn: the held call flowed again */
    /* conn, TLS on the client side (docs/metrics.md, tls_*): the handshake (NAN: not done), the
     * plaintext the client sent after it, a TLS fault's act and bad certificate, a failure's alert */
    double tls_handshake_ms, tls_app_bytes;
    char tls_fault[12], tls_bad_cert[16], tls_alert[40], tls_alert_by[12];
    /* request, http2 and grpc: who reset the stream ("" = nobody) and its code */
    char reset_by[12], rst_code[24];
    double stream;            /* request, http2 and grpc: the client's stream id (NAN: none, http) */
    /* request, grpc: the status (-1 = none), the deadline the caller sent (NAN = none), the
     * messages each way, grpc-previous-rpc-attempts (0 = none) */
    int grpc_status, prev_attempts;
    double grpc_timeout_ms, msgs_req, msgs_resp;
};

struct vwin {
    double start, end;        /* end = INFINITY: still open when the record ends */
    int cut;                  /* the window ended because the run did (the daemon stopped, the
                               * runner finished, was aborted or halted): nothing after its end
                               * was observed with the service left alone */
};
/* Sorts w[0..*n) by start and merges overlapping windows (a merged window is cut when the one
 * that ends it is). */
void vwin_union(struct vwin *w, int *n);

struct vfault {                /* one fault of one proxy: (proxy, name) is its identity */
    char name[128], proxy[128], type[64];
    double affected;          /* conns_affected + requests_affected, summed over instances */
    double abandoned;
    char on_end[16];          /* hang's on_end from the recorded profile: keep|release|reset */
    struct vwin *w;           /* windows, merged over instances, in time order */
    int nw;
};

struct vphase { char name[128]; double start, end; };

struct vpxconf { char name[128], id_header[128]; };   /* [proxy NAME] of the recorded profile */

struct vpx {                  /* per-proxy cache */
    char name[128];
    struct vts *ts;
    int nts;
    double interval_s;        /* bucket length guessed from the series (1 by default) */
    struct vev *ev;
    int nev, ev_loaded, ts_loaded;
    int http;                 /* saw request events or requests in the series */
    int ingress;              /* some instance recorded role:<proxy> = ingress in its meta */
};

struct vrec {
    void *rc;                 /* redisContext* */
    char run[128];
    char key[200];            /* "fl:run:<run>" */
    int known;                /* the run has instances or is in fl:runs */
    char **inst;
    int ninst;
    double start_ms, end_ms;  /* run start (earliest instance), end (latest end, or last data;
                               * now while an instance still records) */
    int ended;                /* no instance still records: each wrote ended_ms, or stopped
                               * writing (its series) over 3 intervals + 2 s ago (gone) */
    int live;                 /* instances still recording: no ended_ms, wrote recently */
    char live_inst[96];       /* one of them, and its last write (ms, end of its newest bucket) */
    double live_last_ms;
    /* R:runner, written by `faultline run` (docs/metrics.md): how the run ended */
    char outcome[16];         /* finished | aborted | halted, "" when no runner wrote it */
    char stop_reason[256];    /* aborted / halted: why ("interrupted (SIGINT)", the stop condition) */
    double stop_ms;           /* the runner stopped observing (faults removed, load stopped), or NAN */
    char source[640];         /* "redis URL" or the record.json path, for messages */
    void *json;               /* json_t* of record.json's "keys", or NULL (Redis) */
    struct vfault *faults;
    int nfaults;
    struct vphase *ph;
    int nph;
    struct vpx **px;          /* entries never move: vrec_proxy's pointers stay valid */
    int npx;
    long long ttl_s;          /* TTL to give keys the verifier writes (samples) */
    struct vpxconf *pconf;    /* proxies of the recorded profiles (first instance that has one) */
    int npconf;
};

/* Connects (2 s timeout) to url: redis://[:PASS@]HOST[:PORT][/DB] or unix:/path[?db=N&password=P].
 * Returns a redisContext* or NULL with the reason. */
void *vrec_connect(const char *url, char *err, size_t errlen);
void vrec_disconnect(void *rc);

/* Reads the run's overview. 0, or -1 with err (Redis unreachable or answering errors). A run
 * with no record is not an error: known = 0. */
int vrec_open(struct vrec *v, const char *url, const char *run, char *err, size_t errlen);
/* The same from a record.json (run/redis.c's export; docs/metrics.md). run may be NULL or "" (the
 * file's run); another run than the file's is an error. */
int vrec_open_file(struct vrec *v, const char *path, const char *run, char *err, size_t errlen);
void vrec_free(struct vrec *v);
/* The newest runs of fl:runs (at most 10, newest first, "a, b (and 3 older)") into out. The
 * count listed, or -1 with err (Redis unreachable). */
int vrec_runs(const char *url, char *out, size_t outlen, char *err, size_t errlen);

/* The proxy's series and events, loaded on first use. NULL with err on a Redis error. The
 * returned entry belongs to v. */
struct vpx *vrec_proxy(struct vrec *v, const char *proxy, int want_events, char *err, size_t errlen);

/* The value of field in the hash R:<suffix> (e.g. "gostacks:<expect name>"): a new string the
 * caller frees, or NULL when there is none (err untouched) or on a Redis error (err set). */
char *vrec_hget(struct vrec *v, const char *suffix, const char *field, char *err, size_t errlen);

/* The header a proxy recorded as request_id: its id_header, "X-Request-Id" by default, or NULL
 * when no recorded profile has the proxy (an API-made proxy records X-Request-Id). */
const char *vrec_id_header(struct vrec *v, const char *proxy);

/* The fault `name` of proxy `proxy` (names are unique per proxy only), or with proxy NULL the
 * first fault of that name; NULL when there is none. */
struct vfault *vrec_fault(struct vrec *v, const char *proxy, const char *name);

/* Parses "key=N key=N" text of a series value into t. */
void vrec_parse_ts(const char *s, struct vts *t);

/* Reads a stream R:<suffix> fully (bounded to 200k entries); calls fn for each entry with
 * field/value arrays. 0 or -1 with err. */
int vrec_stream(struct vrec *v, const char *suffix,
                void (*fn)(void *ud, const char **f, const char **val, int n), void *ud, char *err, size_t errlen);

#endif
