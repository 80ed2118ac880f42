/* h2_goaway.c -- a matching HTTP/2 request makes the proxy send GOAWAY on its connection, as a
 * server does when it is deployed or drained.
 *
 * mode = graceful: GOAWAY whose last-stream-id is the matching stream: it and every stream
 * before it are served, later ones must go to a new connection, and the connection closes once
 * they are done. mode = immediate: GOAWAY whose last-stream-id is the last stream forwarded
 * before the matching one, and the connection closes as soon as it is sent: the streams in
 * flight are lost (the matching one was never processed: safe to retry).
 *
 * Exposes: clients that keep sending on a connection after GOAWAY, pools that do not replace a
 * draining connection, and retry logic that cannot tell "never processed" (above last-stream-id)
 * from "lost in flight".
 *
 * Keys: mode = graceful | immediate (default graceful), code (an HTTP/2 error code, default
 * no_error). http2 and grpc proxies only.
 */
#include "faults/fault.h"
#include "faults/http_fault.h"

#include <stdio.h>
#include <string.h>

struct goaway_cfg { uint32_t code; int immediate; };

static int goaway_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct goaway_cfg *c = cfg;
    if (!strcmp(k, "code")) return fkey_h2_code(v, &c->code, err, errlen);
    if (!strcmp(k, "mode")) {
        if (!strcmp(v, "graceful") || !strcmp(v, "immediate")) {
            c->immediate = v[0] == 'i';
            return FKEY_OK;
        }
        snprintf(err, errlen, "'%s' is not graceful or immediate", v);
        return FKEY_BAD;
    }
    return FKEY_UNKNOWN;
}

static void goaway_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct goaway_cfg *c = cfg;
    char b[32];
    snprintf(b, sizeof(b), "%s", h2_code_str(c->code));
    for (char *p = b; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    emit(ud, "mode", c->immediate ? "immediate" : "graceful");
    emit(ud, "code", b);
}

static void goaway_plan(const struct fault *f, struct http_fault_plan *out)
{
    const struct goaway_cfg *c = f->cfg;
    out->act = HACT_GOAWAY;
    out->h2_code = c->code;
    out->graceful = !c->immediate;
}

static const struct fault_http_ops goaway_ops = {.plan = goaway_plan};

const struct fault_type fault_h2_goaway = {
    .name = "h2_goaway",
    .summary = "send GOAWAY on the connection of a matching HTTP/2 request (graceful or immediate)",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct goaway_cfg),
    .set = goaway_set,
    .attrs = goaway_attrs,
    .http = &goaway_ops,
    .flags = FT_H2_ONLY,
};
