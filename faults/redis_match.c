/* redis_match.c -- what the Redis fault types share: match_command / match_key, freeing the
 * settings, and the cluster key slot (for MOVED answers). See faults/redis_fault.h.
 */
#include "faults/redis_fault.h"
#include "common/parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_die(const char *v)
{
    char *p = strdup(v);
    if (!p) abort();
    return p;
}

int resp_match_set(struct resp_fcfg *c, const char *k, const char *v, char *err, size_t errlen)
{
    if (!strcmp(k, "match_command")) {
        free(c->command);
        c->command = dup_or_die(v);
        for (char *p = c->command; *p; p++) *p = (char)toupper((unsigned char)*p);
        return FKEY_OK;
    }
    if (!strcmp(k, "match_key")) {
        free(c->key);
        c->key = dup_or_die(v);
        return FKEY_OK;
    }
    (void)err;
    (void)errlen;
    return FKEY_UNKNOWN;
}

void resp_match_attrs(const struct resp_fcfg *c, fault_attr_fn emit, void *ud)
{
    if (c->command) emit(ud, "match_command", c->command);
    if (c->key) emit(ud, "match_key", c->key);
}

int resp_match_ok(const struct resp_fcfg *c, const char *name, const char *key)
{
    if (c->command && !glob_match(c->command, name ? name : "")) return 0;
    if (c->key && (!key || !glob_match(c->key, key))) return 0;
    return 1;
}

void resp_fcfg_free(void *cfg)
{
    struct resp_fcfg *c = cfg;
    free(c->command);
    free(c->key);
    free(c->error);
    free(c->moved_to);
    c->command = c->key = c->error = c->moved_to = NULL;
}

static uint16_t crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((unsigned char)buf[i] << 8);
        for (int b = 0; b < 8; b++) crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

unsigned resp_key_slot(const char *key, size_t len)
{
    /* {tag}: only the part between the first { and the next } is hashed, if not empty */
    const char *o = memchr(key, '{', len);
    if (o) {
        size_t s = (size_t)(o - key) + 1;
        const char *e = memchr(key + s, '}', len - s);
        if (e && e != key + s) return crc16(key + s, (size_t)(e - (key + s))) & 16383;
    }
    return crc16(key, len) & 16383;
}
