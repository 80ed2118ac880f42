/* host.c -- the fault host: what faults/ may ask of a connection and of a proxy (faults/host.h).
 *
 * Each function is a thin door into the core: a chain is the `ch` member of a direction (struct
 * pipe), so the direction and its connection are found by address, with no pointer stored for
 * it. The doors do nothing the faults did not do before through the core's structs; they only
 * keep the faults from knowing those structs. Installed once per server (proxy_fault_host_install,
 * from server_new) before any fault is attached.
 */
#include "proxy/proxy.h"
#include "faults/host.h"

#include <stddef.h>

static inline struct pipe *pipe_of(struct chain *ch)
{
    return (struct pipe *)((char *)ch - offsetof(struct pipe, ch));
}

static inline const struct pipe *cpipe_of(const struct chain *ch)
{
    return (const struct pipe *)((const char *)ch - offsetof(struct pipe, ch));
}

static void h_deliver(struct chain *ch, struct evbuffer *buf, size_t n) { pipe_deliver(pipe_of(ch), buf, n); }
static void h_eof_out(struct chain *ch) { pipe_eof_out(pipe_of(ch)); }
static void h_after_io(struct chain *ch) { pipe_after_io(pipe_of(ch)); }
static int h_closing(const struct chain *ch) { return cpipe_of(ch)->c->closing; }
static void h_close(struct chain *ch, enum close_how how) { conn_close(pipe_of(ch)->c, CLOSER_FAULT, how); }
static void h_hold(struct chain *ch) { pipe_of(ch)->c->busy++; }

static void h_release(struct chain *ch)
{
    struct conn *c = pipe_of(ch)->c;
    if (--c->busy == 0 && c->dead) conn_free(c);
}

static const struct chain *h_other(const struct chain *ch)
{
    const struct pipe *p = cpipe_of(ch);
    return &p->c->p[!p->dir].ch;
}

static void h_want_arrival(struct chain *ch)
{
    struct pipe *p = pipe_of(ch);
    p->want_rxts = 1;
    /* now if the socket exists (else conn_relay.c's first stamped read turns it on): the skbs of a
     * read are stamped only if the option was on when they arrived */
    pipe_stamp_arrivals(p, p->src ? bufferevent_getfd(p->src) : -1);
}

static void h_applied(struct chain *ch, const struct fault *f) { conn_fault_applied(pipe_of(ch)->c, f); }
static void h_hold_started(struct chain *ch, const struct fault *f) { conn_hold_started(pipe_of(ch)->c, f); }
static void h_hold_ended(struct chain *ch, const struct fault *f) { conn_hold_ended(pipe_of(ch)->c, f); }

static const struct fl_addr *h_listen_addr(const struct fault *f) { return &f->px->spec.listen; }

static struct fault *const *h_siblings(const struct fault *f, int *n)
{
    *n = f->px ? f->px->nfaults : 0;
    return f->px ? f->px->faults : NULL;
}

static void h_refusing(struct fault *f, int on)
{
    struct fl_proxy *px = f->px;
    if (!px) return;
    if (on) px->refusing++;
    else if (px->refusing > 0) px->refusing--;
    else return;
    proxy_update_listener(px);
}

static void h_count_refused(const struct fault *f)
{
    if (f->px) f->px->st.refused++;
}

static const struct fault_host host = {
    .deliver = h_deliver,
    .eof_out = h_eof_out,
    .after_io = h_after_io,
    .closing = h_closing,
    .close = h_close,
    .hold = h_hold,
    .release = h_release,
    .other = h_other,
    .want_arrival = h_want_arrival,
    .applied = h_applied,
    .hold_started = h_hold_started,
    .hold_ended = h_hold_ended,
    .listen_addr = h_listen_addr,
    .siblings = h_siblings,
    .refusing = h_refusing,
    .count_refused = h_count_refused,
};

void proxy_fault_host_install(struct fl_server *s) { fault_host_set(&host, s->base); }
