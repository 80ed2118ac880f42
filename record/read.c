/* record/read.c -- reading a run's record back (see record/read.h and docs/metrics.md), from Redis
 * or from the record.json that `faultline run` exports.
 *
 * Redis: synchronous hiredis with a 2 s connect timeout and a 10 s command timeout: the verifier
 * is a command-line tool, and a Redis that stops answering must end it with exit 2, not hang it.
 * Streams are read in pages (XRANGE with exclusive starts), bounded to 200k entries, the
 * recorder's own cap being ~100k per stream.
 *
 * record.json holds the same keys (run/redis.c, run_redis_export; docs/metrics.md "record.json"):
 * every read below goes through four verbs -- a hash, a set, a stream, one hash field -- that
 * answer from either store, so the merging and pairing code never knows which it reads.
 */
#include "record/read.h"
#include "common/inidoc.h"
#include "common/mem.h"
#include "common/fd.h"
#include "common/text.h"
#include "record/record.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#define VREC_PAGE 2000
#define VREC_MAX_ENTRIES 200000

static double wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec * 1e3 + (double)tv.tv_usec / 1e3;
}

/* ---- connecting ---- */

/* url: as rec_url_parse reads it (record/record_url.c, the recorder's own form: a user and
 * %-encoded passwords too). Errors quote it with its password masked (common/text.h). */
void *vrec_connect(const char *url, char *err, size_t errlen)
{
    struct rec_url u;
    char e[700], shown[600];
    fl_redact_url(url, shown, sizeof(shown));
    if (rec_url_parse(url, &u, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "bad %s", e);
        return NULL;
    }
    struct timeval tv = {2, 0};
    redisContext *c = u.is_unix ? redisConnectUnixWithTimeout(u.path, tv) : redisConnectWithTimeout(u.host, u.port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "redis %s unreachable: %s", shown, c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    fl_cloexec(c->fd);
    struct timeval ct = {10, 0};
    redisSetTimeout(c, ct);
    redisReply *r;
    if (u.pass[0]) {
        r = u.user[0] ? redisCommand(c, "AUTH %s %s", u.user, u.pass) : redisCommand(c, "AUTH %s", u.pass);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "redis %s: AUTH failed: %s", shown, r ? r->str : c->errstr);
            if (r) freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    r = redisCommand(c, u.db ? "SELECT %d" : "PING", u.db);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis %s unreachable: %s", shown, r ? r->str : c->errstr);
        if (r) freeReplyObject(r);
        redisFree(c);
        return NULL;
    }
    freeReplyObject(r);
    return c;
}

void vrec_disconnect(void *rc) { if (rc) redisFree(rc); }

/* Every reply read.c looks into is flat: an array of strings (SMEMBERS, HGETALL), or, for
 * XRANGE, an array of [id, [field, value, ...]] entries. A reply of another shape -- a nil or
 * a number where a string belongs, an array where none is -- is refused as an error: whoever
 * can write to a shared Redis must not be able to crash the verifier (tests/fuzz/fuzz_vrec.c). */
static int reply_shape_ok(const redisReply *r, int stream)
{
    if (r->type != REDIS_REPLY_ARRAY) return 1;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (!stream) {
            if (!e || !e->str) return 0;
            continue;
        }
        if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !e->element[0]->str ||
            e->element[1]->type != REDIS_REPLY_ARRAY)
            return 0;
        for (size_t k = 0; k < e->element[1]->elements; k++)
            if (!e->element[1]->element[k]->str) return 0;
    }
    return 1;
}

/* Runs a command and returns the redisReply* (caller frees with freeReplyObject), or NULL with
 * err on I/O error or an error reply. */
