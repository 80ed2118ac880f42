/* check_postgres.c -- `check = postgres`: the database's view of the service's pool.
 *
 * Postgres sees every connection a client holds, whatever the pool library says: a leaked
 * database/sql Conn or pgx pool connection, a HikariCP pool above maximumPoolSize after a
 * restart storm, a node-postgres client never released, and above all a transaction left open
 * (BEGIN, then an error path that forgets ROLLBACK) which shows as `idle in transaction`,
 * holding locks and a snapshot. Two sources of that view, for the service's `application_name`
 * and/or `user`:
 *   - `source = pg_stat_activity`: samples taken during the run (R:pg:<expect name>, written by
 *     the sampler: run/sampler.c in `faultline run`, or `faultline verify FILE --run ID
 *     --sample`), and one look at verify time (which alone can only fail the check, unless
 *     `oneshot = yes`). Needs a DSN and the privilege to read other sessions' state.
 *   - `source = record`: what a `mode = postgres` proxy (`proxy = NAME`) saw of its sessions,
 *     written by the recorder every interval (R:pgstate:<proxy>, docs/metrics.md): sessions per
 *     user/application_name, in a transaction, longest idle in one. No database privileges;
 *     it sees only the connections that go through the proxy.
 *   `source = auto` (default): pg_stat_activity when a DSN is known (`dsn`, --pg, [scenario]
 *   postgres), else the record of `proxy`.
 * Bounds: count <= `max`; no connection idle in transaction longer than
 * `idle_in_transaction_max`; after each fault window, count back to its pre-fault level +
 * `slack` within `within`. A Postgres that cannot be reached ends verify with exit 2.
 */
#include "verify/check.h"
#include "verify/samples.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pgs { double at, count, peak, idle_tx, idle_max; int ok; };
struct pgacc { struct pgs *s; int n; const char *app, *user; };

static void pgacc_add(struct pgacc *a, const struct pgs *s)
{
    a->s = fl_realloc(a->s, sizeof(*a->s) * (size_t)(a->n + 1));
    a->s[a->n++] = *s;
}

static void pg_entry(void *ud, const char **f, const char **v, int n)
{
    struct pgacc *a = ud;
    struct pgs s = {NAN, 0, 0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        if (!strcmp(f[i], "at_ms")) s.at = strtod(v[i], NULL);
        else if (!strcmp(f[i], "count")) s.count = strtod(v[i], NULL);
        else if (!strcmp(f[i], "idle_in_tx")) s.idle_tx = strtod(v[i], NULL);
        else if (!strcmp(f[i], "idle_in_tx_max_ms")) s.idle_max = strtod(v[i], NULL);
        else if (!strcmp(f[i], "ok")) s.ok = !strcmp(v[i], "1");
    }
    if (!s.ok || isnan(s.at)) return;
    s.peak = s.count;
    pgacc_add(a, &s);
}

/* One R:pgstate:<proxy> entry: the groups (user, application_name) matching the expectation,
 * summed. Entries of several instances are merged by second afterwards (pg_merge). */
static void pgstate_entry(void *ud, const char **f, const char **v, int n)
{
    struct pgacc *a = ud;
    struct pgs s = {NAN, 0, 0, 0, 0, 1};
    char inst[128] = "";
    for (int i = 0; i < n; i++) {
        if (!strcmp(f[i], "at_ms")) s.at = strtod(v[i], NULL);
        else if (!strcmp(f[i], "inst")) snprintf(inst, sizeof(inst), "%s", v[i]);
    }
    if (isnan(s.at)) return;
    for (int g = 0; g < 1024; g++) {
        char k[40];
        const char *user = NULL, *app = NULL;
        double conns = 0, peak = 0, in_tx = 0, idle = 0;
        int found = 0;
        for (int i = 0; i < n; i++) {
            const char *dot = strrchr(f[i], '.');
            if (!dot || atoi(dot + 1) != g || dot[1] < '0' || dot[1] > '9') continue;
            size_t kl = (size_t)(dot - f[i]);
            if (kl >= sizeof(k)) continue;
            memcpy(k, f[i], kl);
            k[kl] = 0;
            found = 1;
            if (!strcmp(k, "user")) user = v[i];
            else if (!strcmp(k, "app")) app = v[i];
            else if (!strcmp(k, "conns")) conns = strtod(v[i], NULL);
            else if (!strcmp(k, "peak")) peak = strtod(v[i], NULL);
            else if (!strcmp(k, "in_tx")) in_tx = strtod(v[i], NULL);
            else if (!strcmp(k, "idle_in_tx_max_ms")) idle = strtod(v[i], NULL);
        }
        if (!found) break;
        if (a->app && (!app || strcmp(app, a->app))) continue;
        if (a->user && (!user || strcmp(user, a->user))) continue;
        s.count += conns;
        s.peak += peak;
        s.idle_tx += in_tx;
        if (idle > s.idle_max) s.idle_max = idle;
    }
    pgacc_add(a, &s);
}

