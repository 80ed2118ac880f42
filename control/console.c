/* console.c -- the console's files, its login, its sessions and /verdicts. See console.h and
 * docs/console.md; the threat model is docs/security.md.
 *
 * Sessions: a fixed table of CONSOLE_SESSIONS, each a random 128-bit id (the cookie), a random
 * 128-bit CSRF value, the name the audit shows, a hash of the token it logged in with (a token
 * rotated by SIGHUP ends every session made with the old one) and an expiry CONSOLE_SESSION_S
 * after the login. A login past the table's size ends the oldest session. The cookie's name
 * carries the port of the Host it was set for (fl_console_8474): cookies are shared by every
 * port of a host, and two daemons on one machine must not log each other's users out.
 *
 * Who may log in: whoever knows the admin token, or, when the API has none (loopback only, as
 * the API's own rule), anyone the gate lets through: the name is then "loopback".
 */
#define FL_ADMIN_INTERNAL
#include "proxy/proxy.h"
#include "control/admin.h"
#include "control/audit.h"
#include "control/console.h"
#include "common/clock.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

struct session {
    char id[33], csrf[33];           /* hex; id[0] == 0: the slot is free */
    char who[64];
    uint64_t tokhash;
    int64_t born_us, expires_us;
};

static struct session g_sess[CONSOLE_SESSIONS];
static char *g_verdicts;             /* owned: the JSON text posted to /verdicts, or NULL */

void console_reset(void)
{
    memset(g_sess, 0, sizeof(g_sess));
    free(g_verdicts);
    g_verdicts = NULL;
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static void random_hex(char out[33])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n <= 0) abort();   /* no randomness: no session is better than a guessable one */
        got += (size_t)n;
    }
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Equal strings, in a time that does not depend on where they differ. */
static int same(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned d = (unsigned)(la ^ lb);
    for (size_t i = 0; i < lb; i++) d |= (unsigned)(unsigned char)b[i] ^ (unsigned)(unsigned char)(i < la ? a[i] : 0);
    return d == 0;
}

static const char *hdr(struct adm_req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->req), name);
}

/* fl_console_PORT (the Host's port; fl_console without one). */
static void cookie_name(struct adm_req *r, char *out, size_t n)
{
    const char *h = hdr(r, "Host");
    const char *c = h ? strrchr(h, ':') : NULL;
    if (c && (h[0] != '[' || strchr(c, ']') == NULL) && strspn(c + 1, "0123456789") == strlen(c + 1) && c[1])
        snprintf(out, n, "fl_console_%.5s", c + 1);
    else
        snprintf(out, n, "fl_console");
}

/* The live session the request's cookie names, or NULL. */
static struct session *session_of(struct adm_req *r)
{
    const char *ck = hdr(r, "Cookie");
    if (!ck) return NULL;
    char name[32], id[33] = "";
    cookie_name(r, name, sizeof(name));
    size_t nl = strlen(name);
    for (const char *p = ck; *p;) {
        while (*p == ' ' || *p == ';') p++;
        if (!strncmp(p, name, nl) && p[nl] == '=') {
            size_t l = strcspn(p + nl + 1, "; ");
            if (l == 32) snprintf(id, sizeof(id), "%.32s", p + nl + 1);
            break;
        }
        p += strcspn(p, ";");
    }
    if (!id[0]) return NULL;
    int64_t now = fl_now_us();
    uint64_t th = fnv(r->s->g.admin_token);
    for (int i = 0; i < CONSOLE_SESSIONS; i++) {
        struct session *s = &g_sess[i];
        if (!s->id[0] || !same(id, s->id)) continue;
        if (now >= s->expires_us || s->tokhash != th) { memset(s, 0, sizeof(*s)); return NULL; }
        return s;
    }
    return NULL;
}

/* The request's own origin, http:// + Host. */
static int origin_is_own(struct adm_req *r)
{
    const char *o = hdr(r, "Origin"), *h = hdr(r, "Host");
    if (!o || !h) return 0;
    char own[400];
    snprintf(own, sizeof(own), "http://%s", h);
    return !strcasecmp(o, own);
}

