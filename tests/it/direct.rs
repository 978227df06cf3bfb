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
    // Aggregates run on the same direct instance.
    assert_eq!(
        int(
            &conn,
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10) SELECT sum_i(x) FROM n"
        )?,
        55
    );
    assert_eq!(engine.instance_stats().created, 1);
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

/// Files in the cache directory (compiled artifacts), however they are
/// named.
fn cached_files(dir: &std::path::Path) -> Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            n += cached_files(&entry.path())?;
        } else {
            n += 1;
        }
    }
    Ok(n)
}

#[test]
fn the_direct_module_is_compiled_on_the_first_call_only() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let engine = Engine::builder()
        .cache_dir(dir.path())
        .cache_secret_file(wasmudf_tests::cache_secret())
        .build()?;
    let path = wasmudf_test_guests::BENCH;
    let component = engine.load_file(path)?;
    assert!(component.has_direct_path(), "eligible before any call");
    let after_load = cached_files(dir.path())?;
    assert!(after_load >= 1, "the component itself is cached");
    let conn = Connection::open_in_memory()?;
    component.register(&conn)?;
    // Loading compiled nothing more; the first call, here an aggregate,
    // compiles (and caches) the direct module, and scalars use it too.
    assert_eq!(cached_files(dir.path())?, after_load);
    assert_eq!(
        int(
            &conn,
            "SELECT sum_i(x) FROM (SELECT 1 AS x UNION ALL SELECT 2)"
        )?,
        3
    );
    assert_eq!(cached_files(dir.path())?, after_load + 1);
    assert_eq!(int(&conn, "SELECT add1(1)")?, 2);
    assert_eq!(cached_files(dir.path())?, after_load + 1);
    // Other connections share it: no second compile.
    let other = Connection::open_in_memory()?;
    component.register(&other)?;
    assert_eq!(int(&other, "SELECT add1(2)")?, 3);
    assert_eq!(cached_files(dir.path())?, after_load + 1);
    assert_eq!(engine.instance_stats().direct, 2);

    // `probe_direct_instance` compiles it too, here from the cache.
    let again = Engine::builder()
        .cache_dir(dir.path())
        .cache_secret_file(wasmudf_tests::cache_secret())
        .build()?;
    let component = again.load_file(path)?;
    assert!(component.probe_direct_instance()?);
    assert_eq!(cached_files(dir.path())?, after_load + 1);
    // And with the direct path off there is nothing to compile or probe.
    let off = Engine::builder().direct_calls(false).build()?;
    let component = off.load_file(path)?;
    assert!(!component.has_direct_path());
    assert!(!component.probe_direct_instance()?);
    Ok(())
}

#[test]
fn every_rust_guest_with_scalars_is_eligible() -> Result<()> {
    // The plan follows what wit-component writes (a nested component giving
    // the export its type, the `_initialize` start shim, the fixups module
    // filling the shim's table); if it stopped recognising that, every
    // guest would silently lose its direct path.
    let engine = Engine::new()?;
    let hostile = hostile_guests()?;
    let mut eligible = 0;
    for (name, path) in wasmudf_test_guests::ALL {
        let Ok(component) = engine.load_file(path) else {
            continue;
        };
        let has_scalars = component
            .functions()
            .iter()
            .any(|f| f.kind == wasmudf::FunctionKind::Scalar);
        if has_scalars && !hostile.iter().any(|h| h == name) {
            assert!(component.has_direct_path(), "{name}");
            assert!(component.probe_direct_instance()?, "{name}");
            eligible += 1;
        }
    }
    assert!(eligible >= 6, "{eligible}");
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

/// One argument of a random call.
#[derive(Debug, Clone)]
enum Arg {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    /// TEXT whose bytes are not (necessarily) UTF-8, made with a CAST.
    RawText(Vec<u8>),
    Blob(Vec<u8>),
}

fn arg() -> impl proptest::strategy::Strategy<Value = Arg> {
    use proptest::prelude::*;
    let special_reals = prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(0.0),
        Just(f64::MIN_POSITIVE),
        Just(f64::MAX),
        Just(f64::MIN),
    ];
    prop_oneof![
        Just(Arg::Null),
        prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0i64),
            Just(-1i64),
            Just(1i64),
            Just(2i64),
            any::<i64>(),
            -1000i64..1000,
        ]
        .prop_map(Arg::Integer),
        prop_oneof![special_reals, any::<f64>()].prop_map(Arg::Real),
        prop_oneof![
            ".{0,12}",
            "[a-z]{0,3}",
            // Long strings, past any small buffer a guest or host may use.
            "[a-zA-Zé日]{200,3000}",
        ]
        .prop_map(Arg::Text),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Arg::RawText),
        proptest::collection::vec(any::<u8>(), 0..3000).prop_map(Arg::Blob),
    ]
}

