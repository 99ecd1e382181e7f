// An HTTP server for zerg (the listening-socket model), on Node.js's own
// http module: every instance restored from its template answers one
// connection, with the path's hash and a token of its own.
//
//     zerg template create nodehttp --mem 1G --ro server.js=/app/server.js \
//         --guest /usr/bin/node -- /app/server.js
//
// The token comes from /dev/urandom, which zerg fills afresh in every
// instance. Not from crypto.randomBytes: OpenSSL's generator is seeded when
// node starts, before the template point, so its state is part of the
// template and every instance would draw the same bytes until OpenSSL
// reseeds itself (docs/abi.md, "The template point, uniqueness, reseeding").
const http = require("http");
const crypto = require("crypto");
const fs = require("fs");

function token() {
  const fd = fs.openSync("/dev/urandom", "r");
  const b = Buffer.alloc(8);
  fs.readSync(fd, b, 0, 8, null);
  fs.closeSync(fd);
  return b.toString("hex");
}

http
  .createServer((req, res) => {
    const sha = crypto.createHash("sha256").update(req.url).digest("hex").slice(0, 12);
    const body = `path ${req.url} sha ${sha} token ${token()}\n`;
    res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  })
  .listen(8080);
