/* http2_plan.c -- which fault an HTTP/2 stream gets, and what it does to it.
 *
 * When a request head is complete the engine walks the proxy's faults in profile order and
 * takes the first that acts per request (a type with `.http`, faults/http_fault.h), is active,
 * matches (match_method, match_path, match_host against :authority, match_header) and whose
 * probability roll says yes -- exactly as http mode does, one roll per stream. The type plans
 * (struct http_fault_plan) and the engine acts, per stream: the other streams of the connection
 * are untouched (no head-of-line blocking, unlike HTTP/1.1).
 *
 *   latency      the request waits before it is forwarded (where = request), or the response
 *                head before it is passed on (where = response)
 *   hang         the request is held (forward = no) or its response (forward = yes) until the
 *                fault ends: release lets it go, reset resets the stream, keep keeps it
 *   http_error   the proxy answers; the upstream never sees the stream
 *   slow_body    the response body leaves at `rate` bytes per second (the data provider waits)
 *   truncate     `after_bytes` of the response body, then RST_STREAM INTERNAL_ERROR
 *   reset        the whole connection is reset (TCP RST), as in http mode
 *   h2_*         RST_STREAM with a code, GOAWAY, a flow-control stall (below); and the two
 *                per-connection ones, h2_max_streams and h2_ping_drop, rolled once per
 *                connection (h2_conn_faults), which no stream chooses
 *   grpc_*       acted on by the gRPC layer (struct h2_mode act)
 *
 * A fault that ends lets go of what it holds (h2_fault_ended, the protocol's fault_ended) and
 * every pointer to it is dropped. An h2_max_streams that starts reaches live connections at once
 * (h2_fault_started): a new SETTINGS frame, not one at the client's next frame.
 */
#include "proxy/protocols/http2_int.h"
#include "proxy/protocols/http2.h"
#include "proxy/proxy.h"
#include "faults/scope.h"
#include "common/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int h2_fault_inside(const struct fault *f) { return f->type->http != NULL; }

static int per_conn(enum http_act a) { return a == HACT_MAX_STREAMS || a == HACT_PING_DROP; }

static int host_matches(const char *pat, const char *h)
{
    if (glob_match(pat, h)) return 1;
    char nop[512];
    snprintf(nop, sizeof(nop), "%s", h);   /* also without the port */
    char *colon = strrchr(nop, ':'), *rb = strchr(nop, ']');
    if (colon && (!rb || colon > rb)) *colon = 0;
    return strcasecmp(pat, nop) == 0 || glob_match(pat, nop);
}

static int fault_matches(const struct h2_stream *s, const struct fault *f)
{
    if (f->match_method && strcasecmp(f->match_method, s->method) != 0 && !glob_match(f->match_method, s->method))
        return 0;
    if (f->match_path && !glob_match(f->match_path, s->path ? s->path : "")) return 0;
    if (f->match_host && !host_matches(f->match_host, s->authority ? s->authority : "")) return 0;
    if (f->match_header_name) {
        const struct h2_head *hd = &s->rq;
        size_t nl = strlen(f->match_header_name);
        char v[8192];
        for (int i = 0; i < hd->n; i++) {
            const struct h2_hdr *e = &hd->h[i];
            if (e->n_len != nl || strncasecmp(hd->b + e->n_off, f->match_header_name, nl) != 0) continue;
            size_t vl = e->v_len < sizeof(v) - 1 ? e->v_len : sizeof(v) - 1;
            memcpy(v, hd->b + e->v_off, vl);
            v[vl] = 0;
            if (glob_match(f->match_header_value, v)) return 1;
        }
        return 0;
    }
    return 1;
}

void h2_choose_fault(struct h2_stream *s)
{
    struct conn *c = s->h->c;
    struct fl_proxy *px = c->px;
    for (int i = 0; i < px->nfaults; i++) {
        struct fault *f = px->faults[i];
        if (!f->type->http || !f->type->http->plan || !fault_is_active(f)) continue;   /* no plan: close_after */
        struct http_fault_plan pl;
        memset(&pl, 0, sizeof(pl));
        f->type->http->plan(f, &pl);
        if (per_conn(pl.act) || !fault_matches(s, f)) continue;
        if (!scope_admits(f, (const struct sockaddr *)&c->peer_sa)) continue;   /* clients (faults/scope.h) */
        f->c.conns_seen++;
        int sel = f->probability >= 1.0 || (f->probability > 0 && fl_rand01() < f->probability);
        if (!sel || !scope_take(f)) continue;   /* max_active: past it the stream passes (capped) */
        s->scoped = f->max_active != 0;
        f->c.conns_affected++;
        f->c.requests_affected++;
        s->f = f;
        snprintf(s->fault_name, sizeof(s->fault_name), "%s", f->name);
        s->pl = pl;
        conn_fault_applied(c, f);
        return;
    }
}

