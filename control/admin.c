/* admin.c -- the admin API's listener, its safety checks, routing, and faultline's own
 * endpoints (/faults, /profile, /healthz, /kill, /resume). See admin.h and docs/api.md.
 *
 * One evhttp server on the event loop the proxies run on, bound on [faultline] admin
 * (127.0.0.1:8474 by default; "off" disables it). Every request passes the same gate before
 * any handler runs: the browser gate of control/guard.c (403: Host, Origin, Sec-Fetch-Site and
 * Toxiproxy's refusal of browser user agents -- a web page must not be able to drive a local
 * fault injector), the bearer token when one is set (401), and the body cap (413). Handlers
 * validate everything before they change anything (listen and upstream addresses against the
 * reach policy too, 403), so a request answered 4xx has changed nothing. Mutating requests are logged one line each (event=api), so
 * a game day's changes can be read back from the log.
 *
 * Faults created here are marked from_api: a SIGHUP reload of the profile keeps them.
 */
#define FL_ADMIN_INTERNAL
#include "proxy/proxy.h"
#include "proxy/protocol.h"
#include "proxy/tls.h"
#include "control/admin.h"
#include "common/version.h"
#include "common/log.h"
#include "common/unixsock.h"
#include "control/guard.h"
#include "control/audit.h"
#include "control/console.h"
#include "control/fleet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>
#include <event2/listener.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Slow clients. evhttp's own timeout (set_timeout) is an inactivity timeout: a client sending a
 * header byte every few seconds (slow-loris) would hold its connection forever. So every admin
 * connection also has a deadline: it must deliver each request whole within ADM_REQ_DEADLINE_S
 * of opening (or of the previous answer), else it is closed; and at most admin_max_conns admin
 * connections are open at once (control/guard.h): past that, a new one makes room by closing
 * the oldest connection that never delivered a request, or is refused when every other one
 * has -- so a flood can neither use up the descriptors the proxies need, nor lock a real
 * client out, nor evict the operator's connection. */
#define ADM_REQ_DEADLINE_S 10

struct adm_conn {
    struct adm_state *st;
    struct bufferevent *bev;          /* referenced until attached */
    struct evhttp_connection *evcon;  /* NULL until attached */
    struct event *attach, *deadline;
    struct adm_conn *prev, *next;
    int served;                       /* a whole request arrived on it: never evicted */
    struct adm_defer *defer;          /* a reply that comes later (adm_defer), or NULL */
};

/* A reply sent later (adm_defer): the request, while its connection lives. */
struct adm_defer {
    struct evhttp_request *req;       /* NULL once the connection is gone */
    struct adm_conn *ac;              /* NULL once the connection is gone */
};

struct adm_state {
    struct evhttp *http;
    struct evconnlistener *lis;
    char unix_path[128];
    struct adm_conn *conns;
    int nconns, max_conns;
    uint64_t closed_slow, evicted, refused;
};

/* ---- connection deadline and cap ---- */

static void adm_conn_free(struct adm_conn *ac)
{
    struct adm_state *st = ac->st;
    if (ac->prev) ac->prev->next = ac->next;
    else st->conns = ac->next;
    if (ac->next) ac->next->prev = ac->prev;
    st->nconns--;
    if (ac->defer) { ac->defer->req = NULL; ac->defer->ac = NULL; }
    if (ac->bev) bufferevent_decref(ac->bev);
    event_free(ac->attach);
    event_free(ac->deadline);
    free(ac);
}

/* evhttp frees the connection (answer sent with close, error, timeout, our deadline, shutdown). */
static void adm_conn_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    adm_conn_free(arg);
}

static void adm_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct adm_conn *ac = arg;
    ac->st->closed_slow++;
    log_debug("api_slow_client", "closed=yes deadline_s=%d", ADM_REQ_DEADLINE_S);
    evhttp_connection_free(ac->evcon);   /* calls adm_conn_closed: ac is gone */
}

static void adm_arm_deadline(struct adm_conn *ac)
{
    struct timeval tv = {ADM_REQ_DEADLINE_S, 0};
    evtimer_add(ac->deadline, &tv);
}

