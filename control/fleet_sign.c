/* fleet_sign.c -- signatures, nonces and selectors of fleet commands. See fleet_sign.h.
 *
 * The HMAC is OpenSSL's EVP_MAC ("HMAC", digest SHA256); the comparison is CRYPTO_memcmp, so
 * the time taken says nothing about how much of a forged signature was right. Nonces are
 * compared by a linear walk of the ring: commands are rare (a game day sends tens per minute),
 * and 8192 short compares cost microseconds.
 */
#include "control/fleet_sign.h"
#include "proxy/fleet_spec.h"
#include "common/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/core_names.h>

static void hex(const unsigned char *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) { out[2 * i] = d[b[i] >> 4]; out[2 * i + 1] = d[b[i] & 15]; }
    out[2 * n] = 0;
}

int fleet_sign(const unsigned char *key, size_t klen, const char *msg, size_t mlen, char out[65])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    unsigned char md[32];
    size_t mdlen = 0;
    int ok = ctx && EVP_MAC_init(ctx, key, klen, params) &&
             EVP_MAC_update(ctx, (const unsigned char *)FLEET_SIG_DOMAIN, strlen(FLEET_SIG_DOMAIN)) &&
             EVP_MAC_update(ctx, (const unsigned char *)msg, mlen) && EVP_MAC_final(ctx, md, &mdlen, sizeof(md)) &&
             mdlen == 32;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    if (!ok) { out[0] = 0; return -1; }
    hex(md, 32, out);
    return 0;
}

void fleet_rand_hex(char *out, size_t n)
{
    unsigned char b[64];
    if (n > sizeof(b)) n = sizeof(b);
    if (RAND_bytes(b, (int)n) != 1) abort();
    hex(b, n, out);
}

const char *fleet_verdict_str(enum fleet_verdict v)
{
    static const char *s[] = {"ok", "unsigned", "bad_signature", "stale", "replayed", "malformed"};
    return v < FV_NVERDICTS ? s[v] : "?";
}

/* 1 if nonce n was accepted within the live window; else remembers it (0). */
static int nonce_seen(struct fleet_nonces *nc, const char *n, int64_t ts_ms, int64_t now_ms)
{
    for (int i = 0; i < FLEET_NONCES; i++)
        if (nc->e[i].n[0] && !strcmp(nc->e[i].n, n) && nc->e[i].ts_ms >= now_ms - 2 * FLEET_SKEW_MS) return 1;
    int at = nc->next;
    if (nc->e[at].n[0] && nc->e[at].ts_ms >= now_ms - 2 * FLEET_SKEW_MS) nc->evicted++;
    snprintf(nc->e[at].n, sizeof(nc->e[at].n), "%s", n);
    nc->e[at].ts_ms = ts_ms;
    nc->next = (at + 1) % FLEET_NONCES;
    return 0;
}

enum fleet_verdict fleet_verify(const unsigned char *key, size_t klen, struct fleet_nonces *nc, const char *msg,
                                size_t mlen, const char *sig, int64_t now_ms, json_t **out)
{
    *out = NULL;
    if (!sig || !*sig) return FV_UNSIGNED;
    if (mlen > FLEET_MAX_MSG) return FV_MALFORMED;
    char want[65];
    if (fleet_sign(key, klen, msg, mlen, want) < 0) return FV_BADSIG;
    if (strlen(sig) != 64 || CRYPTO_memcmp(want, sig, 64) != 0) return FV_BADSIG;
    json_t *j = json_loadb(msg, mlen, 0, NULL);
    json_t *ts = json_object_get(j, "ts"), *nonce = json_object_get(j, "nonce");
    if (!json_is_object(j) || !json_is_integer(ts) || !json_is_string(nonce) ||
        strlen(json_string_value(nonce)) < 16 || strlen(json_string_value(nonce)) > 39 ||
        !json_is_string(json_object_get(j, "op"))) {
        json_decref(j);
        return FV_MALFORMED;
    }
    int64_t t = (int64_t)json_integer_value(ts);
    if (t < now_ms - FLEET_SKEW_MS || t > now_ms + FLEET_SKEW_MS) { json_decref(j); return FV_STALE; }
    if (nonce_seen(nc, json_string_value(nonce), t, now_ms)) { json_decref(j); return FV_REPLAY; }
    *out = j;
    return FV_OK;
}

