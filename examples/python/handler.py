# An HTTP handler for Debian's python3.11 under zerg (inetd style: the
# request on standard input, the response on standard output), written with
# the standard library only. Its start-up imports json, re and hashlib
# (hashlib loads libcrypto) and builds a 20,000-entry table; a warm template
# taken where it first reads its request skips all of that.
#
#   printf 'GET /abc HTTP/1.0\r\n\r\n' | python3.11 handler.py
#
# It ends with os._exit(0) after flushing: letting the interpreter free every
# object at exit would write to every page of its heap, and in a restored
# instance each first write to a page is a copy-on-write fault.
import hashlib
import json
import os
import re
import sys

TABLE = {i: hashlib.sha256(str(i).encode()).hexdigest()[:8] for i in range(20000)}
REQUEST_LINE = re.compile(r"GET (\S+)")

line = sys.stdin.buffer.readline().decode("latin-1")
m = REQUEST_LINE.match(line)
path = m.group(1) if m else "/"
body = json.dumps({"path": path, "entries": len(TABLE), "h": TABLE[len(path)]})
sys.stdout.write("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                 "Content-Length: %d\r\n\r\n%s" % (len(body), body))
sys.stdout.flush()
os._exit(0)
