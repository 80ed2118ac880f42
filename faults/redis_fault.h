/* redis_fault.h -- the settings of the Redis fault types, read by the RESP engine
 * (proxy/protocols/redis.c).
 *
 * On a `mode = redis` proxy the types redis_error, redis_latency and redis_hang act per command
 * (flag FT_REDIS_ONLY: no TCP stages). For every command the engine walks the proxy's faults in
 * profile order and takes the first that is active, whose matchers match and whose probability
 * roll says yes (one roll per command). Commands queued inside MULTI are not matched (a fault
 * on a queued command would change EXEC's reply shape); MULTI, EXEC and DISCARD themselves are.
 *
 * Matchers (optional; absent = any):
 *   match_command  glob on the command name, case-insensitive ("GET", "B*POP", "*")
 *   match_key      glob on the first argument, case-sensitive ("session:*")
 */
#ifndef FL_REDIS_FAULT_H
#define FL_REDIS_FAULT_H

#include <stdint.h>
#include "faults/fault.h"
#include "faults/dist.h"

enum resp_act { RESPA_NONE = 0, RESPA_ERROR, RESPA_LATENCY, RESPA_HANG };

struct resp_fcfg {
    char *command;               /* upper-cased glob, NULL = any */
    char *key;                   /* glob, NULL = any */
    enum resp_act act;
    /* redis_error */
    char *error;                 /* the error line without '-' and CRLF; NULL = "ERR injected by faultline" */
    int moved;                   /* error = MOVED/ASK: the slot is computed from the key */
    char *moved_to;              /* host:port for MOVED/ASK */
    /* redis_latency: the delay's draw (faults/dist.h) and its correlation memory, per fault */
    struct dist_cfg lat;
    struct dist_state lat_s;
    /* redis_hang */
    enum hang_end on_end;
};

int resp_match_set(struct resp_fcfg *c, const char *k, const char *v, char *err, size_t errlen);
void resp_match_attrs(const struct resp_fcfg *c, fault_attr_fn emit, void *ud);
/* name: upper-cased command name; key: first argument or NULL. */
int resp_match_ok(const struct resp_fcfg *c, const char *name, const char *key);
void resp_fcfg_free(void *cfg);
/* The cluster hash slot of a key (CRC16/XMODEM mod 16384, with {hash tags}). */
unsigned resp_key_slot(const char *key, size_t len);

/* When the fault's window closes (or it is removed), the engine lets go of the commands it
 * holds, following on_end (proxy/protocols/redis.c): the types have nothing to do for it. */

extern const struct fault_type fault_redis_error, fault_redis_latency, fault_redis_hang;

#endif
