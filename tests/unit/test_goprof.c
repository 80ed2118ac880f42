/* test_goprof.c -- the goroutine profile parser (verify/goprof.c) on real profiles captured from
 * examples/go-service (tests/fixtures/goprof/: idle.txt at rest, leak.txt with -bug=goroutine-leak
 * and 12 calls hung on a dependency that never answers, busy.txt the fixed service under 30
 * concurrent calls, vars.json its /debug/vars), and on hostile input. */
#include "unit.h"
#include "verify/goprof.h"
#include "run/probe.h"

#include <stdlib.h>

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = malloc(1 << 20);
    size_t n = fread(b, 1, (1 << 20) - 1, f);
    fclose(f);
    b[n] = 0;
    *len = n;
    return b;
}

/* an exact-size copy: no NUL after the text, so a read past len is caught under ASan */
static char *exact(const char *s, size_t n)
{
    char *b = malloc(n ? n : 1);
    memcpy(b, s, n);
    return b;
}

static const struct goprof_stack *find_func(const struct goprof *p, const char *fn)
{
    for (int i = 0; i < p->n; i++)
        for (int k = 0; k < p->s[i].nframes; k++)
            if (!strcmp(p->s[i].f[k].func, fn)) return &p->s[i];
    return NULL;
}

static long long sum(const struct goprof *p)
{
    long long t = p->other;
    for (int i = 0; i < p->n; i++) t += p->s[i].count;
    return t;
}

UNIT(goprof_real_leak_profile)
{
    size_t len;
    char *t = slurp("tests/fixtures/goprof/leak.txt", &len);
    EXPECT(t != NULL);
    if (!t) return;
    char *x = exact(t, len);
    struct goprof p;
    char err[256] = "";
    EXPECT_EQ_INT(goprof_parse(x, len, &p, err, sizeof(err)), 0);
    EXPECT_EQ_INT(p.total, 41);
    EXPECT_EQ_INT(sum(&p), 41);                   /* every goroutine is in some stack */
    EXPECT_EQ_INT(p.n, 8);
    const struct goprof_stack *s = find_func(&p, "main.main.func2");
    EXPECT(s != NULL);
    if (s) {
        EXPECT_EQ_INT(s->count, 12);              /* the 12 hung calls */
        EXPECT_EQ_INT(s->depth, 9);
        EXPECT_EQ_INT(s->nframes, 9);
        EXPECT_STR(s->f[0].func, "net/http.(*persistConn).roundTrip");
        EXPECT_STR(s->f[0].file, "net/http/transport.go:2620");
        const struct goprof_frame *u = goprof_user_frame(s);
        EXPECT(u && !strcmp(u->func, "main.main.func2"));
        char d[512];
        goprof_describe(s, 3, d, sizeof(d));
        EXPECT_CONTAINS(d, "net/http.(*persistConn).roundTrip (net/http/transport.go:2620) < net/http.(*Transport).roundTrip");
        EXPECT_CONTAINS(d, "< ... < main.main.func2 (faultline.example/go-service/main.go:130)"
                           " < main.main.func3.1 (faultline.example/go-service/main.go:164)");
        char ft[2048];
        goprof_frames_text(s, ft, sizeof(ft));
        EXPECT_CONTAINS(ft, "main.main.func2 faultline.example/go-service/main.go:130\n");
    }
    const struct goprof_stack *wl = find_func(&p, "net/http.(*persistConn).writeLoop");
    EXPECT(wl && wl->count == 12 && wl->depth == 1 && goprof_user_frame(wl) == NULL);
    const struct goprof_stack *rl = find_func(&p, "net/http.(*persistConn).readLoop");
    EXPECT(rl && rl->count == 12 && rl->depth == 10 && rl->nframes == 10);
    if (rl) {
        char d[512];
        goprof_describe(rl, 2, d, sizeof(d));
        EXPECT_STR(d, "internal/poll.runtime_pollWait (runtime/netpoll.go:305) < internal/poll.(*pollDesc).wait"
                      " < ... < net/http.(*persistConn).readLoop (net/http/transport.go:2093)");
    }
    /* the goroutine with no frame left (runtime.goexit only) is kept, counted */
    int empty = 0;
    for (int i = 0; i < p.n; i++) if (p.s[i].nframes == 0) empty += (int)p.s[i].count;
    EXPECT_EQ_INT(empty, 1);
    goprof_free(&p);
    free(x);
    free(t);
}

