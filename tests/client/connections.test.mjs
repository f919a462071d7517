// End-to-end test of GET /api/v2/user/{id}/connections/ through the official
// SelfCommunity JS client (@selfcommunity/api-services).
//
// Needs BASE_URL (e.g. http://127.0.0.1:8080) pointing at a running server that
// has the example community (tests/fixtures/example-community.json) loaded.
// Run with ./run.sh, or: BASE_URL=... node --test connections.test.mjs
//
// Notes on the package (0.7.0-alpha.13):
// - Its ESM build (lib/esm) uses extension-less/directory imports, which Node's
//   ESM loader refuses (ERR_UNSUPPORTED_DIR_IMPORT), so the CommonJS build is
//   loaded through createRequire.
// - Its CommonJS build requires `tslib` without declaring it as a dependency,
//   so package.json lists tslib explicitly.
// - `http` is the package's shared ApiClient (an axios wrapper):
//   `http.setBasePortal(url)` sets the base URL, `http.setAuthorizeToken(token)`
//   sets `Authorization: Bearer <token>` (a falsy token removes the header).
// - `apiRequest(config)` resolves with the response body; on an HTTP error it
//   rejects with the axios error itself (`err.response.status`,
//   `err.response.data`, `err.response.headers`). `formatHttpError` and
//   `formatHttpErrorCode` turn `{"errors": [...]}` bodies into `{error: ...}` /
//   `{<camelField>Error: ...}` objects.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const {
  http,
  apiRequest,
  UserService,
  formatHttpError,
  formatHttpErrorCode,
} = require('@selfcommunity/api-services');

const BASE_URL = (process.env.BASE_URL || '').replace(/\/+$/, '');
if (!BASE_URL) {
  throw new Error('BASE_URL is not set (e.g. BASE_URL=http://127.0.0.1:8080)');
}

http.setBasePortal(BASE_URL);
http.setAuthorizeToken(null); // anonymous by default

// The User object of the spec: exactly these keys, in this order.
const USER_KEYS = [
  'id',
  'username',
  'real_name',
  'avatar',
  'ext_id',
  'followings_counter',
  'followers_counter',
  'posts_counter',
  'discussions_counter',
  'polls_counter',
  'connection_status',
  'categories_counter',
  'date_joined',
  'bio',
  'location',
  'location_lat_lng',
  'position_lat_lng',
  'date_of_birth',
  'description',
  'gender',
  'website',
  'cover',
  'tags',
  'reputation',
  'community_badge',
  'reg_approved',
  'deleted',
  'company_name',
  'company_role',
];
assert.equal(USER_KEYS.length, 29);

const ids = (page) => page.results.map((u) => u.id);

/** Run fn with the package's shared client authorised by token, then go back to anonymous. */
async function withToken(token, fn) {
  http.setAuthorizeToken(token);
  try {
    return await fn();
  } finally {
    http.setAuthorizeToken(null);
  }
}

/** Await a promise that must reject; return the rejection. */
async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected the request to be rejected');
}

/** The package rejects with the axios error; check status and JSON body. */
function assertHttpError(err, status, body) {
  assert.ok(err && err.isAxiosError, `expected an axios error, got ${err}`);
  assert.ok(err.response, `no HTTP response: ${err.message}`);
  assert.equal(err.response.status, status);
  assert.match(String(err.response.headers['content-type'] || ''), /^application\/json/);
  if (body !== undefined) {
    assert.deepStrictEqual(err.response.data, body);
  }
}

test('(a) anonymous: user 1 has 4 connections, ordered, with the 29 User keys', async () => {
  const page = await UserService.getUserConnections(1);
  assert.equal(page.count, 4);
  assert.deepStrictEqual(ids(page), [3, 6, 2, 4]);
  assert.equal(page.next, null);
  assert.equal(page.previous, null);
  for (const user of page.results) {
    assert.deepStrictEqual(Object.keys(user), USER_KEYS, `keys of user ${user.id}`);
    assert.equal(user.connection_status, null, `connection_status of user ${user.id}`);
  }
});

