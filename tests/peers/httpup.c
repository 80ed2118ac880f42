/* httpup.c -- the HTTP test upstream for tests/protocols/http_*.sh: richer than
 * `flpeer serve ADDR http`.
 *
 *   httpup ADDR        prints "listening PORT" once bound, serves until killed.
 *
 * Requests are parsed with libhttp-parser (Content-Length and chunked request bodies, pipelined
 * requests answered in order). Answers by path:
 *   /                 200 "hello\n"
 *   /bytes/N          200, Content-Length N, pseudo-random bytes (seed fixed: same bytes each time)
 *   /chunked/N        200, chunked, N pseudo-random bytes in chunks of varying size
 *   /eof/N            200 without length, N bytes, then close (body ends with the connection)
 *   /status/N         status N ("status\n", no body for 1xx/204/304)
 *   /sleep/MS         200 "hello\n" after MS milliseconds
 *   /garbage          answers bytes that are not HTTP
 *   /early/N          Content-Length 2N, sends N bytes of body, then closes
 *   /closenow         closes without answering
 *   /resetnow         resets the connection (RST: SO_LINGER 0) without answering
 *   /hdr/NAME         200, body = the request's NAME header value or "-"
 *   /ws               with "Upgrade: websocket": 101, then echoes raw bytes (a tunnel)
 *   CONNECT x:y       200, then echoes raw bytes (a tunnel)
 *   other paths with Upgrade: 200 "hello\n" (an upgrade the server refuses)
 *   any method with a body: 200 "bytes=N fnv=HEX\n" of the (de-chunked) body
 * "Expect: 100-continue" gets "100 Continue" before the body is read. HEAD gets the head only.
 * Every answer carries "X-Req: <count on this connection>".
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>

static struct event_base *base;

struct uc {
    struct bufferevent *bev;
    http_parser p;
    char url[2048];
    size_t url_len;
    char hname[256], hval[1024];
    size_t hn, hv;
    int last_value;
    char want_hdr[128], got_hdr[1024];
    int expect100, upgrade_ws, is_head;
    uint64_t body_n, body_h;
    int nreq;
    int paused;               /* waiting (sleep / sourcing): input not parsed */
    uint64_t src_left;        /* body bytes still to source */
    int src_chunked, src_close;
    uint64_t rng;
    struct event *timer;
    int tunnel;
    int close_after;
    int rst;                        /* close with an RST (SO_LINGER 0) */
};

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h;
}

static void rng_fill(uint64_t *s, unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
        b[i] = (unsigned char)(*s >> 24);
    }
}

