/* ctl.c -- `faultline ctl`: drive a running faultline through its admin API.
 *
 * One request per command through common/httpc.h (TCP or a unix socket; 5 s to connect, 30 s
 * for the whole exchange), and jansson to read the answers. Readable tables by default; --json prints the API's JSON for scripts.
 *
 * Exit status, as curl-minded scripts expect: 0 success; 1 the server answered an error
 * (4xx/5xx; its message is printed); 2 usage error or no connection to the admin API.
 *
 * Errors name what the user wrote, not the HTTP route: `add` checks its NAME and the required
 * keys before asking; `load` validates the file here first (the same loader as `serve`, so
 * "FILE:LINE: reason"), and a refusal from the daemon about the file (a listen address in use,
 * an upstream its policy forbids) is printed the same way, the line found from the section or
 * key the daemon names.
 */
#include "cli/cli.h"
#include "common/version.h"
#include "common/httpc.h"
#include "common/mem.h"
#include "proxy/profile.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTL_CONNECT_MS 5000
#define CTL_TIMEOUT_MS 30000
#define CTL_MAX_FILE (1024 * 1024)
#define CTL_MAX_ANSWER (64u << 20)     /* /faults and /stats of a very large daemon fit */

struct ctl {
    const char *admin, *token;
    int json;
    struct httpc_target to;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: faultline ctl [--admin ADDR] [--token TOKEN] [--json] COMMAND [ARGS]\n"
            "\n"
            "Drives a running faultline through its admin API (docs/api.md).\n"
            "\n"
            "commands:\n"
            "  list                   proxies and faults\n"
            "  show NAME              one fault: every attribute, its state and counters\n"
            "  add NAME key=value...  add a fault; the keys of a profile [fault NAME] section\n"
            "                         (type=latency proxy=db delay=200ms ttl=5m ...)\n"
            "  rm NAME                remove a fault\n"
            "  enable NAME            arm a fault again (enabled = yes; a killed one too)\n"
            "  disable NAME           stop a fault, keeping it (enabled = no)\n"
            "  kill                   stop every fault at once (the game-day stop button)\n"
            "  enable | resume        (no NAME) every fault the kill stopped acts again\n"
            "  load FILE              apply a profile file to the running daemon\n"
            "  stats                  connection, byte and fault counters per proxy\n"
            "  proxy list             the proxies\n"
            "  proxy add NAME listen=ADDR upstream=ADDR [mode=MODE] [enabled=no]\n"
            "                         MODE: tcp (default), http, http2, grpc, postgres, redis, dns\n"
            "  proxy rm NAME          delete a proxy (its connections are dropped)\n"
            "  proxy enable NAME      open its listener again\n"
            "  proxy disable NAME     close its listener and its connections\n"
            "\n"
            "A fault's NAME is unique per proxy: where two proxies have one of that name, write\n"
            "PROXY/NAME (ctl rm db/slow); ctl add PROXY/NAME sets proxy=PROXY.\n"
            "\n"
            "options:\n"
            "  --admin ADDR   admin API address (default $FAULTLINE_ADMIN or 127.0.0.1:8474;\n"
            "                 host:port, [v6]:port, unix:/path; an http:// prefix is accepted)\n"
            "  --token TOKEN  bearer token when the daemon has one (default\n"
            "                 $FAULTLINE_ADMIN_TOKEN, else $FAULTLINE_TOKEN)\n"
            "  --json         print the API's JSON instead of tables\n"
            "  --fleet [SEL]  drive every faultline of a fleet through its Redis instead\n"
            "                 ('faultline ctl --fleet --help'; docs/fleet.md)\n"
            "\n"
            "Exit status: 0 success, 1 the server answered an error (printed), 2 usage error or\n"
            "no connection to the admin API.\n");
}

/* One request. 0 with the answer (r->body: httpc_resp_free), or -1 with a reason in err (no
 * answer). */
