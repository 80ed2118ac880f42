/* fleet.c -- the fleet's Redis session: two hiredis connections on the daemon's loop, the
 * registry heartbeat, and reading the command stream. Design: fleet.h; docs/fleet.md.
 *
 * A session is two connections: `ac` carries short commands (the heartbeat SET + ZADD, acks,
 * the admin API's reads and XADDs) and `bc` only XREAD BLOCK, so a blocked read never queues
 * a heartbeat behind it. On connect, ac asks for the stream's last entry id (XREVRANGE + -
 * COUNT 1): commands after that id are read, older ones never (they would be stale anyway), and
 * only then does the first heartbeat register the instance -- so a controller that sees the
 * instance in the registry knows its commands will be read. Every command has a deadline
 * (FLEET_REPLY_TIMEOUT; XREAD's is its BLOCK time plus that): a Redis that is SIGSTOPped,
 * slow or unreachable resets the session, and a new one is tried with a backoff (100 ms
 * doubling to 2 s) until Redis answers again, when the instance registers itself anew. Nothing
 * here waits: every step is a callback on the loop, so forwarding never notices Redis.
 */
#define FL_ADMIN_INTERNAL
#include "control/fleet_int.h"
#include "control/admin.h"
#include "proxy/proxy.h"
#include "common/log.h"
#include "common/clock.h"
#include "common/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>

struct fleet *fleet_st;

static void start_session(void);

int fleet_cmd(redisCallbackFn *cb, void *priv, int argc, const char **argv, const size_t *lens)
{
    struct fleet *fl = fleet_st;
    if (!fl || !fl->ac || !fl->ac_up) return -1;
    return redisAsyncCommandArgv(fl->ac, cb, priv, argc, argv, lens) == REDIS_OK ? 0 : -1;
}

static void log_down(const char *why)
{
    struct fleet *fl = fleet_st;
    if (fl->was_up) log_warn("fleet_unavailable", "redis=%s error=%s action=forwarding_continues_reconnecting",
                             log_q(fl->url_text), log_q(why));
    fl->was_up = 0;
}

/* ---- the session's end ---- */

static void free_ctx(redisAsyncContext **pc)
{
    redisAsyncContext *c = *pc;
    *pc = NULL;
    if (c) redisAsyncFree(c);   /* pending callbacks run with NULL replies; they see *pc == NULL */
}

static void reset_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fleet *fl = fleet_st;
    if (!fl) return;
    fl->ac_up = fl->bc_up = fl->ready = fl->labels_sent = fl->registered = 0;
    fl->hb_sent_us = fl->xr_sent_us = 0;
    free_ctx(&fl->ac);
    free_ctx(&fl->bc);
    fleet_ops_fail("the fleet's Redis connection was lost");
    if (fl->s->draining) return;
    int64_t d = fl->backoff_us ? fl->backoff_us : FLEET_BACKOFF_MIN_US;
    fl->backoff_us = d * 2 > FLEET_BACKOFF_MAX_US ? FLEET_BACKOFF_MAX_US : d * 2;
    struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
    evtimer_add(fl->reconnect_ev, &tv);
}

void fleet_reset(const char *why)
{
    struct fleet *fl = fleet_st;
    if (!fl || evtimer_pending(fl->reconnect_ev, NULL)) return;
    if (why) log_down(why);
    fl->resets++;
    fl->ready = 0;
    event_active(fl->reset_ev, EV_TIMEOUT, 0);   /* never free a context inside its own callback */
}

static void reconnect_cb(evutil_socket_t fd, short what, void *arg) { if (fleet_st && !fleet_st->ac) start_session(); }

/* ---- the registry ---- */

