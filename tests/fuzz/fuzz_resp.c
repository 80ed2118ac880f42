/* fuzz_resp.c -- libFuzzer harness for the redis engine's RESP2/RESP3 framing
 * (proxy/redis_mode.c), detached from any socket. Same record format as fuzz_pg.c: [h][h&0x7f
 * bytes], bit 7 of h = direction (0 = commands from the client, 1 = replies from the server). */
#include <stdint.h>
#include <stdlib.h>
#include <event2/buffer.h>
#include "redis_mode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    struct evbuffer *in[2] = {evbuffer_new(), evbuffer_new()};
    struct evbuffer *sink = evbuffer_new();
    struct resp_sess *s = resp_sess_new_detached(sink);
    size_t o = 0;
    while (o < size) {
        uint8_t h = data[o++];
        int dir = h >> 7;
        size_t n = h & 0x7f;
        if (n > size - o) n = size - o;
        evbuffer_add(in[dir], data + o, n);
        o += n;
        if (resp_feed(s, dir, in[dir]) < 0) break;
        /* an incomplete line or command head is all that may stay: bounded */
        if (evbuffer_get_length(in[dir]) > 70000) abort();
    }
    resp_sess_free(s);
    evbuffer_free(in[0]);
    evbuffer_free(in[1]);
    evbuffer_free(sink);
    return 0;
}
