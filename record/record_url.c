/* record_url.c -- the recorder's Redis address: `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`
 * or `unix:/path[?db=N&password=P]`.
 *
 * Parsing is strict so that a typo in a profile stops `serve` with a reason (exit 2) instead of
 * recording nowhere. Passwords may be percent-encoded (%40 for '@'). No TLS, no sentinel.
 */
#include "record/record.h"
#include "common/text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL_FORMS "expected redis://[:PASSWORD@]HOST:PORT[/DB] or unix:/path[?db=N&password=P]"

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Copies s[0..n) into out, decoding %XX. -1 on a bad escape or overflow. */
static int pct_decode(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '%') {
            if (i + 2 >= n) return -1;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0) return -1;
            ch = h * 16 + l;
            i += 2;
        }
        if (o + 1 >= outlen) return -1;
        out[o++] = (char)ch;
    }
    out[o] = 0;
    return 0;
}

static int parse_db(const char *s, size_t n, int *db)
{
    if (n == 0 || n > 5) return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    *db = v;
    return 0;
}

/* (the URL is quoted with its password masked: an error line is logged) */
#define BAD(...) do { char _m[300], _u[600]; snprintf(_m, sizeof(_m), __VA_ARGS__); fl_redact_url(url, _u, sizeof(_u)); \
    snprintf(err, errlen, "redis: '%s': %s (" URL_FORMS ")", _u, _m); return -1; } while (0)

static int parse_unix(const char *url, const char *p, struct rec_url *u, char *err, size_t errlen)
{
    if (!strncmp(p, "//", 2)) p += 2;              /* unix:///path */
    const char *q = strchr(p, '?');
    size_t plen = q ? (size_t)(q - p) : strlen(p);
    if (plen == 0) BAD("no socket path");
    if (plen >= sizeof(u->path)) BAD("socket path too long");
    memcpy(u->path, p, plen);
    u->path[plen] = 0;
    while (q && *q) {
        q++;                                        /* skip '?' or '&' */
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', n);
        if (!eq) BAD("query parameter without '='");
        size_t kn = (size_t)(eq - q), vn = n - kn - 1;
        if (kn == 2 && !strncmp(q, "db", 2)) {
            if (parse_db(eq + 1, vn, &u->db) < 0) BAD("db must be a number");
        } else if (kn == 8 && !strncmp(q, "password", 8)) {
            if (pct_decode(eq + 1, vn, u->pass, sizeof(u->pass)) < 0) BAD("bad password encoding");
        } else if (kn == 4 && !strncmp(q, "user", 4)) {
            if (pct_decode(eq + 1, vn, u->user, sizeof(u->user)) < 0) BAD("bad user encoding");
        } else {
            BAD("unknown parameter '%.*s' (db, password, user)", (int)kn, q);
        }
        q = amp;
    }
    u->is_unix = 1;
    return 0;
}

int rec_url_parse(const char *url, struct rec_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    u->port = 6379;
    if (!url || !*url) BAD("empty");
    if (!strncmp(url, "unix:", 5)) return parse_unix(url, url + 5, u, err, errlen);
    if (strncmp(url, "redis://", 8) != 0) BAD("unknown scheme");
    const char *p = url + 8;
    const char *end = p + strcspn(p, "/?#");
    const char *at = NULL;
    for (const char *x = p; x < end; x++) if (*x == '@') at = x;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon) BAD("credentials need ':' (redis://:PASSWORD@HOST or redis://USER:PASSWORD@HOST)");
        if (pct_decode(p, (size_t)(colon - p), u->user, sizeof(u->user)) < 0) BAD("bad user encoding");
        if (pct_decode(colon + 1, (size_t)(at - colon - 1), u->pass, sizeof(u->pass)) < 0)
            BAD("bad password encoding");
        p = at + 1;
    }
    const char *hs = p, *he;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) BAD("unclosed '['");
        hs = p + 1;
        he = rb;
        p = rb + 1;
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        he = colon ? colon : end;
        p = he;
    }
    if (he == hs) BAD("no host");
    if ((size_t)(he - hs) >= sizeof(u->host)) BAD("host too long");
    memcpy(u->host, hs, (size_t)(he - hs));
    u->host[he - hs] = 0;
    if (p < end) {
        if (*p != ':') BAD("unexpected '%c' after the host", *p);
        p++;
        if (p == end) BAD("empty port");
        int port = 0;
        for (; p < end; p++) {
            if (!isdigit((unsigned char)*p)) BAD("port must be a number");
            port = port * 10 + (*p - '0');
            if (port > 65535) BAD("port out of range");
        }
        if (port == 0) BAD("port out of range");
        u->port = port;
    }
    if (*end == '/') {
        const char *d = end + 1;
        size_t n = strlen(d);
        if (n && parse_db(d, n, &u->db) < 0) BAD("db must be a number");
    } else if (*end) {
        BAD("unexpected '%c'", *end);
    }
    return 0;
}
