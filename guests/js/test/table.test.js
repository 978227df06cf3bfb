// Table-valued functions: `table()` registration, the manifest's `columns`
// and kind `table`, and the `cursor` resource, driven as componentize-js's
// bindings drive it (`Cursor.open(id, args)` with a fresh list of WIT
// values, then `next(maxRows)` on the instance until it returns no rows).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Registry, makeGuest } from '../src/core.js';

const I = (v) => ({ tag: 'integer', val: BigInt(v) });
const R = (v) => ({ tag: 'real', val: v });
const T = (v) => ({ tag: 'text', val: v });
const B = (bytes) => ({ tag: 'blob', val: new Uint8Array(bytes) });
const N = { tag: 'null' };
const err = (val) => ({ tag: 'err', val });
const DISPOSE = Symbol.dispose ?? Symbol.for('dispose');

function setup(register) {
  const reg = new Registry();
  register(reg);
  return makeGuest(reg);
}

/** `count(n)`: the rows (1), (2), ... (n). */
function* count(n) {
  for (let i = 1n; i <= n; i++) yield [i];
}

/** Opens `id` over `args`, failing the test with the error if it does not open. */
function open(guest, id, args) {
  const c = guest.Cursor.open(id, args);
  assert.ok(c instanceof guest.Cursor, `open failed: ${c?.val}`);
  return c;
}

// ---------------------------------------------------------------------------
// Registration and the manifest

test('the manifest carries kind table and the columns; other kinds have none', () => {
  const guest = setup((r) => {
    r.scalar('s', (a) => a); // 0
    r.aggregate('a', { step: (s, x) => s }); // 1
    r.table('split', function* (text, sep) {}, { columns: ['ordinal', 'part'], deterministic: true }); // 2
    r.table('series', count, { columns: ['value'], params: ['integer'], directOnly: true }); // 3
    r.table('nothing', () => [], { columns: ['x'] }); // 4: arity 0
    r.table('wide', (...xs) => [], { columns: ['a', 'b', 'c'], arity: 4 }); // 5
  });
  const flags = (d = false, i = false, o = false) => ({ deterministic: d, innocuous: i, directOnly: o });
  assert.deepEqual(guest.manifest(), [
    { name: 's', arity: 1, kind: 'scalar', flags: flags(), returns: undefined, params: undefined, mergeable: false, columns: [] },
    { name: 'a', arity: 1, kind: 'aggregate', flags: flags(), returns: undefined, params: undefined, mergeable: false, columns: [] },
    { name: 'split', arity: 2, kind: 'table', flags: flags(true), returns: undefined, params: undefined, mergeable: false, columns: ['ordinal', 'part'] },
    { name: 'series', arity: 1, kind: 'table', flags: flags(false, false, true), returns: undefined, params: ['integer'], mergeable: false, columns: ['value'] },
    { name: 'nothing', arity: 0, kind: 'table', flags: flags(), returns: undefined, params: undefined, mergeable: false, columns: ['x'] },
    { name: 'wide', arity: 4, kind: 'table', flags: flags(), returns: undefined, params: undefined, mergeable: false, columns: ['a', 'b', 'c'] },
  ]);
});

