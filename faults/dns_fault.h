/* dns_fault.h -- the settings of the DNS fault types, read by the DNS server engine
 * (proxy/protocols/dns.c, dns_answer.c).
 *
 * On a `mode = dns` proxy the types dns_error, dns_delay, dns_drop, dns_truncate and dns_flip act
 * per query (flag FT_DNS_ONLY: no TCP stages, no connections). For every query the engine walks
 * the proxy's faults in profile order and takes the first that is active, whose matchers match
 * and whose probability roll says yes (one roll per query); that one fault decides the query.
 *
 * Matchers (optional; absent = any):
 *   match_name   glob on the query name, case-insensitive, without the trailing dot
 *                ("*.test", "api.test", "*")
 *   match_type   the query type: A, AAAA, CNAME, MX, TXT, ANY or a number
 *
 * What does not live here: the records (the proxy's `record` keys, the engine's), and the
 * wire format (proxy/protocols/dns_wire.c). A fault type sees no packet: it is settings.
 */
#ifndef FL_DNS_FAULT_H
#define FL_DNS_FAULT_H

#include <stdint.h>
#include "faults/fault.h"

enum dns_act { DNSA_NONE = 0, DNSA_ERROR, DNSA_DELAY, DNSA_DROP, DNSA_TRUNCATE, DNSA_FLIP };

struct dns_fcfg {
    char name[256];              /* match_name: lower-cased glob, "" = any */
    uint16_t qtype;              /* match_type: 0 = any */
    enum dns_act act;
    /* dns_error */
    int rcode;                   /* 1..5 (FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED) */
    /* dns_delay */
    int64_t delay_us, jitter_us;
    /* dns_flip: the address answered instead of the records' (either family or both) */
    uint8_t a[4], aaaa[16];
    int has_a, has_aaaa;
    uint64_t after;              /* matching queries answered as before, then the flip */
    char address[200];           /* as given, for attrs */
};

/* match_name / match_type: FKEY_OK, FKEY_BAD with err, or FKEY_UNKNOWN. */
int dns_match_set(struct dns_fcfg *c, const char *k, const char *v, char *err, size_t errlen);
void dns_match_attrs(const struct dns_fcfg *c, fault_attr_fn emit, void *ud);
/* name: the query name, lower-cased, no trailing dot; qtype: its type. */
int dns_match_ok(const struct dns_fcfg *c, const char *name, unsigned qtype);

/* Names of rcodes and query types, both ways (for keys, logs and the record). */
const char *dns_rcode_name(int rcode);           /* "NOERROR", "SERVFAIL", ...; "RCODE9" beyond */
int dns_rcode_parse(const char *s);              /* -1 if not a known name (case-insensitive) */
/* "A", "AAAA", ...; other types as "TYPE<n>" in buf (16 bytes). */
const char *dns_type_name(unsigned qtype, char *buf);
int dns_type_parse(const char *s);               /* 1..65535, -1 if not a type */

extern const struct fault_type fault_dns_error, fault_dns_delay, fault_dns_drop, fault_dns_truncate, fault_dns_flip;

#endif
