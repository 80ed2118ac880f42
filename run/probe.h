/* run/probe.h -- one number from a service's own endpoint, for the probe sampler (run/sampler.c).
 *
 * A `probe` expectation (verify/check_probe.c) judges a value the service reports about itself:
 * goroutines, heap, open descriptors, a queue's length. The sampler reads it every `interval`
 * during the run with these calls. Each blocks, bounded by timeout_ms.
 */
#ifndef FL_RUN_PROBE_H
#define FL_RUN_PROBE_H

#include <stddef.h>

/* GET url (http://HOST[:PORT]/path) and extract one number: json_path ("a.b[0].c", "$.a") from a
 * JSON body, or metric ("go_goroutines", or with labels 'x{code="200"}': sum of matching
 * series) from Prometheus text. 0 or -1 with err. */
int probe_fetch(const char *url, const char *json_path, const char *metric, int timeout_ms, double *value,
                char *err, size_t errlen);
/* GET url; on 0, *body is the NUL-terminated answer body (at most 4 MiB), owned by the caller
 * (free). -1 with err otherwise (unreachable, timeout, status other than 200). */
int probe_get(const char *url, int timeout_ms, char **body, char *err, size_t errlen);
/* The extraction alone (pure; for unit tests too). 0, or -1 with err. */
int probe_json(const char *body, const char *path, double *value, char *err, size_t errlen);
int probe_prom(const char *body, const char *metric, double *value, char *err, size_t errlen);

#endif
