/* pg_match.c -- what the four Postgres fault types share: the matchers (match_query,
 * match_user, match_application), freeing their settings, and default error texts.
 * See faults/pg_fault.h for the semantics.
 */
#include "faults/pg_fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
    if (!*dst) abort();
    return FKEY_OK;
}

int pg_match_set(struct pg_match *m, const char *k, const char *v, char *err, size_t errlen)
{
    if (!strcmp(k, "match_query")) {
        if (m->has_re) { regfree(&m->re); m->has_re = 0; }
        int rc = regcomp(&m->re, v, REG_EXTENDED | REG_ICASE | REG_NOSUB);
        if (rc != 0) {
            char e[200];
            regerror(rc, &m->re, e, sizeof(e));
            snprintf(err, errlen, "'%s' is not a POSIX extended regex: %s", v, e);
            return FKEY_BAD;
        }
        m->has_re = 1;
        return set_str(&m->re_text, v);
    }
    if (!strcmp(k, "match_user")) return set_str(&m->user, v);
    if (!strcmp(k, "match_application")) return set_str(&m->app, v);
    return FKEY_UNKNOWN;
}

void pg_match_attrs(const struct pg_match *m, fault_attr_fn emit, void *ud)
{
    if (m->re_text) emit(ud, "match_query", m->re_text);
    if (m->user) emit(ud, "match_user", m->user);
    if (m->app) emit(ud, "match_application", m->app);
}

void pg_match_free(struct pg_match *m)
{
    if (m->has_re) regfree(&m->re);
    m->has_re = 0;
    free(m->re_text);
    free(m->user);
    free(m->app);
    m->re_text = m->user = m->app = NULL;
}

int pg_match_ok(const struct pg_match *m, const char *query, const char *user, const char *app)
{
    if (m->has_re && (!query || regexec(&m->re, query, 0, NULL, 0) != 0)) return 0;
    if (m->user && !glob_match(m->user, user ? user : "")) return 0;
    if (m->app && !glob_match(m->app, app ? app : "")) return 0;
    return 1;
}

void pg_fcfg_free(void *cfg)
{
    struct pg_fcfg *c = cfg;
    pg_match_free(&c->m);
    free(c->message);
    c->message = NULL;
}

const char *pg_sqlstate_text(const char *s)
{
    static const struct { const char *code, *text; } known[] = {
        {"53300", "sorry, too many clients already"},
        {"57P01", "terminating connection due to administrator command"},
        {"57P02", "terminating connection due to crash shutdown"},
        {"57P03", "the database system is starting up"},
        {"57014", "canceling statement due to statement timeout"},
        {"40001", "could not serialize access due to concurrent update"},
        {"40P01", "deadlock detected"},
        {"08006", "connection failure"},
        {"25006", "cannot execute statement in a read-only transaction"},
        {"53200", "out of memory"},
        {"53100", "could not extend file: No space left on device"},
        {"55P03", "could not obtain lock on row"},
        {"23505", "duplicate key value violates unique constraint"},
        {"28P01", "password authentication failed"},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (!strcmp(known[i].code, s)) return known[i].text;
    return "error injected by faultline";
}
