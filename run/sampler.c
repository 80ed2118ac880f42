/* run/sampler.c -- the samplers behind `postgres` and `probe` expectations (run/sampler.h).
 *
 * The record holds what the proxy saw; a connection left idle in transaction or a goroutine
 * count are only visible from Postgres or from the service itself, and only while the run
 * lasts. A sampler keeps one synchronous Redis connection and, for each such expectation, the
 * time its next sample is due; each sample is one XADD to R:pg:<name> or R:probe:<name>,
 * with the run's TTL. Samples that fail (Postgres down, probe timing out) are written with
 * ok=0 and the reason, so the verdict can say why there is no data.
 *
 * A go_goroutines probe also writes the count per goroutine stack: the sample's `stacks` field
 * holds the `max_stacks` largest as "KEY:COUNT,..." (the rest summed in `stacks_other`), and
 * each stack's frames go once into the hash R:gostacks:<name> (KEY -> "func file:line" lines),
 * for at most SAMPLER_MAX_DESCRIBED stacks per expectation: the record stays bounded however
 * long the run and however many distinct stacks the service shows (docs/metrics.md).
 */
#include "run/sampler.h"
#include "run/probe.h"
#include "verify/goprof.h"
#include "record/read.h"
#include "common/fd.h"
#include "common/mem.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SAMPLER_MAX_DESCRIBED 1024

struct vsamp {
    struct vsample_spec spec;  /* what to sample, read by the verifier */
    double next;               /* monotonic ms the next sample is due (0: now) */
    uint64_t *described;       /* go_goroutines: stacks whose frames are in R:gostacks:<name> */
    int ndescribed;
};

struct sampler {
    struct vrec rec;           /* used for its Redis connection, the run's key and TTL */
    struct vsamp *s;
    int n;
};

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec * 1e3 + (double)tv.tv_usec / 1e3;
}

struct sampler *sampler_new(struct inidoc *doc, const struct verify_opts *o, char *err, size_t errlen)
{
    struct vsample_spec *specs;
    int n;
    if (vsample_specs(doc, o->pg_dsn, &specs, &n, err, errlen) < 0) return NULL;
    if (!o->run || !o->run[0]) { free(specs); snprintf(err, errlen, "no run id"); return NULL; }
    struct sampler *sp = fl_calloc(1, sizeof(*sp));
    sp->s = fl_calloc((size_t)n + 1, sizeof(*sp->s));
    for (int i = 0; i < n; i++) sp->s[i].spec = specs[i];
    sp->n = n;
    free(specs);
    /* the Redis connection (and the run's TTL) */
    if (vrec_open(&sp->rec, o->redis_url, o->run, err, errlen) < 0) {
        sampler_free(sp);
        return NULL;
    }
    return sp;
}

int sampler_count(const struct sampler *s) { return s ? s->n : 0; }

