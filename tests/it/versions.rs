//! The host speaks every released version of the `wasmudf:udf` interface:
//! components built for 0.1.0 keep loading and running beside 0.2.0 ones.

use anyhow::Result;
use rusqlite::Connection;
use wasmudf::{ValueType, WitVersion};
use wasmudf_tests::{component, engine};

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
    // scalars, aggregates and windows, direct path and component path. The
    // 0.1.0 builds predate the examples' rename away from DataFusion's
    // builtin names: their `median` is today's `median_of`.
    let query = |median: &str| {
        format!(
            "WITH t(x) AS (VALUES (3), (1.5), (NULL), (-4), (10))
             SELECT (SELECT {median}(x) FROM t),
                    (SELECT group_concat(s, ',') FROM
                       (SELECT sumsq(x) OVER (ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s
                        FROM t)),
                    hex(sha256('abc'))"
        )
    };
    let answer = |stats: &wasmudf::Component, median: &str| -> Result<(f64, String, String)> {
        let conn = Connection::open_in_memory()?;
        stats.register(&conn)?;
        old_sha.register(&conn)?;
        Ok(conn.query_row(&query(median), [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?)
    };
    let old = answer(&old_stats, "median")?;
    assert_eq!(old, answer(&new_stats, "median_of")?);
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
    let median = find(&stats, "median_of");
    // `Output = Option<f64>`; the argument is a custom numeric type that
    // declares nothing.
    assert_eq!(median.returns, Some(ValueType::Real));
    assert_eq!(median.params, None);
    assert!(median.mergeable);
    let sumsq = find(&stats, "sumsq");
    assert_eq!(sumsq.returns, None);
    assert!(sumsq.mergeable);
    let sha = find(&component("sha256"), "sha256_of");
    assert_eq!(sha.returns, Some(ValueType::Blob));
    let bench = component("bench");
    let add1 = find(&bench, "add1");
    assert_eq!(add1.returns, Some(ValueType::Integer));
    assert_eq!(add1.params, Some(vec![ValueType::Integer]));
    assert!(!add1.mergeable);
    assert!(find(&bench, "sum_i").mergeable);
}
