/* run/export.c -- record.json: every key of a run (fl:run:<run>:*) and its fl:runs entry,
 * written as it is read.
 *
 * A run's record can hold hundreds of thousands of stream entries (each proxy's events stream
 * is capped at ~100k, and a shared Redis may hold more under the run's name), so nothing is
 * gathered in memory: the key names are listed (a few per proxy and instance), sorted, and then
 * each key is read in pages (HSCAN, SSCAN, ZSCAN, LRANGE, XRANGE of 1000) and every page is
 * written out before the next is asked for. The memory used is one page, whatever the record's
 * size (tests/record/limits.sh measures it).
 *
 * The file's shape is {"keys": {KEY: {"type": T, "value": V}}, "run": ID, "started_ms": MS}:
 * hashes as objects, sets and lists as arrays, sorted sets as {member: score}, streams as
 * arrays of entries (their fields and "_id"), strings as strings (null past 16 MiB: faultline
 * writes none). The record is untrusted (Redis may be shared): every string goes through
 * fl_json_str (common/text.h), so bytes that are not UTF-8 come out as \u00XX and the file
 * always parses; a reply of unexpected shape is written as null, never read past. When Redis
 * stops answering midway the export fails (an error for the caller) and the file still parses:
 * what was open is closed (tests/fuzz/fuzz_export.c holds it to both).
 */
#include "run/run.h"
#include "common/mem.h"
#include "common/text.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_PAGE 1000
#define EXPORT_MAX_STRING (16u << 20)

static int is_str(const redisReply *r) { return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS); }

static void put_str(FILE *f, const redisReply *r) { fl_json_str(f, r->str, r->len); }

/* Any reply as JSON (strings, integers, arrays of them; anything else null). */
static void put_reply(FILE *f, const redisReply *r, int depth)
{
    if (is_str(r)) put_str(f, r);
    else if (r && r->type == REDIS_REPLY_INTEGER) fprintf(f, "%lld", (long long)r->integer);
    else if (r && r->type == REDIS_REPLY_ARRAY && depth < 8) {
        putc('[', f);
        for (size_t i = 0; i < r->elements; i++) {
            if (i) putc(',', f);
            put_reply(f, r->element[i], depth + 1);
        }
        putc(']', f);
    } else fputs("null", f);
}

/* A flat [k, v, k, v...] array's pairs into an object being written (*first: no comma yet). */
static void put_pairs(FILE *f, const redisReply *r, int *first)
{
    if (!r || r->type != REDIS_REPLY_ARRAY) return;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        if (!is_str(r->element[i])) continue;
        fputs(*first ? "" : ",", f);
        *first = 0;
        put_str(f, r->element[i]);
        putc(':', f);
        put_reply(f, r->element[i + 1], 1);
    }
}

/* A *SCAN of key (HSCAN, SSCAN, ZSCAN), page by page: pairs into an object (as_pairs) or members
 * into an array. 0, or -1 when Redis did not answer. */
static int put_scan(FILE *f, redisContext *c, const char *cmd, const char *key, size_t klen, int as_pairs)
{
    char cursor[32] = "0";
    int first = 1;
    putc(as_pairs ? '{' : '[', f);
    do {
        redisReply *r = redisCommand(c, "%s %b %s COUNT %d", cmd, key, klen, cursor, EXPORT_PAGE);
        if (!r) { putc(as_pairs ? '}' : ']', f); return -1; }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !is_str(r->element[0])) { freeReplyObject(r); break; }
        snprintf(cursor, sizeof(cursor), "%.*s", (int)r->element[0]->len, r->element[0]->str);
        const redisReply *page = r->element[1];
        if (as_pairs) put_pairs(f, page, &first);
        else if (page->type == REDIS_REPLY_ARRAY)
            for (size_t i = 0; i < page->elements; i++) {
                fputs(first ? "" : ",", f);
                first = 0;
                put_reply(f, page->element[i], 1);
            }
        freeReplyObject(r);
    } while (strcmp(cursor, "0"));
    putc(as_pairs ? '}' : ']', f);
    return 0;
}

/* A stream, entry by entry: [{field: value..., "_id": ID}, ...]. */
static int put_stream(FILE *f, redisContext *c, const char *key, size_t klen)
{
    char from[160] = "-";
    int first = 1;
    putc('[', f);
    for (long page = 0; page < 100000; page++) {
        redisReply *r = redisCommand(c, "XRANGE %b %s + COUNT %d", key, klen, from, EXPORT_PAGE);
        if (!r) { putc(']', f); return -1; }
        size_t got = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        for (size_t i = 0; i < got; i++) {
            const redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || !is_str(e->element[0])) continue;
            fputs(first ? "\n  {" : ",\n  {", f);
            first = 0;
            int ef = 1;
            put_pairs(f, e->element[1], &ef);
            fputs(ef ? "\"_id\":" : ",\"_id\":", f);
            put_str(f, e->element[0]);
            putc('}', f);
            if (i == got - 1) snprintf(from, sizeof(from), "(%.*s", (int)e->element[0]->len, e->element[0]->str);
        }
        freeReplyObject(r);
        if (got < EXPORT_PAGE) break;
    }
    putc(']', f);
    return 0;
}

static int put_list(FILE *f, redisContext *c, const char *key, size_t klen)
{
    putc('[', f);
    for (long start = 0, n = 0;; start += EXPORT_PAGE) {
        redisReply *r = redisCommand(c, "LRANGE %b %ld %ld", key, klen, start, start + EXPORT_PAGE - 1);
        if (!r) { putc(']', f); return -1; }
        size_t got = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        for (size_t i = 0; i < got; i++, n++) {
            if (n) putc(',', f);
            put_reply(f, r->element[i], 1);
        }
        freeReplyObject(r);
        if (got < EXPORT_PAGE) break;
    }
    putc(']', f);
    return 0;
}

