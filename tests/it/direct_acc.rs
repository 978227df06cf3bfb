//! Aggregates and windows on the direct path: they run on the direct
//! instance, a group whose call needs the host midway is rebuilt on the
//! component path by replaying its calls, a group that outgrows its replay
//! log moves there too, and either way every answer and error is what the
//! component path gives.

use anyhow::Result;
use rusqlite::Connection;
use rusqlite::types::Value;
use wasmudf::{Engine, Limits};

/// A connection with `guest` registered on `engine`.
fn with(engine: &Engine, path: &str) -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    engine.load_file(path)?.register(&conn)?;
    Ok(conn)
}

/// Every row of `sql`, or the error, as text.
fn rows(conn: &Connection, sql: &str) -> String {
    let run = || -> rusqlite::Result<Vec<Vec<Value>>> {
        let mut stmt = conn.prepare(sql)?;
        let n = stmt.column_count();
        let rows = stmt.query_map([], |row| (0..n).map(|i| row.get(i)).collect())?;
        rows.collect()
    };
    format!("{:?}", run())
}

/// `t(id, x)` with `x` = 1..=n.
fn numbers(conn: &Connection, n: i64) -> Result<()> {
    conn.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, x)")?;
    conn.execute(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?1)
         INSERT INTO t SELECT i, i FROM k",
        [n],
    )?;
    Ok(())
}

#[test]
fn aggregates_and_windows_run_on_the_direct_instance() -> Result<()> {
    let engine = Engine::new()?;
    let component = engine.load_file(wasmudf_test_guests::STATS)?;
    assert!(component.has_direct_aggregates());
    let conn = Connection::open_in_memory()?;
    component.register(&conn)?;
    numbers(&conn, 10)?;
    assert_eq!(
        rows(&conn, "SELECT median_of(x) FROM t"),
        "Ok([[Real(5.5)]])"
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT sumsq(x) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t WHERE id <= 3"
        ),
        "Ok([[Integer(1)], [Integer(5)], [Integer(13)]])"
    );
    // An empty group and an empty frame use a throwaway accumulator there
    // too.
    assert_eq!(
        rows(&conn, "SELECT median_of(x) FROM t WHERE 0"),
        "Ok([[Null]])"
    );
    let stats = engine.instance_stats();
    assert_eq!(
        (stats.created, stats.direct, stats.replaced),
        (1, 1, 0),
        "one direct instance served every group: {stats:?}"
    );
    Ok(())
}

#[test]
fn a_group_that_needs_the_host_midway_is_rebuilt_on_the_component_path() -> Result<()> {
    let on = Engine::new()?;
    let off = Engine::builder().direct_calls(false).build()?;
    let (direct, component) = (
        with(&on, wasmudf_test_guests::FAULTY)?,
        with(&off, wasmudf_test_guests::FAULTY)?,
    );
    numbers(&direct, 40)?;
    numbers(&component, 40)?;
    // Row 7 writes to stderr: the direct instance has no stderr. The second
    // window never sees a 7 but lives on the same direct instance, so it is
    // rebuilt too when that instance goes.
    let queries = [
        "SELECT noisy_sum(x) FROM t",
        "SELECT id % 3, noisy_sum(x) FROM t GROUP BY id % 3",
        "SELECT noisy_sum(x) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
                noisy_sum(x + 100) OVER (ORDER BY id ROWS BETWEEN 4 PRECEDING AND CURRENT ROW)
         FROM t",
        "SELECT noisy_sum(x) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM t",
    ];
    for sql in queries {
        let want = rows(&component, sql);
        assert!(want.starts_with("Ok("), "{want}");
        assert_eq!(rows(&direct, sql), want, "{sql}");
    }
    let stats = on.instance_stats();
    assert!(
        stats.created >= 2,
        "a component instance took over: {stats:?}"
    );
    assert_eq!(stats.replaced, 0, "a hand-off is not a failure: {stats:?}");
    // The function now starts its groups on the component path: no new
    // direct instance for it.
    let direct_before = stats.direct;
    assert_eq!(
        rows(&direct, "SELECT noisy_sum(x) FROM t WHERE id < 5"),
        "Ok([[Integer(10)]])"
    );
    assert_eq!(on.instance_stats().direct, direct_before);
    Ok(())
}