UNIT(goprof_keys_stable_across_samples)
{
    size_t l1, l2, l3;
    char *a = slurp("tests/fixtures/goprof/leak.txt", &l1), *b = slurp("tests/fixtures/goprof/busy.txt", &l2),
         *c = slurp("tests/fixtures/goprof/idle.txt", &l3);
    EXPECT(a && b && c);
    if (!a || !b || !c) { free(a); free(b); free(c); return; }
    struct goprof pa, pb, pc;
    char err[256];
    EXPECT_EQ_INT(goprof_parse(a, l1, &pa, err, sizeof(err)), 0);
    EXPECT_EQ_INT(goprof_parse(b, l2, &pb, err, sizeof(err)), 0);
    EXPECT_EQ_INT(goprof_parse(c, l3, &pc, err, sizeof(err)), 0);
    EXPECT_EQ_INT(pc.total, 5);
    EXPECT_EQ_INT(sum(&pc), 5);
    EXPECT_EQ_INT(pb.total, 56);
    EXPECT_EQ_INT(sum(&pb), 56);
    /* the same code blocked in the same place: same key in two processes' profiles */
    const struct goprof_stack *w1 = find_func(&pa, "net/http.(*persistConn).writeLoop");
    const struct goprof_stack *w2 = find_func(&pb, "net/http.(*persistConn).writeLoop");
    EXPECT(w1 && w2 && w1->key == w2->key);
    const struct goprof_stack *s1 = find_func(&pa, "os/signal.loop"), *s3 = find_func(&pc, "os/signal.loop");
    EXPECT(s1 && s3 && s1->key == s3->key && s3->count == 1);
    /* a frame of Go's own code is not the program's */
    const struct goprof_stack *acc = find_func(&pc, "net/http.(*Server).Serve");
    EXPECT(acc && goprof_user_frame(acc) && !strcmp(goprof_user_frame(acc)->func, "main.main"));
    /* and different stacks have different keys */
    for (int i = 0; i < pa.n; i++)
        for (int k = i + 1; k < pa.n; k++) EXPECT(pa.s[i].key != pa.s[k].key);
    char ks[GOPROF_KEY_LEN + 1];
    uint64_t back = 0;
    goprof_key_str(w1 ? w1->key : 0, ks);
    EXPECT_EQ_INT(strlen(ks), GOPROF_KEY_LEN);
    EXPECT_EQ_INT(goprof_key_parse(ks, &back), 0);
    EXPECT(w1 && back == w1->key);
    EXPECT_EQ_INT(goprof_key_parse("xyz", &back), -1);
    EXPECT_EQ_INT(goprof_key_parse("0123456789abcdef0", &back), -1);
    goprof_free(&pa);
    goprof_free(&pb);
    goprof_free(&pc);
    free(a);
    free(b);
    free(c);
}

UNIT(goprof_real_expvar)
{
    size_t len;
    char *t = slurp("tests/fixtures/goprof/vars.json", &len);
    EXPECT(t != NULL);
    if (!t) return;
    double v = 0;
    char err[256];
    EXPECT_EQ_INT(probe_json(t, "memstats.HeapAlloc", &v, err, sizeof(err)), 0);
    EXPECT(v > 100000);
    EXPECT_EQ_INT(probe_json(t, "goroutines", &v, err, sizeof(err)), 0);
    EXPECT_EQ_INT((long long)v, 41);
    EXPECT_EQ_INT(probe_json(t, "dependency_calls", &v, err, sizeof(err)), 0);
    EXPECT_EQ_INT(probe_json(t, "memstats.NoSuch", &v, err, sizeof(err)), -1);
    free(t);
}

UNIT(goprof_not_a_profile)
{
    struct goprof p;
    char err[256] = "";
    const char *d2 = "goroutine 1 [running]:\nmain.main()\n\t/x/main.go:10 +0x1d\n";
    EXPECT_EQ_INT(goprof_parse(d2, strlen(d2), &p, err, sizeof(err)), -1);
    EXPECT_CONTAINS(err, "debug=2");
    const char *html = "<html><body>404 page not found</body></html>";
    EXPECT_EQ_INT(goprof_parse(html, strlen(html), &p, err, sizeof(err)), -1);
    EXPECT_CONTAINS(err, "not a Go goroutine profile");
    EXPECT_EQ_INT(goprof_parse("", 0, &p, err, sizeof(err)), -1);
    EXPECT_EQ_INT(goprof_parse("goroutine profile: total x", 26, &p, err, sizeof(err)), -1);
    /* header only: valid, empty */
    EXPECT_EQ_INT(goprof_parse("goroutine profile: total 0\n", 27, &p, err, sizeof(err)), 0);
    EXPECT_EQ_INT(p.n, 0);
    goprof_free(&p);
    goprof_free(NULL);
}

