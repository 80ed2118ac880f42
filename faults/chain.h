/* chain.h -- one direction's chain of stages, and what the host calls to run it.
 *
 * The host (the proxy core) keeps one struct chain per direction of a connection, inside its own
 * per-direction object, and hands it to the faults: bytes read from the source enter with
 * chain_input(), the source's EOF with chain_eof(); what leaves the last stage goes back to the
 * host through faults/host.h (deliver, eof_out). The host builds the chain itself (stage_new,
 * in its proxy's fault order) and starts and ends stages as their faults' windows open and
 * close (stage_start, stage_end). When no stage acts (nlive == 0) the host may skip the chain
 * entirely: that is the data path's fast path.
 *
 * Ownership: the chain owns its stages array and the stages (the host frees them with
 * stage_free when it re-syncs the chain or frees the connection); a stage borrows its fault.
 */
#ifndef FL_CHAIN_H
#define FL_CHAIN_H

#include <stdint.h>
#include "faults/fault.h"

struct chain {
    struct stage **stages;        /* owned, in the proxy's fault order */
    int nstages;
    int nlive;                    /* stages acting now (selected, in window): 0 = the fast path */
    /* when the bytes being handed in reached the host's socket (monotonic us; 0 = unknown), set
     * by the host only while a read is in chain_input (stage_arrival_us; stage_want_arrival) */
    int64_t rx_us;
};

void chain_input(struct chain *ch, struct evbuffer *in);   /* bytes from the source enter the chain */
void chain_eof(struct chain *ch);                          /* the source finished */
/* A stage of fault f for direction dir (0 = client -> upstream) of chain ch; selected: the
 * probability roll said yes (decided once per connection and fault). Aborts on out of memory. */
struct stage *stage_new(struct chain *ch, int dir, struct fault *f, int selected);
void stage_free(struct stage *st);
void stage_start(struct stage *st);   /* fault active + selected: begin acting */
void stage_end(struct stage *st);     /* fault ended or removed: on_end */

#endif
