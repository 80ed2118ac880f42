/* forward.c -- mode = forward: one listener a service reaches through HTTP_PROXY / HTTPS_PROXY, so
 * that every HTTP dependency of a service goes through faultline with one environment variable
 * (docs/tls.md, "Forward proxy").
 *
 * It is the http engine (proxy/protocols/http.c) with a destination per request. The engine's
 * state carries hc->fwd (struct fwd_conn), and http.c calls four hooks when it is set:
 *   - a request head is read (http_fwd_request): its target is read (forward_parse.c) -- an
 *     absolute-form URL `GET http://host:port/path`, or `CONNECT host:port` -- and checked against
 *     the allow-list (`allow`; without one, the names `resolve` maps): a destination not on it is
 *     answered 403 and counted (`denied`), never contacted, so the proxy is never an open one. An
 *     absolute-form head is rewritten for the origin server (origin-form target, Host of the URL,
 *     no Proxy-Connection / Proxy-Authorization). The request's host (what match_host matches and
 *     the record keeps) is the destination, "host:port";
 *   - a request goes upstream (http_fwd_route): when the connection's upstream is not the
 *     request's destination (or is gone), the request waits for the answers of the requests
 *     before it (HTTP/1.1 keeps them in order), then the upstream is replaced
 *     (conn_upstream_renew) and connected to the destination (conn_connect_route): an address
 *     `resolve` maps the name to, the literal address, or the name resolved with evdns (never
 *     blocking). Its failure is the http engine's usual 502;
 *   - each run (http_fwd_poll) lets a waiting request go once it is at the head of the FIFO;
 *   - the upstream closes while idle (http_fwd_idle_eof): the client's connection stays (its next
 *     request connects again); the EOF is passed on once the client has closed too.
 * CONNECT: the upstream is connected to the target; then (upstream_connected) the client gets
 * "200 Connection established" and the connection is pinned to that destination:
 *   - with tls_ca (the proxy terminates TLS), the HTTPS inside is opened: faultline's TLS starts
 *     on the client side with a leaf for the CONNECT host (tls_forward_client) and on the upstream
 *     side to the destination, verified against its host (tls_forward_upstream, before the
 *     connect), and the http engine reads the requests inside: HTTP faults act on them by host.
 *     No fault acts on the CONNECT itself;
 *   - without it, the connection becomes a byte tunnel. The per-request faults act on the CONNECT
 *     (latency delays the tunnel, hang holds it, http_error answers instead of 200, reset resets),
 *     byte faults (bandwidth, slicer, drop, ...) on the tunnel's bytes.
 *
 * What it does not do: pool upstream connections across clients (one upstream per client
 * connection at a time, replaced when the destination changes), HTTP/2 to the proxy, proxy
 * authentication (Proxy-Authorization is dropped, never checked), https:// URLs in a request line
 * (400: HTTPS goes through CONNECT), CIDR matching of resolved names (the allow-list matches what
 * the request says, common/allow.h).
 *
 * Ownership: struct fwd_conn belongs to the http engine's state (freed with it); the totals rows
 * live in a table for the process (frame.h's, by proxy name).
 */
#include "proxy/protocols/forward.h"
#include "proxy/protocols/http.h"
#include "proxy/protocols/http_int.h"
#include "proxy/protocols/frame.h"
#include "proxy/protocol.h"
#include "proxy/proxy.h"
#include "proxy/tls.h"
#include "common/inidoc.h"
#include "common/log.h"
#include "record/record.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Per proxy name: what the forward proxy did (the record's totals, /stats). */
struct fwd_totals {
    struct frame_totals head;
    uint64_t requests, connects, tunnels, opened, denied, refused, routes;
};
static struct frame_table fwd_table = {sizeof(struct fwd_totals), 256, 0, NULL};

struct fwd_conn {
    struct fwd_totals *tot;
    char host[FWD_HOST_MAX + 1];   /* the destination of the upstream connection ("" = none yet) */
    int port;
    struct http_req *waiting;      /* waits for the answers before it, then gets its destination */
    struct http_req *connect;      /* the CONNECT whose upstream is being made */
    int64_t t_ready;               /* its upstream is connected: its 200 may go from then (0 = not yet) */
    struct event *ready_ev;        /* owned: a latency's wait for that 200 */
    unsigned char live;            /* the upstream is up or being made */
    unsigned char sniff;           /* a CONNECT was answered: the client's first byte says what follows */
    unsigned char opened, tunnel;  /* pinned by a CONNECT: HTTP(S) opened, or a byte tunnel */
};

