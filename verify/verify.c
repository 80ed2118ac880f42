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
    out->r = fl_calloc((size_t)n + 1, sizeof(*out->r));
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
