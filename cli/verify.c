/* cli/verify.c -- `faultline verify EXPECT.ini --run ID`: the verifier's command line.
 *
 * Judging is verify/'s (verify_doc and the report writers of verify/verify.h); this file reads
 * the options, finds the record (Redis, or --record FILE: the record.json a `faultline run`
 * leaves) and the default Postgres DSN in the file when the options do not name them, prints
 * the table and writes --junit/--json. With --sample it runs the runner's samplers
 * (run/sampler.h) instead, beside a run this command does not drive, until SIGINT/SIGTERM or
 * --for. The list of checks in --help comes from the registry (verify/check.h).
 */
#include "cli/cli.h"
#include "verify/verify.h"
#include "verify/check.h"
#include "run/sampler.h"
#include "common/parse.h"
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
    char checks[512] = "";
    for (int i = 0; vchecks[i]; i++) {
        size_t o = strlen(checks);
        snprintf(checks + o, sizeof(checks) - o, "%s%s", i ? ", " : "", vchecks[i]->name);
    }
    fprintf(f,
            "usage: faultline verify EXPECT.ini --run ID [--redis URL] [--pg DSN] [--junit FILE] [--json FILE]\n"
            "                        [--wait DURATION] [--live]\n"
            "       faultline verify EXPECT.ini --record DIR/record.json [--run ID] [--junit FILE] [--json FILE]\n"
            "       faultline verify EXPECT.ini --run ID --sample [--for DURATION]\n"
            "\n"
            "Judges a recorded run against the [expect NAME] sections of EXPECT.ini (a bare expectation\n"
            "file, a profile or a scenario) and prints a table: expectation, check, measured, bound, verdict.\n"
            "Checks: %s (docs/verify.md).\n"
            "\n"
            "  --run ID        the run to judge (printed by `faultline serve`/`run` at start); an id the\n"
            "                  record does not know is an error (exit 2) listing the runs it knows\n"
            "  --redis URL     redis://[:PASS@]HOST:PORT[/DB] or unix:/path[?db=N]; default: the file's\n"
            "                  [faultline] redis, else " VERIFY_DEFAULT_REDIS "\n"
            "  --record FILE   judge the record.json a `faultline run` left in its output directory\n"
            "                  (its embedded Redis is gone; the file holds every key of the run)\n"
            "  --pg DSN        default Postgres connection for postgres checks without 'dsn'\n"
            "  --junit FILE    also write JUnit XML      --json FILE   also write JSON\n"
            "  --wait DUR      a run still being recorded (a daemon still running): wait up to DUR for it to\n"
            "                  end (default 10s); still live then, every verdict is INCONCLUSIVE saying so\n"
            "  --live          judge a run still being recorded as its record stands now (no wait)\n"
            "  --sample        instead of judging, sample the postgres and probe expectations into the\n"
            "                  record (R:pg:NAME, R:probe:NAME) every 'interval' until SIGINT/SIGTERM\n"
            "                  or --for DURATION; run it beside the service during the run\n"
            "\n"
            "Exit status: 0 all pass, 1 any fail, 3 none fail but some inconclusive, 2 bad input, an unknown\n"
            "run, or Redis/Postgres unreachable.\n",
            checks);
}

