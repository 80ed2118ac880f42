/* grpc_cut.c -- a matching gRPC call's response is cut in the middle of a message: after
 * `after_messages` whole response messages, part of the next one reaches the client (its
 * 5-byte prefix and half of its payload), then the stream is reset (RST_STREAM code) and the
 * upstream's stream cancelled.
 *
 * Exposes: clients that take a half-read stream for a finished one, that do not retry a
 * server-streaming call from where it stopped, and decoders that choke on a partial frame
 * instead of failing the call (the client should see INTERNAL or UNAVAILABLE).
 *
 * Keys: after_messages (whole messages first, default 0), code (an HTTP/2 error code, default
 * internal_error). A response with fewer messages is not cut. grpc proxies only.
 */
#include "faults/fault.h"
#include "faults/http_fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <string.h>

struct cut_cfg { int64_t after; uint32_t code; };

static void cut_init(void *cfg) { ((struct cut_cfg *)cfg)->code = 2; /* INTERNAL_ERROR */ }

static int cut_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct cut_cfg *c = cfg;
    if (!strcmp(k, "after_messages")) return parse_int(v, 0, 1000000000, &c->after, err, errlen) < 0 ? FKEY_BAD : FKEY_OK;
    if (!strcmp(k, "code")) return fkey_h2_code(v, &c->code, err, errlen);
    return FKEY_UNKNOWN;
}

static void cut_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct cut_cfg *c = cfg;
    char b[32];
    snprintf(b, sizeof(b), "%lld", (long long)c->after);
    emit(ud, "after_messages", b);
    snprintf(b, sizeof(b), "%s", h2_code_str(c->code));
    for (char *p = b; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    emit(ud, "code", b);
}

static void cut_plan(const struct fault *f, struct http_fault_plan *out)
{
    const struct cut_cfg *c = f->cfg;
    out->act = HACT_GRPC_CUT;
    out->messages = (uint64_t)c->after;
    out->h2_code = c->code;
}

static const struct fault_http_ops cut_ops = {.plan = cut_plan};

const struct fault_type fault_grpc_cut = {
    .name = "grpc_cut",
    .summary = "cut a matching gRPC call's response in the middle of a message, then reset the stream",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct cut_cfg),
    .init = cut_init,
    .set = cut_set,
    .attrs = cut_attrs,
    .http = &cut_ops,
    .flags = FT_GRPC_ONLY,
};
