/* record.c -- the recorder: what every proxy saw, written to Redis per run (docs/metrics.md).
 * This file holds what is recorded: entries per proxy and per fault, counters, series buckets,
 * meta, fault windows, the hooks, start and stop. The Redis side (the RESP builder, the command
 * pipeline, the connection) is record_redis.c; what both share is record_int.h.
 *
 * The verifier judges a service from the record, so the record must be exact when Redis is
 * there and must never cost the data path anything when it is not. Hence:
 *
 *   - The hooks the daemon calls (rec_conn_open, rec_fault_applied, ...) only bump a few
 *     counters in the proxy's recorder entry (struct rec_px, which the core keeps per proxy
 *     object). Only a connection's close (and an http request's end) formats a Redis command,
 *     into a reusable buffer.
 *   - One hiredis async connection on the server's own event base (libevent adapter). Commands
 *     are appended to hiredis's output buffer and leave in one write per loop iteration, so
 *     everything is pipelined. A bounded queue: at most REC_MAX_INFLIGHT commands and
 *     REC_MAX_PENDING bytes are unanswered at a time; past that, and whenever there is no
 *     connection, a record is dropped and counted (`record_dropped`), never waited for.
 *   - Counters, per-fault counters and the per-second series are flushed once per interval by a
 *     timer aligned to the wall clock, as absolute values (HSET), so a lost flush is repaired by
 *     the next one. Series buckets stay in a ring (REC_RING per proxy) until Redis acknowledged
 *     them, and are sent again after a reconnect. Fault windows wait in a small queue until
 *     acknowledged. Connection and request events are fire-and-forget (XADD, capped stream).
 *   - Redis lost: reconnect with backoff (100 ms doubling to 5 s); a connect that takes over 2 s
 *     or commands unanswered for 5 s count as lost. Drops are logged at most once per interval.
 *
 *   - The daemon's objects are never looked into: the core hands plain values in (record.h), and
 *     once per interval the recorder asks it (struct rec_source observe) to report its live
 *     proxies and faults with their counters; what is not reported is gone.
 *
 * What the recorder does not do: read the record back (record/read.c, verify/), or decide
 * anything about faults. Entries per proxy and per fault are kept by name for the whole run and
 * outlive the daemon's objects (a reload may free and recreate them); totals of an earlier object
 * with the same name are carried as a base so counters never go backwards.
 */
#include "record/record_int.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/text.h"
#include "common/version.h"

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

/* The one recorder (record_int.h): set by rec_start, NULL when not recording. */
struct rec *rec_st;
int rec_active;

static char *xstrdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xstrdup_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) abort();
    va_end(ap);
    return s;
}

/* The recorder allocates only off the data path (entries, callbacks, setup): no memory there is
 * the same failure as anywhere else in the daemon. */
void *rec_xcalloc(size_t size)
{
    void *p = calloc(1, size);
    if (!p) abort();
    return p;
}

/* arr (n elements of elem bytes) with room for one more; entries are added once per name. */
static void *grow_one(void *arr, int n, size_t elem)
{
    void *p = realloc(arr, elem * (size_t)(n + 1));
    if (!p) abort();
    return p;
}

const char *rec_run_id(void) { return rec_st ? rec_st->run : ""; }
uint64_t rec_dropped(void) { return rec_st ? rec_st->dropped : 0; }

void rec_drop(struct rec_px *rp, uint64_t n)
{
    rec_st->dropped += n;
    if (rp) rp->dropped += n;
}

/* ---- entries per proxy and per fault ---- */

static struct rec_px *px_entry(const char *name)
{
    for (int i = 0; i < rec_st->npx; i++)
        if (!strcmp(rec_st->pxs[i]->name, name)) return rec_st->pxs[i];
    struct rec_px *rp = rec_xcalloc(sizeof(*rp));
    snprintf(rp->name, sizeof(rp->name), "%s", name);
    rp->idx = rec_st->npx;
    rp->k_counters = xstrdup_printf("fl:run:%s:counters:%s:%s", rec_st->run, name, rec_st->inst);
    rp->k_ts = xstrdup_printf("fl:run:%s:ts:%s:%s", rec_st->run, name, rec_st->inst);
    rp->k_events = xstrdup_printf("fl:run:%s:events:%s", rec_st->run, name);
    rp->k_proto = xstrdup_printf("fl:run:%s:proto:%s:%s", rec_st->run, name, rec_st->inst);
    rp->k_pgstate = xstrdup_printf("fl:run:%s:pgstate:%s", rec_st->run, name);
    rec_st->pxs = grow_one(rec_st->pxs, rec_st->npx, sizeof(*rec_st->pxs));
    rec_st->pxs[rec_st->npx++] = rp;
    return rp;
}

