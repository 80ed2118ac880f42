/* log.c -- one line per event on stderr. See log.h for the call style.
 *
 * Lines are built in a stack buffer and written with a single write(2), so concurrent writers
 * (several faultline processes sharing a terminal) never interleave within a line.
 */
#include "common/log.h"

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

const char *log_q(const char *s)
{
    static char bufs[4][512];
    static int which;
    char *b = bufs[which++ & 3];
    if (!s) s = "";
    int needs = !*s;
    for (const char *p = s; *p; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 0x20) needs = 1;
    if (!needs) { snprintf(b, 512, "%s", s); return b; }
    size_t o = 0;
    b[o++] = '"';
    for (const char *p = s; *p && o < 508; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') { b[o++] = '\\'; b[o++] = (char)c; }
        else if (c == '\n') { b[o++] = '\\'; b[o++] = 'n'; }
        else if (c < 0x20) b[o++] = '?';
        else b[o++] = (char)c;
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

/* logfmt pairs -> JSON members. Values in quotes keep their escapes (JSON-compatible). */
static size_t pairs_to_json(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    const char *p = in;
    while (*p && o + 8 < cap) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *k = p;
        while (*p && *p != '=' && *p != ' ') p++;
        size_t kl = (size_t)(p - k);
        o += (size_t)snprintf(out + o, cap - o, ",\"%.*s\":", (int)kl, k);
        if (o >= cap) break;
        if (*p != '=') { o += (size_t)snprintf(out + o, cap - o, "true"); continue; }
        p++;
        if (*p == '"') {
            const char *v = p++;
            while (*p && *p != '"') { if (*p == '\\' && p[1]) p++; p++; }
            if (*p == '"') p++;
            o += (size_t)snprintf(out + o, cap - o, "%.*s", (int)(p - v), v);
        } else {
            const char *v = p;
            while (*p && *p != ' ') p++;
            if (json_number(v, p)) o += (size_t)snprintf(out + o, cap - o, "%.*s", (int)(p - v), v);
            else o += (size_t)snprintf(out + o, cap - o, "\"%.*s\"", (int)(p - v), v);
        }
    }
    if (o >= cap) o = cap - 1;
    out[o] = 0;
    return o;
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
    char line[4096];
    int n;
    if (log_fmt == LOG_JSON) {
        char members[3000];
        pairs_to_json(pairs, members, sizeof(members));
        n = snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":\"%s\"%s}\n", ts,
                     level_names[lvl], event, members);
    } else {
        n = snprintf(line, sizeof(line), "ts=%s level=%s event=%s%s%s\n", ts, level_names[lvl], event,
                     pairs[0] ? " " : "", pairs);
    }
    if (n < 0) return;
    if ((size_t)n >= sizeof(line)) { n = sizeof(line) - 1; line[n - 1] = '\n'; }
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
