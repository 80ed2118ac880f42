/* fleet.h -- many daemons driven as one through Redis (docs/fleet.md).
 *
 * What: with a [fleet] section (proxy/fleet_spec.h) the daemon registers itself in the fleet's
 * Redis (a key refreshed every second that expires after 5 s: its labels, proxies and faults
 * with their lease time left), reads the fleet's command stream on its own hiredis connection
 * (XREAD BLOCK, never a blocking call on the loop), judges each command's signature
 * (control/fleet_sign.h), applies the ones meant for it (add/rm a fault, kill, resume, load a
 * profile, renew a lease), acknowledges each, and removes a leased fault by itself when its
 * lease runs out -- on its own timer, so a controller that vanished, or Redis gone, still ends
 * every fault. Why: a game day spans a fleet of sidecars that must stop within a second.
 * What not: Redis never sits on the data path; Redis down or slow changes nothing for the
 * bytes, only for the fleet's reach.
 *
 * Files: fleet.c (the connections, the registry, reading the stream), fleet_cmd.c (applying a
 * command, acks, leases), fleet_api.c (GET /fleet/instances, POST /fleet/kill|resume; /stats
 * and /metrics fields), fleet_sign.c (signatures, nonces, selectors).
 */
#ifndef FL_FLEET_H
#define FL_FLEET_H
#include <stddef.h>

struct fl_server;
struct server_part;
/* The fleet as a server part (cli/main.c composes it): nothing without a [fleet] section. */
extern const struct server_part fleet_part;

/* ---- for the admin API (control/admin*.c) ---- */
struct adm_req;
struct out;
/* /fleet/...: 1 if the path is the fleet's (a reply was sent or deferred), 0 otherwise. */
int fleet_route(struct adm_req *r);
#ifdef FL_ADMIN_INTERNAL
#include <jansson.h>
/* The fleet's counters for /stats ("fleet": {...}), or NULL without a fleet. New reference. */
json_t *fleet_stats_json(void);
/* Prometheus lines of the fleet's counters, appended through put (nothing without a fleet). */
void fleet_metrics(void (*put)(void *ud, const char *text), void *ud);
#endif

#endif
