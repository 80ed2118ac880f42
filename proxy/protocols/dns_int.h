/* dns_int.h -- what the DNS server's files share (dns.c: keys, sockets, TCP framing;
 * dns_answer.c: one query from arrival to answer). Not for other protocols.
 *
 * Ownership: a proxy's struct dns_srv is px->serve (made by serve_open, freed by serve_close);
 * it owns its sockets, its TCP clients, its records and every query in progress. A query in
 * progress (delayed by a fault, or forwarded) points at its TCP client, which clears that
 * pointer when it closes first.
 */
#ifndef FL_DNS_INT_H
#define FL_DNS_INT_H

#include <stdint.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include "proxy/proxy.h"
#include "proxy/protocols/dns_wire.h"

#define DNS_TCP_MAX_CONNS 256        /* open TCP clients per proxy; more are closed at accept */
#define DNS_TCP_MAX_MSG 4096         /* a query over TCP longer than this is malformed (closed) */
#define DNS_TCP_OUT_MAX (64 * 1024)  /* answers waiting for a slow TCP reader: reading pauses past it */
#define DNS_TCP_IDLE_S 30            /* an idle TCP client is closed (RFC 7766 suggests seconds) */
#define DNS_MAX_PENDING 4096         /* queries delayed or forwarded at once; more are SERVFAIL */
#define DNS_ANSWER_MAX 1024          /* the biggest answer we write (TCP); UDP: DNS_UDP_MAX */

struct dns_rec {
    char name[DNS_NAME_MAX];         /* lower-cased, no trailing dot */
    uint16_t type;                   /* A, AAAA, CNAME */
    uint32_t ttl;
    uint8_t addr[16];                /* A: 4 bytes, AAAA: 16 */
    char target[DNS_NAME_MAX];       /* CNAME */
};

struct dns_stats {
    uint64_t queries, udp, tcp, answered, dropped, malformed, forwarded, upstream_timeouts, truncated;
    uint64_t forwarded_tcp;          /* truncated upstream answers asked again over TCP */
    uint64_t rcode[6];               /* answers by rcode (NOERROR..REFUSED) */
    uint64_t faulted, flipped, delayed, tcp_conns, tcp_rejected, overload;
};

struct dns_tcp;

struct dns_q {                       /* one query waiting: delayed by a fault, or forwarded */
    struct dns_srv *s;
    struct dns_q *prev, *next;
    struct dns_tcp *tc;              /* its TCP client (NULL: UDP, or the client left) */
    int tcp;
    struct sockaddr_storage peer;
    socklen_t peerlen;
    struct dns_query q;
    uint8_t raw[DNS_UDP_MAX];        /* the query as received (what is forwarded) */
    size_t rawlen;
    uint64_t seq;
    int64_t t_req;
    struct event *timer;
    char fault[128];                 /* the fault that acted ("" = none) */
    enum { QW_DELAY = 1, QW_FORWARD, QW_FORWARD_TCP } wait;
    struct bufferevent *fwd_tcp;     /* the retry over TCP of a truncated upstream answer (owned) */
    uint16_t udp_max;                /* what an answer to it over UDP may be: its EDNS size, at least 512 */
    int flip;                        /* a dns_flip acted: its addresses are below */
    uint8_t flip_a[4], flip_aaaa[16];
    int flip_has_a, flip_has_aaaa;
    uint16_t fwd_id;
};

struct dns_tcp {
    struct dns_srv *s;
    struct dns_tcp *prev, *next;
    struct bufferevent *bev;
    struct sockaddr_storage peer;
    socklen_t peerlen;
};

struct dns_srv {
    struct fl_proxy *px;
    struct dns_rec *recs;
    int nrecs;
    int fallback;                    /* rcode for a name with no record and no upstream */
    int64_t fwd_timeout_us;
    evutil_socket_t udp, fwd;        /* the UDP socket; the upstream socket (-1: no upstream) */
    struct event *udp_ev, *fwd_ev;
    struct evconnlistener *tcp;
    struct dns_tcp *tcps;
    int ntcp;
    struct dns_q *pending;
    int npending;
    uint64_t seq;
    struct dns_stats st;
};

/* dns.c: parses px->spec.proto_conf into s's records (replacing them). */
void dns_conf_apply(struct dns_srv *s);
/* dns.c: sends an answer to a query's client (UDP, or its TCP client when still open). */
void dns_send(struct dns_srv *s, int tcp, struct dns_tcp *tc, const struct sockaddr *peer, socklen_t peerlen,
              const uint8_t *msg, size_t len);

/* dns_answer.c: one message arrived (tcp: from tc; peer: the client). */
void dns_handle(struct dns_srv *s, const uint8_t *msg, size_t len, int tcp, struct dns_tcp *tc,
                const struct sockaddr *peer, socklen_t peerlen);
/* dns_answer.c: the upstream socket is readable. */
void dns_fwd_readable(struct dns_srv *s);
/* dns_answer.c: frees every query in progress, answering none (the server is closing). */
void dns_pending_free_all(struct dns_srv *s);
/* dns_answer.c: /stats' "dns" object and the record's totals. */
char *dns_stats_json(const struct fl_proxy *px);
void dns_totals_facts(const struct fl_proxy *px, struct rec_kv *kv);

#endif
