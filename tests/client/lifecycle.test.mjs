// End-to-end test of the connection lifecycle routes (spec: lifecycle.md, routes 1-12) through
// the official, unmodified SelfCommunity JS client (@selfcommunity/api-services).
//
// Needs LIFECYCLE_BASE_URL pointing at a running server of its own, loaded with
// tests/fixtures/example-community.json: this file changes connections, so it must not share
// a server with the read-only tests (BASE_URL). It also needs GATEWAY_BIN (the
// community-gateway binary) and JWT_SECRET (that server's secret) to mint a token for giulia
// (user 7), who has none in the data file. Without LIFECYCLE_BASE_URL every test here is
// skipped, with a message saying so. .ci/client.sh sets all of this up; by hand:
//   LIFECYCLE_BASE_URL=... GATEWAY_BIN=... JWT_SECRET=... node --test lifecycle.test.mjs
//
// Another test file may use the same server with users 3, 4, 5 and 8, at the same time. So
// this one only acts on pairs among alice (1), bruno (2) and giulia (7), and only reads about
// anyone else.
//
// The tests run in order and share state: each step starts from the state the previous one
// left. Fixture ids of requests: 5->1 is 1, 1->7 is 2, 8->2 is 3 (file order, no ids given).
//
// Methods of the package (0.7.0-alpha.13) and what they call (all paths end with a slash):
//   route  1 UserService.userRequestConnection(id)              POST {id}/connection/request/
//   route  2 UserService.userAcceptRequestConnection(id)        POST {id}/connection/accept/
//   route  3 UserService.userRejectConnectionRequest(id)        POST {id}/connection/reject/
//   route  4 UserService.userCancelRejectConnectionRequest(id)  POST {id}/connection/cancel_reject/
//   route  5 UserService.userCancelRequestConnection(id)        POST {id}/connection/cancel_request/
//   route  6 UserService.userRemoveConnection(id)               POST {id}/connection/remove/
//   route  7 UserService.userMarkSeenConnectionRequest(id)      POST {id}/connection_requests/mark_seen/
//   route  8 UserService.checkUserConnections(id)               GET  {id}/is_connection/
//   route  9 (no UserService method) Endpoints.UserCheckConnectionStatus, through apiRequest
//                                                               GET  {id}/connection_status/
//   route 10 UserService.getUserConnectionRequests(params)      GET  connection/requests/
//   route 11 UserService.getUserRequestConnectionsSent(params)  GET  connection/requests_sent/
//   route 12 UserService.getUserConnectionStatuses(users)       POST connection/statuses/ {"users": users}
// Every method resolves with the response body; the HTTP status is read with a response
// interceptor on the package's shared axios instance (http.getClientInstance()). On an HTTP
// error the promise rejects with the axios error (err.response.status / .data / .headers).
// See connections.test.mjs for why the CommonJS build is loaded through createRequire.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

const require = createRequire(import.meta.url);
const { http, apiRequest, Endpoints, UserService } = require('@selfcommunity/api-services');

const BASE = (process.env.LIFECYCLE_BASE_URL || '').replace(/\/+$/, '');
const SKIP = BASE
  ? false
  : 'LIFECYCLE_BASE_URL is not set: the lifecycle tests need a server of their own loaded with ' +
    'tests/fixtures/example-community.json (see .ci/client.sh)';

const ALICE = 1;
const BRUNO = 2;
const GIULIA = 7;
const UNKNOWN = 999;
// Tokens by user; giulia's is minted before the tests, 'bad' is a token the server never issued.
const TOKEN = { [ALICE]: 'alice-demo-token', [BRUNO]: 'bruno-demo-token', [GIULIA]: null, bad: 'nope' };

// The User object of connections.md: exactly these keys, in this order.
const USER_KEYS = [
  'id', 'username', 'real_name', 'avatar', 'ext_id', 'followings_counter', 'followers_counter',
  'posts_counter', 'discussions_counter', 'polls_counter', 'connection_status',
  'categories_counter', 'date_joined', 'bio', 'location', 'location_lat_lng', 'position_lat_lng',
  'date_of_birth', 'description', 'gender', 'website', 'cover', 'tags', 'reputation',
  'community_badge', 'reg_approved', 'deleted', 'company_name', 'company_role',
];
// A connection request (SCUserConnectionRequestType): exactly these keys, in this order.
const REQUEST_KEYS = ['id', 'from_user', 'to_user', 'created', 'rejected', 'viewed'];
const PAGE_KEYS = ['count', 'next', 'previous', 'results'];
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/; // RFC 3339 UTC, whole seconds

