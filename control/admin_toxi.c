/* admin_toxi.c -- Toxiproxy v2's REST API on faultline's proxies and faults.
 *
 * Existing Toxiproxy clients (toxiproxy-node-client, toxiproxy-go, toxiproxy-ruby...) drive
 * faultline unchanged: the same paths, JSON shapes, status codes and error bodies
 * ({"error": "...", "status": N}) as Toxiproxy 2.x. A Toxiproxy "proxy" is a faultline proxy
 * (mode tcp); a "toxic" is a faultline fault attached to that proxy. The seven Toxiproxy toxic
 * types are translated into faultline fault keys with their units (TOXMAP below); any other
 * type name that is a faultline fault type is taken as-is, its attributes being faultline keys,
 * so a Toxiproxy client can also reach hang, drop, refuse and the rest.
 *
 * Toxics are shown from the fault's keys as written (f->kv), converted back into Toxiproxy's
 * units, so a fault defined in the profile is listed in Toxiproxy form too. Toxic names are
 * unique per proxy, as in Toxiproxy. Every difference from Toxiproxy is listed in docs/api.md.
 * /populate (with toxics inside), the -config file and toxiproxy-server's /version and /metrics
 * are in admin_toxi_pop.c; what the two share is control/admin_toxi_int.h.
 */
#define FL_ADMIN_INTERNAL
#include "proxy/proxy.h"
#include "proxy/protocol.h"
#include "control/admin.h"
#include "common/version.h"
#include "common/log.h"
#include "control/guard.h"
#include "control/admin_toxi_int.h"
#include "faults/scope.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum tunit { U_MS, U_US, U_KBPS, U_BYTES };

struct toxattr { const char *attr, *key; enum tunit unit; };
struct toxmap {
    const char *toxi, *fl;
    struct toxattr a[3];
    const char *extra_key, *extra_val;   /* fixed faultline key the mapping always sets */
    int extra_defines;                   /* a fault of type fl is this toxic only with that key */
};

static const struct toxmap TOXMAP[] = {
    {"latency", "latency", {{"latency", "delay", U_MS}, {"jitter", "jitter", U_MS}}, NULL, NULL, 0},
    {"bandwidth", "bandwidth", {{"rate", "rate", U_KBPS}}, NULL, NULL, 0},
    {"slow_close", "slow_close", {{"delay", "delay", U_MS}}, NULL, NULL, 0},
    /* Toxiproxy closes the connections a removed timeout toxic was holding */
    {"timeout", "timeout", {{"timeout", "timeout", U_MS}}, "on_end", "reset", 0},
    /* Toxiproxy's reset_peer waits for data: the first bytes start `timeout` (0: RST at once),
     * nothing of them goes on (toxics/reset_peer.go); faultline's reset acts from the connect
     * unless trigger = data */
    {"reset_peer", "reset", {{"timeout", "after", U_MS}}, "trigger", "data", 1},
    {"slicer", "slicer", {{"average_size", "size", U_BYTES}, {"size_variation", "size_jitter", U_BYTES}, {"delay", "delay", U_US}}, NULL, NULL, 0},
    {"limit_data", "limit_data", {{"bytes", "bytes", U_BYTES}}, NULL, NULL, 0},
};
#define NTOXMAP (sizeof(TOXMAP) / sizeof(TOXMAP[0]))

static const struct toxmap *map_by_toxi(const char *t)
{
    for (size_t i = 0; i < NTOXMAP; i++)
        if (!strcmp(TOXMAP[i].toxi, t)) return &TOXMAP[i];
    return NULL;
}

/* The last value given for key in the fault's keys, or NULL. */
static const char *fkv(const struct fault *f, const char *key)
{
    const char *v = NULL;
    for (int i = 0; i < f->nkv; i++)
        if (!strcmp(f->kv[i].key, key)) v = f->kv[i].value;
    return v;
}

