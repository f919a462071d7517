// Apollo Client's own Relay pagination against User.friends: an InMemoryCache whose User.friends
// field is `relayStylePagination(["mutual"])` (@apollo/client/utilities), and `fetchMore` with
// the page's `endCursor` (or `startCursor`) until pageInfo says the list is done. This is how
// an infinite-scroll frontend reads the list, so the test checks what such a frontend shows:
// the list Apollo merged in its cache.
//
// Needs FRIENDS_BASE_URL pointing at a running server of its own, loaded with the friends
// community that .ci/client.sh writes: user 1 (hub) has 45 connections, to users 2-46, made in
// pairs at the same instant (users 2k and 2k+1 at hour k; 46 alone, last); user 2 is also
// connected to users 3-12; users 47-50 have no connection. One test connects one of 47-50 to
// hub (and removes that connection again at the end), so the server must not be shared with
// tests that assert that data. It also needs GATEWAY_BIN and JWT_SECRET (the server's secret)
// to mint tokens. Without FRIENDS_BASE_URL every test here is skipped, with a message saying
// so. .ci/client.sh sets all of this up; by hand:
//   FRIENDS_BASE_URL=... GATEWAY_BIN=... JWT_SECRET=... node --test friends-pagination.test.mjs
//
// See graphql-client.test.mjs for why the CommonJS build is loaded through createRequire.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';

const require = createRequire(import.meta.url);
const { ApolloClient, InMemoryCache, HttpLink, gql } = require('@apollo/client/core');
const { relayStylePagination } = require('@apollo/client/utilities');

const BASE = (process.env.FRIENDS_BASE_URL || '').replace(/\/+$/, '');
const SKIP = BASE
  ? false
  : 'FRIENDS_BASE_URL is not set: the friends pagination tests need a server of their own ' +
    'loaded with the friends community that .ci/client.sh writes';

const HUB = '1';
const VIEWER = 2; // connected to hub and to users 3-12: those are mutual for this viewer
const NEWCOMERS = [47, 48, 49, 50]; // not connected to anyone in the data
const PAGE = 7; // 45 connections: six full pages and one of three

// Hub's connections as the data makes them, in the API's order for an anonymous viewer (no
// mutual ones): the most recently connected first, a tie (same instant) by id.
const HUB_ORDER = (() => {
  const ids = [];
  for (let hour = 23; hour >= 1; hour--) {
    for (const id of [2 * hour, 2 * hour + 1]) if (id >= 2 && id <= 46) ids.push(String(id));
  }
  return ids;
})();

const FRIENDS = gql`
  query HubFriends($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $mutual: Boolean) {
    user(id: $id) {
      id
      username
      friends(first: $first, after: $after, last: $last, before: $before, mutual: $mutual) {
        edges {
          cursor
          connectedAt
          isMutual
          node {
            id
            username
          }
        }
        pageInfo {
          hasNextPage
          hasPreviousPage
          startCursor
          endCursor
        }
        totalCount
      }
    }
  }
`;

// The offset-paged list of the same connections (same order), to show what offsets would do.
const OFFSET_PAGE = gql`
  query HubConnectionsByOffset($id: ID!, $limit: Int!, $offset: Int!) {
    user(id: $id) {
      id
      connections(limit: $limit, offset: $offset) {
        results {
          id
        }
      }
    }
  }
`;

// ---------------------------------------------------------------------------------------------
// Plumbing

/** A JWT for `user`, from the gateway's own `token` command. */
function mint(user) {
  const bin = process.env.GATEWAY_BIN;
  assert.ok(bin, 'GATEWAY_BIN must name the community-gateway binary (to mint tokens)');
  assert.ok(process.env.JWT_SECRET, "JWT_SECRET must be the friends server's secret");
  const token = execFileSync(bin, ['token', '--user', String(user), '--ttl', '1h'], {
    encoding: 'utf8',
  }).trim();
  assert.equal(token.split('.').length, 3, 'the token command prints a JWT');
  return token;
}