static void hb_reply(redisAsyncContext *c, void *reply, void *priv)
{
    struct fleet *fl = fleet_st;
    redisReply *r = reply;
    if (!fl || c != fl->ac || !r) return;
    if (priv) return;                             /* the ZADD: the SET's reply ends the beat */
    fl->hb_sent_us = 0;
    if (r->type == REDIS_REPLY_ERROR) { log_down(r->str); fleet_reset(NULL); return; }
    fl->heartbeats++;
    fl->backoff_us = 0;
    if (!fl->registered) {
        fl->registered = 1;
        log_info("fleet_registered", "redis=%s fleet=%s id=%s", log_q(fl->url_text), log_q(fl->spec.name), log_q(fl->id));
        fl->was_up = 1;
    }
}

static json_t *instance_json(struct fleet *fl, int64_t now_ms)
{
    struct fl_server *s = fl->s;
    json_t *px = json_array();
    for (int i = 0; i < s->nproxies; i++) json_array_append_new(px, json_string(s->proxies[i]->spec.name));
    json_t *j = json_pack("{s:s, s:O, s:o, s:o, s:I, s:i, s:s, s:s, s:s}", "id", fl->id, "labels", fl->labels, "proxies",
                          px, "faults", fleet_faults_json(), "ts_ms", (json_int_t)now_ms, "pid", (int)getpid(), "run",
                          rec_run_id(), "admin", s->g.admin_off ? "" : s->g.admin_text, "fleet", fl->spec.name);
    return j;
}

void fleet_heartbeat(void)
{
    struct fleet *fl = fleet_st;
    if (!fl || !fl->ready) return;
    if (fl->hb_sent_us) { fl->last_hb_us = 0; return; }   /* again as soon as this one is answered */
    int64_t now_ms = fl_wall_us() / 1000;
    json_t *j = instance_json(fl, now_ms);
    char *txt = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    if (!txt) return;
    char ttl[32], score[32];
    snprintf(ttl, sizeof(ttl), "%d", FLEET_TTL_MS);
    snprintf(score, sizeof(score), "%lld", (long long)now_ms);
    const char *a1[] = {"SET", fl->k_inst, txt, "PX", ttl};
    size_t l1[] = {3, strlen(fl->k_inst), strlen(txt), 2, strlen(ttl)};
    const char *a2[] = {"ZADD", fl->k_members, score, fl->id};
    size_t l2[] = {4, strlen(fl->k_members), strlen(score), strlen(fl->id)};
    if (fleet_cmd(hb_reply, NULL, 5, a1, l1) == 0 && fleet_cmd(hb_reply, (void *)1, 4, a2, l2) == 0) {
        fl->hb_sent_us = fl_now_us();
        fl->last_hb_us = fl->hb_sent_us;
    }
    free(txt);
    if (!fl->labels_sent) {
        /* the labels outlive the registry key: a gone instance is still listed with them */
        char *lt = json_dumps(fl->labels, JSON_COMPACT);
        const char *a3[] = {"HSET", fl->k_labels, fl->id, lt ? lt : "{}"};
        size_t l3[] = {4, strlen(fl->k_labels), strlen(fl->id), strlen(a3[3])};
        if (fleet_cmd(NULL, NULL, 4, a3, l3) == 0) fl->labels_sent = 1;
        free(lt);
    }
}

/* ---- reading the stream ---- */

static void xread_send(void);

static void entry_of(redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING) return;
    struct fleet *fl = fleet_st;
    snprintf(fl->last_id, sizeof(fl->last_id), "%s", e->element[0]->str);
    redisReply *f = e->element[1];
    const char *m = NULL, *sig = NULL;
    size_t mlen = 0;
    if (f->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i + 1 < f->elements; i += 2) {
            redisReply *k = f->element[i], *v = f->element[i + 1];
            if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
            if (!strcmp(k->str, "m")) { m = v->str; mlen = v->len; }
            else if (!strcmp(k->str, "sig")) sig = v->str;
        }
    fleet_entry(e->element[0]->str, m ? m : "", mlen, sig);
}

