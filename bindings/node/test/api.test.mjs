// The API's shape: exec, prepare, get/all/run/values/iterate/columns,
// loading and unloading components, functions(), close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Database, guest, rejectsWith } from './helpers.mjs';

test('exec, prepare, get, all, values, run and columns', async () => {
  const db = new Database(null, { threads: 2 });
  await db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)');
  const insert = db.prepare('INSERT INTO t(name, score) VALUES (?, ?)');
  assert.deepEqual(await insert.run(['ada', 1.5]), { changes: 1, lastInsertRowid: 1 });
  assert.deepEqual(await insert.run(['bob', 2.5]), { changes: 1, lastInsertRowid: 2 });
  const select = db.prepare('SELECT id, name, score FROM t ORDER BY id');
  assert.equal(select.sourceSQL, 'SELECT id, name, score FROM t ORDER BY id');
  assert.deepEqual(await select.get(), { id: 1, name: 'ada', score: 1.5 });
  assert.deepEqual(await select.all(), [
    { id: 1, name: 'ada', score: 1.5 },
    { id: 2, name: 'bob', score: 2.5 },
  ]);
  assert.deepEqual(await select.values(), [
    [1, 'ada', 1.5],
    [2, 'bob', 2.5],
  ]);
  assert.equal(await db.prepare('SELECT 1 WHERE 0').get(), undefined);
  assert.deepEqual(await db.prepare('SELECT 1 WHERE 0').all(), []);
  assert.deepEqual(await select.columns(), [
    { name: 'id', type: 'INTEGER' },
    { name: 'name', type: 'TEXT' },
    { name: 'score', type: 'REAL' },
  ]);
  // Whichever pool connection runs it, a statement reports its own
  // changes and inserted rowid: an UPDATE inserts nothing, DDL and reads
  // change nothing, whatever ran before them on that connection.
  for (let i = 0; i < 4; i++) {
    assert.deepEqual(await db.prepare('UPDATE t SET score = score + 1').run(), {
      changes: 2,
      lastInsertRowid: 0,
    });
  }
  assert.deepEqual(await db.prepare('CREATE TABLE u(x)').run(), { changes: 0, lastInsertRowid: 0 });
  assert.deepEqual(await db.prepare('CREATE INDEX ui ON u(x)').run(), { changes: 0, lastInsertRowid: 0 });
  assert.deepEqual(await select.run(), { changes: 0, lastInsertRowid: 0 });
  assert.deepEqual(await db.prepare('INSERT INTO u VALUES (1), (2), (3)').run(), { changes: 3, lastInsertRowid: 3 });
  assert.deepEqual(await db.prepare('DELETE FROM u WHERE x > 1').run(), { changes: 2, lastInsertRowid: 0 });
  await db.close();
});

test('named and positional parameters', async () => {
  const db = new Database();
  const stmt = db.prepare('SELECT :a AS a, @b AS b, $c AS c');
  assert.deepEqual(await stmt.get({ a: 1, b: 'two', c: null }), { a: 1, b: 'two', c: null });
  assert.deepEqual(await stmt.get({ ':a': 1, '@b': 2, $c: 3 }), { a: 1, b: 2, c: 3 });
  // Unbound parameters are NULL.
  assert.deepEqual(await stmt.get({ a: 1 }), { a: 1, b: null, c: null });
  assert.deepEqual(await db.prepare('SELECT ?1 + ?2 AS s, ?2 AS second').get([40, 2]), { s: 42, second: 2 });
  // A single value binds the first parameter.
  assert.deepEqual(await db.prepare('SELECT ? AS x').get('one'), { x: 'one' });
  await rejectsWith(stmt.get({ nope: 1 }), 'ERR_WASMUDF_BIND');
  await rejectsWith(db.prepare('SELECT ?').get([1, 2]), 'ERR_WASMUDF_BIND');
  await rejectsWith(db.prepare('SELECT ?').iterate([1, 2]).next(), 'ERR_WASMUDF_BIND');
  await rejectsWith(db.prepare('SELECT :a').iterate({ nope: 1 }).next(), 'ERR_WASMUDF_BIND');
  const rows = [];
  for await (const row of db.prepare('SELECT ?1 AS x UNION ALL SELECT ?2').iterate([1, 2])) rows.push(row.x);
  assert.deepEqual(rows, [1, 2]);
  await rejectsWith(db.prepare('SELECT ?').get(new Date()), 'ERR_INVALID_ARG_TYPE');
  await rejectsWith(db.prepare('SELECT ?').get([Symbol('s')]), 'ERR_INVALID_ARG_TYPE');
  await rejectsWith(db.prepare('SELECT ?').get([1], { signal: 'no' }), 'ERR_INVALID_ARG_TYPE');
  await db.close();
});

