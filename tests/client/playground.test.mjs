// The GraphiQL playground in a real browser, offline: Debian's Chromium (headless) driven by
// playwright-core opens BASE_URL/graphql, runs a connections query, then a mutation, and saves a
// screenshot of the mutation and its answer to docs/playground.png.
//
// The mutation is a retry that changes nothing (the other tests on BASE_URL assert its data):
// in the example community alice already has a pending request to giulia (7), so
// requestConnection answers SENT_CONNECTION_REQUEST with that request, as it was.
//
// Needs BASE_URL pointing at a running server loaded with tests/fixtures/example-community.json,
// and Chromium at /usr/bin/chromium (or CHROMIUM_PATH). PLAYGROUND_SCREENSHOT changes where the
// screenshot goes. Run with ./run.sh, or:
//   BASE_URL=http://127.0.0.1:8080 node --test playground.test.mjs
//
// Offline proof: every request the page makes to a host other than the server's loopback is
// aborted (page routing), and the test asserts that the page never even tried one. Chromium's
// own background traffic is off (--disable-background-networking).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE_URL = (process.env.BASE_URL || '').replace(/\/+$/, '');
if (!BASE_URL) {
  throw new Error('BASE_URL is not set (e.g. BASE_URL=http://127.0.0.1:8080)');
}
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOT =
  process.env.PLAYGROUND_SCREENSHOT ||
  fileURLToPath(new URL('../../docs/playground.png', import.meta.url));
const SCREENSHOT_MAX_BYTES = 300 * 1024;
/** A server of its own for the subscription test (it changes data), and its screenshot. */
const LIVE_BASE_URL = (process.env.LIVE_BASE_URL || '').replace(/\/+$/, '');
const LIVE_SCREENSHOT =
  process.env.PLAYGROUND_LIVE_SCREENSHOT ||
  fileURLToPath(new URL('../../docs/playground-subscription.png', import.meta.url));

/** Hosts the page may reach: the server under test. */
const ALLOWED_HOSTS = new Set([new URL(BASE_URL).hostname, '127.0.0.1', 'localhost', '[::1]']);

/** What the test types into the query editor. */
const CONNECTIONS_QUERY = `# User 1's connections, as bruno sees them
query Connections {
  user(id: "1") {
    username
    connections(limit: 5) {
      count
      next
      results {
        id
        username
        connectionStatus
        tags { name }
      }
    }
  }
}
`;

/** The mutation run as alice (a retry: see the top of this file). */
const MUTATION = `# alice asks giulia again: a retry.
# Her request is pending: nothing changes.
mutation RequestConnection {
  requestConnection(userId: "7") {
    user { username connectionStatus }
    request { id created }
  }
}
`;

/** alice's sent requests, read over HTTP (before and after the mutation: unchanged). */
async function aliceSentRequests() {
  const res = await fetch(`${BASE_URL}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer alice-demo-token' },
    body: JSON.stringify({
      query: '{ me { connectionRequestsSent { count results { id toUser { id } created rejected viewed } } } }',
    }),
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data.me.connectionRequestsSent;
}

const QUERY_EDITOR = '.graphiql-query-editor .CodeMirror';
const HEADERS_EDITOR = '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror';
const RESPONSE_EDITOR = '.graphiql-response .CodeMirror';

/** The text of the CodeMirror editor at `selector`. */
const editorText = (page, selector) => page.$eval(selector, (el) => el.CodeMirror.getValue());

/** Replaces the text of the CodeMirror editor at `selector`, as typing would. */
const setEditorText = (page, selector, text) =>
  page.$eval(selector, (el, value) => el.CodeMirror.setValue(value), text);

/**
 * Puts `text` in the query editor and waits until GraphiQL has parsed it: the active tab is
 * named after its operation. Clicking "execute" before that would send the previous
 * operation's name with the new document ("Unknown operation named ...").
 */
async function setQuery(page, text, operationName) {
  await setEditorText(page, QUERY_EDITOR, text);
  await page.waitForFunction(
    (name) => document.querySelector('.graphiql-tab-active')?.textContent.trim() === name,
    operationName,
    { timeout: 15_000 },
  );
}

/**
 * Headless Chromium with one page, offline: anything not for the server under test is aborted
 * and remembered in `external`; page errors, console errors and failed requests in `problems`.
 */
async function openBrowser(t) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  t.after(() => browser.close());
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    serviceWorkers: 'block',
  });
  const external = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (ALLOWED_HOSTS.has(url.hostname)) return route.continue();
    external.push(url.href);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  page.on('requestfailed', (req) =>
    problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`),
  );
  return { context, page, external, problems };
}

