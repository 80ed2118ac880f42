/* run_weak.c -- weak stand-ins for the verifier's interface (verify/verify.h).
 *
 * The scenario runner and the verifier are built in parallel; until verify/verify.c defines
 * these functions, the runner links against the stand-ins below, which judge nothing: every
 * [expect] comes back INCONCLUSIVE, saying the verifier is not built in. The real definitions
 * are strong symbols and replace these at link time without any change here.
 */
#include "verify.h"
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((weak)) int verify_check_doc(struct inidoc *doc, char *err, size_t errlen)
{
    for (int i = 0; i < doc->nsecs; i++) {
        struct inisec *s = &doc->secs[i];
        if (strcmp(s->type, "expect")) continue;
        for (int k = 0; k < s->nkeys; k++) s->keys[k].used = 1;
        int line;
        if (!s->name[0]) return inidoc_err(doc, s->line, err, errlen, "[expect] needs a name: [expect NAME]");
        if (!inisec_get(s, "check", &line))
            return inidoc_err(doc, s->line, err, errlen, "[expect %s] is missing 'check'", s->name);
    }
    return 0;
}

__attribute__((weak)) int verify_doc(struct inidoc *doc, const struct verify_opts *o, struct verify_report *out,
                                     char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->run, sizeof(out->run), "%s", o->run);
    for (int i = 0; i < doc->nsecs; i++) {
        struct inisec *s = &doc->secs[i];
        if (strcmp(s->type, "expect")) continue;
        struct verify_result *nr = realloc(out->r, sizeof(*nr) * (size_t)(out->n + 1));
        if (!nr) abort();
        out->r = nr;
        struct verify_result *r = &out->r[out->n++];
        memset(r, 0, sizeof(*r));
        int line;
        const char *v;
        snprintf(r->name, sizeof(r->name), "%s", s->name);
        if ((v = inisec_get(s, "check", &line))) snprintf(r->check, sizeof(r->check), "%s", v);
        if ((v = inisec_get(s, "proxy", &line))) snprintf(r->proxy, sizeof(r->proxy), "%s", v);
        snprintf(r->why, sizeof(r->why), "the verifier is not built into this binary");
        r->v = V_INCONCLUSIVE;
    }
    return 0;
}

__attribute__((weak)) int verify_exit_code(const struct verify_report *rep)
{
    int fail = 0, inc = 0;
    for (int i = 0; i < rep->n; i++) {
        if (rep->r[i].v == V_FAIL) fail = 1;
        if (rep->r[i].v == V_INCONCLUSIVE) inc = 1;
    }
    return fail ? 1 : inc ? 3 : 0;
}

__attribute__((weak)) const char *verdict_str(enum verdict v)
{
    return v == V_PASS ? "PASS" : v == V_FAIL ? "FAIL" : "INCONCLUSIVE";
}

__attribute__((weak)) void verify_print_table(const struct verify_report *rep, FILE *out)
{
    fprintf(out, "%-28s %-10s %-30s %-14s %s\n", "EXPECTATION", "CHECK", "MEASURED", "BOUND", "VERDICT");
    for (int i = 0; i < rep->n; i++) {
        const struct verify_result *r = &rep->r[i];
        fprintf(out, "%-28s %-10s %-30s %-14s %s\n", r->name, r->check, r->measured, r->bound, verdict_str(r->v));
        if (r->why[0]) fprintf(out, "    %s\n", r->why);
    }
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

__attribute__((weak)) int verify_write_junit(const struct verify_report *rep, const char *path, char *err,
                                             size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) { snprintf(err, errlen, "%s: cannot write", path); return -1; }
    int fails = 0, skipped = 0;
    for (int i = 0; i < rep->n; i++) {
        fails += rep->r[i].v == V_FAIL;
        skipped += rep->r[i].v == V_INCONCLUSIVE;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"");
    xml_text(f, rep->run);
    fprintf(f, "\" tests=\"%d\" failures=\"%d\" skipped=\"%d\">\n", rep->n, fails, skipped);
    for (int i = 0; i < rep->n; i++) {
        const struct verify_result *r = &rep->r[i];
        fprintf(f, "  <testcase classname=\"");
        xml_text(f, r->check);
        fprintf(f, "\" name=\"");
        xml_text(f, r->name);
        fprintf(f, "\">");
        if (r->v != V_PASS) {
            fprintf(f, r->v == V_FAIL ? "<failure message=\"" : "<skipped message=\"");
            xml_text(f, r->why);
            fprintf(f, "\"/>");
        }
        fprintf(f, "</testcase>\n");
    }
    fprintf(f, "</testsuite>\n");
    return fclose(f) == 0 ? 0 : -1;
}

__attribute__((weak)) int verify_write_json(const struct verify_report *rep, const char *path, char *err,
                                            size_t errlen)
{
    (void)rep;
    snprintf(err, errlen, "%s: the verifier is not built into this binary", path);
    return -1;
}

__attribute__((weak)) void verify_report_free(struct verify_report *rep)
{
    if (!rep) return;
    free(rep->r);
    rep->r = NULL;
    rep->n = 0;
}

/* The samplers (postgres and probe expectations): none without the verifier. */
__attribute__((weak)) struct verify_sampler *verify_sampler_new(struct inidoc *doc, const struct verify_opts *o,
                                                               char *err, size_t errlen)
{
    (void)doc;
    (void)o;
    snprintf(err, errlen, "the verifier is not built into this binary");
    return NULL;
}

__attribute__((weak)) int verify_sampler_count(const struct verify_sampler *s) { (void)s; return 0; }

__attribute__((weak)) int verify_sampler_tick(struct verify_sampler *s, char *err, size_t errlen)
{
    (void)s;
    snprintf(err, errlen, "the verifier is not built into this binary");
    return -1;
}

__attribute__((weak)) void verify_sampler_free(struct verify_sampler *s) { (void)s; }
