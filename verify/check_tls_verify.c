/* check_tls_verify.c -- `check = tls_verify`: when faultline serves a bad certificate (the
 * tls_bad_cert fault: expired, for another host, from an unknown CA), the service refuses it --
 * it aborts the handshake, or at least closes without sending a byte of its request.
 *
 * The bug it catches: TLS verification turned off and forgotten (Go's InsecureSkipVerify, Node's
 * rejectUnauthorized: false or NODE_TLS_REJECT_UNAUTHORIZED=0, Python's CERT_NONE, curl -k in a
 * script, Java's trust-all TrustManager), or never on (libpq's sslmode=require, which encrypts
 * but does not verify, in a team that believes it does). Such a service talks to whoever answers:
 * its credentials and data go to a man in the middle.
 *
 * Evidence, per connection of the proxy (the record's conn events, docs/metrics.md): tls_bad_cert
 * (the fault served this certificate), the handshake's outcome (tls_handshake_ms when faultline's
 * side completed it; else tls_error, tls_alert and tls_alert_by), tls_app_bytes (plaintext the
 * client sent after it), closed_by. A connection counts as
 *   - refused: no application data, and the client ended it: with an alert (bad_certificate,
 *     certificate_expired, unknown_ca, ...), or by closing -- after a completed handshake too
 *     (curl and OpenSSL's hostname check come after the handshake: the client closes, sending
 *     nothing);
 *   - accepted: application data arrived after the handshake (the service sent its request);
 *   - neither (faultline ended it: a handshake timeout, the run stopping): not counted.
 * PASS when every counted connection refused, FAIL when any accepted (the measured text says how
 * many, which certificates and how many bytes), INCONCLUSIVE when no handshake with a bad
 * certificate was counted (the fault never applied, or only undecided connections).
 *
 * Keys: min_conns (default 1): counted connections needed to judge.
 */
#include "verify/check.h"

#include <stdio.h>
#include <string.h>

struct tally {
    int refused, accepted, undecided, alerts;
    double bytes;
    char kinds[64], alert[40];
};

static void add_kind(struct tally *t, const char *k)
{
    if (!k[0] || strstr(t->kinds, k)) return;
    size_t o = strlen(t->kinds);
    snprintf(t->kinds + o, sizeof(t->kinds) - o, "%s%s", o ? ", " : "", k);
}

static void count(const struct vev *ev, struct tally *t)
{
    add_kind(t, ev->tls_bad_cert);
    if (!isnan(ev->tls_app_bytes) && ev->tls_app_bytes > 0) {
        t->accepted++;
        t->bytes += ev->tls_app_bytes;
        return;
    }
    if (ev->tls_alert[0] && !strcmp(ev->tls_alert_by, "peer")) {
        t->refused++;
        t->alerts++;
        snprintf(t->alert, sizeof(t->alert), "%s", ev->tls_alert);
        return;
    }
    if (!strcmp(ev->closed_by, "client")) {
        t->refused++;
        return;
    }
    t->undecided++;
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double minc;
    if (vexp_num(e, "min_conns", 1, 1, 1e9, &minc) < 0) return -1;
    if (!cx) return 0;
    vres_bound(r, "no application data after a bad certificate");
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    if (vctx_need_fault(cx, e, &w, r)) { vwins_free(&w); return 0; }
    vwins_free(&w);
    struct vpx *p = vrec_proxy(cx->rec, e->proxy, 1, e->err, e->errlen);
    if (!p) return -1;
    struct tally t;
    memset(&t, 0, sizeof(t));
    for (int i = 0; i < p->nev; i++) {
        const struct vev *ev = &p->ev[i];
        if (ev->kind != VEV_CONN || !ev->tls_bad_cert[0]) continue;
        if (e->fault && strcmp(ev->fault, e->fault)) continue;
        count(ev, &t);
    }
    int n = t.refused + t.accepted;
    if (n == 0 || n < minc) {
        vres_measured(r, "%d handshake%s with a bad certificate (%d ended by faultline)", n, n == 1 ? "" : "s", t.undecided);
        vres(r, V_INCONCLUSIVE, "%s", n == 0 ? "no handshake with a bad certificate was seen (did the service connect through "
                                               "the proxy while tls_bad_cert acted?)"
                                             : "too few handshakes with a bad certificate to judge (min_conns)");
        return 0;
    }
    if (t.accepted) {
        vres_measured(r, "%d of %d connections served a bad certificate (%s) went on: %.0f bytes of application data sent",
                      t.accepted, n, t.kinds, t.bytes);
        vres(r, V_FAIL, "the service accepted a bad certificate (%s) and sent its data: it does not verify the server "
                        "(InsecureSkipVerify, rejectUnauthorized: false, CERT_NONE, sslmode=require?)", t.kinds);
        return 0;
    }
    char al[64] = "";
    if (t.alerts) snprintf(al, sizeof(al), " (%s)", t.alert);
    vres_measured(r, "%d connection%s served a bad certificate (%s): every one refused, %d with an alert%s", n,
                  n == 1 ? "" : "s", t.kinds, t.alerts, al);
    vres(r, V_PASS, "the service refused every bad certificate before sending data");
    return 0;
}

const struct vcheck vcheck_tls_verify = {"tls_verify", 1, judge};