static int http_call(struct ctl *c, const char *method, const char *path, const char *ctype, const char *body,
                     size_t blen, struct httpc_resp *r, char *err, size_t errlen)
{
    char headers[2048], auth[HTTPC_BEARER_MAX];
    if (httpc_bearer(c->token, auth, err, errlen) < 0) return -1;   /* (checked at start: cli_ctl) */
    int hl = snprintf(headers, sizeof(headers), "User-Agent: faultline-ctl/%s\r\n%s%s%s%s", FAULTLINE_VERSION,
             ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "", auth);
    if (hl < 0 || (size_t)hl >= sizeof(headers)) { snprintf(err, errlen, "request head too long"); return -1; }
    struct httpc_req rq = {.method = method, .path = path, .headers = headers, .body = body, .blen = blen,
                           .connect_ms = CTL_CONNECT_MS, .total_ms = CTL_TIMEOUT_MS, .max_answer = CTL_MAX_ANSWER};
    char e[FL_ERRLEN];
    if (httpc_call(&c->to, &rq, r, e, sizeof(e)) == 0) return 0;
    const char *at = c->to.text;
    switch (r->fail) {
    case HTTPC_ECONNECT:
        snprintf(err, errlen, "cannot reach the admin API at %s: %.256s (is faultline running with admin enabled? "
                              "use --admin ADDR)", at, e);
        break;
    case HTTPC_ESEND: snprintf(err, errlen, "sending to %s: %.256s", at, e); break;
    case HTTPC_EPROTO: snprintf(err, errlen, "%s did not answer HTTP (is it faultline's admin API?)", at); break;
    default: snprintf(err, errlen, "reading from %s: %.256s", at, e); break;
    }
    return -1;
}

/* Runs a request; on no answer prints why and returns 2, on an error status prints the
 * server's message and returns 1; else 0 with *out parsed (may be NULL for an empty body). */
/* A profile file sent to the daemon: its name, and its local parse (the lines of its sections). */
struct ctl_file {
    const char *path;
    const struct profile *prof;
};

static int call_as(struct ctl *c, const char *method, const char *path, const char *ctype, const char *body, size_t blen,
                   json_t **out, const struct ctl_file *as);

static int call(struct ctl *c, const char *method, const char *path, const char *ctype, const char *body, size_t blen,
                json_t **out)
{
    return call_as(c, method, path, ctype, body, blen, out, NULL);
}

/* The line of the section a daemon's message names ("[proxy NAME]", "[fault NAME]") -- of its
 * listen or upstream key when the message is about that one -- or 0. */
static int named_line(const struct profile *p, const char *msg)
{
    const char *key = strstr(msg, "upstream") ? "upstream" : strstr(msg, "listen") ? "listen" : NULL;
    static const char *const types[] = {"proxy", "fault"};
    for (int t = 0; t < 2; t++) {
        char pre[16];
        snprintf(pre, sizeof(pre), "[%s ", types[t]);
        const char *b = strstr(msg, pre), *e = b ? strchr(b, ']') : NULL;
        if (!e) continue;
        b += strlen(pre);
        for (int i = 0; i < p->doc->nsecs; i++) {
            const struct inisec *sec = &p->doc->secs[i];
            if (strcmp(sec->type, types[t]) || strlen(sec->name) != (size_t)(e - b) || strncmp(sec->name, b, (size_t)(e - b)))
                continue;
            for (int k = 0; key && t == 0 && k < sec->nkeys; k++)
                if (!strcmp(sec->keys[k].key, key)) return sec->keys[k].line;
            return sec->line;
        }
    }
    return 0;
}

/* A daemon's refusal of the file's profile as "FILE:LINE: reason": its own parser's errors
 * name the route ("POST /profile:12: ..."), the others the section ("[proxy db] cannot listen
 * ...", "... ([proxy db], line 3)"), whose line comes from the local parse. */
static void print_file_error(const struct ctl_file *f, const char *route, const char *msg)
{
    size_t rl = strlen(route);
    if (!strncmp(msg, route, rl) && msg[rl] == ':') {
        fprintf(stderr, "faultline ctl: %s%s\n", f->path, msg + rl);
        return;
    }
    char reason[1024];
    snprintf(reason, sizeof(reason), "%s", msg);
    char *at = strstr(reason, " ([proxy ");
    if (at && strstr(at, "], line ") && reason[strlen(reason) - 1] == ')') *at = 0;   /* said by FILE:LINE */
    int line = named_line(f->prof, msg);
    if (line) fprintf(stderr, "faultline ctl: %s:%d: %s\n", f->path, line, reason);
    else fprintf(stderr, "faultline ctl: %s: %s\n", f->path, reason);
}

