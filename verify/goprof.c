/* goprof.c -- the goroutine profile parser (goprof.h).
 *
 * A line-by-line scan over a buffer that need not end with NUL: every read is checked against
 * the end, every copy is cut to a fixed buffer, and the only allocation is the stack array,
 * which stops growing at GOPROF_MAX_STACKS. Lines it does not know (Go may add some one day)
 * are skipped rather than failing the sample; only a missing "goroutine profile: total N" header
 * is an error, because then the text is not this profile at all (debug=2 output, an HTML error
 * page, a proxy's answer).
 */
#include "verify/goprof.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOPROF_COUNT_MAX 1000000000000LL   /* counts saturate here: no overflow on garbage */

static const char *mem_find(const char *p, const char *end, char c)
{
    const char *q = memchr(p, c, (size_t)(end - p));
    return q ? q : end;
}

static int starts(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(end - p) >= n && !memcmp(p, lit, n);
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* digits at p (at most 18 read), saturating; returns the first byte after them, or NULL when
 * there is no digit */
static const char *parse_count(const char *p, const char *end, long long *out)
{
    long long v = 0;
    const char *q = p;
    while (q < end && *q >= '0' && *q <= '9') {
        if (v < GOPROF_COUNT_MAX) v = v * 10 + (*q - '0');
        if (v > GOPROF_COUNT_MAX) v = GOPROF_COUNT_MAX;
        q++;
    }
    if (q == p) return NULL;
    *out = v;
    return q;
}

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#define FNV_BASIS 14695981039346656037ULL

static void copy_cut(char *dst, size_t cap, const char *p, size_t n)
{
    if (n >= cap) n = cap - 1;
    memcpy(dst, p, n);
    dst[n] = 0;
}

/* file:line keeps its end (the line number) when cut: "...ice/main.go:130" */
static void copy_cut_tail(char *dst, size_t cap, const char *p, size_t n)
{
    if (n < cap) { copy_cut(dst, cap, p, n); return; }
    size_t keep = cap - 4;
    memcpy(dst, "...", 3);
    memcpy(dst + 3, p + n - keep, keep);
    dst[cap - 1] = 0;
}

struct cur {
    int open;
    struct goprof_stack st;
    uint64_t h;
};

static int finish(struct goprof *o, struct cur *c, size_t *cap)
{
    if (!c->open) return 0;
    c->open = 0;
    c->st.key = c->h;
    for (int i = 0; i < o->n; i++)
        if (o->s[i].key == c->st.key) {
            o->s[i].count += c->st.count;
            if (o->s[i].count > GOPROF_COUNT_MAX) o->s[i].count = GOPROF_COUNT_MAX;
            return 0;
        }
    if (o->n >= GOPROF_MAX_STACKS) {
        o->other += c->st.count;
        if (o->other > GOPROF_COUNT_MAX) o->other = GOPROF_COUNT_MAX;
        return 0;
    }
    if ((size_t)o->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        if (nc > GOPROF_MAX_STACKS) nc = GOPROF_MAX_STACKS;
        struct goprof_stack *ns = realloc(o->s, nc * sizeof(*ns));
        if (!ns) return -1;
        o->s = ns;
        *cap = nc;
    }
    o->s[o->n++] = c->st;
    return 0;
}

/* "#\t0x65f6b3\tnet/http.(*persistConn).roundTrip+0x973\tnet/http/transport.go:2620" */
static void frame_line(struct cur *c, const char *p, const char *end)
{
    p++;                                           /* '#' */
    while (p < end && is_ws(*p)) p++;
    if (starts(p, end, "labels:")) return;
    const char *a = p;                             /* the address */
    while (p < end && !is_ws(*p)) p++;
    if (p == a || !starts(a, end, "0x")) return;
    while (p < end && is_ws(*p)) p++;
    const char *fn = p;
    while (p < end && !is_ws(*p)) p++;
    const char *fn_end = p;
    if (fn_end == fn) return;
    /* drop "+0x973" */
    for (const char *q = fn_end; q > fn + 1; q--)
        if (q[-1] == '+' && q < end - 1 && q[0] == '0' && q[1] == 'x') { fn_end = q - 1; break; }
    while (p < end && is_ws(*p)) p++;
    const char *file = p, *file_end = end;
    while (file_end > file && is_ws(file_end[-1])) file_end--;
    c->h = fnv(c->h, fn, (size_t)(fn_end - fn));
    c->h = fnv(c->h, "\t", 1);
    c->h = fnv(c->h, file, (size_t)(file_end - file));
    c->h = fnv(c->h, "\n", 1);
    if (c->st.depth < 1000000) c->st.depth++;
    if (c->st.nframes < GOPROF_MAX_FRAMES) {
        struct goprof_frame *f = &c->st.f[c->st.nframes++];
        copy_cut(f->func, sizeof(f->func), fn, (size_t)(fn_end - fn));
        copy_cut_tail(f->file, sizeof(f->file), file, (size_t)(file_end - file));
    }
}

int goprof_parse(const char *text, size_t len, struct goprof *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (len > GOPROF_MAX_INPUT) {
        snprintf(err, errlen, "goroutine profile of %zu bytes: larger than %u", len, GOPROF_MAX_INPUT);
        return -1;
    }
    const char *p = text, *end = text + len;
    /* the header, after any blank lines */
    while (p < end && (*p == '\n' || is_ws(*p))) p++;
    static const char hdr[] = "goroutine profile: total ";
    if (!starts(p, end, hdr)) {
        if (starts(p, end, "goroutine ") && memchr(p, '[', (size_t)(mem_find(p, end, '\n') - p)))
            snprintf(err, errlen, "this is the debug=2 goroutine dump: ask for /debug/pprof/goroutine?debug=1");
        else
            snprintf(err, errlen, "not a Go goroutine profile (no 'goroutine profile: total N' line; "
                                  "the URL should be /debug/pprof/goroutine?debug=1)");
        return -1;
    }
    p += sizeof(hdr) - 1;
    if (!parse_count(p, end, &out->total)) {
        snprintf(err, errlen, "goroutine profile: no number after 'total'");
        return -1;
    }
    p = mem_find(p, end, '\n');
    struct cur c;
    memset(&c, 0, sizeof(c));
    size_t cap = 0;
    while (p < end) {
        if (*p == '\n') p++;
        const char *eol = mem_find(p, end, '\n');
        const char *q = p;
        while (q < eol && is_ws(*q)) q++;
        if (q == eol) {                               /* blank: the stack ends */
            if (finish(out, &c, &cap) < 0) goto oom;
        } else if (*q == '#') {
            if (c.open) frame_line(&c, q, eol);
        } else if (*q >= '0' && *q <= '9') {          /* "N @ 0x... 0x..." */
            long long n;
            const char *r = parse_count(q, eol, &n);
            while (r && r < eol && is_ws(*r)) r++;
            if (r && r < eol && *r == '@') {
                if (finish(out, &c, &cap) < 0) goto oom;
                memset(&c.st, 0, sizeof(c.st));
                c.st.count = n;
                c.h = FNV_BASIS;
                c.open = 1;
            }
        }
        p = eol;
    }
    if (finish(out, &c, &cap) < 0) goto oom;
    return 0;
oom:
    goprof_free(out);
    snprintf(err, errlen, "goroutine profile: out of memory");
    return -1;
}

void goprof_free(struct goprof *p)
{
    if (!p) return;
    free(p->s);
    memset(p, 0, sizeof(*p));
}

void goprof_key_str(uint64_t key, char *out)
{
    snprintf(out, GOPROF_KEY_LEN + 1, "%016llx", (unsigned long long)key);
}

int goprof_key_parse(const char *s, uint64_t *key)
{
    uint64_t v = 0;
    int i = 0;
    for (; s[i] && i < GOPROF_KEY_LEN; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | (uint64_t)d;
    }
    if (i != GOPROF_KEY_LEN || s[i]) return -1;
    *key = v;
    return 0;
}

/* package main, or an import path whose first element has a dot (a domain) */
static int user_func(const char *fn)
{
    size_t n = strcspn(fn, "[(");                  /* before type parameters and receivers */
    size_t from = 0;
    for (size_t i = 0; i < n; i++) if (fn[i] == '/') from = i + 1;
    const char *pkgend = memchr(fn + from, '.', n - from);
    if (!pkgend) return 0;
    if (pkgend - fn == 4 && !strncmp(fn, "main", 4)) return 1;
    if (!from) return 0;                           /* runtime, os, sync: one element, Go's own */
    return memchr(fn, '.', strcspn(fn, "/")) != NULL;
}

const struct goprof_frame *goprof_user_frame(const struct goprof_stack *s)
{
    for (int i = 0; i < s->nframes; i++)
        if (user_func(s->f[i].func)) return &s->f[i];
    return NULL;
}

static void cat(char *buf, size_t n, size_t *len, const char *fmt, const char *a, const char *b)
{
    if (*len >= n - 1) return;
    int w = snprintf(buf + *len, n - *len, fmt, a, b);
    if (w < 0) return;
    *len += (size_t)w;
    if (*len > n - 1) *len = n - 1;
}

char *goprof_describe(const struct goprof_stack *s, int max, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    if (!s->nframes) {
        cat(buf, n, &len, "%s%s", "(no frames: runtime only)", "");
        return buf;
    }
    const struct goprof_frame *u = goprof_user_frame(s);
    /* the goroutine's own function (the bottom frame), when the profile's stack was kept whole */
    const struct goprof_frame *root = s->depth == s->nframes ? &s->f[s->nframes - 1] : NULL;
    int shown = s->nframes < max ? s->nframes : max;
    for (int i = 0; i < shown; i++) {
        if (i == 0 || &s->f[i] == u || &s->f[i] == root) cat(buf, n, &len, i ? " < %s (%s)" : "%s (%s)", s->f[i].func, s->f[i].file);
        else cat(buf, n, &len, " < %s%s", s->f[i].func, "");
    }
    int more = s->depth > shown;
    if (u && u >= s->f + shown) {
        cat(buf, n, &len, "%s%s", u > s->f + shown ? " < ..." : "", "");
        cat(buf, n, &len, " < %s (%s)", u->func, u->file);
        more = s->depth > (int)(u - s->f) + 1;
    }
    const struct goprof_frame *from = u && u >= s->f + shown ? u : s->f + shown - 1;
    if (root && root > from) {
        cat(buf, n, &len, "%s%s", root > from + 1 ? " < ..." : "", "");
        cat(buf, n, &len, " < %s (%s)", root->func, root->file);
    } else if (more) {
        cat(buf, n, &len, "%s%s", " < ...", "");
    }
    return buf;
}

char *goprof_frames_text(const struct goprof_stack *s, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < s->nframes; i++) cat(buf, n, &len, "%s %s\n", s->f[i].func, s->f[i].file);
    return buf;
}

void goprof_frames_parse(const char *text, struct goprof_stack *s)
{
    s->nframes = s->depth = 0;
    const char *p = text, *end = text + strlen(text);
    while (p < end && s->nframes < GOPROF_MAX_FRAMES) {
        const char *eol = mem_find(p, end, '\n');
        const char *sp = memchr(p, ' ', (size_t)(eol - p));
        if (sp && sp > p) {
            struct goprof_frame *f = &s->f[s->nframes++];
            copy_cut(f->func, sizeof(f->func), p, (size_t)(sp - p));
            copy_cut_tail(f->file, sizeof(f->file), sp + 1, (size_t)(eol - sp - 1));
        }
        p = eol < end ? eol + 1 : end;
    }
    s->depth = s->nframes;
}
