/* fault.h -- the one interface every fault type implements, and the stage API it acts through.
 *
 * A *fault* is configuration: a named instance of a type ("payments-hang", type hang) attached to
 * one proxy, with common keys (direction, probability, start, duration, ttl, match_*) and its
 * type's own keys in `cfg`. Changing a fault changes `cfg` in place, so every live connection
 * sees the new settings at once (Toxiproxy's "toxic" vs "stub" split).
 *
 * A *stage* is per-connection, per-direction state: each direction of a connection runs its
 * bytes through an ordered chain of stages, one per fault of the proxy that covers that
 * direction, the way Toxiproxy chains toxics. A stage gets bytes in on_data() and must account
 * for every one of them: pass them on (stage_emit), hold them (stage_hold, released later with
 * stage_release) or drop them (stage_discard). The engine (faults/chain.c) guarantees order:
 * bytes a stage emits reach the next stage before anything newer, and when a fault is removed
 * its held bytes are passed on before the stage is freed. Stages never touch sockets or the
 * connection: everything beyond their bytes goes through the stage API below, which asks the
 * host (the proxy core, faults/host.h) -- to close the connection (stage_close), to count the
 * fault as applied, to note a held call.
 *
 * Adding a type: write faults/<type>.c exporting `const struct fault_type fault_<type>` and add
 * one line to faults/registry.c. Nothing else changes.
 */
#ifndef FL_FAULT_H
#define FL_FAULT_H

#include <stddef.h>
#include <stdint.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include "common/clock.h"

struct stage;
struct fault;
struct chain;
struct cidr_list;
struct fl_proxy;   /* the proxy a fault is attached to: the core's, never looked into here */

enum fault_dir { FDIR_UP = 1, FDIR_DOWN = 2, FDIR_BOTH = 3 };  /* UP = client -> upstream */
enum fkey_rc { FKEY_OK = 0, FKEY_UNKNOWN = 1, FKEY_BAD = -1 };
enum close_how { CLOSE_FIN = 1, CLOSE_RST = 2 };
enum hang_end { HANG_KEEP = 0, HANG_RELEASE, HANG_RESET };

/* Emit one attribute (for the API and `ctl show`). */
typedef void (*fault_attr_fn)(void *ud, const char *key, const char *value);

struct fault_type {
    const char *name;
    const char *summary;          /* one line for --help and docs */
    unsigned default_dir;         /* FDIR_* used when the profile says nothing */
    size_t cfg_size;              /* bytes of type settings (zeroed, then init) */
    size_t state_size;            /* bytes of per-stage state (zeroed) */

    /* --- settings --- */
    void (*init)(void *cfg);                                  /* defaults; optional */
    /* One type key. FKEY_OK, FKEY_UNKNOWN (not a key of this type) or FKEY_BAD with err. */
    int (*set)(void *cfg, const char *key, const char *value, char *err, size_t errlen);
    /* Whole-config check after all keys (required keys, ranges). 0 or -1 with err. Optional. */
    int (*validate)(const void *cfg, char *err, size_t errlen);
    void (*attrs)(const void *cfg, fault_attr_fn emit, void *ud);  /* optional */
    void (*cfg_free)(void *cfg);  /* free what set() allocated inside cfg; optional */
    /* The one type key that may be given more than once (http_error's `header`), or NULL:
     * any other key given twice is an error naming the second (fault_build). */
    const char *repeatable;

    /* --- per connection and direction (all optional) --- */
    void (*on_start)(struct stage *st);     /* stage created and selected (new or live conn) */
    void (*on_data)(struct stage *st, struct evbuffer *in);   /* default: emit all */
    /* Source finished. Return 1 if the stage will pass the EOF on itself (stage_eof); 0 lets
     * the engine pass it on as soon as the stage holds no bytes. */
    int (*on_eof)(struct stage *st);
    void (*on_timer)(struct stage *st);     /* the stage's one timer fired */
    /* The fault stopped acting (duration over, disabled, killed, removed). Return 0 and the
     * stage becomes pass-through (the engine releases whatever it still holds, in order);
     * return 1 to keep acting (hang with on_end = keep). Default: 0. */
    int (*on_end)(struct stage *st);
    void (*on_free)(struct stage *st);      /* free anything the state owns */

    /* --- per fault (optional): the fault's active window opened / closed --- */
    void (*on_activate)(struct fault *f);
    void (*on_deactivate)(struct fault *f);