/* As call(); an error about the profile file `as` sent is printed as FILE:LINE: reason. */
static int call_as(struct ctl *c, const char *method, const char *path, const char *ctype, const char *body, size_t blen,
                   json_t **out, const struct ctl_file *as)
{
    struct httpc_resp r;
    char err[FL_ERRLEN];
    *out = NULL;
    if (http_call(c, method, path, ctype, body, blen, &r, err, sizeof(err)) < 0) {
        fprintf(stderr, "faultline ctl: %s\n", err);
        return 2;
    }
    json_t *j = r.blen ? json_loadb(r.body, r.blen, 0, NULL) : NULL;
    if (r.status >= 400) {
        json_t *e = json_object_get(j, "error");
        const char *msg = json_is_string(e) ? json_string_value(e) : r.body;
        char route[600];
        snprintf(route, sizeof(route), "%s %s", method, path);
        if (c->json && j) fprintf(stderr, "%s\n", r.body);
        else if (as && r.status != 401 && r.status != 404) print_file_error(as, route, msg);
        else fprintf(stderr, "faultline ctl: %s (HTTP %d)\n", msg, r.status);
        json_decref(j);
        httpc_resp_free(&r);
        return 1;
    }
    if (r.blen && !j) {
        fprintf(stderr, "faultline ctl: the answer was not JSON (HTTP %d)\n", r.status);
        httpc_resp_free(&r);
        return 2;
    }
    httpc_resp_free(&r);
    *out = j;
    return 0;
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
    if (s) puts(s);
    free(s);
}

static const char *str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

static long long num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long long)json_integer_value(v) : json_is_real(v) ? (long long)json_real_value(v) : 0;
}

static int is_common_key(const char *k)
{
    static const char *common[] = {"proxy", "type", "direction", "stream", "probability", "toxicity", "start",
                                   "duration", "ttl", "enabled", NULL};
    for (int i = 0; common[i]; i++)
        if (!strcmp(common[i], k)) return 1;
    return 0;
}

/* "delay=200ms jitter=10ms": the type's own keys as written. */
static void settings(json_t *f, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(f, "spec"), k, v) {
        if (is_common_key(k) || !json_is_string(v) || o >= len) continue;
        o += (size_t)snprintf(buf + o, len - o, "%s%s=%s", o ? " " : "", k, json_string_value(v));
    }
    const char *ttl = str(json_object_get(f, "spec"), "ttl");
    if (*ttl && o < len) snprintf(buf + o, len - o, "%sttl=%s", o ? " " : "", ttl);
}

static void faults_table(json_t *faults)
{
    if (!json_array_size(faults)) { printf("no faults\n"); return; }
    printf("%-24s %-14s %-11s %-10s %5s %-8s %-7s %8s  %s\n", "FAULT", "PROXY", "TYPE", "DIRECTION", "PROB", "STATE",
           "SOURCE", "AFFECTED", "SETTINGS");
    size_t i;
    json_t *f;
    json_array_foreach(faults, i, f) {
        json_t *a = json_object_get(f, "attributes");
        char set[400];
        settings(f, set, sizeof(set));
        printf("%-24s %-14s %-11s %-10s %5s %-8s %-7s %8lld  %s\n", str(f, "name"), str(f, "proxy"), str(f, "type"),
               str(a, "direction"), str(a, "probability"), str(f, "state"), str(f, "source"),
               num(json_object_get(f, "counters"), "conns_affected"), set);
    }
}

static int cmd_list(struct ctl *c)
{
    json_t *st, *faults;
    int rc = call(c, "GET", "/stats", NULL, NULL, 0, &st);
    if (rc) return rc;
    if ((rc = call(c, "GET", "/faults", NULL, NULL, 0, &faults))) { json_decref(st); return rc; }
    if (c->json) {
        json_t *o = json_pack("{s:O, s:O}", "proxies", json_object_get(st, "proxies"), "faults", faults);
        print_json(o);
        json_decref(o);
    } else {
        json_t *px = json_object_get(st, "proxies");
        if (!json_object_size(px)) printf("no proxies\n");
        else {
            printf("%-16s %-24s %-28s %-8s %-7s %7s %9s\n", "PROXY", "LISTEN", "UPSTREAM", "MODE", "ENABLED", "ACTIVE",
                   "ACCEPTED");
            const char *name;
            json_t *p;
            json_object_foreach(px, name, p)
                printf("%-16s %-24s %-28s %-8s %-7s %7lld %9lld\n", name, str(p, "listen"), str(p, "upstream"),
                       str(p, "mode"), json_is_true(json_object_get(p, "enabled")) ? "yes" : "no", num(p, "active"),
                       num(p, "accepted"));
        }
        printf("\n");
        faults_table(faults);
        if (num(st, "killed"))
            printf("\nkill switch: %lld fault(s) killed, acting no more (faultline ctl enable resumes them)\n",
                   num(st, "killed"));
    }
    json_decref(st);
    json_decref(faults);
    return 0;
}

