/* flstream.c -- one-stream test peers for half-close and backpressure.
 *
 * flpeer covers the common peers; these are the ones that need a precise order of reads,
 * writes and shutdowns on a single stream, or a deliberately slow reader. Each prints one line
 * of key=value facts; servers print "listening PORT" (or the unix path) first. Every wait has a
 * deadline (30 s unless told), so a broken proxy makes a test fail, never hang.
 *
 *   flstream send ADDR N            connect, send N pseudo-random bytes, shutdown(SHUT_WR), then
 *                                   read the answer until EOF:  sent= fnv= reply="..." result=
 *                                   (against `flpeer serve sink`, reply is "OK N FNV")
 *   flstream halfserve ADDR N       serve connections one at a time: send N bytes, shutdown(SHUT_WR),
 *                                   then read until EOF and print: got=BYTES fnv=HEX
 *   flstream halfclient ADDR M      connect, read until EOF (recv= rfnv=), only then send M bytes
 *                                   and close: recv= rfnv= sent= sfnv= result=
 *   flstream slowread ADDR RATE SECS   connect, send nothing, read at RATE bytes/s for SECS
 *                                   seconds, then as fast as possible until EOF:
 *                                   bytes= fnv= result= ms=
 *   flstream slowserve ADDR RATE SECS  serve one connection the same way (a slow upstream
 *                                   reader), print bytes= fnv= result= at EOF, then exit
 * ADDR is 127.0.0.1:PORT (0 = any free port for servers), [::1]:PORT or unix:/path.
 * The byte stream is the same xorshift stream flpeer uses (seed reset per stream), hashed FNV-1a 64.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "addr.h"   /* parse_sa */

#define DEADLINE_MS 30000

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t rs;
static void prng_reset(void) { rs = 0x2545F4914F6CDD1DULL; }
static void prng_fill(unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
        b[i] = (unsigned char)(rs >> 24);
    }
}
#define FNV0 14695981039346656037ULL
static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h;
}

static int connect_to(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_sa(addr, &ss, &sl) < 0) { fprintf(stderr, "bad address %s\n", addr); exit(2); }
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0) {
        printf("result=%s\n", errno == ECONNREFUSED ? "refused" : "error");
        exit(1);
    }
    return fd;
}

static int listen_on(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_sa(addr, &ss, &sl) < 0) { fprintf(stderr, "bad address %s\n", addr); exit(2); }
    if (ss.ss_family == AF_UNIX) unlink(((struct sockaddr_un *)&ss)->sun_path);
    int fd = socket(ss.ss_family, SOCK_STREAM, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0) { perror("listen"); exit(1); }
    if (ss.ss_family == AF_UNIX) printf("listening %s\n", addr + 5);
    else {
        struct sockaddr_storage b;
        socklen_t bl = sizeof(b);
        getsockname(fd, (struct sockaddr *)&b, &bl);
        printf("listening %d\n", b.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&b)->sin_port)
                                                      : ntohs(((struct sockaddr_in6 *)&b)->sin6_port));
    }
    fflush(stdout);
    return fd;
}

/* waits for fd to be ready for ev until the deadline; 0 ready, -1 timeout */
static int wait_fd(int fd, short ev, double deadline)
{
    for (;;) {
        int left = (int)(deadline - now_ms());
        if (left <= 0) return -1;
        struct pollfd pf = {fd, ev, 0};
        int r = poll(&pf, 1, left);
        if (r > 0) return 0;
        if (r < 0 && errno != EINTR) return -1;
    }
}

/* sends n stream bytes; returns their hash, or sets *ok = 0 */
static uint64_t send_stream(int fd, uint64_t n, double deadline, int *ok)
{
    unsigned char buf[65536];
    uint64_t h = FNV0;
    prng_reset();
    while (n) {
        size_t k = n < sizeof(buf) ? (size_t)n : sizeof(buf);
        prng_fill(buf, k);
        h = fnv(h, buf, k);
        size_t off = 0;
        while (off < k) {
            if (wait_fd(fd, POLLOUT, deadline) < 0) { *ok = 0; return h; }
            ssize_t w = send(fd, buf + off, k - off, MSG_NOSIGNAL);
            if (w < 0) { if (errno == EINTR || errno == EAGAIN) continue; *ok = 0; return h; }
            off += (size_t)w;
        }
        n -= k;
    }
    return h;
}

/* reads to EOF; rate > 0 limits to rate bytes/s until slow_until (ms clock) */
static const char *read_all(int fd, uint64_t *n, uint64_t *h, double deadline, double rate, double slow_until,
                            char *keep, size_t keepcap)
{
    unsigned char buf[65536];
    double t0 = now_ms();
    uint64_t at_slow_start = 0;
    *n = 0;
    *h = FNV0;
    for (;;) {
        size_t want = sizeof(buf);
        if (rate > 0 && now_ms() < slow_until) {
            /* stay on the rate line: how many bytes may we have by now? */
            double allowed = rate * (now_ms() - t0) / 1000.0 - (double)(*n - at_slow_start);
            if (allowed < 1) { usleep(10000); continue; }
            if (allowed < (double)want) want = (size_t)allowed;
        }
        if (wait_fd(fd, POLLIN, deadline) < 0) return "timeout";
        ssize_t r = recv(fd, buf, want, 0);
        if (r == 0) return "eof";
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return errno == ECONNRESET ? "reset" : "error";
        }
        if (keep && *n < keepcap - 1) {
            size_t c = (size_t)r < keepcap - 1 - *n ? (size_t)r : keepcap - 1 - (size_t)*n;
            memcpy(keep + *n, buf, c);
            keep[*n + c] = 0;
        }
        *n += (uint64_t)r;
        *h = fnv(*h, buf, (size_t)r);
    }
}

