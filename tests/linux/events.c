/* Linux conformance program for event primitives (issue 24): pipe and pipe2
 * (O_NONBLOCK, O_CLOEXEC, EAGAIN on an empty and on a full non-blocking
 * pipe, EOF after the writer closes, EPIPE with SIGPIPE ignored,
 * F_GETPIPE_SZ/F_SETPIPE_SZ), eventfd (counter, EFD_SEMAPHORE, EFD_NONBLOCK),
 * timerfd on CLOCK_MONOTONIC (one-shot, interval, EAGAIN before expiry,
 * disarm), socketpair(AF_UNIX, SOCK_STREAM) both ways and shutdown, epoll
 * level- and edge-triggered (EPOLLET reports once until drained) on pipes,
 * eventfds, timerfds and sockets, EPOLLONESHOT re-armed by EPOLL_CTL_MOD,
 * EPOLLHUP/EPOLLERR, epoll_ctl errors, a nested epoll, poll and select over
 * all kinds, 150 pipes in one epoll and 8 epoll instances at once. One line
 * per check, the same on every run (errno names from our own table, only
 * "elapsed >= X ms" booleans), exit 0 when all behaved. tests/sys/linux.sh
 * runs it natively and under zerg and diffs the output. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int checks, fails;

static const char *ename(int e)
{
    static const struct {
        int e;
        const char *n;
    } t[] = {{0, "0"},           {EAGAIN, "EAGAIN"}, {EPIPE, "EPIPE"},      {EINTR, "EINTR"},
             {EBADF, "EBADF"},   {EINVAL, "EINVAL"}, {ENOSYS, "ENOSYS"},    {EPERM, "EPERM"},
             {EEXIST, "EEXIST"}, {ENOENT, "ENOENT"}, {ENOMEM, "ENOMEM"},    {EFAULT, "EFAULT"},
             {EMFILE, "EMFILE"}, {ELOOP, "ELOOP"},   {ENOTSOCK, "ENOTSOCK"}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].e == e)
            return t[i].n;
    static char b[32];
    snprintf(b, sizeof(b), "errno-%d", e);
    return b;
}

static void check(const char *name, int ok, const char *detail)
{
    checks++;
    fails += !ok;
    printf("%-52s %s%s%s\n", name, ok ? "ok" : "FAIL", detail ? " " : "", detail ? detail : "");
}

/* The result of a call as text: the value, or -1 and the errno name. */
static char rbuf[8][64];
static int rslot;
static const char *res(long r)
{
    char *b = rbuf[rslot++ & 7];
    if (r < 0)
        snprintf(b, 64, "-1 %s", ename(errno));
    else
        snprintf(b, 64, "%ld", r);
    return b;
}
#define IS_ERR(r, e) ((r) < 0 && errno == (e))

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int ep_count(int ep, int timeout)
{
    struct epoll_event ev[8];
    return epoll_wait(ep, ev, 8, timeout);
}