test('iterate reads rows lazily and ends on break', async () => {
  const db = new Database(null, { threads: 1 });
  const stmt = db.prepare(
    'WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < :last) SELECT k FROM n',
  );
  const seen = [];
  for await (const row of stmt.iterate({ last: 1000 })) seen.push(row.k);
  assert.equal(seen.length, 1000);
  assert.equal(seen[999], 1000);
  // `break` returns the iterator: its connection goes back to the pool (of
  // one), so the next statement can run.
  for await (const row of stmt.iterate({ last: 1_000_000 })) {
    if (row.k === 3) break;
  }
  assert.deepEqual(await db.prepare('SELECT 7 AS x').get(), { x: 7 });
  const it = stmt.iterate({ last: 2 });
  assert.deepEqual(await it.next(), { value: { k: 1 }, done: false });
  assert.deepEqual(await it.return(), { value: undefined, done: true });
  assert.deepEqual(await it.next(), { value: undefined, done: true });
  await assert.rejects(
    (async () => {
      for await (const _ of db.prepare('SELECT * FROM nowhere').iterate()) {
        // never
      }
    })(),
    (err) => err.code === 'SQLITE_ERROR' && /no such table/.test(err.message),
  );
  await db.close();
});

test('a transaction must begin and end within one operation', async () => {
  const db = new Database(null, { threads: 2 });
  await db.exec('CREATE TABLE t(x)');
  // Left open: rolled back, and said so, not lost silently.
  await rejectsWith(db.exec('BEGIN; INSERT INTO t VALUES (1)'), 'ERR_WASMUDF_TRANSACTION_OPEN');
  await rejectsWith(db.prepare('BEGIN').run(), 'ERR_WASMUDF_TRANSACTION_OPEN');
  assert.deepEqual(await db.prepare('SELECT count(*) AS n FROM t').get(), { n: 0 });
  // Whole, it commits; failing half-way, it commits nothing.
  await db.exec('BEGIN; INSERT INTO t VALUES (2); INSERT INTO t VALUES (3); COMMIT');
  await rejectsWith(db.exec('BEGIN; INSERT INTO t VALUES (4); INSERT INTO nowhere VALUES (5); COMMIT'), 'SQLITE_ERROR');
  assert.deepEqual(await db.prepare('SELECT x FROM t ORDER BY x').values(), [[2], [3]]);
  // Every connection is usable after.
  const counts = await Promise.all([1, 2, 3, 4].map(() => db.prepare('SELECT count(*) AS n FROM t').get()));
  assert.deepEqual(counts, [{ n: 2 }, { n: 2 }, { n: 2 }, { n: 2 }]);
  await db.close();
});

test('SQL errors carry SQLite code names', async () => {
  const db = new Database();
  await db.exec('CREATE TABLE u(x UNIQUE NOT NULL)');
  await db.prepare('INSERT INTO u VALUES (1)').run();
  const dup = await rejectsWith(db.prepare('INSERT INTO u VALUES (1)').run(), 'SQLITE_CONSTRAINT_UNIQUE');
  assert.equal(dup.errcode, 2067);
  assert.match(dup.message, /UNIQUE constraint failed: u.x/);
  await rejectsWith(db.prepare('INSERT INTO u VALUES (NULL)').run(), 'SQLITE_CONSTRAINT_NOTNULL');
  const syntax = await rejectsWith(db.prepare('SELEKT 1').get(), 'SQLITE_ERROR');
  assert.match(syntax.message, /syntax error/);
  await rejectsWith(db.prepare('SELECT 1; SELECT 2').get(), 'ERR_WASMUDF_MULTIPLE_STATEMENTS');
  await db.close();
});

