#!/usr/bin/env python3
"""Raw socket clients for the zerg serve tests: the misbehaving ones curl
cannot play. Prints one line describing what happened; exit 0 unless the
connection itself could not be made.

  rawclient.py ADDR vanish BYTES         send BYTES (\\r\\n escapes), close at once
  rawclient.py ADDR stall BYTES SECS     send BYTES, wait up to SECS for the
                                         server to end the connection:
                                         "closed after X.XXs" or "still open"
  rawclient.py ADDR request BYTES        send BYTES, read to EOF: "got N bytes: <first line>"
                                         or "reset after X.XXs"
  rawclient.py ADDR drain BYTES1 BYTES2 PIDFILE
                                         send BYTES1, then SIGTERM the pid in
                                         PIDFILE, wait 0.3 s, send BYTES2, read
                                         the answer like "request"
  rawclient.py ADDR activate NAME ARGV...
                                         (ADDR a unix path) create the listening
                                         socket, then exec ARGV as a systemd
                                         socket-activated service (fd 3, NAME)
ADDR is a unix socket path or HOST:PORT.
"""
import os
import signal
import socket
import sys
import time


def connect(addr):
    if addr.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(addr)
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    return s


def unescape(b):
    return b.encode().decode("unicode_escape").encode("latin-1")


def read_all(s, t0):
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        if not data:
            return "reset after %.2fs" % (time.monotonic() - t0)
    first = data.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    return "got %d bytes: %s" % (len(data), first)


def main():
    addr, mode = sys.argv[1], sys.argv[2]
    if mode == "activate":
        name, argv = sys.argv[3], sys.argv[4:]
        if os.path.exists(addr):
            os.unlink(addr)
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ls.bind(addr)
        os.chmod(addr, 0o666)
        ls.listen(64)
        os.dup2(ls.fileno(), 3)
        os.set_inheritable(3, True)
        os.environ["LISTEN_PID"] = str(os.getpid())
        os.environ["LISTEN_FDS"] = "1"
        os.environ["LISTEN_FDNAMES"] = name
        os.execv(argv[0], argv)
    s = connect(addr)
    t0 = time.monotonic()
    if mode == "vanish":
        s.sendall(unescape(sys.argv[3]))
        s.close()
        print("vanished")
    elif mode == "stall":
        s.sendall(unescape(sys.argv[3]))
        s.settimeout(float(sys.argv[4]))
        try:
            while s.recv(4096):
                pass
            print("closed after %.2fs" % (time.monotonic() - t0))
        except socket.timeout:
            print("still open")
        except ConnectionResetError:
            print("closed after %.2fs" % (time.monotonic() - t0))
    elif mode == "request":
        try:
            s.sendall(unescape(sys.argv[3]))
        except (BrokenPipeError, ConnectionResetError):
            print("reset after %.2fs" % (time.monotonic() - t0))
            return
        s.settimeout(10)
        print(read_all(s, t0))
    elif mode == "drain":
        s.sendall(unescape(sys.argv[3]))
        time.sleep(0.2)
        with open(sys.argv[5]) as f:
            os.kill(int(f.read().strip()), signal.SIGTERM)
        time.sleep(0.3)
        s.sendall(unescape(sys.argv[4]))
        s.settimeout(10)
        print(read_all(s, t0))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
