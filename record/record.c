/* record.c -- the recorder: what every proxy saw, written to Redis per run (docs/metrics.md).
 * This file holds what is recorded: entries per proxy and per fault, counters, series buckets,
 * meta, fault windows, the hooks, start and stop. The Redis side (the RESP builder, the command
 * pipeline, the connection) is record_redis.c; what both share is record_int.h.
 *
 * The verifier judges a service from the record, so the record must be exact when Redis is
 * there and must never cost the data path anything when it is not. Hence:
 *
 *   - The hooks the daemon calls (rec_conn_open, rec_fault_applied, ...) only bump a few
 *     counters in the proxy's recorder entry (px->rec). Only a connection's close (and an http
 *     request's end) formats a Redis command, into a reusable buffer.
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
 * What the recorder does not do: read the record back (verify/), or decide anything about faults.
 * Entries per proxy and per fault are kept by name for the whole run and outlive the daemon's
 * objects (a reload may free and recreate them); totals of an earlier object with the same name
 * are carried as a base so counters never go backwards.
 */
#include "record/record_int.h"
#include "proxy/proxy.h"
#include "common/log.h"
#include "common/version.h"
#include "proxy/protocol.h"

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
static void stats_add(struct proxy_stats *to, const struct proxy_stats *a)
{
    to->accepted += a->accepted;
    if (a->peak_active > to->peak_active) to->peak_active = a->peak_active;
    to->upstream_ok += a->upstream_ok;
    to->upstream_failed += a->upstream_failed;
    for (int i = 0; i < 5; i++) to->closed_by[i] += a->closed_by[i];
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

/* The entry's object is gone or replaced by px (NULL: gone): its last values join the base. */
static void px_fold(struct rec_px *rp, struct fl_proxy *px)
{
    stats_add(&rp->base, &rp->last);   /* zero when already folded */
    memset(&rp->last, 0, sizeof(rp->last));
    rp->px = px;
}

/* A proxy object the recorder has not seen yet (px->rec == NULL): attach it to its name. An
 * earlier object with that name is folded into the base. */
static struct rec_px *px_attach(struct fl_proxy *px)
{
    struct rec_px *rp = px_entry(px->spec.name);
    px_fold(rp, px);
    rp->b_req = rp->b_up = rp->b_down = 0;
    px->rec = rp;
    return rp;
}

static inline struct rec_px *px_rec(struct fl_proxy *px)
{
    return px->rec ? (struct rec_px *)px->rec : px_attach(px);
}

static struct rec_fault *fault_entry(const struct fault *f)
{
    for (int i = 0; i < rec_st->nfaults; i++)
        if (!strcmp(rec_st->faults[i]->name, f->name)) return rec_st->faults[i];
    struct rec_fault *rf = rec_xcalloc(sizeof(*rf));
    snprintf(rf->name, sizeof(rf->name), "%s", f->name);
    rf->key = xstrdup_printf("fl:run:%s:fault:%s:%s", rec_st->run, f->name, rec_st->inst);
    rec_st->faults = grow_one(rec_st->faults, rec_st->nfaults, sizeof(*rec_st->faults));
    rec_st->faults[rec_st->nfaults++] = rf;
    return rf;
}

/* Every field of struct fault_counters (faults/fault.h), in the order write_fault sends them;
 * each is a total that only grows and is written under its own name (docs/metrics.md). Adding,
 * comparing and writing go field by field over this one list, so a new counter is added here. */
#define REC_FC_FIELDS(X) \
    X(conns_seen) X(conns_affected) X(bytes_delayed) X(bytes_held) X(bytes_dropped) \
    X(closes) X(resets) X(abandoned) X(refused) X(requests_affected)

static void fc_add(struct fault_counters *to, const struct fault_counters *a)
{
#define REC_FC_ADD(field) to->field += a->field;
    REC_FC_FIELDS(REC_FC_ADD)
#undef REC_FC_ADD
}

/* A fault object reused by name (or a recycled address) shows as counters going backwards. */
static int fc_went_back(const struct fault_counters *n, const struct fault_counters *l)
{
#define REC_FC_BACK(field) if (n->field < l->field) return 1;
    REC_FC_FIELDS(REC_FC_BACK)
#undef REC_FC_BACK
    return 0;
}

/* The entry's object is gone or replaced by f (NULL: gone): its last values join the base. */
static void fault_fold(struct rec_fault *rf, struct fault *f)
{
    fc_add(&rf->base, &rf->last);     /* zero when already folded */
    memset(&rf->last, 0, sizeof(rf->last));
    rf->f = f;
}

/* Notes the live object f for its entry (at flush time, when f is known to be alive). */
static void fault_observe(struct rec_fault *rf, struct fault *f)
{
    if (rf->f != f || fc_went_back(&f->c, &rf->last)) fault_fold(rf, f);
    rf->last = f->c;
    snprintf(rf->proxy, sizeof(rf->proxy), "%s", f->proxy);
    snprintf(rf->type, sizeof(rf->type), "%s", f->type ? f->type->name : "");
    rf->seen = 1;
}

/* ---- writing the record ---- */

static void write_meta(int ended)
{
    struct fl_server *s = rec_st->s;
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
    if (s->prof && s->prof->text) rb_kv_str(b, "profile", s->prof->text);
    char plist[4096];
    size_t o = 0;
    plist[0] = 0;
    for (int i = 0; i < s->nproxies && o < sizeof(plist) - 1; i++)
        o += (size_t)snprintf(plist + o, sizeof(plist) - o, "%s%s", i ? "," : "", s->proxies[i]->spec.name);
    if (o >= sizeof(plist)) o = sizeof(plist) - 1;
    rb_kv_str(b, "proxies", plist);
    for (int i = 0; i < s->nproxies; i++) {    /* role:<proxy> = ingress|egress (docs/metrics.md) */
        char k[160];
        snprintf(k, sizeof(k), "role:%s", s->proxies[i]->spec.name);
        rb_kv_str(b, k, s->proxies[i]->spec.role == ROLE_INGRESS ? "ingress" : "egress");
    }
    rb_kv_u64(b, "record_dropped", rec_st->dropped);
    if (ended) {
        rb_str(b, "ended_ms");
        rb_ms(b, fl_wall_us());
    }
    rec_send_plain(NULL, 0);
    rec_st->prof_written = s->prof;
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
    struct proxy_stats st = rp->base;
    if (rp->px) stats_add(&st, &rp->px->st);
    uint64_t peak = rp->base.peak_active;
    if (rp->px && rp->px->st.peak_active > peak) peak = rp->px->st.peak_active;
    struct rbuf *b = &rec_st->b;
    rb_begin(b);
    rb_str(b, "HSET");
    rb_str(b, rp->k_counters);
    rb_kv_u64(b, "accepted", st.accepted);
    rb_kv_u64(b, "upstream_ok", st.upstream_ok);
    rb_kv_u64(b, "upstream_failed", st.upstream_failed);
    rb_kv_u64(b, "closed_client", st.closed_by[CLOSER_CLIENT]);
    rb_kv_u64(b, "closed_upstream", st.closed_by[CLOSER_UPSTREAM]);
    rb_kv_u64(b, "closed_proxy", st.closed_by[CLOSER_PROXY]);
    rb_kv_u64(b, "closed_fault", st.closed_by[CLOSER_FAULT]);
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
    rb_kv_u64(b, "active", rp->px ? rp->px->st.active : 0);
    rb_kv_u64(b, "record_dropped", rp->dropped);
    rec_send_plain(NULL, 0);
    if (rp->px) rp->last = rp->px->st;
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
    struct fault_counters c = rf->base;
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

/* Protocol modes: the module's totals (HSET, absolute) and, for postgres, the state of its
 * sessions now (one stream entry per interval). Only while the proxy object is live. */
static void write_proto(struct rec_px *rp)
{
    struct fl_proxy *px = rp->px;
    const struct protocol *pr = px ? px->spec.protocol : NULL;
    if (!pr || !pr->totals_facts) return;
    struct rbuf *b = &rec_st->b;
    struct rec_kv kv = {b, 0};
    rb_begin(b);
    rb_str(b, "HSET");
    rb_str(b, rp->k_proto);
    pr->totals_facts(px, &kv);
    if (kv.n) rec_send_plain(NULL, 0);
    if (!pr->state_facts) return;
    kv.n = 0;
    rb_begin(b);
    rb_xadd_capped(b, rp->k_pgstate);
    rb_str(b, "at_ms");
    rb_ms(b, fl_wall_us());
    rb_kv_str(b, "inst", rec_st->inst);
    pr->state_facts(px, &kv);
    if (rec_send_plain(rp, 1) == 0 && !rp->pgstate_expired) {
        rp->pgstate_expired = 1;
        rec_expire_key(rp->k_pgstate);
    }
}

/* Walks the daemon's live proxies and faults: attaches new objects, forgets freed ones. */
static void observe_proxy(struct fl_proxy *px)
{
    struct rec_px *rp = px_rec(px);
    if (rp->px == px) rp->seen = 1;
    for (int j = 0; j < px->nfaults; j++) fault_observe(fault_entry(px->faults[j]), px->faults[j]);
}

static void observe_objects(void)
{
    struct fl_server *s = rec_st->s;
    for (int i = 0; i < rec_st->npx; i++) rec_st->pxs[i]->seen = 0;
    for (int i = 0; i < rec_st->nfaults; i++) rec_st->faults[i]->seen = 0;
    for (int i = 0; i < s->nproxies; i++) observe_proxy(s->proxies[i]);
    for (struct fl_proxy *px = s->retired; px; px = px->next_retired) observe_proxy(px);
    for (int i = 0; i < rec_st->npx; i++) {
        struct rec_px *rp = rec_st->pxs[i];
        if (!rp->seen && rp->px) px_fold(rp, NULL);
    }
    for (int i = 0; i < rec_st->nfaults; i++) {
        struct rec_fault *rf = rec_st->faults[i];
        if (!rf->seen && rf->f) fault_fold(rf, NULL);
    }
}

/* Closes the open bucket of every proxy (labelled with its start second). */
static void close_buckets(int64_t label_sec)
{
    for (int i = 0; i < rec_st->npx; i++) {
        struct rec_px *rp = rec_st->pxs[i];
        struct fl_proxy *px = rp->px;
        struct rec_bucket *k = &rp->ring[rp->nb % REC_RING];
        memset(k, 0, sizeof(*k));
        k->sec = label_sec;
        k->nnew = rp->a_new;
        k->peak = rp->a_peak;
        k->faults = rp->a_faults;
        k->err = rp->a_err;
        k->inflight = rp->a_inflight;
        if (px) {
            k->cur = px->st.active;
            k->req = px->st.requests - rp->b_req;
            k->up = px->st.bytes_up - rp->b_up;
            k->down = px->st.bytes_down - rp->b_down;
            if (px->st.inflight > k->inflight) k->inflight = px->st.inflight;
            rp->b_req = px->st.requests;
            rp->b_up = px->st.bytes_up;
            rp->b_down = px->st.bytes_down;
        }
        if (k->cur > k->peak) k->peak = k->cur;
        rp->nb++;
        rp->a_new = rp->a_faults = rp->a_err = 0;
        rp->a_peak = px ? px->st.active : 0;
        rp->a_inflight = px ? px->st.inflight : 0;
    }
}

static void flush_all(void)
{
    evtimer_del(rec_st->batch_ev);
    rec_batch_flush();
    if (rec_st->s->prof != rec_st->prof_written && rec_st->ac) write_meta(0);
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
            struct fl_proxy *px = rec_st->pxs[i]->px;
            if (px && px->spec.protocol->totals_facts) {
                rec_expire_key(rec_st->pxs[i]->k_proto);
                if (px->spec.protocol->state_facts) rec_expire_key(rec_st->pxs[i]->k_pgstate);
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

int rec_start(struct fl_server *s, char *err, size_t errlen)
{
    if (!s->g.redis[0]) return 0;
    struct rec_url u;
    char e[700];
    if (rec_url_parse(s->g.redis, &u, e, sizeof(e)) < 0) {
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
    r->s = s;
    r->url = u;
    rec_mask_url(s->g.redis, r->url_text, sizeof(r->url_text));
    r->started_wall_us = fl_wall_us();
    r->interval_us = s->g.record_interval_us > 0 ? s->g.record_interval_us : 1000000;
    r->ttl_s = s->g.retention_us / 1000000;
    if (r->ttl_s < 1) r->ttl_s = 1;
    if (s->g.run[0]) {
        snprintf(r->run, sizeof(r->run), "%s", s->g.run);
    } else {
        time_t t = (time_t)(r->started_wall_us / 1000000);
        struct tm tm;
        gmtime_r(&t, &tm);
        char ts[32];
        strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", &tm);
        unsigned x = (unsigned)((uint64_t)r->started_wall_us ^ ((uint64_t)getpid() << 16)) * 2654435761u;
        snprintf(r->run, sizeof(r->run), "%s-%04x", ts, (x >> 16) & 0xffff);
        snprintf(s->g.run, sizeof(s->g.run), "%s", r->run);
    }
    if (s->g.instance[0]) {
        snprintf(r->inst, sizeof(r->inst), "%s", s->g.instance);
    } else {
        char host[128] = "";
        gethostname(host, sizeof(host) - 1);
        snprintf(r->inst, sizeof(r->inst), "%s-%d", host[0] ? host : "host", (int)getpid());
    }
    r->k_meta = xstrdup_printf("fl:run:%s:meta:%s", r->run, r->inst);
    r->k_instances = xstrdup_printf("fl:run:%s:instances", r->run);
    r->k_faults = xstrdup_printf("fl:run:%s:faults", r->run);
    r->reconnect_ev = evtimer_new(s->base, rec_reconnect_cb, NULL);
    r->flush_ev = evtimer_new(s->base, flush_cb, NULL);
    r->kill_ev = evtimer_new(s->base, rec_kill_cb, NULL);
    r->batch_ev = evtimer_new(s->base, rec_batch_cb, NULL);
    int64_t L = bucket_len_us();
    r->bucket_start_us = r->started_wall_us / L * L;
    for (int i = 0; i < s->nproxies; i++) px_rec(s->proxies[i]);
    log_info("recording", "run=%s instance=%s redis=%s interval_ms=%lld retention_s=%lld", log_q(r->run),
             log_q(r->inst), log_q(r->url_text), (long long)(r->interval_us / 1000), (long long)r->ttl_s);
    rec_connect_now();
    arm_flush();
    return 0;
}

static void write_fault_window(struct fault *f, int active, const char *reason);

static void stop_timer_cb(evutil_socket_t fd, short what, void *arg) { *(int *)arg = 1; }

void rec_stop(struct fl_server *s)
{
    struct rec *r = rec_st;
    if (!r) return;
    r->stopping = 1;
    evtimer_del(r->flush_ev);
    evtimer_del(r->reconnect_ev);
    evtimer_del(r->batch_ev);
    /* faults still acting when the run ends */
    for (int i = 0; i < s->nproxies; i++)
        for (int j = 0; j < s->proxies[i]->nfaults; j++)
            if (s->proxies[i]->faults[j]->phase == FAULT_ACTIVE)
                write_fault_window(s->proxies[i]->faults[j], 0, "stopped");
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
        struct event *t = evtimer_new(s->base, stop_timer_cb, &expired);
        struct timeval tv = {REC_STOP_FLUSH_US / 1000000, REC_STOP_FLUSH_US % 1000000};
        evtimer_add(t, &tv);
        while (r->ac && (r->inflight || r->nq || !r->up) && !expired) event_base_loop(s->base, EVLOOP_ONCE);
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
    /* the daemon's objects keep pointers to our entries: forget them */
    for (int i = 0; i < s->nproxies; i++) s->proxies[i]->rec = NULL;
    for (struct fl_proxy *px = s->retired; px; px = px->next_retired) px->rec = NULL;
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
}

/* ---- hooks ---- */

void rec_conn_open(struct conn *c)
{
    if (!rec_st) return;
    struct rec_px *rp = px_rec(c->px);
    rp->a_new++;
    if (c->px->st.active > rp->a_peak) rp->a_peak = c->px->st.active;
}

void rec_fault_applied(struct fault *f, struct conn *c)
{
    if (!rec_st || !c) return;
    struct rec_px *rp = px_rec(c->px);
    rp->a_faults++;
    rp->faults_applied++;
}

/* Starts one event of the proxy's capped stream in rec_st->b: XADD <events> MAXLEN ~ N * kind K
 * inst I. -1 when there is no connection to send it on: the event is dropped (counted), not
 * formatted. The caller adds its fields and ends with event_send(). */
static int event_begin(struct rec_px *rp, const char *kind)
{
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
    if (rec_queue_plain(rp, 1) == 0) events_expire(rp);
}

void rec_conn_close(struct conn *c)
{
    if (!rec_st || rec_st->stopping > 1) return;
    struct rec_px *rp = px_rec(c->px);
    if (event_begin(rp, "conn") < 0) return;
    int64_t off = fl_wall_us() - fl_now_us();
    struct rbuf *b = &rec_st->b;
    rb_kv_u64(b, "id", c->id);
    rb_kv_str(b, "peer", conn_peer(c));
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
    /* calls as turns: the longest answered one, and the one still open at the close (no bytes
     * delivered since the client spoke, or bytes still held by a fault towards the client) */
    {
        int64_t tmax = c->turn_max_us, tmax_at = c->t_turn_max, open = 0;
        uint64_t pend = 0;
        if (!c->proto && c->p[1].bytes_in > c->p[1].bytes) pend = c->p[1].bytes_in - c->p[1].bytes;
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
    rb_time(b, "close_ms", c->t_close ? c->t_close : fl_now_us(), off);
    rb_kv_str(b, "closed_by", closer_str(c->closed_by));
    if (c->fault_name[0]) rb_kv_str(b, "fault", c->fault_name);
    rb_kv_u64(b, "bytes_up", c->p[0].bytes);
    rb_kv_u64(b, "bytes_down", c->p[1].bytes);
    if (!c->t_connected && c->closed_by == CLOSER_PROXY) rb_kv_str(b, "upstream_failed", "1");
    struct rec_kv kv = {b, 0};
    if (c->px->spec.protocol->conn_facts) c->px->spec.protocol->conn_facts(c, &kv);
    event_send(rp);
}

void rec_request_start(struct conn *c)
{
    if (!rec_st) return;
    struct rec_px *rp = px_rec(c->px);
    if (c->px->st.inflight > rp->a_inflight) rp->a_inflight = c->px->st.inflight;
}

/* How a request ended, for the service's own view (ingress proxies, docs/metrics.md): done (a
 * whole response), aborted (the client left first), inflight (still open when the proxy closed
 * the connection: the run or the daemon stopped), reset (no whole response: the upstream closed
 * or reset mid-way, or a reset fault). */
static const char *req_end(const struct conn *c, const struct rec_request *q)
{
    if (q->t_abandoned) return "aborted";
    if (q->t_done) return q->status > 0 ? "done" : "reset";
    if (q->held_at_end || c->closed_by == CLOSER_PROXY) return "inflight";
    return "reset";
}

void rec_request(struct conn *c, const struct rec_request *q)
{
    if (!rec_st || rec_st->stopping > 1) return;
    struct rec_px *rp = px_rec(c->px);
    if (q->status >= 500 || (q->status == 0 && !q->t_abandoned)) rp->a_err++;
    if (event_begin(rp, "request") < 0) return;
    int64_t off = fl_wall_us() - fl_now_us();
    struct rbuf *b = &rec_st->b;
    rb_kv_u64(b, "conn", c->id);
    if (q->method && *q->method) rb_kv_str(b, "method", q->method);
    if (q->path && *q->path) rb_kv_str(b, "path", q->path);
    if (q->host && *q->host) rb_kv_str(b, "host", q->host);
    rb_kv_u64(b, "status", q->status > 0 ? (uint64_t)q->status : 0);
    rb_time(b, "req_ms", q->t_req, off);
    if (q->t_forwarded && q->t_resp_head) rb_dur(b, "upstream_ms", q->t_resp_head - q->t_forwarded);
    int64_t end = q->t_done ? q->t_done : q->t_abandoned;
    if (q->t_req && end) rb_dur(b, "total_ms", end - q->t_req);
    if (q->fault && *q->fault) rb_kv_str(b, "fault", q->fault);
    if (q->t_abandoned && q->t_req) rb_dur(b, "abandoned_ms", q->t_abandoned - q->t_req);
    if (q->held_at_end) rb_kv_str(b, "held_at_end", "1");
    rb_kv_str(b, "end", req_end(c, q));
    if (!c->t_connected) rb_kv_str(b, "upstream_failed", "1");
    rb_kv_u64(b, "bytes_req", q->bytes_req);
    rb_kv_u64(b, "bytes_resp", q->bytes_resp);
    if (q->request_id && *q->request_id) rb_kv_str(b, "request_id", q->request_id);
    if (q->body_whole) {
        char hx[17];
        static const char dig[] = "0123456789abcdef";
        for (int i = 0; i < 16; i++) hx[i] = dig[(q->body_hash >> (60 - 4 * i)) & 15];
        hx[16] = 0;
        rb_kv_str(b, "body_hash", hx);
    }
    event_send(rp);
}

static const char *end_reason(const struct fault *f)
{
    if (f->removing) {
        int64_t now = fl_now_us();
        if (f->ttl_us && now >= f->loaded_us + f->ttl_us) return "ttl";
        int64_t cap = rec_st->s->g.max_fault_duration_us;
        if (cap && now >= f->loaded_us + f->start_us + cap) return "ttl";
        return "removed";
    }
    if (f->killed) return "killed";
    return "duration";
}

static void write_fault_window(struct fault *f, int active, const char *reason)
{
    struct rbuf *b = &rec_st->b;
    rb_begin(b);
    rb_str(b, "XADD");
    rb_str(b, rec_st->k_faults);
    rb_str(b, "*");
    rb_kv_str(b, "fault", f->name);
    rb_kv_str(b, "proxy", f->px ? f->px->spec.name : f->proxy);
    rb_kv_str(b, "type", f->type ? f->type->name : "");
    rb_kv_str(b, "inst", rec_st->inst);
    rb_kv_str(b, "event", active ? "start" : "end");
    rb_str(b, "at_ms");
    rb_ms(b, fl_wall_us());
    if (!active) rb_kv_str(b, "reason", reason);
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

void rec_fault_window(struct fault *f, int active)
{
    if (!rec_st || rec_st->stopping > 1) return;
    write_fault_window(f, active, active ? NULL : end_reason(f));
    if (!active && f->removing) {
        /* the object is about to be freed: keep its final counters */
        struct rec_fault *rf = fault_entry(f);
        if (rf->f == f) {
            rf->last = f->c;
            fault_fold(rf, NULL);
        } else if (!rf->f) {
            fc_add(&rf->base, &f->c);
            snprintf(rf->proxy, sizeof(rf->proxy), "%s", f->proxy);
            snprintf(rf->type, sizeof(rf->type), "%s", f->type ? f->type->name : "");
        }
    }
}
