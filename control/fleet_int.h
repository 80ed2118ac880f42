/* fleet_int.h -- what the fleet's files share (control/fleet*.c). Design: fleet.h. */
#ifndef FL_FLEET_INT_H
#define FL_FLEET_INT_H

#include "control/fleet.h"
#include "control/fleet_sign.h"
#include "proxy/fleet_spec.h"

#include <stdint.h>
#include <jansson.h>
#include <event2/event.h>
#include <hiredis/async.h>

#define FLEET_HEARTBEAT_US   1000000          /* the registry key is refreshed this often */
#define FLEET_TTL_MS         5000             /* ... and expires this long after the last refresh */
#define FLEET_BLOCK_MS       1000             /* XREAD BLOCK */
#define FLEET_REPLY_TIMEOUT  3000000          /* an answer later than this: the session is reset */
#define FLEET_BACKOFF_MIN_US 100000
#define FLEET_BACKOFF_MAX_US 2000000
#define FLEET_LEASE_DEFAULT_MS 15000
#define FLEET_ACK_TTL_S      300              /* an ack list lives this long */
#define FLEET_STREAM_MAXLEN  "10000"
#define FLEET_TICK_US        50000
#define FLEET_MAX_LIST       10000            /* GET /fleet/instances reads at most this many */

/* A fault applied through the fleet and its lease. */
struct fleet_lease {
    char proxy[128], name[128], lease_id[64];
    int64_t expires_us;               /* monotonic */
    const void *f;                    /* the fault's identity (compared, never dereferenced) */
};

struct fleet_op;                      /* an admin request waiting on Redis (fleet_api.c) */

struct fleet {
    struct fl_server *s;
    struct fleet_spec spec;           /* a copy of the start-up profile's [fleet] */
    unsigned char key[FLEET_KEY_MAX];
    size_t klen;
    char id[128];
    json_t *labels;                   /* owned: {"service": ..., ...} */
    char k_inst[400], k_members[300], k_cmd[300], k_ack[300];   /* k_ack: prefix, + command id */
    char k_labels[300];               /* hash: id -> labels JSON (kept after the instance is gone) */
    int registered;                   /* this session's first heartbeat was answered */
    int labels_sent;                  /* this session wrote our labels there */
    char url_text[600];               /* password masked, for logs */
    redisAsyncContext *ac;            /* heartbeat, acks, reads, XADD */
    redisAsyncContext *bc;            /* XREAD BLOCK only */
    int ac_up, bc_up, ready;          /* ready: stream position known, reading */
    int was_up;
    char last_id[64];
    int64_t backoff_us;
    int64_t session_started_us;
    int64_t hb_sent_us, xr_sent_us, last_hb_us;   /* 0 = nothing in flight */
    struct event *tick_ev, *reset_ev, *reconnect_ev;
    struct fleet_nonces nonces;
    struct fleet_lease *leases;
    int nleases, caplease;
    struct fleet_op *ops;
    /* counters (/stats, /metrics) */
    uint64_t refused[FV_NVERDICTS];
    uint64_t seen, applied, failed, ignored, expired, heartbeats, sessions, resets;
    int64_t last_refuse_log_us;
};

/* The fleet of this process, or NULL (no [fleet]). Owned by fleet.c. */
extern struct fleet *fleet_st;

/* fleet.c */
/* Queues a command on the command connection (argv form). 0, or -1 when it is down. */
int fleet_cmd(redisCallbackFn *cb, void *priv, int argc, const char **argv, const size_t *lens);
/* Drops the session (both connections) and reconnects after a backoff; safe in callbacks. */
void fleet_reset(const char *why);
/* Refreshes the registry key now (after a change). */
void fleet_heartbeat(void);

/* fleet_cmd.c */
/* One stream entry: judged, and applied when it is for this instance. */
void fleet_entry(const char *entry_id, const char *m, size_t mlen, const char *sig);
/* Removes the faults whose lease ran out (the tick). */
void fleet_leases_tick(void);
/* This instance's faults as JSON (the registry, /fleet/instances). New reference. */
json_t *fleet_faults_json(void);
void fleet_leases_free(void);

/* fleet_api.c */
void fleet_ops_fail(const char *why);   /* the session died: every waiting request answers 503 */
void fleet_ops_free(void);

#endif
