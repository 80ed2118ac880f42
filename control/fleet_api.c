/* fleet_api.c -- the fleet on the admin API: GET /fleet/instances, POST /fleet/kill and POST
 * /fleet/resume; the fleet's counters in /stats and /metrics. docs/api.md, docs/fleet.md.
 *
 * The answers come from Redis, so a request is answered later (control/admin.h adm_defer)
 * from a chain of callbacks on the loop -- the registry read (ZREVRANGE members, MGET the
 * instance keys, HMGET their labels), then for kill/resume the signed XADD and a poll of the
 * command's ack list every 50 ms until every instance that was up has answered or 2 s passed.
 * A session that dies meanwhile answers 503 (fleet_ops_fail). Without a [fleet] section the
 * routes answer 404 {"error": "no fleet configured"}.
 */
#define FL_ADMIN_INTERNAL
#include "control/fleet_int.h"
#include "control/admin.h"
#include "proxy/proxy.h"
#include "common/log.h"
#include "common/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include <event2/http.h>

#define OP_WAIT_US 2000000
#define OP_POLL_US 50000

enum op_kind { OP_LIST = 1, OP_KILL, OP_RESUME };

struct fleet_op {
    enum op_kind kind;
    struct adm_defer *d;
    json_t *inst;                    /* the registry as read */
    char **ids;                      /* the members' ids, in order */
    int64_t *seen;
    int n;
    char cmd_id[40];
    int of;                          /* instances up when the command left */
    int64_t started_us;
    struct event *poll;
    struct fleet_op *next;
};

static void op_free(struct fleet_op *o)
{
    struct fleet *fl = fleet_st;
    for (struct fleet_op **p = fl ? &fl->ops : NULL; p && *p; p = &(*p)->next)
        if (*p == o) { *p = o->next; break; }
    for (int i = 0; i < o->n; i++) free(o->ids[i]);
    free(o->ids);
    free(o->seen);
    json_decref(o->inst);
    if (o->poll) event_free(o->poll);
    free(o);
}

static void op_answer(struct fleet_op *o, int code, json_t *j)
{
    adm_defer_json(o->d, code, j);
    o->d = NULL;
    op_free(o);
}

static void op_fail(struct fleet_op *o, const char *why)
{
    op_answer(o, 503, json_pack("{s:s, s:i}", "error", why, "status", 503));
}

void fleet_ops_fail(const char *why)
{
    while (fleet_st && fleet_st->ops) op_fail(fleet_st->ops, why);
}

void fleet_ops_free(void) { fleet_ops_fail("faultline is stopping"); }

/* The op a reply is for, if it is still waiting (a reply after the op ended is ignored). */
static struct fleet_op *live(void *priv)
{
    for (struct fleet_op *o = fleet_st ? fleet_st->ops : NULL; o; o = o->next)
        if (o == priv) return o;
    return NULL;
}

/* ---- kill / resume: the command, then its acks ---- */

static void acks_reply(redisAsyncContext *c, void *reply, void *priv)
{
    struct fleet_op *o = live(priv);
    redisReply *r = reply;
    if (!o) return;
    if (!r || r->type != REDIS_REPLY_ARRAY) { op_fail(o, "reading the acks failed"); return; }
    int ok = 0;
    json_t *failed = json_array();
    for (size_t i = 0; i < r->elements; i++) {
        json_t *a = r->element[i]->type == REDIS_REPLY_STRING ? json_loads(r->element[i]->str, 0, NULL) : NULL;
        if (json_is_true(json_object_get(a, "ok"))) ok++;
        else json_array_append_new(failed, json_pack("{s:O?, s:O?}", "id", json_object_get(a, "id"), "reason",
                                                     json_object_get(a, "reason")));
        json_decref(a);
    }
    int64_t waited = fl_now_us() - o->started_us;
    if ((int)r->elements >= o->of || waited >= OP_WAIT_US) {
        op_answer(o, 200, json_pack("{s:i, s:i, s:I, s:o, s:s, s:i}", "applied", ok, "of", o->of, "ms",
                                    (json_int_t)(waited / 1000), "failed", failed, "id", o->cmd_id, "timed_out",
                                    o->of > (int)r->elements ? o->of - (int)r->elements : 0));
        return;
    }
    json_decref(failed);
    struct timeval tv = {0, OP_POLL_US};
    evtimer_add(o->poll, &tv);
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fleet_op *o = arg;
    char key[400];
    snprintf(key, sizeof(key), "%s%s", fleet_st->k_ack, o->cmd_id);
    const char *a[] = {"LRANGE", key, "0", "-1"};
    size_t l[] = {6, strlen(key), 1, 2};
    if (fleet_cmd(acks_reply, o, 4, a, l) < 0) op_fail(o, "the fleet's Redis is unavailable");
}