static int arm(int fd, long first_ms, long every_ms)
{
    struct itimerspec its = {{every_ms / 1000, (every_ms % 1000) * 1000000L},
                             {first_ms / 1000, (first_ms % 1000) * 1000000L}};
    return timerfd_settime(fd, 0, &its, NULL);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    char d[200], buf[4096];
    long r;
    uint64_t v;
    int p[2] = {-1, -1}, q[2] = {-1, -1};

    /* pipes */
    r = pipe(p);
    check("pipe", r == 0, NULL);
    r = write(p[1], "abc", 3);
    long r2 = read(p[0], buf, sizeof(buf));
    check("pipe write 3, read 3", r == 3 && r2 == 3 && !memcmp(buf, "abc", 3), NULL);
    r = fcntl(p[0], F_GETPIPE_SZ);
    snprintf(d, sizeof(d), "(%s)", res(r));
    check("F_GETPIPE_SZ", r == 65536, d);
    close(p[1]);
    r = read(p[0], buf, 10);
    check("read after the writer closed: EOF", r == 0, NULL);
    close(p[0]);

    r = pipe2(p, O_NONBLOCK | O_CLOEXEC);
    int fl = fcntl(p[0], F_GETFL), fd = fcntl(p[1], F_GETFD);
    check("pipe2 O_NONBLOCK|O_CLOEXEC flags", r == 0 && (fl & O_NONBLOCK) && (fd & FD_CLOEXEC),
          NULL);
    r = read(p[0], buf, 10);
    snprintf(d, sizeof(d), "(%s)", res(r));
    check("read of an empty non-blocking pipe: EAGAIN", IS_ERR(r, EAGAIN), d);
    long total = 0;
    memset(buf, 'x', sizeof(buf));
    while ((r = write(p[1], buf, sizeof(buf))) > 0)
        total += r;
    snprintf(d, sizeof(d), "(filled %ld, then %s)", total, res(r));
    check("fill a non-blocking pipe: EAGAIN when full", total == 65536 && IS_ERR(r, EAGAIN), d);
    r = write(p[1], "y", 1);
    snprintf(d, sizeof(d), "(%s)", res(r));
    check("write 1 byte to a full pipe: EAGAIN", IS_ERR(r, EAGAIN), d);
    long drained = 0;
    while ((r = read(p[0], buf, sizeof(buf))) > 0)
        drained += r;
    snprintf(d, sizeof(d), "(drained %ld)", drained);
    check("drain the full pipe", drained == 65536 && IS_ERR(r, EAGAIN), d);
    r = fcntl(p[1], F_SETPIPE_SZ, 8192);
    long r3 = fcntl(p[0], F_GETPIPE_SZ);
    snprintf(d, sizeof(d), "(set %s, get %s)", res(r), res(r3));
    check("F_SETPIPE_SZ 8192", r == 8192 && r3 == 8192, d);
    signal(SIGPIPE, SIG_IGN);
    close(p[0]);
    r = write(p[1], "z", 1);
    snprintf(d, sizeof(d), "(%s)", res(r));
    check("write with the reader closed, SIGPIPE ignored: EPIPE", IS_ERR(r, EPIPE), d);
    close(p[1]);

    /* eventfd */
    int e = eventfd(0, 0);
    v = 3;
    r = write(e, &v, 8);
    v = 4;
    r2 = write(e, &v, 8);
    v = 0;
    r3 = read(e, &v, 8);
    snprintf(d, sizeof(d), "(read %s value %llu)", res(r3), (unsigned long long)v);
    check("eventfd counter 3 + 4", e >= 0 && r == 8 && r2 == 8 && r3 == 8 && v == 7, d);
    r = read(e, &v, 4);
    snprintf(d, sizeof(d), "(%s)", res(r));
    check("eventfd read of 4 bytes: EINVAL", IS_ERR(r, EINVAL), d);
    v = UINT64_MAX;
    r = write(e, &v, 8);
    snprintf(d, sizeof(d), "(%s)", res(r));
    check("eventfd write of 2^64-1: EINVAL", IS_ERR(r, EINVAL), d);
    close(e);
    e = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
    int ones = 0;
    while (read(e, &v, 8) == 8)
        ones += v == 1;
    snprintf(d, sizeof(d), "(three reads of 1: %s, then %s)", ones == 3 ? "yes" : "no",
             ename(errno));
    check("eventfd EFD_SEMAPHORE|EFD_NONBLOCK", ones == 3 && errno == EAGAIN, d);
    close(e);

    /* timerfd */
    int tf = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    arm(tf, 40, 0);
    r = read(tf, &v, 8);
    snprintf(d, sizeof(d), "(%s)", res(r));
    check("timerfd read before expiry: EAGAIN", tf >= 0 && IS_ERR(r, EAGAIN), d);
    long t0 = now_ms();
    struct pollfd pf = {tf, POLLIN, 0};
    r = poll(&pf, 1, 1000);
    long el = now_ms() - t0;
    r2 = read(tf, &v, 8);
    snprintf(d, sizeof(d), "(poll %s, elapsed >= 30 ms: %s, expirations %llu)", res(r),
             el >= 30 ? "yes" : "no", (unsigned long long)v);
    check("timerfd one-shot 40 ms", r == 1 && el >= 30 && r2 == 8 && v == 1, d);
    arm(tf, 10, 10);
    sleep_ms(45);
    r = read(tf, &v, 8);
    snprintf(d, sizeof(d), "(expirations >= 1: %s)", r == 8 && v >= 1 ? "yes" : "no");
    check("timerfd interval 10 ms", r == 8 && v >= 1, d);
    arm(tf, 0, 0);
    struct itimerspec cur;
    timerfd_gettime(tf, &cur);
    check("timerfd disarmed: gettime zero",
          cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0 && cur.it_interval.tv_nsec == 0,
          NULL);

    /* socketpair */
    int sv[2] = {-1, -1};
    r = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    r2 = write(sv[0], "ping", 4);
    r3 = read(sv[1], buf, sizeof(buf));
    long r4 = write(sv[1], "pong!", 5), r5 = read(sv[0], buf + 10, sizeof(buf) - 10);
    check("socketpair both directions",
          r == 0 && r2 == 4 && r3 == 4 && !memcmp(buf, "ping", 4) && r4 == 5 && r5 == 5 &&
              !memcmp(buf + 10, "pong!", 5),
          NULL);
    r = recv(sv[0], buf, 10, MSG_DONTWAIT);
    snprintf(d, sizeof(d), "(%s)", res(r));
    check("socketpair recv MSG_DONTWAIT empty: EAGAIN", IS_ERR(r, EAGAIN), d);
    shutdown(sv[1], SHUT_WR);
    r = read(sv[0], buf, 10);
    check("socketpair read after peer SHUT_WR: EOF", r == 0, NULL);

    /* epoll, level and edge */
    int ep = epoll_create1(EPOLL_CLOEXEC);
    pipe2(p, O_NONBLOCK);
    pipe2(q, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1111222233334444ull};
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    ev = (struct epoll_event){.events = EPOLLIN | EPOLLET, .data.u64 = 2};
    epoll_ctl(ep, EPOLL_CTL_ADD, q[0], &ev);
    write(p[1], "a", 1);
    struct epoll_event out[8];
    r = epoll_wait(ep, out, 8, 0);
    r2 = epoll_wait(ep, out, 8, 0);
    snprintf(d, sizeof(d), "(%s then %s, data %s)", res(r), res(r2),
             out[0].data.u64 == 0x1111222233334444ull ? "returned" : "wrong");
    check("epoll level-triggered pipe: reported again",
          r == 1 && r2 == 1 && out[0].data.u64 == 0x1111222233334444ull, d);
    read(p[0], buf, 10);
    write(q[1], "b", 1);
    r = ep_count(ep, 0);
    r2 = ep_count(ep, 0);
    write(q[1], "c", 1);
    r3 = ep_count(ep, 0);
    read(q[0], buf, 10);
    r4 = ep_count(ep, 0);
    snprintf(d, sizeof(d), "(%s, %s, after more data %s, drained %s)", res(r), res(r2), res(r3),
             res(r4));
    check("epoll EPOLLET pipe: once until more data", r == 1 && r2 == 0 && r3 == 1 && r4 == 0, d);
    e = eventfd(0, EFD_NONBLOCK);
    ev = (struct epoll_event){.events = EPOLLIN | EPOLLET, .data.u64 = 3};
    epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev);
    v = 1;
    write(e, &v, 8);
    r = ep_count(ep, 0), r2 = ep_count(ep, 0);
    read(e, &v, 8);
    snprintf(d, sizeof(d), "(%s then %s)", res(r), res(r2));
    check("epoll EPOLLET eventfd: once", r == 1 && r2 == 0, d);
    ev = (struct epoll_event){.events = EPOLLIN | EPOLLET, .data.u64 = 4};
    epoll_ctl(ep, EPOLL_CTL_ADD, tf, &ev);
    arm(tf, 20, 0);
    t0 = now_ms();
    r = epoll_wait(ep, out, 8, 1000);
    el = now_ms() - t0;
    r2 = ep_count(ep, 0);
    r3 = read(tf, &v, 8);
    snprintf(d, sizeof(d), "(%s, elapsed >= 10 ms: %s, then %s, data %llu)", res(r),
             el >= 10 ? "yes" : "no", res(r2), (unsigned long long)out[0].data.u64);
    check("epoll EPOLLET timerfd: waits, once",
          r == 1 && el >= 10 && r2 == 0 && out[0].data.u64 == 4 && r3 == 8, d);
    epoll_ctl(ep, EPOLL_CTL_DEL, tf, NULL);
    ev = (struct epoll_event){.events = EPOLLIN | EPOLLET, .data.u64 = 5};
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev);
    write(sv[0], "s", 1);
    r = ep_count(ep, 0), r2 = ep_count(ep, 0);
    read(sv[1], buf, 10);
    snprintf(d, sizeof(d), "(%s then %s)", res(r), res(r2));
    check("epoll EPOLLET socket: once", r == 1 && r2 == 0, d);
    epoll_ctl(ep, EPOLL_CTL_DEL, sv[1], NULL);

    ev = (struct epoll_event){.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 1};
    epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
    write(p[1], "d", 1);
    r = ep_count(ep, 0), r2 = ep_count(ep, 0);
    r3 = epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
    r4 = ep_count(ep, 0);
    snprintf(d, sizeof(d), "(%s, %s, re-armed %s)", res(r), res(r2), res(r4));
    check("EPOLLONESHOT, EPOLL_CTL_MOD re-arms", r == 1 && r2 == 0 && r3 == 0 && r4 == 1, d);
    read(p[0], buf, 10);

    r = epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    snprintf(d, sizeof(d), "(%s)", res(r));
    check("epoll_ctl ADD twice: EEXIST", IS_ERR(r, EEXIST), d);
    r = epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL);
    snprintf(d, sizeof(d), "(%s)", res(r));
    check("epoll_ctl DEL unregistered: ENOENT", IS_ERR(r, ENOENT), d);
    r = epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev);
    snprintf(d, sizeof(d), "(%s)", res(r));
    check("epoll_ctl ADD itself: EINVAL", IS_ERR(r, EINVAL), d);
    int dn = open("/dev/null", O_RDONLY);
    r = epoll_ctl(ep, EPOLL_CTL_ADD, dn, &ev);
    snprintf(d, sizeof(d), "(%s)", res(r));
    check("epoll_ctl ADD /dev/null: EPERM", IS_ERR(r, EPERM), d);
    close(dn);

    int inner = epoll_create1(0), outer = epoll_create1(0);
    ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = 9};
    epoll_ctl(inner, EPOLL_CTL_ADD, p[0], &ev);
    epoll_ctl(outer, EPOLL_CTL_ADD, inner, &ev);
    r = ep_count(outer, 0);
    write(p[1], "n", 1);
    r2 = ep_count(outer, 0);
    read(p[0], buf, 10);
    snprintf(d, sizeof(d), "(%s, then %s)", res(r), res(r2));
    check("nested epoll readable when the inner one is", r == 0 && r2 == 1, d);
    close(inner), close(outer);

    int hp[2] = {-1, -1};
    pipe(hp);
    ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = 10};
    epoll_ctl(ep, EPOLL_CTL_ADD, hp[0], &ev);
    close(hp[1]);
    r = epoll_wait(ep, out, 8, 0);
    snprintf(d, sizeof(d), "(%s, events %#x)", res(r), r == 1 ? out[0].events : 0);
    check("EPOLLHUP when the writer closes", r == 1 && (out[0].events & EPOLLHUP), d);
    close(hp[0]);
    pipe(hp);
    ev = (struct epoll_event){.events = EPOLLOUT, .data.u64 = 11};
    epoll_ctl(ep, EPOLL_CTL_ADD, hp[1], &ev);
    close(hp[0]);
    r = epoll_wait(ep, out, 8, 0);
    snprintf(d, sizeof(d), "(%s, events %#x)", res(r), r == 1 ? out[0].events : 0);
    check("EPOLLERR when the reader closes", r == 1 && (out[0].events & EPOLLERR), d);
    close(hp[1]);
    t0 = now_ms();
    r = epoll_wait(ep, out, 8, 30);
    el = now_ms() - t0;
    snprintf(d, sizeof(d), "(%s, elapsed >= 25 ms: %s)", res(r), el >= 25 ? "yes" : "no");
    check("epoll_wait times out", r == 0 && el >= 25, d);

    /* poll and select over every kind */
    int e2 = eventfd(1, EFD_NONBLOCK), tf2 = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    int sp[2] = {-1, -1};
    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
    arm(tf2, 1, 0);
    sleep_ms(5);
    write(p[1], "x", 1);
    write(sp[0], "x", 1);
    int ep2 = epoll_create1(0);
    ev = (struct epoll_event){.events = EPOLLIN};
    epoll_ctl(ep2, EPOLL_CTL_ADD, e2, &ev);
    struct pollfd pfs[] = {{p[0], POLLIN, 0}, {q[0], POLLIN, 0},  {e2, POLLIN, 0},
                           {tf2, POLLIN, 0},  {sp[1], POLLIN, 0}, {sp[0], POLLOUT, 0},
                           {ep2, POLLIN, 0},  {tf, POLLIN, 0}};
    int n = sizeof(pfs) / sizeof(pfs[0]);
    r = poll(pfs, (nfds_t)n, 0);
    char *o = d;
    for (int i = 0; i < n; i++)
        o += sprintf(o, "%x%s", pfs[i].revents, i + 1 < n ? "," : "");
    check("poll over 8 kinds (revents)", r == 6 && pfs[1].revents == 0 && pfs[7].revents == 0, d);
    fd_set rs, ws;
    FD_ZERO(&rs);
    FD_ZERO(&ws);
    int maxfd = 0;
    for (int i = 0; i < n; i++) {
        if (pfs[i].fd < 0 || pfs[i].fd >= FD_SETSIZE)
            continue; /* (only when a call above failed) */
        FD_SET(pfs[i].fd, pfs[i].events == POLLOUT ? &ws : &rs);
        maxfd = pfs[i].fd > maxfd ? pfs[i].fd : maxfd;
    }
    struct timeval tv = {0, 0};
    r = select(maxfd + 1, &rs, &ws, NULL, &tv);
    o = d;
    for (int i = 0; i < n; i++)
        o += sprintf(o, "%d",
                     pfs[i].fd >= 0 && pfs[i].fd < FD_SETSIZE &&
                         FD_ISSET(pfs[i].fd, pfs[i].events == POLLOUT ? &ws : &rs));
    check("select over the same", r == 6 && !strcmp(d, "10111110"), d);

    /* many descriptors in one epoll; many epoll instances */
    enum { NP = 150 };
    static int many[NP][2];
    int big = epoll_create1(0), made = 0;
    for (int i = 0; i < NP; i++) {
        if (pipe2(many[i], O_NONBLOCK) < 0)
            break;
        ev = (struct epoll_event){.events = EPOLLIN, .data.u32 = (uint32_t)i};
        made += epoll_ctl(big, EPOLL_CTL_ADD, many[i][0], &ev) == 0;
        if (i % 7 == 3)
            write(many[i][1], "m", 1);
    }
    struct epoll_event bigout[256];
    r = epoll_wait(big, bigout, 256, 0);
    long idsum = 0;
    for (int i = 0; i < r; i++)
        idsum += bigout[i].data.u32;
    snprintf(d, sizeof(d), "(registered %d, ready %s, sum of ids %ld)", made, res(r), idsum);
    check("150 pipes in one epoll, every 7th ready", made == NP && r == 21 && idsum == 1533, d);
    for (int i = 0; i < NP; i++)
        close(many[i][0]), close(many[i][1]);
    close(big);
    int eps[8], evs[8], ready = 0;
    for (int i = 0; i < 8; i++) {
        eps[i] = epoll_create1(0);
        evs[i] = eventfd((unsigned)i % 2, 0);
        ev = (struct epoll_event){.events = EPOLLIN};
        epoll_ctl(eps[i], EPOLL_CTL_ADD, evs[i], &ev);
    }
    for (int i = 0; i < 8; i++)
        ready += (eps[i] >= 0 && ep_count(eps[i], 0) == 1) << i;
    snprintf(d, sizeof(d), "(ready mask %#x)", ready);
    check("8 epoll instances at once", ready == 0xaa, d);

    printf("%d checks, %d failed\n", checks, fails);
    return fails ? 1 : 0;
}
