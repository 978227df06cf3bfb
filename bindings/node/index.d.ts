/* The types napi-rs cannot derive from the Rust code; scripts/build.mjs
   (with @napi-rs/cli's generator) puts this file at the top of the
   generated index.d.ts. */

/** A value SQLite stores, as this package reads it. */
export type SqlValue = number | bigint | string | Buffer | null
/** A value a parameter takes: `boolean` binds 1 or 0, `undefined` NULL. */
export type BindValue = number | bigint | string | boolean | null | undefined | ArrayBufferView | ArrayBuffer
/** Parameters: an array binds by position, an object by name (with or
 * without the `:`, `@` or `$`), any single value as the first parameter. */
export type BindParameters = BindValue[] | Record<string, BindValue> | BindValue
/** A row: column name to value. */
export type Row = Record<string, SqlValue>
/** What `run()` resolves with. */
export interface RunResult {
  /** Rows inserted, updated or deleted (0 for a statement that only reads). */
  changes: number | bigint
  /** The rowid of the last row inserted on the connection that ran it. */
  lastInsertRowid: number | bigint
}
/** Options every operation takes. */
export interface OperationOptions {
  /** Aborting it interrupts the operation (SQLite and the UDF alike):
   * it rejects with an `AbortError` and commits nothing. */
  signal?: AbortSignal
}
/** Set by index.js: `await using db = new Database(...)` closes it. */
export interface Database {
  [Symbol.asyncDispose](): Promise<void>
}
/** Set by index.js: `for await (const row of stmt.iterate())`. */
export interface RowIterator {
  [Symbol.asyncIterator](): RowIterator
}

/**
 * Which binding artifact the generated loader actually loaded: `'native'` for
 * a native addon, otherwise the `platformArchABI` of the WASI flavor. Every
 * flavor napi-rs can build is listed, because `NAPI_RS_NATIVE_LIBRARY_PATH`
 * can point the loader at a WASI artifact this package does not build itself.
 */
export declare const __napiBindingTarget: 'native' | 'wasm32-wasi' | 'wasm32-wasip1'

/**
 * A SQLite database whose SQL can call the functions of WebAssembly
 * components, with every operation asynchronous: statements run on a pool
 * of threads, so the event loop never waits for SQLite or for a UDF.
 *
 * ```js
 * const db = new Database('app.db', { udf: ['./udf.js'], threads: 4 });
 * const row = await db.prepare('SELECT sleep(200) AS val').get(); // { val: 200 }
 * await db.close();
 * ```
 */
export declare class Database {
  /**
   * Opens `path` (created if missing; in memory when omitted, `null` or
   * `':memory:'`). Opening continues in the background: the first
   * operation waits for it, and `ready` resolves when it is done (or
   * rejects with why it failed). Invalid options throw here.
   */
  constructor(path?: string | null, options?: DatabaseOptions)
  /**
   * Opens a database as the constructor does, and resolves once it is
   * open (or rejects with why it could not be).
   */
  static open(path?: string | null, options?: DatabaseOptions): Promise<Database>
  /**
   * Resolves once the database is open; rejects with why it could not
   * be opened (a bad path, a component that does not load).
   */
  get ready(): Promise<void>
  /** Whether `close` has been called. */
  get closed(): boolean
  /**
   * Whether every INTEGER is read as a `BigInt` (the `safeIntegers`
   * option).
   */
  get safeIntegers(): boolean
  /**
   * A prepared statement. Preparation is lazy: the SQL is compiled (on
   * each connection, then cached there) when the statement first runs,
   * so a syntax error rejects the first `get`/`all`/`run`/`columns`.
   */
  prepare(sql: string): Statement
  /** Runs one or more `;`-separated statements without parameters. */
  exec(sql: string, options?: OperationOptions): Promise<void>
  /**
   * Loads a component file (or a JavaScript module, as `loadJavaScript`
   * does) onto every connection, while queries run: statements prepared
   * after this resolves can call its functions.
   */
  loadComponent(path: string, options?: OperationOptions): Promise<ComponentInfo>
  /**
   * Builds the JavaScript UDF module at `path` into a component with the
   * JavaScript guest SDK (`guests/js`, its pinned componentize-js), in a
   * child process, and loads it. The component is cached by the content
   * of the module and everything it imports: a second start loads it
   * from the cache. The first build of a module takes tens of seconds.
   */
  loadJavaScript(path: string, options?: OperationOptions): Promise<ComponentInfo>
  /**
   * Takes a component away from every connection: running statements
   * finish with it, later ones no longer see its functions. `name` is
   * the path it was loaded from (`ComponentInfo.name`).
   */
  unloadComponent(name: string, options?: OperationOptions): Promise<void>
  /** The functions of every loaded component. */
  functions(): Promise<FunctionInfo[]>
  /** Pool and instance counters. */
  stats(): Promise<DatabaseStats>
  /**
   * Closes the database: later operations reject with
   * `ERR_WASMUDF_CLOSED`; operations already running finish first; open
   * iterators end; then every connection is closed. Resolves when that
   * is done. Also `await using db = ...` (`Symbol.asyncDispose`).
   */
  close(): Promise<void>
}

