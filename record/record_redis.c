/* record_redis.c -- the recorder's Redis side: the RESP builder, the command pipeline (sending,
 * batching events into one write, replies, the fault window queue) and the connection
 * (connect, AUTH/SELECT, reconnect with backoff, liveness). What is recorded, and the design of
 * the whole, is record.c; what both share is record_int.h.
 */
#include "record/record_int.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/text.h"

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
    char c[FL_CLIP_MAX + 1];
    int cl = 0;
    rb_str(kv->b, key);
    if (!val) val = "";
    rb_arg(kv->b, c, fl_clip(val, strlen(val), c, &cl));
    kv->clipped += (unsigned)cl;
    kv->n++;
}

void rec_kv_text(struct rec_kv *kv, const char *key, const char *val)
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
    event_add(rec_st->kill_ev, &tv);
}

/* Queues one command. 0, or -1 when it cannot be queued now (no connection, queue full). */
int rec_send_cmd(const char *cmd, size_t len, void *priv)
{
    if (!rec_st->ac || rec_st->stopping > 1) return -1;
    if (rec_st->inflight >= REC_MAX_INFLIGHT || rec_st->pending + len > REC_MAX_PENDING) return -1;
    if (redisAsyncFormattedCommand(rec_st->ac, reply_cb, priv, cmd, len) != REDIS_OK) return -1;
    if (rec_st->inflight == 0) rec_st->last_progress_us = fl_now_us();
    rec_st->inflight++;
    rec_st->pending += len;
    return 0;
}

/* Sends the command in rec_st->b that needs no answer beyond accounting. A record (counted = 1)
 * that cannot be queued, or whose connection died before the answer, is a drop charged to rp;
 * the rest (counters, metadata, EXPIRE) is rewritten by the next flush anyway. */
int rec_send_plain(struct rec_px *rp, int counted)
{
    size_t len;
    const char *cmd = rb_end(&rec_st->b, &len);
    uintptr_t idx = rp && rp->idx < 0xfffe ? (uintptr_t)rp->idx + 1 : 0;
    uintptr_t tag = ((uintptr_t)len << 18) | (idx << 2) | ((uintptr_t)(counted != 0) << 1) | 1u;
    if (rec_send_cmd(cmd, len, (void *)tag) < 0) {
        if (counted) rec_drop(rp, 1);
        return -1;
    }
    return 0;
}

int rec_send_cb(struct rec_cb *cb)
{
    size_t len;
    const char *cmd = rb_end(&rec_st->b, &len);
    cb->bytes = len;
    if (rec_send_cmd(cmd, len, cb) < 0) return -1;
    return 0;
}

static struct rec_px *tag_px(uintptr_t t)
{
    size_t idx = (t >> 2) & 0xffff;
    return idx && (int)idx <= rec_st->npx ? rec_st->pxs[idx - 1] : NULL;
}

/* Hands the waiting events to hiredis: they leave in one write. */
void rec_batch_flush(void)
{
    size_t off = 0;
    for (int i = 0; i < rec_st->nq; i++) {
        if (rec_send_cmd(rec_st->q.p + off, rec_st->qlen[i], (void *)rec_st->qtag[i]) < 0 && (rec_st->qtag[i] & 2u))
            rec_drop(tag_px(rec_st->qtag[i]), 1);
        off += rec_st->qlen[i];
    }
    rec_st->nq = 0;
    rec_st->q.len = 0;
}

void rec_batch_cb(evutil_socket_t fd, short what, void *arg) { if (rec_st) rec_batch_flush(); }

