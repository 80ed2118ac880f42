/* flpeer.c -- the test suite's real peer: servers and clients on real sockets.
 *
 * Servers (print "listening PORT" (or the unix path) on stdout once bound, then serve until
 * killed; multi-connection, libevent):
 *   flpeer serve ADDR echo          echo every byte back; half-close answered with close
 *   flpeer serve ADDR hold          accept, read and discard, never answer
 *   flpeer serve ADDR source N      send N pseudo-random bytes (seed 1) on connect, then close
 *   flpeer serve ADDR sink          read and count, answer "OK <bytes> <fnv64>\n" on EOF
 *   flpeer serve ADDR http          minimal HTTP/1.1 keep-alive: 200 with body "hello\n"
 *                                   (GET /bytes/N answers N bytes; GET /sleep/MS waits MS)
 * ADDR is 127.0.0.1:PORT (0 = any free port), [::1]:PORT or unix:/path.
 *
 * Clients (print one line of key=value facts, exit 0 when the exchange went as asked):
 *   flpeer echo ADDR BYTES [CHUNK]  send BYTES pseudo-random bytes, half-close, read all back;
 *                                   prints sent= recv= match=yes|no ms=
 *   flpeer call ADDR TIMEOUT_MS     connect, send "ping\n", wait for any answer up to
 *                                   TIMEOUT_MS: result=data|eof|reset|timeout|refused ms=
 *   flpeer read ADDR [TIMEOUT_MS]   connect, read until EOF/reset/timeout: bytes= fnv= result= ms=
 *   flpeer conns ADDR N             open N connections at once, echo 16 bytes on each, check
 *                                   all: ok= failed= ms=
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "addr.h"   /* parse_sa */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* deterministic byte stream */
static uint64_t rs = 1;
static void prng_reset(void) { rs = 0x2545F4914F6CDD1DULL; }
static void prng_fill(unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
        b[i] = (unsigned char)(rs >> 24);
    }
}
static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h;
}
#define FNV0 14695981039346656037ULL

/* ---------------- servers ---------------- */
enum smode { S_ECHO, S_HOLD, S_SOURCE, S_SINK, S_HTTP };
static enum smode smode;
static uint64_t source_n;
static struct event_base *base;

struct sconn { uint64_t n; uint64_t h; uint64_t left; char req[8192]; size_t reqlen; };

static void s_free(struct bufferevent *bev) { free(NULL); bufferevent_free(bev); }

static void s_event(struct bufferevent *bev, short what, void *arg)
{
    struct sconn *sc = arg;
    if ((what & BEV_EVENT_EOF) && smode == S_SINK) {
        char line[128];
        snprintf(line, sizeof(line), "OK %llu %016llx\n", (unsigned long long)sc->n, (unsigned long long)sc->h);
        /* answer synchronously: the client half-closed and waits */
        int fd = bufferevent_getfd(bev);
        ssize_t w = write(fd, line, strlen(line));
        (void)w;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (smode == S_ECHO && (what & BEV_EVENT_EOF) && evbuffer_get_length(bufferevent_get_output(bev))) {
            /* flush what is pending, then close */
            bufferevent_disable(bev, EV_READ);
            return;
        }
        free(sc);
        s_free(bev);
    }
}

static void s_write(struct bufferevent *bev, void *arg)
{
    struct sconn *sc = arg;
    if (smode == S_SOURCE) {
        if (sc->left == 0) { free(sc); s_free(bev); return; }
        unsigned char buf[65536];
        size_t n = sc->left < sizeof(buf) ? (size_t)sc->left : sizeof(buf);
        prng_fill(buf, n);
        bufferevent_write(bev, buf, n);
        sc->left -= n;
        return;
    }
    if (smode == S_ECHO && !(bufferevent_get_enabled(bev) & EV_READ) &&
        evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        free(sc);
        s_free(bev);
    }
}

static void http_answer(struct bufferevent *bev, struct sconn *sc);

