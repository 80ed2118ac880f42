/* test_fleet.c -- the fleet's signatures, nonces and selectors (control/fleet_sign.c). */
#include "unit.h"
#include "control/fleet_sign.h"

#include <stdlib.h>

static const unsigned char KEY[] = "0123456789abcdef0123456789abcdef";
#define KL (sizeof(KEY) - 1)
#define NOW 1800000000000LL

static char *msg(int64_t ts, const char *nonce)
{
    static char b[400];
    snprintf(b, sizeof(b), "{\"id\":\"c1\",\"nonce\":\"%s\",\"op\":\"kill\",\"sel\":\"\",\"ts\":%lld,\"v\":1}", nonce, (long long)ts);
    return b;
}

UNIT(fleet_sign_known_vector)
{
    /* HMAC-SHA256(key "key", "faultline-fleet-v1\n" + "abc"), as `openssl dgst -sha256 -hmac key` gives it */
    char out[65];
    EXPECT(fleet_sign((const unsigned char *)"key", 3, "abc", 3, out) == 0);
    EXPECT_STR(out, "141521005a3eae62309904c5d27cda3c2b815970879d359ae334386511d8768c");
}

UNIT(fleet_verify_accepts_and_refuses)
{
    static struct fleet_nonces nc;
    memset(&nc, 0, sizeof(nc));
    char sig[65];
    char *m = msg(NOW, "00112233445566778899aabbccddeeff");
    EXPECT(fleet_sign(KEY, KL, m, strlen(m), sig) == 0);
    json_t *j;
    EXPECT_EQ_INT(fleet_verify(KEY, KL, &nc, m, strlen(m), NULL, NOW, &j), FV_UNSIGNED);
    EXPECT(j == NULL);
    EXPECT_EQ_INT(fleet_verify(KEY, KL, &nc, m, strlen(m), "", NOW, &j), FV_UNSIGNED);
    EXPECT_EQ_INT(fleet_verify((const unsigned char *)"another-key-entirely-000", 24, &nc, m, strlen(m), sig, NOW, &j), FV_BADSIG);
    char bad[65];
    memcpy(bad, sig, 65);
    bad[10] = bad[10] == 'a' ? 'b' : 'a';
    EXPECT_EQ_INT(fleet_verify(KEY, KL, &nc, m, strlen(m), bad, NOW, &j), FV_BADSIG);
    EXPECT_EQ_INT(fleet_verify(KEY, KL, &nc, m, strlen(m), "abc", NOW, &j), FV_BADSIG);
    /* a byte of the message changed under a good signature */
    char m2[400];
    snprintf(m2, sizeof(m2), "%s", m);
    m2[strlen(m2) - 2] = '2';
    EXPECT_EQ_INT(fleet_verify(KEY, KL, &nc, m2, strlen(m2), sig, NOW, &j), FV_BADSIG);
    /* stale both ways, at the edge accepted */
    EXPECT_EQ_INT(fleet_verify(KEY, KL, &nc, m, strlen(m), sig, NOW + FLEET_SKEW_MS + 1, &j), FV_STALE);
    EXPECT_EQ_INT(fleet_verify(KEY, KL, &nc, m, strlen(m), sig, NOW - FLEET_SKEW_MS - 1, &j), FV_STALE);
    EXPECT_EQ_INT(fleet_verify(KEY, KL, &nc, m, strlen(m), sig, NOW + FLEET_SKEW_MS, &j), FV_OK);
    EXPECT(json_is_object(j));
    EXPECT_STR(json_string_value(json_object_get(j, "op")), "kill");
    json_decref(j);
    /* the same again: replayed */
    EXPECT_EQ_INT(fleet_verify(KEY, KL, &nc, m, strlen(m), sig, NOW, &j), FV_REPLAY);
    EXPECT(j == NULL);
    /* signed but not a command */
    const char *g = "{\"op\":\"kill\"}";
    EXPECT(fleet_sign(KEY, KL, g, strlen(g), sig) == 0);
    EXPECT_EQ_INT(fleet_verify(KEY, KL, &nc, g, strlen(g), sig, NOW, &j), FV_MALFORMED);
}

UNIT(fleet_nonces_bounded)
{
    static struct fleet_nonces nc;
    memset(&nc, 0, sizeof(nc));
    char sig[65], n[40];
    json_t *j;
    /* more accepted messages than the ring holds, all within the window: the oldest are
     * forgotten and counted; memory stays the ring */
    for (int i = 0; i < FLEET_NONCES + 10; i++) {
        snprintf(n, sizeof(n), "%032d", i);
        char *m = msg(NOW, n);
        fleet_sign(KEY, KL, m, strlen(m), sig);
        if (fleet_verify(KEY, KL, &nc, m, strlen(m), sig, NOW, &j) != FV_OK) { EXPECT(0); break; }
        json_decref(j);
    }
    EXPECT_EQ_INT(nc.evicted, 10);
    /* the newest is still remembered */
    snprintf(n, sizeof(n), "%032d", FLEET_NONCES + 9);
    char *m = msg(NOW, n);
    fleet_sign(KEY, KL, m, strlen(m), sig);
    EXPECT_EQ_INT(fleet_verify(KEY, KL, &nc, m, strlen(m), sig, NOW, &j), FV_REPLAY);
    /* outside the window an old nonce slot is reused without counting an eviction */
    uint64_t ev = nc.evicted;
    snprintf(n, sizeof(n), "%032d", 999999);
    m = msg(NOW + 2 * FLEET_SKEW_MS + 10, n);
    fleet_sign(KEY, KL, m, strlen(m), sig);
    EXPECT_EQ_INT(fleet_verify(KEY, KL, &nc, m, strlen(m), sig, NOW + 2 * FLEET_SKEW_MS + 10, &j), FV_OK);
    json_decref(j);
    EXPECT_EQ_INT(nc.evicted, ev);
}

