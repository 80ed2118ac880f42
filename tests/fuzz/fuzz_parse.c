/* fuzz_parse.c -- libFuzzer harness: durations, sizes, booleans, numbers and addresses.
 * The first byte picks the parser; the rest is the value as a user would type it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096) return 0;
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    char err[256], buf[400];
    int64_t d;
    uint64_t z;
    int b;
    double x;
    struct fl_addr a;
    switch (data[0] % 7) {
    case 0:
        if (parse_duration(s, &d, err, sizeof(err)) == 0) {
            /* what we print we must read back the same */
            int64_t d2;
            duration_str(d, buf, sizeof(buf));
            if (parse_duration(buf, &d2, err, sizeof(err)) != 0 || d2 != d) abort();
        }
        break;
    case 1: parse_size(s, &z, err, sizeof(err)); break;
    case 2: parse_bool(s, &b, err, sizeof(err)); break;
    case 3: parse_double(s, 0, 1, &x, err, sizeof(err)); break;
    case 4: parse_int(s, -5, 5, &d, err, sizeof(err)); break;
    case 5:
    case 6:
        if (parse_addr(s, data[0] % 7 == 6, &a, err, sizeof(err)) == 0) {
            struct fl_addr a2;
            addr_str(&a, buf, sizeof(buf));
            if (parse_addr(buf, 1, &a2, err, sizeof(err)) != 0 || a2.port != a.port || a2.kind != a.kind) abort();
        }
        break;
    }
    glob_match(s, "/v1/charges/42");
    free(s);
    return 0;
}
