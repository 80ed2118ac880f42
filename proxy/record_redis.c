/* record_redis.c -- the recorder's Redis side: the RESP builder, the command pipeline (sending,
 * batching events into one write, replies, the fault window queue) and the connection
 * (connect, AUTH/SELECT, reconnect with backoff, liveness). What is recorded, and the design of
 * the whole, is record.c; what both share is record_int.h.
 */
#include "record_int.h"
#include "proxy.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

/* ---- RESP builder: arguments appended, the "*N" header written in front at the end ---- */
#define RB_HEAD 24

static void rb_reserve(struct rbuf *b, size_t n)
{
    if (b->len + n <= b->cap) return;
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < b->len + n) nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) abort();
    b->p = np;
    b->cap = nc;
}

void rb_begin(struct rbuf *b) { b->len = 0; rb_reserve(b, RB_HEAD); b->len = RB_HEAD; b->argc = 0; }

/* Decimal digits of v ending just before end; returns the first digit. */
static char *u64_digits(char *end, uint64_t v)
{
    do { *--end = (char)('0' + v % 10); v /= 10; } while (v);
    return end;
}

static void rb_arg(struct rbuf *b, const char *s, size_t n)
{
    rb_reserve(b, n + 32);
    char t[24], *d = u64_digits(t + sizeof(t), n);
    size_t dn = (size_t)(t + sizeof(t) - d);
    b->p[b->len++] = '$';
    memcpy(b->p + b->len, d, dn);
    b->len += dn;
    b->p[b->len++] = '\r';
    b->p[b->len++] = '\n';
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len++] = '\r';
    b->p[b->len++] = '\n';
    b->argc++;
}

void rb_str(struct rbuf *b, const char *s) { rb_arg(b, s, strlen(s)); }

static void rb_u64(struct rbuf *b, uint64_t v)
{
    char t[24], *d = u64_digits(t + sizeof(t), v);
    rb_arg(b, d, (size_t)(t + sizeof(t) - d));
}

void rb_fmt(struct rbuf *b, const char *fmt, ...)
{
    char t[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t, sizeof(t), fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof(t)) n = sizeof(t) - 1;
    rb_arg(b, t, (size_t)n);
}

/* wall-clock microseconds as milliseconds with microsecond decimals */
/* microseconds as milliseconds with three decimals ("-" for negative durations) */
void rb_ms(struct rbuf *b, int64_t us)
{
    char t[32];
    char *e = t + sizeof(t);
    uint64_t v = us < 0 ? (uint64_t)(-us) : (uint64_t)us;
    uint64_t frac = v % 1000;
    *--e = (char)('0' + frac % 10);
    *--e = (char)('0' + frac / 10 % 10);
    *--e = (char)('0' + frac / 100);
    *--e = '.';
    char *d = u64_digits(e, v / 1000);
    if (us < 0) *--d = '-';
    rb_arg(b, d, (size_t)(t + sizeof(t) - d));
}

void rb_kv_str(struct rbuf *b, const char *k, const char *v) { rb_str(b, k); rb_str(b, v); }
void rb_kv_u64(struct rbuf *b, const char *k, uint64_t v) { rb_str(b, k); rb_u64(b, v); }

/* Finishes the command; returns its start and length. */
const char *rb_end(struct rbuf *b, size_t *len)
{
    char h[24];
    int n = snprintf(h, sizeof(h), "*%d\r\n", b->argc);
    char *start = b->p + RB_HEAD - n;
    memcpy(start, h, (size_t)n);
    *len = b->len - (RB_HEAD - (size_t)n);
    return start;
}

/* XADD key MAXLEN ~ N *: the head of an entry of a capped stream (events, pgstate). */
void rb_xadd_capped(struct rbuf *b, const char *key)
{
    rb_str(b, "XADD");
    rb_str(b, key);
    rb_str(b, "MAXLEN");
    rb_str(b, "~");
    rb_str(b, REC_EVENTS_MAXLEN);
    rb_str(b, "*");
}

void rb_time(struct rbuf *b, const char *k, int64_t mono, int64_t off)
{
    if (!mono) return;
    rb_str(b, k);
    rb_ms(b, mono + off);
}

void rb_dur(struct rbuf *b, const char *k, int64_t us)
{
    rb_str(b, k);
    rb_ms(b, us);
}

/* ---- fields from the protocol modes (record.h): appended to the command being built ---- */

void rec_kv_str(struct rec_kv *kv, const char *key, const char *val)
{
    rb_str(kv->b, key);
    rb_str(kv->b, val ? val : "");
    kv->n++;
}

void rec_kv_u64(struct rec_kv *kv, const char *key, uint64_t v)
{
    rb_str(kv->b, key);
    rb_u64(kv->b, v);
    kv->n++;
}

