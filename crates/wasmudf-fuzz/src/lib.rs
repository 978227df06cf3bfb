//! The fuzz targets' bodies ([`targets`]; the `cargo fuzz` entry points in
//! `fuzz/` only call them), the smoke run's driver ([`smoke`]), and what
//! the targets share: one engine with small limits, arbitrary SQL values
//! and columns, and [`exercise`], which calls every function of a loaded
//! component once on each path (SQLite, whose scalars and aggregates take
//! the direct path when they can, and [`wasmudf::Instance`], which always
//! uses the component instance).
//!
//! The oracle is the house rule: whatever a component or an input does, the
//! host answers with a value or an error, never a panic, a hang or a crash.
//! Where both paths answer a scalar call, [`exercise`] also checks they
//! give the same answer.

use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use wasmudf::rusqlite::{self, Connection, types::Value as SqlValue};
use wasmudf::{Arity, Column, ColumnRef, Component, Engine, FunctionKind, Limits, Value};

pub mod smith;
pub mod smoke;
pub mod targets;

/// A guest component built by the test build (`cargo test --workspace`, or
/// `cargo build --manifest-path guests/Cargo.toml --release --target
/// wasm32-wasip2`), loaded once.
pub fn guest(name: &str) -> &'static Component {
    static GUESTS: std::sync::Mutex<Vec<(String, &'static Component)>> =
        std::sync::Mutex::new(Vec::new());
    let mut guests = GUESTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, c)) = guests.iter().find(|(n, _)| n == name) {
        return c;
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../guests/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    let component = engine().load_file(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build the guests first: cargo build --manifest-path guests/Cargo.toml \
             --release --target wasm32-wasip2",
            path.display()
        )
    });
    let leaked: &'static Component = Box::leak(Box::new(component));
    guests.push((name.to_owned(), leaked));
    leaked
}

/// Checks that `text`, shown by the library (an [`wasmudf::Error`] or a
/// [`wasmudf::CallError`]), has no control character left raw: guest text
/// never reaches a terminal as itself.
pub fn assert_escaped(what: &str, text: &str) {
    assert!(
        matches!(wasmudf::escape_controls(text), std::borrow::Cow::Borrowed(_)),
        "{what} shows guest text unescaped: {text:?}"
    );
}

/// Whether two values are the same, NaN payloads included.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Real(x), Value::Real(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        _ => a == b,
    }
}

/// The engine every target loads on: limits small enough that a hostile
/// or random guest costs milliseconds (fuel stops loops long before the
/// deadline), and no on-disk cache (every input is new bytes).
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let limits = Limits {
            timeout: Duration::from_secs(2),
            fuel: Some(2_000_000),
            max_memory_bytes: 32 << 20,
            max_result_bytes: 1 << 20,
            max_instances: 64,
            max_code_bytes: 4 << 20,
            max_functions: 64,
            ..Limits::default()
        };
        match Engine::builder().limits(limits).build() {
            Ok(engine) => engine,
            // The fuzzer's own set-up, not an input: nothing to fuzz without it.
            Err(e) => panic!("the fuzzing engine does not build: {e}"),
        }
    })
}

/// An arbitrary SQL value, biased towards the small ones guests look at.
#[derive(Debug, Clone, Arbitrary)]
pub enum ArbValue {
    /// NULL.
    Null,
    /// INTEGER.
    Integer(i64),
    /// REAL.
    Real(f64),
    /// TEXT.
    Text(String),
    /// BLOB.
    Blob(Vec<u8>),
}

impl From<ArbValue> for Value {
    fn from(v: ArbValue) -> Value {
        match v {
            ArbValue::Null => Value::Null,
            ArbValue::Integer(i) => Value::Integer(i),
            ArbValue::Real(r) => Value::Real(r),
            ArbValue::Text(s) => Value::Text(s),
            ArbValue::Blob(b) => Value::Blob(b),
        }
    }
}

/// A few values of every class, for inputs that carry no arguments of
/// their own (raw component bytes).
pub fn sample_rows() -> Vec<Vec<Value>> {
    vec![
        vec![Value::Integer(3), Value::Integer(-1), Value::Integer(i64::MAX)],
        vec![Value::Real(2.5), Value::Real(-0.0), Value::Real(1e300)],
        vec![Value::from("héllo"), Value::from(""), Value::from("a,b,,c")],
        vec![Value::Blob(vec![0, 1, 2]), Value::Null, Value::Integer(7)],
    ]
}

/// `rows` rows of arguments for a function of `arity`, taken from `u`
/// (variadic functions get 0 to 4 arguments).
pub fn arbitrary_rows(u: &mut Unstructured<'_>, arity: Arity) -> Vec<Vec<Value>> {
    let args = match arity {
        Arity::Exactly(n) => usize::from(n),
        Arity::Variadic => u.int_in_range(0..=4).unwrap_or(1),
    };
    let rows = u.int_in_range(1..=4).unwrap_or(1);
    (0..rows)
        .map(|_| {
            (0..args)
                .map(|_| ArbValue::arbitrary(u).map_or(Value::Null, Value::from))
                .collect()
        })
        .collect()
}

