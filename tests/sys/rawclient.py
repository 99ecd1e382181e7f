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
                                         the answer like "request"; with
                                         $RAW_WAIT_FOR, the SIGTERM waits (at most
                                         10 s) until that file exists: a
                                         "request" client run with $RAW_CONNECTED
                                         naming it creates it once connected
  rawclient.py ADDR activate NAME ARGV...
                                         (ADDR a unix path) create the listening
                                         socket, then exec ARGV as a systemd
                                         socket-activated service (fd 3, NAME)
  rawclient.py ADDR hold IDLE TRICKLE SECS REOPEN
                                         open IDLE connections that send nothing and
                                         TRICKLE that send "GET /health HTTP/1.0" one
                                         byte per 100 ms, reopened as the server closes
                                         them if REOPEN is 1; for SECS seconds (REOPEN
                                         0: or until all are closed; SIGTERM: until
                                         then). Prints one line of
                                         KEY=VALUE: per kind (idle_, trickle_) how many
                                         the server closed, their shortest and longest
                                         lives (connect to close, s), how many are still
                                         open and the oldest of those; answered (a
                                         trickler that got bytes back), connects and
                                         connect errors
ADDR is a unix socket path or HOST:PORT.
"""
import os
import selectors
import signal
import socket
import sys
import time


def connect(addr, timeout=None):
    if addr.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr)
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout)
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


def hold(addr, n_idle, n_trickle, secs, reopen):
    """Idle and trickling clients against one listener (mode "hold")."""
    trickle = b"GET /health HTTP/1.0\r\n\r\n"
    sel = selectors.DefaultSelector()
    st = {"connects": 0, "connect_errors": 0, "answered": 0}
    lives = {"idle": [], "trickle": []}
    conns = {}  # socket -> [kind, opened at, bytes sent]

    def open_one(kind):
        try:
            s = connect(addr, 0.5)  # a full queue must not stop the others
        except OSError:
            st["connect_errors"] += 1
            return False
        s.setblocking(False)
        st["connects"] += 1
        conns[s] = [kind, time.monotonic(), 0]
        sel.register(s, selectors.EVENT_READ)
        return True

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    missing = {"idle": 0, "trickle": 0}
    for kind, n in (("idle", n_idle), ("trickle", n_trickle)):
        for _ in range(n):
            if not open_one(kind):
                missing[kind] += 1
    t_end = time.monotonic() + secs
    while time.monotonic() < t_end and (reopen or conns) and not stop:
        for key, _ in sel.select(0.02):
            s = key.fileobj
            kind, t0, _ = conns[s]
            try:
                data = s.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except BlockingIOError:
                continue
            if data:
                st["answered"] += 1
                continue
            lives[kind].append(time.monotonic() - t0)
            sel.unregister(s)
            s.close()
            del conns[s]
            if reopen:
                missing[kind] += 1
        now = time.monotonic()
        for s, c in list(conns.items()):
            if c[0] == "trickle" and c[2] < len(trickle) and now - c[1] >= 0.1 * (c[2] + 1):
                try:
                    s.send(trickle[c[2] : c[2] + 1])
                    c[2] += 1
                except OSError:
                    pass  # closed: seen as readable next
        for kind in missing:
            while missing[kind] and open_one(kind):
                missing[kind] -= 1
    now = time.monotonic()
    out = []
    for kind in ("idle", "trickle"):
        l = lives[kind]
        still = [now - c[1] for c in conns.values() if c[0] == kind]
        out += [
            "%s_closed=%d" % (kind, len(l)),
            "%s_min=%.2f" % (kind, min(l) if l else 0),
            "%s_max=%.2f" % (kind, max(l) if l else 0),
            "%s_open=%d" % (kind, len(still)),
            "%s_oldest=%.2f" % (kind, max(still) if still else 0),
        ]
    out += ["%s=%d" % (k, v) for k, v in st.items()]
    print(" ".join(out))


def main():
    addr, mode = sys.argv[1], sys.argv[2]
    if mode == "hold":
        hold(addr, int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6] == "1")
        return
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
        if os.environ.get("RAW_CONNECTED"):  # tell another client we are in the queue
            open(os.environ["RAW_CONNECTED"], "w").close()
        try:
            s.sendall(unescape(sys.argv[3]))
        except (BrokenPipeError, ConnectionResetError):
            print("reset after %.2fs" % (time.monotonic() - t0))
            return
        s.settimeout(10)
        print(read_all(s, t0))
    elif mode == "drain":
        s.sendall(unescape(sys.argv[3]))
        wait_for = os.environ.get("RAW_WAIT_FOR")  # another client's RAW_CONNECTED
        while wait_for and not os.path.exists(wait_for) and time.monotonic() - t0 < 10:
            time.sleep(0.01)
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
