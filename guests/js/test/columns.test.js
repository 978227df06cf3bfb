// Unit tests of the wasmudf:udf@0.2.0 additions: batches of columns
// (`call-columns`, `step-columns`, `inverse-columns`), `serialize`/`merge`
// and the manifest's declared types. Columns are given as componentize-js
// 0.23 lifts them (typed arrays, TEXT data as a string with UTF-8 byte
// offsets, `valid` a Uint8Array or undefined).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';

import { Registry, makeGuest, decodeColumns, buildColumn } from '../src/core.js';

const I = (v) => ({ tag: 'integer', val: BigInt(v) });
const R = (v) => ({ tag: 'real', val: v });
const T = (v) => ({ tag: 'text', val: v });
const B = (bytes) => ({ tag: 'blob', val: new Uint8Array(bytes) });
const N = { tag: 'null' };
const err = (val) => ({ tag: 'err', val });

function setup(register) {
  const reg = new Registry();
  register(reg);
  return makeGuest(reg);
}

// Column builders, written independently of the SDK's own encoder.
/** A validity bitmap, LSB first, from a list of "is NULL" booleans. */
function bitmap(nulls) {
  const bits = new Uint8Array(Math.ceil(nulls.length / 8));
  nulls.forEach((isNull, i) => {
    if (!isNull) bits[Math.floor(i / 8)] |= 1 << i % 8;
  });
  return bits;
}
const ints = (data, valid) => ({ tag: 'integers', val: { data: new BigInt64Array(data.map(BigInt)), valid } });
const reals = (data, valid) => ({ tag: 'reals', val: { data: new Float64Array(data), valid } });
function texts(strings, valid) {
  const offsets = [0];
  for (const s of strings) offsets.push(offsets.at(-1) + Buffer.byteLength(s, 'utf8'));
  return { tag: 'texts', val: { offsets: new Uint32Array(offsets), data: strings.join(''), valid } };
}
function blobs(list, valid) {
  const offsets = [0];
  for (const b of list) offsets.push(offsets.at(-1) + b.length);
  return { tag: 'blobs', val: { offsets: new Uint32Array(offsets), data: new Uint8Array(list.flat()), valid } };
}
const values = (list) => ({ tag: 'values', val: list });

/** The WIT values of a result column, row by row (what the host reads). */
function rowsOf(col) {
  const c = col.val;
  const isNull = (i) => c.valid !== undefined && (c.valid[i >> 3] & (1 << (i & 7))) === 0;
  switch (col.tag) {
    case 'values':
      return c;
    case 'integers':
      return Array.from(c.data, (v, i) => (isNull(i) ? N : I(v)));
    case 'reals':
      return Array.from(c.data, (v, i) => (isNull(i) ? N : R(v)));
    case 'texts': {
      const bytes = Buffer.from(c.data, 'utf8');
      assert.equal(c.offsets.at(-1), bytes.length, 'the last offset is the data length');
      return Array.from({ length: c.offsets.length - 1 }, (_, i) =>
        isNull(i) ? N : T(bytes.subarray(c.offsets[i], c.offsets[i + 1]).toString('utf8')),
      );
    }
    case 'blobs':
      assert.equal(c.offsets.at(-1), c.data.length, 'the last offset is the data length');
      return Array.from({ length: c.offsets.length - 1 }, (_, i) =>
        isNull(i) ? N : B(c.data.subarray(c.offsets[i], c.offsets[i + 1])),
      );
    default:
      throw new Error(`not a column: ${col.tag}`);
  }
}

// ---------------------------------------------------------------------------
// Decoding

