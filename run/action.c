/* run/action.c -- [action NAME] in scenarios: a command run at a moment of the run.
 *
 *   [action restart-service]
 *   at = inject+5s          ; PHASE, PHASE+DURATION or PHASE-DURATION (from the phase's start)
 *   run = kill -TERM "$(cat /run/svc.pid)" && systemctl start svc   ; /bin/sh -c
 *   timeout = 30s           ; killed (its whole process group) after this long
 *
 * An action is what an operator does during a game day: restart the service, roll a deploy,
 * fail over a database. Its moment is planned from the run's start like the phases (no drift).
 * It runs without blocking the runner's event loop: fork + exec of /bin/sh in its own process
 * group, stdout and stderr into a pipe read by libevent (the first 64 KiB kept, the rest
 * counted), its exit seen through SIGCHLD (waitpid of its own pid only: the load and the
 * samplers are reaped elsewhere). When the shell exits the action is over, even if something
 * it started in the background still holds the pipe (a restarted service): that keeps running.
 * A timeout kills the action's process group (TERM, then KILL after 1 s); so do Ctrl-C and the
 * run's end for an action still running, and an action not yet started is cancelled. Children
 * get PR_SET_PDEATHSIG in case the runner itself dies.
 *
 * Each start and end goes to the record stream R:actions (`action`, `event` = start|end,
 * `at_ms`, and on end `result` = exit N | signal N | timeout | stopped), which check = graceful
 * reads; output, status and times go to journal.json, the moment to report.html.
 *
 * Ownership: the actions belong to struct run_scn (run_actions_free); one run per process, so
 * the loop context is kept here.
 */
#include "run/run.h"
#include "common/parse.h"
#include "common/fd.h"
#include "common/mem.h"
#include "common/text.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SERR(line, ...) inidoc_err(p->doc, line, err, errlen, __VA_ARGS__)

static struct {
    struct run_scn *sc;
    struct event_base *base;
    struct event *sigchld;
    void *rctx;
    char run_id[128];
    void (*say)(void *, const char *);
    void *ud;
} A;

static double wall_ms(void) { return (double)fl_wall_us() / 1000.0; }

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char m[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    if (A.say) A.say(A.ud, m);
}

/* ---- parsing ---- */

int run_action_parse(struct profile *p, struct inisec *s, const struct run_scn *sc, struct run_action *a,
                     char *err, size_t errlen)
{
    char e[300];
    int line;
    const char *v;
    memset(a, 0, sizeof(*a));
    a->line = s->line;
    a->pid = 0;
    a->fd = -1;
    a->status = -1;
    a->timeout_us = 30000000;
    if (!s->name[0]) return SERR(s->line, "[action] needs a name: [action NAME]");
    if (strlen(s->name) >= sizeof(a->name)) return SERR(s->line, "action name too long");
    run_copy(a->name, sizeof(a->name), s->name);
    if (!(v = inisec_get(s, "run", &line))) return SERR(s->line, "[action %s] is missing 'run' (a shell command)", s->name);
    if (!*v) return SERR(line, "run: empty command");
    if (strlen(v) >= sizeof(a->cmd)) return SERR(line, "run: command too long");
    run_copy(a->cmd, sizeof(a->cmd), v);
    if ((v = inisec_get(s, "timeout", &line))) {
        if (parse_duration(v, &a->timeout_us, e, sizeof(e)) < 0) return SERR(line, "timeout: %s", e);
        if (a->timeout_us <= 0) return SERR(line, "timeout: must be more than 0");
    }
    inisec_get(s, "description", &line);
    if (!(v = inisec_get(s, "at", &line)))
        return SERR(s->line, "[action %s] is missing 'at' (PHASE, PHASE+5s or PHASE-500ms)", s->name);
    if (strlen(v) >= sizeof(a->at)) return SERR(line, "at: too long");
    run_copy(a->at, sizeof(a->at), v);
    /* PHASE[(+|-)DURATION]: the phase name is everything before the last + or - that is followed
     * by a valid duration (phase names may hold dashes) */
    char name[200];
    run_copy(name, sizeof(name), v);
    int64_t off = 0;
    for (char *q = name + strlen(name); q > name; q--) {
        if (*(q - 1) != '+' && *(q - 1) != '-') continue;
        int64_t d;
        char *sign = q - 1;
        if (sign == name) break;
        if (parse_duration(q, &d, e, sizeof(e)) == 0) {
            off = *sign == '-' ? -d : d;
            *sign = 0;
            break;
        }
        if (*sign == '+') return SERR(line, "at: '%s' is not a duration (%s)", q, e);
    }
    a->phase = -1;
    for (int i = 0; i < sc->nph; i++)
        if (!strcmp(sc->ph[i].name, name)) a->phase = i;
    if (a->phase < 0) return SERR(line, "at: no [phase %s] in this scenario (write PHASE, PHASE+5s or PHASE-500ms)", name);
    a->off_us = off;
    int64_t start = 0, total = 0;
    for (int i = 0; i < sc->nph; i++) {
        if (i == a->phase) start = total;
        total += sc->ph[i].dur_us;
    }
    a->due_us = start + off;
    if (a->due_us < 0) return SERR(line, "at: %s falls before the run starts", a->at);
    if (a->due_us >= total) return SERR(line, "at: %s falls after the last phase ends (the run lasts %.1fs)", a->at,
                                       (double)total / 1e6);
    return inisec_check_unused(p->doc, s, err, errlen);
}

