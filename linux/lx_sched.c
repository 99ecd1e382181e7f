/* Linux personality: the instance's wait. A handler never sleeps: a call
 * that cannot be answered yet returns LX_BLOCK with what it waits for in
 * c->wait (a host descriptor the request stream's kinds watch, a time, a
 * futex). The scheduler (lx_thread.c) runs another thread; when none can
 * run it waits here, in a host poll(), for the first of what the threads
 * wait for or the instance's deadline, then serves their calls again from
 * the start (a handler finds what changed, or its time past: c->started
 * stays the call's first time). */
#include <errno.h>
#include <poll.h>

#include "linux/lx_int.h"

int lx_sched_wait(struct zg_instance *in, const struct lx_wait *w)
{
    for (;;) {
        if (in->expired)
            return 0;
        uint64_t now = zg_now_ns(), end = w->until;
        if (end && now >= end)
            return 1;
        if (in->deadline_at && (!end || in->deadline_at < end))
            end = in->deadline_at;
        if (end && now >= end) {
            in->expired = 1; /* the deadline, not the call's time: the run loop ends it */
            return 0;
        }
        int ms = -1;
        if (end) {
            uint64_t left = (end - now + 999999) / 1000000;
            ms = left > 60000 ? 60000 : (int)left;
        }
        struct pollfd p = {.fd = w->host_fd, .events = w->events};
        int n = poll(&p, w->host_fd >= 0 ? 1 : 0, ms < 0 ? 60000 : ms);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return 1; /* the handler meets the error itself */
        /* a timeout or a signal (the deadline's timer): look again */
    }
}
