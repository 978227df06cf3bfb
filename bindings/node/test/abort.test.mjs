// AbortSignal: an abort interrupts SQLite and the guest, rejects with an
// AbortError, and commits nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Database, guest } from './helpers.mjs';

const rows = (n) => `WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < ${n})`;

/** An AbortError whose cause is the signal's reason (read when it has fired). */
function isAbort(signal) {
  return (err) => {
    assert.equal(err.name, 'AbortError');
    assert.equal(err.code, 'ABORT_ERR');
    assert.ok(signal.aborted);
    assert.equal(err.cause, signal.reason);
    return true;
  };
}

test('an abort during a long INSERT ... SELECT commits nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wasmudf-node-'));
  const db = new Database(join(dir, 'a.db'), { udf: [guest('sleep')], threads: 2 });
  try {
    await db.exec('CREATE TABLE t(x)');
    // A UDF asleep in the guest, row after row: 1,000 rows of 10 ms.
    let controller = new AbortController();
    const slow = db.prepare(`${rows(1000)} INSERT INTO t SELECT sleep(10) FROM n`);
    let pending = slow.run([], { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('enough')), 300);
    await assert.rejects(pending, isAbort(controller.signal));
    // SQLite alone, no UDF: a statement of a hundred million rows.
    controller = new AbortController();
    pending = db.prepare(`${rows(100_000_000)} INSERT INTO t SELECT k FROM n`).run(null, { signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    await assert.rejects(pending, isAbort(controller.signal));
    // Inside an explicit transaction run by exec.
    controller = new AbortController();
    pending = db.exec(`BEGIN; ${rows(1000)} INSERT INTO t SELECT sleep(10) FROM n; COMMIT;`, {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 300);
    await assert.rejects(pending, isAbort(controller.signal));
    // Nothing committed, and the database works (on every connection).
    const counts = await Promise.all([1, 2, 3, 4].map(() => db.prepare('SELECT count(*) AS n FROM t').get()));
    assert.deepEqual(counts, [{ n: 0 }, { n: 0 }, { n: 0 }, { n: 0 }]);
    assert.deepEqual(await db.prepare('INSERT INTO t VALUES (sleep(1))').run(), { changes: 1, lastInsertRowid: 1 });
    assert.deepEqual(await db.prepare('SELECT count(*) AS n FROM t').get(), { n: 1 });
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('an already-aborted signal rejects at once and runs nothing', async () => {
  const db = new Database(null, { udf: [guest('sleep')] });
  await db.exec('CREATE TABLE t(x)');
  const signal = AbortSignal.abort(new Error('no'));
  await assert.rejects(db.prepare('INSERT INTO t VALUES (1)').run(null, { signal }), isAbort(signal));
  await assert.rejects(db.exec('INSERT INTO t VALUES (2)', { signal }), isAbort(signal));
  assert.deepEqual(await db.prepare('SELECT count(*) AS n FROM t').get(), { n: 0 });
  await db.close();
});

test('a signal shared by many operations collects no listeners', async () => {
  const db = new Database();
  const controller = new AbortController();
  const stmt = db.prepare('SELECT ? AS x');
  for (let i = 0; i < 50; i++) {
    assert.deepEqual(await stmt.get([i], { signal: controller.signal }), { x: i });
  }
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  await db.close();
});

test('many operations in flight on one signal add one listener, and one abort stops them all', async () => {
  const warnings = [];
  const onWarning = (w) => warnings.push(w.name);
  process.on('warning', onWarning);
  try {
    const db = new Database(null, { udf: [guest('sleep')], threads: 4 });
    await db.ready;
    const controller = new AbortController();
    const { signal } = controller;
    const stmt = db.prepare('SELECT sleep(?) AS s');
    const quick = Array.from({ length: 50 }, (_, i) => stmt.get([i % 3], { signal }));
    assert.equal(getEventListeners(signal, 'abort').length, 1);
    assert.equal((await Promise.all(quick)).length, 50);
    assert.equal(getEventListeners(signal, 'abort').length, 0);
    // Fifty long ones: the pool runs four, the rest wait; one abort ends all.
    const slow = Array.from({ length: 50 }, () => stmt.get([60_000], { signal }));
    assert.equal(getEventListeners(signal, 'abort').length, 1);
    await new Promise((r) => setTimeout(r, 100));
    controller.abort(new Error('enough'));
    for (const result of await Promise.allSettled(slow)) {
      assert.equal(result.status, 'rejected');
      assert.ok(isAbort(signal)(result.reason));
    }
    assert.equal(getEventListeners(signal, 'abort').length, 0);
    // A second signal, and operations without one, are untouched.
    assert.deepEqual(await stmt.get([1], { signal: new AbortController().signal }), { s: 1 });
    await db.close();
    // Warnings are emitted on the next tick.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.filter((w) => w === 'MaxListenersExceededWarning'), []);
  } finally {
    process.off('warning', onWarning);
  }
});

test('an abort ends an iteration and frees its connection', async () => {
  const db = new Database(null, { udf: [guest('sleep')], threads: 1 });
  const controller = new AbortController();
  const seen = [];
  await assert.rejects(
    (async () => {
      const it = db.prepare(`${rows(1000)} SELECT sleep(20) AS s FROM n`).iterate(null, { signal: controller.signal });
      for await (const row of it) {
        seen.push(row.s);
        if (seen.length === 3) controller.abort();
      }
    })(),
    isAbort(controller.signal),
  );
  assert.ok(seen.length >= 3 && seen.length < 1000);
  // The pool has one connection: the aborted statement gave it back.
  assert.deepEqual(await db.prepare('SELECT 5 AS five').get(), { five: 5 });
  await db.close();
});
