/* test_profile.c -- profiles and inidocs from text: line numbers, defaults, errors. */
#include "unit.h"
#include "common/inidoc.h"
#include "proxy/profile.h"
#include "proxy/protocol.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>

UNIT(inidoc_lines_of_sections_and_keys)
{
    char e[512];
    const char *t = "; comment\n"
                    "\n"
                    "[faultline]\n"
                    "log = debug   ; inline comment\n"
                    "  # hash comment\n"
                    "[proxy web]\n"
                    "  listen = 127.0.0.1:1\n"
                    "upstream=127.0.0.1:2\n"
                    "[proxy db]\n"
                    "[fault f]\n"
                    "type = latency\n";
    struct inidoc *d = inidoc_parse("t.ini", t, e, sizeof(e));
    EXPECT(d != NULL);
    if (!d) return;
    /* a section with no keys has no handler call in inih: [proxy db] is not seen */
    EXPECT_EQ_INT(d->nsecs, 3);
    EXPECT_STR(d->secs[0].type, "faultline");
    EXPECT_STR(d->secs[0].name, "");
    EXPECT_EQ_INT(d->secs[0].line, 3);
    EXPECT_EQ_INT(d->secs[0].keys[0].line, 4);
    EXPECT_STR(d->secs[0].keys[0].value, "debug");
    EXPECT_STR(d->secs[1].type, "proxy");
    EXPECT_STR(d->secs[1].name, "web");
    EXPECT_EQ_INT(d->secs[1].line, 6);
    EXPECT_EQ_INT(d->secs[1].nkeys, 2);
    EXPECT_EQ_INT(d->secs[1].keys[0].line, 7);
    EXPECT_STR(d->secs[1].keys[1].key, "upstream");
    EXPECT_EQ_INT(d->secs[1].keys[1].line, 8);
    EXPECT_STR(d->secs[2].type, "fault");
    EXPECT_EQ_INT(d->secs[2].line, 10);
    EXPECT_EQ_INT(d->secs[2].keys[0].line, 11);
    inidoc_free(d);
}

UNIT(inidoc_same_section_twice_is_two_sections)
{
    char e[512];
    const char *t = "[proxy a]\nlisten = 1\n[proxy a]\nlisten = 2\n";
    struct inidoc *d = inidoc_parse("t.ini", t, e, sizeof(e));
    EXPECT(d != NULL);
    if (!d) return;
    EXPECT_EQ_INT(d->nsecs, 2);
    EXPECT_EQ_INT(d->secs[1].line, 3);
    EXPECT_EQ_INT(d->secs[1].keys[0].line, 4);
    inidoc_free(d);
}

UNIT(inidoc_crlf_and_no_final_newline)
{
    char e[512];
    struct inidoc *d = inidoc_parse("t.ini", "[a]\r\nk = v\r\n\r\n[b]\r\nx = y", e, sizeof(e));
    EXPECT(d != NULL);
    if (!d) return;
    EXPECT_EQ_INT(d->nsecs, 2);
    EXPECT_STR(d->secs[0].keys[0].value, "v");
    EXPECT_EQ_INT(d->secs[1].keys[0].line, 5);
    EXPECT_STR(d->secs[1].keys[0].value, "y");
    inidoc_free(d);
}

