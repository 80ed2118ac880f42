/* http_plan.c -- which fault a request gets, and the waits it causes.
 *
 * When a request head is complete the engine walks the proxy's faults in profile order and
 * takes the first that acts per request (a type with `.http`, faults/http_fault.h), is active,
 * matches (match_method, match_path, match_host, match_header) and whose probability roll says
 * yes: its type plans what to do (struct http_fault_plan) and the engine does it. A hang marks
 * the request (and the connection's call) held; a latency arms the request's or the response's
 * timer, whose callbacks here let the request go on; a fault that ends lets go of the requests
 * it holds according to its on_end (http_fault_ended, the protocol's fault_ended).
 */
#include "proxy/protocols/http.h"
#include "proxy/protocols/http_int.h"
#include "proxy/proxy.h"
#include "common/parse.h"
#include "faults/scope.h"
#include "record/record.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Every type with per-request ops acts per request here (faults/http_fault.h): no tcp stage. */
int http_fault_inside(const struct fault *f) { return f->type->http != NULL; }

void http_hang_mark(struct http_conn *hc, struct http_req *r)
{
    struct conn *c = hc->c;
    r->held = 1;
    if (!c->t_hang) {
        c->t_hang = fl_now_us();
        c->hang_fault = r->f;
        snprintf(c->fault_name, sizeof(c->fault_name), "%s", r->fault_name);
    }
}

static void http_hang_unmark(struct http_conn *hc, struct http_req *r)
{
    r->held = 0;
    for (struct http_req *o = hc->q; o; o = o->next)
        if (o->held) return;
    hc->c->t_hang = 0;
    hc->c->hang_fault = NULL;
}

static int fault_matches(struct http_conn *hc, const struct fault *f, const struct http_req *r)
{
    if (f->match_method && strcasecmp(f->match_method, r->method) != 0 && !glob_match(f->match_method, r->method))
        return 0;
    if (f->match_path && !glob_match(f->match_path, r->path ? r->path : "")) return 0;
    if (f->match_host) {
        const char *h = r->host ? r->host : "";
        if (!glob_match(f->match_host, h)) {
            /* also without the port */
            char nop[512];
            snprintf(nop, sizeof(nop), "%s", h);
            char *colon = strrchr(nop, ':');
            if (colon && !strchr(nop, ']')) *colon = 0;
            else if (colon && colon > strchr(nop, ']')) *colon = 0;
            if (strcasecmp(f->match_host, nop) != 0 && !glob_match(f->match_host, nop)) return 0;
        }
    }
    if (f->match_header_name) {
        char v[8192];
        int found = 0;
        for (int i = 0; i < hc->nhdr && !found; i++) {
            struct hdr *h = &hc->hdr[i];
            size_t nl = strlen(f->match_header_name);
            if (h->n_len != nl || strncasecmp(hc->hb + h->n_off, f->match_header_name, nl) != 0) continue;
            size_t vl = h->v_len < sizeof(v) - 1 ? h->v_len : sizeof(v) - 1;
            memcpy(v, hc->hb + h->v_off, vl);
            v[vl] = 0;
            if (glob_match(f->match_header_value, v)) found = 1;
        }
        if (!found) return 0;
    }
    return 1;
}

void http_choose_fault(struct http_conn *hc, struct http_req *r)
{
    struct conn *c = hc->c;
    struct fl_proxy *px = c->px;
    for (int i = 0; i < px->nfaults; i++) {
        struct fault *f = px->faults[i];
        if (!f->type->http || !f->type->http->plan || !fault_is_active(f)) continue;
        if (!fault_matches(hc, f, r) || !scope_admits(f, (const struct sockaddr *)&c->peer_sa)) continue;
        f->c.conns_seen++;
        int sel = f->probability >= 1.0 || (f->probability > 0 && fl_rand01() < f->probability);
        if (!sel || !scope_take(f)) continue;
        r->scoped = f->max_active != 0;
        f->c.conns_affected++;
        f->c.requests_affected++;
        r->f = f;
        snprintf(r->fault_name, sizeof(r->fault_name), "%s", f->name);
        memset(&r->pl, 0, sizeof(r->pl));
        f->type->http->plan(f, &r->pl);
        conn_fault_applied(c, f);
        return;
    }
}

/* ---- header_control: x-faultline-delay / x-faultline-abort per request ---- */

#define CTL_PREFIX "x-faultline-"

