/* run/run.c -- run_scenario: one resilience experiment, end to end (`faultline run`; its command
 * line is cli/run.c).
 *
 * The runner loads the scenario (a profile plus [scenario], [phase] and [expect] sections),
 * validates all of it, and then, on one libevent loop:
 *
 *   - runs the proxies itself (proxy/embed.h: the same code as `faultline serve`, started in
 *     start_proxies), or, with --admin, drives an already running faultline through its admin
 *     API (run/remote.c);
 *   - starts the `load` command (/bin/sh -c, in its own process group, output to OUT/load.log);
 *   - walks the phases in file order on evtimers scheduled from the run's start (no drift): a
 *     fault named by a phase is attached when the phase starts and removed when it ends (kept
 *     attached across consecutive phases that both name it); faults named by no phase act as
 *     the profile says, for the whole run. Phase starts and ends go to R:phases;
 *   - samples every proxy once a second for the live status and the report.
 *
 * At the end (or at Ctrl-C, which stops the load, removes every fault and marks the run
 * `aborted`) it stops the load's process group, flushes the record, judges the [expect]
 * sections with the verifier, prints the table, and writes journal.json, junit.xml,
 * record.json and report.html into the output directory. Without `redis` anywhere it runs a
 * private redis-server on OUT/redis.sock for the run (run/redis.c).
 */
#include "run/run.h"
#include "run/sampler.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/text.h"
#include "proxy/embed.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the runner ---- */

struct pxprev {              /* last totals seen per proxy, for per-second deltas */
    char proxy[128];
    uint64_t accepted, requests, errors, abandoned;
};

struct runner {
    struct run_state st;
    struct run_scn sc;
    struct profile *prof;    /* the runner's copy: doc, fault sections, expectations */
    struct fl_embed *emb;    /* in-process proxies, or NULL with --admin or a fleet */
    struct run_fleet *fleet; /* [scenario] fleet: the instances driven (run/fleet.c), or NULL */
    struct event *renew_ev;  /* a fleet run: renews its lease every third of it */
    struct event_base *base;
    const char *admin, *token;
    void *rctx;              /* blocking redis client for R:phases */
    int cur;                 /* phase index, -1 before, nph after */
    int64_t t0_us;           /* monotonic start of phase 0 */
    int64_t *phase_end_us;   /* monotonic planned ends */
    struct event *phase_ev, *tick_ev, *sig_int, *sig_term, *halt_ev;
    int finishing;
    int tty;
    int lines_drawn;
    int64_t last_line_us;
    struct pxprev *prev;
    int nprev;
    int sampler_pid;          /* child running the samplers (run/sampler.h), 0 = none */
    struct run_state live;    /* --admin: per-second samples from GET /stats, for the status only
                               * (the report's series come from the record, R:ts) */
    int stats_failed;
    double rate_req, rate_err;   /* last second, all proxies */
    int conns;
};

static double now_ms(void) { return (double)fl_wall_us() / 1000.0; }

