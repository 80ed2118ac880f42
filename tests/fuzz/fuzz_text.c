/* fuzz_text.c -- libFuzzer harness for common/text.c, which handles bytes from peers and from a
 * shared Redis on their way into the record, record.json and the run's files: fl_json_str,
 * fl_clip, and the redactors (fl_redact_url, fl_redact_cmd, fl_redact_profile).
 * Properties: fl_json_str's output always parses as one JSON string, and gives the input back
 * whenever the input is well-formed UTF-8; fl_clip's output is at most FL_CLIP_MAX bytes, the
 * input itself when that short, and clipping it again changes nothing; the redactors never write
 * past their buffer and always terminate it; what clipping and fl_redact_cmd make of well-formed
 * UTF-8 is well-formed UTF-8 (a journal could not hold it otherwise). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/text.h"

static int well_formed(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        int k = fl_utf8_len(p + i, n - i);
        if (!k) return 0;
        i += (size_t)k;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0;
    /* JSON */
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    fl_json_str(f, (const char *)data, size);
    fclose(f);
    json_error_t je;
    json_t *j = json_loadb(buf, blen, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j || !json_is_string(j)) abort();
    if (well_formed(data, size) &&
        (json_string_length(j) != size || memcmp(json_string_value(j), data, size) != 0))
        abort();
    json_decref(j);
    free(buf);
    /* clipping */
    char c1[FL_CLIP_MAX + 1], c2[FL_CLIP_MAX + 1];
    int cl;
    size_t n1 = fl_clip((const char *)data, size, c1, &cl);
    if (n1 > FL_CLIP_MAX || c1[n1] != 0 || cl != (size > FL_CLIP_MAX)) abort();
    if (!cl && memcmp(c1, data, size) != 0) abort();
    if (fl_clip(c1, n1, c2, &cl) != n1 || cl || memcmp(c1, c2, n1) != 0) abort();
    int wf = well_formed(data, size);
    if (wf && !well_formed((const unsigned char *)c1, n1)) abort();
    /* redaction, on the input as text */
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    char small[16], big[1024];
    fl_redact_url(s, small, sizeof(small));
    fl_redact_url(s, big, sizeof(big));
    if (strlen(small) >= sizeof(small) || strlen(big) >= sizeof(big)) abort();
    fl_redact_cmd(s, small, sizeof(small));
    fl_redact_cmd(s, big, sizeof(big));
    if (wf && !memchr(data, 0, size) && !well_formed((const unsigned char *)big, strlen(big))) abort();
    char *p = fl_redact_profile(s);
    free(p);
    free(s);
    return 0;
}