test('GraphiQL renders, introspects, runs a query and a mutation without the internet', async (t) => {
  const { context, page, external, problems } = await openBrowser(t);

  // GraphiQL introspects the schema as soon as it starts (for docs, completion and validation).
  const introspection = page.waitForResponse(
    (r) => r.request().method() === 'POST' && /__schema/.test(r.request().postData() || ''),
  );
  const response = await page.goto(`${BASE_URL}/graphql`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-type'], /^text\/html/);
  await page.waitForSelector(QUERY_EDITOR);

  // The defaults: a connections query that explains the demo token, and the token prefilled.
  const defaultQuery = await editorText(page, QUERY_EDITOR);
  assert.match(defaultQuery, /connections\(/);
  assert.match(defaultQuery, /connectionStatus/);
  assert.match(defaultQuery, /demo-token-alice/);
  const defaultHeaders = JSON.parse(await editorText(page, HEADERS_EDITOR));
  assert.deepEqual(defaultHeaders, { Authorization: 'Bearer demo-token-alice' });

  // The schema loads, so the documentation explorer lists its types.
  const schema = await (await introspection).json();
  assert.equal(
    schema.errors,
    undefined,
    `schema introspection failed: ${JSON.stringify(schema.errors)}`,
  );
  await page.click('button[aria-label="Show Documentation Explorer"]');
  await page.waitForSelector(
    '.graphiql-doc-explorer-content a.graphiql-doc-explorer-type-name:text-is("UserConnectionPage")',
  );

  // The example community has no demo-token-alice: ask as bruno.
  const bruno = { Authorization: 'Bearer bruno-demo-token' };
  await setEditorText(page, HEADERS_EDITOR, JSON.stringify(bruno, null, 2));
  await setQuery(page, CONNECTIONS_QUERY, 'Connections');
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    (selector) => document.querySelector(selector)?.CodeMirror.getValue().includes('"count": 4'),
    RESPONSE_EDITOR,
    { timeout: 15_000 },
  );

  const result = JSON.parse(await editorText(page, RESPONSE_EDITOR));
  assert.equal(result.errors, undefined);
  const page1 = result.data.user.connections;
  assert.equal(page1.count, 4);
  assert.deepEqual(
    page1.results.map((u) => u.id),
    ['3', '6', '2', '4'],
  );
  assert.equal(page1.results[0].connectionStatus, 'CONNECTED');

  // A mutation as alice: the retry of her pending request to giulia (request 2 of the data file).
  const sentBefore = await aliceSentRequests();
  assert.deepEqual(sentBefore, {
    count: 1,
    results: [{ id: '2', toUser: { id: '7' }, created: '2024-06-03T12:00:00Z', rejected: null, viewed: null }],
  });
  await setEditorText(page, HEADERS_EDITOR, JSON.stringify({ Authorization: 'Bearer alice-demo-token' }, null, 2));
  await setQuery(page, MUTATION, 'RequestConnection');
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    (selector) => document.querySelector(selector)?.CodeMirror.getValue().includes('requestConnection'),
    RESPONSE_EDITOR,
    { timeout: 15_000 },
  );
  const mutation = JSON.parse(await editorText(page, RESPONSE_EDITOR));
  assert.deepEqual(mutation, {
    data: {
      requestConnection: {
        user: { username: 'giulia', connectionStatus: 'SENT_CONNECTION_REQUEST' },
        request: { id: '2', created: '2024-06-03T12:00:00Z' },
      },
    },
  });
  assert.deepEqual(await aliceSentRequests(), sentBefore, 'the retry changed nothing');

  // The screenshot shows the editors, the mutation and its answer, not the docs.
  await page.click('button[aria-label="Hide Documentation Explorer"]');
  await page.screenshot({ path: SCREENSHOT });
  const size = statSync(SCREENSHOT).size;
  console.log(`screenshot: ${SCREENSHOT} (${size} bytes)`);
  assert.ok(size < SCREENSHOT_MAX_BYTES, `screenshot is ${size} bytes`);

  assert.deepEqual(external, [], 'the page tried to reach other hosts');
  assert.deepEqual(problems, [], 'the page reported errors');

  // The blocking is real: a page that does reach for the internet gets nothing.
  const probe = await context.newPage();
  await assert.rejects(probe.goto('https://unpkg.com/graphiql/graphiql.min.js'), /BLOCKED_BY_CLIENT/);
  assert.deepEqual(external, ['https://unpkg.com/graphiql/graphiql.min.js']);
});

