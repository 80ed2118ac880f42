/* httpc.c -- a small HTTP/1.1 client for tests/protocols/http_*.sh: many requests on ONE
 * connection, one after the other (keep-alive) or all at once (-p, pipelining), responses parsed
 * with libhttp-parser.
 *
 *   httpc [-p] [-t TIMEOUT_MS] ADDR REQ...
 *
 * REQ is "METHOD PATH[ BODYLEN][|Header: value...]" (a body of BODYLEN pseudo-random bytes with
 * Content-Length; method POSTC sends it chunked as POST), or "RAW:text" (sent as is, with \r \n
 * \\ escapes; expects one response). Prints one line per response:
 *   resp n=I status=S bytes=B fnv=HEX ms=T hdr_via=yes|no
 * then "result=ok|eof|reset|timeout|error got=N ms=T" (exit 0 only for ok with every response).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct st {
    int nreq, got, is_head[256], done, via, last_value;
    uint64_t bytes, h;
    double t0, tsent;
    char hn[64];
    size_t hnl;
};

static int on_hf(http_parser *p, const char *at, size_t len)
{
    struct st *s = p->data;
    if (s->last_value) s->hnl = 0;
    s->last_value = 0;
    if (s->hnl + len < sizeof(s->hn)) { memcpy(s->hn + s->hnl, at, len); s->hnl += len; s->hn[s->hnl] = 0; }
    if (!strcasecmp(s->hn, "via")) s->via = 1;
    return 0;
}
static int on_hv(http_parser *p, const char *at, size_t len) { ((struct st *)p->data)->last_value = 1; return 0; }
static int on_hc(http_parser *p)
{
    struct st *s = p->data;
    if (p->status_code < 200) return 0;
    return s->got < 256 && s->is_head[s->got] ? 1 : 0;
}
static int on_body(http_parser *p, const char *at, size_t len)
{
    struct st *s = p->data;
    s->bytes += len;
    for (size_t i = 0; i < len; i++) { s->h ^= (unsigned char)at[i]; s->h *= 1099511628211ULL; }
    return 0;
}
static int on_mc(http_parser *p)
{
    struct st *s = p->data;
    if (p->status_code >= 100 && p->status_code < 200) {
        printf("interim status=%d ms=%.1f\n", p->status_code, now_ms() - s->tsent);
        return 0;
    }
    s->got++;
    printf("resp n=%d status=%d bytes=%llu fnv=%016llx ms=%.1f hdr_via=%s\n", s->got, p->status_code,
           (unsigned long long)s->bytes, (unsigned long long)s->h, now_ms() - s->tsent, s->via ? "yes" : "no");
    fflush(stdout);
    s->bytes = 0;
    s->h = 1469598103934665603ULL;
    s->via = 0;
    s->hnl = 0;
    s->last_value = 0;
    s->done = 1;
    return 0;
}
static const http_parser_settings S = {
    .on_header_field = on_hf, .on_header_value = on_hv, .on_headers_complete = on_hc,
    .on_body = on_body, .on_message_complete = on_mc,
};

static int send_all(int fd, const char *b, size_t n)
{
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static char *unescape(const char *s, size_t *outlen)
{
    char *o = malloc(strlen(s) + 1);
    size_t k = 0;
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            o[k++] = *s == 'r' ? '\r' : *s == 'n' ? '\n' : *s;
        } else o[k++] = *s;
    }
    *outlen = k;
    return o;
}

/* Builds request i into a malloc'd buffer. */
static char *build(const char *spec, const char *hostport, size_t *len, int *is_head)
{
    if (!strncmp(spec, "RAW:", 4)) { *is_head = 0; return unescape(spec + 4, len); }
    char method[16] = "", path[1024] = "";
    long long blen = -1;
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", spec);
    char *hdrs = strchr(copy, '|');
    if (hdrs) *hdrs++ = 0;
    sscanf(copy, "%15s %1023s %lld", method, path, &blen);
    int chunked = !strcmp(method, "POSTC");
    if (chunked) strcpy(method, "POST");
    *is_head = !strcmp(method, "HEAD");
    size_t cap = 8192 + (blen > 0 ? (size_t)blen * 2 + 64 : 0);
    char *b = malloc(cap);
    size_t k = (size_t)snprintf(b, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, hostport);
    while (hdrs && *hdrs) {
        char *next = strchr(hdrs, '|');
        if (next) *next++ = 0;
        k += (size_t)snprintf(b + k, cap - k, "%s\r\n", hdrs);
        hdrs = next;
    }
    if (blen >= 0 && !chunked) k += (size_t)snprintf(b + k, cap - k, "Content-Length: %lld\r\n", blen);
    if (chunked) k += (size_t)snprintf(b + k, cap - k, "Transfer-Encoding: chunked\r\n");
    k += (size_t)snprintf(b + k, cap - k, "\r\n");
    uint64_t r = 42;
    long long left = blen > 0 ? blen : 0;
    while (left > 0) {
        long long n = chunked ? (left < 1000 ? left : 1000) : left;
        if (chunked) k += (size_t)snprintf(b + k, cap - k, "%llx\r\n", n);
        for (long long i = 0; i < n; i++) { r ^= r << 13; r ^= r >> 7; r ^= r << 17; b[k++] = (char)(r >> 24); }
        if (chunked) { b[k++] = '\r'; b[k++] = '\n'; }
        left -= n;
    }
    if (chunked) k += (size_t)snprintf(b + k, cap - k, "0\r\n\r\n");
    *len = k;
    return b;
}