/* "500ms", "30s", "2m" as ms; -1 when not a duration */
static double dur_ms(const char *v)
{
    int64_t us;
    char m[200];
    if (parse_duration(v, &us, m, sizeof(m)) < 0 || us < 0) return -1;
    return (double)us / 1000;
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

/* The record's Redis and the default DSN, from the options or the file. */
static void defaults_from_file(struct inidoc *doc, const char **redis, const char **pg)
{
    for (int i = 0; i < doc->nsecs && !*redis; i++) {
        int line;
        if (!strcmp(doc->secs[i].type, "faultline") || !strcmp(doc->secs[i].type, "scenario"))
            *redis = inisec_get(&doc->secs[i], "redis", &line);
    }
    if (!*redis) *redis = VERIFY_DEFAULT_REDIS;
    for (int i = 0; i < doc->nsecs && !*pg; i++) {
        int line;
        if (!strcmp(doc->secs[i].type, "scenario")) *pg = inisec_get(&doc->secs[i], "postgres", &line);
    }
}

static int judge(struct inidoc *doc, const char *file, const struct verify_opts *o, const char *junit, const char *json)
{
    char err[FL_ERRLEN];
    struct verify_report rep;
    if (verify_doc(doc, o, &rep, err, sizeof(err)) < 0) {
        fprintf(stderr, "faultline verify: %s\n", err);
        if (!o->record_file && strstr(err, "unreachable"))
            fprintf(stderr, "faultline verify: a `faultline run` with its own (embedded) Redis leaves its record in "
                    "OUT/record.json: faultline verify %s --record OUT/record.json\n", file);
        return 2;
    }
    if (rep.n == 0) fprintf(stderr, "faultline verify: %s has no [expect NAME] section: nothing to judge\n", file);
    verify_print_table(&rep, stdout);
    verify_print_audit(&rep, stdout);
    int rc = rep.n ? verify_exit_code(&rep) : 2;
    if (junit && verify_write_junit(&rep, junit, err, sizeof(err)) < 0) { fprintf(stderr, "faultline verify: %s\n", err); rc = 2; }
    if (json && verify_write_json(&rep, json, err, sizeof(err)) < 0) { fprintf(stderr, "faultline verify: %s\n", err); rc = 2; }
    verify_report_free(&rep);
    return rc;
}

int cli_verify(int argc, char **argv)
{
    const char *file = NULL, *run = NULL, *redis = NULL, *pg = NULL, *junit = NULL, *json = NULL, *forv = NULL,
               *record = NULL, *waitv = NULL;
    int sample = 0, live = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = !strcmp(a, "--run") ? &run : !strcmp(a, "--redis") ? &redis : !strcmp(a, "--pg") ? &pg
                          : !strcmp(a, "--junit") ? &junit : !strcmp(a, "--json") ? &json : !strcmp(a, "--for") ? &forv
                          : !strcmp(a, "--record") ? &record : !strcmp(a, "--wait") ? &waitv : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        if (!strcmp(a, "--sample")) { sample = 1; continue; }
        if (!strcmp(a, "--live")) { live = 1; continue; }
        if (slot) {
            if (i + 1 >= argc) { fprintf(stderr, "faultline verify: %s needs a value\n", a); return 2; }
            *slot = argv[++i];
            continue;
        }
        if (a[0] == '-') { fprintf(stderr, "faultline verify: unknown option %s (see --help)\n", a); return 2; }
        if (file) { fprintf(stderr, "faultline verify: one expectation file only (got %s and %s)\n", file, a); return 2; }
        file = a;
    }
    if (!file || (!run && !record)) { usage(stderr); return 2; }
    if (record && (redis || sample)) {
        fprintf(stderr, "faultline verify: --record reads a record.json: no --redis%s\n", sample ? ", no --sample" : "");
        return 2;
    }
    double wait_ms = 10000, for_ms = 0;
    if (waitv && (wait_ms = dur_ms(waitv)) < 0) { fprintf(stderr, "faultline verify: --wait %s: expected 500ms, 30s or 2m\n", waitv); return 2; }
    if (forv && (for_ms = dur_ms(forv)) <= 0) { fprintf(stderr, "faultline verify: --for %s: expected 500ms, 30s or 2m\n", forv); return 2; }
    char err[FL_ERRLEN];
    struct inidoc *doc = inidoc_load(file, NULL, err, sizeof(err));
    if (!doc) { fprintf(stderr, "faultline verify: %s\n", err); return 2; }
    if (verify_check_doc(doc, err, sizeof(err)) < 0) {
        fprintf(stderr, "faultline verify: %s\n", err);
        inidoc_free(doc);
        return 2;
    }
    const char *unused = "";
    defaults_from_file(doc, record ? &unused : &redis, &pg);
    struct verify_opts o = {run, record ? NULL : redis, pg, record, live ? 0 : wait_ms, live, NULL};
    int rc = sample ? run_sampler(doc, &o, for_ms) : judge(doc, file, &o, junit, json);
    inidoc_free(doc);
    return rc;
}
