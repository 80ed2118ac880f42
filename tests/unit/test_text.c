/* test_text.c -- redaction, clipping and JSON strings (common/text.c). */
#include "unit.h"
#include "common/text.h"

#include <stdlib.h>

UNIT(text_redact_url)
{
    char o[300];
    fl_redact_url("redis://:hunter2@10.0.0.1:6379/2", o, sizeof(o));
    EXPECT_STR(o, "redis://:***@10.0.0.1:6379/2");
    fl_redact_url("redis://bob:p%40ss@[::1]:7000", o, sizeof(o));
    EXPECT_STR(o, "redis://bob:***@[::1]:7000");
    fl_redact_url("redis://127.0.0.1:6379", o, sizeof(o));
    EXPECT_STR(o, "redis://127.0.0.1:6379");
    fl_redact_url("unix:/run/r.sock?db=2&password=x&y=1", o, sizeof(o));
    EXPECT_STR(o, "unix:/run/r.sock?db=2&password=***&y=1");
    fl_redact_url("host=db user=app password='a b\\' c' dbname=x", o, sizeof(o));
    EXPECT_STR(o, "host=db user=app password=*** dbname=x");
    fl_redact_url("postgres://app:s3cr3t@db/x and redis://:pw@h", o, sizeof(o));
    EXPECT_STR(o, "postgres://app:***@db/x and redis://:***@h");
    fl_redact_url("redis://:a@b@h:1", o, sizeof(o));   /* the last '@' ends the userinfo */
    EXPECT_STR(o, "redis://:***@h:1");
    fl_redact_url("redis://:pw@h", o, 8);
    EXPECT_STR(o, "redis:/");
}

UNIT(text_redact_cmd)
{
    char o[128];
    fl_redact_cmd("curl -u admin:S3CRET http://x/", o, sizeof(o));
    EXPECT(!strncmp(o, "curl \xe2\x80\xa6#", 9));
    EXPECT(!strstr(o, "S3CRET"));
    EXPECT_EQ_INT(strlen(o), 9 + 8);
    char o2[128];
    fl_redact_cmd("curl -u admin:OTHER http://x/", o2, sizeof(o2));
    EXPECT(strcmp(o, o2) != 0);                   /* the hash tells two commands apart */
    fl_redact_cmd("PGPASSWORD=hunter2 FOO=1 psql -c 'select 1'", o, sizeof(o));
    EXPECT(!strncmp(o, "psql \xe2\x80\xa6#", 9));
    EXPECT(!strstr(o, "hunter2"));
    fl_redact_cmd("SECRET=x", o, sizeof(o));
    EXPECT(!strstr(o, "SECRET") && !strncmp(o, "\xe2\x80\xa6#", 4));
    fl_redact_cmd("", o, sizeof(o));
    EXPECT_STR(o, "");
}

UNIT(text_redact_profile)
{
    const char *in =
        "[faultline]\n"
        "admin_token = tok-SECRET-1   ; the token\n"
        "redis = redis://:pw-SECRET-2@127.0.0.1:6379/1\n"
        "run = gameday-7\n"
        "; admin_token = old-SECRET-3\n"
        "[scenario]\n"
        "name = s\n"
        "load = curl -u u:SECRET-4 http://x\n"
        "postgres = host=x password=SECRET-5\n"
        "[action restart]\n"
        "at = a+1s\n"
        "run: kill SECRET-6\n"
        "[proxy p]\n"
        "listen = 127.0.0.1:1\n"
        "; see http://u:SECRET-7@h\n";
    char *o = fl_redact_profile(in);
    EXPECT(!strstr(o, "SECRET"));
    EXPECT_CONTAINS(o, "admin_token = ***\n");
    EXPECT_CONTAINS(o, "redis = redis://:***@127.0.0.1:6379/1\n");
    EXPECT_CONTAINS(o, "run = gameday-7\n");      /* [faultline] run is the run id */
    EXPECT_CONTAINS(o, "load = curl \xe2\x80\xa6#");
    EXPECT_CONTAINS(o, "run: kill \xe2\x80\xa6#");
    EXPECT_CONTAINS(o, "listen = 127.0.0.1:1\n");
    EXPECT_CONTAINS(o, "[action restart]\n");
    free(o);
}

UNIT(text_clip)
{
    char big[1000], o[FL_CLIP_MAX + 1];
    int cl = -1;
    EXPECT_EQ_INT(fl_clip("abc", 3, o, &cl), 3);
    EXPECT_STR(o, "abc");
    EXPECT_EQ_INT(cl, 0);
    memset(big, 'a', sizeof(big));
    size_t n = fl_clip(big, sizeof(big), o, &cl);
    EXPECT_EQ_INT(cl, 1);
    EXPECT_EQ_INT(n, FL_CLIP_MAX);
    EXPECT_EQ_INT(strlen(o), FL_CLIP_MAX);
    EXPECT(!memcmp(o + FL_CLIP_KEEP, "\xe2\x80\xa6#", 4));
    char again[FL_CLIP_MAX + 1];
    EXPECT_EQ_INT(fl_clip(o, n, again, &cl), n);   /* idempotent */
    EXPECT_EQ_INT(cl, 0);
    big[500] = 'b';                                  /* the hash covers the whole value */
    fl_clip(big, sizeof(big), again, NULL);
    EXPECT(strcmp(o, again) != 0);
    /* a 3-byte character across the cut is left out whole */
    memset(big, 'a', sizeof(big));
    memcpy(big + FL_CLIP_KEEP - 1, "\xe2\x82\xac", 3);
    n = fl_clip(big, sizeof(big), o, NULL);
    EXPECT_EQ_INT(n, FL_CLIP_MAX - 1);
    EXPECT(!memcmp(o + FL_CLIP_KEEP - 1, "\xe2\x80\xa6", 3));
}

UNIT(text_json_str)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fl_json_str(f, "a\"b\\c\n\x01\xff\xc3\xa9", 10);
    fclose(f);
    EXPECT_STR(buf, "\"a\\\"b\\\\c\\n\\u0001\\u00ff\xc3\xa9\"");
    free(buf);
    EXPECT_EQ_INT(fl_utf8_len((const unsigned char *)"\xc3\xa9", 1), 0);   /* cut */
    EXPECT_EQ_INT(fl_utf8_len((const unsigned char *)"\xed\xa0\x80", 3), 0); /* surrogate */
    EXPECT_EQ_INT(fl_utf8_len((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
}

UNIT(text_printable)
{
    char o[64];
    fl_printable("plain caf\xc3\xa9 \xe2\x80\xa6", o, sizeof(o));
    EXPECT_STR(o, "plain caf\xc3\xa9 \xe2\x80\xa6");          /* UTF-8 kept */
    fl_printable("a\x1b[2J\x1b]0;pwned\x07z", o, sizeof(o));
    EXPECT_STR(o, "a?[2J?]0;pwned?z");                             /* C0 controls: ESC, BEL */
    fl_printable("x\xc2\x9b" "31m\x7fy", o, sizeof(o));
    EXPECT_STR(o, "x?31m?y");                                      /* C1 CSI and DEL */
    fl_printable("\xff\xc3(\xe2\x82", o, sizeof(o));
    EXPECT_STR(o, "?" "?(?" "?");                                      /* malformed bytes */
    fl_printable("ab\xc3\xa9", o, 4);
    EXPECT_STR(o, "ab");                                           /* cut at a character */
    fl_printable("tab\there\nnl", o, sizeof(o));
    EXPECT_STR(o, "tab?here?nl");
}
