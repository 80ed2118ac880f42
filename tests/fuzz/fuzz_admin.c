/* fuzz_admin.c -- libFuzzer harness for the admin API (control/admin.c, control/admin_toxi.c,
 * control/guard.c): arbitrary bytes as the JSON (or INI) body of every mutating endpoint, and
 * whole requests of arbitrary bytes (request line, headers -- Host, Origin, Sec-Fetch-Site,
 * Authorization -- and body), sent through the real evhttp server on a loopback TCP port (so
 * the Host check of the gate runs), handled on the real event loop.
 *
 * The server is built once (admin on a unix socket, two disabled proxies with faults); before
 * every input every proxy is removed and the baseline profile applied again, so each input
 * starts from the same state. Byte 0 picks the request: a mutating endpoint from TARGETS (body
 * = the rest of the input), or, for selectors past the table up to RAW_SEL, a free request:
 * byte 1 picks the method, the input up to the first newline is the path (control bytes and
 * spaces dropped) and the rest the body; from RAW_SEL on, the rest of the input is sent as it
 * is (the harness only half-closes after it) and needs no answer. The profile sets
 * admin_hosts, api_listen_allow and unix_dirs, so their checks run on what the inputs name.
 * Checked: no crash, no sanitizer report, no leak, an answer within 5 s,
 * never the "out of memory" answer of a JSON document that could not be built, and every
 * answer of a table endpoint is a status with an empty body or a JSON document.
 *
 * Run it in a private network namespace (scripts/fuzz.sh does, with unshare -n): bodies name
 * listen addresses, and proxies bound on the shared loopback would collide with other tests'
 * ports. Nothing is ever connected to an upstream.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <jansson.h>
#include <event2/event.h>
#include "proxy/proxy.h"
#include "control/admin.h"
#include "common/log.h"
#include "proxy/profile.h"

static const char BASE[] =
    "[proxy p1]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:9\nenabled = no\n"
    "[proxy h1]\nlisten = 127.0.0.2:0\nupstream = 127.0.0.1:9\nmode = http\nenabled = no\n"
    "[fault f1]\nproxy = p1\ntype = latency\ndelay = 10ms\njitter = 1ms\n"
    "[fault lat]\nproxy = p1\ntype = bandwidth\nrate = 1MiB\ndirection = upstream\n"
    "[fault hf]\nproxy = h1\ntype = http_error\nstatus = 500\nmatch_path = /x*\n";

static const struct { const char *method, *path; } TARGETS[] = {
    {"POST", "/faults"},
    {"PATCH", "/faults/f1"},
    {"PATCH", "/faults/hf"},
    {"POST", "/proxies"},
    {"POST", "/proxies/p1"},
    {"PATCH", "/proxies/h1"},
    {"POST", "/proxies/p1/toxics"},
    {"POST", "/proxies/h1/toxics"},
    {"POST", "/proxies/p1/toxics/f1"},
    {"POST", "/proxies/p1/toxics/lat"},
    {"POST", "/populate"},
    {"POST", "/profile"},
    {"POST", "/reset"},
    {"POST", "/kill"},
};
#define NTARGETS (sizeof(TARGETS) / sizeof(TARGETS[0]))
static const char *METHODS[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};

static struct fl_server *S;
static int PORT;
static char GLOBAL[512];
#define RAW_SEL 240

static struct profile *baseline(void)
{
    static char text[4096];
    snprintf(text, sizeof(text), "%s%s", GLOBAL, BASE);
    char err[1024];
    struct profile *p = profile_parse("fuzz_admin.ini", text, 0, err, sizeof(err));
    if (!p) { fprintf(stderr, "fuzz_admin: profile: %s\n", err); abort(); }
    return p;
}

/* A free loopback port for the admin API (in scripts/fuzz.sh's private network namespace). */
static int pick_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) abort();
    close(fd);
    return ntohs(sa.sin_port);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    PORT = pick_port();
    snprintf(GLOBAL, sizeof(GLOBAL),
             "[faultline]\nadmin = 127.0.0.1:%d\nlog = error\nadmin_hosts = fuzz, *.fuzz.test\n"
             "api_listen_allow = 127.0.0.0/8:1024-65535, [::1]\nunix_dirs = /tmp/fuzz_admin.d\n", PORT);
    char err[1024];
    log_min_level = LOG_ERROR;
    server_compose(&admin_part);   /* as cli/main.c composes the daemon */
    S = server_new(baseline(), err, sizeof(err));
    if (!S) { fprintf(stderr, "fuzz_admin: server: %s\n", err); abort(); }
    return 0;
}