UNIT(inidoc_overlong_line)
{
    char e[512], t[2048], v[300];
    /* content of 199 characters fits inih's 200-byte buffer; 200 does not */
    memset(v, 'y', sizeof(v));
    v[199 - 4] = 0;                                 /* "k = " + 195 = 199 */
    snprintf(t, sizeof(t), "[a]\nk = %s\n", v);
    struct inidoc *d = inidoc_parse("t.ini", t, e, sizeof(e));
    EXPECT(d != NULL);
    if (d) EXPECT_EQ_INT(strlen(d->secs[0].keys[0].value), 195);
    inidoc_free(d);
    memset(v, 'y', sizeof(v));
    v[200 - 4] = 0;
    snprintf(t, sizeof(t), "[a]\nk = v\nk = %s\nafter = 1\n", v);
    EXPECT(inidoc_parse("t.ini", t, e, sizeof(e)) == NULL);
    EXPECT_CONTAINS(e, "t.ini:3: line is longer than 199 characters");
    /* indentation, trailing blanks and comments do not count */
    memset(v, ' ', sizeof(v));
    v[250] = 0;
    snprintf(t, sizeof(t), "[a]\n%sk = v    ; %s\n;%s\n\n#%s\n", v, v, v, v);
    d = inidoc_parse("t.ini", t, e, sizeof(e));
    EXPECT(d != NULL);
    if (d) EXPECT_STR(d->secs[0].keys[0].value, "v");
    inidoc_free(d);
    /* a ';' inside a value (no blank before it) is part of the value */
    d = inidoc_parse("t.ini", "\xEF\xBB\xBF[a]\nk = a;b ; c\n", e, sizeof(e));
    EXPECT(d != NULL);
    if (d) { EXPECT_STR(d->secs[0].keys[0].value, "a;b"); EXPECT_EQ_INT(d->secs[0].line, 1); }
    inidoc_free(d);
}

UNIT(inidoc_errors_have_lines)
{
    char e[512];
    EXPECT(inidoc_parse("t.ini", "k = v\n[a]\n", e, sizeof(e)) == NULL);
    EXPECT_STR(e, "t.ini:1: key 'k' is outside any [section]");
    EXPECT(inidoc_parse("t.ini", "[a]\nk = v\n\nnot a pair\n", e, sizeof(e)) == NULL);
    EXPECT_CONTAINS(e, "t.ini:4: syntax error: 'not a pair' is not key = value");
    EXPECT(inidoc_parse("t.ini", "[a]\nk: v\n", e, sizeof(e)) == NULL);      /* '=' is the only separator */
    EXPECT_CONTAINS(e, "t.ini:2: syntax error: 'k: v' is not key = value");
    /* a key read as one value and given twice: an error at the second line */
    struct inidoc *dd = inidoc_parse("t.ini", "[a]\nk = 1\n[b]\nk = 2\nj = 3\nk = 4\n", e, sizeof(e));
    EXPECT(dd != NULL);
    if (dd) {
        int line;
        EXPECT_STR(inisec_get(&dd->secs[1], "k", &line), "4");
        inisec_get(&dd->secs[1], "j", &line);
        EXPECT(inisec_check_unused(dd, &dd->secs[1], e, sizeof(e)) < 0);
        EXPECT_STR(e, "t.ini:6: duplicate key 'k' in [b] (first at line 4)");
        /* walked, not read as one value (a repeatable key): no error */
        for (int i = 0; i < dd->secs[1].nkeys; i++) { dd->secs[1].keys[i].used = 1; dd->secs[1].keys[i].single = 0; }
        EXPECT(inisec_check_unused(dd, &dd->secs[1], e, sizeof(e)) == 0);
    }
    inidoc_free(dd);
    /* inline comments: ';' or '#' after a blank */
    struct inidoc *d = inidoc_parse("t.ini", "[a]\nk = v # c\nj = x#y ; z\n", e, sizeof(e));
    EXPECT(d != NULL);
    if (d) { EXPECT_STR(d->secs[0].keys[0].value, "v"); EXPECT_STR(d->secs[0].keys[1].value, "x#y"); }
    inidoc_free(d);
    EXPECT(inidoc_parse("t.ini", "[a]\n[b\nk = v\n", e, sizeof(e)) == NULL);
    EXPECT_CONTAINS(e, "t.ini:2: syntax error");
}