static int64_t plan_delay_us(const struct http_fault_plan *pl) { return pl->delay_us + fl_jitter_us(pl->jitter_us); }

int h2_plan_request(struct h2_stream *s)
{
    struct h2_conn *h = s->h;
    struct fault *f = s->f;
    const struct http_fault_plan *pl = &s->pl;
    switch (pl->act) {
    case HACT_ERROR:
        h2_answer(s, pl->status, pl->body, pl->headers, pl->nheaders);
        return 0;
    case HACT_RESET:
        if (f) f->c.resets++;
        s->rst_by = CLOSER_FAULT;
        h2_close(h, CLOSER_FAULT, CLOSE_RST);
        return 0;
    case HACT_HANG:
        s->held = 1;
        if (pl->forward) return 1;          /* the response is held (h2_plan_response) */
        s->rq_wait = H2W_HOLD;
        return 0;
    case HACT_LATENCY:
        if (pl->where_response) return 1;
        s->rq_wait = H2W_LATENCY;
        h2_arm(s, 0, plan_delay_us(pl));
        return 0;
    case HACT_RST_STREAM:
        if (pl->where_response) return 1;
        if (f) f->c.resets++;
        h2_reset(s, pl->h2_code, CLOSER_FAULT);
        return 0;
    case HACT_GOAWAY:
        h->goaway = 1;
        h->closing_by = CLOSER_FAULT;
        if (pl->graceful) {
            /* this stream is the last one served: it goes on */
            nghttp2_submit_goaway(h->srv, NGHTTP2_FLAG_NONE, s->cid, pl->h2_code, NULL, 0);
            return 1;
        }
        if (f) f->c.closes++;
        s->rst_by = CLOSER_FAULT;
        s->rst_code = NGHTTP2_REFUSED_STREAM;
        s->local = 1;
        nghttp2_session_terminate_session2(h->srv, h->last_fwd_cid, pl->h2_code);
        return 0;
    case HACT_FLOW_STALL:
        s->b[pl->where_response ? 1 : 0].stalled = 1;
        h->tot->stalled_streams++;
        return 1;
    case HACT_GRPC_ERROR:
    case HACT_GRPC_CUT:
        return h->mode ? h->mode->act(s) : 1;
    default:
        return 1;
    }
}

int h2_plan_response(struct h2_stream *s)
{
    const struct http_fault_plan *pl = &s->pl;
    switch (pl->act) {
    case HACT_HANG:
        if (!pl->forward || (s->h->mode && pl->messages > 0)) return 1;   /* grpc: held after N messages */
        s->rs_wait = H2W_HOLD;
        return 0;
    case HACT_LATENCY:
        if (!pl->where_response) return 1;
        s->rs_wait = H2W_LATENCY;
        h2_arm(s, 1, plan_delay_us(pl));
        return 0;
    case HACT_RST_STREAM:
        if (!pl->where_response) return 1;
        if (s->f) s->f->c.resets++;
        h2_reset(s, pl->h2_code, CLOSER_FAULT);
        return 0;
    default:
        return 1;
    }
}

/* slow_body: tokens at `rate` bytes per second, a burst of a twentieth of a second */
static size_t slow_limit(struct h2_stream *s, size_t want)
{
    uint64_t rate = s->pl.rate ? s->pl.rate : 1;
    int64_t now = fl_now_us();
    double burst = (double)rate / 20.0;
    if (burst < 1) burst = 1;
    if (!s->sb_last_us) s->sb_last_us = now;
    s->sb_tokens += (double)(now - s->sb_last_us) * (double)rate / 1e6;
    if (s->sb_tokens > burst) s->sb_tokens = burst;
    s->sb_last_us = now;
    if (s->sb_tokens < 1) {
        h2_arm(s, 1, (int64_t)((1.0 - s->sb_tokens) * 1e6 / (double)rate) + 1);
        return 0;
    }
    if ((double)want > s->sb_tokens) want = (size_t)s->sb_tokens;
    s->sb_tokens -= (double)want;
    return want;
}

