// The better-sqlite3 column of `wasmudf bench`: the same table and queries
// with JavaScript UDFs, timed the same way (median of N runs of one query).
// Usage: node bench.js ROWS RUNS  -> prints one JSON object.
//
// The js_* functions are the JavaScript example guest's own code
// (guests/js/examples/examples.js), registered here in V8 instead of being
// built into a component, so both columns run the same JavaScript.
'use strict';
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const Database = require('better-sqlite3');

const rows = Number(process.argv[2] || 200000);
const runs = Number(process.argv[3] || 5);
const db = new Database(':memory:');
db.exec('CREATE TABLE t(i INTEGER, r REAL, s TEXT, b BLOB, a INTEGER, c INTEGER)');
db.prepare(`WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < ? - 1)
  INSERT INTO t SELECT (k * 7919) % 1000, (k % 997) / 7.0,
                       printf('%016x', k * 2654435761), randomblob(16), k % 13, k % 17
  FROM n`).run(rows);
db.function('add1', { deterministic: true }, (x) => x + 1);
db.function('identity', { deterministic: true }, (x) => x);
db.function('upper_ascii', { deterministic: true }, (s) => s.toUpperCase());

/** Registers every function of the JavaScript example guest in V8. */
async function registerExamples() {
  const sdk = path.join(__dirname, '../../guests/js');
  const { defaultRegistry } = await import(pathToFileURL(path.join(sdk, 'src/core.js')));
  await import(pathToFileURL(path.join(sdk, 'examples/examples.js')));
  for (const e of defaultRegistry.entries) {
    // BigInts in and out, as the SDK gives them: INTEGER stays exact.
    const opts = { deterministic: true, safeIntegers: true, varargs: e.arity === -1 };
    if (e.kind === 'scalar') {
      db.function(e.name, opts, e.fn);
    } else {
      // better-sqlite3 keeps the state when step returns undefined, as
      // the SDK does, and reads the arity from step.length.
      db.aggregate(e.name, {
        ...opts,
        start: e.init,
        step: e.step,
        inverse: e.inverse ?? undefined,
        result: e.final,
      });
    }
  }
}

/** The median time of `sql`; `safe` reads INTEGERs as BigInts, as the
 * example's functions (registered with safeIntegers) expect. */
function median(sql, safe = false) {
  const stmt = db.prepare(sql).pluck().safeIntegers(safe);
  const times = [];
  for (let k = 0; k < runs; k++) {
    const start = process.hrtime.bigint();
    stmt.get();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

registerExamples().then(() => {
  const out = {
    node: process.version,
    rows,
    scan_ms: median('SELECT sum(i) FROM t'),
    add1_ms: median('SELECT sum(add1(i)) FROM t'),
    identity_ms: median('SELECT sum(identity(i)) FROM t'),
    text_scan_ms: median('SELECT sum(length(s)) FROM t'),
    upper_ms: median('SELECT sum(length(upper_ascii(s))) FROM t'),
    js_add_ms: median('SELECT sum(js_i64_add(i, 1)) FROM t', true),
    slugify_ms: median('SELECT sum(length(js_slugify(s))) FROM t', true),
    count_scan_ms: median('SELECT count(a) FROM t'),
    mode_ms: median('SELECT js_mode(a) FROM t', true),
  };
  console.log(JSON.stringify(out));
});
