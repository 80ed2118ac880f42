/* dist.c -- delays drawn from uniform, normal, pareto and paretonormal distributions with
 * netem's correlation. See dist.h for the meaning of every key. */
#include "faults/dist.h"
#include "faults/fault.h"
#include "common/parse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dist_names[] = {"uniform", "normal", "pareto", "paretonormal"};

const char *dist_name(enum dist_kind kind) { return dist_names[kind]; }

int fkey_fraction(const char *v, double *out, char *err, size_t errlen)
{
    size_t n = strlen(v);
    char buf[64];
    double hi = 1.0, scale = 1.0;
    if (n && n < sizeof(buf) && v[n - 1] == '%') {
        memcpy(buf, v, n - 1);
        buf[n - 1] = 0;
        v = buf;
        hi = 100.0;
        scale = 100.0;
    }
    double r;
    if (parse_double(v, 0, hi, &r, err, errlen) < 0) return FKEY_BAD;
    *out = r / scale;
    return FKEY_OK;
}

int dist_set(struct dist_cfg *c, const char *k, const char *v, char *err, size_t errlen)
{
    if (!strcmp(k, "delay")) return fkey_duration(v, &c->delay_us, err, errlen);
    if (!strcmp(k, "jitter")) return fkey_duration(v, &c->jitter_us, err, errlen);
    if (!strcmp(k, "correlation")) return fkey_fraction(v, &c->rho, err, errlen);
    if (!strcmp(k, "distribution")) {
        for (int i = 0; i < 4; i++)
            if (!strcmp(v, dist_names[i])) { c->kind = (enum dist_kind)i; return FKEY_OK; }
        snprintf(err, errlen, "'%s' is not uniform, normal, pareto or paretonormal", v);
        return FKEY_BAD;
    }
    return FKEY_UNKNOWN;
}

int dist_validate(const struct dist_cfg *c, char *err, size_t errlen)
{
    if (c->kind == DIST_UNIFORM && c->jitter_us > c->delay_us) {
        snprintf(err, errlen, "jitter: must not exceed delay with distribution uniform "
                              "(a chunk cannot arrive before it was sent)");
        return -1;
    }
    return 0;
}

void dist_attrs(const struct dist_cfg *c, void (*emit)(void *ud, const char *k, const char *v), void *ud)
{
    char b[64];
    emit(ud, "delay", duration_str(c->delay_us, b, sizeof(b)));
    emit(ud, "jitter", duration_str(c->jitter_us, b, sizeof(b)));
    if (c->kind != DIST_UNIFORM) emit(ud, "distribution", dist_names[c->kind]);
    if (c->rho > 0) {
        snprintf(b, sizeof(b), "%g", c->rho);
        emit(ud, "correlation", b);
    }
}

/* The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
static double norm_quantile(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    const double lo = 0.02425, hi = 1 - lo;
    if (p < lo) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > hi) {
        double q = sqrt(-2 * log(1 - p));
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/* Pareto(alpha = 3, x_m = 1): mean 1.5, variance 0.75; standardised. */
static double pareto_quantile(double u)
{
    return (pow(1.0 - u, -1.0 / 3.0) - 1.5) / sqrt(0.75);
}

double dist_quantile(enum dist_kind kind, double u, double u2)
{
    switch (kind) {
    case DIST_NORMAL: return norm_quantile(u);
    case DIST_PARETO: return pareto_quantile(u);
    case DIST_PARETONORMAL: return (0.25 * norm_quantile(u) + 0.75 * pareto_quantile(u2)) / sqrt(0.625);
    case DIST_UNIFORM: break;
    }
    return 2.0 * u - 1.0;
}

/* A uniform in (0,1), correlated with the stream's previous one (netem's get_crandom). */
static double cuniform(const struct dist_cfg *c, struct dist_state *s, int i)
{
    double u = fl_rand01();
    if (s && c->rho > 0) {
        if (s->primed & (1 << i)) u = (1.0 - c->rho) * u + c->rho * s->last[i];
        s->last[i] = u;
        s->primed |= 1 << i;
    }
    const double eps = 1.0 / 4294967296.0;   /* 2^-32: netem's resolution; keeps the tails finite */
    if (u < eps) u = eps;
    if (u > 1.0 - eps) u = 1.0 - eps;
    return u;
}

int64_t dist_sample(const struct dist_cfg *c, struct dist_state *s)
{
    if (!c->jitter_us) return c->delay_us;
    double u = cuniform(c, s, 0);
    double u2 = c->kind == DIST_PARETONORMAL ? cuniform(c, s, 1) : 0.5;
    double d = (double)c->delay_us + (double)c->jitter_us * dist_quantile(c->kind, u, u2);
    if (d < 0) return 0;
    if (d > 9.0e15) return (int64_t)9.0e15;
    return (int64_t)d;
}