static int cmp_at(const void *x, const void *y)
{
    double a = ((const struct pgs *)x)->at, b = ((const struct pgs *)y)->at;
    return a < b ? -1 : a > b;
}

/* Entries written by several instances in the same second are one sample (sums; longest idle). */
static void pg_merge(struct pgacc *a)
{
    if (a->n < 2) return;
    qsort(a->s, (size_t)a->n, sizeof(*a->s), cmp_at);
    int o = 0;
    for (int i = 1; i < a->n; i++) {
        struct pgs *p = &a->s[o], *q = &a->s[i];
        if (floor(q->at / 1000) == floor(p->at / 1000)) {
            p->count += q->count;
            p->peak += q->peak;
            p->idle_tx += q->idle_tx;
            if (q->idle_max > p->idle_max) p->idle_max = q->idle_max;
        } else {
            a->s[++o] = *q;
        }
    }
    a->n = o + 1;
}

/* "conns <= 20, idle in tx <= 5s, baseline+2 within 10s" (the bounds given) into r. */
static void bound_text(double max, double itm, double within, double slack, struct verify_result *r)
{
    char b1[32], bound[200] = "";
    if (max >= 0) snprintf(bound + strlen(bound), sizeof(bound) - strlen(bound), "conns <= %g", max);
    if (itm >= 0) snprintf(bound + strlen(bound), sizeof(bound) - strlen(bound), "%sidle in tx <= %s",
                           bound[0] ? ", " : "", vfmt_ms(itm, b1, sizeof(b1)));
    if (within >= 0) snprintf(bound + strlen(bound), sizeof(bound) - strlen(bound), "%sbaseline+%g within %s",
                              bound[0] ? ", " : "", slack, vfmt_ms(within, b1, sizeof(b1)));
    vres_bound(r, "%s", bound);
}

/* The samples into a (the record's stream named in sfx) and the state now: from the proxy's
 * record (rec: its last entry is "now", the state when the run ended, or the latest), or from
 * pg_stat_activity (one query now, and the sampler's samples). 0, or -1 with e->err. */
static int read_samples(struct vctx *cx, struct vexp *e, int rec, const char *dsn, int tmo_ms, struct vpg_now *now,
                        struct pgacc *a, char *sfx, size_t sfxlen)
{
    if (rec) {
        snprintf(sfx, sfxlen, "pgstate:%s", e->proxy);
        if (vrec_stream(cx->rec, sfx, pgstate_entry, a, e->err, e->errlen) < 0) { free(a->s); return -1; }
        pg_merge(a);
        if (a->n) {
            now->count = a->s[a->n - 1].count;
            now->idle_tx = a->s[a->n - 1].idle_tx;
            now->idle_tx_max_ms = a->s[a->n - 1].idle_max;
        }
        return 0;
    }
    if (vpg_query(dsn, a->app, a->user, tmo_ms, now, e->err, e->errlen) < 0) return -1;
    snprintf(sfx, sfxlen, "pg:%s", e->name);
    if (vrec_stream(cx->rec, sfx, pg_entry, a, e->err, e->errlen) < 0) { free(a->s); return -1; }
    return 0;
}

/* `within`: after each fault window the count came back to its pre-fault peak + slack in time.
 * 1 when it did; else 0 with r FAIL or INCONCLUSIVE. */
