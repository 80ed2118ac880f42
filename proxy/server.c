/* server.c -- the daemon: event base, signals, reload, drain, and the fault kill switch.
 *
 * One process, one event loop. SIGHUP reloads the profile file: the new profile is parsed and
 * validated completely and every new listener is bound before anything changes, so a bad
 * profile (or a port in use) leaves the running configuration untouched. Unchanged proxies keep
 * their connections; unchanged faults keep their windows. SIGTERM/SIGINT close the listeners,
 * let open connections finish for up to `drain`, then close them and exit 0. SIGUSR1 is the
 * game-day stop button: every fault stops acting at once.
 */
#include "proxy/proxy.h"
#include "proxy/tls.h"
#include "faults/chain.h"
#include "common/log.h"
#include "common/mem.h"
#include "record/record.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct fl_server *fl_srv;

static const struct server_part *parts[4];
static int nparts;

void server_compose(const struct server_part *part)
{
    for (int i = 0; i < nparts; i++)
        if (parts[i] == part) return;
    if (nparts < (int)(sizeof(parts) / sizeof(parts[0]))) parts[nparts++] = part;
}

static void parts_stop(struct fl_server *s)
{
    for (int i = nparts - 1; i >= 0; i--) parts[i]->stop(s);
}

struct fl_proxy *server_find_proxy(struct fl_server *s, const char *name)
{
    for (int i = 0; i < s->nproxies; i++)
        if (strcmp(s->proxies[i]->spec.name, name) == 0) return s->proxies[i];
    return NULL;
}

struct fault *server_find_fault(struct fl_server *s, const char *name, struct fl_proxy **px_out)
{
    for (int i = 0; i < s->nproxies; i++)
        for (int j = 0; j < s->proxies[i]->nfaults; j++)
            if (strcmp(s->proxies[i]->faults[j]->name, name) == 0) {
                if (px_out) *px_out = s->proxies[i];
                return s->proxies[i]->faults[j];
            }
    return NULL;
}

struct fault *proxy_find_fault(const struct fl_proxy *px, const char *name)
{
    for (int j = 0; j < px->nfaults; j++)
        if (strcmp(px->faults[j]->name, name) == 0) return px->faults[j];
    return NULL;
}

int server_add_proxy(struct fl_server *s, struct fl_proxy *px)
{
    struct fl_proxy **np = realloc(s->proxies, sizeof(*np) * (size_t)(s->nproxies + 1));
    if (!np) abort();
    s->proxies = np;
    s->proxies[s->nproxies++] = px;
    return 0;
}

void server_remove_proxy(struct fl_server *s, struct fl_proxy *px)
{
    int j = 0;
    for (int i = 0; i < s->nproxies; i++)
        if (s->proxies[i] != px) s->proxies[j++] = s->proxies[i];
    s->nproxies = j;
    /* faults go now; connections may finish on their own (a retired proxy) */
    while (px->nfaults) proxy_fault_remove(px, px->faults[px->nfaults - 1]);
    px->retired = 1;
    proxy_update_listener(px);
    if (!px->conns) {
        proxy_free(px);
        return;
    }
    px->next_retired = s->retired;
    s->retired = px;
}

static int spec_same_listener(const struct proxy_spec *a, const struct proxy_spec *b)
{
    /* (TLS turned on or off: a new proxy; its settings changing are applied in place, below) */
    return strcmp(a->listen_text, b->listen_text) == 0 && a->protocol == b->protocol &&
           !(a->tls.terminate || a->tls.upstream) == !(b->tls.terminate || b->tls.upstream);
}