#[test]
fn a_group_that_outgrows_its_log_moves_to_the_component_path() -> Result<()> {
    // A 3 MiB guest gets a 3 MiB log: about 78,000 window rows.
    let limits = Limits {
        max_memory_bytes: 3 << 20,
        ..Limits::default()
    };
    let on = Engine::builder().limits(limits.clone()).build()?;
    let off = Engine::builder()
        .limits(limits)
        .direct_calls(false)
        .build()?;
    let (direct, component) = (
        with(&on, wasmudf_test_guests::STATS)?,
        with(&off, wasmudf_test_guests::STATS)?,
    );
    numbers(&direct, 90_000)?;
    numbers(&component, 90_000)?;
    let sql = "SELECT sum(w), count(*) FROM (SELECT sumsq(x % 1000) OVER
               (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS w FROM t)";
    let want = rows(&component, sql);
    assert!(want.starts_with("Ok("), "{want}");
    assert_eq!(on.instance_stats().created, 0);
    assert_eq!(rows(&direct, sql), want);
    let stats = on.instance_stats();
    // The direct instance, then the component instance the group moved to.
    assert!(
        stats.created >= 2,
        "the group moved to a component instance: {stats:?}"
    );
    assert_eq!(stats.replaced, 0, "{stats:?}");
    Ok(())
}

/// The aggregate and window functions of one argument (or any number) of
/// every example and test guest, on both paths.
struct World {
    direct: Vec<Connection>,
    component: Vec<Connection>,
    /// (guest index, name, is a window function).
    functions: Vec<(usize, String, bool)>,
}

fn world() -> &'static std::sync::Mutex<World> {
    static WORLD: std::sync::OnceLock<std::sync::Mutex<World>> = std::sync::OnceLock::new();
    WORLD.get_or_init(|| {
        let build = || -> Result<World> {
            // Long-lived engines: a small pool each (see `long_lived`).
            let limits = wasmudf_tests::long_lived;
            let on = Engine::builder().limits(limits()).build()?;
            let off = Engine::builder()
                .limits(limits())
                .direct_calls(false)
                .build()?;
            let hostile = crate::direct::hostile_guests()?;
            let mut world = World {
                direct: Vec::new(),
                component: Vec::new(),
                functions: Vec::new(),
            };
            for (name, path) in wasmudf_test_guests::ALL {
                if hostile.iter().any(|h| h == name) {
                    continue;
                }
                let (Ok(d), Ok(c)) = (on.load_file(path), off.load_file(path)) else {
                    continue;
                };
                let guest = world.direct.len();
                for f in d.functions() {
                    let kind = f.kind;
                    let one_arg = matches!(f.arity.as_sqlite(), 1 | -1);
                    if matches!(
                        kind,
                        wasmudf::FunctionKind::Aggregate | wasmudf::FunctionKind::Window
                    ) && one_arg
                        && crate::direct::is_pure(f)
                    {
                        world.functions.push((
                            guest,
                            f.name.clone(),
                            kind == wasmudf::FunctionKind::Window,
                        ));
                    }
                }
                let (dc, cc) = (Connection::open_in_memory()?, Connection::open_in_memory()?);
                for conn in [&dc, &cc] {
                    conn.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, g, x)")?;
                }
                d.register(&dc)?;
                c.register(&cc)?;
                world.direct.push(dc);
                world.component.push(cc);
            }
            Ok(world)
        };
        std::sync::Mutex::new(build().expect("the aggregate world builds"))
    })
}

fn value() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Value::Null),
        (-50i64..50).prop_map(Value::Integer),
        any::<i64>().prop_map(Value::Integer),
        (-1e6f64..1e6).prop_map(Value::Real),
        "[a-z0-9 ]{0,12}".prop_map(Value::Text),
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Value::Blob),
    ]
}