UNIT(profile_defaults)
{
    char e[512];
    struct profile *p = profile_parse("p.ini", "[proxy w]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\n", 0, e, sizeof(e));
    EXPECT(p != NULL);
    if (!p) return;
    EXPECT_EQ_INT(p->nproxies, 1);
    EXPECT_EQ_INT(p->g.buffer, 256 * 1024);
    EXPECT_EQ_INT(p->g.drain_us, 5000000);
    EXPECT_EQ_INT(p->g.log_level, LOG_INFO);
    EXPECT_EQ_INT(p->g.log_format, LOG_LOGFMT);
    EXPECT_EQ_INT(p->g.admin_off, 0);
    EXPECT_STR(p->g.admin_text, "127.0.0.1:8474");
    EXPECT_EQ_INT(p->g.max_fault_duration_us, 0);
    EXPECT_EQ_INT(p->g.record_interval_us, 1000000);
    EXPECT_EQ_INT(p->g.retention_us, 7LL * 86400 * 1000000);
    EXPECT_EQ_INT(p->proxies[0].enabled, 1);
    EXPECT_STR(p->proxies[0].protocol->name, "tcp");
    EXPECT_EQ_INT(p->proxies[0].role, ROLE_EGRESS);
    EXPECT_EQ_INT(p->proxies[0].line, 1);
    profile_free(p);
}

UNIT(profile_all_keys)
{
    char e[512];
    const char *t = "[faultline]\n"
                    "admin = off\n"
                    "admin_token = s3cret\n"
                    "log = warn\n"
                    "log_format = json\n"
                    "buffer = 64KiB\n"
                    "drain = 1.5s\n"
                    "max_fault_duration = 10m\n"
                    "redis = unix:/tmp/r.sock\n"
                    "run = gameday-1\n"
                    "instance = i1\n"
                    "retention = 2d\n"
                    "record_interval = 250ms\n"
                    "[proxy a]\n"
                    "listen = [::1]:9000\n"
                    "upstream = db.internal:5432\n"
                    "mode = http\n"
                    "enabled = no\n"
                    "add_via = yes\n"
                    "role = ingress\n"
                    "[proxy b]\n"
                    "listen = unix:/tmp/b.sock\n"
                    "upstream = unix:/tmp/u.sock\n";
    struct profile *p = profile_parse("p.ini", t, 0, e, sizeof(e));
    EXPECT(p != NULL);
    if (!p) { printf("# %s\n", e); return; }
    EXPECT_EQ_INT(p->g.admin_off, 1);
    EXPECT_STR(p->g.admin_token, "s3cret");
    EXPECT_EQ_INT(p->g.log_level, LOG_WARN);
    EXPECT_EQ_INT(p->g.log_format, LOG_JSON);
    EXPECT_EQ_INT(p->g.buffer, 65536);
    EXPECT_EQ_INT(p->g.drain_us, 1500000);
    EXPECT_EQ_INT(p->g.max_fault_duration_us, 600000000LL);
    EXPECT_STR(p->g.redis, "unix:/tmp/r.sock");
    EXPECT_STR(p->g.run, "gameday-1");
    EXPECT_STR(p->g.instance, "i1");
    EXPECT_EQ_INT(p->g.retention_us, 2LL * 86400 * 1000000);
    EXPECT_EQ_INT(p->g.record_interval_us, 250000);
    EXPECT_EQ_INT(p->nproxies, 2);
    EXPECT_STR(p->proxies[0].name, "a");
    EXPECT_EQ_INT(p->proxies[0].listen.kind, ADDR_INET);
    EXPECT_EQ_INT(p->proxies[0].listen.port, 9000);
    EXPECT_EQ_INT(p->proxies[0].upstream.kind, ADDR_NAME);
    EXPECT_STR(p->proxies[0].upstream.host, "db.internal");
    EXPECT_STR(p->proxies[0].protocol->name, "http");
    EXPECT_EQ_INT(p->proxies[0].enabled, 0);
    EXPECT_EQ_INT(p->proxies[0].add_via, 1);
    EXPECT_EQ_INT(p->proxies[0].role, ROLE_INGRESS);
    EXPECT_EQ_INT(p->proxies[0].line, 14);
    EXPECT_EQ_INT(p->proxies[1].listen.kind, ADDR_UNIX);
    EXPECT_STR(p->proxies[1].listen_text, "unix:/tmp/b.sock");
    EXPECT_EQ_INT(p->proxies[1].line, 21);
    profile_free(p);
}

