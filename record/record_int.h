/* record_int.h -- what the recorder's files share (record/record*.c); the rest of the daemon
 * sees only record.h. The design is in record.c's header comment.
 *
 *   record.c        what is recorded: entries per proxy and per fault, counters, series
 *                   buckets, meta, fault windows, the hooks, start and stop
 *   record_redis.c  the Redis side: the RESP builder, the command pipeline (sending, batching,
 *                   replies, the fault window queue) and the connection (connect, reconnect,
 *                   liveness)
 *   record_url.c    the Redis URL (record.h)
 */
#ifndef FL_RECORD_INT_H
#define FL_RECORD_INT_H

#include "record/record.h"
#include "common/clock.h"

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include <hiredis/async.h>

/* ---- limits (docs/metrics.md, "Limits") ---- */
#define REC_MAX_INFLIGHT      20000              /* unanswered commands */
#define REC_MAX_PENDING       (16u << 20)        /* unanswered bytes */
#define REC_BACKOFF_MIN_US    100000
#define REC_BACKOFF_MAX_US    5000000
#define REC_CONNECT_TIMEOUT   2000000
#define REC_REPLY_TIMEOUT     5000000
#define REC_EVENTS_MAXLEN     "100000"
#define REC_RING              900                /* series buckets kept per proxy until acked */
#define REC_FAULTQ            1024               /* fault window records kept until acked */
#define REC_EXPIRE_EVERY_US   60000000
#define REC_STOP_FLUSH_US     2000000
#define REC_BATCH_US          5000               /* events wait at most this long to share a write */
#define REC_BATCH_MAX         256                /* ... or until this many are waiting */
#define REC_BATCH_BYTES       (256u << 10)

/* ---- RESP builder (record_redis.c): arguments appended, the "*N" header written in front at
 * the end ---- */
