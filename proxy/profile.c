/* profile.c -- from an inidoc to validated proxy and fault specs. See profile.h.
 *
 * Validation is total before anything is used: unknown sections and keys, missing required
 * keys, malformed values, duplicate names and two proxies on one listen address are all errors
 * with the line of the key (or of the section header when a key is missing). Fault names are
 * per proxy, as on the admin API: [fault lat] on proxy a and [fault lat] on proxy b are two
 * faults; twice on one proxy is a duplicate.
 */
#include "proxy/profile.h"
#include "proxy/protocol.h"
#include "proxy/tls.h"
#include "proxy/fleet_spec.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The first protocol that has flag (for messages naming who has a feature). */
static const struct protocol *protocol_with(unsigned flag)
{
    for (int i = 0; protocols[i]; i++)
        if (protocols[i]->flags & flag) return protocols[i];
    return protocols[0];
}

void global_defaults(struct global_spec *g)
{
    memset(g, 0, sizeof(*g));
    char e[100];
    parse_addr("127.0.0.1:8474", 0, &g->admin, e, sizeof(e));
    snprintf(g->admin_text, sizeof(g->admin_text), "127.0.0.1:8474");
    g->log_level = LOG_INFO;
    g->log_format = LOG_LOGFMT;
    g->buffer = 256 * 1024;
    g->drain_us = 5000000;
    g->retention_us = 7LL * 86400 * 1000000;
    g->record_interval_us = 1000000;
    g->record_max_bytes = 256ULL << 20;
    limits_defaults(&g->lim);
}

#define KEYERR(line, ...) inidoc_err(d, line, err, errlen, __VA_ARGS__)

static int load_global(struct inidoc *d, struct inisec *s, struct global_spec *g, char *err, size_t errlen)
{
    char e[300];
    int line;
    const char *v;
    if ((v = inisec_get(s, "admin", &line))) {
        if (strcasecmp(v, "off") == 0) g->admin_off = 1;
        else if (parse_addr(v, 0, &g->admin, e, sizeof(e)) < 0) return KEYERR(line, "admin: %s", e);
        snprintf(g->admin_text, sizeof(g->admin_text), "%s", v);
    }
    if ((v = inisec_get(s, "admin_token", &line))) snprintf(g->admin_token, sizeof(g->admin_token), "%s", v);
    if ((v = inisec_get(s, "log", &line))) {
        enum log_level l;
        if (log_level_parse(v, &l) < 0) return KEYERR(line, "log: '%s' is not debug, info, warn or error", v);
        g->log_level = (int)l;
    }
    if ((v = inisec_get(s, "log_format", &line))) {
        enum log_format f;
        if (log_format_parse(v, &f) < 0) return KEYERR(line, "log_format: '%s' is not logfmt or json", v);
        g->log_format = (int)f;
    }
    if ((v = inisec_get(s, "buffer", &line))) {
        if (parse_size(v, &g->buffer, e, sizeof(e)) < 0) return KEYERR(line, "buffer: %s", e);
        if (g->buffer < 4096 || g->buffer > (1ULL << 30)) return KEYERR(line, "buffer: must be 4KiB..1GiB");
    }
    if ((v = inisec_get(s, "drain", &line)) && parse_duration(v, &g->drain_us, e, sizeof(e)) < 0)
        return KEYERR(line, "drain: %s", e);
    if ((v = inisec_get(s, "max_fault_duration", &line)) &&
        parse_duration(v, &g->max_fault_duration_us, e, sizeof(e)) < 0)
        return KEYERR(line, "max_fault_duration: %s", e);
    if ((v = inisec_get(s, "redis", &line))) snprintf(g->redis, sizeof(g->redis), "%s", v);
    if ((v = inisec_get(s, "run", &line))) {
        for (const char *p = v; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  *p == '-' || *p == '_' || *p == '.'))
                return KEYERR(line, "run: '%s' may hold only letters, digits, '-', '_' and '.'", v);
        snprintf(g->run, sizeof(g->run), "%s", v);
    }
    if ((v = inisec_get(s, "instance", &line))) snprintf(g->instance, sizeof(g->instance), "%s", v);
    if ((v = inisec_get(s, "retention", &line)) && parse_duration(v, &g->retention_us, e, sizeof(e)) < 0)
        return KEYERR(line, "retention: %s", e);
    if ((v = inisec_get(s, "record_interval", &line))) {
        if (parse_duration(v, &g->record_interval_us, e, sizeof(e)) < 0) return KEYERR(line, "record_interval: %s", e);
        if (g->record_interval_us < 100000) return KEYERR(line, "record_interval: at least 100ms");
    }
    if ((v = inisec_get(s, "seed", &line))) {
        int64_t sd;
        if (parse_int(v, 1, INT64_MAX, &sd, e, sizeof(e)) < 0) return KEYERR(line, "seed: %s", e);
        g->seed = (uint64_t)sd;
        g->seed_set = 1;
    }
    if ((v = inisec_get(s, "record_max_bytes", &line))) {
        if (parse_size(v, &g->record_max_bytes, e, sizeof(e)) < 0) return KEYERR(line, "record_max_bytes: %s", e);
        if (g->record_max_bytes < (1ULL << 20) || g->record_max_bytes > (1ULL << 40))
            return KEYERR(line, "record_max_bytes: must be 1MiB..1TiB");
    }
    if (policy_load(d, s, g, err, errlen) < 0) return -1;
    if (limits_load(d, s, &g->lim, 1, err, errlen) < 0) return -1;
    return inisec_check_unused(d, s, err, errlen);
}

