/* run/halt.c -- stop conditions: `halt_if` in [scenario].
 *
 * An experiment on a real system needs a way to stop itself when it hurts more than it may:
 * AWS FIS stops an experiment when a CloudWatch alarm fires, Gremlin halts an attack on a
 * failing status check. `halt_if` is that for `faultline run`:
 *
 *   halt_if = error_rate(web) > 50% over 5s or probe(goroutines) > 500 or check(callers) fails
 *
 *   error_rate(PROXY) > RATIO over DURATION   the share of PROXY's requests that failed (5xx,
 *                                             resets, upstream failures: the proxy's own
 *                                             counters) over the last DURATION, once at least
 *                                             5 requests came in it (an http proxy: an ingress
 *                                             proxy gives the service's own error rate)
 *   probe(EXPECT) > NUMBER  (or <, >=, <=)    the newest good sample of the [expect EXPECT]
 *                                             probe (check = probe), as the sampler wrote it
 *   check(EXPECT) fails                       the [expect EXPECT] check, judged on the record so
 *                                             far (as `verify --live` would), says FAIL
 *
 * Conditions are joined by `or`. The runner evaluates them every 250 ms (run/run.c); the first
 * that holds halts the run: every fault is removed at once (well within a second), the load is
 * stopped, the record says so (R:runner outcome = halted, reason = the condition and the value
 * that crossed it), journal.json has `halted` and `halt_reason`, and the verifier makes every
 * verdict that would have passed INCONCLUSIVE with that reason (verify/verify.h).
 *
 * Judging a check reads the record (the proxy's events, its series) with blocking calls, which
 * must never stall the proxies on the runner's loop: a child process, the check watcher, judges
 * the check(...) expectations once a second (backing off to 5 times the time a judgement took,
 * so it never takes more than a fifth of a core) and writes the first FAIL on a pipe as one line,
 * "EXPECT<TAB>measured<TAB>why". The runner's 250 ms evaluation reads that pipe without waiting.
 * A check that cannot judge yet (too few requests, the fault still acting) is INCONCLUSIVE and
 * does not halt; only FAIL does.
 */
#include "run/run.h"
#include "proxy/profile.h"
#include "common/parse.h"
#include "common/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HALT_MIN_REQUESTS 5
#define HALT_WATCH_MS 1000

static const char *skip(const char *p) { while (*p == ' ' || *p == '\t') p++; return p; }

/* `NAME(ARG)` at p: copies ARG, returns the text after ')', or NULL */
static const char *call_arg(const char *p, const char *name, char *arg, size_t n)
{
    size_t l = strlen(name);
    if (strncmp(p, name, l) || p[l] != '(') return NULL;
    const char *q = strchr(p + l + 1, ')');
    if (!q || q == p + l + 1 || (size_t)(q - p - l - 1) >= n) return NULL;
    memcpy(arg, p + l + 1, (size_t)(q - p - l - 1));
    arg[q - p - l - 1] = 0;
    return q + 1;
}

/* the [expect NAME] section of pr's document, or NULL */
static struct inisec *expect_sec(struct profile *pr, const char *name)
{
    for (int i = 0; i < pr->doc->nsecs; i++)
        if (!strcmp(pr->doc->secs[i].type, "expect") && !strcmp(pr->doc->secs[i].name, name)) return &pr->doc->secs[i];
    return NULL;
}

/* `check(EXPECT) fails`: q is the text after ')' */
static int parse_check(struct profile *pr, const char *t, const char *q, struct run_halt *h, char *why, size_t wl)
{
    h->kind = RUN_HALT_CHECK;
    q = skip(q);
    if (strncmp(q, "fails", 5) || *skip(q + 5)) {
        snprintf(why, wl, "'%s': expected check(EXPECT) fails", t);
        return -1;
    }
    if (!expect_sec(pr, h->target)) {
        snprintf(why, wl, "'%s': no [expect %s] in this scenario", t, h->target);
        return -1;
    }
    return 0;
}