/* The Toxiproxy toxic fault f is, or NULL: it is shown (and updated) as a faultline type. */
static const struct toxmap *map_of_fault(const struct fault *f)
{
    for (size_t i = 0; i < NTOXMAP; i++) {
        const struct toxmap *m = &TOXMAP[i];
        if (strcmp(m->fl, f->type->name)) continue;
        const char *v = m->extra_defines ? fkv(f, m->extra_key) : NULL;
        if (m->extra_defines && (!v || strcmp(v, m->extra_val))) continue;
        return m;
    }
    return NULL;
}

/* A faultline value back in Toxiproxy's unit (0 when absent or unreadable). */
static json_int_t to_toxi_unit(const char *v, enum tunit u)
{
    if (!v) return 0;
    char e[200];
    if (u == U_MS || u == U_US) {
        int64_t us;
        if (parse_duration(v, &us, e, sizeof(e)) < 0) return 0;
        return u == U_MS ? us / 1000 : us;
    }
    uint64_t n;
    if (parse_size(v, &n, e, sizeof(e)) < 0) return 0;
    return (json_int_t)(u == U_KBPS ? n / 1000 : n);
}

static void type_attr_cb(void *ud, const char *k, const char *v) { json_object_set_new(ud, k, json_string(v)); }

static const char *stream_str(unsigned dir)
{
    return dir == FDIR_UP ? "upstream" : dir == FDIR_DOWN ? "downstream" : "both";
}

static json_t *toxic_json(const struct fault *f)
{
    const struct toxmap *m = map_of_fault(f);
    json_t *attrs = json_object();
    if (m) {
        for (int i = 0; i < 3 && m->a[i].attr; i++)
            json_object_set_new(attrs, m->a[i].attr, json_integer(to_toxi_unit(fkv(f, m->a[i].key), m->a[i].unit)));
        char cl[CIDR_MAX * 48];
        if (f->clients) json_object_set_new(attrs, "clients", json_string(cidr_str(f->clients, cl, sizeof(cl))));
        if (f->max_active) json_object_set_new(attrs, "max_active", json_integer(f->max_active));
    } else if (f->type->attrs) {
        f->type->attrs(f->cfg, type_attr_cb, attrs);
    }
    /* "state" (extension): active, pending, ended, disabled or killed (POST /kill), as /faults */
    return json_pack("{s:o, s:s, s:s, s:s, s:f, s:s}", "attributes", attrs, "name", f->name, "type",
                     m ? m->toxi : f->type->name, "stream", stream_str(f->dir), "toxicity", f->probability, "state",
                     adm_fault_state(f));
}

json_t *toxi_proxy_json(const struct fl_proxy *px)
{
    json_t *tox = json_array();
    for (int i = 0; i < px->nfaults; i++) json_array_append_new(tox, toxic_json(px->faults[i]));
    return json_pack("{s:s, s:s, s:s, s:b, s:o, s:s}", "name", px->spec.name, "listen", px->spec.listen_text, "upstream",
                     px->spec.upstream_text, "enabled", px->spec.enabled, "toxics", tox, "mode",
                     px->spec.protocol->name);
}

static struct fault *find_toxic(struct fl_proxy *px, const char *name)
{
    for (int i = 0; i < px->nfaults; i++)
        if (!strcmp(px->faults[i]->name, name)) return px->faults[i];
    return NULL;
}

/* ---- proxies ---- */

/* Writes the bound port back into the spec when the proxy asked for port 0, so the reported
 * listen address is the real one and a later re-enable binds the same port (as Toxiproxy). */
void toxi_fix_port(struct fl_proxy *px)
{
    struct fl_addr *a = &px->spec.listen;
    if (a->kind != ADDR_INET || a->port != 0 || !px->lis) return;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evconnlistener_get_fd(px->lis), (struct sockaddr *)&ss, &sl) < 0) return;
    int port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
    a->port = port;
    if (a->ss.ss_family == AF_INET) ((struct sockaddr_in *)&a->ss)->sin_port = htons((uint16_t)port);
    else ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons((uint16_t)port);
    addr_str(a, px->spec.listen_text, sizeof(px->spec.listen_text));
}

