// JavaScript UDF modules next to the program: built with the guest SDK on
// first use, then loaded from the cache by content.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

import { Database, EXAMPLE_UDF, rejectsWith } from './helpers.mjs';

const cacheDir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'wasmudf', 'js');

test('scalars and aggregates written in JavaScript', async () => {
  const db = new Database(null, { udf: [EXAMPLE_UDF], threads: 2 });
  const info = (await db.functions()).filter((f) => f.component === EXAMPLE_UDF);
  assert.deepEqual(info.map((f) => [f.name, f.kind, f.arity, f.language]).sort(), [
    ['collatz', 'scalar', 1, 'JavaScript'],
    ['js_median', 'aggregate', 1, 'JavaScript'],
    ['sleep', 'scalar', 1, 'JavaScript'],
  ]);
  assert.deepEqual(
    await db
      .prepare(
        'WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 10) ' +
          'SELECT k % 2 AS odd, js_median(collatz(k)) AS m FROM n GROUP BY odd ORDER BY odd',
      )
      .all(),
    [
      // Steps for 2, 4, 6, 8, 10: 1, 2, 8, 3, 6; for 1, 3, 5, 7, 9: 0, 7, 5, 16, 19.
      { odd: 0, m: 3 },
      { odd: 1, m: 7 },
    ],
  );
  await db.close();
});

test('a second load of an unchanged module comes from the cache', async () => {
  const first = new Database();
  await first.loadJavaScript(EXAMPLE_UDF);
  const cached = (await readdir(cacheDir)).filter((f) => f.endsWith('.wasm')).sort();
  const second = new Database();
  const info = await second.loadJavaScript(EXAMPLE_UDF);
  assert.equal(info.name, EXAMPLE_UDF);
  assert.deepEqual((await readdir(cacheDir)).filter((f) => f.endsWith('.wasm')).sort(), cached);
  assert.deepEqual(await second.prepare('SELECT collatz(6) AS s').get(), { s: 8 });
  await first.close();
  await second.close();
});

test('a module that does not build fails with the SDK message', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wasmudf-node-js-'));
  try {
    const db = new Database();
    await writeFile(join(dir, 'broken.js'), "import { scalar } from 'wasmudf-guest';\nscalar('x', () => {;\n");
    let err = await rejectsWith(db.loadJavaScript(join(dir, 'broken.js')), 'ERR_WASMUDF_JS_BUILD');
    assert.match(err.message, /broken\.js/);
    await writeFile(join(dir, 'empty.js'), '// registers nothing\n');
    err = await rejectsWith(db.loadJavaScript(join(dir, 'empty.js')), 'ERR_WASMUDF_JS_BUILD');
    assert.match(err.message, /registers no functions/);
    await rejectsWith(db.loadJavaScript(join(dir, 'missing.js')), 'ERR_WASMUDF_JS_BUILD');
    await rejectsWith(db.loadJavaScript(join(dir, 'udf.wasm')), 'ERR_INVALID_ARG_VALUE');
    await db.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