test('every column kind decodes to the arguments a row call gets', () => {
  const nulls = [false, true, false, false, false, false, false, true, false, true]; // 10 rows: 2 bitmap bytes
  const v = bitmap(nulls);
  assert.deepEqual([...v], [0b0111_1101, 0b01]);
  const n = nulls.length;
  const [a, b, c, d, e] = decodeColumns(
    [
      ints([1, 99, -3, 4, 5, 6, 7, 99, -(2n ** 63n), 99], v),
      reals([0.5, 99, -0, NaN, 1e300, 6, 7, 99, -1, 99], v),
      texts(['a', 'IGNORED', 'é', '😀x', '', 'Ω', 'tail', '', 'z', 'q'], v),
      blobs([[1], [9, 9], [], [2, 3], [4], [5], [6], [], [7], [8]], v),
      values([I(1), N, R(2.5), T('t'), B([1]), I(-1), N, N, T(''), B([])]),
    ],
    n,
  );
  assert.deepEqual(a, [1n, null, -3n, 4n, 5n, 6n, 7n, null, -(2n ** 63n), null]);
  assert.deepEqual(b.slice(0, 3), [0.5, null, -0]);
  assert.ok(Number.isNaN(b[3]));
  assert.deepEqual(b.slice(4), [1e300, 6, 7, null, -1, null]);
  assert.deepEqual(c, ['a', null, 'é', '😀x', '', 'Ω', 'tail', null, 'z', null]);
  assert.deepEqual(d, [new Uint8Array([1]), null, new Uint8Array([]), new Uint8Array([2, 3]), new Uint8Array([4]), new Uint8Array([5]), new Uint8Array([6]), null, new Uint8Array([7]), null]);
  assert.deepEqual(e, [1n, null, 2.5, 't', new Uint8Array([1]), -1n, null, null, '', new Uint8Array([])]);
  // A BLOB argument is a copy of its own bytes, as a row call's is.
  assert.equal(d[3].buffer.byteLength, 2);

  // Without validity every row is present; extra bitmap bytes are fine.
  const [x, y] = decodeColumns([ints([5, 6]), reals([1, 2], new Uint8Array([0b10, 0xff]))], 2);
  assert.deepEqual([...x], [5n, 6n]);
  assert.deepEqual(y, [null, 2]);
  // An ASCII TEXT column, a null validity (as none) and zero rows.
  assert.deepEqual(decodeColumns([texts(['ab', 'c'], null)], 2), [['ab', 'c']]);
  assert.deepEqual(decodeColumns([ints([]), texts([]), blobs([]), values([])], 0).map((col) => [...col]), [[], [], [], []]);
  assert.deepEqual(decodeColumns([], 5), []);
  // TEXT offsets need not start at 0.
  const shifted = { tag: 'texts', val: { offsets: new Uint32Array([3, 6, 8]), data: 'xyzdéΩ', valid: undefined } };
  assert.deepEqual(decodeColumns([shifted], 2), [['dé', 'Ω']]);
});

test('a malformed column fails with its 1-based number and what is wrong', () => {
  const bad = (cols, rows) => decodeColumns(cols, rows).error;
  assert.equal(bad([ints([1, 2, 3])], 4), 'column 1: 3 values for 4 rows');
  assert.equal(bad([ints([1]), reals([1, 2])], 1), 'column 2: 2 values for 1 rows');
  assert.equal(bad([values([N])], 2), 'column 1: 1 values for 2 rows');
  assert.equal(bad([texts(['a', 'b'])], 3), 'column 1: 2 values for 3 rows');
  assert.equal(bad([blobs([[1]])], 0), 'column 1: 1 values for 0 rows');
  // Validity must cover every row.
  assert.equal(bad([ints(Array(9).fill(0), new Uint8Array([0xff]))], 9), 'column 1: a validity bitmap of 1 bytes for 9 rows');
  assert.equal(bad([ints([1], new Uint8Array([]))], 1), 'column 1: a validity bitmap of 0 bytes for 1 rows');
  // Offsets.
  const text = (offsets, data) => ({ tag: 'texts', val: { offsets: new Uint32Array(offsets), data } });
  const blob = (offsets, data) => ({ tag: 'blobs', val: { offsets: new Uint32Array(offsets), data: new Uint8Array(data) } });
  assert.equal(bad([text([], '')], 0), 'column 1: no offsets (a column of n rows has n + 1)');
  assert.equal(bad([blob([], [])], 0), 'column 1: no offsets (a column of n rows has n + 1)');
  assert.equal(bad([text([0, 1], 'ab')], 1), 'column 1: the last offset is 1 but the data has 2 bytes');
  assert.equal(bad([text([0, 2], 'é')], 1), undefined); // é is two bytes: valid
  assert.equal(bad([text([0, 3], 'é')], 1), 'column 1: the last offset is 3 but the data has 2 bytes');
  assert.equal(bad([blob([0, 4], [1, 2, 3])], 1), 'column 1: the last offset is 4 but the data has 3 bytes');
  assert.equal(bad([blob([0, 2, 1, 3], [1, 2, 3])], 3), 'column 1: offsets decrease at row 2');
  assert.equal(bad([text([2, 1, 3], 'abc')], 2), 'column 1: offsets decrease at row 1');
  // TEXT offsets fall on character boundaries (UTF-8 bytes).
  assert.equal(bad([text([0, 1, 3], 'éa')], 2), 'column 1: offset 1 is inside a character');
  assert.equal(bad([text([0, 2, 5], 'a😀')], 2), 'column 1: offset 2 is inside a character'); // 😀 is 4 bytes
  assert.equal(bad([text([0, 3, 5], 'a😀')], 2), 'column 1: offset 3 is inside a character');
  assert.equal(bad([text([0, 1, 5], 'a😀')], 2), undefined);
  // The first malformed column is the one reported; a NULL row's data
  // being odd does not matter, but the layout still must be right.
  assert.equal(bad([ints([1, 2]), blobs([[1]]), ints([1])], 2), 'column 2: 1 values for 2 rows');
  assert.equal(bad([{ tag: 'nope', val: {} }], 0), 'column 1: unknown column kind "nope"');
});

