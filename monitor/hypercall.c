/* zg_monitor: the hypercall handlers. Every guest address is checked. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "monitor/zg_monitor_int.h"

uint64_t zg_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int zg_fill_random(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Milliseconds until the deadline for poll(): -1 with none, 0 once passed. */
static int poll_timeout(const struct zg_instance *in)
{
    if (!in->deadline_at)
        return -1;
    uint64_t now = zg_now_ns();
    if (now >= in->deadline_at)
        return 0;
    uint64_t ms = (in->deadline_at - now + 999999) / 1000000;
    return ms > 60000 ? 60000 : (int)ms;
}

/* Waits for fd to become readable (POLLIN) or writable (POLLOUT).
 * 1 ready, 0 deadline passed, -errno on error. */
static int wait_fd(struct zg_instance *in, int fd, short events)
{
    for (;;) {
        if (in->expired)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, poll_timeout(in));
        if (n > 0)
            return 1;
        if (n == 0) {
            if (poll_timeout(in) == 0) {
                in->expired = 1;
                return 0;
            }
            continue;
        }
        if (errno != EINTR)
            return -errno;
    }
}

int64_t zg_console_write(struct zg_instance *in, const uint8_t *buf, uint64_t len)
{
    if (in->cfg.console_fd >= 0 && in->console_bytes < ZG_CONSOLE_CAP) {
        uint64_t n = len;
        if (n > ZG_CONSOLE_CAP - in->console_bytes)
            n = ZG_CONSOLE_CAP - in->console_bytes;
        ssize_t w = write(in->cfg.console_fd, buf, n);
        (void)w; /* the console is best effort */
    }
    in->console_bytes += len;
    return (int64_t)len;
}

int64_t zg_io_recv(struct zg_instance *in, uint8_t *buf, uint64_t len)
{
    if (!in->t.first_recv)
        in->t.first_recv = zg_now_ns();
    if (in->cfg.in_fd < 0 || len == 0)
        return 0;
    for (;;) {
        ssize_t n = read(in->cfg.in_fd, buf, len);
        if (n >= 0) {
            in->bytes_in += (uint64_t)n;
            return n;
        }
        if (errno == EINTR && !in->expired)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = wait_fd(in, in->cfg.in_fd, POLLIN);
            if (w > 0)
                continue;
            return -ZG_EIO; /* the deadline passed or poll failed */
        }
        if (errno == ECONNRESET)
            return 0; /* the peer went away: the request stream has ended */
        return -ZG_EIO;
    }
}

int64_t zg_io_recv_now(struct zg_instance *in, uint8_t *buf, uint64_t len)
{
    if (!in->t.first_recv)
        in->t.first_recv = zg_now_ns();
    if (in->cfg.in_fd < 0 || len == 0)
        return 0;
    struct pollfd p = {.fd = in->cfg.in_fd, .events = POLLIN};
    int ready;
    while ((ready = poll(&p, 1, 0)) < 0 && errno == EINTR)
        ;
    if (ready < 0)
        return -ZG_EIO;
    if (ready == 0)
        return -EAGAIN;
    for (;;) {
        ssize_t n = read(in->cfg.in_fd, buf, len);
        if (n >= 0) {
            in->bytes_in += (uint64_t)n;
            return n;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -EAGAIN;
        if (errno == ECONNRESET)
            return 0; /* the peer went away: the request stream has ended */
        return -ZG_EIO;
    }
}

/* The request's bytes that are there now, at most len, never waiting: the
 * number read (0: none yet, or the stream has ended), or -ZG_EIO. */
static int64_t io_recv_now(struct zg_instance *in, uint8_t *buf, uint64_t len)
{
    int64_t n = zg_io_recv_now(in, buf, len);
    return n == -EAGAIN ? 0 : n; /* RECV will wait */
}

int64_t zg_io_send(struct zg_instance *in, const uint8_t *buf, uint64_t len)
{
    if (!in->t.first_send)
        in->t.first_send = zg_now_ns();
    if (in->cfg.out_fd < 0) {
        in->bytes_out += len;
        return (int64_t)len;
    }
    uint64_t done = 0;
    while (done < len) {
        ssize_t n = write(in->cfg.out_fd, buf + done, len - done);
        if (n > 0) {
            done += (uint64_t)n;
            in->bytes_out += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR && !in->expired)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = wait_fd(in, in->cfg.out_fd, POLLOUT);
            if (w > 0)
                continue;
            return -ZG_EIO;
        }
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return -ZG_EPIPE;
        return -ZG_EIO;
    }
    return (int64_t)len;
}

/* Copies the argument struct in; NULL (and the run ended) if it is not
 * wholly inside guest memory or misaligned. */
#define ARG(type, var)                                                                             \
    type *var = (gpa & 7) ? NULL : zg_guest_wptr(in, gpa, sizeof(type));                           \
    if (!var)                                                                                      \
        return bad_arg(in, res, nr, gpa);

