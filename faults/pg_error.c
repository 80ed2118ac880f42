/* pg_error.c -- answer a matching query (or the startup packet) with an ErrorResponse.
 *
 * Exposes: services that treat every database error as fatal, retry loops that do not retry
 * serialization failures (40001) or deadlocks (40P01), pools that never notice an admin
 * shutdown (57P01), and connect paths that crash on "too many clients" (53300).
 *
 * Keys: sqlstate (required, 5 characters), message (default: the server's usual text for the
 * sqlstate), severity = ERROR | FATAL (FATAL closes the connection after the error, as the
 * server does), at = query | startup. The engine (proxy/protocols/postgres.c) does the answering: a matching
 * simple Query is answered without reaching the server, with ErrorResponse + ReadyForQuery
 * carrying the session's current transaction status; in the extended protocol the matching Bind
 * and everything up to Sync is discarded and the answer comes at Sync. At startup the answer is
 * always FATAL and the connection closes (the protocol allows nothing else).
 */
#include "faults/pg_fault.h"
#include "common/parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void pg_error_init(void *cfg) { ((struct pg_fcfg *)cfg)->act = PGA_ERROR; }

static int pg_error_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct pg_fcfg *c = cfg;
    int rc = pg_match_set(&c->m, k, v, err, errlen);
    if (rc != FKEY_UNKNOWN) return rc;
    if (!strcmp(k, "sqlstate")) {
        if (strlen(v) != 5) goto bad_state;
        for (int i = 0; i < 5; i++)
            if (!isdigit((unsigned char)v[i]) && !isupper((unsigned char)v[i])) goto bad_state;
        memcpy(c->sqlstate, v, 6);
        return FKEY_OK;
    bad_state:
        snprintf(err, errlen, "'%s' is not a SQLSTATE (5 digits or upper-case letters, e.g. 40001)", v);
        return FKEY_BAD;
    }
    if (!strcmp(k, "message")) {
        if (strlen(v) > 1000) { snprintf(err, errlen, "at most 1000 characters"); return FKEY_BAD; }
        free(c->message);
        c->message = strdup(v);
        if (!c->message) abort();
        return FKEY_OK;
    }
    if (!strcmp(k, "severity")) {
        if (!strcasecmp(v, "error")) c->fatal = 0;
        else if (!strcasecmp(v, "fatal")) c->fatal = 1;
        else { snprintf(err, errlen, "'%s' is not ERROR or FATAL", v); return FKEY_BAD; }
        return FKEY_OK;
    }
    if (!strcmp(k, "at")) {
        if (!strcasecmp(v, "query")) c->at_startup = 0;
        else if (!strcasecmp(v, "startup")) c->at_startup = 1;
        else { snprintf(err, errlen, "'%s' is not query or startup", v); return FKEY_BAD; }
        return FKEY_OK;
    }
    return FKEY_UNKNOWN;
}

static int pg_error_validate(const void *cfg, char *err, size_t errlen)
{
    const struct pg_fcfg *c = cfg;
    if (!c->sqlstate[0]) { snprintf(err, errlen, "'sqlstate' is required (e.g. sqlstate = 40001)"); return -1; }
    if (c->at_startup && c->m.has_re) {
        snprintf(err, errlen, "match_query: a startup packet has no query (use match_user / match_application)");
        return -1;
    }
    return 0;
}

static void pg_error_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct pg_fcfg *c = cfg;
    emit(ud, "sqlstate", c->sqlstate);
    emit(ud, "message", c->message ? c->message : pg_sqlstate_text(c->sqlstate));
    emit(ud, "severity", c->fatal || c->at_startup ? "FATAL" : "ERROR");
    emit(ud, "at", c->at_startup ? "startup" : "query");
    pg_match_attrs(&c->m, emit, ud);
}

const struct fault_type fault_pg_error = {
    .name = "pg_error",
    .summary = "postgres: answer a matching query (or the startup) with an ErrorResponse carrying sqlstate",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct pg_fcfg),
    .init = pg_error_init,
    .set = pg_error_set,
    .validate = pg_error_validate,
    .attrs = pg_error_attrs,
    .cfg_free = pg_fcfg_free,
    .flags = FT_PG_ONLY,
};
