/* fuzz_dns.c -- libFuzzer harness for the DNS server's wire code (proxy/protocols/dns_wire.c),
 * the only hand-written parsing of mode = dns (docs/dns.md says why it is hand-written).
 *
 * Input: any bytes, read as a DNS message the way a UDP datagram or a TCP-framed message is.
 * Checked: no crash, out-of-bounds access or undefined behaviour (ASan/UBSan); a parsed name is
 * NUL-terminated, printable and no longer than a name can be; and for a query that parses, the
 * answer written for it (with an A, an AAAA and a CNAME record, in a UDP-sized and a tiny buffer)
 * stays within its buffer, carries the query's id, and its question reads back as the same name
 * and type when the answer is read as a query again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "proxy/protocols/dns_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dns_query q;
    enum dns_parse pr = dns_parse_query(data, size, &q);
    size_t nl = strnlen(q.name, sizeof(q.name));
    if (nl >= sizeof(q.name)) abort();
    for (size_t i = 0; i < nl; i++)
        if ((unsigned char)q.name[i] <= ' ' || (unsigned char)q.name[i] > '~') abort();
    if (pr != DNSP_OK) return 0;
    if (dns_edns_udp_size(data, size, &q) > 65535) abort();   /* the additional section: read in bounds */
    static const uint8_t a4[4] = {127, 0, 0, 1}, a6[16] = {[15] = 1};
    struct dns_rr rr[3] = {
        {.owner = q.name, .type = DNS_T_CNAME, .ttl = 60, .target = "target.test"},
        {.owner = "target.test", .type = DNS_T_A, .ttl = 60, .data = a4, .len = 4},
        {.owner = "target.test", .type = DNS_T_AAAA, .ttl = 60, .data = a6, .len = 16},
    };
    uint8_t out[DNS_UDP_MAX + 16];
    size_t caps[2] = {DNS_UDP_MAX, DNS_HDR + q.qlen};
    for (int k = 0; k < 2; k++) {
        memset(out, 0xAA, sizeof(out));
        size_t n = dns_write_answer(out, caps[k], &q, 0, 1, 0, rr, q.name[0] ? 3 : 0);
        if (n > caps[k] || n < DNS_HDR) abort();
        for (size_t i = caps[k]; i < sizeof(out); i++) if (out[i] != 0xAA) abort();   /* nothing past cap */
        if (((out[0] << 8) | out[1]) != q.id) abort();
        /* read back as a query: clear QR and the answer count */
        out[2] &= 0x7f;
        out[6] = out[7] = 0;
        struct dns_query back;
        if (dns_parse_query(out, n, &back) != DNSP_OK) abort();
        if (strcmp(back.name, q.name) != 0 || back.qtype != q.qtype || back.qclass != q.qclass) abort();
    }
    return 0;
}
