//! The SVG plots `wasmudf bench` writes next to `bench.json`, one per family
//! of figures, for readers who would rather look than read the tables:
//!
//! - `per-row.svg`: what one call costs, ns/row net of the scan, per case,
//!   as grouped horizontal bars: native rusqlite closure, wasm UDF, and
//!   better-sqlite3's JavaScript UDF for the cases it runs with the very same
//!   query. The gap between the bars is the sandbox's price per row.
//! - `scaling.svg`: throughput of N concurrent UDF-heavy queries against one
//!   at a time, with the ideal line y = x, so that contention (or running
//!   out of cores) shows as the distance between the two.
//! - `instances.svg`: the µs a fresh instance costs, component and direct
//!   path, pooling and on-demand allocator: what a new connection or a
//!   trap's replacement instance pays.
//!
//! Every text drawn is one of our own fixed strings or a number, never
//! guest or subprocess output (the Node version is left out for that
//! reason), so no label can smuggle markup or control characters in.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use wasmudf_benches::harness::{Node, Report, Scaling};

/// The native closure's colour. Each series keeps one colour in every
/// plot (wasm is red in the bars and in the scaling line), and bars also
/// keep a fixed slot in their group, so that red and green apart, the
/// order tells them apart too.
const NATIVE: RGBColor = RGBColor(31, 119, 180);
/// The wasm UDF's colour.
const WASM: RGBColor = RGBColor(214, 39, 40);
/// better-sqlite3's colour.
const NODE: RGBColor = RGBColor(44, 160, 44);
/// The pooling allocator's colour: unlike any per-row series, since an
/// allocator is not a way of running a UDF.
const POOLING: RGBColor = RGBColor(23, 190, 207);
/// The on-demand allocator's colour.
const ON_DEMAND: RGBColor = RGBColor(148, 103, 189);
/// The ideal line's colour: grey, a reference rather than a measurement.
const IDEAL: RGBColor = RGBColor(140, 140, 140);
/// Left to the viewer's fonts: the SVG backend only names the family.
const FONT: &str = "sans-serif";
/// Plot width in pixels; wide enough for the longest bar plus its label.
const WIDTH: u32 = 1000;

/// Writes `per-row.svg`, `scaling.svg` and `instances.svg` into `dir` (which
/// must exist) and returns their paths in that order.
///
/// # Errors
///
/// A file that cannot be written or a chart that plotters cannot lay out.
pub(crate) fn write_all(report: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    type Draw = fn(&Report, &Path) -> Result<()>;
    let plots: [(&str, Draw); 3] = [
        ("per-row.svg", per_row),
        ("scaling.svg", scaling),
        ("instances.svg", instances),
    ];
    plots
        .into_iter()
        .map(|(name, draw)| {
            let path = dir.join(name);
            draw(report, &path).with_context(|| format!("drawing {}", path.display()))?;
            Ok(path)
        })
        .collect()
}

/// A per-row case better-sqlite3 also runs, with the same query and scan
/// (see `benches/node/bench.js`), and the Node fields timing the two.
#[derive(Debug)]
struct NodeCase {
    /// The `PerRowCase` name.
    case: &'static str,
    /// The query, identical in both harnesses; only the test reads it.
    #[cfg_attr(not(test), allow(dead_code))]
    query: &'static str,
    /// The scan it is netted against, also identical.
    #[cfg_attr(not(test), allow(dead_code))]
    scan: &'static str,
    /// The Node field timing the query.
    udf_ms: fn(&Node) -> f64,
    /// The Node field timing the scan.
    scan_ms: fn(&Node) -> f64,
}

/// Only these three: `js_i64_add`, `js_slugify` and `js_mode` are the
/// JavaScript example's code (BigInts, a different function), so they
/// compare guest languages, not the per-row cases, and would mislead here.
const NODE_CASES: &[NodeCase] = &[
    NodeCase {
        case: "i64->i64",
        query: "SELECT sum(add1(i)) FROM t",
        scan: "SELECT sum(i) FROM t",
        udf_ms: |n| n.add1_ms,
        scan_ms: |n| n.scan_ms,
    },
    NodeCase {
        case: "identity",
        query: "SELECT sum(identity(i)) FROM t",
        scan: "SELECT sum(i) FROM t",
        udf_ms: |n| n.identity_ms,
        scan_ms: |n| n.scan_ms,
    },
    NodeCase {
        case: "text->text 16B",
        query: "SELECT sum(length(upper_ascii(s))) FROM t",
        scan: "SELECT sum(length(s)) FROM t",
        udf_ms: |n| n.upper_ms,
        scan_ms: |n| n.text_scan_ms,
    },
];

