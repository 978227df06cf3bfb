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
    let tables = component
        .functions()
        .iter()
        .any(|f| f.kind == wasmudf::FunctionKind::Table);
    let mut header = vec!["function", "kind", "arity", "flags"];
    if tables {
        header.push("columns");
    }
    table.set_header(header);
    for f in component.functions() {
        let mut row = vec![
            safe(&f.name).into_owned(),
            f.kind.to_string(),
            f.arity.to_string(),
            f.flags.to_string(),
        ];
        if tables {
            row.push(safe(&f.columns.join(", ")).into_owned());
        }
        table.add_row(row);
    }
    println!("{}", safe(component.origin()));
    println!(
        "wasmudf:udf@{}, {} bytes, language {}",
        component.wit_version(),
        component.size(),
        safe(component.language().unwrap_or("not stated"))
    );
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