/* Runs right after evhttp made the connection around our bufferevent (same loop turn). */
static void adm_attach_cb(evutil_socket_t fd, short what, void *arg)
{
    struct adm_conn *ac = arg;
    struct adm_state *st = ac->st;
    void *cbarg = NULL;
    bufferevent_getcb(ac->bev, NULL, NULL, NULL, &cbarg);
    bufferevent_decref(ac->bev);
    ac->bev = NULL;
    if (!cbarg) { adm_conn_free(ac); return; }   /* already freed by evhttp */
    ac->evcon = cbarg;
    evhttp_connection_set_closecb(ac->evcon, adm_conn_closed, ac);
    adm_arm_deadline(ac);
    if (st->nconns > st->max_conns) {
        /* full: the oldest connection that never delivered a whole request goes (new ones are
         * at the head), so a flood of slow clients cannot lock a real client out; when every
         * other connection has been served, the new one is refused: a flood of connections
         * cannot evict the operator's */
        struct adm_conn *old = NULL;
        for (struct adm_conn *c = st->conns; c; c = c->next)   /* accepted in one batch: anywhere */
            if (!c->served && c != ac) old = c;
        if (!old) {
            st->refused++;
            log_debug("api_busy", "connections=%d max=%d action=refused_new", st->nconns, st->max_conns);
            evhttp_connection_free(ac->evcon);   /* calls adm_conn_closed: ac is gone */
            return;
        }
        st->evicted++;
        log_debug("api_busy", "connections=%d max=%d evicted=oldest_unserved", st->nconns, st->max_conns);
        if (old->evcon) evhttp_connection_free(old->evcon);
        else adm_conn_free(old);
    }
}

static struct bufferevent *adm_bev_cb(struct event_base *base, void *arg)
{
    struct adm_state *st = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct adm_conn *ac = calloc(1, sizeof(*ac));
    if (!bev || !ac) abort();
    ac->st = st;
    ac->bev = bev;
    bufferevent_incref(bev);
    ac->attach = evtimer_new(base, adm_attach_cb, ac);
    ac->deadline = evtimer_new(base, adm_deadline_cb, ac);
    if (!ac->attach || !ac->deadline) abort();
    ac->next = st->conns;
    if (st->conns) st->conns->prev = ac;
    st->conns = ac;
    st->nconns++;
    event_active(ac->attach, EV_TIMEOUT, 0);
    return bev;
}

/* A request arrived whole on this connection: the next one has a fresh deadline. */
static void adm_request_seen(struct fl_server *s, struct evhttp_request *req)
{
    struct adm_state *st = s->admin;
    struct evhttp_connection *evcon = req ? evhttp_request_get_connection(req) : NULL;
    if (!st || !evcon) return;
    for (struct adm_conn *ac = st->conns; ac; ac = ac->next)
        if (ac->evcon == evcon) { ac->served = 1; adm_arm_deadline(ac); return; }
}

/* ---- replies ---- */

static const char *reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

static int g_last_code;   /* status of the reply being sent (for the api log line) */

void adm_text(struct adm_req *r, int code, const char *ctype, const char *text, size_t len)
{
    if (r->replied) return;
    r->replied = 1;
    if (!r->req) {   /* made in-process (adm_toxi_populate_file): kept for the caller */
        r->out_code = code;
        r->out = strndup(text ? text : "", len);
        return;
    }
    g_last_code = code;
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    if (ctype) evhttp_add_header(h, "Content-Type", ctype);
    struct evbuffer *b = evbuffer_new();
    if (!b) abort();
    if (len) evbuffer_add(b, text, len);
    evhttp_send_reply(r->req, code, reason(code), b);
    evbuffer_free(b);
}

void adm_json(struct adm_req *r, int code, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(j);
    if (!s) {
        adm_text(r, 500, "application/json", "{\"error\":\"out of memory\",\"status\":500}", 38);
        return;
    }
    size_t n = strlen(s);
    s = realloc(s, n + 2);
    if (!s) abort();
    s[n++] = '\n';
    s[n] = 0;
    adm_text(r, code, "application/json", s, n);
    free(s);
}

void adm_empty(struct adm_req *r, int code) { adm_text(r, code, NULL, NULL, 0); }

