/* faultc.c -- client tools for the fault tests (tests/faults/) and bench/faults.sh.
 *
 * Each subcommand prints one line of key=value facts and exits 0 unless told bad arguments:
 *   faultc reads ADDR [TIMEOUT_MS]     connect, read until EOF/reset/timeout (no sending);
 *       bytes= reads= prefix=yes|no (bytes equal the start of `flpeer serve source`'s stream)
 *       first_ms= last_ms= end_ms= (since connect) min_read= max_read= max_gap_ms= result=
 *   faultc calls ADDR N TIMEOUT_MS     N sequential connections: send "ping\n", wait for an
 *       answer: data= eof= reset= timeout= refused= error= ms=
 *   faultc pace ADDR TOTAL CHUNK INTERVAL_MS  send TOTAL pseudo-random bytes in CHUNKs every
 *       INTERVAL_MS to an echo upstream, read the echo concurrently, half-close at the end and
 *       read the rest: sent= recv= match=yes|no (every byte back, in order) ms=
 *   faultc rtt ADDR COUNT [TARGET_MS]  COUNT round trips of 16 bytes on one connection (echo
 *       upstream), 10 ms apart: n= ok= min_ms= p50_ms= p99_ms= max_ms=; with TARGET_MS also
 *       err_p50_ms= err_p99_ms= (absolute error against the target)
 *   faultc rate ADDR SECONDS           read for SECONDS from a streaming upstream: bytes=
 *       rate= (bytes per second between the first and the last read, the first read excluded)
 *       secs= result=
 *   faultc hold ADDR N SECONDS         open N connections, send "ping\n" on each, keep them
 *       SECONDS: opened= answered= closed= (by the other side) and exit
 *   faultc stalled ADDR PID STOP_MS    one round trip of 16 bytes (echo upstream) to warm the
 *       connection, then SIGSTOP PID (the proxy), send 16 bytes, SIGCONT it after STOP_MS and
 *       time the answer from the send: warm_ms= rtt_ms= (a delay counted from the bytes'
 *       arrival gives max(delay, STOP_MS); one counted from the proxy's read, STOP_MS + delay)
 *   faultc echod ADDR SECONDS          a minimal echo server (ADDR 127.0.0.1:0 picks a port):
 *       prints "listening PORT", answers each read with one send() on the spot (TCP_NODELAY,
 *       no event library: two syscalls per message), up to 64 connections, exits after
 *       SECONDS (a measuring upstream for bench/faults.sh that adds as little as it can)
 * ADDR is 127.0.0.1:PORT.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct sockaddr_in target;

static void parse_target(const char *s)
{
    const char *c = strrchr(s, ':');
    if (!c) { fprintf(stderr, "bad address %s\n", s); exit(2); }
    char host[64];
    snprintf(host, sizeof(host), "%.*s", (int)(c - s), s);
    memset(&target, 0, sizeof(target));
    target.sin_family = AF_INET;
    target.sin_port = htons((uint16_t)atoi(c + 1));
    if (inet_pton(AF_INET, host, &target.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", s); exit(2); }
}

static int dial(int *err)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) { *err = errno; return -1; }
    if (connect(fd, (struct sockaddr *)&target, sizeof(target)) < 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* the same stream as flpeer's source/echo generator */
static uint64_t rs;
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

