/* vclient.c -- a configurable client for the verifier's tests: the good and the buggy ways a
 * service calls its dependency, on real sockets, so that `faultline verify` can be shown to
 * tell them apart from the record alone.
 *
 *   vclient --addr HOST:PORT [--rate R] [--addr2 HOST:PORT --rate2 R] --duration SECONDS
 *           [--http PATH] [--timeout MS] [--pool N] [--conc N] [--bulkhead] [--leak]
 *           [--breaker FAILS,OPEN_MS [--breaker-once]] [--retries N[,BACKOFF_MS]]
 *
 * Open loop: R calls per second arrive for each target, whatever happens to earlier calls (as
 * user requests arrive at a service). A call takes a slot (at most --conc calls in progress,
 * shared by both targets unless --bulkhead gives each target its own --conc), then a
 * connection (idle ones are reused; at most --pool per target, 0 = unbounded: a new
 * connection whenever none is idle), sends "ping" (tcp: 16 bytes, answered when echoed back)
 * or GET PATH with X-Request-Id (http: answered by a response, failed when status >= 500),
 * and waits --timeout ms (0 = forever). On a timeout the connection is closed, or with --leak
 * forgotten but left open. --breaker opens after FAILS consecutive failures, fails calls
 * locally for OPEN_MS, then lets one probe through; with --breaker-once it never opens again
 * once it has closed (a breaker whose state is not re-armed: it protects only once). --retries re-sends a failed call up to N
 * times, after BACKOFF_MS x 2^k (0 = at once), with the same request id.
 * Prints one line: calls= ok= failed= fast_failed= timeouts= retries= max_open= leaked=
 * Everything is bounded: at most 4000 connections and 20000 queued calls.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 4000
#define MAXQ 20000

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

enum cst { C_FREE = 0, C_IDLE, C_BUSY, C_LEAKED };
struct vconn { int fd, target; enum cst st; char rb[8192]; size_t rl; int call; };
enum qst { Q_NONE = 0, Q_QUEUED, Q_DELAYED, Q_FLIGHT, Q_DONE };
struct call { int id, target, attempt, conn; enum qst st; double due, sent; };

static struct vconn C[MAXC];
static struct call *Q;
static int nq;
static struct sockaddr_in addr[2];
static int ntargets = 1, http, pool, conc, bulkhead, leak, br_fails, retries;
static double rate[2], timeout_ms, br_open_ms, backoff_ms;
static const char *path = "/";
static int open_conns[2], inflight[2], max_open, consec[2], half_probe[2];
static double open_until[2];
static int br_once, br_closed[2];   /* --breaker-once: never opens again after closing once */
static long n_calls, n_ok, n_failed, n_fast, n_timeouts, n_retries, n_leaked;

static int parse_addr(const char *s, struct sockaddr_in *a)
{
    char host[64];
    const char *c = strrchr(s, ':');
    if (!c) return -1;
    snprintf(host, sizeof(host), "%.*s", (int)(c - s), s);
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)atoi(c + 1));
    return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static int slot_group(int t) { return bulkhead ? t : 0; }

static int slots_used(int t)
{
    return bulkhead ? inflight[t] : inflight[0] + inflight[1];
}

static void conn_close(int i)
{
    if (C[i].st == C_FREE) return;
    close(C[i].fd);
    if (C[i].st != C_LEAKED) open_conns[C[i].target]--;
    C[i].st = C_FREE;
}

static int conn_open(int t)
{
    int i;
    for (i = 0; i < MAXC && C[i].st != C_FREE; i++) {}
    if (i == MAXC) return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&addr[t], sizeof(addr[t])) < 0) { close(fd); return -1; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    C[i] = (struct vconn){.fd = fd, .target = t, .st = C_IDLE, .call = -1};
    open_conns[t]++;
    int total = 0;
    for (int k = 0; k < MAXC; k++) if (C[k].st != C_FREE) total++;
    if (total > max_open) max_open = total;
    return i;
}