/* Adds the totals of an earlier object with the same name (current values are not totals). */
static void stats_add(struct rec_stats *to, const struct rec_stats *a)
{
    to->accepted += a->accepted;
    if (a->peak_active > to->peak_active) to->peak_active = a->peak_active;
    to->upstream_ok += a->upstream_ok;
    to->upstream_failed += a->upstream_failed;
    to->closed_client += a->closed_client;
    to->closed_upstream += a->closed_upstream;
    to->closed_proxy += a->closed_proxy;
    to->closed_fault += a->closed_fault;
    to->bytes_up += a->bytes_up;
    to->bytes_down += a->bytes_down;
    to->refused += a->refused;
    to->accept_errors += a->accept_errors;
    to->requests += a->requests;
    to->responses += a->responses;
    for (int i = 0; i < 6; i++) to->status_class[i] += a->status_class[i];
    to->bad_requests += a->bad_requests;
    to->bad_responses += a->bad_responses;
    if (a->peak_inflight > to->peak_inflight) to->peak_inflight = a->peak_inflight;
}

/* The entry's object is gone or replaced by obj (NULL: gone): its last values join the base. */
static void px_fold(struct rec_px *rp, const void *obj)
{
    stats_add(&rp->base, &rp->last);   /* zero when already folded */
    memset(&rp->last, 0, sizeof(rp->last));
    rp->obj = obj;
    if (!obj) memset(&rp->facts, 0, sizeof(rp->facts));
}

struct rec_px *rec_proxy_attach(const char *name, const void *obj)
{
    if (!rec_st) return NULL;
    struct rec_px *rp = px_entry(name);
    px_fold(rp, obj);
    rp->b_req = rp->b_up = rp->b_down = 0;
    return rp;
}

void rec_observe_proxy(struct rec_px *rp, const void *obj, const struct rec_stats *st, const struct rec_facts *fx)
{
    if (!rec_st || !rp || rp->obj != obj) return;   /* an older object with the name (retired) */
    rp->seen = 1;
    rp->cur = *st;
    rp->facts = *fx;
}

/* A fault's entry: names are unique per proxy only, so two proxies' faults of one name are two
 * entries (and two keys, fl:run:<run>:fault:<proxy>:<name>:<inst>). */
static struct rec_fault *fault_entry(const char *name, const char *proxy)
{
    for (int i = 0; i < rec_st->nfaults; i++)
        if (!strcmp(rec_st->faults[i]->name, name) && !strcmp(rec_st->faults[i]->proxy, proxy)) return rec_st->faults[i];
    struct rec_fault *rf = rec_xcalloc(sizeof(*rf));
    snprintf(rf->name, sizeof(rf->name), "%s", name);
    snprintf(rf->proxy, sizeof(rf->proxy), "%s", proxy);
    rf->key = xstrdup_printf("fl:run:%s:fault:%s:%s:%s", rec_st->run, proxy, name, rec_st->inst);
    rec_st->faults = grow_one(rec_st->faults, rec_st->nfaults, sizeof(*rec_st->faults));
    rec_st->faults[rec_st->nfaults++] = rf;
    return rf;
}

/* Adding, comparing and writing a fault's counters go field by field over REC_FC_FIELDS
 * (record.h), so a new counter is added there. */
static void fc_add(struct rec_fault_counters *to, const struct rec_fault_counters *a)
{
#define REC_FC_ADD(field) to->field += a->field;
    REC_FC_FIELDS(REC_FC_ADD)
#undef REC_FC_ADD
}

/* A fault object reused by name (or a recycled address) shows as counters going backwards. */
static int fc_went_back(const struct rec_fault_counters *n, const struct rec_fault_counters *l)
{
#define REC_FC_BACK(field) if (n->field < l->field) return 1;
    REC_FC_FIELDS(REC_FC_BACK)
#undef REC_FC_BACK
    return 0;
}

/* The entry's object is gone or replaced by obj (NULL: gone): its last values join the base. */
static void fault_fold(struct rec_fault *rf, const void *obj)
{
    fc_add(&rf->base, &rf->last);     /* zero when already folded */
    memset(&rf->last, 0, sizeof(rf->last));
    rf->obj = obj;
}

/* Notes the live object obj for its entry (at flush time, when it is known to be alive). */
void rec_observe_fault(const char *name, const char *proxy, const char *type, const void *obj,
                       const struct rec_fault_counters *c)
{
    if (!rec_st) return;
    struct rec_fault *rf = fault_entry(name, proxy);
    if (rf->obj != obj || fc_went_back(c, &rf->last)) fault_fold(rf, obj);
    rf->last = *c;
    snprintf(rf->type, sizeof(rf->type), "%s", type);
    rf->seen = 1;
}

/* ---- writing the record ---- */

static void write_meta(int ended)
{
    struct rbuf *b = &rec_st->b;
    rb_begin(b);
    rb_str(b, "HSET");
    rb_str(b, rec_st->k_meta);
    rb_str(b, "started_ms");
    rb_ms(b, rec_st->started_wall_us);
    rb_kv_str(b, "version", FAULTLINE_VERSION);
    rb_str(b, "pid");
    rb_fmt(b, "%d", (int)getpid());
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    rb_kv_str(b, "host", host);
    rb_str(b, "record_interval_ms");
    rb_fmt(b, "%lld", (long long)(rec_st->interval_us / 1000));
    /* profile, proxies, role:<proxy> = ingress|egress (docs/metrics.md): the daemon's */
    struct rec_kv kv = {b, 0, 0};
    rec_st->src.meta(rec_st->src.ctx, &kv);
    rb_kv_u64(b, "record_dropped", rec_st->dropped);
    /* the run's budget in Redis and what it cost: events not written, fields clipped */
    rb_kv_u64(b, "record_max_bytes", rec_st->max_bytes);
    rb_kv_u64(b, "record_bytes", rec_st->bytes);
    rb_kv_u64(b, "record_over_budget", rec_st->over_budget);
    rb_kv_u64(b, "record_fields_clipped", rec_st->clipped);
    if (ended) {
        rb_str(b, "ended_ms");
        rb_ms(b, fl_wall_us());
    }
    rec_send_plain(NULL, 0);
    rec_st->meta_written = rec_st->src.meta_version(rec_st->src.ctx);
}

