/* test_dns.c -- mode = dns pieces without sockets: the wire reader and writer
 * (proxy/protocols/dns_wire.c) on exact bytes, and the DNS fault types' keys and matching
 * (faults/dns_*.c). The server itself is tested with real resolvers in tests/protocols/dns_*.sh. */
#include "unit.h"
#include "proxy/protocols/dns_wire.h"
#include "faults/dns_fault.h"

static const uint8_t query_api_a[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                                      3, 'A', 'p', 'I', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};

UNIT(dns_parse_query)
{
    struct dns_query q;
    EXPECT_EQ_INT(dns_parse_query(query_api_a, sizeof(query_api_a), &q), DNSP_OK);
    EXPECT_STR(q.name, "api.test");
    EXPECT_EQ_INT(q.id, 0x1234);
    EXPECT_EQ_INT(q.qtype, 1);
    EXPECT_EQ_INT(q.qclass, 1);
    EXPECT_EQ_INT(q.qlen, 14);
    /* cut anywhere inside the question: FORMERR; inside the header: dropped */
    for (size_t n = 0; n < sizeof(query_api_a); n++)
        EXPECT_EQ_INT(dns_parse_query(query_api_a, n, &q), n < DNS_HDR ? DNSP_DROP : DNSP_FORMERR);
    uint8_t m[sizeof(query_api_a)];
    memcpy(m, query_api_a, sizeof(m));
    m[2] = 0x81;                                      /* QR: a response */
    EXPECT_EQ_INT(dns_parse_query(m, sizeof(m), &q), DNSP_DROP);
    m[2] = 0x11;                                      /* opcode 2 (STATUS) */
    EXPECT_EQ_INT(dns_parse_query(m, sizeof(m), &q), DNSP_NOTIMP);
    m[2] = 0x01;
    m[12] = 0xc0;                                     /* a compression pointer */
    EXPECT_EQ_INT(dns_parse_query(m, sizeof(m), &q), DNSP_FORMERR);
    memcpy(m, query_api_a, sizeof(m));
    m[5] = 2;                                         /* two questions */
    EXPECT_EQ_INT(dns_parse_query(m, sizeof(m), &q), DNSP_FORMERR);
}

UNIT(dns_write_answer)
{
    struct dns_query q;
    dns_parse_query(query_api_a, sizeof(query_api_a), &q);
    static const uint8_t a[4] = {127, 0, 0, 1};
    struct dns_rr rr = {.owner = "api.test", .type = DNS_T_A, .ttl = 60, .data = a, .len = 4};
    uint8_t out[DNS_UDP_MAX];
    size_t n = dns_write_answer(out, sizeof(out), &q, 0, 1, 0, &rr, 1);
    static const uint8_t want[] = {0x12, 0x34, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
                                   3, 'a', 'p', 'i', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
                                   3, 'a', 'p', 'i', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1};
    EXPECT_EQ_INT(n, sizeof(want));
    EXPECT(memcmp(out, want, sizeof(want)) == 0);
    /* no room for the record: none, with TC */
    n = dns_write_answer(out, DNS_HDR + q.qlen + 5, &q, 0, 1, 0, &rr, 1);
    EXPECT_EQ_INT(n, DNS_HDR + q.qlen);
    EXPECT(out[2] & 0x02);
    EXPECT_EQ_INT(out[7], 0);
    /* an error: the rcode, no AA */
    n = dns_write_answer(out, sizeof(out), &q, DNS_RC_NXDOMAIN, 0, 0, NULL, 0);
    EXPECT_EQ_INT(out[3] & 0xf, 3);
    EXPECT(!(out[2] & 0x04));
    uint8_t w[300];
    EXPECT_EQ_INT(dns_name_encode("a..b", w, sizeof(w)), -1);
    EXPECT_EQ_INT(dns_name_encode("a.b", w, sizeof(w)), 5);
}

static struct fault *build(const char *const *kv, int n, char *err)
{
    const char *keys[16], *vals[16];
    for (int i = 0; i < n; i++) { keys[i] = kv[2 * i]; vals[i] = kv[2 * i + 1]; }
    int bad;
    return fault_build("f", keys, vals, n, &bad, err, 400);
}

UNIT(dns_fault_keys)
{
    char err[400];
    const char *flip[] = {"type", "dns_flip", "proxy", "p", "address", "127.0.0.2, ::2", "match_name", "*.TEST.", "after", "3"};
    struct fault *f = build(flip, 5, err);
    EXPECT(f != NULL);
    if (f) {
        const struct dns_fcfg *c = f->cfg;
        EXPECT(c->has_a && c->has_aaaa && c->a[3] == 2 && c->aaaa[15] == 2);
        EXPECT_EQ_INT(c->after, 3);
        EXPECT(dns_match_ok(c, "api.test", 1));
        EXPECT(!dns_match_ok(c, "api.example", 1));
        fault_free(f);
    }
    const char *err1[] = {"type", "dns_error", "proxy", "p", "rcode", "REFUSED", "match_type", "aaaa"};
    f = build(err1, 4, err);
    EXPECT(f != NULL);
    if (f) {
        const struct dns_fcfg *c = f->cfg;
        EXPECT_EQ_INT(c->rcode, 5);
        EXPECT(dns_match_ok(c, "x", 28) && !dns_match_ok(c, "x", 1));
        fault_free(f);
    }
    const char *bad1[] = {"type", "dns_error", "proxy", "p", "rcode", "noerror"};
    EXPECT(build(bad1, 3, err) == NULL);
    EXPECT_CONTAINS(err, "rcode: 'noerror' is not nxdomain");
    const char *bad2[] = {"type", "dns_flip", "proxy", "p", "address", "1.2.3.4, 5.6.7.8"};
    EXPECT(build(bad2, 3, err) == NULL);
    EXPECT_CONTAINS(err, "at most one of each");
    char b[16];
    EXPECT_STR(dns_type_name(28, b), "AAAA");
    EXPECT_STR(dns_type_name(99, b), "TYPE99");
    EXPECT_EQ_INT(dns_type_parse("type99"), 99);
    EXPECT_EQ_INT(dns_type_parse("0"), -1);
    EXPECT_STR(dns_rcode_name(3), "NXDOMAIN");
}
