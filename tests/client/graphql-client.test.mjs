// A real GraphQL client against /graphql: Apollo Client (@apollo/client/core) with Apollo's
// automatic persisted queries link (@apollo/client/link/persisted-queries), hashing with
// node:crypto.
//
// Needs BASE_URL pointing at a running server loaded with tests/fixtures/example-community.json.
// Run with ./run.sh, or: BASE_URL=http://127.0.0.1:8080 node --test graphql-client.test.mjs
//
// Each case asks for user 1's connections as bruno (user 2) and checks the result, then checks
// the APQ round trip from the requests a recording `fetch` saw:
//   1. only the hash is sent, the server answers PersistedQueryNotFound;
//   2. the link retries with the full query (and the hash), the server runs and caches it;
//   3. the same operation again sends only the hash, and the server runs it from its cache.
// Every case uses a document of its own (a unique operation name), so the server's cache
// starts without it even when the tests run twice against one server.
//
// Apollo Client 3's ESM build uses directory imports that Node's ESM loader refuses, so the
// CommonJS build is loaded through createRequire (as connections.test.mjs does).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { ApolloClient, InMemoryCache, HttpLink, gql } = require('@apollo/client/core');
const { createPersistedQueryLink } = require('@apollo/client/link/persisted-queries');

const BASE_URL = (process.env.BASE_URL || '').replace(/\/+$/, '');
if (!BASE_URL) {
  throw new Error('BASE_URL is not set (e.g. BASE_URL=http://127.0.0.1:8080)');
}
const ENDPOINT = `${BASE_URL}/graphql`;
const BRUNO = 'Bearer bruno-demo-token';

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

/** The connections query, under an operation name no other run uses. */
function connectionsQuery() {
  const name = `Connections_${randomBytes(6).toString('hex')}`;
  return gql`
    query ${name}($id: ID!) {
      user(id: $id) {
        id
        username
        connections {
          count
          next
          previous
          results {
            id
            username
            connectionStatus
            tags {
              name
            }
          }
        }
      }
    }
  `;
}

/** The GraphQL parameters of a GET: `variables` and `extensions` are JSON text. */
function getParams(searchParams) {
  const text = new Set(['query', 'operationName']);
  return Object.fromEntries([...searchParams].map(([k, v]) => [k, text.has(k) ? v : JSON.parse(v)]));
}

/**
 * A fetch that records every request (method, GraphQL parameters, HTTP status and body) and
 * passes it on to Node's fetch.
 */
function recordingFetch(log) {
  return async (url, init = {}) => {
    const target = new URL(url);
    const method = (init.method || 'GET').toUpperCase();
    const params = method === 'GET' ? getParams(target.searchParams) : JSON.parse(init.body);
    const response = await fetch(url, init);
    log.push({
      method,
      params,
      status: response.status,
      type: response.headers.get('content-type'),
      body: await response.clone().json(),
    });
    return response;
  };
}

/** An Apollo client with the APQ link, sending as bruno; `log` receives its requests. */
function client(log, { headers = {}, useGETForHashedQueries = false } = {}) {
  const apq = createPersistedQueryLink({ sha256, useGETForHashedQueries });
  const http = new HttpLink({
    uri: ENDPOINT,
    fetch: recordingFetch(log),
    headers: { authorization: BRUNO, ...headers },
  });
  return new ApolloClient({ link: apq.concat(http), cache: new InMemoryCache() });
}

/** Runs the query for user 1 over the network (not from Apollo's own cache). */
async function connectionsOfUser1(apollo, query) {
  const options = { query, variables: { id: '1' }, fetchPolicy: 'network-only' };
  const result = await apollo.query(options);
  assert.equal(result.errors, undefined);
  return result.data.user.connections;
}

function checkConnections(page) {
  assert.equal(page.count, 4);
  assert.deepEqual(
    page.results.map((u) => u.id),
    ['3', '6', '2', '4'],
  );
  assert.equal(page.results[0].connectionStatus, 'CONNECTED');
  assert.equal(page.next, null);
  assert.equal(page.previous, null);
}

const isHashOnly = (entry) =>
  entry.params.query === undefined && !!entry.params.extensions?.persistedQuery;
const hashOf = (entry) => entry.params.extensions.persistedQuery.sha256Hash;

/** The three-request APQ round trip, then one hash-only request served from the cache. */
function checkRoundTrip(log, { notFoundStatus, hashedMethod }) {
  if (process.env.DEBUG_APQ) console.log(JSON.stringify(log, null, 1));
  assert.equal(log.length, 4, `requests: ${JSON.stringify(log, null, 1)}`);
  const [miss, register, firstHit, secondHit] = log;

  assert.equal(miss.method, hashedMethod);
  assert.ok(isHashOnly(miss), 'the first request carries only the hash');
  assert.equal(miss.status, notFoundStatus);
  assert.deepEqual(miss.body.errors.map((e) => e.message), ['PersistedQueryNotFound']);
  assert.equal('data' in miss.body, false, 'a request error has no data entry');

  assert.equal(register.method, 'POST');
  assert.equal(typeof register.params.query, 'string');
  assert.equal(hashOf(register), sha256(register.params.query));
  assert.equal(hashOf(register), hashOf(miss));
  assert.equal(register.status, 200);
  assert.ok(register.body.data, 'the full query runs');

  for (const hit of [firstHit, secondHit]) {
    assert.equal(hit.method, hashedMethod);
    assert.ok(isHashOnly(hit), 'a repeated operation sends only the hash');
    assert.equal(hashOf(hit), hashOf(miss));
    assert.equal(hit.status, 200);
    assert.equal(hit.body.errors, undefined, 'the server found the query in its cache');
    assert.equal(hit.body.data.user.connections.count, 4);
  }
}

test('Apollo Client + APQ over POST (Apollo default Accept: */*)', async () => {
  const log = [];
  const apollo = client(log);
  const query = connectionsQuery();
  checkConnections(await connectionsOfUser1(apollo, query));
  checkConnections(await connectionsOfUser1(apollo, query));
  checkConnections(await connectionsOfUser1(apollo, query));
  // `*/*` gets application/json: a request error is a 200 there.
  checkRoundTrip(log, { notFoundStatus: 200, hashedMethod: 'POST' });
  assert.match(log[0].type, /^application\/json/);
});

test('Apollo Client + APQ, accepting application/graphql-response+json', async () => {
  const log = [];
  const apollo = client(log, { headers: { accept: 'application/graphql-response+json' } });
  const query = connectionsQuery();
  for (let i = 0; i < 3; i++) checkConnections(await connectionsOfUser1(apollo, query));
  // The official media type: the unknown hash is a request error, so a 400.
  checkRoundTrip(log, { notFoundStatus: 400, hashedMethod: 'POST' });
  for (const entry of log) assert.match(entry.type, /^application\/graphql-response\+json/);
});

test('Apollo Client + APQ with hashed queries over GET', async () => {
  const log = [];
  const apollo = client(log, { useGETForHashedQueries: true });
  const query = connectionsQuery();
  for (let i = 0; i < 3; i++) checkConnections(await connectionsOfUser1(apollo, query));
  checkRoundTrip(log, { notFoundStatus: 200, hashedMethod: 'GET' });
});