/* On every (re)connect: the run's index entries and metadata (all idempotent). */
void rec_write_hello(void)
{
    struct rbuf *b = &rec_st->b;
    rb_begin(b);
    rb_str(b, "ZADD");
    rb_str(b, "fl:runs");
    rb_fmt(b, "%lld", (long long)(rec_st->started_wall_us / 1000));
    rb_str(b, rec_st->run);
    rec_send_plain(NULL, 0);
    rb_begin(b);
    rb_str(b, "SADD");
    rb_str(b, rec_st->k_instances);
    rb_str(b, rec_st->inst);
    rec_send_plain(NULL, 0);
    write_meta(0);
    rec_expire_key(rec_st->k_instances);
    rec_expire_key(rec_st->k_meta);
}

static void write_counters(struct rec_px *rp)
{
    struct rec_stats st = rp->base;
    if (rp->obj) stats_add(&st, &rp->cur);
    uint64_t peak = rp->base.peak_active;
    if (rp->obj && rp->cur.peak_active > peak) peak = rp->cur.peak_active;
    struct rbuf *b = &rec_st->b;
    rb_begin(b);
    rb_str(b, "HSET");
    rb_str(b, rp->k_counters);
    rb_kv_u64(b, "accepted", st.accepted);
    rb_kv_u64(b, "upstream_ok", st.upstream_ok);
    rb_kv_u64(b, "upstream_failed", st.upstream_failed);
    rb_kv_u64(b, "closed_client", st.closed_client);
    rb_kv_u64(b, "closed_upstream", st.closed_upstream);
    rb_kv_u64(b, "closed_proxy", st.closed_proxy);
    rb_kv_u64(b, "closed_fault", st.closed_fault);
    rb_kv_u64(b, "bytes_up", st.bytes_up);
    rb_kv_u64(b, "bytes_down", st.bytes_down);
    rb_kv_u64(b, "requests", st.requests);
    rb_kv_u64(b, "responses", st.responses);
    static const char *sc[] = {"status_other", "status_1xx", "status_2xx", "status_3xx", "status_4xx", "status_5xx"};
    for (int i = 1; i < 6; i++) rb_kv_u64(b, sc[i], st.status_class[i]);
    rb_kv_u64(b, "bad_requests", st.bad_requests);
    rb_kv_u64(b, "bad_responses", st.bad_responses);
    rb_kv_u64(b, "faults_applied", rp->faults_applied);
    rb_kv_u64(b, "refused", st.refused);
    rb_kv_u64(b, "peak_active", peak);
    rb_kv_u64(b, "active", rp->obj ? rp->cur.active : 0);
    rb_kv_u64(b, "record_dropped", rp->dropped);
    rb_kv_u64(b, "events_written", rp->written);
    rb_kv_u64(b, "events_over_budget", rp->over_budget);
    rb_kv_u64(b, "fields_clipped", rp->clipped);
    rec_send_plain(NULL, 0);
    if (rp->obj) rp->last = rp->cur;
}

static void write_series(struct rec_px *rp)
{
    if (rp->nb - rp->acked > REC_RING) {
        /* overwritten before Redis had them */
        rec_drop(rp, (uint64_t)(rp->nb - REC_RING - rp->acked));
        rp->acked = rp->nb - REC_RING;
    }
    if (rp->sent < rp->acked) rp->sent = rp->acked;
    if (rp->sent >= rp->nb) return;
    struct rbuf *b = &rec_st->b;
    rb_begin(b);
    rb_str(b, "HSET");
    rb_str(b, rp->k_ts);
    for (int64_t q = rp->sent; q < rp->nb; q++) {
        const struct rec_bucket *k = &rp->ring[q % REC_RING];
        rb_fmt(b, "%lld", (long long)k->sec);
        rb_fmt(b, "new=%llu peak=%llu cur=%llu req=%llu err=%llu inflight=%llu faults=%llu up=%llu down=%llu",
               (unsigned long long)k->nnew, (unsigned long long)k->peak, (unsigned long long)k->cur,
               (unsigned long long)k->req, (unsigned long long)k->err, (unsigned long long)k->inflight,
               (unsigned long long)k->faults, (unsigned long long)k->up, (unsigned long long)k->down);
    }
    struct rec_cb *cb = rec_xcalloc(sizeof(*cb));
    cb->kind = CB_TS;
    cb->rp = rp;
    cb->upto = rp->nb;
    if (rec_send_cb(cb) < 0) {
        free(cb);                 /* stays in the ring: sent again next time */
        return;
    }
    rp->sent = rp->nb;
}

