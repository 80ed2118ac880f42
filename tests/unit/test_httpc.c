/* test_httpc.c -- the one HTTP client (common/httpc.c) against a real peer: a forked child
 * listening on a unix socket (and on 127.0.0.1) that reads one request and writes a canned
 * answer, or none. Addresses and URLs, Content-Length and close-delimited bodies, the size cap,
 * the deadline, answers that are not HTTP or are chunked, and a peer that is not there. */
#include "unit.h"
#include "common/httpc.h"
#include "common/mem.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

struct peer { int pid; char path[108]; int port; char req[4096]; };

/* Serves one connection: reads the request head (sent back through a pipe), sleeps hold_ms,
 * writes answer (n bytes), closes. tcp: 127.0.0.1 on an ephemeral port, else a unix socket.
 * Returns the pipe's read end, or -1. */
static int peer_start(struct peer *p, int tcp, const char *answer, size_t n, int hold_ms)
{
    memset(p, 0, sizeof(*p));
    int fd;
    if (tcp) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof(sin);
        if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) return -1;
        getsockname(fd, (struct sockaddr *)&sin, &sl);
        p->port = ntohs(sin.sin_port);
    } else {
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        snprintf(p->path, sizeof(p->path), "/tmp/fl-httpc-%d-%d.sock", (int)getpid(), rand());
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", p->path);
        unlink(p->path);
        if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) return -1;
    }
    if (listen(fd, 4) < 0) return -1;
    int pipefd[2];
    if (pipe(pipefd) < 0) return -1;
    p->pid = fork();
    if (p->pid == 0) {
        close(pipefd[0]);
        int c = accept(fd, NULL, NULL);
        char buf[4096];
        size_t got = 0;
        while (got < sizeof(buf) - 1 && !memmem(buf, got, "\r\n\r\n", 4)) {
            ssize_t r = read(c, buf + got, sizeof(buf) - 1 - got);
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (write(pipefd[1], buf, got) < 0) _exit(1);
        close(pipefd[1]);
        if (hold_ms) usleep((useconds_t)hold_ms * 1000);
        for (size_t off = 0; off < n;) {
            ssize_t w = write(c, answer + off, n - off);
            if (w <= 0) break;
            off += (size_t)w;
        }
        close(c);
        _exit(0);
    }
    close(fd);
    close(pipefd[1]);
    return pipefd[0];     /* the request, read back after the call (peer_end) */
}

static void peer_end(struct peer *p, int rfd)
{
    ssize_t n = read(rfd, p->req, sizeof(p->req) - 1);
    p->req[n > 0 ? n : 0] = 0;
    close(rfd);
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    if (p->path[0]) unlink(p->path);
}

static int call_unix(struct peer *p, const char *answer, size_t n, int hold_ms, const struct httpc_req *rq,
                     struct httpc_resp *r, char *err)
{
    int rfd = peer_start(p, 0, answer, n, hold_ms);
    char addr[200];
    snprintf(addr, sizeof(addr), "unix:%s", p->path);
    struct httpc_target t;
    int rc = httpc_target(addr, 0, &t, err, FL_ERRLEN);
    if (rc == 0) rc = httpc_call(&t, rq, r, err, FL_ERRLEN);
    peer_end(p, rfd);
    return rc;
}

UNIT(httpc_targets_and_urls)
{
    struct httpc_target t;
    char err[FL_ERRLEN];
    const char *path;
    EXPECT_EQ_INT(httpc_target("http://localhost:8474/", 0, &t, err, sizeof(err)), 0);
    EXPECT_STR(t.text, "localhost:8474");
    EXPECT_EQ_INT(t.addr.kind, ADDR_INET);
    EXPECT_EQ_INT(t.addr.port, 8474);
    EXPECT_EQ_INT(httpc_target("unix:/run/fl.sock", 0, &t, err, sizeof(err)), 0);
    EXPECT_STR(t.host, "localhost");
    EXPECT_EQ_INT(httpc_target("db.internal:80", 0, &t, err, sizeof(err)), -1);
    EXPECT_CONTAINS(err, "not an IP address");
    EXPECT_EQ_INT(httpc_url("http://svc.local/metrics?x=1", &t, &path, err, sizeof(err)), 0);
    EXPECT_EQ_INT(t.addr.kind, ADDR_NAME);
    EXPECT_EQ_INT(t.addr.port, 80);
    EXPECT_STR(t.host, "svc.local");
    EXPECT_STR(path, "/metrics?x=1");
    EXPECT_EQ_INT(httpc_url("http://[::1]:9090", &t, &path, err, sizeof(err)), 0);
    EXPECT_EQ_INT(t.addr.port, 9090);
    EXPECT_STR(path, "/");
    EXPECT_EQ_INT(httpc_url("https://x:1/", &t, &path, err, sizeof(err)), -1);
    EXPECT_CONTAINS(err, "only http://");
}

