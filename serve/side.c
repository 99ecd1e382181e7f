/* zerg serve: the side listeners (--metrics: Prometheus text and GET /health;
 * --agent: HAProxy's agent-check), registered with the master's loop and
 * held against clients that connect and send nothing, or send slowly. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "monitor/zg_monitor.h"
#include "serve/sv_int.h"

#define SIDE_BACKLOG 128 /* the listeners' kernel queue: a burst waits, not dropped */
#define SIDE_BURST   64  /* connections accepted per wake-up: the loop has other work */
#define SIDE_REQ     1024

/* The epoll index of each thing side.c registers (the tag's low 32 bits). */
enum { IX_METRICS = 0, IX_AGENT = 1, IX_CLIENT = 2 };

struct side_client {
    int fd;       /* -1: a free place */
    int answered; /* its head came: out is being written */
    uint64_t accept_ns;
    size_t got;
    char req[SIDE_REQ];
    char *out; /* the answer, written as the client takes it */
    size_t outlen, outoff;
};

struct sv_side {
    struct sv_listener metrics, agent; /* fd -1: not asked for */
    int ep, tag;
    int *spare_fd;
    struct sv_side_ops ops;
    struct side_client c[SV_SIDE_CLIENTS];
    int live; /* places taken: sv_side_tick, on every turn of the master's
                 loop, scans the table only while some are */
    uint64_t expired, evicted;
};

static uint64_t side_tag(const struct sv_side *s, int ix)
{
    return ((uint64_t)(uint32_t)s->tag << 32) | (uint32_t)ix;
}

int sv_side_open(struct sv_side **out, const char *metrics_addr, const char *agent_addr,
                 unsigned mode, char *err, size_t errlen)
{
    *out = NULL;
    if (!metrics_addr && !agent_addr)
        return 0;
    struct sv_side *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    s->metrics.fd = s->agent.fd = s->ep = -1;
    for (int i = 0; i < SV_SIDE_CLIENTS; i++)
        s->c[i].fd = -1;
    char why[512];
    int rc = 0;
    if (metrics_addr &&
        (rc = sv_listen(metrics_addr, mode, SIDE_BACKLOG, &s->metrics, why, sizeof(why))) < 0) {
        snprintf(err, errlen, "--metrics: %s", why);
        sv_side_close(s);
        return rc;
    }
    if (agent_addr &&
        (rc = sv_listen(agent_addr, mode, SIDE_BACKLOG, &s->agent, why, sizeof(why))) < 0) {
        snprintf(err, errlen, "--agent: %s", why);
        sv_side_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int side_add(struct sv_side *s, int fd, int ix, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.u64 = side_tag(s, ix)};
    return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int sv_side_start(struct sv_side *s, int ep, int tag, const struct sv_side_ops *ops, int *spare_fd)
{
    if (!s)
        return 0;
    s->ep = ep;
    s->tag = tag;
    s->ops = *ops;
    s->spare_fd = spare_fd;
    int rc = 0;
    if (s->metrics.fd >= 0)
        rc = side_add(s, s->metrics.fd, IX_METRICS, EPOLLIN);
    if (rc == 0 && s->agent.fd >= 0)
        rc = side_add(s, s->agent.fd, IX_AGENT, EPOLLIN);
    return rc;
}

/* Ends client i's connection. reset: with a reset (TCP: RST, and no
 * TIME_WAIT left here), for clients dropped unanswered. */
static void client_close(struct sv_side *s, int i, int reset)
{
    struct side_client *c = &s->c[i];
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
    if (reset)
        sv_reset_close(c->fd);
    else
        close(c->fd);
    free(c->out);
    *c = (struct side_client){.fd = -1};
    s->live--;
}

/* One connection from a side listener, non-blocking; -1 when there is none
 * to take now. Out of descriptors, one connection is accepted on the spare
 * descriptor and reset, so the listener does not spin. */
static int accept_one(struct sv_side *s, int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && s->spare_fd && *s->spare_fd >= 0) {
        close(*s->spare_fd);
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        *s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            sv_reset_close(fd);
        return -1;
    }
    return fd;
}

/* A place for a new client: a free one or, when every place is taken, the
 * place of the client that has held one longest without sending its request
 * head (or, if every client is being answered, the oldest one), which is
 * dropped. A new connection is never turned away for lack of a place. */
static int client_place(struct sv_side *s)
{
    int oldest = -1, oldest_waiting = -1;
    for (int i = 0; i < SV_SIDE_CLIENTS; i++) {
        const struct side_client *c = &s->c[i];
        if (c->fd < 0)
            return i;
        if (oldest < 0 || c->accept_ns < s->c[oldest].accept_ns)
            oldest = i;
        if (!c->answered && (oldest_waiting < 0 || c->accept_ns < s->c[oldest_waiting].accept_ns))
            oldest_waiting = i;
    }
    int victim = oldest_waiting >= 0 ? oldest_waiting : oldest;
    client_close(s, victim, 1);
    s->evicted++;
    return victim;
}

/* Writes what the client takes now; waits for EPOLLOUT for the rest (until
 * its deadline: sv_side_tick). */
static void client_write(struct sv_side *s, int i)
{
    struct side_client *c = &s->c[i];
    while (c->outoff < c->outlen) {
        ssize_t n =
            send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            c->outoff += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = side_tag(s, IX_CLIENT + i)};
            epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
            return;
        }
        break; /* gone */
    }
    client_close(s, i, 0);
}

