/* idleconns.c -- open many connections at once and hold them (tests and bench).
 *
 *   idleconns ADDR N [HOLD_SECS] [PAYLOAD] [WAIT_SECS]
 *
 * Opens N non-blocking connections to ADDR (127.0.0.1:PORT, [::1]:PORT or unix:/path). With a
 * PAYLOAD ("\r\n" escapes understood, e.g. "GET / HTTP/1.1\r\nHost: x\r\n\r\n"), sends it on each
 * open connection and waits for at least one byte back, which proves the connection is really
 * proxied end to end. Then prints one line
 *     open=O answered=A failed=F ms=T
 * and holds every connection for HOLD_SECS (default 0) before closing them all and exiting. A
 * line "closing" is printed when the hold ends. SIGTERM/SIGINT end the hold early. Exit 0 when
 * every connection opened (and answered, with a payload).
 * Connecting and answering share one deadline, WAIT_SECS (default 20), so a stuck peer cannot hang
 * a test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "addr.h"   /* parse_sa */

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static size_t unescape(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < cap; p++) {
        if (p[0] == '\\' && p[1] == 'r') { out[o++] = '\r'; p++; }
        else if (p[0] == '\\' && p[1] == 'n') { out[o++] = '\n'; p++; }
        else out[o++] = *p;
    }
    out[o] = 0;
    return o;
}

enum { ST_CONNECTING, ST_OPEN, ST_ANSWERED, ST_FAILED };

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: idleconns ADDR N [HOLD_SECS] [PAYLOAD] [WAIT_SECS]\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_sig);
    signal(SIGINT, on_sig);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int n = atoi(argv[2]);
    double hold = argc > 3 ? atof(argv[3]) : 0;
    char payload[4096];
    size_t plen = argc > 4 ? unescape(argv[4], payload, sizeof(payload)) : 0;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_sa(argv[1], &ss, &sl) < 0) { fprintf(stderr, "bad address %s\n", argv[1]); return 2; }
    struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
    int *st = calloc((size_t)n, sizeof(int));
    if (!pf || !st) return 1;
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
        pf[i].fd = fd;
        st[i] = ST_FAILED;
        if (fd < 0) continue;
        if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
            st[i] = ST_OPEN;
            if (plen && send(fd, payload, plen, MSG_NOSIGNAL) != (ssize_t)plen) st[i] = ST_FAILED;
        }
        else if (errno == EINPROGRESS || errno == EAGAIN) st[i] = ST_CONNECTING;
        else { close(fd); pf[i].fd = -1; }
    }
    /* finish the connects (and read answers) with one poll over everything */
    double dl = now_ms() + 1000 * (argc > 5 ? atof(argv[5]) : 20);
    for (;;) {
        int pending = 0;
        for (int i = 0; i < n; i++) {
            pf[i].events = 0;
            pf[i].revents = 0;
            if (st[i] == ST_CONNECTING) { pf[i].events = POLLOUT; pending++; }
            else if (st[i] == ST_OPEN && plen) { pf[i].events = POLLIN; pending++; }
        }
        if (!pending || now_ms() >= dl || stop) break;
        int r = poll(pf, (nfds_t)n, 100);
        if (r < 0 && errno != EINTR) break;
        for (int i = 0; i < n; i++) {
            if (!pf[i].revents) continue;
            if (st[i] == ST_CONNECTING) {
                int e = 0;
                socklen_t el = sizeof(e);
                getsockopt(pf[i].fd, SOL_SOCKET, SO_ERROR, &e, &el);
                if (e) { st[i] = ST_FAILED; continue; }
                st[i] = ST_OPEN;
                if (plen && send(pf[i].fd, payload, plen, MSG_NOSIGNAL) != (ssize_t)plen) st[i] = ST_FAILED;
            } else if (st[i] == ST_OPEN) {
                char b[16384];
                ssize_t k = recv(pf[i].fd, b, sizeof(b), 0);
                st[i] = k > 0 ? ST_ANSWERED : ST_FAILED;
            }
        }
    }
    int open = 0, answered = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        if (st[i] == ST_OPEN || st[i] == ST_ANSWERED) open++;
        if (st[i] == ST_ANSWERED) answered++;
        if (st[i] == ST_FAILED || st[i] == ST_CONNECTING || (plen && st[i] == ST_OPEN)) failed++;
    }
    printf("open=%d answered=%d failed=%d ms=%.0f\n", open, answered, failed, now_ms() - t0);
    double until = now_ms() + hold * 1000;
    while (!stop && now_ms() < until) usleep(20000);
    printf("closing\n");
    for (int i = 0; i < n; i++) if (pf[i].fd >= 0) close(pf[i].fd);
    return failed ? 1 : 0;
}
