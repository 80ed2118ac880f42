/* fuzz_vrec.c -- libFuzzer harness for the verifier reading a hostile record (record/read.c):
 * the input is the byte stream a Redis server answers with -- RESP replies, in order -- to the
 * commands vrec_open and vrec_proxy send (PING, ZSCORE, SMEMBERS, TTL, HGETALL, XRANGE, HGET).
 * A shared Redis may hold anything another writer put there, so every reply shape, count and
 * value must be survivable: no crash, no sanitizer report, no leak, no hang.
 *
 * No network: the harness defines hiredis's two connect functions itself (an executable's
 * definitions win over the shared library's for read.o's calls), handing read.c a context on
 * one end of a socketpair whose other end already holds the input, then end-of-stream. A
 * thread drains the commands read.c writes, so a long exchange never blocks on a full buffer.
 * read.c is used unchanged.
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "record/read.h"

static const uint8_t *g_data;
static size_t g_size;
static int g_peer = -1;
static pthread_t g_drain;

static void *drain(void *arg)
{
    char buf[4096];
    while (read((int)(intptr_t)arg, buf, sizeof(buf)) > 0) {}
    return NULL;
}

static redisContext *fake_connect(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) abort();
    int big = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    size_t off = 0;
    while (off < g_size) {
        ssize_t w = send(sv[1], g_data + off, g_size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w <= 0) break;   /* the input is capped well below the buffer; anything past it is cut */
        off += (size_t)w;
    }
    shutdown(sv[1], SHUT_WR);   /* the "server" has said everything it will */
    g_peer = sv[1];
    if (pthread_create(&g_drain, NULL, drain, (void *)(intptr_t)sv[1]) != 0) abort();
    return redisConnectFd(sv[0]);
}

redisContext *redisConnectWithTimeout(const char *ip, int port, const struct timeval tv)
{
    (void)ip; (void)port; (void)tv;
    return fake_connect();
}

redisContext *redisConnectUnixWithTimeout(const char *path, const struct timeval tv)
{
    (void)path; (void)tv;
    return fake_connect();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* hiredis 0.14 (Debian 12) allocates an array reply's element table from the count in its
 * header before any element arrives: "*2000000000" asks calloc for 16 GB. That is the library's
 * (virtual memory, lazily backed; newer hiredis caps it with maxelements), not read.c's, and
 * libFuzzer's malloc limit would stop on it every time: such inputs are skipped. */
static int huge_array_header(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (d[i] != '*') continue;
        size_t k = i + 1, digits = 0;
        while (k < n && d[k] >= '0' && d[k] <= '9') { k++; digits++; }
        if (digits >= 7) return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536 || huge_array_header(data, size)) return 0;
    g_data = data;
    g_size = size;
    struct vrec v;
    char err[1024];
    if (vrec_open(&v, "redis://127.0.0.1:6379", "r1", err, sizeof(err)) == 0) {
        /* every proxy the record names, with its events; then one it does not */
        for (int i = 0; i < v.nfaults && i < 4; i++)
            if (v.faults[i].proxy[0] && !vrec_proxy(&v, v.faults[i].proxy, 1, err, sizeof(err))) break;
        for (int i = 0; i < v.npconf && i < 4; i++) {
            vrec_id_header(&v, v.pconf[i].name);
            if (!vrec_proxy(&v, v.pconf[i].name, 1, err, sizeof(err))) break;
        }
        vrec_proxy(&v, "db", 1, err, sizeof(err));
    }
    vrec_free(&v);
    if (g_peer >= 0) {
        pthread_join(g_drain, NULL);   /* vrec_free closed our end: the drain sees end-of-stream */
        close(g_peer);
        g_peer = -1;
    }
    return 0;
}