static int c_reads(int timeout_ms)
{
    int err = 0;
    double t0 = now_ms();
    int fd = dial(&err);
    if (fd < 0) { printf("result=%s\n", err == ECONNREFUSED ? "refused" : "error"); return 0; }
    unsigned char b[65536], want[65536];
    uint64_t bytes = 0, reads = 0;
    size_t minr = (size_t)-1, maxr = 0;
    double first = -1, last = -1, gap = 0;
    int prefix = 1;
    const char *res = "eof";
    prng_reset();
    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, timeout_ms) <= 0) { res = "timeout"; break; }
        ssize_t r = recv(fd, b, sizeof(b), 0);
        if (r == 0) break;
        if (r < 0) { res = errno == ECONNRESET ? "reset" : "error"; break; }
        double t = now_ms() - t0;
        if (first < 0) first = t;
        else if (t - last > gap) gap = t - last;
        last = t;
        prng_fill(want, (size_t)r);
        if (memcmp(want, b, (size_t)r)) prefix = 0;
        bytes += (uint64_t)r;
        reads++;
        if ((size_t)r < minr) minr = (size_t)r;
        if ((size_t)r > maxr) maxr = (size_t)r;
    }
    printf("bytes=%llu reads=%llu prefix=%s first_ms=%.1f last_ms=%.1f end_ms=%.1f min_read=%zu max_read=%zu "
           "max_gap_ms=%.1f result=%s\n",
           (unsigned long long)bytes, (unsigned long long)reads, prefix ? "yes" : "no", first, last, now_ms() - t0,
           reads ? minr : 0, maxr, gap, res);
    close(fd);
    return 0;
}

static int c_calls(int n, int timeout_ms)
{
    int data = 0, eof = 0, reset = 0, tmo = 0, refused = 0, error = 0;
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        int err = 0;
        int fd = dial(&err);
        if (fd < 0) { if (err == ECONNREFUSED) refused++; else error++; continue; }
        send(fd, "ping\n", 5, MSG_NOSIGNAL);
        struct pollfd pf = {fd, POLLIN, 0};
        int pr = poll(&pf, 1, timeout_ms);
        if (pr <= 0) tmo++;
        else {
            char b[256];
            ssize_t r = recv(fd, b, sizeof(b), 0);
            if (r > 0) data++;
            else if (r == 0) eof++;
            else if (errno == ECONNRESET) reset++;
            else error++;
        }
        close(fd);
    }
    printf("data=%d eof=%d reset=%d timeout=%d refused=%d error=%d ms=%.1f\n", data, eof, reset, tmo, refused, error,
           now_ms() - t0);
    return 0;
}