test('buildColumn picks the typed column when the classes agree', () => {
  assert.deepEqual(buildColumn([I(1), I(-2)]), ints([1, -2]));
  assert.deepEqual(buildColumn([I(1), N, I(3)]), { tag: 'integers', val: { data: new BigInt64Array([1n, 0n, 3n]), valid: new Uint8Array([0b101]) } });
  assert.deepEqual(buildColumn([R(0.5), N]), { tag: 'reals', val: { data: new Float64Array([0.5, 0]), valid: new Uint8Array([0b01]) } });
  assert.deepEqual(buildColumn([T('é'), N, T('x😀')]), { tag: 'texts', val: { offsets: new Uint32Array([0, 2, 2, 7]), data: 'éx😀', valid: new Uint8Array([0b101]) } });
  assert.deepEqual(buildColumn([B([1, 2]), B([]), B([3])]), { tag: 'blobs', val: { offsets: new Uint32Array([0, 2, 2, 3]), data: new Uint8Array([1, 2, 3]), valid: undefined } });
  assert.deepEqual(buildColumn([I(1), R(1)]), values([I(1), R(1)]));
  assert.deepEqual(buildColumn([N, N]), values([N, N]));
  assert.deepEqual(buildColumn([]), values([]));
  // Nine rows, a NULL in the second byte.
  const nine = [I(0), I(1), I(2), I(3), I(4), I(5), I(6), I(7), N];
  assert.deepEqual([...buildColumn(nine).val.valid], [0xff, 0x00]);
});

// ---------------------------------------------------------------------------
// call-columns

/** A small deterministic generator, so failures reproduce. */
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

const POOL = [N, I(0), I(7), I(-(2n ** 63n)), I(2n ** 63n - 1n), R(1.5), R(-0), R(NaN), T(''), T('abc'), T('é😀'), B([]), B([1, 2, 255])];

/** `rows` of `width` values, encoded one column each in a random fitting layout. */
function randomBatch(next, rows, width, pool = POOL) {
  const table = Array.from({ length: rows }, () => Array.from({ length: width }, () => pool[Math.floor(next() * pool.length)]));
  const cols = [];
  for (let j = 0; j < width; j++) {
    const col = table.map((row) => row[j]);
    const classes = new Set(col.filter((v) => v.tag !== 'null').map((v) => v.tag));
    const hasNull = col.some((v) => v.tag === 'null');
    const valid = hasNull ? bitmap(col.map((v) => v.tag === 'null')) : next() < 0.5 ? undefined : bitmap(col.map(() => false));
    if (classes.size !== 1 || next() < 0.2) {
      cols.push(values(col));
      continue;
    }
    const filler = { integer: I(123), real: R(9.5), text: T('junk'), blob: B([9]) }; // data under NULL rows
    const [cls] = classes;
    const data = col.map((v) => (v.tag === 'null' ? filler[cls] : v).val);
    if (cls === 'integer') cols.push(ints(data, valid));
    else if (cls === 'real') cols.push(reals(data, valid));
    else if (cls === 'text') cols.push(texts(data, valid));
    else cols.push(blobs(data.map((b) => [...b]), valid));
  }
  return { table, cols };
}

test('call-columns matches row-at-a-time calls on random batches', () => {
  const describe = (v) => (v === null ? 'N' : typeof v === 'bigint' ? `i${v}` : typeof v === 'number' ? `r${Object.is(v, -0) ? '-0' : v}` : typeof v === 'string' ? `t${v}` : `b${[...v]}`);
  const guest = setup((r) => {
    r.scalar('id', (a) => a); // 0: the class of its argument
    r.scalar('show', (...xs) => xs.map(describe).join('|'), { arity: -1 }); // 1: always TEXT
    r.scalar('pick', (a, b) => (a === null ? b : a)); // 2
    r.scalar('len', (a, b, c) => (a === null ? null : BigInt(String(a).length) + (b === null ? 0n : 1n) + (c === null ? 0n : 2n))); // 3
    r.scalar('mixed', (a) => (a === null ? 1n : typeof a === 'bigint' ? 0.5 : a)); // 4
    r.scalar('five', (a, b, c, d, e) => [a, b, c, d, e].map(describe).join(',')); // 5
    r.scalar('blobby', (a) => (a === null ? null : new TextEncoder().encode(describe(a)))); // 6
  });
  const arities = [1, -1, 2, 3, 1, 5, 1];
  const next = rng(42);
  let typed = 0;
  let valuesOut = 0;
  for (let round = 0; round < 300; round++) {
    const id = round % arities.length;
    const width = arities[id] === -1 ? Math.floor(next() * 6) : arities[id];
    const rows = Math.floor(next() * 12);
    const { table, cols } = randomBatch(next, rows, width);
    const want = table.map((row) => guest.call(id, row.slice()));
    const got = guest.callColumns(id, cols, rows);
    assert.notEqual(got.tag, 'err', got.val);
    assert.deepEqual(rowsOf(got), want, `function ${id}, ${rows} rows, round ${round}`);
    // The layout rule: typed exactly when the non-NULL results share a class.
    const classes = new Set(want.filter((v) => v.tag !== 'null').map((v) => v.tag));
    if (classes.size === 1) {
      typed++;
      const [cls] = classes;
      assert.equal(got.tag, { integer: 'integers', real: 'reals', text: 'texts', blob: 'blobs' }[cls]);
      assert.equal(got.val.valid === undefined, want.every((v) => v.tag !== 'null'));
    } else {
      valuesOut++;
      assert.equal(got.tag, 'values');
    }
  }
  assert.ok(typed > 50 && valuesOut > 20, `both layouts exercised (${typed} typed, ${valuesOut} values)`);
});