static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";

/* ---- the hooks of http.c ---- */

/* r is answered by the proxy (status, a one-line reason) and never reaches a destination. */
static int refuse(struct http_conn *hc, struct http_req *r, int status, const char *why)
{
    char body[256];
    snprintf(body, sizeof(body), "%d %s (faultline forward proxy)\n", status, why);
    http_answer_locally(hc, r, status, body, NULL, 0, r->is_connect);
    evbuffer_drain(hc->rq_head, evbuffer_get_length(hc->rq_head));
    if (r->is_connect) hc->rq_bad = 1;   /* what follows a refused CONNECT is not HTTP: dropped */
    return 1;
}

int http_fwd_request(struct http_conn *hc, struct http_req *r)
{
    struct fwd_conn *fw = hc->fwd;
    struct conn *c = hc->c;
    if (fw->opened) return 0;   /* inside an opened CONNECT: origin-form requests to its destination */
    struct fwd_target t;
    char *origin = NULL, dest[FWD_HOST_MAX + 16];
    const char *url = hc->hb + hc->url_off;
    int rc = r->is_connect ? fwd_parse_authority(url, hc->url_len, &t) : fwd_parse_absolute(url, hc->url_len, &t, &origin);
    if (rc < 0) {
        fw->tot->refused++;
        return refuse(hc, r, 400, rc == FWD_HTTPS ? "https:// URLs go through CONNECT"
                                  : rc == FWD_ORIGIN ? "this is a forward proxy: ask for absolute URLs (http://host/path) or CONNECT"
                                  : rc == FWD_USERINFO ? "credentials in the URL are not forwarded"
                                                       : "not a usable target");
    }
    fwd_target_str(&t, dest, sizeof(dest));
    if (!allow_match_host(&c->px->spec.fwd_allow, t.host, t.port)) {
        fw->tot->denied++;
        log_info("forward_denied", "proxy=%s id=%llu peer=%s dest=%s method=%s", log_q(c->px->spec.name),
                 (unsigned long long)c->id, log_q(conn_peer(c)), log_q(dest), r->method);
        free(origin);
        return refuse(hc, r, 403, "destination not in the proxy's allow-list");
    }
    free(r->host);
    if (!(r->host = strdup(dest))) abort();
    if (r->is_connect) {
        fw->tot->connects++;
        r->keep_alive = 0;                  /* a CONNECT answered otherwise than 200 closes the connection */
        if (!c->px->tls) return 0;          /* a tunnel: the per-request faults act on the CONNECT */
        http_forward_request(hc, r, hc->rq_head);   /* opened: faults act inside, not on the CONNECT */
        return 1;
    }
    fw->tot->requests++;
    struct evbuffer *nh = evbuffer_new();
    if (!nh) abort();
    size_t hl = evbuffer_get_length(hc->rq_head);
    rc = fwd_origin_head((const char *)evbuffer_pullup(hc->rq_head, -1), hl, origin, &t, nh);
    free(origin);
    if (rc < 0) {
        evbuffer_free(nh);
        fw->tot->refused++;
        return refuse(hc, r, 400, "not a usable request head");
    }
    evbuffer_drain(hc->rq_head, hl);
    evbuffer_add_buffer(hc->rq_head, nh);
    evbuffer_free(nh);
    return 0;
}

/* The engine's view of the upstream starts again: a new destination's connection. */
static void upstream_state_reset(struct http_conn *hc)
{
    hc->up_eof = hc->up_eof_done = hc->up_failed = hc->rs_dead = hc->rs_in_body = 0;
    hc->in_paused[1] = 0;
    hc->rs_wait = RSW_NONE;
    http_parser_init(&hc->rs, HTTP_RESPONSE);
    hc->rs.data = hc;
    evbuffer_drain(hc->rs_head, evbuffer_get_length(hc->rs_head));
}