size_t h2_plan_out_limit(struct h2_stream *s, int d, size_t want)
{
    const struct http_fault_plan *pl = &s->pl;
    if (s->cut_pending) return 0;
    if (d == 1 && pl->act == HACT_SLOW_BODY) want = slow_limit(s, want);
    if (d == 1 && pl->act == HACT_TRUNCATE && want) {
        uint64_t out = s->b[1].out;
        if (out >= pl->after_bytes) {
            if (s->f) s->f->c.closes++;
            h2_reset(s, NGHTTP2_INTERNAL_ERROR, CLOSER_FAULT);
            return 0;
        }
        if (want >= pl->after_bytes - out) {
            want = (size_t)(pl->after_bytes - out);
            s->cut_pending = 1;     /* reset once this DATA frame is out (http2.c on_frame_send) */
            if (s->f) s->f->c.closes++;
        }
    }
    if (want && s->h->mode) want = s->h->mode->out_limit(s, d, want);
    return want;
}

/* ---- per-connection faults ---- */

/* Whether per-connection fault f acts on this connection (rolled once, remembered). */
static int decide(struct h2_conn *h, const struct fault *f)
{
    for (int i = 0; i < h->ndec; i++)
        if (h->dec[i].f == f) return h->dec[i].yes;
    struct fault *mf = (struct fault *)f;
    if (!scope_admits(f, (const struct sockaddr *)&h->c->peer_sa)) return 0;   /* clients (faults/scope.h) */
    mf->c.conns_seen++;
    int yes = f->probability >= 1.0 || (f->probability > 0 && fl_rand01() < f->probability);
    /* max_active: a connection holds its place until it closes or the fault ends (a decision
     * that cannot be remembered takes none) */
    int scoped = 0;
    if (yes && h->ndec < H2_CONN_DECISIONS && f->max_active) {
        yes = scope_take(mf);
        scoped = yes;
    }
    if (yes) {
        mf->c.conns_affected++;
        conn_fault_applied(h->c, f);
    }
    if (h->ndec < H2_CONN_DECISIONS) h->dec[h->ndec++] = (struct h2_decision){f, yes, scoped};
    return yes;
}

static int conn_fault_acts(struct h2_conn *h, enum http_act act, uint32_t *max)
{
    struct fl_proxy *px = h->c->px;
    int any = 0;
    for (int i = 0; i < px->nfaults; i++) {
        struct fault *f = px->faults[i];
        if (!f->type->http || !f->type->http->plan || !fault_is_active(f)) continue;   /* no plan: close_after */
        struct http_fault_plan pl;
        memset(&pl, 0, sizeof(pl));
        f->type->http->plan(f, &pl);
        if (pl.act != act || !decide(h, f)) continue;
        any = 1;
        if (max && pl.max_streams < *max) *max = pl.max_streams;
    }
    return any;
}

uint32_t h2_conn_max_streams(struct h2_conn *h)
{
    uint32_t want = H2_MAX_STREAMS;
    if (h->c->px->nfaults) conn_fault_acts(h, HACT_MAX_STREAMS, &want);
    return want;
}

void h2_conn_faults(struct h2_conn *h)
{
    if (!h->c->px->nfaults && h->adv_max == H2_MAX_STREAMS) return;
    uint32_t want = h2_conn_max_streams(h);
    if (want == h->adv_max || !h->srv || h->dead) return;
    nghttp2_settings_entry iv = {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, want};
    if (nghttp2_submit_settings(h->srv, NGHTTP2_FLAG_NONE, &iv, 1) == 0) h->adv_max = want;
}

int h2_conn_drops_pings(struct h2_conn *h)
{
    return h->c->px->nfaults && conn_fault_acts(h, HACT_PING_DROP, NULL);
}

void h2_corrupt(struct h2_stream *s, uint8_t *p, size_t n)
{
    if (s->h->mode && s->h->mode->corrupt) s->h->mode->corrupt(s, 1, p, n);
    else corrupt_flip(p, n, s->pl.corrupt_rate, &s->pl.corrupt_gap);
}

/* close_after (faults/close_after.c): after each whole response, a fault whose after_response says
 * so (`requests` responses, `age` since the connection opened, `bytes` to the client) ends the
 * connection between responses. close = fin: a graceful GOAWAY (NO_ERROR, last-stream-id = the
 * last stream taken): the streams under way finish, the client opens a new connection for the
 * next ones, and the pair closes once they are done. close = rst: the connection is reset once
 * this round of frames is out (check_end). Rolled once per response it would close on. */