static void write_fault(struct rec_fault *rf)
{
    struct rec_fault_counters c = rf->base;
    fc_add(&c, &rf->last);
    struct rbuf *b = &rec_st->b;
    rb_begin(b);
    rb_str(b, "HSET");
    rb_str(b, rf->key);
    rb_kv_str(b, "proxy", rf->proxy);
    rb_kv_str(b, "type", rf->type);
#define REC_FC_WRITE(field) rb_kv_u64(b, #field, c.field);
    REC_FC_FIELDS(REC_FC_WRITE)
#undef REC_FC_WRITE
    rec_send_plain(NULL, 0);
}

/* A protocol's facts: its totals (HSET, absolute) and, for postgres, the state of its sessions
 * now (one stream entry per interval). Only while the proxy object is live. */
static void write_proto(struct rec_px *rp)
{
    const struct rec_facts *fx = &rp->facts;
    if (!rp->obj || !fx->totals) return;
    struct rbuf *b = &rec_st->b;
    struct rec_kv kv = {b, 0, 0};
    rb_begin(b);
    rb_str(b, "HSET");
    rb_str(b, rp->k_proto);
    fx->totals(fx->arg, &kv);
    if (kv.n) rec_send_plain(NULL, 0);
    if (!fx->state || rec_over_budget(rp)) return;
    kv.n = 0;
    rb_begin(b);
    rb_xadd_capped(b, rp->k_pgstate);
    rb_str(b, "at_ms");
    rb_ms(b, fl_wall_us());
    rb_kv_str(b, "inst", rec_st->inst);
    fx->state(fx->arg, &kv);
    rec_clipped(rp, kv.clipped);
    size_t len = b->len;
    int sent = rec_send_plain(rp, 1) == 0;
    if (sent) rec_spent(rp, len);
    if (sent && !rp->pgstate_expired) {
        rp->pgstate_expired = 1;
        rec_expire_key(rp->k_pgstate);
    }
}

/* Asks the daemon for its live proxies and faults (rec_observe_proxy, rec_observe_fault), then
 * forgets the objects it did not report. */
static void observe_objects(void)
{
    for (int i = 0; i < rec_st->npx; i++) rec_st->pxs[i]->seen = 0;
    for (int i = 0; i < rec_st->nfaults; i++) rec_st->faults[i]->seen = 0;
    rec_st->src.observe(rec_st->src.ctx);
    for (int i = 0; i < rec_st->npx; i++) {
        struct rec_px *rp = rec_st->pxs[i];
        if (!rp->seen && rp->obj) px_fold(rp, NULL);
    }
    for (int i = 0; i < rec_st->nfaults; i++) {
        struct rec_fault *rf = rec_st->faults[i];
        if (!rf->seen && rf->obj) fault_fold(rf, NULL);
    }
}

/* Closes the open bucket of every proxy (labelled with its start second). */
static void close_buckets(int64_t label_sec)
{
    for (int i = 0; i < rec_st->npx; i++) {
        struct rec_px *rp = rec_st->pxs[i];
        const struct rec_stats *px = rp->obj ? &rp->cur : NULL;
        struct rec_bucket *k = &rp->ring[rp->nb % REC_RING];
        memset(k, 0, sizeof(*k));
        k->sec = label_sec;
        k->nnew = rp->a_new;
        k->peak = rp->a_peak;
        k->faults = rp->a_faults;
        k->err = rp->a_err;
        k->inflight = rp->a_inflight;
        if (px) {
            k->cur = px->active;
            k->req = px->requests - rp->b_req;
            k->up = px->bytes_up - rp->b_up;
            k->down = px->bytes_down - rp->b_down;
            if (px->inflight > k->inflight) k->inflight = px->inflight;
            rp->b_req = px->requests;
            rp->b_up = px->bytes_up;
            rp->b_down = px->bytes_down;
        }
        if (k->cur > k->peak) k->peak = k->cur;
        rp->nb++;
        rp->a_new = rp->a_faults = rp->a_err = 0;
        rp->a_peak = px ? px->active : 0;
        rp->a_inflight = px ? px->inflight : 0;
    }
}