/* Connects the connection's upstream to t (replacing the one it had). */
static int fwd_connect(struct http_conn *hc, const struct fwd_target *t)
{
    struct conn *c = hc->c;
    struct fwd_conn *fw = hc->fwd;
    if (fw->host[0]) {
        conn_upstream_renew(c);
        upstream_state_reset(hc);
    }
    snprintf(fw->host, sizeof(fw->host), "%s", t->host);
    fw->port = t->port;
    fw->live = 1;
    fw->tot->routes++;
    char addr[64], dest[FWD_HOST_MAX + 16];
    const char *lit = t->is_ip ? t->host : fwd_resolved(c->px->spec.fwd_resolve, t->host, addr, sizeof(addr)) ? addr : NULL;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    int sl = 0;
    if (lit) {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        if (inet_pton(AF_INET, lit, &a4->sin_addr) == 1) {
            a4->sin_family = AF_INET;
            a4->sin_port = htons((uint16_t)t->port);
            sl = sizeof(*a4);
        } else if (inet_pton(AF_INET6, lit, &a6->sin6_addr) == 1) {
            a6->sin6_family = AF_INET6;
            a6->sin6_port = htons((uint16_t)t->port);
            sl = sizeof(*a6);
        } else {
            return -1;
        }
    }
    return conn_connect_route(c, fwd_target_str(t, dest, sizeof(dest)), t->host, t->port,
                              sl ? (const struct sockaddr *)&ss : NULL, sl);
}

int http_fwd_route(struct http_conn *hc, struct http_req *r, struct evbuffer *head)
{
    struct fwd_conn *fw = hc->fwd;
    if (fw->opened || fw->tunnel) return 0;   /* pinned: the CONNECT's destination */
    struct fwd_target t;
    if (!r->host || fwd_parse_authority(r->host, strlen(r->host), &t) < 0) return 0;
    int same = fw->live && fw->port == t.port && !strcmp(fw->host, t.host) && !hc->up_eof && !hc->up_failed;
    if (!same) {
        if (hc->q != r) {
            /* the answers of the requests before it come from the current upstream first */
            struct evbuffer *b = evbuffer_new();
            if (!b) abort();
            evbuffer_add_buffer(b, head);
            if (r->pending_head) evbuffer_free(r->pending_head);
            r->pending_head = b;
            fw->waiting = r;
            hc->rq_wait = RQW_ROUTE;
            return 1;
        }
        if (fwd_connect(hc, &t) < 0) {
            evbuffer_drain(head, evbuffer_get_length(head));
            http_answer_locally(hc, r, 502, NULL, NULL, 0, 1);
            return 1;
        }
    }
    if (!r->is_connect) return 0;   /* into the upstream's output: sent once it is connected */
    evbuffer_drain(head, evbuffer_get_length(head));   /* a CONNECT is the proxy's: never sent on */
    r->forwarded = 1;
    r->t_fwd = fl_now_us();
    fw->connect = r;
    fw->t_ready = 0;
    hc->rq_wait = RQW_UPGRADE;
    return 1;
}

int http_fwd_idle_eof(struct http_conn *hc)
{
    struct fwd_conn *fw = hc->fwd;
    if (fw->opened) return 0;   /* the destination of an opened CONNECT closed: the client sees it */
    if (fw->live) {
        fw->live = 0;
        if (hc->c->closed_by == CLOSER_UPSTREAM) hc->c->closed_by = CLOSER_NONE;   /* it ended nothing */
    }
    return 1;
}

/* ---- CONNECT established ---- */

/* The CONNECT's answer: "200 Connection established". Without tls_ca the connection becomes a byte
 * tunnel; with it, the client's first byte tells what follows (sniff, in http_fwd_poll). */
static void established_now(struct http_conn *hc, struct http_req *r)
{
    struct conn *c = hc->c;
    struct fwd_conn *fw = hc->fwd;
    fw->connect = NULL;
    int64_t now = fl_now_us();
    r->status = 200;
    r->t_resp_head = r->t_done = now;
    r->resp_started = r->resp_done = 1;
    hc->rq_cur = NULL;
    hc->rq_in_body = 0;
    http_q_finish_head(hc);   /* counted and recorded: method CONNECT, status 200 */
    struct evbuffer *b = evbuffer_new();
    if (!b) abort();
    evbuffer_add(b, established, sizeof(established) - 1);
    http_send_on(hc, 1, b);
    evbuffer_free(b);
    if (c->px->tls) {
        fw->sniff = 1;            /* (rq_wait stays UPGRADE: nothing is parsed before the first byte) */
        return;
    }
    hc->rq_wait = RQW_NONE;
    fw->tunnel = 1;
    fw->tot->tunnels++;
    hc->tunnel = 1;
}

/* With tls_ca, after the 200: a TLS record (0x16, a ClientHello) opens HTTPS -- faultline's TLS on
 * both sides, a leaf for the CONNECT host towards the client, the destination verified against it
 * -- and the http engine reads what is inside; a request line (an upper-case method) is plain HTTP
 * inside the tunnel, read alike; anything else is passed on as bytes. */