static void say(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A plain progress line (stderr): timestamped; on a TTY it goes above the status block. */
static void say(struct runner *r, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    if (r->tty && r->lines_drawn) {
        fprintf(stderr, "\033[%dA\033[J", r->lines_drawn);
        r->lines_drawn = 0;
    }
    fprintf(stderr, "%02d:%02d:%02d %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec, line);
}

static int64_t total_planned_us(const struct runner *r)
{
    int64_t t = 0;
    for (int i = 0; i < r->sc.nph; i++) t += r->sc.ph[i].dur_us;
    return t;
}

/* --- faults --- */

/* Attaches [fault name] of proxy `proxy` (in process, through --admin or across the fleet) and
 * opens its window. 0, or -1 with err. */
static int fault_attach(struct runner *r, const char *proxy, const char *name, char *err, size_t errlen)
{
    struct inisec *fs = run_fault_sec(r->prof, proxy, name);
    if (!fs) { snprintf(err, errlen, "no [fault %s] on proxy %s", name, proxy); return -1; }
    const char *type = "";
    for (int i = 0; i < fs->nkeys; i++)
        if (!strcmp(fs->keys[i].key, "type")) type = fs->keys[i].value;
    if (r->fleet) {
        char line[1024];
        int n = run_fleet_add(r->fleet, fs, r->cur >= 0 && r->cur < r->sc.nph ? r->sc.ph[r->cur].name : NULL, line, sizeof(line));
        say(r, "%s", line);
        if (n <= 0) { snprintf(err, errlen, "applied on no instance of the fleet"); return -1; }
    } else if (r->admin) {
        if (run_admin_add(r->admin, r->token, fs, err, errlen) < 0) return -1;
    } else {
        const char **keys = fl_calloc((size_t)fs->nkeys + 1, sizeof(char *));
        const char **vals = fl_calloc((size_t)fs->nkeys + 1, sizeof(char *));
        for (int i = 0; i < fs->nkeys; i++) { keys[i] = fs->keys[i].key; vals[i] = fs->keys[i].value; }
        int rc = embed_fault_add(r->emb, name, keys, vals, fs->nkeys, err, errlen);
        free(keys);
        free(vals);
        if (rc < 0) return -1;
    }
    run_window_open(&r->st, name, proxy, type, now_ms());
    return 0;
}

static void fault_detach(struct runner *r, const char *proxy, const char *name)
{
    char err[FL_ERRLEN];
    if (r->fleet) {
        char line[1024];
        run_fleet_rm(r->fleet, proxy, name, r->cur >= 0 && r->cur < r->sc.nph ? r->sc.ph[r->cur].name : NULL, line, sizeof(line));
        say(r, "%s", line);
    } else if (r->admin) {
        if (run_admin_remove(r->admin, r->token, proxy, name, err, sizeof(err)) < 0)
            say(r, "warning: could not remove fault %s/%s: %s", proxy, name, err);
    } else {
        embed_fault_remove(r->emb, proxy, name);
    }
    run_window_close(&r->st, name, proxy, now_ms());
}

static int phase_has(const struct run_phase *ph, const struct run_pfault *f)
{
    if (!ph) return 0;
    for (int i = 0; i < ph->nfaults; i++)
        if (!strcmp(ph->faults[i].name, f->name) && !strcmp(ph->faults[i].proxy, f->proxy)) return 1;
    return 0;
}

static void phase_record(struct runner *r, const char *phase, const char *event, double at)
{
    char err[FL_ERRLEN];
    if (r->rctx && run_redis_phase(r->rctx, r->st.run_id, phase, event, at, err, sizeof(err)) < 0)
        say(r, "warning: R:phases not written: %s", err);
}

/* Moves from phase `from` (or -1) to phase `to` (or nph = the end). */
static void phase_switch(struct runner *r, int from, int to)
{
    struct run_phase *a = from >= 0 && from < r->sc.nph ? &r->sc.ph[from] : NULL;
    struct run_phase *b = to >= 0 && to < r->sc.nph ? &r->sc.ph[to] : NULL;
    double t = now_ms();
    if (a) {
        for (int i = 0; i < a->nfaults; i++)
            if (!phase_has(b, &a->faults[i])) fault_detach(r, a->faults[i].proxy, a->faults[i].name);
        a->end_ms = t;
        phase_record(r, a->name, "end", t);
        if (!r->tty) say(r, "phase %s ended", a->name);
    }
    r->cur = to;
    if (b) {
        b->start_ms = t;
        phase_record(r, b->name, "start", t);
        char list[1024] = "";
        for (int i = 0; i < b->nfaults; i++) {
            size_t o = strlen(list);
            const struct run_pfault *f = &b->faults[i];
            snprintf(list + o, sizeof(list) - o, "%s%s/%s", o ? ", " : "", f->proxy, f->name);
            if (phase_has(a, f)) continue;
            char err[FL_ERRLEN];
            if (fault_attach(r, f->proxy, f->name, err, sizeof(err)) < 0)
                say(r, "error: fault %s/%s not attached: %s", f->proxy, f->name, err);
        }
        char d[32];
        say(r, "phase %d/%d %s (%s)%s%s", to + 1, r->sc.nph, b->name, duration_str(b->dur_us, d, sizeof(d)),
            b->nfaults ? " faults: " : "", list);
    }
}

/* --- the load --- */

static void load_start(struct runner *r)
{
    if (!r->sc.load[0]) return;
    char logf[700];
    snprintf(logf, sizeof(logf), "%s/load.log", r->st.out_dir);
    pid_t p = fork();
    if (p < 0) { say(r, "error: cannot start the load: %s", strerror(errno)); return; }
    if (p == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); close(fd); }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) { dup2(nul, 0); close(nul); }
        fl_child_close_fds();            /* not the proxies' sockets, not the loop's, not the record's */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        execl("/bin/sh", "sh", "-c", r->sc.load, (char *)NULL);
        _exit(127);
    }
    setpgid(p, p);
    r->st.load_pid = (int)p;
    say(r, "load started (pid %d): %s", (int)p, r->st.load_cmd);
}

