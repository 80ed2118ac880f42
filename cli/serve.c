/* cli/serve.c -- `faultline serve PROFILE [--expect FILE]`: the daemon in the foreground.
 *
 * The daemon core (proxy/) runs the proxies and records; it knows nothing of expectations.
 * Some checks (`postgres` from pg_stat_activity, `probe`) judge values only sampled while the
 * run goes on, which the record cannot see: with --expect FILE this command composes the two,
 * as `faultline run` does -- it starts the samplers of FILE's postgres and probe expectations
 * (run/sampler.h) in a child process beside the daemon, writing into the run the daemon
 * records (the profile's [faultline] redis; a run id is chosen here when the profile sets
 * none, so both agree), and stops it when the daemon exits. A child, not the daemon's loop: a
 * probe or a Postgres query that hangs (the very thing a fault provokes) must not stall the
 * proxies. `faultline verify FILE --run ID` then judges them like any other.
 */
#include "cli/cli.h"
#include "common/log.h"
#include "common/mem.h"
#include "proxy/profile.h"
#include "proxy/proxy.h"
#include "run/sampler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: faultline serve PROFILE.ini [--expect EXPECT.ini]\n\n"
            "Runs every [proxy] of the profile with its [fault]s, in the foreground, logging to\n"
            "stderr. Signals: SIGHUP reloads the profile (a bad one is logged and the running one\n"
            "kept); SIGTERM/SIGINT stop accepting, let connections finish for up to `drain`, then\n"
            "exit 0; SIGUSR1 stops every fault at once. Exit status 2 on a bad profile or a listen\n"
            "address in use.\n\n"
            "  --expect FILE  also sample FILE's postgres and probe expectations into the run's record\n"
            "                 while the daemon runs (needs [faultline] redis), so that\n"
            "                 `faultline verify FILE --run ID` can judge them afterwards\n");
}

static void new_run_id(char *out, size_t len)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    unsigned x = (unsigned)((tv.tv_usec ^ ((long)getpid() << 8)) & 0xffff);
    snprintf(out, len, "%04d%02d%02d-%02d%02d%02d-%04x", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, x);
}

/* The expectation file, checked, with its default DSN. NULL after saying why. */
static struct inidoc *load_expect(const char *file, struct profile *p, const char **pg)
{
    char err[FL_ERRLEN];
    struct inidoc *doc = inidoc_load(file, NULL, err, sizeof(err));
    if (!doc || verify_check_doc(doc, err, sizeof(err)) < 0) {
        fprintf(stderr, "faultline serve: %s\n", err);
        inidoc_free(doc);
        return NULL;
    }
    if (!p->g.redis[0]) {
        fprintf(stderr, "faultline serve: --expect %s: the samples go into the run's record: the profile needs "
                "[faultline] redis\n", file);
        inidoc_free(doc);
        return NULL;
    }
    *pg = NULL;
    for (int i = 0; i < doc->nsecs && !*pg; i++) {
        int line;
        if (!strcmp(doc->secs[i].type, "scenario")) *pg = inisec_get(&doc->secs[i], "postgres", &line);
    }
    return doc;
}

int cli_serve(int argc, char **argv)
{
    const char *path = NULL, *expect = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        if (!strcmp(argv[i], "--expect") && i + 1 < argc) { expect = argv[++i]; continue; }
        if (argv[i][0] == '-' || path) { usage(stderr); return 2; }
        path = argv[i];
    }
    if (!path) { usage(stderr); return 2; }
    char err[FL_ERRLEN];
    struct profile *p = profile_load(path, 0, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "faultline: %s\n", err);
        return 2;
    }
    struct inidoc *doc = NULL;
    const char *pg = NULL;
    if (expect) {
        if (!(doc = load_expect(expect, p, &pg))) { profile_free(p); return 2; }
        if (!p->g.run[0]) new_run_id(p->g.run, sizeof(p->g.run));   /* the samplers' run too */
    }
    log_setup((enum log_level)p->g.log_level, (enum log_format)p->g.log_format);
    char run[sizeof(p->g.run)], redis[sizeof(p->g.redis)];
    snprintf(run, sizeof(run), "%s", p->g.run);
    snprintf(redis, sizeof(redis), "%s", p->g.redis);
    struct fl_server *s = server_new(p, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "faultline: %s\n", err);
        profile_free(p);
        inidoc_free(doc);
        return 2;
    }
    int pid = 0;
    if (doc) {
        struct verify_opts vo = {run, redis, pg, NULL, 0, 1, NULL};
        pid = sampler_child_start(doc, &vo, "faultline serve", err, sizeof(err));
        if (pid < 0) fprintf(stderr, "faultline serve: warning: %s\n", err);
        else if (pid > 0) fprintf(stderr, "faultline serve: sampling the postgres and probe expectations of %s into run %s\n",
                                  expect, run);
        else fprintf(stderr, "faultline serve: %s has no postgres or probe expectation: nothing to sample\n", expect);
    }
    int rc = server_run(s);
    sampler_child_stop(pid);
    server_free(s);
    inidoc_free(doc);
    return rc;
}
