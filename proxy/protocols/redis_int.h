/* redis_int.h -- what the files of the RESP engine share (proxy/protocols/redis*.c): the
 * session, its FIFO, and the per-proxy totals. The rest of the daemon sees redis.h and struct
 * protocol only.
 *
 *   redis.c        the engine: framing commands and replies, the faults per command, the FIFO,
 *                  the connection glue
 *   redis_facts.c  what it knows: totals per proxy and per command name, the /stats JSON and the
 *                  record's facts
 */
#ifndef FL_REDIS_INT_H
#define FL_REDIS_INT_H

#include <stdint.h>
#include "proxy/protocols/frame.h"

#define RESP_DEPTH_MAX  64              /* nesting of aggregates */
#define RESP_NAME_MAX   32              /* bytes of a command name kept */
#define RESP_NAMES_MAX  128             /* command names counted per proxy (then "other") */

struct resp_agg { int64_t left; uint8_t attr; };

struct resp_dir {
    struct resp_agg stack[RESP_DEPTH_MAX];
    int depth;
    uint64_t bulk_left;          /* body bytes (with CRLF) of a bulk still to pass */
    uint8_t top;                 /* type of the current top-level value, 0 = between values */
    uint8_t in_cmd;              /* (client) a multibulk command has started */
    uint8_t discard;             /* (client) the current command is dropped (answered locally) */
    uint8_t decided;             /* (client) the command at the head went through the faults */
};

struct resp_entry { uint8_t local; uint16_t name; char *error; };

struct resp_name_stat { char name[RESP_NAME_MAX]; uint64_t calls, errors, injected; };

struct resp_totals {
    struct frame_totals h;       /* first: name, conns, delayed, hung, garbage_*, open sessions */
    uint64_t commands, replies, errors_server, errors_injected;
    uint64_t abandoned_inflight, abandoned_held;
    uint64_t passthrough, pushes, unsolicited, peak_inflight;
    struct resp_name_stat names[RESP_NAMES_MAX];
    int nnames;
    uint8_t hslot[256];          /* hash of a name -> its row + 1 (0 = empty) */
};

struct resp_sess {
    struct frame_sess fs;        /* first (proxy/protocols/frame.h): connection, gate, applied faults, ... */
    struct resp_totals *tot;     /* fs.tot, typed; NULL when detached */
    int dead, raw, raw_after;
    struct resp_dir d[2];
    struct resp_entry *q;
    size_t qhead, qn, qcap;
    int fifo_full;
    int in_multi;
    /* facts */
    uint64_t commands, replies, errors_server, errors_injected, pushes;
    uint64_t peak_inflight;
    struct { uint16_t idx; uint32_t calls, errors; } by[16];   /* per command name, first 16 */
    int nby;
};

/* A session of tot->h.open (the struct frame_sess is its first member). */
static inline struct resp_sess *resp_of(struct frame_sess *fs) { return (struct resp_sess *)fs; }

/* Commands waiting for their reply from the server (local answers excluded). */
static inline uint64_t resp_inflight(const struct resp_sess *s)
{
    uint64_t n = 0;
    for (size_t i = 0; i < s->qn; i++)
        if (!s->q[(s->qhead + i) % s->qcap].local) n++;
    return n;
}

/* ---- redis_facts.c ---- */
/* The totals row of proxy `name` (created when new; lives for the process). */
struct resp_totals *resp_totals_for(const char *name);

#endif
