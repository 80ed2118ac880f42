/* check_recovery.c -- `check = recovery`: after the fault, concurrency is back to baseline.
 *
 * A client that leaks connections (a Go response body never closed, a pg client never
 * released to its pool, a socket kept after a timeout without being closed) leaves them open
 * after the dependency is healthy again; a good pool closes broken connections and converges
 * on its usual size (Go's idle pool, HikariCP's minimumIdle, pg-pool's idle clients). The
 * check takes the baseline as the most connections open at once before the first fault (each
 * second's `peak`, not its end-of-second `cur`: short calls fall between the ends of seconds,
 * and a pool grown under load is its usual size), and asks that after each fault window ends,
 * `cur` (the end-of-second count) comes back to baseline + `slack` within `within`: a
 * connection leaked is open at every second's end, so it shows there whatever the calls do. It also asks that no connection the fault held stays
 * open past `within` (a held call with on_end = keep never gets an answer: whoever still holds
 * it leaked it). A held call is a turn still open at the close (call_open_ms); an idle pooled
 * connection the hold caught between calls is not one. In http mode a held call shows twice in
 * the record, as its request (held_at_end) and as its connection (hang_ms): it is one call,
 * counted once per connection. On http2 and grpc a connection carries many calls, one stream
 * each: held calls are counted per (connection, stream), and the reason says how many
 * connections they are on. The count only measures: any held call left open fails the check.
 */
#include "verify/check.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The held calls counted as leaked. An http call is in the record twice, as its request
 * (held_at_end) and as its connection (hang_ms): one call, one per connection. On http2 and grpc
 * one connection carries many calls, each request event naming its stream: one per (connection,
 * stream), the connection's own event standing for no call of its own once a stream of it is
 * counted. */
struct held {
    const struct vev **ev;   /* borrowed from the record, one per distinct (inst, id, stream) */
    int n;
};

static int same_conn(const struct vev *a, const struct vev *b) { return a->id == b->id && !strcmp(a->inst, b->inst); }

/* the stream a counted event stands for: -1 for a connection or a request without a stream (http) */
static double stream_of(const struct vev *ev)
{
    return ev->kind == VEV_REQUEST && !isnan(ev->stream) ? ev->stream : -1;
}

static void held_add(struct held *h, const struct vev *ev)
{
    for (int i = 0; i < h->n; i++)
        if (same_conn(h->ev[i], ev) && stream_of(h->ev[i]) == stream_of(ev)) return;
    h->ev = fl_realloc(h->ev, sizeof(*h->ev) * (size_t)(h->n + 1));
    h->ev[h->n++] = ev;
}

/* The calls held left open; *conns: the connections they are on. */
static int held_count(const struct held *h, int *conns)
{
    int calls = 0;
    *conns = 0;
    for (int i = 0; i < h->n; i++) {
        int first = 1, conn_streams = 0;
        for (int j = 0; j < h->n; j++) {
            if (!same_conn(h->ev[i], h->ev[j])) continue;
            if (j < i) first = 0;
            if (stream_of(h->ev[j]) >= 0) conn_streams = 1;
        }
        *conns += first;
        if (stream_of(h->ev[i]) >= 0 || !conn_streams) calls++;
    }
    return calls;
}

/* 1 when p's request events name their streams (http2, grpc: a connection carries many calls) */
static int has_streams(const struct vpx *p)
{
    for (int i = 0; i < p->nev; i++)
        if (p->ev[i].kind == VEV_REQUEST && !isnan(p->ev[i].stream)) return 1;
    return 0;
}

/* The held calls of win still open `within` after it ended, into h. */
static void held_in(struct vctx *cx, const struct vexp *e, const struct vpx *p, const struct vwin *win, double within,
                    struct held *h)
{
    for (int i = 0; i < p->nev; i++) {
        const struct vev *ev = &p->ev[i];
        double held_at = ev->kind == VEV_CONN ? ev->hang_ms : ev->req_ms;
        if (isnan(held_at) || held_at < win->start - 1 || held_at > win->end) continue;
        if (ev->kind == VEV_REQUEST && !ev->held_at_end) continue;
        /* a request the client gave up on was given up, not held (records that marked it
         * held_at_end too); its connection's event says how long it stayed open */
        if (ev->kind == VEV_REQUEST && !isnan(ev->abandoned_ms)) continue;
        /* a pooled connection idling through the hold holds no call (turns recorded, none
         * open at the close): keeping idle connections is what pools do (slack) */
        if (ev->kind == VEV_CONN && isnan(ev->call_open_ms) && !isnan(ev->call_max_at_ms)) continue;
        struct vfault *f = vrec_fault(cx->rec, e->proxy, ev->fault);
        if (f && strcmp(f->on_end, "keep")) continue;       /* released or reset at the end */
        double gone = !isnan(ev->gave_up_ms) ? ev->gave_up_ms : ev->held_at_end ? INFINITY : ev->close_ms;
        if (isnan(gone)) continue;
        /* closed at the run's end before 'within' ran out: the client might still have let go */
        if (ev->held_at_end && !isnan(ev->close_ms) && ev->close_ms < win->end + within) continue;
        if (gone > win->end + within) held_add(h, ev);
    }
}

