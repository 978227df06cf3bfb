//! `wasmudf bench`: the quick benchmark, as tables, JSON and SVG plots.

use anyhow::{Context, Result};
use comfy_table::Table;
use indicatif::{ProgressBar, ProgressStyle};
use wasmudf_benches::harness::{self, Options, Report};

use crate::BenchArgs;

pub(crate) fn run(args: &BenchArgs) -> Result<()> {
    let opts = Options {
        rows: args.rows,
        long_rows: (args.rows / 4).max(1),
        runs: args.runs,
        node: !args.no_node,
        threads: scaling_levels(&args.threads),
        datafusion_rows: args.datafusion_rows,
        ..Options::default()
    };
    let bar = ProgressBar::new(harness::step_count(&opts));
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = harness::run(&opts, &mut |label| {
        bar.inc(1);
        bar.set_message(label.to_string());
    })?;
    bar.finish_and_clear();
    print(&report);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let json = args.out.join("bench.json");
    std::fs::write(&json, serde_json::to_string_pretty(&report)?)?;
    let svgs = crate::plots::write_all(&report, &args.out)?;
    let mut wrote = vec![json];
    wrote.extend(svgs);
    let wrote: Vec<String> = wrote.iter().map(|p| p.display().to_string()).collect();
    println!("wrote {}", wrote.join(", "));
    Ok(())
}

/// The scaling table's levels: ascending, each once, and always 1, since
/// every speedup is against one query at a time.
fn scaling_levels(asked: &[u16]) -> Vec<usize> {
    let mut levels: Vec<usize> = asked.iter().map(|&n| usize::from(n)).collect();
    levels.push(1);
    levels.sort_unstable();
    levels.dedup();
    levels
}

fn f1(x: f64) -> String {
    format!("{x:.1}")
}

fn f2(x: f64) -> String {
    format!("{x:.2}")
}

/// An empty table with the CLI's style and `header`.
fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut t = Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header(header);
    t
}

fn print(r: &Report) {
    let mut t = table([
        "case",
        "scan ms",
        "builtin ms",
        "native ms",
        "wasm ms",
        "native ns/row",
        "wasm ns/row",
        "wasm/native",
        "overhead wasm/native",
        "wasm/builtin",
    ]);
    for p in &r.per_row {
        t.add_row([
            p.case.to_string(),
            f1(p.scan_ms),
            p.builtin_ms.map_or("-".into(), f1),
            f1(p.native_ms),
            f1(p.wasm_ms),
            f1(p.native_ns),
            f1(p.wasm_ns),
            f2(p.whole_ratio),
            f2(p.overhead_ratio),
            p.builtin_ratio.map_or("-".into(), f2),
        ]);
    }
    println!(
        "Per-row cost ({} rows; ns/row is net of the scan; median of runs)\n{t}",
        r.rows
    );

    let mut t = table(["figure", "value"]);
    let i = &r.instances;
    let figures = [
        ("fresh instance, pooling (µs)", f2(i.pooling_us)),
        ("fresh instance, on-demand (µs)", f2(i.on_demand_us)),
        (
            "fresh direct instance, pooling (µs)",
            f2(i.direct_pooling_us),
        ),
        (
            "fresh direct instance, on-demand (µs)",
            f2(i.direct_on_demand_us),
        ),
        ("cold compile of bench.wasm (ms)", f1(i.cold_compile_ms)),
        ("load from cache (ms)", f2(i.cached_load_ms)),
        ("add1 ns/row, no deadline", f1(r.limits.none_ns)),
        ("add1 ns/row, deadline (default)", f1(r.limits.deadline_ns)),
        (
            "add1 ns/row, deadline + fuel",
            f1(r.limits.deadline_fuel_ns),
        ),
        (
            "add1 ns/row, component path (direct calls off)",
            f1(r.limits.component_path_ns),
        ),
        (
            "RSS per idle instance (KiB)",
            f1(r.memory.rss_per_instance_kib),
        ),
        (
            "anon RSS per idle instance (KiB)",
            f1(r.memory.anon_per_instance_kib),
        ),
    ];
    for (figure, value) in figures {
        t.add_row([figure.to_string(), value]);
    }
    for s in &r.scaling {
        t.add_row([
            format!("{} concurrent queries: q/s (N-thread/1-thread)", s.threads),
            format!("{} ({}x)", f1(s.queries_per_s), f2(s.speedup)),
        ]);
        t.add_row([
            format!("  same scan without a UDF, {} at once", s.threads),
            format!("{} ({}x)", f1(s.sql_queries_per_s), f2(s.sql_speedup)),
        ]);
    }
    match (&r.node, r.wasm_vs_js_identity) {
        (Some(n), Some(ratio)) => {
            let js = |ms: f64| f1((ms - n.scan_ms).max(0.0) * 1e6 / n.rows as f64);
            t.add_row([
                format!("better-sqlite3 {} identity ns/row", n.node),
                js(n.identity_ms),
            ]);
            t.add_row([
                format!("better-sqlite3 {} add1 ns/row", n.node),
                js(n.add1_ms),
            ]);
            t.add_row([
                "identity overhead, wasm / better-sqlite3".to_string(),
                f2(ratio),
            ]);
        }
        _ => {
            let note = r.node_note.clone().unwrap_or_default();
            t.add_row(["better-sqlite3".to_string(), format!("skipped: {note}")]);
        }
    }
    println!("{t}");
    print_languages(r);
    print_datafusion(r);
}

