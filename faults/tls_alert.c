/* tls_alert.c -- the ClientHello is answered with a fatal TLS alert: the handshake fails at once,
 * as with a server whose TLS configuration the client cannot use.
 *
 * Exposes: clients that retry a handshake failure at once and forever (no backoff: a TLS failure
 * is not transient), error handling that reports "connection reset" instead of the alert, and
 * fallback code that downgrades (to plaintext, or to an older protocol) after a failure.
 *
 * Keys: alert (a TLS alert name, default handshake_failure: protocol_version, internal_error,
 * access_denied, ...). Needs a proxy that terminates TLS (`tls = terminate`, or a forward proxy
 * with tls_ca). The alert is sent by OpenSSL, as the answer to the ClientHello.
 *
 * This file also holds what the TLS fault types share (faults/tls_fault.h): the alert names and
 * the acts' names.
 */
#include "faults/fault.h"
#include "faults/tls_fault.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const alert_names[256] = {
    [0] = "close_notify", [10] = "unexpected_message", [20] = "bad_record_mac", [22] = "record_overflow",
    [40] = "handshake_failure", [42] = "bad_certificate", [43] = "unsupported_certificate",
    [44] = "certificate_revoked", [45] = "certificate_expired", [46] = "certificate_unknown",
    [47] = "illegal_parameter", [48] = "unknown_ca", [49] = "access_denied", [50] = "decode_error",
    [51] = "decrypt_error", [70] = "protocol_version", [71] = "insufficient_security", [80] = "internal_error",
    [86] = "inappropriate_fallback", [90] = "user_canceled", [109] = "missing_extension",
    [110] = "unsupported_extension", [112] = "unrecognized_name", [113] = "bad_certificate_status_response",
    [115] = "unknown_psk_identity", [116] = "certificate_required", [120] = "no_application_protocol",
};

const char *tls_alert_str(int code)
{
    return code >= 0 && code < 256 ? alert_names[code] : NULL;
}

/* (close_notify is no failure: it cannot be sent as a fatal alert) */
int tls_alert_code(const char *name)
{
    for (int i = 1; i < 256; i++)
        if (alert_names[i] && strcasecmp(alert_names[i], name) == 0) return i;
    return -1;
}

const char *tls_alert_names(void)
{
    static char text[1024];
    if (text[0]) return text;
    size_t o = 0;
    for (int i = 1; i < 256 && o < sizeof(text); i++)
        if (alert_names[i]) o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s", o ? ", " : "", alert_names[i]);
    return text;
}

const char *tls_act_str(enum tls_act a)
{
    static const char *const n[] = {"none", "hang", "alert", "slow", "bad_cert", "cut"};
    return a <= TLSA_CUT ? n[a] : "none";
}

static void tls_alert_init(void *cfg)
{
    struct tls_fault_plan *p = cfg;
    p->act = TLSA_ALERT;
    p->alert = 40;   /* handshake_failure */
}

static int tls_alert_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct tls_fault_plan *p = cfg;
    if (strcmp(k, "alert")) return FKEY_UNKNOWN;
    int a = tls_alert_code(v);
    if (a < 0) {
        snprintf(err, errlen, "'%s' is not a TLS alert (%s)", v, tls_alert_names());
        return FKEY_BAD;
    }
    p->alert = a;
    return FKEY_OK;
}

static void tls_alert_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct tls_fault_plan *p = cfg;
    emit(ud, "alert", tls_alert_str(p->alert));
}

const struct fault_type fault_tls_alert = {
    .name = "tls_alert",
    .summary = "answer the ClientHello with a fatal TLS alert (alert = handshake_failure)",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct tls_fault_plan),
    .init = tls_alert_init,
    .set = tls_alert_set,
    .attrs = tls_alert_attrs,
    .flags = FT_CONN_LEVEL | FT_TLS,
};
