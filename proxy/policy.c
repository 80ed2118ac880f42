/* policy.c -- the reach policy's keys, the profile's unix paths, the API's address verdicts.
 * See policy.h for what the keys mean and their defaults; docs/security.md for why.
 */
#include "proxy/profile.h"
#include "common/allow.h"

#include <stdio.h>
#include <string.h>

#define KEYERR(line, ...) inidoc_err(d, line, err, errlen, __VA_ARGS__)

static int copy_key(struct inisec *s, const char *key, char *dst, size_t n, int *line)
{
    const char *v = inisec_get(s, key, line);
    if (!v) return 0;
    snprintf(dst, n, "%s", v);
    return 1;
}

int policy_load(struct inidoc *d, struct inisec *s, struct global_spec *g, char *err, size_t errlen)
{
    struct api_policy *pol = &g->pol;
    char e[300];
    int line;
    if (copy_key(s, "unix_dirs", pol->unix_dirs, sizeof(pol->unix_dirs), &line)) {
        struct dir_list dl = {0};
        if (dirs_parse(pol->unix_dirs, &dl, e, sizeof(e)) < 0) return KEYERR(line, "unix_dirs: %s", e);
    }
    if (copy_key(s, "admin_hosts", pol->admin_hosts, sizeof(pol->admin_hosts), &line)) {
        struct allow_list l = {0};
        if (allow_parse(pol->admin_hosts, 1, &l, e, sizeof(e)) < 0) return KEYERR(line, "admin_hosts: %s", e);
    }
    if ((pol->listen_set = copy_key(s, "api_listen_allow", pol->listen_allow, sizeof(pol->listen_allow), &line))) {
        struct allow_list l = {0};
        if (allow_parse(pol->listen_allow, 0, &l, e, sizeof(e)) < 0) return KEYERR(line, "api_listen_allow: %s", e);
    }
    if ((pol->upstream_set = copy_key(s, "api_upstream_allow", pol->upstream_allow, sizeof(pol->upstream_allow), &line))) {
        struct allow_list l = {0};
        if (allow_parse(pol->upstream_allow, 1, &l, e, sizeof(e)) < 0) return KEYERR(line, "api_upstream_allow: %s", e);
    }
    if (copy_key(s, "admin_token_file", pol->token_file, sizeof(pol->token_file), &line)) {
        if (!pol->token_file[0]) return KEYERR(line, "admin_token_file: empty path");
        int tl;
        if (inisec_get(s, "admin_token", &tl))
            return KEYERR(line, "admin_token_file: admin_token is set too (line %d); keep one of them", tl);
    }
    const char *tn = inisec_get(s, "admin_token_name", &line);
    if (tn) {
        size_t n = strspn(tn, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-");
        if (!*tn || tn[n] || n >= sizeof(pol->token_name))
            return KEYERR(line, "admin_token_name: '%.80s' is not 1-63 letters, digits, '.', '_', '@' or '-'", tn);
        snprintf(pol->token_name, sizeof(pol->token_name), "%s", tn);
    }
    const char *v = inisec_get(s, "admin_max_conns", &line);
    if (v) {
        int64_t n;
        if (parse_int(v, 1, 100000, &n, e, sizeof(e)) < 0) return KEYERR(line, "admin_max_conns: %s", e);
        pol->max_conns = (int)n;
    }
    return 0;
}

/* The line of key in [proxy name] of p's document (the section's line when absent). */
static int key_line(struct profile *p, const char *name, const char *key)
{
    for (int i = 0; p->doc && i < p->doc->nsecs; i++) {
        struct inisec *s = &p->doc->secs[i];
        if (strcmp(s->type, "proxy") || strcmp(s->name, name)) continue;
        int line = s->line;
        inisec_get(s, key, &line);
        return line;
    }
    return 0;
}

int policy_check_profile(struct profile *p, char *err, size_t errlen)
{
    if (!p->g.pol.unix_dirs[0]) return 0;
    struct dir_list dl = {0};
    if (dirs_parse(p->g.pol.unix_dirs, &dl, NULL, 0) < 0) return 0;   /* reported by policy_load */
    struct inidoc *d = p->doc;
    for (int i = 0; i < p->nproxies; i++) {
        const struct proxy_spec *ps = &p->proxies[i];
        const struct fl_addr *a[2] = {&ps->listen, &ps->upstream};
        static const char *keys[2] = {"listen", "upstream"};
        for (int k = 0; k < 2; k++)
            if (a[k]->kind == ADDR_UNIX && !path_under_dirs(a[k]->path, &dl))
                return KEYERR(key_line(p, ps->name, keys[k]), "%s: unix:%s is not under unix_dirs (%s)", keys[k],
                              a[k]->path, p->g.pol.unix_dirs);
    }
    return 0;
}

/* Is a exactly one of the trusted profile's own listen (is_listen) or upstream addresses? */
static int named_by_profile(const struct profile *t, const char *text, const struct fl_addr *a, int is_listen)
{
    char buf[320];
    for (int i = 0; t && i < t->nproxies; i++) {
        const struct proxy_spec *ps = &t->proxies[i];
        const struct fl_addr *own = is_listen ? &ps->listen : &ps->upstream;
        if (!strcmp(is_listen ? ps->listen_text : ps->upstream_text, text) || !strcmp(addr_str(own, buf, sizeof(buf)), text))
            return 1;
        if (a->kind == ADDR_UNIX && own->kind == ADDR_UNIX && !strcmp(own->path, a->path)) return 1;
    }
    return 0;
}

int policy_api_addr(const struct api_policy *pol, const struct profile *trusted, const struct fl_addr *a,
                    const char *text, int is_listen, char *err, size_t errlen)
{
    const char *what = is_listen ? "listen" : "upstream";
    if (named_by_profile(trusted, text, a, is_listen)) return 0;
    if (a->kind == ADDR_UNIX) {
        struct dir_list dl = {0};
        dirs_parse(pol->unix_dirs, &dl, NULL, 0);
        if (dl.n && path_under_dirs(a->path, &dl)) return 0;
        snprintf(err, errlen,
                 "unix_dirs: %s unix:%s is not under a directory the profile allows for unix sockets (unix_dirs = %s)",
                 what, a->path, dl.n ? pol->unix_dirs : "none");
        return -1;
    }
    struct allow_list l = {0};
    int set = is_listen ? pol->listen_set : pol->upstream_set;
    const char *text_list = is_listen ? pol->listen_allow : pol->upstream_allow;
    allow_parse(set ? text_list : is_listen ? POLICY_LISTEN_DEFAULT : POLICY_UPSTREAM_DEFAULT, !is_listen, &l, NULL, 0);
    if (!is_listen && !set)
        for (int i = 0; trusted && i < trusted->nproxies; i++)
            if (trusted->proxies[i].upstream.kind != ADDR_UNIX) allow_add_host(&l, trusted->proxies[i].upstream.host);
    if (allow_match(&l, a)) return 0;
    char shown[1200];
    snprintf(err, errlen, "api_%s_allow: %s %s is not allowed for proxies made through the admin API or the fleet (allowed: %s)",
             what, what, text, allow_str(&l, shown, sizeof(shown)));
    return -1;
}
