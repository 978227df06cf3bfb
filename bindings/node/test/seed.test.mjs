// The seed's program: examples/seed.mjs runs as a user would run it, and
// its pieces are checked here in-process: a JavaScript `sleep` awaited on a
// pool thread, then 100 of them at once on 4 threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

import { Database, EXAMPLE_UDF } from './helpers.mjs';

test('the seed: a JavaScript sleep(200) awaited through stmt.get()', async () => {
  const db = new Database(':memory:', { threads: 4 });
  const info = await db.loadJavaScript(EXAMPLE_UDF);
  assert.equal(info.language, 'JavaScript');
  assert.ok(info.functions.some((f) => f.name === 'sleep' && f.arity === 1));
  const stmt = db.prepare('SELECT sleep(200) as val');
  assert.deepEqual(await stmt.get(), { val: 200 });
  // 100 at once: every answer right, and the pool opened all four
  // connections (statements ran side by side).
  const rows = await Promise.all(Array.from({ length: 100 }, () => stmt.get()));
  assert.equal(rows.length, 100);
  assert.ok(rows.every((row) => row.val === 200));
  assert.equal((await db.stats()).connectionsOpened, 4);
  // The event loop ran all along: a timer set now fires while statements run.
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  await Promise.all(Array.from({ length: 8 }, () => stmt.get()));
  clearInterval(timer);
  assert.ok(ticks > 0);
  await db.close();
});

test('examples/seed.mjs runs', async () => {
  const seed = fileURLToPath(new URL('../examples/seed.mjs', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [seed], { timeout: 600_000 });
  assert.match(stdout, /\{ val: 200 \}/);
  assert.match(stdout, /100 x sleep\(200\) on 4 threads: \d+ ms .*all \{ val: 200 \}: true/);
  assert.match(stdout, /event-loop lag meanwhile: p99 [\d.]+ ms, max [\d.]+ ms/);
});
