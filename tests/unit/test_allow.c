/* test_allow.c -- allow-lists, directory lists and the size/duration caps (common/allow.c,
 * common/parse.c): the pure parts of the admin API's reach policy. */
#include "unit.h"
#include "common/allow.h"
#include "common/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int ok_addr(const struct allow_list *l, const char *a, int names)
{
    struct fl_addr x;
    char e[200];
    if (parse_addr(a, names, &x, e, sizeof(e)) < 0) return -1;
    return allow_match(l, &x);
}

UNIT(allow_default_listen_list)
{
    struct allow_list l = {0};
    char e[200];
    EXPECT(allow_parse("127.0.0.0/8:1024-65535, [::1]:1024-65535", 0, &l, e, sizeof(e)) == 0);
    EXPECT_EQ_INT(ok_addr(&l, "127.0.0.1:8080", 0), 1);
    EXPECT_EQ_INT(ok_addr(&l, "127.9.9.9:1024", 0), 1);
    EXPECT_EQ_INT(ok_addr(&l, "127.0.0.1:0", 0), 1);       /* the kernel picks an unprivileged port */
    EXPECT_EQ_INT(ok_addr(&l, "127.0.0.1:80", 0), 0);
    EXPECT_EQ_INT(ok_addr(&l, "0.0.0.0:8080", 0), 0);
    EXPECT_EQ_INT(ok_addr(&l, "[::1]:9000", 0), 1);
    EXPECT_EQ_INT(ok_addr(&l, "[::]:9000", 0), 0);
    EXPECT_EQ_INT(ok_addr(&l, "[::ffff:127.0.0.1]:9000", 0), 1);
    EXPECT_EQ_INT(ok_addr(&l, "unix:/tmp/x.sock", 0), 0);
    char buf[300];
    EXPECT_STR(allow_str(&l, buf, sizeof(buf)), "127.0.0.0/8:1024-65535, [::1]:1024-65535");
}

UNIT(allow_names_and_errors)
{
    struct allow_list l = {0};
    char e[200];
    EXPECT(allow_parse("localhost, *.svc.internal:5432, 10.0.0.0/8, *:7", 1, &l, e, sizeof(e)) == 0);
    EXPECT_EQ_INT(ok_addr(&l, "LOCALHOST:6379", 1), 1);
    EXPECT_EQ_INT(ok_addr(&l, "db.svc.internal:5432", 1), 1);
    EXPECT_EQ_INT(ok_addr(&l, "db.svc.internal:5433", 1), 0);
    EXPECT_EQ_INT(ok_addr(&l, "evil.example:5432", 1), 0);
    EXPECT_EQ_INT(ok_addr(&l, "10.1.2.3:1", 1), 1);
    EXPECT_EQ_INT(ok_addr(&l, "11.1.2.3:7", 1), 1);
    struct allow_list m = {0};
    EXPECT(allow_parse("localhost", 0, &m, e, sizeof(e)) < 0);
    EXPECT_CONTAINS(e, "not names");
    EXPECT(allow_parse("10.0.0.0/33", 1, &m, e, sizeof(e)) < 0);
    EXPECT(allow_parse("1.2.3.4:9-8", 1, &m, e, sizeof(e)) < 0);
    EXPECT(allow_parse("[::1", 1, &m, e, sizeof(e)) < 0);
    EXPECT(allow_parse("a b", 1, &m, e, sizeof(e)) < 0);
    EXPECT(host_is_loopback("localhost") && host_is_loopback("127.0.0.53") && host_is_loopback("[::1]"));
    EXPECT(!host_is_loopback("localhost.evil.example") && !host_is_loopback("128.0.0.1"));
}

UNIT(dirs_and_paths)
{
    struct dir_list d = {0};
    char e[200];
    EXPECT(dirs_parse("relative", &d, e, sizeof(e)) < 0);
    EXPECT(dirs_parse("/a/../b", &d, e, sizeof(e)) < 0);
    char base[] = "/tmp/flunit.XXXXXX";
    EXPECT(mkdtemp(base) != NULL);
    char ok[64], other[64], link[200], list[300], sock[200];
    snprintf(ok, sizeof(ok), "%s/ok", base);
    snprintf(other, sizeof(other), "%s/other", base);
    mkdir(ok, 0700);
    mkdir(other, 0700);
    snprintf(list, sizeof(list), " %s , /nonexistent/dir", ok);
    EXPECT(dirs_parse(list, &d, e, sizeof(e)) == 0 && d.n == 2);
    snprintf(sock, sizeof(sock), "%s/a.sock", ok);
    EXPECT_EQ_INT(path_under_dirs(sock, &d), 1);
    snprintf(sock, sizeof(sock), "%s/../other/a.sock", ok);
    EXPECT_EQ_INT(path_under_dirs(sock, &d), 0);
    snprintf(sock, sizeof(sock), "%s/a.sock", other);
    EXPECT_EQ_INT(path_under_dirs(sock, &d), 0);
    EXPECT_EQ_INT(path_under_dirs(ok, &d), 0);               /* the directory itself is no socket */
    snprintf(link, sizeof(link), "%s/link.sock", ok);          /* a link out of the directory */
    EXPECT(symlink(sock, link) == 0);
    EXPECT_EQ_INT(path_under_dirs(link, &d), 0);
    EXPECT_EQ_INT(path_under_dirs("/nonexistent/dir/x.sock", &d), 1);
    unlink(link);
    rmdir(ok);
    rmdir(other);
    rmdir(base);
}

UNIT(parse_caps)
{
    int64_t us;
    uint64_t n;
    char e[200];
    EXPECT(parse_duration("36500d", &us, e, sizeof(e)) == 0 && us == PARSE_MAX_DURATION_US);
    EXPECT(parse_duration("36501d", &us, e, sizeof(e)) < 0);
    EXPECT_CONTAINS(e, "too large");
    EXPECT(parse_duration("106751d", &us, e, sizeof(e)) < 0);
    EXPECT(parse_duration("0x1p62us", &us, e, sizeof(e)) < 0);
    EXPECT(parse_size("1048576GiB", &n, e, sizeof(e)) == 0 && n == PARSE_MAX_SIZE);
    EXPECT(parse_size("1048577GiB", &n, e, sizeof(e)) < 0);
    EXPECT(parse_size("18446744073709551615", &n, e, sizeof(e)) < 0);
}
