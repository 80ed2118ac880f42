/* forward_parse.c -- what a forward proxy reads of a client's proxy requests, as pure functions
 * (forward.h): the CONNECT target, the absolute-form URL (split with libhttp-parser's URL parser,
 * not by hand), the host in either, the request head rewritten for the origin server, and the
 * profile's resolve list.
 *
 * Every input here is untrusted (a request line, a Host field) or user-written (the profile):
 * lengths are checked before any copy, a name is a DNS name (labels of letters, digits, '-' and
 * '_', 1..63 bytes each, no '-' at either end, at most 253 in all, the last label not all digits,
 * so no name reads as an address to a resolver) or an address inet_pton accepts, and nothing is
 * written past the buffers passed in. tests/fuzz/fuzz_forward.c drives every function with hostile
 * bytes.
 *
 * What it does not do: percent-decoding (the origin-form target is passed on exactly as the client
 * wrote it), IDNA (a name must already be ASCII), userinfo (refused: FWD_USERINFO).
 */
#include "proxy/protocols/forward.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int fwd_host_norm(const char *s, size_t len, struct fwd_target *t)
{
    char buf[FWD_HOST_MAX + 3];
    unsigned char a[16];
    t->is_ip = 0;
    t->host[0] = 0;
    if (len == 0 || len > FWD_HOST_MAX + 2 || memchr(s, 0, len)) return FWD_BAD;
    if (s[0] == '[') {
        if (len < 4 || s[len - 1] != ']') return FWD_BAD;
        memcpy(buf, s + 1, len - 2);
        buf[len - 2] = 0;
        if (inet_pton(AF_INET6, buf, a) != 1 || !inet_ntop(AF_INET6, a, t->host, sizeof(t->host))) return FWD_BAD;
        t->is_ip = 1;
        return 0;
    }
    memcpy(buf, s, len);
    buf[len] = 0;
    int fam = inet_pton(AF_INET, buf, a) == 1 ? AF_INET : inet_pton(AF_INET6, buf, a) == 1 ? AF_INET6 : 0;
    if (fam) {
        if (!inet_ntop(fam, a, t->host, sizeof(t->host))) return FWD_BAD;
        t->is_ip = 1;
        return 0;
    }
    if (buf[len - 1] == '.') buf[--len] = 0;
    if (len == 0 || len > FWD_HOST_MAX) return FWD_BAD;
    size_t label = 0, digits = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = buf[i];
        if (ch == '-' && (!label || i + 1 == len || buf[i + 1] == '.')) return FWD_BAD;   /* (-a, a-) */
        if (ch == '.') {
            if (!label) return FWD_BAD;
            label = digits = 0;
        } else if (isalnum((unsigned char)ch) || ch == '-' || ch == '_') {
            if (++label > 63) return FWD_BAD;
            if (isdigit((unsigned char)ch)) digits++;
        } else {
            return FWD_BAD;
        }
        t->host[i] = (char)tolower((unsigned char)ch);
    }
    t->host[len] = 0;
    if (!label || digits == label) return FWD_BAD;   /* "a." or a numeric last label (1.2.3, 0x7f.1 stays a name) */
    return 0;
}

/* Port digits: 1..65535. */
static int port_of(const char *s, size_t len)
{
    if (len == 0 || len > 5) return -1;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? v : -1;
}

int fwd_parse_authority(const char *s, size_t len, struct fwd_target *t)
{
    const char *colon;
    if (len && s[0] == '[') {
        const char *rb = memchr(s, ']', len);
        if (!rb || rb + 1 >= s + len || rb[1] != ':') return FWD_BAD;
        colon = rb + 1;
    } else {
        colon = len ? memchr(s, ':', len) : NULL;
        if (!colon || memchr(colon + 1, ':', len - (size_t)(colon + 1 - s))) return FWD_BAD;
    }
    int port = port_of(colon + 1, len - (size_t)(colon + 1 - s));
    if (port < 0 || fwd_host_norm(s, (size_t)(colon - s), t) < 0) return FWD_BAD;
    t->port = port;
    return 0;
}

