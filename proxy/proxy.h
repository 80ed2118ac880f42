/* proxy.h -- the daemon's objects: the server, its proxies, and their connection pairs.
 *
 * Ownership: the server owns its proxies; a proxy owns its listener, its faults (attached with
 * proxy_fault_add, freed on removal) and its live connections. A connection owns both of its
 * bufferevents and its fault stages. Everything runs on the server's one event base; nothing
 * here blocks.
 */
#ifndef FL_PROXY_H
#define FL_PROXY_H

#include <stdint.h>
#include <netinet/in.h>
#include <event2/event.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/dns.h>
#include "proxy/profile.h"
#include "proxy/protocol.h"
#include "faults/fault.h"
#include "faults/chain.h"
#include "record/record.h"

enum closer { CLOSER_NONE = 0, CLOSER_CLIENT, CLOSER_UPSTREAM, CLOSER_PROXY, CLOSER_FAULT };
const char *closer_str(enum closer c);

struct proxy_stats {
    uint64_t accepted, active, peak_active;
    uint64_t upstream_ok, upstream_failed;
    uint64_t closed_by[5];                /* indexed by enum closer */
    uint64_t bytes_up, bytes_down;        /* client->upstream, upstream->client */
    uint64_t refused;                     /* connections refused (refuse fault / disabled) */
    uint64_t accept_errors;
    /* http mode */
    uint64_t requests, responses;
    uint64_t status_class[6];             /* 1xx..5xx at [1]..[5], [0] = other */
    uint64_t bad_requests, bad_responses, inflight, peak_inflight;
    uint64_t capped;                      /* connections reset at accept: past max_conns (proxy/limits.c) */
    uint64_t idle_closed;                 /* connections closed for idling past their timeout */
};

/* One direction of a connection: bytes from src go through the direction's fault chain into
 * dst. */
struct pipe {
    struct conn *c;
    struct bufferevent *src, *dst;
    struct chain ch;              /* the stages (faults/chain.h); ch.nlive == 0: the fast path */
    /* flags: one byte each (a held connection's memory is mostly these structs: issue 3 asks
     * <= 4 KiB per held connection) */
    unsigned char dir;            /* 0 = up (client -> upstream), 1 = down */
    unsigned char src_eof;        /* src reached EOF */
    unsigned char eof_at_sink;    /* EOF came out of the chain */
    unsigned char shut;           /* dst write side shut down */
    unsigned char shut_deferred;  /* tcp mode: shutdown waits for dst's read due this turn (pipe_shut) */
    unsigned char read_paused;    /* we disabled src reading for backpressure */
    /* arrival times (faults/chain.c stage_want_arrival): src's bytes carry the kernel's receive
     * time; ch.rx_us is the monotonic arrival of the bytes now in the chain, set only while a
     * read is handed to it (0 = unknown: a timer's emit, or no timestamp) */
    unsigned char want_rxts, rxts_on;
    uint64_t bytes;               /* bytes written towards dst */
    uint64_t bytes_in;            /* tcp mode: bytes read from src (bytes_in - bytes = held by faults) */
};