static void xadd_reply(redisAsyncContext *c, void *reply, void *priv)
{
    struct fleet_op *o = live(priv);
    redisReply *r = reply;
    if (!o) return;
    if (!r || r->type == REDIS_REPLY_ERROR) { op_fail(o, r && r->str ? r->str : "XADD failed"); return; }
    struct timeval tv = {0, 10000};
    evtimer_add(o->poll, &tv);
}

static void send_command(struct fleet_op *o)
{
    struct fleet *fl = fleet_st;
    o->of = 0;
    size_t i;
    json_t *v;
    json_array_foreach(o->inst, i, v) o->of += !strcmp(json_string_value(json_object_get(v, "state")), "up");
    char from[200];
    snprintf(from, sizeof(from), "api@%s", fl->id);
    json_t *m = fleet_msg_new(o->kind == OP_KILL ? "kill" : "resume", from, fl_wall_us() / 1000);
    json_object_set_new(m, "sel", json_string(""));
    snprintf(o->cmd_id, sizeof(o->cmd_id), "%s", json_string_value(json_object_get(m, "id")));
    char *txt, sig[65];
    int rc = fleet_msg_seal(m, fl->key, fl->klen, &txt, sig);
    json_decref(m);
    if (rc < 0) { op_fail(o, "cannot sign"); return; }
    const char *a[] = {"XADD", fl->k_cmd, "MAXLEN", "~", FLEET_STREAM_MAXLEN, "*", "m", txt, "sig", sig};
    size_t l[10];
    for (int k = 0; k < 10; k++) l[k] = strlen(a[k]);
    o->started_us = fl_now_us();
    o->poll = evtimer_new(fl->s->base, poll_cb, o);
    if (!o->poll) abort();
    log_info("fleet_send", "cmd=%s op=%s sel=all instances_up=%d", o->cmd_id, o->kind == OP_KILL ? "kill" : "resume", o->of);
    if (fleet_cmd(xadd_reply, o, 10, a, l) < 0) op_fail(o, "the fleet's Redis is unavailable");
    free(txt);
}

/* ---- the registry read ---- */

static void labels_reply(redisAsyncContext *c, void *reply, void *priv)
{
    struct fleet_op *o = live(priv);
    redisReply *r = reply;
    if (!o) return;
    if (!r || r->type != REDIS_REPLY_ARRAY || (int)r->elements != o->n) { op_fail(o, "reading the registry failed"); return; }
    int64_t now_ms = fl_wall_us() / 1000;
    json_t *a = json_array();
    size_t i;
    json_t *inst;
    json_array_foreach(o->inst, i, inst) {
        const char *it = json_string_value(inst);
        const char *lt = r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : NULL;
        json_array_append_new(a, fleet_instance_json(o->ids[i], o->seen[i], it, lt, now_ms));
    }
    json_decref(o->inst);
    o->inst = a;
    if (o->kind == OP_LIST) op_answer(o, 200, json_pack("{s:O, s:s, s:s}", "instances", o->inst, "fleet",
                                                         fleet_st->spec.name, "self", fleet_st->id));
    else send_command(o);
}