int fwd_parse_absolute(const char *s, size_t len, struct fwd_target *t, char **origin)
{
    *origin = NULL;
    if (len == 0 || s[0] == '/' || s[0] == '*') return FWD_ORIGIN;
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(s, len, 0, &u) != 0) return FWD_BAD;
    if (!(u.field_set & (1 << UF_SCHEMA)) || !(u.field_set & (1 << UF_HOST))) return FWD_BAD;
    const char *sch = s + u.field_data[UF_SCHEMA].off;
    size_t sl = u.field_data[UF_SCHEMA].len;
    if (sl == 5 && !strncasecmp(sch, "https", 5)) return FWD_HTTPS;
    if (sl != 4 || strncasecmp(sch, "http", 4)) return FWD_BAD;
    if (u.field_set & (1 << UF_USERINFO)) return FWD_USERINFO;
    size_t ho = u.field_data[UF_HOST].off, hl = u.field_data[UF_HOST].len;
    if (ho > 0 && s[ho - 1] == '[' && ho + hl < len && s[ho + hl] == ']') { ho--; hl += 2; }   /* [IPv6] */
    if (fwd_host_norm(s + ho, hl, t) < 0) return FWD_BAD;
    t->port = (u.field_set & (1 << UF_PORT)) ? u.port : 80;
    if (t->port == 0) return FWD_BAD;
    size_t start, end;
    if (u.field_set & (1 << UF_PATH)) {
        start = u.field_data[UF_PATH].off;
        end = (u.field_set & (1 << UF_QUERY)) ? u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len
                                             : start + u.field_data[UF_PATH].len;
    } else if (u.field_set & (1 << UF_QUERY)) {
        start = u.field_data[UF_QUERY].off - 1;   /* the '?' */
        end = u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len;
    } else {
        start = end = 0;
    }
    if (end > len || start > end) return FWD_BAD;
    int slash = end == start || s[start] != '/';
    char *o = malloc(end - start + 2);
    if (!o) abort();
    size_t n = 0;
    if (slash) o[n++] = '/';
    memcpy(o + n, s + start, end - start);
    o[n + end - start] = 0;
    *origin = o;
    return 0;
}

const char *fwd_target_str(const struct fwd_target *t, char *buf, size_t len)
{
    snprintf(buf, len, strchr(t->host, ':') ? "[%s]:%d" : "%s:%d", t->host, t->port);
    return buf;
}

/* 1 when the line's field name (up to ':') is name, case-insensitively. */
static int field_is(const char *line, size_t n, const char *name)
{
    size_t nl = strlen(name);
    return n > nl && line[nl] == ':' && !strncasecmp(line, name, nl);
}

int fwd_origin_head(const char *head, size_t len, const char *origin, const struct fwd_target *t, struct evbuffer *out)
{
    const char *end = head + len, *eol = memchr(head, '\n', len);
    if (!eol) return FWD_BAD;
    const char *sp1 = memchr(head, ' ', (size_t)(eol - head));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp2) return FWD_BAD;
    evbuffer_add(out, head, (size_t)(sp1 + 1 - head));
    evbuffer_add(out, origin, strlen(origin));
    evbuffer_add(out, sp2, (size_t)(eol + 1 - sp2));
    int skipping = 0;
    for (const char *p = eol + 1; p < end;) {
        const char *le = memchr(p, '\n', (size_t)(end - p));
        if (!le) return FWD_BAD;
        size_t ll = (size_t)(le + 1 - p), content = ll - 1 - (ll >= 2 && le[-1] == '\r');
        if (content == 0) {
            /* the head's end: the Host of the destination (RFC 9112 3.2.2: the URL's, not the client's) */
            char hb[FWD_HOST_MAX + 16];
            if (t->port == 80) snprintf(hb, sizeof(hb), strchr(t->host, ':') ? "[%s]" : "%s", t->host);
            else fwd_target_str(t, hb, sizeof(hb));
            evbuffer_add_printf(out, "Host: %s\r\n", hb);
            evbuffer_add(out, p, ll);
            return p + ll == end ? 0 : FWD_BAD;
        }
        if (*p != ' ' && *p != '\t')   /* (a folded line belongs to the field before it) */
            skipping = field_is(p, content, "proxy-connection") || field_is(p, content, "proxy-authorization") ||
                       field_is(p, content, "host");
        if (!skipping) evbuffer_add(out, p, ll);
        p += ll;
    }
    return FWD_BAD;
}

