/* httpflood.c -- hostile HTTP clients, for the per-connection memory tests (tests/hardening/
 * http_memory.sh).
 *   httpflood ADDR MODE CONNS SECONDS
 * Opens CONNS connections to ADDR and, for SECONDS, attacks on each one the way MODE says; it
 * never reads an answer (the socket's receive buffer fills and stays full):
 *   slow      slowloris: "GET / HTTP/1.1", then one byte of a header that never ends every second
 *   pipeline  "GET / HTTP/1.1" requests pipelined as fast as the socket takes them
 *   bigpath   "GET /sleep/60000" (an upstream that answers after a minute: everything after it
 *             waits in the connection's FIFO), then 300 pipelined requests whose path is 60,000
 *             bytes long, then silence
 *   bighead   63,000 bytes of one request head, never finished, then silence
 *   redis     "PING" commands pipelined (for a redis proxy)
 * Prints "mode=M conns=N opened=N refused=N closed=N bytes_sent=N" when done (closed: by the
 * other end, EOF or reset). Exit 0. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "addr.h"   /* parse_sa */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum mode { M_SLOW, M_PIPE, M_BIGPATH, M_BIGHEAD, M_REDIS };

struct c { int fd; size_t pos; double next; int dead; };

static char *req;          /* the bytes a connection sends, over and over (pipeline modes) */
static size_t reqlen;

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: httpflood ADDR slow|pipeline|bigpath|bighead|redis CONNS SECONDS\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_sa(argv[1], &ss, &sl) < 0) { fprintf(stderr, "bad address %s\n", argv[1]); return 2; }
    const char *ms = argv[2];
    enum mode m = !strcmp(ms, "slow") ? M_SLOW : !strcmp(ms, "pipeline") ? M_PIPE : !strcmp(ms, "bigpath") ? M_BIGPATH
                : !strcmp(ms, "bighead") ? M_BIGHEAD : !strcmp(ms, "redis") ? M_REDIS : (enum mode)-1;
    int n = atoi(argv[3]);
    double secs = atof(argv[4]);
    if ((int)m < 0 || n < 1 || n > 20000 || secs <= 0) return 2;
    if (m == M_SLOW) { req = strdup("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "); reqlen = strlen(req); }
    else if (m == M_PIPE) { req = strdup("GET / HTTP/1.1\r\nHost: x\r\n\r\n"); reqlen = strlen(req); }
    else if (m == M_REDIS) { req = strdup("*1\r\n$4\r\nPING\r\n"); reqlen = strlen(req); }
    else {
        size_t body = m == M_BIGPATH ? 60000 : 63000;
        req = malloc(body + 128);
        if (!req) return 1;
        if (m == M_BIGPATH) {
            memcpy(req, "GET /", 5);   /* (the /sleep/60000 request goes first: see the loop) */
            memset(req + 5, 'a', body);
            reqlen = 5 + body;
            reqlen += (size_t)sprintf(req + reqlen, " HTTP/1.1\r\nHost: x\r\n\r\n");
        } else {
            reqlen = (size_t)sprintf(req, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
            memset(req + reqlen, 'h', body - reqlen);
            reqlen = body;
        }
    }
    struct c *cs = calloc((size_t)n, sizeof(*cs));
    struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
    if (!cs || !pf) return 1;
    int opened = 0, refused = 0, closed = 0;
    long long sent = 0;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        cs[i].fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (cs[i].fd < 0 || connect(cs[i].fd, (struct sockaddr *)&ss, sl) < 0) {
            if (cs[i].fd >= 0) close(cs[i].fd);
            cs[i].fd = -1;
            cs[i].dead = 1;
            refused++;
            continue;
        }
        int small = 4096;   /* keep the kernel's share small: the daemon's own memory is measured */
        setsockopt(cs[i].fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
        fcntl(cs[i].fd, F_SETFL, O_NONBLOCK);
        opened++;
    }
    char sink[4096];
    while (now_s() - t0 < secs) {
        double now = now_s();
        int live = 0;
        for (int i = 0; i < n; i++) {
            struct c *k = &cs[i];
            pf[i].fd = -1;
            if (k->dead) continue;
            live++;
            /* a reset or EOF is seen with MSG_PEEK without reading the answers */
            ssize_t r = recv(k->fd, sink, 1, MSG_PEEK | MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                k->dead = 1;
                closed++;
                close(k->fd);
                continue;
            }
            if (m == M_SLOW) {
                if (now < k->next) continue;
                const char *b = k->pos < reqlen ? req + k->pos : "b";
                if (send(k->fd, b, 1, MSG_NOSIGNAL) == 1) { k->pos++; sent++; }
                k->next = now + 1.0;
                continue;
            }
            if (m == M_BIGHEAD && k->pos >= reqlen) continue;
            if (m == M_BIGPATH && k->pos == 0 && !k->next) {
                static const char first[] = "GET /sleep/60000 HTTP/1.1\r\nHost: x\r\n\r\n";
                if (send(k->fd, first, sizeof(first) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(first) - 1) sent += sizeof(first) - 1;
                k->next = 1;
            }
            if (m == M_BIGPATH && k->pos >= 300 * reqlen) continue;
            for (int burst = 0; burst < 16; burst++) {
                size_t off = k->pos % reqlen;
                ssize_t w = send(k->fd, req + off, reqlen - off, MSG_NOSIGNAL);
                if (w <= 0) break;
                k->pos += (size_t)w;
                sent += w;
                if ((m == M_BIGHEAD && k->pos >= reqlen) || (m == M_BIGPATH && k->pos >= 300 * reqlen)) break;
            }
            pf[i].fd = k->fd;
            pf[i].events = POLLOUT;
        }
        if (!live) break;
        poll(pf, (nfds_t)n, 50);
    }
    printf("mode=%s conns=%d opened=%d refused=%d closed=%d bytes_sent=%lld\n", ms, n, opened, refused, closed, sent);
    fflush(stdout);
    for (int i = 0; i < n; i++)
        if (!cs[i].dead) close(cs[i].fd);
    return 0;
}