/* Toxiproxy listen text into a faultline address: "localhost" means 127.0.0.1 and an empty host
 * (":8080", or no listen at all) the loopback too. 0, or -1 with err. */
static int parse_listen(const char *in, struct fl_addr *a, char *text, size_t tlen, char *err, size_t errlen)
{
    char buf[300];
    if (!in || !*in) in = "127.0.0.1:0";
    if (!strncasecmp(in, "localhost:", 10)) snprintf(buf, sizeof(buf), "127.0.0.1:%s", in + 10);
    else if (in[0] == ':') snprintf(buf, sizeof(buf), "127.0.0.1%s", in);
    else snprintf(buf, sizeof(buf), "%s", in);
    char e[300];
    if (parse_addr(buf, 0, a, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "listen: %s", e);
        return -1;
    }
    addr_str(a, text, tlen);
    return 0;
}

static int name_ok(const char *n)
{
    if (!*n || strlen(n) >= sizeof(((struct proxy_spec *)0)->name)) return 0;
    for (const char *p = n; *p; p++)
        if (*p == '/' || (unsigned char)*p <= 0x20) return 0;
    return 1;
}

/* A proxy spec from a Toxiproxy proxy object. at is "" or " at proxy N" (populate). 0, or -1
 * after a 400 reply. */
int toxi_spec_from_json(struct adm_req *r, json_t *o, const char *at, struct proxy_spec *sp)
{
    memset(sp, 0, sizeof(*sp));
    sp->protocol = protocols[0];
    sp->enabled = 1;
    if (!json_is_object(o)) { adm_error(r, 400, "bad request body: expected a JSON object%s", at); return -1; }
    json_t *jn = json_object_get(o, "name"), *jl = json_object_get(o, "listen"), *ju = json_object_get(o, "upstream"),
           *je = json_object_get(o, "enabled"), *jm = json_object_get(o, "mode");
    if ((jn && !json_is_string(jn)) || (jl && !json_is_string(jl) && !json_is_null(jl)) ||
        (ju && !json_is_string(ju) && !json_is_null(ju))) {
        adm_error(r, 400, "bad request body: name, listen and upstream must be strings%s", at);
        return -1;
    }
    if (je && !json_is_boolean(je) && !json_is_null(je)) { adm_error(r, 400, "bad request body: enabled must be true or false%s", at); return -1; }
    const char *name = jn ? json_string_value(jn) : "";
    const char *up = json_is_string(ju) ? json_string_value(ju) : "";
    if (!*name) { adm_error(r, 400, "missing required field: name%s", at); return -1; }
    if (!*up) { adm_error(r, 400, "missing required field: upstream%s", at); return -1; }
    if (!name_ok(name)) { adm_error(r, 400, "bad request body: name: '%s' must be 1..127 characters without '/' or spaces%s", name, at); return -1; }
    snprintf(sp->name, sizeof(sp->name), "%s", name);
    char e[400];
    if (parse_listen(json_is_string(jl) ? json_string_value(jl) : "", &sp->listen, sp->listen_text, sizeof(sp->listen_text), e, sizeof(e)) < 0) {
        adm_error(r, 400, "bad request body: %s%s", e, at);
        return -1;
    }
    char ue[300];
    if (parse_addr(up, 1, &sp->upstream, ue, sizeof(ue)) < 0) { adm_error(r, 400, "bad request body: upstream: %s%s", ue, at); return -1; }
    snprintf(sp->upstream_text, sizeof(sp->upstream_text), "%s", up);
    if (json_is_boolean(je)) sp->enabled = json_is_true(je);
    if (jm) {
        if (!json_is_string(jm) || !(sp->protocol = protocol_find(json_string_value(jm)))) {
            adm_error(r, 400, "bad request body: mode: must be %s%s", protocol_names(), at);
            return -1;
        }
        if (sp->protocol->flags & PROTO_ROUTES) {   /* its allow-list is a profile's (never an open proxy) */
            adm_error(r, 400, "bad request body: mode: %s proxies are made in a profile (allow, resolve)%s", sp->protocol->name, at);
            return -1;
        }
    }
    if (!r->trusted &&
        (guard_api_addr(r, &sp->listen, sp->listen_text, 1, at) < 0 || guard_api_addr(r, &sp->upstream, sp->upstream_text, 0, at) < 0))
        return -1;
    return 0;
}

