/* audit.c -- the run's audit list in the verifier's report: read from the record's stream
 * R:audit (Redis or record.json), printed under the verdict table, written into the JSON
 * report and (by run/artifacts.c) into report.html. It changes no verdict: it says who changed
 * which fault when, so a reader can tell a planned fault from someone's hand on the console.
 */
#include "verify/verify.h"
#include "verify/check.h"
#include "common/mem.h"
#include "common/text.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The entry's texts are kept printable (fl_printable): the stream is written by whoever can
 * write to the run's Redis, and the list is printed to a terminal. */
static void audit_entry(void *ud, const char **f, const char **v, int n)
{
    struct verify_report *rep = ud;
    struct verify_audit a;
    memset(&a, 0, sizeof(a));
    a.at_ms = NAN;
    for (int i = 0; i < n; i++) {
        if (!strcmp(f[i], "at_ms")) a.at_ms = strtod(v[i], NULL);
        else if (!strcmp(f[i], "who")) fl_printable(v[i], a.who, sizeof(a.who));
        else if (!strcmp(f[i], "via")) fl_printable(v[i], a.via, sizeof(a.via));
        else if (!strcmp(f[i], "what")) fl_printable(v[i], a.what, sizeof(a.what));
        else if (!strcmp(f[i], "inst")) fl_printable(v[i], a.inst, sizeof(a.inst));
        else if (!strcmp(f[i], "remote")) fl_printable(v[i], a.remote, sizeof(a.remote));
        else if (!strcmp(f[i], "status")) a.status = atoi(v[i]);
    }
    rep->naudit_total++;
    if (rep->naudit == VERIFY_AUDIT_MAX) {   /* keep the newest */
        memmove(rep->audit, rep->audit + 1, sizeof(*rep->audit) * (VERIFY_AUDIT_MAX - 1));
        rep->naudit--;
    }
    rep->audit[rep->naudit++] = a;
}

int verify_read_audit(struct vrec *rec, struct verify_report *rep, char *err, size_t errlen)
{
    free(rep->audit);
    rep->audit = fl_calloc(VERIFY_AUDIT_MAX, sizeof(*rep->audit));
    rep->naudit = rep->naudit_total = 0;
    return vrec_stream(rec, "audit", audit_entry, rep, err, errlen);
}

static void when(double ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (isnan(ms) || !gmtime_r(&t, &tm)) { snprintf(out, n, "?"); return; }
    strftime(out, n, "%H:%M:%S", &tm);
}

void verify_print_audit(const struct verify_report *rep, FILE *out)
{
    if (!rep->naudit) return;
    fprintf(out, "\naudit: %d change(s) to the daemons during the run%s\n", rep->naudit_total,
            rep->naudit < rep->naudit_total ? " (the newest listed)" : "");
    for (int i = 0; i < rep->naudit; i++) {
        const struct verify_audit *a = &rep->audit[i];
        char t[16];
        when(a->at_ms, t, sizeof(t));
        fprintf(out, "  %s UTC  %-12s %-9s %s -> %d  (%s%s%s)\n", t, a->who, a->via, a->what, a->status, a->inst,
                a->remote[0] ? " from " : "", a->remote);
    }
}

void *verify_audit_json(const struct verify_report *rep)
{
    json_t *arr = json_array();
    for (int i = 0; i < rep->naudit; i++) {
        const struct verify_audit *a = &rep->audit[i];
        json_array_append_new(arr, json_pack("{s:f, s:s, s:s, s:s, s:i, s:s, s:s}", "at_ms", isnan(a->at_ms) ? 0 : a->at_ms,
                                             "who", a->who, "via", a->via, "what", a->what, "status", a->status,
                                             "inst", a->inst, "remote", a->remote));
    }
    return arr;
}
