/* cli/run.c -- `faultline run SCENARIO.ini`: the runner's command line.
 *
 * Reads the options into a struct run_opts and hands the run to run_scenario (run/run.h), which
 * does everything else: load and validate the scenario, start the proxies or drive a daemon's
 * admin API, walk the phases, judge, write the run's files. The exit status is run_scenario's.
 */
#include "cli/cli.h"
#include "run/run.h"
#include "common/httpc.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: faultline run SCENARIO.ini [--out DIR] [--admin ADDR [--token T] [--run ID]] [--redis URL]\n"
            "                     [--scale F]\n"
            "\n"
            "Runs a scenario end to end: the proxies of the file (or, with --admin, an already running\n"
            "faultline driven through its admin API), the [scenario] load command, the [phase] sections in\n"
            "order with their faults acting only during their phase, then judges the [expect] sections.\n"
            "\n"
            "  --out DIR      where the run's files go (default runs/<run id>/): journal.json, junit.xml,\n"
            "                 record.json, report.html, load.log\n"
            "  --admin ADDR   drive a running faultline at ADDR (host:port) instead of starting proxies\n"
            "  --token T      bearer token for that admin API (default $FAULTLINE_ADMIN_TOKEN)\n"
            "  --run ID       run id (default: [faultline] run, or a new YYYYmmdd-HHMMSS-xxxx); with --admin\n"
            "                 it must be the run the daemon records\n"
            "  --redis URL    the record's Redis (default: [scenario] redis, [faultline] redis, or a private\n"
            "                 redis-server on a unix socket under DIR, stopped afterwards)\n"
            "  --scale F      multiply every phase's duration by F (0.2 = five times shorter, at least 100 ms\n"
            "                 each); the [expect] bounds (within, ...) are not scaled\n"
            "\n"
            "Ctrl-C stops the load, removes every fault and still writes the (partial) report, marked aborted.\n"
            "Exit status as faultline verify's: 0 all expectations pass, 1 any fails, 3 none fails but some\n"
            "are inconclusive (or the run was aborted), 2 bad scenario or Redis unreachable.\n");
}

int cli_run(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *admin = NULL, *token = NULL, *redis = NULL, *runid = NULL, *scale_s = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        const char **dst = !strcmp(a, "--out") ? &out : !strcmp(a, "--admin") ? &admin :
                           !strcmp(a, "--token") ? &token : !strcmp(a, "--redis") ? &redis :
                           !strcmp(a, "--run") ? &runid : !strcmp(a, "--scale") ? &scale_s : NULL;
        if (dst) {
            if (i + 1 >= argc) { fprintf(stderr, "faultline run: %s needs a value\n", a); return 2; }
            *dst = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "faultline run: unknown option %s\n\n", a);
            usage(stderr);
            return 2;
        } else if (!path) path = a;
        else { fprintf(stderr, "faultline run: one scenario file only\n"); return 2; }
    }
    if (!path) { usage(stderr); return 2; }
    double scale = 1;
    if (scale_s) {
        char *end;
        scale = strtod(scale_s, &end);
        if (*end || !(scale > 0 && scale <= 100)) {
            fprintf(stderr, "faultline run: --scale %s: a factor above 0 and at most 100 (0.2 = phases 5x shorter)\n", scale_s);
            return 2;
        }
    }

    if (!token) token = getenv("FAULTLINE_ADMIN_TOKEN");   /* not in ps: as ctl and serve */
    if (token && !*token) token = NULL;
    char auth[HTTPC_BEARER_MAX], err[FL_ERRLEN];
    if (admin && httpc_bearer(token, auth, err, sizeof(err)) < 0) {   /* before anything starts */
        fprintf(stderr, "faultline run: --token: %s\n", err);
        return 2;
    }
    struct run_opts o = {path, out, admin, token, redis, runid, scale};
    return run_scenario(&o);
}