struct adm_defer *adm_defer(struct adm_req *r)
{
    struct adm_state *st = r->s->admin;
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
    struct adm_defer *d = calloc(1, sizeof(*d));
    if (!d) abort();
    for (struct adm_conn *ac = st ? st->conns : NULL; ac; ac = ac->next)
        if (ac->evcon == evcon && !ac->defer) { ac->defer = d; d->ac = ac; d->req = r->req; break; }
    r->replied = 1;
    g_last_code = 202;
    return d;
}

void adm_defer_json(struct adm_defer *d, int code, json_t *j)
{
    if (d->req) {
        struct adm_req r = {.req = d->req};
        adm_json(&r, code, j);
        j = NULL;
    }
    json_decref(j);
    if (d->ac) d->ac->defer = NULL;
    free(d);
}

/* Replaces every byte of s that is not part of a well-formed UTF-8 sequence by '?': error
 * messages quote what the client sent, and JSON strings must be valid UTF-8 (jansson refuses
 * to build them otherwise, which turned a 400 into a 500 "out of memory"). */
static void utf8_scrub(char *s)
{
    for (long at; (at = utf8_bad_at(s)) >= 0; s += at + 1) s[at] = '?';
}

void adm_error(struct adm_req *r, int code, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    utf8_scrub(msg);
    json_t *j = json_pack("{s:s, s:i}", "error", msg, "status", code);
    if (r->err_proxies) json_object_set_new(j, "proxies", json_array());
    adm_json(r, code, j);
}

void adm_method_not_allowed(struct adm_req *r, const char *allow)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Allow", allow);
    adm_error(r, 405, "method not allowed (allowed: %s)", allow);
}

json_t *adm_body_json(struct adm_req *r)
{
    json_error_t je;
    if (!r->blen) {
        adm_error(r, 400, "bad request body: empty (a JSON document is expected)");
        return NULL;
    }
    json_t *j = json_loadb(r->body, r->blen, 0, &je);
    if (!j) adm_error(r, 400, "bad request body: %s (line %d, column %d)", je.text, je.line, je.column);
    return j;
}

int adm_scalar_str(json_t *v, char *buf, size_t len)
{
    if (json_is_string(v)) snprintf(buf, len, "%s", json_string_value(v));
    else if (json_is_integer(v)) snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) snprintf(buf, len, "%.15g", json_real_value(v));
    else if (json_is_true(v)) snprintf(buf, len, "yes");
    else if (json_is_false(v)) snprintf(buf, len, "no");
    else return -1;
    return 0;
}

/* ---- key/value lists built from JSON bodies ---- */

struct kvl { char **k, **v; int n, cap; };

static void kvl_set(struct kvl *l, const char *k, const char *v)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->k[i], k)) {
            free(l->v[i]);
            l->v[i] = strdup(v);
            return;
        }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->k = realloc(l->k, sizeof(char *) * (size_t)l->cap);
        l->v = realloc(l->v, sizeof(char *) * (size_t)l->cap);
        if (!l->k || !l->v) abort();
    }
    l->k[l->n] = strdup(k);
    l->v[l->n] = strdup(v);
    if (!l->k[l->n] || !l->v[l->n]) abort();
    l->n++;
}

static void kvl_del(struct kvl *l, const char *k)
{
    int j = 0;
    for (int i = 0; i < l->n; i++) {
        if (!strcmp(l->k[i], k)) { free(l->k[i]); free(l->v[i]); continue; }
        l->k[j] = l->k[i];
        l->v[j] = l->v[i];
        j++;
    }
    l->n = j;
}

static void kvl_free(struct kvl *l)
{
    for (int i = 0; i < l->n; i++) { free(l->k[i]); free(l->v[i]); }
    free(l->k);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Adds the body's keys to l (null deletes the key when allow_null). 0, or -1 after a 400. */
static int kvl_from_json(struct adm_req *r, struct kvl *l, json_t *obj, int allow_null)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (!strcmp(k, "name")) continue;
        char buf[1024];
        if (json_is_null(v) && allow_null) { kvl_del(l, k); continue; }
        if (adm_scalar_str(v, buf, sizeof(buf)) < 0) {
            adm_error(r, 400, "%s: must be a string or a number", k);
            return -1;
        }
        kvl_set(l, k, buf);
    }
    return 0;
}