test('table registration checks the function, the arity and the columns', () => {
  const r = new Registry();
  const gen = function* (x) {};
  const label = 'table("t")';
  const refused = (fn, options, message) =>
    assert.throws(() => r.table('t', fn, options), typeof message === 'string' ? { name: 'TypeError', message: `${label}: ${message}` } : message);

  assert.throws(() => r.table('', gen, { columns: ['c'] }), /table: the function name must not be empty/);
  assert.throws(() => r.table(7, gen, { columns: ['c'] }), /must be a string/);
  refused('no', { columns: ['c'] }, 'the function must be a function, got string');
  refused(gen, undefined, "options with the result columns are required, e.g. { columns: ['value'] }");
  refused(gen, null, 'options must be an object');
  refused(gen, {}, "option columns is required: the names of the result columns, e.g. { columns: ['value'] }");
  refused(gen, { columns: 'c' }, 'option columns must be an array of column names; got "c"');
  refused(gen, { columns: [] }, 'option columns must name at least one column');
  refused(gen, { columns: ['a', 3] }, 'columns[1] must be a string; got 3');
  refused(gen, { columns: [''] }, 'columns[0] must not be empty');
  refused(gen, { columns: ['a\0b'] }, 'columns[0] must not contain NUL');
  refused(gen, { columns: ['é'.repeat(128)] }, 'columns[0] is longer than 255 bytes');
  r.table('long', gen, { columns: ['x'.repeat(255)] });
  refused(gen, { columns: ['part', 'PART'] }, 'column "PART" is declared twice (as "part" before; column names are matched case-insensitively)');
  // The hidden argument columns arg1..argN are taken, and only those.
  refused(gen, { columns: ['value', 'ARG1'] }, 'column "ARG1" has the name of a hidden argument column (arg1..arg1 carry the arguments)');
  refused((a, b, c) => [], { columns: ['arg3'] }, 'column "arg3" has the name of a hidden argument column (arg1..arg3 carry the arguments)');
  r.table('arg_names', (a, b) => [], { columns: ['arg3', 'arg0', 'args'] });
  // SQLite folds only ASCII case.
  r.table('folding', gen, { columns: ['É', 'é'] });
  refused(gen, { columns: ['c'], arity: -1 }, 'a table function takes a fixed number of arguments; arity -1 (any number) is not allowed');
  refused(gen, { columns: ['c'], arity: 1.5 }, /arity must be an integer/);
  refused(gen, { columns: ['c'], returns: 'text' }, 'a table function has no option returns: its results are the rows of its columns');
  refused(gen, { columns: ['c'], colums: ['c'] }, 'unknown option "colums" (known: deterministic, innocuous, directOnly, arity, params, columns)');
  refused(gen, { columns: ['c'], deterministic: 'yes' }, 'option deterministic must be a boolean');
  refused(gen, { columns: ['c'], params: ['text', 'text'] }, 'params declares 2 types, but the function takes 1 argument');
  refused(gen, { columns: ['c'], params: ['str'] }, /params\[0\] must be one of/);
  const many = Array.from({ length: 999 }, (_, i) => `c${i}`);
  refused(gen, { columns: [...many, 'last'] }, '1000 columns and 1 arguments; a table function may have at most 1000 in all');
  r.table('many', gen, { columns: many });
  // Columns only for table functions: the scalar and aggregate options do not take them.
  assert.throws(() => r.scalar('s', (a) => a, { columns: ['c'] }), /unknown option "columns"/);
  assert.throws(() => r.aggregate('g', { step: (s, x) => s }, { columns: ['c'] }), /unknown option "columns"/);
  // Nothing refused was registered.
  assert.deepEqual(r.entries.map((e) => e.name), ['long', 'arg_names', 'folding', 'many']);
  // The registry keeps its own copy of the columns.
  const columns = ['a'];
  r.table('copied', gen, { columns });
  columns[0] = 'b';
  assert.deepEqual(r.manifest().at(-1).columns, ['a']);
  assert.throws(() => r.table('late', gen, { columns: ['c'] }), /must be registered when the module is evaluated/);
});

test('a table function has one arity per name, and shares (name, arity) with the other kinds', () => {
  const r = new Registry();
  r.table('split', function* (t, s) {}, { columns: ['part'] });
  // SQLite knows a table function by its name alone.
  assert.throws(() => r.table('SPLIT', function* (t) {}, { columns: ['part'] }), {
    message: 'table("SPLIT"): a table function named "SPLIT" is already registered (SQLite knows a table function by its name alone, whatever its arity, matched case-insensitively)',
  });
  // The host refuses the same name and arity twice, whatever the kinds.
  assert.throws(() => r.scalar('split', (t, s) => t), /already registered/);
  // A scalar of that name and another arity is another function.
  r.scalar('split', (t) => t);
  r.scalar('series', (n) => n);
  assert.throws(() => r.table('Series', count, { columns: ['value'] }), /a function named "Series" with 1 argument is already registered/);
  r.table('series', (a, b) => [], { columns: ['value'] });
  assert.deepEqual(r.manifest().map((f) => `${f.name}/${f.arity}/${f.kind}`), ['split/2/table', 'split/1/scalar', 'series/1/scalar', 'series/2/table']);
});

// ---------------------------------------------------------------------------
// Cursors

