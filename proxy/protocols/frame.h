/* frame.h -- what the two protocol engines (proxy/protocols/postgres.c, proxy/protocols/redis.c) share: passing
 * framed bytes on, injecting faultline's own answers, marking a fault as applied, bounding the
 * input buffers, looking at the front of an input buffer without copying it, and the session
 * glue around the protocol: the common head of a session (struct frame_sess) and of a per-proxy
 * totals row (struct frame_totals), the totals table by proxy name, the gate that latency and
 * hang faults close on the client's input, the held client EOF, and the FIFO ring's growth.
 *
 * Both engines frame a stream in place: they walk their input buffer from the front, decide at
 * message boundaries, and pass whole runs of framed bytes on at once (frame_fwd). Nothing here
 * knows a protocol: an engine hands its framing loop in through struct frame_ops.
 * Ownership: the byte helpers keep nothing (every buffer belongs to the caller); a session is
 * owned by its engine (allocated by frame_sess_new, freed by frame_sess_release), and owns its
 * scratch buffer and gate timer; totals rows live in the engine's table for the process.
 */
#ifndef FL_FRAME_H
#define FL_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <event2/buffer.h>
#include "proxy/proxy.h"

/* Passes the first n bytes of `in` towards dir's destination (0 = to the server, 1 = to the
 * client) through the direction's fault chain: written to the socket straight away when no tcp
 * fault acts and nothing is queued (as tcp mode's fast path), else queued. `tmp` is the
 * engine's scratch buffer (empty between calls). With c NULL (detached engine, fuzzing) or
 * closing, the bytes are dropped. */
void frame_fwd(struct conn *c, int dir, struct evbuffer *in, size_t n, struct evbuffer *tmp);

/* faultline's own bytes towards the client, after everything already passed. Detached (c
 * NULL): appended to sink (may be NULL). */
void frame_inject(struct conn *c, struct evbuffer *sink, struct evbuffer *tmp, const void *data, size_t len);


/* Input bound: a protocol connection's incomplete or held messages wait in its input buffers,
 * counted by proxy/conn_relay.c as pending against the proxy's buffer (reading pauses at the bound,
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

/* ---- the session both engines build on ----
 *
 * Each engine's session struct (struct pg_sess, struct resp_sess) has a struct frame_sess as
 * its FIRST member, so c->proto, the open-session lists and the gate timer's argument all point
 * at both at once (a cast between the two is valid). Likewise each engine's per-proxy totals row
 * has a struct frame_totals as its first member. What lives here is only what the two engines
 * did the same way: the connection and its proxy, the scratch buffer, the gate (latency, hang),
 * the held EOF, the faults that acted, the open-session list. The protocol, its FIFO entries and
 * its facts stay in the engine. */

struct frame_sess;

/* What the frame_ functions need of an engine: one static instance per engine. */
struct frame_ops {
    const struct protocol *protocol;   /* proxies of this protocol have our sessions as c->proto */
    const char *garbage_event;     /* the log event of frame_garbage() */
    /* frames what waits in `in` (dir 0 = the client's input, 1 = the server's) */
    void (*run)(struct frame_sess *fs, int dir, struct evbuffer *in);
    /* marks the session dead in the engine's own state (no more framing) */
    void (*set_dead)(struct frame_sess *fs);
};

/* The head of an engine's per-proxy totals row: the counters frame_ functions keep. */
struct frame_totals {
    char name[128];
    uint64_t conns, delayed, hung, garbage_client, garbage_server;
    /* the open sessions of every proxy object with this name: the live one and any retired by a
     * reload whose connections still run */
    struct frame_sess *open;
};

/* A table of totals rows by proxy name (rows of row_size bytes, each starting with a struct
 * frame_totals). Fixed in size (max rows, allocated at the first lookup) so that the pointers
 * handed to sessions never move; past max, the last row is shared. Lives for the process. */
struct frame_table { size_t row_size; int max; int n; void *rows; };
/* The row of proxy `name`, created (zeroed) when new. Never NULL. */
struct frame_totals *frame_totals_for(struct frame_table *t, const char *name);
/* The row of proxy `name`, or NULL when none was ever created. */
const struct frame_totals *frame_totals_find(const struct frame_table *t, const char *name);

struct frame_sess {
    const struct frame_ops *ops;
    struct conn *c;                /* NULL when detached (fuzzing) */
    struct fl_proxy *px;           /* borrowed; NULL when detached without faults */
    struct frame_totals *tot;      /* NULL when detached */
    struct evbuffer *sink;         /* detached: injected bytes (borrowed, may be NULL) */
    struct evbuffer *tmp;          /* owned scratch buffer, empty between calls */
    /* gate on the client's input (latency, hang) */
    int64_t gate_until;            /* 0 = open, INT64_MAX = held until the fault ends */
    struct event *gate_ev;         /* owned */
    struct fault *hang_f;          /* the fault holding the gate (borrowed) */
    int eof_pending;               /* client EOF to pass on once its bytes went through */
    int client_ended;              /* the client ended the session in the protocol (postgres
                                    * Terminate, redis QUIT): see frame_eof */
    int out_wait;                  /* framing stopped: answers fill the client's buffer (frame_on_drain) */
    /* responses the server sent whole (a postgres ReadyForQuery, a redis reply), counted by the
     * engine; close_after's `requests` is judged against it once a read of the server's is passed
     * on (frame_read_done), so the close falls between responses */
    uint64_t responses, responses_judged;
    /* faults that acted on this session (conns_affected once each) */
    const struct fault *applied[8];
    int napplied;
    struct frame_sess *onext, *oprev;   /* in tot->open while the connection lives */
};

