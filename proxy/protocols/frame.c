/* frame.c -- the helpers both protocol engines use (frame.h): forwarding framed bytes into a
 * direction's fault chain, injecting local answers, counting applied faults, bounding input,
 * and the session glue that is the same for both: the session's head and its place in its
 * proxy's totals, the gate (latency, hang) and its timer, a fault's end, the held EOF, garbage.
 *
 * Why apart: proxy/protocols/postgres.c and proxy/protocols/redis.c frame different protocols but hand bytes on the
 * same way, and that way is the hot path of both (one call per read, not per message), so it
 * lives once, here, beside the tcp relay's own fast path in proxy/conn_relay.c which it mirrors. The glue
 * was written twice, line for line, before it moved here; what differs between the engines
 * (their FIFO entries and local answers, their facts and totals) stays in them.
 */
#include "proxy/protocols/frame.h"
#include "proxy/proxy.h"
#include "common/log.h"
#include "faults/scope.h"
#include "faults/http_fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void frame_fwd(struct conn *c, int dir, struct evbuffer *in, size_t n, struct evbuffer *tmp)
{
    if (!n) return;
    if (!c || c->closing) { evbuffer_drain(in, n); return; }
    struct pipe *p = &c->p[dir];
    if (p->ch.nlive == 0) {
        /* like tcp mode's fast path: nothing queued for dst, so write straight away and queue
         * only what the socket did not take (saves an event round trip per message); not with
         * TLS (c->tls), whose bytes pipe_deliver encrypts */
        if (p->dst && !p->shut && evbuffer_get_length(bufferevent_get_output(p->dst)) == 0 &&
            (dir == 1 || c->up_connected) && !c->tls) {
            /* what is to go lies in the input's first chain almost always (one read): send()
             * it from there, as tcp mode does, rather than build an iovec for writev */
            evutil_socket_t fd = bufferevent_getfd(p->dst);
            struct evbuffer_iovec io;
            ssize_t w;
            if (evbuffer_peek(in, -1, NULL, &io, 1) >= 1 && io.iov_len >= n) {
                w = send(fd, io.iov_base, n, MSG_NOSIGNAL);
                if (w > 0) evbuffer_drain(in, (size_t)w);
            } else {
                w = evbuffer_write_atmost(in, fd, (ev_ssize_t)n);
            }
            if (w > 0) {
                n -= (size_t)w;
                p->bytes += (uint64_t)w;
                if (dir == 0) c->px->st.bytes_up += (uint64_t)w;
                else c->px->st.bytes_down += (uint64_t)w;
            }
        }
        pipe_deliver(p, in, n);
        return;
    }
    if (n == evbuffer_get_length(in)) { chain_input(&p->ch, in); return; }
    evbuffer_remove_buffer(in, tmp, n);
    chain_input(&p->ch, tmp);
    size_t left = evbuffer_get_length(tmp);
    if (left) evbuffer_drain(tmp, left);
}

void frame_inject(struct conn *c, struct evbuffer *sink, struct evbuffer *tmp, const void *data, size_t len)
{
    if (!c) {
        if (sink) evbuffer_add(sink, data, len);
        return;
    }
    if (c->closing) return;
    evbuffer_add(tmp, data, len);
    frame_fwd(c, 1, tmp, len, tmp);
}

void frame_applied(struct frame_sess *fs, struct fault *f)
{
    for (int i = 0; i < fs->napplied; i++)
        if (fs->applied[i] == f) return;
    if (fs->napplied < 8) fs->applied[fs->napplied++] = f;
    f->c.conns_affected++;
    if (fs->c) conn_fault_applied(fs->c, f);
}

int frame_roll(struct frame_sess *fs, struct fault *f)
{
    if (!scope_admits(f, fs->c ? (const struct sockaddr *)&fs->c->peer_sa : NULL)) return 0;
    f->c.conns_seen++;
    if (!(f->probability >= 1.0 || (f->probability > 0 && fl_rand01() < f->probability))) return 0;
    f->c.requests_affected++;
    frame_applied(fs, f);
    return 1;
}

/* ---- totals by proxy name ---- */

static struct frame_totals *frame_row(const struct frame_table *t, int i)
{
    return (struct frame_totals *)((char *)t->rows + (size_t)i * t->row_size);
}

struct frame_totals *frame_totals_for(struct frame_table *t, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(frame_row(t, i)->name, name)) return frame_row(t, i);
    if (!t->rows) {
        t->rows = calloc((size_t)t->max, t->row_size);
        if (!t->rows) abort();
    }
    if (t->n >= t->max) return frame_row(t, t->max - 1);   /* shared overflow row */
    struct frame_totals *r = frame_row(t, t->n++);
    snprintf(r->name, sizeof(r->name), "%s", name);
    return r;
}

