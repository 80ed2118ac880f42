/* fleet_client.c -- the fleet's blocking controller client (control/fleet_client.h).
 *
 * What: connect to the fleet's Redis (AUTH with an ACL user, SELECT), read the registry in one
 * pipelined round trip, pick instances by selector and blast radius, sign a command
 * (control/fleet_sign.h) and XADD it, then BLPOP the command's ack list until every instance
 * meant answered or the deadline passed. Used by `faultline ctl --fleet` and by `faultline run`
 * with a fleet; each prints the result its own way.
 * What not: no printing, no retries (a controller reports what happened; the leases end what
 * it cannot reach).
 */
#include "control/fleet_client.h"
#include "common/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include <openssl/rand.h>

static int fc_connect(struct fleet_client *c, const struct rec_url *url, char *err, size_t errlen)
{
    struct timeval tv = {5, 0};
    c->rc = url->is_unix ? redisConnectUnixWithTimeout(url->path, tv) : redisConnectWithTimeout(url->host, url->port, tv);
    if (!c->rc || c->rc->err) {
        snprintf(err, errlen, "cannot reach the fleet's Redis: %s", c->rc ? c->rc->errstr : "out of memory");
        return -1;
    }
    redisSetTimeout(c->rc, tv);
    redisReply *r = NULL;
    if (url->pass[0])
        r = url->user[0] ? redisCommand(c->rc, "AUTH %s %s", url->user, url->pass) : redisCommand(c->rc, "AUTH %s", url->pass);
    if (r && r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "Redis AUTH: %s", r->str);
        freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    if (url->db) {
        r = redisCommand(c->rc, "SELECT %d", url->db);
        int bad = !r || r->type == REDIS_REPLY_ERROR;
        freeReplyObject(r);
        if (bad) { snprintf(err, errlen, "Redis SELECT %d failed", url->db); return -1; }
    }
    return 0;
}

int fleet_client_open(struct fleet_client *c, const struct rec_url *url, const char *key_file, const char *name,
                      const char *who, char *err, size_t errlen)
{
    char e[300];
    snprintf(c->ns, sizeof(c->ns), "%s", name && *name ? name : "default");
    if (!fleet_word_ok(c->ns, sizeof(c->ns))) { snprintf(err, errlen, "'%s' is not a fleet name", c->ns); return -1; }
    if (fleet_key_read(key_file, c->key, &c->klen, e, sizeof(e)) < 0) { snprintf(err, errlen, "key file: %s", e); return -1; }
    char host[100] = "host";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = 0;
    const char *user = getenv("USER");
    snprintf(c->from, sizeof(c->from), "%s:%s@%s:%d", who, user && *user ? user : "?", host, (int)getpid());
    return fc_connect(c, url, err, errlen);
}

void fleet_client_close(struct fleet_client *c)
{
    if (c->rc) redisFree(c->rc);
    c->rc = NULL;
    memset(c->key, 0, sizeof(c->key));
    c->klen = 0;
}

json_t *fleet_client_registry(struct fleet_client *c)
{
    redisReply *m = redisCommand(c->rc, "ZREVRANGE faultline:fleet:%s:members 0 9999 WITHSCORES", c->ns);
    if (!m || m->type != REDIS_REPLY_ARRAY) { freeReplyObject(m); return NULL; }
    json_t *a = json_array();
    int64_t now_ms = fl_wall_us() / 1000;
    for (size_t i = 0; i + 1 < m->elements; i += 2) {
        const char *id = m->element[i]->str;
        redisAppendCommand(c->rc, "GET faultline:fleet:%s:inst:%s", c->ns, id);
        redisAppendCommand(c->rc, "HGET faultline:fleet:%s:labels %s", c->ns, id);
    }
    for (size_t i = 0; i + 1 < m->elements; i += 2) {
        redisReply *g = NULL, *l = NULL;
        if (redisGetReply(c->rc, (void **)&g) != REDIS_OK || redisGetReply(c->rc, (void **)&l) != REDIS_OK) {
            freeReplyObject(g);
            freeReplyObject(m);
            json_decref(a);
            return NULL;
        }
        json_array_append_new(a, fleet_instance_json(m->element[i]->str, strtoll(m->element[i + 1]->str, NULL, 10),
                                                     g && g->type == REDIS_REPLY_STRING ? g->str : NULL,
                                                     l && l->type == REDIS_REPLY_STRING ? l->str : NULL, now_ms));
        freeReplyObject(g);
        freeReplyObject(l);
    }
    freeReplyObject(m);
    return a;
}

