/* fault_proxy.h -- shared by the protocol harnesses (fuzz_pg.c, fuzz_resp.c): a proxy whose
 * active faults are the rows of a table picked by the bits of one selector byte, built once per
 * selector and kept for the process (the harness feeds many inputs through the same 256); and
 * the driver both run (fuzz_engine_one): the conversation format, the bound on what may stay
 * unread, and the fast-path/split-chain comparison. A harness gives its table and its engine's
 * four entry points (struct fuzz_engine). */
#ifndef FUZZ_FAULT_PROXY_H
#define FUZZ_FAULT_PROXY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include "proxy/proxy.h"
#include "proxy/protocol.h"
#include "faults/fault.h"

/* rows: key, value pairs ending with NULL (at most 4 pairs); nrows <= 8 */
static struct fl_proxy *fault_proxy(struct fl_proxy *cache[256], uint8_t sel, const char *mode,
                                    const char *const rows[][8], int nrows)
{
    if (cache[sel]) return cache[sel];
    struct fl_proxy *px = calloc(1, sizeof(*px));
    if (!px) abort();
    strcpy(px->spec.name, "fuzz");
    px->spec.protocol = protocol_find(mode);
    if (!px->spec.protocol) abort();
    px->faults = calloc((size_t)nrows, sizeof(*px->faults));
    if (!px->faults) abort();
    for (int i = 0; i < nrows; i++) {
        if (!(sel & (1u << i))) continue;
        const char *k[6], *v[6];
        int n = 0;
        k[n] = "proxy"; v[n++] = "fuzz";
        for (int j = 0; j < 8 && rows[i][j]; j += 2) { k[n] = rows[i][j]; v[n++] = rows[i][j + 1]; }
        char err[256], name[16];
        int bad;
        snprintf(name, sizeof(name), "f%d", i);
        struct fault *f = fault_build(name, k, v, n, &bad, err, sizeof(err));
        if (!f) abort();                        /* the table is wrong */
        f->px = px;
        f->phase = FAULT_ACTIVE;
        px->faults[px->nfaults++] = f;
    }
    cache[sel] = px;
    return px;
}

/* a protocol engine detached from any socket (pg_sess_*_detached, resp_sess_*_detached) */
struct fuzz_engine {
    void *(*open)(struct evbuffer *sink);               /* a session writing what it injects to sink */
    void (*faults)(void *sess, struct fl_proxy *px);    /* ... with px's faults attached */
    int (*feed)(void *sess, int dir, struct evbuffer *in);  /* -1 once dead */
    void (*close)(void *sess);
};

struct fuzz_outcome { int dead; size_t left[2]; struct evbuffer *sink; };

/* Feeds the conversation data[0..size) ([h][h&0x7f bytes] records, bit 7 of h = direction) to a
 * new session, each direction's input kept across records like a socket's; split != 0 feeds each
 * record as buffer chains of 1..4 bytes (chosen by the bytes themselves). */
static void fuzz_engine_run(const struct fuzz_engine *e, const uint8_t *data, size_t size,
                            struct fl_proxy *px, int split, struct fuzz_outcome *out)
{
    struct evbuffer *in[2] = {evbuffer_new(), evbuffer_new()};
    out->sink = evbuffer_new();
    void *s = e->open(out->sink);
    e->faults(s, px);
    size_t o = 0;
    out->dead = 0;
    while (o < size) {
        uint8_t h = data[o++];
        int dir = h >> 7;
        size_t n = h & 0x7f;
        if (n > size - o) n = size - o;
        if (split) {
            /* every header and line straddles chains somewhere across the corpus */
            for (size_t i = 0, k; i < n; i += k) {
                k = 1 + (data[o + i] & 3u);
                if (k > n - i) k = n - i;
                evbuffer_add_reference(in[dir], data + o + i, k, NULL, NULL);
            }
        } else
            evbuffer_add(in[dir], data + o, n);
        o += n;
        if (e->feed(s, dir, in[dir]) < 0) { out->dead = 1; break; }
        /* what stays unconsumed is an incomplete or held message: bounded by the inspect limit */
        if (evbuffer_get_length(in[dir]) > 70000) abort();
    }
    out->left[0] = evbuffer_get_length(in[0]);
    out->left[1] = evbuffer_get_length(in[1]);
    e->close(s);
    evbuffer_free(in[0]);
    evbuffer_free(in[1]);
}

/* One libFuzzer input: [fault selector byte][conversation]. Up to 4 KiB, the conversation is fed
 * again in split chains and must end exactly the same way (the engine's in-place fast paths over
 * a buffer's first chain must decide as its copying path does). */
static int fuzz_engine_one(const struct fuzz_engine *e, struct fl_proxy *(*proxy_for)(uint8_t),
                           const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16) return 0;
    struct fl_proxy *px = proxy_for(data[0]);
    struct fuzz_outcome a, b;
    fuzz_engine_run(e, data + 1, size - 1, px, 0, &a);
    if (size <= 4096) {
        fuzz_engine_run(e, data + 1, size - 1, px, 1, &b);
        size_t la = evbuffer_get_length(a.sink), lb = evbuffer_get_length(b.sink);
        if (a.dead != b.dead || a.left[0] != b.left[0] || a.left[1] != b.left[1] || la != lb ||
            (la && memcmp(evbuffer_pullup(a.sink, -1), evbuffer_pullup(b.sink, -1), la)))
            abort();                            /* the fast and the careful path disagree */
        evbuffer_free(b.sink);
    }
    evbuffer_free(a.sink);
    return 0;
}

#endif
