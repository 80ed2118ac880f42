/* run/redis.c -- the runner's side of Redis: the embedded server, R:phases, the series (the
 * export to record.json is run/export.c).
 *
 * The embedded default: without `redis` in [scenario], `faultline run` starts a private
 * redis-server bound to no TCP port, only to OUT/redis.sock, with persistence off, and stops it
 * when the run is over (after exporting the run's keys to record.json, so nothing is lost).
 *
 * Everything here uses hiredis' blocking client with a 1 s (connect 2 s) timeout. It is called
 * before the loop starts, after it ends, and twice per phase boundary (one XADD to a local
 * Redis): bounded, and rare enough not to disturb the proxies. The recorder itself never blocks.
 */
#include "run/run.h"
#include "record/read.h"
#include "common/fd.h"
#include "common/mem.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int run_redis_start(const char *dir, char *url, size_t urllen, int *pid, char *err, size_t errlen)
{
    char sock[600], logf[600];
    snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
    snprintf(logf, sizeof(logf), "%s/redis.log", dir);
    if (strlen(sock) >= 100) {
        snprintf(err, errlen, "embedded redis: socket path %s is too long for a unix socket (use a shorter --out)", sock);
        return -1;
    }
    unlink(sock);
    pid_t p = fork();
    if (p < 0) { snprintf(err, errlen, "embedded redis: fork: %s", strerror(errno)); return -1; }
    if (p == 0) {
        setpgid(0, 0);   /* Ctrl-C at the terminal is ours to handle, not redis' */
        FILE *lf = freopen(logf, "w", stdout);
        (void)lf;
        dup2(1, 2);
        fl_child_close_fds();   /* it inherits none of the runner's descriptors */
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
               "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--loglevel", "warning",
               (char *)NULL);
        fprintf(stderr, "cannot run redis-server: %s\n", strerror(errno));
        _exit(127);
    }
    *pid = (int)p;
    snprintf(url, urllen, "unix:%s", sock);
    /* wait for PING, 10 s at most */
    for (int i = 0; i < 200; i++) {
        int st;
        if (waitpid(p, &st, WNOHANG) == p) {
            *pid = 0;
            snprintf(err, errlen, "embedded redis-server exited at start (is redis-server installed? "
                     "apt-get install redis-server); see %s", logf);
            return -1;
        }
        struct timeval tv = {0, 200000};
        redisContext *c = redisConnectUnixWithTimeout(sock, tv);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r && r->type == REDIS_REPLY_STATUS;
            if (r) freeReplyObject(r);
            redisFree(c);
            if (ok) return 0;
        } else if (c) redisFree(c);
        sleep_ms(50);
    }
    run_redis_stop(*pid, dir);
    *pid = 0;
    snprintf(err, errlen, "embedded redis-server did not answer on %s within 10s", sock);
    return -1;
}

void run_redis_stop(int pid, const char *dir)
{
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    int st;
    for (int i = 0; i < 60; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid) goto gone;
        sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
gone:;
    char sock[600];
    snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
    unlink(sock);
}

/* redis://[:PASSWORD@]HOST:PORT[/DB] or unix:/path[?db=N&password=P] */
void *run_redis_connect(const char *url, char *err, size_t errlen)
{
    redisContext *c = vrec_connect(url, err, errlen);
    if (!c) return NULL;
    struct timeval rt = {1, 0};   /* the runner's writes happen between loop turns: keep them short */
    redisSetTimeout(c, rt);
    return c;
}

void run_redis_free(void *ctx)
{
    if (ctx) redisFree(ctx);
}

int run_redis_phase(void *ctx, const char *run, const char *phase, const char *event, double at_ms, char *err,
                    size_t errlen)
{
    redisContext *c = ctx;
    if (!c) { snprintf(err, errlen, "no redis connection"); return -1; }
    char key[300], at[64];
    snprintf(key, sizeof(key), "fl:run:%s:phases", run);
    snprintf(at, sizeof(at), "%.3f", at_ms);
    redisReply *r = redisCommand(c, "XADD %s * phase %s event %s at_ms %s", key, phase, event, at);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "XADD %s: %s", key, r ? r->str : c->errstr);
        if (r) freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

int run_redis_runner(void *ctx, const char *run, const char *outcome, const char *reason, double at_ms, char *err,
                     size_t errlen)
{
    redisContext *c = ctx;
    if (!c) { snprintf(err, errlen, "no redis connection"); return -1; }
    char key[300], at[64];
    snprintf(key, sizeof(key), "fl:run:%s:runner", run);
    snprintf(at, sizeof(at), "%.3f", at_ms);
    const char *field = strcmp(outcome, "running") ? "stopped_ms" : "started_ms";
    redisReply *r = redisCommand(c, "HSET %s outcome %s reason %s %s %s", key, outcome, reason ? reason : "", field, at);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "HSET %s: %s", key, r ? r->str : c->errstr);
        if (r) freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    r = redisCommand(c, "EXPIRE %s %d", key, 7 * 86400);
    if (r) freeReplyObject(r);
    return 0;
}

