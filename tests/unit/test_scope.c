/* test_scope.c -- a fault's `clients` ranges and `max_active` places (faults/scope.c): CIDR
 * parsing and matching for IPv4, IPv6 and IPv4-mapped callers, and the places given back. */
#include "unit.h"
#include "faults/scope.h"
#include "faults/fault.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static int m4(const struct cidr_list *l, const char *a)
{
    struct sockaddr_in s = {.sin_family = AF_INET};
    inet_pton(AF_INET, a, &s.sin_addr);
    return cidr_match(l, (const struct sockaddr *)&s);
}

static int m6(const struct cidr_list *l, const char *a)
{
    struct sockaddr_in6 s = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, a, &s.sin6_addr);
    return cidr_match(l, (const struct sockaddr *)&s);
}

UNIT(scope_cidr_match)
{
    struct cidr_list l;
    char e[200], b[400];
    EXPECT(cidr_parse("127.0.0.2/32, 10.0.0.0/8,::1/128 fd00::/8", &l, e, sizeof(e)) == 0);
    EXPECT_EQ_INT(l.n, 4);
    EXPECT_EQ_INT(m4(&l, "127.0.0.2"), 1);
    EXPECT_EQ_INT(m4(&l, "127.0.0.1"), 0);
    EXPECT_EQ_INT(m4(&l, "10.200.3.4"), 1);
    EXPECT_EQ_INT(m4(&l, "11.0.0.1"), 0);
    EXPECT_EQ_INT(m6(&l, "::1"), 1);
    EXPECT_EQ_INT(m6(&l, "::2"), 0);
    EXPECT_EQ_INT(m6(&l, "fd12::1"), 1);
    EXPECT_EQ_INT(m6(&l, "::ffff:10.1.2.3"), 1);     /* an IPv4 caller on an IPv6 listener */
    EXPECT_EQ_INT(m6(&l, "::ffff:127.0.0.1"), 0);
    EXPECT_EQ_INT(cidr_match(&l, NULL), 0);
    EXPECT_STR(cidr_str(&l, b, sizeof(b)), "127.0.0.2/32, 10.0.0.0/8, ::1/128, fd00::/8");
    EXPECT(cidr_parse("0.0.0.0/0", &l, e, sizeof(e)) == 0);
    EXPECT_EQ_INT(m4(&l, "203.0.113.9"), 1);
    EXPECT_EQ_INT(m6(&l, "2001:db8::1"), 0);
    EXPECT(cidr_parse("10.0.0.0/9", &l, e, sizeof(e)) == 0);
    EXPECT_EQ_INT(m4(&l, "10.127.255.255"), 1);
    EXPECT_EQ_INT(m4(&l, "10.128.0.0"), 0);
}

UNIT(scope_cidr_errors)
{
    struct cidr_list l;
    char e[200];
    EXPECT(cidr_parse("", &l, e, sizeof(e)) < 0);
    EXPECT_CONTAINS(e, "no address");
    EXPECT(cidr_parse("10.0.0.0/33", &l, e, sizeof(e)) < 0);
    EXPECT_CONTAINS(e, "0..32");
    EXPECT(cidr_parse("::/129", &l, e, sizeof(e)) < 0);
    EXPECT_CONTAINS(e, "0..128");
    EXPECT(cidr_parse("10.0.0.1/8", &l, e, sizeof(e)) < 0);
    EXPECT_CONTAINS(e, "bits set past");
    EXPECT(cidr_parse("localhost", &l, e, sizeof(e)) < 0);
    EXPECT_CONTAINS(e, "not an IPv4 or IPv6 address");
    EXPECT(cidr_parse("10.0.0.0/", &l, e, sizeof(e)) < 0);
    EXPECT(cidr_parse("10.0.0.0/8x", &l, e, sizeof(e)) < 0);
}

UNIT(scope_max_active_places)
{
    struct fault f;
    memset(&f, 0, sizeof(f));
    EXPECT_EQ_INT(scope_take(&f), 1);                /* no cap: always */
    EXPECT_EQ_INT(f.n_active, 0);
    f.max_active = 2;
    EXPECT_EQ_INT(scope_take(&f), 1);
    EXPECT_EQ_INT(scope_take(&f), 1);
    EXPECT_EQ_INT(scope_take(&f), 0);
    EXPECT_EQ_INT(f.capped, 1);
    scope_leave(&f);
    EXPECT_EQ_INT(scope_take(&f), 1);
    scope_leave(&f);
    scope_leave(&f);
    scope_leave(&f);                                 /* never below zero */
    EXPECT_EQ_INT(f.n_active, 0);
    scope_leave(NULL);
    struct cidr_list l;
    char e[100];
    cidr_parse("127.0.0.2", &l, e, sizeof(e));
    EXPECT_EQ_INT(scope_admits(&f, NULL), 1);        /* no clients: everyone */
    f.clients = &l;
    struct sockaddr_in s = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &s.sin_addr);
    EXPECT_EQ_INT(scope_admits(&f, (const struct sockaddr *)&s), 0);
    inet_pton(AF_INET, "127.0.0.2", &s.sin_addr);
    EXPECT_EQ_INT(scope_admits(&f, (const struct sockaddr *)&s), 1);
}