const struct frame_totals *frame_totals_find(const struct frame_table *t, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(frame_row(t, i)->name, name)) return frame_row(t, i);
    return NULL;
}

/* ---- the session ---- */

void *frame_sess_new(size_t size, const struct frame_ops *ops)
{
    struct frame_sess *fs = calloc(1, size);
    if (!fs) abort();
    fs->ops = ops;
    fs->tmp = evbuffer_new();
    if (!fs->tmp) abort();
    return fs;
}

void frame_sess_open(struct frame_sess *fs, struct conn *c, struct frame_totals *t)
{
    fs->c = c;
    fs->px = c->px;
    fs->tot = t;
    t->conns++;
    fs->onext = t->open;
    if (fs->onext) fs->onext->oprev = fs;
    t->open = fs;
    c->proto = fs;
}

void frame_sess_close(struct frame_sess *fs)
{
    if (fs->c) fs->c->proto = NULL;
    if (fs->tot) {
        if (fs->oprev) fs->oprev->onext = fs->onext;
        else fs->tot->open = fs->onext;
        if (fs->onext) fs->onext->oprev = fs->oprev;
    }
}

void frame_sess_release(struct frame_sess *fs)
{
    if (fs->gate_ev) event_free(fs->gate_ev);
    evbuffer_free(fs->tmp);
    free(fs);
}

/* close_after on a framed protocol (faults/close_after.c): `requests` counts the server's whole
 * responses, and the close comes after the read that carried the one that reached it (answers
 * pipelined in that same read pass too). `bytes` and `age` stay the fault's tcp stage's: they are
 * not asked here. Rolled once per read it would close on. */
static void frame_close_after(struct frame_sess *fs)
{
    struct conn *c = fs->c;
    for (int i = 0; i < c->px->nfaults && !c->closing; i++) {
        struct fault *f = c->px->faults[i];
        if (!f->type->http || !f->type->http->after_response || !fault_is_active(f)) continue;
        if (!scope_admits(f, (const struct sockaddr *)&c->peer_sa)) continue;
        int how = f->type->http->after_response(f, fs->responses, 0, 0);
        if (!how || (f->probability < 1.0 && !(fl_rand01() < f->probability))) continue;
        if (how == CLOSE_RST) f->c.resets++;
        else f->c.closes++;
        frame_applied(fs, f);
        conn_close(c, CLOSER_FAULT, (enum close_how)how);
    }
}

void frame_read_done(struct frame_sess *fs, struct pipe *p, struct evbuffer *in)
{
    if (p->dir == 1 && fs->responses != fs->responses_judged && fs->c && !fs->c->closing) {
        fs->responses_judged = fs->responses;
        if (fs->px && fs->px->nfaults) frame_close_after(fs);
        if (fs->c->closing) return;
    }
    if (p->dir == 0 && fs->eof_pending && !fs->c->closing && evbuffer_get_length(in) == 0) {
        fs->eof_pending = 0;
        pipe_eof_in(p);
    }
}

int frame_eof(struct frame_sess *fs, struct pipe *p, int dead)
{
    /* a client that ended the session in the protocol closed it: the server closes as soon as
     * it reads the Terminate or QUIT, and its FIN is often read before the client's own, so who
     * closed follows the protocol, not the order of the two FINs */
    struct conn *c = p->c;
    if (fs->client_ended && p->dir == 1 && c->closed_by == CLOSER_UPSTREAM && !c->p[0].src_eof)
        c->closed_by = CLOSER_CLIENT;
    if (p->dir != 0 || dead) return 0;
    if (evbuffer_get_length(bufferevent_get_input(p->src)) == 0) return 0;
    fs->eof_pending = 1;
    return 1;
}

void frame_rerun_client(struct frame_sess *fs)
{
    struct conn *c = fs->c;
    if (!c || !c->cli || c->closing) return;
    fs->ops->run(fs, 0, bufferevent_get_input(c->cli));
    if (!c->closing) pipe_after_io(&c->p[0]);   /* the client's input shrank: read on */
}

int frame_client_backlog(struct frame_sess *fs)
{
    struct conn *c = fs->c;
    if (!c || !c->cli || evbuffer_get_length(bufferevent_get_output(c->cli)) < c->px->srv->g.buffer) return 0;
    fs->out_wait = 1;
    return 1;
}

