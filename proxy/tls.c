/* tls.c -- a proxy's TLS settings: the profile keys, the OpenSSL contexts built from them, the
 * callbacks OpenSSL makes during a handshake (SNI, ALPN, alerts, sessions), and what is
 * recorded. The transport that moves a connection's bytes through OpenSSL is proxy/tls_io.c.
 *
 * Contexts. A proxy with `tls = terminate` has a server context: either the given certificate
 * chain and key (tls_cert, tls_key), or faultline's CA (tls_ca = DIR, proxy/tls_ca.c), in which
 * case the SNI callback installs a leaf for the asked name (or, without SNI, for the address the
 * client connected to) on each connection. A proxy with `upstream_tls = on` has a client context:
 * peer verification on unless `upstream_verify = off` (logged at warn when the proxy starts), the
 * system store (honouring SSL_CERT_FILE / SSL_CERT_DIR) or upstream_ca, an optional client
 * certificate; each connection sends upstream_sni (default: the upstream's host name) and checks
 * the certificate against that name or address. Both sides: TLS 1.2 and 1.3, OpenSSL's default
 * ciphers, no renegotiation, buffers released while idle (SSL_MODE_RELEASE_BUFFERS: an idle
 * connection keeps no 16 KiB record buffers), read-ahead (one recv per record run, not two per
 * record).
 *
 * Sessions. The server context resumes with tickets (TLS 1.3 and 1.2) and its session cache
 * (TLS 1.2 ids); the ticket key is the context's, so resumption holds until the proxy is
 * rebuilt (a reload). The upstream side keeps the last session the upstream gave and offers it
 * on the next connection, as haproxy does: a new client handshake need not cost a full upstream
 * handshake.
 *
 * What it does not do: client certificates from clients (mTLS towards faultline), OCSP, the
 * TLS faults and the forward-proxy mode (left for the second TLS task; the transport keeps each
 * side's state in one place, tls_io.c, for them).
 */
#include "proxy/tls_int.h"
#include "proxy/proxy.h"
#include "proxy/protocol.h"
#include "common/inidoc.h"
#include "common/log.h"
#include "common/parse.h"
#include "record/record.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define TLS_HS_TIMEOUT_DEFAULT 10000000   /* tls_handshake_timeout: 10 s */

static const char *ossl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : "unknown error";
}

/* ---- the profile ---- */

#define KEYERR(line, ...) inidoc_err(d, line, err, errlen, __VA_ARGS__)

/* "h2, http/1.1" -> wire format. -1 when a name is empty or too long. */
static int alpn_wire(const char *list, unsigned char *out, unsigned *outlen)
{
    unsigned o = 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        size_t n = strcspn(p, ", ");
        if (!n) break;
        if (n > 255 || o + 1 + n > TLS_ALPN_MAX) return -1;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f) return -1;
        out[o++] = (unsigned char)n;
        memcpy(out + o, p, n);
        o += (unsigned)n;
        p += n;
    }
    *outlen = o;
    return o ? 0 : -1;
}

static int check_cert_file(const char *path, char *why, size_t wl)
{
    FILE *f = fopen(path, "r");
    if (!f) { snprintf(why, wl, "cannot read %s: %s", path, strerror(errno)); return -1; }
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x) { ERR_clear_error(); snprintf(why, wl, "%s holds no PEM certificate", path); return -1; }
    int rc = 0;
    char when[64] = "?";
    if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
        BIO *b = BIO_new(BIO_s_mem());
        if (b && ASN1_TIME_print(b, X509_get0_notAfter(x))) { int n = BIO_read(b, when, sizeof(when) - 1); when[n > 0 ? n : 0] = 0; }
        BIO_free(b);
        snprintf(why, wl, "%s expired (not after %s)", path, when);
        rc = -1;
    } else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
        snprintf(why, wl, "%s is not valid yet", path);
        rc = -1;
    }
    X509_free(x);
    return rc;
}

/* cert + key: both readable, the key matching the chain's first certificate. Which key to blame
 * comes back in *bad_key. */