/* Builds a fault from l, checking its proxy. NULL after a 400 reply. */
static struct fault *build_checked(struct adm_req *r, const char *name, struct kvl *l, struct fl_proxy **pxo)
{
    int bad;
    char err[600];
    struct fault *f = fault_build(name, (const char *const *)l->k, (const char *const *)l->v, l->n, &bad, err, sizeof(err));
    if (!f) {
        adm_error(r, 400, "%s", err);
        return NULL;
    }
    struct fl_proxy *px = server_find_proxy(r->s, f->proxy);
    if (!px) {
        adm_error(r, 400, "proxy: no proxy named '%s'", f->proxy);
        fault_free(f);
        return NULL;
    }
    if (!protocol_accepts(px->spec.protocol, f->type)) {
        char why[300];
        adm_error(r, 400, "type: '%s' %s; '%s' is mode %s", f->type->name,
                  protocol_refusal(px->spec.protocol, f->type, why, sizeof(why)), px->spec.name, px->spec.protocol->name);
        fault_free(f);
        return NULL;
    }
    char why[400];
    if (tls_fault_fits(&px->spec, f, why, sizeof(why)) < 0) {   /* a TLS fault needs TLS terminated */
        adm_error(r, 400, "type: %s", why);
        fault_free(f);
        return NULL;
    }
    *pxo = px;
    return f;
}

/* ---- /faults ---- */

static int count_faults(struct fl_server *s)
{
    int n = 0;
    for (int i = 0; i < s->nproxies; i++) n += s->proxies[i]->nfaults;
    return n;
}

/* Faults stopped by the kill switch (POST /kill, SIGUSR1) and not resumed, removed or replaced. */
static int count_killed(struct fl_server *s)
{
    int n = 0;
    for (int i = 0; i < s->nproxies; i++)
        for (int k = 0; k < s->proxies[i]->nfaults; k++) n += s->proxies[i]->faults[k]->killed != 0;
    return n;
}

/* The value of query parameter key into buf (NULL when absent). */
static const char *query_get(struct adm_req *r, const char *key, char *buf, size_t len)
{
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(r->req);
    const char *q = u ? evhttp_uri_get_query(u) : NULL;
    if (!q) return NULL;
    struct evkeyvalq kv;
    TAILQ_INIT(&kv);
    if (evhttp_parse_query_str(q, &kv) < 0) return NULL;
    const char *v = evhttp_find_header(&kv, key);
    if (v) snprintf(buf, len, "%s", v);
    evhttp_clear_headers(&kv);
    return v ? buf : NULL;
}

/* Fault names are unique per proxy: the fault `name` on proxy `pxname` (NULL: any proxy; a
 * name found on several is refused, 409 naming them; PROXY/NAME names both when no fault is
 * called that whole). NULL after a 404/409 reply. */
static struct fault *fault_lookup(struct adm_req *r, const char *name, const char *pxname, struct fl_proxy **pxo)
{
    struct fl_server *s = r->s;
    if (pxname) {
        struct fl_proxy *px = server_find_proxy(s, pxname);
        struct fault *f = px ? proxy_find_fault(px, name) : NULL;
        if (!px) adm_error(r, 404, "proxy not found: %s", pxname);
        else if (!f) adm_error(r, 404, "fault not found: %s on proxy %s", name, pxname);
        *pxo = px;
        return f;
    }
    struct fault *f = NULL;
    int n = 0;
    json_t *on = json_array();
    char list[600] = "";
    for (int i = 0; i < s->nproxies; i++) {
        struct fault *g = proxy_find_fault(s->proxies[i], name);
        if (!g) continue;
        if (!n++) { f = g; *pxo = s->proxies[i]; }
        json_array_append_new(on, json_string(s->proxies[i]->spec.name));
        size_t o = strlen(list);
        snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "", s->proxies[i]->spec.name);
    }
    const char *slash = strchr(name, '/');
    if (!n && slash && slash > name && slash[1]) {
        json_decref(on);
        char px[200];
        snprintf(px, sizeof(px), "%.*s", (int)(slash - name), name);
        return fault_lookup(r, slash + 1, px, pxo);
    }
    if (n > 1) {
        char msg[1000];
        snprintf(msg, sizeof(msg), "ambiguous fault name: '%s' is on proxies %s; name one as PROXY/NAME (%s/%s) or "
                 "with ?proxy=PROXY", name, list, json_string_value(json_array_get(on, 0)), name);
        utf8_scrub(msg);
        adm_json(r, 409, json_pack("{s:s, s:i, s:o}", "error", msg, "status", 409, "proxies", on));
        return NULL;
    }
    json_decref(on);
    if (!n) adm_error(r, 404, "fault not found: %s", name);
    return f;
}

