/* fault.c -- building a fault from key/value pairs: the common keys, then the type's own.
 *
 * Profiles and the admin API both end here, so a key means the same thing from either side.
 * The pairs are kept verbatim (f->kv) so that a reload can tell an unchanged fault from a
 * changed one, and so the API can show a fault the way it was written.
 */
#include "faults/fault.h"
#include "faults/dist.h"
#include "faults/scope.h"
#include "common/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *fault_dir_str(unsigned dir)
{
    return dir == FDIR_UP ? "upstream" : dir == FDIR_DOWN ? "downstream" : "both";
}

int fkey_duration(const char *v, int64_t *out, char *err, size_t errlen)
{
    return parse_duration(v, out, err, errlen) < 0 ? FKEY_BAD : FKEY_OK;
}

int fkey_size(const char *v, uint64_t *out, char *err, size_t errlen)
{
    return parse_size(v, out, err, errlen) < 0 ? FKEY_BAD : FKEY_OK;
}

static const char *hang_end_names[] = {"keep", "release", "reset"};

int fkey_hang_end(const char *v, enum hang_end *out, char *err, size_t errlen)
{
    for (int i = 0; i < 3; i++)
        if (strcasecmp(v, hang_end_names[i]) == 0) { *out = (enum hang_end)i; return FKEY_OK; }
    snprintf(err, errlen, "'%s' is not keep, release or reset", v);
    return FKEY_BAD;
}

const char *hang_end_str(enum hang_end e) { return hang_end_names[e]; }

static char *dupstr(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p) abort();
    return p;
}

/* Splits "Name: value-glob" for match_header. */
static int split_header(const char *v, char **name, char **value)
{
    const char *c = strchr(v, ':');
    if (!c || c == v) return -1;
    size_t nl = (size_t)(c - v);
    while (nl > 0 && (v[nl - 1] == ' ' || v[nl - 1] == '\t')) nl--;
    *name = strndup(v, nl);
    c++;
    while (*c == ' ' || *c == '\t') c++;
    *value = dupstr(c);
    return 0;
}

/* One of the keys every type takes (into f), FKEY_UNKNOWN when k is not one, or FKEY_BAD with err. */
static int set_common(struct fault *f, const char *k, const char *v, int *have_proxy, char *err, size_t errlen)
{
    char e[300];
    if (strcmp(k, "proxy") == 0) {
        if (!*v || strlen(v) >= sizeof(f->proxy)) { snprintf(err, errlen, "proxy: bad proxy name"); return FKEY_BAD; }
        snprintf(f->proxy, sizeof(f->proxy), "%s", v);
        *have_proxy = 1;
    } else if (strcmp(k, "direction") == 0 || strcmp(k, "stream") == 0) {
        if (!strcasecmp(v, "upstream")) f->dir = FDIR_UP;
        else if (!strcasecmp(v, "downstream")) f->dir = FDIR_DOWN;
        else if (!strcasecmp(v, "both")) f->dir = FDIR_BOTH;
        else { snprintf(err, errlen, "%s: '%s' is not upstream, downstream or both", k, v); return FKEY_BAD; }
    } else if (strcmp(k, "probability") == 0 || strcmp(k, "toxicity") == 0) {
        /* 0..1 or a percentage ("50%"), as loss and corrupt take their shares */
        if (fkey_fraction(v, &f->probability, e, sizeof(e)) != FKEY_OK) {
            snprintf(err, errlen, "%s: %s (a share between 0 and 1, or 0%%..100%%)", k, e);
            return FKEY_BAD;
        }
    } else if (strcmp(k, "start") == 0) {
        if (parse_duration(v, &f->start_us, e, sizeof(e)) < 0) { snprintf(err, errlen, "start: %s", e); return FKEY_BAD; }
    } else if (strcmp(k, "duration") == 0) {
        if (parse_duration(v, &f->duration_us, e, sizeof(e)) < 0) { snprintf(err, errlen, "duration: %s", e); return FKEY_BAD; }
    } else if (strcmp(k, "ttl") == 0) {
        if (parse_duration(v, &f->ttl_us, e, sizeof(e)) < 0) { snprintf(err, errlen, "ttl: %s", e); return FKEY_BAD; }
    } else if (strcmp(k, "enabled") == 0) {
        if (parse_bool(v, &f->enabled, e, sizeof(e)) < 0) { snprintf(err, errlen, "enabled: %s", e); return FKEY_BAD; }
    } else if (strcmp(k, "match_method") == 0) {
        free(f->match_method);
        f->match_method = dupstr(v);
    } else if (strcmp(k, "match_path") == 0) {
        free(f->match_path);
        f->match_path = dupstr(v);
    } else if (strcmp(k, "match_host") == 0) {
        free(f->match_host);
        f->match_host = dupstr(v);
    } else if (strcmp(k, "match_header") == 0) {
        free(f->match_header_name);
        free(f->match_header_value);
        f->match_header_name = f->match_header_value = NULL;
        if (split_header(v, &f->match_header_name, &f->match_header_value) < 0) {
            snprintf(err, errlen, "match_header: '%s' is not 'Name: value-glob'", v);
            return FKEY_BAD;
        }
    } else if (strcmp(k, "clients") == 0) {
        if (!f->clients && !(f->clients = malloc(sizeof(*f->clients)))) abort();
        if (cidr_parse(v, f->clients, e, sizeof(e)) < 0) { snprintf(err, errlen, "clients: %s", e); return FKEY_BAD; }
    } else if (strcmp(k, "max_active") == 0) {
        int64_t m;
        if (parse_int(v, 1, 1000000000, &m, e, sizeof(e)) < 0) { snprintf(err, errlen, "max_active: %s", e); return FKEY_BAD; }
        f->max_active = (unsigned)m;
    } else {
        return FKEY_UNKNOWN;
    }
    return FKEY_OK;
}

