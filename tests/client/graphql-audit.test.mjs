// GraphQL-over-HTTP conformance of /graphql, checked by the official audit suite of the
// `graphql-http` package (https://github.com/graphql/graphql-http#audits).
//
// Needs BASE_URL pointing at a running server. Run with ./run.sh, or:
//   BASE_URL=http://127.0.0.1:8080 node --test graphql-audit.test.mjs
//
// Every MUST has to pass. SHOULDs and MAYs are recommendations: the ones that pass and the ones
// that do not are printed (with the reason), and a SHOULD that fails without being listed in
// KNOWN_SHOULD_FAILURES fails the test too, so a regression shows up.
//
// Note on "80D8 SHOULD assume application/json content-type when accept is missing": Node's
// fetch (undici) always sends `Accept: */*`, so this audit really sees `*/*`, which the server
// answers as application/json. A request with no Accept header at all gets the official
// application/graphql-response+json (the spec without the legacy watershed,
// graphql/graphql-over-http#330); tests/graphql_http.rs checks that case.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditServer } from 'graphql-http';

const BASE_URL = (process.env.BASE_URL || '').replace(/\/+$/, '');
if (!BASE_URL) {
  throw new Error('BASE_URL is not set (e.g. BASE_URL=http://127.0.0.1:8080)');
}

/** SHOULDs this server deliberately does not follow (id -> why). */
const KNOWN_SHOULD_FAILURES = {};

const level = (result) => result.name.split(' ', 1)[0];
const line = (result) => `  ${result.id} ${result.name}`;

test('graphql-http server audit: every MUST passes', async () => {
  const results = await auditServer({ url: `${BASE_URL}/graphql` });
  const by = (lvl, ok) => results.filter((r) => level(r) === lvl && (r.status === 'ok') === ok);

  const musts = results.filter((r) => level(r) === 'MUST');
  const failedMusts = by('MUST', false);
  console.log(`MUST: ${musts.length - failedMusts.length}/${musts.length} passed`);
  for (const lvl of ['SHOULD', 'MAY']) {
    const passed = by(lvl, true);
    const failed = by(lvl, false);
    console.log(`${lvl}: ${passed.length} passed`);
    for (const r of passed) console.log(line(r));
    console.log(`${lvl}: ${failed.length} not passed`);
    for (const r of failed) console.log(`${line(r)}\n      ${r.reason}`);
  }

  assert.ok(musts.length > 0, 'the audit ran no MUST');
  assert.deepEqual(
    failedMusts.map((r) => `${r.id} ${r.name}: ${r.reason}`),
    [],
    'failed MUST audits',
  );
  // A SHOULD that regresses is a change worth noticing, too.
  const unexpected = by('SHOULD', false).filter((r) => !(r.id in KNOWN_SHOULD_FAILURES));
  assert.deepEqual(
    unexpected.map((r) => `${r.id} ${r.name}: ${r.reason}`),
    [],
    'SHOULD audits that newly fail',
  );
});