struct conn {
    uint64_t id;
    struct fl_proxy *px;
    struct bufferevent *cli, *up;
    struct pipe p[2];
    int up_connected;
    int closing;
    enum closer closed_by;
    int held_at_end;                 /* still held when closed by shutdown/fault end */
    int64_t t_open, t_connected, t_first_up, t_first_down, t_hang, t_gave_up, t_close;
    int64_t t_last_up;               /* last read from the client (the record's last_up_ms) */
    int64_t t_hang_end;              /* the fault let the held call flow again (0 = still held) */
    /* calls as turns (docs/metrics.md, call_*): a turn starts with the client's bytes and lasts
     * until the last bytes delivered to the client before the client speaks again */
    int64_t t_last_down;             /* last bytes delivered towards the client before its EOF */
    int64_t t_cli_eof;               /* the client closed (EOF or error): the record's client_eof_ms */
    int64_t t_turn;                  /* start of the current turn (0 = none) */
    int64_t turn_max_us, t_turn_max; /* longest finished turn, and when it started */
    const struct fault *hang_fault;  /* the fault holding this call, if any (borrowed) */
    const struct fault *applied;     /* first fault applied (for the record) */
    union { struct sockaddr_in in; struct sockaddr_in6 in6; } peer_sa;   /* the client, as accepted
                                                                          (text: conn_peer) */
    char fault_name[128];            /* first fault applied / holding fault, for the record */
    int busy;                        /* callbacks on the stack: free is deferred until 0 */
    int dead;                        /* both sockets closed; freed when busy drops to 0 */
    int own_read;                    /* conn_relay.c reads the sockets itself (conn_readable): every protocol
                                        in the daemon; 0 only in tests/fuzz/fuzz_http.c */
    struct conn *prev, *next;
    void *proto;                     /* the protocol's state (struct protocol conn_init; NULL: tcp relay) */
    struct tls_conn *tls;            /* TLS on either side (proxy/tls.h; NULL: plain, the only test the
                                        plain path makes is on pointers like this one, per delivery) */
    char *route;                     /* owned: the destination a forward proxy's engine chose ("host:port",
                                        PROTO_ROUTES); NULL = the proxy's upstream, or none chosen yet */
    void *rec;                       /* recorder's per-connection scratch */
};

struct fl_server;
struct tls_conn;
struct tls_px;

struct fl_proxy {
    struct proxy_spec spec;
    struct fl_server *srv;
    struct evconnlistener *lis;
    int listen_paused;            /* EMFILE backoff */
    int refusing;                 /* refuse faults active */
    struct event *resume_ev;
    struct fault **faults;
    int nfaults;
    struct conn *conns;
    struct proxy_stats st;
    int64_t last_emfile_log_us;
    int64_t last_cap_log_us;      /* max_conns refusals: one log line a second at most */
    int64_t accept_backoff_us;
    int retired;                  /* removed by reload: no listener, freed with its last conn */
    struct fl_proxy *next_retired;
    struct rec_px *rec;           /* the recorder's entry (proxy_rec; NULL until used, or not recording) */
    int from_api;                 /* created through the admin API: a reload keeps it */
    struct tls_px *tls;           /* owned: TLS contexts and counters (proxy/tls.c); NULL = no TLS */
};

struct fl_server {
    struct event_base *base;
    struct evdns_base *dns;
    struct profile *prof;         /* profile in force */
    char profile_path[512];
    struct global_spec g;
    struct fl_proxy **proxies;
    int nproxies;
    int draining;
    int64_t drain_deadline_us;
    struct event *sig_term, *sig_int, *sig_hup, *sig_usr1, *drain_ev, *tick_ev;
    uint64_t next_conn_id;
    uint64_t active_conns;        /* client connections open, every proxy (retired ones too): max_conns */
    uint64_t reloads, reload_failures;
    int64_t started_us;
    void *admin;                  /* admin API state */
    void *rec;                    /* recorder state */
    struct fl_proxy *retired;     /* proxies removed by reload whose connections still run */
    int exit_code;
};

/* The server of this process (one per process). */
extern struct fl_server *fl_srv;

/* A part its composer adds to every server (the admin API: cli/main.c composes control/admin.c's
 * admin_part), so that the core needs none of it. start runs in server_new once the listeners
 * are bound, before recording starts and faults are attached (an error fails server_new); stop
 * runs when the server starts draining and again before it is freed (it must be idempotent). */
struct server_part {
    const char *name;
    int (*start)(struct fl_server *s, char *err, size_t errlen);
    void (*stop)(struct fl_server *s);
};
/* Adds part to every server created from now on, in order (at most 4; adding one twice adds it
 * once). part is borrowed for the life of the process. */
void server_compose(const struct server_part *part);

/* Creates the server on a new event base from a loaded profile (taken over). Binds every
 * listener; on failure returns NULL with the reason in err and nothing left open. */
