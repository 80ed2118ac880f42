/* probe.c -- latency probe through a proxy to an echo upstream.
 *   probe ADDR COUNT INTERVAL_MS
 * One connection; COUNT round trips of 16 bytes, INTERVAL_MS apart. Prints
 *   n=COUNT ok=N p50_ms=… max_ms=…
 * and exits 0 when every round trip came back intact. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 4) { fprintf(stderr, "usage: probe HOST:PORT COUNT INTERVAL_MS\n"); return 2; }
    char host[64];
    const char *c = strrchr(argv[1], ':');
    snprintf(host, sizeof(host), "%.*s", (int)(c - argv[1]), argv[1]);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(c + 1))};
    inet_pton(AF_INET, host, &sa.sin_addr);
    int n = atoi(argv[2]), iv = atoi(argv[3]);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) { printf("n=%d ok=0 error=connect\n", n); return 1; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    double *rtt = calloc((size_t)n, sizeof(double));
    int ok = 0;
    for (int i = 0; i < n; i++) {
        char msg[17], got[16];
        snprintf(msg, sizeof(msg), "probe-%010d", i);
        double t0 = now_ms();
        if (send(fd, msg, 16, MSG_NOSIGNAL) != 16) break;
        size_t have = 0;
        while (have < 16) {
            struct pollfd pf = {fd, POLLIN, 0};
            if (poll(&pf, 1, 5000) <= 0) break;
            ssize_t r = recv(fd, got + have, 16 - have, 0);
            if (r <= 0) break;
            have += (size_t)r;
        }
        if (have != 16 || memcmp(got, msg, 16)) break;
        rtt[ok++] = now_ms() - t0;
        usleep((useconds_t)iv * 1000);
    }
    qsort(rtt, (size_t)ok, sizeof(double), cmp);
    printf("n=%d ok=%d p50_ms=%.3f max_ms=%.3f\n", n, ok, ok ? rtt[ok / 2] : -1, ok ? rtt[ok - 1] : -1);
    return ok == n ? 0 : 1;
}
