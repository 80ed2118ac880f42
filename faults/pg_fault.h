/* pg_fault.h -- the settings of the Postgres fault types, read by the postgres engine (proxy/protocols/postgres.c).
 *
 * On a `mode = postgres` proxy the types pg_error, pg_latency, pg_hang and pg_drop act per query
 * (a simple Query message, or an extended-protocol Bind of a statement), not per byte: they make
 * no TCP stages (flag FT_PG_ONLY). The type says *what*; proxy/protocols/postgres.c owns every socket, timer and
 * byte. All four share one settings struct (struct pg_fcfg): a matcher plus the action's keys.
 *
 * For every query the engine walks the proxy's faults in profile order and takes the first one
 * that is active, whose matchers all match and whose probability roll says yes (one roll per
 * query). One fault per query.
 *
 * Matchers (all optional; an absent matcher matches everything):
 *   match_query        POSIX extended regex, case-insensitive, searched in the query text
 *   match_user         glob on the startup packet's user
 *   match_application  glob on the startup packet's application_name ("" when none was sent)
 */
#ifndef FL_PG_FAULT_H
#define FL_PG_FAULT_H

#include <regex.h>
#include <stdint.h>
#include "faults/fault.h"
#include "faults/dist.h"

enum pg_act { PGA_NONE = 0, PGA_ERROR, PGA_LATENCY, PGA_HANG, PGA_DROP };

struct pg_match {
    int has_re;
    regex_t re;                  /* match_query, compiled REG_EXTENDED|REG_ICASE|REG_NOSUB */
    char *re_text;
    char *user;                  /* glob, NULL = any */
    char *app;                   /* glob, NULL = any */
};

struct pg_fcfg {
    struct pg_match m;
    enum pg_act act;
    /* pg_error */
    int at_startup;              /* at = startup: answer the startup packet itself */
    char sqlstate[6];
    char *message;               /* NULL = a default text for the sqlstate */
    int fatal;                   /* severity FATAL: the connection is closed after the error */
    /* pg_latency: the delay's draw (faults/dist.h) and its correlation memory, per fault */
    struct dist_cfg lat;
    struct dist_state lat_s;
    /* pg_hang */
    enum hang_end on_end;
    /* pg_drop */
    uint64_t after_rows;         /* DataRows passed before the close */
    int rst;                     /* close = rst: RST instead of FIN */
};

/* Shared by the four types (faults/pg_match.c). pg_match_set returns FKEY_* like a type's set(). */
int pg_match_set(struct pg_match *m, const char *k, const char *v, char *err, size_t errlen);
void pg_match_attrs(const struct pg_match *m, fault_attr_fn emit, void *ud);
void pg_match_free(struct pg_match *m);
/* 1 if every matcher matches. query may be NULL (startup: match_query never matches then). */
int pg_match_ok(const struct pg_match *m, const char *query, const char *user, const char *app);
void pg_fcfg_free(void *cfg);
/* A default message for well-known sqlstates. */
const char *pg_sqlstate_text(const char *sqlstate);

/* When the fault's window closes (or it is removed), the engine lets go of the queries it holds,
 * following on_end: the types have nothing to do for it. */

extern const struct fault_type fault_pg_error, fault_pg_latency, fault_pg_hang, fault_pg_drop;

#endif
