/* guard.c -- the admin API's gate, its reach checks and the token's sources. See guard.h.
 *
 * The profile file in force is the trusted one: its own addresses and upstream hosts are
 * allowed through the API by default. A copy of its proxies is taken when first needed and
 * again after each SIGHUP reload; a profile posted to /profile never becomes trusted (it is
 * the API's, and its proxies are judged like any other API request).
 */
#define FL_ADMIN_INTERNAL
#include "proxy/proxy.h"
#include "control/admin.h"
#include "control/guard.h"
#include "common/allow.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t g_reloads_seen;       /* s->reloads when the token file and the trust were read */
static int g_trust_taken;
static struct profile g_trust;        /* only proxies/nproxies are used */

/* ---- the token ---- */

static int token_read(const char *path, char *out, size_t n, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) { snprintf(err, errlen, "admin_token_file: %s: %s", path, strerror(errno)); return -1; }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "admin_token_file: %s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (sb.st_mode & 077) {
        snprintf(err, errlen, "admin_token_file: %s is readable or writable by other users (mode %04o): chmod 600 it",
                 path, (unsigned)(sb.st_mode & 07777));
        close(fd);
        return -1;
    }
    char buf[512];
    ssize_t got = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (got < 0) { snprintf(err, errlen, "admin_token_file: %s: %s", path, strerror(errno)); return -1; }
    size_t len = (size_t)got;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' || buf[len - 1] == '\t')) len--;
    buf[len] = 0;
    if (!len) { snprintf(err, errlen, "admin_token_file: %s is empty", path); return -1; }
    if (len >= n) { snprintf(err, errlen, "admin_token_file: %s: the token is longer than %zu bytes", path, n - 1); return -1; }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)buf[i] < 0x21 || buf[i] == 0x7f) {
            snprintf(err, errlen, "admin_token_file: %s: the token holds a space or a control byte", path);
            return -1;
        }
    memcpy(out, buf, len + 1);
    return 0;
}

int guard_token_init(struct fl_server *s, char *err, size_t errlen)
{
    g_reloads_seen = s->reloads;
    if (s->g.pol.token_file[0]) return token_read(s->g.pol.token_file, s->g.admin_token, sizeof(s->g.admin_token), err, errlen);
    const char *env = getenv("FAULTLINE_ADMIN_TOKEN");
    if (!s->g.admin_token[0] && env && *env) {
        if (strlen(env) >= sizeof(s->g.admin_token)) {
            snprintf(err, errlen, "FAULTLINE_ADMIN_TOKEN: longer than %zu bytes", sizeof(s->g.admin_token) - 1);
            return -1;
        }
        snprintf(s->g.admin_token, sizeof(s->g.admin_token), "%s", env);
    }
    return 0;
}

/* After a SIGHUP reload: the token file again (a bad one keeps the token in force), and the
 * trusted profile's copy is taken anew when next needed. */
static void after_reload(struct fl_server *s)
{
    if (s->reloads == g_reloads_seen) return;
    g_reloads_seen = s->reloads;
    g_trust_taken = 0;
    if (!s->g.pol.token_file[0]) return;
    char tok[sizeof(s->g.admin_token)], err[600];
    if (token_read(s->g.pol.token_file, tok, sizeof(tok), err, sizeof(err)) < 0) {
        log_error("admin_token_reload_failed", "error=%s action=kept_token", log_q(err));
        return;
    }
    memcpy(s->g.admin_token, tok, sizeof(tok));
    log_info("admin_token_reloaded", "file=%s", log_q(s->g.pol.token_file));
}

/* ---- the gate ---- */

/* Splits a Host header value into host (brackets kept for IPv6) and port (0 when absent). */
static void split_host(const char *v, char *host, size_t n, int *port)
{
    *port = 0;
    const char *colon = v[0] == '[' ? strstr(v, "]:") : strrchr(v, ':');
    if (colon && v[0] == '[') colon++;
    if (colon && v[0] != '[' && strchr(v, ':') != colon) colon = NULL;   /* a bare IPv6: no port */
    size_t hl = colon ? (size_t)(colon - v) : strlen(v);
    snprintf(host, n, "%.*s", (int)(hl < n ? hl : n - 1), v);
    if (colon) {
        int64_t p;
        if (parse_int(colon + 1, 1, 65535, &p, NULL, 0) == 0) *port = (int)p;
    }
}

/* DNS rebinding needs a name: a page's own origin can be made to resolve to this host, an
 * address literal cannot. So Host may be any address literal, "localhost", or a name listed in
 * admin_hosts. */