static void sniffed(struct http_conn *hc, unsigned char first)
{
    struct conn *c = hc->c;
    struct fwd_conn *fw = hc->fwd;
    fw->sniff = 0;
    hc->rq_wait = RQW_NONE;
    if (first != 0x16 && !(first >= 'A' && first <= 'Z')) {
        fw->tunnel = 1;
        fw->tot->tunnels++;
        hc->tunnel = 1;
        return;
    }
    fw->opened = 1;
    fw->tot->opened++;
    http_parser_init(&hc->rq, HTTP_REQUEST);
    hc->rq.data = hc;
    if (first != 0x16) return;
    if (tls_forward_upstream(c, fw->host) < 0 || c->closing ||
        tls_forward_client(c, fw->host, bufferevent_get_input(c->cli), NULL, 0) < 0)
        if (!c->closing) conn_close(c, CLOSER_PROXY, CLOSE_FIN);
}

/* The CONNECT's upstream is up: its 200 goes now, after a latency fault's delay (the tunnel's
 * setup is what a latency delays; where = response or request alike), or never while a hang holds
 * it (http_fwd_poll lets it go when the hang ends). */
static void fwd_upstream_connected(struct conn *c)
{
    struct http_conn *hc = c->proto;
    struct fwd_conn *fw = hc ? hc->fwd : NULL;
    struct http_req *r = fw ? fw->connect : NULL;
    if (!r) return;
    fw->t_ready = fl_now_us();
    if (r->pl.act == HACT_LATENCY && r->pl.where_response && !r->latency_done) {
        r->latency_done = 1;
        int64_t d = r->pl.delay_us + fl_jitter_us(r->pl.jitter_us);
        if (d < 0) d = 0;
        fw->t_ready += d;
        if (r->f) r->f->c.bytes_delayed += sizeof(established) - 1;
        struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
        evtimer_add(fw->ready_ev, &tv);
        return;
    }
    http_run(hc);
}

static void ready_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    struct http_conn *hc = arg;
    struct conn *c = hc->c;
    c->busy++;
    if (!c->closing) {
        http_run(hc);
        pipe_after_io(&c->p[0]);
        pipe_after_io(&c->p[1]);
    }
    if (--c->busy == 0 && c->dead) conn_free(c);
}

int http_fwd_poll(struct http_conn *hc)
{
    struct fwd_conn *fw = hc->fwd;
    if (hc->c->closing) return 0;
    struct http_req *r = fw->connect;
    if (r && fw->t_ready && hc->q == r && !r->held && fl_now_us() >= fw->t_ready) {
        established_now(hc, r);
        return 1;
    }
    if (fw->sniff) {
        struct evbuffer *in = hc->c->cli ? bufferevent_get_input(hc->c->cli) : NULL;
        unsigned char first;
        if (!in || evbuffer_copyout(in, &first, 1) != 1) return 0;
        sniffed(hc, first);
        return 1;
    }
    r = fw->waiting;
    if (!r || hc->q != r) return 0;
    fw->waiting = NULL;
    hc->rq_wait = RQW_NONE;
    http_forward_pending(hc, r);
    return 1;
}

/* ---- the protocol ---- */

static void fwd_conn_init(struct conn *c)
{
    http_conn_new(c);
    struct http_conn *hc = c->proto;
    struct fwd_conn *fw = calloc(1, sizeof(*fw));
    if (!fw) abort();
    fw->tot = (struct fwd_totals *)frame_totals_for(&fwd_table, c->px->spec.name);
    fw->tot->head.conns++;
    fw->ready_ev = evtimer_new(c->px->srv->base, ready_cb, hc);
    if (!fw->ready_ev) abort();
    hc->fwd = fw;
}

static void fwd_conn_free(struct conn *c)
{
    struct http_conn *hc = c->proto;
    if (hc && hc->fwd) {
        event_free(hc->fwd->ready_ev);
        free(hc->fwd);
        hc->fwd = NULL;
    }
    http_conn_free(c);
}

static void fwd_on_read(struct conn *c, struct pipe *p, struct evbuffer *in)
{
    (void)in;
    http_on_data(c, p->dir);
}

static int fwd_on_eof(struct conn *c, struct pipe *p)
{
    http_on_eof(c, p->dir);
    return 1;
}

static void add_name(void *ud, const char *name) { allow_add_host(ud, name); }