static int cmp_count(const void *a, const void *b)
{
    const struct goprof_stack *x = a, *y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

/* One goroutine profile: the total into value, the largest stacks into *stacks (malloc'd
 * "KEY:COUNT,..."), the rest's count into other; frames of stacks not yet described go into
 * R:gostacks:<name>. 0, or -1 with err (the probe failed: an ok=0 sample, not an error). */
static int goroutines_sample(struct sampler *vs, struct vsamp *s, char *value, size_t vl, char **stacks,
                             char *other, size_t ol, char *err, size_t errlen)
{
    char *body = NULL;
    if (probe_get(s->spec.probe.url, (int)s->spec.timeout_ms, &body, err, errlen) < 0) return -1;
    struct goprof p;
    int rc = goprof_parse(body, strlen(body), &p, err, errlen);
    free(body);
    if (rc < 0) return -1;
    qsort(p.s, (size_t)p.n, sizeof(*p.s), cmp_count);
    int keep = p.n < s->spec.probe.max_stacks ? p.n : s->spec.probe.max_stacks;
    long long rest = p.other;
    for (int i = keep; i < p.n; i++) rest += p.s[i].count;
    snprintf(value, vl, "%lld", p.total);
    snprintf(other, ol, "%lld", rest);
    size_t cap = (size_t)keep * (GOPROF_KEY_LEN + 24) + 1, len = 0;
    *stacks = fl_malloc(cap);
    (*stacks)[0] = 0;
    char hkey[400];
    snprintf(hkey, sizeof(hkey), "%s:gostacks:%s", vs->rec.key, s->spec.name);
    redisContext *c = vs->rec.rc;
    int wrote = 0;
    for (int i = 0; i < keep; i++) {
        char ks[GOPROF_KEY_LEN + 1];
        goprof_key_str(p.s[i].key, ks);
        len += (size_t)snprintf(*stacks + len, cap - len, "%s%s:%lld", i ? "," : "", ks, p.s[i].count);
        int known = 0;
        for (int k = 0; k < s->ndescribed && !known; k++) known = s->described[k] == p.s[i].key;
        if (known || s->ndescribed >= SAMPLER_MAX_DESCRIBED) continue;
        char frames[GOPROF_MAX_FRAMES * (GOPROF_FUNC_MAX + GOPROF_FILE_MAX + 2) + 1];
        goprof_frames_text(&p.s[i], frames, sizeof(frames));
        redisReply *r = redisCommand(c, "HSETNX %s %s %s", hkey, ks, frames);
        if (!r || r->type == REDIS_REPLY_ERROR) {   /* Redis trouble shows at the XADD that follows */
            if (r) freeReplyObject(r);
            continue;
        }
        freeReplyObject(r);
        if (!s->described) s->described = fl_calloc(SAMPLER_MAX_DESCRIBED, sizeof(*s->described));
        s->described[s->ndescribed++] = p.s[i].key;
        wrote = 1;
    }
    if (wrote) {
        redisReply *r = redisCommand(c, "EXPIRE %s %lld", hkey, vs->rec.ttl_s);
        if (r) freeReplyObject(r);
    }
    goprof_free(&p);
    return 0;
}

static int write_sample(struct sampler *vs, struct vsamp *s, char *err, size_t errlen)
{
    char at[32], e[512] = "";
    snprintf(at, sizeof(at), "%.3f", wall_ms());
    const char *argv[20];
    char key[400], v1[32], v2[32], v3[32], *stacks = NULL;
    snprintf(key, sizeof(key), "%s:%s:%s", vs->rec.key, s->spec.pg ? "pg" : "probe", s->spec.name);
    int argc = 0, ok;
    argv[argc++] = "XADD";
    argv[argc++] = key;
    argv[argc++] = "*";
    argv[argc++] = "at_ms";
    argv[argc++] = at;
    if (s->spec.pg) {
        struct vpg_now now;
        ok = vpg_query(s->spec.dsn, s->spec.app, s->spec.user, (int)s->spec.timeout_ms, &now, e, sizeof(e)) == 0;
        if (ok) {
            snprintf(v1, sizeof(v1), "%g", now.count);
            snprintf(v2, sizeof(v2), "%g", now.idle_tx);
            snprintf(v3, sizeof(v3), "%.3f", now.idle_tx > 0 ? now.idle_tx_max_ms : 0);
            argv[argc++] = "count"; argv[argc++] = v1;
            argv[argc++] = "idle_in_tx"; argv[argc++] = v2;
            argv[argc++] = "idle_in_tx_max_ms"; argv[argc++] = v3;
        }
    } else if (s->spec.probe.format == VPF_GOROUTINES) {
        ok = goroutines_sample(vs, s, v1, sizeof(v1), &stacks, v2, sizeof(v2), e, sizeof(e)) == 0;
        if (ok) {
            argv[argc++] = "value"; argv[argc++] = v1;
            argv[argc++] = "stacks"; argv[argc++] = stacks;
            argv[argc++] = "stacks_other"; argv[argc++] = v2;
        }
    } else {
        double v;
        ok = probe_fetch(s->spec.probe.url, s->spec.probe.json_path, s->spec.probe.metric, (int)s->spec.timeout_ms, &v, e, sizeof(e)) == 0;
        if (ok) {
            snprintf(v1, sizeof(v1), "%.17g", v);
            argv[argc++] = "value"; argv[argc++] = v1;
        }
    }
    argv[argc++] = "ok";
    argv[argc++] = ok ? "1" : "0";
    if (!ok) { argv[argc++] = "error"; argv[argc++] = e; }
    redisContext *c = vs->rec.rc;
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    free(stacks);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis: XADD %s: %s", key, r ? r->str : c->errstr);
        if (r) freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    r = redisCommand(c, "EXPIRE %s %lld", key, vs->rec.ttl_s);
    if (r) freeReplyObject(r);
    return 0;
}

int sampler_tick(struct sampler *vs, char *err, size_t errlen)
{
    double now = mono_ms(), next = now + 1000;
    for (int i = 0; i < vs->n; i++) {
        struct vsamp *s = &vs->s[i];
        if (s->next <= now) {
            if (write_sample(vs, s, err, errlen) < 0) return -1;
            s->next = (s->next ? s->next : now) + s->spec.interval_ms;
            if (s->next < mono_ms()) s->next = mono_ms() + s->spec.interval_ms;
        }
        if (s->next < next) next = s->next;
    }
    double w = next - mono_ms();
    return w < 0 ? 0 : (int)w;
}

int sampler_take(struct sampler *vs, const char *expect, char *err, size_t errlen)
{
    for (int i = 0; i < vs->n; i++)
        if (!strcmp(vs->s[i].spec.name, expect)) return write_sample(vs, &vs->s[i], err, errlen);
    snprintf(err, errlen, "no [expect %s] with check = postgres or probe to sample", expect);
    return -1;
}

void sampler_free(struct sampler *vs)
{
    if (!vs) return;
    vrec_free(&vs->rec);
    for (int i = 0; i < vs->n; i++) free(vs->s[i].described);
    free(vs->s);
    free(vs);
}

/* ---- in a child process ---- */

static int doc_samples(struct inidoc *doc)
{
    for (int i = 0; i < doc->nsecs; i++) {
        struct inisec *s = &doc->secs[i];
        if (strcmp(s->type, "expect")) continue;
        for (int k = 0; k < s->nkeys; k++)
            if (!strcmp(s->keys[k].key, "check") && (!strcmp(s->keys[k].value, "postgres") || !strcmp(s->keys[k].value, "probe")))
                return 1;
    }
    return 0;
}

int sampler_child_start(struct inidoc *doc, const struct verify_opts *o, const char *who, char *err, size_t errlen)
{
    if (!doc_samples(doc)) return 0;
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) { snprintf(err, errlen, "no sampler (fork: %s)", strerror(errno)); return -1; }
    if (p == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        fl_child_close_fds();            /* not the proxies' sockets, not the loop's (common/fd.h) */
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGUSR1, SIG_IGN);
        char e[FL_ERRLEN];
        struct sampler *vs = sampler_new(doc, o, e, sizeof(e));
        if (!vs) {
            fprintf(stderr, "%s: sampler: %s\n", who, e);
            _exit(1);
        }
        if (sampler_count(vs) == 0) _exit(0);
        for (;;) {   /* until the parent stops us (SIGTERM) or dies (PDEATHSIG) */
            int ms = sampler_tick(vs, e, sizeof(e));
            if (ms < 0) {
                fprintf(stderr, "%s: sampler: %s\n", who, e);
                ms = 1000;
            }
            if (ms < 20) ms = 20;
            if (ms > 1000) ms = 1000;
            struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    setpgid(p, p);
    return (int)p;
}

void sampler_child_stop(int pid)
{
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    int st;
    for (int i = 0; i < 150; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid) return;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
}