struct rbuf { char *p; size_t len, cap; int argc; };
void rb_begin(struct rbuf *b);
void rb_str(struct rbuf *b, const char *s);
void rb_fmt(struct rbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rb_ms(struct rbuf *b, int64_t us);
void rb_kv_str(struct rbuf *b, const char *k, const char *v);
void rb_kv_u64(struct rbuf *b, const char *k, uint64_t v);
const char *rb_end(struct rbuf *b, size_t *len);
void rb_xadd_capped(struct rbuf *b, const char *key);
void rb_time(struct rbuf *b, const char *k, int64_t mono, int64_t off);
void rb_dur(struct rbuf *b, const char *k, int64_t us);

/* ---- fields from the protocol modes (record.h): appended to the command being built ---- */
struct rec_kv { struct rbuf *b; int n; unsigned clipped; };

/* ---- state ---- */
struct rec_bucket {
    int64_t sec;
    uint64_t nnew, peak, cur, req, err, inflight, faults, up, down;
};

struct rec_px {
    char name[128];
    int idx;
    const void *obj;              /* the live object with this name (identity), NULL once it is gone */
    struct rec_stats cur;         /* obj's counters at the last observation */
    struct rec_facts facts;       /* obj's protocol facts (valid while obj is) */
    char *k_counters, *k_ts, *k_events;
    char *k_proto, *k_pgstate;     /* protocol facts: R:proto:<proxy>:<inst>, R:pgstate:<proxy> */
    /* accumulators of the open bucket, bumped by the hooks */
    uint64_t a_new, a_peak, a_faults, a_err, a_inflight;
    uint64_t faults_applied, dropped;
    uint64_t written, over_budget, clipped;   /* events queued; not written (over the budget); fields clipped */
    /* totals of earlier objects with this name, and the live object's values at the last flush */
    struct rec_stats base, last;
    uint64_t b_req, b_up, b_down;  /* the live object's totals at the open bucket's start */
    int events_expired;            /* EXPIRE sent for the events stream on this connection */
    int pgstate_expired;           /* ... and for the pgstate stream */
    struct rec_bucket ring[REC_RING];
    int64_t nb, acked, sent;       /* bucket sequence numbers: written, acknowledged, sent */
    int seen;
};

struct rec_fault {
    char name[128], proxy[128], type[64];
    char *key;
    const void *obj;              /* the live object (identity), NULL once it is gone */
    struct rec_fault_counters base, last;
    int seen;
};

enum rec_cbkind { CB_TS = 1, CB_FAULTWIN, CB_SETUP };
struct rec_cb {                   /* reply privdata for the commands that need an answer */
    enum rec_cbkind kind;
    size_t bytes;
    struct rec_px *rp;
    int64_t upto;
    char *cmd;                    /* CB_FAULTWIN: the command, resent after a reconnect */
    size_t cmdlen;
    const char *what;             /* CB_SETUP */
};

struct rec {
    struct event_base *base;
    struct rec_source src;
    struct rec_url url;
    char url_text[600];           /* for logs: password masked */
    char run[128], inst[200];
    char *k_meta, *k_instances, *k_faults;
    int64_t started_wall_us;
    int64_t ttl_s;
    int64_t interval_us;
    redisAsyncContext *ac;
    int up;                       /* connect callback said OK */
    int stopping;
    int64_t backoff_us;
    int64_t connect_started_us, last_progress_us;
    struct event *reconnect_ev, *flush_ev, *kill_ev;
    size_t inflight, pending;
    uint64_t dropped, dropped_logged, errors;
    uint64_t max_bytes, bytes;    /* the run's budget of events (0 = none) and what was written of it */
    uint64_t over_budget, clipped;
    int budget_logged;
    int64_t last_drop_log_us, last_err_log_us, last_down_log_us, last_expire_us;
    int was_up;
    struct rec_px **pxs;
    int npx;
    struct rec_fault **faults;
    int nfaults;
    struct rec_cb *faultq[REC_FAULTQ];
    int nfaultq;
    const void *meta_written;     /* src.meta_version() when the meta hash was last written */
    int64_t bucket_start_us;      /* wall */
    struct rbuf b;
    /* events waiting to be handed to hiredis together (one write, one read of the replies) */
    struct rbuf q;
    uintptr_t qtag[REC_BATCH_MAX];
    size_t qlen[REC_BATCH_MAX];
    int nq;
    struct event *batch_ev;
};

/* The recorder's state, one per process: set by rec_start and freed by rec_stop (record.c);
 * NULL when not recording, and then every hook is a no-op. Only record*.c see it. */
extern struct rec *rec_st;

/* ---- record.c ---- */
void *rec_xcalloc(size_t size);
void rec_drop(struct rec_px *rp, uint64_t n);
void rec_write_hello(void);
/* The run's budget (record_max_bytes): 1 when it is spent (the entry is counted against rp, not
 * written); rec_spent charges an entry queued; rec_clipped counts clipped fields. */
int rec_over_budget(struct rec_px *rp);
void rec_spent(struct rec_px *rp, size_t len);
void rec_clipped(struct rec_px *rp, unsigned n);

/* ---- record_redis.c: the command pipeline and the connection ---- */
int rec_send_cmd(const char *cmd, size_t len, void *priv);
int rec_send_plain(struct rec_px *rp, int counted);
int rec_send_cb(struct rec_cb *cb);
void rec_batch_flush(void);
void rec_batch_cb(evutil_socket_t fd, short what, void *arg);
int rec_queue_plain(struct rec_px *rp, int counted);
void rb_expire(const char *key);
void rec_expire_key(const char *key);
void rec_faultq_push(struct rec_cb *cb, int front);
void rec_faultq_drain(void);
void rec_connect_now(void);
void rec_reconnect_cb(evutil_socket_t fd, short what, void *arg);
void rec_kill_cb(evutil_socket_t fd, short what, void *arg);
void rec_mask_url(const char *url, char *out, size_t n);

#endif