const SENT = 'sent_connection_request';
const RECEIVED = 'received_connection_request';
const CONNECTED = 'connected';

// ---------------------------------------------------------------------------------------------
// Plumbing

/** The last HTTP response the package's axios instance saw (success or error). */
let lastResponse = null;

/** Run fn as `user` (a user id, or null for anonymous); resolve with {status, body}. */
async function as(user, fn) {
  http.setAuthorizeToken(user === null ? null : TOKEN[user]);
  lastResponse = null;
  try {
    const body = await fn();
    assert.ok(lastResponse, 'no response recorded');
    return { status: lastResponse.status, body };
  } finally {
    http.setAuthorizeToken(null);
  }
}

/** Run fn as `user`; it must reject with an HTTP error, which is returned. */
async function failing(user, fn) {
  try {
    await as(user, fn);
  } catch (err) {
    assert.ok(err && err.isAxiosError, `expected an axios error, got ${err}`);
    assert.ok(err.response, `no HTTP response: ${err.message}`);
    return err;
  }
  assert.fail('expected the request to be rejected');
}

/** A non-field error: {"errors": [{"code", "message"}]} with the given status and code. */
function assertError(err, status, code, message) {
  const where = `${err.config.method.toUpperCase()} ${err.config.url}`;
  assert.equal(err.response.status, status, `status of ${where}`);
  assert.match(String(err.response.headers['content-type'] || ''), /^application\/json/, where);
  const body = err.response.data;
  assert.deepStrictEqual(Object.keys(body), ['errors'], where);
  assert.equal(body.errors.length, 1, where);
  assert.deepStrictEqual(Object.keys(body.errors[0]), ['code', 'message'], where);
  assert.equal(body.errors[0].code, code, `code of ${where}`);
  assert.equal(typeof body.errors[0].message, 'string', where);
  assert.ok(body.errors[0].message.length > 0, `empty message from ${where}`);
  if (message !== undefined) assert.equal(body.errors[0].message, message, where);
}

/** A field error on `users` with code `invalid` (route 12). */
function assertUsersInvalid(err) {
  assert.equal(err.response.status, 400);
  const body = err.response.data;
  assert.deepStrictEqual(Object.keys(body), ['errors']);
  assert.equal(body.errors.length, 1);
  assert.equal(body.errors[0].field, 'users');
  assert.ok(body.errors[0].messages.length >= 1);
  assert.equal(body.errors[0].messages[0].code, 'invalid');
}

// The twelve methods, by route number; `id` is ignored by the routes without one.
const ROUTES = {
  1: (id) => UserService.userRequestConnection(id),
  2: (id) => UserService.userAcceptRequestConnection(id),
  3: (id) => UserService.userRejectConnectionRequest(id),
  4: (id) => UserService.userCancelRejectConnectionRequest(id),
  5: (id) => UserService.userCancelRequestConnection(id),
  6: (id) => UserService.userRemoveConnection(id),
  7: (id) => UserService.userMarkSeenConnectionRequest(id),
  8: (id) => UserService.checkUserConnections(id),
  9: (id) =>
    apiRequest({
      url: Endpoints.UserCheckConnectionStatus.url({ id }),
      method: Endpoints.UserCheckConnectionStatus.method,
    }),
  10: () => UserService.getUserConnectionRequests(),
  11: () => UserService.getUserRequestConnectionsSent(),
  12: (id) => UserService.getUserConnectionStatuses([id]),
};
const request = ROUTES[1];
const accept = ROUTES[2];
const reject = ROUTES[3];
const cancelReject = ROUTES[4];
const cancelRequest = ROUTES[5];
const remove = ROUTES[6];
const markSeen = ROUTES[7];

/** An action (routes 1-6) answers 200 {"connection_status": expected}. */
async function act(user, fn, target, expected) {
  const { status, body } = await as(user, () => fn(target));
  assert.equal(status, 200);
  assert.deepStrictEqual(body, { connection_status: expected });
}

/** mark_seen answers 204 with an empty body. */
async function markSeenOk(user, target) {
  const { status, body } = await as(user, () => markSeen(target));
  assert.equal(status, 204);
  assert.equal(lastResponse.headers['content-length'] ?? '0', '0');
  assert.ok(body === '' || body === undefined || body === null, `204 body: ${JSON.stringify(body)}`);
}

