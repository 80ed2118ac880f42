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
#include "faults/tls_fault.h"

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
    struct tls_ca *rogue;        /* owned: the unknown CA of tls_bad_cert (made on first use), NULL = none yet */
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

/* A TLS fault acting on one connection's client side (proxy/tls_fault.c). */
struct tls_fstate {
    const struct fault *f;       /* borrowed; NULL once the fault ended */
    struct tls_fault_plan pl;    /* the fault's plan as picked (a slow handshake's jitter drawn) */
    int64_t t_hold, hold_us;     /* a held handshake: since when (0 = not held), time held before */
    uint64_t sent;               /* TLSA_CUT: plaintext the client was sent */
    unsigned char released;      /* the hold is over: the handshake goes on */
    unsigned char cut;           /* TLSA_CUT: the cut point was reached, the session ends */
};

/* ---- the TLS faults on a connection (proxy/tls_fault.c) ---- */
/* OpenSSL's ClientHello callback of the client side: picks the connection's TLS fault (once) and
 * answers with an alert, or holds the handshake (SSL_CLIENT_HELLO_RETRY). */
int tls_fault_client_hello(SSL *ssl, int *al, void *arg);
/* From the SNI callback: a bad-certificate fault installs its certificate for host (the name the
 * client asked for, or the address it reached). 1 when it acted (*rc is the callback's answer), 0
 * when the connection has no such fault. */
int tls_fault_cert(SSL *ssl, struct tls_side *ts, struct tls_px *t, const char *host, int is_ip, int *al, int *rc);
/* The handshake stopped in the ClientHello callback (SSL_ERROR_WANT_CLIENT_HELLO_CB): the hold
 * begins (a slow handshake's timer is armed). */
void tls_fault_paused(struct conn *c, struct tls_side *ts);
/* A side whose fault holds it, or whose session is cut, was woken (read event or timer): what the
 * fault does now. Returns 1 when the handshake goes on (the caller steps it). */
int tls_fault_wake(struct conn *c, struct tls_side *ts, short what);
/* Plaintext to the client through a cut fault: how much of n may still go (the cut happens when it
 * reaches the point). */
size_t tls_fault_cut_room(struct conn *c, struct tls_side *ts, size_t n);
/* The time a fault held this side's handshake (counts outside tls_handshake_timeout). */
static inline int64_t tls_fault_held_us(const struct tls_side *ts)
{
    return ts->fs ? ts->fs->hold_us : 0;
}

/* An SSL for side `side` of c, its app data ts (the BIOs are tls_io.c's). NULL on failure. */
SSL *tls_ssl_new(struct tls_px *t, struct tls_side *ts);
/* The alert's short name ("handshake_failure", "unknown_ca"...). */
const char *tls_alert_name(int alert);
/* The transport's BIO method (tls_io.c). */
BIO_METHOD *tls_bio_method(void);

#endif