/// better-sqlite3's ns/row net of the scan for `case`, netted the way the
/// harness nets ours, or `None` where it does not run that query.
fn node_ns(node: &Node, case: &str) -> Option<f64> {
    let c = NODE_CASES.iter().find(|c| c.case == case)?;
    Some(((c.udf_ms)(node) - (c.scan_ms)(node)).max(0.0) * 1e6 / node.rows.max(1) as f64)
}

/// A linear f64 axis with ticks only at the given points: band centres, so
/// each category name sits beside its bars, or the measured thread counts.
/// plotters' own `with_key_points` would do, but it opts out of default
/// value formatting, which `configure_mesh` requires even when a label
/// formatter replaces it.
#[derive(Debug)]
struct Ticks {
    range: std::ops::Range<f64>,
    at: Vec<f64>,
}

impl Ticks {
    /// An axis over `range` with ticks at `at`.
    fn new(range: std::ops::Range<f64>, at: Vec<f64>) -> Self {
        Ticks { range, at }
    }
}

impl Ranged for Ticks {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        RangedCoordf64::from(self.range.clone()).map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // No light (minor) grid lines between ticks that mean nothing.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.at.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

/// One coloured series of a grouped bar chart: a value per category, `None`
/// where it was not measured (the slot stays empty, so every series keeps
/// its place in every group and the colours line up down the chart).
#[derive(Debug)]
struct Bars {
    /// The legend entry.
    label: &'static str,
    /// The bars' fill and the legend swatch.
    color: RGBColor,
    /// One value per category, in the categories' order.
    values: Vec<Option<f64>>,
}

/// What a grouped horizontal bar chart shows.
#[derive(Debug)]
struct BarChart<'a> {
    /// The title above the plot.
    caption: &'a str,
    /// The value axis's description, with the unit.
    x_desc: &'a str,
    /// Appended to each bar's value label.
    unit: &'a str,
    /// One band per category, first at the top.
    categories: Vec<&'a str>,
    series: Vec<Bars>,
}

/// Horizontal bars rather than vertical so that case names such as
/// `aggregate median` read without rotation, ten cases or more.
fn grouped_bars(path: &Path, spec: &BarChart<'_>) -> Result<()> {
    /// Blank border around the chart, pixels.
    const MARGIN: u32 = 12;
    /// About what plotters gives a 20 px caption.
    const CAPTION: u32 = 32;
    /// Below the plot: tick labels and the axis description.
    const X_LABELS: u32 = 40;
    /// Left of the plot: room for `text->text 1KiB` at 14 px.
    const Y_LABELS: u32 = 150;
    let n = spec.categories.len();
    // At least one band and one slot, so an empty report still gets
    // non-degenerate ranges and a valid (empty) chart.
    let bands = n.max(1);
    let slots = spec.series.len().max(1);
    let height =
        (2 * MARGIN + CAPTION + X_LABELS + (20 * slots as u32 + 16) * bands as u32).max(300);
    let value = |s: &Bars, i: usize| s.values.get(i).copied().flatten().filter(|v| v.is_finite());
    let biggest = |range: std::ops::Range<usize>| {
        range
            .flat_map(|i| spec.series.iter().filter_map(move |s| value(s, i)))
            .fold(0.0, f64::max)
    };

    // The legend goes in whichever right-hand corner needs the axis
    // stretched least for the bars beside it to end, value label and all,
    // short of it. Sizes are estimated the way plotters' own SVG layout
    // does (about 6.4 px a byte at 14 px), the bands being evenly spaced.
    let plot_w = f64::from(WIDTH - 2 * MARGIN - Y_LABELS);
    let band_h = f64::from(height - 2 * MARGIN - CAPTION - X_LABELS) / bands as f64;
    let longest = spec
        .series
        .iter()
        .map(|s| legend_label(s.label).len())
        .max()
        .unwrap_or(0);
    let legend_w = 6.4 * longest as f64 + 50.0;
    let legend_h = 22.0 * spec.series.len() as f64 + 20.0;
    let covered = ((legend_h / band_h).ceil() as usize).min(n);
    let free = (plot_w - legend_w - 70.0).max(plot_w * 0.3) / plot_w;
    let (upper, lower) = (biggest(0..covered) / free, biggest(n - covered..n) / free);
    let (corner, beside_legend) = if upper <= lower {
        (SeriesLabelPosition::UpperRight, upper)
    } else {
        (SeriesLabelPosition::LowerRight, lower)
    };
    // Room right of the longest bar for its label, too.
    let x_max = (biggest(0..n) * 1.22).max(beside_legend);
    let x_max = if x_max > 0.0 { x_max } else { 1.0 };
    let top = |i: usize| (bands - 1 - i) as f64;

    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let centres: Vec<f64> = (0..bands).map(|i| top(i) + 0.5).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(spec.caption, (FONT, 20))
        .margin(MARGIN)
        .x_label_area_size(X_LABELS)
        .y_label_area_size(Y_LABELS)
        .build_cartesian_2d(0.0..x_max, Ticks::new(0.0..bands as f64, centres))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_max_light_lines(1)
        .y_label_formatter(&|y| {
            let band = y.floor() as usize;
            (band < bands)
                .then(|| bands - 1 - band)
                .and_then(|i| spec.categories.get(i))
                .map_or(String::new(), |c| (*c).to_string())
        })
        .x_label_formatter(&|x| tick(*x))
        .y_label_style((FONT, 14))
        .x_desc(spec.x_desc)
        .x_label_style((FONT, 13))
        .draw()?;

    // Each band keeps 15% clear above and below to separate the groups.
    let slot = 0.7 / slots as f64;
    let span = |i: usize, k: usize| {
        let hi = top(i) + 0.85 - slot * k as f64;
        (hi - slot * 0.88, hi)
    };
    let label_style =
        TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (k, s) in spec.series.iter().enumerate() {
        let color = s.color;
        chart
            .draw_series((0..n).filter_map(|i| {
                let v = value(s, i)?;
                let (lo, hi) = span(i, k);
                Some(Rectangle::new(
                    [(0.0, lo), (v, hi)],
                    color.mix(0.85).filled(),
                ))
            }))?
            .label(legend_label(s.label))
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
        chart.draw_series((0..n).filter_map(|i| {
            let v = value(s, i)?;
            let (lo, hi) = span(i, k);
            Some(Text::new(
                format!("{}{}", number(v), spec.unit),
                (v + x_max * 0.006, (lo + hi) / 2.0),
                label_style.clone(),
            ))
        }))?;
    }
    legend(&mut chart, corner)?;
    root.present()?;
    Ok(())
}

