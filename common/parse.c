/* parse.c -- durations, sizes, booleans, numbers and addresses as users write them.
 *
 * One syntax everywhere: a profile, a scenario, an admin API body and a ctl flag all go through
 * these functions, so "100ms" or "[::1]:8080" means the same thing in each of them. Errors are
 * returned as text for the caller to prefix with its location.
 */
#include "common/parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SETERR(...) do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); } while (0)

int parse_duration(const char *s, int64_t *out_us, char *err, size_t errlen)
{
    static const struct { const char *unit; double mult; } units[] = {
        {"us", 1}, {"ms", 1e3}, {"s", 1e6}, {"m", 60e6}, {"h", 3600e6}, {"d", 86400e6},
    };
    if (!s || !*s) { SETERR("empty duration"); return -1; }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0) {
        SETERR("'%s' is not a duration (e.g. 250ms, 5s, 2m)", s);
        return -1;
    }
    if (*end == '\0') {
        if (v == 0) { *out_us = 0; return 0; }
        SETERR("'%s' needs a unit (us, ms, s, m, h, d)", s);
        return -1;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            double us = v * units[i].mult;
            if (us > (double)PARSE_MAX_DURATION_US) { SETERR("duration '%s' is too large (at most 36500d)", s); return -1; }
            *out_us = (int64_t)llround(us);
            return 0;
        }
    }
    SETERR("'%s' has an unknown unit '%s' (us, ms, s, m, h, d)", s, end);
    return -1;
}

int parse_size(const char *s, uint64_t *out, char *err, size_t errlen)
{
    static const struct { const char *unit; double mult; } units[] = {
        {"", 1}, {"B", 1}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
        {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1024.0}, {"M", 1048576.0},
    };
    if (!s || !*s) { SETERR("empty size"); return -1; }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0 || s[0] == '-') {
        SETERR("'%s' is not a size (e.g. 512, 16KiB, 8MiB)", s);
        return -1;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            double b = v * units[i].mult;
            if (b > (double)PARSE_MAX_SIZE) { SETERR("size '%s' is too large (at most 1048576GiB)", s); return -1; }
            if (b != floor(b)) { SETERR("size '%s' is not a whole number of bytes", s); return -1; }
            *out = (uint64_t)b;
            return 0;
        }
    }
    SETERR("'%s' has an unknown unit '%s' (B, KiB, MiB, GiB)", s, end);
    return -1;
}

int parse_bool(const char *s, int *out, char *err, size_t errlen)
{
    static const char *yes[] = {"yes", "true", "on", "1"}, *no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (s && strcasecmp(s, yes[i]) == 0) { *out = 1; return 0; }
        if (s && strcasecmp(s, no[i]) == 0) { *out = 0; return 0; }
    }
    SETERR("'%s' is not yes or no", s ? s : "");
    return -1;
}

int parse_double(const char *s, double lo, double hi, double *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || *end || errno || !isfinite(v)) {
        SETERR("'%s' is not a number", s ? s : "");
        return -1;
    }
    if (v < lo || v > hi) { SETERR("%s is outside %g..%g", s, lo, hi); return -1; }
    *out = v;
    return 0;
}

int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || end == s || *end || errno) { SETERR("'%s' is not a whole number", s ? s : ""); return -1; }
    if (v < lo || v > hi) { SETERR("%s is outside %lld..%lld", s, (long long)lo, (long long)hi); return -1; }
    *out = v;
    return 0;
}

static int parse_port(const char *p, const char *whole, int *port, char *err, size_t errlen)
{
    int64_t v;
    if (parse_int(p, 0, 65535, &v, NULL, 0) < 0 || !*p) {
        SETERR("'%s' has a bad port '%s' (0..65535)", whole, p);
        return -1;
    }
    *port = (int)v;
    return 0;
}

