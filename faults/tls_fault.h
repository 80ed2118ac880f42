/* tls_fault.h -- how a fault type acts on the TLS a proxy serves its clients (`tls = terminate`, or
 * a forward proxy opening HTTPS inside CONNECT): the narrow hook between the TLS fault types
 * (faults/tls_*.c) and the TLS transport (proxy/tls_fault.c, which does what the plan says).
 *
 * A TLS fault type carries FT_TLS (faults/fault.h) and FT_CONN_LEVEL (it makes no byte stages). Its cfg *is* a
 * struct tls_fault_plan: set() fills it, and the transport reads it from f->cfg when it picks the
 * fault for a connection. The type says what (hold the ClientHello, answer it with an alert, pause
 * before the ServerHello, serve a bad certificate, cut the session without close_notify); the
 * transport owns the handshake, the timers, the certificates and the sockets.
 *
 * When a connection's ClientHello arrives, the transport walks the proxy's faults in profile order
 * and takes the first TLS fault that is active, whose match_host matches the name the client asked
 * for (its SNI; a forward proxy's CONNECT host) and whose probability roll says yes: one TLS fault
 * per connection. When the fault's window closes, a held handshake goes on (tls_hang, tls_slow) and
 * a session not cut yet is no longer cut.
 */
#ifndef FL_TLS_FAULT_H
#define FL_TLS_FAULT_H

#include <stdint.h>
#include "faults/fault.h"

enum tls_act {
    TLSA_NONE = 0,
    TLSA_HANG,        /* the ClientHello is never answered (until the fault ends) */
    TLSA_ALERT,       /* the ClientHello is answered with a fatal alert */
    TLSA_SLOW,        /* a pause between the ClientHello and the ServerHello */
    TLSA_CERT,        /* a bad certificate is served */
    TLSA_CUT,         /* the session ends without close_notify after after_bytes to the client */
};

enum tls_bad_cert { TLSC_EXPIRED = 1, TLSC_WRONG_HOST, TLSC_UNKNOWN_CA };

#define TLS_FAULT_NAME_MAX 254

struct tls_fault_plan {
    enum tls_act act;
    int alert;                        /* TLSA_ALERT: the alert's code (40 = handshake_failure) */
    int64_t delay_us, jitter_us;      /* TLSA_SLOW */
    enum tls_bad_cert cert;           /* TLSA_CERT */
    char name[TLS_FAULT_NAME_MAX];    /* TLSA_CERT, wrong_host: the certificate's name ("" = derived) */
    uint64_t after_bytes;             /* TLSA_CUT: plaintext bytes the client gets before the cut */
};

/* The alerts a fault may send, by name ("handshake_failure") and code (40): -1 when unknown. */
int tls_alert_code(const char *name);
/* The alert's name, or NULL for a code with none. */
const char *tls_alert_str(int code);
/* The names, for messages: "handshake_failure, bad_certificate, ...". */
const char *tls_alert_names(void);
/* "expired", "wrong_host", "unknown_ca" */
const char *tls_bad_cert_str(enum tls_bad_cert k);
/* The act's short name for the record ("hang", "alert", "slow", "bad_cert", "cut"). */
const char *tls_act_str(enum tls_act a);

#endif