static enum zg_hc_action bad_arg(struct zg_instance *in, struct zg_run_result *res, unsigned nr,
                                 uint64_t gpa)
{
    (void)in;
    res->end = ZG_END_FAULT;
    snprintf(res->why, sizeof(res->why),
             "hypercall %u: argument struct at 0x%llx is outside guest memory or misaligned", nr,
             (unsigned long long)gpa);
    return ZG_HC_STOP;
}

static void complete_ready(struct zg_instance *in, struct zg_hc_ready *r, int restored)
{
    memset(r, 0, sizeof(*r));
    r->restored = restored ? 1 : 0;
    r->instance_id = in->id;
    r->monotonic_ns = zg_now_ns();
    r->wall_ns = zg_wall_ns();
    if (zg_fill_random(r->entropy, sizeof(r->entropy)) < 0) {
        /* getrandom cannot fail once the pool is initialised; never hand out
         * a zero seed silently though. */
        uint64_t mix = r->monotonic_ns ^ (r->instance_id * 0x9e3779b97f4a7c15ull);
        for (unsigned i = 0; i < sizeof(r->entropy); i++, mix = mix * 6364136223846793005ull + 1)
            r->entropy[i] = (uint8_t)(mix >> 56);
    }
}

/* RECV's and READY_RECV's read into the guest's [gpa, gpa+len): the bytes
 * read (waiting for some, or with `now` only those there), 0, or -ZG_E*.
 * Only the bytes a read fills count as written (for the pooled reset and
 * the memory cap), not the whole buffer offered. */
static int64_t recv_into(struct zg_instance *in, uint64_t gpa, uint64_t len, int now)
{
    uint8_t *buf = len > ZG_IO_MAX ? NULL : zg_guest_ptr(in, gpa, len);
    if (len > ZG_IO_MAX)
        return -ZG_EINVAL;
    if (!buf)
        return -ZG_EFAULT;
    int64_t ret = now ? io_recv_now(in, buf, len) : zg_io_recv(in, buf, len);
    if (ret > 0)
        zg_guest_mark(in, gpa, (uint64_t)ret);
    return ret;
}

/* READY_RECV's second half: the request's bytes that are already there. */
static void ready_recv(struct zg_instance *in, struct zg_hc_ready_recv *a)
{
    a->ret = recv_into(in, a->buf, a->len, 1);
}

int zg_zerg_complete_ready(struct zg_instance *in, int restored)
{
    if (in->ready_nr == ZG_HC_READY_RECV) {
        struct zg_hc_ready_recv *a = zg_guest_wptr(in, in->ready_gpa, sizeof(*a));
        if (!a)
            return -EFAULT;
        complete_ready(in, &a->ready, restored);
        ready_recv(in, a);
        return 0;
    }
    struct zg_hc_ready *r = zg_guest_wptr(in, in->ready_gpa, sizeof(*r));
    if (!r)
        return -EFAULT;
    complete_ready(in, r, restored);
    return 0;
}

int zg_zerg_guest_restores_fpu(const struct zg_instance *in)
{
    const struct zg_hc_ready *r =
        (in->ready_gpa & 7) ? NULL : zg_guest_ptr(in, in->ready_gpa, sizeof(*r));
    return r && (r->flags & ZG_READY_SELF_FPU);
}

void zg_zerg_last_call(const struct zg_instance *in, char *buf, size_t len)
{
    static const char *const names[ZG_HC_COUNT] = {
        [ZG_HC_CONSOLE] = "CONSOLE",    [ZG_HC_TIME] = "TIME",
        [ZG_HC_RANDOM] = "RANDOM",      [ZG_HC_READY] = "READY",
        [ZG_HC_RECV] = "RECV",          [ZG_HC_SEND] = "SEND",
        [ZG_HC_EXIT] = "EXIT",          [ZG_HC_READY_RECV] = "READY_RECV",
        [ZG_HC_SEND_EXIT] = "SEND_EXIT"};
    if (in->last_hc < 0)
        snprintf(buf, len, "it had made no hypercall");
    else if (in->last_hc < ZG_HC_COUNT && names[in->last_hc])
        snprintf(buf, len, "its last hypercall was %s", names[in->last_hc]);
    else
        snprintf(buf, len, "its last hypercall was number %d", in->last_hc);
}

