// End-to-end test of the `connectionEvents` subscription (spec: lifecycle.md, "Subscription
// `connectionEvents`" and "Clarifications (decided)") through the `graphql-ws` library, the
// reference client of the graphql-transport-ws protocol, over WebSocket on /graphql.
//
// Needs LIFECYCLE_BASE_URL pointing at a running server of its own, loaded with
// tests/fixtures/example-community.json, plus GATEWAY_BIN and JWT_SECRET to mint tokens (users
// 3, 4, 5 and 8 have none in the data file). Without LIFECYCLE_BASE_URL every test here is
// skipped, with a message saying so. .ci/client.sh sets all of this up; by hand:
//   LIFECYCLE_BASE_URL=... GATEWAY_BIN=... JWT_SECRET=... node --test subscription.test.mjs
//
// lifecycle.test.mjs uses the same server at the same time with users 1, 2 and 7: this file
// only acts on pairs among chiara (3), dario (4), elena (5) and hugo (8), which the data file
// leaves unrelated (no connection, no request between any two of them).
//
// Node 20 has no global WebSocket: the `ws` package is the client's webSocketImpl.
//
// How "nothing arrived" is checked without long sleeps: every event a subscriber receives is
// compared with the next one expected, so a stray event (to the actor, from a no-op retry or
// from mark_seen) shows up as a mismatch at the next real event; each scenario ends with a
// real event to every subscriber for that reason.
//
// When delivery starts: the spec delivers the writes that commit after the server processed
// the `subscribe` message. The client does not acknowledge a subscribe, so after subscribing,
// each subscriber runs a `me` query on the same socket and waits for its answer: the server
// reads a socket's messages in order, so by then it has processed the subscribe.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const BASE = (process.env.LIFECYCLE_BASE_URL || '').replace(/\/+$/, '');
const WS_URL = `${BASE.replace(/^http/, 'ws')}/graphql`;
const SKIP = BASE
  ? false
  : 'LIFECYCLE_BASE_URL is not set: the subscription tests need a server of their own loaded ' +
    'with tests/fixtures/example-community.json (see .ci/client.sh)';

const CHIARA = 3;
const DARIO = 4;
const ELENA = 5;
const HUGO = 8;
/** Tokens by user, minted before the tests (1 hour). */
const TOKEN = {};

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/; // RFC 3339 UTC, whole seconds
/** How long a subscriber waits for an event it expects. */
const EVENT_TIMEOUT_MS = 5_000;

const SUBSCRIPTION = `subscription {
  connectionEvents {
    kind
    user { id connectionStatus }
    at
    request { id fromUser { id } toUser { id } created rejected viewed }
  }
}`;

// ---------------------------------------------------------------------------------------------
// Plumbing

/** A JWT for `user`, from the gateway's own `token` command. */
function mint(user, ttl) {
  const bin = process.env.GATEWAY_BIN;
  assert.ok(bin, 'GATEWAY_BIN must name the community-gateway binary (to mint tokens)');
  assert.ok(process.env.JWT_SECRET, "JWT_SECRET must be the lifecycle server's secret");
  const token = execFileSync(bin, ['token', '--user', String(user), '--ttl', ttl], {
    encoding: 'utf8',
  }).trim();
  assert.equal(token.split('.').length, 3, 'the token command prints a JWT');
  return token;
}