static void load_reap(struct runner *r, int block_us)
{
    if (r->st.load_pid <= 0 || r->st.load_status != -1) return;
    for (int64_t waited = 0;; waited += 20000) {
        int stt;
        pid_t w = waitpid(r->st.load_pid, &stt, WNOHANG);
        if (w == r->st.load_pid) {
            r->st.load_status = stt;
            r->st.load_exit_ms = now_ms();
            return;
        }
        if (waited >= block_us) return;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
}

/* Stops the load's whole process group: TERM, grace, KILL. Any stragglers of the group are
 * killed even when the shell itself has already exited. */
static void load_stop(struct runner *r)
{
    if (r->st.load_pid <= 0) return;
    load_reap(r, 0);
    kill(-r->st.load_pid, SIGTERM);
    if (r->st.load_status == -1) load_reap(r, (int)r->sc.load_grace_us);
    kill(-r->st.load_pid, SIGKILL);
    if (r->st.load_status == -1) load_reap(r, 2000000);
}

/* --- the samplers (postgres, probe; run/sampler.h) and the check watcher (halt_if check(NAME)
 * fails, run/halt.c): blocking calls, so in child processes --- */

static void sampler_start(struct runner *r)
{
    char err[FL_ERRLEN];
    struct verify_opts vo = {r->st.run_id, r->st.redis_url, r->sc.postgres[0] ? r->sc.postgres : NULL, NULL, 0, 1, NULL};
    int pid = sampler_child_start(r->prof->doc, &vo, "faultline run", err, sizeof(err));
    if (pid < 0) say(r, "warning: %s", err);
    else r->sampler_pid = pid;
    if (run_halt_watch_start(&r->sc, r->prof->doc, &vo, err, sizeof(err)) < 0) say(r, "warning: %s", err);
}

static void sampler_stop(struct runner *r)
{
    sampler_child_stop(r->sampler_pid);
    r->sampler_pid = 0;
    run_halt_watch_stop(&r->sc);
}

/* --- sampling and progress --- */

/* One sample per proxy from cumulative totals: in-process from the proxies' counters, with
 * --admin from the daemon's GET /stats. Deltas against the previous totals of the same proxy. */
static void sample_totals(struct runner *r, struct run_state *into, const struct run_px_totals *t, int n, double at)
{
    r->rate_req = r->rate_err = 0;
    r->conns = 0;
    for (int i = 0; i < n; i++) {
        struct pxprev *pv = NULL;
        for (int k = 0; k < r->nprev && !pv; k++)
            if (!strcmp(r->prev[k].proxy, t[i].proxy)) pv = &r->prev[k];
        if (!pv) {
            r->prev = fl_realloc(r->prev, sizeof(*r->prev) * (size_t)(r->nprev + 1));
            pv = &r->prev[r->nprev++];
            memset(pv, 0, sizeof(*pv));
            run_copy(pv->proxy, sizeof(pv->proxy), t[i].proxy);
            if (!r->emb) {   /* the daemons counted before the run: the first second starts here */
                pv->accepted = t[i].accepted;
                pv->requests = t[i].requests;
                pv->errors = t[i].errors;
                pv->abandoned = t[i].abandoned;
            }
        }
        int http = t[i].http;
        double cur = http ? t[i].inflight : t[i].active;
        /* a counter that went down (a fault detached takes its counters, a daemon restarted) */
        struct run_sample smp = {at, cur, cur,   /* no per-second peak from totals */
                                 t[i].accepted >= pv->accepted ? (double)(t[i].accepted - pv->accepted) : 0,
                                 t[i].requests >= pv->requests ? (double)(t[i].requests - pv->requests) : 0,
                                 t[i].errors >= pv->errors ? (double)(t[i].errors - pv->errors) : 0,
                                 t[i].abandoned >= pv->abandoned ? (double)(t[i].abandoned - pv->abandoned) : 0};
        pv->accepted = t[i].accepted;
        pv->requests = t[i].requests;
        pv->errors = t[i].errors;
        pv->abandoned = t[i].abandoned;
        run_series_add(run_series_get(into, t[i].proxy, http), &smp);
        r->rate_req += http ? smp.req : smp.newc;
        r->rate_err += smp.err;
        r->conns += (int)t[i].active;
    }
}

/* Every proxy's totals now: in process from the proxies' counters, with --admin from the
 * daemon's GET /stats (NULL when it does not answer: err). *n entries, the caller frees. */
static struct run_px_totals *totals_now(struct runner *r, int *n, char *err, size_t errlen)
{
    struct run_px_totals *tot;
    if (r->fleet) return run_fleet_stats(r->fleet, r->token, n, err, errlen);
    if (!r->emb) return run_admin_stats(r->admin, r->token, &tot, n, err, errlen) < 0 ? NULL : tot;
    struct embed_stats *es = embed_stats(r->emb, n);
    tot = fl_calloc((size_t)*n + 1, sizeof(*tot));
    for (int i = 0; i < *n; i++) {
        const struct embed_stats *s = &es[i];
        struct run_px_totals *x = &tot[i];
        run_copy(x->proxy, sizeof(x->proxy), s->proxy);
        x->http = s->requests > 0;   /* a proxy that counts requests (http) and saw some */
        x->active = (double)s->active;
        x->inflight = (double)s->inflight;
        x->accepted = s->accepted;
        x->requests = s->requests;
        x->errors = s->status_5xx + s->upstream_failed + s->bad_responses + s->fault_resets + s->fault_closes +
                    s->fault_refused;
        x->abandoned = s->fault_abandoned;
    }
    free(es);
    return tot;
}

static void sample(struct runner *r)
{
    double t = now_ms();
    int n;
    char err[FL_ERRLEN];
    struct run_px_totals *tot = totals_now(r, &n, err, sizeof(err));
    if (!tot) {
        if (!r->stats_failed++) say(r, "warning: no live numbers from the daemon: %s", err);
        return;
    }
    r->stats_failed = 0;
    sample_totals(r, r->emb ? &r->st : &r->live, tot, n, t);
    free(tot);
}

static void progress(struct runner *r)
{
    int64_t now = fl_now_us();
    int64_t total = total_planned_us(r);
    int64_t el = now - r->t0_us;
    if (el > total) el = total;
    const struct run_phase *ph = r->cur >= 0 && r->cur < r->sc.nph ? &r->sc.ph[r->cur] : NULL;
    int64_t ph_start = r->cur > 0 ? r->phase_end_us[r->cur - 1] : r->t0_us;
    double ph_el = ph ? (double)(now - ph_start) / 1e6 : 0;
    char faults[1024] = "";
    for (int i = 0; i < r->st.nwin; i++)
        if (r->st.win[i].end_ms == 0) {
            size_t o = strlen(faults);
            snprintf(faults + o, sizeof(faults) - o, "%s%s/%s", o ? ", " : "", r->st.win[i].proxy, r->st.win[i].fault);
        }
    if (r->tty) {
        if (r->lines_drawn) fprintf(stderr, "\033[%dA\033[J", r->lines_drawn);
        int n = 0;
        fprintf(stderr, "\033[1m%s\033[0m  run %s\n", r->sc.name, r->st.run_id); n++;
        fprintf(stderr, "  phase    %d/%d %s  %.0fs / %.0fs\n", r->cur + 1, r->sc.nph, ph ? ph->name : "-", ph_el,
                ph ? (double)ph->dur_us / 1e6 : 0); n++;
        fprintf(stderr, "  elapsed  %.0fs, %.0fs left\n", (double)el / 1e6, (double)(total - el) / 1e6); n++;
        fprintf(stderr, "  faults   %s\n", faults[0] ? faults : "(none)"); n++;
        {
            const struct run_state *ls = r->emb ? &r->st : &r->live;
            for (int i = 0; i < ls->nseries; i++) {
                const struct run_series *se = &ls->series[i];
                if (!se->n) continue;
                const struct run_sample *s = &se->s[se->n - 1];
                fprintf(stderr, "  %-14s %s %4.0f  %s/s %6.1f  errors/s %5.1f  gave up %3.0f\n", se->proxy,
                        se->http ? "in-flight" : "conns", s->cur, se->http ? "req" : "new", se->http ? s->req : s->newc,
                        s->err, s->abandoned);
                n++;
            }
        }
        if (r->st.load_pid > 0)
            fprintf(stderr, "  load     pid %d %s\n", r->st.load_pid, r->st.load_status == -1 ? "running" : "exited"), n++;
        r->lines_drawn = n;
        return;
    }
    if (now - r->last_line_us < 5000000) return;
    r->last_line_us = now;
    say(r, "phase=%s t=%.0fs/%.0fs faults=%s conns=%d rate=%.1f/s errors=%.1f/s", ph ? ph->name : "-", ph_el,
        ph ? (double)ph->dur_us / 1e6 : 0, faults[0] ? faults : "none", r->conns, r->rate_req, r->rate_err);
}

static void act_say(void *ud, const char *m) { say(ud, "%s", m); }

static void fault_gone(void *ud, const char *proxy, const char *name)
{
    struct runner *r = ud;
    run_window_close(&r->st, name, proxy, now_ms());
}

static void finish(struct runner *r, const char *why)
{
    if (r->finishing) return;
    r->finishing = 1;
    double t = now_ms();
    if (why) {
        r->st.aborted = 1;
        run_copy(r->st.abort_reason, sizeof(r->st.abort_reason), why);
        say(r, "%s (%s): stopping the load and removing every fault", r->st.halted ? "HALTED" : "aborting", why);
    }
    /* how the run ended, before the faults go: a window closed from here on was cut by it */
    char err[FL_ERRLEN];
    if (r->rctx && run_redis_runner(r->rctx, r->st.run_id, r->st.halted ? "halted" : why ? "aborted" : "finished",
                                    why, t, err, sizeof(err)) < 0)
        say(r, "warning: R:runner not written: %s", err);
    if (r->fleet && r->st.halted) {   /* halt_if acts fleet-wide: every instance the selector matches */
        char line[1024];
        run_fleet_kill(r->fleet, line, sizeof(line));
        say(r, "HALTED: %s", line);
    }
    run_actions_stop(&r->sc, why ? why : "the run ended");   /* no action child is left behind */
    load_stop(r);
    sampler_stop(r);
    int last = r->cur;
    if (last >= 0 && last < r->sc.nph) phase_switch(r, last, r->sc.nph);
    /* every fault goes, phased or not: nothing keeps acting after the run */
    if (r->emb) {
        embed_fault_remove_all(r->emb, fault_gone, r);
    } else {
        for (int i = 0; i < r->st.nwin; i++)
            if (r->st.win[i].end_ms == 0) fault_detach(r, r->st.win[i].proxy, r->st.win[i].fault);
    }
    r->st.ended_ms = now_ms();
    event_base_loopbreak(r->base);
}

static void arm_phase(struct runner *r)
{
    int64_t d = r->phase_end_us[r->cur] - fl_now_us();
    if (d < 0) d = 0;
    struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
    evtimer_add(r->phase_ev, &tv);
}

static void phase_cb(evutil_socket_t fd, short what, void *arg)
{
    struct runner *r = arg;
    if (r->finishing) return;
    if (r->cur + 1 >= r->sc.nph) {
        finish(r, NULL);
        return;
    }
    phase_switch(r, r->cur, r->cur + 1);
    arm_phase(r);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct runner *r = arg;
    if (r->finishing) return;
    sample(r);
    if (r->st.load_pid > 0 && r->st.load_status == -1) {
        load_reap(r, 0);
        if (r->st.load_status != -1) {
            r->st.load_ended_early = 1;
            int s = r->st.load_status;
            say(r, "load exited early (%s %d); the phases go on", WIFEXITED(s) ? "status" : "signal",
                WIFEXITED(s) ? WEXITSTATUS(s) : WTERMSIG(s));
        }
    }
    progress(r);
}

/* [scenario] halt_if, every 250 ms: the first condition that holds halts the run (run/halt.c) */
static void halt_cb(evutil_socket_t fd, short what, void *arg)
{
    struct runner *r = arg;
    if (r->finishing) return;
    int n;
    char err[FL_ERRLEN], why[512];
    struct run_px_totals *tot = totals_now(r, &n, err, sizeof(err));
    if (run_halt_eval(&r->sc, tot, tot ? n : 0, r->rctx, r->st.run_id, now_ms(), why, sizeof(why))) {
        r->st.halted = 1;
        r->st.halted_ms = now_ms();
        finish(r, why);
    }
    free(tot);
}

/* a fleet run: the lease of its faults renewed every third of it (kill -9 the runner, and
 * every instance drops them when it runs out) */
static void renew_cb(evutil_socket_t fd, short what, void *arg)
{
    struct runner *r = arg;
    char err[FL_ERRLEN];
    if (!r->finishing && run_fleet_renew(r->fleet, err, sizeof(err)) < 0)
        say(r, "warning: lease %s not renewed: %s", run_fleet_lease(r->fleet), err);
}

static void sig_cb(evutil_socket_t sig, short what, void *arg)
{
    struct runner *r = arg;
    finish(r, sig == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
}

/* --- setup --- */

static void make_run_id(char *out, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    unsigned x = (unsigned)(fl_wall_us() ^ ((uint64_t)getpid() << 16)) & 0xffff;
    snprintf(out, len, "%04d%02d%02d-%02d%02d%02d-%04x", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, x);
}

static int mkdir_p(const char *path, char *err, size_t errlen)
{
    char tmp[600];
    run_copy(tmp, sizeof(tmp), path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST) goto bad;
            *p = '/';
        }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) goto bad;
    return 0;
bad:
    snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    return -1;
}