static void faults_create(struct adm_req *r)
{
    json_t *j = adm_body_json(r);
    if (!j) return;
    if (!json_is_object(j)) { json_decref(j); adm_error(r, 400, "bad request body: expected a JSON object"); return; }
    json_t *jn = json_object_get(j, "name");
    if (!json_is_string(jn) || !*json_string_value(jn)) {
        json_decref(j);
        adm_error(r, 400, "missing required field: name");
        return;
    }
    char name[200];
    snprintf(name, sizeof(name), "%s", json_string_value(jn));
    if (strchr(name, '/')) {
        json_decref(j);
        adm_error(r, 400, "name: '%s' holds '/' (PROXY/NAME addresses a fault; give the proxy as \"proxy\")", name);
        return;
    }
    struct kvl l = {0};
    if (kvl_from_json(r, &l, j, 0) < 0) { kvl_free(&l); json_decref(j); return; }
    json_decref(j);
    struct fl_proxy *px;
    struct fault *f = build_checked(r, name, &l, &px);
    kvl_free(&l);
    if (!f) return;
    /* names are unique per proxy; a killed fault (POST /kill) acts no more: created again, it
     * is replaced */
    struct fault *old = proxy_find_fault(px, name);
    if (old && !old->killed) {
        fault_free(f);
        adm_error(r, 409, "fault already exists: %s on proxy %s", name, px->spec.name);
        return;
    }
    if (old) proxy_fault_replace(px, old, f);
    else proxy_fault_add(px, f);
    f->from_api = 1;
    adm_json(r, 201, adm_fault_json(f));
}

static void fault_patch(struct adm_req *r, struct fault *old, struct fl_proxy *px)
{
    json_t *j = adm_body_json(r);
    if (!j) return;
    if (!json_is_object(j)) { json_decref(j); adm_error(r, 400, "bad request body: expected a JSON object"); return; }
    json_t *jn = json_object_get(j, "name");
    if (jn && (!json_is_string(jn) || strcmp(json_string_value(jn), old->name))) {
        json_decref(j);
        adm_error(r, 400, "name: a fault cannot be renamed (delete it and create a new one)");
        return;
    }
    struct kvl l = {0};
    for (int i = 0; i < old->nkv; i++) kvl_set(&l, old->kv[i].key, old->kv[i].value);
    if (kvl_from_json(r, &l, j, 1) < 0) { kvl_free(&l); json_decref(j); return; }
    json_decref(j);
    struct fl_proxy *npx;
    struct fault *nf = build_checked(r, old->name, &l, &npx);
    kvl_free(&l);
    if (!nf) return;
    if (npx != px) {
        fault_free(nf);
        adm_error(r, 400, "proxy: a fault cannot move to another proxy (delete it and create a new one)");
        return;
    }
    proxy_fault_replace(px, old, nf);
    adm_json(r, 200, adm_fault_json(nf));
}

