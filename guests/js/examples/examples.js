// Example wasmudf functions written in JavaScript: one component, several
// functions. Build it with
//
//   node bin/wasmudf-guest.js build examples/examples.js -o ../target/js/js_examples.wasm
//
// and see README.md beside this file for each function's contract.
import { scalar, aggregate, table } from 'wasmudf-guest';
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
}, { params: ['integer'], returns: 'integer' });

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
  { deterministic: true, params: ['text'], returns: 'text' },
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
  // Variadic: one `params` entry would cover the template and the values
  // alike, and the values are of any class, so only the result is declared.
  { deterministic: true, arity: -1, returns: 'text' },
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
  { deterministic: true, params: ['integer', 'integer'], returns: 'integer' },
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

// serialize/merge make js_mode mergeable: a host may count parts of a group
// apart (in other instances, threads or machines) and fold the counts
// together. The state is a Map of counts; its bytes are
//
//   1                              a format version byte, then per value:
//   class  u8                      1 INTEGER, 2 REAL, 3 TEXT, 4 BLOB
//   count  f64                     exact up to 2^53 rows
//   value  i64 | f64 | u32 length + UTF-8 | u32 length + bytes
//
// all little-endian.

const STATE_VERSION = 1;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

function serializeCounts(counts) {
  const items = [];
  let size = 1;
  for (const { value, count } of counts.values()) {
    let bytes = null;
    if (typeof value === 'string') bytes = utf8.encode(value);
    // A BLOB: a Uint8Array, but from the bindings' realm, so not
    // `instanceof Uint8Array` here.
    else if (typeof value === 'object') bytes = value;
    items.push({ value, count, bytes });
    size += 1 + 8 + (bytes === null ? 8 : 4 + bytes.length);
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = STATE_VERSION;
  let at = 1;
  for (const { value, count, bytes } of items) {
    const cls = typeof value === 'bigint' ? 1 : typeof value === 'number' ? 2 : typeof value === 'string' ? 3 : 4;
    out[at] = cls;
    view.setFloat64(at + 1, count, true);
    at += 9;
    if (cls === 1) {
      view.setBigInt64(at, value, true);
      at += 8;
    } else if (cls === 2) {
      view.setFloat64(at, value, true);
      at += 8;
    } else {
      view.setUint32(at, bytes.length, true);
      out.set(bytes, at + 4);
      at += 4 + bytes.length;
    }
  }
  return out;
}

function mergeCounts(counts, bytes) {
  const bad = (what) => new Error(`js_mode: not a serialized js_mode state (${what})`);
  if (bytes.length === 0 || bytes[0] !== STATE_VERSION) throw bad('unknown format version');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Decode everything first, so that a malformed state merges nothing.
  const items = [];
  let at = 1;
  while (at < bytes.length) {
    if (at + 9 > bytes.length) throw bad('truncated');
    const cls = bytes[at];
    const count = view.getFloat64(at + 1, true);
    if (!Number.isSafeInteger(count) || count <= 0) throw bad(`bad count ${count}`);
    at += 9;
    let value;
    if (cls === 1 || cls === 2) {
      if (at + 8 > bytes.length) throw bad('truncated');
      value = cls === 1 ? view.getBigInt64(at, true) : view.getFloat64(at, true);
      at += 8;
    } else if (cls === 3 || cls === 4) {
      if (at + 4 > bytes.length) throw bad('truncated');
      const n = view.getUint32(at, true);
      if (at + 4 + n > bytes.length) throw bad('truncated');
      const raw = bytes.slice(at + 4, at + 4 + n);
      if (cls === 4) value = raw;
      else {
        try {
          value = fromUtf8.decode(raw);
        } catch {
          throw bad('TEXT that is not UTF-8');
        }
      }
      at += 4 + n;
    } else {
      throw bad(`unknown class ${cls}`);
    }
    items.push({ value, count });
  }
  for (const { value, count } of items) {
    const key = keyOf(value);
    const entry = counts.get(key);
    if (entry === undefined) counts.set(key, { value, count });
    else entry.count += count;
  }
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
    serialize: serializeCounts,
    merge: mergeCounts,
  },
  // The result is of the class of the most frequent value: not declared.
  { deterministic: true },
);

// ---------------------------------------------------------------------------
// js_split(text TEXT, sep TEXT) -> TABLE(ordinal INTEGER, part TEXT)

/** The parts of `text` between occurrences of `sep`, cut as rows are read. */
function* splitRows(text, sep) {
  let at = 0;
  let ordinal = 0n;
  for (;;) {
    const end = text.indexOf(sep, at);
    ordinal++;
    if (end === -1) {
      yield [ordinal, text.slice(at)];
      return;
    }
    yield [ordinal, text.slice(at, end)];
    at = end + sep.length;
  }
}

// A plain function that checks its arguments and returns the generator, so
// that a bad call fails when it opens (a generator's body only runs when
// the first row is read). The parts are those of `text.split(sep)`.
table(
  'js_split',
  (text, sep) => {
    // A NULL argument: no rows, as SQLite's json_each(NULL).
    if (text === null || sep === null) return [];
    if (typeof text !== 'string' || typeof sep !== 'string') throw new TypeError('js_split expects TEXT arguments');
    if (sep === '') throw new Error('the separator must not be empty');
    return splitRows(text, sep);
  },
  { columns: ['ordinal', 'part'], params: ['text', 'text'], deterministic: true },
);
