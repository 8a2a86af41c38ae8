// dynalite in a process of its own, so the local DynamoDB gets a core instead of sharing the
// event loop of the emulators; prints its port on the first line of stdout.
import { Readable } from 'node:stream';
import dynalite from 'dynalite';

const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
// DYNALITE_LATENCY_MS: added before every request is answered, as the network to DynamoDB would.
const latencyMs = Number(process.env.DYNALITE_LATENCY_MS ?? 0);
// Requests that touch the metering limiter's item (`#quota`), counted for the bench: GET /__stats.
let quotaRequests = 0;
let requests = 0;
const handlers = server.listeners('request');
server.removeAllListeners('request');
server.on('request', (request, response) => {
  if (request.method === 'GET' && request.url === '/__stats') {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ requests, quotaRequests }));
    return;
  }
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks);
    requests++;
    if (body.includes('"#quota"')) quotaRequests++;
    // dynalite reads the request as a stream: hand it a replay with the same head.
    const replay = Object.assign(Readable.from([body]), {
      headers: request.headers,
      method: request.method,
      url: request.url,
      socket: request.socket,
      connection: request.socket,
      httpVersion: request.httpVersion,
    });
    setTimeout(() => {
      for (const handler of handlers) handler.call(server, replay, response);
    }, latencyMs);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