/* ---- series from the record ---- */

static double field_num(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, name, n) && p[n] == '=' && (p == text || p[-1] == ' ')) return atof(p + n + 1);
        p = strchr(p, ' ');
        if (p) p++;
    }
    return 0;
}

static int cmp_sample(const void *a, const void *b)
{
    double x = ((const struct run_sample *)a)->t_ms, y = ((const struct run_sample *)b)->t_ms;
    return x < y ? -1 : x > y;
}

static void series_from_ts(redisContext *c, struct run_state *st, const char *run, const char *proxy)
{
    redisReply *inst = redisCommand(c, "SMEMBERS fl:run:%s:instances", run);
    if (!inst || inst->type != REDIS_REPLY_ARRAY) { if (inst) freeReplyObject(inst); return; }
    struct run_series tmp;
    memset(&tmp, 0, sizeof(tmp));
    for (size_t i = 0; i < inst->elements; i++) {
        redisReply *h = redisCommand(c, "HGETALL fl:run:%s:ts:%s:%s", run, proxy, inst->element[i]->str);
        if (h && h->type == REDIS_REPLY_ARRAY)
            for (size_t k = 0; k + 1 < h->elements; k += 2) {
                double sec = atof(h->element[k]->str);
                const char *v = h->element[k + 1]->str;
                struct run_sample s = {sec * 1000.0, field_num(v, "cur"), field_num(v, "peak"), field_num(v, "new"),
                                       field_num(v, "req"), field_num(v, "err"), 0};
                if (field_num(v, "inflight") > 0 && s.req > 0) s.cur = field_num(v, "inflight");
                int merged = 0;
                for (int j = 0; j < tmp.n; j++)
                    if (tmp.s[j].t_ms == s.t_ms) {
                        tmp.s[j].cur += s.cur; tmp.s[j].peak += s.peak; tmp.s[j].newc += s.newc;
                        tmp.s[j].req += s.req; tmp.s[j].err += s.err;
                        merged = 1;
                    }
                if (!merged) run_series_add(&tmp, &s);
            }
        if (h) freeReplyObject(h);
    }
    freeReplyObject(inst);
    if (tmp.n) {
        qsort(tmp.s, (size_t)tmp.n, sizeof(tmp.s[0]), cmp_sample);
        int http = 0;
        for (int j = 0; j < tmp.n; j++) if (tmp.s[j].req > 0) http = 1;
        struct run_series *se = run_series_get(st, proxy, http);
        for (int j = 0; j < tmp.n; j++) run_series_add(se, &tmp.s[j]);
    }
    free(tmp.s);
}

/* One give-up per held call: on an http proxy the call has a request event (abandoned_ms) and
 * its connection's event (gave_up_ms) says the same give-up again, so a connection's is taken
 * only when no request on it was recorded abandoned. */
struct gave { unsigned long long conn, inst; double at; };   /* inst: a hash of the instance */

static int cmp_conn(const void *a, const void *b)
{
    const struct gave *x = a, *y = b;
    if (x->inst != y->inst) return x->inst < y->inst ? -1 : 1;
    return x->conn < y->conn ? -1 : x->conn > y->conn;
}