static void *vrec_cmd(struct vrec *v, char *err, size_t errlen, const char *fmt, ...)
{
    redisContext *c = v->rc;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r) {
        snprintf(err, errlen, "redis: %s", c->errstr[0] ? c->errstr : "no answer");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis: %s", r->str);
        freeReplyObject(r);
        return NULL;
    }
    if (!reply_shape_ok(r, !strncmp(fmt, "XRANGE", 6))) {
        snprintf(err, errlen, "redis: a reply of unexpected shape to %.*s: not a faultline record", (int)strcspn(fmt, " "), fmt);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* ---- the store: four verbs, answered by Redis or by record.json ---- */

/* record.json: the value of key when its type is `type`, else NULL */
static json_t *jkey(struct vrec *v, const char *key, const char *type)
{
    json_t *k = json_object_get(v->json, key);
    const char *t = json_string_value(json_object_get(k, "type"));
    return t && !strcmp(t, type) ? json_object_get(k, "value") : NULL;
}

typedef void (*pair_fn)(void *ud, const char *f, const char *val);

/* Every field of the hash key (fn per field). 0, or -1 with err. */
static int st_hash(struct vrec *v, const char *key, pair_fn fn, void *ud, char *err, size_t errlen)
{
    if (v->json) {
        const char *k;
        json_t *x;
        json_object_foreach(jkey(v, key, "hash"), k, x)
            if (json_is_string(x)) fn(ud, k, json_string_value(x));
        return 0;
    }
    redisReply *r = vrec_cmd(v, err, errlen, "HGETALL %s", key);
    if (!r) return -1;
    for (size_t k = 0; k + 1 < r->elements; k += 2) fn(ud, r->element[k]->str, r->element[k + 1]->str);
    freeReplyObject(r);
    return 0;
}

/* Every member of the set key (fn with val NULL). */
static int st_set(struct vrec *v, const char *key, pair_fn fn, void *ud, char *err, size_t errlen)
{
    if (v->json) {
        size_t i;
        json_t *x;
        json_array_foreach(jkey(v, key, "set"), i, x)
            if (json_is_string(x)) fn(ud, json_string_value(x), NULL);
        return 0;
    }
    redisReply *r = vrec_cmd(v, err, errlen, "SMEMBERS %s", key);
    if (!r) return -1;
    for (size_t i = 0; i < r->elements; i++) fn(ud, r->element[i]->str, NULL);
    freeReplyObject(r);
    return 0;
}

/* One field of the hash key: a new string, NULL when absent (err untouched) or on error (err). */
static char *st_hget(struct vrec *v, const char *key, const char *field, char *err, size_t errlen)
{
    if (v->json) {
        const char *s = json_string_value(json_object_get(jkey(v, key, "hash"), field));
        return s ? fl_strdup(s) : NULL;
    }
    redisReply *r = vrec_cmd(v, err, errlen, "HGET %s %s", key, field);
    if (!r) return NULL;
    char *val = r->type == REDIS_REPLY_STRING ? fl_strndup(r->str, r->len) : NULL;
    freeReplyObject(r);
    return val;
}

char *vrec_hget(struct vrec *v, const char *suffix, const char *field, char *err, size_t errlen)
{
    char key[512];
    snprintf(key, sizeof(key), "%s:%s", v->key, suffix);
    return st_hget(v, key, field, err, errlen);
}

/* ---- parsing helpers ---- */

static double num(const char *s) { return s && *s ? strtod(s, NULL) : NAN; }

void vrec_parse_ts(const char *s, struct vts *t)
{
    static const char *names[] = {"new", "peak", "cur", "req", "err", "inflight", "faults", "up", "down"};
    double *dst[] = {&t->nnew, &t->peak, &t->cur, &t->req, &t->err, &t->inflight, &t->faults, &t->up, &t->down};
    while (s && *s) {
        while (*s == ' ') s++;
        const char *eq = strchr(s, '='), *sp = strchr(s, ' ');
        if (!eq || (sp && sp < eq)) break;
        for (int i = 0; i < 9; i++)
            if ((size_t)(eq - s) == strlen(names[i]) && !strncmp(s, names[i], (size_t)(eq - s)))
                *dst[i] = strtod(eq + 1, NULL);
        s = sp ? sp + 1 : eq + strlen(eq);
    }
}

int vrec_stream(struct vrec *v, const char *suffix,
                void (*fn)(void *ud, const char **f, const char **val, int n), void *ud, char *err, size_t errlen)
{
    char key[512], start[64] = "-";
    snprintf(key, sizeof(key), "%s:%s", v->key, suffix);
    if (v->json) {     /* an array of entries, each an object of fields (and its "_id") */
        size_t i;
        json_t *e;
        json_array_foreach(jkey(v, key, "stream"), i, e) {
            if (i >= VREC_MAX_ENTRIES) break;
            const char *f[64], *val[64], *k;
            int n = 0;
            json_t *x;
            json_object_foreach(e, k, x)
                if (n < 64 && strcmp(k, "_id") && json_is_string(x)) { f[n] = k; val[n++] = json_string_value(x); }
            fn(ud, f, val, n);
        }
        return 0;
    }
    int total = 0;
    for (;;) {
        redisReply *r = vrec_cmd(v, err, errlen, "XRANGE %s %s + COUNT %d", key, start, VREC_PAGE);
        if (!r) return -1;
        if (r->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            snprintf(err, errlen, "redis: %s is not a stream", key);
            return -1;
        }
        for (size_t i = 0; i < r->elements; i++) {
            redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements < 2) continue;
            snprintf(start, sizeof(start), "(%s", e->element[0]->str);
            redisReply *kv = e->element[1];
            const char *f[64], *val[64];
            int n = 0;
            for (size_t k = 0; k + 1 < kv->elements && n < 64; k += 2) {
                f[n] = kv->element[k]->str;
                val[n] = kv->element[k + 1]->str;
                n++;
            }
            fn(ud, f, val, n);
        }
        size_t got = r->elements;
        freeReplyObject(r);
        total += (int)got;
        if (got < VREC_PAGE || total >= VREC_MAX_ENTRIES) break;
    }
    return 0;
}