static void proxy_create(struct adm_req *r)
{
    json_t *j = adm_body_json(r);
    if (!j) return;
    struct proxy_spec sp;
    if (toxi_spec_from_json(r, j, "", &sp) < 0) { json_decref(j); return; }
    json_decref(j);
    if (server_find_proxy(r->s, sp.name)) { adm_error(r, 409, "proxy already exists"); return; }
    char err[500];
    struct fl_proxy *px = proxy_new(r->s, &sp, err, sizeof(err));
    if (!px) { adm_error(r, 500, "%s", err); return; }
    toxi_fix_port(px);
    px->from_api = 1;
    server_add_proxy(r->s, px);
    log_info("proxy_created", "proxy=%s listen=%s upstream=%s enabled=%s", log_q(px->spec.name),
             log_q(px->spec.listen_text), log_q(px->spec.upstream_text), px->spec.enabled ? "yes" : "no");
    adm_json(r, 201, toxi_proxy_json(px));
}

static void proxy_update(struct adm_req *r, struct fl_proxy *px)
{
    json_t *j = adm_body_json(r);
    if (!j) return;
    if (!json_is_object(j)) { json_decref(j); adm_error(r, 400, "bad request body: expected a JSON object"); return; }
    json_t *jl = json_object_get(j, "listen"), *ju = json_object_get(j, "upstream"), *je = json_object_get(j, "enabled");
    struct proxy_spec nsp = px->spec;
    char e[400];
    int en = px->spec.enabled;
    if (je && !json_is_boolean(je)) { json_decref(j); adm_error(r, 400, "bad request body: enabled must be true or false"); return; }
    if (je) en = json_is_true(je);
    if (jl && !json_is_string(jl)) { json_decref(j); adm_error(r, 400, "bad request body: listen must be a string"); return; }
    if (ju && !json_is_string(ju)) { json_decref(j); adm_error(r, 400, "bad request body: upstream must be a string"); return; }
    if (jl && strcmp(json_string_value(jl), px->spec.listen_text) &&
        parse_listen(json_string_value(jl), &nsp.listen, nsp.listen_text, sizeof(nsp.listen_text), e, sizeof(e)) < 0) {
        json_decref(j);
        adm_error(r, 400, "bad request body: %s", e);
        return;
    }
    if (ju && strcmp(json_string_value(ju), px->spec.upstream_text)) {
        if (parse_addr(json_string_value(ju), 1, &nsp.upstream, e, sizeof(e)) < 0) {
            json_decref(j);
            adm_error(r, 400, "bad request body: upstream: %s", e);
            return;
        }
        snprintf(nsp.upstream_text, sizeof(nsp.upstream_text), "%s", json_string_value(ju));
    }
    json_decref(j);
    if ((strcmp(nsp.listen_text, px->spec.listen_text) && guard_api_addr(r, &nsp.listen, nsp.listen_text, 1, "") < 0) ||
        (strcmp(nsp.upstream_text, px->spec.upstream_text) && guard_api_addr(r, &nsp.upstream, nsp.upstream_text, 0, "") < 0))
        return;
    int moved = strcmp(nsp.listen_text, px->spec.listen_text) || strcmp(nsp.upstream_text, px->spec.upstream_text);
    struct proxy_spec old = px->spec;
    int was = px->spec.enabled;
    if (moved) {
        /* as Toxiproxy: stop (listener closed, connections dropped), change, start again */
        proxy_set_enabled(px, 0, e, sizeof(e));
        px->spec.listen = nsp.listen;
        snprintf(px->spec.listen_text, sizeof(px->spec.listen_text), "%s", nsp.listen_text);
        px->spec.upstream = nsp.upstream;
        snprintf(px->spec.upstream_text, sizeof(px->spec.upstream_text), "%s", nsp.upstream_text);
    }
    if (proxy_set_enabled(px, en, e, sizeof(e)) < 0) {
        if (moved) {
            px->spec.listen = old.listen;
            px->spec.upstream = old.upstream;
            memcpy(px->spec.listen_text, old.listen_text, sizeof(old.listen_text));
            memcpy(px->spec.upstream_text, old.upstream_text, sizeof(old.upstream_text));
            char e2[300];
            proxy_set_enabled(px, was, e2, sizeof(e2));
        }
        adm_error(r, 500, "%s", e);
        return;
    }
    toxi_fix_port(px);
    log_info("proxy_updated", "proxy=%s listen=%s upstream=%s enabled=%s", log_q(px->spec.name),
             log_q(px->spec.listen_text), log_q(px->spec.upstream_text), px->spec.enabled ? "yes" : "no");
    adm_json(r, 200, toxi_proxy_json(px));
}

