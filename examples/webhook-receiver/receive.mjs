// Receives Gatehouse webhooks and verifies each delivery with
// standardwebhooks, the Standard Webhooks reference library.
//
//   WEBHOOK_SECRET=whsec_... PORT=3000 node receive.mjs
//
// WEBHOOK_SECRET is the secret `POST /admin/v1/webhooks` (or `gatehouse
// webhooks create`) printed once. Each delivery is checked against the
// raw body, before any JSON parsing: the signature covers the bytes as
// sent. A delivery can come more than once (a retry after a lost answer):
// the webhook-id header is the same every time, so an application acts on
// each id once. This one prints each event on a line of its own and
// answers 204; a delivery that does not verify gets 400 and is retried by
// Gatehouse, which never helps, so look at the secret.
import http from "node:http";
import { Webhook } from "standardwebhooks";

const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
  console.error("set WEBHOOK_SECRET to the endpoint's secret (whsec_...)");
  process.exit(2);
}
const webhook = new Webhook(secret);
const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 3000);
// In a real application: a unique column in the database, written in
// the transaction that acts on the event.
const seen = new Set();

const server = http.createServer((req, res) => {
  if (req.method !== "POST") {
    res.writeHead(405, { Allow: "POST" }).end();
    return;
  }
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > 1 << 20) {
      req.destroy(); // bodies are small; this one is not Gatehouse's
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    let event;
    try {
      event = webhook.verify(body, req.headers);
    } catch (err) {
      console.error(`refused a delivery: ${err.message}`);
      res.writeHead(400).end();
      return;
    }
    const id = req.headers["webhook-id"];
    if (!seen.has(id)) {
      seen.add(id);
      console.log(JSON.stringify({ id, type: event.type, user_id: event.data.user.id }));
    }
    res.writeHead(204).end();
  });
});

server.listen(port, host, () => {
  const { address, port } = server.address();
  console.log(JSON.stringify({ listening: `http://${address}:${port}` }));
});
