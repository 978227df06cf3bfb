#!/usr/bin/env bash
# Quick start, step one: install the guest toolchains (the wasm32-wasip2
# target, componentize-js, componentize-py), build the guests, the
# `wasmudf` CLI and the Node.js package, run the seed's program in Node.js,
# then demo queries over example UDFs in Rust, JavaScript and Python.
set -euo pipefail
cd "$(dirname "$0")"
guests/setup-toolchains.sh
# The `wasmudf` CLI and the Node.js package's addon, in one release build
# (one feature resolution, so wasmtime compiles once for both), then the
# addon's loader and types with @napi-rs/cli (pinned).
(cd bindings/node && npm ci --no-audit --no-fund && npm run build)
wasmudf=target/release/wasmudf
set -x
# The seed's own program in Node.js: a JavaScript UDF, sleep(200), awaited
# through an async SQLite API, then 100 of them on 4 threads.
node bindings/node/examples/seed.mjs
$wasmudf inspect guests/target/wasm32-wasip2/release/text.wasm
$wasmudf query \
  "CREATE TABLE words(w TEXT)" \
  "INSERT INTO words VALUES ('straße'), ('kitten'), ('sitting'), ('Ärger')" \
  "SELECT w, unicode_upper(w) AS upper, upper(w) AS sqlite_upper,
          levenshtein(w, 'sitting') AS dist, w REGEXP '^[a-z]+$' AS ascii,
          hex(sha256(w)) AS sha256
   FROM words" \
  "SELECT median(length(w)) AS median_len, sumsq(length(w)) AS sumsq_len,
          greatest(1, 2.5, NULL, 2) AS greatest, sleep(200) AS slept_ms FROM words"
$wasmudf query --json \
  "SELECT sumsq(x) OVER (ORDER BY x ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s
   FROM (SELECT value AS x FROM json_each('[1,2,3,4,5]'))"
# Table-valued functions, one's rows feeding the other's arguments, and the
# functions the connection has, seen from SQL.
$wasmudf query \
  "SELECT s.ordinal, s.part, m.match, m.start
   FROM split('a1,b22,c333', ',') AS s, regex_matches('[0-9]+', s.part) AS m" \
  "SELECT name, kind, arity, columns, language FROM wasmudf_functions WHERE kind = 'table'"
# The seed scenario in JavaScript, and Python's standard library, on a pool
# of four threads. (The first run compiles each language runtime once;
# later runs load it from the cache.)
$wasmudf query --threads 4 --memory-mib 128 \
  --udf guests/target/js/js_examples.wasm --udf guests/target/python/py_examples.wasm \
  "SELECT js_sleep(200) AS slept_ms, js_slugify('Héllo, Wörld!') AS slug,
          js_i64_add(9223372036854775806, 1) AS i64_max,
          py_similarity('kitten', 'sitting') AS similarity" \
  "SELECT js_mode(x) AS mode, py_stdev(x) AS stdev
   FROM (SELECT value AS x FROM json_each('[1,2,2,3,3,3,4]'))"
# The same components as Apache DataFusion UDFs, over a Parquet file it
# writes first: scalars a batch at a time, aggregates merged across four
# partitions.
demo_dir=$(mktemp -d)
trap 'rm -rf "$demo_dir"' EXIT
$wasmudf query --engine datafusion \
  "COPY (SELECT column1 AS w, column2 AS n FROM (VALUES ('straße', 1.5), ('kitten', 2.0),
         ('sitting', 10.0), ('Ärger', -3.25))) TO '$demo_dir/words.parquet' STORED AS PARQUET"
$wasmudf query --engine datafusion --threads 4 --table "words=$demo_dir/words.parquet" \
  "SELECT w, unicode_upper(w) AS upper, levenshtein(w, 'sitting') AS dist FROM words ORDER BY w" \
  "SELECT median(n) AS median, sumsq(n) AS sumsq FROM words"