UNIT(httpc_content_length_and_close)
{
    struct peer p;
    struct httpc_resp r;
    char err[FL_ERRLEN];
    const char *cl = "HTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\nhelloIGNORED";
    struct httpc_req rq = {.method = "POST", .path = "/faults", .headers = "X-A: b\r\n", .body = "{}", .blen = 2,
                           .connect_ms = 2000, .total_ms = 2000};
    EXPECT_EQ_INT(call_unix(&p, cl, strlen(cl), 0, &rq, &r, err), 0);
    EXPECT_EQ_INT(r.status, 201);
    EXPECT_EQ_INT(r.blen, 5);
    EXPECT_STR(r.body, "hello");
    EXPECT_CONTAINS(p.req, "POST /faults HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-A: b\r\n");
    EXPECT_CONTAINS(p.req, "Content-Length: 2\r\n\r\n");
    httpc_resp_free(&r);
    const char *closed = "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil the close";
    struct httpc_req get = {.method = "GET", .path = "/m", .http10 = 1, .connect_ms = 2000, .total_ms = 2000};
    EXPECT_EQ_INT(call_unix(&p, closed, strlen(closed), 0, &get, &r, err), 0);
    EXPECT_STR(r.body, "until the close");
    EXPECT(strstr(p.req, "GET /m HTTP/1.0\r\n") == p.req);
    EXPECT(!strstr(p.req, "Content-Length"));
    httpc_resp_free(&r);
}

UNIT(httpc_bounds_and_bad_answers)
{
    struct peer p;
    struct httpc_resp r;
    char err[FL_ERRLEN];
    struct httpc_req rq = {.method = "GET", .path = "/", .connect_ms = 2000, .total_ms = 2000, .max_answer = 64};
    const char *big = "HTTP/1.1 200 OK\r\n\r\n0123456789012345678901234567890123456789012345678901234567890123456789";
    EXPECT_EQ_INT(call_unix(&p, big, strlen(big), 0, &rq, &r, err), -1);
    EXPECT_EQ_INT(r.fail, HTTPC_ETOOBIG);
    const char *huge = "HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n";
    EXPECT_EQ_INT(call_unix(&p, huge, strlen(huge), 0, &rq, &r, err), -1);
    EXPECT_EQ_INT(r.fail, HTTPC_ETOOBIG);
    rq.max_answer = 0;
    const char *junk = "SSH-2.0-OpenSSH\r\n\r\n";
    EXPECT_EQ_INT(call_unix(&p, junk, strlen(junk), 0, &rq, &r, err), -1);
    EXPECT_EQ_INT(r.fail, HTTPC_EPROTO);
    const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    EXPECT_EQ_INT(call_unix(&p, chunked, strlen(chunked), 0, &rq, &r, err), -1);
    EXPECT_EQ_INT(r.fail, HTTPC_EPROTO);
    const char *short_body = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    EXPECT_EQ_INT(call_unix(&p, short_body, strlen(short_body), 0, &rq, &r, err), -1);
    EXPECT_EQ_INT(r.fail, HTTPC_ERECV);
    EXPECT_EQ_INT(call_unix(&p, "", 0, 0, &rq, &r, err), -1);       /* closed without a word */
    EXPECT_EQ_INT(r.fail, HTTPC_EPROTO);
    rq.total_ms = 300;                                                /* answers after 1 s */
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    EXPECT_EQ_INT(call_unix(&p, ok, strlen(ok), 1000, &rq, &r, err), -1);
    EXPECT_EQ_INT(r.fail, HTTPC_ETIMEOUT);
    EXPECT(r.body == NULL);
}

UNIT(httpc_tcp_and_no_peer)
{
    struct peer p;
    struct httpc_resp r;
    char err[FL_ERRLEN], addr[64];
    const char *ok = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno";
    int rfd = peer_start(&p, 1, ok, strlen(ok), 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", p.port);
    struct httpc_target t;
    EXPECT_EQ_INT(httpc_target(addr, 0, &t, err, sizeof(err)), 0);
    struct httpc_req rq = {.method = "DELETE", .path = "/faults/x", .connect_ms = 2000, .total_ms = 2000};
    EXPECT_EQ_INT(httpc_call(&t, &rq, &r, err, sizeof(err)), 0);
    peer_end(&p, rfd);
    EXPECT_EQ_INT(r.status, 404);
    EXPECT_STR(r.body, "no");
    char host[80];
    snprintf(host, sizeof(host), "Host: %s\r\n", addr);
    EXPECT_CONTAINS(p.req, host);
    EXPECT_CONTAINS(p.req, "Content-Length: 0\r\n");
    httpc_resp_free(&r);
    /* the peer is gone: the same port refuses */
    EXPECT_EQ_INT(httpc_call(&t, &rq, &r, err, sizeof(err)), -1);
    EXPECT_EQ_INT(r.fail, HTTPC_ECONNECT);
    EXPECT_CONTAINS(err, "refused");
}