/* The name as a URL path segment. */
static void path_for(char *buf, size_t len, const char *prefix, const char *name)
{
    size_t o = (size_t)snprintf(buf, len, "%s", prefix);
    for (const unsigned char *p = (const unsigned char *)name; *p && o + 4 < len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-_.~", *p))
            buf[o++] = (char)*p;
        else o += (size_t)snprintf(buf + o, len - o, "%%%02X", *p);
    }
    buf[o] = 0;
}

static int cmd_show(struct ctl *c, const char *name)
{
    char path[600];
    path_for(path, sizeof(path), "/faults/", name);
    json_t *f;
    int rc = call(c, "GET", path, NULL, NULL, 0, &f);
    if (rc) return rc;
    if (c->json) print_json(f);
    else {
        printf("fault %s\n  state: %s (source: %s)\n", str(f, "name"), str(f, "state"), str(f, "source"));
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(f, "attributes"), k, v) printf("  %s = %s\n", k, json_string_value(v));
        printf("  counters:");
        json_object_foreach(json_object_get(f, "counters"), k, v) printf(" %s=%lld", k, (long long)json_integer_value(v));
        printf("\n");
    }
    json_decref(f);
    return 0;
}

static int cmd_add(struct ctl *c, const char *name, int n, char **kv)
{
    /* the name comes first; without one, say so (a key=value there is not a name) */
    if (!name || !*name || strchr(name, '=')) {
        fprintf(stderr, "faultline ctl add: missing the fault's NAME%s%s%s (ctl add NAME type=TYPE proxy=PROXY "
                "[key=value...])\n", name && *name ? ": '" : "", name && *name ? name : "",
                name && *name ? "' is a key=value" : "");
        return 2;
    }
    char fname[200], pxname[200] = "";
    snprintf(fname, sizeof(fname), "%s", name);
    char *slash = strchr(fname, '/');
    if (slash && slash > fname && slash[1]) {   /* PROXY/NAME: proxy=PROXY */
        *slash = 0;
        snprintf(pxname, sizeof(pxname), "%s", fname);
        memmove(fname, slash + 1, strlen(slash + 1) + 1);
    }
    int has_type = 0, has_proxy = *pxname != 0;
    for (int i = 0; i < n; i++) {
        has_type |= !strncmp(kv[i], "type=", 5);
        has_proxy |= !strncmp(kv[i], "proxy=", 6);
    }
    if (!has_type || !has_proxy) {
        fprintf(stderr, "faultline ctl: add %s: missing %s%s%s (faultline ctl add %s type=TYPE proxy=PROXY ...)\n", name,
                has_type ? "" : "type=", !has_type && !has_proxy ? " and " : "", has_proxy ? "" : "proxy=", name);
        return 2;
    }
    json_t *o = json_pack("{s:s}", "name", fname);
    if (*pxname) json_object_set_new(o, "proxy", json_string(pxname));
    for (int i = 0; i < n; i++) {
        char *eq = strchr(kv[i], '=');
        if (!eq || eq == kv[i]) {
            fprintf(stderr, "faultline ctl: '%s' is not key=value\n", kv[i]);
            json_decref(o);
            return 2;
        }
        *eq = 0;
        int clash = *pxname && !strcmp(kv[i], "proxy") && strcmp(eq + 1, pxname);
        if (!clash) json_object_set_new(o, kv[i], json_string(eq + 1));
        *eq = '=';
        if (clash) {
            fprintf(stderr, "faultline ctl add: %s names proxy %s, but %s\n", name, pxname, kv[i]);
            json_decref(o);
            return 2;
        }
    }
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    json_t *f;
    int rc = call(c, "POST", "/faults", "application/json", body, strlen(body), &f);
    free(body);
    if (rc) return rc;
    if (c->json) print_json(f);
    else printf("added fault %s (%s on proxy %s, %s)\n", str(f, "name"), str(f, "type"), str(f, "proxy"), str(f, "state"));
    json_decref(f);
    return 0;
}

