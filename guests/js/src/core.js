// The wasmudf JavaScript guest SDK: registration, value conversion and the
// implementation of the `wasmudf:udf/guest` interface.
//
// Everything here is plain JavaScript with no dependency on the component
// runtime, so it runs (and is unit-tested) in Node as well as inside the
// component. `component.js` is the thin module that hands the default
// registry's `guest` object to componentize-js.
//
// Two facts about componentize-js 0.23 shape this file:
//
// * The generated bindings catch what an entry point throws only for
//   functions that return a `result`, and only turn a thrown *string* into
//   the error: an `Error` object comes from another realm than the bindings,
//   fails their `instanceof Error` check and traps the instance. `fast1`..
//   `fast3` and `manifest` return no `result`, so anything they throw traps.
//   Every entry point here therefore catches everything and *returns*
//   `{ tag: 'err', val: message }`, which the bindings accept as the result
//   itself (and which costs no exception).
// * Every export is awaited by the bindings, which run the event loop until
//   the promise settles. A user function may thus be `async` and await
//   timers (`setTimeout`); the SQL call blocks until it settles.
// * A WIT resource is a class on the interface object, named in
//   UpperCamelCase (`Accumulator`, `Cursor`). Its static functions are
//   called on the class (`Cursor.open(...)`), its methods as
//   `Cursor.prototype.next.call(obj, ...)`. A static function returning a
//   resource must return an instance of that very class (the bindings check
//   `instanceof`, and trap otherwise), and no object with a `tag` of 'ok'
//   or 'err' (taken as the result itself). When the host drops a handle,
//   the bindings call the instance's `[Symbol.dispose]()` (or
//   `[Symbol.for('dispose')]()`) if it has one; the JS `constructor` is
//   never called by them.

/** @typedef {{ tag: 'null' } | { tag: 'integer', val: bigint } | { tag: 'real', val: number } | { tag: 'text', val: string } | { tag: 'blob', val: Uint8Array }} WitValue */
/**
 * A WIT `column`, as componentize-js 0.23 lifts and lowers it: `valid` is a
 * `Uint8Array` or `undefined` (none); the bindings give `BigInt64Array`,
 * `Float64Array` and `Uint32Array` lists and a `string` for TEXT data
 * (decoded from UTF-8: the offsets still count UTF-8 bytes).
 *
 * @typedef {{ tag: 'integers', val: { data: BigInt64Array | bigint[], valid?: Uint8Array | number[] } }
 *   | { tag: 'reals', val: { data: Float64Array | number[], valid?: Uint8Array | number[] } }
 *   | { tag: 'texts', val: { offsets: Uint32Array | number[], data: string, valid?: Uint8Array | number[] } }
 *   | { tag: 'blobs', val: { offsets: Uint32Array | number[], data: Uint8Array, valid?: Uint8Array | number[] } }
 *   | { tag: 'values', val: WitValue[] }} WitColumn
 */
/** @typedef {'integer' | 'real' | 'text' | 'blob' | 'any'} ValueType */
/**
 * @typedef {{
 *   init?: () => any,
 *   step: (state: any, ...args: any[]) => any,
 *   final?: (state: any) => any,
 *   inverse?: (state: any, ...args: any[]) => any,
 *   value?: (state: any) => any,
 *   serialize?: (state: any) => Uint8Array | ArrayBuffer | ArrayBufferView,
 *   merge?: (state: any, bytes: Uint8Array) => any,
 * }} AccumulatorSpec
 */

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** The largest function name SQLite accepts, in UTF-8 bytes. */
const MAX_NAME_BYTES = 255;

// Shared immutable results. The bindings only read them.
const NULL = Object.freeze({ tag: 'null' });
const TRUE = Object.freeze({ tag: 'integer', val: 1n });
const FALSE = Object.freeze({ tag: 'integer', val: 0n });
const DEFERRED = Object.freeze({ tag: 'deferred' });

/** Returns the guest error variant for `message`. */
function fail(message) {
  return { tag: 'err', val: message };
}

// ---------------------------------------------------------------------------
// Errors

/**
 * Turns anything thrown into the text of a SQL error.
 *
 * An `Error` gives its message, prefixed with its `name` unless that is the
 * plain `Error` (`TypeError: x is not a function`, but `boom` for
 * `new Error('boom')`). A string is used as is; anything else is printed.
 * Never throws.
 *
 * @param {unknown} e
 * @returns {string}
 */
export function errorMessage(e) {
  try {
    if (typeof e === 'string') return e;
    if (e !== null && typeof e === 'object') {
      // Not `instanceof Error`: errors may come from another realm.
      const message = e.message;
      if (typeof message === 'string') {
        const name = e.name;
        if (typeof name !== 'string' || name === '' || name === 'Error') {
          return message === '' ? 'Error' : message;
        }
        return message === '' ? name : `${name}: ${message}`;
      }
      if (Object.prototype.toString.call(e) === '[object Error]') return 'Error';
      try {
        const json = JSON.stringify(e);
        if (typeof json === 'string') return json;
      } catch {
        // A cycle or a BigInt: print it another way.
      }
      return Object.prototype.toString.call(e);
    }
    return String(e);
  } catch {
    return 'a value was thrown that cannot be printed';
  }
}

// ---------------------------------------------------------------------------
// Values

/** A short description of a value's type for error messages. */
function typeName(v) {
  if (v === null) return 'null';
  const t = typeof v;
  if (t !== 'object') return t;
  const tag = Object.prototype.toString.call(v).slice(8, -1);
  return tag === 'Object' ? 'object' : tag;
}

/**
 * Converts a returned JavaScript value to a WIT value, or an error variant
 * when it has no SQLite equivalent.
 *
 * @param {unknown} r the returned value
 * @param {string} name the SQL function name, for the error message
 * @returns {WitValue | { tag: 'err', val: string }}
 */
export function toValue(r, name) {
  switch (typeof r) {
    case 'number':
      return { tag: 'real', val: r };
    case 'bigint':
      if (r < I64_MIN || r > I64_MAX) {
        return fail(`integer out of range: ${r} does not fit in a signed 64-bit INTEGER`);
      }
      return { tag: 'integer', val: r };
    case 'string':
      return { tag: 'text', val: r };
    case 'undefined':
      return NULL;
    case 'boolean':
      return r ? TRUE : FALSE;
    case 'object':
      if (r === null) return NULL;
      if (r instanceof Uint8Array) return { tag: 'blob', val: r };
      if (ArrayBuffer.isView(r)) {
        return { tag: 'blob', val: new Uint8Array(r.buffer, r.byteOffset, r.byteLength) };
      }
      if (isArrayBuffer(r)) return { tag: 'blob', val: new Uint8Array(r) };
      break;
    default:
      break;
  }
  return fail(
    `${name} returned a value of type ${typeName(r)}, which has no SQLite type ` +
      '(return a BigInt, a Number, a string, a Uint8Array, a boolean or null)',
  );
}

