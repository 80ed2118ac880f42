/* release_q.h -- bytes a stage holds, each run of them with the time it may go on (latency,
 * loss): a ring of (time, length) marks in arrival order, released in order by the stage's
 * timer. The bytes themselves stay in the stage's held buffer (stage_hold / stage_release);
 * this only says how many of them may leave, and when. Release times never go backwards:
 * the caller keeps them monotonic (order is kept on the wire). */
#ifndef FL_RELEASE_Q_H
#define FL_RELEASE_Q_H

#include "faults/fault.h"

#include <stddef.h>
#include <stdint.h>

struct rq_mark { int64_t at; size_t len; };
struct release_q {
    struct rq_mark *q;           /* owned; grown by doubling */
    size_t head, n, cap;
};

/* Appends len bytes that may leave at `at` (monotonic us); merged with the last mark when at
 * is the same. */
void rq_push(struct release_q *q, int64_t at, size_t len);
/* Arms the stage's timer for the first mark (nothing when empty). */
void rq_arm(struct stage *st, const struct release_q *q);
/* The stage's timer: releases every mark that is due (50 us early is due), in order, then arms
 * the timer for the next one. Stops if the connection starts closing. */
void rq_release_due(struct stage *st, struct release_q *q);
/* Forgets every mark (the fault ended: what is held is released by the chain, in order). */
void rq_clear(struct release_q *q);
void rq_free(struct release_q *q);

#endif