/* header_control, header_control_clients, header_control_max_delay (http proxies). */
static int load_hdrctl(struct inidoc *d, struct inisec *s, struct proxy_spec *p, char *err, size_t errlen)
{
    char e[300];
    int line, cline, mline;
    const char *v = inisec_get(s, "header_control", &line);
    const char *cv = inisec_get(s, "header_control_clients", &cline), *mv = inisec_get(s, "header_control_max_delay", &mline);
    p->hdrctl.max_delay_us = 30 * 1000000LL;
    if (v && parse_bool(v, &p->hdrctl.on, e, sizeof(e)) < 0) return KEYERR(line, "header_control: %s", e);
    if (p->hdrctl.on && !(p->protocol->flags & PROTO_REQUESTS)) {
        const struct protocol *rq = protocol_with(PROTO_REQUESTS);
        return KEYERR(line, "header_control: needs %s %s proxy (mode = %s): it reads request headers", protocol_article(rq),
                      rq->name, rq->name);
    }
    if (cv && !p->hdrctl.on) return KEYERR(cline, "header_control_clients: only with header_control = on");
    if (mv && !p->hdrctl.on) return KEYERR(mline, "header_control_max_delay: only with header_control = on");
    if (cv && cidr_parse(cv, &p->hdrctl.clients, e, sizeof(e)) < 0) return KEYERR(cline, "header_control_clients: %s", e);
    if (!cv && p->hdrctl.on) cidr_parse("127.0.0.0/8, ::1/128", &p->hdrctl.clients, e, sizeof(e));   /* the loopback */
    if (mv) {
        if (parse_duration(mv, &p->hdrctl.max_delay_us, e, sizeof(e)) < 0) return KEYERR(mline, "header_control_max_delay: %s", e);
        if (p->hdrctl.max_delay_us <= 0 || p->hdrctl.max_delay_us > 3600 * 1000000LL)
            return KEYERR(mline, "header_control_max_delay: must be more than 0 and at most 1h");
    }
    return 0;
}