int server_apply(struct fl_server *s, struct profile *prof, char *err, size_t errlen)
{
    /* 1. bind every new or moved listener first: failure changes nothing */
    int n = prof->nproxies;
    struct fl_proxy **fresh = calloc((size_t)n + 1, sizeof(*fresh));
    if (!fresh) abort();
    for (int i = 0; i < n; i++) {
        struct fl_proxy *old = server_find_proxy(s, prof->proxies[i].name);
        if (old && spec_same_listener(&old->spec, &prof->proxies[i])) continue;
        if (old && proxy_bound(old)) {
            /* same name, new address or mode: the old listener must go before we bind a
             * possibly identical address; do it in the commit phase instead, and bind here only
             * addresses that differ */
            if (strcmp(old->spec.listen_text, prof->proxies[i].listen_text) == 0) continue;
        }
        /* an address another running proxy listens on (a rename, or two proxies trading
         * addresses) can only be bound once that one is gone: also in the commit phase */
        int taken = 0;
        for (int k = 0; k < s->nproxies; k++)
            if (proxy_bound(s->proxies[k]) && strcmp(s->proxies[k]->spec.listen_text, prof->proxies[i].listen_text) == 0)
                taken = 1;
        if (taken) continue;
        fresh[i] = proxy_new(s, &prof->proxies[i], err, errlen);
        if (!fresh[i]) {
            for (int k = 0; k < i; k++) if (fresh[k]) proxy_free(fresh[k]);
            free(fresh);
            return -1;
        }
    }
    /* 2. commit: remove proxies that are gone (or replaced) */
    for (int i = s->nproxies - 1; i >= 0; i--) {
        struct fl_proxy *px = s->proxies[i];
        int keep = 0, named = 0;
        for (int k = 0; k < n; k++)
            if (strcmp(prof->proxies[k].name, px->spec.name) == 0) {
                named = 1;
                if (fresh[k]) continue;
                keep = 1;
                if (!spec_same_listener(&px->spec, &prof->proxies[k])) keep = 0;
            }
        if (!named && px->from_api) keep = 1;   /* created through the API: not the profile's */
        if (!keep) server_remove_proxy(s, px);
    }
    for (int k = 0; k < n; k++) {
        if (fresh[k]) { server_add_proxy(s, fresh[k]); continue; }
        struct fl_proxy *px = server_find_proxy(s, prof->proxies[k].name);
        if (!px) {
            /* same address, different mode: rebinding after the old one closed */
            px = proxy_new(s, &prof->proxies[k], err, errlen);
            if (!px) { log_error("reload_bind_failed", "error=%s", log_q(err)); continue; }
            server_add_proxy(s, px);
            continue;
        }
        int en = prof->proxies[k].enabled;
        px->spec.upstream = prof->proxies[k].upstream;
        snprintf(px->spec.upstream_text, sizeof(px->spec.upstream_text), "%s", prof->proxies[k].upstream_text);
        px->spec.add_via = prof->proxies[k].add_via;
        snprintf(px->spec.id_header, sizeof(px->spec.id_header), "%s", prof->proxies[k].id_header);
        px->spec.role = prof->proxies[k].role;
        px->spec.hdrctl = prof->proxies[k].hdrctl;
        px->spec.lim = prof->proxies[k].lim;
        if (strcmp(px->spec.proto_conf, prof->proxies[k].proto_conf) != 0) {   /* dns: its records */
            memcpy(px->spec.proto_conf, prof->proxies[k].proto_conf, sizeof(px->spec.proto_conf));
            if (px->serve && px->spec.protocol->serve_reload) px->spec.protocol->serve_reload(px);
        }
        char e[1400];
        /* certificates, keys and CAs are read again (a rotated certificate file is taken up) */
        if (px->tls && tls_proxy_reload(px, &prof->proxies[k], e, sizeof(e)) < 0) log_error("reload_tls_failed", "error=%s", log_q(e));
        if (proxy_set_enabled(px, en, e, sizeof(e)) < 0) log_error("reload_enable_failed", "error=%s", log_q(e));
    }
    free(fresh);
    /* 3. faults: keep unchanged ones, replace changed ones, add new ones, drop removed ones
     * (faults created through the API survive a reload) */
    for (int i = 0; i < s->nproxies; i++) {
        struct fl_proxy *px = s->proxies[i];
        for (int j = px->nfaults - 1; j >= 0; j--) {
            struct fault *f = px->faults[j];
            if (f->from_api) continue;
            int found = 0;
            for (int k = 0; k < prof->nfaults; k++)
                if (prof->faults[k] && strcmp(prof->faults[k]->name, f->name) == 0 &&
                    strcmp(prof->faults[k]->proxy, px->spec.name) == 0)
                    found = 1;
            if (!found) proxy_fault_remove(px, f);
        }
    }
    for (int k = 0; k < prof->nfaults; k++) {
        struct fault *nf = prof->faults[k];
        struct fl_proxy *px = server_find_proxy(s, nf->proxy);
        if (!px) continue;
        /* names are per proxy: a fault of the same name on another proxy is another fault (one
         * the profile moved away was removed above) */
        struct fault *old = proxy_find_fault(px, nf->name);
        if (old && fault_same_spec(old, nf)) continue;
        profile_take_fault(prof, k);
        if (old) proxy_fault_replace(px, old, nf);
        else proxy_fault_add(px, nf);
    }
    profile_free(s->prof);
    s->prof = prof;
    return 0;
}

int server_reload(struct fl_server *s, char *err, size_t errlen)
{
    struct profile *p = profile_load(s->profile_path, 0, err, errlen);
    if (!p) {
        s->reload_failures++;
        return -1;
    }
    if (server_apply(s, p, err, errlen) < 0) {
        profile_free(p);
        s->reload_failures++;
        return -1;
    }
    s->reloads++;
    return 0;
}