/** A fetch that records the GraphQL variables of every request, then passes it on. */
function recordingFetch(log) {
  return (url, init = {}) => {
    log.push(JSON.parse(init.body).variables);
    return fetch(url, init);
  };
}

/**
 * An Apollo client with the cache a paginating frontend uses: User.friends merged by
 * relayStylePagination, one list per `mutual` value (its key arguments), whatever the cursors
 * and page sizes. `log` receives the variables of each request.
 */
function client(log, token) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  return new ApolloClient({
    link: new HttpLink({ uri: `${BASE}/graphql`, fetch: recordingFetch(log), headers }),
    cache: new InMemoryCache({
      typePolicies: { User: { fields: { friends: relayStylePagination(['mutual']) } } },
    }),
  });
}

/**
 * watchQuery for hub's friends, subscribed (as a component would be) so the query stays live
 * and every merge is broadcast to it. Resolves once the first page is there.
 */
async function watch(apollo, variables) {
  const query = apollo.watchQuery({ query: FRIENDS, variables: { id: HUB, ...variables } });
  let subscription;
  await new Promise((resolve, reject) => {
    subscription = query.subscribe({
      next: (result) => {
        if (result.data) resolve();
      },
      error: reject,
    });
  });
  return { query, stop: () => subscription.unsubscribe() };
}

/** The friends list as the watched query shows it now: Apollo's merged list. */
function merged(query) {
  const result = query.getCurrentResult();
  assert.equal(result.errors, undefined);
  return result.data.user.friends;
}

const ids = (friends) => friends.edges.map((edge) => edge.node.id);

function assertNoDuplicates(list, what) {
  const seen = new Set();
  for (const id of list) {
    assert.ok(!seen.has(id), `${what}: user ${id} is listed twice (${list.join(',')})`);
    seen.add(id);
  }
}

/** The whole list in one request (100 is the server's maximum page), over the network. */
async function wholeList(variables = {}, token = null) {
  const apollo = client([], token);
  const result = await apollo.query({
    query: FRIENDS,
    variables: { id: HUB, first: 100, ...variables },
    fetchPolicy: 'network-only',
  });
  assert.equal(result.errors, undefined);
  const friends = result.data.user.friends;
  assert.equal(friends.pageInfo.hasNextPage, false, 'one request holds the whole list');
  assert.equal(friends.pageInfo.hasPreviousPage, false);
  return friends;
}

/**
 * Scrolls forward: fetchMore with `after: endCursor` (of the merged list, which is the last
 * page's) until hasNextPage is false. `between(pagesSoFar)` runs after each page. Returns how
 * many pages it took.
 */
async function scrollForward(query, between = async () => {}) {
  let pages = 1;
  await between(pages);
  while (merged(query).pageInfo.hasNextPage) {
    const { endCursor } = merged(query).pageInfo;
    const before = ids(merged(query)).length;
    const page = await query.fetchMore({ variables: { after: endCursor } });
    assert.equal(page.errors, undefined);
    assert.ok(page.data.user.friends.edges.length > 0, 'a page after hasNextPage is not empty');
    assert.ok(ids(merged(query)).length > before, 'the page was merged into the list');
    pages += 1;
    assert.ok(pages < 50, 'the scroll ends');
    await between(pages);
  }
  return pages;
}

/** A REST lifecycle call (docs/rest.md) as the holder of `token`; it must succeed. */
async function lifecycle(token, target, action) {
  const response = await fetch(`${BASE}/api/v2/user/${target}/connection/${action}/`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
  });
  const body = await response.text();
  assert.equal(response.status, 200, `POST ${target}/connection/${action}/: ${body}`);
  return JSON.parse(body);
}

// ---------------------------------------------------------------------------------------------
// Tests

