/* allow.c -- allow-lists of addresses and lists of directories. See allow.h.
 *
 * Matching is on what the address says, never on what a name resolves to: a name entry matches
 * that name (glob, case-insensitive), an address entry matches address literals. So an
 * upstream "evil.example" that resolves to 127.0.0.1 does not pass "127.0.0.0/8"; it passes
 * only where the list names it.
 */
#include "common/allow.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SETERR(...) do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); } while (0)

static int parse_ports(const char *p, struct allow_entry *e, char *err, size_t errlen)
{
    if (!strcmp(p, "*")) { e->plo = 0; e->phi = 65535; return 0; }
    int64_t lo, hi;
    const char *dash = strchr(p, '-');
    char a[16];
    size_t al = dash ? (size_t)(dash - p) : strlen(p);
    if (al == 0 || al >= sizeof(a)) { SETERR("'%s' is not a port or LO-HI port range", p); return -1; }
    memcpy(a, p, al);
    a[al] = 0;
    if (parse_int(a, 0, 65535, &lo, NULL, 0) < 0 || (dash && parse_int(dash + 1, 0, 65535, &hi, NULL, 0) < 0)) {
        SETERR("'%s' is not a port or LO-HI port range (0..65535)", p);
        return -1;
    }
    if (!dash) hi = lo;
    if (hi < lo) { SETERR("port range '%s' ends before it starts", p); return -1; }
    e->plo = (int)lo;
    e->phi = (int)hi;
    return 0;
}

/* "ADDR" or "ADDR/N" into e (AL_V4 / AL_V6). 0, or -1. */
static int parse_cidr(const char *s, int v6, struct allow_entry *e)
{
    char a[64];
    const char *slash = strchr(s, '/');
    size_t al = slash ? (size_t)(slash - s) : strlen(s);
    if (al == 0 || al >= sizeof(a)) return -1;
    memcpy(a, s, al);
    a[al] = 0;
    int max = v6 ? 128 : 32;
    int64_t n = max;
    if (slash && parse_int(slash + 1, 0, max, &n, NULL, 0) < 0) return -1;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, a, e->addr) != 1) return -1;
    e->kind = v6 ? AL_V6 : AL_V4;
    e->prefix = (unsigned char)n;
    return 0;
}

static int name_ok(const char *n)
{
    if (!*n || strlen(n) >= sizeof(((struct allow_entry *)0)->name)) return 0;
    for (const char *p = n; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-._*?", *p)) return 0;
    return 1;
}

static void lower(char *s)
{
    for (; *s; s++) *s = (char)tolower((unsigned char)*s);
}

/* One entry (trimmed, non-empty). */
static int parse_entry(const char *s, int names, struct allow_entry *e, char *err, size_t errlen)
{
    memset(e, 0, sizeof(*e));
    e->plo = 0;
    e->phi = 65535;
    char host[200];
    const char *ports = NULL;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || (rb[1] && rb[1] != ':') || (size_t)(rb - s - 1) >= sizeof(host)) {
            SETERR("'%s' is not [IPv6] or [IPv6]:PORTS", s);
            return -1;
        }
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = 0;
        if (rb[1] == ':') ports = rb + 2;
        if (parse_cidr(host, 1, e) < 0) { SETERR("'%s' is not an IPv6 address or prefix", host); return -1; }
    } else if (strchr(s, ':') && strchr(s, ':') != strrchr(s, ':')) {
        if (parse_cidr(s, 1, e) < 0) { SETERR("'%s' is not an IPv6 address or prefix (bracket it to add a port)", s); return -1; }
    } else {
        const char *colon = strchr(s, ':');
        size_t hl = colon ? (size_t)(colon - s) : strlen(s);
        if (hl == 0 || hl >= sizeof(host)) { SETERR("'%s' has no host", s); return -1; }
        memcpy(host, s, hl);
        host[hl] = 0;
        if (colon) ports = colon + 1;
        if (!strcmp(host, "*")) e->kind = AL_ANY;
        else if (strchr(host, '/') || strspn(host, "0123456789.") == strlen(host)) {
            if (parse_cidr(host, 0, e) < 0) { SETERR("'%s' is not an IPv4 address or prefix", host); return -1; }
        } else if (!names) {
            SETERR("'%s': only addresses (127.0.0.1, 10.0.0.0/8, [::1]) or * are allowed here, not names", host);
            return -1;
        } else if (!name_ok(host)) {
            SETERR("'%s' is not a host name (letters, digits, '-', '.', '_' and the globs * and ?)", host);
            return -1;
        } else {
            e->kind = AL_NAME;
            snprintf(e->name, sizeof(e->name), "%s", host);
            lower(e->name);
        }
    }
    if (ports && parse_ports(ports, e, err, errlen) < 0) return -1;
    return 0;
}