/**
 * The async iterator `Statement.iterate` returns: `next()` and `return()`
 * as the async iterator protocol has them.
 */
export declare class RowIterator {
  /**
   * The next row: `{ value: row, done: false }`, or `{ value:
   * undefined, done: true }` at the end.
   */
  next(): Promise<IteratorResult<Row, undefined>>
  /**
   * Ends the iteration early (what `break` in `for await` calls):
   * resolves with `{ value: undefined, done: true }`.
   */
  return(): Promise<IteratorResult<Row, undefined>>
}

/**
 * A statement's SQL, run on whichever connection is free each time it is
 * used (prepared there once and then cached). Every method returns a
 * Promise.
 *
 * ```js
 * const stmt = db.prepare('SELECT name FROM users WHERE id = :id');
 * const row = await stmt.get({ id: 1 });          // named
 * const rows = await db.prepare('SELECT ?, ?').all([1, 'a']); // positional
 * for await (const row of stmt.iterate({ id: 1 })) console.log(row);
 * ```
 */
export declare class Statement {
  /** The SQL text. */
  get sourceSQL(): string
  /**
   * Reads INTEGERs of this statement as `BigInt`s (or not, with
   * `false`); the default is the database's `safeIntegers` option.
   * Returns the statement.
   */
  safeIntegers(enabled?: boolean | undefined | null): this
  /**
   * The first row as an object (`{ column: value }`), or `undefined`
   * when there is none.
   */
  get(params?: BindParameters, options?: OperationOptions): Promise<Row | undefined>
  /** Every row, as objects. */
  all(params?: BindParameters, options?: OperationOptions): Promise<Row[]>
  /** Every row, as arrays of values in column order. */
  values(params?: BindParameters, options?: OperationOptions): Promise<SqlValue[][]>
  /**
   * Runs the statement to its end (discarding rows) and resolves with
   * `{ changes, lastInsertRowid }`.
   */
  run(params?: BindParameters, options?: OperationOptions): Promise<RunResult>
  /**
   * The result's columns: `{ name, type }` (the declared type, or
   * null).
   */
  columns(options?: OperationOptions): Promise<ColumnInfo[]>
  /**
   * The rows one at a time, for `for await (const row of stmt.iterate())`.
   * Rows are read in batches as they are asked for (one, then doubling
   * to 256), each batch on whichever pool thread is free; the statement
   * keeps its connection from the first `next()` until the iterator
   * ends, is returned from (`break`), is garbage-collected, or the
   * database closes. While open iterators hold every connection, other
   * statements reject with `ERR_WASMUDF_POOL_HELD` rather than wait. The
   * signal in `options` covers the whole iteration.
   */
  iterate(params?: BindParameters, options?: OperationOptions): RowIterator
}

/** The columns of a statement's result, as `columns()` lists them. */
export interface ColumnInfo {
  /** The column's name (its alias, when it has one). */
  name: string
  /** The declared type of the table column it comes from, if any. */
  type?: string
}

