/* dns_answer.c -- one DNS query, from arrival to answer: the fault that decides it, the
 * records, forwarding, the record of it.
 *
 * For every query: read it (dns_wire.c; a malformed one is counted, and answered FORMERR when
 * it has a header to answer), then the first active DNS fault of the proxy whose matchers match
 * and whose probability roll says yes decides: an error rcode, no answer, TC over UDP, a delay
 * (then the query goes on as below), or a flipped address. Then the answer: a name with records
 * is answered from them (following CNAMEs within the records, at most 8), with AA; a name
 * without records is forwarded to the upstream when there is one (its answer is passed on as
 * it came, with the client's id; a truncated one is asked for again over TCP; over UDP what
 * fits the client's EDNS payload size, else TC; SERVFAIL after upstream_timeout), else answered with the
 * proxy's fallback rcode. Each query is one `kind=request` event in the record
 * (docs/metrics.md) and one debug log line.
 *
 * What it does not do: cache, recurse, or look into a forwarded answer (a dns_flip acts on
 * names with records only).
 */
#include "proxy/protocols/dns_int.h"
#include "faults/dns_fault.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/parse.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNS_MAX_RR 16
#define DNS_CNAME_DEPTH 8

static void pending_unlink(struct dns_q *w)
{
    struct dns_srv *s = w->s;
    if (w->prev) w->prev->next = w->next;
    else s->pending = w->next;
    if (w->next) w->next->prev = w->prev;
    s->npending--;
    if (w->timer) event_free(w->timer);
    if (w->fwd_tcp) bufferevent_free(w->fwd_tcp);
    free(w);
}

/* ---- the record ---- */

static void record_query(struct dns_srv *s, const struct dns_q *w, int rcode, const char *end, const char *answer,
                         int forwarded)
{
    char tb[16];
    int64_t now = fl_now_us();
    log_debug("dns_query", "proxy=%s id=%llu transport=%s name=%s type=%s rcode=%s fault=%s end=%s ms=%.1f",
              log_q(s->px->spec.name), (unsigned long long)w->seq, w->tcp ? "tcp" : "udp", log_q(w->q.name),
              dns_type_name(w->q.qtype, tb), rcode >= 0 ? dns_rcode_name(rcode) : "-", log_q(w->fault), end,
              (double)(now - w->t_req) / 1000.0);
    if (!rec_active) return;
    struct rec_query rq = {
        .id = w->seq,
        .peer = (const struct sockaddr *)&w->peer,
        .transport = w->tcp ? "tcp" : "udp",
        .name = w->q.name,
        .qtype = dns_type_name(w->q.qtype, tb),
        .rcode = rcode >= 0 ? dns_rcode_name(rcode) : NULL,
        .answer = answer,
        .fault = w->fault,
        .end = end,
        .forwarded = forwarded,
        .t_req = w->t_req,
        .t_done = now,
        .error = rcode < 0 || rcode == DNS_RC_SERVFAIL,
    };
    rec_query(proxy_rec(s->px), &rq);
}

/* ---- answering ---- */

/* The addresses of an answer as text, for the record ("127.0.0.1,::1", a CNAME's target as
 * "cname:NAME"). */
static void answer_text(const struct dns_rr *rr, int n, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < n && o + 1 < cap; i++) {
        char a[INET6_ADDRSTRLEN + 8] = "";
        if (rr[i].type == DNS_T_A) inet_ntop(AF_INET, rr[i].data, a, sizeof(a));
        else if (rr[i].type == DNS_T_AAAA) inet_ntop(AF_INET6, rr[i].data, a, sizeof(a));
        o += (size_t)snprintf(out + o, cap - o, "%s%s%s", o ? "," : "", rr[i].type == DNS_T_CNAME ? "cname:" : "",
                              rr[i].type == DNS_T_CNAME ? rr[i].target : a);
    }
}

/* Writes, sends, counts and records the answer to w. */
static void finish(struct dns_srv *s, struct dns_q *w, int rcode, int aa, int tc, const struct dns_rr *rr, int nrr)
{
    uint8_t msg[DNS_ANSWER_MAX];
    size_t len = dns_write_answer(msg, w->tcp ? sizeof(msg) : DNS_UDP_MAX, &w->q, rcode, aa, tc, rr, nrr);
    dns_send(s, w->tcp, w->tc, (const struct sockaddr *)&w->peer, w->peerlen, msg, len);
    s->st.answered++;
    s->px->st.responses++;
    if (rcode >= 0 && rcode < 6) s->st.rcode[rcode]++;
    if (msg[2] & (DNS_F_TC >> 8)) s->st.truncated++;
    char text[300];
    answer_text(rr, (msg[2] & (DNS_F_TC >> 8)) ? 0 : nrr, text, sizeof(text));
    record_query(s, w, rcode, "done", text, 0);
}