const U64 = 2n ** 64n;

// The component's bindings run in another realm than the module's code, so
// the Uint8Arrays they pass (BLOB arguments, `merge`'s bytes) and their
// buffers fail `instanceof` against this realm's constructors: these tests
// hold across realms.

/** Whether `v` is an ArrayBuffer of any realm. */
function isArrayBuffer(v) {
  return v instanceof ArrayBuffer || Object.prototype.toString.call(v) === '[object ArrayBuffer]';
}

/** Whether `v` is a Uint8Array of any realm. */
function isUint8Array(v) {
  return v instanceof Uint8Array || (ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === '[object Uint8Array]');
}

/**
 * Converts a WIT value argument to JavaScript: INTEGER → BigInt, REAL →
 * Number, TEXT → string, BLOB → Uint8Array, NULL → null.
 *
 * For the arguments of `call1`..`call3` and `fast1`..`fast3`, which the
 * component passes in registers ("flat"): componentize-js 0.23 hands their
 * s64 payload over as an *unsigned* BigInt (-1 arrives as 2^64 - 1), so it
 * is brought back into the signed range here. Lists (`call`, `step`) are
 * read with `getBigInt64` and need no fix; the check costs one comparison.
 *
 * @param {WitValue} v
 */
export function fromValue(v) {
  const x = v.val;
  if (x === undefined) return null;
  return typeof x === 'bigint' && x > I64_MAX ? x - U64 : x;
}

/** Whether `r` is a promise or another thenable. */
function isThenable(r) {
  return r !== null && typeof r === 'object' && typeof r.then === 'function';
}

/**
 * The result of calling a user function: its value converted, or a promise
 * of that when the function is `async`.
 */
function settle(r, name) {
  if (isThenable(r)) {
    return Promise.resolve(r).then(
      (v) => toValue(v, name),
      (e) => fail(errorMessage(e)),
    );
  }
  return toValue(r, name);
}

// ---------------------------------------------------------------------------
// Columns (`call-columns`, `step-columns`, `inverse-columns`)
//
// A batch is decoded into one array-like of JavaScript arguments per column
// (`rows` long, `null` for NULL), exactly the values the row-at-a-time entry
// points would pass; results are gathered as WIT values and laid out as one
// column. The checks and their messages are the Rust SDK's.

const NON_ASCII = /[^\x00-\x7f]/;

/** Whether bit `i` of the validity bitmap `bits` says row `i` is NULL. */
function isNullBit(bits, i) {
  return (bits[i >> 3] & (1 << (i & 7))) === 0;
}

/**
 * Checks the `offsets` of a TEXT or BLOB column over data of `len` bytes:
 * at least one, the last one the data's end, non-decreasing; returns the
 * problem, or null.
 */
function checkOffsets(offsets, len) {
  const n = offsets.length;
  if (n === 0) return 'no offsets (a column of n rows has n + 1)';
  const last = offsets[n - 1];
  if (last !== len) return `the last offset is ${last} but the data has ${len} bytes`;
  for (let i = 1; i < n; i++) {
    if (offsets[i - 1] > offsets[i]) return `offsets decrease at row ${i}`;
  }
  return null;
}

/**
 * The UTF-16 index in `s` of each UTF-8 byte offset in `offsets` (which are
 * non-decreasing and end at `s`'s UTF-8 length), or the offset that falls
 * inside a character, as `{ bad }`.
 */
function textIndices(s, offsets) {
  const n = offsets.length;
  const at = new Array(n);
  let pos = 0; // UTF-16 index
  let byte = 0; // its UTF-8 offset
  for (let k = 0; k < n; k++) {
    const target = offsets[k];
    while (byte < target) {
      const c = s.charCodeAt(pos);
      if (c < 0x80) {
        byte += 1;
        pos += 1;
      } else if (c < 0x800) {
        byte += 2;
        pos += 1;
      } else if (c >= 0xd800 && c <= 0xdbff && pos + 1 < s.length && (s.charCodeAt(pos + 1) & 0xfc00) === 0xdc00) {
        byte += 4;
        pos += 2;
      } else {
        // A lone surrogate is encoded as U+FFFD: three bytes, as the bindings do.
        byte += 3;
        pos += 1;
      }
    }
    if (byte !== target) return { bad: target };
    at[k] = pos;
  }
  return at;
}

/** A column's values for `rows` rows, or `{ error }`; `k` is its 1-based number. */
function decodeColumn(col, rows, k) {
  const bad = (what) => ({ error: `column ${k}: ${what}` });
  if (col === null || typeof col !== 'object') return bad(`not a column: ${typeName(col)}`);
  const c = col.val;
  if (c === null || typeof c !== 'object') return bad(`a ${String(col.tag)} column without its record or list`);
  let len;
  let valid;
  let tag = col.tag;
  let textAt = null; // UTF-16 indices of a non-ASCII TEXT column's offsets
  switch (tag) {
    case 'integers':
    case 'reals':
      len = c.data.length;
      valid = c.valid;
      break;
    case 'texts': {
      const s = c.data;
      if (typeof s !== 'string') return bad(`TEXT data must be a string, got ${typeName(s)}`);
      const ascii = !NON_ASCII.test(s);
      const problem = checkOffsets(c.offsets, ascii ? s.length : utf8Length(s));
      if (problem !== null) return bad(problem);
      if (!ascii) {
        const at = textIndices(s, c.offsets);
        if (!Array.isArray(at)) return bad(`offset ${at.bad} is inside a character`);
        textAt = at;
      }
      len = c.offsets.length - 1;
      valid = c.valid;
      break;
    }
    case 'blobs': {
      const problem = checkOffsets(c.offsets, c.data.length);
      if (problem !== null) return bad(problem);
      len = c.offsets.length - 1;
      valid = c.valid;
      break;
    }
    case 'values':
      len = c.length;
      valid = undefined;
      break;
    default:
      return bad(`unknown column kind ${JSON.stringify(tag)}`);
  }
  if (len !== rows) return bad(`${len} values for ${rows} rows`);
  if (valid === null) valid = undefined;
  if (valid !== undefined && valid.length < Math.ceil(rows / 8)) {
    return bad(`a validity bitmap of ${valid.length} bytes for ${rows} rows`);
  }

  switch (tag) {
    case 'integers':
    case 'reals': {
      const data = c.data;
      // A typed array without NULLs is its own argument list.
      if (valid === undefined) return data;
      const out = new Array(rows);
      for (let i = 0; i < rows; i++) out[i] = isNullBit(valid, i) ? null : data[i];
      return out;
    }
    case 'texts': {
      const s = c.data;
      const at = textAt ?? c.offsets;
      const out = new Array(rows);
      for (let i = 0; i < rows; i++) {
        out[i] = valid !== undefined && isNullBit(valid, i) ? null : s.slice(at[i], at[i + 1]);
      }
      return out;
    }
    case 'blobs': {
      const data = isUint8Array(c.data) ? c.data : Uint8Array.from(c.data);
      const offsets = c.offsets;
      const out = new Array(rows);
      // A copy per row, as a row call gets: no argument shares a buffer.
      for (let i = 0; i < rows; i++) {
        out[i] = valid !== undefined && isNullBit(valid, i) ? null : data.slice(offsets[i], offsets[i + 1]);
      }
      return out;
    }
    default: {
      const out = new Array(rows);
      for (let i = 0; i < rows; i++) out[i] = fromValue(c[i]);
      return out;
    }
  }
}

