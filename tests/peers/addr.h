/* addr.h -- the address parser the C test tools share (header-only: each tests/peers/NAME.c is
 * built alone into build/t/NAME, so shared helpers live here as static inline functions).
 *
 * parse_sa("127.0.0.1:9000" | "[::1]:9000" | "unix:/path", &ss, &len): numeric addresses only
 * (tests never resolve names). 0, or -1 when the text is not an address.
 */
#ifndef FL_TEST_ADDR_H
#define FL_TEST_ADDR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

static inline int parse_sa(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (!strncmp(s, "unix:", 5)) {
        struct sockaddr_un *u = (struct sockaddr_un *)ss;
        u->sun_family = AF_UNIX;
        snprintf(u->sun_path, sizeof(u->sun_path), "%s", s + 5);
        *len = sizeof(*u);
        return 0;
    }
    char host[128];
    const char *c;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb) return -1;
        snprintf(host, sizeof(host), "%.*s", (int)(rb - s - 1), s + 1);
        c = rb + 1;
    } else {
        c = strrchr(s, ':');
        if (!c) return -1;
        snprintf(host, sizeof(host), "%.*s", (int)(c - s), s);
    }
    int port = atoi(c + 1);
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a6);
        return 0;
    }
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof(*a4);
        return 0;
    }
    return -1;
}

#endif