static void flush_all(void)
{
    evtimer_del(rec_st->batch_ev);
    rec_batch_flush();
    if (rec_st->src.meta_version(rec_st->src.ctx) != rec_st->meta_written && rec_st->ac) write_meta(0);
    for (int i = 0; i < rec_st->npx; i++) {
        write_counters(rec_st->pxs[i]);
        write_series(rec_st->pxs[i]);
        write_proto(rec_st->pxs[i]);
    }
    for (int i = 0; i < rec_st->nfaults; i++) write_fault(rec_st->faults[i]);
    if (rec_st->ac) rec_faultq_drain();
    int64_t now = fl_now_us();
    if (rec_st->ac && (rec_st->last_expire_us == 0 || now - rec_st->last_expire_us >= REC_EXPIRE_EVERY_US)) {
        rec_st->last_expire_us = now;
        rec_expire_key(rec_st->k_meta);
        rec_expire_key(rec_st->k_instances);
        rec_expire_key(rec_st->k_faults);
        for (int i = 0; i < rec_st->npx; i++) {
            rec_expire_key(rec_st->pxs[i]->k_counters);
            rec_expire_key(rec_st->pxs[i]->k_ts);
            rec_expire_key(rec_st->pxs[i]->k_events);
            const struct rec_px *rp = rec_st->pxs[i];
            if (rp->obj && rp->facts.totals) {
                rec_expire_key(rp->k_proto);
                if (rp->facts.state) rec_expire_key(rp->k_pgstate);
            }
        }
        for (int i = 0; i < rec_st->nfaults; i++) rec_expire_key(rec_st->faults[i]->key);
    }
    if (rec_st->dropped != rec_st->dropped_logged && now - rec_st->last_drop_log_us >= rec_st->interval_us) {
        log_warn("record_dropped", "dropped=%llu total=%llu redis=%s connected=%s",
                 (unsigned long long)(rec_st->dropped - rec_st->dropped_logged), (unsigned long long)rec_st->dropped,
                 log_q(rec_st->url_text), rec_st->up ? "yes" : "no");
        rec_st->dropped_logged = rec_st->dropped;
        rec_st->last_drop_log_us = now;
    }
}

static int64_t bucket_len_us(void)
{
    int64_t s = (rec_st->interval_us + 999999) / 1000000;
    return (s < 1 ? 1 : s) * 1000000;
}

/* The timer fires at the end of the open bucket, on wall-clock boundaries, so that every
 * instance labels the same second alike. */
static void arm_flush(void)
{
    int64_t d = rec_st->bucket_start_us + bucket_len_us() - fl_wall_us();
    if (d < 0) d = 0;
    struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
    evtimer_add(rec_st->flush_ev, &tv);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    int64_t L = bucket_len_us();
    int64_t now = fl_wall_us();
    observe_objects();
    close_buckets(rec_st->bucket_start_us / 1000000);
    rec_st->bucket_start_us += L;
    /* the loop stalled for more than a bucket, or the clock jumped: realign */
    if (now - rec_st->bucket_start_us >= L || rec_st->bucket_start_us > now + L) rec_st->bucket_start_us = now / L * L;
    flush_all();
    arm_flush();
}

/* ---- start / stop ---- */

int rec_start(const struct rec_config *cfg, char *err, size_t errlen)
{
    if (!cfg->redis[0]) return 0;
    struct rec_url u;
    char e[700];
    if (rec_url_parse(cfg->redis, &u, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "[faultline] %s", e);
        return -1;
    }
    if (!u.is_unix) {
        /* resolve once, now (before serving): reconnects never block the loop on DNS */
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        int rc = getaddrinfo(u.host, NULL, &hints, &res);
        if (rc != 0 || !res) {
            snprintf(err, errlen, "[faultline] redis: cannot resolve '%s': %s", u.host, gai_strerror(rc));
            return -1;
        }
        char ip[128];
        if (getnameinfo(res->ai_addr, res->ai_addrlen, ip, sizeof(ip), NULL, 0, NI_NUMERICHOST) == 0)
            snprintf(u.host, sizeof(u.host), "%s", ip);
        freeaddrinfo(res);
    }
    struct rec *r = rec_xcalloc(sizeof(*r));
    rec_st = r;
    rec_active = 1;
    r->base = cfg->base;
    r->src = cfg->src;
    r->url = u;
    rec_mask_url(cfg->redis, r->url_text, sizeof(r->url_text));
    r->started_wall_us = fl_wall_us();
    r->interval_us = cfg->interval_us > 0 ? cfg->interval_us : 1000000;
    r->max_bytes = cfg->max_bytes;
    r->ttl_s = cfg->retention_us / 1000000;
    if (r->ttl_s < 1) r->ttl_s = 1;
    if (cfg->run[0]) {
        snprintf(r->run, sizeof(r->run), "%s", cfg->run);
    } else {
        time_t t = (time_t)(r->started_wall_us / 1000000);
        struct tm tm;
        gmtime_r(&t, &tm);
        char ts[32];
        strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", &tm);
        unsigned x = (unsigned)((uint64_t)r->started_wall_us ^ ((uint64_t)getpid() << 16)) * 2654435761u;
        snprintf(r->run, sizeof(r->run), "%s-%04x", ts, (x >> 16) & 0xffff);
    }
    if (cfg->instance[0]) {
        snprintf(r->inst, sizeof(r->inst), "%s", cfg->instance);
    } else {
        char host[128] = "";
        gethostname(host, sizeof(host) - 1);
        snprintf(r->inst, sizeof(r->inst), "%s-%d", host[0] ? host : "host", (int)getpid());
    }
    r->k_meta = xstrdup_printf("fl:run:%s:meta:%s", r->run, r->inst);
    r->k_instances = xstrdup_printf("fl:run:%s:instances", r->run);
    r->k_faults = xstrdup_printf("fl:run:%s:faults", r->run);
    r->reconnect_ev = evtimer_new(r->base, rec_reconnect_cb, NULL);
    r->flush_ev = evtimer_new(r->base, flush_cb, NULL);
    r->kill_ev = evtimer_new(r->base, rec_kill_cb, NULL);
    r->batch_ev = evtimer_new(r->base, rec_batch_cb, NULL);
    int64_t L = bucket_len_us();
    r->bucket_start_us = r->started_wall_us / L * L;
    log_info("recording", "run=%s instance=%s redis=%s interval_ms=%lld retention_s=%lld", log_q(r->run),
             log_q(r->inst), log_q(r->url_text), (long long)(r->interval_us / 1000), (long long)r->ttl_s);
    rec_connect_now();
    arm_flush();
    return 0;
}