static const char *field(const char **f, const char **val, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(f[i], name)) return val[i];
    return NULL;
}

/* ---- fault windows ---- */

struct rawwin { char fault[128], inst[96], proxy[128], type[64]; double start, end; int cut; };
struct winacc { struct rawwin *w; int n; struct vrec *v; };

static void win_entry(void *ud, const char **f, const char **val, int n)
{
    struct winacc *a = ud;
    const char *fault = field(f, val, n, "fault"), *inst = field(f, val, n, "inst"), *ev = field(f, val, n, "event");
    double at = num(field(f, val, n, "at_ms"));
    if (!fault || !ev || isnan(at)) return;
    if (!inst) inst = "";
    if (!strcmp(ev, "start")) {
        /* a start written twice (resent after a reconnect, with its first at_ms) opens nothing
         * new, whether or not its window has closed since */
        const char *p = field(f, val, n, "proxy"), *t = field(f, val, n, "type");
        if (!p) p = "";
        for (int i = a->n - 1; i >= 0; i--)
            if (!strcmp(a->w[i].fault, fault) && !strcmp(a->w[i].proxy, p) && !strcmp(a->w[i].inst, inst) &&
                (isinf(a->w[i].end) || fabs(a->w[i].start - at) < 1)) return;
        a->w = fl_realloc(a->w, sizeof(*a->w) * (size_t)(a->n + 1));
        struct rawwin *w = &a->w[a->n++];
        memset(w, 0, sizeof(*w));
        snprintf(w->fault, sizeof(w->fault), "%s", fault);
        snprintf(w->inst, sizeof(w->inst), "%s", inst);
        snprintf(w->proxy, sizeof(w->proxy), "%s", p);
        snprintf(w->type, sizeof(w->type), "%s", t ? t : "");
        w->start = at;
        w->end = INFINITY;
    } else if (!strcmp(ev, "end")) {
        /* closes the latest open window of this fault in this instance; `stopped`: the run
         * (the daemon) ended while the fault acted, nothing after it was observed */
        const char *why = field(f, val, n, "reason"), *p = field(f, val, n, "proxy");
        for (int i = a->n - 1; i >= 0; i--)
            if (!strcmp(a->w[i].fault, fault) && !strcmp(a->w[i].proxy, p ? p : "") && !strcmp(a->w[i].inst, inst) &&
                isinf(a->w[i].end)) {
                a->w[i].end = at;
                a->w[i].cut = why && !strcmp(why, "stopped");
                return;
            }
    }
}

static int cmp_win(const void *x, const void *y)
{
    const struct vwin *a = x, *b = y;
    return a->start < b->start ? -1 : a->start > b->start;
}

static struct vfault *fault_get(struct vrec *v, const char *proxy, const char *name)
{
    struct vfault *f = vrec_fault(v, proxy, name);
    if (f) return f;
    v->faults = fl_realloc(v->faults, sizeof(*v->faults) * (size_t)(v->nfaults + 1));
    f = &v->faults[v->nfaults++];
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    snprintf(f->proxy, sizeof(f->proxy), "%s", proxy);
    snprintf(f->on_end, sizeof(f->on_end), "keep");
    return f;
}

struct vfault *vrec_fault(struct vrec *v, const char *proxy, const char *name)
{
    for (int i = 0; i < v->nfaults; i++)
        if (!strcmp(v->faults[i].name, name) && (!proxy || !strcmp(v->faults[i].proxy, proxy))) return &v->faults[i];
    return NULL;
}

void vwin_union(struct vwin *w, int *n)
{
    if (*n < 2) return;
    qsort(w, (size_t)*n, sizeof(*w), cmp_win);
    int o = 0;
    for (int i = 1; i < *n; i++) {
        if (w[i].start <= w[o].end) {
            if (w[i].end > w[o].end) { w[o].end = w[i].end; w[o].cut = w[i].cut; }
            else if (w[i].end == w[o].end) w[o].cut |= w[i].cut;
        } else {
            w[++o] = w[i];
        }
    }
    *n = o + 1;
}

