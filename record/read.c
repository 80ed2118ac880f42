/* record/read.c -- reading a run's record back from Redis (see record/read.h and docs/metrics.md).
 *
 * Synchronous hiredis with a 2 s connect timeout and a 10 s command timeout: the verifier is a
 * command-line tool, and a Redis that stops answering must end it with exit 2, not hang it.
 * Streams are read in pages (XRANGE with exclusive starts), bounded to 200k entries, the
 * recorder's own cap being ~100k per stream.
 */
#include "record/read.h"
#include "common/inidoc.h"
#include "common/mem.h"
#include "common/fd.h"
#include "common/text.h"
#include "record/record.h"

#include <hiredis/hiredis.h>
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

char *vrec_hget(struct vrec *v, const char *suffix, const char *field, char *err, size_t errlen)
{
    redisReply *r = vrec_cmd(v, err, errlen, "HGET %s:%s %s", v->key, suffix, field);
    if (!r) return NULL;
    char *val = r->type == REDIS_REPLY_STRING ? fl_strndup(r->str, r->len) : NULL;
    freeReplyObject(r);
    return val;
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

struct rawwin { char fault[128], inst[96], proxy[128], type[64]; double start, end; };
struct winacc { struct rawwin *w; int n; struct vrec *v; };

static void win_entry(void *ud, const char **f, const char **val, int n)
{
    struct winacc *a = ud;
    const char *fault = field(f, val, n, "fault"), *inst = field(f, val, n, "inst"), *ev = field(f, val, n, "event");
    double at = num(field(f, val, n, "at_ms"));
    if (!fault || !ev || isnan(at)) return;
    if (!inst) inst = "";
    if (!strcmp(ev, "start")) {
        /* a start written twice (resent after a reconnect) opens nothing new */
        for (int i = a->n - 1; i >= 0; i--)
            if (!strcmp(a->w[i].fault, fault) && !strcmp(a->w[i].inst, inst) && isinf(a->w[i].end)) return;
        a->w = fl_realloc(a->w, sizeof(*a->w) * (size_t)(a->n + 1));
        struct rawwin *w = &a->w[a->n++];
        memset(w, 0, sizeof(*w));
        snprintf(w->fault, sizeof(w->fault), "%s", fault);
        snprintf(w->inst, sizeof(w->inst), "%s", inst);
        const char *p = field(f, val, n, "proxy"), *t = field(f, val, n, "type");
        snprintf(w->proxy, sizeof(w->proxy), "%s", p ? p : "");
        snprintf(w->type, sizeof(w->type), "%s", t ? t : "");
        w->start = at;
        w->end = INFINITY;
    } else if (!strcmp(ev, "end")) {
        /* closes the latest open window of this fault in this instance */
        for (int i = a->n - 1; i >= 0; i--)
            if (!strcmp(a->w[i].fault, fault) && !strcmp(a->w[i].inst, inst) && isinf(a->w[i].end)) {
                a->w[i].end = at;
                return;
            }
    }
}

static int cmp_win(const void *x, const void *y)
{
    const struct vwin *a = x, *b = y;
    return a->start < b->start ? -1 : a->start > b->start;
}

static struct vfault *fault_get(struct vrec *v, const char *name)
{
    struct vfault *f = vrec_fault(v, name);
    if (f) return f;
    v->faults = fl_realloc(v->faults, sizeof(*v->faults) * (size_t)(v->nfaults + 1));
    f = &v->faults[v->nfaults++];
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    snprintf(f->on_end, sizeof(f->on_end), "keep");
    return f;
}

struct vfault *vrec_fault(struct vrec *v, const char *name)
{
    for (int i = 0; i < v->nfaults; i++)
        if (!strcmp(v->faults[i].name, name)) return &v->faults[i];
    return NULL;
}

/* Union of overlapping windows (instances recording the same fault). */
static void win_union(struct vfault *f)
{
    if (f->nw < 2) return;
    qsort(f->w, (size_t)f->nw, sizeof(*f->w), cmp_win);
    int o = 0;
    for (int i = 1; i < f->nw; i++) {
        if (f->w[i].start <= f->w[o].end) {
            if (f->w[i].end > f->w[o].end) f->w[o].end = f->w[i].end;
        } else {
            f->w[++o] = f->w[i];
        }
    }
    f->nw = o + 1;
}

struct phacc { struct vrec *v; };

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

/* on_end of [fault NAME] in a recorded profile text */
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
        struct vfault *f = vrec_fault(v, s->name);
        if (!f) continue;
        const char *oe = inisec_get(s, "on_end", &line);
        if (oe) snprintf(f->on_end, sizeof(f->on_end), "%s", oe);
    }
    inidoc_free(d);
}

