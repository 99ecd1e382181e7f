// A request handler for zerg's stdio model, on Node.js: reads the request
// from standard input to its end and answers with its length, its SHA-256
// and a token of the instance's own (from /dev/urandom: see server.js).
//
//     zerg template create nodehash --mem 1G --ro hash.js=/app/hash.js \
//         --guest /usr/bin/node -- /app/hash.js
const crypto = require("crypto");
const fs = require("fs");

const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  const body = Buffer.concat(chunks);
  const fd = fs.openSync("/dev/urandom", "r");
  const t = Buffer.alloc(8);
  fs.readSync(fd, t, 0, 8, null);
  fs.closeSync(fd);
  const sha = crypto.createHash("sha256").update(body).digest("hex");
  process.stdout.write(`bytes ${body.length} sha256 ${sha} token ${t.toString("hex")}\n`);
});