int fleet_sel_parse(const char *text, struct fleet_sel *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    if (!text || !*text || !strcmp(text, "*") || !strcmp(text, "all")) return 0;
    char buf[2048];
    if (strlen(text) >= sizeof(buf)) { snprintf(err, errlen, "selector too long"); return -1; }
    snprintf(buf, sizeof(buf), "%s", text);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ') t++;
        char *eq = strchr(t, '=');
        if (!eq || eq == t) { snprintf(err, errlen, "selector term '%s' is not KEY=VALUE or KEY!=VALUE", t); return -1; }
        if (s->n == FLEET_SEL_MAX) { snprintf(err, errlen, "more than %d selector terms", FLEET_SEL_MAX); return -1; }
        int neg = eq > t && eq[-1] == '!';
        char *kend = neg ? eq - 1 : eq;
        *kend = 0;
        const char *v = eq + 1;
        if (!fleet_word_ok(t, sizeof(s->t[0].key))) { snprintf(err, errlen, "selector key '%s' is not a label name", t); return -1; }
        if (!*v || strlen(v) >= sizeof(s->t[0].val) ||
            strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@*?[]!") != strlen(v)) {
            snprintf(err, errlen, "selector value '%s' of %s is not a label value or glob", v, t);
            return -1;
        }
        snprintf(s->t[s->n].key, sizeof(s->t[0].key), "%s", t);
        snprintf(s->t[s->n].val, sizeof(s->t[0].val), "%s", v);
        s->t[s->n].neg = neg;
        s->n++;
    }
    return 0;
}

int fleet_sel_match(const struct fleet_sel *s, const char *id, json_t *labels)
{
    for (int i = 0; i < s->n; i++) {
        const char *have = NULL;
        if (!strcmp(s->t[i].key, "id")) have = id;
        else {
            json_t *v = json_object_get(labels, s->t[i].key);
            have = json_is_string(v) ? json_string_value(v) : NULL;
        }
        int m = have && glob_match(s->t[i].val, have);
        if (m == s->t[i].neg) return 0;
    }
    return 1;
}

json_t *fleet_msg_new(const char *op, const char *from, int64_t now_ms)
{
    char id[33], nonce[33];
    fleet_rand_hex(id, 8);
    fleet_rand_hex(nonce, 16);
    return json_pack("{s:i, s:s, s:I, s:s, s:s, s:s}", "v", 1, "id", id, "ts", (json_int_t)now_ms, "nonce", nonce, "op", op,
                     "from", from ? from : "");
}

int fleet_msg_seal(json_t *msg, const unsigned char *key, size_t klen, char **m, char sig[65])
{
    *m = json_dumps(msg, JSON_COMPACT | JSON_SORT_KEYS);
    if (!*m) return -1;
    if (fleet_sign(key, klen, *m, strlen(*m), sig) < 0) { free(*m); *m = NULL; return -1; }
    return 0;
}

json_t *fleet_instance_json(const char *id, int64_t seen_ms, const char *inst, const char *labels, int64_t now_ms)
{
    json_t *j = inst ? json_loads(inst, 0, NULL) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        json_t *l = labels ? json_loads(labels, 0, NULL) : NULL;
        if (!json_is_object(l)) { json_decref(l); l = json_object(); }
        return json_pack("{s:s, s:o, s:s, s:I, s:I, s:[], s:[]}", "id", id, "labels", l, "state", "gone", "last_seen_ms",
                         (json_int_t)seen_ms, "age_ms", (json_int_t)(now_ms - seen_ms), "proxies", "faults");
    }
    json_t *ts = json_object_get(j, "ts_ms");
    int64_t seen = json_is_integer(ts) ? (int64_t)json_integer_value(ts) : seen_ms;
    json_object_set_new(j, "id", json_string(id));
    json_object_set_new(j, "state", json_string("up"));
    json_object_set_new(j, "last_seen_ms", json_integer((json_int_t)seen));
    json_object_set_new(j, "age_ms", json_integer((json_int_t)(now_ms - seen)));
    if (!json_is_object(json_object_get(j, "labels"))) json_object_set_new(j, "labels", json_object());
    if (!json_is_array(json_object_get(j, "proxies"))) json_object_set_new(j, "proxies", json_array());
    if (!json_is_array(json_object_get(j, "faults"))) json_object_set_new(j, "faults", json_array());
    return j;
}
