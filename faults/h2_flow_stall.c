/* h2_flow_stall.c -- a matching HTTP/2 stream's flow-control window is never reopened: the
 * proxy keeps forwarding what it was sent but sends no WINDOW_UPDATE for the stream, so the
 * sender stops once its window is spent. The connection's window keeps moving: other streams
 * flow on.
 *
 * where = response (default): the upstream's window: the response body stops after the window
 * the proxy advertises (the proxy's `buffer`), as with a client that stopped reading.
 * where = request: the client's window: an upload stops after that window, as with a server
 * that stopped reading.
 *
 * Exposes: calls with no deadline on a large body (they wait forever, no error ever comes),
 * and senders that block a thread on a full window. The stall ends with the stream (a reset or
 * the client's cancel); the fault ending does not reopen it.
 *
 * Keys: where = request | response. http2 and grpc proxies only.
 */
#include "faults/fault.h"
#include "faults/http_fault.h"

#include <stdio.h>
#include <string.h>

struct stall_cfg { int request; };

static int stall_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct stall_cfg *c = cfg;
    if (!strcmp(k, "where")) {
        if (!strcmp(v, "request") || !strcmp(v, "response")) {
            c->request = v[2] == 'q';
            return FKEY_OK;
        }
        snprintf(err, errlen, "'%s' is not request or response", v);
        return FKEY_BAD;
    }
    return FKEY_UNKNOWN;
}

static void stall_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    emit(ud, "where", ((const struct stall_cfg *)cfg)->request ? "request" : "response");
}

static void stall_plan(const struct fault *f, struct http_fault_plan *out)
{
    out->act = HACT_FLOW_STALL;
    out->where_response = !((const struct stall_cfg *)f->cfg)->request;
}

static const struct fault_http_ops stall_ops = {.plan = stall_plan};

const struct fault_type fault_h2_flow_stall = {
    .name = "h2_flow_stall",
    .summary = "never reopen a matching HTTP/2 stream's flow-control window (request or response)",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct stall_cfg),
    .set = stall_set,
    .attrs = stall_attrs,
    .http = &stall_ops,
    .flags = FT_H2_ONLY,
};
