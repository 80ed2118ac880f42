/* grpc.c -- mode = grpc: HTTP/2 (http2.c) plus gRPC's framing, so that faults act per call and
 * per message (protocol_grpc; docs/grpc.md).
 *
 * A gRPC call is one HTTP/2 stream: a request head whose :path is /package.Service/Method (what
 * match_path matches), messages each behind a 5-byte prefix (a compressed flag, a big-endian
 * length), and a status in the response's trailers (grpc-status, grpc-message) or in a
 * trailers-only answer. This layer follows that framing over the bytes of both bodies, as they
 * arrive (to count messages) and as they leave (to act at message boundaries), reads the
 * deadline the caller sent (grpc-timeout) and the status the call ended with, and adds them to
 * the stream's record.
 *
 * What it does to calls, on top of every HTTP/2 fault:
 *   grpc_error   a trailers-only answer with grpc-status and grpc-message (http2_stream.c)
 *   latency      on a streaming call, every message of its direction waits `delay` (the first
 *                one waits with the head, as on a unary call)
 *   hang         after_messages = N: the response's head and N messages pass, then the
 *                stream holds at a message boundary until the fault ends
 *   grpc_cut     after N whole response messages, the prefix and half of the next one's
 *                payload pass, then RST_STREAM
 *   corrupt      flips bytes of the response messages' payloads; their 5-byte prefixes pass
 *                intact, so the client reads every message and gets wrong bytes in it (a
 *                protobuf decode error, or a value that is wrong)
 * Otherwise bytes never change: a message is never re-framed, only let go later or cut.
 */
#include "proxy/protocols/http2_int.h"
#include "proxy/proxy.h"
#include "record/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t grpc_timeout_parse(const char *v)
{
    size_t n = strlen(v);
    if (n < 2 || n > 9) return -1;
    int64_t x = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (v[i] < '0' || v[i] > '9') return -1;
        x = x * 10 + (v[i] - '0');
    }
    switch (v[n - 1]) {
    case 'H': return x * 3600 * 1000000;
    case 'M': return x * 60 * 1000000;
    case 'S': return x * 1000000;
    case 'm': return x * 1000;
    case 'u': return x;
    case 'n': return x / 1000;
    default: return -1;
    }
}

/* Follows the framing over n bytes; returns how many messages' prefixes completed. */
static uint64_t fr_advance(struct grpc_fr *fr, const uint8_t *p, size_t n)
{
    uint64_t done = 0;
    while (n) {
        if (fr->have < 5) {
            size_t need = 5u - fr->have, take = need < n ? need : n;
            memcpy(fr->pre + fr->have, p, take);
            fr->have = (uint8_t)(fr->have + take);
            p += take;
            n -= take;
            if (fr->have == 5) {
                fr->left = (uint32_t)fr->pre[1] << 24 | (uint32_t)fr->pre[2] << 16 | (uint32_t)fr->pre[3] << 8 | fr->pre[4];
                fr->msgs++;
                done++;
                if (!fr->left) fr->have = 0;
            }
            continue;
        }
        size_t take = fr->left < n ? fr->left : n;
        fr->left -= (uint32_t)take;
        p += take;
        n -= take;
        if (!fr->left) fr->have = 0;
    }
    return done;
}

/* Bytes from the front of b's buffer to the end of the message it is in (all of it when that
 * end is not known yet: a prefix still incomplete). */
static size_t to_message_end(struct h2_body *b, size_t avail)
{
    const struct grpc_fr *fr = &b->fout;
    if (fr->have == 5) return fr->left;
    size_t need = 5 - fr->have;
    if (avail < need) return avail;
    uint8_t pre[5];
    memcpy(pre, fr->pre, fr->have);
    evbuffer_copyout(b->buf, pre + fr->have, need);
    uint32_t len = (uint32_t)pre[1] << 24 | (uint32_t)pre[2] << 16 | (uint32_t)pre[3] << 8 | pre[4];
    return need + len;
}

static void grpc_request_head(struct h2_stream *s)
{
    struct h2_totals *t = s->h->tot;
    char v[64];
    t->grpc_calls++;
    if (h2_head_get(&s->rq, "grpc-timeout", v, sizeof(v))) s->grpc_timeout_us = grpc_timeout_parse(v);
    if (s->grpc_timeout_us < 0) t->grpc_no_deadline++;
    if (h2_head_get(&s->rq, "grpc-previous-rpc-attempts", v, sizeof(v))) s->prev_attempts = atoi(v);
}

static void grpc_response_fields(struct h2_stream *s, const struct h2_head *hd)
{
    char v[16];
    if (!h2_head_get(hd, "grpc-status", v, sizeof(v))) return;
    s->grpc_status = atoi(v);
    if (s->grpc_status > 0) s->h->tot->grpc_errors++;
}

