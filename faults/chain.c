/* chain.c -- the stage machinery: bytes through an ordered chain of faults, in order.
 *
 * Each direction of a connection (struct pipe) owns an array of stages, one per fault of its
 * proxy that covers the direction. Bytes enter at stage 0 and leave the last stage into the
 * destination bufferevent (pipe_deliver). A stage that is not acting (not selected by
 * probability, fault outside its window, or ended) passes bytes straight on; when no stage of a
 * pipe acts, conn.c skips the chain entirely (the fast path: one evbuffer_add_buffer).
 *
 * Order: a stage emits synchronously into the next one, so bytes it emits are processed before
 * the stage that fed it can emit anything newer. When a fault ends or is removed, each stage
 * releases what it holds into the next stage of the chain as it stands, which keeps order too.
 */
#include "faults/fault.h"
#include "proxy/proxy.h"
#include "common/log.h"
#include "record/record.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline struct pipe *stage_pipe(struct stage *st) { return &st->conn->p[st->dir]; }

int stage_closing(const struct stage *st) { return st->conn->closing; }

int fault_is_active(const struct fault *f) { return f && f->phase == FAULT_ACTIVE; }

static void stage_in(struct stage *st, struct evbuffer *in);

void stage_emit(struct stage *st, struct evbuffer *buf, size_t n)
{
    size_t len = evbuffer_get_length(buf);
    if (n > len) n = len;
    if (n == 0) return;
    struct pipe *p = stage_pipe(st);
    if (st->idx + 1 >= p->nstages) {
        pipe_deliver(p, buf, n);
        return;
    }
    struct stage *next = p->stages[st->idx + 1];
    if (n == len) {
        stage_in(next, buf);
        return;
    }
    if (!st->scratch) st->scratch = evbuffer_new();
    evbuffer_remove_buffer(buf, st->scratch, n);
    stage_in(next, st->scratch);
    /* contract: on_data consumed everything; drop leftovers defensively */
    size_t left = evbuffer_get_length(st->scratch);
    if (left) evbuffer_drain(st->scratch, left);
}

void stage_hold(struct stage *st, struct evbuffer *in)
{
    if (!st->held) st->held = evbuffer_new();
    size_t n = evbuffer_get_length(in);
    if (st->f) st->f->c.bytes_held += n;
    evbuffer_add_buffer(st->held, in);
}

size_t stage_held(const struct stage *st) { return st->held ? evbuffer_get_length(st->held) : 0; }

static void stage_maybe_eof(struct stage *st)
{
    if (st->eof_in && !st->eof_out && !st->eof_custom && stage_held(st) == 0) stage_eof(st);
}

size_t stage_release(struct stage *st, size_t n)
{
    size_t h = stage_held(st);
    if (n > h) n = h;
    if (n) stage_emit(st, st->held, n);
    stage_maybe_eof(st);
    return n;
}

void stage_discard(struct stage *st, struct evbuffer *buf, size_t n)
{
    size_t len = evbuffer_get_length(buf);
    if (n > len) n = len;
    if (st->f) st->f->c.bytes_dropped += n;
    evbuffer_drain(buf, n);
}

static void stage_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct stage *st = arg;
    struct conn *c = st->conn;
    c->busy++;
    if (!c->closing && st->acting && st->f && st->f->type->on_timer) st->f->type->on_timer(st);
    pipe_after_io(stage_pipe(st));
    if (--c->busy == 0 && c->dead) conn_free(c);
}

void stage_timer(struct stage *st, int64_t delay_us)
{
    if (delay_us < 0) {
        if (st->timer) evtimer_del(st->timer);
        return;
    }
    if (!st->timer) {
        st->timer = evtimer_new(fl_srv->base, stage_timer_cb, st);
        /* a release that is due goes before the loop turn's I/O: its lateness is the fault's error */
        event_priority_set(st->timer, 0);
    }
    struct timeval tv = {(time_t)(delay_us / 1000000), (suseconds_t)(delay_us % 1000000)};
    evtimer_add(st->timer, &tv);
}

void stage_want_arrival(struct stage *st)
{
    struct pipe *p = stage_pipe(st);
    p->want_rxts = 1;
    /* now if the socket exists (else conn.c's first stamped read turns it on): the skbs of a
     * read are stamped only if the option was on when they arrived */
    pipe_stamp_arrivals(p, p->src ? bufferevent_getfd(p->src) : -1);
}

int64_t stage_arrival_us(const struct stage *st)
{
    int64_t now = fl_now_us(), rx = st->conn->p[st->dir].rx_us;
    return rx > 0 && rx < now ? rx : now;
}

void stage_eof(struct stage *st)
{
    if (st->eof_out) return;
    st->eof_out = 1;
    struct pipe *p = stage_pipe(st);
    if (st->idx + 1 >= p->nstages) pipe_eof_out(p);
    else {
        struct stage *next = p->stages[st->idx + 1];
        next->eof_in = 1;
        if (next->acting && next->f && next->f->type->on_eof && next->f->type->on_eof(next)) {
            next->eof_custom = 1;
            return;
        }
        if (next->orphan) return;   /* a hung dependency never says goodbye */
        stage_maybe_eof(next);
    }
}

