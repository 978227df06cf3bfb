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