/* A zeroed session of `size` bytes (a struct whose first member is a struct frame_sess) with
 * its scratch buffer. Aborts when out of memory. Freed by frame_sess_release(). */
void *frame_sess_new(size_t size, const struct frame_ops *ops);
/* Binds the session to connection c (c->proto = fs) and to its proxy's totals row t: counts
 * the connection and links the session into t->open. */
void frame_sess_open(struct frame_sess *fs, struct conn *c, struct frame_totals *t);
/* The connection is being freed: c->proto = NULL, and the session leaves its totals' open list. */
void frame_sess_close(struct frame_sess *fs);
/* Frees what frame_sess_new() and the gate allocated, then the session itself (the engine frees
 * its own parts first). */
void frame_sess_release(struct frame_sess *fs);

/* After the engine framed a read from p->src: a client EOF held until its bytes went through
 * is passed on once the input is empty; after a server's read that completed responses, a
 * close_after fault whose `requests` are reached closes the connection. */
void frame_read_done(struct frame_sess *fs, struct pipe *p, struct evbuffer *in);
/* p->src reached EOF. 1 if the engine passes it on later (client bytes still wait), 0 to let
 * the caller pass it on now (dead: engine no longer frames). After client_ended, the server's
 * EOF names the client as the closer. */
int frame_eof(struct frame_sess *fs, struct pipe *p, int dead);
/* The FIFO had been full and an answer just left it: frames the client's waiting input again
 * and lets its side read on. */
void frame_rerun_client(struct frame_sess *fs);

/* Memory per connection: an engine frames no new request from the client while what waits
 * for the client (its answers, faultline's injected ones among them) fills the proxy's buffer:
 * a client that sends and never reads would otherwise make faultline's own answers pile up
 * without bound. frame_client_backlog says so (1) at a request boundary and marks the session;
 * frame_on_drain (struct protocol on_drain) frames the client's input again once the client
 * took its answers. frame_idle_state is struct protocol idle_state: a closed gate (latency,
 * hang) holds the call; otherwise the client spoke last means it waits for the server. */
int frame_client_backlog(struct frame_sess *fs);
void frame_on_drain(struct conn *c, struct pipe *p);
int frame_idle_state(const struct conn *c);

/* Marks the session dead (ops->set_dead) and closes its connection (when attached). */
void frame_close(struct frame_sess *fs, enum closer who, enum close_how how);
/* Protocol garbage from dir's side: counted, logged (ops->garbage_event), the pair closed.
 * Returns -1. */
int frame_garbage(struct frame_sess *fs, int dir, const char *why);

/* Fault f passed its matchers: counts it as seen, rolls its probability; on yes counts the
 * request and the session (frame_applied) and returns 1. */
int frame_roll(struct frame_sess *fs, struct fault *f);
/* Fault f acted on this session: counts the connection once per fault (applied[] holds up to
 * 8), names the connection's first fault and tells the recorder. */
void frame_applied(struct frame_sess *fs, struct fault *f);

/* Closes the gate for delay_us (+/- a uniform jitter of jitter_us) and counts a delay; a
 * timer reopens it and frames the client's input again. Detached: the gate is set and no timer
 * runs (it opens at the next frame_feed_clock()). */
void frame_delay(struct frame_sess *fs, int64_t delay_us, int64_t jitter_us);
/* Closes the gate until fault f ends (frame_fault_ended) and counts a hang; the connection's
 * hang times start (again, after a released hold). */
void frame_hold(struct frame_sess *fs, struct fault *f);
/* Fault f (a hang of the engine's protocol, with on_end) ended: every session it holds follows
 * on_end (release: the gate opens and the client's input is framed again; reset: RST). */
void frame_fault_ended(struct fault *f, const struct frame_ops *ops, enum hang_end on_end);
/* Detached: no time passes, so a latency gate opens at the next feed and a hang ends (as with
 * on_end = release) at the next feed from the server (dir 1). */
void frame_feed_clock(struct frame_sess *fs, int dir);

/* A FIFO ring of esz-byte entries is full (n == *cap): returns a new array twice the size (or
 * `first` entries) holding the n entries in order from index 0 (the caller sets its head to 0)
 * and frees q. Aborts when out of memory. */
void *frame_ring_grow(void *q, size_t esz, size_t head, size_t n, size_t *cap, size_t first);

#endif
