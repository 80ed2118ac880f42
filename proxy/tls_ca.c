/* tls_ca.c -- faultline's CA: `ca init`, loading it, and minting a leaf per name (see tls_ca.h).
 *
 * Every certificate is built and signed by OpenSSL (X509_*, X509V3_EXT_conf_nid for the
 * extensions, NAME_CONSTRAINTS_check for the constraints): nothing here encodes or parses
 * ASN.1 by hand. The only text this file checks itself is a name a client sent (tls_host_norm),
 * before it becomes part of an extension's configuration string.
 *
 * What it does not do: revocation (a minted leaf lives TLS_LEAF_DAYS), intermediate CAs, RSA
 * (P-256 is what every current client accepts and what costs least per handshake).
 */
#include "proxy/tls_ca.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define CA_SLOTS (TLS_LEAF_CACHE * 2)   /* open addressing: at most half full */

struct leaf {
    char host[TLS_HOST_MAX + 1];
    X509 *x;                     /* NULL with refused: the CA may not mint for host */
    time_t not_after;
    unsigned char used, refused;
};

struct tls_ca {
    X509 *cert;                  /* owned */
    EVP_PKEY *key;               /* owned: the CA's key (from ca.key, never written anywhere) */
    EVP_PKEY *leaf_key;          /* owned: every leaf's key */
    NAME_CONSTRAINTS *nc;        /* owned, NULL = none */
    struct leaf *slots;          /* CA_SLOTS */
    int nused;
    unsigned long minted, cached, refused;
};

static const char *ossl_err(void)
{
    static char text[200];
    unsigned long e = ERR_get_error();
    if (!e) return "unknown OpenSSL error";
    ERR_error_string_n(e, text, sizeof(text));
    ERR_clear_error();
    return text;
}

/* ---- names ---- */

int tls_host_norm(const char *in, size_t len, char *out, size_t outlen, int *is_ip)
{
    char buf[TLS_HOST_MAX + 2];
    *is_ip = 0;
    if (len == 0 || len > TLS_HOST_MAX + 1 || memchr(in, 0, len)) return -1;
    memcpy(buf, in, len);
    buf[len] = 0;
    unsigned char a[16];
    int fam = inet_pton(AF_INET, buf, a) == 1 ? AF_INET : inet_pton(AF_INET6, buf, a) == 1 ? AF_INET6 : 0;
    if (fam) {
        if (!inet_ntop(fam, a, out, (socklen_t)outlen)) return -1;
        *is_ip = 1;
        return 0;
    }
    if (buf[len - 1] == '.') buf[--len] = 0;
    if (len == 0 || len > TLS_HOST_MAX || len >= outlen) return -1;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = buf[i];
        if (ch == '.') {
            if (label == 0 || buf[i - 1] == '-') return -1;
            label = 0;
            out[i] = '.';
            continue;
        }
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_')) return -1;
        if (ch == '-' && label == 0) return -1;
        if (++label > 63) return -1;
        out[i] = ch;
    }
    if (buf[len - 1] == '-') return -1;
    out[len] = 0;
    return 0;
}

/* ---- building certificates ---- */

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (!ext) return -1;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static int set_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    int ok = bn && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    return ok ? 0 : -1;
}

/* "permitted;DNS:a,permitted;IP:1.2.3.4/255.255.255.255" from the user's domains. */
static int constraints_text(const char *const *domains, int n, char *out, size_t outlen, char *err, size_t errlen)
{
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        char host[TLS_HOST_MAX + 1], item[400];
        const char *slash = strchr(domains[i], '/');
        size_t hl = slash ? (size_t)(slash - domains[i]) : strlen(domains[i]);
        int is_ip;
        if (tls_host_norm(domains[i], hl, host, sizeof(host), &is_ip) < 0 || (slash && !is_ip)) {
            snprintf(err, errlen, "--domain '%s' is not a DNS name, an IP address or a CIDR block", domains[i]);
            return -1;
        }
        if (is_ip) {
            unsigned char mask[16] = {0}, a[16];
            int v6 = strchr(host, ':') != NULL, bits = v6 ? 128 : 32;
            if (slash) {
                char *end;
                long b = strtol(slash + 1, &end, 10);
                if (*end || b < 0 || b > bits || end == slash + 1) {
                    snprintf(err, errlen, "--domain '%s': bad prefix length", domains[i]);
                    return -1;
                }
                bits = (int)b;
            }
            for (int k = 0; k < bits; k++) mask[k / 8] |= (unsigned char)(0x80 >> (k % 8));
            char mtext[64];
            inet_pton(v6 ? AF_INET6 : AF_INET, host, a);
            inet_ntop(v6 ? AF_INET6 : AF_INET, mask, mtext, sizeof(mtext));
            snprintf(item, sizeof(item), "permitted;IP:%s/%s", host, mtext);
        } else {
            snprintf(item, sizeof(item), "permitted;DNS:%s", host);
        }
        int w = snprintf(out + o, outlen - o, "%s%s", o ? "," : "", item);
        if (w < 0 || (size_t)w >= outlen - o) {
            snprintf(err, errlen, "too many --domain values");
            return -1;
        }
        o += (size_t)w;
    }
    return 0;
}

