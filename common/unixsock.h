/* unixsock.h -- unix socket files: bind only where it is safe, unlink only what we made.
 *
 * What: the file-system side of listening on unix:/path. Before a bind, unixsock_prepare looks
 * at what is already at the path: nothing is fine; a regular file, a directory or a symbolic
 * link is never replaced; a socket is replaced only when nobody listens on it (connect is
 * refused) and it belongs to this user -- a stale file of an earlier run. After the bind,
 * unixsock_bound remembers the file's device and inode; unixsock_release unlinks the path only
 * while the same file is still there, so a socket another process put in its place is left
 * alone. Why: a proxy created through the admin API once unlinked and rebound any socket file
 * (docker.sock included), and its DELETE removed whatever the path named then.
 * What not: no policy on where sockets may live (common/allow.h, unix_dirs). One table per
 * process (a daemon has one event loop); not thread-safe.
 */
#ifndef FL_UNIXSOCK_H
#define FL_UNIXSOCK_H

#include <stddef.h>

/* 0 when path may be bound (nothing there, or a stale socket of ours, now removed); -1 with
 * the reason in err: a file that is not a socket, a socket in use, a socket of another user. */
int unixsock_prepare(const char *path, char *err, size_t errlen);

/* After a successful bind of path: the file now there is ours. */
void unixsock_bound(const char *path);

/* The listener on path was closed: unlinks path if it is still the file unixsock_bound saw
 * (same device and inode), and forgets it either way. Paths never bound are left alone. */
void unixsock_release(const char *path);

#endif
