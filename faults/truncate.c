/* truncate.c -- a matching request gets the response head and `after_bytes` of the body, then
 * the connection is closed (FIN): a stream that ends early.
 *
 * Exposes: readers that do not check the body length against Content-Length (or the final
 * chunk), and parsers that accept half a JSON document.
 *
 * Keys: after_bytes (a size, default 0: head only). Counted as body bytes on the wire (chunk
 * framing included). http mode only.
 */
#include "faults/fault.h"
#include "faults/http_fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <string.h>

struct truncate_cfg { uint64_t after_bytes; };

static int truncate_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct truncate_cfg *c = cfg;
    if (!strcmp(k, "after_bytes")) return fkey_size(v, &c->after_bytes, err, errlen);
    return FKEY_UNKNOWN;
}

static void truncate_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct truncate_cfg *c = cfg;
    char b[32];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)c->after_bytes);
    emit(ud, "after_bytes", b);
}

static void truncate_plan(const struct fault *f, struct http_fault_plan *out)
{
    const struct truncate_cfg *c = f->cfg;
    out->act = HACT_TRUNCATE;
    out->after_bytes = c->after_bytes;
}

static const struct fault_http_ops truncate_ops = {.plan = truncate_plan};

const struct fault_type fault_truncate = {
    .name = "truncate",
    .summary = "send the response head and after_bytes of the body, then close",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct truncate_cfg),
    .set = truncate_set,
    .attrs = truncate_attrs,
    .http = &truncate_ops,
    .flags = FT_HTTP_ONLY,
};