/**
 * Decodes every column of a batch: the per-column arguments, or
 * `{ error }` for the first malformed column.
 *
 * @param {WitColumn[]} cols
 * @param {number} rows
 */
export function decodeColumns(cols, rows) {
  const out = new Array(cols.length);
  for (let k = 0; k < cols.length; k++) {
    const d = decodeColumn(cols[k], rows, k + 1);
    if (d.error !== undefined) return d;
    out[k] = d;
  }
  return out;
}

/**
 * The column of `results` (WIT values, one per row): typed when every
 * non-NULL result has one storage class, `values` when the classes are
 * mixed, every row is NULL or there are no rows.
 *
 * @param {WitValue[]} results
 * @returns {WitColumn}
 */
export function buildColumn(results) {
  const rows = results.length;
  let tag = null;
  let nulls = 0;
  for (let i = 0; i < rows; i++) {
    const t = results[i].tag;
    if (t === 'null') nulls++;
    else if (tag === null) tag = t;
    else if (t !== tag) return { tag: 'values', val: results };
  }
  if (tag === null) return { tag: 'values', val: results };
  let valid;
  if (nulls > 0) {
    valid = new Uint8Array((rows + 7) >> 3);
    for (let i = 0; i < rows; i++) if (results[i].tag !== 'null') valid[i >> 3] |= 1 << (i & 7);
  }
  switch (tag) {
    case 'integer': {
      const data = new BigInt64Array(rows);
      for (let i = 0; i < rows; i++) {
        const v = results[i];
        if (v.tag !== 'null') data[i] = v.val;
      }
      return { tag: 'integers', val: { data, valid } };
    }
    case 'real': {
      const data = new Float64Array(rows);
      for (let i = 0; i < rows; i++) {
        const v = results[i];
        if (v.tag !== 'null') data[i] = v.val;
      }
      return { tag: 'reals', val: { data, valid } };
    }
    case 'text': {
      const offsets = new Uint32Array(rows + 1);
      const parts = [];
      let at = 0;
      for (let i = 0; i < rows; i++) {
        const v = results[i];
        if (v.tag !== 'null') {
          parts.push(v.val);
          at += utf8Length(v.val);
        }
        offsets[i + 1] = at;
      }
      return { tag: 'texts', val: { offsets, data: parts.join(''), valid } };
    }
    default: {
      // blob
      const offsets = new Uint32Array(rows + 1);
      let at = 0;
      for (let i = 0; i < rows; i++) {
        const v = results[i];
        if (v.tag !== 'null') at += v.val.length;
        offsets[i + 1] = at;
      }
      const data = new Uint8Array(at);
      for (let i = 0; i < rows; i++) {
        const v = results[i];
        if (v.tag !== 'null') data.set(v.val, offsets[i]);
      }
      return { tag: 'blobs', val: { offsets, data, valid } };
    }
  }
}

/**
 * The bytes a `serialize` callback returned, as a Uint8Array, or an error
 * variant for anything else.
 */
function toBytes(r, name) {
  if (r instanceof Uint8Array) return r;
  if (ArrayBuffer.isView(r)) return new Uint8Array(r.buffer, r.byteOffset, r.byteLength);
  if (isArrayBuffer(r)) return new Uint8Array(r);
  if (isThenable(r)) return fail(`${name}: serialize must be synchronous (it returned a promise)`);
  return fail(`${name}: serialize returned a value of type ${typeName(r)} (return a Uint8Array, an ArrayBuffer or another typed array)`);
}

// ---------------------------------------------------------------------------
// Registration

const OPTION_KEYS = ['deterministic', 'innocuous', 'directOnly', 'arity', 'returns', 'params'];
/** A table function's options: `columns` instead of `returns`. */
const TABLE_OPTION_KEYS = ['deterministic', 'innocuous', 'directOnly', 'arity', 'params', 'columns'];
const SPEC_KEYS = new Set(['init', 'step', 'final', 'inverse', 'value', 'serialize', 'merge']);
/** The WIT `value-type` cases, as componentize-js names them. */
const VALUE_TYPES = ['integer', 'real', 'text', 'blob', 'any'];
const VALUE_TYPE_LIST = VALUE_TYPES.map((t) => JSON.stringify(t)).join(', ');

