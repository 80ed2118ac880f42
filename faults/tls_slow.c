/* tls_slow.c -- a slow handshake: the ClientHello waits `delay` (± jitter) before the server
 * answers it (the ServerHello), as with an overloaded TLS terminator or a far-away one.
 *
 * Exposes: handshake timeouts shorter than a real handshake can take (a client whose 1 s connect
 * timeout also covers TLS), connection pools that open connections in the request path (every new
 * connection pays the delay), and per-request deadlines that forget the handshake.
 *
 * Keys: delay (a duration, required), jitter (default 0: the delay varies by up to ± jitter).
 * Needs a proxy that terminates TLS. The wait is marked in the record as a hold (hang_ms, and
 * hang_end_ms when the handshake goes on); tls_handshake_ms includes it.
 */
#include "faults/fault.h"
#include "faults/tls_fault.h"

#include <stdio.h>
#include <string.h>

static void tls_slow_init(void *cfg) { ((struct tls_fault_plan *)cfg)->act = TLSA_SLOW; }

static int tls_slow_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct tls_fault_plan *p = cfg;
    if (!strcmp(k, "delay")) return fkey_duration(v, &p->delay_us, err, errlen);
    if (!strcmp(k, "jitter")) return fkey_duration(v, &p->jitter_us, err, errlen);
    return FKEY_UNKNOWN;
}

static int tls_slow_validate(const void *cfg, char *err, size_t errlen)
{
    const struct tls_fault_plan *p = cfg;
    if (p->delay_us <= 0) {
        snprintf(err, errlen, "delay: required (the pause before the ServerHello, e.g. 2s)");
        return -1;
    }
    if (p->jitter_us > p->delay_us) {
        snprintf(err, errlen, "jitter: must not exceed delay");
        return -1;
    }
    return 0;
}

static void tls_slow_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct tls_fault_plan *p = cfg;
    char b[32];
    snprintf(b, sizeof(b), "%lldms", (long long)(p->delay_us / 1000));
    emit(ud, "delay", b);
    snprintf(b, sizeof(b), "%lldms", (long long)(p->jitter_us / 1000));
    emit(ud, "jitter", b);
}

const struct fault_type fault_tls_slow = {
    .name = "tls_slow",
    .summary = "pause delay between the ClientHello and the ServerHello",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct tls_fault_plan),
    .init = tls_slow_init,
    .set = tls_slow_set,
    .validate = tls_slow_validate,
    .attrs = tls_slow_attrs,
    .flags = FT_CONN_LEVEL | FT_TLS,
};
