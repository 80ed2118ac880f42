/* run.h -- `faultline run`: the scenario runner (the files of run/).
 *
 * A scenario is one INI file: [scenario] (name, load, redis, postgres), the profile's own
 * [faultline]/[proxy]/[fault] sections, [phase NAME] sections run in file order, [action NAME]
 * commands at moments of the run, and [expect NAME] sections judged by the verifier at the end.
 * The command line is cli/run.c's; the runner is split by job:
 *
 *   run/run.c        run_scenario: the event loop, phases, the load, Ctrl-C, live status
 *   run/scenario.c   parse and validate the scenario sections (also for `faultline check`)
 *   run/action.c     [action NAME]: commands run at moments of the run
 *   run/halt.c       [scenario] halt_if: stop conditions
 *   run/remote.c     --admin: faults and live numbers through a running faultline's admin API
 *   run/fleet.c      [scenario] fleet: faults and live numbers across a fleet (its Redis, its key)
 *   run/state.c      series and fault windows (struct run_state)
 *   run/sampler.c    postgres and probe samples written into the record (run/sampler.h)
 *   run/probe.c      one number read off the service's own endpoint (run/probe.h)
 *   run/redis.c      the embedded redis-server, R:phases writes, series
 *   run/export.c     the record export (record.json), streamed
 *   run/artifacts.c  journal.json and the self-contained report.html
 *
 * The runner drives the proxies through proxy/embed.h only, and judges through verify/verify.h.
 *
 * Ownership: a struct run_scn owns its phases and borrows the profile it was parsed from
 * (which the caller frees after run_scn_free). Samples and windows belong to struct run_state.
 */
#ifndef FL_RUN_H
#define FL_RUN_H

#include <stddef.h>
#include <stdint.h>
#include "proxy/profile.h"

#include "verify/verify.h"

#include <string.h>

struct event;
struct event_base;

/* Copies src into dst (n bytes), truncating and always NUL-terminating. */
static inline void run_copy(char *dst, size_t n, const char *src)
{
    size_t l = strlen(src);
    if (l >= n) l = n - 1;
    memcpy(dst, src, l);
    dst[l] = 0;
}

/* A fault a phase names: the [fault NAME] section whose proxy is PROXY (both owned). */
struct run_pfault {
    char *proxy, *name;
};

struct run_phase {
    char name[128];
    int64_t dur_us;
    struct run_pfault *faults; /* the faults acting during this phase (PROXY/NAME, or a NAME one proxy has) */
    int nfaults;
    int line;
    double start_ms, end_ms; /* wall clock, 0 until started / ended */
};

/* [action NAME]: a command run at a moment of the run (run/action.c). Parsed by run_scn_parse;
 * the fields below `line` are what happened, filled while the run goes on. */
struct run_action {
    char name[128];
    char at[200];            /* as written: PHASE, PHASE+5s, PHASE-500ms */
    int phase;               /* index into run_scn.ph */
    int64_t off_us;          /* offset from that phase's (planned) start */
    int64_t due_us;          /* planned start, from the run's start */
    char cmd[4096];          /* /bin/sh -c */
    int64_t timeout_us;
    int line;
    int pid, fd;             /* running: child (its own process group) and its output pipe */
    struct event *ev_start, *ev_read, *ev_timeout;
    char *out;               /* stdout+stderr, the first RUN_ACTION_OUT_MAX bytes */
    size_t outlen, out_total;
    double start_ms, end_ms; /* wall clock, 0 = not started / not ended */
    int status;              /* waitpid status, -1 = none */
    int timed_out;           /* killed after `timeout` */
    char stopped[96];        /* killed or cancelled because the run ended / was aborted: why */
};
#define RUN_ACTION_OUT_MAX 65536

/* One stop condition of `halt_if` (run/halt.c). The samples are the runner's, kept for the
 * condition's window. */
enum { RUN_HALT_ERRORS = 1, RUN_HALT_PROBE, RUN_HALT_CHECK };
struct run_halt {
    int kind;                /* RUN_HALT_ERRORS: error_rate(target) over over_us; RUN_HALT_PROBE: probe(target);
                              * RUN_HALT_CHECK: check(target) fails */
    char target[128];        /* the proxy, or the [expect] (a probe for RUN_HALT_PROBE) */
    int op, or_equal;        /* '>' or '<', and '=' after it */
    double value;            /* a ratio (error_rate) or a number (probe) */
    int64_t over_us;
    char text[256];          /* the condition as written */
    struct { double t; uint64_t req, err; } *s;
    int ns;
};

