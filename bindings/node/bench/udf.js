// The JavaScript UDFs the benchmarks run through the package (inside a
// component) and through better-sqlite3 (in V8), the same code in both.
import { scalar } from 'wasmudf-guest';
import { add1, collatz } from './functions.mjs';

scalar('js_add1', (x) => (x === null ? null : add1(x)), { params: ['integer'], returns: 'integer', deterministic: true });
scalar('js_collatz', (n) => (n === null ? null : collatz(n)), { params: ['integer'], returns: 'integer', deterministic: true });
