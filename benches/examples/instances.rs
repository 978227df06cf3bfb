//! Creates fresh instances in a loop, for a profiler:
//! `instances [count] [direct]`.

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let engine = wasmudf::Engine::new()?;
    let component = engine.load_file(wasmudf_test_guests::BENCH)?;
    let direct = std::env::args().nth(2).is_some_and(|a| a == "direct");
    let start = std::time::Instant::now();
    for _ in 0..n {
        if direct {
            component.probe_direct_instance()?;
        } else {
            component.probe_instance()?;
        }
    }
    println!(
        "{:.2} µs per {} instance",
        start.elapsed().as_secs_f64() * 1e6 / n as f64,
        if direct { "direct" } else { "component" }
    );
    Ok(())
}
