/* test_tls.c -- the name check for what clients send as SNI, and faultline's CA: minting, the
 * cache, name constraints (proxy/tls_ca.c). */
#include "unit.h"
#include "proxy/tls_ca.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/x509v3.h>

static int norm(const char *in, char *out, int *ip) { return tls_host_norm(in, strlen(in), out, TLS_HOST_MAX + 1, ip); }

UNIT(tls_host_norm_names)
{
    char h[TLS_HOST_MAX + 1];
    int ip;
    EXPECT(norm("API.Example.TEST.", h, &ip) == 0 && !ip);
    EXPECT_STR(h, "api.example.test");
    EXPECT(norm("a_b.example.test", h, &ip) == 0);
    EXPECT(norm("10.1.2.3", h, &ip) == 0 && ip);
    EXPECT_STR(h, "10.1.2.3");
    EXPECT(norm("0:0::1", h, &ip) == 0 && ip);
    EXPECT_STR(h, "::1");
    EXPECT(norm("", h, &ip) < 0);
    EXPECT(norm(".", h, &ip) < 0);
    EXPECT(norm("a..b", h, &ip) < 0);
    EXPECT(norm("-a.b", h, &ip) < 0);
    EXPECT(norm("a-.b", h, &ip) < 0);
    EXPECT(norm("a b", h, &ip) < 0);
    EXPECT(norm("a,DNS:evil", h, &ip) < 0);   /* never reaches an extension's text */
    char label[70];
    memset(label, 'a', 64);
    label[64] = 0;
    EXPECT(norm(label, h, &ip) < 0);         /* a label is at most 63 bytes */
    label[63] = 0;
    EXPECT(norm(label, h, &ip) == 0);
    char lng[300];
    for (int i = 0; i < 299; i++) lng[i] = (i % 4 == 3) ? '.' : 'a';
    lng[299] = 0;
    EXPECT(norm(lng, h, &ip) < 0);           /* longer than a host name */
    EXPECT(tls_host_norm("a\0b", 3, h, sizeof(h), &ip) < 0);
}

UNIT(tls_ca_mints_within_constraints)
{
    char dir[] = "/tmp/unit_tlsca.XXXXXX", err[512];
    EXPECT(mkdtemp(dir) != NULL);
    const char *doms[] = {"example.test", "127.0.0.1"};
    EXPECT(tls_ca_init_dir(dir, doms, 2, 0, err, sizeof(err)) == 0);
    EXPECT(tls_ca_init_dir(dir, doms, 2, 0, err, sizeof(err)) < 0);   /* no overwrite without force */
    EXPECT_CONTAINS(err, "already holds a CA");
    struct tls_ca *ca = tls_ca_load(dir, err, sizeof(err));
    EXPECT(ca != NULL);
    if (ca) {
        const char *why = NULL;
        X509 *a = tls_ca_leaf(ca, "api.example.test", 0, &why);
        EXPECT(a != NULL);
        EXPECT(tls_ca_leaf(ca, "api.example.test", 0, &why) == a);   /* cached */
        EXPECT(X509_check_host(a, "api.example.test", 0, 0, NULL) == 1);
        EXPECT(X509_check_host(a, "other.example.test", 0, 0, NULL) != 1);
        EXPECT(X509_verify(a, X509_get0_pubkey(tls_ca_cert(ca))) == 1);
        EXPECT(X509_cmp_current_time(X509_get0_notAfter(a)) > 0);
        EXPECT(tls_ca_leaf(ca, "127.0.0.1", 1, &why) != NULL);
        EXPECT(X509_check_ip_asc(tls_ca_leaf(ca, "127.0.0.1", 1, &why), "127.0.0.1", 0) == 1);
        EXPECT(tls_ca_leaf(ca, "other.test", 0, &why) == NULL);
        EXPECT_STR(why, "outside the CA's name constraints");
        EXPECT(tls_ca_leaf(ca, "10.0.0.1", 1, &why) == NULL);
        unsigned long m, c, r;
        tls_ca_counts(ca, &m, &c, &r);
        EXPECT(m == 2 && c >= 2 && r == 2);
        tls_ca_free(ca);
    }
    char p[600];
    snprintf(p, sizeof(p), "%s/ca.key", dir); unlink(p);
    snprintf(p, sizeof(p), "%s/ca.crt", dir); unlink(p);
    EXPECT(tls_ca_load(dir, err, sizeof(err)) == NULL);
    EXPECT_CONTAINS(err, "faultline ca init");
    rmdir(dir);
}