/* ---- running ---- */

static void record(struct run_action *a, const char *event, double at, const char *result)
{
    redisContext *c = A.rctx;
    if (!c) return;
    char key[300], t[64];
    snprintf(key, sizeof(key), "fl:run:%s:actions", A.run_id);
    snprintf(t, sizeof(t), "%.3f", at);
    redisReply *r = result ? redisCommand(c, "XADD %s * action %s event %s at_ms %s result %s", key, a->name, event, t, result)
                           : redisCommand(c, "XADD %s * action %s event %s at_ms %s", key, a->name, event, t);
    if (!r || r->type == REDIS_REPLY_ERROR) say("warning: R:actions not written: %s", r ? r->str : c->errstr);
    if (r) freeReplyObject(r);
}

static void result_text(const struct run_action *a, char *b, size_t n)
{
    if (a->stopped[0]) snprintf(b, n, "stopped");
    else if (a->timed_out) snprintf(b, n, "timeout");
    else if (a->status != -1 && WIFEXITED(a->status)) snprintf(b, n, "exit %d", WEXITSTATUS(a->status));
    else if (a->status != -1 && WIFSIGNALED(a->status)) snprintf(b, n, "signal %d", WTERMSIG(a->status));
    else snprintf(b, n, "unknown");
}

static void drain(struct run_action *a)
{
    char buf[8192];
    for (int i = 0; i < 64 && a->fd >= 0; i++) {
        ssize_t k = read(a->fd, buf, sizeof(buf));
        if (k <= 0) {
            if (k < 0 && (errno == EINTR)) continue;
            if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
            /* EOF (or an error): nothing more to read */
            if (a->ev_read) { event_free(a->ev_read); a->ev_read = NULL; }
            close(a->fd);
            a->fd = -1;
            return;
        }
        a->out_total += (size_t)k;
        size_t room = RUN_ACTION_OUT_MAX - a->outlen;
        size_t take = (size_t)k < room ? (size_t)k : room;
        if (take) {
            memcpy(a->out + a->outlen, buf, take);
            a->outlen += take;
        }
    }
}

static void read_cb(evutil_socket_t fd, short what, void *arg) { drain(arg); }

/* The shell exited (status set): the action is over. */
static void ended(struct run_action *a)
{
    if (a->timed_out) kill(-a->pid, SIGKILL);   /* what is left of a group that timed out */
    a->end_ms = wall_ms();
    a->pid = 0;
    drain(a);                      /* what is already in the pipe */
    if (a->ev_read) { event_free(a->ev_read); a->ev_read = NULL; }
    if (a->fd >= 0) { close(a->fd); a->fd = -1; }   /* background children keep running */
    if (a->ev_timeout) { event_free(a->ev_timeout); a->ev_timeout = NULL; }
    char res[64];
    result_text(a, res, sizeof(res));
    record(a, "end", a->end_ms, res);
    say("action %s ended after %.1fs: %s", a->name, (a->end_ms - a->start_ms) / 1000.0, res);
}

static void reap(void)
{
    if (!A.sc) return;
    for (int i = 0; i < A.sc->nact; i++) {
        struct run_action *a = &A.sc->act[i];
        if (a->pid <= 0) continue;
        int st;
        pid_t w = waitpid(a->pid, &st, WNOHANG);
        if (w == a->pid) {
            a->status = st;
            ended(a);
        }
    }
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg) { reap(); }

