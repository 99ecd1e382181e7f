# A second handler for Debian's python3.11 under zerg, to show what a second
# template of the same runtime costs in the page cache (docs/benchmarks.md):
# a word counter over the request's query string, with the standard
# library's urllib.parse, collections and html. Same model as handler.py:
# the request on standard input, the response on standard output.
#
#   printf 'GET /count?text=a+b+a HTTP/1.0\r\n\r\n' | python3.11 words.py
import collections
import html
import json
import os
import sys
import urllib.parse

STOP = frozenset("a an and the of to in is it".split())

line = sys.stdin.buffer.readline().decode("latin-1")  # the template point
while sys.stdin.buffer.readline().strip():  # the rest of the head, unused
    pass
parts = line.split(" ")
url = urllib.parse.urlsplit(parts[1] if len(parts) > 1 else "/")
text = urllib.parse.parse_qs(url.query).get("text", [""])[0]
counts = collections.Counter(w for w in text.lower().split() if w not in STOP)
body = json.dumps({"path": html.escape(url.path), "top": counts.most_common(3)})
sys.stdout.write("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                 "Content-Length: %d\r\n\r\n%s" % (len(body), body))
sys.stdout.flush()
os._exit(0)