/* allow = ... (common/allow.h's syntax: names, globs, addresses, CIDR, ports), resolve = NAME:ADDR */
static int fwd_spec_load(struct inidoc *d, struct inisec *s, struct proxy_spec *p, char *err, size_t errlen)
{
    int la = 0, lr = 0;
    char why[400];
    const char *a = inisec_get(s, "allow", &la), *rv = inisec_get(s, "resolve", &lr);
    if (rv) {
        if (strlen(rv) >= sizeof(p->fwd_resolve)) return inidoc_err(d, lr, err, errlen, "resolve: too long");
        if (fwd_resolve_check(rv, why, sizeof(why)) < 0) return inidoc_err(d, lr, err, errlen, "resolve: %s", why);
        snprintf(p->fwd_resolve, sizeof(p->fwd_resolve), "%s", rv);
    }
    if (!a) {   /* the names the profile maps, on any port; none without resolve: nothing is allowed */
        fwd_resolve_names(p->fwd_resolve, add_name, &p->fwd_allow);
        return 0;
    }
    if (allow_parse(a, 1, &p->fwd_allow, why, sizeof(why)) < 0) return inidoc_err(d, la, err, errlen, "allow: %s", why);
    for (int i = 0; i < p->fwd_allow.n; i++) {
        const struct allow_entry *e = &p->fwd_allow.e[i];
        int everything = e->kind == AL_ANY || ((e->kind == AL_V4 || e->kind == AL_V6) && e->prefix == 0) ||
                         (e->kind == AL_NAME && strspn(e->name, "*?.") == strlen(e->name));
        if (everything)
            return inidoc_err(d, la, err, errlen, "allow: an entry that allows every destination would make an open proxy: "
                              "name the hosts (api.example.test:443, *.svc.example.test, 10.1.0.0/16)");
    }
    return 0;
}

static void fwd_conn_facts(const struct conn *c, struct rec_kv *kv)
{
    if (c->route) rec_kv_str(kv, "fwd_dest", c->route);
    const struct http_conn *hc = c->proto;
    const struct fwd_conn *fw = hc ? hc->fwd : NULL;
    if (fw && (fw->opened || fw->tunnel)) rec_kv_str(kv, "fwd_connect", fw->opened ? "opened" : "tunnel");
}

static void fwd_totals_facts(const struct fl_proxy *px, struct rec_kv *kv)
{
    const struct fwd_totals *t = (const struct fwd_totals *)frame_totals_find(&fwd_table, px->spec.name);
    if (!t) return;
    rec_kv_u64(kv, "fwd_requests", t->requests);
    rec_kv_u64(kv, "fwd_connects", t->connects);
    rec_kv_u64(kv, "fwd_tunnels", t->tunnels);
    rec_kv_u64(kv, "fwd_opened", t->opened);
    rec_kv_u64(kv, "fwd_denied", t->denied);
    rec_kv_u64(kv, "fwd_refused", t->refused);
    rec_kv_u64(kv, "fwd_upstreams", t->routes);
}

static char *fwd_stats_json(const struct fl_proxy *px)
{
    const struct fwd_totals *t = (const struct fwd_totals *)frame_totals_find(&fwd_table, px->spec.name);
    char *o = malloc(512);
    if (!o) abort();
    snprintf(o, 512, "{\"requests\":%llu,\"connects\":%llu,\"tunnels\":%llu,\"opened\":%llu,\"denied\":%llu,\"refused\":%llu,"
             "\"upstreams\":%llu}", (unsigned long long)(t ? t->requests : 0), (unsigned long long)(t ? t->connects : 0),
             (unsigned long long)(t ? t->tunnels : 0), (unsigned long long)(t ? t->opened : 0),
             (unsigned long long)(t ? t->denied : 0), (unsigned long long)(t ? t->refused : 0),
             (unsigned long long)(t ? t->routes : 0));
    return o;
}

const struct protocol protocol_forward = {
    .name = "forward",
    .flags = PROTO_CORK | PROTO_REQUESTS | PROTO_ROUTES,
    .alpn = "http/1.1",
    .fault_flag = FT_HTTP_ONLY,
    .conn_init = fwd_conn_init,
    .conn_free = fwd_conn_free,
    .on_read = fwd_on_read,
    .on_eof = fwd_on_eof,
    .upstream_failed = http_upstream_failed,
    .upstream_reset = http_upstream_reset,
    .upstream_connected = fwd_upstream_connected,
    .on_drain = http_on_drain,
    .idle_state = http_idle_state,
    .fault_inside = http_fault_inside,
    .fault_ended = http_fault_ended,
    .spec_load = fwd_spec_load,
    .stats_json = fwd_stats_json,
    .conn_facts = fwd_conn_facts,
    .totals_facts = fwd_totals_facts,
};