/* one condition, text [b, e) */
static int parse_one(struct profile *pr, const char *b, size_t len, struct run_halt *h, char *why, size_t wl)
{
    char t[256];
    if (len >= sizeof(t)) { snprintf(why, wl, "condition too long"); return -1; }
    memcpy(t, b, len);
    t[len] = 0;
    memset(h, 0, sizeof(*h));
    run_copy(h->text, sizeof(h->text), t);
    const char *p = skip(t), *q;
    if ((q = call_arg(p, "error_rate", h->target, sizeof(h->target)))) h->kind = RUN_HALT_ERRORS;
    else if ((q = call_arg(p, "probe", h->target, sizeof(h->target)))) h->kind = RUN_HALT_PROBE;
    else if ((q = call_arg(p, "check", h->target, sizeof(h->target)))) return parse_check(pr, t, q, h, why, wl);
    else {
        snprintf(why, wl, "'%s': expected error_rate(PROXY) > RATIO over DURATION, probe(EXPECT) > NUMBER or "
                 "check(EXPECT) fails", t);
        return -1;
    }
    q = skip(q);
    if (*q != '>' && *q != '<') { snprintf(why, wl, "'%s': expected > or < after %s", t, p); return -1; }
    h->op = *q++;
    if (*q == '=') { h->or_equal = 1; q++; }
    q = skip(q);
    char num[64];
    size_t k = 0;
    while (*q && *q != ' ' && *q != '\t' && k + 1 < sizeof(num)) num[k++] = *q++;
    num[k] = 0;
    char *end;
    h->value = strtod(num, &end);
    if (end == num) { snprintf(why, wl, "'%s': '%s' is not a number", t, num); return -1; }
    if (h->kind == RUN_HALT_ERRORS) {
        if (*end == '%') { h->value /= 100; end++; }
        if (*end || h->value < 0 || h->value > 1) { snprintf(why, wl, "'%s': '%s' is not a ratio (50%% or 0.5)", t, num); return -1; }
        q = skip(q);
        if (strncmp(q, "over", 4) || (q[4] != ' ' && q[4] != '\t')) {
            snprintf(why, wl, "'%s': error_rate needs 'over DURATION' (over 5s)", t);
            return -1;
        }
        char e[200];
        if (parse_duration(skip(q + 4), &h->over_us, e, sizeof(e)) < 0) { snprintf(why, wl, "'%s': over: %s", t, e); return -1; }
        if (h->over_us < 250000) { snprintf(why, wl, "'%s': over: at least 250ms", t); return -1; }
        for (int i = 0; i < pr->nproxies; i++) {
            const char *m;
            if (strcmp(pr->proxies[i].name, h->target)) continue;
            if (proxy_spec_sees_requests(&pr->proxies[i], &m)) return 0;
            /* a proxy that counts no requests never reaches the 5 the rate waits for: the
             * condition could never hold, and the run would go on unguarded */
            snprintf(why, wl, "'%s': error_rate needs a proxy that sees requests (mode http, http2, grpc or "
                     "forward); [proxy %s] is mode %s", t, h->target, m);
            return -1;
        }
        snprintf(why, wl, "'%s': no [proxy %s] in this scenario", t, h->target);
        return -1;
    }
    if (*end || *skip(q)) { snprintf(why, wl, "'%s': unexpected text after the number", t); return -1; }
    struct inisec *s = expect_sec(pr, h->target);
    if (!s) { snprintf(why, wl, "'%s': no [expect %s] (check = probe) in this scenario", t, h->target); return -1; }
    for (int j = 0; j < s->nkeys; j++)
        if (!strcmp(s->keys[j].key, "check") && !strcmp(s->keys[j].value, "probe")) return 0;
    snprintf(why, wl, "'%s': [expect %s] is not a probe (check = probe)", t, h->target);
    return -1;
}

int run_halt_parse(struct profile *pr, const char *text, struct run_scn *sc, char *why, size_t wl)
{
    const char *p = text;
    for (;;) {
        const char *o = strstr(p, " or ");
        size_t len = o ? (size_t)(o - p) : strlen(p);
        sc->halt = fl_realloc(sc->halt, sizeof(*sc->halt) * (size_t)(sc->nhalt + 1));
        if (parse_one(pr, p, len, &sc->halt[sc->nhalt], why, wl) < 0) return -1;
        sc->nhalt++;
        if (!o) return 0;
        p = o + 4;
    }
}

