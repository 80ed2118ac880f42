/* dns_error.c -- answer a matching DNS query with an error rcode instead of its records.
 *
 * Exposes: resolvers and clients that treat NXDOMAIN for a name that existed a moment ago as
 * permanent (negative caching: the name stays "gone" for the SOA's minimum), that retry SERVFAIL
 * without backoff or give up at once, that do not fall over to the next nameserver on REFUSED,
 * or that crash on FORMERR/NOTIMP.
 *
 * Keys: rcode = nxdomain | servfail | refused | formerr | notimp (default servfail); match_name,
 * match_type (faults/dns_fault.h). The answer carries the question and no records; its rcode is
 * the one given, over UDP and TCP alike.
 */
#include "faults/dns_fault.h"

#include <stdio.h>
#include <string.h>

static void de_init(void *cfg)
{
    struct dns_fcfg *c = cfg;
    c->act = DNSA_ERROR;
    c->rcode = 2;   /* SERVFAIL */
}

static int de_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct dns_fcfg *c = cfg;
    int rc = dns_match_set(c, k, v, err, errlen);
    if (rc != FKEY_UNKNOWN) return rc;
    if (!strcmp(k, "rcode")) {
        int r = dns_rcode_parse(v);
        if (r <= 0) {
            snprintf(err, errlen, "'%s' is not nxdomain, servfail, refused, formerr or notimp", v);
            return FKEY_BAD;
        }
        c->rcode = r;
        return FKEY_OK;
    }
    return FKEY_UNKNOWN;
}

static void de_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct dns_fcfg *c = cfg;
    emit(ud, "rcode", dns_rcode_name(c->rcode));
    dns_match_attrs(c, emit, ud);
}

const struct fault_type fault_dns_error = {
    .name = "dns_error",
    .summary = "dns: answer a matching query with an error rcode (nxdomain, servfail, refused, formerr, notimp)",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct dns_fcfg),
    .init = de_init,
    .set = de_set,
    .attrs = de_attrs,
    .flags = FT_DNS_ONLY,
};
