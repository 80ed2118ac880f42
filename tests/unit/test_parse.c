/* test_parse.c -- durations, sizes, booleans, addresses. */
#include "unit.h"
#include "common/parse.h"

UNIT(parse_duration_units)
{
    int64_t v;
    char e[200];
    EXPECT(parse_duration("0", &v, e, sizeof(e)) == 0 && v == 0);
    EXPECT(parse_duration("250us", &v, e, sizeof(e)) == 0 && v == 250);
    EXPECT(parse_duration("100ms", &v, e, sizeof(e)) == 0 && v == 100000);
    EXPECT(parse_duration("1.5s", &v, e, sizeof(e)) == 0 && v == 1500000);
    EXPECT(parse_duration("2m", &v, e, sizeof(e)) == 0 && v == 120000000);
    EXPECT(parse_duration("7d", &v, e, sizeof(e)) == 0 && v == 7LL * 86400000000LL);
}

UNIT(parse_duration_errors)
{
    int64_t v;
    char e[200];
    EXPECT(parse_duration("100", &v, e, sizeof(e)) < 0);
    EXPECT_CONTAINS(e, "needs a unit");
    EXPECT(parse_duration("5 parsecs", &v, e, sizeof(e)) < 0);
    EXPECT(parse_duration("-1s", &v, e, sizeof(e)) < 0);
    EXPECT(parse_duration("", &v, e, sizeof(e)) < 0);
    EXPECT(parse_duration("ms", &v, e, sizeof(e)) < 0);
    EXPECT(parse_duration("1e300d", &v, e, sizeof(e)) < 0);
}

UNIT(parse_size_units)
{
    uint64_t v;
    char e[200];
    EXPECT(parse_size("512", &v, e, sizeof(e)) == 0 && v == 512);
    EXPECT(parse_size("512B", &v, e, sizeof(e)) == 0 && v == 512);
    EXPECT(parse_size("16KiB", &v, e, sizeof(e)) == 0 && v == 16384);
    EXPECT(parse_size("8MiB", &v, e, sizeof(e)) == 0 && v == 8388608);
    EXPECT(parse_size("1GiB", &v, e, sizeof(e)) == 0 && v == 1073741824ULL);
    EXPECT(parse_size("1.5KiB", &v, e, sizeof(e)) == 0 && v == 1536);
    EXPECT(parse_size("1.3B", &v, e, sizeof(e)) < 0);
    EXPECT(parse_size("-5", &v, e, sizeof(e)) < 0);
    EXPECT(parse_size("12XB", &v, e, sizeof(e)) < 0);
    EXPECT_CONTAINS(e, "unknown unit");
}

UNIT(parse_bool_values)
{
    int b;
    char e[100];
    EXPECT(parse_bool("yes", &b, e, sizeof(e)) == 0 && b == 1);
    EXPECT(parse_bool("Off", &b, e, sizeof(e)) == 0 && b == 0);
    EXPECT(parse_bool("maybe", &b, e, sizeof(e)) < 0);
}

UNIT(parse_addr_forms)
{
    struct fl_addr a;
    char e[200];
    EXPECT(parse_addr("127.0.0.1:8080", 0, &a, e, sizeof(e)) == 0 && a.kind == ADDR_INET && a.port == 8080);
    EXPECT(parse_addr("[::1]:5432", 0, &a, e, sizeof(e)) == 0 && a.kind == ADDR_INET && a.port == 5432);
    EXPECT_STR(a.host, "::1");
    EXPECT(parse_addr("unix:/tmp/x.sock", 0, &a, e, sizeof(e)) == 0 && a.kind == ADDR_UNIX);
    EXPECT_STR(a.path, "/tmp/x.sock");
    EXPECT(parse_addr("db.internal:5432", 1, &a, e, sizeof(e)) == 0 && a.kind == ADDR_NAME);
    EXPECT(parse_addr("db.internal:5432", 0, &a, e, sizeof(e)) < 0);
    EXPECT(parse_addr("127.0.0.1", 0, &a, e, sizeof(e)) < 0);
    EXPECT(parse_addr("127.0.0.1:99999", 0, &a, e, sizeof(e)) < 0);
    EXPECT(parse_addr("127.0.0.1:http", 0, &a, e, sizeof(e)) < 0);
    EXPECT(parse_addr("::1:80", 0, &a, e, sizeof(e)) < 0);
    EXPECT(parse_addr("unix:", 0, &a, e, sizeof(e)) < 0);
    EXPECT(parse_addr("[::1]80", 0, &a, e, sizeof(e)) < 0);
    EXPECT(parse_addr("bad host:80", 1, &a, e, sizeof(e)) < 0);
}

UNIT(duration_str_roundtrip)
{
    char b[32];
    EXPECT_STR(duration_str(100000, b, sizeof(b)), "100ms");
    EXPECT_STR(duration_str(5000000, b, sizeof(b)), "5s");
    EXPECT_STR(duration_str(0, b, sizeof(b)), "0");
    EXPECT_STR(duration_str(1500, b, sizeof(b)), "1500us");
}
