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
  const methods = [...jsBindings.matchAll(/Accumulator\.prototype\.(\w+)\.call/g)].map((m) => m[1]);
  const statics = [...jsBindings.matchAll(/await Accumulator\.(\w+)\(/g)].map((m) => m[1]);
  // The 0.2.0 additions are among them (the patterns still match these bindings).
  assert.ok(ifaceFns.includes('callColumns'), ifaceFns.join(' '));
  for (const m of ['stepColumns', 'inverseColumns', 'serialize', 'merge']) assert.ok(methods.includes(m), m);
  assert.deepEqual([...new Set(statics)].sort(), ['create', 'finish']);

  const reg = new Registry();
  reg.aggregate('a', { step: (s, x) => s });
  const guest = makeGuest(reg);
  for (const f of ifaceFns) {
    if (f === 'Accumulator') continue;
    assert.equal(typeof guest[f], 'function', `guest.${f}`);
  }
  for (const m of methods) assert.equal(typeof guest.Accumulator.prototype[m], 'function', `Accumulator.prototype.${m}`);
  for (const s of statics) assert.equal(typeof guest.Accumulator[s], 'function', `Accumulator.${s}`);
  // And nothing the SDK exports is unknown to the bindings.
  const bound = new Set(ifaceFns);
  for (const k of Object.keys(guest)) if (k !== 'Accumulator') assert.ok(bound.has(k), `guest.${k} is not bound`);
});
