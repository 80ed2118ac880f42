/* report.c -- the verdicts written out: a table for people, JUnit XML for CI systems, JSON for
 * tools. None of these decide anything; they only present struct verify_report.
 */
#include "verify/verify.h"
#include "common/text.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *verdict_str(enum verdict v)
{
    return v == V_PASS ? "PASS" : v == V_FAIL ? "FAIL" : "INCONCLUSIVE";
}

int verify_exit_code(const struct verify_report *rep)
{
    int fail = 0, inc = 0;
    for (int i = 0; i < rep->n; i++) {
        if (rep->r[i].v == V_FAIL) fail++;
        else if (rep->r[i].v == V_INCONCLUSIVE) inc++;
    }
    return fail ? 1 : inc ? 3 : 0;
}

/* Columns are measured in characters, not bytes: "±" is two bytes of UTF-8 and one column. */
static size_t cols(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Every text below may quote the record (names, paths, queries a peer sent), which anyone who
 * can write to the run's Redis fills: it reaches the terminal printable (fl_put_printable). */
static void cell(FILE *out, const char *s, size_t w)
{
    fl_put_printable(out, s, strlen(s));
    for (size_t n = cols(s); n < w + 2; n++) fputc(' ', out);
}

void verify_print_table(const struct verify_report *rep, FILE *out)
{
    static const char *hdr[] = {"EXPECTATION", "CHECK", "MEASURED", "BOUND", "VERDICT"};
    size_t w[5];
    for (int c = 0; c < 5; c++) w[c] = cols(hdr[c]);
    for (int i = 0; i < rep->n; i++) {
        const struct verify_result *r = &rep->r[i];
        const char *col[] = {r->name, r->check, r->measured, r->bound, verdict_str(r->v)};
        for (int c = 0; c < 5; c++) if (cols(col[c]) > w[c]) w[c] = cols(col[c]);
    }
    for (int c = 0; c < 4; c++) cell(out, hdr[c], w[c]);
    fprintf(out, "%s\n", hdr[4]);
    int np = 0, nf = 0, ni = 0;
    for (int i = 0; i < rep->n; i++) {
        const struct verify_result *r = &rep->r[i];
        const char *col[] = {r->name, r->check, r->measured, r->bound};
        for (int c = 0; c < 4; c++) cell(out, col[c], w[c]);
        fprintf(out, "%s\n", verdict_str(r->v));
        if (r->v == V_PASS) np++;
        else if (r->v == V_FAIL) nf++;
        else ni++;
    }
    for (int i = 0; i < rep->n; i++) {
        if (rep->r[i].v != V_PASS) {
            fprintf(out, "%s ", verdict_str(rep->r[i].v));
            fl_put_printable(out, rep->r[i].name, strlen(rep->r[i].name));
            fputs(": ", out);
            fl_put_printable(out, rep->r[i].why, strlen(rep->r[i].why));
            fputc('\n', out);
        }
        if (rep->r[i].detail[0]) {     /* evidence, indented under its verdict */
            for (const char *l = rep->r[i].detail; *l;) {
                size_t n = strcspn(l, "\n");
                fputs("  ", out);
                fl_put_printable(out, l, n);
                fputc('\n', out);
                l += n + (l[n] == '\n');
            }
        }
    }
    if (rep->note[0]) { fl_put_printable(out, rep->note, strlen(rep->note)); fputc('\n', out); }
    fputs("run ", out);
    fl_put_printable(out, rep->run, strlen(rep->run));
    fprintf(out, ": %d passed, %d failed, %d inconclusive\n", np, nf, ni);
}

/* XML text: the five entities, and control characters (not allowed in XML 1.0) as '?' */
static void xml_put(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') fputc('?', f);
            else fputc(c, f);
        }
    }
}