/** A JSON HTTP call to the lifecycle server as `user` (null: anonymous). */
async function call(user, method, path, body) {
  const headers = { accept: 'application/json' };
  if (user !== null) headers.authorization = `Bearer ${TOKEN[user]}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/**
 * A REST action (routes 1-6) by `user` on `target`: answers 200 {"connection_status": expected}.
 * Returns the whole seconds around the call (for checking an event's `at`).
 */
async function act(user, verb, target, expected) {
  const before = Date.now();
  const { status, body } = await call(user, 'POST', `/api/v2/user/${target}/connection/${verb}/`);
  const after = Date.now();
  assert.equal(status, 200, `${verb} ${user} -> ${target}: ${JSON.stringify(body)}`);
  assert.deepStrictEqual(body, { connection_status: expected }, `${verb} ${user} -> ${target}`);
  return { from: Math.floor(before / 1000) * 1000, to: after };
}

/** mark_seen (route 7): 204. */
async function markSeen(user, target) {
  const { status } = await call(user, 'POST', `/api/v2/user/${target}/connection_requests/mark_seen/`);
  assert.equal(status, 204);
}

/** A GraphQL operation over HTTP as `user`; the whole response body. */
async function graphql(user, query, variables) {
  const { status, body } = await call(user, 'POST', '/graphql', { query, variables });
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

/** The one request of a REST request list (route 10 'requests' or 11 'requests_sent') with `other`. */
async function listed(user, list, other) {
  const { status, body } = await call(user, 'GET', `/api/v2/user/connection/${list}/?limit=100`);
  assert.equal(status, 200);
  const items = body.results.filter((r) => r.from_user.id === other || r.to_user.id === other);
  assert.equal(items.length, 1, `${list} of ${user} with ${other}: ${JSON.stringify(items)}`);
  const r = items[0];
  return { id: String(r.id), created: r.created, rejected: r.rejected, viewed: r.viewed };
}

/** Ids on a user's REST connections page, in the page's order (newest connection first). */
async function connectionIds(user) {
  const { status, body } = await call(null, 'GET', `/api/v2/user/${user}/connections/?limit=100`);
  assert.equal(status, 200);
  return body.results.map((u) => u.id);
}

/** `at` is a whole-second UTC time inside the window an action's HTTP call took. */
function assertAtWithin(at, window, what) {
  assert.match(at, TIME, `${what}: at`);
  const t = Date.parse(at);
  assert.ok(
    t >= window.from && t <= window.to,
    `${what}: at ${at} is outside the call (${new Date(window.from).toISOString()} .. ${new Date(window.to).toISOString()})`,
  );
}

/** The event's request, as the subscription query asks for it. */
const req = (id, from, to, created, rejected = null, viewed = null) => ({
  id,
  fromUser: { id: String(from) },
  toUser: { id: String(to) },
  created,
  rejected,
  viewed,
});

/** What a closed socket reports: a CloseEvent-like object with its code. */
const closeCode = (e) => (e && typeof e.code === 'number' ? e.code : undefined);

/**
 * A graphql-ws client on the lifecycle server, never retrying (a close is a failure here),
 * with the connection's lifecycle recorded.
 */
function client(connectionParams, extra = {}) {
  const seen = { connected: 0, closed: [] };
  const c = createClient({
    url: WS_URL,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
    onNonLazyError: () => {},
    on: {
      connected: () => seen.connected++,
      closed: (e) => seen.closed.push(closeCode(e)),
    },
    ...extra,
  });
  return { client: c, seen };
}

/** Runs one query or mutation on a graphql-ws client; resolves with its single result. */
function once(c, query) {
  return new Promise((resolve, reject) => {
    let result;
    c.subscribe(
      { query },
      {
        next: (value) => (result = value),
        error: reject,
        complete: () => resolve(result),
      },
    );
  });
}

/** Subscribes to connectionEvents on `c`; resolves with what the sink's `error` receives. */
function subscriptionError(c) {
  return new Promise((resolve, reject) => {
    c.subscribe(
      { query: SUBSCRIPTION },
      {
        next: (value) => reject(new Error(`unexpected event ${JSON.stringify(value)}`)),
        error: resolve,
        complete: () => reject(new Error('the subscription completed without an error')),
      },
    );
  });
}

/**
 * A live `connectionEvents` subscription of `user` (by token in connectionParams, key as given),
 * collecting its events in arrival order. `next()` resolves with the next event not yet taken.
 */
async function subscriber(user, params) {
  const { client: c, seen } = client(params ?? { Authorization: `Bearer ${TOKEN[user]}` });
  const events = [];
  const waiters = [];
  let failure = null;
  const wake = () => {
    while (waiters.length && (events.length || failure)) waiters.shift()();
  };
  const stop = c.subscribe(
    { query: SUBSCRIPTION },
    {
      next: (value) => {
        if (value.errors) failure = new Error(`event with errors: ${JSON.stringify(value.errors)}`);
        else events.push(value.data.connectionEvents);
        wake();
      },
      error: (err) => {
        failure =
          err instanceof Error
            ? err
            : new Error(`subscription failed: ${JSON.stringify(err)} (close code ${closeCode(err)})`);
        wake();
      },
      complete: () => {
        failure = failure || new Error('the subscription completed');
        wake();
      },
    },
  );
  // The barrier: the subscribe was sent first on this socket, so once this answer is back the
  // server has processed it (and the socket is authenticated as `user`).
  const me = await once(c, '{ me { id } }');
  assert.deepStrictEqual(me, { data: { me: { id: String(user) } } }, `socket of user ${user}`);
  let taken = 0;
  return {
    seen,
    /** The next event, within EVENT_TIMEOUT_MS. */
    async next(what) {
      if (taken >= events.length && !failure) {
        let timer;
        await Promise.race([
          new Promise((resolve) => waiters.push(resolve)),
          new Promise((_, reject) => {
            timer = setTimeout(
              () =>
                reject(new Error(`user ${user}: no event within ${EVENT_TIMEOUT_MS} ms (expected ${what})`)),
              EVENT_TIMEOUT_MS,
            );
          }),
        ]).finally(() => clearTimeout(timer));
      }
      if (taken < events.length) return events[taken++];
      throw failure;
    },
    /** Events received and not yet taken (checked to be none at the end). */
    pending: () => events.slice(taken),
    async close() {
      stop();
      await c.dispose();
    },
  };
}

/** The next event of `sub` is `expected` (kind, user, request); returns it for `at` checks. */
async function expectEvent(sub, expected) {
  const event = await sub.next(expected.kind);
  assert.deepStrictEqual(
    { kind: event.kind, user: event.user, request: event.request },
    expected,
    `event ${expected.kind}`,
  );
  assert.match(event.at, TIME, `${expected.kind}: at`);
  return event;
}

// ---------------------------------------------------------------------------------------------

describe('connectionEvents through graphql-ws', { skip: SKIP }, () => {
  before(() => {
    for (const user of [CHIARA, DARIO, ELENA, HUGO]) TOKEN[user] = mint(user, '1h');
  });

  test('every kind reaches the user acted upon, with its payload, in order; nothing to the actor, from no-ops or mark_seen', async () => {
    // Both sides of the pair are subscribed, so "the actor receives nothing" is checked on
    // every action.
    const chiara = await subscriber(CHIARA);
    const dario = await subscriber(DARIO);
    try {
      // 1. dario asks chiara: REQUEST_RECEIVED, at = request.created.
      let w = await act(DARIO, 'request', CHIARA, 'sent_connection_request');
      const inbox = await listed(CHIARA, 'requests', DARIO);
      let e = await expectEvent(chiara, {
        kind: 'REQUEST_RECEIVED',
        user: { id: String(DARIO), connectionStatus: 'RECEIVED_CONNECTION_REQUEST' },
        request: req(inbox.id, DARIO, CHIARA, inbox.created),
      });
      assert.equal(e.at, e.request.created, 'REQUEST_RECEIVED: at is request.created');
      assertAtWithin(e.at, w, 'REQUEST_RECEIVED');
      const first = inbox.id;

      // 2. No-ops: dario asks again (retry), chiara marks the request seen (never an event).
      await act(DARIO, 'request', CHIARA, 'sent_connection_request');
      await markSeen(CHIARA, DARIO);
      const seen = await listed(CHIARA, 'requests', DARIO);
      assert.match(String(seen.viewed), TIME, 'mark_seen set viewed');

      // 3. chiara declines, through the GraphQL mutation: REJECTED to dario, at =
      // request.rejected; viewed stays. The first event dario gets: mark_seen sent him nothing.
      const rejected = await graphql(
        CHIARA,
        `mutation($id: ID!) {
          rejectConnection(userId: $id) { user { id connectionStatus } request { id rejected } }
        }`,
        { id: String(DARIO) },
      );
      assert.equal(rejected.errors, undefined, JSON.stringify(rejected.errors));
      assert.deepStrictEqual(rejected.data.rejectConnection.user, {
        id: String(DARIO),
        connectionStatus: null,
      });
      const sentList = await listed(DARIO, 'requests_sent', CHIARA);
      assert.match(String(sentList.rejected), TIME);
      e = await expectEvent(dario, {
        kind: 'REJECTED',
        user: { id: String(CHIARA), connectionStatus: 'SENT_CONNECTION_REQUEST' },
        request: req(first, DARIO, CHIARA, inbox.created, sentList.rejected, seen.viewed),
      });
      assert.equal(e.at, e.request.rejected, 'REJECTED: at is request.rejected');
      assert.equal(rejected.data.rejectConnection.request.rejected, e.at);
      // A retried reject changes nothing and sends nothing.
      await act(CHIARA, 'reject', DARIO, null);

      // 4. chiara takes the rejection back: REJECTION_CANCELLED to dario, at = commit time.
      w = await act(CHIARA, 'cancel_reject', DARIO, 'received_connection_request');
      e = await expectEvent(dario, {
        kind: 'REJECTION_CANCELLED',
        user: { id: String(CHIARA), connectionStatus: 'SENT_CONNECTION_REQUEST' },
        request: req(first, DARIO, CHIARA, inbox.created, null, seen.viewed),
      });
      assertAtWithin(e.at, w, 'REJECTION_CANCELLED');
      await act(CHIARA, 'cancel_reject', DARIO, 'received_connection_request'); // retry: nothing

      // 5. dario withdraws: REQUEST_CANCELLED to chiara, request null. It is the next event
      // chiara gets after step 1: the retry, and her own actions, sent her nothing.
      w = await act(DARIO, 'cancel_request', CHIARA, null);
      e = await expectEvent(chiara, {
        kind: 'REQUEST_CANCELLED',
        user: { id: String(DARIO), connectionStatus: null },
        request: null,
      });
      assertAtWithin(e.at, w, 'REQUEST_CANCELLED');
      await act(DARIO, 'cancel_request', CHIARA, null); // retry: nothing

      // 6. chiara asks dario: REQUEST_RECEIVED to dario.
      w = await act(CHIARA, 'request', DARIO, 'sent_connection_request');
      const second = await listed(DARIO, 'requests', CHIARA);
      assert.notEqual(second.id, first, 'a new request has a new id');
      e = await expectEvent(dario, {
        kind: 'REQUEST_RECEIVED',
        user: { id: String(CHIARA), connectionStatus: 'RECEIVED_CONNECTION_REQUEST' },
        request: req(second.id, CHIARA, DARIO, second.created),
      });
      assert.equal(e.at, second.created);
      assertAtWithin(e.at, w, 'REQUEST_RECEIVED');

      // 7. dario accepts: ACCEPTED to chiara, request null (deleted), at = connected_at: the
      // new connection leads chiara's connections page (newest connected_at first).
      w = await act(DARIO, 'accept', CHIARA, 'connected');
      e = await expectEvent(chiara, {
        kind: 'ACCEPTED',
        user: { id: String(DARIO), connectionStatus: 'CONNECTED' },
        request: null,
      });
      assertAtWithin(e.at, w, 'ACCEPTED');
      assert.equal((await connectionIds(CHIARA))[0], DARIO, 'the new connection is the newest');
      await act(DARIO, 'accept', CHIARA, 'connected'); // retry: nothing
      await act(CHIARA, 'request', DARIO, 'connected'); // connected already: nothing

      // 8. chiara removes dario: REMOVED to dario, request null.
      w = await act(CHIARA, 'remove', DARIO, null);
      e = await expectEvent(dario, {
        kind: 'REMOVED',
        user: { id: String(CHIARA), connectionStatus: null },
        request: null,
      });
      assertAtWithin(e.at, w, 'REMOVED');
      await act(CHIARA, 'remove', DARIO, null); // retry: nothing
      assert.ok(!(await connectionIds(CHIARA)).includes(DARIO), 'the connection is gone');

      // 9. Order: four actions in a row, the events awaited only afterwards. Each is also the
      // closing check of its subscriber: nothing arrived since its previous expected event.
      await act(DARIO, 'request', CHIARA, 'sent_connection_request');
      await act(DARIO, 'cancel_request', CHIARA, null);
      await act(DARIO, 'request', CHIARA, 'sent_connection_request');
      const third = await listed(CHIARA, 'requests', DARIO);
      await act(DARIO, 'cancel_request', CHIARA, null);
      await act(CHIARA, 'request', DARIO, 'sent_connection_request');
      await act(CHIARA, 'cancel_request', DARIO, null);
      const kinds = [];
      const ids = [];
      for (let i = 0; i < 4; i++) {
        const ev = await chiara.next('four events in order');
        assert.equal(ev.user.id, String(DARIO));
        kinds.push(ev.kind);
        ids.push(ev.request?.id ?? null);
      }
      assert.deepStrictEqual(kinds, [
        'REQUEST_RECEIVED',
        'REQUEST_CANCELLED',
        'REQUEST_RECEIVED',
        'REQUEST_CANCELLED',
      ]);
      assert.equal(ids[2], third.id);
      assert.notEqual(ids[0], ids[2], 'each request has its own id');
      assert.equal((await dario.next('REQUEST_RECEIVED')).kind, 'REQUEST_RECEIVED');
      assert.equal((await dario.next('REQUEST_CANCELLED')).kind, 'REQUEST_CANCELLED');

      // The pair is back to nothing, and neither socket was closed.
      const status = await call(CHIARA, 'GET', `/api/v2/user/${DARIO}/connection_status/`);
      assert.deepStrictEqual(status.body, { connection_status: null });
      await sleep(50); // anything stray that was already on its way
      assert.deepStrictEqual(chiara.pending(), [], 'chiara: no unexpected event');
      assert.deepStrictEqual(dario.pending(), [], 'dario: no unexpected event');
      assert.deepStrictEqual([chiara.seen.closed, dario.seen.closed], [[], []]);
    } finally {
      await chiara.close();
      await dario.close();
    }
  });

  test('credentials: connectionParams Authorization in any key case, or the upgrade request header', async () => {
    // elena with a lower-case key, hugo with an upper-case one.
    const elena = await subscriber(ELENA, { authorization: `Bearer ${TOKEN[ELENA]}` });
    const hugo = await subscriber(HUGO, { AUTHORIZATION: `Bearer ${TOKEN[HUGO]}` });
    // dario with no connectionParams at all: the header of the upgrade request.
    class WithHeader extends WebSocket {
      constructor(url, protocols) {
        super(url, protocols, { headers: { Authorization: `Bearer ${TOKEN[DARIO]}` } });
      }
    }
    const { client: headerClient } = client(undefined, { webSocketImpl: WithHeader });
    try {
      assert.deepStrictEqual(await once(headerClient, '{ me { id } }'), {
        data: { me: { id: String(DARIO) } },
      });

      await act(HUGO, 'request', ELENA, 'sent_connection_request');
      const r = await listed(ELENA, 'requests', HUGO);
      await expectEvent(elena, {
        kind: 'REQUEST_RECEIVED',
        user: { id: String(HUGO), connectionStatus: 'RECEIVED_CONNECTION_REQUEST' },
        request: req(r.id, HUGO, ELENA, r.created),
      });
      // elena asks back: that accepts (both want it), ACCEPTED to hugo.
      await act(ELENA, 'request', HUGO, 'connected');
      await expectEvent(hugo, {
        kind: 'ACCEPTED',
        user: { id: String(ELENA), connectionStatus: 'CONNECTED' },
        request: null,
      });
      await act(HUGO, 'remove', ELENA, null);
      await expectEvent(elena, {
        kind: 'REMOVED',
        user: { id: String(HUGO), connectionStatus: null },
        request: null,
      });
      assert.deepStrictEqual([elena.pending(), hugo.pending()], [[], []]);
    } finally {
      await elena.close();
      await hugo.close();
      await headerClient.dispose();
    }
  });

  test('a bad token: the server closes the socket with 4403', async () => {
    const { client: c, seen } = client({ Authorization: 'Bearer not-a-token' });
    try {
      const err = await subscriptionError(c);
      assert.equal(closeCode(err), 4403, `closed with ${closeCode(err)} (${err?.reason})`);
      assert.equal(seen.connected, 0, 'never acknowledged');
      assert.deepStrictEqual(seen.closed, [4403]);
    } finally {
      await c.dispose();
    }
  });

  test('anonymous: acknowledged, but subscribing answers an error with UNAUTHENTICATED', async () => {
    const { client: c, seen } = client(undefined);
    try {
      const err = await subscriptionError(c);
      assert.ok(
        Array.isArray(err),
        `an error message (GraphQL errors), got ${err} (close code ${closeCode(err)})`,
      );
      assert.equal(err.length, 1);
      assert.equal(err[0].extensions?.code, 'UNAUTHENTICATED', JSON.stringify(err));
      assert.equal(seen.connected, 1, 'the connection was acknowledged');
      // The socket stays usable: an anonymous query runs on it.
      assert.deepStrictEqual(await once(c, '{ me { id } }'), { data: { me: null } });
      assert.deepStrictEqual(seen.closed, []);
    } finally {
      await c.dispose();
    }
  });

  test('a JWT that expires during a live subscription: the server closes with 4401', async () => {
    const token = mint(HUGO, '2s');
    const exp = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).exp;
    const { client: c, seen } = client({ Authorization: `Bearer ${token}` });
    try {
      const closed = subscriptionError(c);
      assert.deepStrictEqual(await once(c, '{ me { id } }'), { data: { me: { id: String(HUGO) } } });
      let timer;
      const err = await Promise.race([
        closed,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('the socket was not closed within 5 s')), 5_000);
        }),
      ]).finally(() => clearTimeout(timer));
      const at = Date.now() / 1000;
      assert.equal(closeCode(err), 4401, `closed with ${closeCode(err)} (${err?.reason})`);
      assert.ok(at >= exp - 0.05, `closed at ${at}, before exp ${exp}`);
      assert.equal(seen.connected, 1);
    } finally {
      await c.dispose();
    }
  });
});
