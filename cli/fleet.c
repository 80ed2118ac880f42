/* fleet.c -- `faultline ctl --fleet [SELECTOR] COMMAND`: the fleet's controller. docs/fleet.md.
 *
 * What: reads the registry from the fleet's Redis, picks the instances (the selector, then the
 * blast radius: --percent or --max-instances at random), signs one command with the fleet key
 * (control/fleet_sign.h), XADDs it to the command stream, and counts the acks until every
 * instance it was meant for answered or --timeout passed: "N of M applied in X ms", each
 * failure with its reason, each silent instance as timed out. Exit 0 when all M applied; 1 when
 * any failed or timed out (or none matched); 2 for usage errors and no Redis.
 * Leases: every fault added carries a lease (--lease, default 15 s). With --hold the command
 * stays, renewing the lease every third of it, until SIGINT/SIGTERM, when it removes the fault
 * from the instances it added it to. A controller killed outright (kill -9, a laptop closed)
 * renews no more: each instance drops the fault itself when the lease runs out.
 * The client itself (the registry, the pick, signing, the acks) is control/fleet_client.c,
 * shared with `faultline run` across a fleet; this file parses, prints and holds.
 * What not: the daemon never blocks on Redis; only controllers use the blocking client.
 */
#include "cli/cli.h"
#include "control/fleet_client.h"
#include "proxy/fleet_spec.h"
#include "proxy/profile.h"
#include "common/parse.h"
#include "common/clock.h"
#include "common/mem.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct fctl {
    const char *sel_text, *redis, *key_file, *profile, *name;
    struct fleet_sel sel;
    double percent;               /* 0 = not given */
    int max_inst;                 /* 0 = not given */
    int64_t timeout_us, lease_us;
    int hold, json;
    struct rec_url url;
    char *key_file_buf;           /* owned: key_file when --profile named it */
    struct fleet_client fc;       /* the connection, the key, the fleet's name (control/fleet_client.h) */
};

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

static void usage(FILE *out)
{
    fprintf(out,
            "usage: faultline ctl --fleet [SELECTOR] [OPTIONS] [COMMAND [ARGS]]\n"
            "\n"
            "Drives every faultline of a fleet through its Redis (docs/fleet.md).\n"
            "SELECTOR: KEY=VALUE[,KEY=VALUE...] over the instances' labels (service, zone, version,\n"
            "label.K) and id; KEY!=VALUE excludes; values may be globs. None (or '*') selects all.\n"
            "\n"
            "commands:\n"
            "  list                    instances: state (up, gone), labels, proxies, faults (default)\n"
            "  add NAME key=value...   add a fault (the keys of a [fault NAME] section) with a lease\n"
            "  rm NAME                 remove a fault (PROXY/NAME names the proxy)\n"
            "  kill                    stop every fault (the game-day stop button)\n"
            "  resume                  arm every killed fault again\n"
            "  load FILE               apply a profile file\n"
            "  renew LEASE_ID          renew a lease (--lease) on every instance holding it\n"
            "\n"
            "options:\n"
            "  --profile FILE          take redis, key_file and name from FILE's [fleet] section\n"
            "  --redis URL             the fleet's Redis (default $FAULTLINE_FLEET_REDIS)\n"
            "  --key-file PATH         the fleet key, mode 0600 (default $FAULTLINE_FLEET_KEY_FILE)\n"
            "  --name NAME             the fleet's name (default: default)\n"
            "  --percent P             blast radius: P%% of the matching instances, picked at random\n"
            "  --max-instances N       blast radius: at most N of them, picked at random\n"
            "  --lease DUR             the lease of an added fault (default 15s)\n"
            "  --hold                  add: keep renewing until interrupted, then remove the fault\n"
            "  --timeout DUR           how long to wait for the acks (default 5s)\n"
            "  --json                  print JSON\n"
            "\n"
            "Exit status: 0 every instance applied; 1 one failed or timed out, or none matched;\n"
            "2 usage error, or the fleet's Redis cannot be reached.\n");
}

