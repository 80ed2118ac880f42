/* verify.h -- judging a recorded run. Used by `faultline verify` (cli/verify.c) and `faultline run`.
 *
 * A verdict is PASS, FAIL or INCONCLUSIVE; no data, too few samples or a fault that was never
 * applied is INCONCLUSIVE, never a pass. Exit status: 0 all pass, 1 any fail, 3 none fail but
 * some inconclusive, 2 bad input or Redis/Postgres unreachable.
 */
#ifndef FL_VERIFY_H
#define FL_VERIFY_H

#include <stdio.h>
#include "common/inidoc.h"

/* The record's Redis when neither --redis nor the file names one. */
#define VERIFY_DEFAULT_REDIS "redis://127.0.0.1:6379/0"

enum verdict { V_PASS = 0, V_FAIL, V_INCONCLUSIVE };

struct verify_result {
    char name[128];        /* [expect NAME] */
    char check[32];        /* timeout, pool, recovery, breaker, retries, bulkhead, postgres, probe, ... */
    char proxy[128];
    char measured[256];    /* human text: "p100 waited 512ms (3 calls)" */
    char bound[256];       /* human text: "<= 1s" */
    char why[512];         /* one sentence: why it failed or is inconclusive */
    char detail[2048];     /* optional, "" or lines ending with \n: evidence behind the verdict
                            * (probe go_goroutines: the goroutine stacks that grew) */
    enum verdict v;
    double seconds;        /* time the check took to evaluate */
};

/* One change to the daemons during the run, from the record's audit stream R:audit
 * (docs/metrics.md; control/audit.h writes it). Shown, never judged. */
struct verify_audit {
    double at_ms;
    char who[64], via[16], what[320], inst[128], remote[80];
    int status;
};
#define VERIFY_AUDIT_MAX 1000   /* entries kept in a report (the newest); naudit_total counts all */

struct verify_report {
    char run[128];
    char note[384];         /* "" or one line about the run as a whole (halted, still live) */
    struct verify_result *r;
    int n;
    struct verify_audit *audit;   /* owned: the run's audit list, oldest first (verify/audit.c) */
    int naudit, naudit_total;
};

struct verify_opts {
    const char *run;        /* run id (required, unless record_file names it) */
    const char *redis_url;  /* redis://… or unix:/path (required unless record_file) */
    const char *pg_dsn;     /* default DSN for postgres checks (may be NULL) */
    const char *record_file;/* judge this record.json (faultline run's export) instead of Redis */
    double wait_ms;         /* a run still being recorded: wait this long for it to end */
    int live_ok;            /* judge a run still being recorded as it stands (after wait_ms) */
    const char *const *only;/* NULL, or the [expect] names to judge (NULL-terminated): the others
                             * are validated, not judged (the runner's check(NAME) stop conditions) */
};

/* Validates every [expect] section of doc (keys, values). 0 or -1 with "PATH:LINE: reason". */
int verify_check_doc(struct inidoc *doc, char *err, size_t errlen);

/* Judges every [expect] section of doc against the run. Returns 0 with *out filled (caller
 * frees with verify_report_free), or -1 with err set (bad input, Redis/Postgres unreachable, a
 * run id the record does not know -- err lists the runs it knows: exit 2).
 *
 * A run an instance is still recording (no ended_ms, written within the last few intervals) is
 * waited for, up to o->wait_ms; still live then, every expectation is INCONCLUSIVE saying so,
 * unless o->live_ok. A run `faultline run` halted on a stop condition (R:runner outcome =
 * halted) turns every PASS into INCONCLUSIVE with the stop condition as the reason. */
int verify_doc(struct inidoc *doc, const struct verify_opts *o, struct verify_report *out,
               char *err, size_t errlen);

int verify_exit_code(const struct verify_report *rep);     /* 0 / 1 / 3 */
const char *verdict_str(enum verdict v);                   /* "PASS" … */
void verify_print_table(const struct verify_report *rep, FILE *out);
int verify_write_junit(const struct verify_report *rep, const char *path, char *err, size_t errlen);
int verify_write_json(const struct verify_report *rep, const char *path, char *err, size_t errlen);
/* r->detail as a JSON array of its lines (a new json_t*, owned by the caller). */
void *verify_detail_json(const struct verify_result *r);
void verify_report_free(struct verify_report *rep);
/* The audit list under the verdict table: "audit: N change(s)" and one line each (nothing when
 * the record holds none). */
void verify_print_audit(const struct verify_report *rep, FILE *out);
/* The audit list as a JSON array (a new json_t*, owned by the caller). */
void *verify_audit_json(const struct verify_report *rep);

#endif
