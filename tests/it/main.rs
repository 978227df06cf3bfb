//! Integration tests: real components compiled from `guests/`, real SQLite.

mod agg_state;
mod aggregates;
mod asyncdb;
mod cache;
mod cancel;
mod canon;
mod catalog;
mod determinism;
mod direct;
mod direct_acc;
mod errors;
mod examples;
mod hostile;
mod instance;
mod lang;
mod limits;
mod load;
mod registration;
mod replace;
mod roundtrip;
mod sandbox;
mod sql_load;
mod tables;
mod threads;
mod versions;

/// Every guest is loaded by at least this test, which makes "every guest
/// builds and is covered" a compile-time list rather than a convention.
mod every_guest {
    macro_rules! guest_test {
        ($name:ident, $path:expr) => {
            #[test]
            fn $name() {
                let engine = wasmudf_tests::engine();
                let loaded = engine.load_file($path);
                match stringify!($name) {
                    // Test guests whose whole point is to be rejected at
                    // load time; `load.rs` and `hostile.rs` check the error.
                    "dup_manifest" | "other_version" | "bad_arity" | "dup_names_case"
                    | "huge_manifest" => assert!(loaded.is_err()),
                    _ => {
                        let c = loaded.expect("guest loads");
                        assert!(!c.functions().is_empty(), "guest exports no function");
                    }
                }
            }
        };
    }
    wasmudf_test_guests::foreach_guest!(guest_test);
}