/* ---- list ---- */

static int by_id(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "id")),
                  json_string_value(json_object_get(*(json_t *const *)b, "id")));
}

/* Sorts an array of instances by id (a stable listing; the registry's order is last seen). */
static void sort_by_id(json_t *a)
{
    size_t n = json_array_size(a);
    json_t **v = calloc(n + 1, sizeof(*v));
    if (!v) abort();
    for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(a, i));
    qsort(v, n, sizeof(*v), by_id);
    json_array_clear(a);
    for (size_t i = 0; i < n; i++) json_array_append_new(a, v[i]);
    free(v);
}

static int cmd_list(struct fctl *c)
{
    json_t *all = fleet_client_registry(&c->fc);
    if (!all) { fprintf(stderr, "faultline ctl: reading the registry failed\n"); return 2; }
    json_t *sel = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(all, i, v)
        if (fleet_sel_match(&c->sel, json_string_value(json_object_get(v, "id")), json_object_get(v, "labels")))
            json_array_append(sel, v);
    json_decref(all);
    sort_by_id(sel);
    if (c->json) {
        json_t *o = json_pack("{s:o, s:s}", "instances", sel, "fleet", c->fc.ns);
        char *s = json_dumps(o, JSON_INDENT(2));
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(o);
        return 0;
    }
    int up = 0, gone = 0, n = (int)json_array_size(sel);
    char (*rows)[4][400] = calloc((size_t)n + 1, sizeof(*rows));
    if (!rows) abort();
    snprintf(rows[0][0], 400, "INSTANCE");
    snprintf(rows[0][1], 400, "STATE");
    snprintf(rows[0][2], 400, "LABELS");
    snprintf(rows[0][3], 400, "PROXIES");
    int w[4] = {0, 0, 0, 0};
    json_array_foreach(sel, i, v) {
        char *labels = rows[i + 1][2], *pxs = rows[i + 1][3];
        const char *k;
        json_t *lv;
        json_object_foreach(json_object_get(v, "labels"), k, lv) {
            size_t o = strlen(labels);
            snprintf(labels + o, 400 - o, "%s%s=%s", o ? "," : "", k, json_string_value(lv));
        }
        size_t j;
        json_t *e;
        json_array_foreach(json_object_get(v, "proxies"), j, e) {
            size_t o = strlen(pxs);
            snprintf(pxs + o, 400 - o, "%s%s", o ? "," : "", json_string_value(e));
        }
        if (!pxs[0]) snprintf(pxs, 400, "-");
        snprintf(rows[i + 1][0], 400, "%s", json_string_value(json_object_get(v, "id")));
        snprintf(rows[i + 1][1], 400, "%s", json_string_value(json_object_get(v, "state")));
    }
    for (int r = 0; r <= n; r++)
        for (int k = 0; k < 4; k++) if ((int)strlen(rows[r][k]) > w[k]) w[k] = (int)strlen(rows[r][k]);
    printf("%-*s  %-*s  %-*s  %-*s  %s\n", w[0], rows[0][0], w[1], rows[0][1], w[2], rows[0][2], w[3], rows[0][3],
           "FAULTS (lease left)");
    json_array_foreach(sel, i, v) {
        char fs[1000] = "";
        size_t j;
        json_t *e;
        json_array_foreach(json_object_get(v, "faults"), j, e) {
            size_t o = strlen(fs);
            json_t *ll = json_object_get(e, "lease_left_ms");
            char lease[40] = "";
            if (json_is_integer(ll)) snprintf(lease, sizeof(lease), " %.1fs", (double)json_integer_value(ll) / 1000);
            snprintf(fs + o, sizeof(fs) - o, "%s%s/%s(%s %s%s)", o ? " " : "", json_string_value(json_object_get(e, "proxy")),
                     json_string_value(json_object_get(e, "name")), json_string_value(json_object_get(e, "type")),
                     json_string_value(json_object_get(e, "state")), lease);
        }
        if (!strcmp(rows[i + 1][1], "up")) up++;
        else {
            gone++;
            snprintf(fs, sizeof(fs), "(last seen %.1fs ago)", (double)json_integer_value(json_object_get(v, "age_ms")) / 1000);
        }
        printf("%-*s  %-*s  %-*s  %-*s  %s\n", w[0], rows[i + 1][0], w[1], rows[i + 1][1], w[2], rows[i + 1][2], w[3],
               rows[i + 1][3], fs[0] ? fs : "-");
    }
    free(rows);
    printf("%d up, %d gone (fleet %s)\n", up, gone, c->fc.ns);
    json_decref(sel);
    return 0;
}

