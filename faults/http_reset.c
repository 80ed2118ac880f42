/* http_reset.c -- the per-request behaviour of `reset` on an http proxy: when a matching
 * request head arrives, the client connection is reset (RST); the request is not forwarded.
 * The type itself (its TCP behaviour and keys) lives in faults/reset.c; it points `.http` here.
 */
#include "faults/fault.h"
#include "faults/http_fault.h"

static void http_reset_plan(const struct fault *f, struct http_fault_plan *out)
{
    (void)f;
    out->act = HACT_RESET;
}

const struct fault_http_ops http_reset_ops = {.plan = http_reset_plan};