/** A loaded component, as `db.loadComponent` returns it. */
export interface ComponentInfo {
  /**
   * Its name: the path it was loaded from, which `unloadComponent`
   * takes.
   */
  name: string
  /** SHA-256 of its bytes, hex. */
  sha256: string
  /** Its source language when it says, else null. */
  language?: string
  /** Its functions. */
  functions: Array<FunctionInfo>
}

/**
 * Options of `new Database(path, options)`. The sandbox limits are the
 * `wasmudf` CLI's flags, in camelCase, with the same defaults.
 */
export interface DatabaseOptions {
  /**
   * Component files (`.wasm`) to load, or JavaScript UDF modules
   * (`.js`, `.mjs`), built as `loadJavaScript` builds them.
   */
  udf?: Array<string>
  /**
   * Connections in the pool: the most statements running at once, each
   * on its own thread. Default: the number of CPUs.
   */
  threads?: number
  /** Open the file read-only (a missing file is then an error). */
  readOnly?: boolean
  /**
   * Read every INTEGER as a `BigInt` (default: a `number` when it is a
   * safe integer, a `BigInt` otherwise).
   */
  safeIntegers?: boolean
  /** Deadline of one UDF call, in milliseconds (default 5000). */
  timeoutMs?: number
  /**
   * Deadline of one statement (of each batch of rows for `iterate`), in
   * milliseconds; none by default.
   */
  queryTimeoutMs?: number
  /**
   * How long a connection waits for another's lock, in milliseconds
   * (default 5000).
   */
  busyTimeoutMs?: number
  /**
   * Fuel for one UDF call (about one unit per wasm instruction); unmetered
   * by default.
   */
  fuel?: number
  /**
   * Linear memory of one instance, all its memories together, in MiB
   * (default 64).
   */
  memoryMib?: number
  /** Largest TEXT or BLOB a UDF may return, in MiB (default 64). */
  maxResultMib?: number
  /** Largest wasm stack, in KiB (default 512). */
  stackKib?: number
  /** Most live instances of all components of the engine (default 1000). */
  maxInstances?: number
  /** Most core instances inside one component instance (default 100). */
  maxCoreInstances?: number
  /**
   * Most functions a component may define, checked before compiling
   * (default 80000).
   */
  maxWasmFunctions?: number
  /**
   * Most code a component may bring, in MiB, checked before compiling
   * (default 16).
   */
  maxCodeMib?: number
  /** Most functions one component may declare (default 4096). */
  maxFunctions?: number
  /** Refuse component files larger than this, in MiB (default 64). */
  maxComponentMib?: number
  /**
   * Keep compiled components in the on-disk cache
   * (`$XDG_CACHE_HOME/wasmudf`), so that a second start loads them in
   * milliseconds (default true).
   */
  cache?: boolean
  /**
   * Treat the components as trusted: their functions may then be called
   * from views, triggers and other schema objects (default false).
   */
  trusted?: boolean
}

/** Pool and instance counters, as `db.stats()` reports them. */
export interface DatabaseStats {
  /** The most connections (the `threads` option). */
  poolSize: number
  /** Connections opened so far. */
  connectionsOpened: number
  /** Connections idle in the pool now. */
  idleConnections: number
  /**
   * Component instances alive now, on the database's engine (shared by
   * databases opened with the same limits).
   */
  liveInstances: number
}

/** One function of a loaded component, as `db.functions()` lists it. */
export interface FunctionInfo {
  /** Its SQL name. */
  name: string
  /** `scalar`, `aggregate`, `window` or `table`. */
  kind: string
  /** How many arguments it takes; -1 for any number. */
  arity: number
  /** The component it comes from: the path it was loaded from. */
  component: string
  /**
   * The component's source language when it says (`Rust`,
   * `JavaScript`, `Python`), else null.
   */
  language?: string
  /** Same arguments, same result. */
  deterministic: boolean
  /** A table function's columns (empty for the other kinds). */
  columns: Array<string>
}
