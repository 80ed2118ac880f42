/* grpc_error.c -- a matching gRPC call is answered by the proxy with a status, trailers-only
 * (one HEADERS frame: :status 200, content-type application/grpc, grpc-status, grpc-message,
 * END_STREAM), without contacting the upstream.
 *
 * Exposes: clients that retry what must not be retried (INVALID_ARGUMENT, a non-idempotent call
 * after UNAVAILABLE without a retry policy), that ignore RESOURCE_EXHAUSTED's back-pressure, and
 * error paths that were never run because the dependency never failed.
 *
 * Keys: status (a gRPC status by name or 0..16, default unavailable; ok answers an empty
 * success), message (grpc-message text, default "injected by faultline"). grpc proxies only;
 * matched per call by match_path (/package.Service/Method), match_header.
 */
#include "faults/fault.h"
#include "faults/http_fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct grpc_error_cfg { int status; char *message; };

static void ge_init(void *cfg) { ((struct grpc_error_cfg *)cfg)->status = 14; /* UNAVAILABLE */ }

static int ge_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct grpc_error_cfg *c = cfg;
    if (!strcmp(k, "status")) return fkey_grpc_status(v, &c->status, err, errlen);
    if (!strcmp(k, "message")) {
        if (strpbrk(v, "\r\n")) {
            snprintf(err, errlen, "a message is one line");
            return FKEY_BAD;
        }
        free(c->message);
        c->message = strdup(v);
        return c->message ? FKEY_OK : FKEY_BAD;
    }
    return FKEY_UNKNOWN;
}

static void ge_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct grpc_error_cfg *c = cfg;
    char b[32];
    snprintf(b, sizeof(b), "%s", grpc_status_str(c->status));
    for (char *p = b; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    emit(ud, "status", b);
    emit(ud, "message", c->message ? c->message : "injected by faultline");
}

static void ge_free(void *cfg) { free(((struct grpc_error_cfg *)cfg)->message); }

static void ge_plan(const struct fault *f, struct http_fault_plan *out)
{
    const struct grpc_error_cfg *c = f->cfg;
    out->act = HACT_GRPC_ERROR;
    out->grpc_status = c->status;
    out->body = c->message ? c->message : "injected by faultline";
}

static const struct fault_http_ops ge_ops = {.plan = ge_plan};

const struct fault_type fault_grpc_error = {
    .name = "grpc_error",
    .summary = "answer a matching gRPC call trailers-only with grpc-status and grpc-message",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct grpc_error_cfg),
    .init = ge_init,
    .set = ge_set,
    .attrs = ge_attrs,
    .cfg_free = ge_free,
    .http = &ge_ops,
    .flags = FT_GRPC_ONLY,
};