static void call_finish(int q, int ok, int is_timeout)
{
    struct call *c = &Q[q];
    int t = c->target;
    if (c->st == Q_FLIGHT) inflight[slot_group(t)]--;
    if (half_probe[t] == q + 1) half_probe[t] = 0;
    if (ok) {
        consec[t] = 0;
        if (open_until[t]) br_closed[t] = 1;
        open_until[t] = 0;
        n_ok++;
        c->st = Q_DONE;
        return;
    }
    if (is_timeout) n_timeouts++;
    if (br_fails && ++consec[t] >= br_fails && !(br_once && br_closed[t])) open_until[t] = now_ms() + br_open_ms;
    if (c->attempt <= retries) {
        c->attempt++;
        n_retries++;
        c->st = Q_DELAYED;
        c->due = now_ms() + (backoff_ms > 0 ? backoff_ms * (double)(1 << (c->attempt - 2 < 16 ? c->attempt - 2 : 16)) : 0);
        return;
    }
    n_failed++;
    c->st = Q_DONE;
}

static int send_call(int q, int ci)
{
    struct call *c = &Q[q];
    char req[512];
    int n;
    if (http)
        n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: vclient\r\nX-Request-Id: vc-%d\r\n\r\n", path, c->id);
    else
        n = snprintf(req, sizeof(req), "ping-%010d\n", c->id % 1000000000);
    if (send(C[ci].fd, req, (size_t)n, MSG_NOSIGNAL) != n) return -1;
    C[ci].st = C_BUSY;
    C[ci].call = q;
    C[ci].rl = 0;
    c->conn = ci;
    c->sent = now_ms();
    return 0;
}

/* 1 = complete answer (ok in *ok), 0 = need more, -1 = bad */
static int answer(struct vconn *k, int *ok, int *keep)
{
    *keep = 1;
    if (!http) {
        if (k->rl < 16) return 0;
        *ok = 1;
        k->rl = 0;
        return 1;
    }
    k->rb[k->rl < sizeof(k->rb) ? k->rl : sizeof(k->rb) - 1] = 0;
    char *e = strstr(k->rb, "\r\n\r\n");
    if (!e) return 0;
    int status = 0;
    if (sscanf(k->rb, "HTTP/%*d.%*d %d", &status) != 1) return -1;
    long cl = 0;
    char *h = strcasestr(k->rb, "\r\ncontent-length:");
    if (h && h < e) cl = strtol(h + 17, NULL, 10);
    char *cc = strcasestr(k->rb, "\r\nconnection: close");
    if (cc && cc < e) *keep = 0;
    size_t need = (size_t)(e + 4 - k->rb) + (size_t)cl;
    if (k->rl < need) return 0;
    *ok = status > 0 && status < 500;
    memmove(k->rb, k->rb + need, k->rl - need);
    k->rl -= need;
    return 1;
}

