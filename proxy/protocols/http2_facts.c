/* http2_facts.c -- what an http2 or grpc proxy knows, and how it is told: its totals by proxy
 * name (streams, resets each way, GOAWAYs, PINGs, the hostile input it bounded), /stats's "h2"
 * object, the record's per-proxy totals hash, and the fields each stream's request event gets
 * besides http mode's (docs/metrics.md).
 *
 * Totals live in frame.h's table by proxy name for the life of the process, so a reload that
 * makes a new proxy object keeps counting on the same row.
 */
#include "proxy/protocols/http2_int.h"
#include "proxy/protocols/http2.h"
#include "proxy/proxy.h"
#include "record/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct frame_table totals = {sizeof(struct h2_totals), 128, 0, NULL};

struct h2_totals *h2_totals_for(const char *proxy)
{
    struct h2_totals *t = (struct h2_totals *)frame_totals_for(&totals, proxy);
    t->ft.conns++;
    return t;
}

static const struct h2_totals *totals_of(const struct fl_proxy *px)
{
    static const struct h2_totals zero;
    const struct h2_totals *t = (const struct h2_totals *)frame_totals_find(&totals, px->spec.name);
    return t ? t : &zero;
}

/* live streams of the proxy object's connections */
static uint64_t live_streams(const struct fl_proxy *px, uint64_t *held)
{
    uint64_t n = 0;
    *held = 0;
    for (const struct conn *c = px->conns; c; c = c->next) {
        const struct h2_conn *h = c->proto;
        if (!h) continue;
        for (const struct h2_stream *s = h->streams; s; s = s->next) {
            n++;
            if (s->held) (*held)++;
        }
    }
    return n;
}

/* every counter, by name, in one place: /stats and the record read the same list */
#define H2_FIELDS(X)                                                                                       \
    X(streams) X(local_answers) X(resets_sent) X(resets_client) X(resets_upstream) X(goaways_sent)       \
    X(goaways_upstream) X(pings) X(pings_dropped) X(settings_sent) X(rapid_reset_closes) X(head_overflows) \
    X(continuation_floods) X(flood_closes) X(protocol_errors) X(invalid_frames) X(bad_preface) X(refused_streams)           \
    X(stalled_streams) X(grpc_calls) X(grpc_errors) X(grpc_msgs_req) X(grpc_msgs_resp) X(grpc_no_deadline)

char *h2_stats_json(const struct fl_proxy *px)
{
    const struct h2_totals *t = totals_of(px);
    uint64_t held, live = live_streams(px, &held);
    size_t cap = 2048, o = 0;
    char *out = malloc(cap);
    if (!out) abort();
    o += (size_t)snprintf(out + o, cap - o, "{\"conns\":%llu,\"live_streams\":%llu,\"held_streams\":%llu",
                          (unsigned long long)t->ft.conns, (unsigned long long)live, (unsigned long long)held);
#define J(k) o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, ",\"" #k "\":%llu", (unsigned long long)t->k);
    H2_FIELDS(J)
#undef J
    if (o < cap) snprintf(out + o, cap - o, "}");
    return out;
}

void h2_totals_facts(const struct fl_proxy *px, struct rec_kv *kv)
{
    const struct h2_totals *t = totals_of(px);
    uint64_t held, live = live_streams(px, &held);
    rec_kv_str(kv, "mode", px->spec.protocol->name);
    rec_kv_u64(kv, "conns", t->ft.conns);
    rec_kv_u64(kv, "live_streams", live);
    rec_kv_u64(kv, "held_streams", held);
#define K(k) rec_kv_u64(kv, #k, t->k);
    H2_FIELDS(K)
#undef K
}

void h2_stream_facts(const void *arg, struct rec_kv *kv)
{
    const struct h2_stream *s = arg;
    rec_kv_u64(kv, "stream", (uint64_t)s->cid);
    if (s->rst_by) {
        rec_kv_str(kv, "reset_by", closer_str(s->rst_by));
        rec_kv_str(kv, "rst_code", h2_code_str(s->rst_code));
    }
    if (s->h->mode && s->h->mode->facts) s->h->mode->facts(s, kv);
}
