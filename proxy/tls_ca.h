/* tls_ca.h -- faultline's own certificate authority: `faultline ca init DIR` writes it, and a
 * proxy with `tls_ca = DIR` mints a leaf certificate per name a client asks for (SNI), on the fly.
 *
 * DIR holds ca.crt (the CA's certificate, 0644: what clients are told to trust) and ca.key (its
 * EC P-256 key, 0600). The key is read from its file by the daemon and by nothing else: it is
 * never written to a log, the record or the admin API. When `ca init` is given the domains the CA
 * may mint for (--domain), the CA carries X.509 name constraints (permitted subtrees), so a client
 * that trusts it trusts it for those names only; the daemon refuses to mint outside them.
 *
 * Leaves: one EC P-256 key per loaded CA signs nothing and is shared by every leaf (the leaf's
 * key is not a secret worth one key per name: the CA's is); each leaf has the name as its only
 * SAN (DNS or IP), a random 128-bit serial, serverAuth, and a short validity (TLS_LEAF_DAYS,
 * backdated an hour for clocks that lag). Leaves are cached by name (TLS_LEAF_CACHE entries) and
 * minted again when they come within an hour of their end.
 *
 * Ownership: a struct tls_ca belongs to the proxy that loaded it (tls_ca_free). A leaf returned by
 * tls_ca_leaf is borrowed: SSL_use_certificate takes its own reference.
 */
#ifndef FL_TLS_CA_H
#define FL_TLS_CA_H

#include <stddef.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define TLS_LEAF_DAYS  3       /* validity of a minted leaf */
#define TLS_LEAF_CACHE 1024    /* names whose leaf is kept */
#define TLS_HOST_MAX   253     /* longest DNS name minted for */

struct tls_ca;

/* Writes a new CA into dir (created 0755 if missing): ca.key (0600, never overwritten unless
 * force) and ca.crt. domains: names the CA may mint for ("example.test" covers its subdomains;
 * an IP address or CIDR "10.0.0.0/8" covers addresses), NULL/0 = no constraint. 0, or -1 with
 * the reason in err. */
int tls_ca_init_dir(const char *dir, const char *const *domains, int ndomains, int force, char *err, size_t errlen);

/* Loads dir's CA (checks: both files readable, the key matches, it is a CA, not expired). NULL
 * with "reason" in err. */
struct tls_ca *tls_ca_load(const char *dir, char *err, size_t errlen);
void tls_ca_free(struct tls_ca *ca);

/* The leaf for host (normalized by tls_host_norm), cached or minted now; NULL with *why when the
 * CA may not mint for it (name constraints) or minting failed. Borrowed. */
X509 *tls_ca_leaf(struct tls_ca *ca, const char *host, int is_ip, const char **why);
EVP_PKEY *tls_ca_leaf_key(const struct tls_ca *ca);     /* borrowed */
X509 *tls_ca_cert(const struct tls_ca *ca);             /* borrowed */
/* Leaves minted and taken from the cache, since load. */
void tls_ca_counts(const struct tls_ca *ca, unsigned long *minted, unsigned long *cached, unsigned long *refused);

/* For the TLS faults: a leaf for host whose validity ended yesterday (the caller owns it), NULL
 * with *why outside the CA's name constraints. */
X509 *tls_ca_mint_expired(struct tls_ca *ca, const char *host, int is_ip, const char **why);
/* A CA made up in memory (no files, no name constraints) that nobody trusts: the issuer of the
 * `unknown_ca` fault's leaves. NULL with err. */
struct tls_ca *tls_ca_ephemeral(char *err, size_t errlen);

/* A name from a client (SNI: untrusted bytes) checked and lowercased into out: a DNS name of
 * letters, digits, '-' and '_' in dot-separated labels of 1..63 bytes, at most TLS_HOST_MAX
 * bytes, an optional final dot dropped; or an IPv4/IPv6 address (*is_ip = 1). 0, or -1 when it is
 * neither. */
int tls_host_norm(const char *in, size_t len, char *out, size_t outlen, int *is_ip);

#endif
