/* fuzz_pg.c -- libFuzzer harness for the postgres engine (proxy/pg.c), detached from any
 * socket: the framing, and the fault paths (pg_error at query and at startup, FATAL, the
 * discard-until-Sync of an extended batch, the answer queued behind earlier results, pg_latency
 * and pg_hang gates, pg_drop mid-result).
 *
 * Input: one byte choosing the faults (bit i = fault i of `faults` below, in that order: the
 * first that matches a query acts), then a conversation of records [h][h&0x7f bytes], bit 7 of
 * h = direction (0 = client -> server, 1 = server -> client). Each direction keeps its own input
 * buffer across records, like a socket's, so messages split anywhere are exercised. The
 * detached engine lets no time pass: a pg_latency gate opens at the next record, a pg_hang hold
 * ends at the next record from the server (as on_end = release).
 *
 * Checked: no crash, out-of-bounds access, leak or undefined behaviour (ASan/UBSan); never more
 * kept than an incomplete message; and for inputs up to 4 KiB, the same conversation fed again
 * in buffer chains of 1..4 bytes must end the same way (dead or not, what stays unread
 * each way, every byte faultline injected): the engine's in-place fast paths over a buffer's
 * first chain must decide exactly as its copying path over split chains. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include "pg.h"
#include "proxy.h"
#include "fault.h"
#include "fault_proxy.h"

#define NF 8
static const char *const faults[NF][8] = {
    {"type", "pg_error", "sqlstate", "40001", "match_query", "a", NULL},
    {"type", "pg_error", "sqlstate", "57P01", "severity", "FATAL", "match_query", "^f"},
    {"type", "pg_error", "at", "startup", "sqlstate", "53300", "match_application", "c*"},
    {"type", "pg_latency", "delay", "1ms", "match_query", "l", NULL},
    {"type", "pg_hang", "match_query", "h", NULL},
    {"type", "pg_drop", "after_rows", "1", "match_query", "d", NULL},
    {"type", "pg_drop", "after_rows", "0", "close", "rst", "match_user", "u*"},
    {"type", "pg_error", "sqlstate", "40P01", "message", "injected", "match_user", "x*"},
};

static struct fl_proxy *proxies[256];

static struct fl_proxy *proxy_for(uint8_t sel)
{
    return fault_proxy(proxies, sel, MODE_POSTGRES, faults, NF);
}

struct outcome { int dead; size_t left[2]; struct evbuffer *sink; };

static void run(const uint8_t *data, size_t size, struct fl_proxy *px, int split, struct outcome *out)
{
    struct evbuffer *in[2] = {evbuffer_new(), evbuffer_new()};
    out->sink = evbuffer_new();
    struct pg_sess *s = pg_sess_new_detached(out->sink);
    pg_sess_detached_faults(s, px);
    size_t o = 0;
    out->dead = 0;
    while (o < size) {
        uint8_t h = data[o++];
        int dir = h >> 7;
        size_t n = h & 0x7f;
        if (n > size - o) n = size - o;
        if (split) {
            /* chains of 1..4 bytes (chosen by the bytes themselves): every header and line
             * straddles chains somewhere across the corpus */
            for (size_t i = 0, k; i < n; i += k) {
                k = 1 + (data[o + i] & 3u);
                if (k > n - i) k = n - i;
                evbuffer_add_reference(in[dir], data + o + i, k, NULL, NULL);
            }
        } else
            evbuffer_add(in[dir], data + o, n);
        o += n;
        if (pg_feed(s, dir, in[dir]) < 0) { out->dead = 1; break; }
        /* what stays unconsumed is an incomplete or held message: bounded by the inspect limit */
        if (evbuffer_get_length(in[dir]) > 70000) abort();
    }
    out->left[0] = evbuffer_get_length(in[0]);
    out->left[1] = evbuffer_get_length(in[1]);
    pg_sess_free(s);
    evbuffer_free(in[0]);
    evbuffer_free(in[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16) return 0;
    struct fl_proxy *px = proxy_for(data[0]);
    struct outcome a, b;
    run(data + 1, size - 1, px, 0, &a);
    if (size <= 4096) {
        run(data + 1, size - 1, px, 1, &b);
        size_t la = evbuffer_get_length(a.sink), lb = evbuffer_get_length(b.sink);
        if (a.dead != b.dead || a.left[0] != b.left[0] || a.left[1] != b.left[1] || la != lb ||
            (la && memcmp(evbuffer_pullup(a.sink, -1), evbuffer_pullup(b.sink, -1), la)))
            abort();                            /* the fast and the careful path disagree */
        evbuffer_free(b.sink);
    }
    evbuffer_free(a.sink);
    return 0;
}
