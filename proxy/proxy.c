/* proxy.c -- a proxy: its listener and the faults attached to it.
 *
 * The listener is open while the proxy is enabled, no `refuse` fault is acting and the server
 * is not draining; otherwise it is closed, so clients see ECONNREFUSED exactly as they would
 * from a dead dependency. Accept errors for lack of descriptors (EMFILE/ENFILE) pause accepting
 * with a growing backoff instead of spinning.
 *
 * Faults: a proxy keeps its faults in definition order, and that order is the order of every
 * connection's stage chain. Attaching, changing or removing a fault re-syncs every live
 * connection (conn_sync_stages), so changes act on open connections too.
 */
#include "proxy/proxy.h"
#include "proxy/tls.h"
#include "faults/chain.h"
#include "common/log.h"
#include "record/record.h"
#include "common/unixsock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    struct fl_proxy *px = arg;
    if (!proxy_admit(px, fd)) return;   /* past max_conns: reset (proxy/limits.c) */
    conn_accept(px, fd, sa, salen);
    /* a connection made it: the descriptor shortage (if any) is over */
    if (!px->listen_paused) px->accept_backoff_us = 0;
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fl_proxy *px = arg;
    px->listen_paused = 0;
    if (px->lis) evconnlistener_enable(px->lis);
}

void proxy_accept_pause(struct fl_proxy *px, int err)
{
    px->st.accept_errors++;
    int64_t now = fl_now_us();
    if (now - px->last_emfile_log_us >= 1000000) {
        px->last_emfile_log_us = now;
        log_warn("accept_error", "proxy=%s error=%s action=%s", log_q(px->spec.name),
                 log_q(evutil_socket_error_to_string(err)),
                 (err == EMFILE || err == ENFILE) ? "pausing_accept" : "retrying");
    }
    /* out of descriptors (or any persistent error): back off instead of spinning */
    px->accept_backoff_us = px->accept_backoff_us ? px->accept_backoff_us * 2 : 10000;
    if (px->accept_backoff_us > 1000000) px->accept_backoff_us = 1000000;
    if (px->lis) evconnlistener_disable(px->lis);
    px->listen_paused = 1;
    if (!px->resume_ev) px->resume_ev = evtimer_new(px->srv->base, resume_cb, px);
    struct timeval tv = {(time_t)(px->accept_backoff_us / 1000000), (suseconds_t)(px->accept_backoff_us % 1000000)};
    evtimer_add(px->resume_ev, &tv);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    proxy_accept_pause(arg, EVUTIL_SOCKET_ERROR());
}

