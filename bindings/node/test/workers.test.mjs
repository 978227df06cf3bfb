// A context-aware addon: worker threads each with their own Database, then
// the workers exit cleanly, while the main thread keeps its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

import { Database, guest } from './helpers.mjs';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { Database } = require(workerData.pkg);
(async () => {
  const db = new Database(null, { udf: [workerData.sleep], threads: 2 });
  const rows = await Promise.all(
    [1, 2, 3, 4].map((i) => db.prepare('SELECT sleep(?) AS ms, ? AS worker').get([20 * i, workerData.id])),
  );
  ${/* An open database left for the environment's teardown to collect. */ ''}
  const leftOpen = new Database(null, { udf: [workerData.sleep] });
  await leftOpen.prepare('SELECT sleep(1)').get();
  await db.close();
  parentPort.postMessage(rows);
})().catch((err) => {
  parentPort.postMessage({ error: String(err && err.stack || err) });
});
`;

function runWorker(id) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { id, pkg: new URL('../index.js', import.meta.url).pathname, sleep: guest('sleep') },
    });
    let message;
    worker.on('message', (m) => (message = m));
    worker.on('error', reject);
    worker.on('exit', (code) => resolve({ code, message }));
  });
}

test('two workers each with a Database run queries and exit cleanly', async () => {
  const main = new Database(null, { udf: [guest('sleep')] });
  const [a, b] = await Promise.all([runWorker('a'), runWorker('b')]);
  for (const [id, result] of [['a', a], ['b', b]]) {
    assert.equal(result.code, 0);
    assert.ok(Array.isArray(result.message), JSON.stringify(result.message));
    assert.deepEqual(
      result.message,
      [1, 2, 3, 4].map((i) => ({ ms: 20 * i, worker: id })),
    );
  }
  // The main thread's database is unaffected by the workers' exits.
  assert.deepEqual(await main.prepare('SELECT sleep(5) AS ms').get(), { ms: 5 });
  // And workers can come and go again.
  const again = await runWorker('c');
  assert.equal(again.code, 0);
  assert.equal(again.message.length, 4);
  await main.close();
});

test('terminating a worker in the middle of a query does not crash the process', async () => {
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const { Database } = require(workerData.pkg);
    const db = new Database(null, { udf: [workerData.sleep] });
    db.prepare('SELECT sleep(2000)').get().catch(() => {});
    setTimeout(() => parentPort.postMessage('running'), 100);
    `,
    { eval: true, workerData: { pkg: new URL('../index.js', import.meta.url).pathname, sleep: guest('sleep') } },
  );
  await new Promise((resolve) => worker.once('message', resolve));
  const code = await worker.terminate();
  assert.equal(code, 1);
  const db = new Database(null, { udf: [guest('sleep')] });
  assert.deepEqual(await db.prepare('SELECT sleep(1) AS ms').get(), { ms: 1 });
  await db.close();
});
