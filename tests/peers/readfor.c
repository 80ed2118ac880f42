/* readfor.c -- a slow (or time-boxed) consumer.
 *   readfor ADDR SECS [RATE]
 * Connects to ADDR and reads until EOF, a reset, or SECS seconds, at RATE bytes per second when
 * RATE is given (else as fast as it comes), with a small receive buffer (64 KiB) so that the
 * kernel does not soak up what the reader has not taken. Prints
 *   bytes=N fnv=HEX result=eof|reset|time rate_bps=… ms=…
 * Exit 0 (2 on a usage error, 1 when the connection was refused). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
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

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: readfor ADDR SECS [RATE]\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_sa(argv[1], &ss, &sl) < 0) { fprintf(stderr, "bad address %s\n", argv[1]); return 2; }
    double secs = atof(argv[2]), rate = argc > 3 ? atof(argv[3]) : 0;
    if (secs <= 0 || rate < 0) return 2;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rb = 64 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb));
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0) { printf("result=refused\n"); return 1; }
    static unsigned char buf[65536];
    uint64_t n = 0, h = 0xcbf29ce484222325ULL;
    double t0 = now_s();
    const char *res = "time";
    for (;;) {
        double el = now_s() - t0;
        if (el >= secs) break;
        size_t want = sizeof(buf);
        if (rate > 0) {
            double allowed = rate * el - (double)n;   /* bytes the rate allows by now */
            if (allowed < 1) {
                double wait = (1 - allowed) / rate;
                if (wait > 0.05) wait = 0.05;
                struct timespec ts = {0, (long)(wait * 1e9)};
                nanosleep(&ts, NULL);
                continue;
            }
            if ((double)want > allowed) want = (size_t)allowed;
        }
        struct pollfd pf = {fd, POLLIN, 0};
        int ms = (int)((secs - el) * 1000) + 1;
        if (ms > 200) ms = 200;
        if (poll(&pf, 1, ms) <= 0) continue;
        ssize_t r = recv(fd, buf, want, 0);
        if (r == 0) { res = "eof"; break; }
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            res = errno == ECONNRESET ? "reset" : "error";
            break;
        }
        for (ssize_t i = 0; i < r; i++) { h ^= buf[i]; h *= 0x100000001b3ULL; }
        n += (uint64_t)r;
    }
    double el = now_s() - t0;
    printf("bytes=%llu fnv=%016llx result=%s rate_bps=%.0f ms=%.0f\n", (unsigned long long)n, (unsigned long long)h, res,
           el > 0 ? (double)n / el : 0, el * 1000);
    close(fd);
    return 0;
}
