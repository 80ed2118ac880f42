/* inidoc.c -- inih driven by a counting reader, so every key knows its line. See inidoc.h. */
#include "common/inidoc.h"

#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Debian's inih is built with INI_MAX_LINE = 200: 199 characters and the terminating NUL. */
#define INIDOC_MAX_LINE 199

struct reader {
    const char *p;
    int line;              /* line number of the text last handed to inih */
    int too_long_line;     /* first line that did not fit */
    int sec_line;          /* line of the last [section] header */
    int noeq_line;         /* first line that is not [section] nor key = value */
    char noeq[80];         /* its text (cut) */
};

struct pstate {
    struct inidoc *d;
    struct reader *r;
    char cur[256];
    int bad_line;
    char why[200];
};

/* Hands inih one line at a time, counting lines. Comments and indentation are removed here
 * (whole-line ';' and '#' comments, and inline comments: a ';' or '#' after a space or tab, as
 * inih's INI_ALLOW_INLINE_COMMENTS reads ';'), so only a line's content counts against inih's
 * fixed buffer: a long comment is fine, a key and value that do not fit are an error naming the
 * line. A value cannot hold " ;" or " #" (write it without the space). */
static char *reader_fn(char *str, int num, void *stream)
{
    struct reader *r = stream;
    if (!r->p || !*r->p) return NULL;
    const char *nl = strchr(r->p, '\n');
    size_t len = nl ? (size_t)(nl - r->p + 1) : strlen(r->p);
    const char *b = r->p, *e = r->p + len;
    r->p += len;
    r->line++;
    if (r->line == 1 && len >= 3 && !memcmp(b, "\xEF\xBB\xBF", 3)) b += 3;   /* UTF-8 BOM */
    while (b < e && (*b == ' ' || *b == '\t')) b++;
    if (b < e && (*b == ';' || *b == '#')) e = b;                      /* comment line */
    for (const char *q = b + 1; q < e; q++)
        if ((*q == ';' || *q == '#') && (q[-1] == ' ' || q[-1] == '\t')) { e = q; break; } /* inline comment */
    while (e > b && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) e--;
    size_t n = (size_t)(e - b);
    if (n > INIDOC_MAX_LINE || n + 1 > (size_t)num) {
        if (!r->too_long_line) r->too_long_line = r->line;
        n = 0;   /* an empty line keeps inih counting lines the way we do */
    }
    memcpy(str, b, n);
    str[n] = 0;
    if (n && *str == '[') r->sec_line = r->line;
    /* inih also splits at ':' ("key: value"); here a key is followed by '=' and nothing else */
    if (n && *str != '[' && strcspn(str, "=") >= strcspn(str, ":") && !r->noeq_line) {
        r->noeq_line = r->line;
        snprintf(r->noeq, sizeof(r->noeq), "%.60s%s", str, n > 60 ? "..." : "");
    }
    return str;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p) abort();
    return p;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct pstate *ps = user;
    struct inidoc *d = ps->d;
    if (!section[0]) {
        if (!ps->bad_line) {
            ps->bad_line = ps->r->line;
            snprintf(ps->why, sizeof(ps->why), "key '%s' is outside any [section]", name);
        }
        return 1;
    }
    if (d->nsecs == 0 || strcmp(ps->cur, section) != 0 || d->secs[d->nsecs - 1].line != ps->r->sec_line) {
        struct inisec *ns = realloc(d->secs, sizeof(*ns) * (size_t)(d->nsecs + 1));
        if (!ns) abort();
        d->secs = ns;
        struct inisec *s = &d->secs[d->nsecs++];
        memset(s, 0, sizeof(*s));
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", section);
        char *sp = buf;
        while (*sp && *sp != ' ' && *sp != '\t') sp++;
        char *nm = sp;
        while (*nm == ' ' || *nm == '\t') nm++;
        *sp = 0;
        s->type = xstrdup(buf);
        s->name = xstrdup(nm);
        s->line = ps->r->sec_line;
        snprintf(ps->cur, sizeof(ps->cur), "%s", section);
    }
    struct inisec *s = &d->secs[d->nsecs - 1];
    struct inikey *nk = realloc(s->keys, sizeof(*nk) * (size_t)(s->nkeys + 1));
    if (!nk) abort();
    s->keys = nk;
    struct inikey *k = &s->keys[s->nkeys++];
    k->key = xstrdup(name);
    k->value = xstrdup(value);
    k->line = ps->r->line;
    k->used = 0;
    k->single = 0;
    return 1;
}