static int has_key(struct profile *p, const char *sec, const char *key)
{
    for (int i = 0; i < p->doc->nsecs; i++) {
        struct inisec *s = &p->doc->secs[i];
        if (strcmp(s->type, sec)) continue;
        for (int k = 0; k < s->nkeys; k++)
            if (!strcmp(s->keys[k].key, key)) return 1;
    }
    return 0;
}

/* The runner's copy of the scenario: the profile, its [scenario], [phase] and [action] sections,
 * with --scale applied. 0, or -1 after saying why. */
static int load_scenario(struct runner *r, const struct run_opts *o)
{
    char err[FL_ERRLEN];
    if (run_scn_trusted(o->path, err, sizeof(err)) < 0) { fprintf(stderr, "faultline run: %s\n", err); return -1; }
    r->prof = profile_load(o->path, PROF_ALLOW_SCENARIO, err, sizeof(err));
    if (!r->prof) { fprintf(stderr, "faultline run: %s\n", err); return -1; }
    if (run_scn_parse(r->prof, &r->sc, err, sizeof(err)) < 0) {
        fprintf(stderr, "faultline run: %s\n", err);
        return -1;
    }
    if (!r->sc.nph) {
        fprintf(stderr, "faultline run: %s:1: not a scenario: no [phase NAME] sections\n", o->path);
        return -1;
    }
    /* --scale: every phase's duration times the factor (at least 100 ms); nothing else changes */
    for (int i = 0; o->scale != 1 && i < r->sc.nph; i++) {
        int64_t d = (int64_t)((double)r->sc.ph[i].dur_us * o->scale + 0.5);
        r->sc.ph[i].dur_us = d < 100000 ? 100000 : d;
    }
    return 0;
}

