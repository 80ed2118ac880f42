/* hang.c -- data in the fault's direction stops (after `after_bytes`) and is held; the
 * connection stays open until the client gives up.
 *
 * Exposes: clients with no timeout (they wait forever), and pools that never reclaim a stuck
 * connection. The moment the client gives up (FIN or RST) is recorded by the connection: it is
 * the service's effective timeout.
 *
 * Holding costs nothing: held bytes sit in an evbuffer and, past the proxy's buffer bound, the
 * source stops being read (TCP backpressure does the rest); no timer runs.
 *
 * In http, http2 and grpc modes it holds one request (forward = no) or its response (forward =
 * yes, the default); in grpc mode after_messages lets that many response messages of a streaming
 * call through before the hold.
 *
 * on_end decides what a hung connection does when the fault stops: keep (stays hung, held
 * bytes discarded: a dependency that really died), release (held bytes delivered, flow
 * resumes) or reset (RST both sides).
 */
#include "faults/fault.h"
#include "faults/hold.h"
#include "faults/http_fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <string.h>

struct hang_cfg {
    uint64_t after_bytes;
    enum hang_end on_end;
    int hold_request;          /* http: forward = no */
    int64_t after_messages;    /* grpc: response messages passed before the hold */
};
struct hang_state { uint64_t passed; int dead, hung; };

static int hang_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct hang_cfg *c = cfg;
    if (!strcmp(k, "after_bytes")) return fkey_size(v, &c->after_bytes, err, errlen);
    if (!strcmp(k, "on_end")) return fkey_hang_end(v, &c->on_end, err, errlen);
    if (!strcmp(k, "after_messages"))   /* grpc mode: hold a streaming response after N messages */
        return parse_int(v, 0, 1000000000, &c->after_messages, err, errlen) < 0 ? FKEY_BAD : FKEY_OK;
    if (!strcmp(k, "forward")) {    /* http mode: yes = request sent upstream, response held */
        int fwd;
        if (parse_bool(v, &fwd, err, errlen) < 0) return FKEY_BAD;
        c->hold_request = !fwd;
        return FKEY_OK;
    }
    return FKEY_UNKNOWN;
}

static void hang_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct hang_cfg *c = cfg;
    char b[32];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)c->after_bytes);
    emit(ud, "after_bytes", b);
    emit(ud, "on_end", hang_end_str(c->on_end));
    if (c->hold_request) emit(ud, "forward", "no");
    if (c->after_messages) {
        snprintf(b, sizeof(b), "%lld", (long long)c->after_messages);
        emit(ud, "after_messages", b);
    }
}

/* http mode: per request (proxy/protocols/http.c does the holding) */
static void hang_http_plan(const struct fault *f, struct http_fault_plan *out)
{
    const struct hang_cfg *c = f->cfg;
    out->act = HACT_HANG;
    out->forward = !c->hold_request;
    out->on_end = c->on_end;
    out->messages = (uint64_t)c->after_messages;
}
static const struct fault_http_ops hang_http_ops = {.plan = hang_http_plan};

static void hang_start(struct stage *st)
{
    const struct hang_cfg *c = st->cfg;
    if (c->after_bytes == 0) {
        ((struct hang_state *)st->state)->hung = 1;
        stage_mark_hanging(st);
    }
}

static void hang_data(struct stage *st, struct evbuffer *in)
{
    const struct hang_cfg *c = st->cfg;
    struct hang_state *s = st->state;
    if (s->dead) {
        stage_discard(st, in, (size_t)-1);
        return;
    }
    if (s->passed < c->after_bytes) {
        uint64_t room = c->after_bytes - s->passed;
        size_t len = evbuffer_get_length(in);
        size_t n = len < room ? len : (size_t)room;
        s->passed += n;
        stage_emit(st, in, n);
        if (s->passed >= c->after_bytes) { s->hung = 1; stage_mark_hanging(st); }
    }
    if (evbuffer_get_length(in)) {
        s->hung = 1;
        stage_mark_hanging(st);
        stage_hold(st, in);
    }
}

static int hang_eof(struct stage *st)
{
    const struct hang_cfg *c = st->cfg;
    struct hang_state *s = st->state;
    /* a hung dependency never says goodbye: the EOF is held with the bytes */
    return s->dead || s->passed >= c->after_bytes;
}

static int hang_end(struct stage *st)
{
    const struct hang_cfg *c = st->cfg;
    struct hang_state *s = st->state;
    if (!s->hung) return 0;   /* never hung (after_bytes not reached): nothing to keep or reset */
    return hold_on_end(st, c->on_end, &s->dead);
}

const struct fault_type fault_hang = {
    .name = "hang",
    .summary = "stop data (after after_bytes) and hold the connection open until the client gives up",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct hang_cfg),
    .state_size = sizeof(struct hang_state),
    .set = hang_set,
    .attrs = hang_attrs,
    .on_start = hang_start,
    .on_data = hang_data,
    .on_eof = hang_eof,
    .on_end = hang_end,
    .http = &hang_http_ops,
};