/* ---- sending a command and counting its acks (control/fleet_client.h) ---- */

/* Prints a command's result (fleet_client_run's object); returns the exit status. */
static int print_result(struct fctl *c, json_t *res)
{
    int ok = (int)json_integer_value(json_object_get(res, "applied")), m = (int)json_integer_value(json_object_get(res, "of"));
    if (c->json) {
        char *s = json_dumps(res, JSON_COMPACT);
        printf("%s\n", s ? s : "{}");
        free(s);
    } else {
        printf("%s: %d of %d applied in %lld ms (command %s)\n", json_string_value(json_object_get(res, "op")), ok, m,
               (long long)json_integer_value(json_object_get(res, "ms")), json_string_value(json_object_get(res, "id")));
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(res, "failed"), i, v)
            printf("  failed    %s: %s\n", json_string_value(json_object_get(v, "id")),
                   json_string_value(json_object_get(v, "reason")));
        json_array_foreach(json_object_get(res, "timed_out"), i, v) printf("  timed out %s: no ack\n", json_string_value(v));
    }
    return ok == m && m > 0 ? 0 : 1;
}

static json_t *new_msg(struct fctl *c, const char *op, json_t *targets, int matched)
{
    return fleet_client_msg(&c->fc, op, c->sel_text, targets, matched, c->percent, c->max_inst);
}

static int send_msg(struct fctl *c, json_t *msg)
{
    char err[FL_ERRLEN];
    if (fleet_client_send(&c->fc, msg, err, sizeof(err)) == 0) return 0;
    fprintf(stderr, "faultline ctl: %s\n", err);
    return -1;
}

/* Sends m (taken) and waits for the acks of want. */
static int run_msg(struct fctl *c, json_t *m, json_t *want)
{
    char err[FL_ERRLEN] = "";
    json_t *res = fleet_client_run(&c->fc, m, want, c->timeout_us, err, sizeof(err));
    if (err[0]) fprintf(stderr, "faultline ctl: %s\n", err);
    if (!res) return 2;
    int rc = print_result(c, res);
    json_decref(res);
    return rc;
}