/// Functions left out of the differential test: their answers depend on
/// time, chance, files or earlier calls, not only on their arguments. A
/// function declared deterministic is always in: the host makes its
/// instance see nothing that varies. The others are named one by one, so a
/// new impure test function shows up as a failure here rather than being
/// skipped by a guess at its name.
pub(crate) fn is_pure(f: &wasmudf::FunctionSpec) -> bool {
    const IMPURE: &[&str] = &[
        "wat_count",
        "wat_burn",
        "sleep",
        "wall_clock_ns",
        "plain_nap",
        "plain_random",
        "plain_read",
    ];
    f.flags.deterministic || !IMPURE.contains(&f.name.as_str())
}

/// The hostile guests, by crate name: they are tested one attack at a
/// time elsewhere, not with random arguments.
pub(crate) fn hostile_guests() -> Result<Vec<String>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../guests/hostile");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(names)
}

/// Both engines, with one connection per guest each, and the scalar
/// functions to call: (guest index, name, arity; -1 is variadic).
struct World {
    on: Engine,
    direct: Vec<Connection>,
    component: Vec<Connection>,
    functions: Vec<(usize, String, i16)>,
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
            // Every example and test guest that loads, and the hand-written
            // component of `canon.rs`; hostile guests are tested elsewhere.
            let hostile = hostile_guests()?;
            let mut sources: Vec<(String, Vec<u8>)> = Vec::new();
            for (name, path) in wasmudf_test_guests::ALL {
                if !hostile.iter().any(|h| h == name) {
                    sources.push((name.to_string(), std::fs::read(path)?));
                }
            }
            let wat = crate::canon::wat_guest(&crate::canon::Knobs::default());
            sources.push(("wat".into(), wat::parse_str(wat)?));
            let mut world = World {
                on: on.clone(),
                direct: Vec::new(),
                component: Vec::new(),
                functions: Vec::new(),
            };
            for (name, bytes) in &sources {
                let (Ok(d), Ok(c)) = (on.load(name, bytes), off.load(name, bytes)) else {
                    continue;
                };
                let guest = world.direct.len();
                for f in d.functions() {
                    if f.kind == wasmudf::FunctionKind::Scalar && is_pure(f) {
                        world
                            .functions
                            .push((guest, f.name.clone(), f.arity.as_sqlite() as i16));
                    }
                }
                let (dc, cc) = (Connection::open_in_memory()?, Connection::open_in_memory()?);
                d.register(&dc)?;
                c.register(&cc)?;
                world.direct.push(dc);
                world.component.push(cc);
            }
            Ok(world)
        };
        std::sync::Mutex::new(build().expect("the differential world builds"))
    })
}

/// `SELECT name(?1, ...)` with `args`, as a string: the value or the error
/// message.
fn call(conn: &Connection, name: &str, args: &[Arg]) -> String {
    use rusqlite::types::Value;
    let placeholders: Vec<String> = args
        .iter()
        .enumerate()
        .map(|(i, a)| match a {
            Arg::RawText(_) => format!("CAST(?{} AS TEXT)", i + 1),
            _ => format!("?{}", i + 1),
        })
        .collect();
    let sql = format!("SELECT {name}({})", placeholders.join(", "));
    let params: Vec<Value> = args
        .iter()
        .map(|a| match a {
            Arg::Null => Value::Null,
            Arg::Integer(i) => Value::Integer(*i),
            Arg::Real(r) => Value::Real(*r),
            Arg::Text(t) => Value::Text(t.clone()),
            Arg::RawText(b) | Arg::Blob(b) => Value::Blob(b.clone()),
        })
        .collect();
    let r = conn.query_row(&sql, rusqlite::params_from_iter(params), |row| {
        row.get::<_, Value>(0)
    });
    format!("{r:?}")
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 96,
        ..proptest::test_runner::Config::default()
    })]

    /// Random arguments through every scalar function of every example and
    /// test guest: the direct path on and off give the same values and the
    /// same error messages.
    #[test]
    fn the_direct_path_changes_no_answer(
        picks in proptest::collection::vec(
            (proptest::prelude::any::<proptest::sample::Index>(),
             proptest::collection::vec(arg(), 0..=4)),
            1..12,
        )
    ) {
        let world = world().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (pick, mut args) in picks {
            let (guest, name, arity) = &world.functions[pick.index(world.functions.len())];
            if *arity >= 0 {
                args.resize(*arity as usize, Arg::Null);
            }
            let direct = call(&world.direct[*guest], name, &args);
            let component = call(&world.component[*guest], name, &args);
            proptest::prop_assert_eq!(&direct, &component, "{}({:?})", name, args);
        }
        proptest::prop_assert!(world.on.instance_stats().direct > 0);
    }
}