int allow_parse(const char *text, int names, struct allow_list *l, char *err, size_t errlen)
{
    const char *p = text ? text : "";
    while (*p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        char item[300];
        while (n && isspace((unsigned char)*p)) { p++; n--; }
        while (n && isspace((unsigned char)p[n - 1])) n--;
        if (n >= sizeof(item)) { SETERR("entry too long: '%.40s...'", p); return -1; }
        memcpy(item, p, n);
        item[n] = 0;
        if (n) {
            if (l->n == ALLOW_MAX) { SETERR("more than %d entries", ALLOW_MAX); return -1; }
            if (parse_entry(item, names, &l->e[l->n], err, errlen) < 0) return -1;
            l->n++;
        }
        p = c ? c + 1 : p + strlen(p);
    }
    return 0;
}

int allow_add_host(struct allow_list *l, const char *host)
{
    if (l->n == ALLOW_MAX || !host || !*host) return -1;
    char item[300];
    snprintf(item, sizeof(item), strchr(host, ':') ? "[%s]" : "%s", host);
    if (parse_entry(item, 1, &l->e[l->n], NULL, 0) < 0) return -1;
    l->n++;
    return 0;
}

static int prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)whole)) return 0;
    if (!rest) return 1;
    unsigned char m = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & m) == (b[whole] & m);
}

/* Matches host as written (an IP literal or a name) and port against one entry. */
static int entry_match(const struct allow_entry *e, const char *host, int port)
{
    if (port && (port < e->plo || port > e->phi)) return 0;
    if (e->kind == AL_ANY) return 1;
    unsigned char a[16];
    char h[256];
    snprintf(h, sizeof(h), "%s", host);
    size_t hl = strlen(h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { memmove(h, h + 1, hl - 2); h[hl - 2] = 0; }
    if (inet_pton(AF_INET, h, a) == 1) return e->kind == AL_V4 && prefix_eq(a, e->addr, e->prefix);
    if (inet_pton(AF_INET6, h, a) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (e->kind == AL_V4) return !memcmp(a, mapped, 12) && prefix_eq(a + 12, e->addr, e->prefix);
        return e->kind == AL_V6 && prefix_eq(a, e->addr, e->prefix);
    }
    if (e->kind != AL_NAME) return 0;
    lower(h);
    size_t n = strlen(h);
    if (n && h[n - 1] == '.') h[n - 1] = 0;   /* "localhost." is "localhost" */
    return glob_match(e->name, h);
}

int allow_match_host(const struct allow_list *l, const char *host, int port)
{
    for (int i = 0; i < l->n; i++)
        if (entry_match(&l->e[i], host, port)) return 1;
    return 0;
}

int allow_match(const struct allow_list *l, const struct fl_addr *a)
{
    if (a->kind != ADDR_INET && a->kind != ADDR_NAME) return 0;
    return allow_match_host(l, a->host, a->port);
}

const char *allow_str(const struct allow_list *l, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < l->n && o < len; i++) {
        const struct allow_entry *e = &l->e[i];
        char h[200], p[24] = "";
        if (e->kind == AL_ANY) snprintf(h, sizeof(h), "*");
        else if (e->kind == AL_NAME) snprintf(h, sizeof(h), "%s", e->name);
        else {
            char a[INET6_ADDRSTRLEN];
            inet_ntop(e->kind == AL_V4 ? AF_INET : AF_INET6, e->addr, a, sizeof(a));
            int full = e->prefix == (e->kind == AL_V4 ? 32 : 128);
            char pre[8] = "";
            if (!full) snprintf(pre, sizeof(pre), "/%d", e->prefix);
            snprintf(h, sizeof(h), e->kind == AL_V6 ? "[%s%s]" : "%s%s", a, pre);
        }
        if (e->plo == e->phi) snprintf(p, sizeof(p), ":%d", e->plo);
        else if (e->plo != 0 || e->phi != 65535) snprintf(p, sizeof(p), ":%d-%d", e->plo, e->phi);
        int w = snprintf(buf + o, len - o, "%s%s%s", i ? ", " : "", h, p);
        if (w < 0) break;
        o += (size_t)w;
    }
    if (!l->n) snprintf(buf, len, "(nothing)");
    return buf;
}

