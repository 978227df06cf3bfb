//! The `wasmudf` Node.js package: an async SQLite API whose user-defined
//! functions are WebAssembly components, over the host library's
//! [`wasmudf::Database`].
//!
//! A thin binding (napi-rs): it converts arguments and results between
//! JavaScript and SQLite values and maps errors to `Error` objects with
//! stable codes; the pool, the statements, the sandbox and every UDF call
//! are the host library's. A statement runs on a blocking-pool thread of
//! napi's tokio runtime, and the UDFs it calls run there too, inside their
//! components: no JavaScript value or V8 isolate is touched off the main
//! thread, which is what makes JavaScript UDFs safe in an async API.
//!
//! ```js
//! const { Database } = require('wasmudf');
//! const db = new Database(':memory:', { udf: ['./udf.js'] });
//! console.log(await db.prepare('SELECT sleep(200) AS val').get()); // { val: 200 }
//! ```

mod convert;
mod database;
mod errors;
mod javascript;
mod ops;
mod options;
mod raw;
mod statement;

pub use database::{ComponentInfo, Database, DatabaseStats, FunctionInfo};
pub use options::DatabaseOptions;
pub use statement::{ColumnInfo, RowIterator, Statement};
