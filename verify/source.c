/* verify/source.c -- reading Postgres's own view and the service's probe endpoint (verify/source.h).
 *
 * Postgres: one query on pg_stat_activity, client backends only, our own connection excluded
 * (we connect as application_name=faultline-verify). "idle in transaction (aborted)" counts as
 * idle in transaction: both hold a snapshot and locks the same way.
 * HTTP: a minimal HTTP/1.0 GET (no keep-alive, no chunked bodies to decode, at most 4 MiB),
 * enough for Prometheus /metrics, expvar /debug/vars, Go's goroutine profile (parsed by
 * goprof.c) and small JSON health endpoints.
 */
#include "verify/source.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define VPROBE_MAX_BODY (4u << 20)

int vpg_query(const char *dsn, const char *app, const char *user, int timeout_ms, struct vpg_now *out,
              char *err, size_t errlen)
{
    char to[16];
    snprintf(to, sizeof(to), "%d", timeout_ms / 1000 > 0 ? timeout_ms / 1000 : 1);
    const char *k[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *v[] = {dsn, to, "faultline-verify", NULL};
    PGconn *c = PQconnectdbParams(k, v, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "postgres unreachable (%s): %s", dsn, c ? PQerrorMessage(c) : "out of memory");
        char *nl = strchr(err, '\n');
        if (nl) *nl = 0;
        PQfinish(c);
        return -1;
    }
    const char *q =
        "SELECT count(*),"
        " count(*) FILTER (WHERE state LIKE 'idle in transaction%'),"
        " coalesce(max(extract(epoch FROM (clock_timestamp() - state_change)) * 1000)"
        "   FILTER (WHERE state LIKE 'idle in transaction%'), 0)"
        " FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
        " AND ($1 = '' OR application_name = $1) AND ($2 = '' OR usename = $2)";
    const char *pv[] = {app ? app : "", user ? user : ""};
    PGresult *r = PQexecParams(c, q, 2, NULL, pv, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        snprintf(err, errlen, "postgres: pg_stat_activity query failed: %s", PQerrorMessage(c));
        char *nl = strchr(err, '\n');
        if (nl) *nl = 0;
        PQclear(r);
        PQfinish(c);
        return -1;
    }
    out->count = strtod(PQgetvalue(r, 0, 0), NULL);
    out->idle_tx = strtod(PQgetvalue(r, 0, 1), NULL);
    out->idle_tx_max_ms = strtod(PQgetvalue(r, 0, 2), NULL);
    PQclear(r);
    PQfinish(c);
    return 0;
}