static int load_proxy(struct inidoc *d, struct inisec *s, struct proxy_spec *p, char *err, size_t errlen)
{
    char e[300];
    int line;
    const char *v;
    memset(p, 0, sizeof(*p));
    p->protocol = protocols[0];
    p->enabled = 1;
    p->line = s->line;
    if (!s->name[0]) return KEYERR(s->line, "[proxy] needs a name: [proxy NAME]");
    if (strlen(s->name) >= sizeof(p->name)) return KEYERR(s->line, "proxy name too long");
    snprintf(p->name, sizeof(p->name), "%s", s->name);
    /* a misspelt key is reported as unknown (at its own line) before anything is called missing */
    int lline, uline;
    const char *lv = inisec_get(s, "listen", &lline), *uv = inisec_get(s, "upstream", &uline);
    if ((v = inisec_get(s, "mode", &line)) && !(p->protocol = protocol_find(v)))
        return KEYERR(line, "mode: '%s' is not %s", v, protocol_names());
    if ((v = inisec_get(s, "enabled", &line)) && parse_bool(v, &p->enabled, e, sizeof(e)) < 0)
        return KEYERR(line, "enabled: %s", e);
    if ((v = inisec_get(s, "add_via", &line)) && parse_bool(v, &p->add_via, e, sizeof(e)) < 0)
        return KEYERR(line, "add_via: %s", e);
    if ((v = inisec_get(s, "id_header", &line))) {
        size_t n = strlen(v);
        if (!n || n >= sizeof(p->id_header) || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != n)
            return KEYERR(line, "id_header: '%s' is not a header name", v);
        snprintf(p->id_header, sizeof(p->id_header), "%s", v);
    }
    if (p->protocol->spec_load && p->protocol->spec_load(d, s, p, err, errlen) < 0) return -1;   /* its own keys */
    if (tls_spec_load(d, s, p, err, errlen) < 0) return -1;   /* tls, tls_*, upstream_tls, upstream_* */
    if (load_hdrctl(d, s, p, err, errlen) < 0) return -1;
    if ((v = inisec_get(s, "role", &line))) {
        if (strcasecmp(v, "ingress") == 0) p->role = ROLE_INGRESS;
        else if (strcasecmp(v, "egress") == 0) p->role = ROLE_EGRESS;
        else return KEYERR(line, "role: '%s' is not egress or ingress", v);
        /* the ingress view is the service's own answers: only an http proxy sees them */
        if (p->role == ROLE_INGRESS && !(p->protocol->flags & PROTO_REQUESTS)) {
            const struct protocol *rq = protocol_with(PROTO_REQUESTS);
            return KEYERR(line, "role: ingress needs %s %s proxy (mode = %s): the verifier judges the service's responses",
                          protocol_article(rq), rq->name, rq->name);
        }
    }
    if (limits_load(d, s, &p->lim, 0, err, errlen) < 0) return -1;
    if (inisec_check_unused(d, s, err, errlen) < 0) return -1;
    if (!lv) return KEYERR(s->line, "[proxy %s] is missing 'listen'", s->name);
    if (parse_addr(lv, 0, &p->listen, e, sizeof(e)) < 0) return KEYERR(lline, "listen: %s", e);
    snprintf(p->listen_text, sizeof(p->listen_text), "%s", lv);
    if (p->protocol->flags & PROTO_ROUTES) {
        /* a forward proxy's upstreams come from its requests: no upstream of its own (a name, empty) */
        if (uv) return KEYERR(uline, "upstream: mode = %s takes its destinations from the requests (allow = ...), not an upstream",
                              p->protocol->name);
        p->upstream.kind = ADDR_NAME;
        snprintf(p->upstream_text, sizeof(p->upstream_text), "(per request)");
        return 0;
    }
    if (!uv && (p->protocol->flags & PROTO_UPSTREAM_OPTIONAL)) return 0;
    if (!uv) return KEYERR(s->line, "[proxy %s] is missing 'upstream'", s->name);
    if (parse_addr(uv, 1, &p->upstream, e, sizeof(e)) < 0) return KEYERR(uline, "upstream: %s", e);
    snprintf(p->upstream_text, sizeof(p->upstream_text), "%s", uv);
    return 0;
}

