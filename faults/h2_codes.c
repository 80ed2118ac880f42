/* h2_codes.c -- the names of HTTP/2 error codes and gRPC status codes, for the keys of the HTTP/2
 * and gRPC faults (`code = refused_stream`, `status = unavailable`) and for what the engine logs
 * and records. Not a fault type: the helpers several types share (faults/http_fault.h).
 */
#include "faults/fault.h"
#include "faults/http_fault.h"
#include "common/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const h2_names[] = {
    "NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
    "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
    "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
};
#define NH2 (sizeof(h2_names) / sizeof(h2_names[0]))

static const char *const grpc_names[] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};
#define NGRPC (sizeof(grpc_names) / sizeof(grpc_names[0]))

/* index of v among names (case-insensitive), or a number in [0, max]; -1 when neither */
static int64_t name_or_number(const char *v, const char *const *names, size_t n, int64_t max)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(v, names[i])) return (int64_t)i;
    char e[64];
    int64_t x;
    if (parse_int(v, 0, max, &x, e, sizeof(e)) == 0) return x;
    return -1;
}

static void list_names(char *b, size_t n, const char *const *names, size_t cnt)
{
    size_t o = 0;
    for (size_t i = 0; i < cnt && o < n; i++) {
        o += (size_t)snprintf(b + o, n - o, "%s", i ? (i + 1 == cnt ? " or " : ", ") : "");
        for (const char *p = names[i]; *p && o + 1 < n; p++) b[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        if (o < n) b[o] = 0;
    }
}

int fkey_h2_code(const char *v, uint32_t *out, char *err, size_t errlen)
{
    int64_t x = name_or_number(v, h2_names, NH2, 0xffffffffLL);
    if (x < 0) {
        char l[400];
        list_names(l, sizeof(l), h2_names, NH2);
        snprintf(err, errlen, "'%s' is not an HTTP/2 error code (%s, or a number)", v, l);
        return FKEY_BAD;
    }
    *out = (uint32_t)x;
    return FKEY_OK;
}

const char *h2_code_str(uint32_t code)
{
    static char b[16];
    if (code < NH2) return h2_names[code];
    snprintf(b, sizeof(b), "0x%x", code);
    return b;
}

int fkey_grpc_status(const char *v, int *out, char *err, size_t errlen)
{
    int64_t x = name_or_number(v, grpc_names, NGRPC, (int64_t)NGRPC - 1);
    if (x < 0) {
        char l[400];
        list_names(l, sizeof(l), grpc_names, NGRPC);
        snprintf(err, errlen, "'%s' is not a gRPC status (%s, or 0..16)", v, l);
        return FKEY_BAD;
    }
    *out = (int)x;
    return FKEY_OK;
}

const char *grpc_status_str(int status)
{
    return status >= 0 && (size_t)status < NGRPC ? grpc_names[status] : NULL;
}
