//! DataFusion answers what SQLite answers, NULLs included, whatever the
//! batches look like: every example function (Rust, JavaScript, Python)
//! over random rows with random NULLs, cut into random batches whose
//! columns are random slices of larger arrays (validity bitmaps starting
//! mid-byte), in the other Arrow types DataFusion reads (dictionaries,
//! views, large offsets, narrower numbers), over random partitions and
//! batch sizes.

use std::sync::OnceLock;

use datafusion::arrow::array::{
    ArrayRef, BinaryBuilder, BinaryViewBuilder, Float32Builder, Float64Builder, Int32Builder,
    Int64Builder, LargeBinaryBuilder, LargeStringBuilder, RecordBatch, StringBuilder,
    StringDictionaryBuilder, StringViewBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::common::{Row, same, sqlite_rows};
use super::*;

/// How one column is laid out in Arrow.
#[derive(Debug, Clone, Copy)]
enum Layout {
    Plain,
    /// `Int32`, `Float32`, `LargeUtf8`, `LargeBinary`.
    Narrow,
    /// `Utf8View`, `BinaryView` (for numbers: plain).
    View,
    /// `Dictionary(Int32, Utf8)` (for other columns: plain).
    Dictionary,
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::Plain),
        Just(Layout::Narrow),
        Just(Layout::View),
        Just(Layout::Dictionary),
    ]
}

fn row(id: i64) -> impl Strategy<Value = Row> {
    let text = prop_oneof![
        prop::sample::select(vec!["straße", "kitten", "sitting", "", "Ünïcödé", "a1b22"])
            .prop_map(String::from),
        "[a-zA-Z0-9 _ßé-]{0,8}",
    ];
    (
        prop::option::weighted(0.8, -1000i64..1000),
        // Quarters: exact in Float32 too.
        prop::option::weighted(0.8, (-40i32..40).prop_map(|q| f64::from(q) / 4.0)),
        prop::option::weighted(0.8, text),
        prop::option::weighted(0.8, prop::collection::vec(any::<u8>(), 0..6)),
        0i64..4,
    )
        .prop_map(move |(i, r, s, b, g)| (id, i, r, s, b, g))
}

/// One case: the rows, how each column is laid out, and a seed for the
/// batches' sizes and slice offsets.
#[derive(Debug, Clone)]
struct Case {
    rows: Vec<Row>,
    layouts: [Layout; 4],
    seed: u64,
    partitions: usize,
    batch_size: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..90).prop_flat_map(|n| (0..n).map(|id| row(id as i64)).collect::<Vec<_>>()),
        [layout(), layout(), layout(), layout()],
        any::<u64>(),
        1usize..4,
        1usize..48,
    )
        .prop_map(|(rows, layouts, seed, partitions, batch_size)| Case {
            rows,
            layouts,
            seed,
            partitions,
            batch_size,
        })
}

/// splitmix64: the batches' layout from the case's seed.
struct Dice(u64);

impl Dice {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % below.max(1) as u64) as usize
    }
}

