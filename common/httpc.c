/* common/httpc.c -- the one small blocking HTTP/1.1 client (common/httpc.h).
 *
 * A non-blocking socket driven by poll() against two deadlines: connecting, and the whole
 * exchange. The answer is read into one buffer that doubles up to max_answer; the head is
 * looked at as soon as it is complete, and a Content-Length ends the reading there (the peer's
 * close is not waited for). A name is resolved with getaddrinfo at each call, outside the
 * deadlines (it has none of its own), as the probe sampler always did.
 */
#include "common/httpc.h"
#include "common/mem.h"

#include <errno.h>
#include <stdarg.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HTTPC_HEAD_MAX 4096       /* our request head (the headers callers add are short) */
#define HTTPC_FIRST_BUF 16384     /* the answer buffer's first size; it doubles */

int httpc_target(const char *addr, int allow_name, struct httpc_target *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    if (!strncmp(addr, "http://", 7)) addr += 7;
    char buf[sizeof(t->text)];
    snprintf(buf, sizeof(buf), "%s", addr);
    size_t l = strlen(buf);
    if (l && buf[l - 1] == '/') buf[l - 1] = 0;
    snprintf(t->text, sizeof(t->text), "%s", buf);
    if (!strncasecmp(buf, "localhost:", 10)) {
        char v4[sizeof(buf)];
        snprintf(v4, sizeof(v4), "127.0.0.1:%.*s", (int)(sizeof(v4) - 11), buf + 10);
        snprintf(buf, sizeof(buf), "%s", v4);
    }
    if (parse_addr(buf, allow_name, &t->addr, err, errlen) < 0) return -1;
    snprintf(t->host, sizeof(t->host), "%s", t->addr.kind == ADDR_UNIX ? "localhost" : t->text);
    return 0;
}

int httpc_bearer(const char *token, char out[HTTPC_BEARER_MAX], char *err, size_t errlen)
{
    out[0] = 0;
    if (!token || !*token) return 0;
    size_t n = strnlen(token, HTTPC_TOKEN_MAX + 1);
    if (n > HTTPC_TOKEN_MAX) {
        snprintf(err, errlen, "the token is longer than %d bytes (the admin API accepts no longer one)", HTTPC_TOKEN_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)token[i] <= ' ' || token[i] == 0x7f) {
            snprintf(err, errlen, "the token holds a space or a control byte (at byte %zu)", i + 1);
            return -1;
        }
    snprintf(out, HTTPC_BEARER_MAX, "Authorization: Bearer %s\r\n", token);
    return 0;
}

int httpc_url(const char *url, struct httpc_target *t, const char **path, char *err, size_t errlen)
{
    if (strncmp(url, "http://", 7)) {
        snprintf(err, errlen, "url '%s': only http:// is supported", url);
        return -1;
    }
    const char *hp = url + 7, *slash = strchr(hp, '/');
    size_t hl = slash ? (size_t)(slash - hp) : strlen(hp);
    char hostport[sizeof(t->text)];
    if (hl == 0 || hl + 4 >= sizeof(hostport)) { snprintf(err, errlen, "url '%s': bad host", url); return -1; }
    memcpy(hostport, hp, hl);
    hostport[hl] = 0;
    /* no port: 80 ("[v6]" or "name", not "name:port" nor "[v6]:port") */
    const char *rb = hostport[0] == '[' ? strchr(hostport, ']') : NULL;
    int has_port = hostport[0] == '[' ? rb && rb[1] == ':' : strchr(hostport, ':') != NULL;
    if (!has_port) memcpy(hostport + hl, ":80", 4);
    char e[FL_ERRLEN];
    if (httpc_target(hostport, 1, t, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "url '%s': %s", url, e);
        return -1;
    }
    if (!has_port) snprintf(t->host, sizeof(t->host), "%.*s", (int)hl, hp);   /* as written */
    *path = slash ? slash : "/";
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for ev or the deadline passes. 0, or -1 with errno (ETIMEDOUT). */
static int wait_fd(int fd, short ev, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0) { errno = ETIMEDOUT; return -1; }
        struct pollfd p = {fd, ev, 0};
        int n = poll(&p, 1, (int)left);
        if (n > 0) return 0;
        if (n < 0 && errno != EINTR) return -1;
    }
}

/* A connected non-blocking socket, or -1 with err. */
static int dial(const struct httpc_target *t, int64_t deadline, char *err, size_t errlen)
{
    struct sockaddr_storage ss = t->addr.ss;
    socklen_t sslen = t->addr.sslen;
    if (t->addr.kind == ADDR_NAME) {
        char port[16];
        snprintf(port, sizeof(port), "%d", t->addr.port);
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        int rc = getaddrinfo(t->addr.host, port, &hints, &res);
        if (rc || !res) { snprintf(err, errlen, "%s", gai_strerror(rc)); return -1; }
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        sslen = res->ai_addrlen;
        freeaddrinfo(res);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) { snprintf(err, errlen, "socket: %s", strerror(errno)); return -1; }
    if (connect(fd, (struct sockaddr *)&ss, sslen) == 0) return fd;
    if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 0) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && !soerr) return fd;
        errno = soerr ? soerr : errno;
    }
    snprintf(err, errlen, "%s", strerror(errno));
    close(fd);
    return -1;
}

static int send_all(int fd, const char *p, size_t n, int64_t deadline)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, p + off, n - off, MSG_NOSIGNAL);
        if (w > 0) { off += (size_t)w; continue; }
        if (w < 0 && (errno == EAGAIN || errno == EINTR) && wait_fd(fd, POLLOUT, deadline) == 0) continue;
        return -1;
    }
    return 0;
}