void rec_kv_ms(struct rec_kv *kv, const char *key, int64_t us)
{
    rb_str(kv->b, key);
    rb_ms(kv->b, us);
    kv->n++;
}

/* ---- sending ---- */

static void reply_cb(redisAsyncContext *ac, void *reply, void *priv);

static void arm_kill(void)
{
    struct timeval tv = {0, 0};
    event_add(R->kill_ev, &tv);
}

/* Queues one command. 0, or -1 when it cannot be queued now (no connection, queue full). */
int send_cmd(const char *cmd, size_t len, void *priv)
{
    if (!R->ac || R->stopping > 1) return -1;
    if (R->inflight >= REC_MAX_INFLIGHT || R->pending + len > REC_MAX_PENDING) return -1;
    if (redisAsyncFormattedCommand(R->ac, reply_cb, priv, cmd, len) != REDIS_OK) return -1;
    if (R->inflight == 0) R->last_progress_us = fl_now_us();
    R->inflight++;
    R->pending += len;
    return 0;
}

/* Sends the command in R->b that needs no answer beyond accounting. A record (counted = 1)
 * that cannot be queued, or whose connection died before the answer, is a drop charged to rp;
 * the rest (counters, metadata, EXPIRE) is rewritten by the next flush anyway. */
int send_plain(struct rec_px *rp, int counted)
{
    size_t len;
    const char *cmd = rb_end(&R->b, &len);
    uintptr_t idx = rp && rp->idx < 0xfffe ? (uintptr_t)rp->idx + 1 : 0;
    uintptr_t tag = ((uintptr_t)len << 18) | (idx << 2) | ((uintptr_t)(counted != 0) << 1) | 1u;
    if (send_cmd(cmd, len, (void *)tag) < 0) {
        if (counted) rec_drop(rp, 1);
        return -1;
    }
    return 0;
}

int send_cb(struct rec_cb *cb)
{
    size_t len;
    const char *cmd = rb_end(&R->b, &len);
    cb->bytes = len;
    if (send_cmd(cmd, len, cb) < 0) return -1;
    return 0;
}

static struct rec_px *tag_px(uintptr_t t)
{
    size_t idx = (t >> 2) & 0xffff;
    return idx && (int)idx <= R->npx ? R->pxs[idx - 1] : NULL;
}

/* Hands the waiting events to hiredis: they leave in one write. */
void batch_flush(void)
{
    size_t off = 0;
    for (int i = 0; i < R->nq; i++) {
        if (send_cmd(R->q.p + off, R->qlen[i], (void *)R->qtag[i]) < 0 && (R->qtag[i] & 2u))
            rec_drop(tag_px(R->qtag[i]), 1);
        off += R->qlen[i];
    }
    R->nq = 0;
    R->q.len = 0;
}

void batch_cb(evutil_socket_t fd, short what, void *arg) { if (R) batch_flush(); }

/* Like send_plain, for events: queued for up to REC_BATCH_US so that many share a write. */
int queue_plain(struct rec_px *rp, int counted)
{
    size_t len;
    const char *cmd = rb_end(&R->b, &len);
    if (!R->ac || R->stopping > 1 || R->inflight + (size_t)R->nq >= REC_MAX_INFLIGHT ||
        R->pending + R->q.len + len > REC_MAX_PENDING) {
        if (counted) rec_drop(rp, 1);
        return -1;
    }
    uintptr_t idx = rp && rp->idx < 0xfffe ? (uintptr_t)rp->idx + 1 : 0;
    rb_reserve(&R->q, len);
    memcpy(R->q.p + R->q.len, cmd, len);
    R->q.len += len;
    R->qtag[R->nq] = ((uintptr_t)len << 18) | (idx << 2) | ((uintptr_t)(counted != 0) << 1) | 1u;
    R->qlen[R->nq] = len;
    R->nq++;
    if (R->nq >= REC_BATCH_MAX || R->q.len >= REC_BATCH_BYTES) {
        evtimer_del(R->batch_ev);
        batch_flush();
    } else if (!evtimer_pending(R->batch_ev, NULL)) {
        struct timeval tv = {0, REC_BATCH_US};
        evtimer_add(R->batch_ev, &tv);
    }
    return 0;
}

static void log_reply_error(const char *what, const char *msg)
{
    R->errors++;
    int64_t now = fl_now_us();
    if (now - R->last_err_log_us < R->interval_us) return;
    R->last_err_log_us = now;
    log_warn("record_error", "command=%s error=%s errors=%llu", what, log_q(msg), (unsigned long long)R->errors);
}

