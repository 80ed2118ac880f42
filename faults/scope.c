/* scope.c -- a fault's `clients` (source CIDR ranges) and `max_active` (faults/scope.h).
 *
 * The checks run once per connection (tcp stages) or per request (http, framed engines), on the
 * address the core kept from accept(): a prefix compare over at most CIDR_MAX entries, no
 * allocation. The places max_active counts are plain counters on the fault; whoever took one
 * (a stage, an http request) gives it back when it lets go of the fault.
 */
#include "faults/scope.h"
#include "faults/fault.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)whole)) return 0;
    if (!rest) return 1;
    unsigned char m = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & m) == (b[whole] & m);
}

static int cidr_one(const char *s, struct cidr *c, char *err, size_t errlen)
{
    char a[80];
    const char *slash = strchr(s, '/');
    size_t al = slash ? (size_t)(slash - s) : strlen(s);
    if (!al || al >= sizeof(a)) { snprintf(err, errlen, "'%s' is not an address or address/prefix", s); return -1; }
    memcpy(a, s, al);
    a[al] = 0;
    memset(c, 0, sizeof(*c));
    if (inet_pton(AF_INET, a, c->addr) == 1) c->v6 = 0;
    else if (inet_pton(AF_INET6, a, c->addr) == 1) c->v6 = 1;
    else { snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", a); return -1; }
    int max = c->v6 ? 128 : 32;
    c->prefix = (unsigned char)max;
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || p < 0 || p > max) {
            snprintf(err, errlen, "'%s': the prefix must be 0..%d", s, max);
            return -1;
        }
        c->prefix = (unsigned char)p;
    }
    /* bits past the prefix must be zero: 10.1.2.3/8 is most likely a typo */
    int alen = c->v6 ? 16 : 4;
    for (int b = c->prefix; b < alen * 8; b++)
        if (c->addr[b / 8] & (0x80 >> (b % 8))) {
            snprintf(err, errlen, "'%s' has bits set past its /%d prefix", s, c->prefix);
            return -1;
        }
    return 0;
}

int cidr_parse(const char *text, struct cidr_list *l, char *err, size_t errlen)
{
    memset(l, 0, sizeof(*l));
    const char *p = text ? text : "";
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (!*p) break;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ' && *e != '\t') e++;
        char one[100];
        size_t n = (size_t)(e - p);
        if (n >= sizeof(one)) { snprintf(err, errlen, "'%.40s...' is too long for an address", p); return -1; }
        memcpy(one, p, n);
        one[n] = 0;
        if (l->n == CIDR_MAX) { snprintf(err, errlen, "more than %d ranges", CIDR_MAX); return -1; }
        if (cidr_one(one, &l->e[l->n], err, errlen) < 0) return -1;
        l->n++;
        p = e;
    }
    if (!l->n) { snprintf(err, errlen, "no address given (a comma-separated list of address/prefix)"); return -1; }
    return 0;
}

int cidr_match(const struct cidr_list *l, const struct sockaddr *sa)
{
    if (!sa) return 0;
    const unsigned char *a4 = NULL, *a6 = NULL;
    if (sa->sa_family == AF_INET) {
        a4 = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *in6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        a6 = (const unsigned char *)in6;
        if (IN6_IS_ADDR_V4MAPPED(in6)) a4 = a6 + 12;
    } else {
        return 0;
    }
    for (int i = 0; i < l->n; i++) {
        const struct cidr *c = &l->e[i];
        if (c->v6 ? (a6 && prefix_eq(a6, c->addr, c->prefix)) : (a4 && prefix_eq(a4, c->addr, c->prefix))) return 1;
    }
    return 0;
}

const char *cidr_str(const struct cidr_list *l, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < l->n && o < len; i++) {
        char a[INET6_ADDRSTRLEN];
        inet_ntop(l->e[i].v6 ? AF_INET6 : AF_INET, l->e[i].addr, a, sizeof(a));
        o += (size_t)snprintf(buf + o, len - o, "%s%s/%d", i ? ", " : "", a, l->e[i].prefix);
    }
    return buf;
}

int scope_admits(const struct fault *f, const struct sockaddr *sa)
{
    return !f->clients || cidr_match(f->clients, sa);
}

int scope_take(struct fault *f)
{
    if (!f->max_active) return 1;
    if (f->n_active >= f->max_active) {
        f->capped++;
        return 0;
    }
    f->n_active++;
    return 1;
}

void scope_leave(struct fault *f)
{
    if (f && f->max_active && f->n_active) f->n_active--;
}
