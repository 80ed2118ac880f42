/* protocol.h -- the one interface every wire protocol implements: `mode = tcp | http | postgres |
 * redis` in a profile's [proxy] section names one struct protocol (proxy/protocols/registry.c).
 *
 * What the core does for every protocol. proxy/conn*.c accept the client, connect the upstream
 * and own both sockets, their buffers and their reading; they relay the bytes of each direction
 * through that direction's fault chain (faults/chain.h) into the other socket, pause reading
 * when a direction holds more than the proxy's buffer, pass EOFs on as half-closes, close and
 * free the pair, and record it. A protocol never reads or writes a socket itself: it works on
 * the input buffer the core read into and hands bytes back to the core.
 *
 * What a protocol adds. One that understands its bytes creates per-connection state in
 * conn_init (c->proto; the core takes c->proto != NULL to mean "an engine reads this
 * connection": its bytes leave the tcp fast path). From then on every read lands in the
 * source's input buffer and the core calls on_read(c, p, in):
 *   - the engine frames what it finds in `in` (p->dir: 0 = from the client, 1 = from the
 *     upstream), decides per message (request, query, command) which of its faults applies,
 *     and passes the bytes it lets through on with pipe_input(p, buf) (proxy/proxy.h), which
 *     runs the direction's tcp-level fault chain and writes to the other socket;
 *   - its own answers (an injected error) go towards the client the same way, on c->p[1];
 *   - what it cannot pass yet (a partial message, a request a fault holds) stays in `in`; with
 *     PROTO_KEEPS_INPUT it counts against the proxy's buffer, so reading pauses past it;
 *   - when it runs outside a read (a timer of its own: a latency), it holds the connection
 *     (c->busy++ ... if (--c->busy == 0 && c->dead) conn_free(c)), works on
 *     bufferevent_get_input(c->cli / c->up), and calls pipe_after_io(&c->p[d]) so reading
 *     resumes once its input shrank;
 *   - to end the pair it calls conn_close(c, CLOSER_*, CLOSE_FIN or CLOSE_RST).
 * on_eof says whether the engine passes a source's EOF on itself (pipe_eof_in, once what it
 * holds went through) or lets the core do it now. A failed or reset upstream, the fault ends and
 * the connection's end are the other calls. proxy/protocols/frame.h has the helpers two framed
 * engines share (forwarding a framed run, injecting, a gate for latency and hang, totals by
 * proxy name): postgres.c and redis.c are built on it, http.c on libhttp-parser.
 *
 * Faults. A protocol's own fault types (faults/pg_*.c, faults/redis_*.c, faults/http_*.c) carry
 * its fault_flag (FT_*_ONLY, faults/fault.h): the profile and both admin APIs accept them only
 * on its proxies (protocol_accepts), they make no tcp stage, and the engine finds them in
 * c->px->faults, takes the first that is active, matches and wins its probability roll, counts
 * it (f->c) and reports it with conn_fault_applied (and a held call with conn_hold_started).
 * When such a fault's window closes the core calls fault_ended so the engine lets go of what
 * the fault holds; when it opens, fault_started (optional) so live connections learn of it. Every other fault of the proxy is a tcp stage and keeps working after the
 * engine, on the bytes it passes on.
 *
 * What it knows. stats_json is the protocol's object in /stats; conn_facts, totals_facts and
 * state_facts add its fields to the record (record/record.h, docs/metrics.md). All optional.
 *
 * A protocol may also be the server itself rather than a relay (dns: a DNS server on UDP and TCP
 * whose answers are configured): it then fills spec_load, serve_open, serve_close and
 * serve_reload, and the core binds nothing for its proxies and makes no connection pairs.
 *
 * Adding a protocol: write proxy/protocols/NAME.c defining `const struct protocol protocol_NAME`
 * (every operation may be NULL -- tcp's are all NULL -- except that a conn_init which attaches
 * state needs an on_read to frame the bytes that state now routes to it), add one line to
 * proxy/protocols/registry.c, and its docs (docs/protocols.md) and tests (tests/protocols/).
 * Fault types of its own are files in faults/ with a new FT_*_ONLY flag (faults/fault.h) that
 * the protocol names as its fault_flag. Nothing in the core changes: the core never names a
 * protocol, it asks this table.
 *
 * TLS. TLS is a transport under every protocol (proxy/tls.h): the engine sees plaintext and needs
 * nothing for `tls = terminate` or `upstream_tls = on`. A protocol whose clients ask for TLS inside
 * its own bytes (postgres's SSLRequest) names the exchange in `starttls`: its engine starts the
 * client side itself (tls_starttls_accept), and the transport sends `request` to a TLS upstream
 * and waits for the `yes` byte before its handshake. `alpn` is the protocol's ALPN list.
 *
 * Ownership: a struct protocol is a static constant; proxies point at theirs (spec.protocol).
 * State made by conn_init belongs to the connection and is freed by conn_free.
 * Cost: the fast path (tcp, or any direction with nothing to frame) never calls through here;
 * a protocol's on_read is one indirect call per read.
 */