void run_halt_free(struct run_scn *sc)
{
    run_halt_watch_stop(sc);
    for (int i = 0; i < sc->nhalt; i++) free(sc->halt[i].s);
    free(sc->halt);
    sc->halt = NULL;
    sc->nhalt = 0;
}

static int holds(const struct run_halt *h, double v)
{
    return h->op == '>' ? (h->or_equal ? v >= h->value : v > h->value) : (h->or_equal ? v <= h->value : v < h->value);
}

/* the newest good sample of R:probe:NAME, or NAN */
static double probe_now(void *rctx, const char *run, const char *name)
{
    redisContext *c = rctx;
    if (!c) return NAN;
    redisReply *r = redisCommand(c, "XREVRANGE fl:run:%s:probe:%s + - COUNT 5", run, name);
    double v = NAN;
    if (r && r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements && isnan(v); i++) {
            redisReply *f = r->element[i]->elements >= 2 ? r->element[i]->element[1] : NULL;
            double val = NAN;
            int ok = 0;
            for (size_t k = 0; f && k + 1 < f->elements; k += 2) {
                if (!strcmp(f->element[k]->str, "value")) val = strtod(f->element[k + 1]->str, NULL);
                else if (!strcmp(f->element[k]->str, "ok")) ok = !strcmp(f->element[k + 1]->str, "1");
            }
            if (ok) v = val;
        }
    if (r) freeReplyObject(r);
    return v;
}

/* ---- the check watcher ---- */

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The child: judges the expectations `only` names until one FAILs, says it on fd, exits. */
_Noreturn static void watch_child(struct inidoc *doc, const struct verify_opts *o, int fd)
{
    char err[FL_ERRLEN], last[FL_ERRLEN] = "";
    double wait = HALT_WATCH_MS;
    for (;;) {
        struct timespec ts = {(time_t)(wait / 1000), (long)((long long)wait % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        double t0 = mono_ms();
        struct verify_report rep;
        if (verify_doc(doc, o, &rep, err, sizeof(err)) < 0) {
            if (strcmp(err, last)) fprintf(stderr, "faultline run: halt_if check(...): %s\n", err);
            snprintf(last, sizeof(last), "%s", err);
        } else {
            for (int i = 0; i < rep.n; i++) {
                if (rep.r[i].v != V_FAIL) continue;
                char line[640];
                int n = snprintf(line, sizeof(line), "%.128s\t%.200s\t%.290s\n", rep.r[i].name, rep.r[i].measured,
                                 rep.r[i].why);
                for (int k = 0; k < n - 1; k++) if (line[k] == '\n') line[k] = ' ';
                if (write(fd, line, (size_t)n) < 0) _exit(1);
                _exit(0);
            }
            verify_report_free(&rep);
        }
        double took = mono_ms() - t0;
        wait = took * 5 > HALT_WATCH_MS ? took * 5 : HALT_WATCH_MS;
    }
}

int run_halt_watch_start(struct run_scn *sc, struct inidoc *doc, const struct verify_opts *o, char *why, size_t wl)
{
    int n = 0;
    for (int i = 0; i < sc->nhalt; i++) n += sc->halt[i].kind == RUN_HALT_CHECK;
    if (!n || sc->watch_pid > 0) return 0;
    const char **only = fl_calloc((size_t)n + 1, sizeof(*only));
    n = 0;
    for (int i = 0; i < sc->nhalt; i++)
        if (sc->halt[i].kind == RUN_HALT_CHECK) only[n++] = sc->halt[i].target;
    int p[2];
    if (pipe(p) < 0) { snprintf(why, wl, "no check watcher (pipe: %s)", strerror(errno)); free(only); return -1; }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, wl, "no check watcher (fork: %s)", strerror(errno));
        close(p[0]);
        close(p[1]);
        free(only);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (p[1] != 3) { dup2(p[1], 3); }
        close_range(4, ~0U, 0);          /* not the proxies' sockets, not the loop's */
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGUSR1, SIG_IGN);
        struct verify_opts vo = *o;
        vo.wait_ms = 0;
        vo.live_ok = 1;
        vo.only = only;
        watch_child(doc, &vo, 3);
    }
    setpgid(pid, pid);
    free(only);
    close(p[1]);
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    sc->watch_pid = (int)pid;
    sc->watch_fd = p[0];
    sc->watch_len = 0;
    return 0;
}