static int host_allowed(struct fl_server *s, const char *hv)
{
    char host[300];
    int port;
    split_host(hv, host, sizeof(host), &port);
    if (host_is_loopback(host)) return 1;
    char bare[300];
    unsigned char buf[16];
    size_t hl = strlen(host);
    snprintf(bare, sizeof(bare), "%.*s", (int)(hl >= 2 && host[0] == '[' ? hl - 2 : hl), host + (host[0] == '['));
    if (inet_pton(AF_INET, bare, buf) == 1 || inet_pton(AF_INET6, bare, buf) == 1) return 1;
    struct allow_list l = {0};
    allow_parse(s->g.pol.admin_hosts, 1, &l, NULL, 0);
    return allow_match_host(&l, host, port);
}

static int refuse(struct adm_req *r, const char *fmt, const char *v1, const char *v2)
{
    char shown[2][200];
    const char *v[2] = {v1, v2};
    for (int i = 0; i < 2; i++) {   /* what the client sent, shown short and printable */
        size_t k = 0;
        for (const char *p = v[i] ? v[i] : ""; *p && k < sizeof(shown[i]) - 1; p++)
            shown[i][k++] = (unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f ? '?' : *p;
        shown[i][k] = 0;
    }
    adm_error(r, 403, fmt, shown[0], shown[1]);
    return -1;
}

int guard_request(struct adm_req *r)
{
    struct fl_server *s = r->s;
    after_reload(s);
    const struct evkeyvalq *h = evhttp_request_get_input_headers(r->req);
    const char *host = evhttp_find_header(h, "Host"), *origin = evhttp_find_header(h, "Origin");
    const char *site = evhttp_find_header(h, "Sec-Fetch-Site"), *ua = evhttp_find_header(h, "User-Agent");
    /* a unix socket cannot be reached by a browser, and curl --unix-socket sends any Host */
    if (host && s->g.admin.kind != ADDR_UNIX && !host_allowed(s, host))
        return refuse(r, "forbidden by admin_hosts: Host '%s' is not an address, localhost or a name listed in "
                         "admin_hosts (a web page reaching this port through DNS rebinding sends its own name)%s",
                      host, "");
    if (origin) {
        char own[400];
        snprintf(own, sizeof(own), "http://%s", host ? host : "");
        if (!host || strcasecmp(origin, own))
            return refuse(r, "forbidden by origin: Origin '%s' is not this admin API's own origin (%s); web pages "
                             "may not drive the admin API", origin, host ? own : "no Host");
    }
    if (site && strcasecmp(site, "same-origin") && strcasecmp(site, "none"))
        return refuse(r, "forbidden by sec_fetch_site: Sec-Fetch-Site '%s' (a request made by a web page)%s", site, "");
    if (ua && !strncmp(ua, "Mozilla/", 8) && !r->browser_ok) {   /* the console: control/console.c */
        adm_error(r, 403, "User agent not allowed");
        return -1;
    }
    return 0;
}

/* ---- reach ---- */

static const struct profile *trusted(struct fl_server *s)
{
    after_reload(s);
    if (g_trust_taken) return &g_trust;
    if (!s->prof || strcmp(s->prof->path, s->profile_path)) return g_trust.nproxies ? &g_trust : NULL;
    struct proxy_spec *copy = calloc((size_t)s->prof->nproxies + 1, sizeof(*copy));
    if (!copy) abort();
    if (s->prof->nproxies) memcpy(copy, s->prof->proxies, sizeof(*copy) * (size_t)s->prof->nproxies);
    free(g_trust.proxies);
    g_trust.proxies = copy;
    g_trust.nproxies = s->prof->nproxies;
    g_trust_taken = 1;
    return &g_trust;
}

int guard_api_addr(struct adm_req *r, const struct fl_addr *a, const char *text, int is_listen, const char *at)
{
    char why[1000];
    if (policy_api_addr(&r->s->g.pol, trusted(r->s), a, text, is_listen, why, sizeof(why)) == 0) return 0;
    adm_error(r, 403, "forbidden by %s%s", why, at ? at : "");
    return -1;
}

int guard_profile_reach(struct fl_server *s, const struct profile *p, char *why, size_t wl)
{
    for (int i = 0; i < p->nproxies; i++) {
        const struct proxy_spec *ps = &p->proxies[i];
        char e[1000];
        if (policy_api_addr(&s->g.pol, trusted(s), &ps->listen, ps->listen_text, 1, e, sizeof(e)) < 0 ||
            policy_api_addr(&s->g.pol, trusted(s), &ps->upstream, ps->upstream_text, 0, e, sizeof(e)) < 0) {
            snprintf(why, wl, "forbidden by %s ([proxy %s], line %d)", e, ps->name, ps->line);
            return -1;
        }
    }
    return 0;
}

int guard_api_profile(struct adm_req *r, const struct profile *p)
{
    char why[1200];
    if (guard_profile_reach(r->s, p, why, sizeof(why)) == 0) return 0;
    adm_error(r, 403, "%s", why);
    return -1;
}

int guard_max_conns(const struct fl_server *s)
{
    return s->g.pol.max_conns > 0 ? s->g.pol.max_conns : POLICY_MAX_CONNS;
}
