/* fuzz_resp.c -- libFuzzer harness for the redis engine (proxy/protocols/redis.c), detached from
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
#include "proxy/protocols/redis.h"
#include "proxy/proxy.h"
#include "faults/fault.h"
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
    return fault_proxy(proxies, sel, "redis", faults, NF);
}

/* the engine's entry points, typed for the driver */
static void *e_open(struct evbuffer *sink) { return resp_sess_new_detached(sink); }
static void e_faults(void *s, struct fl_proxy *px) { resp_sess_detached_faults(s, px); }
static int e_feed(void *s, int dir, struct evbuffer *in) { return resp_feed(s, dir, in); }
static void e_close(void *s) { resp_sess_free(s); }
static const struct fuzz_engine engine = {e_open, e_faults, e_feed, e_close};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_engine_one(&engine, proxy_for, data, size);
}