static void s_read(struct bufferevent *bev, void *arg)
{
    struct sconn *sc = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    switch (smode) {
    case S_ECHO:
        bufferevent_write_buffer(bev, in);
        break;
    case S_HOLD:
        evbuffer_drain(in, evbuffer_get_length(in));
        break;
    case S_SINK: {
        unsigned char buf[65536];
        int n;
        while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
            sc->n += (uint64_t)n;
            sc->h = fnv(sc->h, buf, (size_t)n);
        }
        break;
    }
    case S_HTTP:
        http_answer(bev, sc);
        break;
    default:
        evbuffer_drain(in, evbuffer_get_length(in));
    }
}

struct delayed { struct bufferevent *bev; struct evbuffer *out; };
static void delayed_cb(evutil_socket_t fd, short w, void *arg)
{
    struct delayed *d = arg;
    bufferevent_write_buffer(d->bev, d->out);
    evbuffer_free(d->out);
    free(d);
}

static void http_answer(struct bufferevent *bev, struct sconn *sc)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (p.pos < 0) return;
        size_t hl = (size_t)p.pos + 4;
        char *req = malloc(hl + 1);
        evbuffer_remove(in, req, hl);
        req[hl] = 0;
        /* bodies: Content-Length only */
        size_t cl = 0;
        char *clh = strcasestr(req, "\r\ncontent-length:");
        if (clh) cl = strtoul(clh + 17, NULL, 10);
        if (evbuffer_get_length(in) < cl) {
            /* wait for the rest of the body: put the head back */
            evbuffer_prepend(in, req, hl);
            free(req);
            return;
        }
        evbuffer_drain(in, cl);
        char method[16] = "", path[1024] = "";
        sscanf(req, "%15s %1023s", method, path);
        int close_after = strcasestr(req, "\r\nconnection: close") != NULL;
        free(req);
        struct evbuffer *out = evbuffer_new();
        int delay_ms = 0;
        if (!strncmp(path, "/bytes/", 7)) {
            size_t n = strtoul(path + 7, NULL, 10);
            evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n%s\r\n", n,
                                close_after ? "Connection: close\r\n" : "");
            unsigned char buf[65536];
            prng_reset();
            while (n) {
                size_t k = n < sizeof(buf) ? n : sizeof(buf);
                prng_fill(buf, k);
                evbuffer_add(out, buf, k);
                n -= k;
            }
        } else {
            if (!strncmp(path, "/sleep/", 7)) delay_ms = atoi(path + 7);
            const char *body = "hello\n";
            if (!strncmp(path, "/status/", 8))
                evbuffer_add_printf(out, "HTTP/1.1 %d X\r\nContent-Length: 6\r\n%s\r\n%s", atoi(path + 8),
                                    close_after ? "Connection: close\r\n" : "", body);
            else
                evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nX-Path: %s\r\n%s\r\n%s", path,
                                    close_after ? "Connection: close\r\n" : "", body);
        }
        if (!strcmp(method, "HEAD")) {
            /* keep only the head */
            struct evbuffer_ptr e = evbuffer_search(out, "\r\n\r\n", 4, NULL);
            size_t keep = (size_t)e.pos + 4;
            struct evbuffer *h = evbuffer_new();
            evbuffer_remove_buffer(out, h, keep);
            evbuffer_free(out);
            out = h;
        }
        if (delay_ms > 0) {
            struct delayed *d = calloc(1, sizeof(*d));
            d->bev = bev;
            d->out = out;
            struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
            event_base_once(base, -1, EV_TIMEOUT, delayed_cb, d, &tv);
        } else {
            bufferevent_write_buffer(bev, out);
            evbuffer_free(out);
        }
        (void)sc;
    }
}

static void s_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    struct sconn *sc = calloc(1, sizeof(*sc));
    sc->h = FNV0;
    sc->left = source_n;
    bufferevent_setcb(bev, s_read, s_write, s_event, sc);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    if (smode == S_SOURCE) { prng_reset(); s_write(bev, sc); }
}

