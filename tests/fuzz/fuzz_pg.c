/* fuzz_pg.c -- libFuzzer harness for the postgres engine's framing (proxy/pg.c), detached
 * from any socket. The input is a conversation: records of [h][h&0x7f bytes], where bit 7 of
 * h says the direction (0 = client -> server, 1 = server -> client). Each direction keeps its
 * own input buffer across records, like a socket's, so messages split anywhere are exercised.
 * The engine must never crash, read out of bounds, leak, or keep more than it was fed. */
#include <stdint.h>
#include <stdlib.h>
#include <event2/buffer.h>
#include "pg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    struct evbuffer *in[2] = {evbuffer_new(), evbuffer_new()};
    struct evbuffer *sink = evbuffer_new();
    struct pg_sess *s = pg_sess_new_detached(sink);
    size_t o = 0;
    while (o < size) {
        uint8_t h = data[o++];
        int dir = h >> 7;
        size_t n = h & 0x7f;
        if (n > size - o) n = size - o;
        evbuffer_add(in[dir], data + o, n);
        o += n;
        if (pg_feed(s, dir, in[dir]) < 0) break;
        /* what stays unconsumed is an incomplete message: bounded by the inspect limit */
        if (evbuffer_get_length(in[dir]) > 70000) abort();
    }
    pg_sess_free(s);
    evbuffer_free(in[0]);
    evbuffer_free(in[1]);
    evbuffer_free(sink);
    return 0;
}
