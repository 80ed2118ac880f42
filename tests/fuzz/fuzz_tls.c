/* fuzz_tls.c -- libFuzzer harness: what faultline's TLS code does with a client's untrusted bytes.
 * The first byte picks:
 *   0: the rest is a name a client sent (SNI): tls_host_norm, then, when it passes, a leaf minted
 *      for it by a name-constrained CA (proxy/tls_ca.c) -- the name becomes part of an X.509
 *      extension's text, so what passes the check must mint, or be refused by the constraints;
 *   1: the rest is what a client sends instead of a ClientHello, fed to a server SSL of a proxy
 *      with `tls = terminate` and `tls_ca` (proxy/tls.c's SNI, ALPN and alert callbacks run on it).
 * The CA is made once, in a temporary directory, by `ca init`'s own function. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include "proxy/tls_int.h"
#include "proxy/proxy.h"
#include "proxy/protocol.h"

static struct tls_ca *ca;
static struct fl_proxy px;

static void setup(void)
{
    char dir[] = "/tmp/fuzz_tls.XXXXXX", err[512];
    if (!mkdtemp(dir)) abort();
    const char *doms[] = {"example.test", "10.0.0.0/8", "::1"};
    if (tls_ca_init_dir(dir, doms, 3, 0, err, sizeof(err)) < 0) { fprintf(stderr, "%s\n", err); abort(); }
    if (!(ca = tls_ca_load(dir, err, sizeof(err)))) { fprintf(stderr, "%s\n", err); abort(); }
    snprintf(px.spec.name, sizeof(px.spec.name), "fuzz");
    px.spec.protocol = protocol_find("http");
    px.spec.tls.terminate = 1;
    snprintf(px.spec.tls.ca, sizeof(px.spec.tls.ca), "%s", dir);
    if (tls_proxy_init(&px, err, sizeof(err)) < 0) { fprintf(stderr, "%s\n", err); abort(); }
    char path[600];
    snprintf(path, sizeof(path), "%s/ca.key", dir); unlink(path);
    snprintf(path, sizeof(path), "%s/ca.crt", dir); unlink(path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ca) setup();
    if (size < 1 || size > 20000) return 0;
    if (data[0] % 2 == 0) {
        char host[TLS_HOST_MAX + 1];
        int is_ip;
        if (tls_host_norm((const char *)data + 1, size - 1, host, sizeof(host), &is_ip) == 0) {
            if (strlen(host) > TLS_HOST_MAX) abort();
            const char *why = NULL;
            X509 *x = tls_ca_leaf(ca, host, is_ip, &why);
            if (!x && !why) abort();
        }
        ERR_clear_error();
        return 0;
    }
    SSL *ssl = SSL_new(px.tls->srv);
    BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
    BIO_write(in, data + 1, (int)(size - 1));
    SSL_set_bio(ssl, in, out);
    SSL_set_accept_state(ssl);
    SSL_do_handshake(ssl);
    SSL_free(ssl);
    ERR_clear_error();
    return 0;
}
