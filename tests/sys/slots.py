#!/usr/bin/env python3
"""Occupies every slot of a zerg serve at once, then has each answer.

  slots.py ADDR N METRICS SECS

Opens N connections to ADDR without sending, so each holds an instance of
its own (the guest waits for its request), until the server's metrics
(METRICS: a unix socket path or HOST:PORT) count N instances busy; then
sends a request on each and reads every answer. Prints one line:
"busy B answered A of N" (A counts HTTP 200 answers). Gives up after SECS.
ADDR is a unix socket path or HOST:PORT.
"""
import select
import socket
import sys
import time


def connect(addr):
    if addr.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(addr)
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), 5)
    return s


def busy(metrics):
    try:
        s = connect(metrics)
        s.settimeout(5)
        s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
        s.close()
    except OSError:
        return -1
    for line in data.decode(errors="replace").splitlines():
        if line.startswith('zerg_instances{state="busy"} '):
            return int(line.split()[1])
    return -1


def main():
    addr, n, metrics, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    end = time.monotonic() + secs
    conns = []
    for _ in range(n):
        conns.append(connect(addr))
    b = busy(metrics)
    while b != n and time.monotonic() < end:
        time.sleep(0.1)
        b = busy(metrics)
    for i, s in enumerate(conns):
        s.sendall(b"GET /hello/%d HTTP/1.0\r\n\r\n" % i)
        s.setblocking(False)
    bufs = {s.fileno(): b"" for s in conns}
    open_ = {s.fileno(): s for s in conns}
    poll = select.poll()
    for s in conns:
        poll.register(s, select.POLLIN)
    while open_ and time.monotonic() < end:
        for fd, _ in poll.poll(200):
            s = open_.get(fd)
            if s is None:
                continue
            try:
                d = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if d:
                bufs[fd] += d
            else:
                poll.unregister(fd)
                s.close()
                del open_[fd]
    answered = sum(1 for v in bufs.values() if v.split(b"\r\n", 1)[0].split(b" ")[1:2] == [b"200"])
    print("busy %d answered %d of %d" % (b, answered, n))


if __name__ == "__main__":
    main()
