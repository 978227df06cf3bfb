// Unit tests of the SDK's pure-JS logic, run with `node --test test/`.
// They drive the `guest` object the way componentize-js's bindings do:
// arguments are WIT variants ({ tag, val }), results are WIT variants or
// { tag: 'err', val } (which the bindings take as the error of a result).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Registry, makeGuest, errorMessage, toValue, fromValue } from '../src/core.js';

const I = (v) => ({ tag: 'integer', val: BigInt(v) });
const R = (v) => ({ tag: 'real', val: v });
const T = (v) => ({ tag: 'text', val: v });
const B = (bytes) => ({ tag: 'blob', val: new Uint8Array(bytes) });
const N = { tag: 'null' };
/** How componentize-js 0.23 passes a flat (register) s64: unsigned. */
const flatI = (v) => ({ tag: 'integer', val: BigInt.asUintN(64, BigInt(v)) });

function setup(register) {
  const reg = new Registry();
  register(reg);
  return makeGuest(reg);
}

/** Snapshot a fast result (the numeric ones are reused objects). */
const fast = (r) => ({ ...r });

test('errorMessage turns anything thrown into a string', () => {
  assert.equal(errorMessage(new Error('boom')), 'boom');
  assert.equal(errorMessage(new TypeError('x is not a function')), 'TypeError: x is not a function');
  assert.equal(errorMessage(new RangeError('')), 'RangeError');
  assert.equal(errorMessage(new Error()), 'Error');
  assert.equal(errorMessage('plain'), 'plain');
  assert.equal(errorMessage(''), '');
  assert.equal(errorMessage(42), '42');
  assert.equal(errorMessage(7n), '7');
  assert.equal(errorMessage(null), 'null');
  assert.equal(errorMessage(undefined), 'undefined');
  assert.equal(errorMessage(Symbol('s')), 'Symbol(s)');
  assert.equal(errorMessage({ code: 3 }), '{"code":3}');
  assert.equal(errorMessage({ message: 'like an error', name: 'Custom' }), 'Custom: like an error');
  assert.equal(errorMessage({ message: 'no name' }), 'no name');
  class MyError extends Error {
    constructor(m) {
      super(m);
      this.name = 'MyError';
    }
  }
  assert.equal(errorMessage(new MyError('mine')), 'MyError: mine');
  const cyclic = {};
  cyclic.self = cyclic;
  assert.equal(errorMessage(cyclic), '[object Object]');
  assert.equal(errorMessage({ big: 1n }), '[object Object]');
  assert.equal(errorMessage(Object.create(null)), '{}');
  const hostile = {
    get message() {
      throw new Error('no');
    },
  };
  assert.equal(typeof errorMessage(hostile), 'string');
  const unprintable = { toString: null, valueOf: null, toJSON() { throw new Error('x'); } };
  assert.equal(typeof errorMessage(unprintable), 'string');
});

test('toValue maps JavaScript results to SQLite values', () => {
  assert.deepEqual(toValue(5n, 'f'), { tag: 'integer', val: 5n });
  assert.deepEqual(toValue(2n ** 63n - 1n, 'f'), { tag: 'integer', val: 2n ** 63n - 1n });
  assert.deepEqual(toValue(-(2n ** 63n), 'f'), { tag: 'integer', val: -(2n ** 63n) });
  assert.match(toValue(2n ** 63n, 'f').val, /^integer out of range/);
  assert.equal(toValue(-(2n ** 63n) - 1n, 'f').tag, 'err');
  assert.deepEqual(toValue(1, 'f'), { tag: 'real', val: 1 });
  assert.deepEqual(toValue(-0, 'f'), { tag: 'real', val: -0 });
  assert.ok(Number.isNaN(toValue(NaN, 'f').val));
  assert.deepEqual(toValue('héllo', 'f'), { tag: 'text', val: 'héllo' });
  assert.deepEqual(toValue(null, 'f'), { tag: 'null' });
  assert.deepEqual(toValue(undefined, 'f'), { tag: 'null' });
  assert.deepEqual(toValue(true, 'f'), { tag: 'integer', val: 1n });
  assert.deepEqual(toValue(false, 'f'), { tag: 'integer', val: 0n });
  const bytes = new Uint8Array([1, 2, 3]);
  assert.equal(toValue(bytes, 'f').val, bytes);
  assert.deepEqual(toValue(new Uint8Array([1, 2, 3]).buffer, 'f'), { tag: 'blob', val: bytes });
  assert.deepEqual(toValue(new Uint16Array([0x0201]), 'f'), { tag: 'blob', val: new Uint8Array([1, 2]) });
  const dv = new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2);
  assert.deepEqual(toValue(dv, 'f'), { tag: 'blob', val: new Uint8Array([8, 7]) });
  const sub = new Uint8Array([5, 6, 7, 8]).subarray(1, 3);
  assert.deepEqual([...toValue(sub, 'f').val], [6, 7]);
  for (const [v, type] of [
    [{}, 'object'],
    [[1, 2], 'Array'],
    [new Map(), 'Map'],
    [new Date(0), 'Date'],
    [Symbol('s'), 'symbol'],
    [() => 1, 'function'],
  ]) {
    const r = toValue(v, 'my_fn');
    assert.equal(r.tag, 'err');
    assert.match(r.val, new RegExp(`^my_fn returned a value of type ${type}, which has no SQLite type`));
  }
});

