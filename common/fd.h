/* common/fd.h -- the daemon's descriptors stay the daemon's (docs/security.md, "Child
 * processes").
 *
 * faultline starts other programs: a scenario's load command and actions, the embedded
 * redis-server, the samplers. None of them may inherit a listening socket, a client's
 * connection, the record's Redis connection or the admin API: a child holding a listener keeps
 * the port bound after faultline exits, and one holding a connection can read or write a
 * stranger's bytes. Two layers keep them out: every descriptor faultline opens is
 * close-on-exec (SOCK_CLOEXEC / O_CLOEXEC where it opens them, fl_cloexec on those libraries
 * open for it: hiredis, libpq, libevent's connect sockets), and a forked child closes
 * everything above stderr before it execs (fl_child_close_fds), whatever a library did.
 */
#ifndef FL_FD_H
#define FL_FD_H

/* Sets FD_CLOEXEC on fd (ignored when fd < 0). 0, or -1 with errno. */
int fl_cloexec(int fd);
/* In a forked child, before exec: closes every descriptor above 2. */
void fl_child_close_fds(void);

#endif