void faultq_push(struct rec_cb *cb, int front)
{
    if (R->nfaultq >= REC_FAULTQ) {
        free(cb->cmd);
        free(cb);
        rec_drop(NULL, 1);
        return;
    }
    if (front) {
        memmove(R->faultq + 1, R->faultq, sizeof(R->faultq[0]) * (size_t)R->nfaultq);
        R->faultq[0] = cb;
    } else {
        R->faultq[R->nfaultq] = cb;
    }
    R->nfaultq++;
}

void faultq_drain(void)
{
    int i = 0;
    for (; i < R->nfaultq; i++) {
        struct rec_cb *cb = R->faultq[i];
        if (send_cmd(cb->cmd, cb->cmdlen, cb) < 0) break;
    }
    memmove(R->faultq, R->faultq + i, sizeof(R->faultq[0]) * (size_t)(R->nfaultq - i));
    R->nfaultq -= i;
}

static void reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    struct rec *r = R;
    if (!r) return;
    redisReply *rr = reply;
    struct rec_cb *cb = NULL;
    size_t bytes;
    struct rec_px *rp = NULL;
    int counted = 0;
    if ((uintptr_t)priv & 1u) {
        uintptr_t t = (uintptr_t)priv;
        bytes = t >> 18;
        counted = (t >> 1) & 1;
        rp = tag_px(t);
    } else {
        cb = priv;
        bytes = cb->bytes;
    }
    if (r->inflight) r->inflight--;
    r->pending = r->pending >= bytes ? r->pending - bytes : 0;
    if (rr) r->last_progress_us = fl_now_us();
    /* the backoff starts over only once Redis accepts commands (not on a bare connect: a wrong
     * password must not turn into a reconnect storm) */
    if (rr && rr->type != REDIS_REPLY_ERROR) r->backoff_us = 0;
    if (rr && rr->type == REDIS_REPLY_ERROR)
        log_reply_error(cb && cb->kind == CB_SETUP ? cb->what : "write", rr->str ? rr->str : "?");
    if (!cb) {
        /* an event refused by Redis, or on its way when the connection died (it may be lost) */
        if ((!rr || rr->type == REDIS_REPLY_ERROR) && counted) rec_drop(rp, 1);
        return;
    }
    switch (cb->kind) {
    case CB_TS:
        if (rr && rr->type != REDIS_REPLY_ERROR) {
            if (cb->upto > cb->rp->acked) cb->rp->acked = cb->upto;
        }
        free(cb);
        break;
    case CB_FAULTWIN:
        if (!rr && r->stopping < 2) {
            faultq_push(cb, 1);             /* kept until Redis has it */
            return;
        }
        if (!rr) rec_drop(NULL, 1);
        free(cb->cmd);
        free(cb);
        break;
    case CB_SETUP:
        if (rr && rr->type == REDIS_REPLY_ERROR && !r->stopping) {
            /* wrong password or db: the connection is useless; retry with backoff */
            log_error("record_setup_failed", "redis=%s command=%s error=%s action=retrying",
                      log_q(r->url_text), cb->what, log_q(rr->str ? rr->str : "?"));
            arm_kill();
        }
        free(cb);
        break;
    }
}

/* EXPIRE key <retention> into R->b: every key of the run lives as long as the run's record. */
void rb_expire(const char *key)
{
    rb_begin(&R->b);
    rb_str(&R->b, "EXPIRE");
    rb_str(&R->b, key);
    rb_fmt(&R->b, "%lld", (long long)R->ttl_s);
}

void expire_key(const char *key)
{
    rb_expire(key);
    send_plain(NULL, 0);
}

/* ---- the connection ---- */


static void schedule_reconnect(void)
{
    if (R->stopping || evtimer_pending(R->reconnect_ev, NULL)) return;
    int64_t d = R->backoff_us ? R->backoff_us : REC_BACKOFF_MIN_US;
    R->backoff_us = d * 2 > REC_BACKOFF_MAX_US ? REC_BACKOFF_MAX_US : d * 2;
    struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
    evtimer_add(R->reconnect_ev, &tv);
}

static void log_down(const char *why)
{
    int64_t now = fl_now_us();
    if (R->was_up || now - R->last_down_log_us >= 10 * R->interval_us) {
        R->last_down_log_us = now;
        log_warn("record_unavailable", "redis=%s error=%s action=forwarding_continues_reconnecting",
                 log_q(R->url_text), log_q(why));
    }
    R->was_up = 0;
}

/* The connection is gone (hiredis has freed, or is freeing, the context): no reply will come for
 * what was in flight, so the queue bounds start again from zero. */
static void conn_forget(void)
{
    R->ac = NULL;
    R->up = 0;
    R->inflight = 0;
    R->pending = 0;
}

