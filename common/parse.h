/* parse.h -- the value syntax shared by profiles, scenarios, the admin API and the CLI.
 *
 * Every function here is pure: it reads a NUL-terminated string and either fills *out and
 * returns 0, or returns -1 and writes a one-line human reason into err (errlen bytes, always
 * NUL-terminated). Nothing is allocated; nothing is logged. Callers add file:line or the JSON
 * field name to the reason.
 */
#ifndef FL_PARSE_H
#define FL_PARSE_H

#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Durations are kept in microseconds. Accepted: "0", "250us", "100ms", "1.5s", "2m", "1h",
 * "7d". A bare number other than 0 is refused: a unit must be said. At most 36500d (100 years):
 * a clock reading plus a few such durations, or one of them in nanoseconds, never wraps an
 * int64_t, so the places that add start, duration, ttl and max_fault_duration need no checks. */
#define PARSE_MAX_DURATION_US (36500LL * 86400 * 1000000)
int parse_duration(const char *s, int64_t *out_us, char *err, size_t errlen);

/* Sizes in bytes: "512", "512B", "16KiB", "8MiB", "1GiB" (also KB/MB/GB = powers of 1000). At
 * most 1048576GiB (2^50): a size times 1000, or shown as a JSON integer, stays exact. */
#define PARSE_MAX_SIZE (1ULL << 50)
int parse_size(const char *s, uint64_t *out, char *err, size_t errlen);

/* yes/no, true/false, on/off, 1/0. */
int parse_bool(const char *s, int *out, char *err, size_t errlen);

/* A real number in [lo, hi]. */
int parse_double(const char *s, double lo, double hi, double *out, char *err, size_t errlen);

/* A whole number in [lo, hi]. */
int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out, char *err, size_t errlen);

enum addr_kind { ADDR_INET = 1, ADDR_UNIX, ADDR_NAME };

/* A network address as written in a profile: "127.0.0.1:8080", "[::1]:8080", "unix:/path",
 * or (only where names are allowed, i.e. upstreams) "db.internal:5432". */
struct fl_addr {
    enum addr_kind kind;
    char host[256];     /* literal or DNS name (ADDR_INET / ADDR_NAME) */
    int port;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* ADDR_UNIX */
    struct sockaddr_storage ss; /* filled for ADDR_INET and ADDR_UNIX */
    socklen_t sslen;
};

int parse_addr(const char *s, int allow_name, struct fl_addr *out, char *err, size_t errlen);

/* Writes the address back in profile syntax. Returns buf. */
const char *addr_str(const struct fl_addr *a, char *buf, size_t len);

/* A socket address as text: "1.2.3.4:5", "[::1]:5"; "unix" for any other family (a unix
 * socket's peer has no name). Returns buf (64 bytes hold every form). */
const char *sockaddr_str(const struct sockaddr *sa, char *buf, size_t len);

/* Formats a duration in the most natural unit ("100ms", "5s", "0"). Returns buf. */
const char *duration_str(int64_t us, char *buf, size_t len);

/* Shell-style glob (*, ?, [..]) match; used by match_path, match_header and others. */
int glob_match(const char *pattern, const char *s);
/* Offset of the first byte of s (NUL-terminated) that is not part of a well-formed UTF-8
 * sequence (overlong forms and surrogates are not well-formed), or -1 when all of s is. */
long utf8_bad_at(const char *s);

#endif