static int put_string(FILE *f, redisContext *c, const char *key, size_t klen)
{
    redisReply *r = redisCommand(c, "STRLEN %b", key, klen);
    if (!r) { fputs("null", f); return -1; }
    int small = r->type == REDIS_REPLY_INTEGER && r->integer <= (long long)EXPORT_MAX_STRING;
    freeReplyObject(r);
    if (!small) { fputs("null", f); return 0; }
    if (!(r = redisCommand(c, "GET %b", key, klen))) { fputs("null", f); return -1; }
    put_reply(f, r, 0);
    freeReplyObject(r);
    return 0;
}

/* One key: {"type": T, "value": V}. 0, or -1 when Redis did not answer. */
static int put_key(FILE *f, redisContext *c, const char *key)
{
    size_t klen = strlen(key);
    redisReply *t = redisCommand(c, "TYPE %b", key, klen);
    if (!t) { fputs("null", f); return -1; }
    char type[32];
    snprintf(type, sizeof(type), "%.*s", is_str(t) ? (int)t->len : 4, is_str(t) ? t->str : "none");
    freeReplyObject(t);
    fputs("{\"type\":", f);
    fl_json_str(f, type, strlen(type));
    fputs(",\"value\":", f);
    int rc = 0;
    if (!strcmp(type, "hash")) rc = put_scan(f, c, "HSCAN", key, klen, 1);
    else if (!strcmp(type, "set")) rc = put_scan(f, c, "SSCAN", key, klen, 0);
    else if (!strcmp(type, "zset")) rc = put_scan(f, c, "ZSCAN", key, klen, 1);
    else if (!strcmp(type, "list")) rc = put_list(f, c, key, klen);
    else if (!strcmp(type, "string")) rc = put_string(f, c, key, klen);
    else if (!strcmp(type, "stream")) rc = put_stream(f, c, key, klen);
    else fputs("null", f);
    putc('}', f);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The run's key names (SCAN MATCH), sorted; *keys is malloc'd (each name too). -1 with err. */
static int list_keys(redisContext *c, const char *run, char ***keys, size_t *n, char *err, size_t errlen)
{
    char pat[300], cursor[32] = "0";
    snprintf(pat, sizeof(pat), "fl:run:%s:*", run);
    size_t cap = 0;
    *keys = NULL;
    *n = 0;
    int guard = 0;
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 500", cursor, pat);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !is_str(r->element[0]) ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            snprintf(err, errlen, "SCAN: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr[0] ? c->errstr : "unexpected reply");
            if (r) freeReplyObject(r);
            for (size_t i = 0; i < *n; i++) free((*keys)[i]);
            free(*keys);
            *keys = NULL;
            *n = 0;
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%.*s", (int)r->element[0]->len, r->element[0]->str);
        const redisReply *ks = r->element[1];
        for (size_t i = 0; i < ks->elements; i++) {
            if (!is_str(ks->element[i]) || memchr(ks->element[i]->str, 0, ks->element[i]->len)) continue;
            if (*n == cap) *keys = fl_realloc(*keys, sizeof(char *) * (cap = cap ? cap * 2 : 64));
            (*keys)[(*n)++] = fl_strndup(ks->element[i]->str, ks->element[i]->len);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") && ++guard < 100000);
    if (*n) qsort(*keys, *n, sizeof(char *), cmp_str);
    /* SCAN may return a key twice: keep one */
    size_t w = 0;
    for (size_t i = 0; i < *n; i++) {
        if (w && !strcmp((*keys)[w - 1], (*keys)[i])) { free((*keys)[i]); continue; }
        (*keys)[w++] = (*keys)[i];
    }
    *n = w;
    return 0;
}

int run_redis_export(void *ctx, const char *run, const char *path, char *err, size_t errlen)
{
    redisContext *c = ctx;
    char **keys;
    size_t n;
    if (list_keys(c, run, &keys, &n, err, errlen) < 0) return -1;
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write", path);
        for (size_t i = 0; i < n; i++) free(keys[i]);
        free(keys);
        return -1;
    }
    static char iobuf[1 << 16];
    setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
    int rc = 0;
    fputs("{\n \"keys\": {", f);
    for (size_t i = 0; i < n && rc == 0; i++) {
        fputs(i ? ",\n  " : "\n  ", f);
        fl_json_str(f, keys[i], strlen(keys[i]));
        fputs(": ", f);
        if (put_key(f, c, keys[i]) < 0) {
            snprintf(err, errlen, "redis: %s (reading %s)", c->errstr[0] ? c->errstr : "no answer", keys[i]);
            rc = -1;
        }
    }
    fputs("\n },\n \"run\": ", f);
    fl_json_str(f, run, strlen(run));
    redisReply *sc = rc == 0 ? redisCommand(c, "ZSCORE fl:runs %s", run) : NULL;
    if (sc && sc->type == REDIS_REPLY_STRING) fprintf(f, ",\n \"started_ms\": %.3f", atof(sc->str));
    if (sc) freeReplyObject(sc);
    fputs("\n}\n", f);
    for (size_t i = 0; i < n; i++) free(keys[i]);
    free(keys);
    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, errlen, "%s: write failed", path);
        rc = -1;
    }
    return rc;
}
