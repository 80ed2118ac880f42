/* redis_error.c -- answer a matching command with an error reply, without forwarding it.
 *
 * Exposes: clients that treat LOADING (a restarting replica), READONLY (a failover just made the
 * node a replica), BUSY (a long Lua script), MOVED (a resharded cluster), OOM or CLUSTERDOWN as
 * fatal, or retry them without backoff.
 *
 * Keys: error = LOADING | READONLY | BUSY | MOVED | ASK | OOM | MASTERDOWN | CLUSTERDOWN |
 * TRYAGAIN | NOSCRIPT | ERR (the server's usual text for each), or any text with a space, used
 * verbatim as the error line ("WRONGTYPE Operation against a key holding the wrong kind of
 * value"). moved_to = host:port for MOVED/ASK (default 127.0.0.1:7000); the slot is the key's real
 * cluster slot. The engine (proxy/protocols/redis.c) answers in order: an error for a pipelined
 * command waits until every reply before it has passed.
 */
#include "faults/redis_fault.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct { const char *name, *text; } known[] = {
    {"LOADING", "LOADING Redis is loading the dataset in memory"},
    {"READONLY", "READONLY You can't write against a read only replica."},
    {"BUSY", "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."},
    {"OOM", "OOM command not allowed when used memory > 'maxmemory'."},
    {"MASTERDOWN", "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."},
    {"CLUSTERDOWN", "CLUSTERDOWN The cluster is down"},
    {"TRYAGAIN", "TRYAGAIN Multiple keys request during rehashing of slot"},
    {"NOSCRIPT", "NOSCRIPT No matching script. Please use EVAL."},
    {"ERR", "ERR injected by faultline"},
};

static void re_init(void *cfg) { ((struct resp_fcfg *)cfg)->act = RESPA_ERROR; }

static int re_set(void *cfg, const char *k, const char *v, char *err, size_t errlen)
{
    struct resp_fcfg *c = cfg;
    int rc = resp_match_set(c, k, v, err, errlen);
    if (rc != FKEY_UNKNOWN) return rc;
    if (!strcmp(k, "error")) {
        if (!*v || strlen(v) > 1000 || strpbrk(v, "\r\n")) {
            snprintf(err, errlen, "an error line of 1..1000 characters without CR/LF");
            return FKEY_BAD;
        }
        free(c->error);
        c->error = NULL;
        c->moved = 0;
        if (!strcasecmp(v, "MOVED") || !strcasecmp(v, "ASK")) {
            c->moved = 1;
            c->error = strdup(!strcasecmp(v, "MOVED") ? "MOVED" : "ASK");
        } else {
            for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                if (!strcasecmp(v, known[i].name)) c->error = strdup(known[i].text);
            if (!c->error) {
                if (!strchr(v, ' ')) {
                    snprintf(err, errlen, "'%s' is not a known error (LOADING, READONLY, BUSY, MOVED, ASK, OOM, "
                             "MASTERDOWN, CLUSTERDOWN, TRYAGAIN, NOSCRIPT, ERR) nor a full error line 'CODE text'", v);
                    return FKEY_BAD;
                }
                c->error = strdup(v);
            }
        }
        if (!c->error) abort();
        return FKEY_OK;
    }
    if (!strcmp(k, "moved_to")) {
        if (!strchr(v, ':') || strpbrk(v, " \r\n")) { snprintf(err, errlen, "'%s' is not host:port", v); return FKEY_BAD; }
        free(c->moved_to);
        c->moved_to = strdup(v);
        if (!c->moved_to) abort();
        return FKEY_OK;
    }
    return FKEY_UNKNOWN;
}

static void re_attrs(const void *cfg, fault_attr_fn emit, void *ud)
{
    const struct resp_fcfg *c = cfg;
    emit(ud, "error", c->error ? c->error : "ERR injected by faultline");
    if (c->moved) emit(ud, "moved_to", c->moved_to ? c->moved_to : "127.0.0.1:7000");
    resp_match_attrs(c, emit, ud);
}

const struct fault_type fault_redis_error = {
    .name = "redis_error",
    .summary = "redis: answer a matching command with an error (LOADING, READONLY, BUSY, MOVED, custom) without forwarding it",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct resp_fcfg),
    .init = re_init,
    .set = re_set,
    .attrs = re_attrs,
    .cfg_free = resp_fcfg_free,
    .flags = FT_REDIS_ONLY,
};
