/* test_forward.c -- what mode = forward reads of a client's proxy requests
 * (proxy/protocols/forward_parse.c): CONNECT targets, absolute-form URLs, the head rewritten for the
 * origin server, hosts, and the profile's resolve list; the allow-list is common/allow.h's
 * (test_allow.c). */
#include "unit.h"
#include "proxy/protocols/forward.h"

#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

static int auth(const char *s, struct fwd_target *t) { return fwd_parse_authority(s, strlen(s), t); }

UNIT(forward_connect_targets)
{
    struct fwd_target t;
    EXPECT(auth("API.example.test:443", &t) == 0 && t.port == 443 && !t.is_ip);
    EXPECT_STR(t.host, "api.example.test");
    EXPECT(auth("[::1]:8443", &t) == 0 && t.is_ip && t.port == 8443);
    EXPECT_STR(t.host, "::1");
    EXPECT(auth("127.0.0.1:5432", &t) == 0 && t.is_ip);
    EXPECT(auth("api.example.test", &t) < 0);          /* a port is required */
    EXPECT(auth("api.example.test:0", &t) < 0);
    EXPECT(auth("api.example.test:65536", &t) < 0);
    EXPECT(auth("api.example.test:44x", &t) < 0);
    EXPECT(auth("::1:443", &t) < 0);                   /* IPv6 needs brackets */
    EXPECT(auth("a..b:443", &t) < 0);
    EXPECT(auth("-a.test:443", &t) < 0);
    EXPECT(auth("1.2.3:443", &t) < 0);                 /* a numeric last label reads as an address */
    EXPECT(auth("0x7f.1:443", &t) < 0);
    EXPECT(auth("a b:443", &t) < 0);
    EXPECT(auth(":443", &t) < 0);
    char buf[300];
    EXPECT(auth("[::1]:8443", &t) == 0);
    EXPECT_STR(fwd_target_str(&t, buf, sizeof(buf)), "[::1]:8443");
}

UNIT(forward_absolute_urls)
{
    struct fwd_target t;
    char *o = NULL;
    const char *u = "http://API.example.test:8080/a/b?c=d";
    EXPECT(fwd_parse_absolute(u, strlen(u), &t, &o) == 0 && t.port == 8080);
    EXPECT_STR(t.host, "api.example.test");
    EXPECT_STR(o, "/a/b?c=d");
    free(o);
    u = "http://api.example.test";
    EXPECT(fwd_parse_absolute(u, strlen(u), &t, &o) == 0 && t.port == 80);
    EXPECT_STR(o, "/");
    free(o);
    u = "http://[::1]:81/x";
    EXPECT(fwd_parse_absolute(u, strlen(u), &t, &o) == 0 && t.is_ip && t.port == 81);
    EXPECT_STR(t.host, "::1");
    free(o);
    u = "https://api.example.test/";
    EXPECT(fwd_parse_absolute(u, strlen(u), &t, &o) == FWD_HTTPS && !o);
    u = "/just/a/path";
    EXPECT(fwd_parse_absolute(u, strlen(u), &t, &o) == FWD_ORIGIN);
    u = "http://user:pw@api.example.test/";
    EXPECT(fwd_parse_absolute(u, strlen(u), &t, &o) == FWD_USERINFO);
    u = "ftp://api.example.test/";
    EXPECT(fwd_parse_absolute(u, strlen(u), &t, &o) == FWD_BAD);
}

static char *head_for(const char *in, const struct fwd_target *t)
{
    struct evbuffer *b = evbuffer_new();
    char *s = NULL;
    if (fwd_origin_head(in, strlen(in), "/x?y", t, b) == 0) {
        size_t n = evbuffer_get_length(b);
        s = malloc(n + 1);
        evbuffer_remove(b, s, n);
        s[n] = 0;
    }
    evbuffer_free(b);
    return s;
}

UNIT(forward_origin_head)
{
    struct fwd_target t = {"api.example.test", 8080, 0};
    char *h = head_for("GET http://api.example.test:8080/x?y HTTP/1.1\r\nHost: evil.test\r\nProxy-Connection: keep-alive\r\n"
                       "Proxy-Authorization: Basic eA==\r\n\tcontinued\r\nAccept: */*\r\n\r\n", &t);
    EXPECT_STR(h, "GET /x?y HTTP/1.1\r\nAccept: */*\r\nHost: api.example.test:8080\r\n\r\n");
    free(h);
    struct fwd_target t80 = {"api.example.test", 80, 0};
    h = head_for("GET http://api.example.test/ HTTP/1.0\nX-A: 1\n\n", &t80);
    EXPECT_STR(h, "GET /x?y HTTP/1.0\nX-A: 1\nHost: api.example.test\r\n\n");
    free(h);
    EXPECT(head_for("GET\r\n\r\n", &t) == NULL);                       /* no target */
    EXPECT(head_for("GET http://a/ HTTP/1.1\r\nX: y\r\n", &t) == NULL); /* no empty line */
}

UNIT(forward_resolve_list)
{
    char a[64], why[200];
    const char *r = "api.example.test:127.0.0.1, v6.example.test:[::1]\tother.test:10.0.0.1";
    EXPECT(fwd_resolve_check(r, why, sizeof(why)) == 0);
    EXPECT(fwd_resolved(r, "api.example.test", a, sizeof(a)) == 1);
    EXPECT_STR(a, "127.0.0.1");
    EXPECT(fwd_resolved(r, "v6.example.test", a, sizeof(a)) == 1);
    EXPECT_STR(a, "::1");
    EXPECT(fwd_resolved(r, "nope.test", a, sizeof(a)) == 0);
    EXPECT(fwd_resolve_check("api.test", why, sizeof(why)) < 0);
    EXPECT_CONTAINS(why, "is not NAME:ADDRESS");
    EXPECT(fwd_resolve_check("api.test:example.com", why, sizeof(why)) < 0);
    EXPECT(fwd_resolve_check("10.0.0.1:127.0.0.1", why, sizeof(why)) < 0);   /* a name, not an address */
}