/* enable NAME / disable NAME: the fault's `enabled` key, changed live (a killed fault is armed
 * again); enable with no NAME: every fault the kill switch stopped (POST /resume). */
static int cmd_enable(struct ctl *c, const char *name, int on)
{
    json_t *o;
    int rc;
    if (!name) {
        if ((rc = call(c, "POST", "/resume", NULL, NULL, 0, &o))) return rc;
        if (c->json) print_json(o);
        else printf("resumed %lld killed fault(s); %lld fault(s) attached\n", num(o, "resumed"), num(o, "faults"));
        json_decref(o);
        return 0;
    }
    char path[600];
    path_for(path, sizeof(path), "/faults/", name);
    const char *body = on ? "{\"enabled\":\"yes\"}" : "{\"enabled\":\"no\"}";
    if ((rc = call(c, "PATCH", path, "application/json", body, strlen(body), &o))) return rc;
    if (c->json) print_json(o);
    else printf("%s fault %s on proxy %s (%s)\n", on ? "enabled" : "disabled", str(o, "name"), str(o, "proxy"),
                str(o, "state"));
    json_decref(o);
    return 0;
}

static void proxies_table(json_t *px)
{
    if (!json_object_size(px)) { printf("no proxies\n"); return; }
    printf("%-16s %-24s %-28s %-8s %-7s %6s\n", "PROXY", "LISTEN", "UPSTREAM", "MODE", "ENABLED", "FAULTS");
    const char *name;
    json_t *p;
    json_object_foreach(px, name, p)
        printf("%-16s %-24s %-28s %-8s %-7s %6zu\n", name, str(p, "listen"), str(p, "upstream"), str(p, "mode"),
               json_is_true(json_object_get(p, "enabled")) ? "yes" : "no", json_array_size(json_object_get(p, "toxics")));
}

/* proxy list | add NAME key=value... | rm NAME | enable NAME | disable NAME, through the
 * Toxiproxy face (/proxies). */
static int cmd_proxy(struct ctl *c, int n, char **a)
{
    const char *sub = n ? a[0] : "";
    json_t *o = NULL;
    int rc;
    char path[600];
    if (!strcmp(sub, "list") && n == 1) {
        if ((rc = call(c, "GET", "/proxies", NULL, NULL, 0, &o))) return rc;
        if (c->json) print_json(o);
        else proxies_table(o);
        json_decref(o);
        return 0;
    }
    if (n != 2 && !(!strcmp(sub, "add") && n >= 2)) {
        fprintf(stderr, "faultline ctl proxy: expected list, add NAME key=value..., rm NAME, enable NAME or disable NAME\n");
        return 2;
    }
    path_for(path, sizeof(path), "/proxies/", a[1]);
    if (!strcmp(sub, "add")) {
        json_t *b = json_pack("{s:s}", "name", a[1]);
        for (int i = 2; i < n; i++) {
            char *eq = strchr(a[i], '=');
            if (!eq || eq == a[i] || (strncmp(a[i], "listen=", 7) && strncmp(a[i], "upstream=", 9) &&
                                      strncmp(a[i], "mode=", 5) && strncmp(a[i], "enabled=", 8))) {
                fprintf(stderr, "faultline ctl proxy add: '%s' is not one of listen=, upstream=, mode=, enabled=\n", a[i]);
                json_decref(b);
                return 2;
            }
            int yes = !strcmp(eq + 1, "yes") || !strcmp(eq + 1, "true"), no = !strcmp(eq + 1, "no") || !strcmp(eq + 1, "false");
            if (!strncmp(a[i], "enabled=", 8) && !yes && !no) {
                fprintf(stderr, "faultline ctl proxy add: enabled: '%s' is not yes or no\n", eq + 1);
                json_decref(b);
                return 2;
            }
            *eq = 0;
            if (!strcmp(a[i], "enabled")) json_object_set_new(b, "enabled", json_boolean(yes));
            else json_object_set_new(b, a[i], json_string(eq + 1));
            *eq = '=';
        }
        char *body = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        rc = call(c, "POST", "/proxies", "application/json", body, strlen(body), &o);
        free(body);
    } else if (!strcmp(sub, "rm")) {
        rc = call(c, "DELETE", path, NULL, NULL, 0, &o);
    } else if (!strcmp(sub, "enable") || !strcmp(sub, "disable")) {
        const char *body = !strcmp(sub, "enable") ? "{\"enabled\":true}" : "{\"enabled\":false}";
        rc = call(c, "POST", path, "application/json", body, strlen(body), &o);
    } else {
        fprintf(stderr, "faultline ctl proxy: unknown command '%s'\n", sub);
        return 2;
    }
    if (rc) return rc;
    if (c->json) {
        if (o) print_json(o);
        else printf("{\"removed\": \"%s\"}\n", a[1]);
    } else if (!strcmp(sub, "rm")) {
        printf("removed proxy %s\n", a[1]);
    } else {
        printf("%s proxy %s: %s -> %s (%s, %s)\n", !strcmp(sub, "add") ? "added" : sub[0] == 'e' ? "enabled" : "disabled",
               str(o, "name"), str(o, "listen"), str(o, "upstream"), str(o, "mode"),
               json_is_true(json_object_get(o, "enabled")) ? "enabled" : "disabled");
    }
    json_decref(o);
    return 0;
}

