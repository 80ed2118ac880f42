/* proxy/embed.c -- the embedding API (proxy/embed.h) on top of proxy/proxy.h.
 *
 * A thin layer by design: each verb is the few calls `faultline serve`, the admin API or the
 * shutdown path already make, gathered behind names that do not show the server's structs.
 * What the embedder must not inherit from serve is undone here once: the SIGINT, SIGTERM and
 * SIGHUP handlers server_new installs.
 */
#include "proxy/embed.h"
#include "proxy/proxy.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fl_embed {
    struct fl_server *srv;
};

struct fl_embed *embed_start(struct profile *prof, int (*keep)(void *ud, const char *proxy, const char *fault),
                             void *ud, char *err, size_t errlen)
{
    int j = 0;
    for (int k = 0; k < prof->nfaults; k++) {
        if (keep && !keep(ud, prof->faults[k]->proxy, prof->faults[k]->name)) fault_free(prof->faults[k]);
        else prof->faults[j++] = prof->faults[k];
    }
    prof->nfaults = j;
    struct fl_server *s = server_new(prof, err, errlen);
    if (!s) {
        profile_free(prof);
        return NULL;
    }
    event_del(s->sig_int);
    event_del(s->sig_term);
    event_del(s->sig_hup);
    struct fl_embed *e = fl_calloc(1, sizeof(*e));
    e->srv = s;
    return e;
}

struct event_base *embed_base(struct fl_embed *e) { return e->srv->base; }

int embed_fault_add(struct fl_embed *e, const char *name, const char *const *keys, const char *const *vals, int n,
                    char *err, size_t errlen)
{
    int bad;
    struct fault *f = fault_build(name, keys, vals, n, &bad, err, errlen);
    if (!f) return -1;
    struct fl_proxy *px = server_find_proxy(e->srv, f->proxy);
    if (!px) {
        snprintf(err, errlen, "no proxy %s", f->proxy);
        fault_free(f);
        return -1;
    }
    if (!protocol_accepts(px->spec.protocol, f->type)) {   /* as the profile and the admin API refuse it */
        char why[300];
        snprintf(err, errlen, "type: '%s' %s; '%s' is mode %s", f->type->name,
                 protocol_refusal(px->spec.protocol, f->type, why, sizeof(why)), px->spec.name, px->spec.protocol->name);
        fault_free(f);
        return -1;
    }
    proxy_fault_add(px, f);
    return 0;
}

int embed_fault_remove(struct fl_embed *e, const char *proxy, const char *name)
{
    struct fl_proxy *px = server_find_proxy(e->srv, proxy);
    struct fault *f = px ? proxy_find_fault(px, name) : NULL;
    if (!f) return -1;
    proxy_fault_remove(px, f);
    return 0;
}

void embed_fault_remove_all(struct fl_embed *e, void (*gone)(void *ud, const char *proxy, const char *name), void *ud)
{
    for (int i = 0; i < e->srv->nproxies; i++) {
        struct fl_proxy *px = e->srv->proxies[i];
        while (px->nfaults) {
            struct fault *f = px->faults[px->nfaults - 1];
            if (gone) gone(ud, f->proxy, f->name);
            proxy_fault_remove(px, f);
        }
    }
}

struct embed_stats *embed_stats(struct fl_embed *e, int *n)
{
    struct fl_server *s = e->srv;
    struct embed_stats *out = fl_calloc((size_t)s->nproxies + 1, sizeof(*out));
    for (int i = 0; i < s->nproxies; i++) {
        const struct fl_proxy *px = s->proxies[i];
        const struct proxy_stats *st = &px->st;
        struct embed_stats *x = &out[i];
        snprintf(x->proxy, sizeof(x->proxy), "%s", px->spec.name);
        x->active = st->active;
        x->accepted = st->accepted;
        x->requests = st->requests;
        x->inflight = st->inflight;
        x->status_5xx = st->status_class[5];
        x->upstream_failed = st->upstream_failed;
        x->bad_responses = st->bad_responses;
        for (int k = 0; k < px->nfaults; k++) {
            const struct fault_counters *c = &px->faults[k]->c;
            x->fault_resets += c->resets;
            x->fault_closes += c->closes;
            x->fault_refused += c->refused;
            x->fault_abandoned += c->abandoned;
        }
    }
    *n = s->nproxies;
    return out;
}

void embed_close_all(struct fl_embed *e)
{
    for (int i = 0; i < e->srv->nproxies; i++) proxy_close_all(e->srv->proxies[i], CLOSE_RST);
    for (int i = 0; i < 3; i++) event_base_loop(e->srv->base, EVLOOP_NONBLOCK);
}

void embed_free(struct fl_embed *e)
{
    if (!e) return;
    server_record_stop(e->srv);   /* flush the record before anyone judges it */
    server_free(e->srv);
    free(e);
}
