/* slowloris.c -- slow clients against an HTTP server (the admin API abuse test).
 *   slowloris ADDR CONNS SECONDS [INTERVAL_MS]
 * Opens CONNS connections to ADDR; each sends the start of a request head ("POST /faults
 * HTTP/1.1", Host, then a header that never ends) one byte every INTERVAL_MS (default 1000),
 * never finishing it. Stops after SECONDS, or when the server closed every connection. Prints
 *   conns=N opened=N closed=N refused=N first_close_s=… last_close_s=… bytes_sent=…
 * where closed counts connections the server closed (EOF or reset) and *_close_s when, from the
 * start. Exit 0. Loopback / unix sockets only (the caller's address). */
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

static const char HEAD[] = "POST /faults HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: slowloris ADDR CONNS SECONDS [INTERVAL_MS]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_sa(argv[1], &ss, &sl) < 0) { fprintf(stderr, "bad address %s\n", argv[1]); return 2; }
    int n = atoi(argv[2]);
    double secs = atof(argv[3]);
    int interval_ms = argc > 4 ? atoi(argv[4]) : 1000;
    if (n < 1 || n > 10000 || secs <= 0 || interval_ms < 1) return 2;
    int *fd = calloc((size_t)n, sizeof(int));
    size_t *pos = calloc((size_t)n, sizeof(size_t));
    struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
    if (!fd || !pos || !pf) return 1;
    double t0 = now_s(), first = -1, last = -1;
    int opened = 0, closed = 0, refused = 0;
    long sent = 0;
    for (int i = 0; i < n; i++) {
        fd[i] = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd[i] < 0 || connect(fd[i], (struct sockaddr *)&ss, sl) < 0) {
            if (fd[i] >= 0) close(fd[i]);
            fd[i] = -1;
            refused++;
            continue;
        }
        fcntl(fd[i], F_SETFL, O_NONBLOCK);
        opened++;
    }
    double next = t0;
    while (now_s() - t0 < secs) {
        int live = 0;
        if (now_s() >= next) {
            next += interval_ms / 1000.0;
            for (int i = 0; i < n; i++) {
                if (fd[i] < 0) continue;
                char b = pos[i] < sizeof(HEAD) - 1 ? HEAD[pos[i]] : 'a';
                if (send(fd[i], &b, 1, MSG_NOSIGNAL) == 1) { pos[i]++; sent++; }
            }
        }
        for (int i = 0; i < n; i++) {
            pf[i].fd = fd[i];
            pf[i].events = POLLIN;
            pf[i].revents = 0;
            if (fd[i] >= 0) live++;
        }
        if (!live) break;
        double wait = next - now_s();
        int ms = wait > 0 ? (int)(wait * 1000) + 1 : 0;
        if (ms > 100) ms = 100;
        if (poll(pf, (nfds_t)n, ms) <= 0) continue;
        for (int i = 0; i < n; i++) {
            if (fd[i] < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[4096];
            ssize_t r = recv(fd[i], buf, sizeof(buf), 0);
            if (r > 0) continue;   /* an answer (e.g. 408): the close follows */
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            close(fd[i]);
            fd[i] = -1;
            closed++;
            double t = now_s() - t0;
            if (first < 0) first = t;
            last = t;
        }
    }
    printf("conns=%d opened=%d closed=%d refused=%d first_close_s=%.1f last_close_s=%.1f bytes_sent=%ld\n", n, opened,
           closed, refused, first, last, sent);
    for (int i = 0; i < n; i++)
        if (fd[i] >= 0) close(fd[i]);
    return 0;
}