static void abandon_from_events(redisContext *c, struct run_state *st, const char *run, const char *proxy)
{
    struct run_series *se = run_series_get(st, proxy, 0);
    struct gave *cg = NULL;                  /* connections' give-ups */
    struct gave *rq = NULL;                  /* connections with an abandoned request */
    size_t ncg = 0, nrq = 0, capg = 0, capq = 0;
    char from[64] = "-";
    for (int page = 0; page < 100; page++) {
        redisReply *r = redisCommand(c, "XRANGE fl:run:%s:events:%s %s + COUNT 1000", run, proxy, from);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) { if (r) freeReplyObject(r); break; }
        for (size_t i = 0; i < r->elements; i++) {
            redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements < 2) continue;
            redisReply *f = e->element[1];
            double gave = 0, req = 0, ab = 0;
            unsigned long long id = 0, conn = 0, inst = 1469598103934665603ULL;
            for (size_t k = 0; k + 1 < f->elements; k += 2) {
                const char *key = f->element[k]->str, *val = f->element[k + 1]->str;
                if (!key || !val) continue;
                if (!strcmp(key, "gave_up_ms")) gave = atof(val);
                else if (!strcmp(key, "req_ms")) req = atof(val);
                else if (!strcmp(key, "abandoned_ms")) ab = atof(val);
                else if (!strcmp(key, "id")) id = strtoull(val, NULL, 10);
                else if (!strcmp(key, "conn")) conn = strtoull(val, NULL, 10);
                else if (!strcmp(key, "inst"))
                    for (const char *q = val; *q; q++) inst = (inst ^ (unsigned char)*q) * 1099511628211ULL;
            }
            if (gave > 0) {
                if (ncg == capg) cg = fl_realloc(cg, sizeof(*cg) * (capg = capg ? 2 * capg : 64));
                cg[ncg++] = (struct gave){id, inst, gave};
            } else if (ab > 0 && req > 0) {
                run_series_abandon(se, req + ab);
                if (nrq == capq) rq = fl_realloc(rq, sizeof(*rq) * (capq = capq ? 2 * capq : 64));
                rq[nrq++] = (struct gave){conn, inst, 0};
            }
            if (i == r->elements - 1) snprintf(from, sizeof(from), "(%s", e->element[0]->str);
        }
        size_t got = r->elements;
        freeReplyObject(r);
        if (got < 1000) break;
    }
    if (nrq) qsort(rq, nrq, sizeof(*rq), cmp_conn);
    for (size_t i = 0; i < ncg; i++)
        if (!nrq || !bsearch(&cg[i], rq, nrq, sizeof(*rq), cmp_conn)) run_series_abandon(se, cg[i].at);
    free(cg);
    free(rq);
}

int run_redis_series(void *ctx, struct run_state *st, int only_abandon, char *err, size_t errlen)
{
    redisContext *c = ctx;
    redisReply *inst = redisCommand(c, "SMEMBERS fl:run:%s:instances", st->run_id);
    if (!inst) { snprintf(err, errlen, "redis: %s", c->errstr); return -1; }
    /* proxies: from each instance's meta */
    char names[64][128];
    int nn = 0;
    if (inst->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < inst->elements; i++) {
            redisReply *m = redisCommand(c, "HGET fl:run:%s:meta:%s proxies", st->run_id, inst->element[i]->str);
            if (m && m->type == REDIS_REPLY_STRING) {
                char *copy = fl_strdup(m->str), *save = NULL;
                for (char *t = strtok_r(copy, ",", &save); t && nn < 64; t = strtok_r(NULL, ",", &save)) {
                    int dup = 0;
                    for (int k = 0; k < nn; k++) if (!strcmp(names[k], t)) dup = 1;
                    if (!dup) run_copy(names[nn++], sizeof(names[0]), t);
                }
                free(copy);
            }
            if (m) freeReplyObject(m);
        }
    freeReplyObject(inst);
    for (int i = 0; i < st->nseries && nn < 64; i++) {
        int dup = 0;
        for (int k = 0; k < nn; k++) if (!strcmp(names[k], st->series[i].proxy)) dup = 1;
        if (!dup) run_copy(names[nn++], sizeof(names[0]), st->series[i].proxy);
    }
    for (int k = 0; k < nn; k++) {
        if (!only_abandon) series_from_ts(c, st, st->run_id, names[k]);
        abandon_from_events(c, st, st->run_id, names[k]);
    }
    return 0;
}

int run_redis_windows(void *ctx, struct run_state *st, char *err, size_t errlen)
{
    redisContext *c = ctx;
    redisReply *r = redisCommand(c, "XRANGE fl:run:%s:faults - + COUNT 10000", st->run_id);
    if (!r) { snprintf(err, errlen, "redis: %s", c->errstr); return -1; }
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++) {
            redisReply *f = r->element[i]->element[1];
            const char *fault = "", *proxy = "", *type = "", *event = "";
            double at = 0;
            for (size_t k = 0; k + 1 < f->elements; k += 2) {
                const char *key = f->element[k]->str, *val = f->element[k + 1]->str;
                if (!strcmp(key, "fault")) fault = val;
                else if (!strcmp(key, "proxy")) proxy = val;
                else if (!strcmp(key, "type")) type = val;
                else if (!strcmp(key, "event")) event = val;
                else if (!strcmp(key, "at_ms")) at = atof(val);
            }
            if (!strcmp(event, "start")) {
                int known = 0;   /* the runner opened it itself (a phased fault) */
                for (int k = 0; k < st->nwin; k++)
                    if (!strcmp(st->win[k].fault, fault) && st->win[k].start_ms > at - 2000 && st->win[k].start_ms < at + 2000)
                        known = 1;
                if (!known) run_window_open(st, fault, proxy, type, at);
            }
            else if (!strcmp(event, "end")) run_window_close(st, fault, at);
        }
    freeReplyObject(r);
    return 0;
}