/* The run id and the output directory (made, and absolute, so the load and the redis dir may
 * chdir). 0, or -1 after saying why. */
static int name_run(struct runner *r, const struct run_opts *o)
{
    run_copy(r->st.scenario_path, sizeof(r->st.scenario_path), o->path);
    fl_redact_cmd(r->sc.load, r->st.load_cmd, sizeof(r->st.load_cmd));   /* as shown: never its arguments */
    if (o->run_id) run_copy(r->st.run_id, sizeof(r->st.run_id), o->run_id);
    else if (r->prof->g.run[0]) run_copy(r->st.run_id, sizeof(r->st.run_id), r->prof->g.run);
    else make_run_id(r->st.run_id, sizeof(r->st.run_id));
    if (o->out) run_copy(r->st.out_dir, sizeof(r->st.out_dir), o->out);
    else {
        memcpy(r->st.out_dir, "runs/", 6);
        run_copy(r->st.out_dir + 5, sizeof(r->st.out_dir) - 5, r->st.run_id);
    }
    size_t ol = strlen(r->st.out_dir);
    while (ol > 1 && r->st.out_dir[ol - 1] == '/') r->st.out_dir[--ol] = 0;
    char err[FL_ERRLEN];
    if (mkdir_p(r->st.out_dir, err, sizeof(err)) < 0) {
        fprintf(stderr, "faultline run: %s\n", err);
        return -1;
    }
    if (r->st.out_dir[0] != '/') {
        char cwd[400], abs[600];
        if (getcwd(cwd, sizeof(cwd))) {
            snprintf(abs, sizeof(abs), "%s/%s", cwd, r->st.out_dir);
            run_copy(r->st.out_dir, sizeof(r->st.out_dir), abs);
        }
    }
    return 0;
}

