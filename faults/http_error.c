/* http_error.c -- answer a matching request with an error response, without contacting the
 * upstream (an abort, in Envoy's words).
 *
 * Exposes: callers that treat every non-2xx alike (no retry budget, retrying a 400, ignoring
 * Retry-After), and error paths that were never exercised because the dependency never failed.
 *
 * Keys: status (100..599, default 503), body (text, default "<status> injected by faultline\n"),
 * header = Name: value (repeatable, up to 16). http mode only; the request body, if any, is
 * read and discarded so the connection stays usable (keep-alive).
 */
#include "faults/fault.h"
#include "faults/http_fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_error_cfg {
    int64_t status;
    char *body;
    char *headers[HTTP_FAULT_MAX_HEADERS];
    int nheaders;
};

static void http_error_init(void *cfg)
{
    struct http_error_cfg *c = cfg;
    c->status = 503;
}

static int http_error_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct http_error_cfg *c = cfg;
    if (!strcmp(k, "status")) return parse_int(v, 100, 599, &c->status, err, errlen) < 0 ? FKEY_BAD : FKEY_OK;
    if (!strcmp(k, "body")) {
        free(c->body);
        c->body = strdup(v);
        return c->body ? FKEY_OK : FKEY_BAD;
    }
    if (!strcmp(k, "header")) {
        const char *colon = strchr(v, ':');
        if (!colon || colon == v || strpbrk(v, "\r\n")) {
            snprintf(err, errlen, "'%s' is not 'Name: value'", v);
            return FKEY_BAD;
        }
        for (const char *p = v; p < colon; p++)
            if (*p == ' ' || *p == '\t') {
                snprintf(err, errlen, "'%s': no spaces in a header name", v);
                return FKEY_BAD;
            }
        if (c->nheaders >= HTTP_FAULT_MAX_HEADERS) {
            snprintf(err, errlen, "at most %d headers", HTTP_FAULT_MAX_HEADERS);
            return FKEY_BAD;
        }
        c->headers[c->nheaders] = strdup(v);
        if (!c->headers[c->nheaders]) return FKEY_BAD;
        c->nheaders++;
        return FKEY_OK;
    }
    return FKEY_UNKNOWN;
}

static void http_error_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct http_error_cfg *c = cfg;
    char b[16];
    snprintf(b, sizeof(b), "%d", (int)c->status);
    emit(ud, "status", b);
    if (c->body) emit(ud, "body", c->body);
    for (int i = 0; i < c->nheaders; i++) emit(ud, "header", c->headers[i]);
}

static void http_error_free(void *cfg)
{
    struct http_error_cfg *c = cfg;
    free(c->body);
    for (int i = 0; i < c->nheaders; i++) free(c->headers[i]);
}

static void http_error_plan(const struct fault *f, struct http_fault_plan *out)
{
    const struct http_error_cfg *c = f->cfg;
    out->act = HACT_ERROR;
    out->status = (int)c->status;
    out->body = c->body;
    out->nheaders = c->nheaders;
    for (int i = 0; i < c->nheaders; i++) out->headers[i] = c->headers[i];
}

static const struct fault_http_ops http_error_ops = {.plan = http_error_plan};

const struct fault_type fault_http_error = {
    .name = "http_error",
    .summary = "answer matching requests with status (default 503), body and headers, upstream untouched",
    .default_dir = FDIR_UP,
    .cfg_size = sizeof(struct http_error_cfg),
    .init = http_error_init,
    .set = http_error_set,
    .attrs = http_error_attrs,
    .cfg_free = http_error_free,
    .repeatable = "header",       /* one per header line of the answer */
    .http = &http_error_ops,
    .flags = FT_HTTP_ONLY,
};