static size_t grpc_out_limit(struct h2_stream *s, int d, size_t want)
{
    struct h2_body *b = &s->b[d];
    const struct http_fault_plan *pl = &s->pl;
    int lat = pl->act == HACT_LATENCY && s->f && (pl->where_response ? 1 : 0) == d;
    int hold = d == 1 && pl->act == HACT_HANG && pl->forward && pl->messages > 0 && s->f;
    int cut = d == 1 && pl->act == HACT_GRPC_CUT;
    if (!lat && !hold && !cut) return want;
    size_t avail = evbuffer_get_length(b->buf);
    if (b->fout.have == 0) {   /* a message boundary */
        if (hold && b->fout.msgs >= pl->messages) {
            s->held = 1;       /* until the fault ends (http2_plan.c release_stream) */
            return 0;
        }
        if (lat && !b->gate_ok) {
            int64_t now = fl_now_us();
            if (!b->gate_until) {
                b->gate_until = now + pl->delay_us + fl_jitter_us(pl->jitter_us);
                if (s->f) s->f->c.bytes_delayed += avail;
            }
            if (now < b->gate_until) {
                h2_arm(s, d, b->gate_until - now);
                return 0;
            }
            b->gate_until = 0;
            b->gate_ok = 1;
        }
        if (cut && !s->cut_left && b->fout.msgs == pl->messages) {
            if (avail < 5) return b->eof ? want : 0;
            uint8_t pre[5];
            evbuffer_copyout(b->buf, pre, 5);
            uint32_t len = (uint32_t)pre[1] << 24 | (uint32_t)pre[2] << 16 | (uint32_t)pre[3] << 8 | pre[4];
            s->cut_left = 5 + len / 2;
        }
    }
    size_t end = to_message_end(b, avail);
    if (want > end && end) want = end;
    if (cut && s->cut_left) {
        if (want >= s->cut_left) {
            want = (size_t)s->cut_left;
            s->cut_pending = 1;   /* RST_STREAM once this DATA frame is out (http2.c) */
            if (s->f) s->f->c.resets++;
        }
        s->cut_left -= want;
        if (!s->cut_left) s->cut_left = 0;
    }
    return want;
}

static void grpc_in_bytes(struct h2_stream *s, int d, const uint8_t *p, size_t n)
{
    uint64_t m = fr_advance(&s->b[d].fin, p, n);
    if (d == 0) s->h->tot->grpc_msgs_req += m;
    else s->h->tot->grpc_msgs_resp += m;
}

static void grpc_out_bytes(struct h2_stream *s, int d, const uint8_t *p, size_t n)
{
    fr_advance(&s->b[d].fout, p, n);
    if (n) s->b[d].gate_ok = 0;   /* the next message waits its own turn */
}

/* corrupt: the payload ranges of p[0..n), found by following a copy of the outgoing framing
 * (grpc_out_bytes advances the real one once the bytes are out) */
static uint64_t grpc_corrupt(struct h2_stream *s, int d, uint8_t *p, size_t n)
{
    struct grpc_fr fr = s->b[d].fout;
    uint64_t hits = 0;
    while (n) {
        if (fr.have < 5) {                       /* prefix bytes pass as they are */
            size_t take = 5u - fr.have < n ? 5u - fr.have : n;
            fr_advance(&fr, p, take);
            p += take;
            n -= take;
            continue;
        }
        size_t take = fr.left < n ? fr.left : n;
        hits += corrupt_flip(p, take, s->pl.corrupt_rate, &s->pl.corrupt_gap);
        fr_advance(&fr, p, take);
        p += take;
        n -= take;
    }
    return hits;
}

static int grpc_act(struct h2_stream *s)
{
    if (s->pl.act == HACT_GRPC_ERROR) {
        h2_answer_grpc(s, s->pl.grpc_status, s->pl.body ? s->pl.body : "");
        if (s->pl.grpc_status > 0) s->h->tot->grpc_errors++;
        return 0;
    }
    return 1;   /* grpc_cut acts on the response (grpc_out_limit) */
}

/* The grpc-status the client got: none when the stream was reset (by anyone) or the client left
 * before the answer was out -- the upstream's status of a response a fault held is not the call's. */
static int grpc_status_seen(const struct h2_stream *s)
{
    if (s->rst_by != CLOSER_NONE) return -1;
    if (s->t_abandoned && (!s->t_done || s->t_done >= s->t_abandoned)) return -1;
    return s->grpc_status;
}

static void grpc_facts(const struct h2_stream *s, struct rec_kv *kv)
{
    int st = grpc_status_seen(s);
    if (st >= 0) rec_kv_u64(kv, "grpc_status", (uint64_t)st);
    if (s->grpc_timeout_us >= 0) rec_kv_ms(kv, "grpc_timeout_ms", s->grpc_timeout_us);
    rec_kv_u64(kv, "msgs_req", s->b[0].fin.msgs);
    rec_kv_u64(kv, "msgs_resp", s->b[1].fout.msgs);
    if (s->prev_attempts > 0) rec_kv_u64(kv, "prev_attempts", (uint64_t)s->prev_attempts);
}

static int grpc_failed(const struct h2_stream *s) { return grpc_status_seen(s) > 0; }

const struct h2_mode h2_mode_grpc = {
    .request_head = grpc_request_head,
    .response_fields = grpc_response_fields,
    .out_limit = grpc_out_limit,
    .in_bytes = grpc_in_bytes,
    .out_bytes = grpc_out_bytes,
    .corrupt = grpc_corrupt,
    .act = grpc_act,
    .facts = grpc_facts,
    .failed = grpc_failed,
};
