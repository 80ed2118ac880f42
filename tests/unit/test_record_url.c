/* test_record_url.c -- the recorder's Redis URL forms (record/record_url.c). */
#include "unit.h"
#include "record/record.h"

UNIT(rec_url_tcp)
{
    struct rec_url u;
    char e[400];
    EXPECT(rec_url_parse("redis://127.0.0.1:6380/2", &u, e, sizeof(e)) == 0);
    EXPECT(!u.is_unix);
    EXPECT_STR(u.host, "127.0.0.1");
    EXPECT_EQ_INT(u.port, 6380);
    EXPECT_EQ_INT(u.db, 2);
    EXPECT_STR(u.pass, "");
    EXPECT(rec_url_parse("redis://localhost", &u, e, sizeof(e)) == 0);
    EXPECT_STR(u.host, "localhost");
    EXPECT_EQ_INT(u.port, 6379);
    EXPECT_EQ_INT(u.db, 0);
    EXPECT(rec_url_parse("redis://:s%40cret@[::1]:7000", &u, e, sizeof(e)) == 0);
    EXPECT_STR(u.host, "::1");
    EXPECT_EQ_INT(u.port, 7000);
    EXPECT_STR(u.pass, "s@cret");
    EXPECT_STR(u.user, "");
    EXPECT(rec_url_parse("redis://bob:pw@h:1/", &u, e, sizeof(e)) == 0);
    EXPECT_STR(u.user, "bob");
    EXPECT_STR(u.pass, "pw");
}

UNIT(rec_url_unix)
{
    struct rec_url u;
    char e[400];
    EXPECT(rec_url_parse("unix:/tmp/r.sock", &u, e, sizeof(e)) == 0);
    EXPECT(u.is_unix);
    EXPECT_STR(u.path, "/tmp/r.sock");
    EXPECT(rec_url_parse("unix:/tmp/r.sock?db=3&password=x%26y", &u, e, sizeof(e)) == 0);
    EXPECT_EQ_INT(u.db, 3);
    EXPECT_STR(u.pass, "x&y");
    EXPECT(rec_url_parse("unix:///var/run/redis.sock", &u, e, sizeof(e)) == 0);
    EXPECT_STR(u.path, "/var/run/redis.sock");
}

UNIT(rec_url_errors)
{
    struct rec_url u;
    char e[400];
    EXPECT(rec_url_parse("http://x:1", &u, e, sizeof(e)) < 0);
    EXPECT_CONTAINS(e, "unknown scheme");
    EXPECT(rec_url_parse("redis://h:port", &u, e, sizeof(e)) < 0);
    EXPECT_CONTAINS(e, "port");
    EXPECT(rec_url_parse("redis://h:99999", &u, e, sizeof(e)) < 0);
    EXPECT(rec_url_parse("redis://h:1/x", &u, e, sizeof(e)) < 0);
    EXPECT_CONTAINS(e, "db");
    EXPECT(rec_url_parse("redis://", &u, e, sizeof(e)) < 0);
    EXPECT(rec_url_parse("redis://pw@h", &u, e, sizeof(e)) < 0);
    EXPECT(rec_url_parse("unix:", &u, e, sizeof(e)) < 0);
    EXPECT(rec_url_parse("unix:/s?dbx=1", &u, e, sizeof(e)) < 0);
    EXPECT(rec_url_parse("unix:/s?db=a", &u, e, sizeof(e)) < 0);
    EXPECT(rec_url_parse("redis://:%4@h", &u, e, sizeof(e)) < 0);
    EXPECT(rec_url_parse("", &u, e, sizeof(e)) < 0);
}