/** The subscription typed into the playground of the live server. */
const SUBSCRIPTION = `# alice listens to what happens to her connections
subscription Live {
  connectionEvents {
    kind
    at
    user { username connectionStatus }
    request { id }
  }
}
`;

// On a server of its own (LIVE_BASE_URL), whose data it may change: alice subscribes in the
// playground (over WebSocket, with the Headers tab's token), bruno removes their connection
// through REST, and the event shows in the result pane.
test('GraphiQL runs the connectionEvents subscription', { skip: !LIVE_BASE_URL && 'LIVE_BASE_URL is not set' }, async (t) => {
  const { page, external, problems } = await openBrowser(t);
  await page.goto(`${LIVE_BASE_URL}/graphql`);
  await page.waitForSelector(QUERY_EDITOR);
  await setEditorText(page, HEADERS_EDITOR, JSON.stringify({ Authorization: 'Bearer alice-demo-token' }, null, 2));
  await setQuery(page, SUBSCRIPTION, 'Live');
  // The ack is watched for from the socket's first event on: it can arrive in the same tick as
  // the socket, before a listener added once `waitForEvent('websocket')` resolved would exist.
  let ws;
  const acked = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connection_ack within 30 s')), 30_000);
    page.once('websocket', (socket) => {
      ws = socket;
      socket.on('framereceived', (f) => {
        if (String(f.payload).includes('connection_ack')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  });
  await page.click('.graphiql-execute-button');
  // The subscription is live once the server has acknowledged the socket and had a moment to
  // register the operation.
  await acked;
  assert.match(ws.url(), /^ws:\/\/.*\/graphql$/);
  await new Promise((resolve) => setTimeout(resolve, 500));

  const removed = await fetch(`${LIVE_BASE_URL}/api/v2/user/1/connection/remove/`, {
    method: 'POST',
    headers: { authorization: 'Bearer bruno-demo-token' },
  });
  assert.equal(removed.status, 200);
  assert.deepEqual(await removed.json(), { connection_status: null });

  await page.waitForFunction(
    (selector) => document.querySelector(selector)?.CodeMirror.getValue().includes('REMOVED'),
    RESPONSE_EDITOR,
    { timeout: 15_000 },
  );
  const event = JSON.parse(await editorText(page, RESPONSE_EDITOR));
  assert.equal(event.data.connectionEvents.kind, 'REMOVED');
  assert.deepEqual(event.data.connectionEvents.user, { username: 'bruno', connectionStatus: null });
  assert.equal(event.data.connectionEvents.request, null);
  assert.match(event.data.connectionEvents.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

  await page.screenshot({ path: LIVE_SCREENSHOT });
  assert.ok(statSync(LIVE_SCREENSHOT).size < SCREENSHOT_MAX_BYTES);
  assert.deepEqual(external, [], 'the page tried to reach other hosts');
  assert.deepEqual(problems, [], 'the page reported errors');
});