struct fl_server *server_new(struct profile *prof, char *err, size_t errlen);
int server_run(struct fl_server *s);   /* runs the loop until stopped; returns exit status */
void server_free(struct fl_server *s);
/* Reloads the profile at s->profile_path (SIGHUP). 0, or -1 with the old profile kept. */
int server_reload(struct fl_server *s, char *err, size_t errlen);
/* Applies a new profile (reload and POST /profile). Takes prof on success. */
int server_apply(struct fl_server *s, struct profile *prof, char *err, size_t errlen);
void server_stop(struct fl_server *s);  /* begin drain (SIGTERM) */
/* Disables every fault at once (POST /kill, SIGUSR1): they stay attached, killed. Returns how
 * many were acting. */
int server_kill_faults(struct fl_server *s);
/* Arms every killed fault again (POST /resume, ctl enable): each is built again from its keys and
 * its window restarts from now. Returns how many. */
int server_resume_faults(struct fl_server *s);

struct fl_proxy *server_find_proxy(struct fl_server *s, const char *name);
/* The first fault named `name` on any proxy (fault names are unique per proxy only). */
struct fault *server_find_fault(struct fl_server *s, const char *name, struct fl_proxy **px_out);
/* The fault named `name` on px, or NULL. */
struct fault *proxy_find_fault(const struct fl_proxy *px, const char *name);

/* Proxies: create/start/stop. proxy_new binds the listener (unless disabled). */
struct fl_proxy *proxy_new(struct fl_server *s, const struct proxy_spec *spec, char *err, size_t errlen);
void proxy_free(struct fl_proxy *px);       /* closes listener and every connection */
void proxy_close_all(struct fl_proxy *px, enum close_how how);
int proxy_set_enabled(struct fl_proxy *px, int enabled, char *err, size_t errlen);
/* Out of descriptors (EMFILE/ENFILE) or another accept error: stops accepting for a growing
 * backoff (10 ms doubling to 1 s), logging at most one line per second. */
void proxy_accept_pause(struct fl_proxy *px, int err);
/* Re-evaluates whether the listener should be open (enabled, not refusing, not draining). */
void proxy_update_listener(struct fl_proxy *px);
int server_add_proxy(struct fl_server *s, struct fl_proxy *px);
void server_remove_proxy(struct fl_server *s, struct fl_proxy *px);

/* Faults on a proxy. proxy_fault_add takes ownership and applies to live connections too. */
void proxy_fault_add(struct fl_proxy *px, struct fault *f);
/* Removes and frees f (held bytes are passed on first, per hang's on_end). */
void proxy_fault_remove(struct fl_proxy *px, struct fault *f);
/* Replaces old with new_f at the same position (settings change). */
void proxy_fault_replace(struct fl_proxy *px, struct fault *old, struct fault *new_f);
/* Re-syncs every live connection's chains with px->faults. */
void proxy_faults_changed(struct fl_proxy *px);
/* Window bookkeeping for a fault just attached / changed (timers for start, end, ttl). */
void fault_schedule(struct fault *f);
/* Ends the fault now (kill, ttl, cap): it stays attached but acts no more. */
void fault_end_now(struct fault *f, const char *why);

/* The caps and timeouts of proxy/limits.h (proxy/limits.c). proxy_admit: 1 if px may take
 * the connection fd just accepted; 0 when it is past max_conns (fd is reset and closed, counted
 * in px->st.capped). server_idle_sweep: once a second, closes the connections idle past their
 * timeout. */
int proxy_admit(struct fl_proxy *px, evutil_socket_t fd);
void server_idle_sweep(struct fl_server *s);

/* Connections (proxy/conn.c, conn_relay.c, conn_close.c). */
void conn_accept(struct fl_proxy *px, evutil_socket_t fd, const struct sockaddr *sa, int salen);
void conn_close(struct conn *c, enum closer who, enum close_how how);
/* The client's address as text ("1.2.3.4:5", "[::1]:5", "unix"; "unix" too when unknown),
 * formatted from c->peer_sa on each call into a static buffer, valid until the next call: most
 * connections are never named, so none keeps the text. */