/// Replaces `t`'s rows with `values`, grouped by `id % 3`.
fn fill(conn: &Connection, values: &[Value]) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM t", [])?;
    let mut insert = conn.prepare("INSERT INTO t VALUES (?1, ?1 % 3, ?2)")?;
    for (i, v) in values.iter().enumerate() {
        insert.execute(rusqlite::params![i as i64, v])?;
    }
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 48,
        ..proptest::test_runner::Config::default()
    })]

    /// Random columns through every aggregate and window function: whole
    /// table, grouped, and over sliding frames, the direct path on and
    /// off give the same rows and the same error messages.
    #[test]
    fn the_direct_path_changes_no_aggregate_answer(
        values in proptest::collection::vec(value(), 0..40),
        pick in proptest::prelude::any::<proptest::sample::Index>(),
        preceding in 0u32..4,
        following in 0u32..2,
    ) {
        let world = world().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (guest, name, window) = &world.functions[pick.index(world.functions.len())];
        let (d, c) = (&world.direct[*guest], &world.component[*guest]);
        fill(d, &values)?;
        fill(c, &values)?;
        let mut queries = vec![
            format!("SELECT {name}(x) FROM t"),
            format!("SELECT g, {name}(x) FROM t GROUP BY g ORDER BY g"),
        ];
        if *window {
            queries.push(format!(
                "SELECT {name}(x) OVER (ORDER BY id ROWS BETWEEN {preceding} PRECEDING \
                 AND {following} FOLLOWING) FROM t"
            ));
            queries.push(format!(
                "SELECT {name}(x) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN \
                 {preceding} PRECEDING AND CURRENT ROW) FROM t ORDER BY id"
            ));
        }
        for sql in &queries {
            proptest::prop_assert_eq!(rows(d, sql), rows(c, sql), "{} over {:?}", sql, values);
        }
    }
}

/// The direct path's own handle table numbers `accumulator` handles as
/// wasmtime's does: the same sequence of groups, kept and dropped out of
/// order by the guest, gives the same handle numbers on both paths.
#[test]
fn accumulator_handles_are_numbered_as_wasmtime_numbers_them() -> Result<()> {
    let on = Engine::new()?;
    let off = Engine::builder().direct_calls(false).build()?;
    let component = on.load_file(wasmudf_test_guests::ACC_HANDLES)?;
    assert!(component.has_direct_aggregates());
    let direct = Connection::open_in_memory()?;
    component.register(&direct)?;
    let reference = with(&off, wasmudf_test_guests::ACC_HANDLES)?;
    for conn in [&direct, &reference] {
        numbers(conn, 24)?;
    }
    let queries = [
        "SELECT id % 5, handles(x) FROM t GROUP BY id % 5",
        "SELECT handles(x), handles(x + 1), handles(-x) FROM t",
        "SELECT id % 7, handles(x), handles(id) FROM t GROUP BY id % 7",
        "SELECT handles(x) OVER (PARTITION BY id % 3 ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW),
                handles(x) OVER (ORDER BY id ROWS BETWEEN 3 PRECEDING AND 2 PRECEDING)
         FROM t ORDER BY id",
        "SELECT handles(x) FROM t WHERE 0",
        "SELECT id % 4, handles(x) FROM t GROUP BY id % 4",
    ];
    let mut seen_above_one = false;
    for sql in queries {
        let want = rows(&reference, sql);
        assert!(want.starts_with("Ok("), "{want}");
        seen_above_one |= ["c2", "f2", "c3", "f3"].iter().any(|h| want.contains(h));
        assert_eq!(rows(&direct, sql), want, "{sql}");
    }
    assert!(
        seen_above_one,
        "the queries exercise more than one live handle"
    );
    assert_eq!(
        on.instance_stats().created,
        1,
        "all of it on the direct instance"
    );
    Ok(())
}

/// The direct instance is recycled after as many accumulators as the
/// component instance is, and at the same moment (no group live), so a
/// guest that leaks `finish`'s handles fills neither table and both paths
/// still agree.
#[test]
fn the_direct_instance_is_recycled_like_the_component_instance() -> Result<()> {
    let on = Engine::new()?;
    let off = Engine::builder().direct_calls(false).build()?;
    let (direct, reference) = (
        with(&on, wasmudf_test_guests::ACC_HANDLES)?,
        with(&off, wasmudf_test_guests::ACC_HANDLES)?,
    );
    for conn in [&direct, &reference] {
        numbers(conn, 12_000)?;
    }
    // Every group's report carries the drop count, which restarts with each
    // new instance, and the handle numbers, which depend on what the
    // instance's table holds.
    let sql = "SELECT count(*), group_concat(h, ';') FROM
               (SELECT handles(x) AS h FROM t GROUP BY id ORDER BY id)";
    let want = rows(&reference, sql);
    assert!(want.starts_with("Ok("), "{want}");
    assert_eq!(rows(&direct, sql), want);
    let stats = on.instance_stats();
    assert_eq!(
        (stats.created, stats.direct, stats.replaced),
        (2, 2, 0),
        "one direct instance recycled, not failed: {stats:?}"
    );
    Ok(())
}