static void sleep_us(int64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* --hold: renew the lease every third of it until a signal, then remove the fault. */
static int hold(struct fctl *c, json_t *want, int matched, const char *lease_id, const char *name, const char *proxy)
{
    if (!c->json) printf("holding lease %s (%.1fs, renewed every %.1fs); Ctrl-C removes the fault\n", lease_id,
                         (double)c->lease_us / 1e6, (double)c->lease_us / 3e6);
    fflush(stdout);
    int64_t next = fl_now_us() + c->lease_us / 3;
    while (!g_stop) {
        sleep_us(50000);
        if (fl_now_us() < next) continue;
        next = fl_now_us() + c->lease_us / 3;
        json_t *m = new_msg(c, "renew", want, matched);
        json_object_set_new(m, "lease_id", json_string(lease_id));
        json_object_set_new(m, "lease_ms", json_integer((json_int_t)(c->lease_us / 1000)));
        if (send_msg(c, m) < 0) fprintf(stderr, "faultline ctl: renewal not sent; the instances will drop the fault when the lease runs out\n");
        json_decref(m);
    }
    json_t *m = new_msg(c, "rm", want, matched);
    json_object_set_new(m, "name", json_string(name));
    if (proxy) json_object_set_new(m, "proxy", json_string(proxy));
    return run_msg(c, m, want);
}

static int cmd_add(struct fctl *c, json_t *want, int matched, int n, char **kv)
{
    if (n < 1) { fprintf(stderr, "faultline ctl: add needs NAME and key=value pairs\n"); return 2; }
    char name[200];
    snprintf(name, sizeof(name), "%s", kv[0]);
    json_t *f = json_object();
    char *slash = strchr(name, '/');
    if (slash) { *slash = 0; json_object_set_new(f, "proxy", json_string(name)); memmove(name, slash + 1, strlen(slash + 1) + 1); }
    json_object_set_new(f, "name", json_string(name));
    for (int i = 1; i < n; i++) {
        char *eq = strchr(kv[i], '=');
        if (!eq || eq == kv[i]) { fprintf(stderr, "faultline ctl: '%s' is not key=value\n", kv[i]); json_decref(f); return 2; }
        char k[128];
        snprintf(k, sizeof(k), "%.*s", (int)(eq - kv[i]), kv[i]);
        json_object_set_new(f, k, json_string(eq + 1));
    }
    /* the keys are checked here first (the same builder the instances use) */
    const char *keys[64], *vals[64];
    int nk = 0, bad;
    const char *k;
    json_t *v;
    json_object_foreach(f, k, v)
        if (strcmp(k, "name") && nk < 64) { keys[nk] = k; vals[nk] = json_string_value(v); nk++; }
    char err[FL_ERRLEN];
    struct fault *probe = fault_build(name, keys, vals, nk, &bad, err, sizeof(err));
    if (!probe) { fprintf(stderr, "faultline ctl: %s\n", err); json_decref(f); return 2; }
    char proxy[128];
    snprintf(proxy, sizeof(proxy), "%s", probe->proxy);
    fault_free(probe);
    char lease_id[40];
    fleet_rand_hex(lease_id, 8);
    json_t *m = new_msg(c, "add", want, matched);
    json_object_set_new(m, "fault", f);
    json_object_set_new(m, "lease_id", json_string(lease_id));
    json_object_set_new(m, "lease_ms", json_integer((json_int_t)(c->lease_us / 1000)));
    if (!c->json) printf("lease %s: %.1fs%s\n", lease_id, (double)c->lease_us / 1e6, c->hold ? ", held" : "");
    int rc = run_msg(c, m, want);
    if (!c->hold) return rc;
    int rc2 = hold(c, want, matched, lease_id, name, proxy);
    return rc ? rc : rc2;
}

static int read_file(const char *path, char **out)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) { fprintf(stderr, "faultline ctl: %s: %s\n", path, strerror(errno)); return -1; }
    char *b = malloc(FLEET_MAX_MSG);
    if (!b) abort();
    size_t n = fread(b, 1, FLEET_MAX_MSG - 1, fp);
    fclose(fp);
    if (n >= FLEET_MAX_MSG - 4096) { fprintf(stderr, "faultline ctl: %s: too large for a fleet command\n", path); free(b); return -1; }
    b[n] = 0;
    *out = b;
    return 0;
}

