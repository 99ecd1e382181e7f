/* Linux test program, the server model: a small HTTP server that listens on
 * the port it is given, waits with poll (or epoll: a third argument "epoll"),
 * accepts, answers each connection
 * with what it saw (method, path, how many connections so far, its socket
 * names), closes it and waits for the next -- for N connections (0: ever).
 * Natively it serves real clients; under zerg each instance serves its one
 * connection and ends when the server waits for a second. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    long max = argc > 2 ? atol(argv[2]) : 0;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 16) < 0) {
        perror("server: listen");
        return 1;
    }
    struct sockaddr_in me;
    socklen_t ml = sizeof(me);
    getsockname(ls, (struct sockaddr *)&me, &ml);
    fprintf(stderr, "listening on %d\n", ntohs(me.sin_port));
    int use_epoll = argc > 3 && !strcmp(argv[3], "epoll"), ep = -1;
    if (use_epoll) {
        struct epoll_event e = {.events = EPOLLIN, .data.u64 = 77};
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ls, &e) < 0) {
            perror("server: epoll");
            return 5;
        }
    }
    for (long n = 1; !max || n <= max; n++) {
        if (use_epoll) {
            struct epoll_event got[4];
            if (epoll_wait(ep, got, 4, -1) != 1 || got[0].data.u64 != 77 ||
                !(got[0].events & EPOLLIN))
                return 3;
        } else {
            struct pollfd p = {.fd = ls, .events = POLLIN};
            if (poll(&p, 1, -1) != 1)
                return 3;
        }
        struct sockaddr_in peer;
        socklen_t pl = sizeof(peer);
        int cs = accept4(ls, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
        if (cs < 0) {
            perror("server: accept");
            return 4;
        }
        char req[4096];
        size_t got = 0;
        ssize_t r;
        while (got < sizeof(req) - 1 && (r = recv(cs, req + got, sizeof(req) - 1 - got, 0)) > 0) {
            got += (size_t)r;
            req[got] = 0;
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        req[got] = 0;
        char method[16] = "", path[256] = "";
        sscanf(req, "%15s %255s", method, path);
        char body[512];
        int bl = snprintf(body, sizeof(body),
                          "method %s path %s connection %ld local-port %d peer-family %s\n", method,
                          path, n, ntohs(me.sin_port), peer.sin_family == AF_INET ? "inet" : "?");
        char head[256];
        int hl = snprintf(head, sizeof(head),
                          "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                          "Connection: close\r\n\r\n",
                          bl);
        struct iovec iov[2] = {{head, (size_t)hl}, {body, (size_t)bl}};
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
        if (sendmsg(cs, &m, 0) != hl + bl)
            perror("server: sendmsg");
        shutdown(cs, SHUT_WR);
        close(cs);
    }
    return 0;
}