int server_kill_faults(struct fl_server *s)
{
    int n = 0;
    for (int i = 0; i < s->nproxies; i++)
        for (int j = 0; j < s->proxies[i]->nfaults; j++) {
            struct fault *f = s->proxies[i]->faults[j];
            if (f->phase == FAULT_ACTIVE) n++;
            f->enabled = 0;
            fault_end_now(f, "killed");
        }
    log_warn("kill", "faults_stopped=%d", n);
    return n;
}

int server_resume_faults(struct fl_server *s)
{
    int n = 0;
    for (int i = 0; i < s->nproxies; i++) {
        struct fl_proxy *px = s->proxies[i];
        for (int j = 0; j < px->nfaults; j++) {
            struct fault *f = px->faults[j];
            if (!f->killed) continue;
            /* built again from its own keys, as a change that changes nothing: its window
             * (start, duration, ttl) restarts from now */
            const char **kv = fl_calloc(2 * (size_t)f->nkv + 1, sizeof(*kv));
            for (int k = 0; k < f->nkv; k++) { kv[k] = f->kv[k].key; kv[f->nkv + k] = f->kv[k].value; }
            char err[FL_ERRLEN];
            int bad;
            struct fault *nf = fault_build(f->name, kv, kv + f->nkv, f->nkv, &bad, err, sizeof(err));
            free(kv);
            if (!nf) { log_error("resume_failed", "fault=%s error=%s", log_q(f->name), log_q(err)); continue; }
            proxy_fault_replace(px, f, nf);   /* px->faults[j] is nf now */
            n++;
        }
    }
    log_warn("resume", "faults_resumed=%d", n);
    return n;
}

static int total_conns(struct fl_server *s)
{
    int n = 0;
    for (int i = 0; i < s->nproxies; i++)
        for (struct conn *c = s->proxies[i]->conns; c; c = c->next) n++;
    for (struct fl_proxy *px = s->retired; px; px = px->next_retired)
        for (struct conn *c = px->conns; c; c = c->next) n++;
    return n;
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fl_server *s = arg;
    int left = total_conns(s);
    if (left == 0) {
        event_base_loopbreak(s->base);
        return;
    }
    if (fl_now_us() >= s->drain_deadline_us) {
        log_info("drain_timeout", "closing=%d", left);
        for (int i = 0; i < s->nproxies; i++) proxy_close_all(s->proxies[i], CLOSE_FIN);
        for (struct fl_proxy *px = s->retired; px; px = px->next_retired) proxy_close_all(px, CLOSE_FIN);
        /* closing sides flush for a moment at most; then stop */
        s->drain_deadline_us = INT64_MAX;
        struct timeval tv = {0, 200000};
        event_add(s->drain_ev, &tv);
        s->draining = 2;
        return;
    }
    if (s->draining == 2) {
        event_base_loopbreak(s->base);
        return;
    }
    struct timeval tv = {0, 50000};
    event_add(s->drain_ev, &tv);
}

