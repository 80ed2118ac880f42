/* run_admin.c -- `faultline run --admin ADDR`: faults attached and removed through a running
 * faultline's admin API (POST /faults, DELETE /faults/NAME; docs/api.md) instead of in-process.
 *
 * A tiny blocking HTTP/1.1 client: one request per connection, loopback (or whatever ADDR the
 * user gave), 3 s timeouts on connect, send and receive. Called only at phase boundaries.
 * The fault body is the [fault] section's keys as a JSON object of strings plus "name".
 */
#include "run.h"
#include "parse.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int http_call(const char *admin, const char *token, const char *method, const char *path,
                     const char *body, int *status, char *resp, size_t resplen, char *err, size_t errlen)
{
    struct fl_addr a;
    char e[300];
    if (parse_addr(admin, 0, &a, e, sizeof(e)) < 0) { snprintf(err, errlen, "--admin %s: %s", admin, e); return -1; }
    int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { snprintf(err, errlen, "socket: %s", strerror(errno)); return -1; }
    struct timeval tv = {3, 0};
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
    size_t got = 0;
    char buf[8192];
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
        if (got >= sizeof(buf) - 1) break;
    }
    close(fd);
    buf[got] = 0;
    if (sscanf(buf, "HTTP/%*s %d", status) != 1) {
        snprintf(err, errlen, "admin %s: no HTTP response", admin);
        return -1;
    }
    const char *b = strstr(buf, "\r\n\r\n");
    snprintf(resp, resplen, "%s", b ? b + 4 : "");
    return 0;
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