#ifndef FL_PROTOCOL_H
#define FL_PROTOCOL_H

#include <event2/buffer.h>

struct conn;
struct pipe;
struct fl_proxy;
struct fault;
struct fault_type;
struct rec_kv;
struct inidoc;
struct inisec;
struct proxy_spec;

/* flags */
/* conn.c connects the upstream socket itself when its address is literal (fewer system calls
 * per connection: the client's first bytes go out before the connect is confirmed) */
#define PROTO_DIRECT_CONNECT 0x01
/* the engine leaves what it cannot pass yet (a partial message, a gated request) in the source's
 * input: it counts against the proxy's buffer like bytes held by faults (reading pauses) */
#define PROTO_KEEPS_INPUT    0x02
/* one on_read may deliver several pieces to a side (a head, then its body, then pipelined
 * answers): they are gathered and leave in one write when on_read returns */
#define PROTO_CORK           0x04
/* (0x08: free; `tls = refuse | passthrough` applies to protocols with a starttls, below) */
/* it sees requests and their responses: `role = ingress` (the service's own answers) applies */
#define PROTO_REQUESTS       0x10
/* the engine picks each connection's upstream itself (a forward proxy: per request, per CONNECT):
 * the profile names no upstream, the core connects none at accept (conn_connect_route does it when
 * asked, and conn_upstream_renew replaces it), and TLS on either side starts when the engine says
 * (proxy/tls.h, tls_forward_*) */
#define PROTO_ROUTES         0x20
/* `upstream` is optional in its [proxy] section (dns: it answers by itself, forwarding only
 * when an upstream is given) */
#define PROTO_UPSTREAM_OPTIONAL 0x40

/* A protocol's request for TLS inside its own bytes (postgres: SSLRequest, answered 'S'). */
struct proto_starttls {
    const void *request;          /* what a client sends to ask for TLS */
    size_t len;
    unsigned char yes;            /* the server's one-byte answer that means "go on with TLS" */
};

/* What a connection waits for (struct protocol idle_state; the idle timeouts, proxy/limits.h). */
enum conn_wait {
    CONN_QUIET = 0,               /* nothing is owed to the client: client_idle_timeout applies */
    CONN_WAITING,                 /* a call waits for the upstream: upstream_idle_timeout applies */
    CONN_HELD,                    /* a fault holds a call: never idle */
};

struct protocol {
    const char *name;             /* mode = NAME; /stats and /metrics "mode"; the record */
    unsigned flags;               /* PROTO_* */
    const char *alpn;             /* ALPN offered and accepted over TLS ("http/1.1"; NULL = none) */
    const struct proto_starttls *starttls;   /* TLS asked for inside the protocol (NULL = from the first byte) */
    unsigned fault_flag;          /* the FT_*_ONLY flag of fault types only this protocol runs (0: none) */

    /* ---- per connection (called with the connection held: it is not freed under them) ---- */
    /* A connection was accepted: attach state to c->proto (or leave it NULL: plain relay). */
    void (*conn_init)(struct conn *c);
    /* The connection is being freed (c stays readable): record and log what is still open, free
     * c->proto and set it NULL. Called also when c->proto is NULL. */
    void (*conn_free)(struct conn *c);
    /* Bytes were read from p->src into `in` (its input buffer): frame them. Called only when
     * c->proto is set. */
    void (*on_read)(struct conn *c, struct pipe *p, struct evbuffer *in);
    /* p->src reached EOF (p->src_eof is set). Return 1 if the engine passes the EOF on itself
     * (later, with pipe_eof_in, once what it holds went through), 0 to let the core pass it on
     * now. Called only when c->proto is set. */
    int (*on_eof)(struct conn *c, struct pipe *p);
    /* The upstream connect failed (counted and logged already). Set: the engine answers the
     * client itself (http: 502) instead of the core closing the pair. */
    void (*upstream_failed)(struct conn *c);
    /* The upstream failed after it was connected (a reset; c->p[1].src_eof set). Set: the
     * engine answers what is still open instead of the core closing the pair. */
    void (*upstream_reset)(struct conn *c);
    /* The upstream is connected (with upstream TLS: its handshake is done). */
    void (*upstream_connected)(struct conn *c);
    /* p's destination took bytes and now holds at most half the buffer. An engine that stopped
     * framing because its own answers were piling up towards a client that does not read
     * (they count against no other bound) frames again. */
    void (*on_drain)(struct conn *c, struct pipe *p);
    /* What the connection waits for now (enum conn_wait), for the idle timeouts. NULL: the
     * core judges by the bytes (the client spoke last: CONN_WAITING). A hang (conn_hold_started)
     * and bytes held by a stage count as CONN_HELD whatever this says. */
    int (*idle_state)(const struct conn *c);