test('fromValue maps SQLite values to JavaScript and fixes unsigned flat integers', () => {
  assert.equal(fromValue(N), null);
  assert.equal(fromValue(I(-3)), -3n);
  assert.equal(fromValue(flatI(-3)), -3n);
  assert.equal(fromValue(flatI(-(2n ** 63n))), -(2n ** 63n));
  assert.equal(fromValue(flatI(2n ** 63n - 1n)), 2n ** 63n - 1n);
  assert.equal(fromValue(R(1.5)), 1.5);
  assert.equal(fromValue(T('x')), 'x');
  assert.deepEqual(fromValue(B([1])), new Uint8Array([1]));
});

test('the manifest lists functions in registration order with kinds and flags', () => {
  const guest = setup((r) => {
    r.scalar('one', (a) => a, { deterministic: true });
    r.scalar('any', (...xs) => xs.length, { arity: -1, innocuous: true });
    r.aggregate('total', { init: () => 0n, step: (s, x) => s + x, final: (s) => s });
    r.aggregate('win', { init: () => 0n, step: (s, x) => s + x, inverse: (s, x) => s - x, value: (s) => s }, { directOnly: true });
    r.window('win2', { step: (s, x, y) => s, inverse: (s, x, y) => s, value: (s) => s });
  });
  assert.deepEqual(guest.manifest(), [
    { name: 'one', arity: 1, kind: 'scalar', flags: { deterministic: true, innocuous: false, directOnly: false }, returns: undefined, params: undefined, mergeable: false, columns: [] },
    { name: 'any', arity: -1, kind: 'scalar', flags: { deterministic: false, innocuous: true, directOnly: false }, returns: undefined, params: undefined, mergeable: false, columns: [] },
    { name: 'total', arity: 1, kind: 'aggregate', flags: { deterministic: false, innocuous: false, directOnly: false }, returns: undefined, params: undefined, mergeable: false, columns: [] },
    { name: 'win', arity: 1, kind: 'window', flags: { deterministic: false, innocuous: false, directOnly: true }, returns: undefined, params: undefined, mergeable: false, columns: [] },
    { name: 'win2', arity: 2, kind: 'window', flags: { deterministic: false, innocuous: false, directOnly: false }, returns: undefined, params: undefined, mergeable: false, columns: [] },
  ]);
});

