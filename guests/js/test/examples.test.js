// The example guest's functions, called in Node through the SDK's `guest`
// object as the component's bindings call them. (This file runs in its own
// process under `node --test`, so it has the default registry to itself.)
import { test } from 'node:test';
import assert from 'node:assert/strict';

import '../examples/examples.js';
import { guest } from '../src/component.js';
import { slugify } from '../examples/slug.js';

const I = (v) => ({ tag: 'integer', val: BigInt(v) });
const R = (v) => ({ tag: 'real', val: v });
const T = (v) => ({ tag: 'text', val: v });
const B = (bytes) => ({ tag: 'blob', val: new Uint8Array(bytes) });
const N = { tag: 'null' };

const ids = Object.fromEntries(guest.manifest().map((f, i) => [f.name, i]));
const err = (val) => ({ tag: 'err', val });

test('the example component exports its functions', () => {
  assert.deepEqual(
    guest.manifest().map((f) => `${f.name}/${f.arity}/${f.kind}/${f.flags.deterministic}`),
    ['js_sleep/1/scalar/false', 'js_slugify/1/scalar/true', 'js_format/-1/scalar/true', 'js_i64_add/2/scalar/true', 'js_mode/1/window/true'],
  );
});

test('js_sleep sleeps and returns ms', async () => {
  const started = Date.now();
  assert.deepEqual(await guest.call1(ids.js_sleep, I(50)), I(50));
  assert.ok(Date.now() - started >= 45);
  assert.deepEqual(await guest.call1(ids.js_sleep, I(0)), I(0));
  assert.deepEqual(await guest.call1(ids.js_sleep, N), N);
  assert.deepEqual(await guest.call1(ids.js_sleep, I(-1)), err('RangeError: ms must not be negative'));
  assert.deepEqual(await guest.call1(ids.js_sleep, R(1.5)), err('TypeError: js_sleep expects an INTEGER number of milliseconds'));
});

test('js_slugify', () => {
  const cases = [
    ['Héllo, Wörld!', 'hello-world'],
    ['  Ärger über Straße — 2024  ', 'arger-uber-strasse-2024'],
    ['Crème Brûlée', 'creme-brulee'],
    ['Łódź Œuvre Æsir Þór', 'lodz-oeuvre-aesir-thor'],
    ['e\u0301te\u0301', 'ete'],
    ['ﬁne ＡＢＣ１２', 'fine-abc12'],
    ['«Ça», dit-il… ¿qué?', 'ca-dit-il-que'],
    ['Привет, мир', 'привет-мир'],
    ['東京 タワー。', '東京-タワー'],
    ['😀 emoji 😀', 'emoji'],
    ['a--b__c', 'a-b-c'],
    ['!!!', ''],
    ['', ''],
  ];
  for (const [input, want] of cases) {
    assert.equal(slugify(input), want, input);
    assert.deepEqual(guest.call1(ids.js_slugify, T(input)), T(want), input);
  }
  assert.deepEqual(guest.call1(ids.js_slugify, N), N);
  assert.deepEqual(guest.call1(ids.js_slugify, I(42)), T('42'));
  assert.deepEqual(guest.call1(ids.js_slugify, B([0])), err('TypeError: js_slugify expects TEXT'));
});

test('js_format', () => {
  const f = (...args) => guest.call(ids.js_format, args);
  assert.deepEqual(
    f(T('{0} + {1} = {2}; {3} {4} {{}}'), I(9223372036854775807n), R(1), N, T('txt'), B([1, 0xab])),
    T("9223372036854775807 + 1.0 = NULL; txt X'01AB' {}"),
  );
  assert.deepEqual(f(T('{1}{0}{1}'), R(0.5), I(-2)), T('-20.5-2'));
  assert.deepEqual(f(T('no args')), T('no args'));
  assert.deepEqual(f(N, I(1)), N);
  assert.deepEqual(f(T('{2}'), I(1)), err('RangeError: placeholder {2} has no argument (1 given)'));
  assert.deepEqual(f(T('{x}')), err('SyntaxError: bad placeholder {x}: use {0}, {1}, ...'));
  assert.deepEqual(f(I(5)), err('TypeError: js_format expects a TEXT template'));
  // The fixed-arity entry points reach a variadic function too.
  assert.deepEqual(guest.call2(ids.js_format, T('<{0}>'), I(-7)), T('<-7>'));
  assert.deepEqual(guest.call0(ids.js_format), err('TypeError: js_format expects a TEXT template'));
});

