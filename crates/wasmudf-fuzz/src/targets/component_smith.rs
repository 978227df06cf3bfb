//! Random components (`wasm-smith` core modules with an arbitrary manifest,
//! wrapped by `wit-component`) through `Engine::load` and one call of each
//! function on every path; the direct path and the component path must
//! answer alike.

use std::sync::Once;

use arbitrary::Unstructured;
use crate::{arbitrary_rows, calls, component_only_engine, differential, engine, instance_calls, smith};

/// Runs one input; panics on a finding.
pub fn run(data: &[u8]) {
    static LAYOUTS: Once = Once::new();
    LAYOUTS.call_once(smith::check_layouts);
    let mut u = Unstructured::new(data);
    let Ok(Some(bytes)) = smith::component(&mut u) else {
        return;
    };
    let direct = engine().load("smith", &bytes);
    let component = component_only_engine().load("smith", &bytes);
    assert_eq!(
        direct.is_ok(),
        component.is_ok(),
        "the direct path changes whether a component loads: {:?} / {:?}",
        direct.as_ref().err(),
        component.as_ref().err()
    );
    let (direct, component) = match (direct, component) {
        (Ok(d), Ok(c)) => (d, c),
        (Err(e), _) | (_, Err(e)) => {
            crate::assert_escaped("a load error", &e.to_string());
            return;
        }
    };
    let calls = calls(&direct, |_, arity| arbitrary_rows(&mut u, arity));
    differential(&direct, &component, &calls);
    // Tables, and the Instance API, on the direct engine's component.
    let tables: Vec<_> = calls.iter().filter(|c| c.kind == wasmudf::FunctionKind::Table).collect();
    crate::sql_calls(&direct, &tables);
    instance_calls(&direct, &calls);
}