/* match_* keys need a type that can read them: per HTTP request (.http) all of them; a TLS fault
 * acts before any request and matches the name the client asked for only (match_host). */
static int match_keys_fit(const struct fault *f, char *err, size_t errlen)
{
    const struct fault_type *t = f->type;
    if ((t->flags & FT_TLS) && (f->match_method || f->match_path || f->match_header_name)) {
        snprintf(err, errlen, "%s takes match_host only (the name the client asked for: SNI, or CONNECT's host)", t->name);
        return -1;
    }
    if ((f->match_method || f->match_path || f->match_host || f->match_header_name) && !t->http && !(t->flags & FT_TLS)) {
        snprintf(err, errlen, "match_* keys need a fault type that acts per HTTP request (%s does not)", t->name);
        return -1;
    }
    return 0;
}

struct fault *fault_build(const char *name, const char *const *keys, const char *const *vals, int n,
                          int *bad, char *err, size_t errlen)
{
    *bad = -1;
    char e[300];
    if (!name || !*name || strlen(name) >= sizeof(((struct fault *)0)->name)) {
        snprintf(err, errlen, "name: must be 1..127 characters");
        return NULL;
    }
    for (const char *p = name; *p; p++)
        if (*p == '/' || *p == ' ' || (unsigned char)*p < 0x21) {
            snprintf(err, errlen, "name: '%s' may not hold '/', spaces or control characters", name);
            return NULL;
        }
    /* the type first: it decides which other keys exist */
    const struct fault_type *t = NULL;
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i], "type") == 0) {
            t = fault_type_find(vals[i]);
            if (!t) {
                *bad = i;
                size_t o = (size_t)snprintf(err, errlen, "type: unknown fault type '%s' (one of:", vals[i]);
                for (int k = 0; fault_types[k] && o < errlen; k++)
                    o += (size_t)snprintf(err + o, errlen - o, " %s", fault_types[k]->name);
                if (o < errlen) snprintf(err + o, errlen - o, ")");
                return NULL;
            }
        }
    if (!t) { snprintf(err, errlen, "'type' is required"); return NULL; }
    /* a key given twice would silently lose its first value: refused (but the type's repeatable one) */
    for (int i = 1; i < n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(keys[i], keys[j]) && !(t->repeatable && !strcmp(keys[i], t->repeatable))) {
                *bad = i;
                snprintf(err, errlen, "%s: given twice (a fault takes one value)", keys[i]);
                return NULL;
            }

    struct fault *f = calloc(1, sizeof(*f));
    if (!f) abort();
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->type = t;
    f->dir = t->default_dir ? t->default_dir : FDIR_DOWN;
    f->probability = 1.0;
    f->enabled = 1;
    f->cfg = calloc(1, t->cfg_size ? t->cfg_size : 1);
    if (!f->cfg) abort();
    if (t->init) t->init(f->cfg);
    f->kv = calloc((size_t)n + 1, sizeof(*f->kv));
    if (!f->kv) abort();
    int have_proxy = 0;
    for (int i = 0; i < n; i++) {
        const char *k = keys[i], *v = vals[i];
        f->kv[f->nkv].key = dupstr(k);
        f->kv[f->nkv].value = dupstr(v);
        f->nkv++;
        *bad = i;
        if (strcmp(k, "type") == 0) continue;
        int crc = set_common(f, k, v, &have_proxy, err, errlen);
        if (crc == FKEY_BAD) goto fail;
        if (crc == FKEY_UNKNOWN) {
            int rc = t->set ? t->set(f->cfg, k, v, e, sizeof(e)) : FKEY_UNKNOWN;
            if (rc == FKEY_UNKNOWN) {
                snprintf(err, errlen, "unknown key '%s' for type %s", k, t->name);
                goto fail;
            }
            if (rc != FKEY_OK) { snprintf(err, errlen, "%s: %s", k, e); goto fail; }
        }
    }
    *bad = -1;
    if (!have_proxy) { snprintf(err, errlen, "'proxy' is required"); goto fail; }
    if (match_keys_fit(f, err, errlen) < 0) goto fail;
    if (f->clients && (t->flags & FT_CONN_LEVEL) && !(t->flags & FT_TLS)) {   /* refuse: the listener itself */
        snprintf(err, errlen, "clients: %s acts on the proxy's listener, before any caller's address is known", t->name);
        goto fail;
    }
    if (f->max_active && (t->flags & (FT_CONN_LEVEL | FT_PG_ONLY | FT_REDIS_ONLY | FT_TLS))) {
        snprintf(err, errlen, "max_active: %s does not hold connections or http requests (tcp-level and http faults take it)", t->name);
        goto fail;
    }
    if (t->validate && t->validate(f->cfg, e, sizeof(e)) < 0) { snprintf(err, errlen, "%s", e); goto fail; }
    return f;