void stage_close(struct stage *st, enum close_how how)
{
    if (st->f) {
        if (how == CLOSE_RST) st->f->c.resets++;
        else st->f->c.closes++;
    }
    conn_close(st->conn, CLOSER_FAULT, how);
}

void stage_applied(struct stage *st)
{
    if (st->applied || !st->f) return;
    st->applied = 1;
    struct conn *c = st->conn;
    /* a fault on both directions counts its connection once */
    struct pipe *other = &c->p[!st->dir];
    for (int i = 0; i < other->nstages; i++)
        if (other->stages[i]->f == st->f && other->stages[i]->applied) return;
    st->f->c.conns_affected++;
    if (!c->fault_name[0]) {
        snprintf(c->fault_name, sizeof(c->fault_name), "%s", st->f->name);
        c->applied = st->f;
    }
    rec_fault_applied(st->f, c);
}

void stage_mark_hanging(struct stage *st)
{
    struct conn *c = st->conn;
    if (!c->t_hang || c->t_hang_end) {   /* (a new hold after one that was released) */
        c->t_hang = fl_now_us();
        c->t_hang_end = 0;
        c->hang_fault = st->f;
        if (st->f) snprintf(c->fault_name, sizeof(c->fault_name), "%s", st->f->name);
    }
}

/* ---- engine side ---- */

static void stage_in(struct stage *st, struct evbuffer *in)
{
    st->bytes_in += evbuffer_get_length(in);
    if (st->orphan) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    if (st->acting && st->f->type->on_data) {
        st->f->type->on_data(st, in);
        return;
    }
    stage_emit(st, in, (size_t)-1);
}

void chain_input(struct pipe *p, struct evbuffer *in)
{
    if (p->nstages == 0) pipe_deliver(p, in, (size_t)-1);
    else stage_in(p->stages[0], in);
}

void chain_eof(struct pipe *p)
{
    if (p->nstages == 0) {
        pipe_eof_out(p);
        return;
    }
    struct stage *st = p->stages[0];
    st->eof_in = 1;
    if (st->orphan) return;
    if (st->acting && st->f->type->on_eof && st->f->type->on_eof(st)) {
        st->eof_custom = 1;
        return;
    }
    stage_maybe_eof(st);
}

void stage_start(struct stage *st)
{
    if (st->acting || !st->selected || !st->f || !fault_is_active(st->f) || st->conn->closing) return;
    st->acting = 1;
    stage_pipe(st)->nlive++;
    stage_applied(st);
    if (st->f->type->on_start) st->f->type->on_start(st);
}

void stage_end(struct stage *st)
{
    if (!st->acting || st->orphan) return;
    int keep = st->f->type->on_end ? st->f->type->on_end(st) : 0;
    if (keep) {
        if (st->f->removing) {
            /* the fault goes away but the hang it caused stays: a dead dependency */
            stage_timer(st, -1);
            if (st->held) evbuffer_drain(st->held, evbuffer_get_length(st->held));
            if (st->f->type->on_free) st->f->type->on_free(st);
            st->orphan = 1;
            st->f = NULL;
            st->cfg = NULL;
        }
        return;
    }
    st->acting = 0;
    stage_pipe(st)->nlive--;
    stage_timer(st, -1);
    /* the call this stage held flows again: a later client close is no longer a give-up. When
     * the hold began stays recorded (hang_ms): the verifier measures how long it lasted. */
    struct conn *c = st->conn;
    if (c->hang_fault == st->f && c->t_hang && !c->t_hang_end && !c->t_gave_up) {
        c->t_hang_end = fl_now_us();
        c->hang_fault = NULL;
    }
    stage_release(st, (size_t)-1);
    if (st->eof_in && !st->eof_out) stage_eof(st);
}

struct stage *stage_new(struct conn *c, int dir, struct fault *f, int selected)
{
    struct stage *st = calloc(1, sizeof(*st));
    if (!st) abort();
    st->f = f;
    st->cfg = f->cfg;
    st->conn = c;
    st->dir = dir;
    st->selected = selected;
    if (f->type->state_size) {
        st->state = calloc(1, f->type->state_size);
        if (!st->state) abort();
    }
    return st;
}

void stage_free(struct stage *st)
{
    if (!st) return;
    if (st->f && st->f->type->on_free) st->f->type->on_free(st);
    if (st->timer) event_free(st->timer);
    if (st->held) {
        if (st->f) st->f->c.bytes_dropped += evbuffer_get_length(st->held);
        evbuffer_free(st->held);
    }
    if (st->scratch) evbuffer_free(st->scratch);
    free(st->state);
    free(st);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

void fl_rand_seed(uint64_t seed) { rng_state = seed ? seed : 0x9E3779B97F4A7C15ULL; }

double fl_rand01(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t r = rng_state * 2685821657736338717ULL;
    return (double)(r >> 11) * (1.0 / 9007199254740992.0);
}

int64_t fl_jitter_us(int64_t jitter_us)
{
    return jitter_us ? (int64_t)((fl_rand01() * 2.0 - 1.0) * (double)jitter_us) : 0;
}

int64_t fl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t fl_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t fl_mono_to_wall_us(int64_t mono)
{
    return mono ? fl_wall_us() - (fl_now_us() - mono) : 0;
}