static void proxy_delete(struct adm_req *r, struct fl_proxy *px)
{
    log_info("proxy_deleted", "proxy=%s", log_q(px->spec.name));
    proxy_close_all(px, CLOSE_FIN);      /* Toxiproxy drops the connections of a deleted proxy */
    server_remove_proxy(r->s, px);
    adm_empty(r, 204);
}

void toxi_remove_all_faults(struct fl_proxy *px)
{
    while (px->nfaults) proxy_fault_remove(px, px->faults[px->nfaults - 1]);
}

static void reset_all(struct adm_req *r)
{
    for (int i = 0; i < r->s->nproxies; i++) {
        struct fl_proxy *px = r->s->proxies[i];
        char e[400];
        if (proxy_set_enabled(px, 1, e, sizeof(e)) < 0) { adm_error(r, 500, "%s", e); return; }
        toxi_fix_port(px);
        toxi_remove_all_faults(px);
    }
    log_info("reset", "proxies=%d", r->s->nproxies);
    adm_empty(r, 204);
}

/* ---- toxics ---- */

/* The keys of a fault being built (at most 48: a fault has far fewer). */
struct tkv { char *k[48], *v[48]; int n; };
static void tkv_set(void *ud, const char *k, const char *v)
{
    struct tkv *l = ud;
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->k[i], k)) { free(l->v[i]); l->v[i] = strdup(v); return; }
    if (l->n == 48) return;
    l->k[l->n] = strdup(k);
    l->v[l->n] = strdup(v);
    l->n++;
}
static void tkv_free(struct tkv *l)
{
    for (int i = 0; i < l->n; i++) { free(l->k[i]); free(l->v[i]); }
    l->n = 0;
}

/* Adds a toxic's attributes (Toxiproxy units for mapped types, faultline keys otherwise) to l.
 * 0, or -1 with err. */