static void phase_entry(void *ud, const char **f, const char **val, int n)
{
    struct vrec *v = ud;
    const char *ph = field(f, val, n, "phase"), *ev = field(f, val, n, "event");
    double at = num(field(f, val, n, "at_ms"));
    if (!ph || !ev || isnan(at)) return;
    if (!strcmp(ev, "start")) {
        v->ph = fl_realloc(v->ph, sizeof(*v->ph) * (size_t)(v->nph + 1));
        struct vphase *p = &v->ph[v->nph++];
        snprintf(p->name, sizeof(p->name), "%s", ph);
        p->start = at;
        p->end = INFINITY;
    } else {
        for (int i = v->nph - 1; i >= 0; i--)
            if (!strcmp(v->ph[i].name, ph) && isinf(v->ph[i].end)) { v->ph[i].end = at; break; }
    }
}

/* on_end of [fault NAME] and id_header of [proxy NAME] in a recorded profile text */
static void profile_on_end(struct vrec *v, const char *text)
{
    char e[256];
    struct inidoc *d = inidoc_parse("record", text, e, sizeof(e));
    if (!d) return;
    for (int i = 0; i < d->nsecs; i++) {
        struct inisec *s = &d->secs[i];
        int line;
        if (!strcmp(s->type, "proxy") && s->name[0]) {
            int k;
            for (k = 0; k < v->npconf; k++) if (!strcmp(v->pconf[k].name, s->name)) break;
            if (k < v->npconf) continue;
            v->pconf = fl_realloc(v->pconf, sizeof(*v->pconf) * (size_t)(v->npconf + 1));
            struct vpxconf *pc = &v->pconf[v->npconf++];
            snprintf(pc->name, sizeof(pc->name), "%s", s->name);
            const char *ih = inisec_get(s, "id_header", &line);
            snprintf(pc->id_header, sizeof(pc->id_header), "%s", ih && *ih ? ih : "X-Request-Id");
            continue;
        }
        if (strcmp(s->type, "fault")) continue;
        struct vfault *f = vrec_fault(v, inisec_get(s, "proxy", &line), s->name);
        if (!f) continue;
        const char *oe = inisec_get(s, "on_end", &line);
        if (oe) snprintf(f->on_end, sizeof(f->on_end), "%s", oe);
    }
    inidoc_free(d);
}

/* ---- opening: instances, liveness, the runner's end, windows, counters, phases ---- */

static void add_inst(void *ud, const char *name, const char *unused)
{
    struct vrec *v = ud;
    (void)unused;
    v->inst = fl_realloc(v->inst, sizeof(char *) * (size_t)(v->ninst + 1));
    v->inst[v->ninst++] = fl_strdup(name);
}

struct metaacc { double started, ended, interval_ms; char *profile, *proxies; };

static void meta_field(void *ud, const char *f, const char *val)
{
    struct metaacc *m = ud;
    if (!strcmp(f, "started_ms")) m->started = num(val);
    else if (!strcmp(f, "ended_ms")) m->ended = num(val);
    else if (!strcmp(f, "record_interval_ms")) m->interval_ms = num(val);
    else if (!strcmp(f, "profile")) { free(m->profile); m->profile = fl_strdup(val); }
    else if (!strcmp(f, "proxies")) { free(m->proxies); m->proxies = fl_strdup(val); }
}

static void newest_sec(void *ud, const char *f, const char *val)
{
    double *mx = ud, s = num(f);
    (void)val;
    if (s > *mx) *mx = s;
}

/* When an instance that never wrote ended_ms last wrote: the end of its newest series bucket
 * over all its proxies (the recorder writes one every interval, traffic or not). NAN: none. */
static int last_write(struct vrec *v, const char *inst, const struct metaacc *m, double *at, char *err, size_t errlen)
{
    *at = NAN;
    if (!m->proxies) return 0;
    char *copy = fl_strdup(m->proxies), *save = NULL;
    double mx = -INFINITY;
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
        char key[600];
        snprintf(key, sizeof(key), "%s:ts:%s:%s", v->key, t, inst);
        if (v->json) rc = st_hash(v, key, newest_sec, &mx, err, errlen);
        else {   /* the field names only */
            redisReply *r = vrec_cmd(v, err, errlen, "HKEYS %s", key);
            if (!r) { rc = -1; break; }
            for (size_t i = 0; i < r->elements; i++) newest_sec(&mx, r->element[i]->str, NULL);
            freeReplyObject(r);
        }
    }
    free(copy);
    double len = m->interval_ms > 1000 ? m->interval_ms : 1000;
    if (!isinf(mx)) *at = mx * 1000 + len;
    return rc;
}

/* Instances, their start and end, and which are still recording. profiles[i] gets each
 * instance's profile text (the caller frees). */