static void reset_state(void)
{
    while (S->nproxies) server_remove_proxy(S, S->proxies[S->nproxies - 1]);
    char err[1024];
    struct profile *p = baseline();
    if (server_apply(S, p, err, sizeof(err)) < 0) { fprintf(stderr, "fuzz_admin: reset: %s\n", err); abort(); }
    S->draining = 0;
}

static int64_t now_ms(void) { return fl_now_us() / 1000; }

/* Sends req on a fresh connection and returns the whole answer (malloc'd) in *out. */
static size_t exchange(const char *req, size_t len, int half_close, char **out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) abort();
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)PORT), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS && errno != EAGAIN) {
        fprintf(stderr, "fuzz_admin: connect: %s\n", strerror(errno));
        abort();
    }
    size_t sent = 0, got = 0, cap = 4096;
    char *buf = malloc(cap);
    if (!buf) abort();
    int64_t deadline = now_ms() + 5000;
    int shut = 0;
    for (;;) {
        if (sent < len) {
            ssize_t w = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
            if (w > 0) sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR) sent = len;   /* server closed early */
        }
        if (sent == len && half_close && !shut) { shutdown(fd, SHUT_WR); shut = 1; }
        event_base_loop(S->base, EVLOOP_NONBLOCK);
        if (got == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
        ssize_t r = recv(fd, buf + got, cap - got, 0);
        if (r == 0) break;
        if (r > 0) { got += (size_t)r; continue; }
        if (errno != EAGAIN && errno != EINTR) break;   /* reset after a refusal: what came is the answer */
        if (now_ms() > deadline) { fprintf(stderr, "fuzz_admin: no answer within 5 s\n"); abort(); }
    }
    close(fd);
    *out = buf;
    return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536) return 0;
    reset_state();
    if (data[0] >= RAW_SEL) {   /* a whole request (or several, or none) as the input says */
        char *ans;
        exchange((const char *)data + 1, size - 1, 1, &ans);
        free(ans);
        return 0;
    }
    const char *method, *path;
    char pbuf[512];
    const uint8_t *body = data + 1;
    size_t blen = size - 1;
    int table = data[0] < NTARGETS * 16;
    if (table) {
        method = TARGETS[data[0] % NTARGETS].method;
        path = TARGETS[data[0] % NTARGETS].path;
    } else {
        if (size < 2) return 0;
        method = METHODS[data[1] % 7];
        size_t i = 2, n = 0;
        pbuf[n++] = '/';
        for (; i < size && data[i] != '\n'; i++)
            if (data[i] > 0x20 && data[i] < 0x7f && n < sizeof(pbuf) - 1) pbuf[n++] = (char)data[i];
        pbuf[n] = 0;
        path = pbuf;
        body = data + (i < size ? i + 1 : size);
        blen = size - (size_t)(body - data);
    }
    char head[800];
    int hl = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
                      method, path, blen);
    char *req = malloc((size_t)hl + blen);
    if (!req) abort();
    memcpy(req, head, (size_t)hl);
    memcpy(req + hl, body, blen);
    char *ans;
    size_t alen = exchange(req, (size_t)hl + blen, 0, &ans);
    free(req);
    if (alen < 12 || memcmp(ans, "HTTP/1.1 ", 9) != 0) { fprintf(stderr, "fuzz_admin: no HTTP answer\n"); abort(); }
    /* adm_json's answer when building the JSON failed: never the answer to a request */
    if (memmem(ans, alen, "\"out of memory\"", 15)) {
        fprintf(stderr, "fuzz_admin: JSON answer could not be built: %.*s\n", (int)alen, ans);
        abort();
    }
    if (table) {
        char *sep = memmem(ans, alen, "\r\n\r\n", 4);
        if (!sep) { fprintf(stderr, "fuzz_admin: answer without a head\n"); abort(); }
        size_t bl = alen - (size_t)(sep + 4 - ans);
        if (bl) {
            json_error_t je;
            json_t *j = json_loadb(sep + 4, bl, 0, &je);
            if (!j) { fprintf(stderr, "fuzz_admin: answer body is not JSON: %.*s\n", (int)alen, ans); abort(); }
            json_decref(j);
        }
    }
    free(ans);
    return 0;
}
