/* log.c -- one line per event on stderr. See log.h for the call style.
 *
 * Lines are built in a stack buffer and written with a single write(2), so concurrent writers
 * (several faultline processes sharing a terminal) never interleave within a line.
 */
#include "common/log.h"
#include "common/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum log_level log_min_level = LOG_INFO;
static enum log_format log_fmt = LOG_LOGFMT;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_setup(enum log_level lvl, enum log_format fmt)
{
    log_min_level = lvl;
    log_fmt = fmt;
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, level_names[i]) == 0) { *out = (enum log_level)i; return 0; }
    return -1;
}

int log_format_parse(const char *s, enum log_format *out)
{
    if (strcasecmp(s, "logfmt") == 0) { *out = LOG_LOGFMT; return 0; }
    if (strcasecmp(s, "json") == 0) { *out = LOG_JSON; return 0; }
    return -1;
}

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 (common/text.h). The strings here
 * end with a NUL, which is no continuation byte: a cut sequence is caught without a length. */
static int utf8_len(const unsigned char *p) { return fl_utf8_len(p, 4); }

/* A byte that may not appear as itself in a line: a control byte or one that is not part of
 * well-formed UTF-8. Written as \u00XX (a JSON escape, and readable in logfmt). */
static int put_u00(char *o, unsigned char c) { return sprintf(o, "\\u%04x", c); }

const char *log_q(const char *s)
{
    static char bufs[4][512];
    static int which;
    char *b = bufs[which++ & 3];
    if (!s) s = "";
    int needs = !*s;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || *p < 0x20 || *p >= 0x7f) needs = 1;
    if (!needs) { snprintf(b, 512, "%s", s); return b; }
    size_t o = 0;
    b[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && o < 504;) {
        unsigned char c = *p;
        int n = utf8_len(p);
        if (c == '"' || c == '\\') { b[o++] = '\\'; b[o++] = (char)c; p++; }
        else if (c == '\n') { b[o++] = '\\'; b[o++] = 'n'; p++; }
        else if (c < 0x20 || c == 0x7f || !n) { o += (size_t)put_u00(b + o, c); p++; }
        else { memcpy(b + o, p, (size_t)n); o += (size_t)n; p += n; }
    }
    b[o++] = '"';
    b[o] = 0;
    return b;
}

/* Is [v, e) a JSON number (-?(0|[1-9][0-9]*)(.[0-9]+)?)? Anything else ("-", "1.2.3", "007",
 * "0x10") becomes a string, so every line stays valid JSON. */
static int json_number(const char *v, const char *e)
{
    const char *q = v;
    if (q < e && *q == '-') q++;
    if (q >= e || *q < '0' || *q > '9') return 0;
    if (*q == '0' && q + 1 < e && q[1] >= '0' && q[1] <= '9') return 0;
    while (q < e && *q >= '0' && *q <= '9') q++;
    if (q < e && *q == '.') {
        q++;
        if (q >= e || *q < '0' || *q > '9') return 0;
        while (q < e && *q >= '0' && *q <= '9') q++;
    }
    return q == e;
}

static int is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* Writes [v, e) as the inside of a JSON string at out (room for 6 bytes per input byte).
 * escaped: v is the inside of a log_q-quoted value, whose \" \\ \n \uXXXX are kept. */
static size_t json_str(char *out, const char *v, const char *e, int escaped)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)v, *end = (const unsigned char *)e;
    while (p < end) {
        unsigned char c = *p;
        if (c == '\\' && escaped && p + 1 < end && (p[1] == '"' || p[1] == '\\' || p[1] == 'n')) {
            out[o++] = '\\';
            out[o++] = (char)p[1];
            p += 2;
        } else if (c == '\\' && escaped && p + 5 < end && p[1] == 'u' && is_hex((char)p[2]) && is_hex((char)p[3]) &&
                   is_hex((char)p[4]) && is_hex((char)p[5])) {
            memcpy(out + o, p, 6);
            o += 6;
            p += 6;
        } else if (c == '\\' || c == '"') {
            out[o++] = '\\';
            out[o++] = (char)c;
            p++;
        } else {
            int n = utf8_len(p);
            if (c < 0x20 || c == 0x7f || !n || p + n > end) { o += (size_t)put_u00(out + o, c); p++; }
            else { memcpy(out + o, p, (size_t)n); o += (size_t)n; p += n; }
        }
    }
    return o;
}

/* logfmt pairs -> JSON members. Values in quotes keep their escapes (JSON-compatible); any byte
 * a peer sent that is not well-formed UTF-8, and any control byte, becomes \u00XX, so every
 * line parses as JSON whatever went into it. out has room for 8 bytes per byte of in. */
static size_t pairs_to_json(const char *in, char *out)
{
    size_t o = 0;
    const char *p = in;
    while (*p) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *k = p;
        while (*p && *p != '=' && *p != ' ') p++;
        memcpy(out + o, ",\"", 2);
        o += 2;
        o += json_str(out + o, k, p, 0);
        memcpy(out + o, "\":", 2);
        o += 2;
        if (*p != '=') { memcpy(out + o, "true", 4); o += 4; continue; }
        p++;
        if (*p == '"') {
            const char *v = ++p;
            while (*p && *p != '"') { if (*p == '\\' && p[1]) p++; p++; }
            out[o++] = '"';
            o += json_str(out + o, v, p, 1);
            out[o++] = '"';
            if (*p == '"') p++;
        } else {
            const char *v = p;
            while (*p && *p != ' ') p++;
            if (json_number(v, p)) { memcpy(out + o, v, (size_t)(p - v)); o += (size_t)(p - v); }
            else { out[o++] = '"'; o += json_str(out + o, v, p, 0); out[o++] = '"'; }
        }
    }
    out[o] = 0;
    return o;
}

/* logfmt: the pairs with every control byte and every byte that is not well-formed UTF-8 as
 * \u00XX (quotes and backslashes are left as log_q wrote them). out: 6 bytes per byte of in. */
static void pairs_clean(const char *in, char *out)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p;) {
        int n = utf8_len(p);
        if (*p < 0x20 || *p == 0x7f || !n) { o += (size_t)put_u00(out + o, *p); p++; }
        else { memcpy(out + o, p, (size_t)n); o += (size_t)n; p += n; }
    }
    out[o] = 0;
}

void log_event(enum log_level lvl, const char *event, const char *fmt, ...)
{
    if (lvl < log_min_level) return;
    char pairs[2048];
    va_list ap;
    va_start(ap, fmt);
    pairs[0] = 0;
    if (fmt) vsnprintf(pairs, sizeof(pairs), fmt, ap);
    va_end(ap);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[80];
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000));
    /* worst case: every byte of pairs escaped as \u00XX (6), or a one-letter key per two
     * bytes (",\"\u00XX\":true", 7 per byte) -- the line never needs cutting, so it always parses */
    char members[sizeof(pairs) * 8 + 64];
    char line[sizeof(members) + 256];
    int n;
    if (log_fmt == LOG_JSON) {
        pairs_to_json(pairs, members);
        n = snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":\"%s\"%s}\n", ts,
                     level_names[lvl], event, members);
    } else {
        pairs_clean(pairs, members);
        n = snprintf(line, sizeof(line), "ts=%s level=%s event=%s%s%s\n", ts, level_names[lvl], event,
                     members[0] ? " " : "", members);
    }
    if (n < 0) return;
    if ((size_t)n >= sizeof(line)) { n = sizeof(line) - 1; line[n - 1] = '\n'; }
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
