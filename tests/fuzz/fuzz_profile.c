/* fuzz_profile.c -- libFuzzer harness: arbitrary text as a profile (or scenario) file.
 * Whatever the bytes, profile_parse must return a profile or an error naming a line, without
 * crashing, leaking or reading out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "proxy/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536) return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    char err[1024];
    struct profile *p = profile_parse("fuzz.ini", text, PROF_ALLOW_SCENARIO, err, sizeof(err));
    if (!p && strncmp(err, "fuzz.ini", 8) != 0) abort();   /* every error names the file */
    profile_free(p);
    free(text);
    return 0;
}
