/* dns_wire.c -- reading a DNS query and writing its answer. See dns_wire.h (why it is
 * hand-written, and what it reads and refuses).
 */
#include "proxy/protocols/dns_wire.h"

#include <ctype.h>
#include <string.h>

static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

enum dns_parse dns_parse_query(const uint8_t *p, size_t n, struct dns_query *q)
{
    memset(q, 0, sizeof(*q));
    if (n < DNS_HDR) return DNSP_DROP;
    q->id = get16(p);
    q->flags = get16(p + 2);
    if (q->flags & DNS_F_QR) return DNSP_DROP;                 /* a response: never answered */
    if ((q->flags >> 11) & 0xf) return DNSP_NOTIMP;            /* opcode: only QUERY (0) */
    if (get16(p + 4) != 1 || get16(p + 6) != 0 || get16(p + 8) != 0) return DNSP_FORMERR;
    size_t i = DNS_HDR, o = 0;
    for (;;) {
        if (i >= n) return DNSP_FORMERR;
        unsigned len = p[i++];
        if (len == 0) break;
        if (len > 63) return DNSP_FORMERR;                     /* a pointer (0xc0) or reserved */
        if (i + len > n || o + len + 1 >= DNS_NAME_MAX) return DNSP_FORMERR;
        if (o) q->name[o++] = '.';
        for (unsigned k = 0; k < len; k++) {
            unsigned char ch = p[i + k];
            /* names go to logs and the record as text: printable ASCII only, no dot inside a label */
            if (ch <= ' ' || ch > '~' || ch == '.') return DNSP_FORMERR;
            q->name[o++] = (char)tolower(ch);
        }
        i += len;
    }
    q->name[o] = 0;
    if (i + 4 > n) return DNSP_FORMERR;
    q->qtype = get16(p + i);
    q->qclass = get16(p + i + 2);
    q->qlen = i + 4 - DNS_HDR;
    return DNSP_OK;
}

unsigned dns_edns_udp_size(const uint8_t *p, size_t n, const struct dns_query *q)
{
    if (n < DNS_HDR || !q->qlen) return 0;
    unsigned ar = get16(p + 10);
    size_t i = DNS_HDR + q->qlen;
    for (unsigned r = 0; r < ar && r < DNS_EDNS_SCAN; r++) {
        for (;;) {                                   /* the owner name: labels, or a pointer */
            if (i >= n) return 0;
            unsigned len = p[i];
            if (len == 0) { i++; break; }
            if ((len & 0xc0) == 0xc0) { i += 2; break; }
            if (len > 63) return 0;
            i += 1 + len;
        }
        if (i + 10 > n) return 0;
        uint16_t type = get16(p + i), cls = get16(p + i + 2), rdlen = get16(p + i + 8);
        if (type == 41) return cls;                  /* OPT: its class is the UDP payload size */
        i += 10 + (size_t)rdlen;
    }
    return 0;
}

int dns_name_encode(const char *name, uint8_t *out, size_t cap)
{
    size_t o = 0;
    const char *s = name;
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        if (len == 0 || len > 63 || o + len + 2 > cap || o + len + 2 > 255) return -1;
        out[o++] = (uint8_t)len;
        memcpy(out + o, s, len);
        o += len;
        s += len;
        if (*s == '.') s++;
    }
    if (o + 1 > cap) return -1;
    out[o++] = 0;
    return (int)o;
}

/* The question as q holds it (its name re-encoded from the text: the same bytes, lower-cased). */
static size_t put_question(uint8_t *out, size_t cap, const struct dns_query *q)
{
    int n = dns_name_encode(q->name, out, cap);
    if (n < 0 || (size_t)n + 4 > cap) return 0;
    put16(out + n, q->qtype);
    put16(out + n + 2, q->qclass);
    return (size_t)n + 4;
}

static size_t put_rr(uint8_t *out, size_t cap, const struct dns_rr *r)
{
    int n = dns_name_encode(r->owner, out, cap);
    if (n < 0 || (size_t)n + 10 > cap) return 0;
    size_t o = (size_t)n;
    put16(out + o, r->type);
    put16(out + o + 2, 1);                                     /* class IN */
    put16(out + o + 4, r->ttl >> 16);
    put16(out + o + 6, r->ttl & 0xffff);
    o += 10;
    int dl;
    if (r->type == DNS_T_CNAME) {
        dl = dns_name_encode(r->target, out + o, cap - o);
        if (dl < 0) return 0;
    } else {
        if (o + r->len > cap) return 0;
        memcpy(out + o, r->data, r->len);
        dl = r->len;
    }
    put16(out + o - 2, (unsigned)dl);
    return o + (size_t)dl;
}

size_t dns_write_answer(uint8_t *out, size_t cap, const struct dns_query *q, int rcode, int aa, int tc,
                        const struct dns_rr *rr, int nrr)
{
    size_t o = DNS_HDR, qn = 0;
    if (q->qlen) qn = put_question(out + o, cap - o, q);
    o += qn;
    int written = 0;
    for (int i = 0; i < nrr && !tc; i++) {
        size_t n = put_rr(out + o, cap - o, &rr[i]);
        if (!n) {                                              /* does not fit: none, with TC */
            o = DNS_HDR + qn;
            written = 0;
            tc = 1;
            break;
        }
        o += n;
        written++;
    }
    unsigned flags = DNS_F_QR | (q->flags & DNS_F_RD) | DNS_F_RA | (aa ? DNS_F_AA : 0) | (tc ? DNS_F_TC : 0) |
                     ((unsigned)rcode & 0xf);
    put16(out, q->id);
    put16(out + 2, flags);
    put16(out + 4, qn ? 1 : 0);
    put16(out + 6, (unsigned)written);
    put16(out + 8, 0);
    put16(out + 10, 0);
    return o;
}