void frame_on_drain(struct conn *c, struct pipe *p)
{
    struct frame_sess *fs = c->proto;
    if (!fs || p->dir != 1 || !fs->out_wait) return;
    fs->out_wait = 0;
    frame_rerun_client(fs);
}

int frame_idle_state(const struct conn *c)
{
    const struct frame_sess *fs = c->proto;
    if (fs && fs->gate_until) return CONN_HELD;
    return c->t_last_up > c->t_last_down ? CONN_WAITING : CONN_QUIET;
}

void frame_close(struct frame_sess *fs, enum closer who, enum close_how how)
{
    fs->ops->set_dead(fs);
    if (fs->c) conn_close(fs->c, who, how);
}

int frame_garbage(struct frame_sess *fs, int dir, const char *why)
{
    if (fs->tot) {
        if (dir == 0) fs->tot->garbage_client++;
        else fs->tot->garbage_server++;
    }
    if (fs->c)
        log_info(fs->ops->garbage_event, "id=%llu proxy=%s from=%s reason=%s action=close",
                 (unsigned long long)fs->c->id, log_q(fs->px->spec.name), dir == 0 ? "client" : "server", log_q(why));
    frame_close(fs, CLOSER_PROXY, CLOSE_FIN);
    return -1;
}

/* ---- the gate ---- */

static void frame_gate_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct frame_sess *fs = arg;
    struct conn *c = fs->c;
    if (fs->gate_until == INT64_MAX) return;
    fs->gate_until = 0;
    if (!c || c->closing || !c->cli) return;
    c->busy++;
    struct evbuffer *in = bufferevent_get_input(c->cli);
    fs->ops->run(fs, 0, in);
    frame_read_done(fs, &c->p[0], in);
    if (!c->closing) pipe_after_io(&c->p[0]);
    if (--c->busy == 0 && c->dead) conn_free(c);
}

void frame_delay(struct frame_sess *fs, int64_t delay_us, int64_t jitter_us)
{
    if (fs->tot) fs->tot->delayed++;
    delay_us += fl_jitter_us(jitter_us);
    if (delay_us < 0) delay_us = 0;
    fs->gate_until = fl_now_us() + delay_us;
    if (!fs->c) return;                         /* detached: opens at the next feed */
    if (!fs->gate_ev) fs->gate_ev = evtimer_new(fs->c->px->srv->base, frame_gate_cb, fs);
    struct timeval tv = {(time_t)(delay_us / 1000000), (suseconds_t)(delay_us % 1000000)};
    evtimer_add(fs->gate_ev, &tv);
}

void frame_hold(struct frame_sess *fs, struct fault *f)
{
    struct conn *c = fs->c;
    if (fs->tot) fs->tot->hung++;
    fs->gate_until = INT64_MAX;
    fs->hang_f = f;
    if (c) conn_hold_started(c, f);   /* (again, after a released one) */
}

void frame_fault_ended(struct fault *f, const struct frame_ops *ops, enum hang_end on_end)
{
    struct fl_proxy *px = f->px;
    if (!px || px->spec.protocol != ops->protocol) return;
    for (struct conn *c = px->conns, *next; c; c = next) {
        next = c->next;
        struct frame_sess *fs = c->proto;
        if (!fs || fs->hang_f != f || c->closing) continue;
        fs->hang_f = NULL;
        c->busy++;
        if (on_end == HANG_RELEASE) {
            fs->gate_until = 0;
            /* when the hold began stays recorded (hang_ms); hang_end_ms says when it ended */
            if (c->hang_fault == f && c->t_hang && !c->t_hang_end && !c->t_gave_up) c->t_hang_end = fl_now_us();
            if (c->hang_fault == f) c->hang_fault = NULL;
            frame_rerun_client(fs);
        } else if (on_end == HANG_RESET) {
            frame_close(fs, CLOSER_FAULT, CLOSE_RST);
        }
        /* keep: the request stays held; the dependency is dead */
        if (--c->busy == 0 && c->dead) conn_free(c);
    }
}

void frame_feed_clock(struct frame_sess *fs, int dir)
{
    if (fs->gate_until && (fs->gate_until != INT64_MAX || (dir & 1))) {
        fs->gate_until = 0;
        fs->hang_f = NULL;
    }
}

void *frame_ring_grow(void *q, size_t esz, size_t head, size_t n, size_t *cap, size_t first)
{
    size_t ncap = *cap ? *cap * 2 : first;
    char *nq = malloc(ncap * esz);
    if (!nq) abort();
    for (size_t i = 0; i < n; i++) memcpy(nq + i * esz, (char *)q + ((head + i) % *cap) * esz, esz);
    free(q);
    *cap = ncap;
    return nq;
}
