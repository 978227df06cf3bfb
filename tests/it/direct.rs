//! The direct path for scalar calls: which calls take it, the hand-off to
//! the component path when a guest needs WASI, and that both paths give the
//! same answers and the same errors.

use anyhow::Result;
use rusqlite::Connection;
use wasmudf::{Engine, InstanceStats};

fn load(engine: &Engine, guests: &[&str]) -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    for name in guests {
        let path = wasmudf_test_guests::ALL
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| *p)
            .ok_or_else(|| anyhow::anyhow!("no guest {name}"))?;
        engine.load_file(path)?.register(&conn)?;
    }
    Ok(conn)
}

fn int(conn: &Connection, sql: &str) -> Result<i64> {
    Ok(conn.query_row(sql, [], |row| row.get(0))?)
}

#[test]
fn numeric_and_text_scalars_run_on_a_direct_instance() -> Result<()> {
    let engine = Engine::new()?;
    let conn = load(&engine, &["bench"])?;
    assert_eq!(int(&conn, "SELECT add1(41)")?, 42);
    let upper: String = conn.query_row("SELECT upper_ascii('abc')", [], |r| r.get(0))?;
    assert_eq!(upper, "ABC");
    let stats = engine.instance_stats();
    assert_eq!(
        stats,
        InstanceStats {
            created: 1,
            live: 1,
            replaced: 0,
            direct: 1
        },
        "one direct instance served both calls and no component instance was made"
    );
    // Aggregates always use the component instance.
    assert_eq!(
        int(
            &conn,
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10) SELECT sum_i(x) FROM n"
        )?,
        55
    );
    assert_eq!(engine.instance_stats().created, 2);
    Ok(())
}

#[test]
fn turning_the_direct_path_off_uses_only_component_instances() -> Result<()> {
    let engine = Engine::builder().direct_calls(false).build()?;
    let conn = load(&engine, &["bench"])?;
    assert_eq!(int(&conn, "SELECT add1(41)")?, 42);
    let stats = engine.instance_stats();
    assert_eq!((stats.created, stats.direct), (1, 0), "{stats:?}");
    Ok(())
}

#[test]
fn a_function_that_needs_wasi_moves_to_the_component_path_for_good() -> Result<()> {
    let engine = Engine::new()?;
    let conn = load(&engine, &["faulty"])?;
    // Reading the clock is a WASI call: the direct call stops there and the
    // call runs again on a component instance.
    assert!(int(&conn, "SELECT wall_clock_ns()")? > 0);
    let after_first = engine.instance_stats();
    assert_eq!(
        (after_first.created, after_first.direct),
        (2, 1),
        "{after_first:?}"
    );
    assert_eq!(after_first.live, 1, "the direct instance was dropped");
    assert_eq!(after_first.replaced, 0, "a hand-off is not a failure");
    // The function now stays on the component path: no new instance.
    assert!(int(&conn, "SELECT wall_clock_ns()")? > 0);
    assert_eq!(engine.instance_stats().created, 2);
    // Other functions keep their direct path.
    assert_eq!(int(&conn, "SELECT add1(1)")?, 2);
    assert_eq!(engine.instance_stats().direct, 2);
    Ok(())
}

#[test]
fn a_guest_panic_still_reports_its_message() -> Result<()> {
    let engine = Engine::new()?;
    let conn = load(&engine, &["faulty"])?;
    // The panic message goes to stderr (WASI), so the call moves to the
    // component path, where the message is captured.
    let err = int(&conn, "SELECT trap_if(1)").expect_err("traps");
    assert!(err.to_string().contains("trap_if asked to trap"), "{err}");
    assert_eq!(int(&conn, "SELECT trap_if(3)")?, 3);
    Ok(())
}

/// Every answer and every error message, from an engine with the direct
/// path and one without, for the same queries.
#[test]
fn both_paths_give_the_same_answers_and_errors() -> Result<()> {
    // `faulty` has an `add1` too, so it gets a connection of its own.
    let guests = [
        "bench",
        "identity",
        "text",
        "sha256",
        "greatest",
        "unreachable",
        "memory-bomb",
        "deep-recursion",
        "huge-result",
    ];
    let queries = [
        "SELECT add1(41), add1(9223372036854775807), add1(NULL), add1(2.5)",
        "SELECT addf(1.5), addf(-0.0), addf(1), addf(NULL)",
        "SELECT add3(1, 2, 3), add3(1, 'x', NULL), add3(x'00', 2, 3)",
        "SELECT upper_ascii('héllo'), upper_ascii(''), upper_ascii(42), upper_ascii(NULL)",
        "SELECT blob_rev(x'010203'), blob_rev(x''), blob_rev('ab')",
        "SELECT identity(1), identity(2.5), identity('t'), identity(x'ff'), identity(NULL)",
        "SELECT identity(CAST(x'fffe' AS TEXT))",
        "SELECT length(identity(zeroblob(200000))), length(identity(printf('%.*c', 100000, 'x')))",
        "SELECT spell(12), spell(-9223372036854775808)",
        "SELECT trap_if(1)",
        "SELECT trap_if(2)",
        "SELECT trap_if(3)",
        "SELECT unicode_upper('straße'), levenshtein('kitten', 'sitting')",
        "SELECT regexp('^a+$', 'aaa'), regexp('(', 'x')",
        "SELECT sha256('abc'), sha256(x'00')",
        "SELECT greatest(1, 'a', 2.5), greatest(NULL, 3)",
        "SELECT hit_unreachable()",
        "SELECT bomb(1000)",
        "SELECT recurse(100000000)",
        "SELECT length(huge_text(1)), length(huge_blob(1))",
    ];
    let run = |engine: &Engine| -> Result<Vec<String>> {
        let main = load(engine, &guests)?;
        let faulty = load(engine, &["faulty"])?;
        let mut out = Vec::new();
        for sql in queries {
            let uses_faulty = sql.contains("trap_if") || sql.contains("spell");
            let conn = if uses_faulty { &faulty } else { &main };
            let mut stmt = conn.prepare(sql)?;
            let columns = stmt.column_count();
            let row = stmt.query_row([], |row| {
                (0..columns)
                    .map(|i| row.get::<_, rusqlite::types::Value>(i))
                    .collect::<rusqlite::Result<Vec<_>>>()
            });
            out.push(format!("{sql} -> {row:?}"));
            // The connection stays usable after every failure.
            assert_eq!(int(conn, "SELECT add1(1)")?, 2, "after {sql}");
        }
        Ok(out)
    };
    let direct_engine = Engine::new()?;
    let direct = run(&direct_engine)?;
    let component = run(&Engine::builder().direct_calls(false).build()?)?;
    for (d, c) in direct.iter().zip(&component) {
        assert_eq!(d, c);
    }
    assert!(direct_engine.instance_stats().direct > 0);
    Ok(())
}
