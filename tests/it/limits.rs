//! Limits that hold per instance, whatever shape the component has, and
//! limits checked before a component is compiled.

use anyhow::Result;
use rusqlite::Connection;
use wasmudf::{Engine, Error, Limits};
use wasmudf_tests::wat_guest::{self, StringEncoding};

/// A guest with four linear memories and one scalar, `grab(step)`, that
/// grows each memory in turn by `step` pages until `memory.grow` refuses,
/// and returns how many pages it got. It never traps on a refusal: it
/// behaves like a runtime with a garbage collector that copes with -1.
fn four_memories() -> Result<Vec<u8>> {
    let mut grow = String::new();
    for m in 0..4 {
        grow.push_str(&format!(
            "(block $done{m} (loop $more{m}
               (br_if $done{m} (i32.eq (memory.grow {m} (local.get $step)) (i32.const -1)))
               (local.set $total (i32.add (local.get $total) (local.get $step)))
               (br $more{m})))\n"
        ));
    }
    let wat = format!(
        "(module
           (memory (export \"memory\") 1) (memory 1) (memory 1) (memory 1)
           {manifest}
           {realloc}
           (func (export \"{prefix}fast1\") (param $id i32) (param $tag i32) (param $n i64) (result i32)
             (local $step i32) (local $total i32)
             (local.set $step (i32.wrap_i64 (local.get $n)))
             (if (i32.lt_s (local.get $step) (i32.const 1)) (then (local.set $step (i32.const 1))))
             {grow}
             ;; fast-result::integer(total)
             (i32.store8 (i32.const 0x2000) (i32.const 1))
             (i64.store (i32.const 0x2008) (i64.extend_i32_u (local.get $total)))
             (i32.const 0x2000))
           {stubs})",
        manifest = wat_guest::manifest(0x1000, &[("grab", 1, 0, 0)]),
        realloc = wat_guest::bump_realloc(0x4000),
        prefix = wat_guest::PREFIX,
        stubs = wat_guest::stub_exports(&["fast1"]),
    );
    wat_guest::component(&wat, StringEncoding::UTF8)
}

fn engine(direct: bool, limits: Limits) -> Result<Engine> {
    Ok(Engine::builder()
        .direct_calls(direct)
        .limits(limits)
        .build()?)
}

/// The memory limit counts every memory of an instance together, and a
/// refused growth returns -1 to the guest instead of trapping, on both
/// call paths.
#[test]
fn memory_limit_covers_all_memories_and_refusal_returns_minus_one() -> Result<()> {
    const PAGE: usize = 64 << 10;
    let bytes = four_memories()?;
    for direct in [true, false] {
        let limit = 64 * PAGE;
        let engine = engine(
            direct,
            Limits {
                max_memory_bytes: limit,
                ..Limits::default()
            },
        )?;
        let conn = Connection::open_in_memory()?;
        engine.load("four-memories", &bytes)?.register(&conn)?;
        let got: i64 = conn.query_row("SELECT grab(4)", [], |r| r.get(0))?;
        // Four one-page memories to start with; the rest is what grew.
        let held = (got as usize + 4) * PAGE;
        assert!(got > 0, "direct={direct}: no growth allowed at all");
        assert!(
            held <= limit,
            "direct={direct}: the instance holds {held} bytes over a {limit}-byte limit"
        );
        // The instance did not trap: it is still there, and full.
        let again: i64 = conn.query_row("SELECT grab(1)", [], |r| r.get(0))?;
        assert!(
            (got as usize + again as usize + 4) * PAGE <= limit,
            "direct={direct}: second call grew past the limit"
        );
    }
    Ok(())
}

/// Without the pooling allocator the store's own limiter holds the line.
#[test]
fn memory_limit_holds_without_pooling() -> Result<()> {
    const PAGE: usize = 64 << 10;
    let engine = Engine::builder()
        .pooling(false)
        .limits(Limits {
            max_memory_bytes: 32 * PAGE,
            ..Limits::default()
        })
        .build()?;
    let conn = Connection::open_in_memory()?;
    engine
        .load("four-memories", &four_memories()?)?
        .register(&conn)?;
    let got: i64 = conn.query_row("SELECT grab(2)", [], |r| r.get(0))?;
    assert!((got as usize + 4) * PAGE <= 32 * PAGE, "got {got} pages");
    Ok(())
}

/// A Rust guest trapping on a failed allocation is reported as the memory
/// limit, and the connection answers afterwards.
#[test]
fn a_trap_after_a_refused_growth_names_the_memory_limit() -> Result<()> {
    for direct in [true, false] {
        let engine = engine(
            direct,
            Limits {
                max_memory_bytes: 16 << 20,
                ..Limits::default()
            },
        )?;
        let conn = Connection::open_in_memory()?;
        engine
            .load_file(wasmudf_test_guests::MEMORY_BOMB)?
            .register(&conn)?;
        engine
            .load_file(wasmudf_test_guests::IDENTITY)?
            .register(&conn)?;
        let err = conn
            .query_row("SELECT bomb(1000)", [], |r| r.get::<_, i64>(0))
            .expect_err("bomb must fail")
            .to_string();
        assert!(
            err.contains("memory limit exceeded"),
            "direct={direct}: {err}"
        );
        let v: i64 = conn.query_row("SELECT identity(41) + 1", [], |r| r.get(0))?;
        assert_eq!(v, 42);
    }
    Ok(())
}

/// The per-instance core-instance cap applies: a Rust wasip2 component
/// has more than one core instance, so a cap of one refuses it at load.
#[test]
fn core_instance_cap_refuses_a_component_that_needs_more() -> Result<()> {
    for pooling in [true, false] {
        let engine = Engine::builder()
            .pooling(pooling)
            .limits(Limits {
                max_core_instances: 1,
                ..Limits::default()
            })
            .build()?;
        let err = engine
            .load_file(wasmudf_test_guests::IDENTITY)
            .expect_err("a cap of one core instance");
        // The pooling allocator refuses it when it is compiled, the
        // store's limiter when it is first instantiated.
        assert!(
            matches!(err, Error::Invalid { .. } | Error::Instantiate { .. }),
            "pooling={pooling}: {err}"
        );
        assert!(
            err.to_string().contains("instance"),
            "pooling={pooling}: {err}"
        );
    }
    Ok(())
}

/// A component with `n` empty functions in one core module.
fn many_functions(n: usize) -> Result<Vec<u8>> {
    let mut wat = String::from("(component (core module\n");
    for _ in 0..n {
        wat.push_str("(func)\n");
    }
    wat.push_str("))");
    Ok(wat::parse_str(&wat)?)
}

/// Too many functions are refused from the section headers, before any
/// compilation, with the limit named; one under the limit goes on to be
/// compiled (and then refused for exporting nothing we know).
#[test]
fn too_many_functions_are_refused_before_compiling() -> Result<()> {
    let engine = engine(
        true,
        Limits {
            max_wasm_functions: 1000,
            ..Limits::default()
        },
    )?;
    let err = engine
        .load("many", &many_functions(1001)?)
        .expect_err("over the limit");
    assert!(matches!(err, Error::OverLimit { .. }), "{err}");
    assert!(err.to_string().contains("max_wasm_functions"), "{err}");
    let err = engine
        .load("enough", &many_functions(1000)?)
        .expect_err("no guest interface");
    assert!(!matches!(err, Error::OverLimit { .. }), "{err}");
    Ok(())
}

/// The attack the default limits are sized against: 100,000 tiny
/// functions cost Cranelift about a gigabyte and a minute. They are
/// refused with the default limits, before compilation.
#[test]
fn default_limits_refuse_a_hundred_thousand_functions() -> Result<()> {
    let engine = Engine::new()?;
    let err = engine
        .load("flood", &many_functions(100_000)?)
        .expect_err("over the default limit");
    assert!(matches!(err, Error::OverLimit { .. }), "{err}");
    Ok(())
}

/// A guest whose `manifest` first grows its memory by `pages` and traps
/// if that is refused, as a Rust guest aborts when an allocation fails;
/// `initial` is its memory's size in pages at instantiation.
fn greedy_manifest(initial: u32, pages: u32) -> Result<Vec<u8>> {
    let wat = format!(
        r#"(module
             (memory (export "memory") {initial})
             {realloc}
             {manifest}
             (func (export "{prefix}fast1") (param i32 i32 i64) (result i32) unreachable)
             {stubs})"#,
        realloc = wat_guest::bump_realloc(0x4000),
        // The manifest's data segment (its first line), and an export
        // that grows memory before it answers with it.
        manifest = wat_guest::manifest(0x1000, &[("greedy", 1, 0, 1)])
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
            + &format!(
                r#"(func (export "{prefix}manifest") (result i32)
                     (if (i32.eq (memory.grow (i32.const {pages})) (i32.const -1))
                       (then unreachable))
                     (i32.const 0x1000))"#,
                prefix = wat_guest::PREFIX
            ),
        prefix = wat_guest::PREFIX,
        stubs = wat_guest::stub_exports(&["manifest", "fast1"]),
    );
    wat_guest::component(&wat, StringEncoding::UTF8)
}

