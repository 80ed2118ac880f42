/* cli/toxiproxy.c -- `faultline toxiproxy-server [FLAGS]`, also run when the binary is invoked as
 * `toxiproxy-server` (a symbolic link, or an image that renames it): Toxiproxy's server command
 * line, so scripts, docker-compose files and Testcontainers' Toxiproxy module start faultline
 * unchanged.
 *
 * Flags as Toxiproxy's cmd/server (Go's flag package: -name value, -name=value, --name, and
 * booleans as -name or -name=true):
 *   -host HOST (localhost)  -port PORT (8474)  the admin API's address
 *   -config FILE            a populate JSON array read at start (toxics inside allowed)
 *   -seed N                 the seed of every random draw (probability, jitter)
 *   -proxy-metrics          /metrics also has toxiproxy_proxy_{received,sent}_bytes_total
 *   -runtime-metrics        /metrics also has process_* metrics
 *   -version                prints the version and exits
 * and one of faultline's own: -profile FILE, a faultline profile whose [faultline] settings
 * (admin_token_file, api_listen_allow, log, ...), proxies and faults are loaded first; -host and
 * -port set its admin address.
 *
 * What not: the API itself is control/admin_toxi*.c; the security defaults are the admin API's
 * (a non-loopback -host needs a token: FAULTLINE_ADMIN_TOKEN or the profile's admin_token_file).
 */
#include "cli/cli.h"
#include "control/admin.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/version.h"
#include "proxy/profile.h"
#include "proxy/proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TOXI_VERSION "2.12.0"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage of toxiproxy-server (faultline %s, Toxiproxy %s's API):\n"
            "  -config string\n"
            "    \tJSON file containing proxies to create on startup (toxics inside allowed)\n"
            "  -host string\n"
            "    \tHost for toxiproxy's API to listen on (default \"localhost\")\n"
            "  -port string\n"
            "    \tPort for toxiproxy's API to listen on (default \"8474\")\n"
            "  -proxy-metrics\n"
            "    \tenable toxiproxy-specific prometheus metrics (default \"false\")\n"
            "  -runtime-metrics\n"
            "    \tenable runtime-related prometheus metrics (default \"false\")\n"
            "  -seed int\n"
            "    \tSeed for randomizing toxics with\n"
            "  -version\n"
            "    \tprint the version (default \"false\")\n"
            "  -profile string\n"
            "    \t(faultline) a profile loaded first: [faultline] settings, proxies, faults\n"
            "A non-loopback -host needs a token (FAULTLINE_ADMIN_TOKEN or the profile's admin_token_file).\n",
            FAULTLINE_VERSION, TOXI_VERSION);
}

struct toxi_args {
    const char *host, *port, *config, *profile;
    long long seed;
    int have_seed, proxy_metrics, runtime_metrics, version;
};

/* A boolean flag's value: "" (given bare) or true/false/1/0 as Go's strconv.ParseBool. */
static int go_bool(const char *v, int *out)
{
    if (!v || !strcmp(v, "1") || !strcasecmp(v, "t") || !strcasecmp(v, "true")) { *out = 1; return 0; }
    if (!strcmp(v, "0") || !strcasecmp(v, "f") || !strcasecmp(v, "false")) { *out = 0; return 0; }
    return -1;
}

/* Go's flag syntax. 0, 1 (help: exit 0), or -1 after a message (exit 2). */
static int parse_args(int argc, char **argv, struct toxi_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || !arg[1]) { fprintf(stderr, "toxiproxy-server: unexpected argument '%s'\n", arg); usage(stderr); return -1; }
        const char *name = arg + (arg[1] == '-' ? 2 : 1);
        char nb[64];
        const char *eq = strchr(name, '='), *val = eq ? eq + 1 : NULL;
        snprintf(nb, sizeof(nb), "%.*s", eq ? (int)(eq - name) : (int)strlen(name), name);
        if (!strcmp(nb, "h") || !strcmp(nb, "help")) return 1;
        int *bp = !strcmp(nb, "proxy-metrics") ? &a->proxy_metrics : !strcmp(nb, "runtime-metrics") ? &a->runtime_metrics
                  : !strcmp(nb, "version")     ? &a->version : NULL;
        if (bp) {
            if (go_bool(val, bp) < 0) { fprintf(stderr, "invalid boolean value \"%s\" for -%s\n", val, nb); usage(stderr); return -1; }
            continue;
        }
        const char **sp = !strcmp(nb, "host") ? &a->host : !strcmp(nb, "port") ? &a->port : !strcmp(nb, "config") ? &a->config
                          : !strcmp(nb, "profile") ? &a->profile : NULL;
        if (!sp && strcmp(nb, "seed")) { fprintf(stderr, "flag provided but not defined: -%s\n", nb); usage(stderr); return -1; }
        if (!val) {
            if (i + 1 >= argc) { fprintf(stderr, "flag needs an argument: -%s\n", nb); usage(stderr); return -1; }
            val = argv[++i];
        }
        if (sp) { *sp = val; continue; }
        char *end;
        a->seed = strtoll(val, &end, 0);
        if (!*val || *end) { fprintf(stderr, "invalid value \"%s\" for flag -seed: parse error\n", val); usage(stderr); return -1; }
        a->have_seed = 1;
    }
    return 0;
}

/* The profile: -profile's, or an empty one; its admin address from -host and -port. */
static struct profile *load(const struct toxi_args *a, char *err, size_t errlen)
{
    struct profile *p = a->profile ? profile_load(a->profile, 0, err, errlen) : profile_parse("toxiproxy-server", "[faultline]\n", 0, err, errlen);
    if (!p) return NULL;
    const char *h = a->host;
    if (!strcasecmp(h, "localhost") || !*h) h = "127.0.0.1";
    char text[sizeof(p->g.admin_text)], e[300];
    snprintf(text, sizeof(text), strchr(h, ':') && h[0] != '[' ? "[%s]:%s" : "%s:%s", h, a->port);
    if (parse_addr(text, 0, &p->g.admin, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "-host/-port: %s", e);
        profile_free(p);
        return NULL;
    }
    snprintf(p->g.admin_text, sizeof(p->g.admin_text), "%s", text);
    p->g.admin_off = 0;
    return p;
}

int cli_toxiproxy(int argc, char **argv)
{
    struct toxi_args a = {.host = "localhost", .port = "8474"};
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        if (rc > 0) usage(stdout);
        return rc > 0 ? 0 : 2;
    }
    if (a.version) {
        printf("toxiproxy-server version %s (faultline %s)\n", TOXI_VERSION, FAULTLINE_VERSION);
        return 0;
    }
    char err[FL_ERRLEN];
    struct profile *p = load(&a, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "toxiproxy-server: %s\n", err);
        return 2;
    }
    log_setup((enum log_level)p->g.log_level, (enum log_format)p->g.log_format);
    adm_toxi_server_mode(a.proxy_metrics, a.runtime_metrics);
    struct fl_server *s = server_new(p, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "toxiproxy-server: %s\n", err);
        profile_free(p);
        return 2;
    }
    if (a.have_seed) fl_rand_seed((uint64_t)a.seed);
    if (a.config && adm_toxi_populate_file(s, a.config, err, sizeof(err)) < 0) {
        fprintf(stderr, "toxiproxy-server: -config %s\n", err);
        server_free(s);
        return 2;
    }
    log_info("toxiproxy_server", "version=%s api=%s config=%s", TOXI_VERSION, log_q(p->g.admin_text), log_q(a.config ? a.config : ""));
    rc = server_run(s);
    server_free(s);
    return rc;
}