UNIT(fleet_msg_roundtrip)
{
    static struct fleet_nonces nc;
    memset(&nc, 0, sizeof(nc));
    json_t *m = fleet_msg_new("add", "ctl:test", NOW);
    json_object_set_new(m, "sel", json_string("zone=a"));
    char *txt, sig[65];
    EXPECT(fleet_msg_seal(m, KEY, KL, &txt, sig) == 0);
    json_t *j;
    EXPECT_EQ_INT(fleet_verify(KEY, KL, &nc, txt, strlen(txt), sig, NOW + 5, &j), FV_OK);
    EXPECT_STR(json_string_value(json_object_get(j, "sel")), "zone=a");
    EXPECT_EQ_INT(strlen(json_string_value(json_object_get(j, "nonce"))), 32);
    json_decref(j);
    json_decref(m);
    free(txt);
}

UNIT(fleet_selectors)
{
    struct fleet_sel s;
    char e[300];
    json_t *l = json_pack("{s:s, s:s, s:s}", "service", "checkout", "zone", "a", "version", "1.4.2");
    EXPECT(fleet_sel_parse("", &s, e, sizeof(e)) == 0 && s.n == 0 && fleet_sel_match(&s, "x", l));
    EXPECT(fleet_sel_parse("*", &s, e, sizeof(e)) == 0 && s.n == 0);
    EXPECT(fleet_sel_parse("service=checkout,zone=a", &s, e, sizeof(e)) == 0);
    EXPECT_EQ_INT(s.n, 2);
    EXPECT(fleet_sel_match(&s, "x", l));
    EXPECT(fleet_sel_parse("service=checkout,zone=b", &s, e, sizeof(e)) == 0);
    EXPECT(!fleet_sel_match(&s, "x", l));
    EXPECT(fleet_sel_parse("zone!=b", &s, e, sizeof(e)) == 0 && s.t[0].neg && fleet_sel_match(&s, "x", l));
    EXPECT(fleet_sel_parse("zone!=a", &s, e, sizeof(e)) == 0 && !fleet_sel_match(&s, "x", l));
    EXPECT(fleet_sel_parse("version=1.4.*", &s, e, sizeof(e)) == 0 && fleet_sel_match(&s, "x", l));
    EXPECT(fleet_sel_parse("version=1.[35].*", &s, e, sizeof(e)) == 0 && !fleet_sel_match(&s, "x", l));
    /* a missing label never matches k=v, always matches k!=v */
    EXPECT(fleet_sel_parse("team=pay", &s, e, sizeof(e)) == 0 && !fleet_sel_match(&s, "x", l));
    EXPECT(fleet_sel_parse("team!=pay", &s, e, sizeof(e)) == 0 && fleet_sel_match(&s, "x", l));
    EXPECT(fleet_sel_parse("id=host:12", &s, e, sizeof(e)) == 0 && fleet_sel_match(&s, "host:12", l) && !fleet_sel_match(&s, "host:1", l));
    EXPECT(fleet_sel_parse("zone", &s, e, sizeof(e)) < 0);
    EXPECT_CONTAINS(e, "not KEY=VALUE");
    EXPECT(fleet_sel_parse("=a", &s, e, sizeof(e)) < 0);
    EXPECT(fleet_sel_parse("zone=", &s, e, sizeof(e)) < 0);
    EXPECT(fleet_sel_parse("zone=a b", &s, e, sizeof(e)) < 0);
    EXPECT(fleet_sel_parse("zo ne=a", &s, e, sizeof(e)) < 0);
    json_decref(l);
}

UNIT(fleet_instance_json_up_and_gone)
{
    json_t *up = fleet_instance_json("i1", 100, "{\"labels\":{\"zone\":\"a\"},\"proxies\":[\"db\"],\"faults\":[],\"ts_ms\":150}", NULL, 200);
    EXPECT_STR(json_string_value(json_object_get(up, "state")), "up");
    EXPECT_EQ_INT(json_integer_value(json_object_get(up, "last_seen_ms")), 150);
    EXPECT_EQ_INT(json_integer_value(json_object_get(up, "age_ms")), 50);
    json_t *gone = fleet_instance_json("i2", 100, NULL, "{\"zone\":\"b\"}", 200);
    EXPECT_STR(json_string_value(json_object_get(gone, "state")), "gone");
    EXPECT_STR(json_string_value(json_object_get(json_object_get(gone, "labels"), "zone")), "b");
    EXPECT(json_array_size(json_object_get(gone, "faults")) == 0);
    json_decref(up);
    json_decref(gone);
}