    /* ---- the profile ---- */
    /* The protocol's own keys of [proxy] section s into p (before unknown keys are reported):
     * 0, or -1 with "PATH:LINE: key: reason" in err. */
    int (*spec_load)(struct inidoc *d, struct inisec *s, struct proxy_spec *p, char *err, size_t errlen);

    /* ---- faults ---- */
    /* Besides its own FT_*_ONLY types, whether fault f acts inside the engine on this protocol's
     * proxies (http: every type with per-request ops) rather than as a tcp stage. */
    int (*fault_inside)(const struct fault *f);
    /* Whether a fault type that is not protocol-only (no FT_*_ONLY flag: latency, reset, refuse,
     * ...) acts on this protocol's proxies. NULL: every such type does (it is a tcp stage, or acts
     * inside the engine through fault_inside). A protocol with no byte stream for a tcp stage to
     * act on (dns) says which it takes; `faultline check`, the profile, both admin APIs and the
     * fleet refuse the others through protocol_accepts, with `refuses` as the reason. */
    int (*accepts)(const struct fault_type *t);
    const char *refuses;          /* why accepts says no, for messages ("it has no ..."); or NULL */
    /* A fault acting inside the engine (as above) ended or is being removed (f->removing): the
     * requests it holds follow its on_end, and the engine drops every pointer to f. */
    void (*fault_ended)(struct fault *f);
    /* A fault acting inside the engine started: the engine tells its live connections what a
     * per-connection fault changes for them (http2: a lower SETTINGS_MAX_CONCURRENT_STREAMS goes
     * out at once, not at the client's next frame). NULL: requests pick faults up as they come. */
    void (*fault_started)(struct fault *f);

    /* ---- what it knows ---- */
    /* /stats: the value of key NAME in the proxy's object, as JSON text (malloc'd, the caller
     * frees). */
    char *(*stats_json)(const struct fl_proxy *px);
    /* The record (record/record.h, docs/metrics.md): fields added to a closing connection's
     * event, the proxy's totals hash (every interval) and a state stream entry (every interval;
     * it also starts the next interval's peaks). */
    void (*conn_facts)(const struct conn *c, struct rec_kv *kv);
    void (*totals_facts)(const struct fl_proxy *px, struct rec_kv *kv);
    void (*state_facts)(struct fl_proxy *px, struct rec_kv *kv);

    /* ---- a protocol that serves its listen address itself (dns: UDP and TCP, no pairs) ----
     * Set together, with a spec_load (above) that writes the protocol's own keys into
     * p->proto_conf, a text the protocol reads back in serve_open and serve_reload. serve_open replaces the core's
     * TCP listener: it binds px->spec.listen and sets px->serve (its state, owned); serve_close
     * unbinds and frees it (px->serve = NULL), where the core would close its listener (refuse,
     * disable, drain, removal). serve_reload: a reload kept the proxy with a new proto_conf. */
    int (*serve_open)(struct fl_proxy *px, char *err, size_t errlen);
    void (*serve_close)(struct fl_proxy *px);
    void (*serve_reload)(struct fl_proxy *px);
};

/* ---- the registry (proxy/protocols/registry.c) ---- */
extern const struct protocol *const protocols[];   /* NULL-terminated; [0] is the default (tcp) */
/* The protocol named `name` (case-insensitive), or NULL. */
const struct protocol *protocol_find(const char *name);
/* The names as a list for messages: "tcp, http, postgres or redis". */
const char *protocol_names(void);
/* "a" or "an" before the protocol's name in a message ("needs an http proxy"). */
const char *protocol_article(const struct protocol *p);
/* The protocol a protocol-only fault type needs (its FT_*_ONLY flag's owner), or NULL when the
 * type acts on any proxy. */
const struct protocol *protocol_for_fault(const struct fault_type *t);
/* 1 if fault type t may be attached to a proxy of protocol p: a protocol-only type on its own
 * protocol's proxies, any other type where p->accepts (when set) says yes. */
int protocol_accepts(const struct protocol *p, const struct fault_type *t);
/* Why protocol_accepts(p, t) said no, to follow "type 'NAME' " in a message: "needs an http
 * proxy", or "does not act on a dns proxy (REASON)". Written into buf, which it returns. */
const char *protocol_refusal(const struct protocol *p, const struct fault_type *t, char *buf, size_t len);
/* 1 if fault f acts inside p's engine (no tcp stage; p->fault_ended is called when it ends). */
int protocol_owns_fault(const struct protocol *p, const struct fault *f);

#endif
