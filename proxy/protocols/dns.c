/* dns.c -- mode = dns: a DNS server that fails on purpose.
 *
 * A `[proxy NAME]` with `mode = dns` is not a relay: faultline is the DNS server itself, on UDP
 * and TCP at `listen`. It answers the names given by `record` keys (A, AAAA, CNAME, with a TTL)
 * and, for any other name, forwards the query to `upstream` when one is given, or answers
 * `fallback` (NXDOMAIN, or REFUSED). Its faults (faults/dns_*.c, FT_DNS_ONLY) act per query:
 * an error rcode, a late answer, no answer, a truncated answer (TC: the client retries over
 * TCP), an address that changes mid-run. docs/dns.md is the user's page.
 *
 * This file: the [proxy] keys (spec_load, into the spec's proto_conf text, and back into records
 * at serve_open and reload), the sockets (one UDP socket, a TCP listener, the upstream's UDP
 * socket), TCP framing (RFC 1035 4.2.2: a two-byte length before each message) with bounded
 * buffers, and sending answers. dns_answer.c decides each answer; dns_wire.c reads and writes
 * the bytes.
 *
 * What it does not do: recursion (a forwarded query goes to the one upstream, over UDP, once,
 * and over TCP once more when that answer is truncated), DNSSEC, zone transfers, EDNS in its own
 * answers (they stay under 512 bytes over UDP; a forwarded OPT passes untouched), more than one
 * question.
 * The core binds nothing for these proxies and makes no connection pairs (struct protocol's
 * serve_open, proxy/protocol.h); tcp-level fault types are not accepted on them.
 */
#include "proxy/protocols/dns_int.h"
#include "faults/dns_fault.h"
#include "common/inidoc.h"
#include "common/log.h"
#include "common/mem.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- the keys: record, fallback, upstream_timeout ---- */

#define KEYERR(line, ...) inidoc_err(d, line, err, errlen, __VA_ARGS__)

/* `record = NAME TYPE VALUE [TTL]` into one canonical line "R name type ttl value". */
static int record_line(const char *v, char *out, size_t outlen, char *why, size_t whylen)
{
    char name[300], type[16], value[300], ttl[32] = "60", extra[8];
    int n = sscanf(v, "%299s %15s %299s %31s %7s", name, type, value, ttl, extra);
    if (n < 3 || n > 4) { snprintf(why, whylen, "'%s' is not 'NAME TYPE VALUE [TTL]'", v); return -1; }
    size_t nl = strlen(name);
    if (nl > 1 && name[nl - 1] == '.') name[--nl] = 0;
    for (char *p = name; *p; p++) *p = (char)tolower((unsigned char)*p);
    uint8_t wire[300];
    if (dns_name_encode(name, wire, sizeof(wire)) < 0 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != nl) {
        snprintf(why, whylen, "'%s' is not a host name (labels of 1..63 letters, digits, '-' or '_')", name);
        return -1;
    }
    char *end;
    long t = strtol(ttl, &end, 10);
    if (*end || t < 0 || t > 2147483647L) { snprintf(why, whylen, "TTL '%s' is not 0..2147483647 seconds", ttl); return -1; }
    uint8_t a[16];
    if (!strcasecmp(type, "A")) {
        if (inet_pton(AF_INET, value, a) != 1) { snprintf(why, whylen, "'%s' is not an IPv4 address", value); return -1; }
    } else if (!strcasecmp(type, "AAAA")) {
        if (inet_pton(AF_INET6, value, a) != 1) { snprintf(why, whylen, "'%s' is not an IPv6 address", value); return -1; }
    } else if (!strcasecmp(type, "CNAME")) {
        size_t vl = strlen(value);
        if (vl > 1 && value[vl - 1] == '.') value[--vl] = 0;
        for (char *p = value; *p; p++) *p = (char)tolower((unsigned char)*p);
        if (dns_name_encode(value, wire, sizeof(wire)) < 0) { snprintf(why, whylen, "'%s' is not a name", value); return -1; }
        if (!strcmp(value, name)) { snprintf(why, whylen, "a CNAME cannot point at itself"); return -1; }
    } else {
        snprintf(why, whylen, "type '%s' is not A, AAAA or CNAME", type);
        return -1;
    }
    for (char *p = type; *p; p++) *p = (char)toupper((unsigned char)*p);
    snprintf(out, outlen, "R %s %s %ld %s\n", name, type, t, value);
    return 0;
}

