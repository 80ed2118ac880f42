/* checks.c -- every check, by name. Adding a check: one file verify/check_NAME.c exposing
 * `const struct vcheck vcheck_NAME`, one extern and one line below, and its section in
 * docs/verify.md. */
#include "verify/check.h"

#include <string.h>

extern const struct vcheck vcheck_timeout, vcheck_pool, vcheck_recovery, vcheck_breaker, vcheck_retries,
    vcheck_bulkhead, vcheck_postgres, vcheck_probe, vcheck_slo, vcheck_graceful, vcheck_retry_spacing,
    vcheck_retry_budget, vcheck_half_open, vcheck_shedding, vcheck_deadline, vcheck_deadline_propagation, vcheck_tls_verify;

const struct vcheck *const vchecks[] = {
    &vcheck_timeout, &vcheck_pool, &vcheck_recovery, &vcheck_breaker,
    &vcheck_retries, &vcheck_bulkhead, &vcheck_postgres, &vcheck_probe,
    &vcheck_slo, &vcheck_graceful,
    &vcheck_retry_spacing,
    &vcheck_retry_budget,
    &vcheck_half_open,
    &vcheck_shedding,
    &vcheck_deadline,
    &vcheck_deadline_propagation,
    &vcheck_tls_verify,
    NULL,
};

const struct vcheck *vcheck_find(const char *name)
{
    for (int i = 0; vchecks[i]; i++)
        if (!strcmp(vchecks[i]->name, name)) return vchecks[i];
    return NULL;
}
