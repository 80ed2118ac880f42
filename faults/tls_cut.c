/* tls_cut.c -- the TLS session towards the client ends without close_notify after `after_bytes`
 * of plaintext: a FIN in the middle of the data, the shape of a truncation attack (or of a load
 * balancer that drops the connection mid-response).
 *
 * Exposes: clients that take a TCP FIN for the end of the data (OpenSSL reports an unexpected EOF;
 * a client that ignores it, or that reads a body delimited by the connection's end, accepts half a
 * response), and retry logic that does not treat it as a failure.
 *
 * Keys: after_bytes (a size, default 1KiB): plaintext bytes the client gets before the cut, an
 * HTTP response's head included. A session that never reaches it is not cut. Needs a proxy that
 * terminates TLS.
 */
#include "faults/fault.h"
#include "faults/tls_fault.h"

#include <stdio.h>
#include <string.h>

static void tls_cut_init(void *cfg)
{
    struct tls_fault_plan *p = cfg;
    p->act = TLSA_CUT;
    p->after_bytes = 1024;
}

static int tls_cut_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct tls_fault_plan *p = cfg;
    if (!strcmp(k, "after_bytes")) return fkey_size(v, &p->after_bytes, err, errlen);
    return FKEY_UNKNOWN;
}

static void tls_cut_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct tls_fault_plan *p = cfg;
    char b[32];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)p->after_bytes);
    emit(ud, "after_bytes", b);
}

const struct fault_type fault_tls_cut = {
    .name = "tls_cut",
    .summary = "end the client's TLS session without close_notify after after_bytes of plaintext",
    .default_dir = FDIR_DOWN,
    .cfg_size = sizeof(struct tls_fault_plan),
    .init = tls_cut_init,
    .set = tls_cut_set,
    .attrs = tls_cut_attrs,
    .flags = FT_CONN_LEVEL | FT_TLS,
};