fail:
    fault_free(f);
    return NULL;
}

void fault_free(struct fault *f)
{
    if (!f) return;
    if (f->timer) event_free(f->timer);
    if (f->cfg) {
        if (f->type && f->type->cfg_free) f->type->cfg_free(f->cfg);
        free(f->cfg);
    }
    for (int i = 0; i < f->nkv; i++) {
        free(f->kv[i].key);
        free(f->kv[i].value);
    }
    free(f->kv);
    free(f->match_method);
    free(f->match_path);
    free(f->match_host);
    free(f->match_header_name);
    free(f->match_header_value);
    free(f->clients);
    free(f);
}

int fault_same_spec(const struct fault *a, const struct fault *b)
{
    if (strcmp(a->name, b->name) || a->nkv != b->nkv) return 0;
    for (int i = 0; i < a->nkv; i++)
        if (strcmp(a->kv[i].key, b->kv[i].key) || strcmp(a->kv[i].value, b->kv[i].value)) return 0;
    return 1;
}

void fault_attrs(const struct fault *f, fault_attr_fn emit, void *ud)
{
    char b[64];
    emit(ud, "proxy", f->proxy);
    emit(ud, "type", f->type->name);
    emit(ud, "direction", fault_dir_str(f->dir));
    snprintf(b, sizeof(b), "%g", f->probability);
    emit(ud, "probability", b);
    emit(ud, "start", duration_str(f->start_us, b, sizeof(b)));
    emit(ud, "duration", duration_str(f->duration_us, b, sizeof(b)));
    if (f->ttl_us) emit(ud, "ttl", duration_str(f->ttl_us, b, sizeof(b)));
    emit(ud, "enabled", f->enabled ? "yes" : "no");
    if (f->match_method) emit(ud, "match_method", f->match_method);
    if (f->match_path) emit(ud, "match_path", f->match_path);
    if (f->match_host) emit(ud, "match_host", f->match_host);
    if (f->match_header_name) {
        char h[600];
        snprintf(h, sizeof(h), "%s: %s", f->match_header_name, f->match_header_value);
        emit(ud, "match_header", h);
    }
    if (f->clients) {
        char cl[CIDR_MAX * 48];
        emit(ud, "clients", cidr_str(f->clients, cl, sizeof(cl)));
    }
    if (f->max_active) {
        snprintf(b, sizeof(b), "%u", f->max_active);
        emit(ud, "max_active", b);
    }
    if (f->type->attrs) f->type->attrs(f->cfg, emit, ud);
}
