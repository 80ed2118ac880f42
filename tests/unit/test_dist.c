/* test_dist.c -- the delay sampler (faults/dist.c): each distribution's mean, spread and a
 * quantile from a fixed seed, the clamp at 0, netem's correlation, and the keys' checks. */
#include "unit.h"
#include "faults/dist.h"
#include "faults/fault.h"
#include "common/clock.h"

#include <math.h>
#include <stdlib.h>

#define N 200000

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* mean, standard deviation and the p-quantile of N draws, in ms */
static void moments(const struct dist_cfg *c, struct dist_state *s, double p, double *mean, double *sd, double *q)
{
    static int64_t v[N];
    double sum = 0, sq = 0;
    for (int i = 0; i < N; i++) {
        v[i] = dist_sample(c, s);
        sum += (double)v[i] / 1000.0;
    }
    *mean = sum / N;
    for (int i = 0; i < N; i++) sq += ((double)v[i] / 1000.0 - *mean) * ((double)v[i] / 1000.0 - *mean);
    *sd = sqrt(sq / N);
    qsort(v, N, sizeof(v[0]), cmp_i64);
    *q = (double)v[(int)(p * N)] / 1000.0;
}

UNIT(dist_uniform_moments)
{
    fl_rand_seed(42);
    struct dist_cfg c = {100000, 20000, DIST_UNIFORM, 0};
    double m, sd, q;
    moments(&c, NULL, 0.9, &m, &sd, &q);
    EXPECT(fabs(m - 100) < 0.5);
    EXPECT(fabs(sd - 20 / sqrt(3)) < 0.3);       /* U(-j, j): sd = j / sqrt(3) */
    EXPECT(fabs(q - 116) < 0.5);                 /* 100 + 20 * (2 * 0.9 - 1) */
}

UNIT(dist_normal_moments)
{
    fl_rand_seed(42);
    struct dist_cfg c = {100000, 10000, DIST_NORMAL, 0};
    double m, sd, q;
    moments(&c, NULL, 0.975, &m, &sd, &q);
    EXPECT(fabs(m - 100) < 0.3);
    EXPECT(fabs(sd - 10) < 0.3);
    EXPECT(fabs(q - 119.6) < 0.5);               /* 100 + 1.96 sigma */
    EXPECT(fabs(dist_quantile(DIST_NORMAL, 0.975, 0) - 1.959964) < 1e-6);
    EXPECT(fabs(dist_quantile(DIST_NORMAL, 0.001, 0) + 3.090232) < 1e-5);
}

UNIT(dist_pareto_tail)
{
    fl_rand_seed(42);
    struct dist_cfg c = {100000, 10000, DIST_PARETO, 0};
    double m, sd, q;
    moments(&c, NULL, 0.5, &m, &sd, &q);
    EXPECT(fabs(m - 100) < 0.5);
    EXPECT(sd > 8 && sd < 13);                   /* alpha = 3: the sample sd converges slowly */
    /* median below the mean (the long tail is above): 100 + 10 * (2^(1/3) - 1.5) / sqrt(0.75) */
    EXPECT(fabs(q - (100 + 10 * (cbrt(2.0) - 1.5) / sqrt(0.75))) < 0.3);
    /* nothing below the Pareto's floor: 100 - 10 * 0.5 / sqrt(0.75) = 94.2 ms */
    fl_rand_seed(7);
    int64_t lo = INT64_MAX;
    for (int i = 0; i < 10000; i++) { int64_t d = dist_sample(&c, NULL); if (d < lo) lo = d; }
    EXPECT(lo >= 94200 && lo < 94400);
}

UNIT(dist_paretonormal_moments)
{
    fl_rand_seed(42);
    struct dist_cfg c = {100000, 10000, DIST_PARETONORMAL, 0};
    double m, sd, q;
    moments(&c, NULL, 0.99, &m, &sd, &q);
    EXPECT(fabs(m - 100) < 0.5);
    EXPECT(sd > 8.5 && sd < 11.5);
    EXPECT(q > 125 && q < 140);                  /* heavier than normal's 123.3 */
}

UNIT(dist_clamped_at_zero)
{
    fl_rand_seed(3);
    struct dist_cfg c = {1000, 50000, DIST_NORMAL, 0};
    int zeros = 0;
    for (int i = 0; i < 10000; i++) {
        int64_t d = dist_sample(&c, NULL);
        EXPECT(d >= 0);
        zeros += d == 0;
    }
    EXPECT(zeros > 4000 && zeros < 6000);        /* P(N < -0.02) ~ 0.49 */
}

UNIT(dist_correlation_netem)
{
    fl_rand_seed(42);
    struct dist_cfg c = {100000, 20000, DIST_UNIFORM, 0.75};
    struct dist_state s = {{0, 0}, 0};
    double sxy = 0, sxx = 0, sum = 0;
    static double v[N];
    for (int i = 0; i < N; i++) { v[i] = (double)dist_sample(&c, &s); sum += v[i]; }
    double m = sum / N;
    for (int i = 1; i < N; i++) { sxy += (v[i] - m) * (v[i - 1] - m); sxx += (v[i] - m) * (v[i] - m); }
    double r1 = sxy / sxx;
    EXPECT(r1 > 0.7 && r1 < 0.8);                /* u_n = 0.25 fresh + 0.75 u_(n-1): lag-1 rho 0.75 */
    EXPECT(fabs(m / 1000 - 100) < 1.0);
    /* no jitter: the delay itself, no draw */
    EXPECT_EQ_INT(dist_sample(&(struct dist_cfg){5000, 0, DIST_NORMAL, 0.5}, &s), 5000);
}

UNIT(dist_keys)
{
    struct dist_cfg c = {0, 0, DIST_UNIFORM, 0};
    char err[200];
    EXPECT_EQ_INT(dist_set(&c, "distribution", "pareto", err, sizeof(err)), FKEY_OK);
    EXPECT_EQ_INT(c.kind, DIST_PARETO);
    EXPECT_EQ_INT(dist_set(&c, "distribution", "gamma", err, sizeof(err)), FKEY_BAD);
    EXPECT_CONTAINS(err, "not uniform, normal, pareto or paretonormal");
    EXPECT_EQ_INT(dist_set(&c, "correlation", "25%", err, sizeof(err)), FKEY_OK);
    EXPECT(fabs(c.rho - 0.25) < 1e-9);
    EXPECT_EQ_INT(dist_set(&c, "correlation", "0.5", err, sizeof(err)), FKEY_OK);
    EXPECT(fabs(c.rho - 0.5) < 1e-9);
    EXPECT_EQ_INT(dist_set(&c, "correlation", "150%", err, sizeof(err)), FKEY_BAD);
    EXPECT_EQ_INT(dist_set(&c, "correlation", "2", err, sizeof(err)), FKEY_BAD);
    EXPECT_EQ_INT(dist_set(&c, "where", "x", err, sizeof(err)), FKEY_UNKNOWN);
    /* jitter above delay: only uniform refuses it (the others clamp at 0) */
    struct dist_cfg u = {1000, 5000, DIST_UNIFORM, 0}, n = {1000, 5000, DIST_NORMAL, 0};
    EXPECT_EQ_INT(dist_validate(&u, err, sizeof(err)), -1);
    EXPECT_CONTAINS(err, "jitter");
    EXPECT_EQ_INT(dist_validate(&n, err, sizeof(err)), 0);
}