static int has_records(const struct dns_srv *s, const char *name)
{
    for (int i = 0; i < s->nrecs; i++)
        if (!strcmp(s->recs[i].name, name)) return 1;
    return 0;
}

/* The records answering name/qtype into rr (CNAMEs followed within the records; a dns_flip's
 * address in place of the final name's A or AAAA records). Returns how many; *known: the name
 * has records at all. */
static int lookup(const struct dns_srv *s, const struct dns_q *w, struct dns_rr *rr, int *known)
{
    const char *cur = w->q.name;
    uint16_t qt = w->q.qtype;
    int n = 0;
    *known = has_records(s, cur);
    for (int depth = 0; depth < DNS_CNAME_DEPTH && *known; depth++) {
        const struct dns_rec *cname = NULL;
        for (int i = 0; i < s->nrecs; i++)
            if (!strcmp(s->recs[i].name, cur) && s->recs[i].type == DNS_T_CNAME) cname = &s->recs[i];
        if (cname && qt != DNS_T_CNAME) {
            if (n < DNS_MAX_RR) rr[n++] = (struct dns_rr){.owner = cname->name, .type = DNS_T_CNAME, .ttl = cname->ttl,
                                                          .target = cname->target};
            cur = cname->target;
            continue;
        }
        int flipped = 0;
        for (int i = 0; i < s->nrecs && n < DNS_MAX_RR; i++) {
            const struct dns_rec *r = &s->recs[i];
            if (strcmp(r->name, cur) != 0 || (r->type != qt && qt != 255)) continue;
            int fa = w->flip && r->type == DNS_T_A && w->flip_has_a;
            int f6 = w->flip && r->type == DNS_T_AAAA && w->flip_has_aaaa;
            if ((fa || f6) && (flipped & (fa ? 1 : 2))) continue;     /* one flipped address per family */
            if (fa || f6) flipped |= fa ? 1 : 2;
            rr[n++] = (struct dns_rr){.owner = r->name, .type = r->type, .ttl = r->ttl,
                                      .data = fa ? w->flip_a : f6 ? w->flip_aaaa : r->addr,
                                      .len = r->type == DNS_T_A ? 4 : 16, .target = r->target};
        }
        break;
    }
    return n;
}

static void fwd_timeout_cb(evutil_socket_t fd, short what, void *arg);

/* w is kept (on the heap, in s->pending) while it waits; a w on the stack is copied. NULL when
 * too many wait already (then w was answered SERVFAIL). */
static struct dns_q *keep(struct dns_srv *s, struct dns_q *w, int heap)
{
    if (heap) return w;
    if (s->npending >= DNS_MAX_PENDING) {
        s->st.overload++;
        finish(s, w, DNS_RC_SERVFAIL, 0, 0, NULL, 0);
        return NULL;
    }
    struct dns_q *k = fl_calloc(1, sizeof(*k));
    *k = *w;
    k->s = s;
    k->prev = NULL;
    k->next = s->pending;
    if (s->pending) s->pending->prev = k;
    s->pending = k;
    s->npending++;
    return k;
}

static void forward(struct dns_srv *s, struct dns_q *w, int heap)
{
    if (w->rawlen > sizeof(w->raw)) { finish(s, w, DNS_RC_SERVFAIL, 0, 0, NULL, 0); if (heap) pending_unlink(w); return; }
    if (!(w = keep(s, w, heap))) return;
    uint16_t id;
    for (;;) {                                          /* an id no other forwarded query holds */
        id = (uint16_t)(fl_rand01() * 65536.0);
        struct dns_q *o = s->pending;
        while (o && !(o != w && o->wait == QW_FORWARD && o->fwd_id == id)) o = o->next;
        if (!o) break;
    }
    w->wait = QW_FORWARD;
    w->fwd_id = id;
    w->raw[0] = (uint8_t)(id >> 8);
    w->raw[1] = (uint8_t)id;
    (void)send(s->fwd, w->raw, w->rawlen, MSG_DONTWAIT);
    s->st.forwarded++;
    if (w->timer) event_free(w->timer);                 /* (a delayed query's spent timer) */
    w->timer = evtimer_new(s->px->srv->base, fwd_timeout_cb, w);
    struct timeval tv = {(time_t)(s->fwd_timeout_us / 1000000), (suseconds_t)(s->fwd_timeout_us % 1000000)};
    evtimer_add(w->timer, &tv);
}