static int read_instances(struct vrec *v, char **profiles, char *err, size_t errlen)
{
    double start = INFINITY, end = 0, now = wall_ms();
    v->live_last_ms = NAN;
    for (int i = 0; i < v->ninst; i++) {
        struct metaacc m = {NAN, NAN, NAN, NULL, NULL};
        char key[400];
        snprintf(key, sizeof(key), "%s:meta:%s", v->key, v->inst[i]);
        if (st_hash(v, key, meta_field, &m, err, errlen) < 0) { free(m.profile); free(m.proxies); return -1; }
        profiles[i] = m.profile;
        if (!isnan(m.started) && m.started < start) start = m.started;
        if (!isnan(m.ended)) {
            if (m.ended > end) end = m.ended;
        } else {
            /* no end written: still recording, or gone without a word (killed, crashed) */
            double last;
            if (last_write(v, v->inst[i], &m, &last, err, errlen) < 0) { free(m.proxies); return -1; }
            if (isnan(last)) last = m.started;        /* started, no bucket written yet */
            double stale = 3 * (m.interval_ms > 1000 ? m.interval_ms : 1000) + 2000;
            if (!v->json && (isnan(last) || now - last < stale)) {
                v->live++;
                if (isnan(v->live_last_ms) || !(last <= v->live_last_ms)) {
                    v->live_last_ms = last;
                    snprintf(v->live_inst, sizeof(v->live_inst), "%s", v->inst[i]);
                }
            } else if (!isnan(last) && last > end) {
                end = last;
            }
        }
        free(m.proxies);
    }
    if (!isinf(start)) v->start_ms = start;
    v->ended = v->ninst > 0 && !v->live;
    v->end_ms = v->ended ? end : now;
    return 0;
}

static void runner_field(void *ud, const char *f, const char *val)
{
    struct vrec *v = ud;
    if (!strcmp(f, "outcome")) snprintf(v->outcome, sizeof(v->outcome), "%s", val);
    else if (!strcmp(f, "reason")) snprintf(v->stop_reason, sizeof(v->stop_reason), "%s", val);
    else if (!strcmp(f, "stopped_ms")) v->stop_ms = num(val);
}

/* Fault windows from R:faults, merged per fault; a window still open when the run ended ends
 * with it, and one the run's end (or the runner's stop) closed is marked cut. */
static int read_windows(struct vrec *v, char *err, size_t errlen)
{
    struct winacc a = {NULL, 0, v};
    if (vrec_stream(v, "faults", win_entry, &a, err, errlen) < 0) { free(a.w); return -1; }
    for (int i = 0; i < a.n; i++) {
        struct vfault *f = fault_get(v, a.w[i].proxy, a.w[i].fault);
        if (!f->type[0]) snprintf(f->type, sizeof(f->type), "%s", a.w[i].type);
        f->w = fl_realloc(f->w, sizeof(*f->w) * (size_t)(f->nw + 1));
        struct vwin *w = &f->w[f->nw++];
        w->start = a.w[i].start;
        w->cut = a.w[i].cut;
        w->end = a.w[i].end;
        if (isinf(w->end) && v->ended) { w->end = v->end_ms; w->cut = 1; }
        if (!isnan(v->stop_ms) && !isinf(w->end) && w->end >= v->stop_ms - 1) w->cut = 1;
    }
    free(a.w);
    for (int i = 0; i < v->nfaults; i++) vwin_union(v->faults[i].w, &v->faults[i].nw);
    return 0;
}

/* One R:fault:... hash as read: its counters, its proxy and type, how many fields it had. */
struct fcacc { double affected, abandoned; char proxy[128], type[64]; int nfields; };

static void fault_counter(void *ud, const char *fn, const char *val)
{
    struct fcacc *a = ud;
    a->nfields++;
    if (!strcmp(fn, "conns_affected") || !strcmp(fn, "requests_affected")) a->affected += num(val);
    else if (!strcmp(fn, "abandoned")) a->abandoned += num(val);
    else if (!strcmp(fn, "proxy")) snprintf(a->proxy, sizeof(a->proxy), "%s", val);
    else if (!strcmp(fn, "type")) snprintf(a->type, sizeof(a->type), "%s", val);
}

/* A fault's counters in one instance: R:fault:<proxy>:<name>:<inst>, or in a record written
 * before fault names were per proxy, R:fault:<name>:<inst> when its proxy is this fault's. */