void run_halt_watch_stop(struct run_scn *sc)
{
    if (sc->watch_pid <= 0) return;
    kill(sc->watch_pid, SIGTERM);
    int st;
    for (int i = 0; i < 150 && waitpid(sc->watch_pid, &st, WNOHANG) == 0; i++) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
        if (i == 100) kill(sc->watch_pid, SIGKILL);
    }
    close(sc->watch_fd);
    sc->watch_pid = 0;
    sc->watch_fd = -1;
}

/* A line from the watcher, read without waiting: 1 with why = the condition and the check's
 * measurement and reason. */
static int watch_said(struct run_scn *sc, char *why, size_t wl)
{
    if (sc->watch_pid <= 0) return 0;
    ssize_t n = read(sc->watch_fd, sc->watch_buf + sc->watch_len, sizeof(sc->watch_buf) - 1 - sc->watch_len);
    if (n <= 0) return 0;
    sc->watch_len += (size_t)n;
    sc->watch_buf[sc->watch_len] = 0;
    char *nl = strchr(sc->watch_buf, '\n');
    if (!nl && sc->watch_len + 1 < sizeof(sc->watch_buf)) return 0;
    if (nl) *nl = 0;
    char *name = sc->watch_buf, *meas = strchr(name, '\t'), *cause = meas ? strchr(meas + 1, '\t') : NULL;
    if (!cause) return 0;
    *meas++ = 0;
    *cause++ = 0;
    const char *text = name;
    for (int i = 0; i < sc->nhalt; i++)
        if (sc->halt[i].kind == RUN_HALT_CHECK && !strcmp(sc->halt[i].target, name)) text = sc->halt[i].text;
    (void)cause;   /* the check's full reason is its verdict's, at the end */
    snprintf(why, wl, "halt_if %.100s (FAIL: %.140s)", text, meas);
    return 1;
}

int run_halt_eval(struct run_scn *sc, const struct run_px_totals *t, int nt, void *rctx, const char *run, double now_ms,
                  char *why, size_t wl)
{
    if (watch_said(sc, why, wl)) return 1;
    for (int i = 0; i < sc->nhalt; i++) {
        struct run_halt *h = &sc->halt[i];
        if (h->kind == RUN_HALT_CHECK) continue;               /* the watcher's (watch_said) */
        if (h->kind == RUN_HALT_PROBE) {
            double v = probe_now(rctx, run, h->target);
            if (!isnan(v) && holds(h, v)) {
                snprintf(why, wl, "halt_if %s (probe %s = %g)", h->text, h->target, v);
                return 1;
            }
            continue;
        }
        const struct run_px_totals *x = NULL;
        for (int k = 0; k < nt; k++) if (!strcmp(t[k].proxy, h->target)) x = &t[k];
        if (!x) continue;
        /* the proxy's totals now, and the oldest kept sample still inside the window */
        h->s = fl_realloc(h->s, sizeof(*h->s) * (size_t)(h->ns + 1));
        h->s[h->ns].t = now_ms;
        h->s[h->ns].req = x->requests;
        h->s[h->ns].err = x->errors;
        h->ns++;
        double w = (double)h->over_us / 1000;
        int o = 0;
        while (o + 1 < h->ns && h->s[o + 1].t <= now_ms - w) o++;
        if (o) { memmove(h->s, h->s + o, sizeof(*h->s) * (size_t)(h->ns - o)); h->ns -= o; }
        if (now_ms - h->s[0].t < w * 0.9) continue;          /* the window is not full yet */
        double dr = (double)x->requests - (double)h->s[0].req, de = (double)x->errors - (double)h->s[0].err;
        if (dr < HALT_MIN_REQUESTS || de < 0) continue;
        double rate = de / dr;
        if (rate > 1) rate = 1;
        if (holds(h, rate)) {
            snprintf(why, wl, "halt_if %s (%.0f%% of %.0f requests failed)", h->text, rate * 100, dr);
            return 1;
        }
    }
    return 0;
}
