/* tls_fault.c -- the TLS faults (faults/tls_fault.h) on a connection's client side: which one a
 * connection gets, and what it does to the handshake and the session.
 *
 * The pick. OpenSSL calls tls_fault_client_hello once the ClientHello is read and before it is
 * answered. There, once per connection, the proxy's faults are walked in order: the first TLS fault
 * that is active, whose match_host matches the name the client asked for (a forward proxy's CONNECT
 * host, else the SNI read from the ClientHello's server_name extension) and whose probability roll
 * says yes is the connection's (counted as applied, named in the record). A connection with a fault
 * does not resume a session (its session id context is changed): a resumed handshake would skip
 * the certificate and the pause.
 *
 * The acts, each at the one place of the handshake it concerns:
 *   - tls_alert: the ClientHello callback fails with the alert; OpenSSL sends it and the handshake
 *     fails (counted and recorded like any failure: tls_alert, tls_alert_by = faultline);
 *   - tls_hang, tls_slow: the callback answers SSL_CLIENT_HELLO_RETRY, which suspends the handshake
 *     with the ClientHello read and nothing sent. The hold is the connection's held call
 *     (conn_hold_started: hang_ms, and gave_up_ms when the client hangs up). While held, the side's
 *     read event only watches for the client's EOF (what it sends is kept for the handshake) and,
 *     for tls_slow, carries the rest of the delay; tls_handshake_timeout does not run. At the end
 *     of the delay, or of the fault's window (tls_fault_ended), the handshake goes on;
 *   - tls_bad_cert: the SNI callback (tls.c) installs the bad certificate instead of the usual one:
 *     an expired leaf or one for another name minted by the proxy's CA, or a leaf for the right
 *     name minted by a CA made up in memory for the purpose (t->rogue);
 *   - tls_cut: plaintext to the client is counted as it is encrypted (tls_io.c's send_now); at
 *     after_bytes the rest is dropped and the pair closes with a FIN and no close_notify (the
 *     close is deferred to the side's read event: the delivery that reached the point may be
 *     running inside a close already).
 *
 * What it does not do: faults on the upstream side (faultline is then the client: the upstream's
 * certificate problems are tested by pointing faultline at such an upstream), renegotiation or
 * key-update faults, faults on plaintext proxies (a TLS fault is refused where TLS is not
 * terminated: tls_fault_fits).
 */
#include "proxy/tls_int.h"
#include "proxy/proxy.h"
#include "proxy/conn_int.h"
#include "common/log.h"
#include "common/parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent_struct.h>   /* ev_read: see conn.c's essay */
#include <openssl/err.h>

#define TLS_HELD_INPUT_MAX 65536   /* what a client may send while its handshake is held */

/* ---- the pick ---- */

/* The server_name extension's host name (RFC 6066: list length, type 0, name length, name),
 * checked as a host name. 0, or -1 when there is none usable. */
static int hello_sni(SSL *ssl, char *out, size_t ol)
{
    const unsigned char *p;
    size_t len;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) != 1 || len < 5) return -1;
    size_t list = (size_t)p[0] << 8 | p[1];
    if (list + 2 > len || list < 3 || p[2] != 0) return -1;
    size_t n = (size_t)p[3] << 8 | p[4];
    if (n + 3 > list) return -1;
    int is_ip;
    return tls_host_norm((const char *)p + 5, n, out, ol, &is_ip);
}

static int host_matches(const char *pattern, const char *host)
{
    return strcasecmp(pattern, host) == 0 || glob_match(pattern, host);
}

/* The first TLS fault that acts on this connection (see the essay), counted; NULL = none. */
static struct fault *pick(struct conn *c, const char *host)
{
    struct fl_proxy *px = c->px;
    for (int i = 0; i < px->nfaults; i++) {
        struct fault *f = px->faults[i];
        if (!(f->type->flags & FT_TLS) || !fault_is_active(f)) continue;
        if (f->match_host && !host_matches(f->match_host, host)) continue;
        f->c.conns_seen++;
        int sel = f->probability >= 1.0 || (f->probability > 0 && fl_rand01() < f->probability);
        if (!sel) continue;
        f->c.conns_affected++;
        return f;
    }
    return NULL;
}

static void pick_for(SSL *ssl, struct conn *c, struct tls_side *ts)
{
    char host[TLS_HOST_MAX + 1] = "";
    if (ts->name) snprintf(host, sizeof(host), "%s", ts->name);
    else if (hello_sni(ssl, host, sizeof(host)) < 0) host[0] = 0;
    struct fault *f = pick(c, host);
    if (!f) return;
    struct tls_fstate *fs = calloc(1, sizeof(*fs));
    if (!fs) abort();
    fs->f = f;
    memcpy(&fs->pl, f->cfg, sizeof(fs->pl));
    if (fs->pl.act == TLSA_SLOW) fs->pl.delay_us += fl_jitter_us(fs->pl.jitter_us);
    ts->fs = fs;
    conn_fault_applied(c, f);
    /* no resumption into (or out of) a faulted handshake: a resumed one shows no certificate */
    SSL_set_session_id_context(ssl, (const unsigned char *)"faultline-fault", 15);
    log_debug("tls_fault", "proxy=%s id=%llu fault=%s act=%s host=%s", log_q(c->px->spec.name),
              (unsigned long long)c->id, log_q(f->name), tls_act_str(fs->pl.act), log_q(host[0] ? host : "-"));
}