test('registration rejects bad names, duplicates, bad options and late calls', () => {
  const r = new Registry();
  assert.throws(() => r.scalar('', () => 1), /must not be empty/);
  assert.throws(() => r.scalar(5, () => 1), /must be a string/);
  assert.throws(() => r.scalar('a\0b', () => 1), /NUL/);
  assert.throws(() => r.scalar('x'.repeat(256), () => 1), /longer than 255 bytes/);
  assert.throws(() => r.scalar('f', 'not a function'), /must be a function/);
  assert.throws(() => r.scalar('f', () => 1, { determinstic: true }), /unknown option "determinstic"/);
  assert.throws(() => r.scalar('f', () => 1, { deterministic: 1 }), /must be a boolean/);
  assert.throws(() => r.scalar('f', () => 1, { arity: 1.5 }), /arity must be an integer/);
  assert.throws(() => r.scalar('f', () => 1, { arity: -2 }), /arity must be an integer/);
  r.scalar('dup', (a) => a);
  assert.throws(() => r.scalar('DUP', (b) => b), /already registered/);
  r.scalar('dup', (a, b) => a, {}); // another arity is another function
  r.scalar('dup', () => 1, { arity: -1 });
  assert.throws(() => r.aggregate('dup', { step: (s, x) => s }), /already registered/);
  // SQLite folds only ASCII case.
  r.scalar('É', (a) => a);
  r.scalar('é', (a) => a);
  assert.throws(() => r.aggregate('agg', { init: () => 0 }), /step\(state, \.\.\.args\) is required/);
  assert.throws(() => r.aggregate('agg', { step: (s, x) => s, value: (s) => s }), /needs both inverse/);
  assert.throws(() => r.aggregate('agg', { step: (s, x) => s, fnial: (s) => s }), /unknown member "fnial"/);
  assert.throws(() => r.aggregate('agg', { step: (s, x) => s, final: 3 }), /final must be a function/);
  assert.throws(() => r.aggregate('agg', { step: (...xs) => 0 }), /cannot tell the arity/);
  assert.throws(() => r.window('agg', { step: (s, x) => s }), /needs inverse/);
  assert.throws(() => r.aggregate('agg', null), /second argument must be an object/);
  r.aggregate('agg', { step: (...xs) => 0 }, { arity: -1 });
  r.manifest();
  assert.throws(() => r.scalar('late', () => 1), /must be registered when the module is evaluated/);
});

test('scalar calls convert arguments and results', () => {
  const guest = setup((r) => {
    r.scalar('echo', (a) => a); // 0
    r.scalar('add', (a, b) => a + b); // 1
    r.scalar('three', (a, b, c) => [a, b, c].map(String).join(',')); // 2
    r.scalar('count', (...xs) => BigInt(xs.length), { arity: -1 }); // 3
    r.scalar('zero', () => 'z'); // 4
    r.scalar('five', (a, b, c, d, e) => `${a}${b}${c}${d}${e}`); // 5
    r.aggregate('agg', { step: (s, x) => s }); // 6
  });
  assert.deepEqual(guest.call1(0, I(-7)), I(-7));
  assert.deepEqual(guest.call1(0, flatI(-7)), I(-7));
  assert.deepEqual(guest.call1(0, R(2.5)), R(2.5));
  assert.deepEqual(guest.call1(0, T('t')), T('t'));
  assert.deepEqual(guest.call1(0, B([1, 2])), B([1, 2]));
  assert.deepEqual(guest.call1(0, N), N);
  assert.deepEqual(guest.call2(1, flatI(9223372036854775806n), I(1)), I(9223372036854775807n));
  assert.match(guest.call2(1, I(9223372036854775807n), I(1)).val, /^integer out of range/);
  assert.deepEqual(guest.call2(1, T('a'), T('b')), T('ab'));
  assert.deepEqual(guest.call3(2, flatI(-1), N, T('x')), T('-1,null,x'));
  assert.deepEqual(guest.call0(3), I(0));
  assert.deepEqual(guest.call2(3, N, N), I(2));
  assert.deepEqual(guest.call(3, [I(1), I(2), I(3), I(4), I(-5)]), I(5));
  assert.deepEqual(guest.call0(4), T('z'));
  assert.deepEqual(guest.call(5, [I(-1), R(0.5), T('t'), N, I(2)]), T('-10.5tnull2'));
  // Wrong arities and ids, as a host bug could make them.
  assert.deepEqual(guest.call1(1, I(1)), { tag: 'err', val: 'add takes 2 arguments, but was called with 1' });
  assert.deepEqual(guest.call(5, [I(1)]), { tag: 'err', val: 'five takes 5 arguments, but was called with 1' });
  assert.deepEqual(guest.call1(99, N), { tag: 'err', val: 'no function with id 99' });
  assert.deepEqual(guest.call1(6, N), { tag: 'err', val: 'function 6 (agg) is not a scalar function' });
});

