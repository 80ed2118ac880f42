/* admin_toxi_pop.c -- Toxiproxy's POST /populate (with toxics inside, as Toxiproxy's users ask in
 * its issue #447), the -config file of `faultline toxiproxy-server` read through the same code,
 * and what toxiproxy-server answers differently from faultline's own API: /version and the
 * toxiproxy_* names in /metrics.
 *
 * Populate is all or nothing: every proxy and every toxic of the body is checked first, then
 * every new listener bound, and only then is anything changed. A proxy object may carry
 * "toxics": [ {name, type, stream, toxicity, attributes}, ... ]; when it does, those become the
 * proxy's toxics (any it had are removed); when it does not, its toxics are left as they are
 * (Toxiproxy ignores the key: its populate never touches toxics).
 *
 * What not: the reach policy is control/guard.c's; toxic translation is admin_toxi.c's. The
 * metric values are the proxies' own counters (struct proxy_stats): faultline counts the bytes
 * it reads from each side, so "received" and "sent" of one direction are the same count.
 */
#include "control/admin_toxi_int.h"
#include "common/version.h"
#include "common/log.h"
#include "common/mem.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* The Toxiproxy release whose API toxiproxy-server mode answers as (Shopify/toxiproxy 2.12.0). */
#define TOXIPROXY_VERSION "2.12.0"

static int g_toxi_mode, g_proxy_metrics, g_runtime_metrics;

void adm_toxi_server_mode(int proxy_metrics, int runtime_metrics)
{
    g_toxi_mode = 1;
    g_proxy_metrics = proxy_metrics;
    g_runtime_metrics = runtime_metrics;
}

json_t *toxi_version_json(void)
{
    if (g_toxi_mode) return json_pack("{s:s, s:s}", "version", TOXIPROXY_VERSION, "faultline", FAULTLINE_VERSION);
    return json_pack("{s:s, s:s}", "version", FAULTLINE_VERSION, "name", "faultline");
}

enum pop_plan { POP_KEEP, POP_INPLACE, POP_NEW };

/* One proxy of the body: its spec, what happens to it, and the toxics it brings. */
struct pop_item {
    struct proxy_spec sp;
    enum pop_plan plan;
    struct fl_proxy *fresh;      /* POP_NEW: bound in phase 2, owned until committed */
    int has_toxics;              /* "toxics" given: they replace the proxy's */
    struct fault **tox;          /* built, not attached (owned until committed) */
    int ntox;
};

static void items_free(struct pop_item *it, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < it[i].ntox; k++) fault_free(it[i].tox[k]);
        free(it[i].tox);
        if (it[i].fresh) proxy_free(it[i].fresh);
    }
    free(it);
}

/* Phase 1 for one proxy's "toxics". 0, or -1 after a 400 reply. */
static int pop_toxics(struct adm_req *r, json_t *o, size_t i, struct pop_item *it)
{
    json_t *jt = json_object_get(o, "toxics");
    if (!jt || json_is_null(jt)) return 0;
    if (!json_is_array(jt)) { adm_error(r, 400, "bad request body: toxics must be an array at proxy %zu", i + 1); return -1; }
    it->has_toxics = 1;
    size_t n = json_array_size(jt);
    it->tox = calloc(n + 1, sizeof(*it->tox));
    if (!it->tox) abort();
    for (size_t k = 0; k < n; k++) {
        char at[64];
        snprintf(at, sizeof(at), " at proxy %zu toxic %zu", i + 1, k + 1);
        struct fault *f = toxi_fault_from_json(r, json_array_get(jt, k), it->sp.name, it->sp.protocol, at);
        if (!f) return -1;
        it->tox[it->ntox++] = f;
        for (int q = 0; q < it->ntox - 1; q++)
            if (!strcmp(it->tox[q]->name, f->name)) {
                adm_error(r, 400, "duplicate toxic name \"%s\"%s", f->name, at);
                return -1;
            }
    }
    return 0;
}