    /* Per-request behaviour on http proxies (faults/http_fault.h); opaque here. */
    const struct fault_http_ops *http;
    unsigned flags;
};
#define FT_CONN_LEVEL  0x1   /* acts on whole connections (refuse): no stages are made */
/* A type that acts only inside one protocol carries that protocol's flag: it is accepted only on
 * proxies of that protocol (struct protocol's fault_flag, proxy/protocol.h) and makes no stages
 * there (the protocol engine acts per request, query or command). A new protocol with fault types
 * of its own adds its flag here and to FT_PROTOCOL_ONLY. */
#define FT_HTTP_ONLY   0x2   /* http proxies (proxy/protocols/http.c) */
#define FT_PG_ONLY     0x4   /* postgres proxies, per query (proxy/protocols/postgres.c) */
#define FT_REDIS_ONLY  0x8   /* redis proxies, per command (proxy/protocols/redis.c) */
#define FT_H2_ONLY     0x10  /* http2 and grpc proxies, per stream or connection (proxy/protocols/http2.c) */
#define FT_GRPC_ONLY   0x20  /* grpc proxies, per call (proxy/protocols/grpc.c) */
#define FT_DNS_ONLY    0x40  /* dns proxies, per query (proxy/protocols/dns.c) */
#define FT_PROTOCOL_ONLY (FT_HTTP_ONLY | FT_PG_ONLY | FT_REDIS_ONLY | FT_H2_ONLY | FT_GRPC_ONLY | FT_DNS_ONLY)
/* A type that acts on the TLS a proxy serves its clients (faults/tls_fault.h; with FT_CONN_LEVEL: no
 * stages): accepted on proxies that terminate TLS. */
#define FT_TLS         0x100

/* Counters kept per fault; read by /stats, /metrics and the recorder. */
struct fault_counters {
    uint64_t conns_seen;          /* connections (or requests) the fault was offered */
    uint64_t conns_affected;      /* ... and selected by probability while active */
    uint64_t bytes_delayed;
    uint64_t bytes_held;
    uint64_t bytes_dropped;
    uint64_t closes;              /* FIN closes done by the fault */
    uint64_t resets;              /* RSTs sent by the fault */
    uint64_t abandoned;           /* held calls the client gave up on */
    uint64_t refused;             /* connections refused */
    uint64_t requests_affected;   /* http */
};

struct fault_kv { char *key, *value; };

enum fault_phase { FAULT_PENDING = 0, FAULT_ACTIVE, FAULT_ENDED };

struct fault {
    char name[128];
    char proxy[128];
    const struct fault_type *type;
    unsigned dir;
    double probability;
    int64_t start_us, duration_us, ttl_us;
    int enabled;
    void *cfg;
    /* HTTP matching (used by http mode; empty = any) */
    char *match_method, *match_path, *match_host, *match_header_name, *match_header_value;
    /* scoping (faults/scope.h): source ranges acted on (NULL = every caller; owned) and the
     * cap on connections / requests held at once (0 = none) */
    struct cidr_list *clients;
    unsigned max_active;
    /* The keys as given, in order: for reload comparison and display. */
    struct fault_kv *kv;
    int nkv;

    /* runtime, owned by the engine */
    struct fl_proxy *px;          /* attached to (opaque: faults/host.h answers about it) */
    int64_t loaded_us;            /* monotonic time the fault was attached */
    int64_t active_since_us, ended_us;
    enum fault_phase phase;
    struct event *timer;          /* next window transition */
    struct fault_counters c;
    int killed;                   /* disabled by kill/ttl: stays listed, acts no more */
    int from_api;                 /* created through the API: a profile reload keeps it */
    int removing;                 /* being detached: on_end acts as removal */
    unsigned n_active;            /* max_active places taken (faults/scope.c) */
    uint64_t capped;              /* callers selected but passed unfaulted: the places were all taken */
    struct fault *next_free;
};

