/* fuzz_pg.c -- libFuzzer harness for the postgres engine (proxy/protocols/postgres.c), detached from any
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
#include "proxy/protocols/postgres.h"
#include "proxy/proxy.h"
#include "faults/fault.h"
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
    return fault_proxy(proxies, sel, "postgres", faults, NF);
}

/* the engine's entry points, typed for the driver */
static void *e_open(struct evbuffer *sink) { return pg_sess_new_detached(sink); }
static void e_faults(void *s, struct fl_proxy *px) { pg_sess_detached_faults(s, px); }
static int e_feed(void *s, int dir, struct evbuffer *in) { return pg_feed(s, dir, in); }
static void e_close(void *s) { pg_sess_free(s); }
static const struct fuzz_engine engine = {e_open, e_faults, e_feed, e_close};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_engine_one(&engine, proxy_for, data, size);
}
