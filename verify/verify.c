/* verify.c -- `faultline verify`: judge a recorded run against [expect NAME] sections.
 *
 * An expectation file is INI; it may be a bare list of [expect] sections or a whole profile or
 * scenario ([faultline], [proxy], [fault], [phase], [scenario] ... are tolerated and skipped,
 * except [faultline] redis, which is the default --redis). Each [expect] names its `check`,
 * whose file in verify/check_<name>.c reads its parameters and the record and returns PASS,
 * FAIL or INCONCLUSIVE. This file only validates, dispatches, and runs the command line; the
 * report writers are in report.c, the samplers in verify/sampler.c.
 */
#include "verify/verify.h"
#include "verify/check.h"
#include "cli/cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VERIFY_DEFAULT_REDIS "redis://127.0.0.1:6379/0"

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Is there a [TYPE NAME] section? -1 when the doc has no [TYPE ...] at all (nothing to check). */
static int doc_has(struct inidoc *d, const char *type, const char *name)
{
    int any = 0;
    for (int i = 0; i < d->nsecs; i++)
        if (!strcmp(d->secs[i].type, type)) {
            any = 1;
            if (!strcmp(d->secs[i].name, name)) return 1;
        }
    return any ? 0 : -1;
}

static int exp_init(struct inidoc *d, struct inisec *s, struct vexp *e, const struct vcheck **ck, char *err,
                    size_t errlen)
{
    memset(e, 0, sizeof(*e));
    e->doc = d;
    e->sec = s;
    e->name = s->name;
    e->err = err;
    e->errlen = errlen;
    int line;
    if (!s->name[0]) return inidoc_err(d, s->line, err, errlen, "[expect] needs a name: [expect NAME]");
    e->check = inisec_get(s, "check", &line);
    if (!e->check) {
        char list[200] = "";
        for (int i = 0; vchecks[i]; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", vchecks[i]->name);
        return inidoc_err(d, s->line, err, errlen, "[expect %s] needs 'check' (%s)", s->name, list);
    }
    *ck = vcheck_find(e->check);
    if (!*ck) return inidoc_err(d, line, err, errlen, "[expect %s] check: unknown check '%s'", s->name, e->check);
    e->proxy = inisec_get(s, "proxy", &line);
    if (e->proxy && doc_has(d, "proxy", e->proxy) == 0)
        return inidoc_err(d, line, err, errlen, "[expect %s] proxy: no [proxy %s] in this file", s->name, e->proxy);
    if (!e->proxy && (*ck)->needs_proxy)
        return inidoc_err(d, s->line, err, errlen, "[expect %s] needs 'proxy' (the proxy in front of the dependency)",
                          s->name);
    e->fault = inisec_get(s, "fault", &line);
    if (e->fault && doc_has(d, "fault", e->fault) == 0)
        return inidoc_err(d, line, err, errlen, "[expect %s] fault: no [fault %s] in this file", s->name, e->fault);
    const char *other = inisec_get(s, "other", &line);
    if (other && doc_has(d, "proxy", other) == 0)
        return inidoc_err(d, line, err, errlen, "[expect %s] other: no [proxy %s] in this file", s->name, other);
    const char *ph = inisec_get(s, "baseline", &line);
    if (ph && doc_has(d, "phase", ph) == 0)
        return inidoc_err(d, line, err, errlen, "[expect %s] baseline: no [phase %s] in this file", s->name, ph);
    inisec_get(s, "description", &line);
    return 0;
}

int verify_check_doc(struct inidoc *doc, char *err, size_t errlen)
{
    for (int i = 0; i < doc->nsecs; i++) {
        struct inisec *s = &doc->secs[i];
        if (strcmp(s->type, "expect")) continue;
        for (int k = 0; k < i; k++)
            if (!strcmp(doc->secs[k].type, "expect") && !strcmp(doc->secs[k].name, s->name))
                return inidoc_err(doc, s->line, err, errlen, "[expect %s] is defined twice (first at line %d)", s->name,
                                  doc->secs[k].line);
        struct vexp e;
        const struct vcheck *ck;
        if (exp_init(doc, s, &e, &ck, err, errlen) < 0) return -1;
        struct verify_result r;
        memset(&r, 0, sizeof(r));
        if (ck->judge(NULL, &e, &r) < 0) return -1;
        if (inisec_check_unused(doc, s, err, errlen) < 0) return -1;
    }
    return 0;
}

int verify_doc(struct inidoc *doc, const struct verify_opts *o, struct verify_report *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->run, sizeof(out->run), "%s", o->run ? o->run : "");
    if (!o->run || !o->run[0]) { snprintf(err, errlen, "no run id (--run ID)"); return -1; }
    if (verify_check_doc(doc, err, errlen) < 0) return -1;
    int n = 0;
    for (int i = 0; i < doc->nsecs; i++) n += !strcmp(doc->secs[i].type, "expect");
    out->r = calloc((size_t)n + 1, sizeof(*out->r));
    if (!out->r) abort();
    if (!n) return 0;
    struct vrec rec;
    if (vrec_open(&rec, o->redis_url ? o->redis_url : VERIFY_DEFAULT_REDIS, o->run, err, errlen) < 0) {
        vrec_free(&rec);
        verify_report_free(out);
        return -1;
    }
    struct vctx cx = {&rec, o};
    for (int i = 0; i < doc->nsecs; i++) {
        struct inisec *s = &doc->secs[i];
        if (strcmp(s->type, "expect")) continue;
        struct vexp e;
        const struct vcheck *ck;
        exp_init(doc, s, &e, &ck, err, errlen);
        struct verify_result *r = &out->r[out->n++];
        snprintf(r->name, sizeof(r->name), "%s", s->name);
        snprintf(r->check, sizeof(r->check), "%s", ck->name);
        snprintf(r->proxy, sizeof(r->proxy), "%s", e.proxy ? e.proxy : "");
        double t0 = mono_s();
        if (!rec.known) {
            vres(r, V_INCONCLUSIVE, "run '%s' has no record in Redis (not in fl:runs, no instances)", o->run);
        } else if (ck->judge(&cx, &e, r) < 0) {
            vrec_free(&rec);
            verify_report_free(out);
            return -1;
        }
        r->seconds = mono_s() - t0;
    }
    vrec_free(&rec);
    return 0;
}

/* ---- the command ---- */

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
    char err[1024];
    struct verify_sampler *vs = verify_sampler_new(doc, o, err, sizeof(err));
    if (!vs) { fprintf(stderr, "faultline verify: %s\n", err); return 2; }
    if (verify_sampler_count(vs) == 0) {
        fprintf(stderr, "faultline verify: no postgres or probe expectation: nothing to sample\n");
        verify_sampler_free(vs);
        return 0;
    }
    fprintf(stderr, "faultline verify: sampling %d expectation%s for run %s\n", verify_sampler_count(vs),
            verify_sampler_count(vs) == 1 ? "" : "s", o->run);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    double t_end = for_ms > 0 ? mono_s() + for_ms / 1000 : 0;
    int rc = 0;
    while (!stop_sampling && (!t_end || mono_s() < t_end)) {
        int wait = verify_sampler_tick(vs, err, sizeof(err));
        if (wait < 0) { fprintf(stderr, "faultline verify: %s\n", err); rc = 2; break; }
        if (wait > 200) wait = 200;
        usleep((useconds_t)wait * 1000);
    }
    verify_sampler_free(vs);
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
    char err[1024];
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