struct run_scn {
    char name[256];
    char load[4096];         /* shell command, "" = none */
    char redis[512];         /* record target, "" = embedded redis-server */
    char postgres[512];      /* default DSN for postgres checks, "" = none */
    int64_t load_grace_us;   /* how long the load may take to exit after SIGTERM */
    struct run_phase *ph;
    int nph;
    int nexpect;
    struct run_action *act;  /* [action] sections, file order */
    int nact;
    struct run_halt *halt;   /* [scenario] halt_if, the conditions joined by `or` */
    int nhalt;
    char fleet[256];         /* [scenario] fleet: the selector, "" = not a fleet run */
    int64_t fleet_lease_us;  /* fleet_lease (15 s): the lease of every fault the run adds */
    int64_t fleet_timeout_us;   /* fleet_timeout (5 s): how long a command waits for its acks */
    double fleet_percent;    /* fleet_percent, fleet_max_instances: the blast radius (0 = all) */
    int fleet_max;
    int watch_pid, watch_fd; /* the child judging check(NAME) conditions (0: none), and its pipe */
    char watch_buf[640];     /* a line of that pipe read in part */
    size_t watch_len;
};

/* ---- run/run.c: the run ---- */
struct run_opts {
    const char *path;        /* the scenario file */
    const char *out;         /* --out DIR, or NULL: runs/<run id> */
    const char *admin;       /* --admin ADDR: drive a running faultline instead of starting proxies */
    const char *token;       /* --token T for that admin API, or NULL */
    const char *redis;       /* --redis URL, or NULL: the file's, or a private redis-server */
    const char *run_id;      /* --run ID, or NULL: [faultline] run, or a new one */
    double scale;            /* --scale F: phase durations times F (1: as written) */
};
/* Runs the scenario end to end and prints the verdict. Returns the exit status: 0 every
 * expectation passes, 1 one fails, 3 none fails but some are inconclusive (or the run was
 * aborted), 2 a bad scenario, an unreachable record, or a run file not written. */
int run_scenario(const struct run_opts *o);

/* ---- run/scenario.c ---- */
/* A scenario runs commands (load, [action] run): `faultline run` takes only a file that no one
 * but the runner (or root) could have written -- owned by the runner or by root, not writable by
 * group or others (docs/security.md). 0, or -1 with "PATH: reason" and the fix. */
int run_scn_trusted(const char *path, char *err, size_t errlen);
/* Validates [scenario], [phase] and [expect] sections of p (already loaded with
 * PROF_ALLOW_SCENARIO). Fills *out when given (run_scn_free). 0 or -1 with "PATH:LINE: reason". */
int run_scn_parse(struct profile *p, struct run_scn *out, char *err, size_t errlen);
void run_scn_free(struct run_scn *s);
/* 1 if fault NAME of proxy PROXY is named by any phase. */
int run_scn_phased(const struct run_scn *s, const char *proxy, const char *fault);
/* The [fault NAME] section of the profile's document whose proxy is PROXY, or NULL. */
struct inisec *run_fault_sec(struct profile *p, const char *proxy, const char *name);

/* One sample per proxy per second, taken by the runner (in-process) or read from R:ts. */
struct run_sample {
    double t_ms;             /* wall clock, start of the second */
    double cur;              /* concurrent connections (in-flight requests for http) */
    double peak;
    double newc;             /* new connections in the second */
    double req;              /* requests (http) in the second */
    double err;              /* errors in the second (5xx, resets, failed upstreams) */
    double abandoned;        /* held calls the client gave up on in the second */
};

struct run_series {
    char proxy[128];
    int http;
    struct run_sample *s;
    int n, cap;
    double *abandon_ms;      /* moments a client gave up on a held call (from the record) */
    int nab, capab;
};

struct run_window {          /* one fault window */
    char fault[128], proxy[128], type[64];
    double start_ms, end_ms; /* end 0 = still open at the end */
};

struct run_state {
    char run_id[128];
    char scenario_path[512];
    char out_dir[512];
    char redis_url[600];
    int embedded_redis;
    int aborted;             /* Ctrl-C, SIGTERM, or a stop condition (halted) */
    char abort_reason[256];
    int halted;              /* a [scenario] halt_if stop condition fired (run/halt.c) */
    double halted_ms;
    double started_ms, ended_ms;
    /* the load */
    char load_cmd[128];      /* as shown: its program name and a hash (fl_redact_cmd) */
    int load_pid;
    int load_status;         /* waitpid status; -1 = not run / not reaped */
    double load_exit_ms;
    int load_ended_early;
    /* what happened */
    struct run_series *series;
    int nseries;
    struct run_window *win;
    int nwin, capwin;
    void *fleet;             /* borrowed json_t *: a fleet run's picks and commands (run_fleet_journal), or NULL */
};

