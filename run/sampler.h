/* run/sampler.h -- the samplers: values the record cannot see, written into it during a run.
 *
 * `postgres` and `probe` expectations judge samples taken while the run goes on
 * (verify/samples.h says which and how). The runner, or `faultline verify FILE --run ID
 * --sample` beside a run it does not drive, creates a sampler from the same document and calls
 * sampler_tick() regularly; each expectation is sampled every `interval` (default 1 s) into the
 * run's record: R:pg:<expect name> (at_ms, count, idle_in_tx, idle_in_tx_max_ms, ok, error) and
 * R:probe:<expect name> (at_ms, value, ok, error; with go_goroutines also stacks and
 * stacks_other, and the frames in R:gostacks:<expect name>; docs/metrics.md), with the run's TTL.
 *
 * Every call blocks, bounded by the expectation's `timeout` (default 1 s probe, 2 s postgres):
 * call it from a child process or a command, not from a busy event loop. A failed sample is
 * recorded with ok=0 and its reason and is not an error; only Redis failing is.
 */
#ifndef FL_RUN_SAMPLER_H
#define FL_RUN_SAMPLER_H

#include <stddef.h>
#include "verify/verify.h"
#include "verify/samples.h"

struct sampler;
/* A sampler for doc's postgres and probe expectations, writing into run o->run of o->redis_url
 * (o->pg_dsn: the default DSN). NULL with err (bad document, no run id, Redis unreachable). A
 * sampler with nothing to sample is valid (sampler_count() == 0). doc and o's strings must
 * outlive it. Owned by the caller: sampler_free. */
struct sampler *sampler_new(struct inidoc *doc, const struct verify_opts *o, char *err, size_t errlen);
int sampler_count(const struct sampler *s);
/* Takes the samples that are due. Returns ms until the next one is due, or -1 with err. */
int sampler_tick(struct sampler *s, char *err, size_t errlen);
/* One sample of one expectation now (by its name). 0, or -1 with err (unknown name, Redis). */
int sampler_take(struct sampler *s, const char *expect, char *err, size_t errlen);
void sampler_free(struct sampler *s);   /* accepts NULL */

/* The samplers in a child process, for a program with an event loop to keep free (`faultline
 * run`, `faultline serve PROFILE --expect FILE`): the child closes every inherited descriptor
 * (no proxy socket stays open in it), gets PR_SET_PDEATHSIG, ignores SIGINT (the parent decides
 * when it stops), and ticks until SIGTERM. Returns its pid, 0 when doc has nothing to sample,
 * or -1 with err (fork failed). The child reports its own errors on stderr, tagged `who`. */
int sampler_child_start(struct inidoc *doc, const struct verify_opts *o, const char *who, char *err, size_t errlen);
/* SIGTERM, up to 3 s, then SIGKILL; reaped. Accepts 0. */
void sampler_child_stop(int pid);

#endif
