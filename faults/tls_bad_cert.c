/* tls_bad_cert.c -- the proxy serves a bad certificate, minted on the fly: `expired` (the right
 * name, the right CA, validity over), `wrong_host` (the right CA, valid, for another name), or
 * `unknown_ca` (the right name, valid, signed by a CA made up for the purpose that nobody trusts).
 *
 * Exposes: clients that do not verify what they are told (Go's InsecureSkipVerify, Node's
 * rejectUnauthorized: false, Python's CERT_NONE, libpq's sslmode=require believed to verify,
 * curl -k left in a script): they go on and send their data. `check = tls_verify` judges it from
 * the record (the handshake's outcome, the alert, the application bytes the client sent).
 *
 * Keys: cert = expired | wrong_host | unknown_ca (required); name (wrong_host only: the name the
 * certificate is for, default "wrong-host." followed by the name the client asked for, which stays
 * inside a name-constrained CA's domains). expired and wrong_host need a proxy with tls_ca (the
 * client must trust the issuer, so that the named defect is the only one); unknown_ca works with
 * tls_cert too.
 */
#include "faults/fault.h"
#include "faults/tls_fault.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const kinds[] = {"", "expired", "wrong_host", "unknown_ca"};

const char *tls_bad_cert_str(enum tls_bad_cert k) { return k >= TLSC_EXPIRED && k <= TLSC_UNKNOWN_CA ? kinds[k] : ""; }

static void bad_cert_init(void *cfg) { ((struct tls_fault_plan *)cfg)->act = TLSA_CERT; }

/* A DNS name for `name`: letters, digits, '-', '.', '_'; dot-separated, at most 253 bytes. */
static int dns_name_ok(const char *v)
{
    size_t n = strlen(v);
    if (!n || n > 253 || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") != n) return 0;
    return v[0] != '.' && !strstr(v, "..");
}

static int bad_cert_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct tls_fault_plan *p = cfg;
    if (!strcmp(k, "cert")) {
        for (int i = TLSC_EXPIRED; i <= TLSC_UNKNOWN_CA; i++)
            if (!strcasecmp(v, kinds[i])) { p->cert = (enum tls_bad_cert)i; return FKEY_OK; }
        snprintf(err, errlen, "'%s' is not expired, wrong_host or unknown_ca", v);
        return FKEY_BAD;
    }
    if (!strcmp(k, "name")) {
        if (!dns_name_ok(v)) {
            snprintf(err, errlen, "'%s' is not a DNS name", v);
            return FKEY_BAD;
        }
        snprintf(p->name, sizeof(p->name), "%s", v);
        return FKEY_OK;
    }
    return FKEY_UNKNOWN;
}

static int bad_cert_validate(const void *cfg, char *err, size_t errlen)
{
    const struct tls_fault_plan *p = cfg;
    if (!p->cert) {
        snprintf(err, errlen, "cert: required (expired, wrong_host or unknown_ca)");
        return -1;
    }
    if (p->name[0] && p->cert != TLSC_WRONG_HOST) {
        snprintf(err, errlen, "name: only with cert = wrong_host");
        return -1;
    }
    return 0;
}

static void bad_cert_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct tls_fault_plan *p = cfg;
    emit(ud, "cert", tls_bad_cert_str(p->cert));
    if (p->name[0]) emit(ud, "name", p->name);
}

const struct fault_type fault_tls_bad_cert = {
    .name = "tls_bad_cert",
    .summary = "serve an expired, wrong-host or unknown-CA certificate, minted on the fly",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct tls_fault_plan),
    .init = bad_cert_init,
    .set = bad_cert_set,
    .validate = bad_cert_validate,
    .attrs = bad_cert_attrs,
    .flags = FT_CONN_LEVEL | FT_TLS,
};