/** ASCII-only case folding, as SQLite matches function names. */
function foldName(name) {
  return name.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function checkName(what, name) {
  if (typeof name !== 'string') {
    throw new TypeError(`${what}: the function name must be a string, got ${typeName(name)}`);
  }
  if (name.length === 0) throw new TypeError(`${what}: the function name must not be empty`);
  if (name.includes('\0')) throw new TypeError(`${what}(${JSON.stringify(name)}): the function name must not contain NUL`);
  if (utf8Length(name) > MAX_NAME_BYTES) {
    throw new TypeError(`${what}(${JSON.stringify(name)}): the function name is longer than ${MAX_NAME_BYTES} bytes`);
  }
}

function checkOptions(label, options, known = OPTION_KEYS) {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${label}: options must be an object`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`${label}: unknown option ${JSON.stringify(key)} (known: ${known.join(', ')})`);
    }
  }
  for (const key of ['deterministic', 'innocuous', 'directOnly']) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') {
      throw new TypeError(`${label}: option ${key} must be a boolean`);
    }
  }
  return options;
}

function checkArity(label, arity) {
  if (!Number.isInteger(arity) || arity < -1 || arity > 32767) {
    throw new TypeError(`${label}: arity must be an integer from 0 to 32767, or -1 for any number of arguments; got ${String(arity)}`);
  }
  return arity;
}

function describe(v) {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || typeof v !== 'object') return String(v);
  return typeName(v);
}

/**
 * The declared result class (`returns`), or undefined when not declared
 * (the WIT `option` none).
 */
function checkReturns(label, returns) {
  if (returns === undefined || returns === null) return undefined;
  if (!VALUE_TYPES.includes(returns)) {
    throw new TypeError(`${label}: option returns must be one of ${VALUE_TYPE_LIST}; got ${describe(returns)}`);
  }
  return returns;
}

/**
 * The declared argument classes (`params`): one per argument, or one for
 * all of them when the function is variadic; undefined when not declared.
 */
function checkParams(label, params, arity) {
  if (params === undefined || params === null) return undefined;
  if (!Array.isArray(params)) {
    throw new TypeError(`${label}: option params must be an array of ${VALUE_TYPE_LIST}, one per argument; got ${describe(params)}`);
  }
  for (let i = 0; i < params.length; i++) {
    if (!VALUE_TYPES.includes(params[i])) {
      throw new TypeError(`${label}: params[${i}] must be one of ${VALUE_TYPE_LIST}; got ${describe(params[i])}`);
    }
  }
  if (arity === -1) {
    if (params.length !== 1) {
      throw new TypeError(
        `${label}: a variadic function (arity -1) declares params as one type for all its arguments, e.g. ['any']; got ${params.length}`,
      );
    }
  } else if (params.length !== arity) {
    throw new TypeError(
      `${label}: params declares ${params.length} type${params.length === 1 ? '' : 's'}, but the function takes ${arity} argument${arity === 1 ? '' : 's'}`,
    );
  }
  return params.slice();
}

/** The most columns a table function may have, its argument columns included (the host's limit). */
const MAX_TABLE_COLUMNS = 1000;

/**
 * The result columns of a table function of `arity` arguments: a non-empty
 * array of names, each 1 to 255 UTF-8 bytes without NUL, none twice and
 * none the name of a hidden argument column (`arg1`..`argN`), compared
 * ASCII case-insensitively as SQLite compares column names.
 */
function checkColumns(label, columns, arity) {
  if (columns === undefined || columns === null) {
    throw new TypeError(`${label}: option columns is required: the names of the result columns, e.g. { columns: ['value'] }`);
  }
  if (!Array.isArray(columns)) {
    throw new TypeError(`${label}: option columns must be an array of column names; got ${describe(columns)}`);
  }
  if (columns.length === 0) throw new TypeError(`${label}: option columns must name at least one column`);
  if (columns.length + arity > MAX_TABLE_COLUMNS) {
    throw new TypeError(
      `${label}: ${columns.length} columns and ${arity} arguments; a table function may have at most ${MAX_TABLE_COLUMNS} in all`,
    );
  }
  const seen = new Map();
  for (let i = 1; i <= arity; i++) seen.set(`arg${i}`, null);
  for (let i = 0; i < columns.length; i++) {
    const c = columns[i];
    if (typeof c !== 'string') throw new TypeError(`${label}: columns[${i}] must be a string; got ${describe(c)}`);
    if (c.length === 0) throw new TypeError(`${label}: columns[${i}] must not be empty`);
    if (c.includes('\0')) throw new TypeError(`${label}: columns[${i}] must not contain NUL`);
    if (utf8Length(c) > MAX_NAME_BYTES) throw new TypeError(`${label}: columns[${i}] is longer than ${MAX_NAME_BYTES} bytes`);
    const folded = foldName(c);
    if (seen.has(folded)) {
      const first = seen.get(folded);
      throw new TypeError(
        first === null
          ? `${label}: column ${JSON.stringify(c)} has the name of a hidden argument column (arg1..arg${arity} carry the arguments)`
          : `${label}: column ${JSON.stringify(c)} is declared twice (as ${JSON.stringify(first)} before; column names are matched case-insensitively)`,
      );
    }
    seen.set(folded, c);
  }
  return columns.slice();
}

function flagsOf(options) {
  return {
    deterministic: options.deterministic === true,
    innocuous: options.innocuous === true,
    directOnly: options.directOnly === true,
  };
}

function mismatch(name, arity, got) {
  return fail(`${name} takes ${arity} argument${arity === 1 ? '' : 's'}, but was called with ${got}`);
}

/**
 * A registry of functions: what one component exports. The module-level
 * default registry backs `scalar`, `aggregate`, `window` and `table`; tests make their
 * own.
 */
export class Registry {
  constructor() {
    /** @type {object[]} the functions, in manifest order */
    this.entries = [];
    /** @type {Set<string>} folded name + '/' + arity */
    this.keys = new Set();
    /** @type {Set<string>} folded names of the table functions */
    this.tables = new Set();
    /** @type {object[] | null} the manifest, once the host asked for it */
    this.specs = null;
  }

  #add(label, name, arity, entry) {
    if (this.specs !== null) {
      throw new Error(`${label}(${JSON.stringify(name)}): functions must be registered when the module is evaluated (at its top level), not during a call`);
    }
    const folded = foldName(name);
    // SQLite knows a table function (an eponymous virtual table) by its
    // name alone: a second one of that name would replace the first.
    if (entry.kind === 'table' && this.tables.has(folded)) {
      throw new Error(
        `${label}(${JSON.stringify(name)}): a table function named ${JSON.stringify(name)} is already registered ` +
          '(SQLite knows a table function by its name alone, whatever its arity, matched case-insensitively)',
      );
    }
    const key = `${folded}/${arity}`;
    if (this.keys.has(key)) {
      throw new Error(
        `${label}(${JSON.stringify(name)}): a function named ${JSON.stringify(name)} with ` +
          (arity === -1 ? 'any number of arguments' : `${arity} argument${arity === 1 ? '' : 's'}`) +
          ' is already registered (SQLite matches names case-insensitively)',
      );
    }
    this.keys.add(key);
    if (entry.kind === 'table') this.tables.add(folded);
    this.entries.push(entry);
  }

  /**
   * Registers a scalar function.
   *
   * @param {string} name the SQL name
   * @param {(...args: any[]) => any} fn called once per row with the converted arguments
   * @param {{ deterministic?: boolean, innocuous?: boolean, directOnly?: boolean, arity?: number, returns?: ValueType, params?: ValueType[] }} [options]
   */
  scalar(name, fn, options) {
    checkName('scalar', name);
    const label = `scalar(${JSON.stringify(name)})`;
    if (typeof fn !== 'function') throw new TypeError(`${label}: the function must be a function, got ${typeName(fn)}`);
    const opts = checkOptions(label, options);
    const arity = checkArity(label, opts.arity ?? fn.length);
    const returns = checkReturns(label, opts.returns);
    const params = checkParams(label, opts.params, arity);
    this.#add('scalar', name, arity, {
      kind: 'scalar',
      name,
      arity,
      flags: flagsOf(opts),
      returns,
      params,
      fn,
      // Whether call0..call3 / fast1..fast3 may call it.
      takes0: arity === 0 || arity === -1,
      takes1: arity === 1 || arity === -1,
      takes2: arity === 2 || arity === -1,
      takes3: arity === 3 || arity === -1,
    });
  }

  /**
   * Registers an aggregate function, or a window function when `spec` has
   * both `inverse` and `value`.
   *
   * @param {string} name
   * @param {AccumulatorSpec} spec
   * @param {{ deterministic?: boolean, innocuous?: boolean, directOnly?: boolean, arity?: number, returns?: ValueType, params?: ValueType[] }} [options]
   */
  aggregate(name, spec, options) {
    this.#accumulator('aggregate', name, spec, options, false);
  }

  /**
   * Registers a window function: an aggregate whose `spec` must have
   * `inverse` and `value`.
   */
  window(name, spec, options) {
    this.#accumulator('window', name, spec, options, true);
  }

  #accumulator(what, name, spec, options, mustWindow) {
    checkName(what, name);
    const label = `${what}(${JSON.stringify(name)})`;
    if (spec === null || typeof spec !== 'object') {
      throw new TypeError(`${label}: the second argument must be an object { init, step, final, inverse, value, serialize, merge }`);
    }
    for (const key of Object.keys(spec)) {
      if (!SPEC_KEYS.has(key)) {
        throw new TypeError(`${label}: unknown member ${JSON.stringify(key)} (known: init, step, final, inverse, value, serialize, merge)`);
      }
    }
    for (const key of SPEC_KEYS) {
      if (spec[key] !== undefined && typeof spec[key] !== 'function') {
        throw new TypeError(`${label}: ${key} must be a function, got ${typeName(spec[key])}`);
      }
    }
    const { init, step, final, inverse, value, serialize, merge } = spec;
    if (step === undefined) throw new TypeError(`${label}: step(state, ...args) is required`);
    const isWindow = inverse !== undefined || value !== undefined;
    if (isWindow && (inverse === undefined || value === undefined)) {
      throw new TypeError(`${label}: a window function needs both inverse(state, ...args) and value(state); give both or neither`);
    }
    if (mustWindow && !isWindow) {
      throw new TypeError(`${label}: a window function needs inverse(state, ...args) and value(state)`);
    }
    if ((serialize === undefined) !== (merge === undefined)) {
      throw new TypeError(
        `${label}: a mergeable function needs both serialize(state) and merge(state, bytes); give both or neither`,
      );
    }
    const opts = checkOptions(label, options);
    let arity = opts.arity;
    if (arity === undefined) {
      if (step.length === 0) {
        throw new TypeError(`${label}: cannot tell the arity from step, which declares no parameters; pass { arity } in the options (-1 for any number)`);
      }
      arity = step.length - 1;
    }
    checkArity(label, arity);
    const returns = checkReturns(label, opts.returns);
    const params = checkParams(label, opts.params, arity);
    this.#add(what, name, arity, {
      kind: isWindow ? 'window' : 'aggregate',
      name,
      arity,
      flags: flagsOf(opts),
      returns,
      params,
      init: init ?? (() => null),
      step,
      final: final ?? ((s) => s),
      inverse: inverse ?? null,
      value: value ?? null,
      serialize: serialize ?? null,
      merge: merge ?? null,
    });
  }

  /**
   * Registers a table-valued function.
   *
   * @param {string} name the SQL name
   * @param {(...args: any[]) => Iterable<any[]> | Iterator<any[]>} fn called once per
   *   call with the converted arguments; returns the rows, each an array of
   *   one value per column (typically a generator function)
   * @param {{ columns: string[], deterministic?: boolean, innocuous?: boolean, directOnly?: boolean, arity?: number, params?: ValueType[] }} options
   */
  table(name, fn, options) {
    checkName('table', name);
    const label = `table(${JSON.stringify(name)})`;
    if (typeof fn !== 'function') throw new TypeError(`${label}: the function must be a function, got ${typeName(fn)}`);
    if (options === undefined) {
      throw new TypeError(`${label}: options with the result columns are required, e.g. { columns: ['value'] }`);
    }
    if (options !== null && typeof options === 'object' && options.returns !== undefined) {
      throw new TypeError(`${label}: a table function has no option returns: its results are the rows of its columns`);
    }
    const opts = checkOptions(label, options, TABLE_OPTION_KEYS);
    const arity = checkArity(label, opts.arity ?? fn.length);
    if (arity === -1) {
      throw new TypeError(`${label}: a table function takes a fixed number of arguments; arity -1 (any number) is not allowed`);
    }
    const params = checkParams(label, opts.params, arity);
    const columns = checkColumns(label, opts.columns, arity);
    this.#add('table', name, arity, {
      kind: 'table',
      name,
      arity,
      flags: flagsOf(opts),
      returns: undefined,
      params,
      columns,
      fn,
    });
  }

  /** The manifest; after this call no more functions can be registered. */
  manifest() {
    if (this.specs === null) {
      this.specs = this.entries.map((e) => ({
        name: e.name,
        arity: e.arity,
        kind: e.kind,
        flags: e.flags,
        // WIT options: undefined is none.
        returns: e.returns,
        params: e.params,
        mergeable: (e.kind === 'aggregate' || e.kind === 'window') && e.serialize !== null,
        // Empty for every kind but `table`.
        columns: e.kind === 'table' ? e.columns : [],
      }));
    }
    return this.specs;
  }
}

// ---------------------------------------------------------------------------
// Aggregates

/**
 * Applies `fn` (step or inverse) to `rows` rows of `args`, updating the
 * state of `acc`. `boxed` says whether `args` holds WIT values (`step`,
 * `inverse`) or bare numbers (`step-integers`, `step-reals`).
 */
function applyRows(acc, fn, args, rows, boxed) {
  if (acc.entry === null) return fail('accumulator already finished');
  const n = args.length;
  if (rows === 0) return n === 0 ? undefined : fail(`${n} arguments for 0 rows`);
  const width = n / rows;
  if (!Number.isInteger(width)) return fail(`${n} arguments do not split into ${rows} rows`);
  const e = acc.entry;
  if (e.arity !== -1 && width !== e.arity) {
    return mismatch(e.name, e.arity, width);
  }
  let s = acc.state;
  try {
    let r;
    switch (width) {
      case 0:
        for (let i = 0; i < rows; i++) {
          r = fn(s);
          if (r !== undefined) s = r;
        }
        break;
      case 1:
        if (boxed) {
          for (let i = 0; i < n; i++) {
            r = fn(s, args[i].val ?? null);
            if (r !== undefined) s = r;
          }
        } else {
          for (let i = 0; i < n; i++) {
            r = fn(s, args[i]);
            if (r !== undefined) s = r;
          }
        }
        break;
      case 2:
        if (boxed) {
          for (let i = 0; i < n; i += 2) {
            r = fn(s, args[i].val ?? null, args[i + 1].val ?? null);
            if (r !== undefined) s = r;
          }
        } else {
          for (let i = 0; i < n; i += 2) {
            r = fn(s, args[i], args[i + 1]);
            if (r !== undefined) s = r;
          }
        }
        break;
      default: {
        // One buffer for every row: `apply` copies it.
        const row = new Array(width + 1);
        for (let i = 0; i < n; i += width) {
          row[0] = s;
          for (let j = 0; j < width; j++) {
            row[j + 1] = boxed ? args[i + j].val ?? null : args[i + j];
          }
          r = fn.apply(undefined, row);
          if (r !== undefined) s = r;
        }
      }
    }
  } catch (err) {
    acc.state = s;
    return fail(errorMessage(err));
  }
  acc.state = s;
  if (isThenable(s)) {
    return fail(`${e.name}: step and inverse must be synchronous (one returned a promise)`);
  }
  return undefined;
}

/**
 * Applies `fn` (step or inverse) to the `rows` rows of the columns `cols`,
 * in order, as `applyRows` does for the same rows given value by value.
 */
function applyColumns(acc, fn, cols, rows) {
  const e = acc.entry;
  if (e === null) return fail('accumulator already finished');
  const width = cols.length;
  if (e.arity !== -1 && width !== e.arity) return mismatch(e.name, e.arity, width);
  const args = decodeColumns(cols, rows);
  if (args.error !== undefined) return fail(args.error);
  let s = acc.state;
  try {
    let r;
    switch (width) {
      case 0:
        for (let i = 0; i < rows; i++) {
          r = fn(s);
          if (r !== undefined) s = r;
        }
        break;
      case 1: {
        const a = args[0];
        for (let i = 0; i < rows; i++) {
          r = fn(s, a[i]);
          if (r !== undefined) s = r;
        }
        break;
      }
      case 2: {
        const a = args[0];
        const b = args[1];
        for (let i = 0; i < rows; i++) {
          r = fn(s, a[i], b[i]);
          if (r !== undefined) s = r;
        }
        break;
      }
      default: {
        const row = new Array(width + 1);
        for (let i = 0; i < rows; i++) {
          row[0] = s;
          for (let j = 0; j < width; j++) row[j + 1] = args[j][i];
          r = fn.apply(undefined, row);
          if (r !== undefined) s = r;
        }
      }
    }
  } catch (err) {
    acc.state = s;
    return fail(errorMessage(err));
  }
  acc.state = s;
  if (isThenable(s)) {
    return fail(`${e.name}: step and inverse must be synchronous (one returned a promise)`);
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Table functions

/** The key under which componentize-js's bindings look for a resource's destructor. */
const DISPOSE = typeof Symbol.dispose === 'symbol' ? Symbol.dispose : Symbol.for('dispose');

/**
 * The iterator of the rows a table function returned: an iterable's
 * iterator (arrays, generators, Sets...), or the value itself when it is
 * an iterator (has `next`). Throws a TypeError for anything else.
 */
function rowIterator(r, name) {
  if (r !== null && (typeof r === 'object' || typeof r === 'function')) {
    if (isThenable(r)) {
      throw new TypeError(`${name}: a table function must be synchronous (it returned a promise)`);
    }
    const iter = r[Symbol.iterator];
    if (typeof iter === 'function') {
      const it = iter.call(r);
      if (it === null || (typeof it !== 'object' && typeof it !== 'function') || typeof it.next !== 'function') {
        throw new TypeError(`${name}: the iterable it returned gave an iterator without next()`);
      }
      return it;
    }
    // An async generator has `next` too: told apart by its async iterator.
    if (typeof r[Symbol.asyncIterator] === 'function') {
      throw new TypeError(`${name}: a table function must be synchronous (it returned an async iterable; use function*, not async function*)`);
    }
    if (typeof r.next === 'function') return r;
  }
  throw new TypeError(
    `${name} returned a value of type ${typeName(r)}, which is not iterable ` +
      '(return an array or another iterable of rows, or make it a generator function)',
  );
}

/** "1 value", "2 values". */
function plural(n, what) {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

// ---------------------------------------------------------------------------
// The `wasmudf:udf/guest` interface

/**
 * Makes the object componentize-js binds to the `guest` interface for the
 * functions of `registry`.
 *
 * @param {Registry} registry
 */
export function makeGuest(registry) {
  const entries = registry.entries;
  /** The TEXT, BLOB or error result of the last fast call, until `takeResult`. */
  let deferred = null;
  // Fast results are consumed by the bindings before the next call can
  // start, so two mutable objects serve every numeric result.
  const fastInt = { tag: 'integer', val: 0n };
  const fastReal = { tag: 'real', val: 0 };

  class Accumulator {
    constructor(entry, state) {
      /** The registration, or null once finished. */
      this.entry = entry;
      this.state = state;
    }

    static create(id) {
      const e = entries[id];
      if (e === undefined) return fail(`no function with id ${id}`);
      if (e.kind !== 'aggregate' && e.kind !== 'window') {
        return fail(`function ${id} (${e.name}) is not an aggregate or window function`);
      }
      let s;
      try {
        s = e.init();
      } catch (err) {
        return fail(errorMessage(err));
      }
      if (isThenable(s)) return fail(`${e.name}: init must be synchronous (it returned a promise)`);
      return new Accumulator(e, s);
    }

    step(args, rows) {
      return applyRows(this, this.entry?.step, args, rows, true);
    }

    stepIntegers(args, rows) {
      return applyRows(this, this.entry?.step, args, rows, false);
    }

    stepReals(args, rows) {
      return applyRows(this, this.entry?.step, args, rows, false);
    }

    inverse(args, rows) {
      const e = this.entry;
      if (e !== null && e.inverse === null) return fail(`${e.name} is not a window function`);
      return applyRows(this, e?.inverse, args, rows, true);
    }

    stepColumns(args, rows) {
      try {
        return applyColumns(this, this.entry?.step, args, rows);
      } catch (err) {
        return fail(errorMessage(err));
      }
    }

    inverseColumns(args, rows) {
      const e = this.entry;
      if (e !== null && e.inverse === null) return fail(`${e.name} is not a window function`);
      try {
        return applyColumns(this, e?.inverse, args, rows);
      } catch (err) {
        return fail(errorMessage(err));
      }
    }

    /** The author's bytes for the current state, which stays usable. */
    serialize() {
      const e = this.entry;
      if (e === null) return fail('accumulator already finished');
      if (e.serialize === null) return fail(`function ${e.name} is not mergeable`);
      let r;
      try {
        r = e.serialize(this.state);
      } catch (err) {
        return fail(errorMessage(err));
      }
      return toBytes(r, e.name);
    }

    /** Folds the serialized state `bytes` into this one. */
    merge(bytes) {
      const e = this.entry;
      if (e === null) return fail('accumulator already finished');
      if (e.merge === null) return fail(`function ${e.name} is not mergeable`);
      let r;
      try {
        r = e.merge(this.state, bytes);
      } catch (err) {
        return fail(errorMessage(err));
      }
      if (isThenable(r)) return fail(`${e.name}: merge must be synchronous (it returned a promise)`);
      if (r !== undefined) this.state = r;
      return undefined;
    }

    value() {
      const e = this.entry;
      if (e === null) return fail('accumulator already finished');
      if (e.value === null) return fail(`${e.name} is not a window function`);
      let r;
      try {
        r = e.value(this.state);
      } catch (err) {
        return fail(errorMessage(err));
      }
      return settle(r, e.name);
    }

    static finish(acc) {
      const e = acc.entry;
      if (e === null) return fail('accumulator already finished');
      const s = acc.state;
      acc.entry = null;
      acc.state = undefined;
      let r;
      try {
        r = e.final(s);
      } catch (err) {
        return fail(errorMessage(err));
      }
      return settle(r, e.name);
    }
  }

  /**
   * One call of a table function: the iterator of its rows, read a batch at
   * a time. The host drops the handle when SQLite stops reading; the
   * bindings then call `[Symbol.dispose]`, which closes the iterator (so a
   * generator's `finally` runs) if it has not ended.
   */
  class Cursor {
    constructor(entry, iterator) {
      this.entry = entry;
      /** The rows' iterator, or null once they ended (or failed). */
      this.iterator = iterator;
    }

    /** Calls table function `id` over `args` (a fresh list the bindings made). */
    static open(id, args) {
      const e = entries[id];
      if (e === undefined) return fail(`no function with id ${id}`);
      if (e.kind !== 'table') return fail(`function ${id} (${e.name}) is not a table function`);
      const n = args.length;
      if (n !== e.arity) return mismatch(e.name, e.arity, n);
      // Lists are read with getBigInt64: signed already.
      for (let i = 0; i < n; i++) args[i] = args[i].val ?? null;
      let it;
      try {
        it = rowIterator(e.fn.apply(undefined, args), e.name);
      } catch (err) {
        return fail(errorMessage(err));
      }
      return new Cursor(e, it);
    }

    /**
     * Up to `maxRows` rows, row after row, each one value per column; fewer
     * only at the end, none after it. An error (a throw from the iterator, a
     * row of the wrong width, a value without SQLite type) fails the batch
     * and ends the cursor.
     */
    next(maxRows) {
      const it = this.iterator;
      if (it === null) return [];
      const e = this.entry;
      const columns = e.columns;
      const width = columns.length;
      const out = [];
      let rows = 0;
      try {
        while (rows < maxRows) {
          const step = it.next();
          if (step === null || typeof step !== 'object') {
            this.#close();
            return fail(`${e.name}: its iterator's next() returned ${describe(step)}, not an object { done, value }`);
          }
          if (isThenable(step)) {
            this.#close();
            return fail(`${e.name}: a table function must be synchronous (its iterator's next() returned a promise)`);
          }
          if (step.done) {
            this.iterator = null;
            break;
          }
          const row = step.value;
          if (!Array.isArray(row)) {
            this.#close();
            return fail(
              `${e.name}: a row must be an array of ${plural(width, 'value')} (${columns.join(', ')}); got ${describe(row)}`,
            );
          }
          if (row.length !== width) {
            this.#close();
            return fail(`a row has ${plural(row.length, 'value')}; the function declares ${plural(width, 'column')}`);
          }
          for (let j = 0; j < width; j++) {
            const x = toValue(row[j], e.name);
            if (x.tag === 'err') {
              this.#close();
              return fail(`column ${JSON.stringify(columns[j])}: ${x.val}`);
            }
            // A BLOB is copied: the iterator may reuse its buffer for the next row.
            out.push(x.tag === 'blob' ? { tag: 'blob', val: x.val.slice() } : x);
          }
          rows++;
        }
      } catch (err) {
        // A throwing iterator is finished already: nothing to close.
        this.iterator = null;
        return fail(errorMessage(err));
      }
      return out;
    }

    /** Called by the bindings when the host drops the cursor. */
    [DISPOSE]() {
      this.#close();
    }

    /** Ends the cursor, closing an iterator that has not ended. Never throws. */
    #close() {
      const it = this.iterator;
      this.iterator = null;
      if (it === null) return;
      try {
        if (typeof it.return === 'function') it.return();
      } catch {
        // The rows are abandoned either way.
      }
    }
  }

  /** The error for a call to `id` with `n` arguments that cannot be made. */
  function badCall(id, n) {
    const e = entries[id];
    if (e === undefined) return fail(`no function with id ${id}`);
    if (e.kind !== 'scalar') return fail(`function ${id} (${e.name}) is not a scalar function`);
    return mismatch(e.name, e.arity, n);
  }

  /**
   * Runs scalar `e` over rows `start..rows` of the decoded columns `args`,
   * filling `out` with the WIT results: the result column, the first
   * failing row's error, or a promise of either once a row's result is a
   * promise (the rows after it then wait for it, as row calls would).
   */
  function runColumns(e, args, rows, start, out) {
    const fn = e.fn;
    const width = args.length;
    const a = args[0];
    const b = args[1];
    const c = args[2];
    const row = width > 3 ? new Array(width) : null;
    for (let i = start; i < rows; i++) {
      let r;
      try {
        switch (width) {
          case 0:
            r = fn();
            break;
          case 1:
            r = fn(a[i]);
            break;
          case 2:
            r = fn(a[i], b[i]);
            break;
          case 3:
            r = fn(a[i], b[i], c[i]);
            break;
          default:
            for (let j = 0; j < width; j++) row[j] = args[j][i];
            r = fn.apply(undefined, row);
        }
      } catch (err) {
        return fail(errorMessage(err));
      }
      if (isThenable(r)) {
        return Promise.resolve(r).then(
          (v) => {
            const x = collect(v, e);
            if (x.tag === 'err') return x;
            out[i] = x;
            return runColumns(e, args, rows, i + 1, out);
          },
          (err) => fail(errorMessage(err)),
        );
      }
      const x = collect(r, e);
      if (x.tag === 'err') return x;
      out[i] = x;
    }
    return buildColumn(out);
  }

  /**
   * A row's result as a WIT value kept until the batch is laid out: a BLOB
   * is copied, since the function may reuse (and overwrite) its buffer for
   * the next row.
   */
  function collect(r, e) {
    const x = toValue(r, e.name);
    return x.tag === 'blob' ? { tag: 'blob', val: x.val.slice() } : x;
  }

  /** Stashes `v` for `takeResult` and says so. */
  function defer(v) {
    deferred = v;
    return DEFERRED;
  }

  /** A fast result for a value the inline cases did not take. */
  /** A user function's result as a `fast-result`: numbers and NULL in place. */
  function fastOut(r, e) {
    switch (typeof r) {
      case 'bigint':
        if (r >= I64_MIN && r <= I64_MAX) {
          fastInt.val = r;
          return fastInt;
        }
        break;
      case 'number':
        fastReal.val = r;
        return fastReal;
      case 'undefined':
        return NULL;
      case 'object':
        if (r === null) return NULL;
        break;
      default:
        break;
    }
    return fastSlow(r, e);
  }

  function fastSlow(r, e) {
    if (isThenable(r)) {
      return Promise.resolve(r).then(
        (v) => fastOf(toValue(v, e.name)),
        (err) => defer(fail(errorMessage(err))),
      );
    }
    return fastOf(toValue(r, e.name));
  }

  /** A fast result for a converted value. */
  function fastOf(v) {
    switch (v.tag) {
      case 'null':
        return NULL;
      case 'integer':
        fastInt.val = v.val;
        return fastInt;
      case 'real':
        fastReal.val = v.val;
        return fastReal;
      default:
        return defer(v);
    }
  }

  // The entry points below are the hot path: SpiderMonkey runs here as an
  // interpreter, where every call and allocation shows, so argument
  // conversion (`fromValue`) and the common results are written out inline.
  // An argument `x` of call1..3 / fast1..3 is fixed as in `fromValue`.
  return {
    manifest() {
      return registry.manifest();
    },

    call0(id) {
      const e = entries[id];
      if (e === undefined || e.takes0 !== true) return badCall(id, 0);
      let r;
      try {
        r = e.fn();
      } catch (err) {
        return fail(errorMessage(err));
      }
      return settle(r, e.name);
    },
    call1(id, a) {
      const e = entries[id];
      if (e === undefined || e.takes1 !== true) return badCall(id, 1);
      let r;
      try {
        r = e.fn(fromValue(a));
      } catch (err) {
        return fail(errorMessage(err));
      }
      return settle(r, e.name);
    },
    call2(id, a, b) {
      const e = entries[id];
      if (e === undefined || e.takes2 !== true) return badCall(id, 2);
      let r;
      try {
        r = e.fn(fromValue(a), fromValue(b));
      } catch (err) {
        return fail(errorMessage(err));
      }
      return settle(r, e.name);
    },
    call3(id, a, b, c) {
      const e = entries[id];
      if (e === undefined || e.takes3 !== true) return badCall(id, 3);
      let r;
      try {
        r = e.fn(fromValue(a), fromValue(b), fromValue(c));
      } catch (err) {
        return fail(errorMessage(err));
      }
      return settle(r, e.name);
    },
    /** `args` is a fresh list the bindings made: it is converted in place. */
    call(id, args) {
      const e = entries[id];
      const n = args.length;
      if (e === undefined || e.kind !== 'scalar' || (e.arity !== -1 && e.arity !== n)) return badCall(id, n);
      // Lists are read with getBigInt64: signed already.
      for (let i = 0; i < n; i++) args[i] = args[i].val ?? null;
      let r;
      try {
        r = e.fn.apply(undefined, args);
      } catch (err) {
        return fail(errorMessage(err));
      }
      return settle(r, e.name);
    },

    /**
     * Scalar `id` over a batch: each row as `call` would run it; the first
     * failing row's error fails the batch.
     */
    callColumns(id, args, rows) {
      const e = entries[id];
      const n = args.length;
      if (e === undefined || e.kind !== 'scalar' || (e.arity !== -1 && e.arity !== n)) return badCall(id, n);
      let cols;
      try {
        cols = decodeColumns(args, rows);
      } catch (err) {
        return fail(errorMessage(err));
      }
      if (cols.error !== undefined) return fail(cols.error);
      return runColumns(e, cols, rows, 0, new Array(rows));
    },

    // The fast entry points return no `result`: they must never throw.
    fast1(id, a) {
      const e = entries[id];
      if (e === undefined || e.takes1 !== true) return defer(badCall(id, 1));
      let r;
      try {
        r = e.fn(fromValue(a));
      } catch (err) {
        return defer(fail(errorMessage(err)));
      }
      return fastOut(r, e);
    },
    fast2(id, a, b) {
      const e = entries[id];
      if (e === undefined || e.takes2 !== true) return defer(badCall(id, 2));
      let r;
      try {
        r = e.fn(fromValue(a), fromValue(b));
      } catch (err) {
        return defer(fail(errorMessage(err)));
      }
      return fastOut(r, e);
    },
    fast3(id, a, b, c) {
      const e = entries[id];
      if (e === undefined || e.takes3 !== true) return defer(badCall(id, 3));
      let r;
      try {
        r = e.fn(fromValue(a), fromValue(b), fromValue(c));
      } catch (err) {
        return defer(fail(errorMessage(err)));
      }
      return fastOut(r, e);
    },
    takeResult() {
      const v = deferred;
      deferred = null;
      return v === null ? fail('no deferred result to take') : v;
    },

    Accumulator,
    Cursor,
  };
}

