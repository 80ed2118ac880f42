/* h2_rst_stream.c -- a matching HTTP/2 stream is reset (RST_STREAM) with a chosen error code:
 * before it reaches the upstream (where = request) or when the upstream's response head arrives
 * (where = response: the upstream did the work, the client never sees the answer).
 *
 * Exposes: clients that treat every reset alike. REFUSED_STREAM promises that nothing was
 * processed, so the call is safe to retry on any method (gRPC retries it transparently);
 * CANCEL and INTERNAL_ERROR after the upstream did the work are not, for a non-idempotent call.
 *
 * Keys: code (an HTTP/2 error code by name or number, default refused_stream), where = request |
 * response (default request). http2 and grpc proxies only; matched per stream like every
 * request fault (match_method, match_path, match_header).
 */
#include "faults/fault.h"
#include "faults/http_fault.h"

#include <stdio.h>
#include <string.h>

struct rst_cfg { uint32_t code; int at_response; };

static void rst_init(void *cfg) { ((struct rst_cfg *)cfg)->code = 7; /* REFUSED_STREAM */ }

static int rst_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct rst_cfg *c = cfg;
    if (!strcmp(k, "code")) return fkey_h2_code(v, &c->code, err, errlen);
    if (!strcmp(k, "where")) {
        if (!strcmp(v, "request") || !strcmp(v, "response")) {
            c->at_response = v[2] == 's';
            return FKEY_OK;
        }
        snprintf(err, errlen, "'%s' is not request or response", v);
        return FKEY_BAD;
    }
    return FKEY_UNKNOWN;
}

static void rst_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct rst_cfg *c = cfg;
    char b[32];
    snprintf(b, sizeof(b), "%s", h2_code_str(c->code));
    for (char *p = b; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    emit(ud, "code", b);
    emit(ud, "where", c->at_response ? "response" : "request");
}

static void rst_plan(const struct fault *f, struct http_fault_plan *out)
{
    const struct rst_cfg *c = f->cfg;
    out->act = HACT_RST_STREAM;
    out->h2_code = c->code;
    out->where_response = c->at_response;
}

static const struct fault_http_ops rst_ops = {.plan = rst_plan};

const struct fault_type fault_h2_rst_stream = {
    .name = "h2_rst_stream",
    .summary = "reset a matching HTTP/2 stream (RST_STREAM code) before forwarding or at the response head",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct rst_cfg),
    .init = rst_init,
    .set = rst_set,
    .attrs = rst_attrs,
    .http = &rst_ops,
    .flags = FT_H2_ONLY,
};
