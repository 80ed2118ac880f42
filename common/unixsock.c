/* unixsock.c -- safe bind and unlink of unix socket files. See unixsock.h. */
#include "common/unixsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SETERR(...) do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); } while (0)

struct made { char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; dev_t dev; ino_t ino; };
static struct made *g_made;   /* sockets this process bound and has not released */
static int g_nmade;

/* 1 when something accepts connections on the socket at path, 0 when the connect is refused
 * (a stale file), -1 when it cannot be told (err says why). */
static int socket_live(const char *path, char *err, size_t errlen)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { SETERR("socket: %s", strerror(errno)); return -1; }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    close(fd);
    if (rc == 0 || e == EAGAIN || e == EINPROGRESS) return 1;   /* EAGAIN: a full backlog is alive */
    if (e == ECONNREFUSED) return 0;
    SETERR("cannot tell whether it is in use: %s", strerror(e));
    return -1;
}

int unixsock_prepare(const char *path, char *err, size_t errlen)
{
    struct stat sb;
    if (lstat(path, &sb) < 0) return 0;   /* nothing there (or unreachable: bind says why) */
    if (!S_ISSOCK(sb.st_mode)) {
        SETERR("%s exists and is not a socket: refusing to replace it", path);
        return -1;
    }
    if (sb.st_uid != geteuid()) {
        SETERR("%s is a socket of another user (uid %u): refusing to replace it", path, (unsigned)sb.st_uid);
        return -1;
    }
    char e[200];
    int live = socket_live(path, e, sizeof(e));
    if (live != 0) {
        SETERR("%s is a socket %s: refusing to replace it", path, live > 0 ? "in use by another process" : e);
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        SETERR("%s: cannot remove the stale socket: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int find(const char *path)
{
    for (int i = 0; i < g_nmade; i++)
        if (!strcmp(g_made[i].path, path)) return i;
    return -1;
}

void unixsock_bound(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) < 0 || !S_ISSOCK(sb.st_mode)) return;
    int i = find(path);
    if (i < 0) {
        struct made *m = realloc(g_made, sizeof(*m) * (size_t)(g_nmade + 1));
        if (!m) abort();
        g_made = m;
        i = g_nmade++;
        snprintf(g_made[i].path, sizeof(g_made[i].path), "%s", path);
    }
    g_made[i].dev = sb.st_dev;
    g_made[i].ino = sb.st_ino;
}

void unixsock_release(const char *path)
{
    int i = find(path);
    if (i < 0) return;
    struct stat sb;
    if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode) && sb.st_dev == g_made[i].dev && sb.st_ino == g_made[i].ino)
        unlink(path);
    g_made[i] = g_made[--g_nmade];
    if (!g_nmade) { free(g_made); g_made = NULL; }
}