/** A request-list page (route 10 or 11), checked for shape; items summarised. */
async function list(kind, user, params) {
  const fn =
    kind === 'inbox' ? UserService.getUserConnectionRequests : UserService.getUserRequestConnectionsSent;
  const { status, body } = await as(user, () => fn(params));
  assert.equal(status, 200);
  assert.deepStrictEqual(Object.keys(body), PAGE_KEYS);
  for (const item of body.results) {
    assert.deepStrictEqual(Object.keys(item), REQUEST_KEYS, `keys of request ${item.id}`);
    assert.ok(Number.isInteger(item.id) && item.id > 0, `id ${item.id}`);
    assert.deepStrictEqual(Object.keys(item.from_user), USER_KEYS);
    assert.deepStrictEqual(Object.keys(item.to_user), USER_KEYS);
    assert.match(item.created, TIME);
    if (item.rejected !== null) assert.match(item.rejected, TIME);
    if (item.viewed !== null) assert.match(item.viewed, TIME);
  }
  return {
    count: body.count,
    next: body.next,
    previous: body.previous,
    items: body.results.map((r) => ({
      id: r.id,
      from: r.from_user.id,
      to: r.to_user.id,
      created: r.created,
      rejected: r.rejected,
      viewed: r.viewed,
      // connection_status of each side, relative to the viewer
      fromStatus: r.from_user.connection_status,
      toStatus: r.to_user.connection_status,
    })),
  };
}
const inbox = (user, params) => list('inbox', user, params);
const sent = (user, params) => list('sent', user, params);
/** A one-page list with these items. */
const page = (items) => ({ count: items.length, next: null, previous: null, items });

/** Route 8 and 9 for viewer -> target. */
async function isConnection(viewer, target) {
  const { status, body } = await as(viewer, () => ROUTES[8](target));
  assert.equal(status, 200);
  assert.deepStrictEqual(Object.keys(body), ['is_connection']);
  return body.is_connection;
}
async function connectionStatus(viewer, target) {
  const { status, body } = await as(viewer, () => ROUTES[9](target));
  assert.equal(status, 200);
  assert.deepStrictEqual(Object.keys(body), ['connection_status']);
  return body.connection_status;
}
/** Route 12: the statuses map. */
async function statuses(viewer, users) {
  const { status, body } = await as(viewer, () => UserService.getUserConnectionStatuses(users));
  assert.equal(status, 200);
  assert.deepStrictEqual(Object.keys(body), ['connection_statuses']);
  return body.connection_statuses;
}
/** Independent read: ids of a user's connections (anonymous GET {id}/connections/). */
async function connectionIds(id) {
  const { body } = await as(null, () => UserService.getUserConnections(id, { limit: 100 }));
  return body.results.map((u) => u.id).sort((a, b) => a - b);
}

/** Both sides' view of the pair a-b, from routes 8, 9 and 12. */
async function assertPair(a, b, statusOfBForA, statusOfAForB) {
  const connected = statusOfBForA === CONNECTED;
  assert.equal(await isConnection(a, b), connected, `is_connection ${a}->${b}`);
  assert.equal(await isConnection(b, a), connected, `is_connection ${b}->${a}`);
  assert.equal(await connectionStatus(a, b), statusOfBForA, `connection_status ${a}->${b}`);
  assert.equal(await connectionStatus(b, a), statusOfAForB, `connection_status ${b}->${a}`);
  assert.deepStrictEqual(await statuses(a, [b]), { [b]: statusOfBForA });
  assert.deepStrictEqual(await statuses(b, [a]), { [a]: statusOfAForB });
  assert.equal((await connectionIds(a)).includes(b), connected, `${b} among ${a}'s connections`);
  assert.equal((await connectionIds(b)).includes(a), connected, `${a} among ${b}'s connections`);
}

/** Whole-second "now": t must lie between the two Date.now() bounds (rounded down). */
function assertNow(text, from, to) {
  assert.match(text, TIME);
  const t = Date.parse(text);
  assert.ok(t >= Math.floor(from / 1000) * 1000 && t <= to, `${text} is not between the call bounds`);
}