static int cmd_rm(struct ctl *c, const char *name)
{
    char path[600];
    path_for(path, sizeof(path), "/faults/", name);
    json_t *f;
    int rc = call(c, "DELETE", path, NULL, NULL, 0, &f);
    if (rc) return rc;
    if (c->json) printf("{\"removed\": \"%s\"}\n", name);
    else printf("removed fault %s\n", name);
    json_decref(f);
    return 0;
}

static int cmd_kill(struct ctl *c)
{
    json_t *o;
    int rc = call(c, "POST", "/kill", NULL, NULL, 0, &o);
    if (rc) return rc;
    if (c->json) print_json(o);
    else printf("stopped %lld active fault(s); %lld fault(s) attached, none acting (faultline ctl enable resumes "
                "them)\n", num(o, "killed"), num(o, "faults"));
    json_decref(o);
    return 0;
}

static int cmd_load(struct ctl *c, const char *file)
{
    FILE *fp = fopen(file, "rb");
    if (!fp) { fprintf(stderr, "faultline ctl: %s: %s\n", file, strerror(errno)); return 2; }
    char *text = fl_malloc(CTL_MAX_FILE + 1);
    size_t n = fread(text, 1, CTL_MAX_FILE + 1, fp);
    fclose(fp);
    if (n > CTL_MAX_FILE) { fprintf(stderr, "faultline ctl: %s: larger than 1 MiB\n", file); free(text); return 2; }
    char err[FL_ERRLEN];   /* the daemon's own loader, here first: FILE:LINE: reason */
    struct profile *p = profile_load(file, 0, err, sizeof(err));
    if (!p) { fprintf(stderr, "faultline ctl: %s\n", err); free(text); return 2; }
    json_t *o;
    struct ctl_file as = {file, p};
    int rc = call_as(c, "POST", "/profile", "text/plain", text, n, &o, &as);
    profile_free(p);
    free(text);
    if (rc) return rc;
    if (c->json) print_json(o);
    else printf("applied %s: %lld proxies and %lld faults in force\n", file, num(o, "proxies"), num(o, "faults"));
    json_decref(o);
    return 0;
}

static int cmd_stats(struct ctl *c)
{
    json_t *st;
    int rc = call(c, "GET", "/stats", NULL, NULL, 0, &st);
    if (rc) return rc;
    if (c->json) { print_json(st); json_decref(st); return 0; }
    printf("uptime %.1fs, reloads %lld (failed %lld)", json_number_value(json_object_get(st, "uptime_s")), num(st, "reloads"),
           num(st, "reload_failures"));
    if (json_object_get(st, "record_dropped")) printf(", record dropped %lld", num(st, "record_dropped"));
    printf("\n\n");
    json_t *px = json_object_get(st, "proxies");
    const char *name;
    json_t *p;
    printf("%-16s %7s %9s %12s %12s %8s %8s %9s %6s\n", "PROXY", "ACTIVE", "ACCEPTED", "BYTES_UP", "BYTES_DOWN", "UP_FAIL",
           "REFUSED", "REQUESTS", "5XX");
    json_object_foreach(px, name, p) {
        json_t *h = json_object_get(p, "http");
        printf("%-16s %7lld %9lld %12lld %12lld %8lld %8lld %9lld %6lld\n", name, num(p, "active"), num(p, "accepted"),
               num(p, "bytes_up"), num(p, "bytes_down"), num(p, "upstream_failed"), num(p, "refused"), num(h, "requests"),
               num(json_object_get(h, "status"), "5xx"));
    }
    int any = 0;
    json_object_foreach(px, name, p) {
        const char *fname;
        json_t *f;
        json_object_foreach(json_object_get(p, "faults"), fname, f) {
            if (!any++)
                printf("\n%-24s %-14s %-11s %-8s %8s %8s %10s %10s %7s %7s\n", "FAULT", "PROXY", "TYPE", "STATE", "SEEN",
                       "AFFECTED", "DELAYED_B", "DROPPED_B", "CLOSES", "RESETS");
            printf("%-24s %-14s %-11s %-8s %8lld %8lld %10lld %10lld %7lld %7lld\n", fname, name, str(f, "type"),
                   str(f, "state"), num(f, "conns_seen"), num(f, "conns_affected"), num(f, "bytes_delayed"),
                   num(f, "bytes_dropped"), num(f, "closes"), num(f, "resets"));
        }
    }
    json_decref(st);
    return 0;
}

