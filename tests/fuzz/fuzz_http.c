/* fuzz_http.c -- libFuzzer harness for http mode (proxy/protocols/http.c): the request path, the
 * response path and the per-request fault logic, driven through the real data path.
 *
 * One server is built once from a profile (below) with two http proxies that carry every
 * per-request fault type, routed by path prefix so that the input picks the fault of each
 * request: /e error, /lq latency before the request, /lr latency before the response, /hn hang
 * holding the request (released when the fault ends), /hy hang forwarding it (reset at the
 * end), /hk hang kept, /t truncate, /s slow_body, /x reset; match_method / match_host /
 * match_header faults too. Proxy "v" adds Via lines and a TCP slicer stage, and the global
 * buffer is small so that input bounds and backpressure pause and resume reading.
 *
 * Each input is one connection pair built as conn_accept builds it, except that both sides are
 * libevent bufferevent pairs (no sockets, callbacks deferred to the loop as with sockets): the
 * harness holds the client's and the upstream's ends. Input format: byte 0 picks the proxy;
 * then records [h][...]: bit 7 of h = side (0 client, 1 upstream); bit 6 clear = data, the
 * next h & 0x3f bytes are written by that side; bit 6 set = an event (h & 7): EOF from the
 * side, fire the connection's timers, the faults' windows end, upstream connect succeeds,
 * upstream connect fails, the side stops/starts reading, the side resets, run the loop.
 * After every record the event loop runs (non-blocking) until nothing is pending.
 *
 * Checked: no crash, no sanitizer report, no leak, and when the connection is gone the proxy's
 * active and in-flight counters are back where they were (no request left unaccounted).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include "proxy/proxy.h"
#include "proxy/protocols/http.h"
#include "faults/http_fault.h"
#include "common/log.h"
#include "proxy/profile.h"
#include "record/record.h"

#define FAULTS(P)                                                                                       \
    "[fault " P "e]\nproxy = " P "\ntype = http_error\nstatus = 503\nheader = Retry-After: 5\nmatch_path = /e*\n" \
    "[fault " P "e2]\nproxy = " P "\ntype = http_error\nstatus = 200\nbody = hi\nmatch_header = X-Err: *\n"       \
    "[fault " P "m]\nproxy = " P "\ntype = http_error\nstatus = 418\nmatch_method = P*\nmatch_host = *.bad\n"    \
    "[fault " P "lq]\nproxy = " P "\ntype = latency\nwhere = request\ndelay = 0\nmatch_path = /lq*\n"            \
    "[fault " P "lr]\nproxy = " P "\ntype = latency\nwhere = response\ndelay = 1ms\njitter = 1ms\nmatch_path = /lr*\n" \
    "[fault " P "hn]\nproxy = " P "\ntype = hang\nforward = no\non_end = release\nmatch_path = /hn*\n"           \
    "[fault " P "hy]\nproxy = " P "\ntype = hang\nforward = yes\non_end = reset\nmatch_path = /hy*\n"            \
    "[fault " P "hk]\nproxy = " P "\ntype = hang\nforward = no\non_end = keep\nmatch_path = /hk*\n"              \
    "[fault " P "t]\nproxy = " P "\ntype = truncate\nafter_bytes = 5\nmatch_path = /t*\n"                        \
    "[fault " P "s]\nproxy = " P "\ntype = slow_body\nrate = 1KiB\nmatch_path = /s*\n"                           \
    "[fault " P "x]\nproxy = " P "\ntype = reset\nmatch_path = /x*\n"

static const char PROFILE[] =
    "[faultline]\nadmin = off\nlog = error\nbuffer = 4KiB\ndrain = 1s\n"
    "[proxy h]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:1\nmode = http\nenabled = no\n"
    "[proxy v]\nlisten = 127.0.0.1:2\nupstream = 127.0.0.1:1\nmode = http\nadd_via = yes\nenabled = no\n"
    FAULTS("h") FAULTS("v")
    "[fault vsl]\nproxy = v\ntype = slicer\nsize = 7\ndelay = 0\n";

static struct fl_server *S;
static struct fl_proxy *PX[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    char err[1024];
    struct profile *p = profile_parse("fuzz_http.ini", PROFILE, 0, err, sizeof(err));
    if (!p) { fprintf(stderr, "fuzz_http: profile: %s\n", err); abort(); }
    S = server_new(p, err, sizeof(err));
    if (!S) { fprintf(stderr, "fuzz_http: server: %s\n", err); abort(); }
    log_min_level = LOG_ERROR;
    PX[0] = server_find_proxy(S, "h");
    PX[1] = server_find_proxy(S, "v");
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
    http_conn_new(c);
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

/* Fires the pending timers that belong to c: its http state's and its stages'. */
struct timers { struct conn *c; struct event *ev[64]; int n; };

static int collect(const struct event_base *b, const struct event *ev, void *arg)
{
    (void)b;
    struct timers *t = arg;
    void *a = event_get_callback_arg(ev);
    int mine = a == t->c->proto;
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
                for (int i = 0; i < px->nfaults && alive(px, c); i++)
                    if (px->faults[i]->type->http) http_fault_ended(px->faults[i]);
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
    if (alive(px, c)) { fprintf(stderr, "fuzz_http: connection never freed\n"); abort(); }
    bufferevent_free(pc[1]);
    bufferevent_free(pu[1]);
    settle();
    if (px->st.active != active0) { fprintf(stderr, "fuzz_http: active %llu -> %llu\n", (unsigned long long)active0, (unsigned long long)px->st.active); abort(); }
    if (px->st.inflight != inflight0) { fprintf(stderr, "fuzz_http: inflight %llu -> %llu\n", (unsigned long long)inflight0, (unsigned long long)px->st.inflight); abort(); }
    return 0;
}