static void mget_reply(redisAsyncContext *c, void *reply, void *priv)
{
    struct fleet_op *o = live(priv);
    redisReply *r = reply;
    if (!o) return;
    if (!r || r->type != REDIS_REPLY_ARRAY || (int)r->elements != o->n) { op_fail(o, "reading the registry failed"); return; }
    o->inst = json_array();
    for (size_t i = 0; i < r->elements; i++)
        json_array_append_new(o->inst, r->element[i]->type == REDIS_REPLY_STRING ? json_string(r->element[i]->str) : json_null());
    const char **a = calloc((size_t)o->n + 2, sizeof(char *));
    size_t *l = calloc((size_t)o->n + 2, sizeof(size_t));
    if (!a || !l) abort();
    a[0] = "HMGET";
    a[1] = fleet_st->k_labels;
    for (int k = 0; k < o->n; k++) a[k + 2] = o->ids[k];
    for (int k = 0; k < o->n + 2; k++) l[k] = strlen(a[k]);
    if (fleet_cmd(labels_reply, o, o->n + 2, a, l) < 0) op_fail(o, "the fleet's Redis is unavailable");
    free(a);
    free(l);
}

static void members_reply(redisAsyncContext *c, void *reply, void *priv)
{
    struct fleet_op *o = live(priv);
    redisReply *r = reply;
    if (!o) return;
    if (!r || r->type != REDIS_REPLY_ARRAY) { op_fail(o, "reading the registry failed"); return; }
    o->n = (int)(r->elements / 2);
    if (!o->n) {
        o->inst = json_array();
        if (o->kind == OP_LIST) op_answer(o, 200, json_pack("{s:[], s:s, s:s}", "instances", "fleet", fleet_st->spec.name,
                                                             "self", fleet_st->id));
        else send_command(o);
        return;
    }
    o->ids = calloc((size_t)o->n, sizeof(char *));
    o->seen = calloc((size_t)o->n, sizeof(int64_t));
    const char **a = calloc((size_t)o->n + 1, sizeof(char *));
    size_t *l = calloc((size_t)o->n + 1, sizeof(size_t));
    if (!o->ids || !o->seen || !a || !l) abort();
    a[0] = "MGET";
    l[0] = 4;
    char key[400];
    for (int k = 0; k < o->n; k++) {
        o->ids[k] = strdup(r->element[2 * k]->str ? r->element[2 * k]->str : "");
        if (!o->ids[k]) abort();
        o->seen[k] = r->element[2 * k + 1]->str ? strtoll(r->element[2 * k + 1]->str, NULL, 10) : 0;
        snprintf(key, sizeof(key), "faultline:fleet:%s:inst:%s", fleet_st->spec.name, o->ids[k]);
        a[k + 1] = strdup(key);
        if (!a[k + 1]) abort();
        l[k + 1] = strlen(key);
    }
    int rc = fleet_cmd(mget_reply, o, o->n + 1, a, l);
    for (int k = 1; k <= o->n; k++) free((char *)a[k]);
    free(a);
    free(l);
    if (rc < 0) op_fail(o, "the fleet's Redis is unavailable");
}

static void op_start(struct adm_req *r, enum op_kind kind)
{
    struct fleet *fl = fleet_st;
    if (!fl->ready) {
        adm_error(r, 503, "the fleet's Redis (%s) is unavailable; the fleet cannot be read or commanded now", fl->url_text);
        return;
    }
    struct fleet_op *o = calloc(1, sizeof(*o));
    if (!o) abort();
    o->kind = kind;
    o->next = fl->ops;
    fl->ops = o;
    char stop[16];
    snprintf(stop, sizeof(stop), "%d", FLEET_MAX_LIST - 1);
    const char *a[] = {"ZREVRANGE", fl->k_members, "0", stop, "WITHSCORES"};
    size_t l[5];
    for (int k = 0; k < 5; k++) l[k] = strlen(a[k]);
    if (fleet_cmd(members_reply, o, 5, a, l) < 0) {
        op_free(o);
        adm_error(r, 503, "the fleet's Redis (%s) is unavailable", fl->url_text);
        return;
    }
    o->d = adm_defer(r);
}

