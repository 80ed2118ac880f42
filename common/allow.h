/* allow.h -- address allow-lists and directory lists, as a profile writes them (docs/security.md).
 *
 * What: the two pure checks the admin API's reach rests on. An allow-list says which addresses
 * a proxy created through the API may listen on or send to (api_listen_allow,
 * api_upstream_allow) and which Host names the admin API answers to (admin_hosts); a directory
 * list says where unix sockets may live (unix_dirs).
 * Why here: the profile loader validates the lists (proxy/allow.c) and the API applies them
 * (control/guard.c); both need the same syntax and the same matching.
 * What not: no policy (which list applies when, the defaults) and no I/O beyond path_under_dirs
 * resolving symbolic links. Nothing is allocated: lists are fixed-size values, copied freely.
 *
 * Entry syntax, comma-separated:  *  |  127.0.0.0/8  |  10.1.2.3  |  [::1]  |  [fd00::/8]  |
 * ::1  |  localhost  |  *.svc.internal (names: glob, case-insensitive)  -- each optionally
 * followed by :PORT, :LO-HI or :* (a bare IPv6 address takes no port; bracket it for one).
 * Without a port an entry allows every port.
 */
#ifndef FL_ALLOW_H
#define FL_ALLOW_H

#include <stddef.h>
#include "common/parse.h"

#define ALLOW_MAX 32
enum allow_kind { AL_ANY = 1, AL_V4, AL_V6, AL_NAME };

struct allow_entry {
    unsigned char kind;            /* enum allow_kind */
    unsigned char prefix;          /* CIDR prefix length (AL_V4: 0..32, AL_V6: 0..128) */
    unsigned char addr[16];        /* AL_V4: 4 bytes, AL_V6: 16 */
    char name[128];                /* AL_NAME: lower-case glob */
    int plo, phi;                  /* ports allowed, inclusive */
};

struct allow_list {
    int n;
    struct allow_entry e[ALLOW_MAX];
};

/* Appends the entries of text to l. names = 0 refuses host-name entries (listen lists: a
 * listener binds an address, never a name). 0, or -1 with the reason in err. */
int allow_parse(const char *text, int names, struct allow_list *l, char *err, size_t errlen);

/* Adds one entry for host (an IP literal or a name) with every port allowed. 0, or -1 when the
 * list is full or host is not usable. */
int allow_add_host(struct allow_list *l, const char *host);

/* 1 when a (ADDR_INET or ADDR_NAME) matches an entry, else 0 (unix addresses never match).
 * Port 0 (the kernel picks a free port) matches whenever the address does. */
int allow_match(const struct allow_list *l, const struct fl_addr *a);

/* 1 when host (an IP literal, bracketed or not, or a name) and port match an entry. */
int allow_match_host(const struct allow_list *l, const char *host, int port);

/* The list in profile syntax, for error messages. Returns buf. */
const char *allow_str(const struct allow_list *l, char *buf, size_t len);

/* 1 when host (no port, IPv6 unbracketed or bracketed) is a loopback name or address:
 * localhost, 127.0.0.0/8, ::1, ::ffff:127.x.x.x. */
int host_is_loopback(const char *host);

#define DIRS_MAX 16
struct dir_list {
    int n;
    char d[DIRS_MAX][256];
};

/* Appends the comma-separated directories of text to l; each must be an absolute path without
 * "." or ".." components. 0, or -1 with err. */
int dirs_parse(const char *text, struct dir_list *l, char *err, size_t errlen);

/* 1 when path lies inside one of the directories: written under it (absolute, no "." or ".."
 * component) and still under it once the symbolic links of the part that exists (the path
 * itself, else its parent directory) and of the directory are resolved. */
int path_under_dirs(const char *path, const struct dir_list *l);

#endif
