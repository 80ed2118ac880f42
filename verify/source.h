/* verify/source.h -- values taken from outside the record: Postgres's pg_stat_activity and an HTTP
 * probe of the service (JSON or Prometheus text). Used by the samplers (verify/sampler.c) that
 * write them into the record during a run, and by the checks for a one-shot look at verify
 * time. Every call is blocking and bounded by timeout_ms.
 */
#ifndef FL_VSAMPLE_H
#define FL_VSAMPLE_H

#include <stddef.h>

struct vpg_now {
    double count;            /* client backends matching application_name/user (not ours) */
    double idle_tx;          /* of which idle in transaction */
    double idle_tx_max_ms;   /* longest idle-in-transaction time among them */
};
/* 0, or -1 with err (Postgres unreachable or the query failed). app/user may be NULL. */
int vpg_query(const char *dsn, const char *app, const char *user, int timeout_ms, struct vpg_now *out,
              char *err, size_t errlen);

/* GET url (http://HOST:PORT/path) and extract one number: json_path ("a.b[0].c", "$.a") from a
 * JSON body, or metric ("go_goroutines", or with labels 'x{code="200"}': sum of matching
 * series) from Prometheus text. 0 or -1 with err. */
int vprobe_fetch(const char *url, const char *json_path, const char *metric, int timeout_ms, double *value,
                 char *err, size_t errlen);
/* GET url; on 0, *body is the NUL-terminated answer body (at most 4 MiB), owned by the caller
 * (free). -1 with err otherwise (unreachable, timeout, status other than 200). */
int vprobe_get(const char *url, int timeout_ms, char **body, char *err, size_t errlen);
/* The extraction alone, for unit tests. */
int vprobe_json(const char *body, const char *path, double *value, char *err, size_t errlen);
int vprobe_prom(const char *body, const char *metric, double *value, char *err, size_t errlen);

/* ---- a probe expectation's settings (check_probe.c), shared with the sampler (verify/sampler.c) ---- */
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

#endif