static int load_fault(struct inidoc *d, struct inisec *s, struct profile *p, char *err, size_t errlen)
{
    if (!s->name[0]) return KEYERR(s->line, "[fault] needs a name: [fault NAME]");
    const char **keys = calloc((size_t)s->nkeys + 1, sizeof(char *));
    const char **vals = calloc((size_t)s->nkeys + 1, sizeof(char *));
    if (!keys || !vals) abort();
    for (int i = 0; i < s->nkeys; i++) {
        keys[i] = s->keys[i].key;
        vals[i] = s->keys[i].value;
        s->keys[i].used = 1;
    }
    int bad = -1;
    char e[400];
    struct fault *f = fault_build(s->name, keys, vals, s->nkeys, &bad, e, sizeof(e));
    free(keys);
    free(vals);
    if (!f) return KEYERR(bad >= 0 ? s->keys[bad].line : s->line, "[fault %s] %s", s->name, e);
    int found = 0;
    for (int i = 0; i < p->nproxies; i++)
        if (strcmp(p->proxies[i].name, f->proxy) == 0) {
            found = 1;
            if (!protocol_accepts(p->proxies[i].protocol, f->type)) {
                int line;
                inisec_get(s, "type", &line);
                char why[300];
                KEYERR(line, "[fault %s] type '%s' %s; '%s' is mode %s", s->name, f->type->name,
                       protocol_refusal(p->proxies[i].protocol, f->type, why, sizeof(why)), p->proxies[i].name,
                       p->proxies[i].protocol->name);
                fault_free(f);
                return -1;
            }
            char why[400];
            if (tls_fault_fits(&p->proxies[i], f, why, sizeof(why)) < 0) {   /* TLS faults need TLS terminated */
                int line;
                inisec_get(s, "type", &line);
                KEYERR(line, "[fault %s] %s", s->name, why);
                fault_free(f);
                return -1;
            }
        }
    if (!found) {
        int line;
        inisec_get(s, "proxy", &line);
        KEYERR(line, "[fault %s] proxy: no [proxy %s] in this profile", s->name, f->proxy);
        fault_free(f);
        return -1;
    }
    struct fault **nf = realloc(p->faults, sizeof(*nf) * (size_t)(p->nfaults + 1));
    if (!nf) abort();
    p->faults = nf;
    p->faults[p->nfaults++] = f;
    return 0;
}

static int same_listen(const struct fl_addr *a, const struct fl_addr *b)
{
    if (a->kind != b->kind) return 0;
    if (a->kind == ADDR_UNIX) return strcmp(a->path, b->path) == 0;
    return a->port == b->port && a->port != 0 && strcmp(a->host, b->host) == 0;
}