static X509 *ca_build(EVP_PKEY *key, const char *nc, const char *what, char *err, size_t errlen)
{
    X509 *x = X509_new();
    X509_NAME *nm = X509_NAME_new();
    char cn[128], host[256] = "localhost";
    gethostname(host, sizeof(host) - 1);
    snprintf(cn, sizeof(cn), "faultline %s (%.60s)", what, host);
    int ok = x && nm && X509_set_version(x, 2) && set_serial(x) == 0 &&
             X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"faultline", -1, -1, 0) &&
             X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) &&
             X509_set_subject_name(x, nm) && X509_set_issuer_name(x, nm) &&
             X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
             X509_time_adj_ex(X509_getm_notAfter(x), 3650, 0, NULL) && X509_set_pubkey(x, key) &&
             add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") == 0 &&
             add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") == 0 &&
             add_ext(x, x, NID_subject_key_identifier, "hash") == 0 &&
             (!nc[0] || add_ext(x, x, NID_name_constraints, nc) == 0) && X509_sign(x, key, EVP_sha256()) > 0;
    X509_NAME_free(nm);
    if (!ok) {
        snprintf(err, errlen, "cannot build the CA certificate: %s", ossl_err());
        X509_free(x);
        return NULL;
    }
    return x;
}

int tls_ca_init_dir(const char *dir, const char *const *domains, int ndomains, int force, char *err, size_t errlen)
{
    char nc[4096], kpath[1024], cpath[1024];
    if (constraints_text(domains, ndomains, nc, sizeof(nc), err, errlen) < 0) return -1;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(kpath, sizeof(kpath), "%s/ca.key", dir);
    snprintf(cpath, sizeof(cpath), "%s/ca.crt", dir);
    if (!force && (access(kpath, F_OK) == 0 || access(cpath, F_OK) == 0)) {
        snprintf(err, errlen, "%s already holds a CA (ca.key, ca.crt): remove them or give --force", dir);
        return -1;
    }
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (!key) {
        snprintf(err, errlen, "cannot generate a key: %s", ossl_err());
        return -1;
    }
    X509 *x = ca_build(key, nc, "CA", err, errlen);
    if (!x) { EVP_PKEY_free(key); return -1; }
    int rc = -1;
    unlink(kpath);   /* (force) O_EXCL below: the key's file is ours, made 0600 from the start */
    int fd = open(kpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *kf = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!kf) {
        snprintf(err, errlen, "cannot write %s: %s", kpath, strerror(errno));
        if (fd >= 0) close(fd);
        goto out;
    }
    int kok = PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL);
    if (fclose(kf) != 0 || !kok) {
        snprintf(err, errlen, "cannot write %s", kpath);
        goto out;
    }
    FILE *cf = fopen(cpath, "w");
    if (!cf) {
        snprintf(err, errlen, "cannot write %s: %s", cpath, strerror(errno));
        goto out;
    }
    int cok = PEM_write_X509(cf, x);
    if (fclose(cf) != 0 || !cok) {
        snprintf(err, errlen, "cannot write %s", cpath);
        goto out;
    }
    chmod(cpath, 0644);
    rc = 0;
out:
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

/* ---- loading ---- */

