/* proxy/embed.h -- running faultline's proxies inside another program: the embedding API.
 *
 * `faultline serve` owns its process: its signals, its loop, its exit. A program that embeds the
 * proxies -- the scenario runner (run/run.c) today, a test harness tomorrow -- owns those
 * itself and needs only a handful of verbs: start the proxies of a profile on an event base it
 * then drives, attach and remove faults by name while it runs, read each proxy's counters, and
 * at the end close every connection and stop. This header is that handful, on top of
 * proxy/proxy.h's public functions, so that the embedder never touches the server's structs:
 * the core may change its internals without the runner noticing.
 *
 * One embedded server per process (the daemon's own rule: proxy/proxy.h, fl_srv). Everything
 * runs on the embedded server's event base (embed_base): call these from that loop's thread,
 * between or inside its callbacks. Nothing here blocks except embed_free, which flushes the
 * record (bounded).
 *
 * Ownership: embed_start takes the profile; the embedding owns everything it started until
 * embed_free.
 */
#ifndef FL_EMBED_H
#define FL_EMBED_H

#include <stddef.h>
#include <stdint.h>
#include "proxy/profile.h"

struct event_base;
struct fl_embed;

/* Starts the proxies of prof (taken over, even on failure) as `faultline serve` would -- every
 * listener bound, the recorder started when the profile names a redis, the admin API when the
 * profile enables it -- but installs no SIGINT, SIGTERM or SIGHUP handler: stopping and reloading
 * are the embedder's business. SIGUSR1 still stops every fault at once (the game-day button).
 * keep(ud, proxy, name) chooses which of the profile's faults attach now (fault names are per
 * proxy: [fault NAME] of proxy PROXY); the others are dropped (the embedder attaches them later
 * with embed_fault_add). keep NULL attaches them all. NULL with
 * err ("PATH:LINE: reason", a listen address in use) and nothing left open. */
struct fl_embed *embed_start(struct profile *prof, int (*keep)(void *ud, const char *proxy, const char *fault),
                             void *ud, char *err, size_t errlen);

/* The event base the proxies run on: the embedder dispatches it. Owned by the embedding. */
struct event_base *embed_base(struct fl_embed *e);

/* Builds fault `name` from the keys of its [fault] section (keys[i] = vals[i], n pairs: proxy,
 * type, and the rest as a profile has them) and attaches it to its proxy, acting at once on live
 * connections too. 0, or -1 with err (a bad key, no such proxy). */
int embed_fault_add(struct fl_embed *e, const char *name, const char *const *keys, const char *const *vals, int n,
                    char *err, size_t errlen);
/* Removes and frees fault `name` of proxy `proxy` (bytes it holds are passed on or dropped per
 * its on_end). 0, or -1 when that proxy has no such fault. */
int embed_fault_remove(struct fl_embed *e, const char *proxy, const char *name);
/* Removes every fault of every proxy, the last attached first; gone(ud, proxy, name) is called
 * with each just before it goes (gone may be NULL). */
void embed_fault_remove_all(struct fl_embed *e, void (*gone)(void *ud, const char *proxy, const char *name), void *ud);

/* One proxy's counters since it started, as `GET /stats` reports them. */
struct embed_stats {
    char proxy[128];
    uint64_t active, accepted;         /* connections open now; accepted in all */
    uint64_t requests, inflight;       /* requests seen, open now (request-aware protocols: http) */
    uint64_t status_5xx;               /* 5xx answers */
    uint64_t upstream_failed;          /* connections to the upstream that failed */
    uint64_t bad_responses;            /* answers the protocol could not parse */
    uint64_t fault_resets, fault_closes, fault_refused;  /* summed over the proxy's faults */
    uint64_t fault_abandoned;          /* held calls the client gave up on (faults' counters) */
};
/* A snapshot of every proxy, in profile order: *n entries in a new array the caller frees
 * (free), never NULL. */
struct embed_stats *embed_stats(struct fl_embed *e, int *n);

/* Closes every connection of every proxy now (RST) and runs the loop a few turns, so that their
 * ends reach the recorder while it still runs (the record says held_at_end). */
void embed_close_all(struct fl_embed *e);

/* Flushes the record (blocking, bounded), then stops and frees everything embed_start started.
 * Accepts NULL. */
void embed_free(struct fl_embed *e);

#endif