/* err must be exactly "p.ini:LINE: ..." with the given start */
static int err_at(const char *text, const char *want_prefix, char *e, size_t el)
{
    struct profile *p = profile_parse("p.ini", text, 0, e, el);
    if (p) { profile_free(p); return 0; }
    return strncmp(e, want_prefix, strlen(want_prefix)) == 0;
}

UNIT(profile_errors_name_line_and_key)
{
    char e[512];
    EXPECT(err_at("[faultline]\nbuffer = 2KiB\n", "p.ini:2: buffer: must be 4KiB..1GiB", e, sizeof(e)));
    EXPECT(err_at("[faultline]\n\ndrain = 3\n", "p.ini:3: drain: '3' needs a unit", e, sizeof(e)));
    EXPECT(err_at("[faultline]\nrun = a b\n", "p.ini:2: run: 'a b' may hold only", e, sizeof(e)));
    EXPECT(err_at("[faultline]\nnope = 1\n", "p.ini:2: unknown key 'nope' in [faultline]", e, sizeof(e)));
    EXPECT(err_at("[faultline x]\nlog = info\n", "p.ini:1: [faultline] takes no name", e, sizeof(e)));
    EXPECT(err_at("[proxy a]\nlisten = 127.0.0.1:1\n", "p.ini:1: [proxy a] is missing 'upstream'", e, sizeof(e)));
    EXPECT(err_at("[proxy a]\nupstream = 127.0.0.1:1\n", "p.ini:1: [proxy a] is missing 'listen'", e, sizeof(e)));
    /* a misspelt key is named before the key it was meant to be is called missing */
    EXPECT(err_at("[proxy a]\nlisten = 127.0.0.1:1\nupstrem = 127.0.0.1:2\n",
                  "p.ini:3: unknown key 'upstrem' in [proxy a]", e, sizeof(e)));
    EXPECT(err_at("[proxy a]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\n[proxy b]\nupstream = 127.0.0.1:3\n"
                  "listen = 127.0.0.1:1\n",
                  "p.ini:6: listen: 127.0.0.1:1 is already the listen address of [proxy a]", e, sizeof(e)));
    EXPECT(err_at("[proxy a]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\n[proxy a]\nlisten = 127.0.0.1:3\n"
                  "upstream = 127.0.0.1:3\n",
                  "p.ini:4: [proxy a] is defined twice (first at line 1)", e, sizeof(e)));
    EXPECT(err_at("[server]\nx = 1\n", "p.ini:1: unknown section [server]", e, sizeof(e)));
    /* fault names are per proxy: one name on two proxies is two faults, twice on one is an error */
    const char *two = "[proxy a]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:2\n"
                      "[proxy b]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:2\n"
                      "[fault lat]\nproxy = a\ntype = latency\ndelay = 1ms\n"
                      "[fault lat]\nproxy = b\ntype = latency\ndelay = 2ms\n";
    struct profile *p2 = profile_parse("p.ini", two, 0, e, sizeof(e));
    EXPECT(p2 != NULL && p2->nfaults == 2);
    if (p2) EXPECT(!strcmp(p2->faults[0]->proxy, "a") && !strcmp(p2->faults[1]->proxy, "b"));
    profile_free(p2);
    char again[600];
    snprintf(again, sizeof(again), "%s[fault lat]\nproxy = a\ntype = latency\ndelay = 3ms\n", two);
    EXPECT(err_at(again, "p.ini:15: [fault lat] is defined twice on proxy a", e, sizeof(e)));
    /* port 0 on two proxies is not "the same address" (each gets its own port) */
    struct profile *p = profile_parse("p.ini", "[proxy a]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:2\n"
                                               "[proxy b]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:2\n",
                                      0, e, sizeof(e));
    EXPECT(p != NULL);
    profile_free(p);
}