struct profile *profile_parse(const char *name, const char *text, unsigned flags, char *err, size_t errlen)
{
    /* names and values end up in logs, JSON answers and Redis: the text must be UTF-8 */
    long bad = utf8_bad_at(text);
    if (bad >= 0) {
        int line = 1;
        for (long i = 0; i < bad; i++) line += text[i] == '\n';
        snprintf(err, errlen, "%s:%d: not UTF-8 text (byte 0x%02x)", name, line, (unsigned char)text[bad]);
        return NULL;
    }
    struct inidoc *d = inidoc_parse(name, text, err, errlen);
    if (!d) return NULL;
    struct profile *p = calloc(1, sizeof(*p));
    if (!p) abort();
    snprintf(p->path, sizeof(p->path), "%s", name);
    p->text = strdup(text);
    p->doc = d;
    global_defaults(&p->g);
    int seen_global = 0;
    /* pass 1: [faultline] and [proxy] */
    for (int i = 0; i < d->nsecs; i++) {
        struct inisec *s = &d->secs[i];
        if (strcmp(s->type, "faultline") == 0) {
            if (seen_global++) { KEYERR(s->line, "[faultline] appears twice"); goto fail; }
            if (s->name[0]) { KEYERR(s->line, "[faultline] takes no name"); goto fail; }
            if (load_global(d, s, &p->g, err, errlen) < 0) goto fail;
        } else if (strcmp(s->type, "proxy") == 0) {
            struct proxy_spec ps;
            if (load_proxy(d, s, &ps, err, errlen) < 0) goto fail;
            for (int j = 0; j < p->nproxies; j++) {
                if (strcmp(p->proxies[j].name, ps.name) == 0) {
                    KEYERR(s->line, "[proxy %s] is defined twice (first at line %d)", ps.name, p->proxies[j].line);
                    goto fail;
                }
                if (same_listen(&p->proxies[j].listen, &ps.listen)) {
                    int line;
                    inisec_get(s, "listen", &line);
                    KEYERR(line, "listen: %s is already the listen address of [proxy %s]", ps.listen_text,
                           p->proxies[j].name);
                    goto fail;
                }
            }
            struct proxy_spec *np = realloc(p->proxies, sizeof(*np) * (size_t)(p->nproxies + 1));
            if (!np) abort();
            p->proxies = np;
            p->proxies[p->nproxies++] = ps;
        } else if (strcmp(s->type, "fleet") == 0) {
            if (p->fleet) { KEYERR(s->line, "[fleet] appears twice (first at line %d)", p->fleet->line); goto fail; }
            p->fleet = calloc(1, sizeof(*p->fleet));
            if (!p->fleet) abort();
            if (fleet_spec_load(d, s, p->fleet, err, errlen) < 0) goto fail;
        } else if (strcmp(s->type, "fault") == 0) {
            /* pass 2 */
        } else if ((flags & PROF_ALLOW_SCENARIO) &&
                   (strcmp(s->type, "scenario") == 0 || strcmp(s->type, "phase") == 0 ||
                    strcmp(s->type, "expect") == 0 || strcmp(s->type, "action") == 0 ||
                    strcmp(s->type, "probe") == 0)) {
            /* validated by the scenario / verify loaders */
        } else {
            KEYERR(s->line, "unknown section [%s%s%s] (expected [faultline], [proxy NAME], [fault NAME] or [fleet]%s)",
                   s->type, s->name[0] ? " " : "", s->name,
                   (flags & PROF_ALLOW_SCENARIO) ? ", [scenario], [phase NAME], [expect NAME], [action NAME]" : "");
            goto fail;
        }
    }
    for (int i = 0; i < d->nsecs; i++) {
        struct inisec *s = &d->secs[i];
        if (strcmp(s->type, "fault") != 0) continue;
        if (load_fault(d, s, p, err, errlen) < 0) goto fail;
        /* names are per proxy: [fault lat] on two proxies are two faults */
        const struct fault *nf = p->faults[p->nfaults - 1];
        for (int j = 0; j < p->nfaults - 1; j++)
            if (strcmp(p->faults[j]->name, s->name) == 0 && strcmp(p->faults[j]->proxy, nf->proxy) == 0) {
                KEYERR(s->line, "[fault %s] is defined twice on proxy %s", s->name, nf->proxy);
                goto fail;
            }
    }
    if (policy_check_profile(p, err, errlen) < 0) goto fail;
    return p;
fail:
    profile_free(p);
    return NULL;
}

struct profile *profile_load(const char *path, unsigned flags, char *err, size_t errlen)
{
    char *text = NULL;
    struct inidoc *d = inidoc_load(path, &text, err, errlen);
    if (!d) return NULL;
    inidoc_free(d);
    struct profile *p = profile_parse(path, text, flags, err, errlen);
    free(text);
    return p;
}

struct fault *profile_take_fault(struct profile *p, int i)
{
    struct fault *f = p->faults[i];
    p->faults[i] = NULL;
    return f;
}

void profile_free(struct profile *p)
{
    if (!p) return;
    for (int i = 0; i < p->nfaults; i++) fault_free(p->faults[i]);
    free(p->faults);
    free(p->proxies);
    free(p->fleet);
    free(p->text);
    inidoc_free(p->doc);
    free(p);
}

int proxy_spec_sees_requests(const struct proxy_spec *ps, const char **mode)
{
    if (mode) *mode = ps->protocol ? ps->protocol->name : "tcp";
    return ps->protocol && (ps->protocol->flags & PROTO_REQUESTS);
}