int verify_write_junit(const struct verify_report *rep, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) { snprintf(err, errlen, "%s: cannot write", path); return -1; }
    int nf = 0, ni = 0;
    double t = 0;
    for (int i = 0; i < rep->n; i++) {
        if (rep->r[i].v == V_FAIL) nf++;
        if (rep->r[i].v == V_INCONCLUSIVE) ni++;
        t += rep->r[i].seconds;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"faultline verify\" tests=\"%d\" "
               "failures=\"%d\" skipped=\"%d\" time=\"%.3f\">\n  <testsuite name=\"",
            rep->n, nf, ni, t);
    xml_put(f, rep->run);
    fprintf(f, "\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\" time=\"%.3f\">\n", rep->n, nf, ni, t);
    for (int i = 0; i < rep->n; i++) {
        const struct verify_result *r = &rep->r[i];
        fputs("    <testcase classname=\"faultline.", f);
        xml_put(f, r->check);
        fputs("\" name=\"", f);
        xml_put(f, r->name);
        fprintf(f, "\" time=\"%.3f\">\n", r->seconds);
        if (r->v != V_PASS) {
            fputs(r->v == V_FAIL ? "      <failure type=\"FAIL\" message=\"" : "      <skipped message=\"INCONCLUSIVE: ", f);
            xml_put(f, r->why);
            fputs("\">", f);
            fputs("measured: ", f);
            xml_put(f, r->measured);
            fputs("; bound: ", f);
            xml_put(f, r->bound);
            fputs(r->v == V_FAIL ? "</failure>\n" : "</skipped>\n", f);
        }
        fputs("      <system-out>", f);
        xml_put(f, r->measured);
        fputs(" | ", f);
        xml_put(f, r->bound);
        fputs(" | ", f);
        xml_put(f, r->why);
        if (r->detail[0]) {
            fputs("\n", f);
            xml_put(f, r->detail);
        }
        fputs("</system-out>\n    </testcase>\n", f);
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
    if (fclose(f) != 0) { snprintf(err, errlen, "%s: write failed", path); return -1; }
    return 0;
}

void *verify_detail_json(const struct verify_result *r)
{
    json_t *a = json_array();
    for (const char *l = r->detail; *l;) {
        size_t n = strcspn(l, "\n");
        json_array_append_new(a, json_stringn(l, n));
        l += n + (l[n] == '\n');
    }
    return a;
}

int verify_write_json(const struct verify_report *rep, const char *path, char *err, size_t errlen)
{
    json_t *root = json_object(), *arr = json_array();
    int c[3] = {0, 0, 0};
    for (int i = 0; i < rep->n; i++) {
        const struct verify_result *r = &rep->r[i];
        c[r->v]++;
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f}", "name", r->name, "check", r->check, "proxy",
                              r->proxy, "verdict", verdict_str(r->v), "measured", r->measured, "bound", r->bound, "why",
                              r->why, "seconds", r->seconds);
        if (r->detail[0]) json_object_set_new(j, "detail", verify_detail_json(r));
        json_array_append_new(arr, j);
    }
    json_object_set_new(root, "run", json_string(rep->run));
    if (rep->note[0]) json_object_set_new(root, "note", json_string(rep->note));
    json_object_set_new(root, "exit", json_integer(verify_exit_code(rep)));
    json_object_set_new(root, "summary", json_pack("{s:i, s:i, s:i}", "pass", c[V_PASS], "fail", c[V_FAIL],
                                                   "inconclusive", c[V_INCONCLUSIVE]));
    json_object_set_new(root, "results", arr);
    json_object_set_new(root, "audit", verify_audit_json(rep));
    int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    json_decref(root);
    if (rc < 0) { snprintf(err, errlen, "%s: cannot write", path); return -1; }
    return 0;
}

void verify_report_free(struct verify_report *rep)
{
    if (!rep) return;
    free(rep->r);
    rep->r = NULL;
    rep->n = 0;
    free(rep->audit);
    rep->audit = NULL;
    rep->naudit = rep->naudit_total = 0;
}