test('anything a scalar throws becomes its error', () => {
  const throwers = [
    () => { throw new Error('boom'); },
    () => { throw new TypeError('bad type'); },
    () => { throw 'a string'; },
    () => { throw 42; },
    () => { throw null; },
    () => { throw { code: 1 }; },
    (x) => x.nope.deeper, // a TypeError from a bug
  ];
  const guest = setup((r) => throwers.forEach((f, i) => r.scalar(`t${i}`, f, { arity: 1 })));
  const want = ['boom', 'TypeError: bad type', 'a string', '42', 'null', '{"code":1}'];
  for (let i = 0; i < want.length; i++) {
    assert.deepEqual(guest.call1(i, N), { tag: 'err', val: want[i] });
    assert.equal(fast(guest.fast1(i, N)).tag, 'deferred');
    assert.deepEqual(guest.takeResult(), { tag: 'err', val: want[i] });
  }
  const bug = guest.call1(6, I(1));
  assert.equal(bug.tag, 'err');
  assert.match(bug.val, /^TypeError: /);
});

test('fast calls return numbers directly and defer TEXT, BLOB and errors', () => {
  const guest = setup((r) => {
    r.scalar('add', (a, b) => (a === null || b === null ? null : a + b)); // 0
    r.scalar('str', (a) => String(a)); // 1
    r.scalar('half', (a) => Number(a) / 2); // 2
    r.scalar('blob', (a) => new Uint8Array([Number(a)])); // 3
    r.scalar('bool', (a) => a > 0n); // 4
    r.scalar('sum3', (a, b, c) => a + b + c); // 5
    r.scalar('undef', (a) => undefined); // 6
    r.scalar('obj', (a) => ({})); // 7
  });
  assert.deepEqual(fast(guest.fast2(0, flatI(-2), I(5))), I(3));
  assert.deepEqual(fast(guest.fast2(0, N, I(5))), N);
  assert.deepEqual(fast(guest.fast2(0, R(0.5), R(0.25))), R(0.75));
  assert.deepEqual(fast(guest.fast2(0, I(9223372036854775807n), I(1))), { tag: 'deferred' });
  assert.match(guest.takeResult().val, /^integer out of range/);
  assert.deepEqual(fast(guest.fast1(1, flatI(-1))), { tag: 'deferred' });
  assert.deepEqual(guest.takeResult(), T('-1'));
  assert.deepEqual(guest.takeResult(), { tag: 'err', val: 'no deferred result to take' });
  assert.deepEqual(fast(guest.fast1(2, I(3))), R(1.5));
  assert.deepEqual(fast(guest.fast1(3, I(7))), { tag: 'deferred' });
  assert.deepEqual(guest.takeResult(), B([7]));
  assert.deepEqual(fast(guest.fast1(4, I(1))), I(1));
  assert.deepEqual(fast(guest.fast1(4, I(-1))), I(0));
  assert.deepEqual(fast(guest.fast3(5, I(1), I(2), flatI(-4))), I(-1));
  assert.deepEqual(fast(guest.fast1(6, I(1))), N);
  assert.deepEqual(fast(guest.fast1(7, I(1))), { tag: 'deferred' });
  assert.match(guest.takeResult().val, /^obj returned a value of type object/);
  // Bad ids and arities never throw: they defer an error.
  assert.deepEqual(fast(guest.fast1(0, I(1))), { tag: 'deferred' });
  assert.deepEqual(guest.takeResult(), { tag: 'err', val: 'add takes 2 arguments, but was called with 1' });
  assert.deepEqual(fast(guest.fast3(42, N, N, N)), { tag: 'deferred' });
  assert.deepEqual(guest.takeResult(), { tag: 'err', val: 'no function with id 42' });
});

test('async scalars settle through the returned promise', async () => {
  const guest = setup((r) => {
    r.scalar('later', async (a) => {
      await null;
      return a * 2n;
    });
    r.scalar('fails', async () => {
      throw new RangeError('nope');
    }, { arity: 1 });
    r.scalar('text', async (a) => `v${a}`);
  });
  assert.deepEqual(await guest.call1(0, I(21)), I(42));
  assert.deepEqual(fast(await guest.fast1(0, flatI(-21))), I(-42));
  assert.deepEqual(await guest.call1(1, N), { tag: 'err', val: 'RangeError: nope' });
  assert.deepEqual(fast(await guest.fast1(1, N)), { tag: 'deferred' });
  assert.deepEqual(guest.takeResult(), { tag: 'err', val: 'RangeError: nope' });
  assert.deepEqual(fast(await guest.fast1(2, I(1))), { tag: 'deferred' });
  assert.deepEqual(guest.takeResult(), T('v1'));
});