static int refuse(struct adm_req *r, const char *msg)
{
    adm_error(r, 403, "%s", msg);
    return -1;
}

/* ---- the page ---- */

static const char *ctype_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return "application/octet-stream";
    if (!strcmp(dot, ".html")) return "text/html; charset=utf-8";
    if (!strcmp(dot, ".js")) return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".css")) return "text/css; charset=utf-8";
    if (!strcmp(dot, ".svg")) return "image/svg+xml";
    return "application/octet-stream";
}

static void serve_asset(struct adm_req *r, const char *name)
{
    for (const struct console_asset *a = console_assets; a->name; a++) {
        if (strcmp(a->name, name)) continue;
        struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
        evhttp_add_header(h, "Content-Security-Policy",
                          "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                          "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
        evhttp_add_header(h, "X-Frame-Options", "DENY");
        evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
        evhttp_add_header(h, "Referrer-Policy", "no-referrer");
        evhttp_add_header(h, "Cache-Control", "no-store");
        adm_text(r, 200, ctype_of(a->name), (const char *)a->data, a->len);
        return;
    }
    adm_error(r, 404, "not found: /console/%s", name);
}

/* ---- login, logout ---- */

static struct session *session_new(struct adm_req *r, const char *who)
{
    struct session *s = NULL;
    int64_t now = fl_now_us();
    for (int i = 0; i < CONSOLE_SESSIONS && !s; i++)
        if (!g_sess[i].id[0] || now >= g_sess[i].expires_us) s = &g_sess[i];
    if (!s) {   /* full: the oldest goes */
        s = &g_sess[0];
        for (int i = 1; i < CONSOLE_SESSIONS; i++)
            if (g_sess[i].born_us < s->born_us) s = &g_sess[i];
    }
    memset(s, 0, sizeof(*s));
    random_hex(s->id);
    random_hex(s->csrf);
    snprintf(s->who, sizeof(s->who), "%s", who);
    s->tokhash = fnv(r->s->g.admin_token);
    s->born_us = now;
    s->expires_us = now + (int64_t)CONSOLE_SESSION_S * 1000000;
    return s;
}

/* A state change from the page itself: its own Origin, and no other site's fetch. */
static int same_origin_change(struct adm_req *r)
{
    const char *site = hdr(r, "Sec-Fetch-Site");
    if (!origin_is_own(r))
        return refuse(r, "forbidden by console_origin: a console request that changes something must carry "
                         "this admin API's own Origin");
    if (site && strcasecmp(site, "same-origin"))
        return refuse(r, "forbidden by sec_fetch_site: a console request that changes something must be same-origin");
    return 0;
}

static void login(struct adm_req *r)
{
    if (r->method == EVHTTP_REQ_GET) {   /* the page asks whether to show the token form */
        adm_json(r, 200, json_pack("{s:b}", "token_required", r->s->g.admin_token[0] != 0));
        return;
    }
    if (r->method != EVHTTP_REQ_POST) { adm_method_not_allowed(r, "GET, POST"); return; }
    if (same_origin_change(r) < 0) return;
    const char *ct = hdr(r, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16)) {
        adm_error(r, 415, "POST /console/login takes a JSON body {\"token\": \"...\"} (Content-Type: application/json)");
        return;
    }
    json_t *j = adm_body_json(r);
    if (!j) return;
    json_t *t = json_object_get(j, "token");
    const char *tok = json_is_string(t) ? json_string_value(t) : "";
    const char *want = r->s->g.admin_token;
    int ok = !*want || same(tok, want);
    json_decref(j);
    const char *name = r->s->g.pol.token_name[0] ? r->s->g.pol.token_name : "admin";
    snprintf(r->who, sizeof(r->who), "%s", ok ? (*want ? name : "loopback") : "?");
    r->console = 1;
    if (!ok) {
        adm_error(r, 401, "wrong token: the console needs the admin API's token");
        return;
    }
    struct session *s = session_new(r, r->who);
    char cname[32], cookie[200];
    cookie_name(r, cname, sizeof(cname));
    snprintf(cookie, sizeof(cookie), "%s=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%d", cname, s->id,
             CONSOLE_SESSION_S);
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(h, "Set-Cookie", cookie);
    evhttp_add_header(h, "Cache-Control", "no-store");
    adm_json(r, 200, json_pack("{s:s, s:s, s:i, s:b}", "csrf", s->csrf, "who", s->who, "expires_in_s",
                               CONSOLE_SESSION_S, "token_required", *want != 0));
}