test('scrolling with fetchMore merges the same list as one request for all of it', { skip: SKIP }, async () => {
  const all = await wholeList();
  assert.deepEqual(ids(all), HUB_ORDER, "hub's connections, newest first, a tie by id");
  assert.equal(all.totalCount, HUB_ORDER.length);

  const log = [];
  const apollo = client(log);
  const { query, stop } = await watch(apollo, { first: PAGE });
  try {
    const first = merged(query);
    assert.equal(first.edges.length, PAGE);
    assert.equal(first.pageInfo.hasPreviousPage, false, 'nothing before the first page');
    assert.equal(first.pageInfo.hasNextPage, true);

    const pages = await scrollForward(query);
    assert.equal(pages, Math.ceil(HUB_ORDER.length / PAGE));

    const list = merged(query);
    assertNoDuplicates(ids(list), 'the merged list');
    assert.deepEqual(ids(list), ids(all), 'the merged list is the whole list, in order');
    assert.deepEqual(
      list.edges.map((e) => [e.cursor, e.connectedAt, e.isMutual]),
      all.edges.map((e) => [e.cursor, e.connectedAt, e.isMutual]),
      'the same edges: cursors are keys, not positions in one request',
    );
    assert.equal(list.totalCount, all.totalCount);
    assert.equal(list.pageInfo.hasNextPage, false, 'the last page says the list ends');
    assert.equal(list.pageInfo.hasPreviousPage, false, 'the merged list starts at the top');
    assert.equal(list.pageInfo.startCursor, all.pageInfo.startCursor);
    assert.equal(list.pageInfo.endCursor, all.pageInfo.endCursor);

    // One request per page; each continues after the previous page's last edge.
    assert.equal(log.length, pages);
    assert.equal(log[0].after, undefined);
    for (let i = 1; i < pages; i++) {
      assert.equal(log[i].first, PAGE, 'fetchMore keeps the query variables');
      assert.equal(log[i].after, all.edges[i * PAGE - 1].cursor);
    }
  } finally {
    stop();
  }
});

test('scrolling backward with last/before merges the same list', { skip: SKIP }, async () => {
  const all = await wholeList();
  const log = [];
  const apollo = client(log);
  // The last page first (no cursor), then fetchMore with `before: startCursor`, which
  // relayStylePagination prepends to what it has.
  const { query, stop } = await watch(apollo, { last: PAGE });
  try {
    const last = merged(query);
    assert.deepEqual(ids(last), ids(all).slice(-PAGE), 'the last page');
    assert.equal(last.pageInfo.hasPreviousPage, true);
    assert.equal(last.pageInfo.hasNextPage, false, 'nothing after the last page');

    let pages = 1;
    while (merged(query).pageInfo.hasPreviousPage) {
      const { startCursor } = merged(query).pageInfo;
      const page = await query.fetchMore({ variables: { before: startCursor } });
      assert.equal(page.errors, undefined);
      assert.ok(page.data.user.friends.edges.length > 0);
      pages += 1;
      assert.ok(pages < 50, 'the scroll ends');
      if (merged(query).pageInfo.hasPreviousPage) {
        assert.equal(page.data.user.friends.edges.length, PAGE, 'only the top page is short');
      }
    }
    assert.equal(pages, Math.ceil(HUB_ORDER.length / PAGE));

    const list = merged(query);
    assertNoDuplicates(ids(list), 'the merged list');
    assert.deepEqual(ids(list), ids(all), 'the merged list is the whole list, in order');
    assert.equal(list.totalCount, all.totalCount);
    assert.equal(list.pageInfo.hasPreviousPage, false, 'the first page says nothing is before');
    assert.equal(list.pageInfo.startCursor, all.pageInfo.startCursor);
    assert.equal(list.pageInfo.endCursor, all.pageInfo.endCursor);
    for (let i = 1; i < pages; i++) assert.equal(log[i].last, PAGE);
  } finally {
    stop();
  }
});