static int attrs_to_kv(const struct toxmap *m, json_t *attrs, struct tkv *l, char *err, size_t errlen)
{
    if (attrs && !json_is_object(attrs) && !json_is_null(attrs)) { snprintf(err, errlen, "attributes: must be an object"); return -1; }
    if (!json_is_object(attrs)) return 0;
    if (!m) {
        const char *k;
        json_t *v;
        json_object_foreach(attrs, k, v) {
            char b[600];
            if (adm_scalar_str(v, b, sizeof(b)) < 0) { snprintf(err, errlen, "attributes.%s: must be a string or a number", k); return -1; }
            tkv_set(l, k, b);
        }
        return 0;
    }
    /* faultline's scoping keys (faults/scope.h) ride along on the mapped types too */
    static const char *const scoping[] = {"clients", "max_active"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(attrs, scoping[i]);
        char b[600];
        if (!v || json_is_null(v)) continue;
        if (adm_scalar_str(v, b, sizeof(b)) < 0) { snprintf(err, errlen, "attributes.%s: must be a string or a number", scoping[i]); return -1; }
        tkv_set(l, scoping[i], b);
    }
    for (int i = 0; i < 3 && m->a[i].attr; i++) {
        json_t *v = json_object_get(attrs, m->a[i].attr);
        if (!v || json_is_null(v)) continue;
        if (!json_is_number(v)) { snprintf(err, errlen, "attributes.%s: must be a number", m->a[i].attr); return -1; }
        double d = json_number_value(v);
        if (d < 0 || d > 9.2e15) { snprintf(err, errlen, "attributes.%s: must be 0 or more", m->a[i].attr); return -1; }
        long long x = (long long)d;
        char b[64];
        switch (m->a[i].unit) {
        case U_MS: snprintf(b, sizeof(b), "%lldms", x); if (!x) snprintf(b, sizeof(b), "0"); break;
        case U_US: snprintf(b, sizeof(b), "%lldus", x); if (!x) snprintf(b, sizeof(b), "0"); break;
        case U_KBPS: snprintf(b, sizeof(b), "%lld", x * 1000); break;
        case U_BYTES: snprintf(b, sizeof(b), "%lld", x); break;
        }
        tkv_set(l, m->a[i].key, b);
    }
    return 0;
}

static struct fault *tkv_build(struct adm_req *r, const char *name, struct tkv *l, const struct protocol *proto, const char *at)
{
    int bad;
    char err[600];
    struct fault *f = fault_build(name, (const char *const *)l->k, (const char *const *)l->v, l->n, &bad, err, sizeof(err));
    if (!f) { adm_error(r, 400, "bad request body: %s%s", err, at); return NULL; }
    if (!protocol_accepts(proto, f->type)) {
        char why[300];
        adm_error(r, 400, "bad request body: type: '%s' %s%s", f->type->name, protocol_refusal(proto, f->type, why, sizeof(why)), at);
        fault_free(f);
        return NULL;
    }
    return f;
}

/* Toxiproxy's "invalid toxic type" error, then the types that would do. */
static void invalid_type(struct adm_req *r, const char *type, const char *at)
{
    char valid[800];
    size_t o = (size_t)snprintf(valid, sizeof(valid), "Toxiproxy's:");
    for (size_t i = 0; i < NTOXMAP && o < sizeof(valid); i++)
        if (fault_type_find(TOXMAP[i].fl)) o += (size_t)snprintf(valid + o, sizeof(valid) - o, " %s", TOXMAP[i].toxi);
    if (o < sizeof(valid)) o += (size_t)snprintf(valid + o, sizeof(valid) - o, "; faultline's:");
    for (int k = 0; fault_types[k] && o < sizeof(valid); k++)
        o += (size_t)snprintf(valid + o, sizeof(valid) - o, " %s", fault_types[k]->name);
    adm_error(r, 400, "invalid toxic type: '%s' (%s)%s", type, valid, at);
}