/** The lists that this file's users own, for "nothing changed" checks. */
async function snapshot() {
  return {
    aliceSent: await sent(ALICE),
    aliceInbox: await inbox(ALICE),
    brunoSent: await sent(BRUNO),
    giuliaSent: await sent(GIULIA),
    giuliaInbox: await inbox(GIULIA),
    alice: await connectionIds(ALICE),
    giulia: await connectionIds(GIULIA),
  };
}

// ---------------------------------------------------------------------------------------------

describe('connection lifecycle through @selfcommunity/api-services', { skip: SKIP }, () => {
  const seenIds = new Set([1, 2, 3]); // request ids never to be reused
  let aliceToGiulia; // the fixture request 1 -> 7 as the lists show it
  let interceptor;

  before(() => {
    const bin = process.env.GATEWAY_BIN;
    assert.ok(bin, 'GATEWAY_BIN must name the community-gateway binary (to mint a token for user 7)');
    assert.ok(process.env.JWT_SECRET, "JWT_SECRET must be the lifecycle server's secret");
    TOKEN[GIULIA] = execFileSync(bin, ['token', '--user', String(GIULIA), '--ttl', '1h'], {
      encoding: 'utf8',
    }).trim();
    assert.equal(TOKEN[GIULIA].split('.').length, 3, 'the token command prints a JWT');
    http.setBasePortal(BASE);
    http.setAuthorizeToken(null);
    interceptor = http.getClientInstance().interceptors.response.use(
      (res) => {
        lastResponse = res;
        return res;
      },
      (err) => {
        lastResponse = err.response || null;
        return Promise.reject(err);
      }
    );
  });
  after(() => {
    if (interceptor !== undefined) http.getClientInstance().interceptors.response.eject(interceptor);
  });

  test('the fixture: alice -> giulia pending, alice and bruno connected, bruno and giulia nothing', async () => {
    aliceToGiulia = {
      id: 2, from: ALICE, to: GIULIA, created: '2024-06-03T12:00:00Z', rejected: null, viewed: null,
    };
    assert.deepStrictEqual(await sent(ALICE), page([{ ...aliceToGiulia, fromStatus: null, toStatus: SENT }]));
    assert.deepStrictEqual(await inbox(GIULIA), page([{ ...aliceToGiulia, fromStatus: RECEIVED, toStatus: null }]));
    assert.deepStrictEqual(await sent(GIULIA), page([]));
    assert.deepStrictEqual(await sent(BRUNO), page([]));
    // Requests from users of the other test file (5 -> 1, 8 -> 2): read only.
    const aliceInbox = await inbox(ALICE);
    assert.deepStrictEqual(aliceInbox, page([{
      id: 1, from: 5, to: ALICE, created: '2024-06-02T12:00:00Z', rejected: null, viewed: null,
      fromStatus: RECEIVED, toStatus: null,
    }]));
    const brunoInbox = await inbox(BRUNO);
    assert.deepStrictEqual(brunoInbox.items.map((r) => [r.id, r.from, r.fromStatus]), [[3, 8, RECEIVED]]);

    await assertPair(ALICE, GIULIA, SENT, RECEIVED);
    await assertPair(ALICE, BRUNO, CONNECTED, CONNECTED);
    await assertPair(BRUNO, GIULIA, null, null);
    assert.deepStrictEqual(await connectionIds(ALICE), [2, 3, 4, 6]);
    assert.deepStrictEqual(await connectionIds(GIULIA), [3, 4]);

    // Route 12 with everyone: its own id null, unknown ids left out, duplicates once,
    // the soft-deleted fabio (6) included, a string of digits taken as DRF's IntegerField does.
    assert.deepStrictEqual(await statuses(ALICE, [1, 2, 7, 5, 6, 8, UNKNOWN, 2, '7']), {
      1: null, 2: CONNECTED, 7: SENT, 5: RECEIVED, 6: CONNECTED, 8: null,
    });
    assert.deepStrictEqual(await statuses(GIULIA, [1, 2, 3, 4, 7]), {
      1: RECEIVED, 2: null, 3: CONNECTED, 4: CONNECTED, 7: null,
    });
    assert.deepStrictEqual(await statuses(BRUNO, []), {});
  });

  test('anonymous: all twelve methods answer 401 not_authenticated, a bad token 401 authentication_failed', async () => {
    for (const [route, fn] of Object.entries(ROUTES)) {
      const err = await failing(null, () => fn(GIULIA));
      assertError(err, 401, 'not_authenticated', 'Authentication credentials were not provided.');
      assert.equal(err.response.headers['www-authenticate'], 'Bearer realm="api"', `route ${route}`);
    }
    for (const [route, fn] of Object.entries(ROUTES)) {
      const err = await failing('bad', () => fn(GIULIA));
      assertError(err, 401, 'authentication_failed');
      assert.equal(err.response.headers['www-authenticate'], 'Bearer realm="api"', `route ${route}`);
    }
  });

  test('unknown user 999: 404 not_found on the nine routes with a user id', async () => {
    for (const route of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
      const err = await failing(ALICE, () => ROUTES[route](UNKNOWN));
      assertError(err, 404, 'not_found', 'Not found.');
    }
  });

  test('self: routes 1-7 answer 400 self_connection; is_connection false, connection_status null', async () => {
    const before = await snapshot();
    for (const route of [1, 2, 3, 4, 5, 6, 7]) {
      const err = await failing(ALICE, () => ROUTES[route](ALICE));
      assertError(err, 400, 'self_connection');
    }
    assert.equal(await isConnection(ALICE, ALICE), false);
    assert.equal(await connectionStatus(ALICE, ALICE), null);
    assert.deepStrictEqual(await statuses(ALICE, [ALICE]), { 1: null });
    assert.deepStrictEqual(await snapshot(), before);
  });

  test('state conflicts: no_request, not_connected, already_connected; nothing changes', async () => {
    const before = await snapshot();
    // alice -> giulia is out_pending for alice, in_pending for giulia
    for (const fn of [accept, reject, cancelReject, markSeen]) {
      assertError(await failing(ALICE, () => fn(GIULIA)), 400, 'no_request');
    }
    assertError(await failing(ALICE, () => remove(GIULIA)), 400, 'not_connected');
    assertError(await failing(GIULIA, () => cancelRequest(ALICE)), 400, 'no_request');
    assertError(await failing(GIULIA, () => remove(ALICE)), 400, 'not_connected');
    // bruno and giulia: none
    for (const fn of [accept, reject, cancelReject, markSeen]) {
      assertError(await failing(BRUNO, () => fn(GIULIA)), 400, 'no_request');
    }
    // alice and bruno: connected
    for (const fn of [reject, cancelReject, cancelRequest, markSeen]) {
      assertError(await failing(ALICE, () => fn(BRUNO)), 400, 'already_connected');
    }
    // route 12: a body the package builds from a bad argument
    assertUsersInvalid(await failing(ALICE, () => UserService.getUserConnectionStatuses('7')));
    assertUsersInvalid(await failing(ALICE, () => UserService.getUserConnectionStatuses(undefined)));
    assertUsersInvalid(await failing(ALICE, () => UserService.getUserConnectionStatuses([0])));
    // Another method on a known route, through the package's request function.
    const err = await failing(ALICE, () =>
      apiRequest({ url: Endpoints.UserRequestConnection.url({ id: GIULIA }), method: 'GET' })
    );
    assertError(err, 405, 'method_not_allowed');
    assert.match(String(err.response.headers.allow), /\bPOST\b/);

    assert.deepStrictEqual(await snapshot(), before);
  });

  test('mark_seen: giulia marks alice\'s request seen, 204; viewed shows in both lists; a retry keeps the first time', async () => {
    const t0 = Date.now();
    await markSeenOk(GIULIA, ALICE);
    const t1 = Date.now();
    const giuliaInbox = await inbox(GIULIA);
    assert.equal(giuliaInbox.count, 1);
    const viewed = giuliaInbox.items[0].viewed;
    assertNow(viewed, t0, t1);
    aliceToGiulia = { ...aliceToGiulia, viewed };
    assert.deepStrictEqual(giuliaInbox, page([{ ...aliceToGiulia, fromStatus: RECEIVED, toStatus: null }]));
    assert.deepStrictEqual(await sent(ALICE), page([{ ...aliceToGiulia, fromStatus: null, toStatus: SENT }]));
    await assertPair(ALICE, GIULIA, SENT, RECEIVED); // seen is still pending

    await sleep(1100); // a second write would now carry another time
    const before = await snapshot();
    await markSeenOk(GIULIA, ALICE);
    assert.deepStrictEqual(await snapshot(), before);
  });

  test('reject: giulia declines, 200 null; the request leaves her inbox and stays rejected in alice\'s sent list; retries change nothing', async () => {
    const t0 = Date.now();
    await act(GIULIA, reject, ALICE, null);
    const t1 = Date.now();
    assert.deepStrictEqual(await inbox(GIULIA), page([]));
    const aliceSent = await sent(ALICE);
    assert.equal(aliceSent.count, 1);
    assertNow(aliceSent.items[0].rejected, t0, t1);
    aliceToGiulia = { ...aliceToGiulia, rejected: aliceSent.items[0].rejected };
    // viewed unchanged; alice's request still exists, so she still sees "sent"
    assert.deepStrictEqual(aliceSent, page([{ ...aliceToGiulia, fromStatus: null, toStatus: SENT }]));
    // a rejected request no longer counts as received for giulia
    await assertPair(ALICE, GIULIA, SENT, null);

    await sleep(1100);
    const before = await snapshot();
    await act(GIULIA, reject, ALICE, null); // in_rejected: retry, the first time stays
    await act(ALICE, request, GIULIA, SENT); // out_rejected: not renewed
    await markSeenOk(GIULIA, ALICE); // in_rejected, viewed already set: nothing
    for (const fn of [accept, reject, cancelReject, markSeen]) {
      assertError(await failing(ALICE, () => fn(GIULIA)), 400, 'no_request');
    }
    assertError(await failing(GIULIA, () => cancelRequest(ALICE)), 400, 'no_request');
    assertError(await failing(GIULIA, () => remove(ALICE)), 400, 'not_connected');
    assert.deepStrictEqual(await snapshot(), before);
  });

  test('cancel_reject: giulia takes the rejection back, 200 received_connection_request; back in her inbox, created and viewed unchanged', async () => {
    await act(GIULIA, cancelReject, ALICE, RECEIVED);
    aliceToGiulia = { ...aliceToGiulia, rejected: null };
    assert.deepStrictEqual(await inbox(GIULIA), page([{ ...aliceToGiulia, fromStatus: RECEIVED, toStatus: null }]));
    assert.deepStrictEqual(await sent(ALICE), page([{ ...aliceToGiulia, fromStatus: null, toStatus: SENT }]));
    assert.equal(aliceToGiulia.created, '2024-06-03T12:00:00Z');
    assert.match(aliceToGiulia.viewed, TIME);
    await assertPair(ALICE, GIULIA, SENT, RECEIVED);

    const before = await snapshot();
    await act(GIULIA, cancelReject, ALICE, RECEIVED); // in_pending: retry
    assert.deepStrictEqual(await snapshot(), before);
  });

  test('accept: giulia accepts, 200 connected; the request is gone; is_connection true; retries answer connected', async () => {
    await act(GIULIA, accept, ALICE, CONNECTED);
    assert.deepStrictEqual(await inbox(GIULIA), page([]));
    assert.deepStrictEqual(await sent(ALICE), page([]));
    await assertPair(ALICE, GIULIA, CONNECTED, CONNECTED);
    assert.deepStrictEqual(await connectionIds(ALICE), [2, 3, 4, 6, 7]);
    assert.deepStrictEqual(await connectionIds(GIULIA), [1, 3, 4]);
    // the newest connection comes first in both lists (anonymous: connected_at descending)
    const { body: alicePage } = await as(null, () => UserService.getUserConnections(ALICE));
    assert.equal(alicePage.results[0].id, GIULIA);
    const { body: giuliaPage } = await as(null, () => UserService.getUserConnections(GIULIA));
    assert.deepStrictEqual(giuliaPage.results.map((u) => u.id), [1, 4, 3]);

    const before = await snapshot();
    await act(GIULIA, accept, ALICE, CONNECTED); // retry
    await act(ALICE, request, GIULIA, CONNECTED); // connected: nothing
    await act(GIULIA, request, ALICE, CONNECTED);
    for (const fn of [reject, cancelReject, cancelRequest, markSeen]) {
      assertError(await failing(GIULIA, () => fn(ALICE)), 400, 'already_connected');
      assertError(await failing(ALICE, () => fn(GIULIA)), 400, 'already_connected');
    }
    assert.deepStrictEqual(await snapshot(), before);
  });

  test('remove: alice ends the connection, 200 null; a retry answers the same', async () => {
    await act(ALICE, remove, GIULIA, null);
    await assertPair(ALICE, GIULIA, null, null);
    assert.deepStrictEqual(await connectionIds(ALICE), [2, 3, 4, 6]);
    assert.deepStrictEqual(await connectionIds(GIULIA), [3, 4]);
    assert.deepStrictEqual(await sent(ALICE), page([]));
    assert.deepStrictEqual(await inbox(GIULIA), page([]));

    const before = await snapshot();
    await act(ALICE, remove, GIULIA, null); // none: retry
    await act(GIULIA, remove, ALICE, null);
    await act(ALICE, cancelRequest, GIULIA, null); // none: retry of cancel_request
    assert.deepStrictEqual(await snapshot(), before);
  });

  test('request then cancel_request: bruno asks giulia (a new id, created now), then withdraws; retries change nothing', async () => {
    const t0 = Date.now();
    await act(BRUNO, request, GIULIA, SENT);
    const t1 = Date.now();
    const brunoSent = await sent(BRUNO);
    assert.equal(brunoSent.count, 1);
    const r = brunoSent.items[0];
    assert.ok(!seenIds.has(r.id), `request id ${r.id} reused`);
    seenIds.add(r.id);
    assertNow(r.created, t0, t1);
    const brunoToGiulia = { id: r.id, from: BRUNO, to: GIULIA, created: r.created, rejected: null, viewed: null };
    assert.deepStrictEqual(brunoSent, page([{ ...brunoToGiulia, fromStatus: null, toStatus: SENT }]));
    assert.deepStrictEqual(await inbox(GIULIA), page([{ ...brunoToGiulia, fromStatus: RECEIVED, toStatus: null }]));
    await assertPair(BRUNO, GIULIA, SENT, RECEIVED);

    await sleep(1100);
    let before = await snapshot();
    await act(BRUNO, request, GIULIA, SENT); // out_pending: retry
    // Older releases of the client call the route without the trailing slash: same answer
    // (or a 307/308 redirect, which axios follows with the same method and body).
    const { status, body } = await as(BRUNO, () =>
      apiRequest({ url: Endpoints.UserRequestConnection.url({ id: GIULIA }).replace(/\/$/, ''), method: 'POST' })
    );
    assert.equal(status, 200);
    assert.deepStrictEqual(body, { connection_status: SENT });
    assert.deepStrictEqual(await snapshot(), before);

    await act(BRUNO, cancelRequest, GIULIA, null);
    assert.deepStrictEqual(await sent(BRUNO), page([]));
    assert.deepStrictEqual(await inbox(GIULIA), page([]));
    await assertPair(BRUNO, GIULIA, null, null);

    before = await snapshot();
    await act(BRUNO, cancelRequest, GIULIA, null); // none: retry
    assert.deepStrictEqual(await snapshot(), before);
  });

  test('cancel_request of a rejected request: alice asks again, giulia rejects, alice withdraws', async () => {
    await act(ALICE, request, GIULIA, SENT);
    const [r] = (await sent(ALICE)).items;
    assert.ok(!seenIds.has(r.id), `request id ${r.id} reused (the fixture's 1 -> 7 was 2)`);
    seenIds.add(r.id);
    await act(GIULIA, reject, ALICE, null);
    const [rejected] = (await sent(ALICE)).items;
    assert.equal(rejected.id, r.id);
    assert.match(rejected.rejected, TIME);
    assert.deepStrictEqual(await inbox(GIULIA), page([]));

    await act(ALICE, cancelRequest, GIULIA, null); // out_rejected
    assert.deepStrictEqual(await sent(ALICE), page([]));
    await assertPair(ALICE, GIULIA, null, null);
  });

  test('a request from the other side accepts: giulia asks bruno, bruno asks giulia, connected once', async () => {
    await act(GIULIA, request, BRUNO, SENT);
    const [r] = (await sent(GIULIA)).items;
    assert.ok(!seenIds.has(r.id));
    seenIds.add(r.id);
    await act(BRUNO, request, GIULIA, CONNECTED); // in_pending: as accept
    assert.deepStrictEqual(await sent(GIULIA), page([]));
    assert.deepStrictEqual(await sent(BRUNO), page([]));
    assert.ok(!(await inbox(BRUNO)).items.some((x) => x.from === GIULIA));
    await assertPair(BRUNO, GIULIA, CONNECTED, CONNECTED);
    assert.deepStrictEqual(await connectionIds(GIULIA), [2, 3, 4]);

    await act(GIULIA, remove, BRUNO, null); // either side may remove
    await assertPair(BRUNO, GIULIA, null, null);
  });

  test('accept a rejected request: giulia asks bruno, bruno rejects, then accepts', async () => {
    await act(GIULIA, request, BRUNO, SENT);
    const [r] = (await sent(GIULIA)).items;
    assert.ok(!seenIds.has(r.id));
    seenIds.add(r.id);
    assert.ok((await inbox(BRUNO)).items.some((x) => x.id === r.id && x.from === GIULIA));
    await act(BRUNO, reject, GIULIA, null);
    assert.ok(!(await inbox(BRUNO)).items.some((x) => x.id === r.id), 'a rejected request left the inbox');
    await assertPair(GIULIA, BRUNO, SENT, null);
    await act(BRUNO, accept, GIULIA, CONNECTED); // in_rejected: accept still works
    assert.deepStrictEqual(await sent(GIULIA), page([]));
    await assertPair(GIULIA, BRUNO, CONNECTED, CONNECTED);

    await act(BRUNO, remove, GIULIA, null);
    await assertPair(GIULIA, BRUNO, null, null);
  });

  test('request lists: order, pagination and links (giulia\'s inbox with two requests)', async () => {
    await act(ALICE, request, GIULIA, SENT);
    await sleep(1100); // bruno's request is newer
    await act(BRUNO, request, GIULIA, SENT);
    const full = await inbox(GIULIA);
    assert.equal(full.count, 2);
    assert.deepStrictEqual(full.items.map((x) => x.from), [BRUNO, ALICE]); // created descending
    assert.ok(full.items[0].created > full.items[1].created);
    for (const x of full.items) {
      assert.ok(!seenIds.has(x.id));
      seenIds.add(x.id);
      assert.equal(x.fromStatus, RECEIVED);
      assert.equal(x.toStatus, null);
      assert.equal(x.rejected, null);
      assert.equal(x.viewed, null); // listing does not mark seen
    }
    assert.equal(full.next, null);
    assert.equal(full.previous, null);

    const url = `${BASE}/api/v2/user/connection/requests/`;
    const first = await inbox(GIULIA, { limit: 1 });
    assert.deepStrictEqual(first, { count: 2, next: `${url}?limit=1&offset=1`, previous: null, items: [full.items[0]] });
    // follow `next` through the package's request function
    const { body: second } = await as(GIULIA, () => apiRequest({ url: first.next, method: 'GET' }));
    assert.equal(second.count, 2);
    assert.equal(second.next, null);
    assert.equal(second.previous, `${url}?limit=1`);
    assert.deepStrictEqual(second.results.map((x) => x.id), [full.items[1].id]);
    const past = await inbox(GIULIA, { limit: 1, offset: 5 });
    assert.deepStrictEqual(past, { count: 2, next: null, previous: `${url}?limit=1&offset=4`, items: [] });

    // the sent list paginates the same way
    const sentUrl = `${BASE}/api/v2/user/connection/requests_sent/`;
    const aliceSent = await sent(ALICE, { limit: 1, offset: 0 });
    assert.deepStrictEqual(aliceSent.items.map((x) => [x.id, x.from, x.to]), [[full.items[1].id, ALICE, GIULIA]]);
    assert.deepStrictEqual([aliceSent.count, aliceSent.next, aliceSent.previous], [1, null, null]);
    const aliceSentPast = await sent(ALICE, { limit: 1, offset: 1 });
    assert.deepStrictEqual(
      [aliceSentPast.count, aliceSentPast.next, aliceSentPast.previous, aliceSentPast.items],
      [1, null, `${sentUrl}?limit=1`, []]
    );

    assert.deepStrictEqual(await statuses(GIULIA, ['1', 2, 7, 7, UNKNOWN]), { 1: RECEIVED, 2: RECEIVED, 7: null });

    // Leave 1, 2 and 7 as the fixture had them towards each other but for the request ids.
    await act(BRUNO, cancelRequest, GIULIA, null);
    assert.deepStrictEqual((await inbox(GIULIA)).items.map((x) => x.from), [ALICE]);
    await assertPair(ALICE, GIULIA, SENT, RECEIVED);
    await assertPair(BRUNO, GIULIA, null, null);
    await assertPair(ALICE, BRUNO, CONNECTED, CONNECTED);
  });
});