static int route_faults(struct adm_req *r)
{
    if (r->nseg < 1 || strcmp(r->seg[0], "faults")) return 0;
    struct fl_server *s = r->s;
    char qpx[200];
    const char *pxname = query_get(r, "proxy", qpx, sizeof(qpx));
    if (r->nseg == 1) {
        if (r->method == EVHTTP_REQ_GET) {
            if (pxname && !server_find_proxy(s, pxname)) { adm_error(r, 404, "proxy not found: %s", pxname); return 1; }
            json_t *a = json_array();
            for (int i = 0; i < s->nproxies; i++) {
                if (pxname && strcmp(pxname, s->proxies[i]->spec.name)) continue;
                for (int k = 0; k < s->proxies[i]->nfaults; k++) json_array_append_new(a, adm_fault_json(s->proxies[i]->faults[k]));
            }
            adm_json(r, 200, a);
        } else if (r->method == EVHTTP_REQ_POST) {
            faults_create(r);
        } else {
            adm_method_not_allowed(r, "GET, POST");
        }
        return 1;
    }
    /* /faults/NAME, /faults/PROXY/NAME (or PROXY%2FNAME), /faults/NAME?proxy=PROXY */
    if (r->nseg != 2 && r->nseg != 3) return 0;
    if (r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_PATCH && r->method != EVHTTP_REQ_DELETE) {
        adm_method_not_allowed(r, "GET, PATCH, DELETE");
        return 1;
    }
    const char *name = r->seg[r->nseg - 1];
    if (r->nseg == 3) {
        if (pxname && strcmp(pxname, r->seg[1])) {
            adm_error(r, 400, "proxy: the path names proxy %s, ?proxy= names %s", r->seg[1], pxname);
            return 1;
        }
        pxname = r->seg[1];
    }
    struct fl_proxy *px = NULL;
    struct fault *f = fault_lookup(r, name, pxname, &px);
    if (!f) return 1;
    if (r->method == EVHTTP_REQ_GET) adm_json(r, 200, adm_fault_json(f));
    else if (r->method == EVHTTP_REQ_PATCH) fault_patch(r, f, px);
    else {
        proxy_fault_remove(px, f);
        adm_empty(r, 204);
    }
    return 1;
}

/* ---- /profile, /healthz, /kill, /resume ---- */

static void profile_post(struct adm_req *r)
{
    if (!r->blen) { adm_error(r, 400, "bad request body: empty (INI profile text is expected)"); return; }
    if (memchr(r->body, 0, r->blen)) { adm_error(r, 400, "bad request body: holds a NUL byte"); return; }
    char err[1024];
    struct profile *p = profile_parse("POST /profile", r->body, 0, err, sizeof(err));
    if (!p) { adm_error(r, 400, "%s", err); return; }
    if (guard_api_profile(r, p) < 0) { profile_free(p); return; }
    int nf = p->nfaults, np = p->nproxies;
    if (server_apply(r->s, p, err, sizeof(err)) < 0) {
        profile_free(p);
        adm_error(r, 500, "%s", err);
        return;
    }
    log_info("profile_applied", "source=api proxies=%d faults=%d", np, nf);
    adm_json(r, 200, json_pack("{s:i, s:i, s:i, s:i}", "profile_proxies", np, "profile_faults", nf, "proxies",
                               r->s->nproxies, "faults", count_faults(r->s)));
}

static int route_misc(struct adm_req *r)
{
    if (r->nseg != 1) return 0;
    const char *p = r->seg[0];
    if (!strcmp(p, "healthz")) {
        if (r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_HEAD) { adm_method_not_allowed(r, "GET"); return 1; }
        adm_json(r, r->s->draining ? 503 : 200,
                 json_pack("{s:s, s:s, s:i, s:i, s:i, s:f}", "status", r->s->draining ? "draining" : "ok", "version",
                           FAULTLINE_VERSION, "proxies", r->s->nproxies, "faults", count_faults(r->s), "killed",
                           count_killed(r->s), "uptime_s", (double)(fl_now_us() - r->s->started_us) / 1e6));
        return 1;
    }
    if (!strcmp(p, "kill")) {
        if (r->method != EVHTTP_REQ_POST) { adm_method_not_allowed(r, "POST"); return 1; }
        int n = server_kill_faults(r->s);
        adm_json(r, 200, json_pack("{s:i, s:i}", "killed", n, "faults", count_faults(r->s)));
        return 1;
    }
    if (!strcmp(p, "resume")) {
        /* the kill switch undone: every killed fault acts again, its window restarting now */
        if (r->method != EVHTTP_REQ_POST) { adm_method_not_allowed(r, "POST"); return 1; }
        int n = server_resume_faults(r->s);
        adm_json(r, 200, json_pack("{s:i, s:i, s:i}", "resumed", n, "faults", count_faults(r->s), "killed",
                                   count_killed(r->s)));
        return 1;
    }
    if (!strcmp(p, "profile")) {
        if (r->method != EVHTTP_REQ_POST) { adm_method_not_allowed(r, "POST"); return 1; }
        profile_post(r);
        return 1;
    }
    return 0;
}

