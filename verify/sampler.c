/* verify/sampler.c -- the samplers behind `postgres` and `probe` expectations (verify.h).
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
#include "verify/verify.h"
#include "verify/check.h"
#include "verify/source.h"
#include "verify/goprof.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define SAMPLER_MAX_DESCRIBED 1024

struct vsamp {
    int pg;                    /* 1 postgres, 0 probe */
    char name[128];
    const char *dsn, *app, *user;
    struct vprobe_spec probe;
    double interval_ms, timeout_ms, next;
    uint64_t *described;       /* go_goroutines: stacks whose frames are in R:gostacks:<name> */
    int ndescribed;
};

struct verify_sampler {
    struct vrec rec;           /* used for its Redis connection and key */
    struct vsamp *s;
    int n;
    char dsn_default[512];
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

struct verify_sampler *verify_sampler_new(struct inidoc *doc, const struct verify_opts *o, char *err, size_t errlen)
{
    if (verify_check_doc(doc, err, errlen) < 0) return NULL;
    if (!o->run || !o->run[0]) { snprintf(err, errlen, "no run id"); return NULL; }
    struct verify_sampler *vs = calloc(1, sizeof(*vs));
    if (!vs) abort();
    if (o->pg_dsn) snprintf(vs->dsn_default, sizeof(vs->dsn_default), "%s", o->pg_dsn);
    for (int i = 0; i < doc->nsecs; i++) {
        struct inisec *sec = &doc->secs[i];
        if (strcmp(sec->type, "expect")) continue;
        int line;
        const char *ck = inisec_get(sec, "check", &line);
        if (!ck || (strcmp(ck, "postgres") && strcmp(ck, "probe"))) continue;
        struct vexp e = {doc, sec, sec->name, ck, NULL, NULL, err, errlen};
        struct vsamp s;
        memset(&s, 0, sizeof(s));
        s.pg = !strcmp(ck, "postgres");
        snprintf(s.name, sizeof(s.name), "%s", sec->name);
        if (vexp_dur(&e, "interval", 1000, &s.interval_ms) < 0 ||
            vexp_dur(&e, "timeout", s.pg ? 2000 : 1000, &s.timeout_ms) < 0) { verify_sampler_free(vs); return NULL; }
        if (s.interval_ms < 50) s.interval_ms = 50;
        if (s.pg) {
            s.dsn = vexp_str(&e, "dsn");
            if (!s.dsn) s.dsn = vs->dsn_default[0] ? vs->dsn_default : NULL;
            /* judged from the proxy's record (check_postgres.c): nothing to sample */
            const char *src = inisec_get(sec, "source", &line);
            if ((src && !strcmp(src, "record")) || (!s.dsn && inisec_get(sec, "proxy", &line))) continue;
            if (!s.dsn) {
                vexp_fail(&e, NULL, "needs 'dsn' (or --pg DSN) to be sampled");
                verify_sampler_free(vs);
                return NULL;
            }
            s.app = vexp_str(&e, "application_name");
            s.user = vexp_str(&e, "user");
        } else if (vprobe_spec_read(&e, &s.probe) < 0) {
            verify_sampler_free(vs);
            return NULL;
        }
        struct vsamp *ns = realloc(vs->s, sizeof(*ns) * (size_t)(vs->n + 1));
        if (!ns) abort();
        vs->s = ns;
        vs->s[vs->n++] = s;
    }
    /* the Redis connection (and the run's TTL) */
    if (vrec_open(&vs->rec, o->redis_url, o->run, err, errlen) < 0) {
        verify_sampler_free(vs);
        return NULL;
    }
    return vs;
}

int verify_sampler_count(const struct verify_sampler *s) { return s ? s->n : 0; }

static int cmp_count(const void *a, const void *b)
{
    const struct goprof_stack *x = a, *y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

/* One goroutine profile: the total into value, the largest stacks into *stacks (malloc'd
 * "KEY:COUNT,..."), the rest's count into other; frames of stacks not yet described go into
 * R:gostacks:<name>. 0, or -1 with err (the probe failed: an ok=0 sample, not an error). */
static int goroutines_sample(struct verify_sampler *vs, struct vsamp *s, char *value, size_t vl, char **stacks,
                             char *other, size_t ol, char *err, size_t errlen)
{
    char *body = NULL;
    if (vprobe_get(s->probe.url, (int)s->timeout_ms, &body, err, errlen) < 0) return -1;
    struct goprof p;
    int rc = goprof_parse(body, strlen(body), &p, err, errlen);
    free(body);
    if (rc < 0) return -1;
    qsort(p.s, (size_t)p.n, sizeof(*p.s), cmp_count);
    int keep = p.n < s->probe.max_stacks ? p.n : s->probe.max_stacks;
    long long rest = p.other;
    for (int i = keep; i < p.n; i++) rest += p.s[i].count;
    snprintf(value, vl, "%lld", p.total);
    snprintf(other, ol, "%lld", rest);
    size_t cap = (size_t)keep * (GOPROF_KEY_LEN + 24) + 1, len = 0;
    *stacks = malloc(cap);
    if (!*stacks) abort();
    (*stacks)[0] = 0;
    char hkey[400];
    snprintf(hkey, sizeof(hkey), "%s:gostacks:%s", vs->rec.key, s->name);
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
        if (!s->described) {
            s->described = calloc(SAMPLER_MAX_DESCRIBED, sizeof(*s->described));
            if (!s->described) abort();
        }
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

static int write_sample(struct verify_sampler *vs, struct vsamp *s, char *err, size_t errlen)
{
    char at[32], e[512] = "";
    snprintf(at, sizeof(at), "%.3f", wall_ms());
    const char *argv[20];
    char key[400], v1[32], v2[32], v3[32], *stacks = NULL;
    snprintf(key, sizeof(key), "%s:%s:%s", vs->rec.key, s->pg ? "pg" : "probe", s->name);
    int argc = 0, ok;
    argv[argc++] = "XADD";
    argv[argc++] = key;
    argv[argc++] = "*";
    argv[argc++] = "at_ms";
    argv[argc++] = at;
    if (s->pg) {
        struct vpg_now now;
        ok = vpg_query(s->dsn, s->app, s->user, (int)s->timeout_ms, &now, e, sizeof(e)) == 0;
        if (ok) {
            snprintf(v1, sizeof(v1), "%g", now.count);
            snprintf(v2, sizeof(v2), "%g", now.idle_tx);
            snprintf(v3, sizeof(v3), "%.3f", now.idle_tx > 0 ? now.idle_tx_max_ms : 0);
            argv[argc++] = "count"; argv[argc++] = v1;
            argv[argc++] = "idle_in_tx"; argv[argc++] = v2;
            argv[argc++] = "idle_in_tx_max_ms"; argv[argc++] = v3;
        }
    } else if (s->probe.format == VPF_GOROUTINES) {
        ok = goroutines_sample(vs, s, v1, sizeof(v1), &stacks, v2, sizeof(v2), e, sizeof(e)) == 0;
        if (ok) {
            argv[argc++] = "value"; argv[argc++] = v1;
            argv[argc++] = "stacks"; argv[argc++] = stacks;
            argv[argc++] = "stacks_other"; argv[argc++] = v2;
        }
    } else {
        double v;
        ok = vprobe_fetch(s->probe.url, s->probe.json_path, s->probe.metric, (int)s->timeout_ms, &v, e, sizeof(e)) == 0;
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

int verify_sampler_tick(struct verify_sampler *vs, char *err, size_t errlen)
{
    double now = mono_ms(), next = now + 1000;
    for (int i = 0; i < vs->n; i++) {
        struct vsamp *s = &vs->s[i];
        if (s->next <= now) {
            if (write_sample(vs, s, err, errlen) < 0) return -1;
            s->next = (s->next ? s->next : now) + s->interval_ms;
            if (s->next < mono_ms()) s->next = mono_ms() + s->interval_ms;
        }
        if (s->next < next) next = s->next;
    }
    double w = next - mono_ms();
    return w < 0 ? 0 : (int)w;
}

static int sample_one(struct verify_sampler *vs, const char *expect, int pg, char *err, size_t errlen)
{
    for (int i = 0; i < vs->n; i++)
        if (vs->s[i].pg == pg && !strcmp(vs->s[i].name, expect)) return write_sample(vs, &vs->s[i], err, errlen);
    snprintf(err, errlen, "no [expect %s] with check = %s", expect, pg ? "postgres" : "probe");
    return -1;
}

int verify_pg_sample(struct verify_sampler *s, const char *expect, char *err, size_t errlen)
{
    return sample_one(s, expect, 1, err, errlen);
}

int verify_probe_sample(struct verify_sampler *s, const char *expect, char *err, size_t errlen)
{
    return sample_one(s, expect, 0, err, errlen);
}

void verify_sampler_free(struct verify_sampler *vs)
{
    if (!vs) return;
    vrec_free(&vs->rec);
    for (int i = 0; i < vs->n; i++) free(vs->s[i].described);
    free(vs->s);
    free(vs);
}
