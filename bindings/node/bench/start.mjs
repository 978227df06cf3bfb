// One start of a program that loads a JavaScript UDF module and runs it:
// timed whole by farm-bench, with an empty cache (the cold build) and with
// the cache the first run filled (BENCHMARKS.md).
//   node bindings/node/bench/start.mjs
import { fileURLToPath } from 'node:url';
import wasmudf from '../index.js';

const db = new wasmudf.Database();
await db.loadJavaScript(fileURLToPath(new URL('../examples/udf.js', import.meta.url)));
const row = await db.prepare('SELECT collatz(27) AS steps').get();
if (row.steps !== 111) throw new Error(`collatz(27) = ${row.steps}`);
await db.close();
