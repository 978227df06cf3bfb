// Benchmarks of the package against better-sqlite3 (BENCHMARKS.md, "The
// Node.js package"):
//   1. per-row cost of a trivial UDF (`add1`), as a Rust component and as the
//      same JavaScript in a component, against better-sqlite3 running that
//      JavaScript in V8, net of the same query without the function;
//   2. throughput of N concurrent queries on N threads against one query on
//      one thread, N = 1, 2, 4 (with the same N queries on one thread, and
//      the query without its UDF, as controls; each of the N callers awaits
//      5 queries in turn);
//   3. event-loop lag (setInterval every 2 ms) while 1,000 UDF-heavy queries
//      run, against better-sqlite3 running the same queries synchronously,
//      once yielding to the loop between queries and once in a plain loop.
//
//   npm install --prefix benches/node      # once: better-sqlite3 12, bench-only
//   node bindings/node/bench/bench.mjs [ROWS] [RUNS]   -> a report and one JSON line
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
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
// SpiderMonkey's heap outgrows the default 64 MiB over a few hundred
// thousand calls (BENCHMARKS.md, issue 10): the JavaScript guest gets 128.
const db = new Database(null, { udf: [BENCH_WASM, BENCH_JS], threads: 4, memoryMib: 128 });
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
const queries = {
  scan_package_ms: await ours(q('i + 1')),
  rust_package_ms: await ours(q('add1(i)')),
  js_package_ms: await ours(q('js_add1(i)')),
  scan_better_sqlite3_ms: await theirs(q('i + 1')),
  js_better_sqlite3_ms: await theirs(q('js_add1(i)')),
};
const perRow = (ms, scan) => ((ms - scan) * 1e6) / ROWS;
const perRowFigures = {
  rust_component_ns: perRow(queries.rust_package_ms, queries.scan_package_ms),
  js_component_ns: perRow(queries.js_package_ms, queries.scan_package_ms),
  better_sqlite3_js_ns: perRow(queries.js_better_sqlite3_ms, queries.scan_better_sqlite3_ms),
};

// 2. N concurrent queries on N threads; controls: the same N queries on one
// thread, and N queries without the UDF on N threads.
const scaling = {};
const levels = [1, 2, 4];
const pools = {};
for (const n of levels) {
  const pool = new Database(null, { udf: [BENCH_WASM], threads: n });
  await pool.exec('CREATE TABLE t(i INTEGER)');
  await pool.exec(FILL);
  pools[n] = pool;
}
// N callers, each awaiting WAVES queries one after the other (one query
// of 200,000 rows is ~30 ms: too short to time alone on a noisy machine).
const WAVES = 5;
const concurrent = (pool, n, sql) => {
  const stmt = pool.prepare(sql);
  const caller = async () => {
    for (let w = 0; w < WAVES; w++) await stmt.get();
  };
  return time(() => Promise.all(Array.from({ length: n }, caller)));
};
for (const n of levels) {
  const ms = await concurrent(pools[n], n, q('add1(i)'));
  const oneThreadMs = await concurrent(pools[1], n, q('add1(i)'));
  const scanMs = await concurrent(pools[n], n, q('i + 1'));
  scaling[n] = {
    ms,
    queries_per_s: (n * WAVES * 1000) / ms,
    one_thread_ms: oneThreadMs,
    scan_ms: scanMs,
    scan_queries_per_s: (n * WAVES * 1000) / scanMs,
  };
}
for (const n of levels) {
  scaling[n].speedup = scaling[n].queries_per_s / scaling[1].queries_per_s;
  scaling[n].vs_one_thread = scaling[n].one_thread_ms / scaling[n].ms;
  scaling[n].scan_speedup = scaling[n].scan_queries_per_s / scaling[1].scan_queries_per_s;
}
for (const n of levels) await pools[n].close();