/// A manifest that runs out of memory is reported as the memory limit
/// (with a typed error), not as the `unreachable` it trapped on; the same
/// component loads under a limit that leaves it room.
#[test]
fn running_out_of_memory_at_load_names_the_memory_limit() -> Result<()> {
    const PAGE: usize = 64 << 10;
    // 100 pages (6.25 MiB) more than the 1 it starts with.
    let bytes = greedy_manifest(1, 100)?;
    for pooling in [true, false] {
        let tight = Engine::builder()
            .pooling(pooling)
            .limits(Limits {
                max_memory_bytes: 64 * PAGE,
                ..Limits::default()
            })
            .build()?;
        let err = tight.load("greedy", &bytes).expect_err("over the limit");
        assert!(matches!(err, Error::ResourceLimit { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("memory limit exceeded"), "{text}");
        assert!(text.contains(&(64 * PAGE).to_string()), "{text}");
        assert!(!text.contains("unreachable"), "{text}");
        let roomy = Engine::builder()
            .pooling(pooling)
            .limits(Limits {
                max_memory_bytes: 128 * PAGE,
                ..Limits::default()
            })
            .build()?;
        let loaded = roomy.load("greedy", &bytes)?;
        assert_eq!(loaded.functions()[0].name, "greedy");
    }
    // An initial memory that does not fit at all: the store's limiter
    // refuses it at instantiation, the same error; the pooling allocator
    // refuses it before, when it is compiled, naming its limit.
    for pooling in [false, true] {
        let err = Engine::builder()
            .pooling(pooling)
            .limits(Limits {
                max_memory_bytes: 64 * PAGE,
                ..Limits::default()
            })
            .build()?
            .load("big", &greedy_manifest(65, 0)?)
            .expect_err("initial memory over the limit");
        let text = err.to_string();
        if pooling {
            assert!(matches!(err, Error::Invalid { .. }), "{err}");
            assert!(text.contains("exceeds the limit"), "{text}");
        } else {
            assert!(matches!(err, Error::ResourceLimit { .. }), "{err}");
            assert!(text.contains("memory limit exceeded"), "{text}");
        }
    }
    Ok(())
}

/// The hostile `huge-manifest` guest builds 200,000 entries; under a
/// memory limit too small for that list, its load fails naming the memory
/// limit, where a roomy limit gets as far as refusing the function count.
#[test]
fn a_huge_manifest_out_of_memory_names_the_memory_limit() -> Result<()> {
    let load = |max_memory_bytes| {
        Engine::builder()
            .limits(Limits {
                max_memory_bytes,
                ..Limits::default()
            })
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|e| {
                e.load_file(wasmudf_test_guests::HUGE_MANIFEST)
                    .map_err(anyhow::Error::from)
            })
    };
    let roomy = load(64 << 20).expect_err("too many functions");
    assert!(
        roomy.to_string().contains("200000 functions declared"),
        "{roomy}"
    );
    let tight = load(4 << 20).expect_err("out of memory");
    let tight = tight.downcast::<Error>()?;
    assert!(matches!(tight, Error::ResourceLimit { .. }), "{tight}");
    assert!(
        tight.to_string().contains("memory limit exceeded"),
        "{tight}"
    );
    Ok(())
}
