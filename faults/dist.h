/* dist.h -- a delay drawn from a distribution: delay, jitter, distribution, correlation.
 *
 * The keys every latency-like type shares (latency per chunk on tcp proxies and per request on
 * http ones; pg_latency per query; redis_latency per command), with netem's meaning:
 *
 *   uniform       delay + jitter * U(-1, 1)               (the default; jitter <= delay)
 *   normal        delay + jitter * N(0, 1)
 *   pareto        delay + jitter * P,  P a Pareto(alpha = 3) draw shifted and scaled to mean 0
 *                 and standard deviation 1: a long tail above delay, a short one below
 *   paretonormal  delay + jitter * (0.25 N + 0.75 P) / sqrt(0.625): netem's mix of the two,
 *                 scaled back to standard deviation 1
 *
 * so `delay` is the mean and, for the three tables, `jitter` the standard deviation (netem's
 * mu and sigma). A draw below 0 is 0: a chunk cannot leave before it arrived.
 *
 * `correlation` (0..1, or a percentage) is netem's: the uniform number a draw is made from is
 * u = (1 - rho) * fresh + rho * previous, and the sample is the distribution's quantile at u
 * (normal: an inverse-CDF approximation, so one u makes one sample, as netem's table lookup
 * does). Like netem's, this makes consecutive draws alike and also narrows their spread as rho
 * grows (the mix of two uniforms is not uniform): it is an approximation of correlation, not a
 * process with the same marginal distribution. The memory of the previous u is a struct
 * dist_state: per stage (a connection's direction) on tcp proxies, per fault on the per-request
 * engines.
 *
 * Draws come from the process's generator (common/clock.h), seeded by the profile's `seed`
 * when it sets one, so a seeded run makes the same draws in the same order.
 *
 * What not: no custom tables (netem's FILE), no rate or slot emulation.
 */
#ifndef FL_DIST_H
#define FL_DIST_H

#include <stddef.h>
#include <stdint.h>

enum dist_kind { DIST_UNIFORM = 0, DIST_NORMAL, DIST_PARETO, DIST_PARETONORMAL };

struct dist_cfg {
    int64_t delay_us, jitter_us;
    enum dist_kind kind;
    double rho;                  /* correlation, 0..1 */
};
struct dist_state { double last[2]; int primed; };   /* previous u of each source stream */

/* One key of delay, jitter, distribution, correlation: FKEY_OK, FKEY_UNKNOWN or FKEY_BAD. */
int dist_set(struct dist_cfg *c, const char *k, const char *v, char *err, size_t errlen);
/* After all keys: 0, or -1 with err naming the key. */
int dist_validate(const struct dist_cfg *c, char *err, size_t errlen);
/* delay and jitter always; distribution and correlation when not the defaults. */
void dist_attrs(const struct dist_cfg *c, void (*emit)(void *ud, const char *k, const char *v), void *ud);
/* One delay in microseconds, >= 0. s may be NULL (no correlation memory). */
int64_t dist_sample(const struct dist_cfg *c, struct dist_state *s);
/* The standardised quantile of the distribution at u in (0,1) (uniform: 2u - 1); paretonormal
 * takes a second u2. For the unit test and bench/distributions.sh's target curve. */
double dist_quantile(enum dist_kind kind, double u, double u2);
const char *dist_name(enum dist_kind kind);
/* A probability as a fraction 0..1 or a percentage ("25%"), for every fault's probability and
 * the keys of loss, corrupt and correlation: FKEY_OK or FKEY_BAD with err. */
int fkey_fraction(const char *v, double *out, char *err, size_t errlen);

#endif
