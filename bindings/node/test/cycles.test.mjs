// Many databases opened and closed (or dropped without close): no growth in
// threads or resident memory. Counts, with generous bounds; no timings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';

import { Database, guest, processStatus } from './helpers.mjs';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

async function settle() {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('1,000 open/close cycles grow neither threads nor RSS', async (t) => {
  const udf = [guest('identity')];
  const cycle = async (i) => {
    const db = new Database(null, { udf, threads: 2 });
    assert.deepEqual(await db.prepare('SELECT identity(?) AS v').get([i]), { v: i });
    await db.close();
  };
  for (let i = 0; i < 50; i++) await cycle(i);
  await settle();
  const before = await processStatus();
  for (let i = 0; i < 1000; i++) await cycle(i);
  await settle();
  const after = await processStatus();
  t.diagnostic(`threads ${before.threads} -> ${after.threads}, RSS ${before.rssKib} -> ${after.rssKib} KiB`);
  // Threads: the runtime's pools are shared and bounded; a leak would add
  // at least one per cycle (1,000).
  assert.ok(after.threads <= before.threads + 16, `threads ${before.threads} -> ${after.threads}`);
  // RSS: a leaked pool, engine or instance per cycle would be hundreds of
  // MiB; allocator noise is a few.
  assert.ok(after.rssKib <= before.rssKib + 128 * 1024, `RSS ${before.rssKib} -> ${after.rssKib} KiB`);
});

test('databases dropped without close are collected', async (t) => {
  const udf = [guest('identity')];
  const round = async () => {
    for (let i = 0; i < 200; i++) {
      const db = new Database(null, { udf, threads: 1 });
      await db.prepare('SELECT identity(1)').get();
      // No close: only garbage collection ends it.
    }
    await settle();
  };
  await round();
  const before = await processStatus();
  await round();
  await round();
  const after = await processStatus();
  t.diagnostic(`threads ${before.threads} -> ${after.threads}, RSS ${before.rssKib} -> ${after.rssKib} KiB`);
  assert.ok(after.threads <= before.threads + 16, `threads ${before.threads} -> ${after.threads}`);
  assert.ok(after.rssKib <= before.rssKib + 128 * 1024, `RSS ${before.rssKib} -> ${after.rssKib} KiB`);
});
