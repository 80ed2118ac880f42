/* run/remote.c -- `faultline run --admin ADDR`: faults attached and removed through a running
 * faultline's admin API (POST /faults, DELETE /faults/NAME; docs/api.md) instead of in-process.
 *
 * One blocking request per call through common/httpc.h (3 s to connect, 6 s for the whole
 * exchange), at phase boundaries only.
 * The fault body is the [fault] section's keys as a JSON object of strings plus "name".
 * GET /stats gives the live status its per-proxy numbers once a second (run_admin_stats).
 * At the end the verdicts go to POST /verdicts, for the daemon's console (run_admin_verdicts).
 * Requests say User-Agent: faultline-run, so the daemon's audit shows them as the runner's.
 */
#include "run/run.h"
#include "common/httpc.h"
#include "common/mem.h"
#include "common/version.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUN_ADMIN_MS 3000       /* connect; the whole exchange gets twice as long */
#define RUN_STATS_MS 1000       /* GET /stats, once a second for the live status */
#define RUN_ADMIN_MAX_ANSWER (1u << 20)

/* One request to the admin API. 0 with the answer (httpc_resp_free), or -1 with err. */
static int admin_call(const char *admin, const char *token, const char *method, const char *path, const char *body,
                      int tmo_ms, struct httpc_resp *r, char *err, size_t errlen)
{
    struct httpc_target t;
    char e[FL_ERRLEN], headers[1024], auth[HTTPC_BEARER_MAX];
    if (httpc_target(admin, 0, &t, e, sizeof(e)) < 0) { snprintf(err, errlen, "--admin %s: %s", admin, e); return -1; }
    if (httpc_bearer(token, auth, e, sizeof(e)) < 0) { snprintf(err, errlen, "--token: %s", e); return -1; }
    snprintf(headers, sizeof(headers), "User-Agent: faultline-run/%s\r\nContent-Type: application/json\r\n%s",
             FAULTLINE_VERSION, auth);
    struct httpc_req rq = {.method = method, .path = path, .headers = headers, .body = body,
                           .blen = body ? strlen(body) : 0, .connect_ms = tmo_ms, .total_ms = 2 * tmo_ms,
                           .max_answer = RUN_ADMIN_MAX_ANSWER};
    if (httpc_call(&t, &rq, r, e, sizeof(e)) == 0) return 0;
    switch (r->fail) {
    case HTTPC_ECONNECT: snprintf(err, errlen, "admin %s: %.256s", admin, e); break;
    case HTTPC_ESEND: snprintf(err, errlen, "admin %s: write: %.256s", admin, e); break;
    case HTTPC_EPROTO: snprintf(err, errlen, "admin %s: no HTTP response", admin); break;
    default: snprintf(err, errlen, "admin %s: read: %.256s", admin, e); break;
    }
    return -1;
}

int run_admin_add(const char *admin, const char *token, struct inisec *fs, char *err, size_t errlen)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(fs->name));
    for (int i = 0; i < fs->nkeys; i++) json_object_set_new(o, fs->keys[i].key, json_string(fs->keys[i].value));
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    struct httpc_resp r;
    int rc = admin_call(admin, token, "POST", "/faults", body, RUN_ADMIN_MS, &r, err, errlen);
    free(body);
    if (rc < 0) return -1;
    if (r.status / 100 != 2) {
        snprintf(err, errlen, "POST /faults %s: HTTP %d %.2047s", fs->name, r.status, r.body);
        rc = -1;
    }
    httpc_resp_free(&r);
    return rc;
}

int run_admin_remove(const char *admin, const char *token, const char *proxy, const char *name, char *err,
                     size_t errlen)
{
    char path[400];
    snprintf(path, sizeof(path), "/faults/%s/%s", proxy, name);   /* names are per proxy: this one's */
    struct httpc_resp r;
    if (admin_call(admin, token, "DELETE", path, NULL, RUN_ADMIN_MS, &r, err, errlen) < 0) return -1;
    int rc = 0;
    if (r.status / 100 != 2 && r.status != 404) {
        snprintf(err, errlen, "DELETE %s: HTTP %d %.2047s", path, r.status, r.body);
        rc = -1;
    }
    httpc_resp_free(&r);
    return rc;
}

static uint64_t jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

int run_admin_stats(const char *admin, const char *token, struct run_px_totals **out, int *n, char *err, size_t errlen)
{
    struct httpc_resp r;
    *out = NULL;
    *n = 0;
    if (admin_call(admin, token, "GET", "/stats", NULL, RUN_STATS_MS, &r, err, errlen) < 0) return -1;
    if (r.status != 200) {
        snprintf(err, errlen, "GET /stats: HTTP %d", r.status);
        httpc_resp_free(&r);
        return -1;
    }
    json_error_t je;
    json_t *j = json_loadb(r.body, r.blen, 0, &je);
    httpc_resp_free(&r);
    json_t *px = j ? json_object_get(j, "proxies") : NULL;
    if (!json_is_object(px)) {
        snprintf(err, errlen, "GET /stats: no 'proxies' object");
        json_decref(j);
        return -1;
    }
    struct run_px_totals *t = fl_calloc(json_object_size(px) + 1, sizeof(*t));
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

int run_admin_verdicts(const char *admin, const char *token, const struct verify_report *rep, char *err, size_t errlen)
{
    json_t *a = json_array();
    for (int i = 0; i < rep->n; i++) {
        const struct verify_result *v = &rep->r[i];
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", v->name, "check", v->check,
                                           "proxy", v->proxy, "verdict", verdict_str(v->v), "measured", v->measured,
                                           "bound", v->bound, "why", v->why));
    }
    json_t *o = json_pack("{s:s, s:o, s:i}", "run", rep->run, "verdicts", a, "exit", verify_exit_code(rep));
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!body) { snprintf(err, errlen, "POST /verdicts: a verdict is not valid UTF-8"); return -1; }
    struct httpc_resp r;
    int rc = admin_call(admin, token, "POST", "/verdicts", body, RUN_ADMIN_MS, &r, err, errlen);
    free(body);
    if (rc < 0) return -1;
    if (r.status != 200) {
        snprintf(err, errlen, "POST /verdicts: HTTP %d %.500s", r.status, r.body);
        rc = -1;
    }
    httpc_resp_free(&r);
    return rc;
}
