/* fleet_client.h -- the fleet's blocking controller client: read the registry, pick instances,
 * sign and send one command, count its acks. docs/fleet.md.
 *
 * What: one blocking hiredis connection to the fleet's Redis and the fleet key, for programs
 * that drive the fleet from outside it: `faultline ctl --fleet` (cli/fleet.c) and a scenario
 * run across a fleet (run/fleet.c). Both build, sign and count commands the same way here.
 * Why blocking: both callers are controllers, not daemons; every call is bounded (5 s connect
 * and reply timeouts, the ack wait by its own deadline).
 * What not: the daemon's side (control/fleet*.c, on the event loop, never blocking) does not
 * use it; nothing here prints.
 *
 * Ownership: struct fleet_client is the caller's (zero it, fleet_client_open, fleet_client_close);
 * every json_t * returned is a new reference the caller decrefs.
 */
#ifndef FL_FLEET_CLIENT_H
#define FL_FLEET_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "control/fleet_sign.h"
#include "proxy/fleet_spec.h"

struct redisContext;

struct fleet_client {
    struct redisContext *rc;
    unsigned char key[FLEET_KEY_MAX];
    size_t klen;
    char ns[64];                  /* the fleet's name */
    char from[200];               /* who sends: "ctl:USER@HOST:PID", "run:USER@HOST:PID" */
};

/* Reads the key file, checks the fleet name (NULL: "default"), connects (AUTH, SELECT) to url;
 * who is the sender's kind ("ctl", "run"). 0, or -1 with the reason (fleet_client_close still
 * frees what was opened). */
int fleet_client_open(struct fleet_client *c, const struct rec_url *url, const char *key_file, const char *name,
                      const char *who, char *err, size_t errlen);
/* Closes the connection and wipes the key. Safe on a zeroed or failed client. */
void fleet_client_close(struct fleet_client *c);

/* The registry as GET /fleet/instances lists it (an array, the most recently seen first), or
 * NULL when Redis failed. */
json_t *fleet_client_registry(struct fleet_client *c);
/* The ids of the up instances of all that sel matches (*matched of them), then the blast radius
 * (percent > 0, max_inst > 0: at random, the OS's randomness). An array of strings. */
json_t *fleet_client_pick(json_t *all, const struct fleet_sel *sel, double percent, int max_inst, int *matched);
/* A new command op from this client (sel_text: the selector as written, may be NULL); with a
 * blast radius the targets and the pick are written into it. The caller adds the op's fields. */
json_t *fleet_client_msg(struct fleet_client *c, const char *op, const char *sel_text, json_t *targets, int matched,
                         double percent, int max_inst);
/* Signs msg and XADDs it to the command stream. 0, or -1 with err. */
int fleet_client_send(struct fleet_client *c, json_t *msg, char *err, size_t errlen);
/* Sends msg (taken) and waits up to timeout_us for the acks of the instances in want:
 *   {"id", "op", "applied", "of", "ms", "failed": [ack...], "timed_out": [id...], "targets",
 *    "sent_ms", "acks": [ack...]}   (an ack: {"id", "ok", "reason", "op", "at_ms"})
 * NULL when it was not sent (err). A Redis error while waiting ends the wait early (err is set,
 * the result counts what came). */
json_t *fleet_client_run(struct fleet_client *c, json_t *msg, json_t *want, int64_t timeout_us, char *err,
                         size_t errlen);

#endif