test('call-columns: the first failing row fails the batch with its own error', () => {
  const seen = [];
  const guest = setup((r) => {
    r.scalar('picky', (a) => {
      seen.push(a);
      if (a === 2n) throw new RangeError('two');
      if (a === 4n) throw new Error('four');
      return a;
    }); // 0
    r.scalar('big', (a) => a * 2n ** 62n); // 1: out of range from the result conversion
    r.scalar('obj', (a) => (a === null ? {} : a)); // 2
  });
  assert.deepEqual(guest.callColumns(0, [ints([1, 2, 3, 4])], 4), err('RangeError: two'));
  assert.deepEqual(seen, [1n, 2n]); // no row after the failing one runs
  seen.length = 0;
  assert.deepEqual(guest.callColumns(0, [ints([1, 4, 2])], 3), err('four'));
  assert.deepEqual(guest.callColumns(0, [ints([2], new Uint8Array([0]))], 1), { tag: 'values', val: [N] }); // a NULL row is null, whatever its data
  // The same message as the row call.
  assert.deepEqual(guest.callColumns(1, [ints([1, 2])], 2), guest.call1(1, I(2)));
  assert.match(guest.callColumns(1, [ints([1, 2])], 2).val, /^integer out of range: 9223372036854775808 does not fit/);
  assert.deepEqual(guest.callColumns(2, [values([I(1), N])], 2), guest.call1(2, N));
  assert.match(guest.callColumns(2, [values([I(1), N])], 2).val, /^obj returned a value of type object/);
});

test('call-columns checks the id, the arity and then the columns', () => {
  const guest = setup((r) => {
    r.scalar('two', (a, b) => a); // 0
    r.aggregate('agg', { step: (s, x) => s }); // 1
    r.scalar('any', (...xs) => BigInt(xs.length), { arity: -1 }); // 2
  });
  assert.deepEqual(guest.callColumns(0, [ints([1])], 1), err('two takes 2 arguments, but was called with 1'));
  assert.deepEqual(guest.callColumns(0, [ints([1])], 1), guest.call(0, [I(1)]));
  assert.deepEqual(guest.callColumns(1, [ints([1])], 1), err('function 1 (agg) is not a scalar function'));
  assert.deepEqual(guest.callColumns(9, [], 1), err('no function with id 9'));
  assert.deepEqual(guest.callColumns(0, [ints([1]), ints([1, 2])], 1), err('column 2: 2 values for 1 rows'));
  assert.deepEqual(guest.callColumns(2, [ints([1]), texts(['a']), reals([1]), blobs([[1]]), values([N])], 1), ints([5]));
  assert.deepEqual(guest.callColumns(2, [], 3), ints([0, 0, 0]));
  assert.deepEqual(guest.callColumns(2, [], 0), values([]));
});

test('call-columns of a zero-argument function calls it rows times', () => {
  let n = 0;
  const guest = setup((r) => {
    r.scalar('seq', () => BigInt(n++)); // 0
    r.scalar('maybe', () => (n++ % 2 === 0 ? 'even' : null)); // 1
  });
  assert.deepEqual(guest.callColumns(0, [], 4), ints([0, 1, 2, 3]));
  assert.deepEqual(guest.callColumns(0, [], 0), values([]));
  assert.equal(n, 4);
  n = 0;
  assert.deepEqual(guest.callColumns(1, [], 3), { tag: 'texts', val: { offsets: new Uint32Array([0, 4, 4, 8]), data: 'eveneven', valid: new Uint8Array([0b101]) } });
  assert.deepEqual(guest.callColumns(0, [ints([1])], 1), err('seq takes 0 arguments, but was called with 1'));
});

