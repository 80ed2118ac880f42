/* dns_flow.c -- DNS faults on when and whether an answer comes: dns_delay (a slow answer),
 * dns_drop (no answer at all) and dns_truncate (an answer with the TC bit over UDP).
 *
 * Exposes:
 *   dns_delay     resolver timeouts that are too long (a request thread stuck for 5 s per name)
 *                 or too short (a slow but good answer taken as a failure), and callers that
 *                 resolve on every request instead of caching. Keys: delay (required), jitter
 *                 (± uniform, below delay). The query is then answered as it would have been.
 *   dns_drop      the resolver's retry and timeout schedule (glibc: 5 s, then the next server;
 *                 options timeout/attempts), and clients that hang forever on a lost datagram.
 *                 No key of its own: the query is read and never answered.
 *   dns_truncate  the fallback to TCP (RFC 7766): over UDP the answer has the TC bit and no
 *                 records, so a good resolver asks again over TCP, where the fault does not
 *                 apply; a client without TCP support sees an empty answer. No key of its own.
 * All three take match_name and match_type (faults/dns_fault.h).
 */
#include "faults/dns_fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <string.h>

static void delay_init(void *cfg) { ((struct dns_fcfg *)cfg)->act = DNSA_DELAY; }
static void drop_init(void *cfg) { ((struct dns_fcfg *)cfg)->act = DNSA_DROP; }
static void trunc_init(void *cfg) { ((struct dns_fcfg *)cfg)->act = DNSA_TRUNCATE; }

static int delay_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct dns_fcfg *c = cfg;
    int rc = dns_match_set(c, k, v, err, errlen);
    if (rc != FKEY_UNKNOWN) return rc;
    if (!strcmp(k, "delay")) return fkey_duration(v, &c->delay_us, err, errlen);
    if (!strcmp(k, "jitter")) return fkey_duration(v, &c->jitter_us, err, errlen);
    return FKEY_UNKNOWN;
}

static int delay_validate(const void *cfg, char *err, size_t errlen)
{
    const struct dns_fcfg *c = cfg;
    if (c->delay_us <= 0) { snprintf(err, errlen, "delay: required, above 0 (e.g. delay = 2s)"); return -1; }
    if (c->jitter_us >= c->delay_us) { snprintf(err, errlen, "jitter: must be below delay"); return -1; }
    return 0;
}

static void delay_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct dns_fcfg *c = cfg;
    char b[32];
    emit(ud, "delay", duration_str(c->delay_us, b, sizeof(b)));
    if (c->jitter_us) emit(ud, "jitter", duration_str(c->jitter_us, b, sizeof(b)));
    dns_match_attrs(c, emit, ud);
}

static int match_only_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    return dns_match_set(cfg, k, v, err, errlen);
}

static void match_only_attrs(const void *cfg, fault_attr_fn emit, void *ud) { dns_match_attrs(cfg, emit, ud); }

const struct fault_type fault_dns_delay = {
    .name = "dns_delay",
    .summary = "dns: answer a matching query late (delay ± jitter)",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct dns_fcfg),
    .init = delay_init,
    .set = delay_set,
    .validate = delay_validate,
    .attrs = delay_attrs,
    .flags = FT_DNS_ONLY,
};

const struct fault_type fault_dns_drop = {
    .name = "dns_drop",
    .summary = "dns: never answer a matching query (the resolver times out)",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct dns_fcfg),
    .init = drop_init,
    .set = match_only_set,
    .attrs = match_only_attrs,
    .flags = FT_DNS_ONLY,
};

const struct fault_type fault_dns_truncate = {
    .name = "dns_truncate",
    .summary = "dns: over UDP, answer a matching query with the TC bit and no records (the client retries over TCP)",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct dns_fcfg),
    .init = trunc_init,
    .set = match_only_set,
    .attrs = match_only_attrs,
    .flags = FT_DNS_ONLY,
};