int main(int argc, char **argv)
{
    double duration = 5;
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--addr")) { if (parse_addr(v, &addr[0]) < 0) return 2; i++; }
        else if (!strcmp(a, "--addr2")) { if (parse_addr(v, &addr[1]) < 0) return 2; ntargets = 2; i++; }
        else if (!strcmp(a, "--rate")) { rate[0] = atof(v); i++; }
        else if (!strcmp(a, "--rate2")) { rate[1] = atof(v); i++; }
        else if (!strcmp(a, "--duration")) { duration = atof(v); i++; }
        else if (!strcmp(a, "--http")) { http = 1; path = v; i++; }
        else if (!strcmp(a, "--timeout")) { timeout_ms = atof(v); i++; }
        else if (!strcmp(a, "--pool")) { pool = atoi(v); i++; }
        else if (!strcmp(a, "--conc")) { conc = atoi(v); i++; }
        else if (!strcmp(a, "--bulkhead")) bulkhead = 1;
        else if (!strcmp(a, "--leak")) leak = 1;
        else if (!strcmp(a, "--breaker-once")) br_once = 1;
        else if (!strcmp(a, "--breaker")) { sscanf(v, "%d,%lf", &br_fails, &br_open_ms); i++; }
        else if (!strcmp(a, "--retries")) { if (sscanf(v, "%d,%lf", &retries, &backoff_ms) < 1) return 2; i++; }
        else { fprintf(stderr, "vclient: unknown %s\n", a); return 2; }
    }
    if (!rate[0]) rate[0] = 10;
    if (duration > 120) duration = 120;
    struct rlimit rl = {MAXC + 64, MAXC + 64};
    setrlimit(RLIMIT_NOFILE, &rl);
    Q = calloc(MAXQ, sizeof(*Q));
    double t0 = now_ms(), next[2] = {t0, t0};
    while (now_ms() - t0 < duration * 1000) {
        double now = now_ms();
        /* arrivals */
        for (int t = 0; t < ntargets; t++)
            while (rate[t] > 0 && next[t] <= now && nq < MAXQ) {
                Q[nq] = (struct call){.id = nq, .target = t, .attempt = 1, .conn = -1, .st = Q_QUEUED, .due = now};
                nq++;
                n_calls++;
                next[t] += 1000.0 / rate[t];
            }
        /* dispatch in arrival order */
        for (int q = 0; q < nq; q++) {
            struct call *c = &Q[q];
            if (c->st != Q_QUEUED && !(c->st == Q_DELAYED && c->due <= now)) continue;
            int t = c->target;
            if (br_fails && open_until[t]) {
                if (now < open_until[t] || half_probe[t]) { n_fast++; c->st = Q_DONE; continue; }
                half_probe[t] = q + 1;   /* half-open: this call is the probe */
            }
            if (conc && slots_used(t) >= conc) { if (half_probe[t] == q + 1) half_probe[t] = 0; continue; }
            int ci = -1;
            for (int k = 0; k < MAXC; k++) if (C[k].st == C_IDLE && C[k].target == t) { ci = k; break; }
            if (ci < 0 && (!pool || open_conns[t] < pool)) ci = conn_open(t);
            if (ci < 0) { if (half_probe[t] == q + 1) half_probe[t] = 0; continue; }
            c->st = Q_FLIGHT;
            inflight[slot_group(t)]++;
            if (send_call(q, ci) < 0) { conn_close(ci); call_finish(q, 0, 0); }
        }
        /* poll */
        static struct pollfd pf[MAXC];
        static int idx[MAXC];
        int np = 0;
        for (int k = 0; k < MAXC; k++)
            if (C[k].st == C_IDLE || C[k].st == C_BUSY) { pf[np] = (struct pollfd){C[k].fd, POLLIN, 0}; idx[np++] = k; }
        poll(pf, (nfds_t)np, 5);
        for (int p = 0; p < np; p++) {
            if (!(pf[p].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            int k = idx[p];
            struct vconn *cn = &C[k];
            ssize_t r = recv(cn->fd, cn->rb + cn->rl, sizeof(cn->rb) - cn->rl - 1, 0);
            if (r <= 0) {
                int q = cn->st == C_BUSY ? cn->call : -1;
                conn_close(k);
                if (q >= 0) call_finish(q, 0, 0);
                continue;
            }
            cn->rl += (size_t)r;
            if (cn->st != C_BUSY) { cn->rl = 0; continue; }
            int ok = 0, keep = 1;
            int a = answer(cn, &ok, &keep);
            if (a == 0) continue;
            int q = cn->call;
            cn->st = C_IDLE;
            cn->call = -1;
            if (a < 0 || !keep) conn_close(k);
            call_finish(q, a > 0 && ok, 0);
        }
        /* timeouts */
        if (timeout_ms > 0) {
            now = now_ms();
            for (int k = 0; k < MAXC; k++) {
                if (C[k].st != C_BUSY) continue;
                int q = C[k].call;
                if (now - Q[q].sent < timeout_ms) continue;
                if (leak) {
                    C[k].st = C_LEAKED;
                    open_conns[C[k].target]--;
                    n_leaked++;
                } else {
                    conn_close(k);
                }
                call_finish(q, 0, 1);
            }
        }
    }
    printf("calls=%ld ok=%ld failed=%ld fast_failed=%ld timeouts=%ld retries=%ld max_open=%d leaked=%ld\n", n_calls,
           n_ok, n_failed, n_fast, n_timeouts, n_retries, max_open, n_leaked);
    fflush(stdout);
    return 0;
}
