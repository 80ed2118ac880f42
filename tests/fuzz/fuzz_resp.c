/* fuzz_resp.c -- libFuzzer harness for the redis engine (proxy/redis_mode.c), detached from
 * any socket: RESP2/RESP3 framing both ways, and the fault paths (redis_error answers queued
 * behind earlier replies, MOVED with the key's slot, matching by command and key glob, the
 * redis_latency and redis_hang gates, MULTI/EXEC exemption).
 *
 * Input: one byte choosing the faults (bit i = fault i of `faults` below, in that order: the
 * first that matches a query acts), then a conversation of records [h][h&0x7f bytes], bit 7 of
 * h = direction (0 = commands from the client, 1 = replies from the server). Each direction keeps its own input
 * buffer across records, like a socket's, so messages split anywhere are exercised. The
 * detached engine lets no time pass: a redis_latency gate opens at the next record, a redis_hang
 * hold ends at the next record from the server (as on_end = release).
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
#include "redis_mode.h"
#include "proxy.h"
#include "fault.h"
#include "fault_proxy.h"

#define NF 8
static const char *const faults[NF][8] = {
    {"type", "redis_error", "error", "LOADING", "match_key", "a*", NULL},
    {"type", "redis_error", "error", "MOVED", "match_key", "m*", NULL},
    {"type", "redis_error", "error", "ERR custom text", "match_command", "set", NULL},
    {"type", "redis_latency", "delay", "1ms", "match_command", "get", NULL},
    {"type", "redis_hang", "match_key", "h*", NULL},
    {"type", "redis_error", "error", "READONLY", "match_command", "*", "match_key", "r?"},
    {"type", "redis_error", "error", "ASK", "match_command", "e*", NULL},
    {"type", "redis_hang", "match_command", "exec", NULL},
};

static struct fl_proxy *proxies[256];

static struct fl_proxy *proxy_for(uint8_t sel)
{
    return fault_proxy(proxies, sel, MODE_REDIS, faults, NF);
}

struct outcome { int dead; size_t left[2]; struct evbuffer *sink; };

static void run(const uint8_t *data, size_t size, struct fl_proxy *px, int split, struct outcome *out)
{
    struct evbuffer *in[2] = {evbuffer_new(), evbuffer_new()};
    out->sink = evbuffer_new();
    struct resp_sess *s = resp_sess_new_detached(out->sink);
    resp_sess_detached_faults(s, px);
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
        if (resp_feed(s, dir, in[dir]) < 0) { out->dead = 1; break; }
        /* an incomplete line or command head, or held commands, is all that may stay: bounded */
        if (evbuffer_get_length(in[dir]) > 70000) abort();
    }
    out->left[0] = evbuffer_get_length(in[0]);
    out->left[1] = evbuffer_get_length(in[1]);
    resp_sess_free(s);
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
