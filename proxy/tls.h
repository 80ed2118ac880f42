/* tls.h -- TLS as a transport under every protocol: a proxy's client side may speak TLS to
 * faultline (`tls = terminate`: a given certificate, or a leaf minted per SNI by faultline's own
 * CA) and its upstream side may speak TLS to the upstream (`upstream_tls = on`), whatever its
 * mode. The protocol engines and the fault chains see plaintext; docs/tls.md is the user's
 * reference, docs/datapath.md ("TLS") the design.
 *
 * The transport sits beside the plain path and is reached only from a connection that has TLS
 * (c->tls != NULL), so a plain connection pays nothing for it (no call, no read through it):
 *   - reading: a TLS side's read event is tls_readable (proxy/tls_io.c), which drives the
 *     handshake and then SSL_read()s plaintext into the side's input buffer and hands it to the
 *     core as any read (conn_on_read: protocol engine, fault chain, the other side). A plain side
 *     of a connection with TLS is read by conn_readable_slow (no direct recv->send fast path,
 *     which would bypass the encryption of its other side);
 *   - writing: bytes bound for a TLS side are encrypted with SSL_write() at once (tls_deliver);
 *     OpenSSL's output goes through a BIO of ours that sends it on the socket when nothing is
 *     queued and otherwise appends it to the bufferevent's output, which libevent writes as it
 *     writes every plain side (watermarks, backpressure and the drain at close unchanged);
 *   - the ends: a half-close towards a TLS side is a close_notify, then the FIN; a FIN close sends
 *     close_notify first; a RST close does not.
 * Protocols whose TLS starts inside their own bytes (postgres's SSLRequest: struct protocol
 * starttls) start the client side themselves (tls_starttls_accept); the upstream side sends the
 * protocol's request and waits for its answer before the handshake.
 *
 * Ownership: px->tls (struct tls_px, tls.c) belongs to the proxy (tls_proxy_free); c->tls (struct
 * tls_conn) to the connection (tls_conn_free, from conn_free). SSL objects live in c->tls.
 */
#ifndef FL_TLS_H
#define FL_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include <event2/bufferevent.h>

struct conn;
struct fl_proxy;
struct proxy_spec;
struct inidoc;
struct inisec;
struct rec_kv;
struct evbuffer;
struct ssl_st;
struct fault;
struct tls_fstate;

/* A side's transport state. */
enum tls_state {
    TS_PLAIN = 0,     /* no TLS on this side (or not yet: STARTTLS) */
    TS_WAIT,          /* TLS to come: the upstream's TCP connect is under way */
    TS_PRELUDE,       /* upstream: the protocol's STARTTLS request sent, its answer awaited */
    TS_HANDSHAKE,
    TS_OPEN,          /* plaintext flows */
    TS_DONE,          /* failed, or closed: nothing more goes through */
};

struct tls_side {
    struct ssl_st *ssl;          /* owned; NULL while TS_PLAIN */
    struct conn *c;              /* back pointer (the BIO's context) */
    unsigned char side;          /* 0 = the client's, 1 = the upstream's */
    unsigned char state;         /* enum tls_state */
    unsigned char direct;        /* the BIO may send() at once (the socket is connected, nothing queued) */
    unsigned char eof;           /* the socket said EOF */
    unsigned char notify_sent;   /* our close_notify went out */
    unsigned char resumed;       /* the handshake resumed a session */
    short alert;                 /* the last TLS alert sent or received (-1 = none) */
    unsigned char alert_sent;    /* 1: we sent it, 0: the peer did */
    int64_t t_start, hs_us;      /* handshake start (monotonic us) and its duration (0 = not done) */
    struct evbuffer *preread;    /* owned: bytes read before TLS started (STARTTLS), fed to OpenSSL first */
    struct evbuffer *early;      /* owned: plaintext bound for this side before its handshake ended */
    char *sni;                   /* owned: the name the client asked for (client side) */
    char *name;                  /* owned, NULL = the proxy's: the name this side is for, set by a forward
                                  * proxy (client side: the leaf's name without SNI; upstream side: the
                                  * SNI sent and the name verified) */
    const char *error;           /* why the handshake failed (static text), NULL = it did not */
    struct tls_fstate *fs;       /* owned: a TLS fault acting on this side (proxy/tls_fault.c), NULL = none */
    uint64_t app_in;             /* plaintext read from the peer after the handshake */
    unsigned char fault_checked; /* the TLS faults were offered this connection (once, at its ClientHello) */
};

struct tls_conn {
    struct tls_side s[2];
    unsigned char connect_waits;  /* the upstream connect waits for the client's handshake */
};

/* ---- the profile (proxy/tls.c) ---- */
/* Reads the TLS keys of [proxy] section s into p->tls (`tls`, `tls_cert`, `tls_key`, `tls_ca`,
 * `tls_alpn`, `tls_handshake_timeout`, `upstream_tls`, `upstream_ca`, `upstream_cert`,
 * `upstream_key`, `upstream_sni`, `upstream_verify`), opening every file it names: a missing or
 * unreadable file, a key that does not match its certificate, an expired or not yet valid
 * certificate is "PATH:LINE: key: reason". 0, or -1 with err. */