/* Phase 3 for one proxy: it is in the server now, with its new toxics if any were given. */
static void pop_commit(struct adm_req *r, struct pop_item *it, struct fl_proxy *ex)
{
    struct fl_proxy *px = ex;
    if (it->plan == POP_INPLACE) {
        /* same listener, new upstream: Toxiproxy replaces the proxy (no toxics, connections
         * dropped); the listener is kept so the address is never released */
        proxy_close_all(ex, CLOSE_FIN);
        toxi_remove_all_faults(ex);
        ex->spec.upstream = it->sp.upstream;
        snprintf(ex->spec.upstream_text, sizeof(ex->spec.upstream_text), "%s", it->sp.upstream_text);
        char e[300];
        if (proxy_set_enabled(ex, it->sp.enabled, e, sizeof(e)) < 0)
            log_error("populate_enable_failed", "proxy=%s error=%s", log_q(ex->spec.name), log_q(e));
        ex->from_api = 1;
    } else if (it->plan == POP_NEW) {
        if (ex) {
            proxy_close_all(ex, CLOSE_FIN);
            server_remove_proxy(r->s, ex);
        }
        px = it->fresh;
        it->fresh = NULL;
        toxi_fix_port(px);
        px->from_api = 1;
        server_add_proxy(r->s, px);
    }
    if (it->has_toxics) {
        toxi_remove_all_faults(px);
        for (int k = 0; k < it->ntox; k++) {
            proxy_fault_add(px, it->tox[k]);
            it->tox[k]->from_api = 1;
        }
        it->ntox = 0;
    }
}

void toxi_populate(struct adm_req *r)
{
    r->err_proxies = 1;
    json_t *j = adm_body_json(r);
    if (!j) return;
    if (!json_is_array(j)) {
        json_decref(j);
        adm_error(r, 400, "bad request body: expected a JSON array of proxies");
        return;
    }
    size_t n = json_array_size(j);
    struct pop_item *it = calloc(n + 1, sizeof(*it));
    if (!it) abort();
    /* phase 1: validate the whole request */
    for (size_t i = 0; i < n; i++) {
        char at[40];
        snprintf(at, sizeof(at), " at proxy %zu", i + 1);
        if (toxi_spec_from_json(r, json_array_get(j, i), at, &it[i].sp) < 0) goto out;
        for (size_t k = 0; k < i; k++)
            if (!strcmp(it[k].sp.name, it[i].sp.name)) {
                adm_error(r, 400, "duplicate proxy name \"%s\"", it[i].sp.name);
                goto out;
            }
        if (pop_toxics(r, json_array_get(j, i), i, &it[i]) < 0) goto out;
        struct fl_proxy *ex = server_find_proxy(r->s, it[i].sp.name);
        if (!ex) it[i].plan = POP_NEW;
        else if (!strcmp(ex->spec.listen_text, it[i].sp.listen_text))
            it[i].plan = strcmp(ex->spec.upstream_text, it[i].sp.upstream_text) ? POP_INPLACE : POP_KEEP;
        else it[i].plan = POP_NEW;
    }
    /* phase 2: bind every new listener; a failure changes nothing */
    for (size_t i = 0; i < n; i++) {
        if (it[i].plan != POP_NEW) continue;
        char err[500];
        if (!(it[i].fresh = proxy_new(r->s, &it[i].sp, err, sizeof(err)))) {
            adm_error(r, 500, "%s", err);
            goto out;
        }
    }
    /* phase 3: commit */
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        pop_commit(r, &it[i], server_find_proxy(r->s, it[i].sp.name));
        json_array_append_new(out, toxi_proxy_json(server_find_proxy(r->s, it[i].sp.name)));
    }
    log_info("populate", "proxies=%zu", n);
    adm_json(r, 201, json_pack("{s:o}", "proxies", out));
out:
    items_free(it, n);
    json_decref(j);
}

int adm_toxi_populate_file(struct fl_server *s, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) { snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno)); return -1; }
    char *body = malloc(ADM_MAX_BODY + 1);
    if (!body) abort();
    size_t n = fread(body, 1, ADM_MAX_BODY + 1, fp);
    fclose(fp);
    if (n > ADM_MAX_BODY) {
        free(body);
        snprintf(err, errlen, "%s: larger than %d bytes", path, ADM_MAX_BODY);
        return -1;
    }
    body[n] = 0;
    static char post[] = "populate";
    struct adm_req r = {.s = s, .method = EVHTTP_REQ_POST, .nseg = 1, .body = body, .blen = n, .trusted = 1};
    r.seg[0] = post;
    toxi_populate(&r);
    free(body);
    int rc = 0;
    if (r.out_code != 201) {
        json_t *e = r.out ? json_loads(r.out, 0, NULL) : NULL;
        const char *msg = e ? json_string_value(json_object_get(e, "error")) : NULL;
        snprintf(err, errlen, "%s: %s", path, msg ? msg : (r.out ? r.out : "populate failed"));
        json_decref(e);
        rc = -1;
    }
    free(r.out);
    return rc;
}