test('next returns at most max-rows rows, fewer only at the end, then none', () => {
  const guest = setup((r) => r.table('count', count, { columns: ['value'] }));
  const c = open(guest, 0, [I(7)]);
  assert.deepEqual(c.next(3), [I(1), I(2), I(3)]);
  assert.deepEqual(c.next(3), [I(4), I(5), I(6)]);
  assert.deepEqual(c.next(3), [I(7)]);
  assert.deepEqual(c.next(3), []);
  assert.deepEqual(c.next(3), []);
  // Exactly at a batch's end: that batch is full, the next is empty.
  const d = open(guest, 0, [I(4)]);
  assert.deepEqual(d.next(2), [I(1), I(2)]);
  assert.deepEqual(d.next(2), [I(3), I(4)]);
  assert.deepEqual(d.next(2), []);
  // No rows at all.
  assert.deepEqual(open(guest, 0, [I(0)]).next(100), []);
  // Batches of one.
  const e = open(guest, 0, [I(2)]);
  assert.deepEqual([e.next(1), e.next(1), e.next(1)], [[I(1)], [I(2)], []]);
  // Each cursor is its own call.
  const a = open(guest, 0, [I(3)]);
  const b = open(guest, 0, [I(3)]);
  assert.deepEqual(a.next(2), [I(1), I(2)]);
  assert.deepEqual(b.next(1), [I(1)]);
  assert.deepEqual(a.next(2), [I(3)]);
  assert.deepEqual(b.next(5), [I(2), I(3)]);
});

test('rows are laid out row after row, each value converted as a scalar result', () => {
  const guest = setup((r) =>
    r.table(
      'kinds',
      function* () {
        yield [1n, 1.5, 'x', new Uint8Array([1, 2])];
        yield [null, undefined, true, false];
        yield [-(2n ** 63n), -0, '', new Uint16Array([0x0201]).buffer];
        yield [new Float32Array([0]), NaN, 'é😀', new DataView(new Uint8Array([9, 8, 7]).buffer, 1, 1)];
      },
      { columns: ['a', 'b', 'c', 'd'] },
    ),
  );
  const c = open(guest, 0, []);
  const rows = c.next(10);
  assert.equal(rows.length, 16);
  assert.deepEqual(rows.slice(0, 8), [I(1), R(1.5), T('x'), B([1, 2]), N, N, I(1), I(0)]);
  assert.deepEqual(rows.slice(8, 12), [I(-(2n ** 63n)), R(-0), T(''), B([1, 2])]);
  assert.ok(Object.is(rows[9].val, -0));
  assert.deepEqual(rows[12], B([0, 0, 0, 0]));
  assert.ok(Number.isNaN(rows[13].val));
  assert.deepEqual(rows.slice(14), [T('é😀'), B([8])]);
  assert.deepEqual(c.next(10), []);
});

test('a BLOB buffer the iterator reuses is copied into each row', () => {
  const guest = setup((r) =>
    r.table(
      'bytes',
      function* (n) {
        const buf = new Uint8Array(1);
        for (let i = 0; i < n; i++) {
          buf[0] = i;
          yield [buf];
        }
      },
      { columns: ['b'] },
    ),
  );
  assert.deepEqual(open(guest, 0, [I(3)]).next(10), [B([0]), B([1]), B([2])]);
});

test('arguments arrive as scalars get them: BigInt, Number, string, Uint8Array, null', () => {
  let seen = null;
  const guest = setup((r) =>
    r.table(
      'args',
      (...args) => {
        seen = args;
        return [[args.length]];
      },
      { columns: ['n'], arity: 5 },
    ),
  );
  assert.deepEqual(open(guest, 0, [I(-1), R(2.5), T('t'), B([3]), N]).next(5), [R(5)]);
  assert.deepEqual(seen, [-1n, 2.5, 't', new Uint8Array([3]), null]);
});

test('any iterable or iterator of rows will do', () => {
  const guest = setup((r) => {
    r.table('array', () => [[1n], [2n]], { columns: ['v'] }); // 0
    r.table('set', () => new Set([[1n], [2n]]), { columns: ['v'] }); // 1
    r.table('map', () => new Map([['k', 1n]]), { columns: ['key', 'value'] }); // 2: entries are [key, value]
    r.table(
      'iterator',
      () => {
        let i = 0n;
        return { next: () => (i < 2n ? { done: false, value: [++i] } : { done: true, value: ['ignored'] }) };
      },
      { columns: ['v'] },
    ); // 3
    r.table('empty', () => [], { columns: ['v'] }); // 4
    r.table('lazy', () => [[1n], [2n]].values(), { columns: ['v'] }); // 5
  });
  assert.deepEqual(open(guest, 0, []).next(9), [I(1), I(2)]);
  assert.deepEqual(open(guest, 1, []).next(9), [I(1), I(2)]);
  assert.deepEqual(open(guest, 2, []).next(9), [T('k'), I(1)]);
  const it = open(guest, 3, []);
  assert.deepEqual(it.next(1), [I(1)]);
  assert.deepEqual(it.next(9), [I(2)]);
  assert.deepEqual(it.next(9), []);
  assert.deepEqual(open(guest, 4, []).next(9), []);
  assert.deepEqual(open(guest, 5, []).next(9), [I(1), I(2)]);
});

