/* sample.c -- the samplers behind `postgres` and `probe` expectations (verify.h).
 *
 * The record holds what the proxy saw; a connection left idle in transaction or a goroutine
 * count are only visible from Postgres or from the service itself, and only while the run
 * lasts. A sampler keeps one synchronous Redis connection and, for each such expectation, the
 * time its next sample is due; each sample is one XADD to R:pg:<name> or R:probe:<name>,
 * with the run's TTL. Samples that fail (Postgres down, probe timing out) are written with
 * ok=0 and the reason, so the verdict can say why there is no data.
 */
#include "verify.h"
#include "vcheck.h"
#include "vsample.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

struct vsamp {
    int pg;                    /* 1 postgres, 0 probe */
    char name[128];
    const char *dsn, *app, *user, *url, *json_path, *metric;
    double interval_ms, timeout_ms, next;
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
        } else {
            s.url = vexp_str(&e, "url");
            s.json_path = vexp_str(&e, "json_path");
            s.metric = vexp_str(&e, "metric");
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

static int write_sample(struct verify_sampler *vs, struct vsamp *s, char *err, size_t errlen)
{
    char at[32], e[512] = "";
    snprintf(at, sizeof(at), "%.3f", wall_ms());
    const char *argv[20];
    char key[400], v1[32], v2[32], v3[32];
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
    } else {
        double v;
        ok = vprobe_fetch(s->url, s->json_path, s->metric, (int)s->timeout_ms, &v, e, sizeof(e)) == 0;
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
    free(vs->s);
    free(vs);
}