/* Drops every x-faultline-* header line (and its obs-fold continuations) from the raw head. */
static void strip_control_headers(struct evbuffer *head)
{
    size_t len = evbuffer_get_length(head);
    const char *p = (const char *)evbuffer_pullup(head, -1), *end = p + len;
    const char *nl = memchr(p, '\n', len);
    if (!nl) return;
    struct evbuffer *nb = NULL;
    const char *keep_from = p, *line = nl + 1;
    int dropping = 0;
    while (line < end) {
        const char *e = memchr(line, '\n', (size_t)(end - line));
        e = e ? e + 1 : end;
        int blank = (e - line == 1) || (e - line == 2 && line[0] == '\r');
        int cont = !blank && (line[0] == ' ' || line[0] == '\t');
        int drop = !blank && (cont ? dropping
                                   : (size_t)(e - line) > strlen(CTL_PREFIX) && !strncasecmp(line, CTL_PREFIX, strlen(CTL_PREFIX)));
        dropping = drop;
        if (drop) {
            if (!nb && !(nb = evbuffer_new())) abort();
            evbuffer_add(nb, keep_from, (size_t)(line - keep_from));
            keep_from = e;
        }
        if (blank) break;
        line = e;
    }
    if (!nb) return;
    evbuffer_add(nb, keep_from, (size_t)(end - keep_from));
    evbuffer_drain(head, len);
    evbuffer_add_buffer(head, nb);
    evbuffer_free(nb);
}

/* The value of the first captured header called name (case-insensitive), or NULL. */
static const char *ctl_header(struct http_conn *hc, const char *name, char *buf, size_t blen)
{
    size_t nl = strlen(name);
    for (int i = 0; i < hc->nhdr; i++) {
        struct hdr *h = &hc->hdr[i];
        if (h->n_len != nl || strncasecmp(hc->hb + h->n_off, name, nl)) continue;
        size_t vl = h->v_len < blen - 1 ? h->v_len : blen - 1;
        memcpy(buf, hc->hb + h->v_off, vl);
        buf[vl] = 0;
        return buf;
    }
    return NULL;
}

int http_header_control(struct http_conn *hc, struct http_req *r)
{
    struct conn *c = hc->c;
    struct fl_proxy *px = c->px;
    strip_control_headers(hc->rq_head);   /* never seen by the upstream, whoever sent them */
    char dv[64], av[64], e[200];
    const char *d = ctl_header(hc, CTL_PREFIX "delay", dv, sizeof(dv)), *a = ctl_header(hc, CTL_PREFIX "abort", av, sizeof(av));
    if (!d && !a) return 0;
    if (!cidr_match(&px->spec.hdrctl.clients, (const struct sockaddr *)&c->peer_sa)) {
        log_debug("header_control_ignored", "proxy=%s peer=%s reason=%s", log_q(px->spec.name), conn_peer(c),
                  "not in header_control_clients");
        return 0;
    }
    int64_t delay = 0, status = 0;
    if (d) {
        /* a duration with its unit, or a bare number of milliseconds (as Envoy's x-envoy-fault-delay-request) */
        if (parse_duration(d, &delay, e, sizeof(e)) == 0) (void)0;
        else if (parse_int(d, 0, INT64_MAX / 1000, &delay, e, sizeof(e)) == 0) delay *= 1000;
        else delay = -1;
        if (delay > px->spec.hdrctl.max_delay_us) delay = px->spec.hdrctl.max_delay_us;
    }
    if (a && parse_int(a, 200, 599, &status, e, sizeof(e)) < 0) status = -1;
    if (delay < 0 || status < 0) {
        log_warn("header_control_bad", "proxy=%s delay=%s abort=%s", log_q(px->spec.name), log_q(d ? d : ""), log_q(a ? a : ""));
        return 0;   /* a value it cannot read: the request passes unfaulted */
    }
    memset(&r->pl, 0, sizeof(r->pl));
    r->ctl_abort = (int)status;
    if (delay > 0) {
        r->pl.act = HACT_LATENCY;
        r->pl.delay_us = delay;
    } else if (status) {
        r->pl.act = HACT_ERROR;
        r->pl.status = (int)status;
    } else {
        return 0;
    }
    snprintf(r->fault_name, sizeof(r->fault_name), "header_control");
    if (!c->fault_name[0]) snprintf(c->fault_name, sizeof(c->fault_name), "header_control");
    if (rec_active) rec_fault_applied(proxy_rec(px));
    log_debug("header_control", "proxy=%s peer=%s delay_ms=%lld abort=%d", log_q(px->spec.name), conn_peer(c),
              (long long)(delay / 1000), (int)status);
    return 1;
}