static int serve(const char *addr, int argc, char **argv)
{
    if (argc < 1) return 2;
    if (!strcmp(argv[0], "echo")) smode = S_ECHO;
    else if (!strcmp(argv[0], "hold")) smode = S_HOLD;
    else if (!strcmp(argv[0], "source")) { smode = S_SOURCE; source_n = argc > 1 ? strtoull(argv[1], NULL, 10) : 0; }
    else if (!strcmp(argv[0], "sink")) smode = S_SINK;
    else if (!strcmp(argv[0], "http")) smode = S_HTTP;
    else return 2;
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_sa(addr, &ss, &sl) < 0) { fprintf(stderr, "bad address %s\n", addr); return 2; }
    if (ss.ss_family == AF_UNIX) unlink(((struct sockaddr_un *)&ss)->sun_path);
    base = event_base_new();
    struct evconnlistener *l = evconnlistener_new_bind(base, s_accept, NULL, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE,
                                                       4096, (struct sockaddr *)&ss, (int)sl);
    if (!l) { perror("bind"); return 1; }
    if (ss.ss_family == AF_UNIX) printf("listening %s\n", addr + 5);
    else {
        struct sockaddr_storage b;
        socklen_t bl = sizeof(b);
        getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&b, &bl);
        int port = b.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&b)->sin_port)
                                          : ntohs(((struct sockaddr_in6 *)&b)->sin6_port);
        printf("listening %d\n", port);
    }
    fflush(stdout);
    event_base_dispatch(base);
    return 0;
}

/* ---------------- clients ---------------- */
static int connect_to(const char *addr, int *err_out)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_sa(addr, &ss, &sl) < 0) { fprintf(stderr, "bad address %s\n", addr); exit(2); }
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
        if (err_out) *err_out = errno;
        close(fd);
        return -1;
    }
    if (ss.ss_family != AF_UNIX) { int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); }
    return fd;
}

static int c_echo(const char *addr, uint64_t total, size_t chunk)
{
    double t0 = now_ms();
    int fd = connect_to(addr, NULL);
    if (fd < 0) { printf("result=refused\n"); return 1; }
    if (!chunk) chunk = 65536;
    unsigned char *wb = malloc(chunk), rb[65536];
    uint64_t sent = 0, recvd = 0, hs = FNV0, hr = FNV0;
    prng_reset();
    struct pollfd pf = {fd, POLLIN | POLLOUT, 0};
    size_t woff = 0, wlen = 0;
    int shut = 0;
    if (total == 0) { shutdown(fd, SHUT_WR); shut = 1; }
    for (;;) {
        pf.events = POLLIN | (shut ? 0 : POLLOUT);
        if (poll(&pf, 1, 30000) <= 0) { printf("result=timeout sent=%llu recv=%llu\n", (unsigned long long)sent, (unsigned long long)recvd); return 1; }
        if (pf.revents & POLLOUT) {
            if (woff == wlen) {
                wlen = total - sent < chunk ? (size_t)(total - sent) : chunk;
                prng_fill(wb, wlen);
                hs = fnv(hs, wb, wlen);
                woff = 0;
            }
            ssize_t w = send(fd, wb + woff, wlen - woff, MSG_NOSIGNAL);
            if (w > 0) { woff += (size_t)w; sent += (uint64_t)w; }
            if (sent == total && woff == wlen) { shutdown(fd, SHUT_WR); shut = 1; }
        }
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(fd, rb, sizeof(rb), 0);
            if (r <= 0) break;
            hr = fnv(hr, rb, (size_t)r);
            recvd += (uint64_t)r;
        }
    }
    int match = recvd == total && hs == hr;
    printf("sent=%llu recv=%llu match=%s ms=%.1f\n", (unsigned long long)sent, (unsigned long long)recvd,
           match ? "yes" : "no", now_ms() - t0);
    close(fd);
    return match ? 0 : 1;
}