static int read_fault_counters(struct vrec *v, struct vfault *f, const char *inst, char *err, size_t errlen)
{
    char key[600];
    struct fcacc a;
    memset(&a, 0, sizeof(a));
    snprintf(key, sizeof(key), "%s:fault:%s:%s:%s", v->key, f->proxy, f->name, inst);
    if (st_hash(v, key, fault_counter, &a, err, errlen) < 0) return -1;
    if (!a.nfields) {
        snprintf(key, sizeof(key), "%s:fault:%s:%s", v->key, f->name, inst);
        if (st_hash(v, key, fault_counter, &a, err, errlen) < 0) return -1;
        if (a.proxy[0] && f->proxy[0] && strcmp(a.proxy, f->proxy)) return 0;   /* another proxy's fault */
    }
    f->affected += a.affected;
    f->abandoned += a.abandoned;
    if (!f->proxy[0]) snprintf(f->proxy, sizeof(f->proxy), "%s", a.proxy);
    if (!f->type[0]) snprintf(f->type, sizeof(f->type), "%s", a.type);
    return 0;
}

/* Everything after the store is open: the run's overview. */
static int read_overview(struct vrec *v, char *err, size_t errlen)
{
    char key[400];
    snprintf(key, sizeof(key), "%s:instances", v->key);
    if (st_set(v, key, add_inst, v, err, errlen) < 0) return -1;
    if (v->ninst) v->known = 1;
    char **profiles = fl_calloc((size_t)v->ninst + 1, sizeof(char *));
    int rc = -1;
    if (read_instances(v, profiles, err, errlen) < 0) goto out;
    snprintf(key, sizeof(key), "%s:runner", v->key);
    if (st_hash(v, key, runner_field, v, err, errlen) < 0) goto out;
    if (read_windows(v, err, errlen) < 0) goto out;
    for (int i = 0; i < v->nfaults; i++)
        for (int k = 0; k < v->ninst; k++)
            if (read_fault_counters(v, &v->faults[i], v->inst[k], err, errlen) < 0) goto out;
    for (int i = 0; i < v->ninst; i++)
        if (profiles[i]) profile_on_end(v, profiles[i]);
    if (vrec_stream(v, "phases", phase_entry, v, err, errlen) < 0) goto out;
    rc = 0;
out:
    for (int i = 0; i < v->ninst; i++) free(profiles[i]);
    free(profiles);
    return rc;
}

static void vrec_init(struct vrec *v, const char *run)
{
    memset(v, 0, sizeof(*v));
    snprintf(v->run, sizeof(v->run), "%s", run);
    snprintf(v->key, sizeof(v->key), "fl:run:%s", run);
    v->ttl_s = 7 * 86400;
    v->stop_ms = NAN;
}

int vrec_open(struct vrec *v, const char *url, const char *run, char *err, size_t errlen)
{
    vrec_init(v, run);
    snprintf(v->source, sizeof(v->source), "redis %s", url);
    v->rc = vrec_connect(url, err, errlen);
    if (!v->rc) return -1;
    redisReply *r = vrec_cmd(v, err, errlen, "ZSCORE fl:runs %s", run);
    if (!r) return -1;
    if (r->type == REDIS_REPLY_STRING) { v->known = 1; v->start_ms = strtod(r->str, NULL); }
    freeReplyObject(r);
    if (!(r = vrec_cmd(v, err, errlen, "TTL %s:instances", v->key))) return -1;
    if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) v->ttl_s = r->integer;
    freeReplyObject(r);
    return read_overview(v, err, errlen);
}

int vrec_open_file(struct vrec *v, const char *path, const char *run, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        vrec_init(v, run ? run : "");
        if (je.line > 0) snprintf(err, errlen, "%s:%d: not a record.json: %s", path, je.line, je.text);
        else snprintf(err, errlen, "%s: %s", path, je.text);
        return -1;
    }
    const char *frun = json_string_value(json_object_get(root, "run"));
    json_t *keys = json_object_get(root, "keys");
    if (!frun || !json_is_object(keys)) {
        vrec_init(v, run ? run : "");
        json_decref(root);
        snprintf(err, errlen, "%s: not a record.json of faultline run (no \"run\" and \"keys\")", path);
        return -1;
    }
    if (run && run[0] && strcmp(run, frun)) {
        vrec_init(v, run);
        snprintf(err, errlen, "%s holds run %s, not %s", path, frun, run);
        json_decref(root);
        return -1;
    }
    vrec_init(v, frun);
    snprintf(v->source, sizeof(v->source), "%s", path);
    v->json = json_incref(keys);
    json_t *st = json_object_get(root, "started_ms");
    if (json_is_number(st)) { v->known = 1; v->start_ms = json_number_value(st); }
    json_decref(root);
    return read_overview(v, err, errlen);
}

