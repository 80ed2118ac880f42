/* check_postgres.c -- `check = postgres`: the database's own view of the service's pool.
 *
 * Postgres sees every connection a client holds, whatever the pool library says: a leaked
 * database/sql Conn or pgx pool connection, a HikariCP pool above maximumPoolSize after a
 * restart storm, a node-postgres client never released, and above all a transaction left open
 * (BEGIN, then an error path that forgets ROLLBACK) which shows as `idle in transaction`,
 * holding locks and a snapshot. The check reads pg_stat_activity for the service's
 * `application_name` and/or `user`:
 *   - samples taken during the run (R:pg:<expect name>, written by the sampler: verify_sampler_*
 *     in `faultline run`, or `faultline verify FILE --run ID --sample`), and
 *   - one look at verify time (which alone can only fail the check, unless `oneshot = yes`).
 * Bounds: count <= `max`; no connection idle in transaction longer than
 * `idle_in_transaction_max`; after each fault window, count back to its pre-fault level +
 * `slack` within `within`. A Postgres that cannot be reached ends verify with exit 2.
 */
#include "vcheck.h"
#include "vsample.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pgs { double at, count, idle_tx, idle_max; int ok; };
struct pgacc { struct pgs *s; int n; };

static void pg_entry(void *ud, const char **f, const char **v, int n)
{
    struct pgacc *a = ud;
    struct pgs s = {NAN, 0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        if (!strcmp(f[i], "at_ms")) s.at = strtod(v[i], NULL);
        else if (!strcmp(f[i], "count")) s.count = strtod(v[i], NULL);
        else if (!strcmp(f[i], "idle_in_tx")) s.idle_tx = strtod(v[i], NULL);
        else if (!strcmp(f[i], "idle_in_tx_max_ms")) s.idle_max = strtod(v[i], NULL);
        else if (!strcmp(f[i], "ok")) s.ok = !strcmp(v[i], "1");
    }
    if (!s.ok || isnan(s.at)) return;
    struct pgs *ns = realloc(a->s, sizeof(*ns) * (size_t)(a->n + 1));
    if (!ns) abort();
    a->s = ns;
    a->s[a->n++] = s;
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
    if (max < 0 && itm < 0 && within < 0)
        return vexp_fail(e, NULL, "needs at least one of max, idle_in_transaction_max, within");
    if (!cx) return 0;
    if (!dsn) dsn = cx->o->pg_dsn;
    if (!dsn) return vexp_fail(e, NULL, "needs 'dsn' (or --pg DSN)");

    char b1[32], b2[32], bound[200] = "";
    if (max >= 0) snprintf(bound + strlen(bound), sizeof(bound) - strlen(bound), "conns <= %g", max);
    if (itm >= 0) snprintf(bound + strlen(bound), sizeof(bound) - strlen(bound), "%sidle in tx <= %s",
                           bound[0] ? ", " : "", vfmt_ms(itm, b1, sizeof(b1)));
    if (within >= 0) snprintf(bound + strlen(bound), sizeof(bound) - strlen(bound), "%sbaseline+%g within %s",
                              bound[0] ? ", " : "", slack, vfmt_ms(within, b1, sizeof(b1)));
    vres_bound(r, "%s", bound);

    struct vpg_now now;
    if (vpg_query(dsn, app, user, (int)tmo, &now, e->err, e->errlen) < 0) return -1;
    struct pgacc a = {NULL, 0};
    char sfx[200];
    snprintf(sfx, sizeof(sfx), "pg:%s", e->name);
    if (vrec_stream(cx->rec, sfx, pg_entry, &a, e->err, e->errlen) < 0) { free(a.s); return -1; }
    double peak = now.count, idle = now.idle_tx_max_ms;
    for (int i = 0; i < a.n; i++) {
        if (a.s[i].count > peak) peak = a.s[i].count;
        if (a.s[i].idle_tx > 0 && a.s[i].idle_max > idle) idle = a.s[i].idle_max;
    }
    if (!(now.idle_tx > 0)) now.idle_tx_max_ms = 0;
    vres_measured(r, "peak %g conns, longest idle in tx %s; now %g (%d samples)", peak,
                  vfmt_ms(idle, b1, sizeof(b1)), now.count, a.n);
    int fail_max = max >= 0 && peak > max, fail_idle = itm >= 0 && idle > itm;
    if (fail_max || fail_idle) {
        if (fail_idle)
            vres(r, V_FAIL, "a connection stayed idle in transaction for %s (at most %s): transaction leak",
                 vfmt_ms(idle, b1, sizeof(b1)), vfmt_ms(itm, b2, sizeof(b2)));
        else
            vres(r, V_FAIL, "%g connections in pg_stat_activity, above %g: pool exhaustion or leak", peak, max);
        free(a.s);
        return 0;
    }
    if (oneshot && within < 0) {
        vres(r, V_PASS, "pg_stat_activity within bounds at verify time");
        free(a.s);
        return 0;
    }
    if (a.n < mins) {
        vres(r, V_INCONCLUSIVE, "%d samples in R:pg:%s (needs %g): run the sampler during the run", a.n, e->name, mins);
        free(a.s);
        return 0;
    }
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    if ((needf || within >= 0) && vctx_need_fault(cx, e, &w, r)) { vwins_free(&w); free(a.s); return 0; }
    if (within >= 0) {
        double base = -1;
        for (int i = 0; i < a.n; i++)
            if (a.s[i].at < w.w[0].start && a.s[i].count > base) base = a.s[i].count;
        if (base < 0) {
            vres(r, V_INCONCLUSIVE, "no sample before the fault: no baseline");
            vwins_free(&w);
            free(a.s);
            return 0;
        }
        for (int k = 0; k < w.n; k++) {
            struct vwin *win = &w.w[k];
            if (isinf(win->end)) { vres(r, V_INCONCLUSIVE, "the fault was still active when the record ends"); goto out; }
            double back = NAN, last = NAN, lastv = 0;
            for (int i = 0; i < a.n; i++) {
                if (a.s[i].at < win->end) continue;
                last = a.s[i].at;
                lastv = a.s[i].count;
                if (a.s[i].count <= base + slack) { back = a.s[i].at - win->end; break; }
            }
            if (isnan(back) && now.count <= base + slack && !cx->rec->ended) back = NAN;
            if (!isnan(back) && back <= within) continue;
            if ((!isnan(last) && last >= win->end + within) || !isnan(back)) {
                vres(r, V_FAIL, "%g connections %s after the fault (baseline %g): not released", lastv,
                     vfmt_ms(within, b1, sizeof(b1)), base);
                goto out;
            }
            vres(r, V_INCONCLUSIVE, "samples end before 'within' ran out after the fault");
            goto out;
        }
    }
    vres(r, V_PASS, "pg_stat_activity stayed within bounds");
out:
    vwins_free(&w);
    free(a.s);
    return 0;
}

const struct vcheck vcheck_postgres = {"postgres", 0, judge};
