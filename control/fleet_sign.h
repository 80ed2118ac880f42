/* fleet_sign.h -- what a fleet command is on the wire, and how it is judged: HMAC-SHA256
 * signatures, timestamps, nonces, and label selectors. docs/fleet.md ("Signed commands").
 *
 * What: a command is one Redis stream entry with two fields, `m` (a JSON object, the message:
 * v, id, ts, nonce, op, ...) and `sig` (hex HMAC-SHA256 under the fleet key of the bytes
 * FLEET_SIG_DOMAIN followed by m, exactly as stored). The canonical message is the stored text
 * itself: the signer writes the bytes once and the verifier checks those bytes, so no
 * re-serialisation can differ. An instance acts on a message only when it is signed, the
 * signature is right, ts is within FLEET_SKEW_MS of its own clock, and its nonce was not seen.
 * Why: anyone who can write to the fleet's Redis must not thereby be able to inject faults into
 * every instance; the key file (mode 0600) is the authority, Redis only the transport.
 * What not: no I/O, no Redis; OpenSSL's HMAC (EVP_MAC) does the cryptography. Used by the
 * daemon (control/fleet*.c) and by `ctl --fleet` (cli/fleet.c).
 */
#ifndef FL_FLEET_SIGN_H
#define FL_FLEET_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define FLEET_SIG_DOMAIN "faultline-fleet-v1\n"
#define FLEET_SKEW_MS 30000           /* a message older or newer than this is stale */
#define FLEET_NONCES 8192             /* nonces remembered (a bounded ring) */
#define FLEET_MAX_MSG (512 * 1024)    /* a message longer than this is malformed */

/* Hex HMAC-SHA256 of FLEET_SIG_DOMAIN + msg under key into out (65 bytes). 0, or -1. */
int fleet_sign(const unsigned char *key, size_t klen, const char *msg, size_t mlen, char out[65]);

/* n random bytes as 2n hex characters into out (2n+1 bytes). */
void fleet_rand_hex(char *out, size_t n);

/* The nonces of the messages accepted in the last 2 * FLEET_SKEW_MS (older ones cannot come
 * back: they would be stale). A ring: when it is full of live nonces the oldest is forgotten
 * and counted in evicted. Plain data; zero it to start. */
struct fleet_nonces {
    struct { char n[40]; int64_t ts_ms; } e[FLEET_NONCES];
    int next;
    uint64_t evicted;
};

enum fleet_verdict { FV_OK = 0, FV_UNSIGNED, FV_BADSIG, FV_STALE, FV_REPLAY, FV_MALFORMED, FV_NVERDICTS };
const char *fleet_verdict_str(enum fleet_verdict v);   /* "ok", "unsigned", "bad_signature", ... */

/* Judges one message (sig NULL: unsigned). FV_OK: *out is the message as JSON (caller decrefs)
 * and its nonce is remembered; else *out is NULL. now_ms is the wall clock. */
enum fleet_verdict fleet_verify(const unsigned char *key, size_t klen, struct fleet_nonces *nc, const char *msg,
                                size_t mlen, const char *sig, int64_t now_ms, json_t **out);

/* A new message {"v": 1, "id", "ts", "nonce", "op", "from"}: id and nonce random, ts now_ms.
 * New reference; the caller adds the operation's fields, then seals it. */
json_t *fleet_msg_new(const char *op, const char *from, int64_t now_ms);
/* The message's text (*m, malloc'd: the stream entry's `m`) and its signature (the `sig`).
 * 0, or -1. */
int fleet_msg_seal(json_t *msg, const unsigned char *key, size_t klen, char **m, char sig[65]);

/* One instance of the registry as GET /fleet/instances lists it: inst is the registry key's
 * text (NULL: expired, the instance is gone), labels the labels hash's text for it (may be
 * NULL), seen_ms the members set's score. New reference. */
json_t *fleet_instance_json(const char *id, int64_t seen_ms, const char *inst, const char *labels, int64_t now_ms);

/* ---- selectors: "service=checkout,zone=a", "zone!=b", "version=1.*" (globs), "id=host:1" ---- */
#define FLEET_SEL_MAX 16
struct fleet_sel {
    int n;
    struct { char key[64], val[128]; int neg; } t[FLEET_SEL_MAX];
};
/* "" and "*" select every instance. 0, or -1 with the reason in err. */
int fleet_sel_parse(const char *text, struct fleet_sel *s, char *err, size_t errlen);
/* 1 when the instance (id, labels: a JSON object of strings) matches every term. A missing
 * label matches k!=v and never k=v. */
int fleet_sel_match(const struct fleet_sel *s, const char *id, json_t *labels);

#endif