/* ---- /metrics in toxiproxy-server mode ---- */

static void addf(char **b, size_t *n, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void addf(char **b, size_t *n, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(*b + *n, *cap - *n, fmt, ap);
        va_end(ap);
        if (w < 0) return;
        if ((size_t)w < *cap - *n) { *n += (size_t)w; return; }
        *cap = (*cap + (size_t)w + 1) * 2;
        if (!(*b = realloc(*b, *cap))) abort();
    }
}

/* A label value escaped for the exposition format. */
static const char *lesc(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    for (; *s && o + 3 < len; s++) {
        if (*s == '\\' || *s == '"') buf[o++] = '\\';
        if (*s == '\n') { buf[o++] = '\\'; buf[o++] = 'n'; continue; }
        buf[o++] = *s;
    }
    buf[o] = 0;
    return buf;
}

/* process_* as Prometheus' Go client names them (toxiproxy-server -runtime-metrics). */
static void runtime_metrics(char **b, size_t *n, size_t *cap)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    addf(b, n, cap, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
                    "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.3f\n", cpu);
    long pages = 0, rss = 0;
    FILE *fp = fopen("/proc/self/statm", "r");
    if (fp) {
        if (fscanf(fp, "%ld %ld", &pages, &rss) != 2) pages = rss = 0;
        fclose(fp);
    }
    long ps = sysconf(_SC_PAGESIZE);
    addf(b, n, cap, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                    "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n", rss * ps);
    addf(b, n, cap, "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
                    "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %ld\n", pages * ps);
    int fds = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') fds++;
    if (d) closedir(d);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    addf(b, n, cap, "# HELP process_open_fds Number of open file descriptors.\n# TYPE process_open_fds gauge\n"
                    "process_open_fds %d\n# HELP process_max_fds Maximum number of open file descriptors.\n"
                    "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n", fds - 1, (unsigned long long)rl.rlim_cur);
}

char *adm_toxi_metrics_text(const struct fl_server *s)
{
    if (!g_toxi_mode || (!g_proxy_metrics && !g_runtime_metrics)) return NULL;
    size_t n = 0, cap = 4096;
    char *b = malloc(cap);
    if (!b) abort();
    b[0] = 0;
    static const char *const names[2] = {"received", "sent"};
    for (int k = 0; k < 2 && g_proxy_metrics; k++) {
        addf(&b, &n, &cap, "# HELP toxiproxy_proxy_%s_bytes_total Bytes %s on a proxy, per direction (faultline: the bytes it read from that direction's source).\n"
                           "# TYPE toxiproxy_proxy_%s_bytes_total counter\n", names[k], names[k], names[k]);
        for (int i = 0; i < s->nproxies; i++) {
            const struct fl_proxy *px = s->proxies[i];
            char a[600], l[600], u[600];
            lesc(px->spec.name, a, sizeof(a));
            lesc(px->spec.listen_text, l, sizeof(l));
            lesc(px->spec.upstream_text, u, sizeof(u));
            addf(&b, &n, &cap, "toxiproxy_proxy_%s_bytes_total{direction=\"upstream\",listener=\"%s\",proxy=\"%s\",upstream=\"%s\"} %llu\n",
                 names[k], l, a, u, (unsigned long long)px->st.bytes_up);
            addf(&b, &n, &cap, "toxiproxy_proxy_%s_bytes_total{direction=\"downstream\",listener=\"%s\",proxy=\"%s\",upstream=\"%s\"} %llu\n",
                 names[k], l, a, u, (unsigned long long)px->st.bytes_down);
        }
    }
    if (g_runtime_metrics) runtime_metrics(&b, &n, &cap);
    return b;
}
