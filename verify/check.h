/* verify/check.h -- one check, one file: the interface every verify/check_<name>.c implements, the
 * registry (verify/checks.c), and the helpers the checks share (verify/checklib.c).
 *
 * A check is one function, judge(). It first reads its parameters through the vexp_* getters
 * (which mark keys used and report "PATH:LINE: reason"); when called with cx == NULL that is
 * all it does (validation, `faultline check`). With a context it then reads the record and
 * fills the result: PASS, FAIL or INCONCLUSIVE with measured/bound/why texts. judge returns
 * -1 only for what must end the command with exit 2 (bad input, Redis or Postgres unreachable),
 * with the reason in e->err.
 */
#ifndef FL_VCHECK_H
#define FL_VCHECK_H

#include "verify/verify.h"
#include "record/read.h"

struct vexp {                  /* one [expect NAME] section being judged */
    struct inidoc *doc;
    struct inisec *sec;
    const char *name, *check;
    const char *proxy;         /* may be NULL for checks that need none */
    const char *fault;         /* optional: restrict to this fault */
    char *err;
    size_t errlen;
};

struct vctx {
    struct vrec *rec;
    const struct verify_opts *o;
};

struct vcheck {
    const char *name;
    int needs_proxy;
    int (*judge)(struct vctx *cx, struct vexp *e, struct verify_result *r);
};

const struct vcheck *vcheck_find(const char *name);
extern const struct vcheck *const vchecks[];

/* ---- parameters (0: value or default stored; -1: e->err = "PATH:LINE: reason") ---- */
#define VREQ (-1.0)            /* as a default: the key is required */
int vexp_dur(struct vexp *e, const char *key, double def_ms, double *ms);
/* "90%" or 0.9, in [0, 1] (hi may allow more, e.g. 2 = 200%) */
int vexp_ratio(struct vexp *e, const char *key, double def, double hi, double *out);
int vexp_num(struct vexp *e, const char *key, double def, double lo, double hi, double *out);
int vexp_bool(struct vexp *e, const char *key, int def, int *out);
/* index of the value in choices (NULL-terminated), def when absent */
int vexp_enum(struct vexp *e, const char *key, const char *const *choices, int def, int *out);
const char *vexp_str(struct vexp *e, const char *key);     /* NULL when absent */
int vexp_fail(struct vexp *e, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- results ---- */
void vres(struct verify_result *r, enum verdict v, const char *why, ...) __attribute__((format(printf, 3, 4)));
void vres_measured(struct verify_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vres_bound(struct verify_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "850ms", "1.5s", "2m10s" into b (returns b) */
const char *vfmt_ms(double ms, char *b, size_t n);
/* A signed offset: "+1.5s", "-309ms" (never "+-") */
const char *vfmt_off(double ms, char *b, size_t n);

/* ---- windows, baseline, series ---- */
struct vwins {
    struct vwin *w;            /* union of the windows of the selected faults, in time order */
    int n;
    double affected;           /* conns/requests the selected faults acted on */
    char names[256];           /* "f1,f2" */
    char types[128];
    int nfaults;
};
/* Faults of e->fault (NAME, or PROXY/NAME; a NAME several proxies have is the one on proxy, or
 * on e->proxy when proxy is NULL, when that proxy has one), or every fault on proxy (any proxy
 * when proxy is NULL). Owned by caller (vwins_free). */
void vctx_windows(struct vctx *cx, struct vexp *e, const char *proxy, struct vwins *out);
void vwins_free(struct vwins *w);
/* 1 when e has no `fault`, or it names fault `name` of proxy `proxy` (an event's fault). */
int vexp_fault_is(const struct vexp *e, const char *proxy, const char *name);
/* 1 when nothing after the window's end was observed with the service left alone -- the run
 * ended, was aborted or halted while the fault acted (w->cut), or the fault is still active --
 * with that said in b ("the run was aborted while the fault acted (interrupted (SIGINT))").
 * Whatever a check wants to see after a fault (recovery, closing, values coming back) was never
 * seen then: INCONCLUSIVE. */
int vwin_cut(struct vctx *cx, const struct vwin *w, char *b, size_t n);
/* Sets r INCONCLUSIVE and returns 1 when there is no window or the faults never acted. */
int vctx_need_fault(struct vctx *cx, struct vexp *e, const struct vwins *w, struct verify_result *r);
/* The baseline period before the first fault (or the phase named by `baseline`, or a phase
 * called "baseline"). 0 or -1 (no baseline: r set INCONCLUSIVE). */
int vctx_baseline(struct vctx *cx, struct vexp *e, const struct vwins *w, double *a, double *b,
                  struct verify_result *r);

enum vmeasure { VM_AUTO = 0, VM_CONNS, VM_REQUESTS, VM_BYTES };
extern const char *const vmeasure_names[];
/* Resolves auto: requests for http proxies, connections otherwise. */
enum vmeasure vmeasure_resolve(enum vmeasure m, const struct vpx *p);
const char *vmeasure_unit(enum vmeasure m);     /* "conn/s", "req/s", "B/s" */
double vts_value(const struct vts *t, enum vmeasure m);
/* Buckets lying wholly inside [a, b): indexes [*i0, *i1). Returns the count. */
int vpx_range(const struct vpx *p, double a, double b, int *i0, int *i1);
/* Mean rate (per second) over the buckets wholly inside [a, b); NAN when there is none. */
double vpx_rate(const struct vpx *p, enum vmeasure m, double a, double b, int *nb);
/* End of the last bucket (ms), or 0. */
double vpx_data_end(const struct vpx *p);

/* The record's audit stream into rep->audit (verify/audit.c). 0, or -1 with err. */
int verify_read_audit(struct vrec *rec, struct verify_report *rep, char *err, size_t errlen);

#endif
