/* profile.h -- a profile: the [faultline] settings, the [proxy] sections and the [fault] sections.
 *
 * profile_load() reads and validates the whole file before anything starts, so a bad profile
 * never half-applies: every error is "PATH:LINE: reason naming the key" and the caller exits 2
 * (serve, check) or keeps the running profile (reload). Sections of scenarios and expectation
 * files ([scenario], [phase], [expect], [action]) are accepted when PROF_ALLOW_SCENARIO is given;
 * their own loaders validate them.
 */
#ifndef FL_PROFILE_H
#define FL_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include "common/parse.h"
#include "faults/fault.h"
#include "faults/scope.h"
#include "common/inidoc.h"
#include "proxy/policy.h"
#include "common/allow.h"
#include "proxy/limits.h"

struct protocol;
struct fleet_spec;
enum proxy_role { ROLE_EGRESS = 0, ROLE_INGRESS };

/* TLS as the transport of a proxy's two sides (proxy/tls.h, docs/tls.md), orthogonal to its mode.
 * Plain data: the files are read (and checked) by tls_spec_load, opened again by tls_proxy_init. */
struct tls_spec {
    int terminate;               /* tls = terminate: the client side speaks TLS to faultline */
    int upstream;                /* upstream_tls = on: faultline speaks TLS to the upstream */
    int verify;                  /* upstream_verify (default on) */
    int64_t hs_timeout_us;       /* tls_handshake_timeout (default 10 s), both sides */
    char cert[512], key[512];    /* tls_cert, tls_key: a given certificate (chain) and its key */
    char ca[512];                /* tls_ca = DIR: mint a leaf per SNI with the CA in DIR */
    char alpn[128];              /* tls_alpn: "h2,http/1.1" ("" = the protocol's own list) */
    char up_ca[512];             /* upstream_ca: file or directory ("" = the system store) */
    char up_cert[512], up_key[512];  /* upstream_cert, upstream_key: client certificate (mTLS) */
    char up_sni[256];            /* upstream_sni ("" = the upstream's host name; none for an address) */
};

struct proxy_spec {
    char name[128];
    struct fl_addr listen, upstream;
    char listen_text[300], upstream_text[300];
    const struct protocol *protocol;   /* mode = NAME (proxy/protocol.h; never NULL once loaded) */
    enum proxy_role role;
    int enabled;
    int add_via;                 /* http: add a Via header */
    char id_header[128];         /* http: header recorded as request_id ("" = X-Request-Id) */
    /* http: header_control (docs/http.md): x-faultline-delay / x-faultline-abort honoured per
     * request from these sources, the delay capped */
    struct { int on; struct cidr_list clients; int64_t max_delay_us; } hdrctl;
    int tls_passthrough;         /* postgres: tls = passthrough (SSLRequest forwarded, then tcp) */
    struct conn_limits lim;      /* max_conns, idle timeouts of this proxy (proxy/limits.h; 0 = as [faultline]) */
    struct tls_spec tls;         /* tls = terminate, upstream_tls, ... (proxy/tls.h) */
    /* mode = forward (proxy/protocols/forward.c): the destinations allowed (allow = ...; without
     * it, the names of resolve), and names mapped to addresses without DNS (resolve = NAME:ADDR, ...) */
    struct allow_list fwd_allow;
    char fwd_resolve[1024];
    /* a protocol's own keys as its spec_load wrote them (proxy/protocol.h; dns: its records),
     * read back by the protocol; "" for every relaying protocol. A value, copied with the spec. */
    char proto_conf[4096];
    int line;
};

struct global_spec {
    int admin_off;
    struct fl_addr admin;
    char admin_text[300];
    char admin_token[256];
    int log_level, log_format;   /* enum log_level / log_format */
    uint64_t buffer;             /* per-direction buffer bound (watermark), bytes */
    int64_t drain_us;
    int64_t max_fault_duration_us;  /* 0 = no cap */
    char redis[512];             /* "" = no recording */
    char run[128];               /* "" = generate */
    char instance[128];          /* "" = hostname-pid */
    int64_t retention_us;
    int64_t record_interval_us;  /* series resolution */
    uint64_t seed;               /* the random draws' seed; 0 = from the clock and pid (seed_set 0) */
    int seed_set;
    uint64_t record_max_bytes;   /* the run's budget of events in Redis, per instance */
    struct api_policy pol;       /* who may reach what through the admin API (proxy/policy.h) */
    struct conn_limits lim;      /* what clients may cost: caps, idle timeouts, pipeline (proxy/limits.h) */
};

struct profile {
    char path[512];
    char *text;                  /* the file as read (recorded with the run) */
    struct global_spec g;
    struct proxy_spec *proxies;
    int nproxies;
    struct fault **faults;       /* built, not attached; order as in the file */
    int nfaults;
    struct inidoc *doc;          /* kept for scenario/verify loaders */
    struct fleet_spec *fleet;    /* owned: the [fleet] section (proxy/fleet_spec.h); NULL = none */
};

#define PROF_ALLOW_SCENARIO 0x1

/* Loads path. Returns a profile (profile_free) or NULL with "PATH:LINE: reason" in err. */
struct profile *profile_load(const char *path, unsigned flags, char *err, size_t errlen);
/* Same from text in memory (API POST /profile); name is used in messages. */
struct profile *profile_parse(const char *name, const char *text, unsigned flags, char *err, size_t errlen);
void profile_free(struct profile *p);
/* Detaches fault i from the profile (the caller now owns it). */
struct fault *profile_take_fault(struct profile *p, int i);

void global_defaults(struct global_spec *g);

/* 1 if the proxy's protocol sees requests and their answers (PROTO_REQUESTS: http, http2, grpc,
 * forward), so its request and error counters mean something; its mode's name in *mode. */
int proxy_spec_sees_requests(const struct proxy_spec *ps, const char **mode);

#endif