const char *conn_peer(const struct conn *c);
/* Ends and frees c now, even when it is already closing with a side still flushing (exit). */
void conn_kill(struct conn *c);
/* A forward proxy's engine (PROTO_ROUTES) connects c's upstream to its destination: sa (an address
 * it resolved itself) or host, resolved with the server's evdns (never blocking); route is the
 * destination as text (copied into c->route). c->up must be fresh (conn_accept's, or
 * conn_upstream_renew's). Its outcome comes as for any upstream: connected (the protocol's
 * upstream_connected) or failed (upstream_failed). 0, or -1 when the connect could not start. */
int conn_connect_route(struct conn *c, const char *route, const char *host, int port, const struct sockaddr *sa, int salen);
/* Replaces c's upstream side with a fresh, unconnected one (the old socket is closed): the next
 * destination of a forward proxy's connection. The directions' flags towards and from the upstream
 * start again; the client side is untouched. */
void conn_upstream_renew(struct conn *c);
/* Installs the data path's callbacks on c->cli and c->up (conn_accept does; so does the http
 * fuzz harness, tests/fuzz/fuzz_http.c, on bufferevent pairs). */
void conn_setcb(struct conn *c);
void conn_sync_stages(struct conn *c);
/* Runs the chain machinery after bytes moved (backpressure, EOF, done-ness). */
void pipe_after_io(struct pipe *p);
void pipe_deliver(struct pipe *p, struct evbuffer *buf, size_t n);  /* end of chain */
void pipe_eof_out(struct pipe *p);                                   /* EOF out of chain */
/* Bytes from p's source enter its fault chain (straight to the destination when the chain is
 * empty); the source's EOF likewise. What protocol engines call to pass bytes and EOFs on. */
static inline void pipe_input(struct pipe *p, struct evbuffer *in)
{
    if (p->ch.nstages == 0) pipe_deliver(p, in, (size_t)-1);
    else chain_input(&p->ch, in);
}
static inline void pipe_eof_in(struct pipe *p)
{
    if (p->ch.nstages == 0) pipe_eof_out(p);
    else chain_eof(&p->ch);
}
/* Turns on the kernel's receive stamps (SO_TIMESTAMPNS) of p's source socket fd, once. */
void pipe_stamp_arrivals(struct pipe *p, evutil_socket_t fd);
void conn_free(struct conn *c);
/* Fault f acted on c (f's own counters are the caller's): c's first fault is named for the record
 * and the recorder counts it. */
void conn_fault_applied(struct conn *c, const struct fault *f);
/* f began holding c's call (a hang): the client's give-up is measured from now. A new hold after
 * a released one starts the times again. */
void conn_hold_started(struct conn *c, const struct fault *f);
/* f stopped holding c's call (no effect unless f is the one holding it and the client is still
 * there): hang_end is now. */
void conn_hold_ended(struct conn *c, const struct fault *f);

/* The fault host (proxy/host.c): installs the table faults/host.h asks for, on s's loop. */
void proxy_fault_host_install(struct fl_server *s);

/* ---- the record (proxy/recording.c; record/record.h). Call sites test rec_active first. ---- */
/* Starts recording for s's [faultline] settings (nothing without `redis`). 0, or -1 with err. */
int server_record_start(struct fl_server *s, char *err, size_t errlen);
/* Ends the run's record: windows of faults still acting, the last flush (bounded), and the
 * recorder's entries forgotten. A no-op when not recording. */
void server_record_stop(struct fl_server *s);
/* The proxy object's recorder entry, attached on first use. */
struct rec_px *proxy_rec_attach(struct fl_proxy *px);
static inline struct rec_px *proxy_rec(struct fl_proxy *px) { return px->rec ? px->rec : proxy_rec_attach(px); }
/* f's window opened (1) or closed (0); reason NULL = the one f's state says (duration, killed,
 * removed, ttl). */
void fault_record_window(const struct fault *f, int active, const char *reason);
/* c ended: its `kind=conn` event. */
void conn_record_close(struct conn *c);

#endif