static void stop_timer_cb(evutil_socket_t fd, short what, void *arg) { *(int *)arg = 1; }

void rec_stop(void)
{
    struct rec *r = rec_st;
    if (!r) return;
    r->stopping = 1;
    evtimer_del(r->flush_ev);
    evtimer_del(r->reconnect_ev);
    evtimer_del(r->batch_ev);
    observe_objects();
    close_buckets(r->bucket_start_us / 1000000);
    if (r->ac) {
        flush_all();
        write_meta(1);
        rec_expire_key(r->k_meta);
        rec_expire_key(r->k_faults);
        for (int i = 0; i < r->npx; i++) rec_expire_key(r->pxs[i]->k_events);
        /* run the loop until Redis answered everything, bounded */
        int expired = 0;
        struct event *t = evtimer_new(r->base, stop_timer_cb, &expired);
        struct timeval tv = {REC_STOP_FLUSH_US / 1000000, REC_STOP_FLUSH_US % 1000000};
        evtimer_add(t, &tv);
        while (r->ac && (r->inflight || r->nq || !r->up) && !expired) event_base_loop(r->base, EVLOOP_ONCE);
        event_free(t);
    }
    rec_batch_flush();                   /* without a connection: counted as dropped */
    r->stopping = 2;
    if (r->dropped)
        log_warn("record_dropped", "total=%llu run=%s", (unsigned long long)r->dropped, log_q(r->run));
    if (r->ac) {
        redisAsyncContext *ac = r->ac;
        redisAsyncFree(ac);
        r->ac = NULL;
    }
    log_info("recorded", "run=%s instance=%s dropped=%llu", log_q(r->run), log_q(r->inst), (unsigned long long)r->dropped);
    for (int i = 0; i < r->nfaultq; i++) { free(r->faultq[i]->cmd); free(r->faultq[i]); }
    /* (the core forgets the entries it kept: record.h) */
    for (int i = 0; i < r->npx; i++) {
        free(r->pxs[i]->k_counters);
        free(r->pxs[i]->k_ts);
        free(r->pxs[i]->k_events);
        free(r->pxs[i]->k_proto);
        free(r->pxs[i]->k_pgstate);
        free(r->pxs[i]);
    }
    for (int i = 0; i < r->nfaults; i++) { free(r->faults[i]->key); free(r->faults[i]); }
    free(r->pxs);
    free(r->faults);
    free(r->k_meta);
    free(r->k_instances);
    free(r->k_faults);
    event_free(r->reconnect_ev);
    event_free(r->flush_ev);
    event_free(r->kill_ev);
    event_free(r->batch_ev);
    free(r->q.p);
    free(r->b.p);
    free(r);
    rec_st = NULL;
    rec_active = 0;
}

/* ---- hooks ---- */

void rec_conn_open(struct rec_px *rp, uint64_t active)
{
    if (!rec_st || !rp) return;
    rp->a_new++;
    if (active > rp->a_peak) rp->a_peak = active;
}

void rec_fault_applied(struct rec_px *rp)
{
    if (!rec_st || !rp) return;
    rp->a_faults++;
    rp->faults_applied++;
}

/* ---- the run's budget in Redis (record_max_bytes) and clipped fields ----
 * Every entry of a stream (events, pgstate) is charged its size when queued; once the run has
 * spent its budget, entries are counted (over_budget) and not written. Counters, series and
 * meta are rewritten in place (bounded by the number of proxies and the retention): they never
 * stop. */

int rec_over_budget(struct rec_px *rp)
{
    if (!rec_st->max_bytes || rec_st->bytes < rec_st->max_bytes) return 0;
    rp->over_budget++;
    rec_st->over_budget++;
    if (!rec_st->budget_logged) {
        rec_st->budget_logged = 1;
        log_warn("record_budget_reached", "run=%s max_bytes=%llu action=counting_events_not_writing_them",
                 log_q(rec_st->run), (unsigned long long)rec_st->max_bytes);
    }
    return 1;
}

void rec_spent(struct rec_px *rp, size_t len)
{
    rec_st->bytes += len;
    rp->written++;
}

void rec_clipped(struct rec_px *rp, unsigned n)
{
    rp->clipped += n;
    rec_st->clipped += n;
}

/* A text field from a peer (a path, a host...), clipped (common/text.h) and counted. */
static void kv_clip(struct rec_px *rp, const char *k, const char *v)
{
    struct rec_kv kv = {&rec_st->b, 0, 0};
    rec_kv_str(&kv, k, v);
    rec_clipped(rp, kv.clipped);
}

/* Starts one event of the proxy's capped stream in rec_st->b: XADD <events> MAXLEN ~ N * kind K
 * inst I. -1 when there is no connection to send it on: the event is dropped (counted), not
 * formatted. The caller adds its fields and ends with event_send(). */
