/* host.h -- the narrow interface the proxy core hands the faults: what a fault may ask of the
 * connection it acts on, and of the proxy it is attached to.
 *
 * A fault never sees a connection, a socket or a proxy object. A stage works on one chain (one
 * direction of one connection, faults/chain.h) and asks the host for everything beyond its own
 * bytes through the table below: pass bytes out of the chain's end, pass the EOF on, close the
 * connection, keep it alive across a timer, and tell it that a fault acted or that a call is
 * held (the record and the verifier measure those). A connection-level fault (refuse) asks the
 * host to close and reopen its proxy's listener and to count what it refused.
 *
 * The host is the proxy core: proxy/host.c implements the table and installs it with
 * fault_host_set() when a server is created, before any fault is attached. faults/ includes
 * nothing of the core; the core calls faults/chain.h and faults/fault.h, the faults call back
 * only through here. Every function pointer is set (no NULL checks in faults/).
 */
#ifndef FL_HOST_H
#define FL_HOST_H

#include <stddef.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include "faults/fault.h"
#include "faults/chain.h"
#include "common/parse.h"

struct fault_host {
    /* ---- one direction of a connection (the chain the stage is in) ---- */
    /* The chain's output: n bytes of buf leave towards the destination (or are dropped when
     * the connection is closing). */
    void (*deliver)(struct chain *ch, struct evbuffer *buf, size_t n);
    /* The EOF came out of the chain: the destination's write side is shut once its queue drains. */
    void (*eof_out)(struct chain *ch);
    /* Bytes moved outside a read (a stage's timer): backpressure, EOF and done-ness are re-checked. */
    void (*after_io)(struct chain *ch);
    /* Whether the connection is closing (a stage stops working on it). */
    int (*closing)(const struct chain *ch);
    /* A fault closes the whole connection: FIN flushes what was delivered, RST drops it. */
    void (*close)(struct chain *ch, enum close_how how);
    /* Keeps the connection alive across a callback (hold) and lets it go (release: it may be
     * freed then, if it closed meanwhile). A timer's callback runs between the two. */
    void (*hold)(struct chain *ch);
    void (*release)(struct chain *ch);
    /* The chain of the other direction of the same connection. */
    const struct chain *(*other)(const struct chain *ch);
    /* The kernel's receive times of this direction's bytes are wanted from now on: the host
     * stamps its reads and sets ch->rx_us while handing them in. */
    void (*want_arrival)(struct chain *ch);

    /* ---- notifications (the record and the verifier measure them) ---- */
    /* Fault f acted on this connection for the first time (counted once per connection). */
    void (*applied)(struct chain *ch, const struct fault *f);
    /* f began holding the connection's call (the client's give-up is measured from here). */
    void (*hold_started)(struct chain *ch, const struct fault *f);
    /* f stopped holding it: the call flows again (no effect unless f is the one holding). */
    void (*hold_ended)(struct chain *ch, const struct fault *f);

    /* ---- the proxy a fault is attached to (f->px; connection-level faults) ---- */
    const struct fl_addr *(*listen_addr)(const struct fault *f);
    /* The faults attached to f's proxy, in order (n set; NULL when f is attached to none). */
    struct fault *const *(*siblings)(const struct fault *f, int *n);
    /* While on (counted: two faults on make two offs needed) the proxy's listener is closed. */
    void (*refusing)(struct fault *f, int on);
    /* One connection attempt was refused (the proxy's `refused` counter). */
    void (*count_refused)(const struct fault *f);
};

/* Installs the host and the event loop every fault timer runs on (the core does, once per server
 * it creates, before attaching any fault). h is borrowed for the life of the process. */
void fault_host_set(const struct fault_host *h, struct event_base *base);
/* The host installed, and its event loop (NULL before fault_host_set). */
extern const struct fault_host *fault_host;
extern struct event_base *fault_base;

#endif
