/* fuzz_h2.c -- libFuzzer harness for mode = http2 and mode = grpc (proxy/protocols/http2*.c,
 * grpc.c): both nghttp2 sessions of a connection pair, the stream mapping, the data providers and
 * every per-stream fault, driven by hostile frames from both sides through the real data path.
 *
 * One server is built once from a profile (below) with an http2 proxy and a grpc proxy, each
 * carrying per-stream faults routed by :path prefix (/e error, /lq /lr latency, /hn /hy hang,
 * /t truncate, /s slow_body, /r RST_STREAM, /g GOAWAY, /st flow stall; grpc: /E grpc_error,
 * /C grpc_cut, /L per-message latency, /H hang after a message) plus the per-connection ones
 * (h2_max_streams, h2_ping_drop); the buffer is small so that windows and backpressure bite.
 *
 * Each input is one connection pair built as conn_accept builds it, but on libevent bufferevent
 * pairs (no sockets): the harness holds the client's and the upstream's ends. Input format, as
 * fuzz_http.c: byte 0 picks the proxy; then records [h][...]: bit 7 of h = side (0 client, 1
 * upstream); bit 6 clear = data, the next h & 0x3f bytes are written by that side; bit 6 set =
 * an event (h & 7): EOF from the side, fire the connection's timers, the faults' windows end
 * (client side) or start (upstream side: fault_started, a new SETTINGS to a live connection),
 * upstream connect succeeds, upstream connect fails, the side stops/starts reading, the side
 * resets, run the loop. Seeds (tests/fuzz/mkseeds_h2.py) start with valid prefaces, requests and
 * responses, so that mutations reach the streams.
 *
 * Checked: no crash, no sanitizer report, no leak, and when the connection is gone the proxy's
 * active and in-flight counters are back where they were (no stream left unaccounted).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include "proxy/proxy.h"
#include "proxy/protocols/http2_int.h"
#include "faults/http_fault.h"
#include "common/log.h"
#include "proxy/profile.h"
#include "record/record.h"

#define F(P, N, T, K) "[fault " P N "]\nproxy = " P "\ntype = " T "\n" K
#define FAULTS(P)                                                                                          \
    F(P, "e", "http_error", "status = 503\nheader = Retry-After: 5\nmatch_path = /e*\n")                   \
    F(P, "lq", "latency", "where = request\ndelay = 0\nmatch_path = /lq*\n")                               \
    F(P, "lr", "latency", "where = response\ndelay = 1ms\nmatch_path = /lr*\n")                            \
    F(P, "hn", "hang", "forward = no\non_end = release\nmatch_path = /hn*\n")                              \
    F(P, "hy", "hang", "on_end = reset\nafter_messages = 1\nmatch_path = /hy*\n")                          \
    F(P, "t", "truncate", "after_bytes = 5\nmatch_path = /t*\n")                                           \
    F(P, "s", "slow_body", "rate = 1KiB\nmatch_path = /s*\n")                                              \
    F(P, "r", "h2_rst_stream", "code = cancel\nwhere = response\nmatch_path = /r*\n")                       \
    F(P, "rq", "h2_rst_stream", "match_path = /q*\n")                                                      \
    F(P, "g", "h2_goaway", "match_path = /g*\n")                                                           \
    F(P, "gi", "h2_goaway", "mode = immediate\nmatch_path = /i*\n")                                        \
    F(P, "st", "h2_flow_stall", "match_path = /st*\n")                                                     \
    F(P, "x", "reset", "match_path = /x*\n")                                                               \
    F(P, "m", "h2_max_streams", "max_streams = 3\n")                                                       \
    F(P, "p", "h2_ping_drop", "probability = 0.5\n")

static const char PROFILE[] =
    "[faultline]\nadmin = off\nlog = error\nbuffer = 16KiB\ndrain = 1s\n"
    "[proxy h]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:1\nmode = http2\nenabled = no\n"
    "[proxy g]\nlisten = 127.0.0.1:2\nupstream = 127.0.0.1:1\nmode = grpc\nadd_via = yes\nenabled = no\n"
    FAULTS("h") FAULTS("g")
    F("g", "E", "grpc_error", "status = unavailable\nmatch_path = /E*\n")
    F("g", "C", "grpc_cut", "after_messages = 1\nmatch_path = /C*\n")
    F("g", "L", "latency", "where = response\ndelay = 1ms\nmatch_path = /L*\n");

static struct fl_server *S;
static struct fl_proxy *PX[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    char err[1024];
    struct profile *p = profile_parse("fuzz_h2.ini", PROFILE, 0, err, sizeof(err));
    if (!p) { fprintf(stderr, "fuzz_h2: profile: %s\n", err); abort(); }
    S = server_new(p, err, sizeof(err));
    if (!S) { fprintf(stderr, "fuzz_h2: server: %s\n", err); abort(); }
    log_min_level = LOG_ERROR;
    PX[0] = server_find_proxy(S, "h");
    PX[1] = server_find_proxy(S, "g");
    if (!PX[0] || !PX[1]) abort();
    return 0;
}

/* Builds a connection as conn_accept does, on bufferevent pairs. */
static struct conn *pair_conn(struct fl_proxy *px, struct bufferevent *cli, struct bufferevent *up)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) abort();
    c->id = ++S->next_conn_id;
    c->px = px;
    c->t_open = fl_now_us();
    c->cli = cli;
    c->up = up;
    c->p[0] = (struct pipe){.c = c, .dir = 0, .src = c->cli, .dst = c->up};
    c->p[1] = (struct pipe){.c = c, .dir = 1, .src = c->up, .dst = c->cli};
    px->spec.protocol->conn_init(c);
    conn_setcb(c);
    size_t half = S->g.buffer / 2;
    bufferevent_setwatermark(c->cli, EV_WRITE, half, 0);
    bufferevent_setwatermark(c->up, EV_WRITE, half, 0);
    c->next = px->conns;
    if (px->conns) px->conns->prev = c;
    px->conns = c;
    px->st.accepted++;
    px->st.active++;
    if (rec_active) rec_conn_open(proxy_rec(px), px->st.active);
    bufferevent_enable(c->cli, EV_READ | EV_WRITE);
    bufferevent_enable(c->up, EV_READ | EV_WRITE);
    if (px->nfaults) conn_sync_stages(c);
    return c;
}