static int event_begin(struct rec_px *rp, const char *kind)
{
    if (rec_over_budget(rp)) return -1;
    if (!rec_st->ac) {
        rec_drop(rp, 1);
        return -1;
    }
    struct rbuf *b = &rec_st->b;
    rb_begin(b);
    rb_xadd_capped(b, rp->k_events);
    rb_kv_str(b, "kind", kind);
    rb_kv_str(b, "inst", rec_st->inst);
    return 0;
}

static void events_expire(struct rec_px *rp)
{
    if (rp->events_expired || !rec_st->ac) return;
    rp->events_expired = 1;
    rb_expire(rp->k_events);
    rec_queue_plain(NULL, 0);            /* queued behind the XADD that creates the stream */
}

/* Queues the event in rec_st->b (a record: a drop is counted) and, with the first one on this
 * connection, the stream's EXPIRE. */
static void event_send(struct rec_px *rp)
{
    size_t len = rec_st->b.len;
    if (rec_queue_plain(rp, 1) == 0) {
        rec_spent(rp, len);
        events_expire(rp);
    }
}

/* The fields of a closing connection's calls as turns (docs/metrics.md, call_*): the longest
 * answered one, and the one still open at the close (no bytes delivered since the client spoke,
 * or bytes still held by a fault towards the client). */
static void conn_turns(struct rbuf *b, const struct rec_conn *c, int64_t off)
{
    int64_t tmax = c->turn_max_us, tmax_at = c->t_turn_max, open = 0;
    uint64_t pend = c->pending_down;
    if (c->t_turn) {
        if (c->t_last_down > c->t_turn && !pend) {
            if (c->t_last_down - c->t_turn > tmax) { tmax = c->t_last_down - c->t_turn; tmax_at = c->t_turn; }
        } else {
            open = c->t_turn;
        }
    }
    if (tmax_at) {
        rb_dur(b, "call_max_ms", tmax);
        rb_time(b, "call_max_at_ms", tmax_at, off);
    }
    rb_time(b, "call_open_ms", open, off);
    if (pend) rb_kv_u64(b, "pending_down", pend);
    rb_time(b, "client_eof_ms", c->t_cli_eof, off);
}

void rec_conn_close(struct rec_px *rp, const struct rec_conn *c)
{
    if (!rec_st || rec_st->stopping > 1 || !rp) return;
    if (event_begin(rp, "conn") < 0) return;
    int64_t off = fl_wall_us() - fl_now_us();
    struct rbuf *b = &rec_st->b;
    char peer[64];
    rb_kv_u64(b, "id", c->id);
    rb_kv_str(b, "peer", sockaddr_str(c->peer, peer, sizeof(peer)));
    rb_time(b, "open_ms", c->t_open, off);
    rb_time(b, "connected_ms", c->t_connected, off);
    rb_time(b, "first_up_ms", c->t_first_up, off);
    rb_time(b, "first_down_ms", c->t_first_down, off);
    rb_time(b, "last_up_ms", c->t_last_up, off);
    rb_time(b, "hang_ms", c->t_hang, off);
    rb_time(b, "hang_end_ms", c->t_hang_end, off);
    if (c->t_gave_up) {
        rb_time(b, "gave_up_ms", c->t_gave_up, off);
        int64_t from = c->t_hang > c->t_last_up ? c->t_hang : c->t_last_up;
        if (from) rb_dur(b, "waited_ms", c->t_gave_up - from);
    }
    if (c->held_at_end) rb_kv_str(b, "held_at_end", "1");
    conn_turns(b, c, off);
    rb_time(b, "close_ms", c->t_close ? c->t_close : fl_now_us(), off);
    rb_kv_str(b, "closed_by", c->closed_by);
    if (c->fault && c->fault[0]) rb_kv_str(b, "fault", c->fault);
    rb_kv_u64(b, "bytes_up", c->bytes_up);
    rb_kv_u64(b, "bytes_down", c->bytes_down);
    if (c->upstream_failed) rb_kv_str(b, "upstream_failed", "1");
    struct rec_kv kv = {b, 0, 0};
    if (c->facts) c->facts(c->facts_arg, &kv);
    rec_clipped(rp, kv.clipped);
    event_send(rp);
}

void rec_request_start(struct rec_px *rp, uint64_t inflight)
{
    if (!rec_st || !rp) return;
    if (inflight > rp->a_inflight) rp->a_inflight = inflight;
}

/* How a request ended, for the service's own view (ingress proxies, docs/metrics.md): done (a
 * whole response), aborted (the client left first), inflight (still open when the proxy closed
 * the connection: the run or the daemon stopped), reset (no whole response: the upstream closed
 * or reset mid-way, or a reset fault). */
static const char *req_end(const struct rec_request *q)
{
    if (q->t_abandoned) return "aborted";
    if (q->t_done) return q->status > 0 ? "done" : "reset";
    if (q->held_at_end || q->closed_by_proxy) return "inflight";
    return "reset";
}