static int c_pace(uint64_t total, size_t chunk, int interval_ms)
{
    int err = 0;
    double t0 = now_ms();
    int fd = dial(&err);
    if (fd < 0) { printf("result=refused\n"); return 0; }
    unsigned char *wb = malloc(chunk), rb[65536];
    uint64_t sent = 0, recvd = 0, hs = FNV0, hr = FNV0;
    prng_reset();
    double next = now_ms();
    int shut = 0;
    if (total == 0) { shutdown(fd, SHUT_WR); shut = 1; }
    double deadline = now_ms() + 60000;
    for (;;) {
        double now = now_ms();
        if (now > deadline) break;
        if (!shut && now >= next) {
            size_t n = total - sent < chunk ? (size_t)(total - sent) : chunk;
            prng_fill(wb, n);
            hs = fnv(hs, wb, n);
            size_t off = 0;
            while (off < n) {
                ssize_t w = send(fd, wb + off, n - off, MSG_NOSIGNAL);
                if (w <= 0) break;
                off += (size_t)w;
            }
            sent += off;
            if (off < n) break;
            next += interval_ms;
            if (sent == total) { shutdown(fd, SHUT_WR); shut = 1; }
        }
        int wait = shut ? 1000 : (int)(next - now_ms());
        if (wait < 0) wait = 0;
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, wait) > 0) {
            ssize_t r = recv(fd, rb, sizeof(rb), 0);
            if (r <= 0) break;
            hr = fnv(hr, rb, (size_t)r);
            recvd += (uint64_t)r;
        }
    }
    int match = recvd == total && sent == total && hs == hr;
    printf("sent=%llu recv=%llu match=%s ms=%.1f\n", (unsigned long long)sent, (unsigned long long)recvd,
           match ? "yes" : "no", now_ms() - t0);
    close(fd);
    free(wb);
    return 0;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, int n, double p)
{
    if (n == 0) return -1;
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

static int c_rtt(int count, double target)
{
    int err = 0;
    int fd = dial(&err);
    if (fd < 0) { printf("result=refused\n"); return 0; }
    double *v = calloc((size_t)count, sizeof(double)), *e = calloc((size_t)count, sizeof(double));
    int ok = 0;
    for (int i = 0; i < count; i++) {
        char msg[17], got[16];
        snprintf(msg, sizeof(msg), "rtt-%012d", i);
        double t = now_ms();
        if (send(fd, msg, 16, MSG_NOSIGNAL) != 16) break;
        size_t have = 0;
        while (have < 16) {
            struct pollfd pf = {fd, POLLIN, 0};
            if (poll(&pf, 1, 10000) <= 0) break;
            ssize_t r = recv(fd, got + have, 16 - have, 0);
            if (r <= 0) break;
            have += (size_t)r;
        }
        if (have != 16 || memcmp(got, msg, 16)) break;
        v[ok] = now_ms() - t;
        e[ok] = v[ok] > target ? v[ok] - target : target - v[ok];
        ok++;
        usleep(10000);
    }
    qsort(v, (size_t)ok, sizeof(double), cmpd);
    qsort(e, (size_t)ok, sizeof(double), cmpd);
    printf("n=%d ok=%d min_ms=%.3f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f", count, ok, ok ? v[0] : -1, pct(v, ok, 0.5),
           pct(v, ok, 0.99), ok ? v[ok - 1] : -1);
    if (target > 0) printf(" err_p50_ms=%.3f err_p99_ms=%.3f", pct(e, ok, 0.5), pct(e, ok, 0.99));
    printf("\n");
    close(fd);
    free(v);
    free(e);
    return 0;
}

static int c_rate(double secs)
{
    int err = 0;
    int fd = dial(&err);
    if (fd < 0) { printf("result=refused\n"); return 0; }
    unsigned char b[65536];
    uint64_t bytes = 0, after_first = 0;
    double first = -1, last = -1, t0 = now_ms();
    const char *res = "done";
    while (now_ms() - t0 < secs * 1000) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 5000) <= 0) { res = "timeout"; break; }
        ssize_t r = recv(fd, b, sizeof(b), 0);
        if (r == 0) { res = "eof"; break; }
        if (r < 0) { res = "error"; break; }
        double t = now_ms();
        if (first < 0) first = t;
        else after_first += (uint64_t)r;
        last = t;
        bytes += (uint64_t)r;
    }
    double span = (last - first) / 1000.0;
    printf("bytes=%llu rate=%.0f secs=%.3f result=%s\n", (unsigned long long)bytes,
           span > 0 ? (double)after_first / span : 0.0, span, res);
    close(fd);
    return 0;
}

static int c_stalled(int pid, int stop_ms)
{
    int err = 0;
    int fd = dial(&err);
    if (fd < 0) { printf("result=refused\n"); return 0; }
    char msg[16], got[16];
    double rt[2] = {-1, -1};
    for (int k = 0; k < 2; k++) {
        memset(msg, 'a' + k, sizeof(msg));
        if (k == 1 && kill(pid, SIGSTOP) != 0) break;
        double t = now_ms();
        if (send(fd, msg, 16, MSG_NOSIGNAL) != 16) break;
        if (k == 1) {
            usleep((useconds_t)stop_ms * 1000);
            kill(pid, SIGCONT);
        }
        size_t have = 0;
        while (have < 16) {
            struct pollfd pf = {fd, POLLIN, 0};
            if (poll(&pf, 1, 20000) <= 0) break;
            ssize_t r = recv(fd, got + have, 16 - have, 0);
            if (r <= 0) break;
            have += (size_t)r;
        }
        if (have != 16 || memcmp(got, msg, 16)) break;
        rt[k] = now_ms() - t;
    }
    kill(pid, SIGCONT);   /* whatever happened above */
    printf("warm_ms=%.3f rtt_ms=%.3f\n", rt[0], rt[1]);
    close(fd);
    return 0;
}

