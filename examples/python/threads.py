# A request handler with threads (Debian's python3.11, unmodified): three
# workers started at start-up wait on a queue -- a template captures them
# there, waiting, and every restored instance has them -- and a
# ThreadPoolExecutor is made per request. Reads an HTTP request head on
# standard input, answers on standard output: each word of the path hashed
# by a worker, its length computed on the pool, the number of threads, and a
# token of the instance's own.
import concurrent.futures
import hashlib
import os
import queue
import sys
import threading

jobs, done = queue.Queue(), queue.Queue()


def worker():
    while True:
        word = jobs.get()
        done.put((word, hashlib.sha256(word.encode()).hexdigest()[:12]))


for _ in range(3):
    threading.Thread(target=worker, daemon=True).start()

line = sys.stdin.readline()  # the template point: the workers wait on the queue
parts = line.split()
path = parts[1] if len(parts) > 1 else "/"
words = [w for w in path.strip("/").split("/") if w] or ["index"]
for w in words:
    jobs.put(w)
hashed = dict(done.get() for _ in words)
with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
    lengths = list(pool.map(len, words))
body = "".join(f"{w} {hashed[w]} {n}\n" for w, n in zip(words, lengths))
body += f"threads {threading.active_count()}\ntoken {os.urandom(8).hex()}\n"
sys.stdout.write(
    f"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n{body}"
)