int fleet_route(struct adm_req *r)
{
    if (r->nseg < 1 || strcmp(r->seg[0], "fleet")) return 0;
    if (!fleet_st) { adm_error(r, 404, "no fleet configured"); return 1; }
    const char *what = r->nseg == 2 ? r->seg[1] : "";
    if (!strcmp(what, "instances")) {
        if (r->method != EVHTTP_REQ_GET) { adm_method_not_allowed(r, "GET"); return 1; }
        op_start(r, OP_LIST);
    } else if (!strcmp(what, "kill") || !strcmp(what, "resume")) {
        if (r->method != EVHTTP_REQ_POST) { adm_method_not_allowed(r, "POST"); return 1; }
        op_start(r, what[0] == 'k' ? OP_KILL : OP_RESUME);
    } else {
        adm_error(r, 404, "not found: /fleet/%s (the fleet has /fleet/instances, /fleet/kill, /fleet/resume)", what);
    }
    return 1;
}

/* ---- counters ---- */

json_t *fleet_stats_json(void)
{
    struct fleet *fl = fleet_st;
    if (!fl) return NULL;
    json_t *ref = json_object();
    for (int v = 1; v < FV_NVERDICTS; v++) json_object_set_new(ref, fleet_verdict_str(v), json_integer((json_int_t)fl->refused[v]));
    return json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:I, s:o}", "id", fl->id, "name",
                     fl->spec.name, "connected", fl->ready, "commands_seen", (json_int_t)fl->seen, "applied",
                     (json_int_t)fl->applied, "failed", (json_int_t)fl->failed, "ignored", (json_int_t)fl->ignored,
                     "leases_expired", (json_int_t)fl->expired, "heartbeats", (json_int_t)fl->heartbeats, "sessions",
                     (json_int_t)fl->sessions, "leases", fl->nleases, "nonces_evicted", (json_int_t)fl->nonces.evicted,
                     "refused", ref);
}

void fleet_metrics(void (*put)(void *ud, const char *text), void *ud)
{
    struct fleet *fl = fleet_st;
    if (!fl) return;
    char b[600];
    put(ud, "# HELP faultline_fleet_connected 1 while the fleet's Redis session is up (registered, reading commands).\n"
            "# TYPE faultline_fleet_connected gauge\n");
    snprintf(b, sizeof(b), "faultline_fleet_connected %d\n", fl->ready);
    put(ud, b);
    put(ud, "# HELP faultline_fleet_refused_total Fleet commands refused, by reason (unsigned, bad_signature, stale, "
            "replayed, malformed).\n# TYPE faultline_fleet_refused_total counter\n");
    for (int v = 1; v < FV_NVERDICTS; v++) {
        snprintf(b, sizeof(b), "faultline_fleet_refused_total{reason=\"%s\"} %llu\n", fleet_verdict_str(v),
                 (unsigned long long)fl->refused[v]);
        put(ud, b);
    }
    put(ud, "# HELP faultline_fleet_commands_total Fleet commands meant for this instance, by result.\n"
            "# TYPE faultline_fleet_commands_total counter\n");
    snprintf(b, sizeof(b), "faultline_fleet_commands_total{result=\"applied\"} %llu\n"
             "faultline_fleet_commands_total{result=\"failed\"} %llu\n",
             (unsigned long long)fl->applied, (unsigned long long)fl->failed);
    put(ud, b);
    put(ud, "# HELP faultline_fleet_leases_expired_total Leased faults this instance removed when their lease ran out.\n"
            "# TYPE faultline_fleet_leases_expired_total counter\n");
    snprintf(b, sizeof(b), "faultline_fleet_leases_expired_total %llu\n", (unsigned long long)fl->expired);
    put(ud, b);
    put(ud, "# HELP faultline_fleet_leases Faults applied through the fleet and holding a lease now.\n"
            "# TYPE faultline_fleet_leases gauge\n");
    snprintf(b, sizeof(b), "faultline_fleet_leases %d\n", fl->nleases);
    put(ud, b);
}