/* The answer from records, forwarding, or the fallback. heap: w is a kept query (freed here
 * once answered). */
static void resolve(struct dns_srv *s, struct dns_q *w, int heap)
{
    struct dns_rr rr[DNS_MAX_RR];
    int known = 0, n = 0;
    if (w->q.qclass == 1 || w->q.qclass == 255) n = lookup(s, w, rr, &known);   /* IN or ANY */
    if (known) {
        if (w->flip) s->st.flipped++;
        finish(s, w, 0, 1, 0, rr, n);
    } else if (s->fwd >= 0) {
        forward(s, w, heap);
        return;
    } else {
        finish(s, w, s->fallback, 0, 0, NULL, 0);
    }
    if (heap) pending_unlink(w);
}

static void delay_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dns_q *w = arg;
    resolve(w->s, w, 1);
}

static void fwd_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dns_q *w = arg;
    struct dns_srv *s = w->s;
    s->st.upstream_timeouts++;
    log_debug("dns_upstream_timeout", "proxy=%s name=%s", log_q(s->px->spec.name), log_q(w->q.name));
    finish(s, w, DNS_RC_SERVFAIL, 0, 0, NULL, 0);
    pending_unlink(w);
}

/* ---- forwarded answers ---- */

/* The upstream's answer to w (len bytes in buf) goes to the client with the client's id: whole
 * over TCP; over UDP whole when it fits what the client's EDNS(0) OPT advertised (512 bytes
 * without one), else cut to its header with TC so that the client asks again over TCP. */
static void fwd_deliver(struct dns_srv *s, struct dns_q *w, uint8_t *buf, size_t len)
{
    buf[0] = (uint8_t)(w->q.id >> 8);
    buf[1] = (uint8_t)w->q.id;
    if (!w->tcp && len > w->udp_max) {
        len = DNS_HDR;
        buf[2] |= DNS_F_TC >> 8;
        memset(buf + 4, 0, 8);
    }
    dns_send(s, w->tcp, w->tc, (const struct sockaddr *)&w->peer, w->peerlen, buf, len);
    int rcode = buf[3] & 0xf;
    s->st.answered++;
    s->px->st.responses++;
    if (rcode < 6) s->st.rcode[rcode]++;
    record_query(s, w, rcode, "done", "", 1);
    pending_unlink(w);
}

/* The retry over TCP failed (refused, closed, not its answer): SERVFAIL, as a timeout. */
static void fwd_tcp_fail(struct dns_q *w, const char *why)
{
    struct dns_srv *s = w->s;
    log_debug("dns_upstream_tcp_failed", "proxy=%s name=%s error=%s", log_q(s->px->spec.name), log_q(w->q.name), why);
    finish(s, w, DNS_RC_SERVFAIL, 0, 0, NULL, 0);
    pending_unlink(w);
}

static void fwd_tcp_read_cb(struct bufferevent *bev, void *arg)
{
    struct dns_q *w = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    uint8_t lp[2], buf[DNS_TCP_MAX_MSG];
    if (evbuffer_copyout(in, lp, 2) < 2) return;
    size_t len = (size_t)(lp[0] << 8 | lp[1]);
    if (len < DNS_HDR || len > sizeof(buf)) { fwd_tcp_fail(w, "bad length"); return; }
    if (evbuffer_get_length(in) < 2 + len) return;
    evbuffer_drain(in, 2);
    evbuffer_remove(in, buf, len);
    if (!(buf[2] & 0x80) || (uint16_t)(buf[0] << 8 | buf[1]) != w->fwd_id) { fwd_tcp_fail(w, "not its answer"); return; }
    fwd_deliver(w->s, w, buf, len);
}

static void fwd_tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
    if (what & BEV_EVENT_CONNECTED) return;
    fwd_tcp_fail(arg, (what & BEV_EVENT_EOF) ? "closed" : "error");
}

/* The upstream answered w over UDP with TC: w is asked once more, over TCP (RFC 7766), on a
 * connection of its own to the same upstream, within a new upstream_timeout. */
