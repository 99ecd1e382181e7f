# An HTTP handler for Debian's python3.11 under zerg (inetd style: the
# request on standard input, the response on standard output), written with
# the standard library only. Its start-up imports json, re, hashlib (which
# loads libcrypto) and random, and builds a 20,000-entry table; a warm
# template taken where it first reads its request skips all of that.
#
#   printf 'GET /abc HTTP/1.0\r\n\r\n' | python3.11 handler.py
#
# Every instance restored from the template starts inside that first read,
# with the template's memory: `random`'s generator state included, so
# without a reseed every instance would draw the same numbers. random.seed()
# with no argument reseeds from os.urandom, which zerg serves from
# randomness each instance gets of its own (docs/abi.md).
#
# It ends with os._exit(0) after flushing: letting the interpreter free every
# object at exit would write to every page of its heap, and in a restored
# instance each first write to a page is a copy-on-write fault.
import hashlib
import json
import os
import random
import re
import sys

TABLE = {i: hashlib.sha256(str(i).encode()).hexdigest()[:8] for i in range(20000)}
REQUEST_LINE = re.compile(r"GET (\S+)")

line = sys.stdin.buffer.readline().decode("latin-1")  # the template point
while sys.stdin.buffer.readline().strip():  # the rest of the head, unused
    pass
random.seed()  # this instance's own generator, not the template's
m = REQUEST_LINE.match(line)
path = m.group(1) if m else "/"
body = json.dumps({"path": path, "entries": len(TABLE), "h": TABLE[len(path)],
                   "token": os.urandom(8).hex(), "lucky": random.randrange(10**9)})
sys.stdout.write("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                 "Content-Length: %d\r\n\r\n%s" % (len(body), body))
sys.stdout.flush()
os._exit(0)
