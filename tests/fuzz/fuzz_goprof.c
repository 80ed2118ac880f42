/* fuzz_goprof.c -- libFuzzer harness for Go's goroutine profile parser (verify/goprof.c), the
 * text the probe sampler reads from a service over HTTP: any bytes, no NUL at the end (the
 * input is copied to an exact-size buffer so ASan sees a read past len). Checks the bounds the
 * header promises, and runs every function that formats what was parsed. Seeds: real profiles
 * of examples/go-service (tests/fixtures/goprof/). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "verify/goprof.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20) return 0;
    char *b = malloc(size ? size : 1);
    if (!b) return 0;
    memcpy(b, data, size);
    struct goprof p;
    char err[256];
    if (goprof_parse(b, size, &p, err, sizeof(err)) == 0) {
        if (p.n < 0 || p.n > GOPROF_MAX_STACKS || p.other < 0) abort();
        for (int i = 0; i < p.n; i++) {
            const struct goprof_stack *s = &p.s[i];
            if (s->nframes < 0 || s->nframes > GOPROF_MAX_FRAMES || s->nframes > s->depth || s->count < 0) abort();
            for (int k = 0; k < s->nframes; k++)
                if (strlen(s->f[k].func) >= GOPROF_FUNC_MAX || strlen(s->f[k].file) >= GOPROF_FILE_MAX) abort();
            for (int k = 0; k < i; k++)
                if (p.s[k].key == s->key) abort();          /* same key: merged */
            char d[256], t[GOPROF_MAX_FRAMES * (GOPROF_FUNC_MAX + GOPROF_FILE_MAX + 2) + 1];
            goprof_describe(s, 4, d, sizeof(d));
            goprof_frames_text(s, t, sizeof(t));
            struct goprof_stack back;
            memset(&back, 0, sizeof(back));
            goprof_frames_parse(t, &back);
            if (back.nframes > s->nframes) abort();
            char ks[GOPROF_KEY_LEN + 1];
            uint64_t key;
            goprof_key_str(s->key, ks);
            if (goprof_key_parse(ks, &key) != 0 || key != s->key) abort();
        }
        goprof_free(&p);
    }
    free(b);
    return 0;
}