static int small_rcvbuf(int fd)
{
    int sz = 16384;
    return setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

static int c_send(const char *addr, uint64_t n)
{
    double dl = now_ms() + DEADLINE_MS;
    int fd = connect_to(addr), ok = 1;
    uint64_t h = send_stream(fd, n, dl, &ok);
    shutdown(fd, SHUT_WR);
    char reply[256] = "";
    uint64_t rn, rh;
    const char *res = read_all(fd, &rn, &rh, dl, 0, 0, reply, sizeof(reply));
    for (char *p = reply; *p; p++) if (*p == '\n' || *p == '"') *p = ' ';
    size_t l = strlen(reply);
    while (l && reply[l - 1] == ' ') reply[--l] = 0;
    printf("sent=%llu fnv=%016llx reply=\"%s\" result=%s\n", (unsigned long long)(ok ? n : 0), (unsigned long long)h,
           reply, ok ? res : "send_failed");
    close(fd);
    return ok && !strcmp(res, "eof") ? 0 : 1;
}

static __attribute__((noreturn)) void s_half(const char *addr, uint64_t n)
{
    int lfd = listen_on(addr);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) continue;
        double dl = now_ms() + DEADLINE_MS;
        int ok = 1;
        send_stream(fd, n, dl, &ok);
        shutdown(fd, SHUT_WR);
        uint64_t rn, rh;
        const char *res = read_all(fd, &rn, &rh, dl, 0, 0, NULL, 0);
        printf("got=%llu fnv=%016llx result=%s\n", (unsigned long long)rn, (unsigned long long)rh, ok ? res : "send_failed");
        fflush(stdout);
        close(fd);
    }
}

static int c_half(const char *addr, uint64_t m)
{
    double dl = now_ms() + DEADLINE_MS;
    int fd = connect_to(addr), ok = 1;
    uint64_t rn, rh;
    const char *res = read_all(fd, &rn, &rh, dl, 0, 0, NULL, 0);
    uint64_t sh = 0;
    if (!strcmp(res, "eof")) {
        sh = send_stream(fd, m, dl, &ok);
        shutdown(fd, SHUT_WR);
        /* wait for the far side to close (it reads our bytes first) */
        char b[16];
        if (wait_fd(fd, POLLIN, dl) == 0) { ssize_t r = recv(fd, b, sizeof(b), 0); (void)r; }
    }
    printf("recv=%llu rfnv=%016llx sent=%llu sfnv=%016llx result=%s\n", (unsigned long long)rn,
           (unsigned long long)rh, (unsigned long long)(ok ? m : 0), (unsigned long long)sh, ok ? res : "send_failed");
    close(fd);
    return 0;
}

static int report_read(int fd, double rate, double secs)
{
    double t0 = now_ms();
    uint64_t n, h;
    const char *res = read_all(fd, &n, &h, t0 + secs * 1000 + 120000, rate, t0 + secs * 1000, NULL, 0);
    printf("bytes=%llu fnv=%016llx result=%s ms=%.0f\n", (unsigned long long)n, (unsigned long long)h, res,
           now_ms() - t0);
    fflush(stdout);
    close(fd);
    return strcmp(res, "eof") ? 1 : 0;
}

static int c_slow(const char *addr, double rate, double secs)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_sa(addr, &ss, &sl) < 0) return 2;
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    small_rcvbuf(fd);
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0) { printf("result=refused\n"); return 1; }
    return report_read(fd, rate, secs);
}

static int s_slow(const char *addr, double rate, double secs)
{
    int lfd = listen_on(addr);
    small_rcvbuf(lfd);
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) return 1;
    return report_read(fd, rate, secs);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 4) { fprintf(stderr, "usage: see the top of tests/peers/flstream.c\n"); return 2; }
    const char *cmd = argv[1], *addr = argv[2];
    uint64_t n = strtoull(argv[3], NULL, 10);
    if (!strcmp(cmd, "send")) return c_send(addr, n);
    if (!strcmp(cmd, "halfserve")) s_half(addr, n);
    if (!strcmp(cmd, "halfclient")) return c_half(addr, n);
    if (!strcmp(cmd, "slowread") && argc > 4) return c_slow(addr, atof(argv[3]), atof(argv[4]));
    if (!strcmp(cmd, "slowserve") && argc > 4) return s_slow(addr, atof(argv[3]), atof(argv[4]));
    fprintf(stderr, "unknown command %s\n", cmd);
    return 2;
}