UNIT(profile_scenario_sections_only_when_allowed)
{
    char e[512];
    const char *t = "[proxy a]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\n[scenario]\nname = x\n";
    EXPECT(err_at(t, "p.ini:4: unknown section [scenario]", e, sizeof(e)));
    struct profile *p = profile_parse("p.ini", t, PROF_ALLOW_SCENARIO, e, sizeof(e));
    EXPECT(p != NULL);
    profile_free(p);
}

/* `mode = NAME` resolves through the protocol registry (proxy/protocols/registry.c), and which
 * fault types a proxy accepts is its protocol's answer */
UNIT(profile_mode_through_the_protocol_registry)
{
    char e[512], t[256];
    for (int i = 0; protocols[i]; i++) {
        /* (a protocol that routes each request itself takes no upstream: mode = forward) */
        snprintf(t, sizeof(t), "[proxy a]\nlisten = 127.0.0.1:1\n%smode = %s\n",
                 (protocols[i]->flags & PROTO_ROUTES) ? "" : "upstream = 127.0.0.1:2\n", protocols[i]->name);
        struct profile *p = profile_parse("p.ini", t, 0, e, sizeof(e));
        EXPECT(p != NULL && p->proxies[0].protocol == protocols[i]);
        profile_free(p);
    }
    EXPECT(protocol_find("REDIS") == protocol_find("redis") && protocol_find("udp") == NULL);
    EXPECT_STR(protocol_names(), "tcp, http, postgres, redis, http2, grpc, forward or dns");
    EXPECT(err_at("[proxy a]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\nmode = udp\n",
                  "p.ini:4: mode: 'udp' is not tcp, http, postgres, redis, http2, grpc, forward or dns", e, sizeof(e)));
    EXPECT(err_at("[proxy a]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\nmode = redis\ntls = refuse\n",
                  "p.ini:5: tls: refuse applies to protocols that ask for TLS in their own bytes (mode = postgres); a redis "
                  "proxy passes TLS bytes through unless tls = terminate", e, sizeof(e)));
    EXPECT(err_at("[proxy a]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\nmode = http\n"
                  "[fault f]\nproxy = a\ntype = pg_error\nsqlstate = 40001\n",
                  "p.ini:7: [fault f] type 'pg_error' needs a postgres proxy; 'a' is mode http", e, sizeof(e)));
    const struct fault_type *pg = fault_type_find("pg_error"), *lat = fault_type_find("latency");
    EXPECT(protocol_for_fault(pg) == protocol_find("postgres") && protocol_for_fault(lat) == NULL);
    EXPECT(protocol_accepts(protocol_find("postgres"), pg) && !protocol_accepts(protocol_find("tcp"), pg));
    /* every protocol takes a tcp-level type but dns, which has no byte stream (its accepts hook) */
    for (int i = 0; protocols[i]; i++) EXPECT(protocol_accepts(protocols[i], lat) == (protocols[i] != protocol_find("dns")));
    EXPECT(protocol_accepts(protocol_find("dns"), fault_type_find("refuse")));
}

UNIT(profile_admin_token_name)
{
    char e[512];
    const char *px = "[proxy w]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\n";
    char t[512];
    snprintf(t, sizeof(t), "[faultline]\nadmin_token_name = ops.team-1@x\n%s", px);
    struct profile *p = profile_parse("p.ini", t, 0, e, sizeof(e));
    EXPECT(p != NULL);
    if (p) EXPECT_STR(p->g.pol.token_name, "ops.team-1@x");
    profile_free(p);
    snprintf(t, sizeof(t), "[faultline]\nadmin_token_name = has space\n%s", px);
    p = profile_parse("p.ini", t, 0, e, sizeof(e));
    EXPECT(p == NULL);
    EXPECT_CONTAINS(e, "p.ini:2: admin_token_name: 'has space' is not 1-63 letters");
    profile_free(p);
    snprintf(t, sizeof(t), "[faultline]\nadmin_token_name = %s\n%s",
             "a234567890123456789012345678901234567890123456789012345678901234", px);
    p = profile_parse("p.ini", t, 0, e, sizeof(e));
    EXPECT(p == NULL);
    EXPECT_CONTAINS(e, "admin_token_name:");
    profile_free(p);
}