test('call-columns converts results like a row call and copies reused BLOB buffers', () => {
  const shared = new Uint8Array(1);
  const guest = setup((r) => {
    r.scalar('bool', (a) => a > 0n); // 0
    r.scalar('reuse', (a) => {
      shared[0] = Number(a);
      return shared;
    }); // 1
    r.scalar('view', (a) => new Uint16Array([Number(a)])); // 2
    r.scalar('num', (a) => Number(a)); // 3: a Number is REAL, always
  });
  assert.deepEqual(guest.callColumns(0, [ints([5, -5])], 2), ints([1, 0]));
  assert.deepEqual(guest.callColumns(1, [ints([1, 2, 3])], 3), blobs([[1], [2], [3]]));
  assert.deepEqual(guest.callColumns(2, [ints([0x0201])], 1), blobs([[1, 2]]));
  assert.deepEqual(guest.callColumns(3, [ints([1, 2])], 2), reals([1, 2]));
});

test('call-columns awaits async rows in order', async () => {
  const order = [];
  const guest = setup((r) => {
    r.scalar('slow', async (a) => {
      order.push(`start ${a}`);
      await new Promise((resolve) => setTimeout(resolve, Number(3n - a)));
      order.push(`end ${a}`);
      if (a === 9n) throw new TypeError('nine');
      return a === 1n ? null : `v${a}`;
    }); // 0
    r.scalar('sometimes', (a) => (a === 2n ? Promise.resolve(a * 10n) : a)); // 1
  });
  assert.deepEqual(await guest.callColumns(0, [ints([0, 1, 2])], 3), { tag: 'texts', val: { offsets: new Uint32Array([0, 2, 2, 4]), data: 'v0v2', valid: new Uint8Array([0b101]) } });
  assert.deepEqual(order, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  order.length = 0;
  assert.deepEqual(await guest.callColumns(0, [ints([0, 9, 2])], 3), err('TypeError: nine'));
  assert.deepEqual(order, ['start 0', 'end 0', 'start 9', 'end 9']);
  assert.deepEqual(await guest.callColumns(1, [ints([1, 2, 3])], 3), ints([1, 20, 3]));
});

// ---------------------------------------------------------------------------
// step-columns, inverse-columns

test('step-columns and inverse-columns step rows as step and inverse do', () => {
  const log = (s, ...xs) => [...s, xs.map((x) => (x === null ? 'N' : x instanceof Uint8Array ? `b${[...x]}` : String(x))).join(',')];
  const guest = setup((r) => {
    r.window('log1', { init: () => [], step: log, inverse: (s, x) => [...s, `-${x}`], value: (s) => s.join(' ') }, { arity: 1 }); // 0
    r.aggregate('log2', { init: () => [], step: log, final: (s) => s.join(' ') }, { arity: 2 }); // 1
    r.aggregate('log5', { init: () => [], step: log, final: (s) => s.join(' ') }, { arity: 5 }); // 2
    r.aggregate('logv', { init: () => [], step: log, final: (s) => s.join(' ') }, { arity: -1 }); // 3
    r.aggregate('count', { init: () => 0n, step: (s) => s + 1n }, { arity: 0 }); // 4
  });
  const next = rng(7);
  for (let round = 0; round < 120; round++) {
    const id = round % 4;
    const width = [1, 2, 5, Math.floor(next() * 4)][id];
    const rows = Math.floor(next() * 10);
    const { table, cols } = randomBatch(next, rows, width);
    const byRows = guest.Accumulator.create(id);
    const byCols = guest.Accumulator.create(id);
    assert.equal(byRows.step(table.flat(), rows), undefined);
    assert.equal(byCols.stepColumns(cols, rows), undefined);
    assert.deepEqual(byCols.state, byRows.state, `function ${id}, round ${round}`);
    if (id === 0) {
      assert.equal(byRows.inverse(table.flat(), rows), undefined);
      assert.equal(byCols.inverseColumns(cols, rows), undefined);
      assert.deepEqual(byCols.value(), byRows.value());
    }
  }
  const count = guest.Accumulator.create(4);
  assert.equal(count.stepColumns([], 3), undefined);
  assert.equal(count.stepColumns([], 0), undefined);
  assert.deepEqual(guest.Accumulator.finish(count), I(3));
});

test('step-columns and inverse-columns report errors like step and inverse', () => {
  const guest = setup((r) => {
    r.window('wsum', {
      init: () => 0n,
      step(s, x) {
        if (x === 13n) throw new RangeError('unlucky');
        return s + (x ?? 0n);
      },
      inverse: (s, x) => s - (x ?? 0n),
      value: (s) => s,
    }); // 0
    r.aggregate('total', { init: () => 0n, step: (s, x) => s + x }); // 1
  });
  const acc = guest.Accumulator.create(0);
  assert.deepEqual(acc.stepColumns([ints([1, 2, 13, 4])], 4), err('RangeError: unlucky'));
  assert.deepEqual(acc.value(), I(3)); // the rows before the failure are in
  assert.deepEqual(acc.stepColumns([ints([1]), ints([1])], 1), err('wsum takes 1 argument, but was called with 2'));
  assert.deepEqual(acc.stepColumns([ints([1, 2])], 3), err('column 1: 2 values for 3 rows'));
  assert.deepEqual(acc.inverseColumns([reals([1])], 2), err('column 1: 1 values for 2 rows'));
  assert.deepEqual(acc.stepColumns([ints([10, 99], new Uint8Array([1]))], 2), undefined); // the NULL row adds nothing
  assert.deepEqual(acc.inverseColumns([ints([1, 2])], 2), undefined);
  assert.deepEqual(acc.value(), I(10));
  assert.deepEqual(guest.Accumulator.finish(acc), I(10));
  assert.deepEqual(acc.stepColumns([ints([1])], 1), err('accumulator already finished'));
  assert.deepEqual(acc.inverseColumns([ints([1])], 1), err('accumulator already finished'));
  const total = guest.Accumulator.create(1);
  assert.deepEqual(total.inverseColumns([ints([1])], 1), err('total is not a window function'));
  // A TypeError from mixing a NULL into BigInt arithmetic, as step gives it.
  assert.deepEqual(total.stepColumns([ints([1, 0], new Uint8Array([1]))], 2), total.step([N], 1));
});

// ---------------------------------------------------------------------------
// serialize / merge

/** A sum-and-count state as 16 bytes: total (i64), rows (f64). */
const avgSpec = {
  init: () => ({ total: 0n, rows: 0 }),
  step(s, x) {
    if (x === null) return;
    s.total += x;
    s.rows++;
  },
  final: (s) => (s.rows === 0 ? null : Number(s.total) / s.rows),
  serialize(s) {
    const out = new DataView(new ArrayBuffer(16));
    out.setBigInt64(0, s.total, true);
    out.setFloat64(8, s.rows, true);
    return out; // a DataView: its bytes
  },
  merge(s, bytes) {
    if (bytes.length !== 16) throw new Error(`avg: a state is 16 bytes, got ${bytes.length}`);
    const v = new DataView(bytes.buffer, bytes.byteOffset, 16);
    return { total: s.total + v.getBigInt64(0, true), rows: s.rows + v.getFloat64(8, true) };
  },
};

test('serialize and merge round-trip a state across accumulators', () => {
  const guest = setup((r) => {
    r.aggregate('avg', avgSpec); // 0
    r.window('wavg', { ...avgSpec, inverse: (s, x) => ({ total: s.total - x, rows: s.rows - 1 }), value: avgSpec.final }); // 1
    r.aggregate('bytes', { init: () => [], step: (s, x) => { s.push(Number(x)); }, serialize: (s) => new Uint8Array(s), merge: (s, b) => { s.push(...b); } }); // 2
    r.aggregate('ab', { step: (s, x) => x, serialize: () => new Uint8Array([1, 2]).buffer, merge: (s, b) => [...b] }); // 3
  });
  const a = guest.Accumulator.create(0);
  const b = guest.Accumulator.create(0);
  a.stepColumns([ints([1, 2, 3])], 3);
  b.step([I(10), N], 2);
  const bytes = b.serialize();
  assert.ok(bytes instanceof Uint8Array);
  assert.equal(bytes.length, 16);
  assert.deepEqual(b.serialize(), bytes); // serializing keeps the state
  b.step([I(20)], 1); // and it stays usable
  assert.equal(a.merge(bytes), undefined);
  assert.deepEqual(guest.Accumulator.finish(a), R(16 / 4));
  assert.deepEqual(guest.Accumulator.finish(b), R(15));
  // Merging an empty group's state changes nothing.
  const c = guest.Accumulator.create(0);
  c.step([I(4)], 1);
  c.merge(guest.Accumulator.create(0).serialize());
  assert.deepEqual(guest.Accumulator.finish(c), R(4));
  // A window function may be mergeable too.
  const w = guest.Accumulator.create(1);
  w.merge(bytes);
  assert.deepEqual(w.value(), R(10));
  // merge may mutate the state and return undefined; serialize may return
  // a Uint8Array or an ArrayBuffer.
  const x = guest.Accumulator.create(2);
  x.step([I(1), I(2)], 2);
  const y = guest.Accumulator.create(2);
  y.merge(x.serialize());
  y.merge(new Uint8Array([9]));
  assert.deepEqual([...y.serialize()], [1, 2, 9]);
  assert.deepEqual([...guest.Accumulator.create(3).serialize()], [1, 2]);
});

test('serialize and merge fail for functions that are not mergeable, and pass author errors on', () => {
  const guest = setup((r) => {
    r.aggregate('plain', { init: () => 0n, step: (s, x) => s + x }); // 0
    r.window('wplain', { step: (s, x) => s, inverse: (s, x) => s, value: (s) => s }); // 1
    r.aggregate('avg', avgSpec); // 2
    r.aggregate('notbytes', { step: (s, x) => s, serialize: () => 'text', merge: (s) => s }); // 3
    r.aggregate('throws', { step: (s, x) => s, serialize: () => { throw new TypeError('cannot'); }, merge: () => { throw 'refused'; } }); // 4
    r.aggregate('async', { step: (s, x) => s, serialize: async () => new Uint8Array(), merge: async () => 1 }); // 5
  });
  for (const id of [0, 1]) {
    const acc = guest.Accumulator.create(id);
    const name = ['plain', 'wplain'][id];
    assert.deepEqual(acc.serialize(), err(`function ${name} is not mergeable`));
    assert.deepEqual(acc.merge(new Uint8Array([1])), err(`function ${name} is not mergeable`));
  }
  const avg = guest.Accumulator.create(2);
  avg.step([I(2)], 1);
  assert.deepEqual(avg.merge(new Uint8Array(3)), err('avg: a state is 16 bytes, got 3'));
  assert.deepEqual(guest.Accumulator.finish(avg), R(2)); // a failed merge leaves the state
  assert.deepEqual(avg.serialize(), err('accumulator already finished'));
  assert.deepEqual(avg.merge(new Uint8Array(16)), err('accumulator already finished'));
  assert.deepEqual(guest.Accumulator.create(3).serialize(), err('notbytes: serialize returned a value of type string (return a Uint8Array, an ArrayBuffer or another typed array)'));
  assert.deepEqual(guest.Accumulator.create(4).serialize(), err('TypeError: cannot'));
  assert.deepEqual(guest.Accumulator.create(4).merge(new Uint8Array()), err('refused'));
  assert.deepEqual(guest.Accumulator.create(5).serialize(), err('async: serialize must be synchronous (it returned a promise)'));
  assert.deepEqual(guest.Accumulator.create(5).merge(new Uint8Array()), err('async: merge must be synchronous (it returned a promise)'));
});

test('BLOBs and buffers from the bindings realm are taken as they are', () => {
  // Inside a component the bindings run in another realm than the module,
  // so their Uint8Arrays are not `instanceof Uint8Array` there.
  const other = vm.runInNewContext('({ bytes: new Uint8Array([1, 2, 3]), buffer: new Uint8Array([7, 8]).buffer })');
  assert.ok(!(other.bytes instanceof Uint8Array));
  const guest = setup((r) => {
    r.scalar('id', (a) => a); // 0
    r.aggregate('keep', { step: (s, x) => x, serialize: (s) => s, merge: (s, b) => b }); // 1
    r.scalar('buf', () => other.buffer); // 2
  });
  const col = { tag: 'blobs', val: { offsets: new Uint32Array([0, 1, 3]), data: other.bytes, valid: undefined } };
  const [args] = decodeColumns([col], 2);
  assert.equal(Object.getPrototypeOf(args[0]), Object.getPrototypeOf(other.bytes)); // a slice, not a copy into this realm
  assert.deepEqual([...args[1]], [2, 3]);
  assert.deepEqual(rowsOf(guest.callColumns(0, [col], 2)), [B([1]), B([2, 3])]);
  const acc = guest.Accumulator.create(1);
  acc.step([{ tag: 'blob', val: other.bytes }], 1);
  assert.deepEqual([...acc.serialize()], [1, 2, 3]);
  acc.merge(other.bytes.subarray(1));
  assert.deepEqual([...acc.serialize()], [2, 3]);
  acc.step([{ tag: 'blob', val: other.buffer }], 1);
  assert.deepEqual([...acc.serialize()], [7, 8]); // an ArrayBuffer of another realm
  assert.deepEqual(guest.call0(2), B([7, 8]));
});

// ---------------------------------------------------------------------------
// The manifest

test('the manifest carries returns, params and mergeable', () => {
  const guest = setup((r) => {
    r.scalar('plain', (a) => a); // 0
    r.scalar('typed', (a, b) => a, { returns: 'integer', params: ['integer', 'text'] }); // 1
    r.scalar('variadic', (...xs) => 1, { arity: -1, params: ['any'], returns: 'real' }); // 2
    r.scalar('nulls', () => 1, { returns: null, params: null }); // 3
    r.scalar('zero', () => 1, { params: [], returns: 'blob' }); // 4
    r.aggregate('agg', { step: (s, x) => s }, { params: ['real'], returns: 'real' }); // 5
    r.aggregate('magg', avgSpec, { returns: 'real', params: ['integer'] }); // 6
    r.window('mwin', { ...avgSpec, inverse: (s) => s, value: (s) => 1 }); // 7
    r.window('win', { step: (s, x) => s, inverse: (s) => s, value: (s) => 1 }, { returns: 'any' }); // 8
  });
  const flags = { deterministic: false, innocuous: false, directOnly: false };
  assert.deepEqual(guest.manifest(), [
    { name: 'plain', arity: 1, kind: 'scalar', flags, returns: undefined, params: undefined, mergeable: false, columns: [] },
    { name: 'typed', arity: 2, kind: 'scalar', flags, returns: 'integer', params: ['integer', 'text'], mergeable: false, columns: [] },
    { name: 'variadic', arity: -1, kind: 'scalar', flags, returns: 'real', params: ['any'], mergeable: false, columns: [] },
    { name: 'nulls', arity: 0, kind: 'scalar', flags, returns: undefined, params: undefined, mergeable: false, columns: [] },
    { name: 'zero', arity: 0, kind: 'scalar', flags, returns: 'blob', params: [], mergeable: false, columns: [] },
    { name: 'agg', arity: 1, kind: 'aggregate', flags, returns: 'real', params: ['real'], mergeable: false, columns: [] },
    { name: 'magg', arity: 1, kind: 'aggregate', flags, returns: 'real', params: ['integer'], mergeable: true, columns: [] },
    { name: 'mwin', arity: 1, kind: 'window', flags, returns: undefined, params: undefined, mergeable: true, columns: [] },
    { name: 'win', arity: 1, kind: 'window', flags, returns: 'any', params: undefined, mergeable: false, columns: [] },
  ]);
});

test('declared types and serialize/merge are checked at registration', () => {
  const r = new Registry();
  const ok = (a) => a;
  assert.throws(() => r.scalar('f', ok, { returns: 'INTEGER' }), {
    name: 'TypeError',
    message: 'scalar("f"): option returns must be one of "integer", "real", "text", "blob", "any"; got "INTEGER"',
  });
  assert.throws(() => r.scalar('f', ok, { returns: 5 }), /option returns must be one of .*; got 5$/);
  assert.throws(() => r.scalar('f', ok, { params: 'integer' }), /option params must be an array of "integer", .* one per argument; got "integer"$/);
  assert.throws(() => r.scalar('f', ok, { params: ['int'] }), {
    message: 'scalar("f"): params[0] must be one of "integer", "real", "text", "blob", "any"; got "int"',
  });
  assert.throws(() => r.scalar('f', (a, b) => a, { params: ['text', undefined] }), /params\[1\] must be one of .*; got undefined$/);
  assert.throws(() => r.scalar('f', (a, b) => a, { params: ['text'] }), {
    message: 'scalar("f"): params declares 1 type, but the function takes 2 arguments',
  });
  assert.throws(() => r.scalar('f', () => 1, { params: ['text'] }), /params declares 1 type, but the function takes 0 arguments/);
  assert.throws(() => r.scalar('f', (...xs) => 1, { arity: -1, params: ['text', 'text'] }), {
    message: "scalar(\"f\"): a variadic function (arity -1) declares params as one type for all its arguments, e.g. ['any']; got 2",
  });
  assert.throws(() => r.scalar('f', (...xs) => 1, { arity: -1, params: [] }), /a variadic function \(arity -1\) declares params as one type/);
  assert.throws(() => r.aggregate('g', { step: (s, x) => s }, { returns: 'bool' }), /^TypeError: aggregate\("g"\): option returns must be one of/);
  assert.throws(() => r.window('w', { step: (s, x) => s, inverse: (s) => s, value: (s) => s }, { params: ['any', 'any'] }), /window\("w"\): params declares 2 types, but the function takes 1 argument$/);
  assert.throws(() => r.aggregate('g', { step: (s, x) => s, serialize: () => new Uint8Array() }), {
    message: 'aggregate("g"): a mergeable function needs both serialize(state) and merge(state, bytes); give both or neither',
  });
  assert.throws(() => r.aggregate('g', { step: (s, x) => s, merge: (s) => s }), /needs both serialize\(state\) and merge\(state, bytes\)/);
  assert.throws(() => r.aggregate('g', { step: (s, x) => s, serialize: 'no', merge: (s) => s }), /serialize must be a function, got string/);
  assert.throws(() => r.aggregate('g', { step: (s, x) => s, serialise: () => 1 }), /unknown member "serialise" \(known: init, step, final, inverse, value, serialize, merge\)/);
  assert.throws(() => r.scalar('f', ok, { return: 'text' }), /unknown option "return" \(known: deterministic, innocuous, directOnly, arity, returns, params\)/);
  // Nothing above registered anything.
  assert.equal(r.entries.length, 0);
  // The declared list is the registry's own copy.
  const params = ['integer'];
  r.scalar('f', ok, { params });
  params[0] = 'text';
  assert.deepEqual(r.manifest()[0].params, ['integer']);
});