void h2_close_after(struct h2_conn *h)
{
    struct conn *c = h->c;
    h->responses++;
    if (h->goaway || h->ca_rst || h->dead || c->closing) return;
    for (int i = 0; i < c->px->nfaults; i++) {
        struct fault *f = c->px->faults[i];
        if (!f->type->http || !f->type->http->after_response || !fault_is_active(f)) continue;
        if (!scope_admits(f, (const struct sockaddr *)&c->peer_sa)) continue;
        int how = f->type->http->after_response(f, h->responses, fl_now_us() - c->t_open, c->p[1].bytes);
        if (!how || (f->probability < 1.0 && !(fl_rand01() < f->probability))) continue;
        f->c.conns_affected++;
        conn_fault_applied(c, f);
        h->again = 1;
        if (how == CLOSE_RST) {
            f->c.resets++;
            h->ca_rst = 1;
            return;
        }
        f->c.closes++;
        nghttp2_submit_goaway(h->srv, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->srv),
                              NGHTTP2_NO_ERROR, NULL, 0);
        h->goaway = 1;
        h->closing_by = CLOSER_FAULT;
        return;
    }
}

/* ---- timers and a fault's end ---- */

void h2_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct h2_stream *s = arg;
    struct h2_conn *h = s->h;
    struct conn *c = h->c;
    c->busy++;
    if (!c->closing && !h->dead) {
        /* which of the stream's two timers: the one no longer pending */
        int d0 = s->tm[0] && !evtimer_pending(s->tm[0], NULL);
        int d1 = s->tm[1] && !evtimer_pending(s->tm[1], NULL);
        if (d0 && s->rq_wait == H2W_LATENCY) {
            s->rq_wait = H2W_NONE;
            h2_forward_request(s);
        } else if (d0) {
            h2_body_resume(s, 0);
        }
        if (d1 && s->rs_wait == H2W_LATENCY) {
            s->rs_wait = H2W_NONE;
            h2_submit_response(s);
        } else if (d1) {
            h2_body_resume(s, 1);
        }
        h2_flush(h);
    }
    if (--c->busy == 0 && c->dead) conn_free(c);
}

/* Stream s held by fault f: f ended (or is removed); its on_end says what follows. */
static void release_stream(struct h2_stream *s, struct fault *f)
{
    if (!s->held) return;
    switch (s->pl.on_end) {
    case HANG_RELEASE:
        s->held = 0;
        if (s->rq_wait == H2W_HOLD) {
            s->rq_wait = H2W_NONE;
            h2_forward_request(s);
        } else if (s->rs_wait == H2W_HOLD) {
            s->rs_wait = H2W_NONE;
            if (s->rs_final) h2_submit_response(s);
        } else {
            s->pl.act = HACT_NONE;   /* a gRPC stream held after N messages flows on */
            h2_body_resume(s, 1);
        }
        break;
    case HANG_RESET:
        f->c.resets++;
        s->held = 0;
        h2_reset(s, NGHTTP2_INTERNAL_ERROR, CLOSER_FAULT);
        break;
    case HANG_KEEP:
    default:
        s->held_at_end = 1;   /* stays held: a dependency that really died */
        break;
    }
}

void h2_fault_started(struct fault *f)
{
    struct fl_proxy *px = f->px;
    if (!px || (px->spec.protocol != &protocol_http2 && px->spec.protocol != &protocol_grpc)) return;
    if (!f->type->http || !f->type->http->plan) return;
    struct http_fault_plan pl;
    memset(&pl, 0, sizeof(pl));
    f->type->http->plan(f, &pl);
    if (pl.act != HACT_MAX_STREAMS) return;   /* h2_ping_drop acts on the next PING by itself */
    for (struct conn *c = px->conns, *next; c; c = next) {
        c->busy++;
        struct h2_conn *h = c->proto;
        if (h && !c->closing && !h->dead) {
            h2_conn_faults(h);
            if (h->started) h2_flush(h);   /* else it leaves with the first flush, after the preface */
        }
        next = c->next;
        if (--c->busy == 0 && c->dead) conn_free(c);
    }
}

void h2_fault_ended(struct fault *f)
{
    struct fl_proxy *px = f->px;
    if (!px || (px->spec.protocol != &protocol_http2 && px->spec.protocol != &protocol_grpc)) return;
    for (struct conn *c = px->conns, *next; c; c = next) {
        c->busy++;
        struct h2_conn *h = c->proto;
        if (h && !c->closing && !h->dead) {
            for (struct h2_stream *s = h->streams; s && !c->closing; s = s->next) {
                if (s->f != f) continue;
                release_stream(s, f);
                if (s->scoped) scope_leave(f);
                s->scoped = 0;
                s->f = NULL;
            }
            for (int i = 0; i < h->ndec; i++) {
                if (h->dec[i].f != f) continue;
                if (h->dec[i].scoped) scope_leave(f);
                h->dec[i--] = h->dec[--h->ndec];
            }
            if (!c->closing) {
                h2_conn_faults(h);
                h2_flush(h);
            }
        }
        next = c->next;
        if (--c->busy == 0 && c->dead) conn_free(c);
    }
}