json_t *fleet_client_pick(json_t *all, const struct fleet_sel *sel, double percent, int max_inst, int *matched)
{
    json_t *ids = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(all, i, v)
        if (!strcmp(json_string_value(json_object_get(v, "state")), "up") &&
            fleet_sel_match(sel, json_string_value(json_object_get(v, "id")), json_object_get(v, "labels")))
            json_array_append(ids, json_object_get(v, "id"));
    int n = (int)json_array_size(ids), k = n;
    *matched = n;
    if (percent > 0) k = (int)((double)n * percent / 100.0 + 0.999999);
    if (max_inst > 0 && k > max_inst) k = max_inst;
    for (int a = n - 1; a > 0; a--) {        /* Fisher-Yates with the OS's randomness */
        uint32_t r;
        if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1) abort();
        int b = (int)(r % (uint32_t)(a + 1));
        json_t *x = json_incref(json_array_get(ids, (size_t)a));
        json_array_set(ids, (size_t)a, json_array_get(ids, (size_t)b));
        json_array_set_new(ids, (size_t)b, x);
    }
    while ((int)json_array_size(ids) > k) json_array_remove(ids, json_array_size(ids) - 1);
    return ids;
}

json_t *fleet_client_msg(struct fleet_client *c, const char *op, const char *sel_text, json_t *targets, int matched,
                         double percent, int max_inst)
{
    json_t *m = fleet_msg_new(op, c->from, fl_wall_us() / 1000);
    json_object_set_new(m, "sel", json_string(sel_text ? sel_text : ""));
    if (percent > 0 || max_inst > 0) {
        json_object_set(m, "targets", targets);
        json_t *p = json_pack("{s:i, s:i}", "matched", matched, "picked", (int)json_array_size(targets));
        if (percent > 0) json_object_set_new(p, "percent", json_real(percent));
        if (max_inst > 0) json_object_set_new(p, "max_instances", json_integer(max_inst));
        json_object_set_new(m, "pick", p);
    }
    return m;
}

int fleet_client_send(struct fleet_client *c, json_t *msg, char *err, size_t errlen)
{
    char *m, sig[65];
    if (fleet_msg_seal(msg, c->key, c->klen, &m, sig) < 0) { snprintf(err, errlen, "cannot sign"); return -1; }
    redisReply *r = redisCommand(c->rc, "XADD faultline:fleet:%s:cmd MAXLEN ~ 10000 * m %s sig %s", c->ns, m, sig);
    free(m);
    int bad = !r || r->type == REDIS_REPLY_ERROR;
    if (bad) snprintf(err, errlen, "XADD: %s", r ? r->str : c->rc->errstr);
    freeReplyObject(r);
    return bad ? -1 : 0;
}

/* Waits for the acks of command id from the ids in want; the result object of fleet_client_run. */
static json_t *wait_acks(struct fleet_client *c, const char *id, const char *op, json_t *want, int64_t t0,
                         int64_t sent_ms, int64_t timeout_us, char *err, size_t errlen)
{
    int m = (int)json_array_size(want), ok = 0;
    json_t *got = json_object(), *failed = json_array();
    int64_t deadline = t0 + timeout_us;
    while ((int)json_object_size(got) < m) {
        int64_t left = deadline - fl_now_us();
        if (left <= 0) break;
        double secs = (double)(left > 200000 ? 200000 : left) / 1e6;
        redisReply *r = redisCommand(c->rc, "BLPOP faultline:fleet:%s:ack:%s %.3f", c->ns, id, secs < 0.01 ? 0.01 : secs);
        if (!r) { snprintf(err, errlen, "Redis: %s", c->rc->errstr); break; }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            json_t *a = json_loads(r->element[1]->str, 0, NULL);
            const char *who = json_string_value(json_object_get(a, "id"));
            if (who && !json_object_get(got, who)) {
                json_object_set(got, who, a);
                if (json_is_true(json_object_get(a, "ok"))) ok++;
                else json_array_append(failed, a);
            }
            json_decref(a);
        }
        freeReplyObject(r);
    }
    int64_t ms = (fl_now_us() - t0) / 1000;
    json_t *timed_out = json_array(), *acks = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(want, i, v)
        if (!json_object_get(got, json_string_value(v))) json_array_append(timed_out, v);
    const char *k;
    json_object_foreach(got, k, v) json_array_append(acks, v);
    json_decref(got);
    return json_pack("{s:s, s:s, s:i, s:i, s:I, s:o, s:o, s:O, s:I, s:o}", "id", id, "op", op, "applied", ok, "of", m,
                     "ms", (json_int_t)ms, "failed", failed, "timed_out", timed_out, "targets", want, "sent_ms",
                     (json_int_t)sent_ms, "acks", acks);
}

json_t *fleet_client_run(struct fleet_client *c, json_t *msg, json_t *want, int64_t timeout_us, char *err,
                         size_t errlen)
{
    char id[40], op[16];
    int64_t sent_ms = (int64_t)json_integer_value(json_object_get(msg, "ts"));
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(msg, "id")));
    snprintf(op, sizeof(op), "%s", json_string_value(json_object_get(msg, "op")));
    int64_t t0 = fl_now_us();
    int rc = fleet_client_send(c, msg, err, errlen);
    json_decref(msg);
    if (rc < 0) return NULL;
    return wait_acks(c, id, op, want, t0, sent_ms, timeout_us, err, errlen);
}