static int judge(struct vctx *cx, struct vexp *e, struct verify_result *r)
{
    double within, slack, minb;
    if (vexp_dur(e, "within", VREQ, &within) < 0) return -1;
    if (vexp_num(e, "slack", 0, 0, 1e9, &slack) < 0) return -1;
    if (vexp_num(e, "min_baseline", 2, 1, 1e6, &minb) < 0) return -1;
    if (!cx) return 0;

    char b1[32], b2[32];
    struct vwins w;
    vctx_windows(cx, e, e->proxy, &w);
    if (vctx_need_fault(cx, e, &w, r)) { vwins_free(&w); return 0; }
    struct vpx *p = vrec_proxy(cx->rec, e->proxy, 1, e->err, e->errlen);
    if (!p) { vwins_free(&w); return -1; }
    double a, b;
    if (vctx_baseline(cx, e, &w, &a, &b, r) < 0) { vwins_free(&w); return 0; }
    int i0, i1;
    int nb = vpx_range(p, a, b, &i0, &i1);
    if (nb < minb) {
        vres(r, V_INCONCLUSIVE, "%d second%s of baseline before the fault (needs %g)", nb, nb == 1 ? "" : "s", minb);
        vwins_free(&w);
        return 0;
    }
    /* the baseline is the most connections open at once in any baseline second (`peak`): a
     * client of short calls is rarely caught by the end-of-second `cur`, and a pool that grew
     * under load is its usual size; cur stands in for a record without peak */
    double base = 0;
    for (int i = i0; i < i1; i++) {
        double most = p->ts[i].peak > p->ts[i].cur ? p->ts[i].peak : p->ts[i].cur;
        if (most > base) base = most;
    }
    double bound = base + slack;
    vres_bound(r, "cur <= %g within %s, no held conn left", bound, vfmt_ms(within, b1, sizeof(b1)));
    double dend = vpx_data_end(p);
    double worst_after = 0, worst_cur = 0;
    int verdict = V_PASS;
    struct held held = {NULL, 0};
    char why[300] = "";
    for (int k = 0; k < w.n; k++) {
        struct vwin *win = &w.w[k];
        char cut[300];
        if (vwin_cut(cx, win, cut, sizeof(cut))) {   /* recovery after it was never observed */
            if (verdict == V_PASS) {
                verdict = V_INCONCLUSIVE;
                snprintf(why, sizeof(why), "%.240s: recovery after it was never observed", cut);
            }
            continue;
        }
        double obs_end = k + 1 < w.n && w.w[k + 1].start < dend ? w.w[k + 1].start : dend;
        double rec_at = NAN, last_cur = NAN;
        for (int i = 0; i < p->nts; i++) {
            double t1 = ((double)p->ts[i].sec + p->interval_s) * 1000;
            if (t1 < win->end || t1 > obs_end + 1) continue;
            last_cur = p->ts[i].cur;
            if (p->ts[i].cur <= bound) { rec_at = t1; break; }
            if (t1 > win->end + within) break;
        }
        if (!isnan(rec_at) && rec_at - win->end <= within + 1000 * p->interval_s) {
            double after = rec_at - win->end < 0 ? 0 : rec_at - win->end;
            if (after > worst_after) worst_after = after;
        } else if (obs_end >= win->end + within) {
            verdict = V_FAIL;
            worst_cur = last_cur;
            double still = isnan(last_cur) ? 0 : last_cur;
            snprintf(why, sizeof(why), "%g connection%s still open %s after the fault (baseline %g): leaked?", still,
                     still == 1 ? "" : "s", vfmt_ms(within, b1, sizeof(b1)), base);
        } else if (verdict == V_PASS) {
            verdict = V_INCONCLUSIVE;
            snprintf(why, sizeof(why), "the record ends %s after the fault, before 'within' (%s) ran out",
                     vfmt_ms(obs_end - win->end, b1, sizeof(b1)), vfmt_ms(within, b2, sizeof(b2)));
        }
        held_in(cx, e, p, win, within, &held);
    }
    /* "2 held left open" (http, tcp: a call is a connection), "3 held calls left open (on 1
     * connection)" (http2, grpc) */
    int conns, streams = has_streams(p), leaked = held_count(&held, &conns);
    const char *calls = !streams ? "" : leaked == 1 ? " call" : " calls";
    char on[48] = "";
    if (streams && leaked) snprintf(on, sizeof(on), " (on %d connection%s)", conns, conns == 1 ? "" : "s");
    if (leaked && verdict != V_FAIL) {
        verdict = V_FAIL;
        snprintf(why, sizeof(why), "%d held %s%s still open %s after the fault ended%s", leaked,
                 streams ? "call" : "connection", leaked == 1 ? "" : "s", vfmt_ms(within, b1, sizeof(b1)), on);
    }
    if (verdict == V_FAIL && !isnan(worst_cur) && worst_cur > 0)
        vres_measured(r, "baseline %g, still %g after %s; %d held%s left open%s", base, worst_cur,
                      vfmt_ms(within, b1, sizeof(b1)), leaked, calls, on);
    else if (verdict == V_INCONCLUSIVE && !worst_after)
        vres_measured(r, "baseline %g, not observed after the fault; %d held%s left open%s", base, leaked, calls, on);
    else
        vres_measured(r, "baseline %g, back after %s; %d held%s left open%s", base, vfmt_ms(worst_after, b1, sizeof(b1)),
                      leaked, calls, on);
    if (verdict == V_PASS) snprintf(why, sizeof(why), "connections back to baseline after every fault window");
    vres(r, (enum verdict)verdict, "%s", why);
    free(held.ev);
    vwins_free(&w);
    return 0;
}

const struct vcheck vcheck_recovery = {"recovery", 1, judge};