static int c_echod(double secs)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ls < 0 || bind(ls, (struct sockaddr *)&target, sizeof(target)) < 0 || listen(ls, 64) < 0) {
        perror("echod");
        return 1;
    }
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    getsockname(ls, (struct sockaddr *)&a, &al);
    printf("listening %d\n", ntohs(a.sin_port));
    struct pollfd pf[65] = {{ls, POLLIN, 0}};
    int n = 1;
    double end = now_ms() + secs * 1000;
    char b[65536];
    while (now_ms() < end) {
        if (poll(pf, (nfds_t)n, (int)(end - now_ms()) + 1) <= 0) continue;
        for (int i = n - 1; i >= 1; i--) {
            if (!pf[i].revents) continue;
            ssize_t r = recv(pf[i].fd, b, sizeof(b), 0);
            ssize_t off = 0;
            while (r > 0 && off < r) {   /* blocking socket: the rest waits for room */
                ssize_t w = send(pf[i].fd, b + off, (size_t)(r - off), MSG_NOSIGNAL);
                if (w <= 0) { r = -1; break; }
                off += w;
            }
            if (r <= 0) { close(pf[i].fd); pf[i] = pf[--n]; }
        }
        if (pf[0].revents && n < 65) {
            int fd = accept(ls, NULL, NULL);
            if (fd >= 0) {
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                pf[n++] = (struct pollfd){fd, POLLIN, 0};
            }
        }
    }
    return 0;
}

static int c_hold(int n, double secs)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
    int opened = 0, answered = 0, closed = 0;
    for (int i = 0; i < n; i++) {
        int err = 0;
        pf[i].fd = dial(&err);
        pf[i].events = POLLIN;
        if (pf[i].fd < 0) continue;
        opened++;
        send(pf[i].fd, "ping\n", 5, MSG_NOSIGNAL);
    }
    printf("# holding %d\n", opened);
    fflush(stdout);
    double end = now_ms() + secs * 1000;
    while (now_ms() < end) {
        int r = poll(pf, (nfds_t)n, (int)(end - now_ms()) + 1);
        if (r <= 0) continue;
        for (int i = 0; i < n; i++) {
            if (pf[i].fd < 0 || !pf[i].revents) continue;
            char b[256];
            ssize_t k = recv(pf[i].fd, b, sizeof(b), 0);
            if (k > 0) answered++;
            else { closed++; close(pf[i].fd); pf[i].fd = -1; }
        }
    }
    printf("opened=%d answered=%d closed=%d\n", opened, answered, closed);
    for (int i = 0; i < n; i++) if (pf[i].fd >= 0) close(pf[i].fd);
    free(pf);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) { fprintf(stderr, "usage: see the top of tests/peers/faultc.c\n"); return 2; }
    const char *cmd = argv[1];
    parse_target(argv[2]);
    if (!strcmp(cmd, "reads")) return c_reads(argc > 3 ? atoi(argv[3]) : 10000);
    if (!strcmp(cmd, "calls") && argc > 4) return c_calls(atoi(argv[3]), atoi(argv[4]));
    if (!strcmp(cmd, "pace") && argc > 5)
        return c_pace(strtoull(argv[3], NULL, 10), strtoul(argv[4], NULL, 10), atoi(argv[5]));
    if (!strcmp(cmd, "rtt") && argc > 3) return c_rtt(atoi(argv[3]), argc > 4 ? atof(argv[4]) : 0);
    if (!strcmp(cmd, "rate") && argc > 3) return c_rate(atof(argv[3]));
    if (!strcmp(cmd, "hold") && argc > 4) return c_hold(atoi(argv[3]), atof(argv[4]));
    if (!strcmp(cmd, "stalled") && argc > 4) return c_stalled(atoi(argv[3]), atoi(argv[4]));
    if (!strcmp(cmd, "echod") && argc > 3) return c_echod(atof(argv[3]));
    fprintf(stderr, "bad arguments; see the top of tests/peers/faultc.c\n");
    return 2;
}