test('aggregates step batches of rows and finish', () => {
  const seen = [];
  const guest = setup((r) => {
    r.aggregate('sum', {
      init: () => ({ total: 0n, rows: 0 }),
      step(s, x) {
        seen.push(x);
        if (x !== null) s.total += x; // mutated in place: undefined keeps it
        s.rows++;
      },
      final: (s) => s.total,
    }); // 0
    r.aggregate('pairs', { init: () => '', step: (s, a, b) => `${s}(${a},${b})` }); // 1 (final: identity)
    r.aggregate('wide', { init: () => [], step: (s, a, b, c, d) => [...s, a, b, c, d] , final: (s) => s.join(' ') }); // 2
    r.aggregate('rows', { init: () => 0n, step: (s) => s + 1n }, { arity: 0 }); // 3
    r.aggregate('varargs', { init: () => 0n, step: (s, ...xs) => s + BigInt(xs.length) }, { arity: -1 }); // 4
    r.scalar('scalar', (a) => a); // 5
    r.aggregate('noinit', { step: (s, x) => (s ?? 0n) + x }); // 6
  });
  const acc = guest.Accumulator.create(0);
  assert.ok(acc instanceof guest.Accumulator);
  assert.equal(acc.step([I(1), N, I(-3)], 3), undefined);
  assert.equal(acc.stepIntegers(new BigInt64Array([10n, -20n]), 2), undefined);
  assert.equal(acc.stepReals(new Float64Array([]), 0), undefined);
  assert.deepEqual(seen, [1n, null, -3n, 10n, -20n]);
  assert.deepEqual(guest.Accumulator.finish(acc), I(-12));
  assert.deepEqual(guest.Accumulator.finish(acc), { tag: 'err', val: 'accumulator already finished' });
  assert.deepEqual(acc.step([I(1)], 1), { tag: 'err', val: 'accumulator already finished' });

  const pairs = guest.Accumulator.create(1);
  pairs.step([I(1), T('a'), N, R(2.5)], 2);
  pairs.stepReals(new Float64Array([0.5, 1]), 1);
  assert.deepEqual(guest.Accumulator.finish(pairs), T('(1,a)(null,2.5)(0.5,1)'));

  const wide = guest.Accumulator.create(2);
  wide.step([I(1), I(2), I(3), I(4), T('a'), T('b'), T('c'), T('d')], 2);
  wide.stepIntegers(new BigInt64Array([5n, 6n, 7n, 8n]), 1);
  assert.deepEqual(guest.Accumulator.finish(wide), T('1 2 3 4 a b c d 5 6 7 8'));

  const rows = guest.Accumulator.create(3);
  rows.step([], 4);
  rows.stepIntegers(new BigInt64Array([]), 3);
  assert.deepEqual(guest.Accumulator.finish(rows), I(7));

  const va = guest.Accumulator.create(4);
  va.step([I(1), I(2), I(3), I(4), I(5), I(6)], 2); // two rows of three
  assert.deepEqual(guest.Accumulator.finish(va), I(6));

  // No rows at all: final sees the initial state.
  assert.deepEqual(guest.Accumulator.finish(guest.Accumulator.create(0)), I(0));
  assert.deepEqual(guest.Accumulator.finish(guest.Accumulator.create(6)), N);

  // Malformed batches and ids.
  const bad = guest.Accumulator.create(1);
  assert.deepEqual(bad.step([I(1), I(2), I(3)], 2), { tag: 'err', val: '3 arguments do not split into 2 rows' });
  assert.deepEqual(bad.step([I(1)], 0), { tag: 'err', val: '1 arguments for 0 rows' });
  assert.deepEqual(bad.step([I(1), I(2), I(3)], 1), { tag: 'err', val: 'pairs takes 2 arguments, but was called with 3' });
  assert.deepEqual(bad.inverse([I(1), I(2)], 1), { tag: 'err', val: 'pairs is not a window function' });
  assert.deepEqual(bad.value(), { tag: 'err', val: 'pairs is not a window function' });
  assert.deepEqual(guest.Accumulator.create(5), { tag: 'err', val: 'function 5 (scalar) is not an aggregate or window function' });
  assert.deepEqual(guest.Accumulator.create(77), { tag: 'err', val: 'no function with id 77' });
});