/* ---- http ---- */

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int http_get(const char *url, int timeout_ms, char **body, char *err, size_t errlen)
{
    if (strncmp(url, "http://", 7)) {
        snprintf(err, errlen, "url '%s': only http:// is supported", url);
        return -1;
    }
    const char *hp = url + 7, *slash = strchr(hp, '/');
    char host[256], port[16] = "80";
    size_t hl = slash ? (size_t)(slash - hp) : strlen(hp);
    if (hl == 0 || hl >= sizeof(host)) { snprintf(err, errlen, "url '%s': bad host", url); return -1; }
    memcpy(host, hp, hl);
    host[hl] = 0;
    char *h = host, *colon;
    if (host[0] == '[') {
        char *rb = strchr(host, ']');
        if (!rb) { snprintf(err, errlen, "url '%s': bad host", url); return -1; }
        *rb = 0;
        h = host + 1;
        if (rb[1] == ':') snprintf(port, sizeof(port), "%s", rb + 2);
    } else if ((colon = strrchr(host, ':'))) {
        *colon = 0;
        snprintf(port, sizeof(port), "%s", colon + 1);
    }
    const char *path = slash ? slash : "/";
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(h, port, &hints, &res);
    if (rc || !res) { snprintf(err, errlen, "url '%s': %s", url, gai_strerror(rc)); return -1; }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    double deadline = mono_ms() + timeout_ms;
    if (fd < 0 || (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS)) {
        snprintf(err, errlen, "%s: connect: %s", url, strerror(errno));
        freeaddrinfo(res);
        if (fd >= 0) close(fd);
        return -1;
    }
    freeaddrinfo(res);
    struct pollfd pf = {fd, POLLOUT, 0};
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    if (poll(&pf, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
        snprintf(err, errlen, "%s: connect: %s", url, soerr ? strerror(soerr) : "timed out");
        close(fd);
        return -1;
    }
    char req[1024];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: faultline-verify\r\nAccept: */*\r\n\r\n",
                     path, hp[0] ? host : "localhost");
    if (n <= 0 || (size_t)n >= sizeof(req) || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        snprintf(err, errlen, "%s: send failed", url);
        close(fd);
        return -1;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    if (!buf) abort();
    for (;;) {
        int left = (int)(deadline - mono_ms());
        if (left <= 0) { snprintf(err, errlen, "%s: no complete answer within %d ms", url, timeout_ms); goto fail; }
        pf.events = POLLIN;
        if (poll(&pf, 1, left) != 1) continue;
        if (len + 4096 > cap) {
            if (cap >= VPROBE_MAX_BODY) { snprintf(err, errlen, "%s: answer larger than 4 MiB", url); goto fail; }
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) abort();
            buf = nb;
        }
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
        if (r == 0) break;
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            snprintf(err, errlen, "%s: recv: %s", url, strerror(errno));
            goto fail;
        }
        len += (size_t)r;
    }
    close(fd);
    buf[len] = 0;
    int status = 0;
    if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1) { snprintf(err, errlen, "%s: not an HTTP answer", url); free(buf); return -1; }
    if (status != 200) { snprintf(err, errlen, "%s: status %d", url, status); free(buf); return -1; }
    char *b = strstr(buf, "\r\n\r\n");
    b = b ? b + 4 : buf + len;
    memmove(buf, b, strlen(b) + 1);
    *body = buf;
    return 0;
fail:
    close(fd);
    free(buf);
    return -1;
}

int vprobe_json(const char *body, const char *path, double *value, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loads(body, JSON_DECODE_ANY, &je);
    if (!root) { snprintf(err, errlen, "not JSON: %s (line %d)", je.text, je.line); return -1; }
    json_t *cur = root;
    const char *p = path;
    if (*p == '$') p++;
    while (*p && cur) {
        if (*p == '.') { p++; continue; }
        if (*p == '[') {
            char *end;
            long i = strtol(p + 1, &end, 10);
            if (*end != ']') { snprintf(err, errlen, "json_path '%s': bad index", path); json_decref(root); return -1; }
            cur = json_array_get(cur, (size_t)i);
            p = end + 1;
            continue;
        }
        size_t n = strcspn(p, ".[");
        char key[256];
        snprintf(key, sizeof(key), "%.*s", (int)n, p);
        if (json_is_array(cur) && isdigit((unsigned char)key[0])) cur = json_array_get(cur, (size_t)atol(key));
        else cur = json_object_get(cur, key);
        p += n;
    }
    int ok = 1;
    if (!cur) { snprintf(err, errlen, "json_path '%s' not found", path); ok = 0; }
    else if (json_is_number(cur)) *value = json_number_value(cur);
    else if (json_is_boolean(cur)) *value = json_is_true(cur);
    else if (json_is_string(cur)) {
        char *end;
        *value = strtod(json_string_value(cur), &end);
        if (end == json_string_value(cur)) { snprintf(err, errlen, "json_path '%s' is not a number", path); ok = 0; }
    } else { snprintf(err, errlen, "json_path '%s' is not a number", path); ok = 0; }
    json_decref(root);
    return ok ? 0 : -1;
}

int vprobe_prom(const char *body, const char *metric, double *value, char *err, size_t errlen)
{
    size_t nl = strcspn(metric, "{");
    const char *want = metric[nl] == '{' ? metric + nl + 1 : NULL;
    double sum = 0;
    int found = 0;
    for (const char *line = body; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t ll = eol ? (size_t)(eol - line) : strlen(line);
        char l[4096];
        snprintf(l, sizeof(l), "%.*s", (int)(ll < sizeof(l) ? ll : sizeof(l) - 1), line);
        line = eol ? eol + 1 : NULL;
        if (l[0] == '#' || !l[0]) continue;
        size_t n = strcspn(l, "{ \t");
        if (n != nl || strncmp(l, metric, nl)) continue;
        const char *rest = l + n;
        const char *labels = "";
        if (*rest == '{') {
            labels = rest + 1;
            rest = strchr(rest, '}');
            if (!rest) continue;
            rest++;
        }
        if (want) {
            /* every k="v" of the wanted set must appear among the series' labels */
            char w[512];
            snprintf(w, sizeof(w), "%s", want);
            char *close = strrchr(w, '}');
            if (close) *close = 0;
            int all = 1;
            for (char *tok = strtok(w, ","); tok; tok = strtok(NULL, ",")) {
                while (*tok == ' ') tok++;
                if (!strstr(labels, tok)) all = 0;
            }
            if (!all) continue;
        }
        char *end;
        double v = strtod(rest, &end);
        if (end == rest) continue;
        sum += v;
        found++;
    }
    if (!found) { snprintf(err, errlen, "metric '%s' not found", metric); return -1; }
    *value = sum;
    return 0;
}

int vprobe_get(const char *url, int timeout_ms, char **body, char *err, size_t errlen)
{
    return http_get(url, timeout_ms, body, err, errlen);
}

int vprobe_fetch(const char *url, const char *json_path, const char *metric, int timeout_ms, double *value,
                 char *err, size_t errlen)
{
    char *body = NULL;
    if (http_get(url, timeout_ms, &body, err, errlen) < 0) return -1;
    int rc = json_path ? vprobe_json(body, json_path, value, err, errlen) : vprobe_prom(body, metric, value, err, errlen);
    free(body);
    return rc;
}
