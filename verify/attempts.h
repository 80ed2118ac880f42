/* verify/attempts.h -- attempts and logical calls, as the retry checks read them (retries,
 * retry_spacing, retry_budget).
 *
 * From the dependency's side an attempt is one request event of an http proxy, and a retry is
 * the same call sent again. A logical call is either
 *   - the attempts sharing the recorded request_id (the proxy's id_header, X-Request-Id by
 *     default) and the same method, host and path (an id propagated from one user request to
 *     several different calls is not mistaken for retries), or
 *   - by fingerprint (method + host + path + body hash): an attempt continues the call of the
 *     previous one with the same fingerprint when that one failed (5xx, 408, 429, no answer,
 *     abandoned) and it starts within `window` of that one's end.
 * gRPC retries carry grpc-previous-rpc-attempts (recorded as prev_attempts): where a fingerprint's
 * attempts have it, an attempt with it continues the call of the one before and one without it
 * starts a call, exactly, whatever the baseline repeats.
 * A fingerprint that the baseline itself repeats within `window` (a poll, the same GET from
 * every user) cannot tell a retry from the next user's request: such attempts are ambiguous
 * (call -1), and each check says what it does with them (retries estimates from rates; the
 * others leave them out and need ids to judge them).
 *
 * Ownership: vatt_collect's array is the caller's (free); attempts point into the record's
 * events (struct vpx), which outlive them.
 */
#ifndef FL_VATTEMPTS_H
#define FL_VATTEMPTS_H

#include "verify/check.h"

struct vatt {
    double start, end;         /* request head received; response complete or abandoned */
    int failed;                /* 5xx, 408, 429, no response, abandoned, a gRPC status other than OK */
    int byid;                  /* identified by request id */
    int call;                  /* logical call number, -1 = ambiguous fingerprint */
    int amb;
    int idx;                   /* attempt number within its call (0 = the first), after vatt_number */
    const struct vev *ev;
};

struct vatt_params {
    int idm;                   /* 0 auto, 1 request_id, 2 fingerprint */
    const char *idh;           /* id_header, or NULL */
    double window;             /* fingerprint mode: longest pause before a retry (ms) */
};
extern const char *const vatt_id_names[];   /* auto, request_id, fingerprint */

/* `id`, `id_header`, `window` (default 5s). 0 or -1 (e->err). */
int vatt_params_read(struct vexp *e, struct vatt_params *pm);
/* 1 with r INCONCLUSIVE when the proxy records another header as request_id than idh. */
int vatt_wrong_id_header(struct vctx *cx, struct vexp *e, const char *idh, struct verify_result *r);
/* Every request event of p as an attempt (*n of them, *with_id carrying a request id). */
struct vatt *vatt_collect(const struct vpx *p, int *n, int *with_id);
/* Same identity (id + method + host + path, or the fingerprint)? 0 when equal. */
int vatt_identity_cmp(const struct vatt *x, const struct vatt *y);
void vatt_sort_identity(struct vatt *at, int n);   /* by identity, then start */
void vatt_sort_calls(struct vatt *at, int n);      /* by call, then start */
/* 1 when the baseline [a, b) repeats the identity at[i..j) within window (a fingerprint that
 * cannot tell a retry from the next request); *nb gets its baseline count. */
int vatt_ambiguous(const struct vatt *at, int i, int j, double a, double b, double window, int *nb);
/* gRPC's own account of retries: when an attempt of at[i..j) (one identity, sorted by start)
 * carries grpc-previous-rpc-attempts, each attempt with it continues the call of the one before
 * and each without it starts a new one (numbered from *ncalls). 1 if so grouped, 0 (nothing
 * done) when none carries it or they are grouped by request id. */
int vatt_group_by_attempts(struct vatt *at, int i, int j, int *ncalls);
/* The attempts of e->proxy (an http proxy), grouped into calls and sorted by call, then start;
 * at[k].idx numbered; ambiguous fingerprints (call -1, amb) first. Returns 0 with *out, *n, and
 * *ncalls (calls identified), or 1 with r INCONCLUSIVE (no request events, no request ids where
 * asked), or -1 (e->err). The baseline for ambiguity is vctx_baseline's (none: nothing ambiguous). */
int vatt_calls(struct vctx *cx, struct vexp *e, struct vatt_params *pm, const struct vwins *w, struct vatt **out,
               int *n, int *ncalls, struct verify_result *r);
/* Numbers the attempts (sorted by call, then start) within their call: at[k].idx, 0 = the first;
 * ambiguous attempts (call -1) all 0. */
void vatt_number(struct vatt *at, int n);

/* ---- pauses per retry number (retries, retry_spacing) ----
 * The pause before retry k is the start of a call's attempt k (idx k) - the end of its attempt
 * k-1, over the identified calls (ambiguous ones left out). Judging a population of pauses per
 * retry number, not each call on its own, is what lets a jittered client's single pauses
 * wander (a late timer, a jitter draw) without reading as "no backoff". */
#define VATT_MAXK 16           /* retry numbers kept: 1..VATT_MAXK */
struct vpauses {
    double *v[VATT_MAXK + 1];  /* v[k]: the pauses before retry k, sorted; owned (vpauses_free) */
    int n[VATT_MAXK + 1];
};
/* at: sorted by call and numbered (vatt_number / vatt_calls). */
void vpauses_collect(const struct vatt *at, int n, struct vpauses *g);
void vpauses_free(struct vpauses *g);
/* The highest retry number with at least min pauses (0: none). n[k] never grows with k: a call
 * with a pause before retry k+1 has one before retry k. */
int vpauses_top(const struct vpauses *g, int min);
/* The q-quantile (nearest rank) of sorted v[0..n); NAN when n is 0. */
double vquantile(const double *v, int n, double q);
double vpauses_median(const struct vpauses *g, int k);

#endif
