/* Linux personality: the instance's scheduler. A handler never sleeps: a
 * call that cannot be answered yet returns LX_BLOCK with what it waits for
 * in c->wait (a host descriptor the request stream's kinds watch, a time).
 * The scheduler waits for the first of those or the instance's deadline,
 * then serves the call again from the start; the handler finds what
 * changed, or its time past (c->started stays the call's first time).
 *
 * One thread so far: while it waits, nothing else of the instance can run,
 * so the wait is a host poll(). With threads (docs/abi.md) the wait is what
 * the runtime asks for when no thread can run, and this is where it is
 * served. */
#include <errno.h>
#include <poll.h>

#include "linux/lx_int.h"

/* Waits for w or the deadline: 1 to serve the call again, 0 if the
 * instance's deadline passed (in->expired set). */
static int sched_wait(struct zg_instance *in, const struct lx_wait *w)
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

int64_t lx_sched_serve(struct lx_call *c, int64_t (*fn)(struct lx_call *c))
{
    c->started = zg_now_ns();
    for (;;) {
        c->wait = (struct lx_wait){.host_fd = -1};
        int64_t ret = fn(c);
        if (ret != LX_BLOCK || c->stop)
            return ret;
        if (!sched_wait(c->in, &c->wait))
            return LX_BLOCK;
    }
}