int parse_addr(const char *s, int allow_name, struct fl_addr *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    if (!s || !*s) { SETERR("empty address"); return -1; }
    if (strncmp(s, "unix:", 5) == 0) {
        const char *path = s + 5;
        if (!*path) { SETERR("'%s' has no socket path", s); return -1; }
        if (strlen(path) >= sizeof(a->path)) { SETERR("unix socket path too long in '%s'", s); return -1; }
        a->kind = ADDR_UNIX;
        strcpy(a->path, path);
        struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;
        sun->sun_family = AF_UNIX;
        strcpy(sun->sun_path, path);
        a->sslen = sizeof(*sun);
        return 0;
    }
    char host[256];
    const char *portp;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':') { SETERR("'%s' is not [v6]:port", s); return -1; }
        size_t hl = (size_t)(rb - s - 1);
        if (hl == 0 || hl >= sizeof(host)) { SETERR("'%s' has a bad IPv6 host", s); return -1; }
        memcpy(host, s + 1, hl);
        host[hl] = 0;
        portp = rb + 2;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
            SETERR("'%s' is not an IPv6 address", host);
            return -1;
        }
        if (parse_port(portp, s, &a->port, err, errlen) < 0) return -1;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)a->port);
        a->sslen = sizeof(*sin6);
        a->kind = ADDR_INET;
        snprintf(a->host, sizeof(a->host), "%s", host);
        return 0;
    }
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) { SETERR("'%s' is not host:port, [v6]:port or unix:/path", s); return -1; }
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof(host)) { SETERR("host too long in '%s'", s); return -1; }
    memcpy(host, s, hl);
    host[hl] = 0;
    if (strchr(host, ':')) { SETERR("'%s': write IPv6 addresses as [addr]:port", s); return -1; }
    if (parse_port(colon + 1, s, &a->port, err, errlen) < 0) return -1;
    snprintf(a->host, sizeof(a->host), "%s", host);
    struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)a->port);
        a->sslen = sizeof(*sin);
        a->kind = ADDR_INET;
        return 0;
    }
    if (!allow_name) { SETERR("'%s' is not an IP address (names are allowed for upstreams only)", host); return -1; }
    for (const char *p = host; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_') {
            SETERR("'%s' is not a valid host name", host);
            return -1;
        }
    }
    a->kind = ADDR_NAME;
    return 0;
}

const char *addr_str(const struct fl_addr *a, char *buf, size_t len)
{
    if (a->kind == ADDR_UNIX) snprintf(buf, len, "unix:%s", a->path);
    else if (strchr(a->host, ':')) snprintf(buf, len, "[%s]:%d", a->host, a->port);
    else snprintf(buf, len, "%s:%d", a->host, a->port);
    return buf;
}

const char *duration_str(int64_t us, char *buf, size_t len)
{
    if (us == 0) snprintf(buf, len, "0");
    else if (us % 86400000000LL == 0) snprintf(buf, len, "%lldd", (long long)(us / 86400000000LL));
    else if (us % 3600000000LL == 0) snprintf(buf, len, "%lldh", (long long)(us / 3600000000LL));
    else if (us % 60000000LL == 0) snprintf(buf, len, "%lldm", (long long)(us / 60000000LL));
    else if (us % 1000000 == 0) snprintf(buf, len, "%llds", (long long)(us / 1000000));
    else if (us % 1000 == 0) snprintf(buf, len, "%lldms", (long long)(us / 1000));
    else snprintf(buf, len, "%lldus", (long long)us);
    return buf;
}

int glob_match(const char *pattern, const char *s)
{
    return fnmatch(pattern, s, 0) == 0;
}

long utf8_bad_at(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
        int ok = n >= 0;
        for (int i = 1; ok && i <= n; i++) ok = (p[i] & 0xc0) == 0x80;
        if (ok && n == 1) ok = *p >= 0xc2;
        if (ok && n == 2) {
            unsigned cp = ((p[0] & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
            ok = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
        }
        if (ok && n == 3) {
            unsigned cp = ((p[0] & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) | ((p[2] & 0x3fu) << 6) | (p[3] & 0x3fu);
            ok = cp >= 0x10000 && cp <= 0x10ffff;
        }
        if (!ok) return (long)(p - (const unsigned char *)s);
        p += n + 1;
    }
    return -1;
}

const char *sockaddr_str(const struct sockaddr *sa, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(buf, len, "%s:%d", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(buf, len, "[%s]:%d", host, ntohs(in6->sin6_port));
    } else {
        snprintf(buf, len, "unix");
    }
    return buf;
}