/* ---- the stage API (faults/chain.c) ---- */
struct stage {
    struct fault *f;
    const void *cfg;              /* == f->cfg */
    void *state;                  /* type's per-stage state, state_size bytes */
    struct chain *ch;             /* the direction it is in (faults/chain.h; the host's) */
    int dir;                      /* 0 = up (client->upstream), 1 = down */
    int idx;                      /* position in the chain */
    int selected;                 /* probability said yes (decided once) */
    int acting;                   /* on_start ran and on_end has not ended it */
    int eof_custom;               /* on_eof took charge of passing the EOF */
    int orphan;                   /* fault removed but the stage kept holding (hang keep):
                                   * everything arriving is dropped; f and cfg are NULL */
    int eof_in, eof_out;
    int applied;                  /* counted in conns_affected */
    struct evbuffer *held;        /* bytes held, created lazily */
    struct event *timer;          /* created lazily */
    struct evbuffer *scratch;     /* for passing part of a buffer to the next stage */
    uint64_t bytes_in;            /* bytes offered to this stage so far */
    int scoped;                   /* holds one of the fault's max_active places (scope_take) */
};

/* Pass n bytes (n <= length of buf; (size_t)-1 = all) from buf to the next stage. */
void stage_emit(struct stage *st, struct evbuffer *buf, size_t n);
/* Append all of `in` to the stage's held buffer. */
void stage_hold(struct stage *st, struct evbuffer *in);
/* Emit up to n held bytes ((size_t)-1 = all). Returns bytes emitted. */
size_t stage_release(struct stage *st, size_t n);
size_t stage_held(const struct stage *st);
/* Drop n bytes of buf (counted as dropped). */
void stage_discard(struct stage *st, struct evbuffer *buf, size_t n);
/* Arm (re-arm) the stage's one-shot timer; delay_us < 0 cancels it. */
void stage_timer(struct stage *st, int64_t delay_us);
/* Pass the EOF on (after held bytes, which must have been released already). */
void stage_eof(struct stage *st);
/* Close the whole connection (through the host): FIN flushes what was already emitted
 * downstream; RST drops. */
void stage_close(struct stage *st, enum close_how how);
/* Count this stage's connection as affected (once) and notify the recorder. */
void stage_applied(struct stage *st);
/* Note that the stage started holding a call: the moment the client gives up is measured from
 * here (the service's effective timeout). */
void stage_mark_hanging(struct stage *st);
/* Ask for the kernel's receive time of the direction's bytes (the host stamps its reads of the
 * source socket from now on: SO_TIMESTAMPNS). stage_arrival_us: when the bytes now in on_data reached the proxy's
 * socket (monotonic us, never later than now); fl_now_us() when unknown (bytes emitted by an
 * earlier stage's timer, no timestamp yet). A delay counted from here does not include the
 * time the proxy took to wake up and read them. */
void stage_want_arrival(struct stage *st);
int64_t stage_arrival_us(const struct stage *st);
/* The stage of the same fault in the other direction of the same connection (a fault on both
 * directions has two), or NULL. Its state is the twin's type's: a type reads only its own. */
struct stage *stage_twin(const struct stage *st);
/* Whether the stage's connection is closing (stop working on it). */
int stage_closing(const struct stage *st);
/* Whether the fault is in its active window now. */
int fault_is_active(const struct fault *f);

/* (The clock and the random draws the types use, fl_now_us, fl_rand01, fl_jitter_us: common/clock.h.) */

/* ---- registry (faults/registry.c) ---- */
const struct fault_type *fault_type_find(const char *name);
extern const struct fault_type *const fault_types[];   /* NULL-terminated */

/* ---- building faults (faults/fault.c) ---- */
/* Builds a fault from key/value pairs (profile section or API body). On error returns NULL,
 * sets *bad to the index of the offending pair (-1 if none in particular) and err to a reason
 * naming the key. The result is owned by the caller until attached (proxy_fault_add). */
struct fault *fault_build(const char *name, const char *const *keys, const char *const *vals,
                          int n, int *bad, char *err, size_t errlen);
void fault_free(struct fault *f);
/* 1 if a and b were built from the same keys and values (reload keeps a). */
int fault_same_spec(const struct fault *a, const struct fault *b);
/* Every attribute, common keys first, then the type's own. */
void fault_attrs(const struct fault *f, fault_attr_fn emit, void *ud);
const char *fault_dir_str(unsigned dir);

/* Helpers for types' set(): parse into *out or write err; return FKEY_OK/FKEY_BAD. */
int fkey_duration(const char *v, int64_t *out, char *err, size_t errlen);
int fkey_size(const char *v, uint64_t *out, char *err, size_t errlen);
int fkey_hang_end(const char *v, enum hang_end *out, char *err, size_t errlen);
const char *hang_end_str(enum hang_end e);

#endif
