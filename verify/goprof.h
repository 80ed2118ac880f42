/* goprof.h -- Go's text goroutine profile (/debug/pprof/goroutine?debug=1), parsed.
 *
 * The profile groups a Go process's goroutines by identical stack:
 *
 *   goroutine profile: total 41
 *   12 @ 0x439936 0x4497dc 0x65f6b4 ...
 *   #	0x65f6b3	net/http.(*persistConn).roundTrip+0x973	net/http/transport.go:2620
 *   #	0x6b430e	main.main.func2+0xce			faultline.example/go-service/main.go:130
 *
 * (runtime frames above the blocking point are already left out by Go). goprof_parse keeps the
 * total, and per stack its count, a key and its top frames. The key is a 64-bit FNV-1a hash of
 * every frame's function name (without the +0x offset) and file:line, so it does not depend on
 * addresses: the same code blocked in the same place has the same key in every sample and every
 * run of the same build. Two address stacks that read the same are merged.
 *
 * Bounded and fuzz-safe: input longer than GOPROF_MAX_INPUT is refused, at most
 * GOPROF_MAX_STACKS distinct stacks are kept (the goroutines of the rest are counted in `other`),
 * GOPROF_MAX_FRAMES frames per stack, names and files cut to fixed buffers; nothing grows with
 * the input past those limits, and no byte is read past len (the text need not end with NUL).
 */
#ifndef FL_GOPROF_H
#define FL_GOPROF_H

#include <stddef.h>
#include <stdint.h>

#define GOPROF_MAX_INPUT (16u << 20)
#define GOPROF_MAX_STACKS 1024
#define GOPROF_MAX_FRAMES 16
#define GOPROF_FUNC_MAX 128
#define GOPROF_FILE_MAX 96
#define GOPROF_KEY_LEN 16          /* hex digits of a key, as written to Redis */

struct goprof_frame {
    char func[GOPROF_FUNC_MAX];    /* "net/http.(*persistConn).roundTrip" (cut if longer) */
    char file[GOPROF_FILE_MAX];    /* "net/http/transport.go:2620" (leading part cut if longer) */
};

struct goprof_stack {
    uint64_t key;
    long long count;
    int depth;                     /* frames in the profile */
    int nframes;                   /* frames kept: the top min(depth, GOPROF_MAX_FRAMES) */
    struct goprof_frame f[GOPROF_MAX_FRAMES];
};

struct goprof {
    long long total;               /* the header's "total N" */
    long long other;               /* goroutines of stacks beyond GOPROF_MAX_STACKS */
    struct goprof_stack *s;        /* owned; in profile order (Go sorts by count, descending) */
    int n;
};

/* Parses len bytes of text. 0 with *out filled (the caller frees it with goprof_free), or -1 with
 * err ("not a Go goroutine profile ..."); *out is then empty and needs no free. */
int goprof_parse(const char *text, size_t len, struct goprof *out, char *err, size_t errlen);
void goprof_free(struct goprof *p);        /* accepts NULL and an empty profile */

/* The key as GOPROF_KEY_LEN hex digits + NUL (out needs GOPROF_KEY_LEN + 1 bytes). */
void goprof_key_str(uint64_t key, char *out);
/* Back from text: 0 or -1 if s is not a key. */
int goprof_key_parse(const char *s, uint64_t *key);

/* The first kept frame in the program's own code (package main, or a package whose import path
 * starts with a domain: "github.com/x/y.f"), or NULL when every kept frame is Go's (runtime,
 * net/http, ...). Points into s. */
const struct goprof_frame *goprof_user_frame(const struct goprof_stack *s);

/* One line for people: the top `max` frames (the first with its file:line), then the first
 * frame of the program's own code and the goroutine's own function (the bottom frame) with
 * theirs: "net/http.(*persistConn).roundTrip (net/http/transport.go:2620) < ... <
 * main.main.func2 (main.go:130) < main.main.func3.1 (main.go:164)". Always NUL-terminated,
 * cut to n. Returns buf. */
char *goprof_describe(const struct goprof_stack *s, int max, char *buf, size_t n);

/* The frames as text for the record, one "func file:line" per line (at most GOPROF_MAX_FRAMES
 * lines). Always NUL-terminated, cut to n. Returns buf. */
char *goprof_frames_text(const struct goprof_stack *s, char *buf, size_t n);

/* The reverse, for the verifier: fills s->f/nframes/depth from goprof_frames_text's output (other
 * fields untouched). Lines beyond GOPROF_MAX_FRAMES and lines without a space are skipped. */
void goprof_frames_parse(const char *text, struct goprof_stack *s);

#endif
