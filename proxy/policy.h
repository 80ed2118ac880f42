/* proxy/policy.h -- the reach policy: which addresses and socket files the profile and the admin
 * API may use (docs/security.md). Implemented in proxy/policy.c.
 *
 * What: the [faultline] keys unix_dirs, admin_hosts, api_listen_allow, api_upstream_allow,
 * admin_token_file, admin_token_name and admin_max_conns, validated when the profile loads; the check of a
 * profile's own unix: paths against unix_dirs; and the verdict on one listen or upstream
 * address asked for through the admin API. Why: the admin API is reachable by anything that
 * can connect to its port, and without limits it could put a proxy in front of any socket on
 * the host or bind any port. Whoever writes the profile file is trusted; the API is not.
 * What not: no I/O beyond resolving paths, no replies (control/guard.c answers the API).
 *
 * Defaults, when a key is not set: unix_dirs none (a profile may name any socket path; the API
 * none but the ones the profile file names), api_listen_allow loopback addresses on ports
 * 1024-65535, api_upstream_allow loopback addresses, "localhost" and every host the profile
 * file's own proxies name. A listen (upstream) address the profile file itself gives a proxy
 * is always allowed as a listen (upstream) address through the API, so a proxy can be moved
 * back where it was.
 */
#ifndef FL_PROXY_POLICY_H
#define FL_PROXY_POLICY_H

#include <stddef.h>
#include "common/parse.h"

struct api_policy {
    char unix_dirs[1024];        /* "" = none */
    char admin_hosts[1024];      /* Host names the admin API answers besides loopback ones */
    char listen_allow[1024];     /* api_listen_allow, when listen_set */
    char upstream_allow[1024];   /* api_upstream_allow, when upstream_set */
    int listen_set, upstream_set;
    char token_file[512];        /* admin_token_file ("" = none) */
    char token_name[64];         /* admin_token_name: who the token is in the audit log ("" = "admin") */
    int max_conns;               /* admin_max_conns (0 = POLICY_MAX_CONNS) */
};

#define POLICY_MAX_CONNS 256
#define POLICY_LISTEN_DEFAULT "127.0.0.0/8:1024-65535, [::1]:1024-65535"
#define POLICY_UPSTREAM_DEFAULT "127.0.0.0/8, [::1], localhost"

struct inidoc;
struct inisec;
struct global_spec;
struct profile;

/* Reads the policy keys of [faultline] section s into g->pol (marking them used). 0, or -1
 * with "PATH:LINE: key: reason" in err. */
int policy_load(struct inidoc *d, struct inisec *s, struct global_spec *g, char *err, size_t errlen);

/* With unix_dirs set, every unix: listen and upstream of p's proxies must lie under it. 0, or
 * -1 with "PATH:LINE: ..." naming the key. */
int policy_check_profile(struct profile *p, char *err, size_t errlen);

/* May the admin API use address a (as written: text) as a listen (is_listen) or upstream
 * address? trusted is the profile file in force (its own addresses and hosts are allowed; NULL
 * = none). 0, or -1 with a reason that starts with the rule's key (unix_dirs:,
 * api_listen_allow:, api_upstream_allow:). */
int policy_api_addr(const struct api_policy *pol, const struct profile *trusted, const struct fl_addr *a,
                    const char *text, int is_listen, char *err, size_t errlen);

#endif
