/* proxy/protocols/redis.h -- mode = redis: the RESP2/RESP3 engine of a connection pair.
 *
 * The core reaches it through protocol_redis (proxy/protocol.h), whose operations are the
 * functions below: proxy/conn_relay.c hands every byte a redis proxy reads to resp_on_read();
 * the engine frames
 * commands (arrays of bulk strings, and inline commands) and replies (every RESP2/RESP3 type,
 * aggregates, attributes and pushes) as they stream, pairs them through a FIFO (pipelining),
 * keeps facts, applies the redis_* faults (faults/redis_fault.h) per command, and passes bytes on
 * into the direction's ordinary fault chain.
 *
 * Ownership: the session is owned by its connection (c->proto), freed by resp_conn_free().
 */
#ifndef FL_REDIS_MODE_H
#define FL_REDIS_MODE_H

#include <stddef.h>
#include <event2/buffer.h>

struct conn;
struct pipe;
struct fl_proxy;
struct protocol;

extern const struct protocol protocol_redis;   /* mode = redis (proxy/protocol.h) */
struct resp_sess;

void resp_conn_init(struct conn *c);
void resp_on_read(struct conn *c, struct pipe *p, struct evbuffer *in);
/* 1 if the engine passes the EOF on itself later (bytes still held), else 0. */
int resp_on_eof(struct conn *c, struct pipe *p);
void resp_conn_free(struct conn *c);   /* logs the session's facts; accepts c->proto == NULL */

/* Per-proxy totals as a JSON object (malloc'd, caller frees). Never NULL. */
char *resp_stats_json(const struct fl_proxy *px);

/* Facts for the recorder (record/record.h; schema in docs/metrics.md): a closing connection's
 * session (fields redis_* of its event) and the proxy's totals (R:proto hash). */
struct rec_kv;
void resp_conn_facts(const struct conn *c, struct rec_kv *kv);
void resp_totals_facts(const struct fl_proxy *px, struct rec_kv *kv);

/* ---- without a connection (tests/fuzz/fuzz_resp.c) ---- */
struct resp_sess *resp_sess_new_detached(struct evbuffer *sink);
/* The faults of px act on the detached session (px borrowed); no time passes: a
 * redis_latency'd command waits for the next feed, a redis_hang hold ends at the next feed from
 * the server (as on_end = release). */
void resp_sess_detached_faults(struct resp_sess *s, struct fl_proxy *px);
int resp_feed(struct resp_sess *s, int dir, struct evbuffer *in);   /* -1 once dead */
void resp_sess_free(struct resp_sess *s);

#endif
