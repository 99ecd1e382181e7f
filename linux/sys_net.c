/* Linux personality: sockets. The stdio model has no sockets: the request
 * and response streams are not sockets to the program (an inetd program
 * asking for its peer learns ENOTSOCK, as under a pipe). */
#include <errno.h>

#include "linux/lx_int.h"

/* getpeername, getsockname, shutdown, setsockopt, getsockopt on a descriptor. */
int64_t lx_sys_notsock(struct lx_call *c)
{
    return lx_fd_get(c->lx, c->a[0]) ? -ENOTSOCK : -EBADF;
}
