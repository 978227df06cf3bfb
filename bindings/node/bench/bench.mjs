// Benchmarks of the package against better-sqlite3 (BENCHMARKS.md, "The
// Node.js package"):
//   1. per-row cost of a trivial UDF (`add1`), as a Rust component and as the
//      same JavaScript in a component, against better-sqlite3 running that
//      JavaScript in V8;
//   2. throughput of N concurrent queries on N threads against one query on
//      one thread, N = 1, 2, 4;
//   3. event-loop lag (setInterval every 2 ms) while 1,000 UDF-heavy queries
//      run, against better-sqlite3 running the same queries synchronously.
//
//   npm install --prefix benches/node      # once: better-sqlite3 12, bench-only
//   node bindings/node/bench/bench.mjs [ROWS] [RUNS]   -> a report and one JSON line
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import wasmudf from '../index.js';
import lag from '../lib/lag.js';
import { add1, collatz } from './functions.mjs';

const require = createRequire(import.meta.url);
const ROWS = Number(process.argv[2] || 200_000);
const RUNS = Number(process.argv[3] || 7);
const LAG_QUERIES = 1000;
const LAG_ROWS = 100;

let BetterSqlite3;
try {
  BetterSqlite3 = require(fileURLToPath(new URL('../../../benches/node/node_modules/better-sqlite3', import.meta.url)));
} catch (e) {
  console.error(`better-sqlite3 is not installed: npm install --prefix benches/node (${e.message})`);
  process.exit(2);
}

const BENCH_WASM = fileURLToPath(new URL('../../../guests/target/wasm32-wasip2/release/bench.wasm', import.meta.url));
const BENCH_JS = fileURLToPath(new URL('./udf.js', import.meta.url));
const FILL = `WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < ${ROWS} - 1)
  INSERT INTO t SELECT k FROM n`;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median ms of `run()` over RUNS runs, after one warm-up. */
async function time(run) {
  await run();
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return median(times);
}

const { Database } = wasmudf;
const db = new Database(null, { udf: [BENCH_WASM, BENCH_JS], threads: 4 });
await db.exec('CREATE TABLE t(i INTEGER)');
await db.exec(FILL);
const bs = new BetterSqlite3(':memory:');
bs.exec('CREATE TABLE t(i INTEGER)');
bs.exec(FILL);
bs.function('js_add1', { deterministic: true, safeIntegers: true }, add1);
bs.function('js_collatz', { deterministic: true, safeIntegers: true }, collatz);

// 1. Per row.
const q = (f) => `SELECT sum(${f}) AS s FROM t`;
const ours = async (sql) => time(() => db.prepare(sql).get());
const theirs = async (sql) => {
  const stmt = bs.prepare(sql).safeIntegers(true);
  return time(() => stmt.get());
};
const scanOurs = await ours(q('i + 1'));
const rustOurs = await ours(q('add1(i)'));
const jsOurs = await ours(q('js_add1(i)'));
const scanTheirs = await theirs(q('i + 1'));
const jsTheirs = await theirs(q('js_add1(i)'));
const perRow = (ms, scan) => ((ms - scan) * 1e6) / ROWS;
const perRowFigures = {
  rust_component_ns: perRow(rustOurs, scanOurs),
  js_component_ns: perRow(jsOurs, scanOurs),
  better_sqlite3_js_ns: perRow(jsTheirs, scanTheirs),
};

// 2. N concurrent queries on N threads.
const scaling = {};
for (const n of [1, 2, 4]) {
  const pool = new Database(null, { udf: [BENCH_WASM], threads: n });
  await pool.exec('CREATE TABLE t(i INTEGER)');
  await pool.exec(FILL);
  const stmt = pool.prepare(q('add1(i)'));
  const ms = await time(() => Promise.all(Array.from({ length: n }, () => stmt.get())));
  scaling[n] = { ms, queries_per_s: (n * 1000) / ms };
  await pool.close();
}
for (const n of [1, 2, 4]) scaling[n].speedup = scaling[n].queries_per_s / scaling[1].queries_per_s;

// 3. Event-loop lag while 1,000 UDF-heavy queries run.
const heavy = `SELECT sum(js_collatz(i)) AS s FROM t WHERE i BETWEEN ? AND ?`;
const ranges = Array.from({ length: LAG_QUERIES }, (_, k) => [k * LAG_ROWS, k * LAG_ROWS + LAG_ROWS - 1]);
let monitor = lag.lagMonitor(2);
let started = performance.now();
const stmt = db.prepare(heavy);
const oursResults = await Promise.all(ranges.map((r) => stmt.get(r)));
const oursLag = { ...monitor.stop(), total_ms: performance.now() - started };
const bsStmt = bs.prepare(heavy).safeIntegers(true);
monitor = lag.lagMonitor(2);
started = performance.now();
const theirsResults = [];
for (const r of ranges) {
  theirsResults.push(bsStmt.get(r));
  // Give the timer its chance between queries, as an async caller would.
  await new Promise((resolve) => setImmediate(resolve));
}
const theirsLag = { ...monitor.stop(), total_ms: performance.now() - started };
const same = oursResults.every((row, k) => BigInt(row.s) === theirsResults[k].s);
await db.close();

const f = (x) => x.toFixed(1);
console.log(`rows ${ROWS}, median of ${RUNS} runs`);
console.log(`per row net of the scan: Rust add1 ${f(perRowFigures.rust_component_ns)} ns, JS add1 in a component ` +
  `${f(perRowFigures.js_component_ns)} ns, better-sqlite3 JS add1 ${f(perRowFigures.better_sqlite3_js_ns)} ns ` +
  `(Rust/better-sqlite3 ${(perRowFigures.rust_component_ns / perRowFigures.better_sqlite3_js_ns).toFixed(2)}x)`);
for (const n of [1, 2, 4]) {
  console.log(`${n} concurrent queries on ${n} threads: ${f(scaling[n].ms)} ms, speedup ${scaling[n].speedup.toFixed(2)} (ideal ${n})`);
}
console.log(`lag over ${LAG_QUERIES} queries of ${LAG_ROWS} js_collatz rows: package p99 ${f(oursLag.p99)} ms max ${f(oursLag.max)} ms ` +
  `(${f(oursLag.total_ms)} ms); better-sqlite3 p99 ${f(theirsLag.p99)} ms max ${f(theirsLag.max)} ms (${f(theirsLag.total_ms)} ms); same answers: ${same}`);
console.log(JSON.stringify({ rows: ROWS, runs: RUNS, per_row: perRowFigures, scaling, lag: { package: oursLag, better_sqlite3: theirsLag }, same }));