test('a connection made mid-scroll neither repeats nor hides anyone', { skip: SKIP }, async () => {
  const before = await wholeList();
  const original = ids(before);
  const newcomer = NEWCOMERS.map(String).find((id) => !original.includes(id));
  assert.ok(newcomer, `one of users ${NEWCOMERS.join(', ')} is not yet connected to hub`);
  const hubToken = mint(HUB);
  const newcomerToken = mint(newcomer);

  const apollo = client([]);
  const { query, stop } = await watch(apollo, { first: PAGE });
  let connected = false;
  try {
    let shownBefore = null; // the merged list when the connection was made
    await scrollForward(query, async (pages) => {
      if (pages !== 2) return;
      shownBefore = ids(merged(query));
      assert.deepEqual(shownBefore, original.slice(0, 2 * PAGE));
      // The newcomer asks hub, hub accepts: a connection made now, so the newest of hub's
      // and the top of the list, before every place the scroll has reached.
      await lifecycle(newcomerToken, HUB, 'request');
      const accepted = await lifecycle(hubToken, newcomer, 'accept');
      assert.equal(accepted.connection_status, 'connected');
      connected = true;

      // With offset paging the next page (offset 14) would now start with the user that
      // ended page 2, shown twice: every row moved down by one.
      const byOffset = await apollo.query({
        query: OFFSET_PAGE,
        variables: { id: HUB, limit: PAGE, offset: 2 * PAGE },
        fetchPolicy: 'network-only',
      });
      assert.equal(byOffset.data.user.connections.results[0].id, shownBefore[2 * PAGE - 1]);
    });
    assert.ok(connected, 'the connection was made after page 2');

    const list = merged(query);
    const shown = ids(list);
    assertNoDuplicates(shown, 'the merged list');
    // The cursor (a key) continued right after page 2's last edge: everyone who was there
    // from the start is shown once, in the order they had, and the newcomer, who joined
    // above the scroll, is not in it (a refetch from the top shows them; see below).
    assert.deepEqual(shown, original);
    assert.equal(list.totalCount, original.length + 1, 'the last page counts the newcomer');
    assert.equal(list.pageInfo.hasNextPage, false);

    const now = await wholeList();
    assert.equal(ids(now)[0], newcomer, 'the newest connection is at the top');
    assert.deepEqual(ids(now).slice(1), original);
  } finally {
    stop();
    // Leave hub's list as the data has it, so that the file can run again on this server.
    if (connected) await lifecycle(hubToken, newcomer, 'remove');
  }
});

test('the mutual filter keeps lists of its own in the same cache', { skip: SKIP }, async () => {
  // As user 2, hub's connections 3-12 are mutual (also user 2's) and are listed first.
  const token = mint(VIEWER);
  const all = await wholeList({}, token);
  const mutualIds = ['3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];
  assert.deepEqual(
    ids(all).slice(0, mutualIds.length).sort((a, b) => a - b),
    mutualIds,
    'the mutual connections come first',
  );
  assert.ok(all.edges.every((e, i) => e.isMutual === i < mutualIds.length));

  const apollo = client([], token);
  const mutual = await watch(apollo, { first: 4, mutual: true });
  const others = await watch(apollo, { first: PAGE, mutual: false });
  try {
    // Interleaved, on one cache: `mutual` is a key argument, so each filter has its own
    // merged list, and a cursor of one list is never sent with the other filter.
    await scrollForward(mutual.query, async () => {
      if (merged(others.query).pageInfo.hasNextPage) {
        const { endCursor } = merged(others.query).pageInfo;
        await others.query.fetchMore({ variables: { after: endCursor } });
      }
    });
    await scrollForward(others.query);

    const mutualList = merged(mutual.query);
    const otherList = merged(others.query);
    assertNoDuplicates(ids(mutualList), 'the mutual list');
    assertNoDuplicates(ids(otherList), 'the other list');
    assert.deepEqual(ids(mutualList), ids(all).slice(0, mutualIds.length));
    assert.deepEqual(ids(otherList), ids(all).slice(mutualIds.length));
    assert.equal(mutualList.totalCount, mutualIds.length);
    assert.equal(otherList.totalCount, all.totalCount - mutualIds.length);
  } finally {
    mutual.stop();
    others.stop();
  }
});