/* The head is in c->req: builds the answer and starts writing it. */
static void client_answer(struct sv_side *s, int i)
{
    struct side_client *c = &s->c[i];
    const char *status = "404 Not Found";
    char *body = NULL;
    size_t blen = 0;
    int draining = 0;
    uint64_t busy = 0, max = 0;
    s->ops.load(s->ops.ctx, &draining, &busy, &max);
    if (!strncmp(c->req, "GET /metrics ", 13) || !strncmp(c->req, "GET / ", 6)) {
        if (s->ops.metrics(s->ops.ctx, &body, &blen) < 0) {
            client_close(s, i, 1);
            return;
        }
        status = "200 OK";
    } else if (!strncmp(c->req, "GET /health ", 12)) {
        /* For a balancer's health check: 503 once draining. */
        body = strdup(draining ? "draining\n" : "ok\n");
        blen = body ? strlen(body) : 0;
        status = draining ? "503 Service Unavailable" : "200 OK";
    }
    char head[256];
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      status, blen);
    c->out = malloc((size_t)hl + blen);
    if (!c->out) {
        free(body);
        client_close(s, i, 1);
        return;
    }
    memcpy(c->out, head, (size_t)hl);
    if (blen)
        memcpy(c->out + hl, body, blen);
    free(body);
    c->outlen = (size_t)hl + blen;
    c->outoff = 0;
    c->answered = 1;
    client_write(s, i);
}

/* Reads what the client sent; answers once its head is complete (or fills
 * the buffer). */
static void client_read(struct sv_side *s, int i)
{
    struct side_client *c = &s->c[i];
    ssize_t n = recv(c->fd, c->req + c->got, sizeof(c->req) - 1 - c->got, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        client_close(s, i, 0);
        return;
    }
    c->got += (size_t)n;
    c->req[c->got] = '\0';
    if (!strstr(c->req, "\r\n\r\n") && !strstr(c->req, "\n\n") && c->got < sizeof(c->req) - 1)
        return;
    client_answer(s, i);
}

static void on_metrics_accept(struct sv_side *s)
{
    for (int k = 0; k < SIDE_BURST; k++) {
        int fd = accept_one(s, s->metrics.fd);
        if (fd < 0)
            return;
        int i = client_place(s);
        s->c[i] = (struct side_client){.fd = fd, .accept_ns = zg_now_ns()};
        if (side_add(s, fd, IX_CLIENT + i, EPOLLIN) < 0) {
            close(fd);
            s->c[i].fd = -1;
            continue;
        }
        s->live++;
        client_read(s, i); /* a health check's request often came with the connection */
    }
}

