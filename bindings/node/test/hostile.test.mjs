// Hostile components through the package: each attack ends in an Error with
// a stable code, nothing escapes, and the same database goes on working.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Database, guest, rejectsWith } from './helpers.mjs';

const HOSTILE = [
  'infinite-loop',
  'memory-bomb',
  'unreachable',
  'read-passwd',
  'panic',
  'deep-recursion',
  'huge-result',
  'stdout-flood',
  'terminal-escape',
  'open-socket',
  'read-env',
];

/** Tight limits so attacks end quickly. */
const LIMITS = { timeoutMs: 300, memoryMib: 64, maxResultMib: 8, stackKib: 256, threads: 2 };

async function attack(db, sql, code) {
  const err = await rejectsWith(db.prepare(sql).get(), code);
  // The database still answers a normal UDF query.
  assert.deepEqual(await db.prepare('SELECT identity(41) + 1 AS x').get(), { x: 42 }, `after ${sql}`);
  return err;
}

test('every hostile guest fails with its code and leaves the database working', async () => {
  const db = new Database(null, { ...LIMITS, udf: [...HOSTILE.map(guest), guest('identity')] });
  let err = await attack(db, 'SELECT spin()', 'ERR_WASMUDF_DEADLINE');
  assert.equal(err.function, 'spin');
  // With a deadline it cannot reach first, however loaded the machine (at
  // 300 ms it sometimes did, while other builds ran).
  const roomy = new Database(null, { ...LIMITS, timeoutMs: 60_000, udf: [guest('memory-bomb'), guest('identity')] });
  err = await attack(roomy, 'SELECT bomb(1000)', 'ERR_WASMUDF_MEMORY');
  assert.equal(err.function, 'bomb');
  assert.match(err.message, /memory limit/);
  await roomy.close();
  await attack(db, 'SELECT hit_unreachable()', 'ERR_WASMUDF_TRAP');
  err = await attack(db, "SELECT read_file('/etc/passwd')", 'ERR_WASMUDF_GUEST');
  assert.match(err.guestMessage, /cannot read \/etc\/passwd/);
  err = await attack(db, "SELECT boom('the guest panicked')", 'ERR_WASMUDF_TRAP');
  assert.match(err.guestMessage, /the guest panicked/);
  await attack(db, 'SELECT recurse(100000000)', 'ERR_WASMUDF_STACK_OVERFLOW');
  err = await attack(db, 'SELECT huge_text(16)', 'ERR_WASMUDF_RESULT_TOO_BIG');
  assert.match(err.message, /result too big/);
  assert.deepEqual(await db.prepare('SELECT flood(4) AS mib').get(), { mib: 4 });
  err = await attack(db, "SELECT connect('127.0.0.1:9')", 'ERR_WASMUDF_GUEST');
  assert.equal(err.function, 'connect');
  assert.deepEqual(await db.prepare('SELECT env_count() AS n').get(), { n: 0 });
  await db.close();
});

test('guest text is escaped in every property of the error and in values', async () => {
  const db = new Database(null, { udf: [guest('terminal-escape'), guest('identity')] });
  const err = await attack(db, 'SELECT esc_error()', 'ERR_WASMUDF_GUEST');
  for (const text of [err.message, err.guestMessage]) {
    // No ESC, BEL, C1 CSI or bidi override reaches a terminal raw.
    assert.doesNotMatch(text, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/);
    assert.match(text, /\\u\{1b\}/);
  }
  // A value is data, returned exactly: escaping is the printer's job.
  const { t } = await db.prepare('SELECT esc_text() AS t').get();
  assert.match(t, /\u001b/);
  await db.close();
});

test('fuel stops a loop that the deadline would not', async () => {
  const db = new Database(null, { fuel: 10_000_000, timeoutMs: 30_000, udf: [guest('infinite-loop'), guest('identity')] });
  const err = await attack(db, 'SELECT spin()', 'ERR_WASMUDF_FUEL');
  assert.equal(err.function, 'spin');
  await db.close();
});

test('a query timeout stops a statement and reports it', async () => {
  const db = new Database(null, { queryTimeoutMs: 200, udf: [guest('sleep'), guest('identity')] });
  await attack(db, 'SELECT sleep(10000)', 'ERR_WASMUDF_QUERY_TIMEOUT');
  await db.close();
});

test('a JavaScript guest error, and a JavaScript guest past its deadline', async () => {
  const { EXAMPLE_UDF } = await import('./helpers.mjs');
  const db = new Database(null, { udf: [EXAMPLE_UDF, guest('identity')], timeoutMs: 500 });
  let err = await attack(db, 'SELECT collatz(0)', 'ERR_WASMUDF_GUEST');
  assert.equal(err.function, 'collatz');
  assert.match(err.guestMessage, /collatz needs n >= 1, got 0/);
  // Asleep in the guest, woken by the deadline.
  err = await attack(db, 'SELECT sleep(10000)', 'ERR_WASMUDF_DEADLINE');
  assert.equal(err.function, 'sleep');
  assert.deepEqual(await db.prepare('SELECT collatz(27) AS steps').get(), { steps: 111 });
  await db.close();
});