/* The record: --redis, [scenario] redis, [faultline] redis, or a private redis-server under the
 * output directory (*redis_pid); then the runner's own client (R:phases, R:actions). 0, or -1
 * after saying why. */
static int open_record(struct runner *r, const struct run_opts *o, int *redis_pid)
{
    char err[FL_ERRLEN];
    const char *url = o->redis ? o->redis : r->sc.redis[0] ? r->sc.redis : r->prof->g.redis[0] ? r->prof->g.redis : NULL;
    if (url) run_copy(r->st.redis_url, sizeof(r->st.redis_url), url);
    else if (o->admin || r->fleet) {
        fprintf(stderr, "faultline run: with %s, name the %s Redis (--redis or [scenario] redis)\n",
                o->admin ? "--admin" : "a fleet", o->admin ? "daemon's" : "instances' record");
        return -1;
    } else {
        if (run_redis_start(r->st.out_dir, r->st.redis_url, sizeof(r->st.redis_url), redis_pid, err, sizeof(err)) < 0) {
            fprintf(stderr, "faultline run: %s\n", err);
            return -1;
        }
        r->st.embedded_redis = 1;
    }
    r->rctx = run_redis_connect(r->st.redis_url, err, sizeof(err));
    if (!r->rctx) {
        fprintf(stderr, "faultline run: %s\n", err);
        return -1;
    }
    return 0;
}

/* [scenario] fleet: the fleet reached and its instances picked; o->run_id becomes the run they
 * record into. 0 (or not a fleet run), or -1 after saying why. */
static int open_fleet(struct runner *r, struct run_opts *o, char *run_id, size_t rlen)
{
    if (!r->sc.fleet[0]) return 0;
    char err[FL_ERRLEN];
    if (o->admin) { fprintf(stderr, "faultline run: a fleet run ([scenario] fleet) takes no --admin\n"); return -1; }
    r->fleet = run_fleet_open(r->prof, &r->sc, o->run_id, run_id, rlen, err, sizeof(err));
    if (!r->fleet) { fprintf(stderr, "faultline run: %s\n", err); return -1; }
    o->run_id = run_id;
    r->st.fleet = run_fleet_journal(r->fleet);
    fprintf(stderr, "faultline run: fleet %s: %d instance(s) picked, lease %s (%.0fs)\n", r->sc.fleet,
            run_fleet_count(r->fleet), run_fleet_lease(r->fleet), (double)r->sc.fleet_lease_us / 1e6);
    return 0;
}

static int keep_unphased(void *ud, const char *proxy, const char *fault) { return !run_scn_phased(ud, proxy, fault); }

/* The proxies, in process (embed_start: the profile read again, recording into the run's
 * record, its phased faults left to their phases) or, with --admin, none: a bare event base.
 * 0, or -1 after saying why. */
