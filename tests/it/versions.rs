//! The host speaks every released version of the `wasmudf:udf` interface:
//! components built for 0.1.0 keep loading and running beside 0.2.0 ones.

use anyhow::Result;
use rusqlite::Connection;
use wasmudf::{Error, ValueType, WitVersion};
use wasmudf_tests::{component, engine, wat_guest};

fn fixture(name: &str) -> String {
    format!(
        "{}/fixtures/wit-0.1.0/{name}.wasm",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn components_for_0_1_0_load_and_run_beside_0_2_0_ones() -> Result<()> {
    let old_stats = engine().load_file(fixture("stats"))?;
    let old_sha = engine().load_file(fixture("sha256"))?;
    assert_eq!(old_stats.wit_version(), WitVersion::V0_1);
    assert_eq!(old_sha.wit_version(), WitVersion::V0_1);
    let new_stats = component("stats");
    assert_eq!(new_stats.wit_version(), WitVersion::V0_2);

    // 0.1.0 declares no types and nothing mergeable.
    for f in old_stats.functions() {
        assert_eq!(
            (f.returns, &f.params, f.mergeable),
            (None, &None, false),
            "{f:?}"
        );
    }

    // The same answers from the old and the new build of a guest, through
    // scalars, aggregates and windows, direct path and component path.
    let query = "WITH t(x) AS (VALUES (3), (1.5), (NULL), (-4), (10))
                 SELECT (SELECT median(x) FROM t),
                        (SELECT group_concat(s, ',') FROM
                           (SELECT sumsq(x) OVER (ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s
                            FROM t)),
                        hex(sha256('abc'))";
    let answer = |stats: &wasmudf::Component| -> Result<(f64, String, String)> {
        let conn = Connection::open_in_memory()?;
        stats.register(&conn)?;
        old_sha.register(&conn)?;
        Ok(conn.query_row(query, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?)
    };
    let old = answer(&old_stats)?;
    assert_eq!(old, answer(&new_stats)?);
    assert_eq!(old.0, 2.25);
    assert!(old.2.starts_with("BA7816BF"), "{}", old.2);

    // Both kinds run on the direct path.
    assert!(old_stats.has_direct_aggregates() && new_stats.has_direct_aggregates());
    Ok(())
}

#[test]
fn the_0_2_0_manifest_declares_types_from_the_rust_signatures() {
    let stats = component("stats");
    let find = |c: &wasmudf::Component, name: &str| {
        c.functions()
            .iter()
            .find(|f| f.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let median = find(&stats, "median");
    // `Output = Option<f64>`; the argument is a custom numeric type that
    // declares nothing.
    assert_eq!(median.returns, Some(ValueType::Real));
    assert_eq!(median.params, None);
    assert!(median.mergeable);
    let sumsq = find(&stats, "sumsq");
    assert_eq!(sumsq.returns, None);
    assert!(sumsq.mergeable);
    let sha = find(&component("sha256"), "sha256");
    assert_eq!(sha.returns, Some(ValueType::Blob));
    let bench = component("bench");
    let add1 = find(&bench, "add1");
    assert_eq!(add1.returns, Some(ValueType::Integer));
    assert_eq!(add1.params, Some(vec![ValueType::Integer]));
    assert!(!add1.mergeable);
    assert!(find(&bench, "sum_i").mergeable);
}

/// A guest written as a core module for the interface versions `exports`
/// names, with one scalar, `answer(x)`, in each version's manifest: its
/// 0.1.0 exports answer 666 and its 0.2.0 exports 42, through `fast1`
/// (numbers) and `call1` (TEXT) alike.
fn answering_guest(exports: wat_guest::Exports) -> Result<Vec<u8>> {
    use wat_guest::{Exports, PREFIX, PREFIX_0_2_0};
    let answer = |prefix: &str, n: i64, at: u32| {
        format!(
            r#"(func (export "{prefix}fast1") (param i32 i32 i64) (result i32)
                 (i32.store8 (i32.const {at}) (i32.const 1))
                 (i64.store (i32.const {fast_value}) (i64.const {n}))
                 (i32.const {at}))
               (func (export "{prefix}call1") (param i32 i32 i64 i32) (result i32)
                 (i32.store8 (i32.const {call_at}) (i32.const 0))
                 (i32.store8 (i32.const {call_disc}) (i32.const 1))
                 (i64.store (i32.const {call_value}) (i64.const {n}))
                 (i32.const {call_at}))"#,
            fast_value = at + 8,
            call_at = at + 0x40,
            call_disc = at + 0x48,
            call_value = at + 0x50,
        )
    };
    let functions = [("answer", 1, 0, 1)];
    let mut body = String::new();
    if exports != Exports::V0_2_0 {
        body += &wat_guest::manifest(0x1000, &functions);
        body += &answer(PREFIX, 666, 0x3000);
        body += &wat_guest::stub_exports(&["manifest", "fast1", "call1"]);
    }
    if exports != Exports::V0_1_0 {
        body += &wat_guest::manifest_0_2_0(0x2000, &functions);
        body += &answer(PREFIX_0_2_0, 42, 0x3100);
        body += &wat_guest::stub_exports_0_2_0(&["manifest", "fast1", "call1"]);
    }
    let wat = format!(
        "(module (memory (export \"memory\") 1) {realloc} {body})",
        realloc = wat_guest::bump_realloc(0x4000),
    );
    wat_guest::component_exporting(&wat, exports)
}

/// `answer(7)` and `answer('x')` through `component`, on a fresh
/// connection.
fn answers(component: &wasmudf::Component) -> Result<(i64, i64)> {
    let conn = Connection::open_in_memory()?;
    component.register(&conn)?;
    let number = conn.query_row("SELECT answer(7)", [], |r| r.get(0))?;
    let text = conn.query_row("SELECT answer('x')", [], |r| r.get(0))?;
    Ok((number, text))
}

/// A component exporting both 0.1.0 and 0.2.0 could run one version's code
/// on the direct path and the other's on the component path. It is refused
/// at load, with both exports named, while each half alone loads and
/// answers its own number on both paths.
#[test]
fn a_component_exporting_two_versions_is_refused() -> Result<()> {
    use wat_guest::Exports;
    let direct = wasmudf::Engine::new()?;
    let component_path = wasmudf::Engine::builder().direct_calls(false).build()?;
    for (exports, version, expected) in [
        (Exports::V0_1_0, WitVersion::V0_1, 666),
        (Exports::V0_2_0, WitVersion::V0_2, 42),
    ] {
        let bytes = answering_guest(exports)?;
        for engine in [&direct, &component_path] {
            let c = engine.load(&format!("{exports:?}"), &bytes)?;
            assert_eq!(c.wit_version(), version);
            assert_eq!(answers(&c)?, (expected, expected), "{exports:?}");
        }
        assert!(direct.load("direct", &bytes)?.has_direct_path());
    }
    let both = answering_guest(Exports::Both)?;
    for engine in [&direct, &component_path] {
        let err = engine
            .load("both.wasm", &both)
            .expect_err("two versions are refused");
        match &err {
            Error::SeveralVersions { origin, exports } => {
                assert_eq!(origin, "both.wasm");
                assert_eq!(
                    exports,
                    &["wasmudf:udf/guest@0.1.0", "wasmudf:udf/guest@0.2.0"]
                );
            }
            other => panic!("wrong error: {other}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("more than one version")
                && text.contains("@0.1.0")
                && text.contains("@0.2.0"),
            "{text}"
        );
    }
    Ok(())
}
