/* cli/verify.c -- `faultline verify EXPECT.ini --run ID`: the verifier's command line.
 *
 * Judging is verify/'s (verify_doc and the report writers of verify/verify.h); this file reads
 * the options, finds the record's Redis and the default Postgres DSN in the file when the
 * options do not name them, prints the table and writes --junit/--json. With --sample it runs
 * the runner's samplers (run/sampler.h) instead, beside a run this command does not drive,
 * until SIGINT/SIGTERM or --for.
 */
#include "cli/cli.h"
#include "verify/verify.h"
#include "run/sampler.h"
#include "common/mem.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: faultline verify EXPECT.ini --run ID [--redis URL] [--pg DSN] [--junit FILE] [--json FILE]\n"
            "       faultline verify EXPECT.ini --run ID --sample [--for DURATION]\n"
            "\n"
            "Judges a recorded run against the [expect NAME] sections of EXPECT.ini (a bare expectation\n"
            "file, a profile or a scenario) and prints a table: expectation, check, measured, bound, verdict.\n"
            "Checks: timeout, pool, recovery, breaker, retries, bulkhead, postgres, probe (docs/verify.md).\n"
            "\n"
            "  --run ID        the run to judge (printed by `faultline serve`/`run` at start)\n"
            "  --redis URL     redis://[:PASS@]HOST:PORT[/DB] or unix:/path[?db=N]; default: the file's\n"
            "                  [faultline] redis, else " VERIFY_DEFAULT_REDIS "\n"
            "  --pg DSN        default Postgres connection for postgres checks without 'dsn'\n"
            "  --junit FILE    also write JUnit XML      --json FILE   also write JSON\n"
            "  --sample        instead of judging, sample the postgres and probe expectations into the\n"
            "                  record (R:pg:NAME, R:probe:NAME) every 'interval' until SIGINT/SIGTERM\n"
            "                  or --for DURATION; run it beside the service during the run\n"
            "\n"
            "Exit status: 0 all pass, 1 any fail, 3 none fail but some inconclusive, 2 bad input or\n"
            "Redis/Postgres unreachable.\n");
}

static volatile sig_atomic_t stop_sampling;
static void on_stop(int sig) { (void)sig; stop_sampling = 1; }

static int run_sampler(struct inidoc *doc, const struct verify_opts *o, double for_ms)
{
    char err[FL_ERRLEN];
    struct sampler *vs = sampler_new(doc, o, err, sizeof(err));
    if (!vs) { fprintf(stderr, "faultline verify: %s\n", err); return 2; }
    if (sampler_count(vs) == 0) {
        fprintf(stderr, "faultline verify: no postgres or probe expectation: nothing to sample\n");
        sampler_free(vs);
        return 0;
    }
    fprintf(stderr, "faultline verify: sampling %d expectation%s for run %s\n", sampler_count(vs),
            sampler_count(vs) == 1 ? "" : "s", o->run);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    double t_end = for_ms > 0 ? mono_s() + for_ms / 1000 : 0;
    int rc = 0;
    while (!stop_sampling && (!t_end || mono_s() < t_end)) {
        int wait = sampler_tick(vs, err, sizeof(err));
        if (wait < 0) { fprintf(stderr, "faultline verify: %s\n", err); rc = 2; break; }
        if (wait > 200) wait = 200;
        usleep((useconds_t)wait * 1000);
    }
    sampler_free(vs);
    return rc;
}

int cli_verify(int argc, char **argv)
{
    const char *file = NULL, *run = NULL, *redis = NULL, *pg = NULL, *junit = NULL, *json = NULL, *forv = NULL;
    int sample = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = !strcmp(a, "--run") ? &run : !strcmp(a, "--redis") ? &redis : !strcmp(a, "--pg") ? &pg
                          : !strcmp(a, "--junit") ? &junit : !strcmp(a, "--json") ? &json : !strcmp(a, "--for") ? &forv : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        if (!strcmp(a, "--sample")) { sample = 1; continue; }
        if (slot) {
            if (i + 1 >= argc) { fprintf(stderr, "faultline verify: %s needs a value\n", a); return 2; }
            *slot = argv[++i];
            continue;
        }
        if (a[0] == '-') { fprintf(stderr, "faultline verify: unknown option %s (see --help)\n", a); return 2; }
        if (file) { fprintf(stderr, "faultline verify: one expectation file only (got %s and %s)\n", file, a); return 2; }
        file = a;
    }
    if (!file || !run) { usage(stderr); return 2; }
    char err[FL_ERRLEN];
    struct inidoc *doc = inidoc_load(file, NULL, err, sizeof(err));
    if (!doc) { fprintf(stderr, "faultline verify: %s\n", err); return 2; }
    if (verify_check_doc(doc, err, sizeof(err)) < 0) {
        fprintf(stderr, "faultline verify: %s\n", err);
        inidoc_free(doc);
        return 2;
    }
    if (!redis) {
        for (int i = 0; i < doc->nsecs && !redis; i++) {
            int line;
            if (!strcmp(doc->secs[i].type, "faultline") || !strcmp(doc->secs[i].type, "scenario"))
                redis = inisec_get(&doc->secs[i], "redis", &line);
        }
        if (!redis) redis = VERIFY_DEFAULT_REDIS;
    }
    if (!pg) {
        for (int i = 0; i < doc->nsecs && !pg; i++) {
            int line;
            if (!strcmp(doc->secs[i].type, "scenario")) pg = inisec_get(&doc->secs[i], "postgres", &line);
        }
    }
    struct verify_opts o = {run, redis, pg};
    if (sample) {
        double for_ms = 0;
        if (forv) {
            char *end;
            for_ms = strtod(forv, &end) * (!strcmp(end, "ms") ? 1 : !strcmp(end, "s") ? 1000 : !strcmp(end, "m") ? 60000 : -1);
            if (for_ms <= 0) { fprintf(stderr, "faultline verify: --for %s: expected 500ms, 30s or 2m\n", forv); inidoc_free(doc); return 2; }
        }
        int rc = run_sampler(doc, &o, for_ms);
        inidoc_free(doc);
        return rc;
    }
    struct verify_report rep;
    if (verify_doc(doc, &o, &rep, err, sizeof(err)) < 0) {
        fprintf(stderr, "faultline verify: %s\n", err);
        inidoc_free(doc);
        return 2;
    }
    if (rep.n == 0) fprintf(stderr, "faultline verify: %s has no [expect NAME] section: nothing to judge\n", file);
    verify_print_table(&rep, stdout);
    int rc = rep.n ? verify_exit_code(&rep) : 2;
    if (junit && verify_write_junit(&rep, junit, err, sizeof(err)) < 0) { fprintf(stderr, "faultline verify: %s\n", err); rc = 2; }
    if (json && verify_write_json(&rep, json, err, sizeof(err)) < 0) { fprintf(stderr, "faultline verify: %s\n", err); rc = 2; }
    verify_report_free(&rep);
    inidoc_free(doc);
    return rc;
}
