/* frame.c -- the helpers both protocol engines use (frame.h): forwarding framed bytes into a
 * direction's fault chain, injecting local answers, counting applied faults, bounding input.
 *
 * Why apart: proxy/pg.c and proxy/redis_mode.c frame different protocols but hand bytes on the
 * same way, and that way is the hot path of both (one call per read, not per message), so it
 * lives once, here, beside tcp mode's own fast path in proxy/conn.c which it mirrors.
 */
#include "frame.h"
#include "proxy.h"
#include "chain.h"
#include "record.h"

#include <stdio.h>
#include <sys/socket.h>

void frame_fwd(struct conn *c, int dir, struct evbuffer *in, size_t n, struct evbuffer *tmp)
{
    if (!n) return;
    if (!c || c->closing) { evbuffer_drain(in, n); return; }
    struct pipe *p = &c->p[dir];
    if (p->nlive == 0) {
        /* like tcp mode's fast path: nothing queued for dst, so write straight away and queue
         * only what the socket did not take (saves an event round trip per message) */
        if (p->dst && !p->shut && evbuffer_get_length(bufferevent_get_output(p->dst)) == 0 &&
            (dir == 1 || c->up_connected)) {
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
    if (n == evbuffer_get_length(in)) { chain_input(p, in); return; }
    evbuffer_remove_buffer(in, tmp, n);
    chain_input(p, tmp);
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

void frame_applied(struct conn *c, struct fault *f, const struct fault **applied, int *napplied)
{
    for (int i = 0; i < *napplied; i++)
        if (applied[i] == f) return;
    if (*napplied < 8) applied[(*napplied)++] = f;
    f->c.conns_affected++;
    if (c) {
        if (!c->fault_name[0]) {
            snprintf(c->fault_name, sizeof(c->fault_name), "%s", f->name);
            c->applied = f;
        }
        rec_fault_applied(f, c);
    }
}
