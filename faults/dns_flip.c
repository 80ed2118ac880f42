/* dns_flip.c -- the answer for a matching name switches to another address mid-run.
 *
 * Exposes: services that resolve once at start and keep connecting to the old address after a
 * failover or a blue/green switch (a JVM's networkaddress.cache.ttl = forever, a connection pool
 * that never re-resolves), and caches that ignore the records' TTL. The switch happens when the
 * fault's window opens (`start = 30s`, or the moment it is added through the admin API), or after
 * `after` matching queries were answered as before.
 *
 * Keys: address = an IPv4 and/or an IPv6 address, comma-separated ("127.0.0.2", "127.0.0.2, ::2")
 * (required): A queries get the IPv4 one, AAAA queries the IPv6 one, each answered with the TTL
 * of the name's own record; a family not given is answered as before. after = N (default 0);
 * match_name, match_type (faults/dns_fault.h). It acts on names with configured records only (a
 * forwarded answer is passed on as the upstream gave it).
 */
#include "faults/dns_fault.h"
#include "common/parse.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static void fl_init(void *cfg) { ((struct dns_fcfg *)cfg)->act = DNSA_FLIP; }

static int set_address(struct dns_fcfg *c, const char *v, char *err, size_t errlen)
{
    char buf[sizeof(c->address)];
    if (strlen(v) >= sizeof(buf)) { snprintf(err, errlen, "too long"); return FKEY_BAD; }
    snprintf(buf, sizeof(buf), "%s", v);
    c->has_a = c->has_aaaa = 0;
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (inet_pton(AF_INET, t, c->a) == 1 && !c->has_a) c->has_a = 1;
        else if (inet_pton(AF_INET6, t, c->aaaa) == 1 && !c->has_aaaa) c->has_aaaa = 1;
        else {
            snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address (at most one of each)", t);
            return FKEY_BAD;
        }
    }
    snprintf(c->address, sizeof(c->address), "%s", v);
    return FKEY_OK;
}

static int fl_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct dns_fcfg *c = cfg;
    int rc = dns_match_set(c, k, v, err, errlen);
    if (rc != FKEY_UNKNOWN) return rc;
    if (!strcmp(k, "address")) return set_address(c, v, err, errlen);
    if (!strcmp(k, "after")) {
        int64_t n;
        char e[200];
        if (parse_int(v, 0, 1000000000, &n, e, sizeof(e)) < 0) { snprintf(err, errlen, "%s", e); return FKEY_BAD; }
        c->after = (uint64_t)n;
        return FKEY_OK;
    }
    return FKEY_UNKNOWN;
}

static int fl_validate(const void *cfg, char *err, size_t errlen)
{
    const struct dns_fcfg *c = cfg;
    if (!c->has_a && !c->has_aaaa) { snprintf(err, errlen, "address: required (the address the name switches to)"); return -1; }
    return 0;
}

static void fl_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct dns_fcfg *c = cfg;
    char b[32];
    emit(ud, "address", c->address);
    snprintf(b, sizeof(b), "%llu", (unsigned long long)c->after);
    emit(ud, "after", b);
    dns_match_attrs(c, emit, ud);
}

const struct fault_type fault_dns_flip = {
    .name = "dns_flip",
    .summary = "dns: answer a matching name with another address from the window's start (or after N queries)",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct dns_fcfg),
    .init = fl_init,
    .set = fl_set,
    .validate = fl_validate,
    .attrs = fl_attrs,
    .flags = FT_DNS_ONLY,
};