struct tls_ca *tls_ca_load(const char *dir, char *err, size_t errlen)
{
    char kpath[1024], cpath[1024];
    snprintf(kpath, sizeof(kpath), "%s/ca.key", dir);
    snprintf(cpath, sizeof(cpath), "%s/ca.crt", dir);
    FILE *cf = fopen(cpath, "r");
    if (!cf) {
        snprintf(err, errlen, "cannot read %s: %s (make one with `faultline ca init %s`)", cpath, strerror(errno), dir);
        return NULL;
    }
    X509 *cert = PEM_read_X509(cf, NULL, NULL, NULL);
    fclose(cf);
    if (!cert) {
        snprintf(err, errlen, "%s is not a PEM certificate: %s", cpath, ossl_err());
        return NULL;
    }
    struct stat st;
    FILE *kf = fopen(kpath, "r");
    if (!kf) {
        snprintf(err, errlen, "cannot read %s: %s", kpath, strerror(errno));
        X509_free(cert);
        return NULL;
    }
    if (fstat(fileno(kf), &st) == 0 && (st.st_mode & 077))
        log_warn("tls_ca_key_mode", "file=%s mode=%03o hint=%s", log_q(kpath), (unsigned)(st.st_mode & 0777),
                 log_q("the CA key should be readable by its owner only: chmod 600"));
    EVP_PKEY *key = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
    fclose(kf);
    const char *why = NULL;
    if (!key) why = "is not a PEM private key";
    else if (!X509_check_private_key(cert, key)) why = "does not match ca.crt";
    else if (X509_check_ca(cert) < 1) why = "belongs to a certificate that is not a CA";
    else if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) why = "belongs to an expired CA certificate";
    if (why) {
        ERR_clear_error();
        snprintf(err, errlen, "%s %s", kpath, why);
        X509_free(cert);
        EVP_PKEY_free(key);
        return NULL;
    }
    struct tls_ca *ca = calloc(1, sizeof(*ca));
    if (!ca) abort();
    ca->cert = cert;
    ca->key = key;
    ca->leaf_key = EVP_EC_gen("P-256");
    ca->nc = X509_get_ext_d2i(cert, NID_name_constraints, NULL, NULL);
    ca->slots = calloc(CA_SLOTS, sizeof(*ca->slots));
    if (!ca->leaf_key || !ca->slots) abort();
    ERR_clear_error();
    return ca;
}

static void cache_clear(struct tls_ca *ca)
{
    for (int i = 0; i < CA_SLOTS; i++) {
        X509_free(ca->slots[i].x);
        ca->slots[i] = (struct leaf){0};
    }
    ca->nused = 0;
}

void tls_ca_free(struct tls_ca *ca)
{
    if (!ca) return;
    cache_clear(ca);
    free(ca->slots);
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    EVP_PKEY_free(ca->leaf_key);
    NAME_CONSTRAINTS_free(ca->nc);
    free(ca);
}

EVP_PKEY *tls_ca_leaf_key(const struct tls_ca *ca) { return ca->leaf_key; }
X509 *tls_ca_cert(const struct tls_ca *ca) { return ca->cert; }

void tls_ca_counts(const struct tls_ca *ca, unsigned long *minted, unsigned long *cached, unsigned long *refused)
{
    *minted = ca->minted;
    *cached = ca->cached;
    *refused = ca->refused;
}

/* ---- minting ---- */

/* A leaf for host signed by ca, valid from now + from_s to now + to_s (seconds). */
static X509 *mint_valid(struct tls_ca *ca, const char *host, int is_ip, long from_s, long to_s)
{
    X509 *x = X509_new();
    X509_NAME *nm = X509_NAME_new();
    char san[TLS_HOST_MAX + 8];
    snprintf(san, sizeof(san), "%s:%s", is_ip ? "IP" : "DNS", host);
    /* the CN is at most 64 bytes and only for a DNS name (a client that reads an address in the CN
     * as a DNS name would hold it against the CA's DNS constraints); clients read the SAN anyway */
    int ok = x && nm && X509_set_version(x, 2) && set_serial(x) == 0 &&
             (is_ip || strlen(host) > 64 || X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)host, -1, -1, 0)) &&
             X509_set_subject_name(x, nm) && X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) &&
             X509_gmtime_adj(X509_getm_notBefore(x), from_s) &&
             X509_gmtime_adj(X509_getm_notAfter(x), to_s) && X509_set_pubkey(x, ca->leaf_key) &&
             add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
             add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature") == 0 &&
             add_ext(x, ca->cert, NID_ext_key_usage, "serverAuth") == 0 &&
             add_ext(x, ca->cert, NID_subject_alt_name, san) == 0 &&
             add_ext(x, ca->cert, NID_authority_key_identifier, "keyid") == 0 && X509_sign(x, ca->key, EVP_sha256()) > 0;
    X509_NAME_free(nm);
    if (!ok) {
        log_warn("tls_mint_failed", "host=%s error=%s", log_q(host), log_q(ossl_err()));
        X509_free(x);
        return NULL;
    }
    return x;
}