void run_series_add(struct run_series *se, const struct run_sample *s);
void run_series_abandon(struct run_series *se, double t_ms);
struct run_series *run_series_get(struct run_state *st, const char *proxy, int http);
void run_window_open(struct run_state *st, const char *fault, const char *proxy, const char *type, double t_ms);
/* Closes the open window of fault (of proxy; NULL: of any proxy). */
void run_window_close(struct run_state *st, const char *fault, const char *proxy, double t_ms);
void run_state_free(struct run_state *st);

/* ---- run/redis.c ---- */
/* Starts redis-server on OUT/redis.sock; fills url ("unix:/…/redis.sock") and *pid. */
int run_redis_start(const char *dir, char *url, size_t urllen, int *pid, char *err, size_t errlen);
/* Stops it (SIGTERM, then SIGKILL after 3 s) and removes the socket. */
void run_redis_stop(int pid, const char *dir);
/* Blocking client used only outside the event loop (before the run, after it). */
void *run_redis_connect(const char *url, char *err, size_t errlen);   /* redisContext* */
void run_redis_free(void *ctx);
/* XADD R:phases phase NAME event start|end at_ms T. Blocking, bounded by a 1 s timeout; used
 * twice per phase. -1 with err. */
int run_redis_phase(void *ctx, const char *run, const char *phase, const char *event, double at_ms,
                    char *err, size_t errlen);
/* R:runner (docs/metrics.md): outcome "running" with started_ms at the start; at the end
 * "finished", "aborted" or "halted", the reason, and stopped_ms = when the runner stopped
 * observing (before it removed the faults). Blocking, bounded by the 1 s timeout. -1 with err. */
int run_redis_runner(void *ctx, const char *run, const char *outcome, const char *reason, double at_ms, char *err,
                     size_t errlen);
/* run/export.c: every key of the run (and its fl:runs entry) as JSON into path, streamed page by
 * page (the memory used is one page whatever the record's size). 0, or -1 with err. */
int run_redis_export(void *ctx, const char *run, const char *path, char *err, size_t errlen);
/* Fills series from R:ts:* and abandonment moments from R:events:* (used by --admin runs,
 * and to add abandonment times to in-process series). */
int run_redis_series(void *ctx, struct run_state *st, int only_abandon, char *err, size_t errlen);
/* Fault windows from R:faults (for --admin runs). */
int run_redis_windows(void *ctx, struct run_state *st, char *err, size_t errlen);

/* ---- run/artifacts.c ---- */
int run_write_journal(const struct run_state *st, const struct run_scn *sc, const struct verify_report *rep,
                      int exit_code, const char *path, char *err, size_t errlen);
int run_write_html(const struct run_state *st, const struct run_scn *sc, const struct verify_report *rep,
                   int exit_code, const char *path, char *err, size_t errlen);

/* ---- run/action.c: [action NAME] ---- */
/* Validates one [action] section against the parsed phases. 0 or -1 with "PATH:LINE: reason". */
int run_action_parse(struct profile *p, struct inisec *s, const struct run_scn *sc, struct run_action *a,
                     char *err, size_t errlen);
/* Schedules every action on base, relative to t0_us (monotonic start of the first phase). Start
 * and end go to R:actions through rctx (redisContext*, may be NULL); say() reports progress. */
void run_actions_start(struct run_scn *sc, struct event_base *base, int64_t t0_us, void *rctx, const char *run_id,
                       const char *out_dir, void (*say)(void *ud, const char *msg), void *ud);
/* Ends the actions: pending ones are cancelled, running ones have their process group killed
 * (TERM, then KILL after 1 s) and are reaped. Blocking, bounded (about 3 s). */
void run_actions_stop(struct run_scn *sc, const char *why);
void run_actions_free(struct run_scn *sc);

/* ---- run/halt.c: stop conditions ---- */
/* Parses a halt_if value into sc->halt, checking the proxies and probes it names in pr. 0, or
 * -1 with the reason in why (without PATH:LINE). */
int run_halt_parse(struct profile *pr, const char *text, struct run_scn *sc, char *why, size_t wl);
void run_halt_free(struct run_scn *sc);
struct run_px_totals;
/* Evaluates every condition against the proxies' totals now (t, nt), the record (rctx: the
 * probes' samples) and what the check watcher said (never blocks). 1 with why = the condition
 * and the value that crossed it: halt. */