static int dns_spec_load(struct inidoc *d, struct inisec *s, struct proxy_spec *p, char *err, size_t errlen)
{
    char *conf = p->proto_conf;
    size_t o = 0, cap = sizeof(p->proto_conf);
    int line, fallback = DNS_RC_NXDOMAIN;
    int64_t tmo = 2000000;
    const char *v;
    char e[300];
    if ((v = inisec_get(s, "fallback", &line))) {
        if (!strcasecmp(v, "nxdomain")) fallback = DNS_RC_NXDOMAIN;
        else if (!strcasecmp(v, "refused")) fallback = DNS_RC_REFUSED;
        else return KEYERR(line, "fallback: '%s' is not nxdomain or refused", v);
    }
    if ((v = inisec_get(s, "upstream_timeout", &line))) {
        if (parse_duration(v, &tmo, e, sizeof(e)) < 0) return KEYERR(line, "upstream_timeout: %s", e);
        if (tmo < 1000 || tmo > 60000000) return KEYERR(line, "upstream_timeout: 1ms..60s");
    }
    static const char *const tls_keys[] = {"tls", "upstream_tls"};   /* DNS over TLS is not served */
    for (int i = 0; i < 2; i++)
        if ((v = inisec_get(s, tls_keys[i], &line)) && strcasecmp(v, "off") != 0 && strcasecmp(v, "no") != 0)
            return KEYERR(line, "%s: a dns proxy serves plain DNS over UDP and TCP (no TLS)", tls_keys[i]);
    e[0] = 0;
    if ((v = inisec_get(s, "upstream", &line))) {
        struct fl_addr a;
        if (parse_addr(v, 0, &a, e, sizeof(e)) < 0 || a.kind != ADDR_INET)
            return KEYERR(line, "upstream: a dns proxy forwards to an IP address and port ('%s': %s)", v,
                          e[0] ? e : "not an address");
    }
    /* the upstream is in the text too: a reload that changes only it reaches serve_reload */
    o += (size_t)snprintf(conf + o, cap - o, "F %d\nT %lld\nU %s\n", fallback, (long long)tmo, v ? v : "-");
    int nrec = 0;
    for (int i = 0; i < s->nkeys; i++) {
        if (strcmp(s->keys[i].key, "record") != 0) continue;
        s->keys[i].used = 1;
        char ln[700];
        if (record_line(s->keys[i].value, ln, sizeof(ln), e, sizeof(e)) < 0) return KEYERR(s->keys[i].line, "record: %s", e);
        if (o + strlen(ln) + 1 > cap)
            return KEYERR(s->keys[i].line, "record: too many records for one proxy (%d fit)", nrec);
        o += (size_t)snprintf(conf + o, cap - o, "%s", ln);
        nrec++;
    }
    return 0;
}

void dns_conf_apply(struct dns_srv *s)
{
    free(s->recs);
    s->recs = NULL;
    s->nrecs = 0;
    s->fallback = DNS_RC_NXDOMAIN;
    s->fwd_timeout_us = 2000000;
    char *text = fl_strdup(s->px->spec.proto_conf);
    for (char *save = NULL, *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        if (ln[0] == 'F') s->fallback = atoi(ln + 2);
        else if (ln[0] == 'T') s->fwd_timeout_us = atoll(ln + 2);
        else if (ln[0] == 'R') {
            char name[DNS_NAME_MAX], type[8], value[DNS_NAME_MAX];
            unsigned long ttl;
            if (sscanf(ln, "R %253s %7s %lu %253s", name, type, &ttl, value) != 4) continue;
            s->recs = fl_realloc(s->recs, sizeof(*s->recs) * (size_t)(s->nrecs + 1));
            struct dns_rec *r = &s->recs[s->nrecs++];
            memset(r, 0, sizeof(*r));
            snprintf(r->name, sizeof(r->name), "%s", name);
            r->ttl = (uint32_t)ttl;
            if (!strcmp(type, "A")) { r->type = DNS_T_A; inet_pton(AF_INET, value, r->addr); }
            else if (!strcmp(type, "AAAA")) { r->type = DNS_T_AAAA; inet_pton(AF_INET6, value, r->addr); }
            else { r->type = DNS_T_CNAME; snprintf(r->target, sizeof(r->target), "%s", value); }
        }
    }
    free(text);
}

/* ---- sending ---- */

void dns_send(struct dns_srv *s, int tcp, struct dns_tcp *tc, const struct sockaddr *peer, socklen_t peerlen,
              const uint8_t *msg, size_t len)
{
    if (!tcp) {
        /* a full socket buffer loses the answer, as a congested network would */
        if (s->udp >= 0) (void)sendto(s->udp, msg, len, MSG_DONTWAIT, peer, peerlen);
        return;
    }
    if (!tc) return;                                   /* the client left before its answer */
    uint8_t lp[2] = {(uint8_t)(len >> 8), (uint8_t)len};
    struct evbuffer *out = bufferevent_get_output(tc->bev);
    evbuffer_add(out, lp, 2);
    evbuffer_add(out, msg, len);
    if (evbuffer_get_length(out) > DNS_TCP_OUT_MAX) bufferevent_disable(tc->bev, EV_READ);
}