/// The arguments of `rows` (row-major) as one column per argument: typed
/// when every non-NULL value of the argument is of one class, `Values`
/// otherwise, as DataFusion's conversion lays them out.
pub fn columns(rows: &[Vec<Value>], args: usize) -> Vec<Column> {
    (0..args)
        .map(|a| {
            let col: Vec<Value> = rows.iter().map(|r| r.get(a).cloned().unwrap_or(Value::Null)).collect();
            typed_column(&col)
        })
        .collect()
}

/// One column of `values`, typed when it can be.
pub fn typed_column(values: &[Value]) -> Column {
    let valid: Vec<u8> = {
        let mut bits = vec![0u8; values.len().div_ceil(8)];
        for (i, v) in values.iter().enumerate() {
            if !v.is_null() {
                bits[i / 8] |= 1 << (i % 8);
            }
        }
        bits
    };
    let valid = values.iter().any(Value::is_null).then_some(valid);
    let class = values.iter().find(|v| !v.is_null()).map(Value::type_name);
    let all = |name: &str| values.iter().all(|v| v.is_null() || v.type_name() == name);
    match class {
        Some("INTEGER") if all("INTEGER") => Column::Integers {
            data: values.iter().map(|v| if let Value::Integer(i) = v { *i } else { 0 }).collect(),
            valid,
        },
        Some("REAL") if all("REAL") => Column::Reals {
            data: values.iter().map(|v| if let Value::Real(r) = v { *r } else { 0.0 }).collect(),
            valid,
        },
        Some("TEXT") if all("TEXT") => {
            let mut offsets = vec![0u32];
            let mut data = String::new();
            for v in values {
                if let Value::Text(s) = v {
                    data.push_str(s);
                }
                offsets.push(u32::try_from(data.len()).unwrap_or(u32::MAX));
            }
            Column::Texts { offsets, data, valid }
        }
        Some("BLOB") if all("BLOB") => {
            let mut offsets = vec![0u32];
            let mut data = Vec::new();
            for v in values {
                if let Value::Blob(b) = v {
                    data.extend_from_slice(b);
                }
                offsets.push(u32::try_from(data.len()).unwrap_or(u32::MAX));
            }
            Column::Blobs { offsets, data, valid }
        }
        _ => Column::Values(values.to_vec()),
    }
}

/// `name` as an SQL identifier, so any name a manifest may hold can be
/// called.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// What one SQL statement answered: its rows, or that it failed.
fn run_sql(conn: &Connection, sql: &str, args: &[Value]) -> Option<Vec<Vec<SqlValue>>> {
    let mut stmt = conn.prepare(sql).ok()?;
    let columns = stmt.column_count();
    let params: Vec<SqlValue> = args.iter().cloned().map(SqlValue::from).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(params)).ok()?;
    let mut out = Vec::new();
    // Bounded: a table function may yield rows for ever.
    while out.len() < 200 {
        match rows.next() {
            Ok(Some(row)) => out.push(
                (0..columns)
                    .map(|i| row.get::<_, SqlValue>(i).unwrap_or(SqlValue::Null))
                    .collect(),
            ),
            Ok(None) => break,
            Err(_) => return None,
        }
    }
    Some(out)
}

/// One call of one function, with its arguments, prepared once so that
/// every path runs the same calls.
#[derive(Debug, Clone)]
pub struct Call {
    /// The function's manifest index.
    pub index: usize,
    /// Its kind.
    pub kind: FunctionKind,
    /// The SQL statement that calls it with `?1`..`?n`.
    pub sql: String,
    /// The rows of arguments: the SQL call takes the first, batched calls
    /// all of them.
    pub rows: Vec<Vec<Value>>,
}

impl Call {
    fn width(&self) -> usize {
        self.rows.first().map_or(0, Vec::len)
    }
}

/// One call of every function of `component`, with arguments from `args`
/// (given the function's index and arity).
pub fn calls(
    component: &Component,
    mut args: impl FnMut(usize, Arity) -> Vec<Vec<Value>>,
) -> Vec<Call> {
    component
        .functions()
        .iter()
        .enumerate()
        .map(|(index, spec)| {
            let rows = args(index, spec.arity);
            let width = rows.first().map_or(0, Vec::len);
            let p = (1..=width).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
            let name = quote(&spec.name);
            let sql = match spec.kind {
                FunctionKind::Table => format!("SELECT * FROM {name}({p}) LIMIT 100"),
                FunctionKind::Window => format!(
                    "WITH t(x) AS (VALUES (1), (2), (3)) \
                     SELECT {name}({p}) OVER (ORDER BY x ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t"
                ),
                FunctionKind::Aggregate => {
                    format!("WITH t(x) AS (VALUES (1), (2), (3)) SELECT {name}({p}) FROM t")
                }
                _ => format!("SELECT {name}({p})"),
            };
            Call { index, kind: spec.kind, sql, rows }
        })
        .collect()
}