static int c_call(const char *addr, int timeout_ms)
{
    double t0 = now_ms();
    int err = 0;
    int fd = connect_to(addr, &err);
    if (fd < 0) { printf("result=%s ms=%.1f\n", err == ECONNREFUSED ? "refused" : "error", now_ms() - t0); return 0; }
    send(fd, "ping\n", 5, MSG_NOSIGNAL);
    struct pollfd pf = {fd, POLLIN, 0};
    int pr = poll(&pf, 1, timeout_ms);
    const char *res = "timeout";
    if (pr > 0) {
        char b[4096];
        ssize_t r = recv(fd, b, sizeof(b), 0);
        res = r > 0 ? "data" : r == 0 ? "eof" : errno == ECONNRESET ? "reset" : "error";
    }
    printf("result=%s ms=%.1f\n", res, now_ms() - t0);
    close(fd);
    return 0;
}

static int c_read(const char *addr, int timeout_ms)
{
    double t0 = now_ms();
    int err = 0;
    int fd = connect_to(addr, &err);
    if (fd < 0) { printf("result=%s\n", err == ECONNREFUSED ? "refused" : "error"); return 0; }
    uint64_t n = 0, h = FNV0;
    unsigned char b[65536];
    const char *res = "eof";
    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        int pr = poll(&pf, 1, timeout_ms > 0 ? timeout_ms : 30000);
        if (pr <= 0) { res = "timeout"; break; }
        ssize_t r = recv(fd, b, sizeof(b), 0);
        if (r == 0) break;
        if (r < 0) { res = errno == ECONNRESET ? "reset" : "error"; break; }
        n += (uint64_t)r;
        h = fnv(h, b, (size_t)r);
    }
    printf("bytes=%llu fnv=%016llx result=%s ms=%.1f\n", (unsigned long long)n, (unsigned long long)h, res, now_ms() - t0);
    close(fd);
    return 0;
}

static int c_conns(const char *addr, int n)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    double t0 = now_ms();
    int *fds = calloc((size_t)n, sizeof(int));
    int ok = 0, failed = 0;
    for (int i = 0; i < n; i++) fds[i] = connect_to(addr, NULL);
    for (int i = 0; i < n; i++) {
        if (fds[i] < 0) { failed++; continue; }
        char msg[17];
        snprintf(msg, sizeof(msg), "conn-%010d", i);
        if (send(fds[i], msg, 16, MSG_NOSIGNAL) != 16) { failed++; close(fds[i]); fds[i] = -1; }
    }
    for (int i = 0; i < n; i++) {
        if (fds[i] < 0) continue;
        char want[17], got[17];
        snprintf(want, sizeof(want), "conn-%010d", i);
        size_t have = 0;
        while (have < 16) {
            struct pollfd pf = {fds[i], POLLIN, 0};
            if (poll(&pf, 1, 10000) <= 0) break;
            ssize_t r = recv(fds[i], got + have, 16 - have, 0);
            if (r <= 0) break;
            have += (size_t)r;
        }
        if (have == 16 && !memcmp(got, want, 16)) ok++;
        else failed++;
    }
    for (int i = 0; i < n; i++) if (fds[i] >= 0) close(fds[i]);
    printf("ok=%d failed=%d ms=%.1f\n", ok, failed, now_ms() - t0);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) { fprintf(stderr, "usage: see the top of tests/peers/flpeer.c\n"); return 2; }
    const char *cmd = argv[1], *addr = argv[2];
    if (!strcmp(cmd, "serve")) return serve(addr, argc - 3, argv + 3);
    if (!strcmp(cmd, "echo")) return c_echo(addr, argc > 3 ? strtoull(argv[3], NULL, 10) : 0, argc > 4 ? strtoul(argv[4], NULL, 10) : 0);
    if (!strcmp(cmd, "call")) return c_call(addr, argc > 3 ? atoi(argv[3]) : 1000);
    if (!strcmp(cmd, "read")) return c_read(addr, argc > 3 ? atoi(argv[3]) : 0);
    if (!strcmp(cmd, "conns")) return c_conns(addr, argc > 3 ? atoi(argv[3]) : 10);
    fprintf(stderr, "unknown command %s\n", cmd);
    return 2;
}