int vrec_runs(const char *url, char *out, size_t outlen, char *err, size_t errlen)
{
    out[0] = 0;
    redisContext *c = vrec_connect(url, err, errlen);
    if (!c) return -1;
    redisReply *r = redisCommand(c, "ZREVRANGE fl:runs 0 9");
    int n = 0;
    if (r && r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++) {
            size_t o = strlen(out);
            snprintf(out + o, outlen - o, "%s%s", o ? ", " : "", r->element[i]->str);
            n++;
        }
    if (r) freeReplyObject(r);
    r = redisCommand(c, "ZCARD fl:runs");
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer > n) {
        size_t o = strlen(out);
        snprintf(out + o, outlen - o, " (and %lld older)", r->integer - n);
    }
    if (r) freeReplyObject(r);
    redisFree(c);
    return n;
}

const char *vrec_id_header(struct vrec *v, const char *proxy)
{
    for (int i = 0; i < v->npconf; i++)
        if (!strcmp(v->pconf[i].name, proxy)) return v->pconf[i].id_header;
    return NULL;
}

/* ---- per proxy ---- */

static int cmp_ts(const void *x, const void *y)
{
    const struct vts *a = x, *b = y;
    return a->sec < b->sec ? -1 : a->sec > b->sec;
}

static void ts_field(void *ud, const char *f, const char *val)
{
    struct vpx *p = ud;
    struct vts t;
    memset(&t, 0, sizeof(t));
    t.sec = strtoll(f, NULL, 10);
    vrec_parse_ts(val, &t);
    int j;
    for (j = 0; j < p->nts; j++) if (p->ts[j].sec == t.sec) break;
    if (j == p->nts) {
        p->ts = fl_realloc(p->ts, sizeof(*p->ts) * (size_t)(p->nts + 1));
        memset(&p->ts[p->nts], 0, sizeof(t));
        p->ts[p->nts++].sec = t.sec;
    }
    struct vts *d = &p->ts[j];
    d->nnew += t.nnew; d->peak += t.peak; d->cur += t.cur; d->req += t.req; d->err += t.err;
    d->inflight += t.inflight; d->faults += t.faults; d->up += t.up; d->down += t.down;
}

static int load_ts(struct vrec *v, struct vpx *p, char *err, size_t errlen)
{
    for (int i = 0; i < v->ninst; i++) {
        char key[600];
        snprintf(key, sizeof(key), "%s:ts:%s:%s", v->key, p->name, v->inst[i]);
        if (st_hash(v, key, ts_field, p, err, errlen) < 0) return -1;
    }
    if (p->nts > 1) qsort(p->ts, (size_t)p->nts, sizeof(*p->ts), cmp_ts);
    p->interval_s = 1;
    int64_t mind = 0;
    for (int i = 1; i < p->nts; i++) {
        int64_t d = p->ts[i].sec - p->ts[i - 1].sec;
        if (d > 0 && (!mind || d < mind)) mind = d;
    }
    if (mind > 1) p->interval_s = (double)mind;
    for (int i = 0; i < p->nts; i++) if (p->ts[i].req > 0) p->http = 1;
    p->ts_loaded = 1;
    return 0;
}

static void cpy(char *d, size_t n, const char *s) { snprintf(d, n, "%s", s ? s : ""); }