int cli_ctl(int argc, char **argv)
{
    struct ctl c = {0};
    c.admin = getenv("FAULTLINE_ADMIN");
    if (!c.admin || !*c.admin) c.admin = "127.0.0.1:8474";
    c.token = getenv("FAULTLINE_ADMIN_TOKEN");   /* the daemon reads the same variable */
    if (!c.token || !*c.token) c.token = getenv("FAULTLINE_TOKEN");
    for (int k = 1; k < argc; k++)
        if (!strcmp(argv[k], "--fleet")) return cli_fleet(argc, argv);   /* cli/fleet.c */
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { usage(stdout); return 0; }
        if (!strcmp(o, "--json")) { c.json = 1; continue; }
        if ((!strcmp(o, "--admin") || !strcmp(o, "--token")) && i + 1 < argc) {
            if (!strcmp(o, "--admin")) c.admin = argv[++i];
            else c.token = argv[++i];
            continue;
        }
        if (!strncmp(o, "--admin=", 8)) { c.admin = o + 8; continue; }
        if (!strncmp(o, "--token=", 8)) { c.token = o + 8; continue; }
        fprintf(stderr, "faultline ctl: unknown option '%s'\n\n", o);
        usage(stderr);
        return 2;
    }
    if (i >= argc) { usage(stderr); return 2; }
    for (int k = i; k < argc; k++)
        if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) { usage(stdout); return 0; }
    const char *cmd = argv[i];
    int nargs = argc - i - 1;
    char **args = argv + i + 1;
    char err[FL_ERRLEN];
    if (httpc_target(c.admin, 0, &c.to, err, sizeof(err)) < 0) { fprintf(stderr, "faultline ctl: --admin: %s\n", err); return 2; }
    char auth[HTTPC_BEARER_MAX];
    if (httpc_bearer(c.token, auth, err, sizeof(err)) < 0) { fprintf(stderr, "faultline ctl: --token: %s\n", err); return 2; }
    if (!strcmp(cmd, "list") && nargs == 0) return cmd_list(&c);
    if (!strcmp(cmd, "show") && nargs == 1) return cmd_show(&c, args[0]);
    if (!strcmp(cmd, "add")) return cmd_add(&c, nargs ? args[0] : NULL, nargs ? nargs - 1 : 0, args + 1);
    if (!strcmp(cmd, "rm") && nargs == 1) return cmd_rm(&c, args[0]);
    if (!strcmp(cmd, "kill") && nargs == 0) return cmd_kill(&c);
    if ((!strcmp(cmd, "enable") || !strcmp(cmd, "resume")) && nargs == 0) return cmd_enable(&c, NULL, 1);
    if ((!strcmp(cmd, "enable") || !strcmp(cmd, "disable")) && nargs == 1) return cmd_enable(&c, args[0], cmd[0] == 'e');
    if (!strcmp(cmd, "proxy")) return cmd_proxy(&c, nargs, args);
    if (!strcmp(cmd, "load") && nargs == 1) return cmd_load(&c, args[0]);
    if (!strcmp(cmd, "stats") && nargs == 0) return cmd_stats(&c);
    fprintf(stderr, "faultline ctl: bad command or arguments: %s\n\n", cmd);
    usage(stderr);
    return 2;
}
