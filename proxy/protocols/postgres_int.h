/* postgres_int.h -- what the files of the postgres engine share (proxy/protocols/postgres*.c):
 * the session, its FIFO of cycles, and the per-proxy totals. The rest of the daemon sees
 * postgres.h and struct protocol only.
 *
 *   postgres.c        the engine: framing both directions, the startup packet, the faults per
 *                     query, the FIFO of cycles, the connection glue
 *   postgres_facts.c  what it knows: totals per proxy, sessions per (user, application), the
 *                     /stats JSON and the record's facts
 */
#ifndef FL_POSTGRES_INT_H
#define FL_POSTGRES_INT_H

#include <stdint.h>
#include "proxy/protocols/frame.h"

#define PG_STMTS       64            /* named statements remembered per session */

enum pg_phase { PGP_STARTUP = 0, PGP_AUTH, PGP_READY, PGP_RAW, PGP_DEAD };

/* Sessions per (user, application_name), for the record's state stream and /stats: the pool a
 * service holds, as pg_stat_activity would show it. PG_GROUPS per proxy, then one shared row. */
#define PG_GROUPS 32
struct pg_group {
    char user[64], app[64];
    uint64_t conns;              /* sessions ever */
    uint32_t live, peak;         /* open now; most open at once since the last state entry */
    int64_t idle_done_max_us;    /* longest idle-in-transaction period that ended since then */
};

struct pg_totals {
    struct frame_totals h;       /* first: name, conns, delayed, hung, garbage_*, open sessions */
    uint64_t startups, queries, xacts, rows;
    uint64_t cancel_requests, cancels_matched, cancels_while_held;
    uint64_t errors_server, errors_injected, startup_errors;
    uint64_t dropped, abandoned_held, closed_in_tx, terminated;
    uint64_t ssl_refused, ssl_passthrough, ssl_terminated, gss_refused;
    uint64_t idle_tx_us;
    struct pg_group groups[PG_GROUPS];
    int ngroups;
    /* h.open: the state, /stats and cancels see the sessions of retired proxy objects too */
};

struct pg_cycle {
    uint8_t local;               /* answered by faultline: the server never saw it */
    uint8_t err_before_rfq;      /* forwarded (a Sync), but an error goes out before its RFQ */
    uint8_t fatal;
    uint8_t drop, drop_rst;
    uint64_t drop_after;
    char sqlstate[6];
    char *message;               /* owned */
};

struct pg_dir {
    uint32_t left;               /* bytes of the current message still to pass or discard */
    uint8_t discard;
    uint8_t decided;             /* the message at the head already went through the faults */
};

struct pg_stmt { char *name, *text; };

struct pg_sess {
    struct frame_sess fs;        /* first (proxy/protocols/frame.h): connection, gate, applied faults, ... */
    struct pg_totals *tot;       /* fs.tot, typed; NULL when detached */
    enum pg_phase phase;
    struct pg_dir d[2];
    char txs;                    /* status of the last ReadyForQuery */
    /* extended protocol */
    int batch_fwd;               /* messages forwarded since the last Sync */
    int batch_discard;           /* pg_error: discarding until Sync */
    struct pg_cycle pend;        /* what the cycle ending at Sync carries */
    struct pg_stmt stmts[PG_STMTS];
    int stmt_next;
    /* the FIFO of cycles */
    struct pg_cycle *q;
    size_t qhead, qn, qcap;
    int fifo_full;
    uint64_t rows_cycle;
    /* facts */
    char user[64], database[64], app[64];
    uint32_t pid, key;
    int have_key, is_cancel;
    uint64_t queries, xacts, rows, cancels, errors_server, errors_injected;
    int64_t idle_tx_since, idle_tx_us, idle_tx_max_us;
    struct pg_group *grp;        /* counted in this group since its startup packet */
    uint64_t cancel_target;      /* a CancelRequest connection: id of the session it cancelled */
};

/* A session of tot->h.open (the struct frame_sess is its first member). */
static inline struct pg_sess *pg_of(struct frame_sess *fs) { return (struct pg_sess *)fs; }

/* ---- postgres_facts.c ---- */
/* The totals row of proxy `name` (created when new; lives for the process: a reload that keeps a
 * proxy's name keeps its totals). */
struct pg_totals *pg_totals_for(const char *name);
/* The group of (user, app) in t (created when new; past PG_GROUPS - 1, the shared "(other)" row). */
struct pg_group *pg_group_for(struct pg_totals *t, const char *user, const char *app);

#endif