int run_halt_eval(struct run_scn *sc, const struct run_px_totals *t, int nt, void *rctx, const char *run, double now_ms,
                  char *why, size_t wl);
/* The check watcher, for `check(NAME) fails` conditions: a child process that judges those
 * expectations of doc on the record so far (o: the run, its Redis; judged live) once a second
 * -- less often when one judgement takes longer than a fifth of that -- and says on a pipe the
 * first that FAILs, then exits. 0 (started, or no such condition), or -1 with why (fork).
 * run_halt_watch_stop ends it (SIGTERM, reaped) and closes the pipe; both accept a run_scn
 * without a watcher. */
int run_halt_watch_start(struct run_scn *sc, struct inidoc *doc, const struct verify_opts *o, char *why, size_t wl);
void run_halt_watch_stop(struct run_scn *sc);

/* ---- run/remote.c: driving an already-running faultline ---- */
/* POST /faults with the [fault] section's keys as a JSON object. 0 or -1 with err. */
int run_admin_add(const char *admin, const char *token, struct inisec *fs, char *err, size_t errlen);
/* DELETE /faults/PROXY/NAME (a fault already gone is no error). 0 or -1 with err. */
int run_admin_remove(const char *admin, const char *token, const char *proxy, const char *name, char *err,
                     size_t errlen);
/* One proxy's cumulative totals from GET /stats (since the daemon started). */
struct run_px_totals {
    char proxy[128];
    int http;                /* http mode that saw requests */
    double active, inflight;
    uint64_t accepted, requests, errors, abandoned;
};
/* GET /stats (1 s timeouts): *out is a malloc'd array of *n proxies, the caller frees it.
 * 0 or -1 with err. Used once a second for the live status of an --admin run. */
/* POST /verdicts: the report's verdicts, for the daemon's console (docs/console.md). 0, or -1
 * with err. */
int run_admin_verdicts(const char *admin, const char *token, const struct verify_report *rep, char *err, size_t errlen);
int run_admin_stats(const char *admin, const char *token, struct run_px_totals **out, int *n, char *err, size_t errlen);

/* ---- run/fleet.c: a scenario across a fleet ([scenario] fleet = SELECTOR; docs/fleet.md) ---- */
struct run_fleet;
/* Reaches the fleet through p's [fleet] section and picks the instances sc->fleet matches (and
 * its blast radius), once for the run. run_id gets the run they record into; want_run (--run,
 * may be NULL) must be it. NULL with err (no instance up, instances in different runs, no Redis). */
struct run_fleet *run_fleet_open(struct profile *p, const struct run_scn *sc, const char *want_run, char *run_id,
                                 size_t rlen, char *err, size_t errlen);
void run_fleet_close(struct run_fleet *f);
int run_fleet_count(const struct run_fleet *f);          /* instances picked */
const char *run_fleet_lease(const struct run_fleet *f);  /* the run's lease id */
/* The journal's "fleet" object (a json_t *, owned by f), or NULL. */
void *run_fleet_journal(const struct run_fleet *f);
/* Fleet add of [fault] fs (with the run's lease) / rm of fault of proxy, for phase; each waits
 * for the acks and writes "fleet OP PROXY/FAULT: N of M applied in T ms[; failed ID: why]" into
 * line (the journal's command says PROXY/FAULT too). The
 * number applied, or -1 when it was not sent. */
int run_fleet_add(struct run_fleet *f, struct inisec *fs, const char *phase, char *line, size_t ll);
int run_fleet_rm(struct run_fleet *f, const char *proxy, const char *fault, const char *phase, char *line, size_t ll);
/* Renews the run's lease on the picked instances (no acks). 0, or -1 with err. */
int run_fleet_renew(struct run_fleet *f, char *err, size_t errlen);
/* A fleet kill to every instance up that the selector matches; line as for add. */
int run_fleet_kill(struct run_fleet *f, char *line, size_t ll);
/* The picked instances' GET /stats, summed per proxy name (NULL when none answered: err). */
struct run_px_totals *run_fleet_stats(struct run_fleet *f, const char *token, int *n, char *err, size_t errlen);
/* Every verdict not INCONCLUSIVE becomes so when an add of the run was applied on no instance. */
void run_fleet_judge(const struct run_fleet *f, struct verify_report *rep);
/* POST /verdicts to every picked instance (its console shows them). The number that failed (the
 * first one's reason in err). */
int run_fleet_verdicts(struct run_fleet *f, const char *token, const struct verify_report *rep, char *err, size_t errlen);

#endif