int tls_fault_client_hello(SSL *ssl, int *al, void *arg)
{
    (void)arg;
    struct tls_side *ts = SSL_get_app_data(ssl);
    if (!ts || !ts->c || ts->side != 0) return SSL_CLIENT_HELLO_SUCCESS;
    if (!ts->fault_checked) {
        ts->fault_checked = 1;
        if (ts->c->px->nfaults) pick_for(ssl, ts->c, ts);
    }
    struct tls_fstate *fs = ts->fs;
    if (!fs || !fs->f || fs->released) return SSL_CLIENT_HELLO_SUCCESS;
    switch (fs->pl.act) {
    case TLSA_ALERT:
        *al = fs->pl.alert;
        ts->error = "the ClientHello was answered with an alert (tls_alert)";
        return SSL_CLIENT_HELLO_ERROR;
    case TLSA_HANG:
    case TLSA_SLOW:
        return SSL_CLIENT_HELLO_RETRY;
    default:
        return SSL_CLIENT_HELLO_SUCCESS;
    }
}

/* ---- a bad certificate ---- */

int tls_fault_cert(SSL *ssl, struct tls_side *ts, struct tls_px *t, const char *host, int is_ip, int *al, int *rc)
{
    struct tls_fstate *fs = ts ? ts->fs : NULL;
    if (!fs || fs->pl.act != TLSA_CERT) return 0;
    X509 *x = NULL, *owned = NULL;
    EVP_PKEY *key = NULL;
    const char *why = "this proxy has no CA to mint with (tls_ca)";
    char other[TLS_HOST_MAX + 1];
    switch (fs->pl.cert) {
    case TLSC_EXPIRED:
        if (t->ca) x = owned = tls_ca_mint_expired(t->ca, host, is_ip, &why);
        break;
    case TLSC_WRONG_HOST:
        /* another name in the same domain: still inside a name-constrained CA's domains */
        if (fs->pl.name[0]) snprintf(other, sizeof(other), "%s", fs->pl.name);
        else if (is_ip || strlen(host) + 11 > TLS_HOST_MAX) snprintf(other, sizeof(other), "wrong-host.invalid");
        else snprintf(other, sizeof(other), "wrong-host.%s", host);
        if (t->ca) x = tls_ca_leaf(t->ca, other, 0, &why);
        break;
    case TLSC_UNKNOWN_CA: {
        char err[256];
        if (!t->rogue && !(t->rogue = tls_ca_ephemeral(err, sizeof(err)))) {
            why = "cannot make the unknown CA";
            break;
        }
        x = tls_ca_leaf(t->rogue, host, is_ip, &why);
        break;
    }
    }
    if (x) {
        key = tls_ca_leaf_key(fs->pl.cert == TLSC_UNKNOWN_CA ? t->rogue : t->ca);
        SSL_certs_clear(ssl);   /* (a given certificate of another key type would stay on offer) */
    }
    if (!x || SSL_use_certificate(ssl, x) != 1 || SSL_use_PrivateKey(ssl, key) != 1) {
        ts->error = "the bad certificate could not be made (tls_bad_cert)";
        log_info("tls_no_certificate", "host=%s fault=%s reason=%s", log_q(host), fs->f ? log_q(fs->f->name) : "-",
                 log_q(x ? "cannot use it" : why));
        X509_free(owned);
        ERR_clear_error();
        *al = SSL_AD_INTERNAL_ERROR;
        *rc = SSL_TLSEXT_ERR_ALERT_FATAL;
        return 1;
    }
    X509_free(owned);   /* (SSL_use_certificate took its own reference) */
    *rc = SSL_TLSEXT_ERR_OK;
    return 1;
}

/* ---- holds ---- */

static void arm(struct bufferevent *bev, int64_t us)
{
    if (us < 0) us = 0;
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    event_add(&bev->ev_read, &tv);
}

void tls_fault_paused(struct conn *c, struct tls_side *ts)
{
    struct tls_fstate *fs = ts->fs;
    struct bufferevent *bev = c->cli;
    if (!fs || !bev) return;
    if (!fs->t_hold) {
        fs->t_hold = fl_now_us();
        conn_hold_started(c, fs->f);
    }
    /* no handshake timeout while held: the read event watches for the client's EOF, and carries
     * the rest of a slow handshake's delay */
    event_remove_timer(&bev->ev_read);
    if (fs->pl.act == TLSA_SLOW) arm(bev, fs->t_hold + fs->pl.delay_us - fl_now_us());
    else event_add(&bev->ev_read, NULL);
}