struct fault *toxi_fault_from_json(struct adm_req *r, json_t *j, const char *pxname, const struct protocol *proto,
                                   const char *at)
{
    struct tkv l = {0};
    struct fault *f = NULL;
    char err[400], name[200], tox[100];
    if (!json_is_object(j)) { adm_error(r, 400, "bad request body: expected a JSON object%s", at); return NULL; }
    json_t *jn = json_object_get(j, "name"), *jt = json_object_get(j, "type"), *js = json_object_get(j, "stream"),
           *jx = json_object_get(j, "toxicity"), *ja = json_object_get(j, "attributes");
    if ((jn && !json_is_string(jn)) || (jt && !json_is_string(jt)) || (js && !json_is_string(js))) {
        adm_error(r, 400, "bad request body: name, type and stream must be strings%s", at);
        return NULL;
    }
    if (jx && !json_is_number(jx)) { adm_error(r, 400, "bad request body: toxicity must be a number%s", at); return NULL; }
    const char *stream = js ? json_string_value(js) : "downstream";
    if (!*stream) stream = "downstream";
    if (strcasecmp(stream, "upstream") && strcasecmp(stream, "downstream")) {
        adm_error(r, 400, "stream was invalid, can be either upstream or downstream%s", at);
        return NULL;
    }
    const char *type = jt ? json_string_value(jt) : "";
    snprintf(name, sizeof(name), "%s", jn && *json_string_value(jn) ? json_string_value(jn) : "");
    if (!name[0]) snprintf(name, sizeof(name), "%s_%s", type, stream);
    const struct toxmap *m = map_by_toxi(type);
    /* a mapped type whose faultline fault is not built is as unknown as any other */
    if (m ? !fault_type_find(m->fl) : !fault_type_find(type)) { invalid_type(r, type, at); return NULL; }
    snprintf(tox, sizeof(tox), "%s", m ? m->fl : type);
    tkv_set(&l, "type", tox);
    tkv_set(&l, "proxy", pxname);
    tkv_set(&l, "direction", !strcasecmp(stream, "upstream") ? "upstream" : "downstream");
    char b[64];
    snprintf(b, sizeof(b), "%.9g", jx ? json_number_value(jx) : 1.0);
    tkv_set(&l, "probability", b);
    if (m) {
        /* Toxiproxy's zero values for attributes not given */
        for (int i = 0; i < 3 && m->a[i].attr; i++) tkv_set(&l, m->a[i].key, "0");
        if (m->extra_key) tkv_set(&l, m->extra_key, m->extra_val);
    }
    if (attrs_to_kv(m, ja, &l, err, sizeof(err)) < 0) adm_error(r, 400, "bad request body: %s%s", err, at);
    else f = tkv_build(r, name, &l, proto, at);
    tkv_free(&l);
    return f;
}

static void toxic_create(struct adm_req *r, struct fl_proxy *px)
{
    json_t *j = adm_body_json(r);
    if (!j) return;
    struct fault *f = toxi_fault_from_json(r, j, px->spec.name, px->spec.protocol, "");
    json_decref(j);
    if (!f) return;
    /* a killed toxic (POST /kill) acts no more: adding it again replaces it */
    struct fault *killed = find_toxic(px, f->name);
    if (killed && !killed->killed) {
        fault_free(f);
        adm_error(r, 409, "toxic already exists");
        return;
    }
    if (killed) proxy_fault_replace(px, killed, f);
    else proxy_fault_add(px, f);
    f->from_api = 1;
    adm_json(r, 200, toxic_json(f));
}

static void toxic_update(struct adm_req *r, struct fl_proxy *px, struct fault *old)
{
    json_t *j = adm_body_json(r);
    if (!j) return;
    struct tkv l = {0};
    char err[400];
    if (!json_is_object(j)) { adm_error(r, 400, "bad request body: expected a JSON object"); goto out; }
    json_t *jx = json_object_get(j, "toxicity"), *ja = json_object_get(j, "attributes");
    if (jx && !json_is_number(jx)) { adm_error(r, 400, "bad request body: toxicity must be a number"); goto out; }
    for (int i = 0; i < old->nkv; i++) tkv_set(&l, old->kv[i].key, old->kv[i].value);
    if (jx) {
        char b[64];
        snprintf(b, sizeof(b), "%.9g", json_number_value(jx));
        tkv_set(&l, "probability", b);
        /* "toxicity" written in a profile would win over "probability": drop it */
        for (int i = 0; i < l.n; i++)
            if (!strcmp(l.k[i], "toxicity")) { free(l.v[i]); l.v[i] = strdup(b); }
    }
    const struct toxmap *m = map_of_fault(old);
    if (attrs_to_kv(m, ja, &l, err, sizeof(err)) < 0) {
        adm_error(r, 400, "bad request body: %s", err);
        goto out;
    }
    struct fault *nf = tkv_build(r, old->name, &l, px->spec.protocol, "");
    if (!nf) goto out;
    proxy_fault_replace(px, old, nf);
    adm_json(r, 200, toxic_json(nf));
out:
    tkv_free(&l);
    json_decref(j);
}