int vrec_open(struct vrec *v, const char *url, const char *run, char *err, size_t errlen)
{
    memset(v, 0, sizeof(*v));
    snprintf(v->run, sizeof(v->run), "%s", run);
    snprintf(v->key, sizeof(v->key), "fl:run:%s", run);
    v->ttl_s = 7 * 86400;
    v->rc = vrec_connect(url, err, errlen);
    if (!v->rc) return -1;
    redisReply *r = vrec_cmd(v, err, errlen, "ZSCORE fl:runs %s", run);
    if (!r) return -1;
    if (r->type == REDIS_REPLY_STRING) { v->known = 1; v->start_ms = strtod(r->str, NULL); }
    freeReplyObject(r);
    if (!(r = vrec_cmd(v, err, errlen, "SMEMBERS %s:instances", v->key))) return -1;
    for (size_t i = 0; i < r->elements; i++) {
        v->inst = fl_realloc(v->inst, sizeof(char *) * (size_t)(v->ninst + 1));
        v->inst[v->ninst++] = fl_strdup(r->element[i]->str);
    }
    freeReplyObject(r);
    if (v->ninst) v->known = 1;
    if (!(r = vrec_cmd(v, err, errlen, "TTL %s:instances", v->key))) return -1;
    if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) v->ttl_s = r->integer;
    freeReplyObject(r);
    /* run start/end from the instances' meta */
    v->ended = v->ninst > 0;
    double start = INFINITY, end = 0;
    char **profiles = fl_calloc((size_t)v->ninst + 1, sizeof(char *));
    for (int i = 0; i < v->ninst; i++) {
        if (!(r = vrec_cmd(v, err, errlen, "HGETALL %s:meta:%s", v->key, v->inst[i]))) {
            for (int k = 0; k < i; k++) free(profiles[k]);
            free(profiles);
            return -1;
        }
        double st = NAN, en = NAN;
        for (size_t k = 0; k + 1 < r->elements; k += 2) {
            const char *f = r->element[k]->str, *val = r->element[k + 1]->str;
            if (!strcmp(f, "started_ms")) st = num(val);
            else if (!strcmp(f, "ended_ms")) en = num(val);
            else if (!strcmp(f, "profile")) { free(profiles[i]); profiles[i] = fl_strdup(val); }   /* named twice: the last */
        }
        freeReplyObject(r);
        if (!isnan(st) && st < start) start = st;
        if (isnan(en)) v->ended = 0;
        else if (en > end) end = en;
    }
    if (!isinf(start)) v->start_ms = start;
    v->end_ms = v->ended ? end : wall_ms();
    /* fault windows */
    struct winacc a = {NULL, 0, v};
    if (vrec_stream(v, "faults", win_entry, &a, err, errlen) < 0) { free(a.w); goto fail; }
    for (int i = 0; i < a.n; i++) {
        struct vfault *f = fault_get(v, a.w[i].fault);
        if (!f->proxy[0]) snprintf(f->proxy, sizeof(f->proxy), "%s", a.w[i].proxy);
        if (!f->type[0]) snprintf(f->type, sizeof(f->type), "%s", a.w[i].type);
        f->w = fl_realloc(f->w, sizeof(*f->w) * (size_t)(f->nw + 1));
        f->w[f->nw].start = a.w[i].start;
        /* a window an instance never closed ends with that run's end at the latest */
        f->w[f->nw].end = isinf(a.w[i].end) && v->ended ? v->end_ms : a.w[i].end;
        f->nw++;
    }
    free(a.w);
    for (int i = 0; i < v->nfaults; i++) win_union(&v->faults[i]);
    /* fault counters */
    for (int i = 0; i < v->nfaults; i++) {
        struct vfault *f = &v->faults[i];
        for (int k = 0; k < v->ninst; k++) {
            if (!(r = vrec_cmd(v, err, errlen, "HGETALL %s:fault:%s:%s", v->key, f->name, v->inst[k]))) goto fail;
            for (size_t j = 0; j + 1 < r->elements; j += 2) {
                const char *fn = r->element[j]->str, *val = r->element[j + 1]->str;
                if (!strcmp(fn, "conns_affected") || !strcmp(fn, "requests_affected")) f->affected += num(val);
                else if (!strcmp(fn, "abandoned")) f->abandoned += num(val);
                else if (!strcmp(fn, "proxy") && !f->proxy[0]) snprintf(f->proxy, sizeof(f->proxy), "%s", val);
                else if (!strcmp(fn, "type") && !f->type[0]) snprintf(f->type, sizeof(f->type), "%s", val);
            }
            freeReplyObject(r);
        }
    }
    for (int i = 0; i < v->ninst; i++)
        if (profiles[i]) profile_on_end(v, profiles[i]);
    if (vrec_stream(v, "phases", phase_entry, v, err, errlen) < 0) goto fail;
    for (int i = 0; i < v->ninst; i++) free(profiles[i]);
    free(profiles);
    return 0;
fail:
    for (int i = 0; i < v->ninst; i++) free(profiles[i]);
    free(profiles);
    return -1;
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

static int load_ts(struct vrec *v, struct vpx *p, char *err, size_t errlen)
{
    for (int i = 0; i < v->ninst; i++) {
        redisReply *r = vrec_cmd(v, err, errlen, "HGETALL %s:ts:%s:%s", v->key, p->name, v->inst[i]);
        if (!r) return -1;
        for (size_t k = 0; k + 1 < r->elements; k += 2) {
            struct vts t;
            memset(&t, 0, sizeof(t));
            t.sec = strtoll(r->element[k]->str, NULL, 10);
            vrec_parse_ts(r->element[k + 1]->str, &t);
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
        freeReplyObject(r);
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
            redisReply *r = vrec_cmd(v, err, errlen, "HGET %s:meta:%s role:%s", v->key, v->inst[i], proxy);
            if (!r) return NULL;
            if (r->type == REDIS_REPLY_STRING && !strcmp(r->str, "ingress")) p->ingress = 1;
            freeReplyObject(r);
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