/* ---- UDP ---- */

static void udp_readable(evutil_socket_t fd, short what, void *arg)
{
    struct dns_srv *s = arg;
    uint8_t buf[4096];
    for (int i = 0; i < 64; i++) {                     /* a bounded batch per wakeup */
        struct sockaddr_storage peer;
        socklen_t pl = sizeof(peer);
        ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&peer, &pl);
        if (n < 0) return;
        s->st.udp++;
        dns_handle(s, buf, (size_t)n, 0, NULL, (struct sockaddr *)&peer, pl);
    }
}

static void fwd_readable_cb(evutil_socket_t fd, short what, void *arg) { dns_fwd_readable(arg); }

/* ---- TCP ---- */

static void tcp_close(struct dns_tcp *t)
{
    struct dns_srv *s = t->s;
    for (struct dns_q *q = s->pending; q; q = q->next)
        if (q->tc == t) q->tc = NULL;
    if (t->prev) t->prev->next = t->next;
    else s->tcps = t->next;
    if (t->next) t->next->prev = t->prev;
    s->ntcp--;
    bufferevent_free(t->bev);
    free(t);
}

static void tcp_read_cb(struct bufferevent *bev, void *arg)
{
    struct dns_tcp *t = arg;
    struct dns_srv *s = t->s;
    struct evbuffer *in = bufferevent_get_input(bev);
    uint8_t msg[DNS_TCP_MAX_MSG];
    while (evbuffer_get_length(in) >= 2) {
        uint8_t lp[2];
        evbuffer_copyout(in, lp, 2);
        size_t len = (size_t)((lp[0] << 8) | lp[1]);
        if (len < DNS_HDR || len > DNS_TCP_MAX_MSG) {   /* no DNS message: the stream is lost */
            s->st.malformed++;
            log_debug("dns_malformed", "proxy=%s transport=tcp length=%zu action=close", log_q(s->px->spec.name), len);
            tcp_close(t);
            return;
        }
        if (evbuffer_get_length(in) < 2 + len) return;  /* the rest is coming (bounded: watermark) */
        evbuffer_drain(in, 2);
        evbuffer_remove(in, msg, len);
        s->st.tcp++;
        dns_handle(s, msg, len, 1, t, (struct sockaddr *)&t->peer, t->peerlen);
        if (evbuffer_get_length(bufferevent_get_output(bev)) > DNS_TCP_OUT_MAX) return;   /* paused */
    }
}

static void tcp_write_cb(struct bufferevent *bev, void *arg)
{
    if (evbuffer_get_length(bufferevent_get_output(bev)) <= DNS_TCP_OUT_MAX / 2) {
        bufferevent_enable(bev, EV_READ);
        if (evbuffer_get_length(bufferevent_get_input(bev)) >= 2) tcp_read_cb(bev, arg);
    }
}

static void tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
    tcp_close(arg);                                    /* EOF, error or the idle timeout */
}

static void tcp_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    struct dns_srv *s = arg;
    if (s->ntcp >= DNS_TCP_MAX_CONNS) {
        s->st.tcp_rejected++;
        close(fd);
        return;
    }
    struct dns_tcp *t = fl_calloc(1, sizeof(*t));
    t->s = s;
    if (salen > 0 && (size_t)salen <= sizeof(t->peer)) { memcpy(&t->peer, sa, (size_t)salen); t->peerlen = (socklen_t)salen; }
    t->bev = bufferevent_socket_new(s->px->srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!t->bev) { close(fd); free(t); return; }
    bufferevent_setcb(t->bev, tcp_read_cb, tcp_write_cb, tcp_event_cb, t);
    bufferevent_setwatermark(t->bev, EV_READ, 0, 2 + DNS_TCP_MAX_MSG);   /* one message at most waits */
    struct timeval idle = {DNS_TCP_IDLE_S, 0};
    bufferevent_set_timeouts(t->bev, &idle, &idle);
    bufferevent_enable(t->bev, EV_READ | EV_WRITE);
    t->next = s->tcps;
    if (s->tcps) s->tcps->prev = t;
    s->tcps = t;
    s->ntcp++;
    s->st.tcp_conns++;
}

/* ---- the server's life ---- */