// 3. Event-loop lag while 1,000 UDF-heavy queries run.
const heavy = `SELECT sum(js_collatz(i)) AS s FROM t WHERE i BETWEEN ? AND ?`;
const ranges = Array.from({ length: LAG_QUERIES }, (_, k) => [k * LAG_ROWS, k * LAG_ROWS + LAG_ROWS - 1]);
let monitor = lag.lagMonitor(2);
let started = performance.now();
const stmt = db.prepare(heavy);
const oursResults = await Promise.all(ranges.map((r) => stmt.get(r)));
const oursLag = { ...monitor.stop(), total_ms: performance.now() - started };
const bsStmt = bs.prepare(heavy).safeIntegers(true);
// better-sqlite3 at its best: the caller yields to the loop between queries.
monitor = lag.lagMonitor(2);
started = performance.now();
const theirsResults = [];
for (const r of ranges) {
  theirsResults.push(bsStmt.get(r));
  await new Promise((resolve) => setImmediate(resolve));
}
const theirsLag = { ...monitor.stop(), total_ms: performance.now() - started };
// ... and as a plain loop runs it: the timer waits for the whole batch.
monitor = lag.lagMonitor(2);
started = performance.now();
const loopResults = ranges.map((r) => bsStmt.get(r));
await new Promise((resolve) => setTimeout(resolve, 5));
const loopLag = { ...monitor.stop(), total_ms: performance.now() - started };
const same = oursResults.every((row, k) => BigInt(row.s) === theirsResults[k].s && loopResults[k].s === theirsResults[k].s);
await db.close();

const f = (x) => x.toFixed(1);
console.log(`${availableParallelism()} CPUs, rows ${ROWS}, median of ${RUNS} runs`);
console.log(`whole query (ms): scan ${f(queries.scan_package_ms)}, Rust add1 ${f(queries.rust_package_ms)}, JS add1 ` +
  `${f(queries.js_package_ms)} (package); scan ${f(queries.scan_better_sqlite3_ms)}, JS add1 ${f(queries.js_better_sqlite3_ms)} (better-sqlite3); ` +
  `Rust add1 query / better-sqlite3 query ${(queries.rust_package_ms / queries.js_better_sqlite3_ms).toFixed(2)}x`);
console.log(`per row net of the scan: Rust add1 ${f(perRowFigures.rust_component_ns)} ns, JS add1 in a component ` +
  `${f(perRowFigures.js_component_ns)} ns, better-sqlite3 JS add1 ${f(perRowFigures.better_sqlite3_js_ns)} ns ` +
  `(Rust/better-sqlite3 ${(perRowFigures.rust_component_ns / perRowFigures.better_sqlite3_js_ns).toFixed(2)}x)`);
for (const n of levels) {
  const s = scaling[n];
  console.log(`${n} concurrent callers x ${WAVES} add1 queries on ${n} threads: ${f(s.ms)} ms, speedup ${s.speedup.toFixed(2)} (ideal ${n}); ` +
    `the same ${n} on 1 thread ${f(s.one_thread_ms)} ms (${s.vs_one_thread.toFixed(2)}x); no-UDF control speedup ${s.scan_speedup.toFixed(2)}`);
}
const l = (x) => `p50 ${x.p50.toFixed(2)} p99 ${x.p99.toFixed(2)} max ${x.max.toFixed(2)} ms (${x.ticks} ticks, ${f(x.total_ms)} ms)`;
console.log(`lag over ${LAG_QUERIES} queries of ${LAG_ROWS} js_collatz rows:`);
console.log(`  package, all at once on 4 threads: ${l(oursLag)}`);
console.log(`  better-sqlite3, yielding between queries: ${l(theirsLag)}`);
console.log(`  better-sqlite3, a plain loop: ${l(loopLag)}`);
console.log(`  same answers: ${same}`);
console.log(JSON.stringify({
  cpus: availableParallelism(), rows: ROWS, runs: RUNS, queries, per_row: perRowFigures, scaling,
  lag: { package: oursLag, better_sqlite3: theirsLag, better_sqlite3_loop: loopLag }, same,
}));