/// Column `c` of `rows` in `layout`, with `front` and `back` rows of
/// padding around it, sliced back to `rows`: a column whose data and
/// validity bitmap start at row `front` of their buffers.
fn column(c: usize, layout: Layout, rows: &[Row], front: usize, back: usize) -> ArrayRef {
    let pad = |k: usize| -> Row {
        let k = k as i64;
        (
            -1,
            (k % 3 != 0).then_some(k),
            (k % 2 == 0).then_some(0.5),
            (k % 4 != 1).then(|| "pad".to_owned()),
            (k % 5 != 2).then(|| vec![0xee]),
            0,
        )
    };
    let all: Vec<Row> = (0..front)
        .map(pad)
        .chain(rows.iter().cloned())
        .chain((0..back).map(pad))
        .collect();
    let array: ArrayRef = match (c, layout) {
        (0, Layout::Narrow) => {
            let mut b = Int32Builder::new();
            all.iter()
                .for_each(|r| b.append_option(r.1.map(|i| i32::try_from(i).unwrap_or(0))));
            Arc::new(b.finish())
        }
        (0, _) => {
            let mut b = Int64Builder::new();
            all.iter().for_each(|r| b.append_option(r.1));
            Arc::new(b.finish())
        }
        (1, Layout::Narrow) => {
            let mut b = Float32Builder::new();
            all.iter()
                .for_each(|r| b.append_option(r.2.map(|x| x as f32)));
            Arc::new(b.finish())
        }
        (1, _) => {
            let mut b = Float64Builder::new();
            all.iter().for_each(|r| b.append_option(r.2));
            Arc::new(b.finish())
        }
        (2, Layout::Plain) => {
            let mut b = StringBuilder::new();
            all.iter().for_each(|r| b.append_option(r.3.as_deref()));
            Arc::new(b.finish())
        }
        (2, Layout::Narrow) => {
            let mut b = LargeStringBuilder::new();
            all.iter().for_each(|r| b.append_option(r.3.as_deref()));
            Arc::new(b.finish())
        }
        (2, Layout::View) => {
            let mut b = StringViewBuilder::new();
            all.iter().for_each(|r| b.append_option(r.3.as_deref()));
            Arc::new(b.finish())
        }
        (2, Layout::Dictionary) => {
            let mut b = StringDictionaryBuilder::<Int32Type>::new();
            all.iter().for_each(|r| b.append_option(r.3.as_deref()));
            Arc::new(b.finish())
        }
        (_, Layout::Narrow) => {
            let mut b = LargeBinaryBuilder::new();
            all.iter().for_each(|r| b.append_option(r.4.as_deref()));
            Arc::new(b.finish())
        }
        (_, Layout::View) => {
            let mut b = BinaryViewBuilder::new();
            all.iter().for_each(|r| b.append_option(r.4.as_deref()));
            Arc::new(b.finish())
        }
        (_, _) => {
            let mut b = BinaryBuilder::new();
            all.iter().for_each(|r| b.append_option(r.4.as_deref()));
            Arc::new(b.finish())
        }
    };
    array.slice(front, rows.len())
}

/// The case's rows as `t`, in random batches over its partitions.
fn table(case: &Case) -> Result<MemTable> {
    let mut dice = Dice(case.seed);
    let columns: Vec<ArrayRef> = (0..4)
        .map(|c| column(c, case.layouts[c], &case.rows[..0], 0, 0))
        .collect();
    let schema = Arc::new(Schema::new(
        [
            Field::new("id", DataType::Int64, false),
            Field::new("i", columns[0].data_type().clone(), true),
            Field::new("r", columns[1].data_type().clone(), true),
            Field::new("s", columns[2].data_type().clone(), true),
            Field::new("b", columns[3].data_type().clone(), true),
            Field::new("g", DataType::Int64, false),
        ]
        .to_vec(),
    ));
    let mut partitions: Vec<Vec<RecordBatch>> = vec![Vec::new(); case.partitions];
    let mut at = 0;
    let mut k = 0;
    while at < case.rows.len() {
        let n = (1 + dice.next(24)).min(case.rows.len() - at);
        let part = &case.rows[at..at + n];
        let mut columns: Vec<ArrayRef> = vec![Arc::new(
            part.iter()
                .map(|r| r.0)
                .collect::<datafusion::arrow::array::Int64Array>(),
        )];
        for c in 0..4 {
            columns.push(column(
                c,
                case.layouts[c],
                part,
                dice.next(11),
                dice.next(5),
            ));
        }
        columns.push(Arc::new(
            part.iter()
                .map(|r| r.5)
                .collect::<datafusion::arrow::array::Int64Array>(),
        ));
        partitions[k % case.partitions].push(RecordBatch::try_new(schema.clone(), columns)?);
        at += n;
        k += 1;
    }
    Ok(MemTable::try_new(schema, partitions)?)
}