void server_stop(struct fl_server *s)
{
    if (s->draining) {
        /* a second signal: stop now */
        event_base_loopbreak(s->base);
        return;
    }
    s->draining = 1;
    int open = total_conns(s);
    log_info("stopping", "open_connections=%d drain_ms=%lld", open, (long long)(s->g.drain_us / 1000));
    for (int i = 0; i < s->nproxies; i++) proxy_update_listener(s->proxies[i]);
    parts_stop(s);   /* the admin API stops answering */
    s->drain_deadline_us = fl_now_us() + s->g.drain_us;
    s->drain_ev = evtimer_new(s->base, drain_cb, s);
    struct timeval tv = {0, 0};
    event_add(s->drain_ev, &tv);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct fl_server *s = arg;
    if (sig == SIGTERM || sig == SIGINT) server_stop(s);
    else if (sig == SIGHUP) {
        char err[600];
        if (server_reload(s, err, sizeof(err)) < 0)
            log_error("reload_failed", "error=%s action=kept_running_profile", log_q(err));
        else
            log_info("reload", "profile=%s proxies=%d", log_q(s->profile_path), s->nproxies);
    } else if (sig == SIGUSR1) {
        server_kill_faults(s);
    }
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    rec_tick();
    server_idle_sweep(arg);   /* idle timeouts (proxy/limits.c) */
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

struct fl_server *server_new(struct profile *prof, char *err, size_t errlen)
{
    struct fl_server *s = calloc(1, sizeof(*s));
    if (!s) abort();
    fl_srv = s;
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    /* epoll changes are applied once per loop turn, so an event armed and unarmed in the same
     * turn costs no epoll_ctl (safe here: no descriptor is ever dup()ed) */
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    s->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!s->base) { snprintf(err, errlen, "cannot create event base"); free(s); fl_srv = NULL; return NULL; }
    /* two priorities: fault timers (latency, slicer, bandwidth... see faults/chain.c) run at 0,
     * before the I/O callbacks of the same loop turn; everything else gets the default, 1 */
    event_base_priority_init(s->base, 2);
    s->dns = evdns_base_new(s->base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (!s->dns) s->dns = evdns_base_new(s->base, 0);
    s->g = prof->g;
    snprintf(s->profile_path, sizeof(s->profile_path), "%s", prof->path);
    s->started_us = fl_now_us();
    proxy_fault_host_install(s);
    /* the profile's seed replays a run's draws (probability rolls, jitter, loss, corruption) */
    fl_rand_seed(prof->g.seed_set ? prof->g.seed : (uint64_t)fl_wall_us() ^ ((uint64_t)getpid() << 32));
    /* signals are caught before any listener is bound: a SIGHUP sent as soon as a port accepts
     * (a supervisor, a test) must reload, not kill the process (it did, under load); their
     * callbacks only run once server_run starts the loop */
    s->sig_term = evsignal_new(s->base, SIGTERM, signal_cb, s);
    s->sig_int = evsignal_new(s->base, SIGINT, signal_cb, s);
    s->sig_hup = evsignal_new(s->base, SIGHUP, signal_cb, s);
    s->sig_usr1 = evsignal_new(s->base, SIGUSR1, signal_cb, s);
    event_add(s->sig_term, NULL);
    event_add(s->sig_int, NULL);
    event_add(s->sig_hup, NULL);
    event_add(s->sig_usr1, NULL);
    for (int i = 0; i < prof->nproxies; i++) {
        struct fl_proxy *px = proxy_new(s, &prof->proxies[i], err, errlen);
        if (!px) { server_free(s); return NULL; }
        server_add_proxy(s, px);
    }
    for (int i = 0; i < nparts; i++)
        if (parts[i]->start(s, err, errlen) < 0) { server_free(s); return NULL; }
    if (server_record_start(s, err, errlen) < 0) { server_free(s); return NULL; }
    for (int k = 0; k < prof->nfaults; k++) {
        struct fault *f = profile_take_fault(prof, k);
        proxy_fault_add(server_find_proxy(s, f->proxy), f);
    }
    s->prof = prof;
    s->tick_ev = event_new(s->base, -1, EV_PERSIST, tick_cb, s);
    struct timeval tv = {1, 0};
    event_add(s->tick_ev, &tv);
    return s;
}

int server_run(struct fl_server *s)
{
    for (int i = 0; i < s->nproxies; i++) {
        struct fl_proxy *px = s->proxies[i];
        log_info("listening", "proxy=%s listen=%s upstream=%s mode=%s enabled=%s faults=%d", log_q(px->spec.name),
                 log_q(px->spec.listen_text), log_q(px->spec.upstream_text), px->spec.protocol->name,
                 px->spec.enabled ? "yes" : "no", px->nfaults);
    }
    log_info("started", "profile=%s proxies=%d pid=%d", log_q(s->profile_path), s->nproxies, (int)getpid());
    event_base_dispatch(s->base);
    server_record_stop(s);
    log_info("stopped", "exit=%d", s->exit_code);
    return s->exit_code;
}

void server_free(struct fl_server *s)
{
    if (!s) return;
    parts_stop(s);
    /* conn_kill, not proxy_close_all: a connection still flushing after the drain timeout is
     * already closing, and would outlive its proxy (leaked at exit; found by LeakSanitizer) */
    for (int i = 0; i < s->nproxies; i++) {
        while (s->proxies[i]->conns) conn_kill(s->proxies[i]->conns);
        proxy_free(s->proxies[i]);
    }
    free(s->proxies);
    while (s->retired) {
        struct fl_proxy *px = s->retired;
        s->retired = px->next_retired;
        px->retired = 0;
        while (px->conns) conn_kill(px->conns);
        proxy_free(px);
    }
    struct event *evs[] = {s->sig_term, s->sig_int, s->sig_hup, s->sig_usr1, s->drain_ev, s->tick_ev};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) if (evs[i]) event_free(evs[i]);
    if (s->dns) evdns_base_free(s->dns, 0);
    profile_free(s->prof);
    if (s->base) event_base_free(s->base);
    if (fl_srv == s) fl_srv = NULL;
    free(s);
}