static X509 *mint(struct tls_ca *ca, const char *host, int is_ip)
{
    return mint_valid(ca, host, is_ip, -3600, (long)TLS_LEAF_DAYS * 86400);
}

static uint32_t fnv(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

X509 *tls_ca_leaf(struct tls_ca *ca, const char *host, int is_ip, const char **why)
{
    time_t now = time(NULL);
    uint32_t i = fnv(host) % CA_SLOTS;
    for (;; i = (i + 1) % CA_SLOTS) {
        struct leaf *l = &ca->slots[i];
        if (!l->used) break;
        if (strcmp(l->host, host) != 0) continue;
        if (l->refused) {
            ca->refused++;
            *why = "outside the CA's name constraints";
            return NULL;
        }
        if (now < l->not_after - 3600) {
            ca->cached++;
            return l->x;
        }
        X509_free(l->x);   /* near its end: minted again in place */
        l->x = mint(ca, host, is_ip);
        l->not_after = now + (time_t)TLS_LEAF_DAYS * 86400;
        if (l->x) ca->minted++;
        *why = "minting failed";
        return l->x;
    }
    if (ca->nused >= TLS_LEAF_CACHE) {   /* full: start again (a run names few hosts) */
        cache_clear(ca);
        return tls_ca_leaf(ca, host, is_ip, why);
    }
    struct leaf *l = &ca->slots[i];
    l->used = 1;
    ca->nused++;
    snprintf(l->host, sizeof(l->host), "%s", host);
    l->x = mint(ca, host, is_ip);
    l->not_after = now + (time_t)TLS_LEAF_DAYS * 86400;
    if (!l->x) {
        *why = "minting failed";
        return NULL;
    }
    /* (X509_check_purpose fills the certificate's cached extensions, which the check reads) */
    if (ca->nc && (X509_check_purpose(l->x, -1, 0) < 0 || NAME_CONSTRAINTS_check(l->x, ca->nc) != X509_V_OK)) {
        X509_free(l->x);
        l->x = NULL;
        l->refused = 1;
        ca->refused++;
        ERR_clear_error();
        *why = "outside the CA's name constraints";
        return NULL;
    }
    ca->minted++;
    return l->x;
}

/* ---- certificates for the TLS faults (faults/tls_bad_cert.c) ---- */

X509 *tls_ca_mint_expired(struct tls_ca *ca, const char *host, int is_ip, const char **why)
{
    X509 *x = mint_valid(ca, host, is_ip, -30L * 86400, -86400);
    if (!x) {
        *why = "minting failed";
        return NULL;
    }
    if (ca->nc && (X509_check_purpose(x, -1, 0) < 0 || NAME_CONSTRAINTS_check(x, ca->nc) != X509_V_OK)) {
        X509_free(x);
        ERR_clear_error();
        *why = "outside the CA's name constraints";
        return NULL;
    }
    return x;
}

struct tls_ca *tls_ca_ephemeral(char *err, size_t errlen)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (!key) {
        snprintf(err, errlen, "cannot generate a key: %s", ossl_err());
        return NULL;
    }
    X509 *cert = ca_build(key, "", "unknown CA (tls_bad_cert)", err, errlen);
    if (!cert) {
        EVP_PKEY_free(key);
        return NULL;
    }
    struct tls_ca *ca = calloc(1, sizeof(*ca));
    if (!ca) abort();
    ca->cert = cert;
    ca->key = key;
    ca->leaf_key = EVP_EC_gen("P-256");
    ca->slots = calloc(CA_SLOTS, sizeof(*ca->slots));
    if (!ca->leaf_key || !ca->slots) abort();
    return ca;
}