static int proxy_bind(struct fl_proxy *px, char *err, size_t errlen)
{
    const struct fl_addr *a = &px->spec.listen;
    const struct protocol *pr = px->spec.protocol;
    if (pr->serve_open) return pr->serve_open(px, err, errlen);   /* it is the server itself (dns) */
    char ue[300];
    if (a->kind == ADDR_UNIX && unixsock_prepare(a->path, ue, sizeof(ue)) < 0) {
        snprintf(err, errlen, "[proxy %s] cannot listen on %s: %s", px->spec.name, px->spec.listen_text, ue);
        return -1;
    }
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC;
    if (a->kind == ADDR_INET) flags |= LEV_OPT_REUSEABLE;
    px->lis = evconnlistener_new_bind(px->srv->base, accept_cb, px, flags, 4096,
                                      (const struct sockaddr *)&a->ss, (int)a->sslen);
    if (!px->lis) {
        snprintf(err, errlen, "[proxy %s] cannot listen on %s: %s", px->spec.name, px->spec.listen_text,
                 strerror(errno));
        return -1;
    }
    if (a->kind == ADDR_UNIX) unixsock_bound(a->path);
    if (a->kind == ADDR_INET) {
        /* TCP_NODELAY on the listening socket: Linux copies it to every socket accept() returns,
         * so the client side of each pair has it with no setsockopt per connection */
        int one = 1;
        setsockopt(evconnlistener_get_fd(px->lis), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    evconnlistener_set_error_cb(px->lis, accept_error_cb);
    if (px->listen_paused) evconnlistener_disable(px->lis);
    return 0;
}

static int proxy_should_listen(const struct fl_proxy *px)
{
    return px->spec.enabled && !px->refusing && !px->srv->draining && !px->retired;
}

void proxy_update_listener(struct fl_proxy *px)
{
    if (proxy_should_listen(px) && !proxy_bound(px)) {
        char err[400];
        if (proxy_bind(px, err, sizeof(err)) < 0) log_error("listen_failed", "proxy=%s error=%s", log_q(px->spec.name), log_q(err));
    } else if (!proxy_should_listen(px) && px->serve) {
        px->spec.protocol->serve_close(px);
    } else if (!proxy_should_listen(px) && px->lis) {
        evconnlistener_free(px->lis);
        px->lis = NULL;
        if (px->spec.listen.kind == ADDR_UNIX) unixsock_release(px->spec.listen.path);
    }
}

struct fl_proxy *proxy_new(struct fl_server *s, const struct proxy_spec *spec, char *err, size_t errlen)
{
    struct fl_proxy *px = calloc(1, sizeof(*px));
    if (!px) abort();
    px->spec = *spec;
    px->srv = s;
    if (tls_proxy_init(px, err, errlen) < 0) {   /* its certificates, CA, trust store (proxy/tls.c) */
        free(px);
        return NULL;
    }
    if (proxy_should_listen(px) && proxy_bind(px, err, errlen) < 0) {
        tls_proxy_free(px);
        free(px);
        return NULL;
    }
    return px;
}

void proxy_close_all(struct fl_proxy *px, enum close_how how)
{
    /* the next connection is taken (and held) before closing this one: a close that ends a
     * connection at once unlinks it and clears its next pointer (conn_unlink), which used to end
     * the walk after the first connection */
    struct conn *c = px->conns;
    if (c) c->busy++;
    while (c) {
        struct conn *next = c->next;
        if (next) next->busy++;
        conn_close(c, CLOSER_PROXY, how);
        if (--c->busy == 0 && c->dead) conn_free(c);
        if (next && next->dead) {          /* ended meanwhile: walk again from the head */
            if (--next->busy == 0) conn_free(next);
            next = px->conns;
            if (next) next->busy++;
        }
        c = next;
    }
}

void proxy_free(struct fl_proxy *px)
{
    if (!px) return;
    for (int i = 0; i < px->nfaults; i++) {
        struct fault *f = px->faults[i];
        f->px = NULL;
        fault_free(f);
    }
    free(px->faults);
    px->faults = NULL;
    px->nfaults = 0;
    if (px->serve) px->spec.protocol->serve_close(px);
    if (px->lis) evconnlistener_free(px->lis);
    if (px->spec.listen.kind == ADDR_UNIX && px->lis) unixsock_release(px->spec.listen.path);
    if (px->resume_ev) event_free(px->resume_ev);
    tls_proxy_free(px);
    free(px);
}

int proxy_set_enabled(struct fl_proxy *px, int enabled, char *err, size_t errlen)
{
    if (px->spec.enabled == enabled) return 0;
    px->spec.enabled = enabled;
    if (!enabled) {
        /* like Toxiproxy's disabled proxy: refuse new connections, drop the open ones */
        proxy_update_listener(px);
        proxy_close_all(px, CLOSE_FIN);
        return 0;
    }
    if (proxy_should_listen(px) && !proxy_bound(px) && proxy_bind(px, err, errlen) < 0) {
        px->spec.enabled = 0;
        return -1;
    }
    return 0;
}

/* ---- faults on a proxy ---- */

void proxy_faults_changed(struct fl_proxy *px)
{
    for (struct conn *c = px->conns, *next; c; c = next) {
        c->busy++;
        conn_sync_stages(c);
        next = c->next;
        if (--c->busy == 0 && c->dead) conn_free(c);
    }
}

static void fault_timer_cb(evutil_socket_t fd, short what, void *arg);

static int64_t fault_end_at(const struct fault *f)
{
    int64_t start_at = f->loaded_us + f->start_us;
    int64_t end = INT64_MAX;
    if (f->duration_us) end = start_at + f->duration_us;
    if (f->ttl_us && f->loaded_us + f->ttl_us < end) end = f->loaded_us + f->ttl_us;
    int64_t cap = f->px ? f->px->srv->g.max_fault_duration_us : 0;
    if (cap && start_at + cap < end) end = start_at + cap;
    return end;
}

/* A pending fault waits for its start, or for its ttl when that comes first. */
static int64_t fault_pending_until(const struct fault *f)
{
    int64_t at = f->loaded_us + f->start_us;
    if (f->ttl_us && f->loaded_us + f->ttl_us < at) at = f->loaded_us + f->ttl_us;
    return at;
}

static void fault_arm(struct fault *f, int64_t at)
{
    if (!f->timer) f->timer = evtimer_new(fl_srv->base, fault_timer_cb, f);
    int64_t d = at - fl_now_us();
    if (d < 0) d = 0;
    struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
    evtimer_add(f->timer, &tv);
}

static void fault_activate(struct fault *f)
{
    struct fl_proxy *px = f->px;
    f->phase = FAULT_ACTIVE;
    f->active_since_us = fl_now_us();
    log_info("fault_start", "fault=%s proxy=%s type=%s", log_q(f->name), log_q(px->spec.name), f->type->name);
    if (rec_active) fault_record_window(f, 1, NULL);
    if (f->type->on_activate) f->type->on_activate(f);
    const struct protocol *pr = px->spec.protocol;
    if (pr && pr->fault_started && protocol_owns_fault(pr, f)) pr->fault_started(f);
    for (struct conn *c = px->conns, *next; c; c = next) {
        c->busy++;
        for (int d = 0; d < 2; d++)
            for (int i = 0; i < c->p[d].ch.nstages && !c->closing; i++)
                if (c->p[d].ch.stages[i]->f == f) stage_start(c->p[d].ch.stages[i]);
        next = c->next;
        if (--c->busy == 0 && c->dead) conn_free(c);
    }
    int64_t end = fault_end_at(f);
    if (end != INT64_MAX) fault_arm(f, end);
}

/* Runs on_end on every stage of f (stages already ended ignore it; a stage that kept acting
 * past its fault's end, like hang with on_end = keep, becomes an orphan when f is removing). */
static void fault_end_stages(struct fault *f)
{
    struct fl_proxy *px = f->px;
    for (struct conn *c = px->conns, *next; c; c = next) {
        c->busy++;
        for (int d = 0; d < 2; d++)
            for (int i = 0; i < c->p[d].ch.nstages && !c->closing; i++)
                if (c->p[d].ch.stages[i]->f == f) stage_end(c->p[d].ch.stages[i]);
        for (int d = 0; d < 2; d++) pipe_after_io(&c->p[d]);
        next = c->next;
        if (--c->busy == 0 && c->dead) conn_free(c);
    }
}

/* One line with the fault's counters (the observable for tests and operators). */
static void fault_log_counters(const struct fault *f, const char *event, const char *why)
{
    const struct fault_counters *k = &f->c;
    log_info(event,
             "fault=%s proxy=%s type=%s reason=%s conns_seen=%llu conns_affected=%llu bytes_delayed=%llu "
             "bytes_held=%llu bytes_dropped=%llu closes=%llu resets=%llu abandoned=%llu refused=%llu",
             log_q(f->name), f->px ? log_q(f->px->spec.name) : "-", f->type->name, why,
             (unsigned long long)k->conns_seen, (unsigned long long)k->conns_affected,
             (unsigned long long)k->bytes_delayed, (unsigned long long)k->bytes_held,
             (unsigned long long)k->bytes_dropped, (unsigned long long)k->closes, (unsigned long long)k->resets,
             (unsigned long long)k->abandoned, (unsigned long long)k->refused);
}

/* Ends the window: every stage of f runs on_end. */
static void fault_deactivate(struct fault *f, const char *why)
{
    int was_active = f->phase == FAULT_ACTIVE;
    f->phase = FAULT_ENDED;
    f->ended_us = fl_now_us();
    if (f->timer) evtimer_del(f->timer);
    if (!was_active) {
        /* ended earlier (duration, kill): stages it kept hung now outlive it as orphans */
        if (f->removing) fault_end_stages(f);
        return;
    }
    /* undone first (refuse reopens its listener and counts its last refusals; a protocol's engine
     * lets go of the requests the fault holds): whoever reads the fault_end line can rely on it */
    if (f->type->on_deactivate) f->type->on_deactivate(f);
    const struct protocol *pr = f->px ? f->px->spec.protocol : NULL;
    if (pr && pr->fault_ended && protocol_owns_fault(pr, f)) pr->fault_ended(f);
    if (f->type->flags & FT_TLS) tls_fault_ended(f);   /* held handshakes go on (proxy/tls_fault.c) */
    fault_log_counters(f, "fault_end", why);
    if (rec_active) fault_record_window(f, 0, NULL);
    fault_end_stages(f);
}

static void fault_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fault *f = arg;
    int64_t now = fl_now_us();
    if (f->phase == FAULT_PENDING) {
        if (f->ttl_us && now >= f->loaded_us + f->ttl_us && f->ttl_us <= f->start_us) {
            log_warn("fault_expired", "fault=%s proxy=%s reason=ttl action=removed", log_q(f->name),
                     log_q(f->px->spec.name));
            proxy_fault_remove(f->px, f);
        } else if (now >= f->loaded_us + f->start_us) fault_activate(f);
        else fault_arm(f, fault_pending_until(f));
        return;
    }
    if (f->phase == FAULT_ACTIVE && now >= fault_end_at(f)) {
        int by_ttl = f->ttl_us && now >= f->loaded_us + f->ttl_us;
        int by_cap = !by_ttl && f->px->srv->g.max_fault_duration_us &&
                     now >= f->loaded_us + f->start_us + f->px->srv->g.max_fault_duration_us &&
                     (!f->duration_us || f->px->srv->g.max_fault_duration_us < f->duration_us);
        if (by_ttl || by_cap) {
            log_warn("fault_expired", "fault=%s proxy=%s reason=%s action=removed", log_q(f->name),
                     log_q(f->px->spec.name), by_ttl ? "ttl" : "max_fault_duration");
            proxy_fault_remove(f->px, f);
            return;
        }
        fault_deactivate(f, "duration");
    } else if (f->phase == FAULT_ACTIVE && fault_end_at(f) != INT64_MAX) {
        /* fired early: libevent measures from its cached loop time; wait for the rest */
        fault_arm(f, fault_end_at(f));
    }
}

void fault_schedule(struct fault *f)
{
    f->loaded_us = fl_now_us();
    f->phase = FAULT_PENDING;
    if (!f->enabled || f->killed) return;
    if (f->start_us == 0) fault_activate(f);
    else fault_arm(f, fault_pending_until(f));
}

void fault_end_now(struct fault *f, const char *why)
{
    f->killed = 1;
    fault_deactivate(f, why);
}

void proxy_fault_add(struct fl_proxy *px, struct fault *f)
{
    struct fault **nf = realloc(px->faults, sizeof(*nf) * (size_t)(px->nfaults + 1));
    if (!nf) abort();
    px->faults = nf;
    px->faults[px->nfaults++] = f;
    f->px = px;
    proxy_faults_changed(px);      /* stages exist (pending) before the window opens */
    fault_schedule(f);
}

void proxy_fault_remove(struct fl_proxy *px, struct fault *f)
{
    f->removing = 1;
    fault_deactivate(f, "removed");
    for (struct conn *c = px->conns; c; c = c->next)
        if (c->hang_fault == f) c->hang_fault = NULL;
    int j = 0;
    for (int i = 0; i < px->nfaults; i++)
        if (px->faults[i] != f) px->faults[j++] = px->faults[i];
    px->nfaults = j;
    proxy_faults_changed(px);
    fault_log_counters(f, "fault_removed", "removed");
    f->px = NULL;
    fault_free(f);
}

void proxy_fault_replace(struct fl_proxy *px, struct fault *old, struct fault *nf)
{
    /* a changed fault ends and starts again: its window restarts from now */
    int pos = -1;
    for (int i = 0; i < px->nfaults; i++)
        if (px->faults[i] == old) pos = i;
    if (pos < 0) { proxy_fault_add(px, nf); return; }
    old->removing = 1;
    fault_deactivate(old, "changed");
    for (struct conn *c = px->conns; c; c = c->next)
        if (c->hang_fault == old) c->hang_fault = NULL;
    px->faults[pos] = nf;
    nf->px = px;
    nf->from_api = old->from_api;
    proxy_faults_changed(px);
    fault_log_counters(old, "fault_removed", "changed");
    old->px = NULL;
    fault_free(old);
    fault_schedule(nf);
}