static void release(struct conn *c, struct tls_side *ts)
{
    struct tls_fstate *fs = ts->fs;
    fs->released = 1;
    fs->hold_us += fl_now_us() - fs->t_hold;
    fs->t_hold = 0;
    conn_hold_ended(c, fs->f);
}

/* What the client sent while held: kept for the handshake (OpenSSL reads the side's preread
 * first). 1 when the client is gone (EOF or error) or sent too much. */
static int held_read(struct tls_side *ts, evutil_socket_t fd)
{
    char buf[4096];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        if (r > 0) {
            if (!ts->preread && !(ts->preread = evbuffer_new())) abort();
            evbuffer_add(ts->preread, buf, (size_t)r);
            if (evbuffer_get_length(ts->preread) > TLS_HELD_INPUT_MAX) return 1;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
        ts->eof = 1;
        return 1;
    }
}

int tls_fault_wake(struct conn *c, struct tls_side *ts, short what)
{
    struct tls_fstate *fs = ts->fs;
    struct bufferevent *bev = c->cli;
    if (fs->cut) {
        conn_close(c, CLOSER_FAULT, CLOSE_FIN);   /* no close_notify: send_notify skips a cut side */
        return 0;
    }
    if ((what & EV_READ) && bev && held_read(ts, bufferevent_getfd(bev))) {
        event_del(&bev->ev_read);
        if (ts->eof) {
            /* the client hung up on its held handshake: its give-up (conn_relay.c's on_client_gone) */
            conn_on_event(bev, BEV_EVENT_READING | BEV_EVENT_EOF, c);
        } else {
            ts->error = "the client sent too much while its handshake was held";
            conn_close(c, CLOSER_PROXY, CLOSE_FIN);
        }
        return 0;
    }
    if (fs->pl.act == TLSA_SLOW && fl_now_us() >= fs->t_hold + fs->pl.delay_us) {
        release(c, ts);
        return 1;
    }
    if (fs->pl.act == TLSA_SLOW && bev) arm(bev, fs->t_hold + fs->pl.delay_us - fl_now_us());
    return 0;
}

/* ---- the cut ---- */

size_t tls_fault_cut_room(struct conn *c, struct tls_side *ts, size_t n)
{
    struct tls_fstate *fs = ts->fs;
    if (!fs || fs->pl.act != TLSA_CUT || (!fs->f && !fs->cut)) return n;
    if (fs->cut) return 0;
    uint64_t left = fs->pl.after_bytes > fs->sent ? fs->pl.after_bytes - fs->sent : 0;
    size_t m = n < left ? n : (size_t)left;
    fs->sent += m;
    if (fs->sent >= fs->pl.after_bytes) {
        fs->cut = 1;
        ((struct fault *)fs->f)->c.closes++;
        log_debug("tls_cut", "proxy=%s id=%llu fault=%s after_bytes=%llu", log_q(c->px->spec.name),
                  (unsigned long long)c->id, log_q(fs->f->name), (unsigned long long)fs->sent);
        if (c->cli && !c->closing) event_active(&c->cli->ev_read, EV_READ, 1);
    }
    return m;
}

/* ---- the fault's end ---- */

void tls_fault_ended(struct fault *f)
{
    struct fl_proxy *px = f->px;
    if (!px || !px->tls) return;
    for (struct conn *c = px->conns, *next; c; c = next) {
        c->busy++;
        struct tls_side *ts = c->tls ? &c->tls->s[0] : NULL;
        if (ts && ts->fs && ts->fs->f == f) {
            if (ts->fs->t_hold && !c->closing) {
                release(c, ts);
                if (c->cli) event_active(&c->cli->ev_read, EV_READ, 1);   /* the handshake goes on */
            }
            ts->fs->f = NULL;
        }
        next = c->next;
        if (--c->busy == 0 && c->dead) conn_free(c);
    }
}

int tls_fault_fits(const struct proxy_spec *p, const struct fault *f, char *why, size_t wl)
{
    if (!(f->type->flags & FT_TLS)) return 0;
    if (!p->tls.terminate) {
        snprintf(why, wl, "type '%s' acts on the TLS a proxy serves: '%s' needs tls = terminate (or mode = forward with tls_ca)",
                 f->type->name, p->name);
        return -1;
    }
    const struct tls_fault_plan *pl = f->cfg;
    if (pl->act == TLSA_CERT && pl->cert != TLSC_UNKNOWN_CA && !p->tls.ca[0]) {
        snprintf(why, wl, "cert = %s needs a proxy with tls_ca (the client must trust the issuer); '%s' has tls_cert "
                 "(cert = unknown_ca works with it)", tls_bad_cert_str(pl->cert), p->name);
        return -1;
    }
    return 0;
}
