//! `wasmudf inspect FILE`.

use std::path::Path;

use anyhow::Result;
use comfy_table::Table;

use crate::output::safe;

pub(crate) fn run(file: &Path, no_cache: bool) -> Result<()> {
    // The cache matters here too: a JavaScript component takes half a
    // minute to compile.
    let engine = crate::udfs::build_cached(wasmudf::Engine::builder(), no_cache)?;
    let component = engine.load_file(file)?;
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["function", "kind", "arity", "flags"]);
    for f in component.functions() {
        table.add_row([
            safe(&f.name).into_owned(),
            f.kind.to_string(),
            f.arity.to_string(),
            f.flags.to_string(),
        ]);
    }
    println!("{}", safe(component.origin()));
    println!("{table}");
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    println!(
        "direct path (calls straight into the main core module, compiled on first use): \
         scalars {}, aggregates and windows {}",
        yes_no(component.has_direct_path()),
        yes_no(component.has_direct_aggregates()),
    );
    Ok(())
}