/* ---- the gate and the dispatcher ---- */

static int token_ok(struct fl_server *s, struct evhttp_request *req)
{
    const char *tok = s->g.admin_token;
    if (!*tok) return 1;
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
    h += 7;
    while (*h == ' ') h++;
    size_t a = strlen(h), b = strlen(tok);
    unsigned diff = (unsigned)(a ^ b);
    for (size_t i = 0; i < b; i++) diff |= (unsigned)(unsigned char)tok[i] ^ (unsigned)(unsigned char)(i < a ? h[i] : 0);
    return diff == 0;
}

static const char *method_str(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "OTHER";
    }
}

/* Splits the path into %-decoded segments. -1 when it has more than any route has (the ones
 * decoded so far are freed by the caller). */
static int split_path(struct adm_req *r, char *pcopy)
{
    for (char *save = NULL, *t = strtok_r(pcopy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (r->nseg == (int)(sizeof(r->seg) / sizeof(r->seg[0]))) return -1;
        r->seg[r->nseg++] = evhttp_uridecode(t, 0, NULL);
    }
    return 0;
}

static void gen_cb(struct evhttp_request *req, void *arg)
{
    struct fl_server *s = arg;
    struct adm_req r = {.req = req, .s = s, .method = evhttp_request_get_command(req)};
    g_last_code = 0;
    adm_request_seen(s, req);
    const char *uri = evhttp_request_get_uri(req);
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    if (!path || !*path) path = "/";
    char *pcopy = strdup(path);
    if (!pcopy) abort();
    int authed = 0;   /* passed the token or the console session: its changes are audited */
    int too_deep = split_path(&r, pcopy) < 0;
    console_claim(&r);
    if (guard_request(&r) < 0) goto out;
    /* the console's page and login are open (control/console.c checks them); everything else
     * needs the token or a console session */
    if (!(r.nseg >= 1 && r.nseg <= 2 && !strcmp(r.seg[0], "console"))) {
        int cs = console_session(&r);
        if (cs < 0) goto out;
        if (!cs && !token_ok(s, req)) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer realm=\"faultline\"");
            adm_error(&r, 401, "unauthorized: this admin API needs 'Authorization: Bearer <admin_token>'");
            goto out;
        }
        if (!cs) snprintf(r.who, sizeof(r.who), "%s", !s->g.admin_token[0] ? "loopback"
                                                   : s->g.pol.token_name[0] ? s->g.pol.token_name : "admin");
        authed = 1;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    r.blen = evbuffer_get_length(in);
    if (r.blen > ADM_MAX_BODY) {
        adm_error(&r, 413, "request body too large: %zu bytes (at most %d)", r.blen, ADM_MAX_BODY);
        goto out;
    }
    r.body = malloc(r.blen + 1);
    if (!r.body) abort();
    evbuffer_copyout(in, r.body, r.blen);
    r.body[r.blen] = 0;
    if (too_deep || !(console_route(&r) || adm_toxi_route(&r) || route_faults(&r) || route_misc(&r) ||
                      adm_metrics_route(&r) || adm_audit_route(&r) || adm_verdicts_route(&r) ||
                      fleet_route(&r)))
        if (!r.replied) adm_error(&r, 404, "not found: %s", path);
out:
    if (!r.replied) adm_error(&r, 500, "no reply");
    if (r.method != EVHTTP_REQ_GET && r.method != EVHTTP_REQ_HEAD) {
        log_info("api", "method=%s uri=%s status=%d", method_str(r.method), log_q(uri ? uri : "?"), g_last_code);
        if (authed || r.console) audit_api(&r, g_last_code);
    }
    for (int i = 0; i < r.nseg; i++) free(r.seg[i]);
    free(r.body);
    free(pcopy);
}