static int run_command(struct fctl *c, const char *cmd, int n, char **a)
{
    if (!strcmp(cmd, "list")) return n ? 2 : cmd_list(c);
    json_t *all = fleet_client_registry(&c->fc);
    if (!all) { fprintf(stderr, "faultline ctl: reading the registry failed\n"); return 2; }
    int matched;
    json_t *want = fleet_client_pick(all, &c->sel, c->percent, c->max_inst, &matched);
    json_decref(all);
    int rc = 2;
    if (!json_array_size(want)) {
        fprintf(stderr, "faultline ctl: no instance is up%s%s\n", c->sel_text ? " matching " : "", c->sel_text ? c->sel_text : "");
        json_decref(want);
        return 1;
    }
    if (!strcmp(cmd, "add")) rc = cmd_add(c, want, matched, n, a);
    else if ((!strcmp(cmd, "kill") || !strcmp(cmd, "resume")) && n == 0) rc = run_msg(c, new_msg(c, cmd, want, matched), want);
    else if (!strcmp(cmd, "rm") && n == 1) {
        json_t *m = new_msg(c, "rm", want, matched);
        const char *slash = strchr(a[0], '/');
        if (slash) {
            json_object_set_new(m, "proxy", json_stringn(a[0], (size_t)(slash - a[0])));
            json_object_set_new(m, "name", json_string(slash + 1));
        } else {
            json_object_set_new(m, "name", json_string(a[0]));
        }
        rc = run_msg(c, m, want);
    } else if (!strcmp(cmd, "renew") && n == 1) {
        json_t *m = new_msg(c, "renew", want, matched);
        json_object_set_new(m, "lease_id", json_string(a[0]));
        json_object_set_new(m, "lease_ms", json_integer((json_int_t)(c->lease_us / 1000)));
        json_object_set_new(m, "ack", json_true());
        rc = run_msg(c, m, want);
    } else if (!strcmp(cmd, "load") && n == 1) {
        char err[FL_ERRLEN], *text;
        struct profile *p = profile_load(a[0], 0, err, sizeof(err));
        if (!p) fprintf(stderr, "%s\n", err);
        else if (read_file(a[0], &text) == 0) {
            json_t *m = new_msg(c, "load", want, matched);
            json_object_set_new(m, "profile", json_string(text));
            free(text);
            rc = run_msg(c, m, want);
        }
        profile_free(p);
    } else {
        fprintf(stderr, "faultline ctl: bad fleet command or arguments: %s\n\n", cmd);
        usage(stderr);
    }
    json_decref(want);
    return rc;
}

/* Where the fleet is: --profile's [fleet], else --redis / --key-file / the environment; then
 * the client (the key read, Redis reached). 0, or -1 after saying why. */
static int setup(struct fctl *c)
{
    char err[FL_ERRLEN], ns[64];
    snprintf(ns, sizeof(ns), "%s", c->name ? c->name : "default");
    if (c->profile) {
        struct profile *p = profile_load(c->profile, PROF_ALLOW_SCENARIO, err, sizeof(err));
        if (!p) { fprintf(stderr, "%s\n", err); return -1; }
        if (!p->fleet) { fprintf(stderr, "faultline ctl: %s has no [fleet] section\n", c->profile); profile_free(p); return -1; }
        c->url = p->fleet->url;
        if (!c->key_file) c->key_file = c->key_file_buf = strdup(p->fleet->key_file);
        if (!c->name) snprintf(ns, sizeof(ns), "%s", p->fleet->name);
        profile_free(p);
    } else {
        if (!c->redis) c->redis = getenv("FAULTLINE_FLEET_REDIS");
        if (!c->redis || !*c->redis) { fprintf(stderr, "faultline ctl: --fleet needs --redis URL, --profile FILE or $FAULTLINE_FLEET_REDIS\n"); return -1; }
        if (rec_url_parse(c->redis, &c->url, err, sizeof(err)) < 0) { fprintf(stderr, "faultline ctl: --redis: %s\n", err); return -1; }
    }
    if (!c->key_file) c->key_file = getenv("FAULTLINE_FLEET_KEY_FILE");
    if (!c->key_file || !*c->key_file) { fprintf(stderr, "faultline ctl: --fleet needs --key-file PATH, --profile FILE or $FAULTLINE_FLEET_KEY_FILE\n"); return -1; }
    if (fleet_client_open(&c->fc, &c->url, c->key_file, ns, "ctl", err, sizeof(err)) < 0) {
        fprintf(stderr, "faultline ctl: %s\n", err);
        return -1;
    }
    return 0;
}

/* One option with its value (--opt V or --opt=V). 1 if argv[*i] is opt (value in *val). */
static int opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n)) return 0;
    if (argv[*i][n] == '=') { *val = argv[*i] + n + 1; return 1; }
    if (argv[*i][n] || *i + 1 >= argc) return 0;
    *val = argv[++*i];
    return 1;
}

