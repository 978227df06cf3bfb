//! Runs one benchmark query in a loop, for a profiler:
//! `cargo build --release --example profile -p wasmudf-benches`, then
//! `perf record target/release/examples/profile "SELECT sum(add1(i)) FROM t" [rounds] [rows in long]`.

fn main() -> anyhow::Result<()> {
    let sql = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "SELECT sum(add1(i)) FROM t".into());
    let rounds: usize = std::env::args()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    // Rows in `long` (1 KiB TEXT each); the per-row figure below is for `t`.
    let long_rows: usize = std::env::args()
        .nth(3)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let engine = wasmudf::Engine::new()?;
    let components = wasmudf_benches::scenarios::components(&engine)?;
    let conn = wasmudf_benches::scenarios::connection(&components, 200_000, long_rows)?;
    let mut total = std::time::Duration::ZERO;
    for _ in 0..rounds {
        total += wasmudf_benches::scenarios::time_query(&conn, &sql)?;
    }
    println!(
        "{sql}: {:.1} ns/row",
        total.as_nanos() as f64 / (rounds * 200_000) as f64
    );
    let rss = std::fs::read_to_string("/proc/self/status")?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap_or_default()
        .to_string();
    println!("{rss}");
    Ok(())
}