/* Kills the action's process group: TERM, then KILL after up to 1 s; reaps (bounded). */
static void kill_group(struct run_action *a)
{
    if (a->pid <= 0) return;
    kill(-a->pid, SIGTERM);
    int st;
    for (int i = 0; i < 150; i++) {
        pid_t w = waitpid(a->pid, &st, WNOHANG);
        if (w == a->pid) { a->status = st; break; }
        if (i == 50) kill(-a->pid, SIGKILL);
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    kill(-a->pid, SIGKILL);    /* stragglers of the group, even when the shell is gone */
    if (a->status == -1 && waitpid(a->pid, &st, 0) == a->pid) a->status = st;
    ended(a);
}

/* After `timeout`: TERM to the group now, KILL a second later if the shell is still there; its
 * exit is seen by SIGCHLD as usual, so the loop never waits here. */
static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct run_action *a = arg;
    if (a->pid <= 0) return;
    if (!a->timed_out) {
        a->timed_out = 1;
        say("action %s timed out after %.1fs: killing it", a->name, (double)a->timeout_us / 1e6);
        kill(-a->pid, SIGTERM);
        struct timeval tv = {1, 0};
        evtimer_add(a->ev_timeout, &tv);
    } else {
        kill(-a->pid, SIGKILL);
    }
}

static void start_cb(evutil_socket_t fd, short what, void *arg)
{
    struct run_action *a = arg;
    if (a->stopped[0]) return;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        say("error: action %s not started: pipe: %s", a->name, strerror(errno));
        return;
    }
    fflush(NULL);
    a->start_ms = wall_ms();
    pid_t p = fork();
    if (p < 0) {
        say("error: action %s not started: fork: %s", a->name, strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        a->start_ms = 0;
        return;
    }
    if (p == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) { dup2(nul, 0); close(nul); }
        fl_child_close_fds();              /* not the proxies' sockets, not the loop's */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        execl("/bin/sh", "sh", "-c", a->cmd, (char *)NULL);
        _exit(127);
    }
    setpgid(p, p);
    close(pfd[1]);
    a->pid = (int)p;
    a->fd = pfd[0];
    fcntl(a->fd, F_SETFL, fcntl(a->fd, F_GETFL) | O_NONBLOCK);
    if (!a->out) a->out = fl_malloc(RUN_ACTION_OUT_MAX);
    a->ev_read = event_new(A.base, a->fd, EV_READ | EV_PERSIST, read_cb, a);
    event_add(a->ev_read, NULL);
    a->ev_timeout = evtimer_new(A.base, timeout_cb, a);
    struct timeval tv = {(time_t)(a->timeout_us / 1000000), (suseconds_t)(a->timeout_us % 1000000)};
    evtimer_add(a->ev_timeout, &tv);
    record(a, "start", a->start_ms, NULL);
    char shown[128];
    fl_redact_cmd(a->cmd, shown, sizeof(shown));   /* never its arguments: they may hold secrets */
    say("action %s started (pid %d): %s", a->name, (int)p, shown);
    reap();                        /* a command that was over before we watched it */
}

void run_actions_start(struct run_scn *sc, struct event_base *base, int64_t t0_us, void *rctx, const char *run_id,
                       const char *out_dir, void (*sayf)(void *ud, const char *msg), void *ud)
{
    (void)out_dir;
    if (!sc->nact) return;
    A.sc = sc;
    A.base = base;
    A.rctx = rctx;
    run_copy(A.run_id, sizeof(A.run_id), run_id);
    A.say = sayf;
    A.ud = ud;
    A.sigchld = evsignal_new(base, SIGCHLD, sigchld_cb, NULL);
    event_add(A.sigchld, NULL);
    for (int i = 0; i < sc->nact; i++) {
        struct run_action *a = &sc->act[i];
        a->ev_start = evtimer_new(base, start_cb, a);
        int64_t d = t0_us + a->due_us - fl_now_us();
        if (d < 0) d = 0;
        struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
        evtimer_add(a->ev_start, &tv);
    }
}

void run_actions_stop(struct run_scn *sc, const char *why)
{
    for (int i = 0; i < sc->nact; i++) {
        struct run_action *a = &sc->act[i];
        if (a->ev_start) { event_free(a->ev_start); a->ev_start = NULL; }
        if (a->pid > 0) {
            reap();
            if (a->pid > 0) {
                run_copy(a->stopped, sizeof(a->stopped), why);
                say("action %s still running: killing it (%s)", a->name, why);
                kill_group(a);
            }
        } else if (a->start_ms == 0 && !a->stopped[0]) {
            run_copy(a->stopped, sizeof(a->stopped), why);   /* never started */
        }
    }
    if (A.sigchld) { event_free(A.sigchld); A.sigchld = NULL; }
}

void run_actions_free(struct run_scn *sc)
{
    for (int i = 0; i < sc->nact; i++) {
        struct run_action *a = &sc->act[i];
        if (a->ev_start) event_free(a->ev_start);
        if (a->ev_read) event_free(a->ev_read);
        if (a->ev_timeout) event_free(a->ev_timeout);
        if (a->fd >= 0) close(a->fd);
        free(a->out);
    }
    free(sc->act);
    sc->act = NULL;
    sc->nact = 0;
    if (A.sc == sc) A.sc = NULL;
}