static int released(struct vctx *cx, const struct pgacc *a, const struct vwins *w, const struct vpg_now *now,
                    double within, double slack, struct verify_result *r)
{
    char b1[32];
    double base = -1;
    for (int i = 0; i < a->n; i++)
        if (a->s[i].at < w->w[0].start && a->s[i].count > base) base = a->s[i].count;
    if (base < 0) {
        vres(r, V_INCONCLUSIVE, "no sample before the fault: no baseline");
        return 0;
    }
    for (int k = 0; k < w->n; k++) {
        const struct vwin *win = &w->w[k];
        char cut[300];
        if (vwin_cut(cx, win, cut, sizeof(cut))) {
            vres(r, V_INCONCLUSIVE, "%s: connections coming back were never observed", cut);
            return 0;
        }
        double back = NAN, last = NAN, lastv = 0;
        for (int i = 0; i < a->n; i++) {
            if (a->s[i].at < win->end) continue;
            last = a->s[i].at;
            lastv = a->s[i].count;
            if (a->s[i].count <= base + slack) { back = a->s[i].at - win->end; break; }
        }
        if (isnan(back) && now->count <= base + slack && !cx->rec->ended) back = NAN;
        if (!isnan(back) && back <= within) continue;
        if ((!isnan(last) && last >= win->end + within) || !isnan(back)) {
            vres(r, V_FAIL, "%g connections %s after the fault (baseline %g): not released", lastv,
                 vfmt_ms(within, b1, sizeof(b1)), base);
            return 0;
        }
        vres(r, V_INCONCLUSIVE, "samples end before 'within' ran out after the fault");
        return 0;
    }
    return 1;
}

/* Did the samples watch the fault? A transaction left open during a fault shows as idle in
 * transaction beyond `idle_in_transaction_max` from then on, and pool exhaustion during it: a
 * pass needs samples over each window [start, end + itm], none missing for longer than
 * max(3 intervals, 2 s) + 1 s. 1 when covered; else 0 with r INCONCLUSIVE saying where the
 * samples missed it (a sampler stalled by a busy machine, one started late, a stopped one). */
