// The client of bench/ws-memory: opens WSMEM_SOCKETS graphql-transport-ws sockets, each
// authenticated at connection_init (a token of WSMEM_TOKENS, round robin) and holding
// WSMEM_SUBSCRIPTIONS `connectionEvents` subscriptions, then leaves them idle.
//
// A socket counts as open once its subscriptions are registered: after the subscribes, a ping
// on the same socket; its pong comes after the server ran every subscribe before it.
// When all are open it prints one JSON line ({"open": N, "ms": ...}) on standard output and
// waits; when standard input closes it closes every socket and exits. A socket that closes or
// fails before that, or an error message, is printed on standard error and exits 1 (the
// measurement would be of fewer sockets than asked).
//
// Settings (environment): WSMEM_URL (ws://127.0.0.1:PORT/graphql), WSMEM_TOKENS (a file, one
// token a line), WSMEM_SOCKETS, WSMEM_SUBSCRIPTIONS, WSMEM_CONCURRENCY (sockets being opened at
// once, 200).

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const env = (name, fallback) => {
  const value = process.env[name];
  if (value === undefined || value === '') {
    if (fallback === undefined) throw new Error(`${name} is not set`);
    return fallback;
  }
  return value;
};

const URL_ = env('WSMEM_URL');
const TOKENS = readFileSync(env('WSMEM_TOKENS'), 'utf8').split('\n').filter(Boolean);
const SOCKETS = Number(env('WSMEM_SOCKETS'));
const SUBSCRIPTIONS = Number(env('WSMEM_SUBSCRIPTIONS'));
const CONCURRENCY = Number(env('WSMEM_CONCURRENCY', '200'));
const QUERY = 'subscription { connectionEvents { kind at user { id connectionStatus } } }';

const sockets = [];
let leaving = false;

function fail(message) {
  if (leaving) return;
  process.stderr.write(`ws-memory client: ${message}\n`);
  process.exit(1);
}

/** Opens socket `i`; resolves when its subscriptions are registered. */
function open(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(URL_, 'graphql-transport-ws', { perMessageDeflate: false });
    sockets.push(ws);
    let ready = false;
    ws.on('open', () => {
      const token = TOKENS[i % TOKENS.length];
      ws.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } }));
    });
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString());
      if (message.type === 'connection_ack') {
        for (let s = 0; s < SUBSCRIPTIONS; s++) {
          ws.send(JSON.stringify({ type: 'subscribe', id: `s${s}`, payload: { query: QUERY } }));
        }
        ws.send(JSON.stringify({ type: 'ping' }));
      } else if (message.type === 'pong' && !ready) {
        ready = true;
        resolve();
      } else if (message.type === 'error' || message.type === 'complete') {
        fail(`socket ${i}: ${JSON.stringify(message)}`);
      }
    });
    ws.on('close', (code, reason) => fail(`socket ${i} closed: ${code} ${reason}`));
    ws.on('error', (err) => fail(`socket ${i}: ${err.message}`));
  });
}

const started = performance.now();
let next = 0;
async function opener() {
  while (next < SOCKETS) {
    await open(next++);
  }
}
await Promise.all(Array.from({ length: Math.min(CONCURRENCY, SOCKETS) }, opener));
process.stdout.write(`${JSON.stringify({ open: sockets.length, ms: Math.round(performance.now() - started) })}\n`);

process.stdin.resume();
process.stdin.on('end', () => {
  leaving = true;
  for (const ws of sockets) ws.terminate();
  process.exit(0);
});
