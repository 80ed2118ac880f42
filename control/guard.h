/* control/guard.h -- the admin API's gate and reach checks (docs/security.md, docs/api.md).
 *
 * What: everything the admin API checks about who is asking and what they may reach, apart
 * from routing. The gate runs on every request before any handler: Host must be an address
 * literal, localhost, or a name listed in admin_hosts (DNS rebinding needs a name); an
 * Origin must be the admin's own origin; Sec-Fetch-Site must be same-origin or none; browser
 * user agents are refused (Toxiproxy's rule), except on the console's paths and requests
 * (r->browser_ok: control/console.c checks those). The reach checks judge every listen and upstream
 * address a request asks for (proxy/policy.c) and answer 403 naming the rule. The bearer token
 * comes from admin_token, admin_token_file (mode 0600 or stricter; read again after each
 * successful SIGHUP reload) or FAULTLINE_ADMIN_TOKEN, in that order.
 * Why: the admin API turns requests into listeners and connections on the host; anything that
 * can reach its port -- a web page through the browser, a neighbour container on the host's
 * network -- must not be able to point it at what it was not configured for.
 * What not: the token comparison and the connection cap stay in admin.c; nothing here
 * allocates per request.
 */
#ifndef FL_GUARD_H
#define FL_GUARD_H
#include <stddef.h>

struct fl_server;
struct fl_addr;
struct profile;
struct adm_req;

/* Puts the token from admin_token_file or FAULTLINE_ADMIN_TOKEN into s->g.admin_token (the
 * profile's admin_token wins). 0, or -1 with "admin_token_file: PATH: reason" in err. */
int guard_token_init(struct fl_server *s, char *err, size_t errlen);

/* The gate, first thing for every request. 0: go on; -1: refused, a 403 naming the rule was
 * sent. After a SIGHUP reload it also reads admin_token_file again. */
int guard_request(struct adm_req *r);

/* May this request use a (text as written) as a listen or upstream address? 0, or -1 after a
 * 403 naming the rule; at ("" or " at proxy N") ends the message. */
int guard_api_addr(struct adm_req *r, const struct fl_addr *a, const char *text, int is_listen, const char *at);

/* Every listen and upstream of a profile posted to /profile, as guard_api_addr. */
int guard_api_profile(struct adm_req *r, const struct profile *p);

/* The same rules for a profile from elsewhere than a request (a fleet load): 0, or -1 with
 * "forbidden by RULE: reason ([proxy NAME], line N)" in why. */
int guard_profile_reach(struct fl_server *s, const struct profile *p, char *why, size_t wl);

/* admin_max_conns, or its default. */
int guard_max_conns(const struct fl_server *s);

#endif
