/* forward.h -- mode = forward: one listener a service reaches through HTTP_PROXY / HTTPS_PROXY
 * (proxy/protocols/forward.c; docs/tls.md, "Forward proxy").
 *
 * What is public here: the protocol, and the pure functions that read a client's proxy requests
 * (proxy/protocols/forward_parse.c) -- a CONNECT's target, an absolute-form URL, the request head
 * rewritten for the origin server, the profile's resolve list -- for the engine and for the fuzz
 * harness (tests/fuzz/fuzz_forward.c). They read untrusted bytes: every one is bounded by its
 * arguments, allocates nothing but what it returns, and never trusts a length it did not check.
 */
#ifndef FL_FORWARD_H
#define FL_FORWARD_H

#include <stddef.h>
#include <event2/buffer.h>

struct protocol;
extern const struct protocol protocol_forward;

#define FWD_HOST_MAX 253   /* a DNS name's longest text */

/* A destination: a DNS name (lower case, no final dot) or an address (IPv6 without brackets). */
struct fwd_target {
    char host[FWD_HOST_MAX + 1];
    int port;
    int is_ip;
};

enum fwd_err {
    FWD_BAD = -1,        /* not a target a proxy can use */
    FWD_HTTPS = -2,      /* https:// in a request line: HTTPS goes through CONNECT */
    FWD_ORIGIN = -3,     /* a path, not a URL: the client took the proxy for the server */
    FWD_USERINFO = -4,   /* user:password@ in the URL: refused (credentials in a URL are not forwarded) */
};

/* A host as a client wrote it (a name, an IPv4 address, an IPv6 address with or without brackets)
 * checked and normalized into t->host / t->is_ip. 0, or FWD_BAD. */
int fwd_host_norm(const char *s, size_t len, struct fwd_target *t);
/* CONNECT's target, "host:port" (authority-form; IPv6 in brackets). 0, or FWD_BAD. */
int fwd_parse_authority(const char *s, size_t len, struct fwd_target *t);
/* An absolute-form target "http://host[:port][/path][?query]" (port default 80): the destination
 * into t, and the origin-form target for the server into *origin ("/path?query", "/" when none;
 * malloc'd, the caller frees). 0, or an enum fwd_err (*origin NULL). */
int fwd_parse_absolute(const char *s, size_t len, struct fwd_target *t, char **origin);
/* "host:port" of t, IPv6 in brackets, into buf. Returns buf. */
const char *fwd_target_str(const struct fwd_target *t, char *buf, size_t len);
/* The request head for the origin server, appended to out: head (a whole request head as the
 * client sent it, request line first, ending with its empty line) with the request line's target
 * replaced by origin, the Proxy-Connection and Proxy-Authorization fields dropped, and a Host field
 * added (for t) when there is none. 0, or FWD_BAD when head is not a request head. */
int fwd_origin_head(const char *head, size_t len, const char *origin, const struct fwd_target *t, struct evbuffer *out);

/* resolve = NAME:ADDR, ... (a profile's): the address NAME is mapped to. 1 with addr (an IPv4 or
 * IPv6 literal, no brackets), 0 when host is not in the list. */
int fwd_resolved(const char *resolve, const char *host, char *addr, size_t alen);
/* The list's syntax: 0, or -1 with why ("'x' is not NAME:ADDRESS"). */
int fwd_resolve_check(const char *resolve, char *why, size_t wl);
/* Calls fn for each NAME of the list (the default allow-list). */
void fwd_resolve_names(const char *resolve, void (*fn)(void *ud, const char *name), void *ud);

#endif