/* ---- routing ---- */

int adm_toxi_route(struct adm_req *r)
{
    struct fl_server *s = r->s;
    enum evhttp_cmd_type m = r->method;
    if (r->nseg == 1 && !strcmp(r->seg[0], "version")) {
        if (m != EVHTTP_REQ_GET) { adm_method_not_allowed(r, "GET"); return 1; }
        adm_json(r, 200, toxi_version_json());
        return 1;
    }
    if (r->nseg == 1 && !strcmp(r->seg[0], "reset")) {
        if (m != EVHTTP_REQ_POST) { adm_method_not_allowed(r, "POST"); return 1; }
        reset_all(r);
        return 1;
    }
    if (r->nseg == 1 && !strcmp(r->seg[0], "populate")) {
        if (m != EVHTTP_REQ_POST) { adm_method_not_allowed(r, "POST"); return 1; }
        toxi_populate(r);
        return 1;
    }
    if (r->nseg < 1 || strcmp(r->seg[0], "proxies")) return 0;
    if (r->nseg == 1) {
        if (m == EVHTTP_REQ_GET) {
            json_t *o = json_object();
            for (int i = 0; i < s->nproxies; i++) json_object_set_new(o, s->proxies[i]->spec.name, toxi_proxy_json(s->proxies[i]));
            adm_json(r, 200, o);
        } else if (m == EVHTTP_REQ_POST) {
            proxy_create(r);
        } else {
            adm_method_not_allowed(r, "GET, POST");
        }
        return 1;
    }
    struct fl_proxy *px = server_find_proxy(s, r->seg[1]);
    if (r->nseg == 2) {
        if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_POST && m != EVHTTP_REQ_PATCH && m != EVHTTP_REQ_DELETE) {
            adm_method_not_allowed(r, "GET, POST, PATCH, DELETE");
            return 1;
        }
        if (!px) { adm_error(r, 404, "proxy not found"); return 1; }
        if (m == EVHTTP_REQ_GET) adm_json(r, 200, toxi_proxy_json(px));
        else if (m == EVHTTP_REQ_DELETE) proxy_delete(r, px);
        else proxy_update(r, px);
        return 1;
    }
    if (strcmp(r->seg[2], "toxics")) return 0;
    if (r->nseg == 3) {
        if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_POST) { adm_method_not_allowed(r, "GET, POST"); return 1; }
        if (!px) { adm_error(r, 404, "proxy not found"); return 1; }
        if (m == EVHTTP_REQ_GET) {
            json_t *a = json_array();
            for (int i = 0; i < px->nfaults; i++) json_array_append_new(a, toxic_json(px->faults[i]));
            adm_json(r, 200, a);
        } else {
            toxic_create(r, px);
        }
        return 1;
    }
    if (r->nseg != 4) return 0;
    if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_POST && m != EVHTTP_REQ_PATCH && m != EVHTTP_REQ_DELETE) {
        adm_method_not_allowed(r, "GET, POST, PATCH, DELETE");
        return 1;
    }
    if (!px) { adm_error(r, 404, "proxy not found"); return 1; }
    struct fault *f = find_toxic(px, r->seg[3]);
    if (!f) { adm_error(r, 404, "toxic not found"); return 1; }
    if (m == EVHTTP_REQ_GET) adm_json(r, 200, toxic_json(f));
    else if (m == EVHTTP_REQ_DELETE) {
        proxy_fault_remove(px, f);
        adm_empty(r, 204);
    } else toxic_update(r, px, f);
    return 1;
}
