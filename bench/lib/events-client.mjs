// The two clients of bench/events, in one process so that both sides share one clock:
// - the subscriber: a graphql-ws client subscribed to `connectionEvents` as the target S;
// - the actor A: alternates POST /api/v2/user/S/connection/request/ and .../cancel_request/
//   over one keep-alive HTTP connection, one action at a time (the next one is sent once the
//   previous answer and its event are both in).
// Per event it records: send -> event (from just before the HTTP request is written to the
// event's arrival), answer -> event (from the HTTP answer's arrival; negative when the event
// came first) and send -> answer. Prints one JSON object on standard output.
//
// Settings (environment): EVENTS_BASE (http://127.0.0.1:PORT), EVENTS_TARGET, EVENTS_ACTOR (ids),
// EVENTS_TARGET_TOKEN, EVENTS_ACTOR_TOKEN, EVENTS_ROUNDS (request + cancel_request pairs),
// EVENTS_WARMUP (pairs, not measured), EVENTS_MODULES (a package.json whose node_modules hold
// graphql-ws and ws: tests/client's by default).

import http from 'node:http';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const env = (name, fallback) => {
  const value = process.env[name];
  if (value === undefined || value === '') {
    if (fallback === undefined) throw new Error(`${name} is not set`);
    return fallback;
  }
  return value;
};

const modules =
  process.env.EVENTS_MODULES ||
  fileURLToPath(new URL('../../tests/client/package.json', import.meta.url));
const require = createRequire(modules);
const { createClient } = require('graphql-ws');
const WebSocket = require('ws');

const BASE = env('EVENTS_BASE').replace(/\/+$/, '');
const TARGET = Number(env('EVENTS_TARGET'));
const ACTOR = Number(env('EVENTS_ACTOR'));
const TARGET_TOKEN = env('EVENTS_TARGET_TOKEN');
const ACTOR_TOKEN = env('EVENTS_ACTOR_TOKEN');
const ROUNDS = Number(env('EVENTS_ROUNDS', '1000'));
const WARMUP = Number(env('EVENTS_WARMUP', '10'));
const TIMEOUT_MS = 5000;

// --- subscriber -------------------------------------------------------------------------------

const arrivals = []; // {at, event}, in arrival order
let wake = null;
let failure = null;

const client = createClient({
  url: `${BASE.replace(/^http/, 'ws')}/graphql`,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${TARGET_TOKEN}` },
  retryAttempts: 0,
});

client.subscribe(
  { query: 'subscription { connectionEvents { kind user { id } at request { id } } }' },
  {
    next: (value) => {
      const at = performance.now();
      if (value.errors) failure = new Error(`event errors: ${JSON.stringify(value.errors)}`);
      else arrivals.push({ at, event: value.data.connectionEvents });
      if (wake) wake();
    },
    error: (err) => {
      failure = new Error(`subscription failed: ${err?.code ?? ''} ${err?.reason ?? JSON.stringify(err)}`);
      if (wake) wake();
    },
    complete: () => {
      failure = new Error('the subscription completed');
      if (wake) wake();
    },
  },
);

/** One query on the subscriber's socket: its answer means the subscribe was processed. */
function barrier() {
  return new Promise((resolve, reject) => {
    let result;
    client.subscribe(
      { query: '{ me { id } }' },
      { next: (v) => (result = v), error: reject, complete: () => resolve(result) },
    );
  });
}

/** Waits until `count` events have arrived. */
async function eventNumber(count) {
  const deadline = performance.now() + TIMEOUT_MS;
  while (arrivals.length < count) {
    if (failure) throw failure;
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`event ${count} did not arrive within ${TIMEOUT_MS} ms`);
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, left);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    wake = null;
  }
  return arrivals[count - 1];
}

// --- actor ------------------------------------------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** POST an action as the actor; resolves with {sent, answered, body}. */
function post(verb) {
  return new Promise((resolve, reject) => {
    const sent = performance.now();
    const req = http.request(
      `${BASE}/api/v2/user/${TARGET}/connection/${verb}/`,
      { method: 'POST', agent, headers: { authorization: `Bearer ${ACTOR_TOKEN}`, 'content-length': 0 } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const answered = performance.now();
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) return reject(new Error(`${verb}: ${res.statusCode} ${text}`));
          resolve({ sent, answered, body: JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const EXPECT = {
  request: ['sent_connection_request', 'REQUEST_RECEIVED'],
  cancel_request: [null, 'REQUEST_CANCELLED'],
};

async function main() {
  const me = await barrier();
  if (me?.data?.me?.id !== String(TARGET)) throw new Error(`subscriber is not ${TARGET}: ${JSON.stringify(me)}`);
  const rows = [];
  let received = 0;
  const actions = 2 * (WARMUP + ROUNDS);
  const started = performance.now();
  for (let i = 0; i < actions; i++) {
    const verb = i % 2 === 0 ? 'request' : 'cancel_request';
    const [status, kind] = EXPECT[verb];
    const { sent, answered, body } = await post(verb);
    if (body.connection_status !== status) {
      throw new Error(`${verb} answered ${JSON.stringify(body)}: the pair was not free`);
    }
    const { at, event } = await eventNumber(++received);
    if (event.kind !== kind || event.user.id !== String(ACTOR)) {
      throw new Error(`after ${verb}: unexpected event ${JSON.stringify(event)}`);
    }
    if (i >= 2 * WARMUP) rows.push({ kind, send: at - sent, answer: at - answered, http: answered - sent });
  }
  const seconds = (performance.now() - started) / 1000;
  // Nothing more may come (one event per action, at most once).
  await new Promise((r) => setTimeout(r, 200));
  if (arrivals.length !== received) throw new Error(`${arrivals.length - received} extra events`);
  await client.dispose();
  agent.destroy();
  process.stdout.write(`${JSON.stringify({ events: rows.length, seconds, rows })}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
