/* dns_wire.h -- DNS messages as bytes (RFC 1035 section 4): reading a query, writing an answer.
 *
 * Hand-written, on purpose, and small: libevent 2.1's evdns server (the one installed here)
 * reads UDP only, drops a malformed packet without telling its caller (so it could not be
 * counted), hides the transaction id and the raw message (so TCP could not be framed over it
 * without a loopback relay), and caps answers at 512 bytes with its own TC. What is read is
 * bounded and exact: the 12-byte header and one question (labels only: a compression pointer in
 * a query's question is refused as malformed; a real resolver never sends one there), nothing
 * after it but the UDP size of an EDNS(0) OPT record (dns_edns_udp_size: what a forwarded
 * answer may be over UDP; faultline's own answers stay small and carry no OPT). What is written is the
 * header, the question as asked and the records given, names uncompressed. docs/dns.md says
 * this; tests/fuzz/fuzz_dns.c feeds the reader hostile bytes.
 *
 * Pure functions over caller buffers: no allocation, no I/O.
 */
#ifndef FL_DNS_WIRE_H
#define FL_DNS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define DNS_HDR 12
#define DNS_UDP_MAX 512          /* an answer over UDP without EDNS (RFC 1035 4.2.1) */
#define DNS_NAME_MAX 254         /* a name as text, with its NUL */
#define DNS_T_A 1
#define DNS_T_CNAME 5
#define DNS_T_AAAA 28
#define DNS_RC_FORMERR 1
#define DNS_RC_SERVFAIL 2
#define DNS_RC_NXDOMAIN 3
#define DNS_RC_NOTIMP 4
#define DNS_RC_REFUSED 5
/* header flag bits of the second 16-bit word */
#define DNS_F_QR 0x8000
#define DNS_F_AA 0x0400
#define DNS_F_TC 0x0200
#define DNS_F_RD 0x0100
#define DNS_F_RA 0x0080

struct dns_query {
    uint16_t id, flags;          /* as received */
    uint16_t qtype, qclass;
    char name[DNS_NAME_MAX];     /* lower-cased, no trailing dot; "" for the root */
    size_t qlen;                 /* bytes of the question (name + type + class) after the header */
};

/* What reading a message gave. */
enum dns_parse {
    DNSP_OK = 0,
    DNSP_DROP,                   /* no header, or not a query (a response): nothing to answer */
    DNSP_FORMERR,                /* a header but a bad question: answer FORMERR (id, flags set) */
    DNSP_NOTIMP,                 /* not a standard query (opcode): answer NOTIMP (id, flags set) */
};
enum dns_parse dns_parse_query(const uint8_t *p, size_t n, struct dns_query *q);

/* One record of an answer. */
struct dns_rr {
    const char *owner;           /* its name, as text */
    uint16_t type;
    uint32_t ttl;
    const uint8_t *data;         /* A: 4 bytes, AAAA: 16 */
    uint16_t len;
    const char *target;          /* CNAME: the name it points at (data unused) */
};

/* Writes the answer to q into out (cap bytes): the header (q's id, QR, RD as asked, RA, AA when
 * aa, TC when tc, rcode), the question when q has one (qlen > 0), then the records. A message
 * that does not fit in cap is written without its records, with TC. Returns its length (always
 * at least DNS_HDR; cap must be at least DNS_HDR + the question). */
size_t dns_write_answer(uint8_t *out, size_t cap, const struct dns_query *q, int rcode, int aa, int tc,
                        const struct dns_rr *rr, int nrr);

/* The UDP payload size a query's EDNS(0) OPT record advertises (RFC 6891: the OPT's class), read
 * from the additional section after the question (q from dns_parse_query on the same bytes);
 * 0 when it has none or the section cannot be read. At most DNS_EDNS_SCAN records are looked at. */
#define DNS_EDNS_SCAN 4
unsigned dns_edns_udp_size(const uint8_t *p, size_t n, const struct dns_query *q);

/* Encodes a name given as text into labels; -1 if a label is empty or over 63 bytes, or the
 * whole is over 255. */
int dns_name_encode(const char *name, uint8_t *out, size_t cap);

#endif
