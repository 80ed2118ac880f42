/* proxy/protocols/postgres.h -- mode = postgres: the frontend/backend protocol v3 engine of a connection pair.
 *
 * The core reaches it through protocol_postgres (proxy/protocol.h), whose operations are the
 * functions below: proxy/conn_relay.c hands every byte a postgres proxy reads to pg_on_read()
 * instead of its plain relay; the engine frames messages as they stream past, keeps facts about the session,
 * applies the pg_* faults (faults/pg_fault.h) at message boundaries, and passes bytes on into
 * the direction's ordinary fault chain (so tcp-level faults still act after it). Whole result
 * sets are never buffered: only messages that must be read to decide something (startup,
 * Query, Parse, Bind, ReadyForQuery, BackendKeyData) are looked at whole, up to a bound.
 *
 * Ownership: the session (struct pg_sess) is owned by its connection (c->proto) and freed by
 * pg_conn_free(). Per-proxy totals live in this module, by proxy name, for the life of the
 * process (a reload that keeps a proxy's name keeps its totals).
 */
#ifndef FL_PG_H
#define FL_PG_H

#include <stddef.h>
#include <stdint.h>
#include <event2/buffer.h>

struct conn;
struct pipe;
struct fl_proxy;
struct protocol;

extern const struct protocol protocol_postgres;   /* mode = postgres (proxy/protocol.h) */
struct pg_sess;

/* Creates the session of a new connection on a postgres proxy (sets c->proto). */
void pg_conn_init(struct conn *c);
/* Bytes arrived on p->src (in = its input buffer). Consumes what it can frame; may leave an
 * incomplete message (bounded) or a held query in `in`. */
void pg_on_read(struct conn *c, struct pipe *p, struct evbuffer *in);
/* p->src reached EOF. Returns 1 if the engine passes the EOF on itself later (bytes still
 * held), 0 to let the caller pass it on now. */
int pg_on_eof(struct conn *c, struct pipe *p);
/* Logs the session's facts (event pg_session) and frees it. Accepts c->proto == NULL. */
void pg_conn_free(struct conn *c);

/* Per-proxy totals as a JSON object (malloc'd string, caller frees), for /stats and the
 * recorder: {"conns":…, "queries":…, …}. Never NULL. */
char *pg_stats_json(const struct fl_proxy *px);

/* Facts for the recorder (record/record.h; schema in docs/metrics.md): a closing connection's
 * session (fields pg_* of its event), the proxy's totals (R:proto hash), and the sessions per
 * (user, application_name) now (an R:pgstate entry; also starts the next interval's peaks). */
struct rec_kv;
void pg_conn_facts(const struct conn *c, struct rec_kv *kv);
void pg_totals_facts(const struct fl_proxy *px, struct rec_kv *kv);
void pg_state_facts(struct fl_proxy *px, struct rec_kv *kv);

/* ---- the engine without a connection (tests/fuzz/fuzz_pg.c) ----
 * Bytes are framed exactly as on a live connection; forwarded bytes are drained, injected
 * bytes are appended to `sink` (may be NULL), and a close marks the session dead. */
struct pg_sess *pg_sess_new_detached(struct evbuffer *sink);
/* dir 0 = client -> server, 1 = server -> client. Returns 0, or -1 once the session is dead
 * (protocol garbage or a close). */
/* The faults of px (its faults[], spec) act on the detached session; px is borrowed. No time
 * passes: a pg_latency gate opens at the next pg_feed, a pg_hang hold ends at the next feed
 * from the server (as on_end = release would). */
void pg_sess_detached_faults(struct pg_sess *s, struct fl_proxy *px);
int pg_feed(struct pg_sess *s, int dir, struct evbuffer *in);
void pg_sess_free(struct pg_sess *s);

#endif
