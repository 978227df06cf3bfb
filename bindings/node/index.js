// The `wasmudf` package: the native addon (loaded by native.js, which
// `napi build` generates) plus the two symbols a Rust class cannot declare.
'use strict';

const native = require('./native.js');

// `await using db = new Database(...)` closes the database.
native.Database.prototype[Symbol.asyncDispose] = function asyncDispose() {
  return this.close();
};

// `for await (const row of stmt.iterate(...))`: the iterator is its own
// async iterator, with `next()` and `return()` from the addon.
native.RowIterator.prototype[Symbol.asyncIterator] = function asyncIterator() {
  return this;
};

// Named one by one, so that `import { Database } from 'wasmudf'` finds them.
exports.Database = native.Database;
exports.Statement = native.Statement;
exports.RowIterator = native.RowIterator;