/* Like rec_send_plain, for events: queued for up to REC_BATCH_US so that many share a write. */
int rec_queue_plain(struct rec_px *rp, int counted)
{
    size_t len;
    const char *cmd = rb_end(&rec_st->b, &len);
    if (!rec_st->ac || rec_st->stopping > 1 || rec_st->inflight + (size_t)rec_st->nq >= REC_MAX_INFLIGHT ||
        rec_st->pending + rec_st->q.len + len > REC_MAX_PENDING) {
        if (counted) rec_drop(rp, 1);
        return -1;
    }
    uintptr_t idx = rp && rp->idx < 0xfffe ? (uintptr_t)rp->idx + 1 : 0;
    rb_reserve(&rec_st->q, len);
    memcpy(rec_st->q.p + rec_st->q.len, cmd, len);
    rec_st->q.len += len;
    rec_st->qtag[rec_st->nq] = ((uintptr_t)len << 18) | (idx << 2) | ((uintptr_t)(counted != 0) << 1) | 1u;
    rec_st->qlen[rec_st->nq] = len;
    rec_st->nq++;
    if (rec_st->nq >= REC_BATCH_MAX || rec_st->q.len >= REC_BATCH_BYTES) {
        evtimer_del(rec_st->batch_ev);
        rec_batch_flush();
    } else if (!evtimer_pending(rec_st->batch_ev, NULL)) {
        struct timeval tv = {0, REC_BATCH_US};
        evtimer_add(rec_st->batch_ev, &tv);
    }
    return 0;
}

static void log_reply_error(const char *what, const char *msg)
{
    rec_st->errors++;
    int64_t now = fl_now_us();
    if (now - rec_st->last_err_log_us < rec_st->interval_us) return;
    rec_st->last_err_log_us = now;
    log_warn("record_error", "command=%s error=%s errors=%llu", what, log_q(msg), (unsigned long long)rec_st->errors);
}

void rec_faultq_push(struct rec_cb *cb, int front)
{
    if (rec_st->nfaultq >= REC_FAULTQ) {
        free(cb->cmd);
        free(cb);
        rec_drop(NULL, 1);
        return;
    }
    if (front) {
        memmove(rec_st->faultq + 1, rec_st->faultq, sizeof(rec_st->faultq[0]) * (size_t)rec_st->nfaultq);
        rec_st->faultq[0] = cb;
    } else {
        rec_st->faultq[rec_st->nfaultq] = cb;
    }
    rec_st->nfaultq++;
}

void rec_faultq_drain(void)
{
    int i = 0;
    for (; i < rec_st->nfaultq; i++) {
        struct rec_cb *cb = rec_st->faultq[i];
        if (rec_send_cmd(cb->cmd, cb->cmdlen, cb) < 0) break;
    }
    memmove(rec_st->faultq, rec_st->faultq + i, sizeof(rec_st->faultq[0]) * (size_t)(rec_st->nfaultq - i));
    rec_st->nfaultq -= i;
}

static void reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
    struct rec *r = rec_st;
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
            rec_faultq_push(cb, 1);             /* kept until Redis has it */
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

/* EXPIRE key <retention> into rec_st->b: every key of the run lives as long as the run's record. */
void rb_expire(const char *key)
{
    rb_begin(&rec_st->b);
    rb_str(&rec_st->b, "EXPIRE");
    rb_str(&rec_st->b, key);
    rb_fmt(&rec_st->b, "%lld", (long long)rec_st->ttl_s);
}

void rec_expire_key(const char *key)
{
    rb_expire(key);
    rec_send_plain(NULL, 0);
}

/* ---- the connection ---- */


static void schedule_reconnect(void)
{
    if (rec_st->stopping || evtimer_pending(rec_st->reconnect_ev, NULL)) return;
    int64_t d = rec_st->backoff_us ? rec_st->backoff_us : REC_BACKOFF_MIN_US;
    rec_st->backoff_us = d * 2 > REC_BACKOFF_MAX_US ? REC_BACKOFF_MAX_US : d * 2;
    struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
    evtimer_add(rec_st->reconnect_ev, &tv);
}

static void log_down(const char *why)
{
    int64_t now = fl_now_us();
    if (rec_st->was_up || now - rec_st->last_down_log_us >= 10 * rec_st->interval_us) {
        rec_st->last_down_log_us = now;
        log_warn("record_unavailable", "redis=%s error=%s action=forwarding_continues_reconnecting",
                 log_q(rec_st->url_text), log_q(why));
    }
    rec_st->was_up = 0;
}

/* The connection is gone (hiredis has freed, or is freeing, the context): no reply will come for
 * what was in flight, so the queue bounds start again from zero. */
static void conn_forget(void)
{
    rec_st->ac = NULL;
    rec_st->up = 0;
    rec_st->inflight = 0;
    rec_st->pending = 0;
}