/// A legend label padded with trailing spaces: plotters sizes the legend
/// box by a per-byte estimate that falls short for wide fonts (DejaVu Sans,
/// upper case), and SVG drops the trailing spaces when it renders, so they
/// widen the box without moving the text.
fn legend_label(label: &str) -> String {
    format!("{label}{}", " ".repeat(label.len() / 8 + 1))
}

/// An axis tick: whole numbers without a `.0`, fractions to one place.
fn tick(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// Draws the series labels with the style every plot shares.
fn legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    corner: SeriesLabelPosition,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(corner)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.5))
        .draw()?;
    Ok(())
}

/// A value label with about three significant digits: `0.42`, `12.3`, `512`.
fn number(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// `per-row.svg`: the per-row cases, native, wasm and better-sqlite3.
fn per_row(r: &Report, path: &Path) -> Result<()> {
    let mut series = vec![
        Bars {
            label: "native closure (rusqlite)",
            color: NATIVE,
            values: r.per_row.iter().map(|p| Some(p.native_ns)).collect(),
        },
        Bars {
            label: "wasm UDF (wasmudf)",
            color: WASM,
            values: r.per_row.iter().map(|p| Some(p.wasm_ns)).collect(),
        },
    ];
    if let Some(n) = &r.node {
        series.push(Bars {
            label: "better-sqlite3 (JavaScript UDF, same query)",
            color: NODE,
            values: r.per_row.iter().map(|p| node_ns(n, p.case)).collect(),
        });
    }
    let caption = format!(
        "Per-row cost of a UDF call, {} rows, median of runs",
        r.rows
    );
    grouped_bars(
        path,
        &BarChart {
            caption: &caption,
            x_desc: "ns per row, net of the same query's scan without the function",
            unit: "",
            categories: r.per_row.iter().map(|p| p.case).collect(),
            series,
        },
    )
}

/// `instances.svg`: instance creation, grouped by path, one bar per
/// allocator, since the allocator is the knob a user can turn.
fn instances(r: &Report, path: &Path) -> Result<()> {
    let i = &r.instances;
    grouped_bars(
        path,
        &BarChart {
            caption: "Creating a fresh instance (mean)",
            x_desc: "µs per instance",
            unit: " µs",
            categories: vec!["component instance", "direct instance"],
            series: vec![
                Bars {
                    label: "pooling allocator",
                    color: POOLING,
                    values: vec![Some(i.pooling_us), Some(i.direct_pooling_us)],
                },
                Bars {
                    label: "on-demand allocator",
                    color: ON_DEMAND,
                    values: vec![Some(i.on_demand_us), Some(i.direct_on_demand_us)],
                },
            ],
        },
    )
}

/// `scaling.svg`: measured speedup against concurrent queries, and the
/// ideal line it would follow if queries never waited on each other.
fn scaling(r: &Report, path: &Path) -> Result<()> {
    let measured = |f: fn(&Scaling) -> f64| -> Vec<(f64, f64)> {
        r.scaling
            .iter()
            .filter(|s| f(s).is_finite())
            .map(|s| (s.threads as f64, f(s)))
            .collect()
    };
    let points = measured(|s| s.speedup);
    let control = measured(|s| s.sql_speedup);
    let x_top = points.iter().map(|p| p.0).fold(1.0, f64::max);
    let y_top = points
        .iter()
        .chain(&control)
        .map(|p| p.1)
        .fold(x_top, f64::max)
        * 1.15;
    // Ticks only where something was measured: levels such as 1, 2, 4, 16
    // are not evenly spaced, and a tick at 3 would suggest a measurement.
    let mut ticks: Vec<f64> = points.iter().map(|p| p.0).collect();
    if ticks.is_empty() {
        ticks.push(1.0);
    }

    let root = SVGBackend::new(path, (WIDTH, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Scaling: concurrent sum(add1(i)) queries on a connection pool",
            (FONT, 20),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(Ticks::new(0.0..x_top * 1.06 + 0.3, ticks), 0.0..y_top)?;
    chart
        .configure_mesh()
        .y_max_light_lines(1)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.1}x"))
        .x_desc("concurrent queries (and connections)")
        .y_desc("speedup in queries/s over one at a time")
        .label_style((FONT, 13))
        .draw()?;

    let ideal = IDEAL.stroke_width(2);
    chart
        .draw_series(std::iter::once(DashedPathElement::new(
            vec![(0.0, 0.0), (x_top, x_top)],
            8,
            5,
            ideal,
        )))?
        .label(legend_label("ideal (y = x)"))
        .legend(move |(x, y)| DashedPathElement::new(vec![(x, y), (x + 20, y)], 6, 4, ideal));
    // Without a measurement there is no line, and a legend entry for one
    // would only puzzle.
    if !points.is_empty() {
        let measured = WASM.stroke_width(3);
        chart
            .draw_series(std::iter::once(PathElement::new(points.clone(), measured)))?
            .label(legend_label("measured, wasm UDF"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], measured));
    }
    chart.draw_series(points.iter().map(|&p| Circle::new(p, 5, WASM.filled())))?;
    if !control.is_empty() {
        let sql = NATIVE.stroke_width(2);
        chart
            .draw_series(std::iter::once(PathElement::new(control.clone(), sql)))?
            .label(legend_label("control: the same scan, no UDF"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], sql));
        chart.draw_series(control.iter().map(|&p| Circle::new(p, 4, NATIVE.filled())))?;
    }
    let above = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    chart.draw_series(r.scaling.iter().filter(|s| s.speedup.is_finite()).map(|s| {
        Text::new(
            format!("{:.2}x, {} q/s", s.speedup, number(s.queries_per_s)),
            (s.threads as f64, s.speedup + y_top * 0.02),
            above.clone(),
        )
    }))?;
    // Upper left stays clear: the ideal line starts at the origin and the
    // measured one can at best follow it.
    legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmudf_benches::PER_ROW_CASES;
    use wasmudf_benches::Table;
    use wasmudf_benches::harness::{Instances, LimitCosts, Memory, PerRow};

    fn report(per_row: Vec<PerRow>, scaling: Vec<Scaling>, node: Option<Node>) -> Report {
        Report {
            rows: 1000,
            per_row,
            instances: Instances {
                pooling_us: 3.5,
                on_demand_us: 21.0,
                direct_pooling_us: 1.2,
                direct_on_demand_us: 9.8,
                cold_compile_ms: 40.0,
                cached_load_ms: 1.5,
            },
            scaling,
            limits: LimitCosts {
                none_ns: 20.0,
                deadline_ns: 21.0,
                deadline_fuel_ns: 30.0,
                component_path_ns: 60.0,
            },
            memory: Memory {
                instances: 200,
                rss_per_instance_kib: 80.0,
                anon_per_instance_kib: 70.0,
            },
            node,
            node_note: None,
            wasm_vs_js_identity: None,
            languages: Vec::new(),
            datafusion: None,
        }
    }

    fn full() -> Report {
        let per_row = PER_ROW_CASES
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let k = k as f64;
                PerRow {
                    case: c.name,
                    rows: 1000,
                    scan_ms: 1.0,
                    builtin_ms: None,
                    native_ms: 2.0,
                    wasm_ms: 3.0,
                    native_ns: 5.0 + k,
                    wasm_ns: 20.0 + 40.0 * k,
                    whole_ratio: 1.5,
                    overhead_ratio: 2.0,
                    builtin_ratio: None,
                }
            })
            .collect();
        let scaling = [(1, 100.0), (2, 190.0), (4, 210.0)]
            .into_iter()
            .map(|(threads, queries_per_s)| Scaling {
                threads,
                queries_per_s,
                speedup: queries_per_s / 100.0,
                sql_queries_per_s: queries_per_s * 4.0,
                sql_speedup: queries_per_s / 100.0 * 1.05,
            })
            .collect();
        let node = Node {
            node: "v22.0.0".into(),
            rows: 1000,
            scan_ms: 1.0,
            add1_ms: 1.1,
            identity_ms: 1.05,
            text_scan_ms: 1.0,
            upper_ms: 1.3,
            js_add_ms: 2.0,
            slugify_ms: 3.0,
            count_scan_ms: 1.0,
            mode_ms: 2.0,
        };
        report(per_row, scaling, Some(node))
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn plots_write_three_svgs_with_their_legends() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let paths = write_all(&full(), dir.path())?;
        let names: Vec<_> = paths
            .iter()
            .filter_map(|p| p.file_name()?.to_str())
            .collect();
        assert_eq!(names, ["per-row.svg", "scaling.svg", "instances.svg"]);
        for path in &paths {
            let svg = read(path);
            assert!(svg.contains("<svg"), "{}", path.display());
            assert!(svg.trim_end().ends_with("</svg>"), "{}", path.display());
            assert!(
                !svg.chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\t')),
                "{}",
                path.display()
            );
        }
        let per_row = read(&paths[0]);
        for label in [
            "native closure",
            "wasm UDF",
            "better-sqlite3",
            "aggregate median",
        ] {
            assert!(per_row.contains(label), "per-row.svg lacks {label}");
        }
        // The SVG backend escapes `>` in case names.
        assert!(per_row.contains("i64-&gt;i64"));
        let scaling = read(&paths[1]);
        for label in ["ideal", "measured", "2.10x", "control"] {
            assert!(scaling.contains(label), "scaling.svg lacks {label}");
        }
        let instances = read(&paths[2]);
        for label in [
            "pooling allocator",
            "on-demand allocator",
            "direct instance",
            "21.0 µs",
        ] {
            assert!(instances.contains(label), "instances.svg lacks {label}");
        }
        Ok(())
    }

    #[test]
    fn plots_of_an_empty_report_still_write() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let paths = write_all(&report(Vec::new(), Vec::new(), None), dir.path())?;
        assert_eq!(paths.len(), 3);
        for path in &paths {
            assert!(read(path).contains("<svg"), "{}", path.display());
        }
        assert!(!read(&paths[0]).contains("better-sqlite3"));
        assert!(!read(&paths[1]).contains("measured"));
        Ok(())
    }

    #[test]
    fn plots_net_better_sqlite3_of_its_own_scan_for_its_three_cases_only() {
        let r = full();
        let Some(n) = &r.node else { return };
        let near = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-6);
        assert!(near(node_ns(n, "i64->i64"), 100.0));
        assert!(near(node_ns(n, "identity"), 50.0));
        assert!(near(node_ns(n, "text->text 16B"), 300.0));
        assert_eq!(node_ns(n, "aggregate sum"), None);
    }

    /// A bar is only fair if both harnesses time the same query on the same
    /// table: check the case table here against `scenarios` and `bench.js`.
    #[test]
    fn plots_node_cases_run_the_same_queries_as_their_per_row_cases() {
        let js = include_str!("../../../benches/node/bench.js");
        for c in NODE_CASES {
            let ours = PER_ROW_CASES.iter().find(|p| p.name == c.case);
            assert!(ours.is_some(), "no per-row case {}", c.case);
            if let Some(ours) = ours {
                assert_eq!(ours.wasm, c.query, "{}", c.case);
                assert_eq!(ours.scan, c.scan, "{}", c.case);
                // Node's rows are the main table's; the long table differs.
                assert_eq!(ours.table, Table::Main, "{}", c.case);
            }
            assert!(
                js.contains(&format!("median('{}')", c.query)),
                "{}",
                c.query
            );
            assert!(js.contains(&format!("median('{}')", c.scan)), "{}", c.scan);
        }
    }
}