/// The bench component in DataFusion: per row against a native Rust UDF
/// doing the same work, and against the same component in SQLite.
fn print_datafusion(r: &Report) {
    let Some(d) = &r.datafusion else {
        return;
    };
    let mut t = table([
        "kind",
        "wasm query",
        "native ms",
        "wasm ms",
        "wasm/native",
        "native ns/row",
        "wasm ns/row",
        "SQLite wasm ns/row",
    ]);
    for c in &d.cases {
        t.add_row([
            c.kind.to_string(),
            c.wasm_sql.to_string(),
            f1(c.native_ms),
            f1(c.wasm_ms),
            f2(c.whole_ratio),
            f1(c.native_ns),
            f1(c.wasm_ns),
            f1(c.sqlite_ns),
        ]);
    }
    println!(
        "DataFusion ({} rows, {} partitions, {}-row batches; ns/row net of the scan)\n{t}",
        d.rows, d.partitions, d.batch_size
    );
}

/// The guest-language comparison: one row per language and kind of call,
/// with better-sqlite3's V8 doing the same JavaScript where it ran.
fn print_languages(r: &Report) {
    let mut t = table(["language", "kind", "query", "ns/row"]);
    for lang in &r.languages {
        for case in &lang.cases {
            t.add_row([
                lang.language.to_string(),
                case.kind.to_string(),
                case.sql.clone(),
                f1(case.ns_per_row),
            ]);
        }
    }
    if let Some(n) = &r.node {
        let per = |ms: f64, scan: f64| f1((ms - scan).max(0.0) * 1e6 / n.rows as f64);
        let v8 = format!("better-sqlite3 (V8, Node {})", n.node);
        for (kind, sql, value) in [
            (
                "scalar",
                "sum(js_i64_add(i, 1))",
                per(n.js_add_ms, n.scan_ms),
            ),
            (
                "text",
                "sum(length(js_slugify(s)))",
                per(n.slugify_ms, n.text_scan_ms),
            ),
            ("aggregate", "js_mode(a)", per(n.mode_ms, n.count_scan_ms)),
        ] {
            t.add_row([v8.clone(), kind.to_string(), sql.to_string(), value]);
        }
    }
    println!(
        "Guest languages ({} rows; ns/row net of the scan)\n{t}",
        r.languages.first().map_or(0, |l| l.rows)
    );
    let mut t = table([
        "language",
        "component MB",
        "cold compile ms",
        "cached load ms",
        "first call ms",
        "RSS MiB",
    ]);
    for lang in &r.languages {
        t.add_row([
            lang.language.to_string(),
            f1(lang.component_bytes as f64 / 1e6),
            f1(lang.cold_compile_ms),
            f1(lang.cached_load_ms),
            f1(lang.first_call_ms),
            f1(lang.rss_mib),
        ]);
    }
    println!("{t}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn scaling_levels_start_at_one_ascend_and_repeat_nothing() {
        assert_eq!(super::scaling_levels(&[8, 2, 16, 2]), [1, 2, 8, 16]);
        assert_eq!(super::scaling_levels(&[1, 2, 4]), [1, 2, 4]);
        assert_eq!(super::scaling_levels(&[]), [1]);
    }
}
