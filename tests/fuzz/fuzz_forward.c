/* fuzz_forward.c -- libFuzzer harness: what mode = forward reads of a client's bytes
 * (proxy/protocols/forward_parse.c). The first byte picks:
 *   0: the rest is a CONNECT target (fwd_parse_authority): what passes has a usable host and port,
 *      and its text form parses back to the same target;
 *   1: the rest is an absolute-form URL (fwd_parse_absolute): the origin-form target starts with
 *      '/' and holds no byte a request line cannot carry;
 *   2: the rest is a request head (fwd_origin_head, with a fixed target): the rewritten head is
 *      bounded by the input plus the new Host line, and ends with the head's empty line;
 *   3: the rest is a host as a client wrote it (fwd_host_norm, what a Host field or a URL gives);
 *   4: the rest is a profile's resolve list (fwd_resolve_check, fwd_resolved, fwd_resolve_names).
 * Every case must stay within its buffers (ASan) and leak nothing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include "proxy/protocols/forward.h"

static void name_seen(void *ud, const char *name)
{
    (void)ud;
    if (!name[0] || strlen(name) > FWD_HOST_MAX) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 70000) return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    struct fwd_target t, back;
    char buf[FWD_HOST_MAX + 16];
    switch (data[0] % 5) {
    case 0:
        if (fwd_parse_authority(s, n, &t) == 0) {
            if (!t.host[0] || t.port < 1 || t.port > 65535) abort();
            fwd_target_str(&t, buf, sizeof(buf));
            if (fwd_parse_authority(buf, strlen(buf), &back) != 0 || strcmp(back.host, t.host) || back.port != t.port) abort();
        }
        break;
    case 1: {
        char *origin = NULL;
        if (fwd_parse_absolute(s, n, &t, &origin) == 0) {
            if (!origin || origin[0] != '/' || strpbrk(origin, " \r\n") || t.port < 1 || t.port > 65535) abort();
        } else if (origin) {
            abort();
        }
        free(origin);
        break;
    }
    case 2: {
        struct evbuffer *out = evbuffer_new();
        struct fwd_target ft = {"api.example.test", 8080, 0};
        if (fwd_origin_head(s, n, "/x?y", &ft, out) == 0) {
            size_t len = evbuffer_get_length(out);
            if (len > n + 64 + strlen("Host: api.example.test:8080\r\n")) abort();
            if (len < 1) abort();
            const unsigned char *all = evbuffer_pullup(out, -1);
            if (all[len - 1] != '\n') abort();
        }
        evbuffer_free(out);
        break;
    }
    case 3:
        if (fwd_host_norm(s, n, &t) == 0 && (!t.host[0] || strlen(t.host) > FWD_HOST_MAX)) abort();
        break;
    default: {
        char *text = malloc(n + 1), why[400], addr[64];
        memcpy(text, s, n);
        text[n] = 0;
        fwd_resolve_check(text, why, sizeof(why));
        if (fwd_resolved(text, "api.example.test", addr, sizeof(addr)) && strlen(addr) >= sizeof(addr)) abort();
        fwd_resolve_names(text, name_seen, NULL);
        free(text);
        break;
    }
    }
    return 0;
}
