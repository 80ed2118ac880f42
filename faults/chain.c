/* chain.c -- the stage machinery: bytes through an ordered chain of faults, in order.
 *
 * Each direction of a connection owns a chain (faults/chain.h): an array of stages, one per
 * fault of its proxy that covers the direction. Bytes enter at stage 0 and leave the last stage
 * through the host (faults/host.h: deliver, towards the destination socket). A stage that is
 * not acting (not selected by probability, fault outside its window, or ended) passes bytes
 * straight on; when no stage of a chain acts, the host skips the chain entirely (the fast path).
 * Everything a stage does to its connection -- close it, count it as affected, mark a held call
 * -- is a call of the host's table: this file knows no connection, socket or proxy.
 *
 * Order: a stage emits synchronously into the next one, so bytes it emits are processed before
 * the stage that fed it can emit anything newer. When a fault ends or is removed, each stage
 * releases what it holds into the next stage of the chain as it stands, which keeps order too.
 */
#include "faults/fault.h"
#include "faults/chain.h"
#include "faults/scope.h"
#include "faults/host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct fault_host *fault_host;
struct event_base *fault_base;

void fault_host_set(const struct fault_host *h, struct event_base *base)
{
    fault_host = h;
    fault_base = base;
}

int stage_closing(const struct stage *st) { return fault_host->closing(st->ch); }

int fault_is_active(const struct fault *f) { return f && f->phase == FAULT_ACTIVE; }

static void stage_in(struct stage *st, struct evbuffer *in);

void stage_emit(struct stage *st, struct evbuffer *buf, size_t n)
{
    size_t len = evbuffer_get_length(buf);
    if (n > len) n = len;
    if (n == 0) return;
    struct chain *ch = st->ch;
    if (st->idx + 1 >= ch->nstages) {
        fault_host->deliver(ch, buf, n);
        return;
    }
    struct stage *next = ch->stages[st->idx + 1];
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
    struct chain *ch = st->ch;
    fault_host->hold(ch);
    if (!fault_host->closing(ch) && st->acting && st->f && st->f->type->on_timer) st->f->type->on_timer(st);
    fault_host->after_io(ch);
    fault_host->release(ch);
}

void stage_timer(struct stage *st, int64_t delay_us)
{
    if (delay_us < 0) {
        if (st->timer) evtimer_del(st->timer);
        return;
    }
    if (!st->timer) {
        st->timer = evtimer_new(fault_base, stage_timer_cb, st);
        /* a release that is due goes before the loop turn's I/O: its lateness is the fault's error */
        event_priority_set(st->timer, 0);
    }
    struct timeval tv = {(time_t)(delay_us / 1000000), (suseconds_t)(delay_us % 1000000)};
    evtimer_add(st->timer, &tv);
}

void stage_want_arrival(struct stage *st)
{
    fault_host->want_arrival(st->ch);
}

int64_t stage_arrival_us(const struct stage *st)
{
    int64_t now = fl_now_us(), rx = st->ch->rx_us;
    return rx > 0 && rx < now ? rx : now;
}

void stage_eof(struct stage *st)
{
    if (st->eof_out) return;
    st->eof_out = 1;
    struct chain *ch = st->ch;
    if (st->idx + 1 >= ch->nstages) fault_host->eof_out(ch);
    else {
        struct stage *next = ch->stages[st->idx + 1];
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
    fault_host->close(st->ch, how);
}

void stage_applied(struct stage *st)
{
    if (st->applied || !st->f) return;
    st->applied = 1;
    /* a fault on both directions counts its connection once */
    const struct chain *other = fault_host->other(st->ch);
    for (int i = 0; i < other->nstages; i++)
        if (other->stages[i]->f == st->f && other->stages[i]->applied) return;
    st->f->c.conns_affected++;
    fault_host->applied(st->ch, st->f);
}

struct stage *stage_twin(const struct stage *st)
{
    if (!st->f) return NULL;
    const struct chain *other = fault_host->other(st->ch);
    for (int i = 0; i < other->nstages; i++)
        if (other->stages[i]->f == st->f) return other->stages[i];
    return NULL;
}

void stage_mark_hanging(struct stage *st)
{
    fault_host->hold_started(st->ch, st->f);
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

void chain_input(struct chain *ch, struct evbuffer *in)
{
    if (ch->nstages == 0) fault_host->deliver(ch, in, (size_t)-1);
    else stage_in(ch->stages[0], in);
}

void chain_eof(struct chain *ch)
{
    if (ch->nstages == 0) {
        fault_host->eof_out(ch);
        return;
    }
    struct stage *st = ch->stages[0];
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
    if (st->acting || !st->selected || !st->f || !fault_is_active(st->f) || fault_host->closing(st->ch)) return;
    st->acting = 1;
    st->ch->nlive++;
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
    st->ch->nlive--;
    stage_timer(st, -1);
    /* the call this stage held flows again: a later client close is no longer a give-up. When
     * the hold began stays recorded (hang_ms): the verifier measures how long it lasted. */
    fault_host->hold_ended(st->ch, st->f);
    stage_release(st, (size_t)-1);
    if (st->eof_in && !st->eof_out) stage_eof(st);
}

struct stage *stage_new(struct chain *ch, int dir, struct fault *f, int selected)
{
    struct stage *st = calloc(1, sizeof(*st));
    if (!st) abort();
    st->f = f;
    st->cfg = f->cfg;
    st->ch = ch;
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
    if (st->scoped) scope_leave(st->f);
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
