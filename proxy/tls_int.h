/* tls_int.h -- what the TLS transport's files share (proxy/tls.c: the profile keys, the OpenSSL
 * contexts and their callbacks, the facts; proxy/tls_io.c: the transport on a connection). The
 * rest of the daemon sees proxy/tls.h only.
 */
#ifndef FL_TLS_INT_H
#define FL_TLS_INT_H

#include <stdint.h>
#include <openssl/ssl.h>
#include "proxy/tls.h"
#include "proxy/tls_ca.h"

#define TLS_ALPN_MAX 128   /* bytes of an ALPN list in wire format */

/* Per side of a proxy (0 = client side, 1 = upstream side): totals since the proxy started. */
struct tls_counts {
    uint64_t handshakes;         /* completed */
    uint64_t resumed;            /* of which resumed a session */
    uint64_t failures;           /* handshakes that failed (timeouts included) */
    uint64_t timeouts;           /* of which ran out of tls_handshake_timeout */
    uint64_t alerts[256];        /* failures by the alert sent or received (TLS alert codes) */
    uint64_t no_alert;           /* failures with no alert (the peer closed, garbage) */
};

struct tls_px {
    SSL_CTX *srv;                /* owned: the client side (tls = terminate), NULL = none */
    SSL_CTX *cli;                /* owned: the upstream side (upstream_tls), NULL = none */
    struct tls_ca *ca;           /* owned: tls_ca (minting per SNI), NULL = a given certificate */
    unsigned char alpn[TLS_ALPN_MAX];   /* the proxy's ALPN list, wire format (server preference) */
    unsigned alpn_len;
    char up_name[256];           /* the name the upstream's certificate must have ("" = chain only) */
    int up_name_ip;              /* up_name is an address (IP SAN) */
    char up_sni[256];            /* SNI sent upstream ("" = none) */
    SSL_SESSION *up_sess;        /* owned: the upstream's last session, offered for resumption */
    int64_t hs_timeout_us;
    int starttls;                /* the protocol starts the client side itself (struct protocol starttls) */
    struct tls_counts n[2];
};

/* An SSL for side `side` of c, its app data ts (the BIOs are tls_io.c's). NULL on failure. */
SSL *tls_ssl_new(struct tls_px *t, struct tls_side *ts);
/* The alert's short name ("handshake_failure", "unknown_ca"...). */
const char *tls_alert_name(int alert);
/* The transport's BIO method (tls_io.c). */
BIO_METHOD *tls_bio_method(void);

#endif
