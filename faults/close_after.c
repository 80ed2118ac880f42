/* close_after.c -- connections have a limited life: closed after `bytes`, `requests` or `age`.
 *
 * Exposes: connection pools that assume a connection lives forever. Real servers and load
 * balancers end connections on their own terms -- nginx's keepalive_requests, gRPC's
 * MAX_CONNECTION_AGE, Envoy's max_connection_duration, an AWS NLB's 350 s idle limit, a
 * database's connection lifetime -- and the client that reuses a pooled connection the moment
 * the server closes it gets an error (the keep-alive race) unless it retries idempotent calls
 * or validates connections.
 *
 * On tcp, postgres and redis proxies close_after is a stage per direction: it passes `bytes`
 * bytes (each direction counts its own, like limit_data), then closes; or closes `age` after it
 * began acting on the connection (its open, for connections opened while the fault is active),
 * wherever the stream is. `close = fin` (default) shuts both sides after what was already passed
 * (the client reads EOF); `close = rst` aborts both (the client reads ECONNRESET). Bytes past a
 * budget are dropped, never forwarded.
 *
 * On http, http2 and grpc proxies close_after acts between requests, like a server does: when a
 * response has been passed whole and the connection has carried `requests` responses, or is
 * older than `age`, or has passed `bytes` bytes to the client, it is closed -- after that
 * response, never inside one (http2: a graceful GOAWAY, or a reset with close = rst). It is not
 * a per-request fault: it never takes a request's place in the choice of the per-request faults
 * (docs/http.md), so a latency or http_error fault still acts on the same requests. On postgres
 * and redis proxies the engine asks after_response about `requests` alone (answered queries,
 * replies; proxy/protocols/frame.c) while the stage keeps `bytes` and `age`. On tcp proxies
 * there are no requests to count and a close_after with only `requests` never acts.
 *
 * Keys: bytes (size), requests (count >= 1), age (duration > 0): at least one; close = fin | rst.
 */
#include "faults/fault.h"
#include "faults/http_fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct ca_cfg {
    uint64_t bytes, requests;
    int64_t age_us;
    int have_bytes, rst;
};
struct ca_state { uint64_t passed; int cut; };

static int ca_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct ca_cfg *c = cfg;
    if (!strcmp(k, "bytes")) { c->have_bytes = 1; return fkey_size(v, &c->bytes, err, errlen); }
    if (!strcmp(k, "age")) return fkey_duration(v, &c->age_us, err, errlen);
    if (!strcmp(k, "requests")) {
        int64_t n;
        if (parse_int(v, 1, 1000000000, &n, err, errlen) < 0) return FKEY_BAD;
        c->requests = (uint64_t)n;
        return FKEY_OK;
    }
    if (!strcmp(k, "close")) {
        if (!strcasecmp(v, "fin")) c->rst = 0;
        else if (!strcasecmp(v, "rst")) c->rst = 1;
        else { snprintf(err, errlen, "'%s' is not fin or rst", v); return FKEY_BAD; }
        return FKEY_OK;
    }
    return FKEY_UNKNOWN;
}

static int ca_validate(const void *cfg, char *err, size_t errlen)
{
    const struct ca_cfg *c = cfg;
    if (!c->have_bytes && !c->requests && !c->age_us) {
        snprintf(err, errlen, "one of bytes, requests or age is required");
        return -1;
    }
    if (c->have_bytes && c->bytes == 0) { snprintf(err, errlen, "bytes: must be above 0"); return -1; }
    return 0;
}

static void ca_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct ca_cfg *c = cfg;
    char b[64];
    if (c->have_bytes) {
        snprintf(b, sizeof(b), "%llu", (unsigned long long)c->bytes);
        emit(ud, "bytes", b);
    }
    if (c->requests) {
        snprintf(b, sizeof(b), "%llu", (unsigned long long)c->requests);
        emit(ud, "requests", b);
    }
    if (c->age_us) emit(ud, "age", duration_str(c->age_us, b, sizeof(b)));
    emit(ud, "close", c->rst ? "rst" : "fin");
}

static void ca_cut(struct stage *st)
{
    const struct ca_cfg *c = st->cfg;
    struct ca_state *s = st->state;
    if (s->cut || stage_closing(st)) return;
    s->cut = 1;
    stage_close(st, c->rst ? CLOSE_RST : CLOSE_FIN);
}

static void ca_start(struct stage *st)
{
    const struct ca_cfg *c = st->cfg;
    if (c->age_us) stage_timer(st, c->age_us);
}

static void ca_data(struct stage *st, struct evbuffer *in)
{
    const struct ca_cfg *c = st->cfg;
    struct ca_state *s = st->state;
    if (s->cut) { stage_discard(st, in, (size_t)-1); return; }
    if (!c->have_bytes) { stage_emit(st, in, (size_t)-1); return; }
    size_t len = evbuffer_get_length(in);
    uint64_t room = c->bytes > s->passed ? c->bytes - s->passed : 0;
    size_t n = len < room ? len : (size_t)room;
    s->passed += n;
    stage_emit(st, in, n);
    if (s->passed >= c->bytes) {
        stage_discard(st, in, (size_t)-1);
        ca_cut(st);
    }
}

/* http: after each whole response (proxy/protocols/http_plan.c, http_close_after) */
static int ca_after_response(const struct fault *f, uint64_t responses, int64_t age_us, uint64_t bytes_down)
{
    const struct ca_cfg *c = f->cfg;
    int due = (c->requests && responses >= c->requests) || (c->age_us && age_us >= c->age_us) ||
              (c->have_bytes && bytes_down >= c->bytes);
    return due ? (c->rst ? CLOSE_RST : CLOSE_FIN) : 0;
}
static const struct fault_http_ops ca_http_ops = {.plan = NULL, .after_response = ca_after_response};

const struct fault_type fault_close_after = {
    .name = "close_after",
    .summary = "close connections after bytes, requests (http, http2, grpc, postgres, redis) or age, with FIN or RST",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct ca_cfg),
    .state_size = sizeof(struct ca_state),
    .set = ca_set,
    .validate = ca_validate,
    .attrs = ca_attrs,
    .on_start = ca_start,
    .on_data = ca_data,
    .on_timer = ca_cut,
    .http = &ca_http_ops,
};