static void xread_reply(redisAsyncContext *c, void *reply, void *priv)
{
    struct fleet *fl = fleet_st;
    redisReply *r = reply;
    if (!fl || c != fl->bc || !r) return;
    fl->xr_sent_us = 0;
    if (r->type == REDIS_REPLY_ERROR) { log_down(r->str); fleet_reset(NULL); return; }
    /* [[stream, [[id, [k, v, ...]], ...]]] or nil on timeout */
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements == 2) {
        redisReply *es = r->element[0]->element[1];
        for (size_t i = 0; es->type == REDIS_REPLY_ARRAY && i < es->elements; i++) {
            entry_of(es->element[i]);
            if (fleet_st != fl || c != fl->bc) return;   /* a command reset the session */
        }
    }
    xread_send();
}

static void xread_send(void)
{
    struct fleet *fl = fleet_st;
    if (!fl->bc || !fl->ready) return;
    char blk[16];
    snprintf(blk, sizeof(blk), "%d", FLEET_BLOCK_MS);
    const char *a[] = {"XREAD", "COUNT", "100", "BLOCK", blk, "STREAMS", fl->k_cmd, fl->last_id};
    size_t l[8];
    for (int i = 0; i < 8; i++) l[i] = strlen(a[i]);
    if (redisAsyncCommandArgv(fl->bc, xread_reply, NULL, 8, a, l) == REDIS_OK) fl->xr_sent_us = fl_now_us();
    else fleet_reset("cannot send XREAD");
}

/* The stream's last id: the position reading starts from; then register. */
static void pos_reply(redisAsyncContext *c, void *reply, void *priv)
{
    struct fleet *fl = fleet_st;
    redisReply *r = reply;
    if (!fl || c != fl->ac || !r) return;
    fl->hb_sent_us = 0;
    if (r->type == REDIS_REPLY_ERROR) { log_down(r->str); fleet_reset(NULL); return; }
    snprintf(fl->last_id, sizeof(fl->last_id), "0-0");
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements >= 1 && r->element[0]->element[0]->type == REDIS_REPLY_STRING)
        snprintf(fl->last_id, sizeof(fl->last_id), "%s", r->element[0]->element[0]->str);
    fl->ready = 1;
    xread_send();
    fleet_heartbeat();
}

/* ---- connecting ---- */

static void on_connect(const redisAsyncContext *c, int status)
{
    struct fleet *fl = fleet_st;
    if (!fl || (c != fl->ac && c != fl->bc)) return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        if (c == fl->ac) fl->ac = NULL;
        else fl->bc = NULL;
        fleet_reset(c->errstr[0] ? c->errstr : "connect failed");
        return;
    }
    if (c == fl->ac) fl->ac_up = 1;
    else fl->bc_up = 1;
    if (!fl->ac_up || !fl->bc_up) return;
    const char *a[] = {"XREVRANGE", fl->k_cmd, "+", "-", "COUNT", "1"};
    size_t l[6];
    for (int i = 0; i < 6; i++) l[i] = strlen(a[i]);
    if (fleet_cmd(pos_reply, NULL, 6, a, l) < 0) { fleet_reset("cannot send XREVRANGE"); return; }
    fl->hb_sent_us = fl_now_us();
}

/* The command connection, flushing its last DEL while the daemon drains (fleet_stop). */
static redisAsyncContext *g_closing;

static void on_disconnect(const redisAsyncContext *c, int status)
{
    if (c == g_closing) { g_closing = NULL; return; }   /* hiredis frees it after this */
    struct fleet *fl = fleet_st;
    if (!fl || (c != fl->ac && c != fl->bc)) return;
    if (c == fl->ac) { fl->ac = NULL; fl->ac_up = 0; }
    else { fl->bc = NULL; fl->bc_up = 0; }
    fleet_reset(c->errstr[0] ? c->errstr : "connection closed");
}

static void setup_reply(redisAsyncContext *c, void *reply, void *priv)
{
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR && fleet_st && (c == fleet_st->ac || c == fleet_st->bc)) {
        log_error("fleet_setup_failed", "redis=%s command=%s error=%s action=retrying", log_q(fleet_st->url_text),
                  (const char *)priv, log_q(r->str));
        fleet_reset(NULL);
    }
}