/* Options may stand anywhere (a fault's keys never start with "--"); the rest, in order, is
 * the command and its arguments, moved to pos (*npos of them). */
static int parse_opts(struct fctl *c, int argc, char **argv, char **pos, int *npos)
{
    char e[300];
    const char *v;
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--fleet")) {
            if (i + 1 < argc && argv[i + 1][0] != '-' && (strchr(argv[i + 1], '=') || !strcmp(argv[i + 1], "*"))) c->sel_text = argv[++i];
        } else if (!strcmp(o, "--json")) c->json = 1;
        else if (!strcmp(o, "--hold")) c->hold = 1;
        else if (opt(argc, argv, &i, "--redis", &v)) c->redis = v;
        else if (opt(argc, argv, &i, "--key-file", &v)) c->key_file = v;
        else if (opt(argc, argv, &i, "--profile", &v)) c->profile = v;
        else if (opt(argc, argv, &i, "--name", &v)) c->name = v;
        else if (opt(argc, argv, &i, "--percent", &v)) {
            char *end;
            c->percent = strtod(v, &end);
            if (*end == '%') end++;
            if (*end || !(c->percent > 0 && c->percent <= 100)) { fprintf(stderr, "faultline ctl: --percent: '%s' is not in (0, 100]\n", v); return -1; }
        } else if (opt(argc, argv, &i, "--max-instances", &v)) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 1000000) { fprintf(stderr, "faultline ctl: --max-instances: '%s' is not a count >= 1\n", v); return -1; }
            c->max_inst = (int)n;
        } else if (opt(argc, argv, &i, "--lease", &v)) {
            if (parse_duration(v, &c->lease_us, e, sizeof(e)) < 0 || c->lease_us < 1000000) {
                fprintf(stderr, "faultline ctl: --lease: '%s': a duration of at least 1s\n", v);
                return -1;
            }
        } else if (opt(argc, argv, &i, "--timeout", &v)) {
            if (parse_duration(v, &c->timeout_us, e, sizeof(e)) < 0 || c->timeout_us <= 0) {
                fprintf(stderr, "faultline ctl: --timeout: '%s' is not a duration\n", v);
                return -1;
            }
        } else if (!strcmp(o, "--help") || !strcmp(o, "-h")) { usage(stdout); exit(0); }
        else if (o[0] == '-' && o[1] == '-') { fprintf(stderr, "faultline ctl: unknown fleet option '%s'\n\n", o); usage(stderr); return -1; }
        else pos[(*npos)++] = argv[i];
    }
    return 0;
}

static int cli_fleet_run(struct fctl *c_, int np, char **pos);

int cli_fleet(int argc, char **argv)
{
    struct fctl c = {0};
    c.timeout_us = 5000000;
    c.lease_us = 15000000;
    char **pos = calloc((size_t)argc + 1, sizeof(char *));
    if (!pos) abort();
    int np;
    if (parse_opts(&c, argc, argv, pos, &np) < 0) { free(pos); return 2; }
    int rc = cli_fleet_run(&c, np, pos);
    free(pos);
    return rc;
}

static int cli_fleet_run(struct fctl *c_, int np, char **pos)
{
    struct fctl c = *c_;
    char err[300];
    if (fleet_sel_parse(c.sel_text, &c.sel, err, sizeof(err)) < 0) { fprintf(stderr, "faultline ctl: --fleet: %s\n", err); return 2; }
    const char *cmd = np ? pos[0] : "list";
    int n = np ? np - 1 : 0;
    if (c.hold && strcmp(cmd, "add")) { fprintf(stderr, "faultline ctl: --hold goes with add\n"); return 2; }
    if (setup(&c) < 0) { fleet_client_close(&c.fc); free(c.key_file_buf); return 2; }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = run_command(&c, cmd, n, pos + 1);
    fleet_client_close(&c.fc);
    free(c.key_file_buf);
    return rc;
}
