/* verify/samples.c -- which expectations need samples, a probe's settings, and the one query of
 * pg_stat_activity (verify/samples.h).
 *
 * Postgres: one query on pg_stat_activity, client backends only, our own connection excluded
 * (we connect as application_name=faultline-verify). "idle in transaction (aborted)" counts as
 * idle in transaction: both hold a snapshot and locks the same way.
 */
#include "verify/samples.h"
#include "verify/check.h"
#include "common/fd.h"
#include "common/mem.h"
#include "common/text.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vpg_query(const char *dsn, const char *app, const char *user, int timeout_ms, struct vpg_now *out,
              char *err, size_t errlen)
{
    char to[16];
    snprintf(to, sizeof(to), "%d", timeout_ms / 1000 > 0 ? timeout_ms / 1000 : 1);
    const char *k[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *v[] = {dsn, to, "faultline-verify", NULL};
    PGconn *c = PQconnectdbParams(k, v, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char shown[512];
        fl_redact_url(dsn, shown, sizeof(shown));   /* a DSN may hold a password: never in an error */
        snprintf(err, errlen, "postgres unreachable (%s): %s", shown, c ? PQerrorMessage(c) : "out of memory");
        char *nl = strchr(err, '\n');
        if (nl) *nl = 0;
        PQfinish(c);
        return -1;
    }
    fl_cloexec(PQsocket(c));   /* libpq's socket is not close-on-exec (common/fd.h) */
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

const char *const vprobe_format_names[] = {"json", "prometheus", "expvar", "go_goroutines", NULL};

int vprobe_spec_read(struct vexp *e, struct vprobe_spec *s)
{
    memset(s, 0, sizeof(*s));
    const char *url = vexp_str(e, "url");
    s->json_path = vexp_str(e, "json_path");
    s->metric = vexp_str(e, "metric");
    if (vexp_enum(e, "format", vprobe_format_names, -1, &s->format) < 0) return -1;
    if (s->format < 0) s->format = s->metric && !s->json_path ? VPF_PROM : VPF_JSON;
    if (!url) return vexp_fail(e, NULL, "needs 'url' (http://HOST:PORT/path)");
    if (strncmp(url, "http://", 7)) return vexp_fail(e, "url", "'%s': only http:// URLs", url);
    switch (s->format) {
    case VPF_JSON:
    case VPF_PROM:
        if (!s->json_path == !s->metric) return vexp_fail(e, NULL, "needs exactly one of json_path, metric");
        if (s->format == VPF_JSON && !s->json_path) return vexp_fail(e, "format", "json needs json_path");
        if (s->format == VPF_PROM && !s->metric) return vexp_fail(e, "format", "prometheus needs metric");
        break;
    case VPF_EXPVAR:
        if (!s->json_path || s->metric)
            return vexp_fail(e, "format", "expvar needs json_path (e.g. memstats.HeapAlloc), not metric");
        break;
    case VPF_GOROUTINES:
        if (s->json_path || s->metric)
            return vexp_fail(e, "format", "go_goroutines reads the goroutine profile: no json_path or metric");
        break;
    }
    /* the format's usual path when the URL gives none */
    const char *path = strchr(url + 7, '/');
    const char *def = s->format == VPF_EXPVAR ? "/debug/vars" : s->format == VPF_GOROUTINES ? "/debug/pprof/goroutine?debug=1" : "";
    int n;
    if ((!path || !strcmp(path, "/")) && def[0])
        n = snprintf(s->url, sizeof(s->url), "%.*s%s", (int)(path ? (size_t)(path - url) : strlen(url)), url, def);
    else if (s->format == VPF_GOROUTINES && path && !strchr(path, '?'))
        n = snprintf(s->url, sizeof(s->url), "%s?debug=1", url);    /* debug=0 is protobuf */
    else
        n = snprintf(s->url, sizeof(s->url), "%s", url);
    if (n < 0 || (size_t)n >= sizeof(s->url)) return vexp_fail(e, "url", "longer than %d bytes", VPROBE_URL_MAX - 1);
    if (s->format == VPF_GOROUTINES) {
        if (strstr(s->url, "debug=2"))
            return vexp_fail(e, "url", "go_goroutines reads debug=1 (stacks with counts), not debug=2");
        double ms, ss;
        if (vexp_num(e, "max_stacks", 32, 1, VPROBE_MAX_STACKS, &ms) < 0) return -1;
        if (vexp_num(e, "show_stacks", 5, 0, 20, &ss) < 0) return -1;
        s->max_stacks = (int)ms;
        s->show_stacks = (int)ss;
    }
    return 0;
}

/* One [expect] with check = postgres or probe: 1 with *s filled, 0 when it needs no samples
 * (postgres judged from the record), -1 with e->err. */
static int spec_read(struct vexp *e, const char *pg_dsn, struct vsample_spec *s)
{
    memset(s, 0, sizeof(*s));
    s->pg = !strcmp(e->check, "postgres");
    snprintf(s->name, sizeof(s->name), "%s", e->name);
    if (vexp_dur(e, "interval", 1000, &s->interval_ms) < 0 ||
        vexp_dur(e, "timeout", s->pg ? 2000 : 1000, &s->timeout_ms) < 0) return -1;
    if (s->interval_ms < 50) s->interval_ms = 50;
    if (!s->pg) return vprobe_spec_read(e, &s->probe) < 0 ? -1 : 1;
    s->dsn = vexp_str(e, "dsn");
    if (!s->dsn) s->dsn = pg_dsn && pg_dsn[0] ? pg_dsn : NULL;
    /* judged from the proxy's record (check_postgres.c): nothing to sample */
    const char *src = vexp_str(e, "source");
    if ((src && !strcmp(src, "record")) || (!s->dsn && vexp_str(e, "proxy"))) return 0;
    if (!s->dsn) return vexp_fail(e, NULL, "needs 'dsn' (or --pg DSN) to be sampled");
    s->app = vexp_str(e, "application_name");
    s->user = vexp_str(e, "user");
    return 1;
}

int vsample_specs(struct inidoc *doc, const char *pg_dsn, struct vsample_spec **out, int *n, char *err,
                  size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (verify_check_doc(doc, err, errlen) < 0) return -1;
    for (int i = 0; i < doc->nsecs; i++) {
        struct inisec *sec = &doc->secs[i];
        if (strcmp(sec->type, "expect")) continue;
        int line;
        const char *ck = inisec_get(sec, "check", &line);
        if (!ck || (strcmp(ck, "postgres") && strcmp(ck, "probe"))) continue;
        struct vexp e = {doc, sec, sec->name, ck, NULL, NULL, err, errlen};
        struct vsample_spec s;
        int rc = spec_read(&e, pg_dsn, &s);
        if (rc < 0) {
            free(*out);
            *out = NULL;
            *n = 0;
            return -1;
        }
        if (!rc) continue;
        *out = fl_realloc(*out, sizeof(**out) * (size_t)(*n + 1));
        (*out)[(*n)++] = s;
    }
    return 0;
}