static int addr_is_loopback(const struct fl_addr *a)
{
    if (a->kind == ADDR_UNIX) return 1;
    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (a->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return 1;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return in6->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

int admin_start(struct fl_server *s, char *err, size_t errlen)
{
    if (s->g.admin_off || s->admin) return 0;
    if (guard_token_init(s, err, errlen) < 0) return -1;
    audit_set_instance(s->g.instance);
    const struct fl_addr *a = &s->g.admin;
    if (!addr_is_loopback(a) && !s->g.admin_token[0]) {
        snprintf(err, errlen,
                 "admin: %s is not a loopback address and no admin_token is set; refusing to expose the admin "
                 "API (set admin_token, or use 127.0.0.1)", s->g.admin_text);
        return -1;
    }
    struct adm_state *st = calloc(1, sizeof(*st));
    if (!st) abort();
    st->max_conns = guard_max_conns(s);
    if (a->kind == ADDR_UNIX) {
        char ue[300];
        if (unixsock_prepare(a->path, ue, sizeof(ue)) < 0) {
            snprintf(err, errlen, "admin: cannot listen on %s: %s", s->g.admin_text, ue);
            free(st);
            return -1;
        }
        snprintf(st->unix_path, sizeof(st->unix_path), "%s", a->path);
    }
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | (a->kind == ADDR_INET ? LEV_OPT_REUSEABLE : 0);
    st->lis = evconnlistener_new_bind(s->base, NULL, NULL, flags, 128, (const struct sockaddr *)&a->ss, (int)a->sslen);
    if (!st->lis) {
        snprintf(err, errlen, "admin: cannot listen on %s: %s", s->g.admin_text, strerror(errno));
        free(st);
        return -1;
    }
    if (st->unix_path[0]) unixsock_bound(st->unix_path);
    st->http = evhttp_new(s->base);
    if (!st->http) abort();
    evhttp_set_allowed_methods(st->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                             EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
    /* bodies between ADM_MAX_BODY and this are refused by us with a JSON 413; above it evhttp
     * refuses them itself (also 413) without buffering them */
    evhttp_set_max_body_size(st->http, 4 * ADM_MAX_BODY);
    evhttp_set_max_headers_size(st->http, 64 * 1024);
    evhttp_set_timeout(st->http, 30);
    evhttp_set_bevcb(st->http, adm_bev_cb, st);
    evhttp_set_gencb(st->http, gen_cb, s);
    if (!evhttp_bind_listener(st->http, st->lis)) {
        snprintf(err, errlen, "admin: cannot serve on %s", s->g.admin_text);
        evhttp_free(st->http);
        evconnlistener_free(st->lis);
        free(st);
        return -1;
    }
    char shown[320];
    snprintf(shown, sizeof(shown), "%s", s->g.admin_text);
    if (a->kind == ADDR_INET && a->port == 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(evconnlistener_get_fd(st->lis), (struct sockaddr *)&ss, &sl) == 0) {
            int port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                     : ((struct sockaddr_in6 *)&ss)->sin6_port);
            snprintf(shown, sizeof(shown), "%s%s%s:%d", strchr(a->host, ':') ? "[" : "", a->host,
                     strchr(a->host, ':') ? "]" : "", port);
        }
    }
    log_info("admin_listening", "admin=%s auth=%s", log_q(shown), s->g.admin_token[0] ? "bearer" : "none");
    s->admin = st;
    return 0;
}

const struct server_part admin_part = {"admin", admin_start, admin_stop};

void adm_conn_counts(struct fl_server *s, uint64_t *open, uint64_t *refused, uint64_t *evicted, uint64_t *slow)
{
    struct adm_state *st = s->admin;
    *open = st ? (uint64_t)st->nconns : 0;
    *refused = st ? st->refused : 0;
    *evicted = st ? st->evicted : 0;
    *slow = st ? st->closed_slow : 0;
}

void admin_stop(struct fl_server *s)
{
    struct adm_state *st = s ? s->admin : NULL;
    if (!st) return;
    s->admin = NULL;
    console_reset();
    evhttp_free(st->http);   /* frees the bound listener too, and its connections */
    while (st->conns) adm_conn_free(st->conns);   /* accepted, not yet attached */
    if (st->unix_path[0]) unixsock_release(st->unix_path);
    free(st);
}