static void logout(struct adm_req *r)
{
    if (r->method != EVHTTP_REQ_POST) { adm_method_not_allowed(r, "POST"); return; }
    if (console_session(r) <= 0) {
        if (!r->replied) adm_error(r, 403, "forbidden by console_session: no console session to end");
        return;
    }
    struct session *s = session_of(r);
    if (s) memset(s, 0, sizeof(*s));
    char cname[32], cookie[120];
    cookie_name(r, cname, sizeof(cname));
    snprintf(cookie, sizeof(cookie), "%s=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0", cname);
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Set-Cookie", cookie);
    adm_empty(r, 204);
}

void console_claim(struct adm_req *r)
{
    r->browser_ok = (r->nseg >= 1 && !strcmp(r->seg[0], "console")) || hdr(r, "X-Faultline-CSRF") != NULL;
}

int console_route(struct adm_req *r)
{
    if (r->nseg < 1 || strcmp(r->seg[0], "console") || r->nseg > 2) return 0;
    if (r->nseg == 2 && !strcmp(r->seg[1], "login")) { login(r); return 1; }
    if (r->nseg == 2 && !strcmp(r->seg[1], "logout")) { logout(r); return 1; }
    if (r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_HEAD) { adm_method_not_allowed(r, "GET"); return 1; }
    serve_asset(r, r->nseg == 1 ? "index.html" : r->seg[1]);
    return 1;
}

int console_session(struct adm_req *r)
{
    const char *csrf = hdr(r, "X-Faultline-CSRF");
    if (!csrf) return 0;
    struct session *s = session_of(r);
    if (!s)
        return refuse(r, "forbidden by console_session: no live console session for this request (log in again "
                         "at /console)");
    if (!same(csrf, s->csrf)) return refuse(r, "forbidden by csrf: X-Faultline-CSRF does not match the session");
    if (r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_HEAD && same_origin_change(r) < 0) return -1;
    r->console = 1;
    snprintf(r->who, sizeof(r->who), "%s", s->who);
    return 1;
}

/* ---- /verdicts ---- */

int adm_verdicts_route(struct adm_req *r)
{
    if (r->nseg != 1 || strcmp(r->seg[0], "verdicts")) return 0;
    if (r->method == EVHTTP_REQ_GET || r->method == EVHTTP_REQ_HEAD) {
        if (!g_verdicts) { adm_error(r, 404, "no verdicts: no run has posted its verdicts to this daemon"); return 1; }
        adm_json(r, 200, json_loads(g_verdicts, 0, NULL));
    } else if (r->method == EVHTTP_REQ_POST) {
        json_t *j = adm_body_json(r);
        if (!j) return 1;
        if (!json_is_object(j) || !json_is_array(json_object_get(j, "verdicts"))) {
            json_decref(j);
            adm_error(r, 400, "bad request body: expected {\"run\": \"...\", \"verdicts\": [...]}");
            return 1;
        }
        free(g_verdicts);
        g_verdicts = json_dumps(j, JSON_COMPACT);
        int n = (int)json_array_size(json_object_get(j, "verdicts"));
        json_decref(j);
        adm_json(r, 200, json_pack("{s:i}", "verdicts", n));
    } else if (r->method == EVHTTP_REQ_DELETE) {
        free(g_verdicts);
        g_verdicts = NULL;
        adm_empty(r, 204);
    } else {
        adm_method_not_allowed(r, "GET, POST, DELETE");
    }
    return 1;
}