static void fwd_tcp(struct dns_srv *s, struct dns_q *w)
{
    const struct proxy_spec *sp = &s->px->spec;
    w->wait = QW_FORWARD_TCP;
    w->fwd_tcp = bufferevent_socket_new(s->px->srv->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!w->fwd_tcp) { fwd_tcp_fail(w, "no socket"); return; }
    s->st.forwarded_tcp++;
    bufferevent_setcb(w->fwd_tcp, fwd_tcp_read_cb, NULL, fwd_tcp_event_cb, w);
    bufferevent_enable(w->fwd_tcp, EV_READ);
    uint8_t lp[2] = {(uint8_t)(w->rawlen >> 8), (uint8_t)w->rawlen};
    bufferevent_write(w->fwd_tcp, lp, 2);
    bufferevent_write(w->fwd_tcp, w->raw, w->rawlen);   /* (its id is the forwarded one) */
    struct timeval tv = {(time_t)(s->fwd_timeout_us / 1000000), (suseconds_t)(s->fwd_timeout_us % 1000000)};
    evtimer_add(w->timer, &tv);
    if (bufferevent_socket_connect(w->fwd_tcp, (const struct sockaddr *)&sp->upstream.ss, (int)sp->upstream.sslen) < 0)
        fwd_tcp_fail(w, "connect");
}

void dns_fwd_readable(struct dns_srv *s)
{
    uint8_t buf[4096];
    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(s->fwd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) return;
        if (n < DNS_HDR || !(buf[2] & 0x80)) continue;     /* not an answer */
        uint16_t id = (uint16_t)((buf[0] << 8) | buf[1]);
        struct dns_q *w = s->pending;
        while (w && !(w->wait == QW_FORWARD && w->fwd_id == id)) w = w->next;
        if (!w) continue;                                  /* late (timed out) or unknown */
        if (buf[2] & (DNS_F_TC >> 8)) fwd_tcp(s, w);       /* truncated: once more over TCP */
        else fwd_deliver(s, w, buf, (size_t)n);
    }
}

/* The first DNS fault that acts on this query (counted), or NULL. */
static struct fault *pick_fault(struct dns_srv *s, const struct dns_q *w)
{
    struct fl_proxy *px = s->px;
    for (int i = 0; i < px->nfaults; i++) {
        struct fault *f = px->faults[i];
        if (!(f->type->flags & FT_DNS_ONLY) || !fault_is_active(f)) continue;
        const struct dns_fcfg *c = f->cfg;
        if (!dns_match_ok(c, w->q.name, w->q.qtype)) continue;
        if (c->act == DNSA_TRUNCATE && w->tcp) continue;        /* TC means nothing over TCP */
        if (c->act == DNSA_FLIP && !has_records(s, w->q.name)) continue;
        f->c.conns_seen++;
        if (c->act == DNSA_FLIP && f->c.conns_seen <= c->after) continue;   /* answered as before */
        if (!(f->probability >= 1.0 || (f->probability > 0 && fl_rand01() < f->probability))) continue;
        f->c.conns_affected++;
        f->c.requests_affected++;
        if (rec_active) rec_fault_applied(proxy_rec(px));
        return f;
    }
    return NULL;
}

/* A message that is no query we can answer normally: counted; FORMERR/NOTIMP when it has a
 * header to answer. */
static void malformed(struct dns_srv *s, struct dns_q *w, enum dns_parse pr)
{
    if (pr != DNSP_NOTIMP) s->st.malformed++;
    log_debug("dns_malformed", "proxy=%s transport=%s action=%s", log_q(s->px->spec.name), w->tcp ? "tcp" : "udp",
              pr == DNSP_DROP ? "drop" : "answer");
    if (pr == DNSP_DROP) return;
    w->q.qlen = 0;                                       /* the answer carries no question */
    w->q.name[0] = 0;
    finish(s, w, pr == DNSP_NOTIMP ? DNS_RC_NOTIMP : DNS_RC_FORMERR, 0, 0, NULL, 0);
}

