/* corrupt.c -- bytes are changed on the way: each byte is flipped with `probability`.
 *
 * Exposes: clients and protocols that trust what arrives -- no checksum over a payload, a
 * length or a hash that is never verified, a parser that takes garbage for data. TCP's own
 * checksum makes this rare on a real network, but it happens past it: a faulty middlebox, a
 * NIC offload bug, memory errors, a proxy that rewrites what it should not. A client that
 * verifies (a sha256 over a download, a gzip or TLS record check, a database's message
 * framing) turns it into an error; one that does not passes the damage on.
 *
 * Each byte is hit independently with probability p: the gap to the next hit is drawn once
 * (geometric, so a stream costs one draw per hit, not one per byte), and a hit byte is XORed
 * with a random value from 1 to 255, so it always changes. The length never changes; nothing
 * is added, dropped or reordered.
 *
 * Where: on a tcp proxy, every byte of the direction (default downstream). On an http proxy,
 * per request like every per-request type: only the response body's data bytes -- the status
 * line, headers and chunked framing stay intact, so the client parses the response and gets a
 * body that is wrong (proxy/protocols/http.c calls corrupt_flip from its body callback; on http2
 * and grpc proxies, http2_stream.c: the DATA payloads only, and gRPC's message prefixes stay). On
 * postgres and redis proxies corrupt is a connection-level stage over the raw stream, framing
 * included: those protocols carry no checksum, so what the client sees is a changed value, a
 * protocol error, or a wait for bytes that never come (docs/faults.md).
 *
 * Keys: per_byte (the probability each byte is hit: a fraction or a percentage, required, > 0).
 * The common `probability` keeps its meaning: the share of connections (http: requests) the
 * fault acts on at all.
 */
#include "faults/fault.h"
#include "faults/http_fault.h"
#include "faults/dist.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct corrupt_cfg { double rate; int have_rate; };   /* rate: per_byte */
struct corrupt_state { uint64_t gap; };   /* bytes to pass before the next hit, + 1 (0: not drawn) */

static int corrupt_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct corrupt_cfg *c = cfg;
    if (!strcmp(k, "per_byte")) { c->have_rate = 1; return fkey_fraction(v, &c->rate, err, errlen); }
    return FKEY_UNKNOWN;
}

static int corrupt_validate(const void *cfg, char *err, size_t errlen)
{
    const struct corrupt_cfg *c = cfg;
    if (!c->have_rate || c->rate <= 0) {
        snprintf(err, errlen, "per_byte: required, the probability each byte is changed, above 0 (e.g. 0.01%%)");
        return -1;
    }
    return 0;
}

static void corrupt_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct corrupt_cfg *c = cfg;
    char b[64];
    snprintf(b, sizeof(b), "%g", c->rate);
    emit(ud, "per_byte", b);
}

/* 1 + the number of clean bytes before the next hit: geometric with parameter rate. */
static uint64_t draw_gap(double rate)
{
    if (rate >= 1.0) return 1;
    double u = 1.0 - fl_rand01();                 /* (0, 1] */
    double g = floor(log(u) / log1p(-rate));
    return g > 1e18 ? (uint64_t)1e18 : (uint64_t)g + 1;
}

uint64_t corrupt_flip(unsigned char *p, size_t len, double rate, uint64_t *gap)
{
    uint64_t hits = 0;
    size_t i = 0;
    for (;;) {
        if (*gap == 0) *gap = draw_gap(rate);
        if (*gap > len - i) { *gap -= len - i; return hits; }
        i += (size_t)(*gap - 1);
        p[i] ^= (unsigned char)(1 + (int)(fl_rand01() * 255.0));
        hits++;
        i++;
        *gap = 0;
    }
}

static void corrupt_data(struct stage *st, struct evbuffer *in)
{
    const struct corrupt_cfg *c = st->cfg;
    struct corrupt_state *s = st->state;
    struct evbuffer_iovec v[16];
    int n = evbuffer_peek(in, -1, NULL, v, 16);
    if (n > 16) {                                  /* many small pieces: make them one */
        evbuffer_pullup(in, -1);
        n = evbuffer_peek(in, -1, NULL, v, 16);
    }
    for (int i = 0; i < n && i < 16; i++)
        corrupt_flip(v[i].iov_base, v[i].iov_len, c->rate, &s->gap);
    stage_emit(st, in, (size_t)-1);
}

/* http mode: the engine flips the response body's bytes with plan.corrupt_rate (corrupt_flip) */
static void corrupt_http_plan(const struct fault *f, struct http_fault_plan *out)
{
    const struct corrupt_cfg *c = f->cfg;
    out->act = HACT_CORRUPT;
    out->corrupt_rate = c->rate;
    out->corrupt_gap = 0;
}
static const struct fault_http_ops corrupt_http_ops = {.plan = corrupt_http_plan};

const struct fault_type fault_corrupt = {
    .name = "corrupt",
    .summary = "flip bytes with a probability per byte (http: the response body's data only)",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct corrupt_cfg),
    .state_size = sizeof(struct corrupt_state),
    .set = corrupt_set,
    .validate = corrupt_validate,
    .attrs = corrupt_attrs,
    .on_data = corrupt_data,
    .http = &corrupt_http_ops,
};
