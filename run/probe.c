/* run/probe.c -- reading one number off a service's own endpoint (run/probe.h).
 *
 * One GET through common/httpc.h, sent as HTTP/1.0 so that the answer is never chunked (Go's
 * net/http streams /debug/pprof and large /metrics), at most PROBE_MAX_ANSWER bytes, within the
 * expectation's `timeout`: enough for Prometheus /metrics, expvar /debug/vars, Go's goroutine
 * profile (parsed by verify/goprof.c) and small JSON health endpoints.
 */
#include "run/probe.h"
#include "common/httpc.h"
#include "common/mem.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_MAX_ANSWER (4u << 20)

int probe_get(const char *url, int timeout_ms, char **body, char *err, size_t errlen)
{
    struct httpc_target t;
    const char *path;
    if (httpc_url(url, &t, &path, err, errlen) < 0) return -1;
    struct httpc_req rq = {.method = "GET", .path = path, .headers = "User-Agent: faultline-verify\r\nAccept: */*\r\n",
                           .http10 = 1, .connect_ms = timeout_ms, .total_ms = timeout_ms,
                           .max_answer = PROBE_MAX_ANSWER};
    struct httpc_resp r;
    char e[FL_ERRLEN];
    if (httpc_call(&t, &rq, &r, e, sizeof(e)) < 0) {
        switch (r.fail) {
        case HTTPC_ECONNECT: snprintf(err, errlen, "%s: connect: %.256s", url, e); break;
        case HTTPC_ESEND: snprintf(err, errlen, "%s: send failed", url); break;
        case HTTPC_ETIMEOUT: snprintf(err, errlen, "%s: no complete answer within %d ms", url, timeout_ms); break;
        case HTTPC_ETOOBIG: snprintf(err, errlen, "%s: answer larger than 4 MiB", url); break;
        case HTTPC_EPROTO: snprintf(err, errlen, "%s: not an HTTP answer", url); break;
        default: snprintf(err, errlen, "%s: recv: %.256s", url, e); break;
        }
        return -1;
    }
    if (r.status != 200) {
        snprintf(err, errlen, "%s: status %d", url, r.status);
        httpc_resp_free(&r);
        return -1;
    }
    *body = r.body;
    return 0;
}

int probe_json(const char *body, const char *path, double *value, char *err, size_t errlen)
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

int probe_prom(const char *body, const char *metric, double *value, char *err, size_t errlen)
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

int probe_fetch(const char *url, const char *json_path, const char *metric, int timeout_ms, double *value,
                char *err, size_t errlen)
{
    char *body = NULL;
    if (probe_get(url, timeout_ms, &body, err, errlen) < 0) return -1;
    int rc = json_path ? probe_json(body, json_path, value, err, errlen) : probe_prom(body, metric, value, err, errlen);
    free(body);
    return rc;
}
