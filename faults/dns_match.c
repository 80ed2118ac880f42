/* dns_match.c -- what the DNS fault types share: match_name / match_type, and the names of
 * rcodes and query types. See faults/dns_fault.h.
 */
#include "faults/dns_fault.h"
#include "common/parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int dns_match_set(struct dns_fcfg *c, const char *k, const char *v, char *err, size_t errlen)
{
    if (!strcmp(k, "match_name")) {
        size_t n = strlen(v);
        if (n && v[n - 1] == '.' && n > 1) n--;               /* "api.test." = "api.test" */
        if (!n || n >= sizeof(c->name)) {
            snprintf(err, errlen, "a name or glob of 1..253 characters");
            return FKEY_BAD;
        }
        for (size_t i = 0; i < n; i++) {
            if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] > '~') {
                snprintf(err, errlen, "'%s' has a space or a character outside printable ASCII", v);
                return FKEY_BAD;
            }
            c->name[i] = (char)tolower((unsigned char)v[i]);
        }
        c->name[n] = 0;
        return FKEY_OK;
    }
    if (!strcmp(k, "match_type")) {
        int t = dns_type_parse(v);
        if (t < 0) {
            snprintf(err, errlen, "'%s' is not a query type (A, AAAA, CNAME, MX, TXT, NS, SOA, PTR, SRV, ANY or 1..65535)", v);
            return FKEY_BAD;
        }
        c->qtype = (uint16_t)t;
        return FKEY_OK;
    }
    return FKEY_UNKNOWN;
}

void dns_match_attrs(const struct dns_fcfg *c, fault_attr_fn emit, void *ud)
{
    char b[16];
    if (c->name[0]) emit(ud, "match_name", c->name);
    if (c->qtype) emit(ud, "match_type", dns_type_name(c->qtype, b));
}

int dns_match_ok(const struct dns_fcfg *c, const char *name, unsigned qtype)
{
    if (c->qtype && c->qtype != qtype) return 0;
    return !c->name[0] || glob_match(c->name, name);
}

static const char *const rcodes[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};

const char *dns_rcode_name(int rcode)
{
    static char other[16];
    if (rcode >= 0 && rcode < 6) return rcodes[rcode];
    snprintf(other, sizeof(other), "RCODE%d", rcode & 0xffff);
    return other;
}

int dns_rcode_parse(const char *s)
{
    for (int i = 0; i < 6; i++)
        if (!strcasecmp(s, rcodes[i])) return i;
    return -1;
}

static const struct { const char *name; unsigned type; } types[] = {
    {"A", 1}, {"NS", 2}, {"CNAME", 5}, {"SOA", 6}, {"PTR", 12}, {"MX", 15}, {"TXT", 16},
    {"AAAA", 28}, {"SRV", 33}, {"HTTPS", 65}, {"ANY", 255},
};

const char *dns_type_name(unsigned qtype, char *buf)
{
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (types[i].type == qtype) return types[i].name;
    snprintf(buf, 16, "TYPE%u", qtype & 0xffff);
    return buf;
}

int dns_type_parse(const char *s)
{
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcasecmp(s, types[i].name)) return (int)types[i].type;
    const char *d = !strncasecmp(s, "TYPE", 4) ? s + 4 : s;
    char *end;
    long v = *d ? strtol(d, &end, 10) : -1;
    if (*d < '0' || *d > '9' || *end || v < 1 || v > 65535) return -1;
    return (int)v;
}
