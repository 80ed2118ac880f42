/* verify/samples.h -- the samples `postgres` and `probe` expectations are judged on: which to
 * take, and Postgres's own view of the service's connections.
 *
 * The record holds what the proxy saw; some evidence is only visible from Postgres or from the
 * service itself, and only while the run lasts. The runner's sampler (run/sampler.h) takes those
 * samples into the record during the run (R:pg:<expect name>, R:probe:<expect name>); the checks
 * (check_postgres.c, check_probe.c) judge them afterwards. What a sample is made of -- which
 * expectations need one, every how long, from where -- is read here, by the verifier that owns
 * the expectations' syntax, so that the sampler never parses an [expect] itself.
 *
 * vpg_query is the one Postgres query, made by the sampler at each sample and by check_postgres
 * once at verify time. It blocks, bounded by timeout_ms.
 */
#ifndef FL_VSAMPLES_H
#define FL_VSAMPLES_H

#include <stddef.h>
#include "verify/verify.h"

/* ---- Postgres's view: pg_stat_activity ---- */
struct vpg_now {
    double count;            /* client backends matching application_name/user (not ours) */
    double idle_tx;          /* of which idle in transaction */
    double idle_tx_max_ms;   /* longest idle-in-transaction time among them */
};
/* 0, or -1 with err (Postgres unreachable or the query failed). app/user may be NULL. */
int vpg_query(const char *dsn, const char *app, const char *user, int timeout_ms, struct vpg_now *out,
              char *err, size_t errlen);

/* ---- a probe expectation's settings (check_probe.c judges, the sampler fetches) ---- */
enum vprobe_format { VPF_JSON = 0, VPF_PROM, VPF_EXPVAR, VPF_GOROUTINES };
extern const char *const vprobe_format_names[];     /* "json", "prometheus", "expvar", "go_goroutines" */
#define VPROBE_URL_MAX 512
#define VPROBE_MAX_STACKS 256
struct vprobe_spec {
    int format;
    char url[VPROBE_URL_MAX];       /* with the format's default path added when it had none */
    const char *json_path, *metric; /* point into the document */
    int max_stacks;                 /* go_goroutines: stacks kept per sample in the record */
    int show_stacks;                /* go_goroutines: grown stacks listed in the verdict */
};
struct vexp;
/* Reads and validates url, format, json_path, metric, max_stacks, show_stacks of a probe
 * expectation. 0, or -1 with e->err ("PATH:LINE: reason"). */
int vprobe_spec_read(struct vexp *e, struct vprobe_spec *s);

/* ---- what to sample ---- */
struct vsample_spec {
    int pg;                         /* 1: check = postgres (pg_stat_activity), 0: check = probe */
    char name[128];                 /* the [expect NAME]: the record key's suffix */
    double interval_ms;             /* every `interval` (at least 50 ms; default 1 s) */
    double timeout_ms;              /* each sample's bound (`timeout`; 2 s postgres, 1 s probe) */
    const char *dsn, *app, *user;   /* postgres: `dsn` (or the default DSN), application_name, user */
    struct vprobe_spec probe;       /* probe */
};
/* Validates every [expect] of doc, then lists the expectations that need samples: postgres
 * ones judged from pg_stat_activity (not `source = record`, nor those with a proxy and no DSN)
 * and every probe. pg_dsn is the default DSN (--pg, [scenario] postgres; may be NULL).
 * 0 with *out (fl_malloc'd, the caller frees it; strings point into doc and pg_dsn, which must
 * outlive it) and *n (may be 0), or -1 with "PATH:LINE: reason". */
int vsample_specs(struct inidoc *doc, const char *pg_dsn, struct vsample_spec **out, int *n, char *err,
                  size_t errlen);

#endif