/* Series buckets sent but not acknowledged go again on the next connection, after a backoff. */
static void retry_later(void)
{
    for (int i = 0; i < rec_st->npx; i++) rec_st->pxs[i]->sent = rec_st->pxs[i]->acked;
    schedule_reconnect();
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    if (!rec_st || ac != rec_st->ac) return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        log_down(ac->errstr ? ac->errstr : "connect failed");
        rec_st->ac = NULL;
        rec_st->up = 0;
        schedule_reconnect();
        return;
    }
    rec_st->up = 1;
    rec_st->was_up = 1;
    log_info("record_connected", "redis=%s run=%s instance=%s", log_q(rec_st->url_text), log_q(rec_st->run), log_q(rec_st->inst));
    rec_faultq_drain();
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    if (!rec_st || ac != rec_st->ac) return;
    conn_forget();
    if (rec_st->stopping) return;
    log_down(ac->errstr ? ac->errstr : "connection closed");
    retry_later();
}

static void setup_cmd(const char *what)
{
    struct rec_cb *cb = rec_xcalloc(sizeof(*cb));
    cb->kind = CB_SETUP;
    cb->what = what;
    if (rec_send_cb(cb) < 0) free(cb);
}

void rec_connect_now(void)
{
    redisAsyncContext *ac = rec_st->url.is_unix ? redisAsyncConnectUnix(rec_st->url.path)
                                           : redisAsyncConnect(rec_st->url.host, rec_st->url.port);
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
    if (redisLibeventAttach(ac, rec_st->base) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect();
        return;
    }
    fl_cloexec(ac->c.fd);   /* hiredis' socket is not close-on-exec (common/fd.h) */
    rec_st->ac = ac;
    rec_st->up = 0;
    rec_st->inflight = rec_st->pending = 0;
    rec_st->connect_started_us = fl_now_us();
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* AUTH and SELECT go first in the pipeline; everything after may be queued at once */
    if (rec_st->url.pass[0]) {
        rb_begin(&rec_st->b);
        rb_str(&rec_st->b, "AUTH");
        if (rec_st->url.user[0]) rb_str(&rec_st->b, rec_st->url.user);
        rb_str(&rec_st->b, rec_st->url.pass);
        setup_cmd("AUTH");
    }
    if (rec_st->url.db) {
        rb_begin(&rec_st->b);
        rb_str(&rec_st->b, "SELECT");
        rb_fmt(&rec_st->b, "%d", rec_st->url.db);
        setup_cmd("SELECT");
    }
    for (int i = 0; i < rec_st->npx; i++) {
        struct rec_px *rp = rec_st->pxs[i];
        rp->events_expired = rp->pgstate_expired = 0;
        /* Redis may have restarted empty: send the whole ring again (HSET is idempotent) */
        rp->acked = rp->sent = rp->nb > REC_RING ? rp->nb - REC_RING : 0;
    }
    rec_st->last_expire_us = 0;
    rec_write_hello();
}

void rec_reconnect_cb(evutil_socket_t fd, short what, void *arg) { if (rec_st && !rec_st->ac) rec_connect_now(); }

void rec_kill_cb(evutil_socket_t fd, short what, void *arg)
{
    if (!rec_st || !rec_st->ac) return;
    redisAsyncContext *ac = rec_st->ac;
    /* redisAsyncFree runs the pending callbacks (NULL replies), then on_disconnect if it was
     * connected; a context still connecting gets no disconnect callback */
    int was_up = rec_st->up;
    redisAsyncFree(ac);
    if (rec_st->ac == ac) {
        conn_forget();
        if (!was_up) log_down("connect timed out");
        retry_later();
    }
}

void rec_tick(void)
{
    if (!rec_st || !rec_st->ac || rec_st->stopping) return;
    int64_t now = fl_now_us();
    if (!rec_st->up && now - rec_st->connect_started_us > REC_CONNECT_TIMEOUT) {
        arm_kill();
    } else if (rec_st->up && rec_st->inflight && now - rec_st->last_progress_us > REC_REPLY_TIMEOUT) {
        log_warn("record_stalled", "redis=%s unanswered=%zu waited_ms=%lld action=reconnecting", log_q(rec_st->url_text),
                 rec_st->inflight, (long long)((now - rec_st->last_progress_us) / 1000));
        arm_kill();
    }
}

void rec_mask_url(const char *url, char *out, size_t n) { fl_redact_url(url, out, n); }