UNIT(goprof_truncated_every_length)
{
    size_t len;
    char *t = slurp("tests/fixtures/goprof/leak.txt", &len);
    EXPECT(t != NULL);
    if (!t) return;
    /* every prefix parses or fails cleanly, never claims more goroutines than the header */
    int bad = 0;
    for (size_t n = 0; n <= len; n++) {
        char *x = exact(t, n);
        struct goprof p;
        char err[128];
        if (goprof_parse(x, n, &p, err, sizeof(err)) == 0) {
            if ((n >= 27 && p.total != 41) || sum(&p) > 41 || p.n > 8) bad++;
            goprof_free(&p);
        } else if (n > 30) bad++;              /* the header is whole after 28 bytes */
        free(x);
    }
    EXPECT_EQ_INT(bad, 0);
    free(t);
}

UNIT(goprof_bounded)
{
    /* 3000 distinct stacks: 1024 kept, the rest counted in other */
    size_t cap = 1 << 20, len = 0;   /* holds both inputs below */
    char *b = malloc(cap);
    len += (size_t)snprintf(b + len, cap - len, "goroutine profile: total 3000\n");
    for (int i = 0; i < 3000; i++)
        len += (size_t)snprintf(b + len, cap - len, "1 @ 0x1 0x2\n#\t0x1\tpkg.f%d+0x1\tpkg/f.go:%d\n\n", i, i);
    struct goprof p;
    char err[128];
    EXPECT_EQ_INT(goprof_parse(b, len, &p, err, sizeof(err)), 0);
    EXPECT_EQ_INT(p.n, GOPROF_MAX_STACKS);
    EXPECT_EQ_INT(p.other, 3000 - GOPROF_MAX_STACKS);
    EXPECT_EQ_INT(sum(&p), 3000);
    goprof_free(&p);
    /* a 5000-character function name and file, 50 frames, a 40-digit count */
    len = 0;
    len += (size_t)snprintf(b + len, cap - len, "goroutine profile: total 99999999999999999999999999\n"
                                                "9999999999999999999999999999999999999999 @ 0x1\n");
    for (int f = 0; f < 50; f++) {
        len += (size_t)snprintf(b + len, cap - len, "#\t0x1\t");
        for (int i = 0; i < 5000; i++) b[len++] = 'a' + (char)(i % 26);
        len += (size_t)snprintf(b + len, cap - len, "+0x1\t");
        for (int i = 0; i < 5000; i++) b[len++] = 'z';
        len += (size_t)snprintf(b + len, cap - len, ".go:%d\n", f);
    }
    EXPECT_EQ_INT(goprof_parse(b, len, &p, err, sizeof(err)), 0);
    EXPECT_EQ_INT(p.n, 1);
    if (p.n == 1) {
        EXPECT_EQ_INT(p.s[0].depth, 50);
        EXPECT_EQ_INT(p.s[0].nframes, GOPROF_MAX_FRAMES);
        EXPECT_EQ_INT(strlen(p.s[0].f[0].func), GOPROF_FUNC_MAX - 1);
        EXPECT_EQ_INT(strlen(p.s[0].f[0].file), GOPROF_FILE_MAX - 1);
        EXPECT_CONTAINS(p.s[0].f[GOPROF_MAX_FRAMES - 1].file, "zz.go:15");
        EXPECT(p.s[0].count > 0 && p.total > 0);
        char d[64];
        goprof_describe(&p.s[0], 8, d, sizeof(d));
        EXPECT_EQ_INT(strlen(d), sizeof(d) - 1);
    }
    goprof_free(&p);
    /* labels lines and a frame line before any stack are skipped; duplicate stacks merge */
    const char *lab = "goroutine profile: total 5\n#\t0x1\torphan.f+0x1\ta.go:1\n"
                      "2 @ 0x1\n# labels: {\"k\":\"v\"}\n#\t0x1\tmain.work+0x1\tm.go:3\n\n"
                      "3 @ 0x2\n#\t0x2\tmain.work+0x9\tm.go:3\n\n";
    EXPECT_EQ_INT(goprof_parse(lab, strlen(lab), &p, err, sizeof(err)), 0);
    EXPECT_EQ_INT(p.n, 1);
    if (p.n == 1) {
        EXPECT_EQ_INT(p.s[0].count, 5);
        EXPECT_EQ_INT(p.s[0].depth, 1);
        EXPECT_STR(p.s[0].f[0].func, "main.work");
    }
    goprof_free(&p);
    free(b);
}

UNIT(goprof_user_frames)
{
    struct goprof_stack s;
    memset(&s, 0, sizeof(s));
    const char *fns[] = {"runtime.gopark", "net/http.(*conn).serve", "github.com/acme/pay.(*Client).Do", "main.main"};
    for (int i = 0; i < 4; i++) {
        snprintf(s.f[i].func, sizeof(s.f[i].func), "%s", fns[i]);
        snprintf(s.f[i].file, sizeof(s.f[i].file), "x.go:%d", i);
    }
    s.nframes = s.depth = 2;
    EXPECT(goprof_user_frame(&s) == NULL);
    s.nframes = s.depth = 4;
    EXPECT(goprof_user_frame(&s) == &s.f[2]);
}