int inidoc_err(const struct inidoc *d, int line, char *err, size_t errlen, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (err && errlen) {
        if (line > 0) snprintf(err, errlen, "%s:%d: %s", d->path, line, msg);
        else snprintf(err, errlen, "%s: %s", d->path, msg);
    }
    return -1;
}

struct inidoc *inidoc_parse(const char *path, const char *text, char *err, size_t errlen)
{
    struct inidoc *d = calloc(1, sizeof(*d));
    if (!d) abort();
    snprintf(d->path, sizeof(d->path), "%s", path);
    /* indented lines are ordinary lines, not continuations: profiles are often indented */
    ini_allow_multiline = 0;
    struct reader r = {.p = text};
    struct pstate ps = {.d = d, .r = &r};
    int rc = ini_parse_stream(reader_fn, &r, handler, &ps);
    if (r.too_long_line && (!rc || r.too_long_line <= rc) && (!ps.bad_line || r.too_long_line <= ps.bad_line)) {
        inidoc_err(d, r.too_long_line, err, errlen,
                   "line is longer than %d characters (not counting indentation and comments)", INIDOC_MAX_LINE);
        inidoc_free(d);
        return NULL;
    }
    if (r.noeq_line && (!rc || r.noeq_line <= rc) && (!ps.bad_line || r.noeq_line <= ps.bad_line)) {
        inidoc_err(d, r.noeq_line, err, errlen, "syntax error: '%s' is not key = value (a line needs '='), a [section] or a comment",
                   r.noeq);
        inidoc_free(d);
        return NULL;
    }
    if (ps.bad_line && (!rc || ps.bad_line <= rc)) {
        inidoc_err(d, ps.bad_line, err, errlen, "%s", ps.why);
        inidoc_free(d);
        return NULL;
    }
    if (rc != 0) {
        inidoc_err(d, rc, err, errlen, "syntax error (expected [section], key = value, or a ; comment)");
        inidoc_free(d);
        return NULL;
    }
    return d;
}

struct inidoc *inidoc_load(const char *path, char **text_out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %m", path);
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) abort();
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 >= cap) {
            if (cap >= (16u << 20)) { fclose(f); free(buf); snprintf(err, errlen, "%s: file over 16 MiB", path); return NULL; }
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
    }
    fclose(f);
    buf[len] = 0;
    if (memchr(buf, 0, len)) {
        free(buf);
        snprintf(err, errlen, "%s: not a text file (NUL byte)", path);
        return NULL;
    }
    struct inidoc *d = inidoc_parse(path, buf, err, errlen);
    if (d && text_out) *text_out = buf;
    else free(buf);
    return d;
}

void inidoc_free(struct inidoc *d)
{
    if (!d) return;
    for (int i = 0; i < d->nsecs; i++) {
        struct inisec *s = &d->secs[i];
        for (int j = 0; j < s->nkeys; j++) {
            free(s->keys[j].key);
            free(s->keys[j].value);
        }
        free(s->keys);
        free(s->type);
        free(s->name);
    }
    free(d->secs);
    free(d);
}

const char *inisec_get(struct inisec *s, const char *key, int *line)
{
    const char *v = NULL;
    for (int i = 0; i < s->nkeys; i++) {
        if (strcmp(s->keys[i].key, key) == 0) {
            s->keys[i].used = 1;
            s->keys[i].single = 1;
            v = s->keys[i].value;
            if (line) *line = s->keys[i].line;
        }
    }
    if (!v && line) *line = s->line;
    return v;
}

int inisec_check_unused(const struct inidoc *d, const struct inisec *s, char *err, size_t errlen)
{
    /* a key read as one value (inisec_get) but given twice: the first would be silently lost */
    for (int i = 0; i < s->nkeys; i++) {
        if (!s->keys[i].single) continue;
        for (int j = 0; j < i; j++)
            if (!strcmp(s->keys[j].key, s->keys[i].key))
                return inidoc_err(d, s->keys[i].line, err, errlen, "duplicate key '%s' in [%s%s%s] (first at line %d)",
                                  s->keys[i].key, s->type, s->name[0] ? " " : "", s->name, s->keys[j].line);
    }
    for (int i = 0; i < s->nkeys; i++) {
        if (!s->keys[i].used)
            return inidoc_err(d, s->keys[i].line, err, errlen, "unknown key '%s' in [%s%s%s]",
                              s->keys[i].key, s->type, s->name[0] ? " " : "", s->name);
    }
    return 0;
}

int inidoc_text_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++) if (*p == '\n') n++;
    return n;
}
