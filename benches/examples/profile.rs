//! Runs one benchmark query in a loop, for a profiler:
//! `cargo build --release --example profile -p wasmudf-benches`, then
//! `perf record target/release/examples/profile "SELECT sum(add1(i)) FROM t"`.

fn main() -> anyhow::Result<()> {
    let sql = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "SELECT sum(add1(i)) FROM t".into());
    let rounds: usize = std::env::args()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let engine = wasmudf::Engine::new()?;
    let components = wasmudf_benches::scenarios::components(&engine)?;
    let conn = wasmudf_benches::scenarios::connection(&components, 200_000, 1000)?;
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