static redisAsyncContext *connect_one(void)
{
    struct fleet *fl = fleet_st;
    const struct rec_url *u = &fl->spec.url;
    redisAsyncContext *c = u->is_unix ? redisAsyncConnectUnix(u->path) : redisAsyncConnect(u->host, u->port);
    if (!c) return NULL;
    if (c->err || redisLibeventAttach(c, fl->s->base) != REDIS_OK) {
        log_down(c->errstr[0] ? c->errstr : "cannot attach");
        redisAsyncFree(c);
        return NULL;
    }
    redisAsyncSetConnectCallback(c, on_connect);
    redisAsyncSetDisconnectCallback(c, on_disconnect);
    if (u->pass[0]) {
        const char *a[] = {"AUTH", u->user, u->pass};
        const char *b[] = {"AUTH", u->pass};
        size_t la[] = {4, strlen(u->user), strlen(u->pass)}, lb[] = {4, strlen(u->pass)};
        if (u->user[0]) redisAsyncCommandArgv(c, setup_reply, (void *)"AUTH", 3, a, la);
        else redisAsyncCommandArgv(c, setup_reply, (void *)"AUTH", 2, b, lb);
    }
    if (u->db) redisAsyncCommand(c, setup_reply, (void *)"SELECT", "SELECT %d", u->db);
    return c;
}

static void start_session(void)
{
    struct fleet *fl = fleet_st;
    fl->sessions++;
    fl->session_started_us = fl_now_us();
    fl->ac = connect_one();
    fl->bc = fl->ac ? connect_one() : NULL;
    if (!fl->ac || !fl->bc) { fleet_reset("cannot connect"); return; }
    fl->hb_sent_us = fl->session_started_us;    /* the connect itself has the reply deadline */
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fleet *fl = fleet_st;
    if (!fl) return;
    fleet_leases_tick();
    if (!fl->ac || evtimer_pending(fl->reconnect_ev, NULL)) return;
    int64_t now = fl_now_us();
    if (fl->hb_sent_us && now - fl->hb_sent_us > FLEET_REPLY_TIMEOUT) {
        fleet_reset(fl->ready ? "no answer to the heartbeat" : "no answer (connect)");
        return;
    }
    if (fl->xr_sent_us && now - fl->xr_sent_us > FLEET_BLOCK_MS * 1000LL + FLEET_REPLY_TIMEOUT) {
        fleet_reset("no answer to XREAD");
        return;
    }
    if (fl->ready && now - fl->last_hb_us >= FLEET_HEARTBEAT_US) fleet_heartbeat();
}

/* ---- the part ---- */

static void instance_id(struct fleet *fl)
{
    if (fl->spec.id[0]) { snprintf(fl->id, sizeof(fl->id), "%s", fl->spec.id); return; }
    if (fl->s->g.instance[0] && fleet_word_ok(fl->s->g.instance, sizeof(fl->id))) {
        snprintf(fl->id, sizeof(fl->id), "%s", fl->s->g.instance);
        return;
    }
    char host[100] = "host";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = 0;
    if (!fleet_word_ok(host, sizeof(host))) snprintf(host, sizeof(host), "host");
    snprintf(fl->id, sizeof(fl->id), "%s:%d", host, (int)getpid());
}

/* The profile in force is attached to the server only after its parts have started, so the
 * fleet joins on the loop's first turn (the key file was checked when the profile loaded). */
static struct event *g_join_ev;

