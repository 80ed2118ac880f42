/* common/text.c -- secrets redacted, long values clipped, any bytes as a JSON string (see
 * common/text.h for the rules and why they are in one place). */
#include "common/text.h"
#include "common/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int fl_utf8_len(const unsigned char *p, size_t avail)
{
    if (!avail) return 0;
    if (*p < 0x80) return 1;
    int n = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
    if ((size_t)n > avail) return 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    if (n == 2 && *p < 0xc2) return 0;
    if (n == 3) {
        unsigned cp = ((p[0] & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
        if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    }
    if (n == 4) {
        unsigned cp = ((p[0] & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) | ((p[2] & 0x3fu) << 6) | (p[3] & 0x3fu);
        if (cp < 0x10000 || cp > 0x10ffff) return 0;
    }
    return n;
}

/* The character at p (within avail bytes): its length in *take (1 for a malformed byte), and 1 when
 * it is shown as '?' -- malformed, or a control character (C0 but tab when keep_tab, DEL, C1) */
static int unprintable(const unsigned char *p, size_t avail, int keep_tab, size_t *take)
{
    int l = fl_utf8_len(p, avail);
    *take = l ? (size_t)l : 1;   /* a control character is one '?', whatever its length */
    if (l == 0) return 1;
    if (l == 1) return (*p < 0x20 && !(keep_tab && *p == '\t')) || *p == 0x7f;
    return l == 2 && p[0] == 0xc2 && p[1] < 0xa0;
}

void fl_printable(const char *in, char *out, size_t n)
{
    if (!n) return;
    size_t o = 0, avail = strlen(in);
    const unsigned char *p = (const unsigned char *)in;
    while (avail) {
        size_t take;
        int bad = unprintable(p, avail, 0, &take);
        if (o + (bad ? 1 : take) >= n) break;
        if (bad) out[o++] = '?';
        else { memcpy(out + o, p, take); o += take; }
        p += take;
        avail -= take;
    }
    out[o] = 0;
}

void fl_put_printable(FILE *f, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    while (n) {
        size_t take;
        int bad = unprintable(p, n, 1, &take);
        if (bad) fputc('?', f);
        else fwrite(p, 1, take, f);
        p += take;
        n -= take;
    }
}

/* ---- clipping ---- */

uint32_t fl_hash32(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

size_t fl_clip(const char *s, size_t n, char out[FL_CLIP_MAX + 1], int *clipped)
{
    if (n <= FL_CLIP_MAX) {
        memcpy(out, s, n);
        out[n] = 0;
        if (clipped) *clipped = 0;
        return n;
    }
    size_t k = FL_CLIP_KEEP;
    /* s[k] is the first byte left out: never cut a character in two */
    while (k > FL_CLIP_KEEP - 3 && ((unsigned char)s[k] & 0xc0) == 0x80) k--;
    memcpy(out, s, k);
    k += (size_t)snprintf(out + k, FL_CLIP_MAX + 1 - k, "\xe2\x80\xa6#%08x", fl_hash32(s, n));
    if (clipped) *clipped = 1;
    return k;
}

/* ---- redaction ---- */

struct sbuf { char *p; size_t len, cap; };

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1) nc *= 2;
        b->p = fl_realloc(b->p, nc);
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* The redacted form of in, into a growing buffer (fl_redact_url copies it out). */
static void redact_url_sb(struct sbuf *b, const char *in)
{
    const char *p = in;
    while (*p) {
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            sb_add(b, p, 3);
            p += 3;
            size_t alen = strcspn(p, "/?# \t\r\n\"'");
            const char *at = NULL;
            for (size_t i = 0; i < alen; i++)
                if (p[i] == '@') at = p + i;
            const char *colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
            if (colon) {             /* USER:PASSWORD@ -> USER:***@ */
                sb_add(b, p, (size_t)(colon + 1 - p));
                sb_str(b, FL_REDACTED);
                p = at;
            }
            continue;
        }
        if (!strncasecmp(p, "password=", 9)) {
            sb_add(b, p, 9);
            p += 9;
            if (*p == '\'' || *p == '"') {   /* libpq's quoted value, \' escapes inside */
                char q = *p++;
                while (*p && *p != q) p += (*p == '\\' && p[1]) ? 2 : 1;
                if (*p) p++;
            } else {
                p += strcspn(p, "& \t\r\n;");
            }
            sb_str(b, FL_REDACTED);
            continue;
        }
        sb_add(b, p, 1);
        p++;
    }
}

void fl_redact_url(const char *in, char *out, size_t n)
{
    if (!n) return;
    struct sbuf b = {0};
    sb_str(&b, "");
    redact_url_sb(&b, in ? in : "");
    snprintf(out, n, "%s", b.p);
    free(b.p);
}

void fl_redact_cmd(const char *cmd, char *out, size_t n)
{
    if (!n) return;
    const char *p = cmd ? cmd : "";
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) { out[0] = 0; return; }
    /* leading NAME=VALUE words are the environment (PGPASSWORD=...): never shown */
    for (;;) {
        const char *q = p;
        if (!(isalpha((unsigned char)*q) || *q == '_')) break;
        while (isalnum((unsigned char)*q) || *q == '_') q++;
        if (*q != '=') break;
        p = q + strcspn(q, " \t");
        while (*p == ' ' || *p == '\t') p++;
    }
    size_t plen = strcspn(p, " \t\r\n;|&<>()");
    if (plen > 64) {
        plen = 64;
        while (plen && ((unsigned char)p[plen] & 0xc0) == 0x80) plen--;   /* whole characters only */
    }
    snprintf(out, n, "%.*s%s\xe2\x80\xa6#%08x", (int)plen, p, plen ? " " : "", fl_hash32(cmd, strlen(cmd)));
}

enum vmode { V_URL = 0, V_SECRET, V_CMD };

static enum vmode value_mode(const char *section, const char *key, size_t klen)
{
    char k[64];
    if (klen >= sizeof(k)) klen = sizeof(k) - 1;
    for (size_t i = 0; i < klen; i++) k[i] = (char)tolower((unsigned char)key[i]);
    k[klen] = 0;
    if (!strcmp(k, "admin_token") || !strcmp(k, "token") || strstr(k, "password") || strstr(k, "secret") ||
        (klen > 6 && !strcmp(k + klen - 6, "_token")))
        return V_SECRET;
    if ((!strcmp(section, "scenario") && !strcmp(k, "load")) || (!strcmp(section, "action") && !strcmp(k, "run")))
        return V_CMD;
    return V_URL;
}

/* One line's content (no newline) of an INI text, redacted into b. section: the current
 * section's type, updated by a header. */
static void redact_line(struct sbuf *b, const char *l, size_t n, char *section, size_t seclen)
{
    char *line = fl_strndup(l, n);
    const char *s = line;
    while (*s == ' ' || *s == '\t') s++;
    if (*s == '[') {
        size_t t = strcspn(s + 1, " \t]");
        snprintf(section, seclen, "%.*s", (int)t, s + 1);
        sb_str(b, line);
        free(line);
        return;
    }
    /* a comment may be a key line put aside ("; admin_token = old"): the same rules apply */
    while (*s == ';' || *s == '#' || *s == ' ' || *s == '\t') s++;
    const char *sep = s + strcspn(s, "=:");
    if (!*sep || sep == s) {
        redact_url_sb(b, line);
        free(line);
        return;
    }
    const char *ke = sep;
    while (ke > s && (ke[-1] == ' ' || ke[-1] == '\t')) ke--;
    enum vmode m = value_mode(section, s, (size_t)(ke - s));
    if (m == V_URL) {          /* the whole line: a ':' taken for the separator may be a URL's */
        redact_url_sb(b, line);
        free(line);
        return;
    }
    sb_add(b, line, (size_t)(sep + 1 - line));
    const char *v = sep + 1;
    while (*v == ' ' || *v == '\t') { sb_add(b, v, 1); v++; }
    if (m == V_SECRET) {
        if (*v) sb_str(b, FL_REDACTED);
    } else {
        char *val = fl_strdup(v);   /* without its inline comment, as inidoc reads it */
        for (size_t i = 1; val[0] && val[i]; i++)
            if (val[i] == ';' && (val[i - 1] == ' ' || val[i - 1] == '\t')) { val[i] = 0; break; }
        size_t vl = strlen(val);
        while (vl && (val[vl - 1] == ' ' || val[vl - 1] == '\t' || val[vl - 1] == '\r')) val[--vl] = 0;
        char red[128];
        fl_redact_cmd(val, red, sizeof(red));
        sb_str(b, red);
        free(val);
    }
    free(line);
}

char *fl_redact_profile(const char *text)
{
    struct sbuf b = {0};
    sb_str(&b, "");
    char section[64] = "";
    for (const char *p = text ? text : ""; *p;) {
        size_t n = strcspn(p, "\n");
        redact_line(&b, p, n, section, sizeof(section));
        p += n;
        if (*p == '\n') { sb_add(&b, "\n", 1); p++; }
    }
    return b.p;
}

/* ---- JSON ---- */

void fl_json_str(FILE *f, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    putc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') { putc('\\', f); putc(c, f); i++; continue; }
        if (c == '\n') { fputs("\\n", f); i++; continue; }
        if (c == '\r') { fputs("\\r", f); i++; continue; }
        if (c == '\t') { fputs("\\t", f); i++; continue; }
        int k = c < 0x20 || c == 0x7f ? 0 : fl_utf8_len(p + i, n - i);
        if (!k) { fprintf(f, "\\u%04x", c); i++; continue; }
        fwrite(p + i, 1, (size_t)k, f);
        i += (size_t)k;
    }
    putc('"', f);
}