/// Runs `calls` through SQLite on a fresh connection with `component`
/// registered (overrides allowed: a component named like a builtin still
/// runs, on a connection of its own). `None` for a statement that failed;
/// no answers at all when registration failed.
pub fn sql_calls(component: &Component, calls: &[&Call]) -> Vec<Option<Vec<Vec<SqlValue>>>> {
    let Ok(conn) = Connection::open_in_memory() else {
        return Vec::new();
    };
    if component.clone().allow_override(true).register(&conn).is_err() {
        return Vec::new();
    }
    let answers = calls
        .iter()
        .map(|c| run_sql(&conn, &c.sql, c.rows.first().map_or(&[][..], Vec::as_slice)))
        .collect();
    // What closing the connection runs, and unregistering on top.
    let _ = component.unregister(&conn);
    answers
}

/// Runs `calls` through one [`wasmudf::Instance`] (the component path):
/// scalars with `call` and `call-columns`, aggregates and windows through
/// an accumulator (with `value`, `inverse`, `serialize` and `merge` where
/// the function has them). Table functions are SQLite's alone.
pub fn instance_calls(component: &Component, calls: &[Call]) {
    let mut instance = component.instance();
    for call in calls {
        let cols = columns(&call.rows, call.width());
        let refs: Vec<ColumnRef<'_>> = cols.iter().map(Column::as_ref).collect();
        let rows = call.rows.len();
        let Some(spec) = component.functions().get(call.index) else {
            continue;
        };
        match call.kind {
            FunctionKind::Scalar => {
                let _ = ok(instance.call(call.index, call.rows.first().map_or(&[][..], Vec::as_slice)));
                if let Some(result) = ok(instance.call_columns(call.index, &refs, rows)) {
                    assert_eq!(result.len(), rows, "a checked result column has a row per row");
                    for r in 0..rows {
                        assert!(result.get(r).is_some(), "every row of a checked column reads");
                    }
                }
            }
            FunctionKind::Aggregate | FunctionKind::Window => {
                let Some(acc) = ok(instance.accumulator(call.index)) else {
                    continue;
                };
                let _ = ok(instance.step(&acc, &refs, rows));
                if call.kind == FunctionKind::Window {
                    let _ = ok(instance.value(&acc));
                    let _ = ok(instance.inverse(&acc, &refs, rows));
                }
                if spec.mergeable
                    && let Some(state) = ok(instance.serialize(&acc))
                    && let Some(other) = ok(instance.accumulator(call.index))
                {
                    let _ = ok(instance.merge(&other, &state));
                    let _ = ok(instance.finish(other));
                }
                if rows % 2 == 0 {
                    let _ = ok(instance.finish(acc));
                } else {
                    instance.release(acc);
                }
            }
            _ => {}
        }
    }
}

/// The value of a call, after checking its error (if any) shows guest
/// text escaped.
pub fn ok<T>(result: Result<T, wasmudf::CallError>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            assert_escaped("a call error", &e.to_string());
            None
        }
    }
}

/// Every call of [`calls`] on both paths: SQLite and an instance.
pub fn exercise(component: &Component, args: impl FnMut(usize, Arity) -> Vec<Vec<Value>>) {
    let calls = calls(component, args);
    sql_calls(component, &calls.iter().collect::<Vec<_>>());
    instance_calls(component, &calls);
}

/// The engine of [`engine`] with the direct path turned off: every call
/// runs on a component instance.
pub fn component_only_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        match Engine::builder()
            .limits(engine().limits().clone())
            .direct_calls(false)
            .build()
        {
            Ok(engine) => engine,
            Err(e) => panic!("the fuzzing engine does not build: {e}"),
        }
    })
}

/// Runs the scalar, aggregate and window calls of `calls` through SQLite
/// twice, on `direct` (loaded on [`engine`], where they take the direct
/// path) and on `component` (the same bytes loaded on
/// [`component_only_engine`]), and checks both answer alike up to the
/// first statement that fails on either.
///
/// The check holds only while the direct side ran everything on its
/// direct instance: a call handed over to a component instance there (a
/// guest that needs WASI, an accumulator rebuilt by replay) runs on an
/// instance with another history, and a guest may keep state between
/// calls. Then nothing is compared.
pub fn differential(direct: &Component, component: &Component, calls: &[Call]) {
    let calls: Vec<&Call> = calls.iter().filter(|c| c.kind != FunctionKind::Table).collect();
    let before = engine().instance_stats();
    let a = sql_calls(direct, &calls);
    let after = engine().instance_stats();
    let b = sql_calls(component, &calls);
    let component_instances = |s: wasmudf::InstanceStats| s.created - s.direct;
    if component_instances(after) != component_instances(before) {
        return;
    }
    assert_eq!(
        a.is_empty(),
        b.is_empty(),
        "registration succeeds on both engines or on neither"
    );
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let (Some(x), Some(y)) = (x, y) else { break };
        assert_eq!(
            x, y,
            "statement {i} `{}` answers differently on the direct path",
            calls[i].sql
        );
    }
}