static int alive(struct fl_proxy *px, struct conn *c)
{
    for (struct conn *o = px->conns; o; o = o->next)
        if (o == c) return 1;
    return 0;
}

static void settle(void)
{
    for (int i = 0; i < 32; i++) {
        event_base_loop(S->base, EVLOOP_NONBLOCK);
        if (event_base_get_num_events(S->base, EVENT_BASE_COUNT_ACTIVE) == 0) break;
    }
}

/* Fires the pending timers that belong to c: its streams' and its stages'. */
struct timers { struct conn *c; struct event *ev[64]; int n; };

static int collect(const struct event_base *b, const struct event *ev, void *arg)
{
    (void)b;
    struct timers *t = arg;
    void *a = event_get_callback_arg(ev);
    int mine = event_get_callback(ev) == h2_timer_cb;   /* one connection at a time: its streams' */
    for (int d = 0; d < 2 && !mine; d++)
        for (int i = 0; i < t->c->p[d].ch.nstages; i++)
            if (a == t->c->p[d].ch.stages[i]) mine = 1;
    if (mine && t->n < 64 && event_pending(ev, EV_TIMEOUT, NULL)) t->ev[t->n++] = (struct event *)ev;
    return 0;
}

static void fire_timers(struct conn *c)
{
    struct timers t = {.c = c};
    event_base_foreach_event(S->base, collect, &t);
    for (int i = 0; i < t.n; i++) event_active(t.ev[i], EV_TIMEOUT, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536) return 0;
    struct fl_proxy *px = PX[data[0] & 1];
    uint64_t active0 = px->st.active, inflight0 = px->st.inflight;
    struct bufferevent *pc[2], *pu[2];   /* [0] the proxy's side, [1] the harness's */
    if (bufferevent_pair_new(S->base, BEV_OPT_DEFER_CALLBACKS, pc) < 0) abort();
    if (bufferevent_pair_new(S->base, BEV_OPT_DEFER_CALLBACKS, pu) < 0) abort();
    struct bufferevent *peer[2] = {pc[1], pu[1]};
    bufferevent_enable(pc[1], EV_READ | EV_WRITE);
    bufferevent_enable(pu[1], EV_READ | EV_WRITE);
    struct conn *c = pair_conn(px, pc[0], pu[0]);
    int connected = 0, failed = 0, eof[2] = {0, 0}, reading[2] = {1, 1};
    size_t o = 1;
    settle();
    while (o < size && alive(px, c)) {
        uint8_t h = data[o++];
        int side = h >> 7;
        if (!(h & 0x40)) {
            size_t n = h & 0x3f;
            if (n > size - o) n = size - o;
            const uint8_t *b = data + o;
            o += n;
            if (eof[side] || (side == 1 && failed)) continue;
            if (side == 1 && !connected) {
                if (!c->up) continue;
                connected = 1;
                bufferevent_trigger_event(c->up, BEV_EVENT_CONNECTED, 0);
                settle();
                if (!alive(px, c)) break;
            }
            bufferevent_write(peer[side], b, n);
        } else {
            switch (h & 7) {
            case 0:   /* EOF, once everything written before it was taken */
                if (eof[side] || (side == 1 && (failed || !connected))) break;
                if (evbuffer_get_length(bufferevent_get_output(peer[side]))) break;
                eof[side] = 1;
                bufferevent_flush(peer[side], EV_WRITE, BEV_FINISHED);
                break;
            case 1: fire_timers(c); break;
            case 2:
                for (int i = 0; i < px->nfaults && alive(px, c); i++) {
                    if (!px->faults[i]->type->http) continue;
                    if (side) px->spec.protocol->fault_started(px->faults[i]);
                    else px->spec.protocol->fault_ended(px->faults[i]);
                }
                break;
            case 3:
                if (connected || failed || !c->up) break;
                connected = 1;
                bufferevent_trigger_event(c->up, BEV_EVENT_CONNECTED, 0);
                break;
            case 4:
                if (connected || failed || !c->up) break;
                failed = 1;
                bufferevent_trigger_event(c->up, BEV_EVENT_ERROR, 0);
                break;
            case 5:
                reading[side] = !reading[side];
                if (reading[side]) bufferevent_enable(peer[side], EV_READ);
                else bufferevent_disable(peer[side], EV_READ);
                break;
            case 6: {
                struct bufferevent *b = side ? c->up : c->cli;
                if (b && (side == 0 || connected))
                    bufferevent_trigger_event(b, BEV_EVENT_ERROR | BEV_EVENT_READING, 0);
                break;
            }
            default: break;
            }
        }
        settle();
        /* what reached the harness's ends was delivered: a real peer reads it */
        for (int d = 0; d < 2; d++)
            if (reading[d]) evbuffer_drain(bufferevent_get_input(peer[d]), evbuffer_get_length(bufferevent_get_input(peer[d])));
    }
    if (alive(px, c) && !c->closing) conn_close(c, CLOSER_PROXY, CLOSE_RST);
    settle();
    if (alive(px, c)) {
        /* a side still flushing (FIN close): its reader went away */
        if (c->cli) bufferevent_trigger_event(c->cli, BEV_EVENT_ERROR, 0);
        settle();
        if (alive(px, c) && c->up) bufferevent_trigger_event(c->up, BEV_EVENT_ERROR, 0);
        settle();
    }
    if (alive(px, c)) { fprintf(stderr, "fuzz_h2: connection never freed\n"); abort(); }
    bufferevent_free(pc[1]);
    bufferevent_free(pu[1]);
    settle();
    if (px->st.active != active0) { fprintf(stderr, "fuzz_h2: active %llu -> %llu\n", (unsigned long long)active0, (unsigned long long)px->st.active); abort(); }
    if (px->st.inflight != inflight0) { fprintf(stderr, "fuzz_h2: inflight %llu -> %llu\n", (unsigned long long)inflight0, (unsigned long long)px->st.inflight); abort(); }
    return 0;
}