// ---------------------------------------------------------------------------
// The default registry and the public API

/** The registry the public functions fill: what the component exports. */
export const defaultRegistry = new Registry();

/**
 * Registers a scalar SQL function.
 *
 * @param {string} name the SQL name (matched case-insensitively)
 * @param {(...args: any[]) => any} fn called once per row
 * @param {{ deterministic?: boolean, innocuous?: boolean, directOnly?: boolean, arity?: number, returns?: ValueType, params?: ValueType[] }} [options]
 *   arity defaults to `fn.length`; -1 means any number of arguments.
 *   `returns` and `params` declare the storage classes of the result and
 *   of each argument (one for all of them when variadic) in the manifest.
 */
export function scalar(name, fn, options) {
  defaultRegistry.scalar(name, fn, options);
}

/**
 * Registers an aggregate SQL function (a window function when `spec` has
 * both `inverse` and `value`).
 *
 * @param {string} name
 * @param {AccumulatorSpec} spec with `serialize` and `merge` the
 *   function is mergeable
 * @param {{ deterministic?: boolean, innocuous?: boolean, directOnly?: boolean, arity?: number, returns?: ValueType, params?: ValueType[] }} [options]
 *   arity defaults to `step.length - 1`
 */
export function aggregate(name, spec, options) {
  defaultRegistry.aggregate(name, spec, options);
}

/**
 * Registers a window SQL function: `spec` must have `inverse` and `value`.
 *
 * @param {string} name
 * @param {AccumulatorSpec} spec
 * @param {{ deterministic?: boolean, innocuous?: boolean, directOnly?: boolean, arity?: number, returns?: ValueType, params?: ValueType[] }} [options]
 */
function windowFn(name, spec, options) {
  defaultRegistry.window(name, spec, options);
}
export { windowFn as window };

/**
 * Registers a table-valued SQL function: `SELECT * FROM name(args)`.
 *
 * @param {string} name the SQL name (matched case-insensitively)
 * @param {(...args: any[]) => Iterable<any[]> | Iterator<any[]>} fn called once per call
 *   with the converted arguments; returns (or, as a generator function,
 *   yields) the rows, each an array of one value per column
 * @param {{ columns: string[], deterministic?: boolean, innocuous?: boolean, directOnly?: boolean, arity?: number, params?: ValueType[] }} options
 *   `columns` (required) names the result columns; arity defaults to
 *   `fn.length` and must be fixed
 */
export function table(name, fn, options) {
  defaultRegistry.table(name, fn, options);
}