test('a row of the wrong width fails the batch with the counts, and ends the cursor', () => {
  let closed = false;
  const guest = setup((r) =>
    r.table(
      'ragged',
      function* () {
        try {
          yield [1n, 'a'];
          yield [2n];
          yield [3n, 'c'];
        } finally {
          closed = true;
        }
      },
      { columns: ['n', 's'] },
    ),
  );
  const c = open(guest, 0, []);
  assert.deepEqual(c.next(9), err('a row has 1 value; the function declares 2 columns'));
  assert.ok(closed, 'the generator was closed');
  assert.deepEqual(c.next(9), []);
  const d = open(guest, 0, []);
  assert.deepEqual(d.next(1), [I(1), T('a')]);
  assert.deepEqual(d.next(1), err('a row has 1 value; the function declares 2 columns'));

  const wide = setup((r) => r.table('wide', () => [[1n, 2n, 3n]], { columns: ['x'] }));
  assert.deepEqual(open(wide, 0, []).next(1), err('a row has 3 values; the function declares 1 column'));
});

test('rows that are not arrays, values without SQLite type and bad iterators are errors', () => {
  const guest = setup((r) => {
    r.table('bare', () => [1n], { columns: ['v'] }); // 0
    r.table('object', function* () { yield [{}]; }, { columns: ['v'] }); // 1
    r.table('big', function* () { yield ['ok', 2n ** 64n]; }, { columns: ['a', 'b'] }); // 2
    r.table('bad_step', () => ({ next: () => 5 }), { columns: ['v'] }); // 3
    r.table('bad_iter', () => ({ [Symbol.iterator]: () => 5 }), { columns: ['v'] }); // 4
  });
  assert.deepEqual(open(guest, 0, []).next(1), err('bare: a row must be an array of 1 value (v); got 1n'));
  assert.match(
    open(guest, 1, []).next(1).val,
    /^column "v": object returned a value of type object, which has no SQLite type \(return a BigInt/,
  );
  assert.deepEqual(
    open(guest, 2, []).next(1),
    err('column "b": integer out of range: 18446744073709551616 does not fit in a signed 64-bit INTEGER'),
  );
  const c = open(guest, 3, []);
  assert.deepEqual(c.next(1), err("bad_step: its iterator's next() returned 5, not an object { done, value }"));
  assert.deepEqual(c.next(1), []);
  assert.deepEqual(guest.Cursor.open(4, []), err('TypeError: bad_iter: the iterable it returned gave an iterator without next()'));
});

test('what the function or its iterator throws becomes the error of open or next', () => {
  const guest = setup((r) => {
    r.table('eager', (x) => { throw new RangeError(`bad ${x}`); }, { columns: ['v'] }); // 0
    r.table(
      'lazy',
      function* (n) {
        for (let i = 1n; ; i++) {
          if (i > n) throw new Error(`stopped after ${n}`);
          yield [i];
        }
      },
      { columns: ['v'] },
    ); // 1
    r.table('text', () => { throw 'plain'; }, { columns: ['v'] }); // 2
    r.table('none', () => undefined, { columns: ['v'] }); // 3
    r.table('number', () => 3, { columns: ['v'] }); // 4
    r.table('string', () => 'ab', { columns: ['v'] }); // 5
  });
  assert.deepEqual(guest.Cursor.open(0, [I(1)]), err('RangeError: bad 1'));
  const c = open(guest, 1, [I(3)]);
  assert.deepEqual(c.next(2), [I(1), I(2)]);
  // The rows before the throw in its batch are lost with the batch.
  assert.deepEqual(c.next(2), err('stopped after 3'));
  assert.deepEqual(c.next(2), []);
  assert.deepEqual(guest.Cursor.open(2, []), err('plain'));
  const notIterable = (name, type) =>
    err(`TypeError: ${name} returned a value of type ${type}, which is not iterable (return an array or another iterable of rows, or make it a generator function)`);
  assert.deepEqual(guest.Cursor.open(3, []), notIterable('none', 'undefined'));
  assert.deepEqual(guest.Cursor.open(4, []), notIterable('number', 'number'));
  assert.deepEqual(guest.Cursor.open(5, []), notIterable('string', 'string'));
});

test('table functions must be synchronous', async () => {
  const guest = setup((r) => {
    r.table('promise', async () => [[1n]], { columns: ['v'] }); // 0
    r.table('agen', async function* () { yield [1n]; }, { columns: ['v'] }); // 1
    r.table('steps', () => ({ next: async () => ({ done: false, value: [1n] }) }), { columns: ['v'] }); // 2
  });
  assert.deepEqual(guest.Cursor.open(0, []), err('TypeError: promise: a table function must be synchronous (it returned a promise)'));
  assert.deepEqual(
    guest.Cursor.open(1, []),
    err('TypeError: agen: a table function must be synchronous (it returned an async iterable; use function*, not async function*)'),
  );
  assert.deepEqual(open(guest, 2, []).next(1), err("steps: a table function must be synchronous (its iterator's next() returned a promise)"));
});

test('open checks the id, the kind and the number of arguments', () => {
  const guest = setup((r) => {
    r.scalar('s', (a) => a); // 0
    r.aggregate('a', { step: (s, x) => s }); // 1
    r.window('w', { step: (s, x) => s, inverse: (s) => s, value: (s) => s }); // 2
    r.table('t', count, { columns: ['value'] }); // 3
  });
  assert.deepEqual(guest.Cursor.open(9, []), err('no function with id 9'));
  assert.deepEqual(guest.Cursor.open(0, [I(1)]), err('function 0 (s) is not a table function'));
  assert.deepEqual(guest.Cursor.open(1, [I(1)]), err('function 1 (a) is not a table function'));
  assert.deepEqual(guest.Cursor.open(2, [I(1)]), err('function 2 (w) is not a table function'));
  assert.deepEqual(guest.Cursor.open(3, []), err('t takes 1 argument, but was called with 0'));
  assert.deepEqual(guest.Cursor.open(3, [I(1), I(2)]), err('t takes 1 argument, but was called with 2'));
  // And the other entry points refuse the table function.
  const notScalar = err('function 3 (t) is not a scalar function');
  assert.deepEqual(guest.call1(3, I(1)), notScalar);
  assert.deepEqual(guest.call(3, [I(1)]), notScalar);
  assert.deepEqual(guest.callColumns(3, [{ tag: 'values', val: [I(1)] }], 1), notScalar);
  assert.deepEqual(guest.fast1(3, I(1)), { tag: 'deferred' });
  assert.deepEqual(guest.takeResult(), notScalar);
  assert.deepEqual(guest.Accumulator.create(3), err('function 3 (t) is not an aggregate or window function'));
  assert.deepEqual(guest.Accumulator.create(0), err('function 0 (s) is not an aggregate or window function'));
});

test('dropping a cursor closes its iterator, so a generator\'s finally runs', () => {
  const log = [];
  const guest = setup((r) =>
    r.table(
      'tracked',
      function* (n) {
        log.push('start');
        try {
          for (let i = 1n; i <= n; i++) yield [i];
        } finally {
          log.push('finally');
        }
      },
      { columns: ['v'] },
    ),
  );
  // Dropped half way: closed.
  const c = open(guest, 0, [I(10)]);
  assert.deepEqual(c.next(2), [I(1), I(2)]);
  c[DISPOSE]();
  assert.deepEqual(log, ['start', 'finally']);
  assert.deepEqual(c.next(2), []);
  c[DISPOSE](); // twice is harmless
  // Read to the end: finished already, nothing more to run.
  log.length = 0;
  const d = open(guest, 0, [I(1)]);
  assert.deepEqual(d.next(5), [I(1)]);
  d[DISPOSE]();
  assert.deepEqual(log, ['start', 'finally']);
  // Never read: the generator body never started.
  log.length = 0;
  open(guest, 0, [I(1)])[DISPOSE]();
  assert.deepEqual(log, []);
  // A finally that throws does not escape the destructor.
  const bad = setup((r) =>
    r.table(
      'bad',
      function* () {
        try {
          yield [1n];
          yield [2n];
        } finally {
          throw new Error('cleanup failed');
        }
      },
      { columns: ['v'] },
    ),
  );
  const e = open(bad, 0, []);
  e.next(1);
  assert.doesNotThrow(() => e[DISPOSE]());
});