void rec_request(struct rec_px *rp, const struct rec_request *q)
{
    if (!rec_st || rec_st->stopping > 1 || !rp) return;
    if (q->status >= 500 || q->failed || (q->status == 0 && !q->t_abandoned)) rp->a_err++;
    if (event_begin(rp, "request") < 0) return;
    int64_t off = fl_wall_us() - fl_now_us();
    struct rbuf *b = &rec_st->b;
    rb_kv_u64(b, "conn", q->conn);
    rec_clipped(rp, q->clipped);
    if (q->method && *q->method) kv_clip(rp, "method", q->method);
    if (q->path && *q->path) kv_clip(rp, "path", q->path);
    if (q->host && *q->host) kv_clip(rp, "host", q->host);
    rb_kv_u64(b, "status", q->status > 0 ? (uint64_t)q->status : 0);
    rb_time(b, "req_ms", q->t_req, off);
    if (q->t_forwarded && q->t_resp_head) rb_dur(b, "upstream_ms", q->t_resp_head - q->t_forwarded);
    int64_t end = q->t_done ? q->t_done : q->t_abandoned;
    if (q->t_req && end) rb_dur(b, "total_ms", end - q->t_req);
    if (q->fault && *q->fault) rb_kv_str(b, "fault", q->fault);
    if (q->t_abandoned && q->t_req) rb_dur(b, "abandoned_ms", q->t_abandoned - q->t_req);
    if (q->held_at_end) rb_kv_str(b, "held_at_end", "1");
    rb_kv_str(b, "end", req_end(q));
    if (!q->upstream_connected) rb_kv_str(b, "upstream_failed", "1");
    rb_kv_u64(b, "bytes_req", q->bytes_req);
    rb_kv_u64(b, "bytes_resp", q->bytes_resp);
    if (q->request_id && *q->request_id) kv_clip(rp, "request_id", q->request_id);
    if (q->body_whole) {
        char hx[17];
        static const char dig[] = "0123456789abcdef";
        for (int i = 0; i < 16; i++) hx[i] = dig[(q->body_hash >> (60 - 4 * i)) & 15];
        hx[16] = 0;
        rb_kv_str(b, "body_hash", hx);
    }
    struct rec_kv kv = {b, 0, 0};
    if (q->facts) q->facts(q->facts_arg, &kv);
    rec_clipped(rp, kv.clipped);
    event_send(rp);
}

void rec_query(struct rec_px *rp, const struct rec_query *q)
{
    if (!rec_st || rec_st->stopping > 1 || !rp) return;
    if (q->error) rp->a_err++;
    if (event_begin(rp, "request") < 0) return;
    struct rbuf *b = &rec_st->b;
    rb_kv_u64(b, "conn", q->id);
    rb_kv_str(b, "peer", sockaddr_str(q->peer, (char[64]){0}, 64));   /* a buffer for this statement */
    const char *kv[][2] = {{"transport", q->transport}, {"name", q->name}, {"qtype", q->qtype}, {"method", q->qtype}, {"path", q->name},
                           {"rcode", q->rcode}, {"answer", q->answer}, {"fault", q->fault}, {"forwarded", q->forwarded ? "1" : NULL}};
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        if (kv[i][1] && *kv[i][1]) kv_clip(rp, kv[i][0], kv[i][1]);
    rb_time(b, "req_ms", q->t_req, fl_wall_us() - fl_now_us());
    if (q->t_req && q->t_done) rb_dur(b, "total_ms", q->t_done - q->t_req);
    rb_kv_str(b, "end", q->end);
    event_send(rp);
}

static void write_fault_window(const struct rec_fault_window *w)
{
    struct rbuf *b = &rec_st->b;
    rb_begin(b);
    rb_str(b, "XADD");
    rb_str(b, rec_st->k_faults);
    rb_str(b, "*");
    rb_kv_str(b, "fault", w->name);
    rb_kv_str(b, "proxy", w->proxy);
    rb_kv_str(b, "type", w->type);
    rb_kv_str(b, "inst", rec_st->inst);
    rb_kv_str(b, "event", w->active ? "start" : "end");
    rb_str(b, "at_ms");
    rb_ms(b, fl_wall_us());
    if (!w->active) rb_kv_str(b, "reason", w->reason);
    size_t len;
    const char *cmd = rb_end(b, &len);
    struct rec_cb *cb = rec_xcalloc(sizeof(*cb));
    cb->kind = CB_FAULTWIN;
    cb->cmd = malloc(len);
    if (!cb->cmd) abort();
    memcpy(cb->cmd, cmd, len);
    cb->cmdlen = len;
    cb->bytes = len;
    if (rec_st->nfaultq || rec_send_cmd(cb->cmd, len, cb) < 0) rec_faultq_push(cb, 0);
}

void rec_fault_window(const struct rec_fault_window *w)
{
    if (!rec_st || rec_st->stopping > 1) return;
    write_fault_window(w);
    if (!w->active && w->removing) {
        /* the object is about to be freed: keep its final counters */
        struct rec_fault *rf = fault_entry(w->name, w->proxy);
        if (rf->obj == w->obj) {
            rf->last = w->c;
            fault_fold(rf, NULL);
        } else if (!rf->obj) {
            fc_add(&rf->base, &w->c);
            snprintf(rf->type, sizeof(rf->type), "%s", w->type);
        }
    }
}
