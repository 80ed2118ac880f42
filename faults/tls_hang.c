/* tls_hang.c -- the TCP connection is accepted and the client's ClientHello is read, but never
 * answered: the handshake hangs until the client gives up, or until the fault's window closes
 * (then the handshake goes on).
 *
 * Exposes: clients with a connect timeout that covers the TCP connect only (the handshake is
 * where they wait: Go's http.Transport without TLSHandshakeTimeout and no overall deadline,
 * `requests` without a timeout, libpq without connect_timeout), and pools that fill with
 * connections stuck in their handshake. The record marks the hold (hang_ms) and the client's
 * give-up (gave_up_ms), so `check = timeout` judges it like any held call.
 *
 * No keys. Needs a proxy that terminates TLS. The proxy's tls_handshake_timeout does not apply
 * while the fault holds the handshake (it counts again from its release).
 */
#include "faults/fault.h"
#include "faults/tls_fault.h"

static void tls_hang_init(void *cfg) { ((struct tls_fault_plan *)cfg)->act = TLSA_HANG; }

static int tls_hang_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    return FKEY_UNKNOWN;
}

const struct fault_type fault_tls_hang = {
    .name = "tls_hang",
    .summary = "accept the connection but never answer the ClientHello",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct tls_fault_plan),
    .init = tls_hang_init,
    .set = tls_hang_set,
    .flags = FT_CONN_LEVEL | FT_TLS,
};