/* Series buckets sent but not acknowledged go again on the next connection, after a backoff. */
static void retry_later(void)
{
    for (int i = 0; i < R->npx; i++) R->pxs[i]->sent = R->pxs[i]->acked;
    schedule_reconnect();
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    if (!R || ac != R->ac) return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        log_down(ac->errstr ? ac->errstr : "connect failed");
        R->ac = NULL;
        R->up = 0;
        schedule_reconnect();
        return;
    }
    R->up = 1;
    R->was_up = 1;
    log_info("record_connected", "redis=%s run=%s instance=%s", log_q(R->url_text), log_q(R->run), log_q(R->inst));
    faultq_drain();
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    if (!R || ac != R->ac) return;
    conn_forget();
    if (R->stopping) return;
    log_down(ac->errstr ? ac->errstr : "connection closed");
    retry_later();
}

static void setup_cmd(const char *what)
{
    struct rec_cb *cb = xcalloc(sizeof(*cb));
    cb->kind = CB_SETUP;
    cb->what = what;
    if (send_cb(cb) < 0) free(cb);
}

void connect_now(void)
{
    redisAsyncContext *ac = R->url.is_unix ? redisAsyncConnectUnix(R->url.path)
                                           : redisAsyncConnect(R->url.host, R->url.port);
    if (!ac) {
        log_down("out of memory");
        schedule_reconnect();
        return;
    }
    if (ac->err) {
        log_down(ac->errstr);
        redisAsyncFree(ac);
        schedule_reconnect();
        return;
    }
    if (redisLibeventAttach(ac, R->s->base) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect();
        return;
    }
    R->ac = ac;
    R->up = 0;
    R->inflight = R->pending = 0;
    R->connect_started_us = fl_now_us();
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* AUTH and SELECT go first in the pipeline; everything after may be queued at once */
    if (R->url.pass[0]) {
        rb_begin(&R->b);
        rb_str(&R->b, "AUTH");
        if (R->url.user[0]) rb_str(&R->b, R->url.user);
        rb_str(&R->b, R->url.pass);
        setup_cmd("AUTH");
    }
    if (R->url.db) {
        rb_begin(&R->b);
        rb_str(&R->b, "SELECT");
        rb_fmt(&R->b, "%d", R->url.db);
        setup_cmd("SELECT");
    }
    for (int i = 0; i < R->npx; i++) {
        struct rec_px *rp = R->pxs[i];
        rp->events_expired = rp->pgstate_expired = 0;
        /* Redis may have restarted empty: send the whole ring again (HSET is idempotent) */
        rp->acked = rp->sent = rp->nb > REC_RING ? rp->nb - REC_RING : 0;
    }
    R->last_expire_us = 0;
    write_hello();
}

void reconnect_cb(evutil_socket_t fd, short what, void *arg) { if (R && !R->ac) connect_now(); }

void kill_cb(evutil_socket_t fd, short what, void *arg)
{
    if (!R || !R->ac) return;
    redisAsyncContext *ac = R->ac;
    /* redisAsyncFree runs the pending callbacks (NULL replies), then on_disconnect if it was
     * connected; a context still connecting gets no disconnect callback */
    int was_up = R->up;
    redisAsyncFree(ac);
    if (R->ac == ac) {
        conn_forget();
        if (!was_up) log_down("connect timed out");
        retry_later();
    }
}

void rec_tick(struct fl_server *s)
{
    if (!R || !R->ac || R->stopping) return;
    int64_t now = fl_now_us();
    if (!R->up && now - R->connect_started_us > REC_CONNECT_TIMEOUT) {
        arm_kill();
    } else if (R->up && R->inflight && now - R->last_progress_us > REC_REPLY_TIMEOUT) {
        log_warn("record_stalled", "redis=%s unanswered=%zu waited_ms=%lld action=reconnecting", log_q(R->url_text),
                 R->inflight, (long long)((now - R->last_progress_us) / 1000));
        arm_kill();
    }
}

void mask_url(const char *url, char *out, size_t n)
{
    snprintf(out, n, "%s", url);
    char *at = strrchr(out, '@');
    char *cred = strstr(out, "://");
    if (at && cred && at > cred + 3) {
        char *colon = memchr(cred + 3, ':', (size_t)(at - cred - 3));
        if (colon) memmove(colon + 4, at, strlen(at) + 1), memcpy(colon + 1, "***", 3);
    }
    char *pw = strstr(out, "password=");
    if (pw) {
        char *e = pw + 9 + strcspn(pw + 9, "&");
        memmove(pw + 12, e, strlen(e) + 1);
        memcpy(pw + 9, "***", 3);
    }
}
