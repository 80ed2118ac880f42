/* fuzz_export.c -- libFuzzer harness for record.json's export (run/export.c) reading a hostile
 * record: the input is the byte stream a Redis server answers with -- RESP replies, in order --
 * to the commands the export sends (SCAN, TYPE, HSCAN, SSCAN, ZSCAN, LRANGE, XRANGE, STRLEN,
 * GET, ZSCORE). A shared Redis may hold anything: whatever the replies, no crash, no sanitizer
 * report, no leak, no hang, and the file written always parses as JSON, whether the export
 * succeeded or Redis stopped answering midway.
 *
 * No network: as tests/fuzz/fuzz_vrec.c, the harness defines hiredis's connect function itself
 * and hands the runner's client (run_redis_connect, through record/read.c) one end of a
 * socketpair whose other end holds the input.
 */
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "run/run.h"

static const uint8_t *g_data;
static size_t g_size;
static int g_peer = -1;
static pthread_t g_drain;
static char g_path[64];

static void *drain(void *arg)
{
    char buf[4096];
    while (read((int)(intptr_t)arg, buf, sizeof(buf)) > 0) {}
    return NULL;
}

redisContext *redisConnectUnixWithTimeout(const char *path, const struct timeval tv)
{
    (void)path; (void)tv;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) abort();
    int big = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    size_t off = 0;
    while (off < g_size) {
        ssize_t w = send(sv[1], g_data + off, g_size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w <= 0) break;
        off += (size_t)w;
    }
    shutdown(sv[1], SHUT_WR);
    g_peer = sv[1];
    if (pthread_create(&g_drain, NULL, drain, (void *)(intptr_t)sv[1]) != 0) abort();
    return redisConnectFd(sv[0]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_path, sizeof(g_path), "/tmp/fuzz_export.%d.json", (int)getpid());
    return 0;
}

/* hiredis 0.14 allocates an array's element table from its header's count before any element
 * arrives (see fuzz_vrec.c): such inputs are skipped. */
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
    char err[1024];
    /* the PING of the connect is the first reply the input answers */
    void *ctx = run_redis_connect("unix:/fuzz.sock", err, sizeof(err));
    if (ctx) {
        int rc = run_redis_export(ctx, "r1", g_path, err, sizeof(err));
        json_error_t je;
        json_t *j = json_load_file(g_path, JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
        /* SCAN failing leaves no file; otherwise what was written parses (a "\u0000" in an object
         * key is valid JSON that jansson alone declines) */
        if (!j && (rc == 0 || access(g_path, F_OK) == 0) && !strstr(je.text, "NUL byte in object key")) {
            fprintf(stderr, "fuzz_export: record.json does not parse (rc %d): %s at %d:%d\n", rc, je.text, je.line,
                    je.column);
            abort();
        }
        json_decref(j);
        unlink(g_path);
        run_redis_free(ctx);
    }
    if (g_peer >= 0) {
        pthread_join(g_drain, NULL);
        close(g_peer);
        g_peer = -1;
    }
    return 0;
}