static void uc_free(struct uc *u)
{
    if (u->rst) {
        struct linger lg = {1, 0};
        setsockopt(bufferevent_getfd(u->bev), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    if (u->timer) event_free(u->timer);
    bufferevent_free(u->bev);
    free(u);
}

static void process(struct uc *u);

/* Adds body bytes while the output is short; returns 1 once the body is all queued. */
static int source_more(struct uc *u)
{
    struct evbuffer *out = bufferevent_get_output(u->bev);
    unsigned char buf[16384];
    while (u->src_left && evbuffer_get_length(out) < 1 << 20) {
        size_t k;
        if (u->src_chunked) {
            unsigned char r;
            rng_fill(&u->rng, &r, 1);
            k = 1 + (size_t)r * 60;
        } else k = sizeof(buf);
        if (k > u->src_left) k = (size_t)u->src_left;
        rng_fill(&u->rng, buf, k);
        if (u->src_chunked) evbuffer_add_printf(out, "%zx\r\n", k);
        evbuffer_add(out, buf, k);
        if (u->src_chunked) evbuffer_add(out, "\r\n", 2);
        u->src_left -= k;
    }
    if (!u->src_left && u->src_chunked) { evbuffer_add(out, "0\r\n\r\n", 5); u->src_chunked = 0; }
    return u->src_left == 0;
}

static void answer(struct uc *u);

static void timer_cb(evutil_socket_t fd, short w, void *arg)
{
    struct uc *u = arg;
    struct evbuffer *out = bufferevent_get_output(u->bev);
    evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nX-Req: %d\r\n\r\n%s", u->nreq,
                        u->is_head ? "" : "hello\n");
    u->paused = 0;
    process(u);
}

static void head_out(struct uc *u, int status, const char *extra, long long cl)
{
    struct evbuffer *out = bufferevent_get_output(u->bev);
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nX-Req: %d\r\n%s", status, status == 200 ? "OK" : "X", u->nreq, extra);
    if (cl >= 0) evbuffer_add_printf(out, "Content-Length: %lld\r\n", cl);
    evbuffer_add(out, "\r\n", 2);
}

static void answer(struct uc *u)
{
    struct evbuffer *out = bufferevent_get_output(u->bev);
    const char *path = u->url;
    u->nreq++;
    if (u->body_n || u->p.method == HTTP_POST || u->p.method == HTTP_PUT) {
        char b[64];
        int n = snprintf(b, sizeof(b), "bytes=%llu fnv=%016llx\n", (unsigned long long)u->body_n,
                         (unsigned long long)u->body_h);
        head_out(u, 200, "", n);
        if (!u->is_head) evbuffer_add(out, b, (size_t)n);
        return;
    }
    if (!strncmp(path, "/bytes/", 7) || !strncmp(path, "/chunked/", 9) || !strncmp(path, "/eof/", 5)) {
        uint64_t n = strtoull(strchr(path + 1, '/') + 1, NULL, 10);
        u->rng = 88172645463325252ULL;
        if (path[1] == 'b') head_out(u, 200, "", (long long)n);
        else if (path[1] == 'c') { head_out(u, 200, "Transfer-Encoding: chunked\r\n", -1); u->src_chunked = 1; }
        else { head_out(u, 200, "Connection: close\r\n", -1); u->close_after = 1; }
        if (u->is_head) { u->src_chunked = 0; return; }
        u->src_left = n;
        if (n == 0 && u->src_chunked) { evbuffer_add(out, "0\r\n\r\n", 5); u->src_chunked = 0; return; }
        if (!source_more(u)) u->paused = 2;   /* the rest from on_write */
        return;
    }
    if (!strncmp(path, "/status/", 8)) {
        int st = atoi(path + 8);
        if ((st >= 100 && st < 200) || st == 204 || st == 304) head_out(u, st, "", -1);
        else {
            head_out(u, st, "", 7);
            if (!u->is_head) evbuffer_add(out, "status\n", 7);
        }
        return;
    }
    if (!strncmp(path, "/sleep/", 7)) {
        int ms = atoi(path + 7);
        u->paused = 1;
        if (!u->timer) u->timer = evtimer_new(base, timer_cb, u);
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(u->timer, &tv);
        return;
    }
    if (!strcmp(path, "/garbage")) { evbuffer_add_printf(out, "THIS IS NOT HTTP\r\n\r\n"); return; }
    if (!strncmp(path, "/early/", 7)) {
        long long n = atoll(path + 7);
        head_out(u, 200, "", 2 * n);
        unsigned char b[4096];
        memset(b, 'e', sizeof(b));
        for (long long i = 0; i < n; i += (long long)sizeof(b))
            evbuffer_add(out, b, (size_t)(n - i < (long long)sizeof(b) ? n - i : (long long)sizeof(b)));
        u->close_after = 1;
        return;
    }
    if (!strcmp(path, "/closenow")) { u->close_after = 1; return; }   /* after what is queued */
    if (!strcmp(path, "/resetnow")) { u->close_after = 1; u->rst = 1; return; }
    if (!strncmp(path, "/hdr/", 5)) {
        const char *v = u->got_hdr[0] ? u->got_hdr : "-";
        head_out(u, 200, "", (long long)strlen(v) + 1);
        if (!u->is_head) evbuffer_add_printf(out, "%s\n", v);
        return;
    }
    if (u->p.method == HTTP_CONNECT) {
        evbuffer_add_printf(out, "HTTP/1.1 200 Connection Established\r\n\r\n");
        u->tunnel = 1;
        return;
    }
    if (!strcmp(path, "/ws") && u->upgrade_ws) {
        evbuffer_add_printf(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        u->tunnel = 1;
        return;
    }
    head_out(u, 200, "", 6);
    if (!u->is_head) evbuffer_add(out, "hello\n", 6);
}

/* ---- parser callbacks ---- */
static int cb_begin(http_parser *p)
{
    struct uc *u = p->data;
    u->url_len = 0; u->url[0] = 0;
    u->hn = u->hv = 0; u->last_value = 0;
    u->want_hdr[0] = u->got_hdr[0] = 0;
    u->expect100 = u->upgrade_ws = 0;
    u->body_n = 0; u->body_h = 1469598103934665603ULL;
    return 0;
}
static int cb_url(http_parser *p, const char *at, size_t len)
{
    struct uc *u = p->data;
    if (u->url_len + len < sizeof(u->url)) { memcpy(u->url + u->url_len, at, len); u->url_len += len; u->url[u->url_len] = 0; }
    if (!strncmp(u->url, "/hdr/", 5)) snprintf(u->want_hdr, sizeof(u->want_hdr), "%s", u->url + 5);
    return 0;
}
static void header_done(struct uc *u)
{
    u->hname[u->hn] = 0; u->hval[u->hv] = 0;
    if (!strcasecmp(u->hname, "Expect") && !strcasecmp(u->hval, "100-continue")) u->expect100 = 1;
    if (!strcasecmp(u->hname, "Upgrade") && !strcasecmp(u->hval, "websocket")) u->upgrade_ws = 1;
    if (u->want_hdr[0] && !strcasecmp(u->hname, u->want_hdr)) snprintf(u->got_hdr, sizeof(u->got_hdr), "%s", u->hval);
    u->hn = u->hv = 0;
}
static int cb_hf(http_parser *p, const char *at, size_t len)
{
    struct uc *u = p->data;
    if (u->last_value) header_done(u);
    u->last_value = 0;
    if (u->hn + len < sizeof(u->hname)) { memcpy(u->hname + u->hn, at, len); u->hn += len; }
    return 0;
}
static int cb_hv(http_parser *p, const char *at, size_t len)
{
    struct uc *u = p->data;
    u->last_value = 1;
    if (u->hv + len < sizeof(u->hval)) { memcpy(u->hval + u->hv, at, len); u->hv += len; }
    return 0;
}
static int cb_hc(http_parser *p)
{
    struct uc *u = p->data;
    if (u->last_value) header_done(u);
    u->is_head = p->method == HTTP_HEAD;
    if (u->expect100) evbuffer_add_printf(bufferevent_get_output(u->bev), "HTTP/1.1 100 Continue\r\n\r\n");
    return 0;
}
static int cb_body(http_parser *p, const char *at, size_t len)
{
    struct uc *u = p->data;
    u->body_n += len;
    u->body_h = fnv(u->body_h, (const unsigned char *)at, len);
    return 0;
}
static int cb_mc(http_parser *p)
{
    struct uc *u = p->data;
    answer(u);
    http_parser_pause(p, 1);   /* one request at a time: answers stay in order */
    return 0;
}
static const http_parser_settings S = {
    .on_message_begin = cb_begin, .on_url = cb_url, .on_header_field = cb_hf, .on_header_value = cb_hv,
    .on_headers_complete = cb_hc, .on_body = cb_body, .on_message_complete = cb_mc,
};

static void process(struct uc *u)
{
    struct evbuffer *in = bufferevent_get_input(u->bev);
    while (!u->paused && !u->close_after && evbuffer_get_length(in)) {
        if (u->tunnel) { bufferevent_write_buffer(u->bev, in); return; }
        struct evbuffer_iovec v;
        evbuffer_peek(in, -1, NULL, &v, 1);
        size_t n = http_parser_execute(&u->p, &S, v.iov_base, v.iov_len);
        evbuffer_drain(in, n);
        enum http_errno e = HTTP_PARSER_ERRNO(&u->p);
        if (e == HPE_PAUSED) { http_parser_pause(&u->p, 0); continue; }
        if (e != HPE_OK) { u->close_after = 1; break; }
        if (u->p.upgrade && !u->tunnel) {   /* upgrade refused: stay HTTP */
            http_parser_init(&u->p, HTTP_REQUEST);
            u->p.data = u;
        }
    }
    if (u->close_after == 2) { uc_free(u); return; }
    if (u->close_after && !u->paused && evbuffer_get_length(bufferevent_get_output(u->bev)) == 0) uc_free(u);
}

static void on_read(struct bufferevent *bev, void *arg) { process(arg); }
static void on_write(struct bufferevent *bev, void *arg)
{
    struct uc *u = arg;
    if (u->paused == 2) {
        if (source_more(u)) { u->paused = 0; process(u); }
        return;
    }
    if (u->close_after && !u->paused && evbuffer_get_length(bufferevent_get_output(bev)) == 0) uc_free(u);
}
static void on_event(struct bufferevent *bev, short what, void *arg) { uc_free(arg); }

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct uc *u = calloc(1, sizeof(*u));
    u->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    http_parser_init(&u->p, HTTP_REQUEST);
    u->p.data = u;
    bufferevent_setcb(u->bev, on_read, on_write, on_event, u);
    bufferevent_setwatermark(u->bev, EV_WRITE, 256 * 1024, 0);
    bufferevent_enable(u->bev, EV_READ | EV_WRITE);
}

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: httpup 127.0.0.1:PORT\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    char host[64];
    int port;
    if (sscanf(argv[1], "%63[^:]:%d", host, &port) != 2) return 2;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sin.sin_addr);
    base = event_base_new();
    struct evconnlistener *l = evconnlistener_new_bind(base, on_accept, NULL, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE,
                                                       1024, (struct sockaddr *)&sin, sizeof(sin));
    if (!l) { perror("bind"); return 1; }
    struct sockaddr_in b;
    socklen_t bl = sizeof(b);
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&b, &bl);
    printf("listening %d\n", ntohs(b.sin_port));
    fflush(stdout);
    event_base_dispatch(base);
    return 0;
}