static evutil_socket_t udp_socket(const struct sockaddr *sa, socklen_t len, int bind_it, char *why, size_t whylen)
{
    /* no SO_REUSEADDR: on Linux it would let a second UDP socket bind the same port unnoticed */
    evutil_socket_t fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { snprintf(why, whylen, "%s", strerror(errno)); return -1; }
    if ((bind_it ? bind(fd, sa, len) : connect(fd, sa, len)) < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* The upstream's socket, (re)made from px->spec.upstream (none without an upstream). Queries
 * forwarded on an old socket get no answer from it: their timeout answers SERVFAIL. */
static int fwd_open(struct dns_srv *s, char *why, size_t whylen)
{
    struct fl_proxy *px = s->px;
    if (s->fwd_ev) event_free(s->fwd_ev);
    if (s->fwd >= 0) close(s->fwd);
    s->fwd_ev = NULL;
    s->fwd = -1;
    if (!px->spec.upstream_text[0]) return 0;
    s->fwd = udp_socket((const struct sockaddr *)&px->spec.upstream.ss, px->spec.upstream.sslen, 0, why, whylen);
    if (s->fwd < 0) return -1;
    s->fwd_ev = event_new(px->srv->base, s->fwd, EV_READ | EV_PERSIST, fwd_readable_cb, s);
    event_add(s->fwd_ev, NULL);
    return 0;
}

static void dns_serve_close(struct fl_proxy *px)
{
    struct dns_srv *s = px->serve;
    if (!s) return;
    dns_pending_free_all(s);
    while (s->tcps) tcp_close(s->tcps);
    if (s->tcp) evconnlistener_free(s->tcp);
    if (s->udp_ev) event_free(s->udp_ev);
    if (s->fwd_ev) event_free(s->fwd_ev);
    if (s->udp >= 0) close(s->udp);
    if (s->fwd >= 0) close(s->fwd);
    free(s->recs);
    free(s);
    px->serve = NULL;
}

static int dns_serve_open(struct fl_proxy *px, char *err, size_t errlen)
{
    const struct fl_addr *a = &px->spec.listen;
    if (a->kind != ADDR_INET) {
        snprintf(err, errlen, "[proxy %s] a dns proxy listens on an IP address and port, not %s", px->spec.name,
                 px->spec.listen_text);
        return -1;
    }
    struct dns_srv *s = fl_calloc(1, sizeof(*s));
    s->px = px;
    s->udp = s->fwd = -1;
    px->serve = s;
    char why[200];
    s->udp = udp_socket((const struct sockaddr *)&a->ss, a->sslen, 1, why, sizeof(why));
    if (s->udp < 0) goto fail;
    /* TCP on the UDP socket's port (the same one; with port 0, the one the kernel chose) */
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(s->udp, (struct sockaddr *)&ss, &sl) < 0) { snprintf(why, sizeof(why), "%s", strerror(errno)); goto fail; }
    s->tcp = evconnlistener_new_bind(px->srv->base, tcp_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
                                     LEV_OPT_REUSEABLE, 128, (const struct sockaddr *)&ss, (int)sl);
    if (!s->tcp) { snprintf(why, sizeof(why), "tcp: %s", strerror(errno)); goto fail; }
    if (fwd_open(s, why, sizeof(why)) < 0) goto fail;
    s->udp_ev = event_new(px->srv->base, s->udp, EV_READ | EV_PERSIST, udp_readable, s);
    event_add(s->udp_ev, NULL);
    dns_conf_apply(s);
    return 0;
fail:
    snprintf(err, errlen, "[proxy %s] cannot listen on %s: %s", px->spec.name, px->spec.listen_text, why);
    dns_serve_close(px);
    return -1;
}

static void dns_serve_reload(struct fl_proxy *px)
{
    struct dns_srv *s = px->serve;
    if (!s) return;
    dns_conf_apply(s);
    char why[200];
    if (fwd_open(s, why, sizeof(why)) < 0)
        log_error("dns_upstream_failed", "proxy=%s upstream=%s error=%s", log_q(px->spec.name),
                  log_q(px->spec.upstream_text), log_q(why));
}

/* Of the types every proxy takes, only those acting on whole connections (refuse: both sockets
 * close while it acts; the TLS ones are then refused for want of TLS): there is no connection pair
 * and no byte stream here for a tcp stage, nor a request an http type could hold. */
static int dns_accepts(const struct fault_type *t) { return (t->flags & FT_CONN_LEVEL) != 0; }

const struct protocol protocol_dns = {
    .name = "dns",
    .flags = PROTO_UPSTREAM_OPTIONAL,
    .fault_flag = FT_DNS_ONLY,
    .accepts = dns_accepts,
    .refuses = "it answers queries itself: no byte stream to act on; use dns_delay, dns_drop, dns_error, "
               "dns_truncate, dns_flip or refuse",
    .stats_json = dns_stats_json,
    .totals_facts = dns_totals_facts,
    .spec_load = dns_spec_load,
    .serve_open = dns_serve_open,
    .serve_close = dns_serve_close,
    .serve_reload = dns_serve_reload,
};