test('js_i64_add is exact over 64 bits', () => {
  const add = (a, b) => guest.call2(ids.js_i64_add, a, b);
  assert.deepEqual(add(I(9223372036854775806n), I(1)), I(9223372036854775807n));
  assert.deepEqual(add(I(-9223372036854775807n), I(-1)), I(-9223372036854775808n));
  assert.deepEqual(add(I(9007199254740993n), I(0)), I(9007199254740993n)); // 2^53 + 1
  assert.match(add(I(9223372036854775807n), I(1)).val, /^integer out of range/);
  assert.deepEqual(add(N, I(1)), N);
  assert.deepEqual(add(R(1), I(1)), err('TypeError: js_i64_add expects INTEGER arguments'));
  const r = guest.fast2(ids.js_i64_add, I(2), I(3));
  assert.deepEqual({ ...r }, I(5));
});

function mode(rows) {
  const acc = guest.Accumulator.create(ids.js_mode);
  assert.equal(acc.step(rows, rows.length), undefined);
  return guest.Accumulator.finish(acc);
}

test('js_mode keeps storage classes apart and breaks ties by SQLite order', () => {
  assert.deepEqual(mode([I(1), R(1), R(1), I(2)]), R(1));
  assert.deepEqual(mode([I(1), R(1)]), I(1)); // a tie: INTEGER before an equal REAL
  assert.deepEqual(mode([T('b'), T('a'), I(9), B([0])]), I(9)); // numbers before TEXT before BLOB
  assert.deepEqual(mode([T('b'), T('a')]), T('a'));
  assert.deepEqual(mode([T('\uffff'), T('\u{10000}')]), T('\uffff')); // by code point, as UTF-8 bytes
  assert.deepEqual(mode([B([2]), B([1, 5]), B([1])]), B([1]));
  assert.deepEqual(mode([R(2.5), I(2), I(3)]), I(2));
  assert.deepEqual(mode([I(-9223372036854775808n), I(-9223372036854775808n), I(0)]), I(-9223372036854775808n));
  assert.deepEqual(mode([N, N]), N);
  assert.deepEqual(mode([]), N);
  assert.deepEqual(mode([R(0), R(-0)]), R(0)); // 0.0 and -0.0 are one value
  // Any row order gives the same answer.
  const rows = [I(3), T('x'), I(3), T('x'), R(3), N, B([3])];
  for (let k = 0; k < 20; k++) {
    const shuffled = rows.map((v) => [Math.random(), v]).sort((a, b) => a[0] - b[0]).map(([, v]) => v);
    assert.deepEqual(mode(shuffled), I(3));
  }
});

test('js_mode works over a sliding window', () => {
  const acc = guest.Accumulator.create(ids.js_mode);
  acc.step([T('a'), T('b'), T('b')], 3);
  assert.deepEqual(acc.value(), T('b'));
  acc.inverse([T('a'), T('b')], 2);
  acc.stepIntegers(new BigInt64Array([7n, 7n]), 2);
  assert.deepEqual(acc.value(), I(7));
  acc.inverse([I(7), I(7)], 2);
  assert.deepEqual(acc.value(), T('b'));
  acc.inverse([T('b')], 1);
  assert.deepEqual(acc.value(), N);
  acc.stepReals(new Float64Array([0.5]), 1);
  assert.deepEqual(guest.Accumulator.finish(acc), R(0.5));
});
