// The seed's program, with an async SQLite API whose UDF is JavaScript:
// `sleep` is written in JavaScript (examples/udf.js), awaits a timer inside
// its component, and runs on a pool thread while the event loop goes on.
//
//   node examples/seed.mjs          (after `npm run build`)
import { fileURLToPath } from 'node:url';

import wasmudf from '../index.js';
import lag from '../lib/lag.js';

const { Database } = wasmudf;
const udf = fileURLToPath(new URL('./udf.js', import.meta.url));

const db = new Database(':memory:', { threads: 4 });
let started = performance.now();
const { functions } = await db.loadJavaScript(udf);
console.log(
  `loaded ${udf} in ${Math.round(performance.now() - started)} ms:`,
  functions.map((f) => f.name).join(', '),
);

// The seed: one statement with a JavaScript UDF, awaited.
const stmt = db.prepare('SELECT sleep(200) as val');
console.log(await stmt.get()); // { val: 200 }

// 100 such statements at once on 4 threads, timing the event loop.
const monitor = lag.lagMonitor(2);
started = performance.now();
const rows = await Promise.all(Array.from({ length: 100 }, () => stmt.get()));
const ms = performance.now() - started;
const { p99, max } = monitor.stop();
const ok = rows.every((row) => row.val === 200);
console.log(
  `100 x sleep(200) on 4 threads: ${Math.round(ms)} ms (25 x 200 ms = 5000 ms); all { val: 200 }: ${ok}`,
);
console.log(`event-loop lag meanwhile: p99 ${p99.toFixed(2)} ms, max ${max.toFixed(2)} ms`);
await db.close();
if (!ok) process.exit(1);
