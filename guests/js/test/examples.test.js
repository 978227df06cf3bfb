// The example guest's functions, called in Node through the SDK's `guest`
// object as the component's bindings call them. (This file runs in its own
// process under `node --test`, so it has the default registry to itself.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';

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
    [
      'js_sleep/1/scalar/false',
      'js_slugify/1/scalar/true',
      'js_format/-1/scalar/true',
      'js_i64_add/2/scalar/true',
      'js_mode/1/window/true',
      'js_split/2/table/true',
    ],
  );
  assert.deepEqual(
    guest.manifest().map((f) => [f.name, f.params, f.returns, f.mergeable, f.columns]),
    [
      ['js_sleep', ['integer'], 'integer', false, []],
      ['js_slugify', ['text'], 'text', false, []],
      ['js_format', undefined, 'text', false, []],
      ['js_i64_add', ['integer', 'integer'], 'integer', false, []],
      ['js_mode', undefined, undefined, true, []],
      ['js_split', ['text', 'text'], undefined, false, ['ordinal', 'part']],
    ],
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

test('the example scalars run over columns as row by row', () => {
  const add = guest.callColumns(
    ids.js_i64_add,
    [
      { tag: 'integers', val: { data: new BigInt64Array([1n, 5n, -9223372036854775807n]), valid: new Uint8Array([0b101]) } },
      { tag: 'values', val: [I(2), I(1), I(-1)] },
    ],
    3,
  );
  assert.deepEqual(add, { tag: 'integers', val: { data: new BigInt64Array([3n, 0n, -9223372036854775808n]), valid: new Uint8Array([0b101]) } });
  assert.match(
    guest.callColumns(ids.js_i64_add, [{ tag: 'integers', val: { data: new BigInt64Array([9223372036854775807n]) } }, { tag: 'values', val: [I(1)] }], 1).val,
    /^integer out of range/,
  );
  const text = 'Héllo, Wörld!' + 'x\'00';
  const slugs = guest.callColumns(
    ids.js_slugify,
    [{ tag: 'texts', val: { offsets: new Uint32Array([0, 15, 19]), data: text, valid: undefined } }],
    2,
  );
  assert.deepEqual(slugs, { tag: 'texts', val: { offsets: new Uint32Array([0, 11, 15]), data: 'hello-worldx-00', valid: undefined } });
  assert.deepEqual(
    guest.callColumns(ids.js_slugify, [{ tag: 'blobs', val: { offsets: new Uint32Array([0, 1]), data: new Uint8Array([0]) } }], 1),
    err('TypeError: js_slugify expects TEXT'),
  );
});

/** js_mode over `parts` (lists of rows) counted apart and merged into one. */
function mergedMode(parts) {
  const [first, ...rest] = parts.map((rows) => {
    const acc = guest.Accumulator.create(ids.js_mode);
    assert.equal(acc.step(rows, rows.length), undefined);
    return acc;
  });
  for (const acc of rest) {
    const bytes = acc.serialize();
    assert.ok(bytes instanceof Uint8Array);
    assert.equal(first.merge(bytes), undefined);
    guest.Accumulator.finish(acc);
  }
  return guest.Accumulator.finish(first);
}

test('js_mode is mergeable: counts merged from parts give the mode of the whole', () => {
  const rows = [I(3), T('x'), I(3), T('x'), R(3), N, B([3]), T('é😀'), T('é😀'), T('é😀'), I(-9223372036854775808n), B([]), R(-0.5)];
  const whole = mode(rows);
  assert.deepEqual(whole, T('é😀'));
  for (let k = 0; k < 20; k++) {
    const shuffled = rows.map((v) => [Math.random(), v]).sort((a, b) => a[0] - b[0]).map(([, v]) => v);
    const cut1 = Math.floor(Math.random() * shuffled.length);
    const cut2 = cut1 + Math.floor(Math.random() * (shuffled.length - cut1));
    assert.deepEqual(mergedMode([shuffled.slice(0, cut1), shuffled.slice(cut1, cut2), shuffled.slice(cut2)]), whole);
  }
  // Counts add up across parts: 2 + 2 'a' beat 3 'b' in one part.
  assert.deepEqual(mergedMode([[T('b'), T('b'), T('b'), T('a'), T('a')], [T('a'), T('a')]]), T('a'));
  assert.deepEqual(mergedMode([[], []]), N);
  assert.deepEqual(mergedMode([[B([1, 2])], [B([1, 2]), R(2)], [R(2), R(2)]]), R(2));
  // Every class survives the bytes exactly.
  for (const v of [I(-9223372036854775808n), I(9223372036854775807n), R(-0), R(1e-300), T(''), T('\u{10ffff}'), B([]), B([0, 255])]) {
    assert.deepEqual(mergedMode([[], [v]]), v);
  }
  // BLOBs as the component passes them: Uint8Arrays of the bindings' realm.
  const foreign = vm.runInNewContext('new Uint8Array([4, 2])');
  assert.deepEqual(mergedMode([[B([4, 2]), T('z')], [{ tag: 'blob', val: foreign }]]), B([4, 2]));
  // A merged window state can still remove rows.
  const acc = guest.Accumulator.create(ids.js_mode);
  const other = guest.Accumulator.create(ids.js_mode);
  other.step([I(7), I(7)], 2);
  acc.step([T('a')], 1);
  acc.merge(other.serialize());
  assert.deepEqual(acc.value(), I(7));
  acc.inverseColumns([{ tag: 'integers', val: { data: new BigInt64Array([7n, 7n]) } }], 2);
  assert.deepEqual(acc.value(), T('a'));
});

test('js_mode refuses bytes that are not its state, and merges nothing from them', () => {
  const acc = guest.Accumulator.create(ids.js_mode);
  acc.step([T('a')], 1);
  const good = (() => {
    const o = guest.Accumulator.create(ids.js_mode);
    o.step([T('b'), T('b')], 2);
    return o.serialize();
  })();
  const bad = (bytes) => acc.merge(new Uint8Array(bytes));
  assert.deepEqual(bad([]), err('js_mode: not a serialized js_mode state (unknown format version)'));
  assert.deepEqual(bad([2]), err('js_mode: not a serialized js_mode state (unknown format version)'));
  assert.deepEqual(bad(good.slice(0, good.length - 1)), err('js_mode: not a serialized js_mode state (truncated)'));
  assert.deepEqual(bad([...good.slice(0, 1), 9, ...good.slice(2)]), err('js_mode: not a serialized js_mode state (unknown class 9)'));
  const badText = [...good];
  badText[badText.length - 1] = 0xff; // the TEXT 'b' as an invalid byte
  assert.deepEqual(bad(badText), err('js_mode: not a serialized js_mode state (TEXT that is not UTF-8)'));
  assert.deepEqual(acc.value(), T('a')); // none of it was merged
  // And the bytes before the truncation were not merged either.
  assert.deepEqual(bad([...good, 3]), err('js_mode: not a serialized js_mode state (truncated)'));
  assert.deepEqual(acc.value(), T('a'));
  acc.merge(good);
  assert.deepEqual(acc.value(), T('b'));
});

// ---------------------------------------------------------------------------
// js_split

/** Every row of js_split(text, sep), read `batch` rows at a time, as [ordinal, part] pairs. */
function split(text, sep, batch = 1000) {
  const c = guest.Cursor.open(ids.js_split, [text, sep]);
  assert.ok(c instanceof guest.Cursor, `opens: ${c.val}`);
  const rows = [];
  for (;;) {
    const values = c.next(batch);
    assert.ok(Array.isArray(values), `next: ${values.val}`);
    if (values.length === 0) break;
    assert.ok(values.length <= 2 * batch);
    for (let i = 0; i < values.length; i += 2) {
      assert.equal(values[i].tag, 'integer');
      assert.equal(values[i + 1].tag, 'text');
      rows.push([Number(values[i].val), values[i + 1].val]);
    }
  }
  return rows;
}

test('js_split cuts TEXT as String.prototype.split does, numbering the parts from 1', () => {
  assert.deepEqual(split(T('a,b,,c'), T(',')), [[1, 'a'], [2, 'b'], [3, ''], [4, 'c']]);
  assert.deepEqual(split(T(''), T(',')), [[1, '']]);
  assert.deepEqual(split(T('a,'), T(',')), [[1, 'a'], [2, '']]);
  assert.deepEqual(split(T('x--y----z'), T('--')), [[1, 'x'], [2, 'y'], [3, ''], [4, 'z']]);
  for (const [text, sep] of [
    ['a,b,,c', ','],
    ['', ','],
    [',', ','],
    ['a', ','],
    ['x--y----z', '--'],
    ['ünï,cödé', ','],
    ['aaa', 'aa'],
    ['😀|😀||', '|'],
    ['a😀b😀', '😀'],
  ]) {
    const expected = text.split(sep).map((part, i) => [i + 1, part]);
    for (const batch of [1, 2, 3, 1000]) {
      assert.deepEqual(split(T(text), T(sep), batch), expected, `${JSON.stringify(text)} by ${JSON.stringify(sep)}, ${batch} at a time`);
    }
  }
});

test('js_split: NULL gives no rows, an empty separator and other classes are errors', () => {
  assert.deepEqual(split(N, T(',')), []);
  assert.deepEqual(split(T('a,b'), N), []);
  assert.deepEqual(guest.Cursor.open(ids.js_split, [T('abc'), T('')]), err('the separator must not be empty'));
  assert.deepEqual(guest.Cursor.open(ids.js_split, [I(1), T(',')]), err('TypeError: js_split expects TEXT arguments'));
  assert.deepEqual(guest.Cursor.open(ids.js_split, [T('a'), B([44])]), err('TypeError: js_split expects TEXT arguments'));
  assert.deepEqual(guest.Cursor.open(ids.js_split, [T('a')]), err('js_split takes 2 arguments, but was called with 1'));
  // A table function is not a scalar.
  assert.deepEqual(guest.call2(ids.js_split, T('a'), T(',')), err(`function ${ids.js_split} (js_split) is not a scalar function`));
});

test('js_split computes only the rows that are read', () => {
  const c = guest.Cursor.open(ids.js_split, [T('x,'.repeat(100000)), T(',')]);
  const first = c.next(3);
  assert.deepEqual(first, [I(1), T('x'), I(2), T('x'), I(3), T('x')]);
  c[Symbol.dispose ?? Symbol.for('dispose')]();
  assert.deepEqual(c.next(3), []);
});