static int start_proxies(struct runner *r, const struct run_opts *o)
{
    if (o->admin || r->fleet) {
        signal(SIGPIPE, SIG_IGN);
        r->base = event_base_new();
        return 0;
    }
    char err[FL_ERRLEN];
    struct profile *sp = profile_load(o->path, PROF_ALLOW_SCENARIO, err, sizeof(err));
    if (!sp) { fprintf(stderr, "faultline run: %s\n", err); return -1; }
    run_copy(sp->g.redis, sizeof(sp->g.redis), r->st.redis_url);
    run_copy(sp->g.run, sizeof(sp->g.run), r->st.run_id);
    if (!has_key(sp, "faultline", "admin")) sp->g.admin_off = 1;   /* no fixed port unless asked */
    log_setup(has_key(sp, "faultline", "log") ? (enum log_level)sp->g.log_level : LOG_WARN,
              (enum log_format)sp->g.log_format);
    /* the runner owns SIGINT/SIGTERM (abort, not drain); a reload makes no sense mid-run */
    r->emb = embed_start(sp, keep_unphased, &r->sc, err, sizeof(err));
    if (!r->emb) { fprintf(stderr, "faultline run: %s\n", err); return -1; }
    r->base = embed_base(r->emb);
    /* faults named by no phase act for the whole run */
    for (int i = 0; i < r->prof->doc->nsecs; i++) {
        struct inisec *fs = &r->prof->doc->secs[i];
        if (strcmp(fs->type, "fault")) continue;
        int line;
        const char *proxy = inisec_get(fs, "proxy", &line), *type = inisec_get(fs, "type", &line);
        if (run_scn_phased(&r->sc, proxy ? proxy : "", fs->name)) continue;
        run_window_open(&r->st, fs->name, proxy ? proxy : "", type ? type : "", now_ms());
    }
    return 0;
}

/* From the first phase to the end of the last (or Ctrl-C): the load, the samplers, the phases
 * and actions on their timers, the live status once a second. */
static void run_phases(struct runner *r)
{
    r->sig_int = evsignal_new(r->base, SIGINT, sig_cb, r);
    r->sig_term = evsignal_new(r->base, SIGTERM, sig_cb, r);
    event_add(r->sig_int, NULL);
    event_add(r->sig_term, NULL);
    r->phase_ev = evtimer_new(r->base, phase_cb, r);
    r->tick_ev = event_new(r->base, -1, EV_PERSIST, tick_cb, r);

    char shown[sizeof(r->st.redis_url)];
    fl_redact_url(r->st.redis_url, shown, sizeof(shown));
    fprintf(stderr, "faultline run: %s (%d phases, %.0fs), run %s, record %s%s, output %s\n", r->sc.name, r->sc.nph,
            (double)total_planned_us(r) / 1e6, r->st.run_id, shown, r->st.embedded_redis ? " (embedded)" : "",
            r->st.out_dir);
    r->st.started_ms = now_ms();
    r->t0_us = fl_now_us();
    char err[FL_ERRLEN];
    if (r->rctx && run_redis_runner(r->rctx, r->st.run_id, "running", NULL, r->st.started_ms, err, sizeof(err)) < 0)
        say(r, "warning: R:runner not written: %s", err);
    r->phase_end_us = fl_calloc((size_t)r->sc.nph, sizeof(int64_t));
    int64_t acc = r->t0_us;
    for (int i = 0; i < r->sc.nph; i++) r->phase_end_us[i] = acc += r->sc.ph[i].dur_us;
    sampler_start(r);
    load_start(r);
    phase_switch(r, -1, 0);
    arm_phase(r);
    run_actions_start(&r->sc, r->base, r->t0_us, r->rctx, r->st.run_id, r->st.out_dir, act_say, r);
    struct timeval one = {1, 0};
    event_add(r->tick_ev, &one);
    if (r->fleet) {
        int64_t third = r->sc.fleet_lease_us / 3;
        struct timeval tv = {(time_t)(third / 1000000), (suseconds_t)(third % 1000000)};
        r->renew_ev = event_new(r->base, -1, EV_PERSIST, renew_cb, r);
        event_add(r->renew_ev, &tv);
    }
    if (r->sc.nhalt) {
        struct timeval quarter = {0, 250000};
        r->halt_ev = event_new(r->base, -1, EV_PERSIST, halt_cb, r);
        event_add(r->halt_ev, &quarter);
    }
    event_base_dispatch(r->base);
    if (!r->finishing) finish(r, "event loop stopped");
    if (r->tty && r->lines_drawn) { fprintf(stderr, "\033[%dA\033[J", r->lines_drawn); r->lines_drawn = 0; }
    say(r, "run %s %s after %.1fs", r->st.run_id, r->st.halted ? "HALTED" : r->st.aborted ? "aborted" : "finished",
        (r->st.ended_ms - r->st.started_ms) / 1000.0);

    event_free(r->phase_ev);
    event_free(r->tick_ev);
    if (r->halt_ev) event_free(r->halt_ev);
    if (r->renew_ev) event_free(r->renew_ev);
    event_free(r->sig_int);
    event_free(r->sig_term);
}

/* Ends the proxies. Connections still open (held calls of a client without a timeout) are
 * closed first, while the recorder still runs, so their events say held_at_end; then the record
 * is flushed, before it is judged. */
static void stop_proxies(struct runner *r)
{
    if (r->emb) {
        embed_close_all(r->emb);
        embed_free(r->emb);
        r->emb = NULL;
    } else {
        event_base_free(r->base);
    }
    r->base = NULL;
}