int main(int argc, char **argv)
{
    int pipeline = 0, timeout = 10000, i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-p")) pipeline = 1;
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) timeout = atoi(argv[++i]);
    }
    if (i + 1 >= argc) { fprintf(stderr, "usage: httpc [-p] [-t MS] 127.0.0.1:PORT REQ...\n"); return 2; }
    const char *addr = argv[i++];
    char host[64];
    int port;
    if (sscanf(addr, "%63[^:]:%d", host, &port) != 2) return 2;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sin.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct st s = {0};
    s.h = 1469598103934665603ULL;
    s.t0 = now_ms();
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        printf("result=refused got=0 ms=%.1f\n", now_ms() - s.t0);
        return 1;
    }
    http_parser p;
    http_parser_init(&p, HTTP_RESPONSE);
    p.data = &s;
    int nreq = argc - i;
    char **reqs = argv + i;
    const char *result = "ok";
    int sent = 0;
    char buf[65536];
    double deadline = now_ms() + timeout;
    while (s.got < nreq) {
        if (sent == s.got || (pipeline && sent < nreq)) {
            int upto = pipeline ? nreq : sent + 1;
            for (; sent < upto; sent++) {
                size_t len;
                char *b = build(reqs[sent], addr, &len, &s.is_head[sent < 256 ? sent : 255]);
                s.tsent = now_ms();
                int rc = send_all(fd, b, len);
                free(b);
                if (rc < 0) { result = errno == ECONNRESET ? "reset" : "eof"; goto out; }
            }
        }
        double left = deadline - now_ms();
        if (left <= 0) { result = "timeout"; break; }
        struct pollfd pf = {fd, POLLIN, 0};
        int pr = poll(&pf, 1, (int)left + 1);
        if (pr == 0) { result = "timeout"; break; }
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0) { result = errno == ECONNRESET ? "reset" : "error"; break; }
        size_t used = http_parser_execute(&p, &S, buf, (size_t)n);
        if (n == 0) { if (s.got < nreq) result = "eof"; break; }
        if (HTTP_PARSER_ERRNO(&p) != HPE_OK || used != (size_t)n) { result = "error"; break; }
    }
out:
    printf("result=%s got=%d ms=%.1f\n", result, s.got, now_ms() - s.t0);
    close(fd);
    return strcmp(result, "ok") == 0 && s.got == nreq ? 0 : 1;
}
