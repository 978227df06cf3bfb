// The better-sqlite3 column of `wasmudf bench`: the same table and queries
// with JavaScript UDFs, timed the same way (median of N runs of one query).
// Usage: node bench.js ROWS RUNS  -> prints one JSON object.
'use strict';
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

function median(sql) {
  const stmt = db.prepare(sql).pluck();
  const times = [];
  for (let k = 0; k < runs; k++) {
    const start = process.hrtime.bigint();
    stmt.get();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const out = {
  node: process.version,
  rows,
  scan_ms: median('SELECT sum(i) FROM t'),
  add1_ms: median('SELECT sum(add1(i)) FROM t'),
  identity_ms: median('SELECT sum(identity(i)) FROM t'),
  text_scan_ms: median('SELECT sum(length(s)) FROM t'),
  upper_ms: median('SELECT sum(length(upper_ascii(s))) FROM t'),
};
console.log(JSON.stringify(out));