/* The verdicts, printed. Returns the exit status; *have_rep when rep holds a report. */
static int judge(struct runner *r, struct verify_report *rep, int *have_rep)
{
    char err[FL_ERRLEN];
    /* in process, the proxies have written their end (embed_free): the record is complete; a
     * daemon driven with --admin (a fleet's instances) goes on recording its run, which is
     * judged as it stands */
    struct verify_opts vo = {r->st.run_id, r->st.redis_url, r->sc.postgres[0] ? r->sc.postgres : NULL, NULL, 0,
                             r->admin != NULL || r->fleet != NULL, NULL};
    if (verify_doc(r->prof->doc, &vo, rep, err, sizeof(err)) < 0) {
        fprintf(stderr, "faultline run: verify: %s\n", err);
        return 2;
    }
    *have_rep = 1;
    if (r->fleet) run_fleet_judge(r->fleet, rep);
    int rc = rep->n ? verify_exit_code(rep) : 0;
    if (r->st.aborted && rc == 0) rc = 3;
    printf("\n");
    if (rep->n) verify_print_table(rep, stdout);
    else printf("no [expect] sections: nothing judged\n");
    verify_print_audit(rep, stdout);
    if (r->admin && rep->n && run_admin_verdicts(r->admin, r->token, rep, err, sizeof(err)) < 0)
        fprintf(stderr, "faultline run: the verdicts were not posted to the daemon's console: %s\n", err);
    if (r->fleet && rep->n && run_fleet_verdicts(r->fleet, r->token, rep, err, sizeof(err)) > 0)
        fprintf(stderr, "faultline run: the verdicts were not posted to every instance's console: %s\n", err);
    return rc;
}

/* junit.xml, record.json, journal.json and report.html into the output directory. 0, or -1 when
 * one of them could not be written (each failure said). */
static int write_outputs(struct runner *r, const struct verify_report *rep, int rc)
{
    char fpath[800], err[FL_ERRLEN];
    int wrote_ok = 1;
    if (rep) {
        snprintf(fpath, sizeof(fpath), "%s/junit.xml", r->st.out_dir);
        if (verify_write_junit(rep, fpath, err, sizeof(err)) < 0) { fprintf(stderr, "faultline run: %s\n", err); wrote_ok = 0; }
    }
    snprintf(fpath, sizeof(fpath), "%s/record.json", r->st.out_dir);
    if (run_redis_export(r->rctx, r->st.run_id, fpath, err, sizeof(err)) < 0) {
        fprintf(stderr, "faultline run: record export: %s\n", err);
        wrote_ok = 0;
    }
    run_redis_series(r->rctx, &r->st, !r->admin && !r->fleet, err, sizeof(err));
    if (r->admin) run_redis_windows(r->rctx, &r->st, err, sizeof(err));
    snprintf(fpath, sizeof(fpath), "%s/journal.json", r->st.out_dir);
    if (run_write_journal(&r->st, &r->sc, rep, rc, fpath, err, sizeof(err)) < 0) {
        fprintf(stderr, "faultline run: %s\n", err);
        wrote_ok = 0;
    }
    snprintf(fpath, sizeof(fpath), "%s/report.html", r->st.out_dir);
    if (run_write_html(&r->st, &r->sc, rep, rc, fpath, err, sizeof(err)) < 0) {
        fprintf(stderr, "faultline run: %s\n", err);
        wrote_ok = 0;
    }
    return wrote_ok ? 0 : -1;
}

int run_scenario(const struct run_opts *o)
{
    struct runner R;
    memset(&R, 0, sizeof(R));
    struct runner *r = &R;
    r->cur = -1;
    r->st.load_status = -1;
    r->admin = o->admin;
    r->token = o->token;
    r->tty = isatty(2);
    int rc = 2, have_rep = 0, redis_pid = 0;
    struct verify_report rep;
    memset(&rep, 0, sizeof(rep));
    struct run_opts fo = *o;   /* a fleet run: the run is the one its instances record into */
    char fleet_run[128];
    if (load_scenario(r, o) < 0 || open_fleet(r, &fo, fleet_run, sizeof(fleet_run)) < 0 || name_run(r, &fo) < 0) goto out;
    o = &fo;
    if (open_record(r, o, &redis_pid) < 0 || start_proxies(r, o) < 0) goto out_record;
    run_phases(r);
    stop_proxies(r);
    rc = judge(r, &rep, &have_rep);
    int wrote = write_outputs(r, have_rep ? &rep : NULL, rc);
    printf("\n%s%s: exit %d\nreport:  %s/report.html\njournal: %s/journal.json\n",
           r->st.halted ? "HALTED " : r->st.aborted ? "ABORTED " : "",
           r->sc.name, rc, r->st.out_dir, r->st.out_dir);
    if (wrote < 0 && rc == 0) rc = 2;
out_record:
    run_redis_free(r->rctx);
    if (redis_pid) run_redis_stop(redis_pid, r->st.out_dir);
    load_stop(r);
    sampler_stop(r);
out:
    if (have_rep) verify_report_free(&rep);
    free(r->phase_end_us);
    free(r->prev);
    run_state_free(&r->st);
    run_state_free(&r->live);
    run_fleet_close(r->fleet);
    run_scn_free(&r->sc);
    profile_free(r->prof);
    return rc;
}