test('(b) bruno (user 2), mutual=1: only user 3, connected', async () => {
  const page = await withToken('bruno-demo-token', () =>
    UserService.getUserConnections(1, { mutual: 1 })
  );
  assert.equal(page.count, 1);
  assert.deepStrictEqual(ids(page), [3]);
  assert.equal(page.results[0].connection_status, 'connected');
  assert.deepStrictEqual(Object.keys(page.results[0]), USER_KEYS);
});

test('(b2) bruno (user 2), mutual=0: the non-mutual ones, none connected to bruno', async () => {
  const page = await withToken('bruno-demo-token', () =>
    UserService.getUserConnections(1, { mutual: 0 })
  );
  assert.equal(page.count, 3);
  assert.deepStrictEqual(ids(page), [6, 2, 4]);
  for (const user of page.results) {
    assert.equal(user.connection_status, null, `connection_status of user ${user.id}`);
  }
});

test('(c) paging: limit=2 then follow next', async () => {
  const first = await UserService.getUserConnections(1, { limit: 2, offset: 0 });
  assert.equal(first.count, 4);
  assert.deepStrictEqual(ids(first), [3, 6]);
  assert.equal(first.previous, null);
  assert.equal(typeof first.next, 'string');
  assert.ok(
    first.next.endsWith('/api/v2/user/1/connections/?limit=2&offset=2'),
    `next = ${first.next}`
  );

  // Follow the absolute `next` URL through the package's generic request function.
  const second = await apiRequest({ url: first.next, method: 'GET' });
  assert.equal(second.count, 4);
  assert.deepStrictEqual(ids(second), [2, 4]);
  assert.equal(second.next, null);
  assert.equal(typeof second.previous, 'string');
  assert.ok(
    second.previous.endsWith('/api/v2/user/1/connections/?limit=2'),
    `previous = ${second.previous}`
  );
  for (const user of [...first.results, ...second.results]) {
    assert.deepStrictEqual(Object.keys(user), USER_KEYS, `keys of user ${user.id}`);
  }
});

test('(d) unknown user 999: rejects with 404 not_found', async () => {
  const err = await rejection(UserService.getUserConnections(999));
  assertHttpError(err, 404, { errors: [{ code: 'not_found', message: 'Not found.' }] });
  // How the package's own helpers surface it:
  assert.deepStrictEqual(formatHttpErrorCode(err), { error: 'not_found' });
  assert.deepStrictEqual(formatHttpError(err), { error: 'Not found.' });
});

test('(d2) invalid mutual: 400 with a field error the package can parse', async () => {
  const err = await rejection(UserService.getUserConnections(1, { mutual: 2 }));
  assertHttpError(err, 400);
  const body = err.response.data;
  assert.equal(body.errors[0].field, 'mutual');
  assert.equal(body.errors[0].messages[0].code, 'invalid');
  assert.deepStrictEqual(formatHttpErrorCode(err), { mutualError: { error: 'invalid' } });
});

test('(e) invalid token "nope": 401 authentication_failed', async () => {
  const err = await rejection(
    withToken('nope', () => UserService.getUserConnections(1))
  );
  assertHttpError(err, 401);
  assert.equal(err.response.data.errors[0].code, 'authentication_failed');
  assert.deepStrictEqual(formatHttpErrorCode(err), { error: 'authentication_failed' });
  assert.equal(err.response.headers['www-authenticate'], 'Bearer realm="api"');
});

test('(e2) expired token: 401 authentication_failed', async () => {
  const err = await rejection(
    withToken('expired-token', () => UserService.getUserConnections(1))
  );
  assertHttpError(err, 401);
  assert.equal(err.response.data.errors[0].code, 'authentication_failed');
});