/* ---- resolve = NAME:ADDR, ... ---- */

/* The next entry of list from *pos into name and addr (texts, unchecked). 0 at the end, 1 for an
 * entry, -1 for one that is not NAME:ADDR (its text in name). */
static int next_entry(const char *list, size_t *pos, char *name, size_t nl, char *addr, size_t al)
{
    const char *p = list + *pos;
    while (*p == ',' || isspace((unsigned char)*p)) p++;
    if (!*p) { *pos = (size_t)(p - list); return 0; }
    size_t n = strcspn(p, ", \t\r\n");
    *pos = (size_t)(p + n - list);
    const char *colon = memchr(p, ':', n);
    if (!colon || (size_t)(colon - p) >= nl || (size_t)(p + n - colon - 1) >= al) {
        snprintf(name, nl, "%.*s", (int)(n < 60 ? n : 60), p);
        return -1;
    }
    snprintf(name, nl, "%.*s", (int)(colon - p), p);
    const char *a = colon + 1;
    size_t alen = (size_t)(p + n - a);
    if (alen >= 2 && a[0] == '[' && a[alen - 1] == ']') { a++; alen -= 2; }
    snprintf(addr, al, "%.*s", (int)alen, a);
    return 1;
}

int fwd_resolved(const char *resolve, const char *host, char *addr, size_t alen)
{
    char name[FWD_HOST_MAX + 2], a[64];
    size_t pos = 0;
    int rc;
    struct fwd_target t;
    while ((rc = next_entry(resolve, &pos, name, sizeof(name), a, sizeof(a))) != 0) {
        if (rc < 0 || fwd_host_norm(name, strlen(name), &t) < 0 || strcmp(t.host, host)) continue;
        snprintf(addr, alen, "%s", a);
        return 1;
    }
    return 0;
}

int fwd_resolve_check(const char *resolve, char *why, size_t wl)
{
    char name[FWD_HOST_MAX + 2], a[64];
    unsigned char bin[16];
    size_t pos = 0;
    int rc;
    struct fwd_target t;
    while ((rc = next_entry(resolve, &pos, name, sizeof(name), a, sizeof(a))) != 0) {
        if (rc < 0) {
            snprintf(why, wl, "'%s' is not NAME:ADDRESS (api.example.test:127.0.0.1)", name);
            return -1;
        }
        if (fwd_host_norm(name, strlen(name), &t) < 0 || t.is_ip) {
            snprintf(why, wl, "'%s' is not a DNS name", name);
            return -1;
        }
        if (inet_pton(AF_INET, a, bin) != 1 && inet_pton(AF_INET6, a, bin) != 1) {
            snprintf(why, wl, "%s: '%s' is not an IPv4 or IPv6 address", name, a);
            return -1;
        }
    }
    return 0;
}

void fwd_resolve_names(const char *resolve, void (*fn)(void *ud, const char *name), void *ud)
{
    char name[FWD_HOST_MAX + 2], a[64];
    size_t pos = 0;
    int rc;
    struct fwd_target t;
    while ((rc = next_entry(resolve, &pos, name, sizeof(name), a, sizeof(a))) != 0)
        if (rc > 0 && fwd_host_norm(name, strlen(name), &t) == 0) fn(ud, t.host);
}