/// Every example function, and an aggregate of no argument.
const QUERIES: &[&str] = &[
    "SELECT id, unicode_upper(s), edit_distance(s, 'kitten'), edit_distance(s, s), \
     regexp('^[a-z]+', s) FROM t ORDER BY id",
    "SELECT id, sha256_of(b), sha256_of(s), greatest_of(i, r, 3), greatest_of(r) FROM t ORDER BY id",
    "SELECT id, identity(i), identity(r), identity(s), identity(b), sleep(0) FROM t ORDER BY id",
    "SELECT g, median_of(r), median_of(i), sumsq(i), sumsq(r), median_of(DISTINCT i), \
     sumsq(DISTINCT r) FROM t GROUP BY g ORDER BY g",
    "SELECT median_of(r), sumsq(i), sumsq(DISTINCT i), count_rows(), sum_i(i) FROM t",
    "SELECT id, sumsq(i) OVER (ORDER BY id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW), \
     sumsq(r) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) \
     FROM t ORDER BY id",
    "SELECT g, count_rows(), sum_i(i) FROM t GROUP BY g ORDER BY g",
    "SELECT id, js_slugify(s), js_i64_add(i, 7), js_format('{0}-{1}', s, r) FROM t ORDER BY id",
    "SELECT g, js_mode(i), js_mode(s) FROM t GROUP BY g ORDER BY g",
    "SELECT id, js_mode(g) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) \
     FROM t ORDER BY id",
    "SELECT id, py_similarity(s, 'kitten'), py_add(i, r), py_join('/', s, i) FROM t ORDER BY id",
    "SELECT g, py_stdev(r), py_mean(i) FROM t GROUP BY g ORDER BY g",
];

/// The components, loaded once: `(Rust examples and bench, JS, Python)`.
fn components() -> &'static Vec<Component> {
    static ALL: OnceLock<Vec<Component>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut all: Vec<Component> = [
            "text", "sha256", "greatest", "identity", "stats", "sleep", "bench",
        ]
        .iter()
        .map(|n| load(n))
        .collect();
        all.push(
            engine()
                .load_file(wasmudf_test_guests::JS_EXAMPLES)
                .expect("js"),
        );
        all.push(
            engine()
                .load_file(wasmudf_test_guests::PY_EXAMPLES)
                .expect("py"),
        );
        all
    })
}

#[test]
fn every_example_answers_as_in_sqlite_over_random_batches() -> Result<()> {
    let rt = runtime();
    // One SQLite connection and one set of UDFs (with their instances)
    // for every case: only the table and the session change.
    let conn = rusqlite::Connection::open_in_memory()?;
    conn.execute_batch("CREATE TABLE t(id INTEGER, i INTEGER, r REAL, s TEXT, b BLOB, g INTEGER)")?;
    let udfs: Vec<(Component, wasmudf_datafusion::Udfs)> = components()
        .iter()
        .map(|c| {
            c.register(&conn)?;
            Ok((c.clone(), wasmudf_datafusion::udfs(c, 3)?))
        })
        .collect::<Result<_>>()?;
    let cases: u32 = std::env::var("WASMUDF_PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(16);
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 64,
        ..Config::default()
    });
    let result = runner.run(&case(), |case| {
        let fail = |e: anyhow::Error| TestCaseError::fail(format!("{e:#}"));
        conn.execute("DELETE FROM t", [])
            .map_err(|e| fail(e.into()))?;
        {
            let mut insert = conn
                .prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .map_err(|e| fail(e.into()))?;
            for (id, i, r, s, b, g) in &case.rows {
                insert
                    .execute(rusqlite::params![id, i, r, s, b, g])
                    .map_err(|e| fail(e.into()))?;
            }
        }
        let config = SessionConfig::new()
            .with_target_partitions(case.partitions)
            .with_batch_size(case.batch_size);
        let ctx = SessionContext::new_with_config(config);
        ctx.register_table("t", Arc::new(table(&case).map_err(fail)?))
            .map_err(|e| fail(e.into()))?;
        for (c, u) in &udfs {
            wasmudf_datafusion::register_udfs(&ctx, c, u.clone()).map_err(|e| fail(e.into()))?;
        }
        for sql in QUERIES {
            let expected = sqlite_rows(&conn, sql).map_err(fail)?;
            let got = rt
                .block_on(df_rows(&ctx, sql))
                .map_err(|e| fail(e.context(format!("DataFusion: {sql}"))))?;
            prop_assert_eq!(got.len(), expected.len(), "{}: row counts", sql);
            for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
                prop_assert!(
                    g.len() == e.len() && g.iter().zip(e).all(|(x, y)| same(x, y)),
                    "{}: row {}: DataFusion {:?}, SQLite {:?}",
                    sql,
                    k,
                    g,
                    e
                );
            }
        }
        Ok(())
    });
    result.map_err(|e| anyhow::anyhow!("{e}"))
}