static int fleet_join(struct fl_server *s, char *err, size_t errlen)
{
    if (fleet_st || !s->prof || !s->prof->fleet) return 0;
    struct fleet *fl = calloc(1, sizeof(*fl));
    if (!fl) abort();
    fl->s = s;
    fl->spec = *s->prof->fleet;
    char e[600];
    if (fleet_key_read(fl->spec.key_file, fl->key, &fl->klen, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "[fleet] key_file: %s", e);
        free(fl);
        return -1;
    }
    instance_id(fl);
    fl->labels = json_object();
    for (int i = 0; i < fl->spec.nlabels; i++)
        json_object_set_new(fl->labels, fl->spec.labels[i].key, json_string(fl->spec.labels[i].val));
    const char *ns = fl->spec.name;
    snprintf(fl->k_inst, sizeof(fl->k_inst), "faultline:fleet:%s:inst:%s", ns, fl->id);
    snprintf(fl->k_members, sizeof(fl->k_members), "faultline:fleet:%s:members", ns);
    snprintf(fl->k_cmd, sizeof(fl->k_cmd), "faultline:fleet:%s:cmd", ns);
    snprintf(fl->k_labels, sizeof(fl->k_labels), "faultline:fleet:%s:labels", ns);
    snprintf(fl->k_ack, sizeof(fl->k_ack), "faultline:fleet:%s:ack:", ns);
    fl_redact_url(fl->spec.redis, fl->url_text, sizeof(fl->url_text));   /* password as *** */
    fl->tick_ev = event_new(s->base, -1, EV_PERSIST, tick_cb, NULL);
    fl->reset_ev = event_new(s->base, -1, 0, reset_cb, NULL);
    fl->reconnect_ev = evtimer_new(s->base, reconnect_cb, NULL);
    if (!fl->tick_ev || !fl->reset_ev || !fl->reconnect_ev) abort();
    struct timeval tv = {0, FLEET_TICK_US};
    event_add(fl->tick_ev, &tv);
    fleet_st = fl;
    fl->was_up = 1;                 /* the first failure is logged */
    log_info("fleet_starting", "redis=%s fleet=%s id=%s labels=%d", log_q(fl->url_text), log_q(ns), log_q(fl->id),
             fl->spec.nlabels);
    start_session();
    return 0;
}

static void join_cb(evutil_socket_t fd, short what, void *arg)
{
    char err[700];
    event_free(g_join_ev);
    g_join_ev = NULL;
    if (fleet_join(arg, err, sizeof(err)) < 0) log_error("fleet_disabled", "error=%s", log_q(err));
}

static int fleet_start(struct fl_server *s, char *err, size_t errlen)
{
    if (fleet_st || g_join_ev) return 0;
    g_join_ev = evtimer_new(s->base, join_cb, s);
    if (!g_join_ev) abort();
    struct timeval tv = {0, 0};
    evtimer_add(g_join_ev, &tv);
    return 0;
}

static void fleet_stop(struct fl_server *s)
{
    if (g_join_ev) { event_free(g_join_ev); g_join_ev = NULL; }
    struct fleet *fl = fleet_st;
    if (!fl || fl->s != s) {
        /* the second stop, before the server is freed: a DEL that could not leave in time goes */
        if (g_closing) { redisAsyncContext *c = g_closing; g_closing = NULL; redisAsyncFree(c); }
        return;
    }
    fleet_ops_free();
    /* deregister: the key goes now rather than in 5 s (best effort; the ZSET keeps the member,
     * which then reads as gone) */
    if (fl->ac_up) {
        const char *a[] = {"DEL", fl->k_inst};
        size_t l[] = {3, strlen(fl->k_inst)};
        redisAsyncCommandArgv(fl->ac, NULL, NULL, 2, a, l);
        g_closing = fl->ac;
        fl->ac = NULL;
        redisAsyncDisconnect(g_closing);   /* sends what is queued, then closes (on_disconnect) */
    }
    fleet_st = NULL;
    free_ctx(&fl->ac);
    free_ctx(&fl->bc);
    event_free(fl->tick_ev);
    event_free(fl->reset_ev);
    event_free(fl->reconnect_ev);
    fleet_leases_free();
    json_decref(fl->labels);
    memset(fl->key, 0, sizeof(fl->key));
    free(fl->leases);
    free(fl);
}

const struct server_part fleet_part = {"fleet", fleet_start, fleet_stop};