static int fail(struct httpc_resp *out, enum httpc_fail why, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(struct httpc_resp *out, enum httpc_fail why, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    out->fail = why;
    return -1;
}

/* The answer's head, once it is complete: its length, status and Content-Length (-1: none).
 * 0 (head not complete yet), 1 (parsed), or -1 (not HTTP, or chunked). */
static int parse_head(const char *buf, size_t n, size_t *head_len, int *status, long long *clen)
{
    const char *eoh = memmem(buf, n, "\r\n\r\n", 4);
    if (!eoh) return 0;
    *head_len = (size_t)(eoh + 4 - buf);
    if (sscanf(buf, "HTTP/%*d.%*d %d", status) != 1) return -1;
    *clen = -1;
    const char *l = memmem(buf, (size_t)(eoh - buf), "\r\n", 2);
    while (l && l < eoh) {
        l += 2;
        const char *le = memmem(l, (size_t)(eoh + 2 - l), "\r\n", 2);
        size_t ll = (size_t)(le - l);
        if (ll > 15 && !strncasecmp(l, "Content-Length:", 15)) *clen = strtoll(l + 15, NULL, 10);
        else if (ll > 18 && !strncasecmp(l, "Transfer-Encoding:", 18) && memmem(l, ll, "chunked", 7)) return -1;
        l = le;
    }
    return 1;
}

/* Reads the answer into out. 0, or -1 with err and out->fail. */
static int read_answer(int fd, const struct httpc_req *rq, int64_t deadline, struct httpc_resp *out, char *err,
                       size_t errlen)
{
    size_t max = rq->max_answer ? rq->max_answer : HTTPC_MAX_ANSWER;
    size_t cap = HTTPC_FIRST_BUF, n = 0, head_len = 0, want = 0;
    long long clen = -1;
    int have_head = 0, rc = -1;
    char *buf = fl_malloc(cap);
    for (;;) {
        if (!have_head) {
            buf[n] = 0;
            have_head = parse_head(buf, n, &head_len, &out->status, &clen);
            if (have_head < 0) { fail(out, HTTPC_EPROTO, err, errlen, "not an HTTP answer"); goto done; }
            if (have_head && clen >= 0) want = head_len + (size_t)clen;
        }
        if (want && n >= want) { n = want; break; }
        if (n >= max || (want && want > max)) {
            fail(out, HTTPC_ETOOBIG, err, errlen, "answer larger than %zu bytes", max);
            goto done;
        }
        if (n + 1 >= cap) {
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            buf = fl_realloc(buf, cap);
        }
        ssize_t got = recv(fd, buf + n, cap - n - 1, 0);
        if (got > 0) { n += (size_t)got; continue; }
        if (got == 0) break;
        if (errno == EAGAIN || errno == EINTR) {
            if (wait_fd(fd, POLLIN, deadline) == 0) continue;
            if (errno == ETIMEDOUT) { fail(out, HTTPC_ETIMEOUT, err, errlen, "no complete answer in time"); goto done; }
        }
        fail(out, HTTPC_ERECV, err, errlen, "%s", strerror(errno));
        goto done;
    }
    if (!have_head) { fail(out, HTTPC_EPROTO, err, errlen, "not an HTTP answer"); goto done; }
    if (want && n < want) {
        fail(out, HTTPC_ERECV, err, errlen, "the answer ended after %zu of %lld body bytes", n - head_len, clen);
        goto done;
    }
    out->blen = n - head_len;
    memmove(buf, buf + head_len, out->blen);
    buf[out->blen] = 0;
    out->body = buf;
    buf = NULL;
    rc = 0;
done:
    free(buf);
    return rc;
}

int httpc_call(const struct httpc_target *t, const struct httpc_req *rq, struct httpc_resp *out, char *err,
               size_t errlen)
{
    memset(out, 0, sizeof(*out));
    int64_t start = mono_ms(), deadline = start + rq->total_ms;
    int64_t conn_deadline = rq->connect_ms < rq->total_ms ? start + rq->connect_ms : deadline;
    char head[HTTPC_HEAD_MAX];
    int nobody = !rq->body && (!strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD"));
    int hl = snprintf(head, sizeof(head), "%s %s HTTP/1.%d\r\nHost: %s\r\nConnection: close\r\n%s", rq->method,
                      rq->path, rq->http10 ? 0 : 1, t->host, rq->headers ? rq->headers : "");
    if (hl > 0 && (size_t)hl < sizeof(head))
        hl += nobody ? snprintf(head + hl, sizeof(head) - (size_t)hl, "\r\n")
                     : snprintf(head + hl, sizeof(head) - (size_t)hl, "Content-Length: %zu\r\n\r\n", rq->blen);
    if (hl < 0 || (size_t)hl >= sizeof(head)) return fail(out, HTTPC_ESEND, err, errlen, "request head too long");
    int fd = dial(t, conn_deadline, err, errlen);
    if (fd < 0) { out->fail = HTTPC_ECONNECT; return -1; }
    if (send_all(fd, head, (size_t)hl, deadline) < 0 || (rq->body && send_all(fd, rq->body, rq->blen, deadline) < 0)) {
        fail(out, HTTPC_ESEND, err, errlen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    int rc = read_answer(fd, rq, deadline, out, err, errlen);
    close(fd);
    return rc;
}

void httpc_resp_free(struct httpc_resp *r)
{
    if (!r) return;
    free(r->body);
    r->body = NULL;
    r->blen = 0;
}
