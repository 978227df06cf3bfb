// An open iterator holds one of the pool's connections: what happens to the
// operations that need one, to close(), and to an iterator the program
// forgets (found by an outside review: each of these hung).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { Database, rejectsWith } from './helpers.mjs';

const MANY =
  'WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 100000) SELECT k FROM n';

test('a query inside for await over another statement fails clearly when iterators hold every connection', { timeout: 60_000 }, async () => {
  const db = new Database(null, { threads: 1 });
  const seen = [];
  for await (const row of db.prepare('SELECT 1 AS x UNION ALL SELECT 2').iterate()) {
    const err = await rejectsWith(db.prepare('SELECT 10 AS y').get(), 'ERR_WASMUDF_POOL_HELD');
    assert.match(err.message, /threads: 1/);
    // Every operation that needs a connection says the same, at once.
    await rejectsWith(db.exec('SELECT 1'), 'ERR_WASMUDF_POOL_HELD');
    await rejectsWith(db.prepare('SELECT 1').run(), 'ERR_WASMUDF_POOL_HELD');
    const other = db.prepare('SELECT 3').iterate();
    await rejectsWith(other.next(), 'ERR_WASMUDF_POOL_HELD');
    // Those that need none still answer.
    assert.ok(Array.isArray(await db.functions()));
    seen.push(row.x);
  }
  assert.deepEqual(seen, [1, 2]);
  // Exhausted: its connection is back, and the same queries run.
  assert.deepEqual(await db.prepare('SELECT 10 AS y').get(), { y: 10 });
  await db.close();
});

test('with more threads than open iterators, a query beside an iterator runs', { timeout: 60_000 }, async () => {
  const db = new Database(null, { threads: 2 });
  const it = db.prepare(MANY).iterate();
  assert.deepEqual(await it.next(), { value: { k: 1 }, done: false });
  assert.deepEqual(await db.prepare('SELECT 10 AS y').get(), { y: 10 });
  const second = db.prepare(MANY).iterate();
  assert.deepEqual(await second.next(), { value: { k: 1 }, done: false });
  await rejectsWith(db.prepare('SELECT 10 AS y').get(), 'ERR_WASMUDF_POOL_HELD');
  await second.return();
  assert.deepEqual(await db.prepare('SELECT 10 AS y').get(), { y: 10 });
  assert.deepEqual(await it.next(), { value: { k: 2 }, done: false });
  await db.close();
});

test('an iterator that was never stepped holds nothing; a refused first step can be retried', { timeout: 60_000 }, async () => {
  const db = new Database(null, { threads: 1 });
  const idle = db.prepare(MANY).iterate();
  assert.deepEqual(await db.prepare('SELECT 1 AS one').get(), { one: 1 });
  const busy = db.prepare(MANY).iterate();
  await busy.next();
  await rejectsWith(idle.next(), 'ERR_WASMUDF_POOL_HELD');
  await busy.return();
  assert.deepEqual(await idle.next(), { value: { k: 1 }, done: false });
  await db.close();
});

test('close ends open iterators even while a query waits behind one', { timeout: 60_000 }, async () => {
  const db = new Database(null, { threads: 1 });
  const it = db.prepare(MANY).iterate();
  // The query is called before the iterator's first step, so it is first
  // in line; the step then waits for it.
  const first = db.prepare('SELECT 1 AS one').get();
  const step = it.next();
  assert.deepEqual(await first, { one: 1 });
  assert.deepEqual(await step, { value: { k: 1 }, done: false });
  // Then a step is in flight, another queued, and close is called.
  const more = [it.next(), it.next()];
  await db.close();
  for (const result of await Promise.allSettled(more)) {
    assert.ok(
      result.status === 'fulfilled' || result.reason?.code === 'ERR_WASMUDF_CLOSED',
      `a step after close: ${result.reason?.message}`,
    );
  }
  await rejectsWith(it.next(), 'ERR_WASMUDF_CLOSED');
  // Two iterators, the second one's first step waiting for the first
  // one's connection: close ends both.
  const db2 = new Database(null, { threads: 2 });
  const a = db2.prepare(MANY).iterate();
  const b = db2.prepare(MANY).iterate();
  await Promise.all([a.next(), b.next()]);
  const pending = db2.prepare('SELECT 1').get().catch((e) => e.code);
  await db2.close();
  assert.equal(await pending, 'ERR_WASMUDF_POOL_HELD');
});

test('a forgotten iterator gives its connection back when it is garbage-collected', { timeout: 60_000 }, async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  const db = new Database(null, { threads: 1 });
  let collected = false;
  const registry = new FinalizationRegistry(() => {
    collected = true;
  });
  // In a function of its own, so that nothing refers to the iterator once
  // it returns.
  async function stepOnce() {
    const it = db.prepare(MANY).iterate();
    registry.register(it, 'iterator');
    assert.deepEqual(await it.next(), { value: { k: 1 }, done: false });
  }
  await stepOnce();
  for (let i = 0; i < 50 && !collected; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(collected, 'the iterator was not collected');
  // Its finalizer (which drops the statement) may run a moment after the
  // registry's callback: wait until the connection is free.
  let answer;
  for (let i = 0; i < 100 && answer === undefined; i++) {
    answer = await db
      .prepare('SELECT 1 AS one')
      .get()
      .catch((err) => {
        assert.equal(err.code, 'ERR_WASMUDF_POOL_HELD');
        gc();
        return new Promise((r) => setTimeout(r, 20));
      });
  }
  assert.deepEqual(answer, { one: 1 });
  await db.close();
});

test('the order operations are called in is the order they get connections', { timeout: 60_000 }, async () => {
  // A query called before an iterator's first step runs first, though the
  // iterator then holds the only connection (this hung in some runs).
  for (let run = 0; run < 200; run++) {
    const db = new Database(null, { threads: 1 });
    const header = db.prepare('SELECT 1 AS one').get();
    const it = db.prepare(MANY).iterate();
    assert.deepEqual(await it.next(), { value: { k: 1 }, done: false });
    assert.deepEqual(await header, { one: 1 });
    await it.return();
    await db.close();
  }
});

test('a signal that fires between steps ends the iteration; an un-awaited return() frees at once', { timeout: 60_000 }, async () => {
  const db = new Database(null, { threads: 1 });
  const controller = new AbortController();
  const it = db.prepare(MANY).iterate(null, { signal: controller.signal });
  assert.deepEqual(await it.next(), { value: { k: 1 }, done: false });
  controller.abort();
  assert.deepEqual(await db.prepare('SELECT 1 AS one').get(), { one: 1 });
  await rejectsWith(it.next(), 'ABORT_ERR');
  // A step aborted before it starts gives its claim back too.
  for (let i = 0; i < 20; i++) {
    const c = new AbortController();
    const pending = db.prepare(MANY).iterate(null, { signal: c.signal }).next();
    c.abort();
    await pending.catch(() => {});
    assert.deepEqual(await db.prepare('SELECT 2 AS two').get(), { two: 2 });
  }
  const other = db.prepare(MANY).iterate();
  await other.next();
  other.return();
  assert.deepEqual(await db.prepare('SELECT 3 AS three').get(), { three: 3 });
  await db.close();
});