void dns_handle(struct dns_srv *s, const uint8_t *msg, size_t len, int tcp, struct dns_tcp *tc,
                const struct sockaddr *peer, socklen_t peerlen)
{
    struct dns_q w;
    memset(&w, 0, sizeof(w));
    w.s = s;
    w.tcp = tcp;
    w.tc = tc;
    if (peerlen > 0 && (size_t)peerlen <= sizeof(w.peer)) { memcpy(&w.peer, peer, peerlen); w.peerlen = peerlen; }
    w.t_req = fl_now_us();
    w.seq = ++s->seq;
    s->st.queries++;
    s->px->st.requests++;
    enum dns_parse pr = dns_parse_query(msg, len, &w.q);
    if (pr != DNSP_OK) { malformed(s, &w, pr); return; }
    w.rawlen = len;
    if (len <= sizeof(w.raw)) memcpy(w.raw, msg, len);
    unsigned edns = dns_edns_udp_size(msg, len, &w.q);   /* what a forwarded answer may be over UDP */
    w.udp_max = (uint16_t)(edns > 4096 ? 4096 : edns > DNS_UDP_MAX ? edns : DNS_UDP_MAX);
    struct fault *f = pick_fault(s, &w);
    const struct dns_fcfg *c = f ? f->cfg : NULL;
    if (f) { snprintf(w.fault, sizeof(w.fault), "%s", f->name); s->st.faulted++; }
    switch (c ? c->act : DNSA_NONE) {
    case DNSA_ERROR: finish(s, &w, c->rcode, 0, 0, NULL, 0); return;
    case DNSA_TRUNCATE: finish(s, &w, 0, 1, 1, NULL, 0); return;
    case DNSA_DROP:
        s->st.dropped++;
        record_query(s, &w, -1, "dropped", "", 0);
        return;
    case DNSA_DELAY: {
        struct dns_q *k = keep(s, &w, 0);
        if (!k) return;
        s->st.delayed++;
        k->wait = QW_DELAY;
        k->timer = evtimer_new(s->px->srv->base, delay_cb, k);
        int64_t d = c->delay_us + (c->jitter_us ? fl_jitter_us(c->jitter_us) : 0);
        if (d < 0) d = 0;
        struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
        evtimer_add(k->timer, &tv);
        return;
    }
    case DNSA_FLIP:
        w.flip = 1;
        memcpy(w.flip_a, c->a, 4);
        memcpy(w.flip_aaaa, c->aaaa, 16);
        w.flip_has_a = c->has_a;
        w.flip_has_aaaa = c->has_aaaa;
        break;
    default: break;
    }
    resolve(s, &w, 0);
}

void dns_pending_free_all(struct dns_srv *s)
{
    while (s->pending) {
        struct dns_q *w = s->pending;
        record_query(s, w, -1, "inflight", "", w->wait == QW_FORWARD || w->wait == QW_FORWARD_TCP);
        pending_unlink(w);
    }
}

/* ---- what it knows ---- */

char *dns_stats_json(const struct fl_proxy *px)
{
    static const struct dns_stats zero;
    const struct dns_srv *s = px->serve;
    const struct dns_stats *t = s ? &s->st : &zero;
    char *out = fl_calloc(1, 2048);   /* 24 numbers of up to 20 digits and the names fit */
#define U(x) (unsigned long long)(x)
    snprintf(out, 2048,
             "{\"bound\":%s,\"records\":%d,\"queries\":%llu,\"udp\":%llu,\"tcp\":%llu,\"answered\":%llu,"
             "\"dropped\":%llu,\"malformed\":%llu,\"forwarded\":%llu,\"forwarded_tcp\":%llu,\"upstream_timeouts\":%llu,\"truncated\":%llu,"
             "\"faulted\":%llu,\"flipped\":%llu,\"delayed\":%llu,\"pending\":%d,\"overload\":%llu,\"tcp_conns\":%llu,"
             "\"tcp_open\":%d,\"tcp_rejected\":%llu,\"rcode\":{\"NOERROR\":%llu,\"FORMERR\":%llu,\"SERVFAIL\":%llu,"
             "\"NXDOMAIN\":%llu,\"NOTIMP\":%llu,\"REFUSED\":%llu}}",
             s ? "true" : "false", s ? s->nrecs : 0, U(t->queries), U(t->udp), U(t->tcp), U(t->answered),
             U(t->dropped), U(t->malformed), U(t->forwarded), U(t->forwarded_tcp), U(t->upstream_timeouts), U(t->truncated), U(t->faulted),
             U(t->flipped), U(t->delayed), s ? s->npending : 0, U(t->overload), U(t->tcp_conns), s ? s->ntcp : 0,
             U(t->tcp_rejected), U(t->rcode[0]), U(t->rcode[1]), U(t->rcode[2]), U(t->rcode[3]), U(t->rcode[4]),
             U(t->rcode[5]));
#undef U
    return out;
}

void dns_totals_facts(const struct fl_proxy *px, struct rec_kv *kv)
{
    const struct dns_srv *s = px->serve;
    if (!s) return;
    rec_kv_u64(kv, "dns_queries", s->st.queries);
    rec_kv_u64(kv, "dns_answered", s->st.answered);
    rec_kv_u64(kv, "dns_dropped", s->st.dropped);
    rec_kv_u64(kv, "dns_malformed", s->st.malformed);
    rec_kv_u64(kv, "dns_forwarded", s->st.forwarded);
    rec_kv_u64(kv, "dns_truncated", s->st.truncated);
    rec_kv_u64(kv, "dns_servfail", s->st.rcode[DNS_RC_SERVFAIL]);
    rec_kv_u64(kv, "dns_nxdomain", s->st.rcode[DNS_RC_NXDOMAIN]);
}
