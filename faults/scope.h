/* scope.h -- which callers a fault acts on, and how many it may hold at once.
 *
 * What: two keys every fault type takes (fault_build reads them).
 *   clients = 127.0.0.2/32, 10.0.0.0/8, ::1/128   the fault acts only on connections whose
 *       source address is inside one of the ranges (IPv4 and IPv6 CIDR; a bare address is a
 *       /32 or /128). An IPv4 client that reaches an IPv6 listener as ::ffff:a.b.c.d matches the
 *       IPv4 ranges. Every other caller passes as if the fault were not there (it is not even
 *       counted as seen).
 *   max_active = N   at most N connections (tcp stages) or requests (http) are held by the fault
 *       at once (Envoy's max_active_faults); past it a selected caller passes unfaulted and the
 *       fault's `capped` counter says so.
 * Why here: the tcp relay (proxy/conn.c), the http engine and the framed engines all decide
 * "does this fault act on this caller"; they ask the same two functions so the keys mean the
 * same everywhere. The CIDR list is also what an http proxy's header_control_clients uses.
 * What not: no I/O, no names (a source address is never resolved), no ports.
 * Ownership: a cidr_list is a plain value (fixed size, copied freely).
 */
#ifndef FL_SCOPE_H
#define FL_SCOPE_H

#include <stddef.h>
#include <sys/socket.h>

struct fault;

#define CIDR_MAX 32
struct cidr { unsigned char v6, prefix, addr[16]; };
struct cidr_list { int n; struct cidr e[CIDR_MAX]; };

/* Parses "A/N, B, C/M" (inet_pton; prefix 0..32 or 0..128; at least one entry) into l.
 * 0, or -1 with the reason in err. */
int cidr_parse(const char *text, struct cidr_list *l, char *err, size_t errlen);
/* 1 when sa (AF_INET or AF_INET6; NULL or another family never matches) is in one of l's ranges. */
int cidr_match(const struct cidr_list *l, const struct sockaddr *sa);
/* l in the syntax cidr_parse reads (for attrs and messages). Returns buf. */
const char *cidr_str(const struct cidr_list *l, char *buf, size_t len);

/* Whether f's `clients` admit a caller at sa (1 when f has no `clients`). */
int scope_admits(const struct fault *f, const struct sockaddr *sa);
/* A caller f selected takes one of f's max_active places: 1 (always, without max_active), or 0
 * when all are taken (counted in f->c.capped: the caller passes unfaulted). Each 1 with
 * max_active set is given back once with scope_leave. */
int scope_take(struct fault *f);
void scope_leave(struct fault *f);

#endif
