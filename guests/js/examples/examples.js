// Example wasmudf functions written in JavaScript: one component, several
// functions. Build it with
//
//   node bin/wasmudf-guest.js build examples/examples.js -o ../target/js/js_examples.wasm
//
// and see README.md beside this file for each function's contract.
import { scalar, aggregate } from 'wasmudf-guest';
import { slugify } from './slug.js';

// ---------------------------------------------------------------------------
// js_sleep(ms INTEGER) -> INTEGER

/** The longest single timer: setTimeout takes a signed 32-bit delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

// An async function: the call blocks until the promise settles. The SDK's
// bindings run the engine's event loop, which waits for the timer by
// polling the WASI monotonic clock (`wasi:io/poll`), so the guest sleeps
// without burning CPU.
scalar('js_sleep', async (ms) => {
  if (ms === null) return null;
  if (typeof ms !== 'bigint') throw new TypeError('js_sleep expects an INTEGER number of milliseconds');
  if (ms < 0n) throw new RangeError('ms must not be negative');
  let left = ms;
  while (left > 0n) {
    const chunk = left > BigInt(MAX_TIMER_MS) ? MAX_TIMER_MS : Number(left);
    await new Promise((resolve) => setTimeout(resolve, chunk));
    left -= BigInt(chunk);
  }
  return ms;
});

// ---------------------------------------------------------------------------
// js_slugify(text TEXT) -> TEXT

// The engine has no ICU (no normalize, no /\p{...}/u): see slug.js.
scalar(
  'js_slugify',
  (text) => {
    if (text === null) return null;
    if (typeof text === 'bigint' || typeof text === 'number') text = String(text);
    if (typeof text !== 'string') throw new TypeError('js_slugify expects TEXT');
    return slugify(text);
  },
  { deterministic: true },
);

// ---------------------------------------------------------------------------
// js_format(template TEXT, ...args) -> TEXT

/** A REAL printed so that it reads as one: 1.0 rather than 1. */
function formatReal(x) {
  const s = String(x);
  return Number.isFinite(x) && /^-?\d+$/.test(s) ? `${s}.0` : s;
}

function formatArg(v) {
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'number':
      return formatReal(v);
    case 'string':
      return v;
    default:
      if (v === null) return 'NULL';
      // A BLOB, as an SQL blob literal.
      return `X'${Array.from(v, (b) => b.toString(16).padStart(2, '0').toUpperCase()).join('')}'`;
  }
}

const PLACEHOLDER = /\{\{|\}\}|\{([^{}]*)\}/g;

scalar(
  'js_format',
  (template, ...args) => {
    if (template === null) return null;
    if (typeof template !== 'string') throw new TypeError('js_format expects a TEXT template');
    return template.replace(PLACEHOLDER, (match, index) => {
      if (match === '{{') return '{';
      if (match === '}}') return '}';
      if (!/^\d+$/.test(index)) throw new SyntaxError(`bad placeholder ${match}: use {0}, {1}, ...`);
      const i = Number(index);
      if (i >= args.length) {
        throw new RangeError(`placeholder ${match} has no argument (${args.length} given)`);
      }
      return formatArg(args[i]);
    });
  },
  { deterministic: true, arity: -1 },
);

// ---------------------------------------------------------------------------
// js_i64_add(a INTEGER, b INTEGER) -> INTEGER

// BigInt arithmetic is exact; a sum outside the 64-bit range is the SQL
// error "integer out of range", raised by the SDK when it converts it.
scalar(
  'js_i64_add',
  (a, b) => {
    if (a === null || b === null) return null;
    if (typeof a !== 'bigint' || typeof b !== 'bigint') {
      throw new TypeError('js_i64_add expects INTEGER arguments');
    }
    return a + b;
  },
  { deterministic: true },
);

// ---------------------------------------------------------------------------
// js_mode(x) -> the most frequent non-NULL value; an aggregate and a window
// function

// Values are keyed by storage class so that 1, 1.0 and '1' stay distinct.
function keyOf(v) {
  switch (typeof v) {
    case 'bigint':
      return `i${v}`;
    case 'number':
      // 0.0 and -0.0 are the same SQL value.
      return `r${v === 0 ? 0 : v}`;
    case 'string':
      return `t${v}`;
    default:
      return `b${Array.from(v, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  }
}

/** SQLite's order of storage classes: numbers, then TEXT, then BLOB. */
function classRank(v) {
  const t = typeof v;
  return t === 'bigint' || t === 'number' ? 0 : t === 'string' ? 1 : 2;
}

/** TEXT in SQLite's BINARY order: by UTF-8 bytes, i.e. by code points. */
function compareText(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i);
    const y = b.codePointAt(i);
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/**
 * A total order on non-NULL values: SQLite's (numbers compared exactly
 * across INTEGER and REAL, TEXT by bytes, BLOB by bytes), with an INTEGER
 * before an equal REAL.
 */
function compareValues(a, b) {
  const ra = classRank(a);
  const rb = classRank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 0) {
    // < and > between a BigInt and a Number compare exact values.
    if (a < b) return -1;
    if (a > b) return 1;
    return (typeof a === 'bigint' ? 0 : 1) - (typeof b === 'bigint' ? 0 : 1);
  }
  if (ra === 1) return compareText(a, b);
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function modeOf(counts) {
  let best = null;
  for (const entry of counts.values()) {
    if (best === null || entry.count > best.count || (entry.count === best.count && compareValues(entry.value, best.value) < 0)) {
      best = entry;
    }
  }
  return best === null ? null : best.value;
}

aggregate(
  'js_mode',
  {
    init: () => new Map(),
    step(counts, x) {
      if (x === null) return;
      const key = keyOf(x);
      const entry = counts.get(key);
      if (entry === undefined) counts.set(key, { value: x, count: 1 });
      else entry.count++;
    },
    inverse(counts, x) {
      if (x === null) return;
      const key = keyOf(x);
      const entry = counts.get(key);
      if (entry === undefined) throw new Error('js_mode: inverse of a value never stepped');
      if (--entry.count === 0) counts.delete(key);
    },
    value: modeOf,
    final: modeOf,
  },
  { deterministic: true },
);