/* A response was passed whole: faults with after_response (close_after) may end the connection
 * now, between requests. Their probability is rolled once per response they would close on. */
void http_close_after(struct http_conn *hc)
{
    struct conn *c = hc->c;
    hc->responses++;
    for (int i = 0; i < c->px->nfaults && !c->closing; i++) {
        struct fault *f = c->px->faults[i];
        if (!f->type->http || !f->type->http->after_response || !fault_is_active(f)) continue;
        int how = f->type->http->after_response(f, hc->responses, fl_now_us() - c->t_open, c->p[1].bytes);
        if (!how || (f->probability < 1.0 && !(fl_rand01() < f->probability))) continue;
        f->c.conns_affected++;
        if (how == CLOSE_RST) f->c.resets++;
        else f->c.closes++;
        conn_fault_applied(c, f);
        conn_close(c, CLOSER_FAULT, (enum close_how)how);
    }
}

void http_fault_ended(struct fault *f)
{
    struct fl_proxy *px = f->px;
    if (!px || px->spec.protocol->fault_ended != http_fault_ended) return;   /* (mode = http or forward) */
    for (struct conn *c = px->conns, *next; c; c = next) {
        c->busy++;
        struct http_conn *hc = c->proto;
        int reset = 0, kick = 0;
        for (struct http_req *r = hc ? hc->q : NULL; r && !c->closing; r = r->next) {
            if (r->f != f) continue;
            if (r->held) {
                switch (r->pl.on_end) {
                case HANG_RELEASE:
                    http_hang_unmark(hc, r);
                    if (r->pending_head) {
                        hc->rq_wait = RQW_NONE;
                        http_forward_pending(hc, r);
                    }
                    kick = 1;
                    break;
                case HANG_RESET:
                    reset = 1;
                    break;
                case HANG_KEEP:
                default:
                    r->held_at_end = 1;   /* stays held: a dependency that really died */
                    break;
                }
            }
            if (r->scoped) scope_leave(f);
            r->scoped = 0;
            r->f = NULL;
        }
        if (c->hang_fault == f && !c->t_hang) c->hang_fault = NULL;
        if (reset && !c->closing) {
            f->c.resets++;
            conn_close(c, CLOSER_FAULT, CLOSE_RST);
        } else if (kick && !c->closing) {
            http_run(hc);
            pipe_after_io(&c->p[0]);
            pipe_after_io(&c->p[1]);
        }
        next = c->next;
        if (--c->busy == 0 && c->dead) conn_free(c);
    }
}

/* Sends the head a latency or a hang kept back (r->pending_head), once its wait is over. */
void http_forward_pending(struct http_conn *hc, struct http_req *r)
{
    struct evbuffer *h = r->pending_head;
    r->pending_head = NULL;
    if (r->ctl_abort) {   /* header_control: the abort comes after the delay (as Envoy's) */
        evbuffer_free(h);
        http_answer_locally(hc, r, r->ctl_abort, NULL, NULL, 0, 0);
        return;
    }
    http_forward_request(hc, r, h);
    evbuffer_free(h);
}

void http_rq_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *hc = arg;
    struct conn *c = hc->c;
    c->busy++;
    if (!c->closing && hc->rq_wait == RQW_LATENCY) {
        hc->rq_wait = RQW_NONE;
        struct http_req *r = NULL;
        for (struct http_req *o = hc->q; o; o = o->next)
            if (o->pending_head && !o->held) r = o;
        if (r) http_forward_pending(hc, r);
        http_run(hc);
        pipe_after_io(&c->p[0]);
        pipe_after_io(&c->p[1]);
    }
    if (--c->busy == 0 && c->dead) conn_free(c);
}

void http_rs_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *hc = arg;
    struct conn *c = hc->c;
    c->busy++;
    if (!c->closing) {
        if (hc->rs_wait == RSW_LATENCY) {
            hc->rs_wait = RSW_NONE;
            struct http_req *t = http_rs_find_target(hc);
            if (t) http_response_head_release(hc, t);
        } else if (hc->rs_wait == RSW_SLOW) {
            hc->rs_wait = RSW_NONE;
        }
        if (!c->closing) http_run(hc);
        pipe_after_io(&c->p[0]);
        pipe_after_io(&c->p[1]);
    }
    if (--c->busy == 0 && c->dead) conn_free(c);
}
