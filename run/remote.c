/* run/remote.c -- `faultline run --admin ADDR`: faults attached and removed through a running
 * faultline's admin API (POST /faults, DELETE /faults/NAME; docs/api.md) instead of in-process.
 *
 * A tiny blocking HTTP/1.1 client: one request per connection, loopback (or whatever ADDR the
 * user gave), 3 s timeouts on connect, send and receive. Called only at phase boundaries.
 * The fault body is the [fault] section's keys as a JSON object of strings plus "name".
 * GET /stats gives the live status its per-proxy numbers once a second (run_admin_stats).
 */
#include "run/run.h"
#include "common/parse.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* One request; the response body is copied into resp (truncated to resplen) or, when bodyp
 * is given, returned whole in *bodyp (malloc'd, the caller frees; at most 1 MiB is read). */
static int http_call_ex(const char *admin, const char *token, const char *method, const char *path,
                        const char *body, int *status, char *resp, size_t resplen, char **bodyp, int tmo_s,
                        char *err, size_t errlen)
{
    struct fl_addr a;
    char e[300];
    if (parse_addr(admin, 0, &a, e, sizeof(e)) < 0) { snprintf(err, errlen, "--admin %s: %s", admin, e); return -1; }
    int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { snprintf(err, errlen, "socket: %s", strerror(errno)); return -1; }
    struct timeval tv = {tmo_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a.ss, a.sslen) < 0) {
        snprintf(err, errlen, "admin %s: %s", admin, strerror(errno));
        close(fd);
        return -1;
    }
    char head[1024];
    size_t blen = body ? strlen(body) : 0;
    int hl = snprintf(head, sizeof(head),
                      "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n%s%s%s\r\n",
                      method, path, admin, blen, token ? "Authorization: Bearer " : "", token ? token : "",
                      token ? "\r\n" : "");
    if (write(fd, head, (size_t)hl) != hl || (blen && write(fd, body, blen) != (ssize_t)blen)) {
        snprintf(err, errlen, "admin %s: write: %s", admin, strerror(errno));
        close(fd);
        return -1;
    }
    size_t got = 0, cap = 8192;
    char *buf = malloc(cap);
    if (!buf) abort();
    for (;;) {
        if (got + 1 >= cap) {
            if (cap >= 1 << 20) break;
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = 0;
    if (sscanf(buf, "HTTP/%*s %d", status) != 1) {
        snprintf(err, errlen, "admin %s: no HTTP response", admin);
        free(buf);
        return -1;
    }
    const char *b = strstr(buf, "\r\n\r\n");
    if (resp) snprintf(resp, resplen, "%s", b ? b + 4 : "");
    if (bodyp) *bodyp = strdup(b ? b + 4 : "");
    free(buf);
    return 0;
}

static int http_call(const char *admin, const char *token, const char *method, const char *path,
                     const char *body, int *status, char *resp, size_t resplen, char *err, size_t errlen)
{
    return http_call_ex(admin, token, method, path, body, status, resp, resplen, NULL, 3, err, errlen);
}

int run_admin_add(const char *admin, const char *token, struct inisec *fs, char *err, size_t errlen)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(fs->name));
    for (int i = 0; i < fs->nkeys; i++) json_object_set_new(o, fs->keys[i].key, json_string(fs->keys[i].value));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    int status = 0;
    char resp[2048];
    int rc = http_call(admin, token, "POST", "/faults", body, &status, resp, sizeof(resp), err, errlen);
    free(body);
    if (rc < 0) return -1;
    if (status / 100 != 2) {
        snprintf(err, errlen, "POST /faults %s: HTTP %d %s", fs->name, status, resp);
        return -1;
    }
    return 0;
}

int run_admin_remove(const char *admin, const char *token, const char *name, char *err, size_t errlen)
{
    char path[400];
    snprintf(path, sizeof(path), "/faults/%s", name);
    int status = 0;
    char resp[2048];
    if (http_call(admin, token, "DELETE", path, NULL, &status, resp, sizeof(resp), err, errlen) < 0) return -1;
    if (status / 100 != 2 && status != 404) {
        snprintf(err, errlen, "DELETE %s: HTTP %d %s", path, status, resp);
        return -1;
    }
    return 0;
}

static uint64_t jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

int run_admin_stats(const char *admin, const char *token, struct run_px_totals **out, int *n, char *err, size_t errlen)
{
    int status = 0;
    char *body = NULL;
    *out = NULL;
    *n = 0;
    if (http_call_ex(admin, token, "GET", "/stats", NULL, &status, NULL, 0, &body, 1, err, errlen) < 0) return -1;
    if (status != 200) {
        snprintf(err, errlen, "GET /stats: HTTP %d", status);
        free(body);
        return -1;
    }
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    free(body);
    json_t *px = j ? json_object_get(j, "proxies") : NULL;
    if (!json_is_object(px)) {
        snprintf(err, errlen, "GET /stats: no 'proxies' object");
        json_decref(j);
        return -1;
    }
    struct run_px_totals *t = calloc(json_object_size(px) + 1, sizeof(*t));
    if (!t) abort();
    const char *name;
    json_t *p;
    json_object_foreach(px, name, p) {
        struct run_px_totals *x = &t[(*n)++];
        json_t *h = json_object_get(p, "http"), *stc = h ? json_object_get(h, "status") : NULL;
        json_t *mode = json_object_get(p, "mode");
        run_copy(x->proxy, sizeof(x->proxy), name);
        x->requests = h ? jint(h, "requests") : 0;
        x->http = json_is_string(mode) && !strcmp(json_string_value(mode), "http") && x->requests > 0;
        x->active = (double)jint(p, "active");
        x->inflight = h ? (double)jint(h, "inflight") : 0;
        x->accepted = jint(p, "accepted");
        x->errors = jint(p, "upstream_failed") + (h ? jint(h, "bad_responses") : 0) + (stc ? jint(stc, "5xx") : 0);
        const char *fn;
        json_t *f;
        json_object_foreach(json_object_get(p, "faults"), fn, f) {
            json_t *c = json_object_get(f, "counters");
            if (!c) c = f;
            x->errors += jint(c, "resets") + jint(c, "closes") + jint(c, "refused");
            x->abandoned += jint(c, "abandoned");
        }
    }
    json_decref(j);
    *out = t;
    return 0;
}