int tls_spec_load(struct inidoc *d, struct inisec *s, struct proxy_spec *p, char *err, size_t errlen);

/* ---- per proxy (proxy/tls.c) ---- */
/* Builds px->tls (the OpenSSL contexts, the CA) when px's spec asks for TLS; leaves it NULL
 * otherwise. 0, or -1 with "[proxy NAME] reason" in err. */
int tls_proxy_init(struct fl_proxy *px, char *err, size_t errlen);
void tls_proxy_free(struct fl_proxy *px);
/* A reload keeps the proxy (px has TLS before and after): its TLS is built again from spec (the
 * files read again), the counters carried over; live connections keep what they use. 0, or -1
 * with err and px unchanged. */
int tls_proxy_reload(struct fl_proxy *px, const struct proxy_spec *spec, char *err, size_t errlen);
/* The proxy's TLS counters as the value of "tls" in /stats (malloc'd JSON), NULL without TLS. */
char *tls_stats_json(const struct fl_proxy *px);

/* ---- per connection (proxy/tls_io.c) ---- */
/* At accept, before the upstream connect: c->tls when the proxy has TLS. Returns 1 when the
 * client side starts TLS now: the caller starts reading the client with tls_read_fn and calls
 * tls_accept_start; the upstream connect waits for the handshake (it calls conn_connect_upstream). */
int tls_conn_init(struct conn *c);
void tls_accept_start(struct conn *c);
void tls_conn_free(struct conn *c);
/* The read callback of a side (0 = client, 1 = upstream) of a connection with TLS. */
event_callback_fn tls_read_fn(const struct conn *c, int side);
/* A protocol engine's STARTTLS on the client side (postgres: after the SSLRequest): answer (len
 * bytes: 'S') goes to the client in the clear, then the handshake starts; what the client sent
 * after its request (in `rest`, drained) is the start of its handshake. -1 when the proxy does
 * not terminate TLS (the engine refuses as before). */
int tls_starttls_accept(struct conn *c, struct evbuffer *rest, const void *answer, size_t len);
/* The upstream's TCP connect is done: 1 when TLS takes the upstream side over (its connect
 * counts as done once the handshake is), 0 for a plain upstream. */
int tls_up_connected(struct conn *c);
/* Plaintext for side `side` (n bytes from the front of buf, drained): encrypted and sent, or held
 * until its handshake ends. */
void tls_deliver(struct conn *c, int side, struct evbuffer *buf, size_t n);
/* Bytes held for side `side` before its handshake ended (they count against the buffer). */
size_t tls_pending(const struct conn *c, int side);
/* The write half of side `side` ends: close_notify, then shutdown(fd, SHUT_WR) when nothing is
 * queued. Returns 1 when bytes are still queued (the caller keeps the side's writing on). */
int tls_shut_write(struct conn *c, int side, evutil_socket_t fd);
/* A FIN close begins: close_notify on every open TLS side. */
void tls_closing(struct conn *c);
/* Reading of bev resumed after a pause: plaintext OpenSSL already holds is read now. */
void tls_read_resumed(struct conn *c, struct bufferevent *bev);
void tls_readable(evutil_socket_t fd, short what, void *arg);

static inline int tls_wraps(const struct conn *c, const struct tls_conn *t, int side)
{
    (void)c;
    return t && t->s[side].state != TS_PLAIN;
}

/* ---- a forward proxy (PROTO_ROUTES: proxy/protocols/forward.c) ---- */
/* The upstream side of c (connected, plain so far) starts TLS to host now: host is sent as SNI (not
 * an address) and the certificate is verified against it; plaintext for it waits for the
 * handshake, whose failure is the upstream's (upstream_failed). 0, or -1 when the proxy has no TLS
 * towards upstreams (no tls_ca). */
int tls_forward_upstream(struct conn *c, const char *host);
/* The client side of c starts TLS, as for a STARTTLS (tls_starttls_accept): answer (len 0: none)
 * goes first in the clear, `rest` is the start of the client's handshake; host names the leaf when
 * the client sends no SNI, and is what TLS faults match. 0, or -1 when the proxy does not
 * terminate. */
int tls_forward_client(struct conn *c, const char *host, struct evbuffer *rest, const void *answer, size_t len);

/* ---- the TLS faults (proxy/tls_fault.c; faults/tls_fault.h) ---- */
/* A TLS fault's window closed (or it is being removed): handshakes it holds go on, sessions it
 * was to cut are not cut, and no connection keeps a pointer to f. */
void tls_fault_ended(struct fault *f);
/* Whether fault f can act on a proxy of spec p: 0, or -1 with the reason in why. */
int tls_fault_fits(const struct proxy_spec *p, const struct fault *f, char *why, size_t wl);

/* ---- what it knows (proxy/tls.c) ---- */
/* A closing connection's TLS fields (docs/metrics.md: tls_*, up_tls_*). */
void tls_conn_facts(const struct conn *c, struct rec_kv *kv);
/* The proxy's TLS totals (handshakes, failures by alert, resumptions, timeouts). */
void tls_totals_facts(const struct fl_proxy *px, struct rec_kv *kv);

#endif