/* HAProxy's agent-check: each connection is answered with one line and
 * closed at once (it holds nothing). The weight is the share of instance
 * slots free (at least 1%, so a busy host still takes what nobody else can);
 * "drain" while draining. */
static void on_agent_accept(struct sv_side *s)
{
    for (int k = 0; k < SIDE_BURST; k++) {
        int fd = accept_one(s, s->agent.fd);
        if (fd < 0)
            return;
        int draining = 0;
        uint64_t busy = 0, max = 0;
        s->ops.load(s->ops.ctx, &draining, &busy, &max);
        char line[32];
        int n;
        if (draining) {
            n = snprintf(line, sizeof(line), "drain\n");
        } else {
            if (!max)
                max = 1;
            uint64_t free_slots = busy < max ? max - busy : 0;
            uint64_t pct = free_slots * 100 / max;
            n = snprintf(line, sizeof(line), "up %llu%%\n", (unsigned long long)(pct ? pct : 1));
        }
        (void)send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL); /* gone: nothing to tell */
        close(fd);
    }
}

void sv_side_event(struct sv_side *s, uint32_t ix, uint32_t events)
{
    (void)events;
    if (!s)
        return;
    if (ix == IX_METRICS && s->metrics.fd >= 0) {
        on_metrics_accept(s);
    } else if (ix == IX_AGENT && s->agent.fd >= 0) {
        on_agent_accept(s);
    } else if (ix >= IX_CLIENT && ix - IX_CLIENT < SV_SIDE_CLIENTS) {
        int i = (int)(ix - IX_CLIENT);
        if (s->c[i].fd < 0)
            return; /* dropped earlier in this round of events */
        if (s->c[i].answered)
            client_write(s, i);
        else
            client_read(s, i);
    }
}

int sv_side_tick(struct sv_side *s, uint64_t now)
{
    if (!s || !s->live)
        return -1;
    uint64_t next = UINT64_MAX;
    for (int i = 0; i < SV_SIDE_CLIENTS; i++) {
        struct side_client *c = &s->c[i];
        if (c->fd < 0)
            continue;
        uint64_t ms = c->answered ? SV_SIDE_ANSWER_MS : SV_SIDE_HEAD_MS;
        uint64_t deadline = c->accept_ns + ms * 1000000ull;
        if (now >= deadline) {
            client_close(s, i, 1);
            s->expired++;
        } else if (deadline < next) {
            next = deadline;
        }
    }
    if (next == UINT64_MAX)
        return -1;
    uint64_t left = (next - now + 999999) / 1000000;
    return left > 1000 ? 1000 : (int)left;
}

void sv_side_counts(const struct sv_side *s, uint64_t *expired, uint64_t *evicted)
{
    *expired = s ? s->expired : 0;
    *evicted = s ? s->evicted : 0;
}

void sv_side_drop_fds(struct sv_side *s)
{
    if (!s)
        return;
    if (s->metrics.fd >= 0)
        close(s->metrics.fd);
    if (s->agent.fd >= 0)
        close(s->agent.fd);
    for (int i = 0; i < SV_SIDE_CLIENTS; i++)
        if (s->c[i].fd >= 0)
            close(s->c[i].fd);
}

void sv_side_close(struct sv_side *s)
{
    if (!s)
        return;
    for (int i = 0; i < SV_SIDE_CLIENTS; i++)
        if (s->c[i].fd >= 0)
            client_close(s, i, 1);
    struct sv_listener *l[2] = {&s->metrics, &s->agent};
    for (int k = 0; k < 2; k++) {
        if (l[k]->fd < 0)
            continue;
        if (s->ep >= 0)
            epoll_ctl(s->ep, EPOLL_CTL_DEL, l[k]->fd, NULL);
        close(l[k]->fd);
        if (l[k]->unlink[0])
            unlink(l[k]->unlink);
    }
    free(s);
}