enum zg_hc_action zg_hc_dispatch(struct zg_instance *in, unsigned nr, uint64_t gpa,
                                 struct zg_run_result *res)
{
    in->last_hc = nr < 0x10000 ? (int)nr : 0xffff;
    switch (nr) {
    case ZG_HC_CONSOLE: {
        ARG(struct zg_hc_console, a);
        uint64_t len = a->len;
        const uint8_t *buf = zg_guest_ptr(in, a->buf, len);
        if (len > ZG_CONSOLE_MAX)
            a->ret = -ZG_EINVAL;
        else if (!buf)
            a->ret = -ZG_EFAULT;
        else
            a->ret = zg_console_write(in, buf, len);
        return ZG_HC_CONTINUE;
    }
    case ZG_HC_TIME: {
        ARG(struct zg_hc_time, a);
        a->monotonic_ns = zg_now_ns();
        a->wall_ns = zg_wall_ns();
        return ZG_HC_CONTINUE;
    }
    case ZG_HC_RANDOM: {
        ARG(struct zg_hc_random, a);
        uint64_t len = a->len;
        uint8_t *buf = len > ZG_RANDOM_MAX ? NULL : zg_guest_wptr(in, a->buf, len);
        if (len > ZG_RANDOM_MAX)
            a->ret = -ZG_EINVAL;
        else if (!buf)
            a->ret = -ZG_EFAULT;
        else
            a->ret = zg_fill_random(buf, len) < 0 ? -ZG_EIO : (int64_t)len;
        return ZG_HC_CONTINUE;
    }
    case ZG_HC_READY:
    case ZG_HC_READY_RECV: {
        /* READY_RECV's struct begins with READY's */
        size_t size =
            nr == ZG_HC_READY ? sizeof(struct zg_hc_ready) : sizeof(struct zg_hc_ready_recv);
        void *a = (gpa & 7) ? NULL : zg_guest_wptr(in, gpa, size);
        if (!a)
            return bad_arg(in, res, nr, gpa);
        if (in->cfg.flags & ZG_INST_STOP_AT_READY) {
            in->cfg.flags &=
                ~ZG_INST_STOP_AT_READY; /* only the first READY is the template point */
            in->ready_gpa = gpa;
            in->ready_nr = nr;
            res->end = ZG_END_READY;
            return ZG_HC_STOP;
        }
        complete_ready(in, a, 0);
        if (nr == ZG_HC_READY_RECV)
            ready_recv(in, a);
        if (!in->t.ready)
            in->t.ready = zg_now_ns();
        return ZG_HC_CONTINUE;
    }
    case ZG_HC_RECV: {
        ARG(struct zg_hc_recv, a);
        a->ret = recv_into(in, a->buf, a->len, 0);
        return ZG_HC_CONTINUE;
    }
    case ZG_HC_SEND: {
        ARG(struct zg_hc_send, a);
        uint64_t len = a->len;
        const uint8_t *buf = zg_guest_ptr(in, a->buf, len);
        if (len > ZG_IO_MAX)
            a->ret = -ZG_EINVAL;
        else if (!buf)
            a->ret = -ZG_EFAULT;
        else
            a->ret = zg_io_send(in, buf, len);
        return ZG_HC_CONTINUE;
    }
    case ZG_HC_EXIT: {
        ARG(struct zg_hc_exit, a);
        int64_t st = a->status;
        res->end = ZG_END_EXIT;
        res->status = (int)(st & 0xff);
        if (st < 0 || st > 255)
            snprintf(res->why, sizeof(res->why), "exit status %lld truncated to %d", (long long)st,
                     res->status);
        return ZG_HC_STOP;
    }
    case ZG_HC_SEND_EXIT: {
        ARG(struct zg_hc_send_exit, a);
        int64_t st = a->status;
        uint64_t len = a->len;
        const uint8_t *buf = len > ZG_IO_MAX ? NULL : zg_guest_ptr(in, a->buf, len);
        if (!buf) {
            /* nowhere to return an error: the guest is broken */
            res->end = ZG_END_FAULT;
            snprintf(res->why, sizeof(res->why), "SEND_EXIT of %llu bytes at 0x%llx: %s",
                     (unsigned long long)len, (unsigned long long)a->buf,
                     len > ZG_IO_MAX ? "more than ZG_IO_MAX" : "outside guest memory");
            return ZG_HC_STOP;
        }
        int64_t sent = zg_io_send(in, buf, len);
        res->end = ZG_END_EXIT;
        res->status = (int)(st & 0xff);
        if (sent < 0)
            snprintf(res->why, sizeof(res->why), "exit %d; its last %llu bytes were not sent: %s",
                     res->status, (unsigned long long)len,
                     sent == -ZG_EPIPE ? "the peer went away" : "the response stream failed");
        else if (st < 0 || st > 255)
            snprintf(res->why, sizeof(res->why), "exit status %lld truncated to %d", (long long)st,
                     res->status);
        return ZG_HC_STOP;
    }
    default:
        res->end = ZG_END_FAULT;
        snprintf(res->why, sizeof(res->why), "unknown hypercall %u (port 0x%x)", nr,
                 ZG_HC_PORT_BASE + nr);
        return ZG_HC_STOP;
    }
}