static int watched(struct vctx *cx, const struct pgacc *a, const struct vwins *w, double itm, double interval, int rec,
                   const char *sfx, struct verify_result *r)
{
    char b1[32], b2[32], b3[32];
    double maxgap = (3 * interval > 2000 ? 3 * interval : 2000) + 1000;
    for (int k = 0; k < w->n; k++) {
        double s0 = w->w[k].start, s1 = (isinf(w->w[k].end) ? cx->rec->end_ms : w->w[k].end) + (itm > 0 ? itm : 0);
        if (s1 > cx->rec->end_ms) s1 = cx->rec->end_ms;
        double prev = s0, gap = 0, gap_at = s0;
        for (int i = 0; i < a->n; i++) {
            double t = a->s[i].at;
            if (t < s0 || t > s1) continue;
            if (t - prev > gap) { gap = t - prev; gap_at = prev; }
            prev = t;
        }
        if (s1 - prev > gap) { gap = s1 - prev; gap_at = prev; }
        if (gap > maxgap) {
            vres(r, V_INCONCLUSIVE, "the %s missed the fault: none for %s from %s after fault window %d began (needs one "
                 "at least every %s over the window and %s after it, R:%s)%s", rec ? "recorded intervals" : "samples",
                 vfmt_ms(gap, b1, sizeof(b1)), vfmt_ms(gap_at - s0, b2, sizeof(b2)), k + 1,
                 vfmt_ms(maxgap, b3, sizeof(b3)), itm > 0 ? "idle_in_transaction_max" : "nothing", sfx,
                 rec ? "" : ": the behaviour was never seen, so it cannot pass");
            return 0;
        }
    }
    return 1;
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double max, itm, within, slack, interval, mins, tmo;
    int oneshot, needf;
    const char *dsn = vexp_str(e, "dsn"), *app = vexp_str(e, "application_name"), *user = vexp_str(e, "user");
    if (vexp_num(e, "max", -1, 0, 1e9, &max) < 0) return -1;
    if (vexp_dur(e, "idle_in_transaction_max", -2, &itm) < 0) return -1;
    if (vexp_dur(e, "within", -2, &within) < 0) return -1;
    if (vexp_num(e, "slack", 0, 0, 1e9, &slack) < 0) return -1;
    if (vexp_dur(e, "interval", 1000, &interval) < 0) return -1;
    if (vexp_dur(e, "timeout", 2000, &tmo) < 0) return -1;
    if (vexp_num(e, "min_samples", 3, 1, 1e9, &mins) < 0) return -1;
    if (vexp_bool(e, "oneshot", 0, &oneshot) < 0) return -1;
    if (vexp_bool(e, "need_fault", !oneshot, &needf) < 0) return -1;
    static const char *const sources[] = {"auto", "pg_stat_activity", "record", NULL};
    int src;
    if (vexp_enum(e, "source", sources, 0, &src) < 0) return -1;
    if (max < 0 && itm < 0 && within < 0)
        return vexp_fail(e, NULL, "needs at least one of max, idle_in_transaction_max, within");
    if (src == 2 && !e->proxy) return vexp_fail(e, "source", "record needs 'proxy' (a mode = postgres proxy)");
    if (src == 2 && dsn) return vexp_fail(e, "dsn", "not used with source = record");
    if (!cx) return 0;
    if (!dsn && src != 2) dsn = cx->o->pg_dsn;
    if (src == 0) src = dsn || !e->proxy ? 1 : 2;
    if (src == 1 && !dsn) return vexp_fail(e, NULL, "needs 'dsn' (or --pg DSN), or 'proxy' of a mode = postgres proxy");
    int rec = src == 2;
    const char *what = rec ? "the proxy's sessions" : "pg_stat_activity";

    char b1[32], b2[32];
    bound_text(max, itm, within, slack, r);
    struct vpg_now now = {0, 0, 0};
    struct pgacc a = {NULL, 0, app, user};
    char sfx[200];
    if (read_samples(cx, e, rec, dsn, (int)tmo, &now, &a, sfx, sizeof(sfx)) < 0) return -1;
    double peak = now.count, idle = now.idle_tx_max_ms;
    for (int i = 0; i < a.n; i++) {
        if (a.s[i].peak > peak) peak = a.s[i].peak;
        if ((a.s[i].idle_tx > 0 || rec) && a.s[i].idle_max > idle) idle = a.s[i].idle_max;
    }
    if (!(now.idle_tx > 0) && !rec) now.idle_tx_max_ms = 0;
    vres_measured(r, "peak %g conns, longest idle in tx %s; now %g (%d %s)", peak,
                  vfmt_ms(idle, b1, sizeof(b1)), now.count, a.n, rec ? "intervals recorded" : "samples");
    int fail_max = max >= 0 && peak > max, fail_idle = itm >= 0 && idle > itm;
    if (fail_max || fail_idle) {
        if (fail_idle)
            vres(r, V_FAIL, "a connection stayed idle in transaction for %s (at most %s): transaction leak",
                 vfmt_ms(idle, b1, sizeof(b1)), vfmt_ms(itm, b2, sizeof(b2)));
        else
            vres(r, V_FAIL, "%g connections in %s, above %g: pool exhaustion or leak", peak, what, max);
        free(a.s);
        return 0;
    }
    if (oneshot && within < 0) {
        if (rec && !a.n) {
            vres(r, V_INCONCLUSIVE, "nothing in R:%s: is proxy %s a recorded mode = postgres proxy?", sfx, e->proxy);
        } else {
            vres(r, V_PASS, "%s within bounds at verify time", what);
        }
        free(a.s);
        return 0;
    }
    if (a.n < mins) {
        if (rec)
            vres(r, V_INCONCLUSIVE, "%d intervals in R:%s (needs %g): is proxy %s a recorded mode = postgres proxy?",
                 a.n, sfx, mins, e->proxy);
        else
            vres(r, V_INCONCLUSIVE, "%d samples in R:pg:%s (needs %g): samples are taken during the run by `faultline "
                 "run`, `faultline serve PROFILE --expect %s`, or `faultline verify %s --run %s --sample` beside it",
                 a.n, e->name, mins, e->doc->path, e->doc->path, cx->rec->run);
        free(a.s);
        return 0;
    }
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    if ((needf || within >= 0) && vctx_need_fault(cx, e, &w, r)) { vwins_free(&w); free(a.s); return 0; }
    if (w.n && (max >= 0 || itm >= 0) && !watched(cx, &a, &w, itm, interval, rec, sfx, r)) {
        vwins_free(&w);
        free(a.s);
        return 0;
    }
    if (within < 0 || released(cx, &a, &w, &now, within, slack, r)) vres(r, V_PASS, "%s stayed within bounds", what);
    vwins_free(&w);
    free(a.s);
    return 0;
}

const struct vcheck vcheck_postgres = {"postgres", 0, judge};
