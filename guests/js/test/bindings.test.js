// The names the SDK's `guest` object exports are the names componentize-js
// binds. Its bindings for `wit/udf.wit` are generated here (the first step
// of a build, about 4 s, no engine run) and every export they look up is
// checked against `makeGuest`'s object, so a WIT function the SDK does not
// implement, or implements under another name, fails here rather than when
// a component is first loaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { Registry, makeGuest } from '../src/core.js';

const PKG = join(dirname(fileURLToPath(import.meta.url)), '..');
const CJS = join(PKG, 'node_modules', '@bytecodealliance', 'componentize-js');
const SPLICER = join(CJS, 'lib', 'spidermonkey-embedding-splicer.js');
const ENGINE = join(CJS, 'lib', 'starlingmonkey_embedding.wasm');

test('the guest object has every export componentize-js binds for wit/udf.wit', async () => {
  // Fails rather than skips: the test suite always installs componentize-js.
  assert.ok(existsSync(SPLICER), 'componentize-js is not installed: run guests/setup-toolchains.sh (npm ci --prefix guests/js)');
  const { splicer } = await import(pathToFileURL(SPLICER).href);
  // As `componentize` calls it: engine, features, inline WIT, WIT path, world.
  const { jsBindings } = splicer.spliceBindings(readFileSync(ENGINE), ['stdio', 'random', 'clocks'], undefined, join(PKG, 'wit'), 'udf', false);
  const ifaceFns = [...jsBindings.matchAll(/= __iface\.(\w+);/g)].map((m) => m[1]);
  // The resources: `Name.prototype.method.call(...)` for methods,
  // `await Name.fn(...)` for static functions.
  const RESOURCES = ['Accumulator', 'Cursor'];
  const methodsOf = (r) => [...new Set([...jsBindings.matchAll(new RegExp(`${r}\\.prototype\\.(\\w+)\\.call`, 'g'))].map((m) => m[1]))];
  const staticsOf = (r) => [...new Set([...jsBindings.matchAll(new RegExp(`await ${r}\\.(\\w+)\\(`, 'g'))].map((m) => m[1]))];
  for (const r of RESOURCES) assert.ok(ifaceFns.includes(r), `${r} is not among ${ifaceFns.join(' ')}`);
  // The 0.2.0 additions are among them (the patterns still match these bindings).
  assert.ok(ifaceFns.includes('callColumns'), ifaceFns.join(' '));
  for (const m of ['stepColumns', 'inverseColumns', 'serialize', 'merge']) assert.ok(methodsOf('Accumulator').includes(m), m);
  assert.deepEqual(staticsOf('Accumulator').sort(), ['create', 'finish']);
  assert.deepEqual(methodsOf('Cursor'), ['next']);
  assert.deepEqual(staticsOf('Cursor'), ['open']);
  // A resource's destructor calls this method when it has one.
  assert.match(jsBindings, /const symbolDispose = Symbol\.dispose \|\| Symbol\.for\('dispose'\);/);

  const reg = new Registry();
  reg.aggregate('a', { step: (s, x) => s });
  reg.table('t', function* (x) {}, { columns: ['c'] });
  const guest = makeGuest(reg);
  for (const f of ifaceFns) {
    if (RESOURCES.includes(f)) continue;
    assert.equal(typeof guest[f], 'function', `guest.${f}`);
  }
  for (const r of RESOURCES) {
    assert.equal(typeof guest[r], 'function', `guest.${r}`);
    for (const m of methodsOf(r)) assert.equal(typeof guest[r].prototype[m], 'function', `${r}.prototype.${m}`);
    for (const s of staticsOf(r)) assert.equal(typeof guest[r][s], 'function', `${r}.${s}`);
  }
  assert.equal(typeof guest.Cursor.prototype[Symbol.dispose ?? Symbol.for('dispose')], 'function', 'Cursor.prototype[Symbol.dispose]');
  // And nothing the SDK exports is unknown to the bindings.
  const bound = new Set(ifaceFns);
  for (const k of Object.keys(guest)) assert.ok(bound.has(k), `guest.${k} is not bound`);
});
