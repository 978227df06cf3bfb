// Values across the boundary: 64-bit edges, NULL, BLOB, floats, through
// SQL alone and through a Rust component's identity function.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Database, guest, rejectsWith } from './helpers.mjs';

const MAX = 9223372036854775807n;
const MIN = -9223372036854775808n;

test('INTEGER is a number when safe, a BigInt when not (or always, with safeIntegers)', async () => {
  const db = new Database(null, { udf: [guest('identity')] });
  const stmt = db.prepare('SELECT identity(?) AS v, typeof(identity(?)) AS t');
  const cases = [
    [0, 0, 'integer'],
    [1, 1, 'integer'],
    [-1, -1, 'integer'],
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'integer'],
    [Number.MIN_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 'integer'],
    [2n ** 53n, 2n ** 53n, 'integer'],
    [-(2n ** 53n), -(2n ** 53n), 'integer'],
    [MAX, MAX, 'integer'],
    [MIN, MIN, 'integer'],
    [MAX - 1n, MAX - 1n, 'integer'],
    [MIN + 1n, MIN + 1n, 'integer'],
    [42n, 42, 'integer'],
    [true, 1, 'integer'],
    [false, 0, 'integer'],
  ];
  for (const [input, output, type] of cases) {
    assert.deepEqual(await stmt.get([input, input]), { v: output, t: type }, `input ${input}`);
  }
  // Read back from SQL literals too.
  assert.deepEqual(await db.prepare(`SELECT ${MAX} AS a, ${MIN} AS b, 9007199254740991 AS c`).get(), {
    a: MAX,
    b: MIN,
    c: Number.MAX_SAFE_INTEGER,
  });
  // A BigInt outside 64 bits is refused, not wrapped.
  await rejectsWith(stmt.get([MAX + 1n, 0]), 'ERR_OUT_OF_RANGE');
  await rejectsWith(stmt.get([MIN - 1n, 0]), 'ERR_OUT_OF_RANGE');
  // An integer-valued number past 2^53 binds as REAL (it is not exact).
  assert.deepEqual(await stmt.get([2 ** 53, 2 ** 53]), { v: 2 ** 53, t: 'real' });
  // safeIntegers: every INTEGER is a BigInt, for the database or per statement.
  const safe = new Database(null, { safeIntegers: true });
  assert.equal(safe.safeIntegers, true);
  assert.deepEqual(await safe.prepare('SELECT 1 AS one, 1.5 AS r').get(), { one: 1n, r: 1.5 });
  assert.deepEqual(await db.prepare('SELECT 1 AS one').safeIntegers().get(), { one: 1n });
  assert.deepEqual(await safe.prepare('SELECT 1 AS one').safeIntegers(false).get(), { one: 1 });
  const run = await safe.prepare('SELECT 1').run();
  assert.equal(typeof run.changes, 'bigint');
  await db.close();
  await safe.close();
});

test('REAL keeps -0.0 and the infinities; NaN is NULL in SQLite', async () => {
  const db = new Database(null, { udf: [guest('identity')] });
  const stmt = db.prepare('SELECT identity(?) AS v, typeof(?) AS t');
  const minusZero = await stmt.get([-0, -0]);
  assert.ok(Object.is(minusZero.v, -0), `got ${minusZero.v}`);
  assert.equal(minusZero.t, 'real');
  assert.deepEqual(await stmt.get([0.1, 0.1]), { v: 0.1, t: 'real' });
  assert.deepEqual(await stmt.get([Infinity, Infinity]), { v: Infinity, t: 'real' });
  assert.deepEqual(await stmt.get([-Infinity, -Infinity]), { v: -Infinity, t: 'real' });
  assert.deepEqual(await stmt.get([Number.MAX_VALUE, 1]), { v: Number.MAX_VALUE, t: 'integer' });
  assert.deepEqual(await stmt.get([Number.MIN_VALUE, 1]), { v: Number.MIN_VALUE, t: 'integer' });
  // SQLite turns a NaN into NULL wherever it gets one.
  assert.deepEqual(await stmt.get([NaN, NaN]), { v: null, t: 'null' });
  assert.deepEqual(await db.prepare('SELECT 1e308 * 10 AS inf, -1e308 * 10 AS ninf').get(), {
    inf: Infinity,
    ninf: -Infinity,
  });
  await db.close();
});

test('NULL, TEXT and BLOB', async () => {
  const db = new Database(null, { udf: [guest('identity')] });
  const stmt = db.prepare('SELECT identity(?) AS v, typeof(?) AS t');
  assert.deepEqual(await stmt.get([null, null]), { v: null, t: 'null' });
  assert.deepEqual(await stmt.get([undefined, undefined]), { v: null, t: 'null' });
  for (const text of ['', 'straße', '日本語', 'a\u0000b', '😀', 'x'.repeat(100_000)]) {
    assert.deepEqual(await stmt.get([text, text]), { v: text, t: 'text' });
  }
  const bytes = Uint8Array.from([0, 1, 2, 255, 254]);
  for (const blob of [
    Buffer.from(bytes),
    bytes,
    bytes.buffer,
    new DataView(bytes.buffer),
    new Uint16Array([1, 65535]),
  ]) {
    const { v, t } = await stmt.get([blob, blob]);
    assert.equal(t, 'blob');
    assert.ok(Buffer.isBuffer(v) && v instanceof Uint8Array);
    const expected = Buffer.from(ArrayBuffer.isView(blob) ? blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength) : blob);
    assert.deepEqual(v, expected);
  }
  // A view of part of a buffer binds only its bytes.
  const part = new Uint8Array(bytes.buffer, 1, 2);
  assert.deepEqual((await stmt.get([part, part])).v, Buffer.from([1, 2]));
  assert.deepEqual(await stmt.get([new Uint8Array(0), new Uint8Array(0)]), { v: Buffer.alloc(0), t: 'blob' });
  // A lone Buffer is one BLOB parameter, not a list of parameters.
  assert.deepEqual(await db.prepare('SELECT length(?) AS n').get(Buffer.from('abc')), { n: 3 });
  await db.close();
});

test('a column named __proto__ is a key of the row, never its prototype', async () => {
  const db = new Database(null);
  const rows = [];
  for (const sql of [
    `SELECT x'deadbeef' AS "__proto__", 7 AS a`,
    `SELECT 1 AS "__proto__", 7 AS a`,
  ]) {
    const stmt = db.prepare(sql);
    const got = [await stmt.get(), ...(await stmt.all())];
    for await (const row of stmt.iterate()) got.push(row);
    for (const row of got) {
      assert.equal(Object.getPrototypeOf(row), Object.prototype, sql);
      assert.deepEqual(Object.keys(row), ['__proto__', 'a'], sql);
      assert.equal(row.a, 7, sql);
    }
    rows.push(got);
  }
  assert.deepEqual([...Object.getOwnPropertyDescriptor(rows[0][0], '__proto__').value], [0xde, 0xad, 0xbe, 0xef]);
  assert.equal(Object.getOwnPropertyDescriptor(rows[1][0], '__proto__').value, 1);
  await db.close();
});