int host_is_loopback(const char *host)
{
    static struct allow_list lo;
    if (!lo.n) allow_parse("127.0.0.0/8, [::1], localhost", 1, &lo, NULL, 0);
    return allow_match_host(&lo, host, 0);
}

/* ---- directories ---- */

/* Absolute, and no "." or ".." component. */
static int path_clean(const char *p)
{
    if (p[0] != '/') return 0;
    for (const char *c = p; (c = strchr(c, '/')); c++) {
        const char *n = c + 1;
        if (n[0] == '.' && (n[1] == '/' || !n[1])) return 0;
        if (n[0] == '.' && n[1] == '.' && (n[2] == '/' || !n[2])) return 0;
    }
    return 1;
}

/* path inside dir (dir written without a trailing slash, "/" for the root). */
static int under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    if (n == 1 && dir[0] == '/') return path[0] == '/' && path[1];
    return !strncmp(path, dir, n) && path[n] == '/' && path[n + 1];
}

int dirs_parse(const char *text, struct dir_list *l, char *err, size_t errlen)
{
    const char *p = text ? text : "";
    while (*p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        while (n && isspace((unsigned char)*p)) { p++; n--; }
        while (n && isspace((unsigned char)p[n - 1])) n--;
        if (n) {
            if (l->n == DIRS_MAX) { SETERR("more than %d directories", DIRS_MAX); return -1; }
            if (n >= sizeof(l->d[0])) { SETERR("directory too long: '%.40s...'", p); return -1; }
            memcpy(l->d[l->n], p, n);
            l->d[l->n][n] = 0;
            if (!path_clean(l->d[l->n])) {
                SETERR("'%s' is not an absolute directory without '.' or '..' components", l->d[l->n]);
                return -1;
            }
            l->n++;
        }
        p = c ? c + 1 : p + strlen(p);
    }
    return 0;
}

/* The path with symbolic links resolved: the path itself when something is there (a link to a
 * socket elsewhere resolves to that socket), else its parent directory + the last component.
 * 1 resolved, 0 when not even the parent exists, -1 when something is there that cannot be
 * resolved (a dangling link: it could point anywhere once its target appears). */
static int resolve(const char *path, char *out)
{
    struct stat sb;
    if (lstat(path, &sb) == 0) return realpath(path, out) ? 1 : -1;
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", path);
    char *slash = strrchr(parent, '/');
    if (!slash) return -1;
    const char *base = path + (slash - parent) + 1;
    if (slash == parent) slash[1] = 0;
    else *slash = 0;
    char rp[PATH_MAX];
    if (!realpath(parent, rp)) return lstat(parent, &sb) == 0 ? -1 : 0;
    if (snprintf(out, PATH_MAX, "%s%s%s", rp, strcmp(rp, "/") ? "/" : "", base) >= PATH_MAX) return -1;
    return 1;
}

int path_under_dirs(const char *path, const struct dir_list *l)
{
    if (!path_clean(path)) return 0;
    char rpath[PATH_MAX];
    int resolved = resolve(path, rpath);
    if (resolved < 0) return 0;
    for (int i = 0; i < l->n; i++) {
        if (!under(path, l->d[i])) continue;
        if (!resolved) return 1;   /* nothing on disk yet to follow: as written */
        char rdir[PATH_MAX];
        const char *d = realpath(l->d[i], rdir) ? rdir : l->d[i];
        if (under(rpath, d)) return 1;
    }
    return 0;
}
