/* hold.h -- what hang and timeout share: the end of a hold (on_end).
 *
 * Internal to faults/: hang.c and timeout.c stay one file per type with their own keys and
 * per-stage logic, and include this header for the one decision they share. When the fault
 * stops acting on a stage that holds a call: `release` lets the held bytes flow (the engine
 * delivers them, in order), `reset` aborts both sides with a RST, `keep` leaves the call hung
 * for good -- its held bytes are discarded, and *dead makes the stage discard whatever arrives
 * later, like a dependency that really stopped answering.
 */
#ifndef FL_HOLD_H
#define FL_HOLD_H

#include "faults/fault.h"

/* The stage's on_end for a hold: returns 1 to keep acting (keep), 0 to end (release, reset). */
static inline int hold_on_end(struct stage *st, enum hang_end on_end, int *dead)
{
    switch (on_end) {
    case HANG_RELEASE:
        return 0;
    case HANG_RESET:
        stage_close(st, CLOSE_RST);
        return 0;
    case HANG_KEEP:
    default:
        *dead = 1;
        if (st->held) stage_discard(st, st->held, (size_t)-1);
        return 1;
    }
}

#endif