static void ev_entry(void *ud, const char **f, const char **val, int n)
{
    struct vpx *p = ud;
    const char *kind = field(f, val, n, "kind");
    if (!kind) return;
    struct vev e;
    memset(&e, 0, sizeof(e));
    if (!strcmp(kind, "conn")) e.kind = VEV_CONN;
    else if (!strcmp(kind, "request")) e.kind = VEV_REQUEST;
    else return;
    double *nums[] = {&e.open_ms, &e.connected_ms, &e.first_up_ms, &e.first_down_ms, &e.last_up_ms, &e.hang_ms,
                      &e.gave_up_ms, &e.waited_ms, &e.close_ms, &e.bytes_up, &e.bytes_down, &e.req_ms,
                      &e.upstream_ms, &e.total_ms, &e.abandoned_ms, &e.call_max_ms, &e.call_max_at_ms,
                      &e.call_open_ms, &e.pending_down, &e.client_eof_ms};
    static const char *names[] = {"open_ms", "connected_ms", "first_up_ms", "first_down_ms", "last_up_ms",
                                  "hang_ms", "gave_up_ms", "waited_ms", "close_ms", "bytes_up", "bytes_down",
                                  "req_ms", "upstream_ms", "total_ms", "abandoned_ms", "call_max_ms",
                                  "call_max_at_ms", "call_open_ms", "pending_down", "client_eof_ms"};
    for (int i = 0; i < 20; i++) *nums[i] = num(field(f, val, n, names[i]));
    e.hang_end_ms = num(field(f, val, n, "hang_end_ms"));
    e.tls_handshake_ms = num(field(f, val, n, "tls_handshake_ms"));
    e.tls_app_bytes = num(field(f, val, n, "tls_app_bytes"));
    cpy(e.tls_fault, sizeof(e.tls_fault), field(f, val, n, "tls_fault"));
    cpy(e.tls_bad_cert, sizeof(e.tls_bad_cert), field(f, val, n, "tls_bad_cert"));
    cpy(e.tls_alert, sizeof(e.tls_alert), field(f, val, n, "tls_alert"));
    cpy(e.tls_alert_by, sizeof(e.tls_alert_by), field(f, val, n, "tls_alert_by"));
    cpy(e.body_hash, sizeof(e.body_hash), field(f, val, n, "body_hash"));
    cpy(e.inst, sizeof(e.inst), field(f, val, n, "inst"));
    const char *id = field(f, val, n, e.kind == VEV_CONN ? "id" : "conn");
    e.id = id ? strtoull(id, NULL, 10) : 0;
    cpy(e.closed_by, sizeof(e.closed_by), field(f, val, n, "closed_by"));
    cpy(e.fault, sizeof(e.fault), field(f, val, n, "fault"));
    cpy(e.method, sizeof(e.method), field(f, val, n, "method"));
    cpy(e.path, sizeof(e.path), field(f, val, n, "path"));
    cpy(e.host, sizeof(e.host), field(f, val, n, "host"));
    cpy(e.request_id, sizeof(e.request_id), field(f, val, n, "request_id"));
    const char *s = field(f, val, n, "status");
    e.status = s ? atoi(s) : 0;
    s = field(f, val, n, "held_at_end");
    e.held_at_end = s && !strcmp(s, "1");
    s = field(f, val, n, "upstream_failed");
    e.upstream_failed = s && !strcmp(s, "1");
    cpy(e.end, sizeof(e.end), field(f, val, n, "end"));
    cpy(e.reset_by, sizeof(e.reset_by), field(f, val, n, "reset_by"));
    cpy(e.rst_code, sizeof(e.rst_code), field(f, val, n, "rst_code"));
    e.stream = num(field(f, val, n, "stream"));
    s = field(f, val, n, "grpc_status");
    e.grpc_status = s ? atoi(s) : -1;
    s = field(f, val, n, "prev_attempts");
    e.prev_attempts = s ? atoi(s) : 0;
    e.grpc_timeout_ms = num(field(f, val, n, "grpc_timeout_ms"));
    e.msgs_req = num(field(f, val, n, "msgs_req"));
    e.msgs_resp = num(field(f, val, n, "msgs_resp"));
    if (e.kind == VEV_REQUEST) p->http = 1;
    p->ev = fl_realloc(p->ev, sizeof(*p->ev) * (size_t)(p->nev + 1));
    p->ev[p->nev++] = e;
}

struct vpx *vrec_proxy(struct vrec *v, const char *proxy, int want_events, char *err, size_t errlen)
{
    struct vpx *p = NULL;
    for (int i = 0; i < v->npx; i++)
        if (!strcmp(v->px[i]->name, proxy)) p = v->px[i];
    if (!p) {
        v->px = fl_realloc(v->px, sizeof(*v->px) * (size_t)(v->npx + 1));
        p = fl_calloc(1, sizeof(*p));
        v->px[v->npx++] = p;
        snprintf(p->name, sizeof(p->name), "%s", proxy);
        for (int i = 0; i < v->ninst; i++) {     /* the proxy's role (meta role:<proxy>) */
            char key[400], fld[200];
            snprintf(key, sizeof(key), "%s:meta:%s", v->key, v->inst[i]);
            snprintf(fld, sizeof(fld), "role:%s", proxy);
            err[0] = 0;
            char *role = st_hget(v, key, fld, err, errlen);
            if (!role && err[0]) return NULL;
            if (role && !strcmp(role, "ingress")) p->ingress = 1;
            free(role);
        }
    }
    if (!p->ts_loaded && load_ts(v, p, err, errlen) < 0) return NULL;
    if (want_events && !p->ev_loaded) {
        char sfx[300];
        snprintf(sfx, sizeof(sfx), "events:%s", proxy);
        if (vrec_stream(v, sfx, ev_entry, p, err, errlen) < 0) return NULL;
        p->ev_loaded = 1;
    }
    return p;
}

void vrec_free(struct vrec *v)
{
    if (!v) return;
    vrec_disconnect(v->rc);
    json_decref(v->json);
    for (int i = 0; i < v->ninst; i++) free(v->inst[i]);
    free(v->inst);
    for (int i = 0; i < v->nfaults; i++) free(v->faults[i].w);
    free(v->faults);
    free(v->ph);
    free(v->pconf);
    for (int i = 0; i < v->npx; i++) { free(v->px[i]->ts); free(v->px[i]->ev); free(v->px[i]); }
    free(v->px);
    memset(v, 0, sizeof(*v));
}
