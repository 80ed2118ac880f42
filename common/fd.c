/* common/fd.c -- close-on-exec and a child's clean slate (common/fd.h). */
#include "common/fd.h"

#include <fcntl.h>
#include <unistd.h>

int fl_cloexec(int fd)
{
    if (fd < 0) return 0;
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0) return -1;
    if (fl & FD_CLOEXEC) return 0;
    return fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

void fl_child_close_fds(void)
{
    /* close_range (Linux 5.9, glibc 2.34); a loop over the limit where it is missing */
    if (close_range(3, ~0U, 0) == 0) return;
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = 3; fd < (max > 0 ? max : 65536); fd++) close((int)fd);
}
