/* verify.c -- `faultline verify`: judge a recorded run against [expect NAME] sections.
 *
 * An expectation file is INI; it may be a bare list of [expect] sections or a whole profile or
 * scenario ([faultline], [proxy], [fault], [phase], [scenario] ... are tolerated and skipped,
 * except [faultline] redis, which is the default --redis). Each [expect] names its `check`,
 * whose file in verify/check_<name>.c reads its parameters and the record and returns PASS,
 * FAIL or INCONCLUSIVE. This file only validates and dispatches; the report writers are in
 * report.c, the command line in cli/verify.c, and the samplers that feed postgres and probe
 * checks during a run in run/sampler.c.
 */
#include "verify/verify.h"
#include "verify/check.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

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

/* doc_has for a fault named NAME or PROXY/NAME (a [fault NAME] whose proxy is PROXY). */
static int doc_has_fault(struct inidoc *d, const char *sel)
{
    const char *slash = strchr(sel, '/');
    if (!slash) return doc_has(d, "fault", sel);
    int any = 0, line;
    for (int i = 0; i < d->nsecs; i++) {
        struct inisec *s = &d->secs[i];
        if (strcmp(s->type, "fault")) continue;
        any = 1;
        const char *px = inisec_get(s, "proxy", &line);
        if (!strcmp(s->name, slash + 1) && px && strlen(px) == (size_t)(slash - sel) &&
            !strncmp(px, sel, (size_t)(slash - sel)))
            return 1;
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
    char list[400] = "";
    for (int i = 0; vchecks[i]; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", vchecks[i]->name);
    if (!e->check) return inidoc_err(d, s->line, err, errlen, "[expect %s] needs 'check' (%s)", s->name, list);
    *ck = vcheck_find(e->check);
    if (!*ck) return inidoc_err(d, line, err, errlen, "[expect %s] check: unknown check '%s' (one of: %s)", s->name, e->check, list);
    e->proxy = inisec_get(s, "proxy", &line);
    if (e->proxy && doc_has(d, "proxy", e->proxy) == 0)
        return inidoc_err(d, line, err, errlen, "[expect %s] proxy: no [proxy %s] in this file", s->name, e->proxy);
    if (!e->proxy && (*ck)->needs_proxy)
        return inidoc_err(d, s->line, err, errlen, "[expect %s] needs 'proxy' (the proxy in front of the dependency)",
                          s->name);
    e->fault = inisec_get(s, "fault", &line);
    if (e->fault && doc_has_fault(d, e->fault) == 0)
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

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The record of o->run, opened; waited for while an instance still records it (o->wait_ms).
 * 0, or -1 with err (unreachable, or a run the record does not know: the known ones listed). */
static int open_record(const struct verify_opts *o, struct vrec *rec, char *err, size_t errlen)
{
    if (o->record_file) {
        if (vrec_open_file(rec, o->record_file, o->run, err, errlen) < 0) return -1;
        if (!rec->known) { snprintf(err, errlen, "%s holds no run", o->record_file); return -1; }
        return 0;
    }
    const char *url = o->redis_url ? o->redis_url : VERIFY_DEFAULT_REDIS;
    double t_end = mono_s() + o->wait_ms / 1000;
    for (;;) {
        if (vrec_open(rec, url, o->run, err, errlen) < 0) return -1;
        if (!rec->known) {
            char runs[1024];
            int n = vrec_runs(url, runs, sizeof(runs), err, errlen);
            snprintf(err, errlen, "run '%s' is not in the record at %s (not in fl:runs, no instances)%s%s%s", o->run,
                     url, n > 0 ? "; known runs, newest first: " : n == 0 ? "; it holds no run at all" : "",
                     n > 0 ? runs : "", n >= 0 ? "" : "");
            return -1;
        }
        if (!rec->live || mono_s() >= t_end) return 0;
        vrec_free(rec);
        sleep_ms(250);
    }
}

/* A run still being recorded, or halted by a stop condition: what it does to the verdicts. */
static void run_as_a_whole(const struct verify_opts *o, const struct vrec *rec, struct verify_report *out)
{
    char b[640];
    if (rec->live && !o->live_ok) {
        snprintf(out->note, sizeof(out->note), "run %.100s is still being recorded (instance %.60s wrote %.1fs ago)",
                 rec->run, rec->live_inst, isnan(rec->live_last_ms) ? 0 : (wall_ms() - rec->live_last_ms) / 1000);
        for (int i = 0; i < out->n; i++) {
            struct verify_result *r = &out->r[i];
            if (r->v == V_INCONCLUSIVE) continue;
            snprintf(b, sizeof(b), "%.300s: its record is not complete (a connection's event is written when it "
                     "closes); stop the daemon, or judge the record as it stands with --live (judged now: %s)",
                     out->note, verdict_str(r->v));
            r->v = V_INCONCLUSIVE;
            snprintf(r->why, sizeof(r->why), "%.500s", b);
        }
    } else if (!strcmp(rec->outcome, "halted")) {
        snprintf(out->note, sizeof(out->note), "run %.100s was HALTED: %.250s", rec->run, rec->stop_reason);
        for (int i = 0; i < out->n; i++) {
            struct verify_result *r = &out->r[i];
            if (r->v != V_PASS) continue;
            snprintf(b, sizeof(b), "the run was halted by a stop condition (%.200s): the fault did not run its course, "
                     "so a pass proves nothing (%.200s)", rec->stop_reason, r->why);
            r->v = V_INCONCLUSIVE;
            snprintf(r->why, sizeof(r->why), "%.500s", b);
        }
    } else if (!strcmp(rec->outcome, "aborted")) {
        snprintf(out->note, sizeof(out->note), "run %.100s was aborted: %.250s", rec->run, rec->stop_reason);
    }
}

/* Is [expect NAME] one o asks to judge? */
static int judged(const struct verify_opts *o, const char *name)
{
    if (!o->only) return 1;
    for (int i = 0; o->only[i]; i++)
        if (!strcmp(o->only[i], name)) return 1;
    return 0;
}

int verify_doc(struct inidoc *doc, const struct verify_opts *o, struct verify_report *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->run, sizeof(out->run), "%s", o->run ? o->run : "");
    if ((!o->run || !o->run[0]) && !o->record_file) { snprintf(err, errlen, "no run id (--run ID)"); return -1; }
    if (verify_check_doc(doc, err, errlen) < 0) return -1;
    int n = 0;
    for (int i = 0; i < doc->nsecs; i++) n += !strcmp(doc->secs[i].type, "expect") && judged(o, doc->secs[i].name);
    out->r = fl_calloc((size_t)n + 1, sizeof(*out->r));
    struct vrec rec;
    if (!n) {   /* nothing to judge: the audit list is still shown, when the record can be read */
        struct verify_opts now = *o;
        char e[300];
        now.wait_ms = 0;
        memset(&rec, 0, sizeof(rec));
        if (open_record(&now, &rec, e, sizeof(e)) == 0) verify_read_audit(&rec, out, e, sizeof(e));
        vrec_free(&rec);
        return 0;
    }
    if (open_record(o, &rec, err, errlen) < 0) {
        vrec_free(&rec);
        verify_report_free(out);
        return -1;
    }
    snprintf(out->run, sizeof(out->run), "%s", rec.run);
    struct vctx cx = {&rec, o};
    for (int i = 0; i < doc->nsecs; i++) {
        struct inisec *s = &doc->secs[i];
        if (strcmp(s->type, "expect") || !judged(o, s->name)) continue;
        struct vexp e;
        const struct vcheck *ck;
        exp_init(doc, s, &e, &ck, err, errlen);
        struct verify_result *r = &out->r[out->n++];
        snprintf(r->name, sizeof(r->name), "%s", s->name);
        snprintf(r->check, sizeof(r->check), "%s", ck->name);
        snprintf(r->proxy, sizeof(r->proxy), "%s", e.proxy ? e.proxy : "");
        double t0 = mono_s();
        if (ck->judge(&cx, &e, r) < 0) {
            vrec_free(&rec);
            verify_report_free(out);
            return -1;
        }
        r->seconds = mono_s() - t0;
    }
    run_as_a_whole(o, &rec, out);
    char aerr[300];
    verify_read_audit(&rec, out, aerr, sizeof(aerr));   /* shown, never judged: a failure only hides it */
    vrec_free(&rec);
    return 0;
}
