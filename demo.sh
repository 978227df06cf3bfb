#!/usr/bin/env bash
# Quick start, step one: install the wasm target, build the guests and the
# `wasmudf` CLI, then run a demo query that uses several example UDFs.
set -euo pipefail
cd "$(dirname "$0")"
rustup target add wasm32-wasip2
cargo build --release -p wasmudf-cli
wasmudf=target/release/wasmudf
set -x
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
