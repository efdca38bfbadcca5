/**
 * A separate process of live-board clients for bench/board.ts: opens N SSE connections with
 * the given session cookie, says `ready` when every one has said hello, then prints the
 * wall-clock time at which each received the first `alert` event, and exits.
 *
 *   node --import tsx bench/sse-clients.ts <url> <cookie> <n>
 */
import http from 'node:http';

const [url, cookie, nArg] = process.argv.slice(2);
const n = Number(nArg);
if (!url || !cookie || !(n > 0)) {
  console.error('usage: sse-clients.ts <stream url> <cookie> <n>');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: n + 10 });
let hellos = 0;
const received: number[] = [];
const requests: http.ClientRequest[] = [];

for (let i = 0; i < n; i++) {
  const req = http.get(url, { agent, headers: { cookie, accept: 'text/event-stream' } }, (res) => {
    if (res.statusCode !== 200) {
      console.error(`client ${i}: HTTP ${res.statusCode}`);
      process.exit(1);
    }
    let buffer = '';
    let helloSeen = false;
    let alertSeen = false;
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      if (!helloSeen && buffer.includes('event: hello')) {
        helloSeen = true;
        if (++hellos === n) console.log('ready');
      }
      if (!alertSeen && buffer.includes('event: alert')) {
        alertSeen = true;
        received.push(Date.now());
        if (received.length === n) {
          console.log(JSON.stringify({ received }));
          for (const r of requests) r.destroy();
          process.exit(0);
        }
      }
      if (buffer.length > 100_000) buffer = buffer.slice(-1000);
    });
  });
  req.on('error', (e) => {
    console.error(`client ${i}: ${e.message}`);
    process.exit(1);
  });
  requests.push(req);
}