static int check_pair(const char *cert, const char *key, int *bad_key, char *why, size_t wl)
{
    *bad_key = 0;
    if (check_cert_file(cert, why, wl) < 0) return -1;
    *bad_key = 1;
    FILE *f = fopen(key, "r");
    if (!f) { snprintf(why, wl, "cannot read %s: %s", key, strerror(errno)); return -1; }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!k) { ERR_clear_error(); snprintf(why, wl, "%s holds no PEM private key (an encrypted key is not supported)", key); return -1; }
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    int ok = ctx && SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, k) == 1 &&
             SSL_CTX_check_private_key(ctx) == 1;
    if (!ok) snprintf(why, wl, "%s does not match the certificate %s (%s)", key, cert, ossl_reason());
    SSL_CTX_free(ctx);
    EVP_PKEY_free(k);
    return ok ? 0 : -1;
}

static int check_ca_store(const char *path, char *why, size_t wl)
{
    struct stat st;
    if (stat(path, &st) < 0) { snprintf(why, wl, "cannot read %s: %s", path, strerror(errno)); return -1; }
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    int ok = ctx && (S_ISDIR(st.st_mode) ? SSL_CTX_load_verify_locations(ctx, NULL, path)
                                         : SSL_CTX_load_verify_locations(ctx, path, NULL)) == 1;
    if (!ok) snprintf(why, wl, "%s holds no PEM certificate (%s)", path, ossl_reason());
    SSL_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* One file-naming key: copied into dst; its line kept for the checks below. */
static int path_key(struct inidoc *d, struct inisec *s, const char *key, char *dst, size_t dl, int *line, char *err, size_t errlen)
{
    const char *v = inisec_get(s, key, line);
    if (!v) return 0;
    if (!*v || strlen(v) >= dl) return KEYERR(*line, "%s: '%s' is not a usable path", key, v);
    snprintf(dst, dl, "%s", v);
    return 1;
}

static int load_tls_mode(struct inidoc *d, struct inisec *s, struct proxy_spec *p, char *err, size_t errlen)
{
    int line;
    const char *v = inisec_get(s, "tls", &line);
    if (!v) return 0;
    int starttls = p->protocol->starttls != NULL;
    if (strcasecmp(v, "terminate") == 0) p->tls.terminate = 1;
    else if (strcasecmp(v, "off") == 0) p->tls_passthrough = 0;
    else if (starttls && strcasecmp(v, "passthrough") == 0) p->tls_passthrough = 1;
    else if (starttls && strcasecmp(v, "refuse") == 0) p->tls_passthrough = 0;
    else if (starttls) return KEYERR(line, "tls: '%s' is not terminate, refuse, passthrough or off", v);
    else if (strcasecmp(v, "passthrough") == 0 || strcasecmp(v, "refuse") == 0)
        return KEYERR(line, "tls: %s applies to protocols that ask for TLS in their own bytes (mode = postgres); %s %s proxy "
                      "passes TLS bytes through unless tls = terminate", v, protocol_article(p->protocol), p->protocol->name);
    else return KEYERR(line, "tls: '%s' is not terminate or off", v);
    return 0;
}

static int load_client_side(struct inidoc *d, struct inisec *s, struct proxy_spec *p, char *err, size_t errlen)
{
    struct tls_spec *t = &p->tls;
    int lc = 0, lk = 0, la = 0, line, tline;
    char why[1200], e[300];
    inisec_get(s, "tls", &tline);
    int hc = path_key(d, s, "tls_cert", t->cert, sizeof(t->cert), &lc, err, errlen);
    int hk = hc < 0 ? -1 : path_key(d, s, "tls_key", t->key, sizeof(t->key), &lk, err, errlen);
    int ha = hk < 0 ? -1 : path_key(d, s, "tls_ca", t->ca, sizeof(t->ca), &la, err, errlen);
    if (hc < 0 || hk < 0 || ha < 0) return -1;
    const char *av = inisec_get(s, "tls_alpn", &line);
    if (av) {
        unsigned char w[TLS_ALPN_MAX];
        unsigned wl;
        if (strlen(av) >= sizeof(t->alpn) || alpn_wire(av, w, &wl) < 0)
            return KEYERR(line, "tls_alpn: '%s' is not a list of protocol names (e.g. h2, http/1.1)", av);
        snprintf(t->alpn, sizeof(t->alpn), "%s", av);
    }
    t->hs_timeout_us = TLS_HS_TIMEOUT_DEFAULT;
    if ((av = inisec_get(s, "tls_handshake_timeout", &line))) {
        if (parse_duration(av, &t->hs_timeout_us, e, sizeof(e)) < 0) return KEYERR(line, "tls_handshake_timeout: %s", e);
        if (t->hs_timeout_us < 1000) return KEYERR(line, "tls_handshake_timeout: at least 1ms");
    }
    if (p->protocol->flags & PROTO_ROUTES) {
        /* a forward proxy opens HTTPS inside CONNECT with a leaf per CONNECT host: tls_ca alone */
        if (hc || hk) return KEYERR(hc ? lc : lk, "%s: mode = %s mints a leaf per CONNECT host: give tls_ca = DIR",
                                    hc ? "tls_cert" : "tls_key", p->protocol->name);
        if (ha) t->terminate = 1;
    }
    if (!t->terminate) {
        int l = hc ? lc : hk ? lk : ha ? la : 0;
        if (l) return KEYERR(l, "%s: needs tls = terminate", hc ? "tls_cert" : hk ? "tls_key" : "tls_ca");
        return 0;
    }
    if (ha && (hc || hk)) return KEYERR(la, "tls_ca: give either tls_ca (minted certificates) or tls_cert and tls_key, not both");
    if (!ha && !hc) return KEYERR(tline, "tls: terminate needs tls_cert and tls_key, or tls_ca = DIR (faultline ca init DIR)");
    if (hc && !hk) return KEYERR(lc, "tls_cert: needs tls_key");
    if (hk && !hc) return KEYERR(lk, "tls_key: needs tls_cert");
    if (ha) {
        struct tls_ca *ca = tls_ca_load(t->ca, why, sizeof(why));
        if (!ca) return KEYERR(la, "tls_ca: %s", why);
        tls_ca_free(ca);
        return 0;
    }
    int bad_key;
    if (check_pair(t->cert, t->key, &bad_key, why, sizeof(why)) < 0)
        return KEYERR(bad_key ? lk : lc, "%s: %s", bad_key ? "tls_key" : "tls_cert", why);
    return 0;
}

static int load_upstream_side(struct inidoc *d, struct inisec *s, struct proxy_spec *p, char *err, size_t errlen)
{
    struct tls_spec *t = &p->tls;
    int lu = 0, lca = 0, lc = 0, lk = 0, ls = 0, lv = 0;
    char e[300], why[1200];
    const char *v;
    t->verify = 1;
    if ((v = inisec_get(s, "upstream_tls", &lu)) && parse_bool(v, &t->upstream, e, sizeof(e)) < 0)
        return KEYERR(lu, "upstream_tls: %s", e);
    if ((v = inisec_get(s, "upstream_verify", &lv)) && parse_bool(v, &t->verify, e, sizeof(e)) < 0)
        return KEYERR(lv, "upstream_verify: %s", e);
    int hca = path_key(d, s, "upstream_ca", t->up_ca, sizeof(t->up_ca), &lca, err, errlen);
    int hc = hca < 0 ? -1 : path_key(d, s, "upstream_cert", t->up_cert, sizeof(t->up_cert), &lc, err, errlen);
    int hk = hc < 0 ? -1 : path_key(d, s, "upstream_key", t->up_key, sizeof(t->up_key), &lk, err, errlen);
    if (hca < 0 || hc < 0 || hk < 0) return -1;
    if (p->protocol->flags & PROTO_ROUTES) {
        /* a forward proxy speaks TLS to a destination inside an opened CONNECT, verified against its host */
        if (inisec_get(s, "upstream_tls", &lu))
            return KEYERR(lu, "upstream_tls: mode = %s speaks TLS to the destinations of the CONNECTs it opens (tls_ca)",
                          p->protocol->name);
        if (inisec_get(s, "upstream_sni", &ls)) return KEYERR(ls, "upstream_sni: mode = %s sends each CONNECT's host",
                                                             p->protocol->name);
        t->upstream = t->terminate;
        int hv = inisec_get(s, "upstream_verify", &lv) != NULL;
        if (!t->upstream && (hca || hc || hk || hv))
            return KEYERR(hca ? lca : hc ? lc : hk ? lk : lv, "%s: needs tls_ca (HTTPS opened inside CONNECT)",
                          hca ? "upstream_ca" : hc ? "upstream_cert" : hk ? "upstream_key" : "upstream_verify");
    }
    int hs = 0;
    if ((v = inisec_get(s, "upstream_sni", &ls))) {
        hs = 1;
        char host[TLS_HOST_MAX + 1];
        int is_ip;
        if (tls_host_norm(v, strlen(v), host, sizeof(host), &is_ip) < 0 || is_ip)
            return KEYERR(ls, "upstream_sni: '%s' is not a DNS name", v);
        snprintf(t->up_sni, sizeof(t->up_sni), "%s", host);
    }
    if (!t->upstream) {
        int hv = inisec_get(s, "upstream_verify", &lv) != NULL;
        if (hca || hc || hk || hs || hv)
            return KEYERR(hca ? lca : hc ? lc : hk ? lk : hs ? ls : lv, "%s: needs upstream_tls = on",
                          hca ? "upstream_ca" : hc ? "upstream_cert" : hk ? "upstream_key" : hs ? "upstream_sni" : "upstream_verify");
        return 0;
    }
    if (p->tls_passthrough)
        return KEYERR(lu, "upstream_tls: tls = passthrough forwards the client's own TLS; use tls = terminate (or refuse)");
    if (hca && check_ca_store(t->up_ca, why, sizeof(why)) < 0) return KEYERR(lca, "upstream_ca: %s", why);
    if (hc && !hk) return KEYERR(lc, "upstream_cert: needs upstream_key");
    if (hk && !hc) return KEYERR(lk, "upstream_key: needs upstream_cert");
    int bad_key;
    if (hc && check_pair(t->up_cert, t->up_key, &bad_key, why, sizeof(why)) < 0)
        return KEYERR(bad_key ? lk : lc, "%s: %s", bad_key ? "upstream_key" : "upstream_cert", why);
    return 0;
}

int tls_spec_load(struct inidoc *d, struct inisec *s, struct proxy_spec *p, char *err, size_t errlen)
{
    if (load_tls_mode(d, s, p, err, errlen) < 0) return -1;
    if (load_client_side(d, s, p, err, errlen) < 0) return -1;
    return load_upstream_side(d, s, p, err, errlen);
}

/* ---- OpenSSL's callbacks ---- */

/* (the names are faults/tls_alert.c's: a tls_alert fault is given one) */
const char *tls_alert_name(int alert)
{
    static char other[16];
    if (tls_alert_str(alert)) return tls_alert_str(alert);
    snprintf(other, sizeof(other), "alert_%d", alert);
    return other;
}

/* Alerts, sent or received: the last fatal one is what a failed handshake is counted under. */
static void info_cb(const SSL *ssl, int where, int ret)
{
    if (!(where & SSL_CB_ALERT)) return;
    struct tls_side *ts = SSL_get_app_data(ssl);
    if (!ts || (ret >> 8) != SSL3_AL_FATAL) return;
    ts->alert = (short)(ret & 0xff);
    ts->alert_sent = (where & SSL_CB_WRITE) != 0;
}

/* The proxy's TLS state for a callback: the connection's proxy's current one (a reload may have
 * built it again since this SSL was made: tls_proxy_reload), else the context's own (fuzzing). */
static struct tls_px *cb_px(const SSL *ssl, void *arg)
{
    const struct tls_side *ts = SSL_get_app_data(ssl);
    return ts && ts->c && ts->c->px->tls ? ts->c->px->tls : arg;
}

/* The client's ALPN offer against the proxy's list, in the proxy's order of preference. No common
 * name: the handshake goes on without ALPN (as most servers do) rather than failing. */
static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in, unsigned inlen, void *arg)
{
    struct tls_px *t = cb_px(ssl, arg);
    unsigned char *sel;
    if (!t->alpn_len) return SSL_TLSEXT_ERR_NOACK;
    if (SSL_select_next_proto(&sel, outlen, t->alpn, t->alpn_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* The name this connection's leaf is for: the SNI, or without one the address the client reached. */
static int leaf_host(SSL *ssl, char *host, size_t hl, int *is_ip)
{
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (sni) return tls_host_norm(sni, strlen(sni), host, hl, is_ip);
    const struct tls_side *named = SSL_get_app_data(ssl);
    if (named && named->name) return tls_host_norm(named->name, strlen(named->name), host, hl, is_ip);   /* forward: the CONNECT host */
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = SSL_get_fd(ssl);
    struct tls_side *ts = SSL_get_app_data(ssl);
    if (ts && ts->c && ts->c->cli) fd = bufferevent_getfd(ts->c->cli);
    *is_ip = 1;
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) { snprintf(host, hl, "127.0.0.1"); return 0; }
    const void *a = ss.ss_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
                                             : (const void *)&((struct sockaddr_in *)&ss)->sin_addr;
    if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) { snprintf(host, hl, "127.0.0.1"); return 0; }
    return inet_ntop(ss.ss_family, a, host, (socklen_t)hl) ? 0 : -1;
}

/* tls_ca: the leaf for the asked name, minted on first use (proxy/tls_ca.c); a tls_bad_cert fault's
 * certificate instead when the connection has one (proxy/tls_fault.c). */
static int sni_cb(SSL *ssl, int *al, void *arg)
{
    struct tls_px *t = cb_px(ssl, arg);
    struct tls_side *ts = SSL_get_app_data(ssl);
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (ts && sni && !ts->sni) ts->sni = strndup(sni, TLS_HOST_MAX + 2);
    int fault = ts && ts->fs && ts->fs->pl.act == TLSA_CERT;
    if (!t->ca && !fault) return SSL_TLSEXT_ERR_OK;
    char host[TLS_HOST_MAX + 1];
    int is_ip, rc;
    if (leaf_host(ssl, host, sizeof(host), &is_ip) < 0) {
        if (ts) ts->error = "the SNI is not a host name";
        *al = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    if (fault && tls_fault_cert(ssl, ts, t, host, is_ip, al, &rc)) return rc;
    if (!t->ca) return SSL_TLSEXT_ERR_OK;
    const char *why = "";
    X509 *leaf = tls_ca_leaf(t->ca, host, is_ip, &why);
    if (!leaf || SSL_use_certificate(ssl, leaf) != 1 || SSL_use_PrivateKey(ssl, tls_ca_leaf_key(t->ca)) != 1) {
        if (ts) ts->error = leaf ? "cannot use the minted certificate" : why;
        log_info("tls_no_certificate", "host=%s reason=%s", log_q(host), log_q(leaf ? "cannot use it" : why));
        ERR_clear_error();
        *al = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
}

/* A session from the upstream (TLS 1.3: a ticket after the handshake): kept for the next one. */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct tls_side *ts = SSL_get_app_data(ssl);
    if (!ts || !ts->c || !ts->c->px->tls) return 0;
    struct tls_px *t = ts->c->px->tls;
    SSL_SESSION_free(t->up_sess);
    t->up_sess = sess;
    return 1;   /* the reference is ours */
}

/* ---- the contexts ---- */

static SSL_CTX *ctx_common(const SSL_METHOD *m)
{
    SSL_CTX *ctx = SSL_CTX_new(m);
    if (!ctx) return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_info_callback(ctx, info_cb);
    return ctx;
}

static int build_server(struct fl_proxy *px, struct tls_px *t, char *err, size_t errlen)
{
    const struct tls_spec *sp = &px->spec.tls;
    char why[1200];
    t->srv = ctx_common(TLS_server_method());
    if (!t->srv) goto ossl;
    SSL_CTX_set_options(t->srv, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_id_context(t->srv, (const unsigned char *)"faultline", 9);
    SSL_CTX_set_alpn_select_cb(t->srv, alpn_cb, t);
    SSL_CTX_set_tlsext_servername_callback(t->srv, sni_cb);
    SSL_CTX_set_tlsext_servername_arg(t->srv, t);
    SSL_CTX_set_client_hello_cb(t->srv, tls_fault_client_hello, t);   /* the TLS faults (proxy/tls_fault.c) */
    if (sp->ca[0]) {
        if (!(t->ca = tls_ca_load(sp->ca, why, sizeof(why)))) {
            snprintf(err, errlen, "[proxy %s] tls_ca: %s", px->spec.name, why);
            return -1;
        }
        return 0;
    }
    if (SSL_CTX_use_certificate_chain_file(t->srv, sp->cert) != 1 || SSL_CTX_use_PrivateKey_file(t->srv, sp->key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(t->srv) != 1) {
        snprintf(err, errlen, "[proxy %s] tls_cert %s / tls_key %s: %s", px->spec.name, sp->cert, sp->key, ossl_reason());
        return -1;
    }
    return 0;
ossl:
    snprintf(err, errlen, "[proxy %s] cannot set up TLS: %s", px->spec.name, ossl_reason());
    return -1;
}

static int build_client(struct fl_proxy *px, struct tls_px *t, char *err, size_t errlen)
{
    const struct tls_spec *sp = &px->spec.tls;
    const struct fl_addr *ua = &px->spec.upstream;
    t->cli = ctx_common(TLS_client_method());
    if (!t->cli) {
        snprintf(err, errlen, "[proxy %s] cannot set up TLS: %s", px->spec.name, ossl_reason());
        return -1;
    }
    SSL_CTX_set_verify(t->cli, sp->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    struct stat st;
    int ok = !sp->up_ca[0] ? SSL_CTX_set_default_verify_paths(t->cli)
             : stat(sp->up_ca, &st) == 0 && S_ISDIR(st.st_mode) ? SSL_CTX_load_verify_locations(t->cli, NULL, sp->up_ca)
                                                                 : SSL_CTX_load_verify_locations(t->cli, sp->up_ca, NULL);
    if (ok != 1) {
        snprintf(err, errlen, "[proxy %s] upstream_ca %s: %s", px->spec.name, sp->up_ca[0] ? sp->up_ca : "(system store)", ossl_reason());
        return -1;
    }
    if (sp->up_cert[0] && (SSL_CTX_use_certificate_chain_file(t->cli, sp->up_cert) != 1 ||
                           SSL_CTX_use_PrivateKey_file(t->cli, sp->up_key, SSL_FILETYPE_PEM) != 1)) {
        snprintf(err, errlen, "[proxy %s] upstream_cert %s / upstream_key %s: %s", px->spec.name, sp->up_cert, sp->up_key, ossl_reason());
        return -1;
    }
    SSL_CTX_set_session_cache_mode(t->cli, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(t->cli, new_session_cb);
    if (t->alpn_len) SSL_CTX_set_alpn_protos(t->cli, t->alpn, t->alpn_len);
    /* the name checked: upstream_sni, else the upstream's host (an address is checked as an IP SAN);
     * a forward proxy's: each CONNECT's host (tls_side name) */
    int routes = (px->spec.protocol->flags & PROTO_ROUTES) != 0;
    if (sp->up_sni[0]) snprintf(t->up_name, sizeof(t->up_name), "%s", sp->up_sni);
    else if (ua->kind != ADDR_UNIX && !routes) snprintf(t->up_name, sizeof(t->up_name), "%s", ua->host);
    unsigned char a[16];
    t->up_name_ip = inet_pton(AF_INET, t->up_name, a) == 1 || inet_pton(AF_INET6, t->up_name, a) == 1;
    if (!t->up_name_ip) snprintf(t->up_sni, sizeof(t->up_sni), "%s", t->up_name);
    if (!sp->verify)
        log_warn("upstream_verify_off", "proxy=%s upstream=%s note=%s", log_q(px->spec.name), log_q(px->spec.upstream_text),
                 log_q("upstream certificates are not verified (upstream_verify = off)"));
    else if (!t->up_name[0] && !routes)
        log_warn("upstream_verify_chain_only", "proxy=%s note=%s", log_q(px->spec.name),
                 log_q("a unix-socket upstream has no name: only the chain is verified (set upstream_sni)"));
    return 0;
}

int tls_proxy_init(struct fl_proxy *px, char *err, size_t errlen)
{
    const struct tls_spec *sp = &px->spec.tls;
    px->tls = NULL;
    if (!sp->terminate && !sp->upstream) return 0;
    struct tls_px *t = calloc(1, sizeof(*t));
    if (!t) abort();
    px->tls = t;
    t->hs_timeout_us = sp->hs_timeout_us ? sp->hs_timeout_us : TLS_HS_TIMEOUT_DEFAULT;
    /* the protocol starts the client side itself: postgres's SSLRequest, a forward proxy's CONNECT */
    t->starttls = px->spec.protocol->starttls != NULL || (px->spec.protocol->flags & PROTO_ROUTES);
    const char *alpn = sp->alpn[0] ? sp->alpn : px->spec.protocol->alpn;
    if (alpn && alpn_wire(alpn, t->alpn, &t->alpn_len) < 0) t->alpn_len = 0;
    if ((sp->terminate && build_server(px, t, err, errlen) < 0) || (sp->upstream && build_client(px, t, err, errlen) < 0)) {
        tls_proxy_free(px);
        return -1;
    }
    return 0;
}

void tls_proxy_free(struct fl_proxy *px)
{
    struct tls_px *t = px->tls;
    if (!t) return;
    SSL_CTX_free(t->srv);
    SSL_CTX_free(t->cli);
    tls_ca_free(t->ca);
    tls_ca_free(t->rogue);
    SSL_SESSION_free(t->up_sess);
    free(t);
    px->tls = NULL;
}

int tls_proxy_reload(struct fl_proxy *px, const struct proxy_spec *spec, char *err, size_t errlen)
{
    struct tls_px *old = px->tls;
    struct tls_spec keep = px->spec.tls;
    err[0] = 0;
    px->spec.tls = spec->tls;
    px->tls = NULL;
    if (tls_proxy_init(px, err, errlen) < 0 || !px->tls) {
        tls_proxy_free(px);
        px->spec.tls = keep;
        px->tls = old;
        if (!err[0]) snprintf(err, errlen, "[proxy %s] TLS cannot be turned off in place", px->spec.name);
        return -1;
    }
    struct tls_px *fresh = px->tls;
    memcpy(fresh->n, old->n, sizeof(fresh->n));
    px->tls = old;   /* (the live SSLs hold references of their own to what they use) */
    tls_proxy_free(px);
    px->tls = fresh;
    return 0;
}

SSL *tls_ssl_new(struct tls_px *t, struct tls_side *ts)
{
    SSL *ssl = SSL_new(ts->side == 0 ? t->srv : t->cli);
    if (!ssl) return NULL;
    SSL_set_app_data(ssl, ts);
    BIO *b = BIO_new(tls_bio_method());
    if (!b) { SSL_free(ssl); return NULL; }
    BIO_set_data(b, ts);
    BIO_set_init(b, 1);
    SSL_set_bio(ssl, b, b);
    if (ts->side == 0) {
        SSL_set_accept_state(ssl);
        return ssl;
    }
    SSL_set_connect_state(ssl);
    if (ts->name) {   /* a forward proxy's destination: its host, sent and verified; no session kept across hosts */
        unsigned char a[16];
        if (inet_pton(AF_INET, ts->name, a) == 1 || inet_pton(AF_INET6, ts->name, a) == 1) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ts->name);
        } else {
            SSL_set_tlsext_host_name(ssl, ts->name);
            SSL_set1_host(ssl, ts->name);
        }
        return ssl;
    }
    if (t->up_sni[0]) SSL_set_tlsext_host_name(ssl, t->up_sni);
    if (t->up_name[0]) {
        if (t->up_name_ip) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), t->up_name);
        else SSL_set1_host(ssl, t->up_name);
    }
    if (t->up_sess) SSL_set_session(ssl, t->up_sess);
    return ssl;
}

/* ---- what it knows ---- */

static void side_facts(const struct tls_side *ts, const char *pfx, struct rec_kv *kv)
{
    char k[48];
#define K(name) (snprintf(k, sizeof(k), "%s%s", pfx, name), k)
    if (ts->hs_us) {
        rec_kv_str(kv, K("version"), SSL_get_version(ts->ssl));
        rec_kv_str(kv, K("cipher"), SSL_get_cipher_name(ts->ssl));
        rec_kv_ms(kv, K("handshake_ms"), ts->hs_us);
        rec_kv_u64(kv, K("resumed"), ts->resumed);
        const unsigned char *a;
        unsigned al;
        SSL_get0_alpn_selected(ts->ssl, &a, &al);
        if (al) {
            char alpn[256];
            memcpy(alpn, a, al);
            alpn[al] = 0;
            rec_kv_str(kv, K("alpn"), alpn);
        }
    } else if (ts->error) {
        rec_kv_str(kv, K("error"), ts->error);
        if (ts->alert >= 0) {
            rec_kv_str(kv, K("alert"), tls_alert_name(ts->alert));
            rec_kv_str(kv, K("alert_by"), ts->alert_sent ? "faultline" : "peer");
        }
    }
    if (ts->sni) rec_kv_str(kv, K("sni"), ts->sni);
    if (ts->hs_us && ts->side == 0) rec_kv_u64(kv, K("app_bytes"), ts->app_in);
    if (ts->fs) {   /* a TLS fault acted (proxy/tls_fault.c): what the tls_verify check reads */
        rec_kv_str(kv, K("fault"), tls_act_str(ts->fs->pl.act));
        if (ts->fs->pl.act == TLSA_CERT) rec_kv_str(kv, K("bad_cert"), tls_bad_cert_str(ts->fs->pl.cert));
    }
#undef K
}

void tls_conn_facts(const struct conn *c, struct rec_kv *kv)
{
    const struct tls_conn *tc = c->tls;
    if (!tc) return;
    if (tc->s[0].ssl) side_facts(&tc->s[0], "tls_", kv);
    if (tc->s[1].ssl) side_facts(&tc->s[1], "up_tls_", kv);
}

static void counts_facts(const struct tls_counts *n, const char *pfx, struct rec_kv *kv)
{
    char k[64];
    snprintf(k, sizeof(k), "%shandshakes", pfx); rec_kv_u64(kv, k, n->handshakes);
    snprintf(k, sizeof(k), "%sresumed", pfx); rec_kv_u64(kv, k, n->resumed);
    snprintf(k, sizeof(k), "%sfailures", pfx); rec_kv_u64(kv, k, n->failures);
    snprintf(k, sizeof(k), "%stimeouts", pfx); rec_kv_u64(kv, k, n->timeouts);
    snprintf(k, sizeof(k), "%sfailures_no_alert", pfx); rec_kv_u64(kv, k, n->no_alert);
    for (int a = 0; a < 256; a++)
        if (n->alerts[a]) {
            snprintf(k, sizeof(k), "%sfailures_%s", pfx, tls_alert_name(a));
            rec_kv_u64(kv, k, n->alerts[a]);
        }
}

void tls_totals_facts(const struct fl_proxy *px, struct rec_kv *kv)
{
    const struct tls_px *t = px->tls;
    if (!t) return;
    if (t->srv) counts_facts(&t->n[0], "tls_", kv);
    if (t->cli) counts_facts(&t->n[1], "up_tls_", kv);
    if (t->ca) {
        unsigned long m, c, r;
        tls_ca_counts(t->ca, &m, &c, &r);
        rec_kv_u64(kv, "tls_certs_minted", m);
        rec_kv_u64(kv, "tls_certs_refused", r);
    }
}

static size_t counts_json(char *o, size_t ol, const struct tls_counts *n)
{
    size_t w = (size_t)snprintf(o, ol, "{\"handshakes\":%llu,\"resumed\":%llu,\"failures\":%llu,\"timeouts\":%llu,\"alerts\":{",
                                (unsigned long long)n->handshakes, (unsigned long long)n->resumed,
                                (unsigned long long)n->failures, (unsigned long long)n->timeouts);
    int first = 1;
    for (int a = 0; a < 256 && w < ol; a++)
        if (n->alerts[a]) {
            w += (size_t)snprintf(o + w, ol - w, "%s\"%s\":%llu", first ? "" : ",", tls_alert_name(a), (unsigned long long)n->alerts[a]);
            first = 0;
        }
    if (w < ol) w += (size_t)snprintf(o + w, ol - w, "}}");
    return w < ol ? w : ol;
}

char *tls_stats_json(const struct fl_proxy *px)
{
    const struct tls_px *t = px->tls;
    if (!t) return NULL;
    size_t ol = 16384, w = 0;
    char *o = malloc(ol);
    if (!o) abort();
    w += (size_t)snprintf(o + w, ol - w, "{");
    if (t->srv) { w += (size_t)snprintf(o + w, ol - w, "\"client\":"); w += counts_json(o + w, ol - w, &t->n[0]); }
    if (t->cli && w < ol) {
        w += (size_t)snprintf(o + w, ol - w, "%s\"upstream\":", t->srv ? "," : "");
        if (w < ol) w += counts_json(o + w, ol - w, &t->n[1]);
    }
    if (w < ol) snprintf(o + w, ol - w, "}");
    return o;
}
