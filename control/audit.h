/* control/audit.h -- the audit log: who changed what, when and from where (docs/console.md,
 * docs/api.md "GET /audit").
 *
 * What: one entry per change made through the admin API (both faces, faultline ctl, the
 * console, POST /profile) and per fleet command (audit_note), written three ways: one escaped
 * log line (event=audit), an entry of the run's stream fl:run:<run>:audit when the daemon
 * records (bounded: MAXLEN ~ 10000, record/record.h rec_audit), and a ring of the last
 * AUDIT_RING entries in memory that GET /audit answers.
 * Who: the token's name (admin_token_name, default "admin") when a token is set, "loopback"
 * when the API has none; a console session carries the name of the token it logged in with.
 * Why: a game day has several people and a fleet changing faults at once; afterwards the
 * report must say who did what.
 * What not: never a token, a password, a request body or a query string other than ?proxy=
 * (only the method, the path, the fault's name and type); nothing here decides anything.
 */
#ifndef FL_AUDIT_H
#define FL_AUDIT_H
#include <stddef.h>
#include <stdint.h>

#define AUDIT_RING 512

/* One entry. Strings are cut to their size (never a token: see above). */
struct audit_entry {
    int64_t at_ms;               /* wall clock, ms since the epoch */
    char who[64];                /* token name, "loopback", or the fleet's sender */
    char via[16];                /* api, toxiproxy, ctl, run, console, fleet */
    char what[320];              /* "POST /faults pay-slow (latency)", or audit_note's what */
    char method[8], path[200];   /* "" for audit_note */
    char fault[128], type[48];   /* "" when the change names no fault */
    int status;                  /* the HTTP status answered (0 for audit_note) */
    char inst[128];              /* this daemon's instance id (as the record names it) */
    char remote[80];             /* the client's address ("" for audit_note) */
};

/* The fleet's hook (and any other caller in the daemon): records one change made by `who`,
 * described by `what` (one line: it is escaped, and cut at 319 bytes), at `where` (the
 * instance id or address it came from; NULL or "" = this daemon's instance). The entry's via
 * is "fleet". Runs on the daemon's loop; never blocks (the Redis write is queued). */
void audit_note(const char *who, const char *what, const char *where);

/* Writes e (its at_ms and inst filled in when 0 / "") to the log, the record and the ring. */
void audit_add(struct audit_entry *e);

/* The newest n entries (at most AUDIT_RING), oldest first, into out (caller's array of n).
 * Returns how many were copied; *total (may be NULL) = entries added since the start. */
int audit_last(struct audit_entry *out, int n, uint64_t *total);

/* This daemon's instance id: [faultline] instance, else HOSTNAME-PID (the record's rule). Set
 * by the admin API at start; "" before. */
void audit_set_instance(const char *inst);
const char *audit_instance(void);

/* ---- internal to control/ (the admin API's side) ---- */
#ifdef FL_ADMIN_INTERNAL
struct adm_req;
/* After a request that changes something (not GET/HEAD) was answered with status: its entry,
 * built from the request (method, path, the fault's name and type from the path or the JSON
 * body, r->who, the client's address). */
void audit_api(struct adm_req *r, int status);
/* GET /audit[?n=N]: 1 if the path is /audit (a reply was sent), 0 otherwise. */
int adm_audit_route(struct adm_req *r);
#endif

#endif
