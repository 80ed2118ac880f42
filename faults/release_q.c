/* release_q.c -- see release_q.h. */
#include "faults/release_q.h"
#include "common/clock.h"

#include <stdlib.h>

void rq_push(struct release_q *q, int64_t at, size_t len)
{
    if (q->n && q->q[(q->head + q->n - 1) % q->cap].at == at) {   /* same release time: merge */
        q->q[(q->head + q->n - 1) % q->cap].len += len;
        return;
    }
    if (q->n == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 8;
        struct rq_mark *nq = malloc(ncap * sizeof(*nq));
        if (!nq) abort();
        for (size_t i = 0; i < q->n; i++) nq[i] = q->q[(q->head + i) % q->cap];
        free(q->q);
        q->q = nq;
        q->cap = ncap;
        q->head = 0;
    }
    q->q[(q->head + q->n) % q->cap] = (struct rq_mark){at, len};
    q->n++;
}

void rq_arm(struct stage *st, const struct release_q *q)
{
    if (!q->n) return;
    int64_t d = q->q[q->head].at - fl_now_us();
    stage_timer(st, d < 0 ? 0 : d);
}

void rq_release_due(struct stage *st, struct release_q *q)
{
    int64_t now = fl_now_us();
    while (q->n && q->q[q->head].at <= now + 50) {
        size_t len = q->q[q->head].len;
        q->head = (q->head + 1) % q->cap;
        q->n--;
        stage_release(st, len);
        if (stage_closing(st)) return;
    }
    rq_arm(st, q);
}

void rq_clear(struct release_q *q)
{
    q->n = 0;
    q->head = 0;
}

void rq_free(struct release_q *q)
{
    free(q->q);
    q->q = NULL;
    q->n = q->cap = q->head = 0;
}
