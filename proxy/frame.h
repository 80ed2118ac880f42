/* frame.h -- what the two protocol engines (proxy/pg.c, proxy/redis_mode.c) share: passing
 * framed bytes on, injecting faultline's own answers, marking a fault as applied, bounding the
 * input buffers, and looking at the front of an input buffer without copying it.
 *
 * Both engines frame a stream in place: they walk their input buffer from the front, decide at
 * message boundaries, and pass whole runs of framed bytes on at once (frame_fwd). Nothing here
 * knows a protocol. Ownership: nothing is kept; every buffer belongs to the caller.
 */
#ifndef FL_FRAME_H
#define FL_FRAME_H

#include <stddef.h>
#include <event2/buffer.h>

struct conn;
struct fault;

/* Passes the first n bytes of `in` towards dir's destination (0 = to the server, 1 = to the
 * client) through the direction's fault chain: written to the socket straight away when no tcp
 * fault acts and nothing is queued (as tcp mode's fast path), else queued. `tmp` is the
 * engine's scratch buffer (empty between calls). With c NULL (detached engine, fuzzing) or
 * closing, the bytes are dropped. */
void frame_fwd(struct conn *c, int dir, struct evbuffer *in, size_t n, struct evbuffer *tmp);

/* faultline's own bytes towards the client, after everything already passed. Detached (c
 * NULL): appended to sink (may be NULL). */
void frame_inject(struct conn *c, struct evbuffer *sink, struct evbuffer *tmp, const void *data, size_t len);

/* Fault f acted on this session: counts the connection once per fault (applied[] holds up to
 * 8), names the connection's first fault and tells the recorder. c may be NULL. */
void frame_applied(struct conn *c, struct fault *f, const struct fault **applied, int *napplied);

/* Input bound: a protocol connection's incomplete or held messages wait in its input buffers,
 * counted by proxy/conn.c as pending against the proxy's buffer (reading pauses at the bound,
 * as for the chain's held bytes; no libevent read watermark). An engine that drains the
 * client's input outside that side's own read (a gate opening, a full FIFO emptying) calls
 * pipe_after_io(&c->p[0]) so reading resumes. */

/* The contiguous bytes at the front of a buffer (its first chain), without copying: the
 * engines parse a header or a line in place when it lies there, and fall back to copying it
 * out only when it straddles two chains. Valid until the buffer's front changes (a drain or a
 * forward); len 0 when empty. */
struct frame_view { const char *p; size_t len; };
static inline void frame_view_get(struct evbuffer *in, struct frame_view *v)
{
    struct evbuffer_iovec io;
    if (evbuffer_peek(in, -1, NULL, &io, 1) >= 1) {
        v->p = io.iov_base;
        v->len = io.iov_len;
    } else {
        v->p = NULL;
        v->len = 0;
    }
}

#endif