test('window functions remove rows and report their value', () => {
  const guest = setup((r) =>
    r.window('wsum', {
      init: () => 0n,
      step: (s, x) => s + x,
      inverse: (s, x) => s - x,
      value: (s) => s,
      final: (s) => -s,
    }),
  );
  const acc = guest.Accumulator.create(0);
  acc.step([I(5), I(7)], 2);
  assert.deepEqual(acc.value(), I(12));
  acc.inverse([I(5)], 1);
  assert.deepEqual(acc.value(), I(7));
  acc.stepIntegers(new BigInt64Array([-1n, -2n]), 2);
  assert.deepEqual(acc.value(), I(4));
  assert.deepEqual(acc.value(), I(4)); // value keeps the state
  assert.deepEqual(guest.Accumulator.finish(acc), I(-4));
  assert.deepEqual(acc.value(), { tag: 'err', val: 'accumulator already finished' });
});

test('errors in init, step, inverse, value and final become guest errors', () => {
  const boom = (what) => () => {
    throw new Error(`${what} failed`);
  };
  const ok = {
    init: () => 0n,
    step: (s, x) => s + x,
    inverse: (s, x) => s - x,
    value: (s) => s,
    final: (s) => s,
  };
  const guest = setup((r) => {
    r.window('i', { ...ok, init: boom('init') }); // 0
    r.window('s', { ...ok, step: (s, x) => { if (x === 2n) throw new TypeError('step failed'); return s + x; } }); // 1
    r.window('v', { ...ok, inverse: (s, x) => { throw 'inverse failed'; }, value: boom('value') }); // 2
    r.window('f', { ...ok, final: boom('final') }); // 3
    r.window('t', { ...ok, final: () => ({ not: 'a value' }) }); // 4
    r.window('a', { ...ok, step: async (s, x) => s }); // 5
  });
  assert.deepEqual(guest.Accumulator.create(0), { tag: 'err', val: 'init failed' });
  const s = guest.Accumulator.create(1);
  assert.deepEqual(s.step([I(1), I(2), I(3)], 3), { tag: 'err', val: 'TypeError: step failed' });
  assert.deepEqual(s.value(), I(1)); // the rows before the failure are in
  assert.deepEqual(s.stepIntegers(new BigInt64Array([4n, 2n]), 2), { tag: 'err', val: 'TypeError: step failed' });
  const v = guest.Accumulator.create(2);
  v.step([I(1)], 1);
  assert.deepEqual(v.inverse([I(1)], 1), { tag: 'err', val: 'inverse failed' });
  assert.deepEqual(v.value(), { tag: 'err', val: 'value failed' });
  const f = guest.Accumulator.create(3);
  assert.deepEqual(guest.Accumulator.finish(f), { tag: 'err', val: 'final failed' });
  assert.match(guest.Accumulator.finish(guest.Accumulator.create(4)).val, /^t returned a value of type object/);
  const a = guest.Accumulator.create(5);
  assert.deepEqual(a.step([I(1)], 1), { tag: 'err', val: 'a: step and inverse must be synchronous (one returned a promise)' });
});

test('the default registry backs the public API', async () => {
  const api = await import('../src/index.js');
  assert.deepEqual(Object.keys(api).sort(), ['aggregate', 'scalar', 'table', 'window']);
  const { guest } = await import('../src/component.js');
  api.scalar('public_fn', (a) => a, { deterministic: true });
  api.aggregate('public_agg', { step: (s, x) => x });
  api.window('public_win', { step: (s, x) => x, inverse: (s) => s, value: (s) => s });
  api.table('public_tab', function* (n) { yield [n]; }, { columns: ['n'] });
  assert.deepEqual(
    guest.manifest().map((f) => `${f.name}/${f.arity}/${f.kind}`),
    ['public_fn/1/scalar', 'public_agg/1/aggregate', 'public_win/1/window', 'public_tab/1/table'],
  );
  const c = guest.Cursor.open(3, [{ tag: 'integer', val: 5n }]);
  assert.deepEqual(c.next(10), [{ tag: 'integer', val: 5n }]);
  assert.throws(() => api.scalar('too_late', () => 1), /must be registered when the module is evaluated/);
});