test('components load, list their functions and unload at runtime', async () => {
  const db = new Database(null, { udf: [guest('sleep')] });
  const listed = await db.functions();
  assert.ok(listed.some((f) => f.name === 'sleep' && f.kind === 'scalar' && f.language === 'Rust'));
  const info = await db.loadComponent(guest('identity'));
  assert.equal(info.name, guest('identity'));
  assert.match(info.sha256, /^[0-9a-f]{64}$/);
  assert.ok(info.functions.some((f) => f.name === 'identity' && f.arity === 1));
  assert.deepEqual(await db.prepare('SELECT identity(41) + 1 AS x').get(), { x: 42 });
  assert.ok((await db.functions()).some((f) => f.name === 'identity'));
  await db.unloadComponent(guest('identity'));
  await rejectsWith(db.prepare('SELECT identity(1)').get(), 'SQLITE_ERROR');
  assert.ok(!(await db.functions()).some((f) => f.name === 'identity'));
  await rejectsWith(db.unloadComponent('nope.wasm'), 'ERR_WASMUDF_NOT_LOADED');
  await rejectsWith(db.loadComponent('/no/such/file.wasm'), 'ERR_WASMUDF_IO');
  // The same function twice is a clash, not a silent replacement.
  await rejectsWith(db.loadComponent(guest('sleep')), 'ERR_WASMUDF_NAME_CLASH');
  await db.close();
});

test('a bad file or option fails clearly', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wasmudf-node-'));
  try {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'not.wasm'), 'hello');
    const bad = new Database(null, { udf: [join(dir, 'not.wasm')] });
    await rejectsWith(bad.ready, 'ERR_WASMUDF_LOAD');
    await rejectsWith(bad.prepare('SELECT 1').get(), 'ERR_WASMUDF_LOAD');
    await rejectsWith(Database.open(null, { udf: [join(dir, 'not.wasm')] }), 'ERR_WASMUDF_LOAD');
    assert.throws(() => new Database(null, { threads: 0 }), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => new Database(null, { memoryMib: -1 }), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => new Database(null, { timeoutMs: 1.5 }), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => new Database(null, { threads: 'four' }), { code: 'ERR_INVALID_ARG_TYPE' });
    // exec takes no parameters: an array where its options go is refused.
    const db = new Database();
    await rejectsWith(db.exec('SELECT ?', [1]), 'ERR_INVALID_ARG_TYPE');
    await rejectsWith(db.prepare('SELECT ?').get([1], [2]), 'ERR_INVALID_ARG_TYPE');
    // A bare signal where { signal } goes would be ignored: refused.
    await rejectsWith(db.prepare('SELECT ?').get([1], new AbortController().signal), 'ERR_INVALID_ARG_TYPE');
    await db.close();
    const nodir = new Database(join(dir, 'missing', 'x.db'));
    await rejectsWith(nodir.ready, 'SQLITE_CANTOPEN');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('readOnly opens a file that refuses writes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wasmudf-node-'));
  try {
    const path = join(dir, 'ro.db');
    const rw = await Database.open(path);
    await rw.exec('CREATE TABLE t(x); INSERT INTO t VALUES (1)');
    await rw.close();
    const ro = await Database.open(path, { readOnly: true });
    assert.deepEqual(await ro.prepare('SELECT x FROM t').all(), [{ x: 1 }]);
    await rejectsWith(ro.prepare('INSERT INTO t VALUES (2)').run(), 'SQLITE_READONLY');
    await ro.close();
    await rejectsWith(Database.open(join(dir, 'missing.db'), { readOnly: true }), 'SQLITE_CANTOPEN');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('close waits for running work, then refuses more; asyncDispose closes', async () => {
  const db = new Database(null, { udf: [guest('sleep')], threads: 2 });
  const running = db.prepare('SELECT sleep(300) AS s').get();
  // Let the statement start before closing.
  await new Promise((r) => setTimeout(r, 50));
  const closed = db.close();
  assert.equal(db.closed, true);
  await rejectsWith(db.prepare('SELECT 1').get(), 'ERR_WASMUDF_CLOSED');
  assert.deepEqual(await running, { s: 300 });
  await closed;
  await db.close();
  // What `await using db = new Database()` calls at the end of its block
  // (syntax that Node 20 does not parse yet).
  const kept = new Database();
  assert.deepEqual(await kept.prepare('SELECT 1 AS one').get(), { one: 1 });
  assert.equal(typeof kept[Symbol.asyncDispose], 'function');
  await kept[Symbol.asyncDispose]();
  assert.equal(kept.closed, true);
});
