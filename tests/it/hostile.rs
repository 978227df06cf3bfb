//! Every hostile guest: the query fails with the right error, the same
//! connection then runs a normal UDF query correctly, and nothing else is
//! disturbed.

use std::time::Duration;

use anyhow::Result;
use rusqlite::Connection;
use rusqlite::types::Value;
use wasmudf::{Engine, Error, Limits};
use wasmudf_test_guests as guests;

/// Tight limits so attacks end quickly.
fn engine() -> Engine {
    Engine::builder()
        .limits(Limits {
            timeout: Duration::from_millis(300),
            max_memory_bytes: 32 << 20,
            max_result_bytes: 8 << 20,
            max_wasm_stack: 256 << 10,
            ..Limits::default()
        })
        .build()
        .expect("engine builds")
}

/// A connection with `hostile` and the `identity` example registered.
fn conn_with(engine: &Engine, hostile: &str) -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    engine.load_file(hostile)?.register(&conn)?;
    engine.load_file(guests::IDENTITY)?.register(&conn)?;
    Ok(conn)
}

/// `sql` fails with a message containing all of `needles`; then the same
/// connection still answers a normal UDF query.
fn check_attack(conn: &Connection, sql: &str, needles: &[&str]) -> Result<()> {
    let err = conn
        .query_row(sql, [], |row| row.get::<_, Value>(0))
        .expect_err(sql)
        .to_string();
    for needle in needles {
        assert!(err.contains(needle), "{sql}: {err:?} lacks {needle:?}");
    }
    let v: i64 = conn.query_row("SELECT identity(41) + 1", [], |r| r.get(0))?;
    assert_eq!(v, 42, "connection unusable after {sql}");
    Ok(())
}

#[test]
fn infinite_loop_hits_the_deadline() -> Result<()> {
    let engine = engine();
    let conn = conn_with(&engine, guests::INFINITE_LOOP)?;
    check_attack(&conn, "SELECT spin()", &["spin", "deadline"])?;
    // Again: the replaced instance is fresh and the deadline re-armed.
    check_attack(&conn, "SELECT spin()", &["spin", "deadline"])
}

#[test]
fn infinite_loop_runs_out_of_fuel() -> Result<()> {
    let engine = Engine::builder()
        .limits(Limits {
            fuel: Some(10_000_000),
            timeout: Duration::from_secs(30),
            ..Limits::default()
        })
        .build()?;
    let conn = conn_with(&engine, guests::INFINITE_LOOP)?;
    check_attack(&conn, "SELECT spin()", &["spin", "fuel"])
}

#[test]
fn loop_inside_finalize_hits_the_deadline() -> Result<()> {
    let engine = engine();
    let conn = conn_with(&engine, guests::FINALIZE_LOOP)?;
    check_attack(
        &conn,
        "SELECT spin_final(value) FROM json_each('[1,2,3]')",
        &["spin_final", "deadline"],
    )
}

#[test]
fn memory_bomb_hits_the_memory_limit() -> Result<()> {
    let engine = engine();
    let conn = conn_with(&engine, guests::MEMORY_BOMB)?;
    // Below the cap it works...
    let ok: i64 = conn.query_row("SELECT bomb(4)", [], |r| r.get(0))?;
    assert_eq!(ok, 4);
    // ...above it the limit is named.
    check_attack(&conn, "SELECT bomb(1000)", &["bomb", "memory limit"])
}

#[test]
fn unbounded_recursion_overflows_the_stack() -> Result<()> {
    let engine = engine();
    let conn = conn_with(&engine, guests::DEEP_RECURSION)?;
    check_attack(
        &conn,
        "SELECT recurse(100000000)",
        &["recurse", "stack overflow"],
    )?;
    check_attack(
        &conn,
        "SELECT recurse_frames(100000000)",
        &["recurse_frames"],
    )
}

#[test]
fn unreachable_is_a_trap() -> Result<()> {
    let engine = engine();
    let conn = conn_with(&engine, guests::UNREACHABLE)?;
    check_attack(
        &conn,
        "SELECT hit_unreachable()",
        &["hit_unreachable", "trapped", "unreachable"],
    )
}

#[test]
fn rust_panic_is_a_trap_carrying_the_message() -> Result<()> {
    let engine = engine();
    let conn = conn_with(&engine, guests::PANIC)?;
    check_attack(
        &conn,
        "SELECT boom('the sky is falling')",
        &["boom", "trapped", "the sky is falling"],
    )
}

#[test]
fn a_100_mib_result_is_refused() -> Result<()> {
    let engine = Engine::builder()
        .limits(Limits {
            max_memory_bytes: 512 << 20,
            max_result_bytes: 16 << 20,
            ..Limits::default()
        })
        .build()?;
    let conn = conn_with(&engine, guests::HUGE_RESULT)?;
    check_attack(&conn, "SELECT huge_text(100)", &["huge_text", "too big"])?;
    check_attack(&conn, "SELECT huge_blob(100)", &["huge_blob", "too big"])?;
    let len: i64 = conn.query_row("SELECT length(huge_blob(1))", [], |r| r.get(0))?;
    assert_eq!(len, 1 << 20);
    Ok(())
}

#[test]
fn reading_host_files_fails() -> Result<()> {
    let engine = engine();
    let conn = conn_with(&engine, guests::READ_PASSWD)?;
    for path in [
        "/etc/passwd",
        "../../../../etc/passwd",
        "/proc/self/environ",
        ".",
    ] {
        let sql = format!("SELECT read_file('{path}')");
        let err = conn
            .query_row(&sql, [], |r| r.get::<_, String>(0))
            .expect_err(&sql)
            .to_string();
        assert!(err.contains("read_file") && !err.contains("root:"), "{err}");
    }
    Ok(())
}

#[test]
fn the_environment_and_arguments_are_empty() -> Result<()> {
    let engine = engine();
    let conn = conn_with(&engine, guests::READ_ENV)?;
    // SAFETY: tests in this binary do not read this variable concurrently.
    unsafe { std::env::set_var("WASMUDF_SECRET", "hunter2") };
    let row: (i64, Option<String>, i64) = conn.query_row(
        "SELECT env_count(), env_var('WASMUDF_SECRET'), arg_count()",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    assert_eq!(row, (0, None, 0));
    Ok(())
}

/// Sockets are linked so that language runtimes importing them load (as
/// componentize-py's default build does), and every use is denied before
/// an OS socket exists: a listener on loopback never sees a connection or a
/// datagram, name lookups fail, and the connection stays usable.
#[test]
fn sockets_load_but_every_use_is_denied() -> Result<()> {
    use std::net::{TcpListener, UdpSocket};

    let tcp = TcpListener::bind("127.0.0.1:0")?;
    tcp.set_nonblocking(true)?;
    let udp = UdpSocket::bind("127.0.0.1:0")?;
    udp.set_nonblocking(true)?;
    let engine = engine();
    let conn = conn_with(&engine, guests::OPEN_SOCKET)?;
    let tcp_addr = tcp.local_addr()?;
    let udp_addr = udp.local_addr()?;
    check_attack(
        &conn,
        &format!("SELECT connect('{tcp_addr}')"),
        &["connect", "cannot connect", "denied"],
    )?;
    check_attack(
        &conn,
        &format!("SELECT udp_send('{udp_addr}')"),
        &["udp_send", "cannot bind", "denied"],
    )?;
    check_attack(
        &conn,
        "SELECT resolve('localhost')",
        &["resolve", "cannot resolve"],
    )?;
    match tcp.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the guest reached the TCP listener: {other:?}"),
    }
    let mut buf = [0u8; 64];
    match udp.recv_from(&mut buf) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the guest reached the UDP socket: {other:?}"),
    }
    Ok(())
}

/// `wasi:http` stays outside the sandbox: a component importing it is
/// refused at load, naming the import.
#[test]
fn a_component_that_imports_wasi_http_is_refused_at_load() {
    let bytes = wat::parse_str(
        r#"(component
             (import "wasi:http/types@0.2.6" (instance))
             (import "wasi:http/outgoing-handler@0.2.6" (instance)))"#,
    )
    .expect("valid component text");
    let err = engine()
        .load("wasi-http", &bytes)
        .expect_err("wasi:http is not provided");
    assert!(matches!(err, Error::ForbiddenImport { .. }), "{err}");
    assert!(err.to_string().contains("wasi:http"), "{err}");
}

#[test]
fn a_stdout_flood_is_captured_not_printed() -> Result<()> {
    let engine = Engine::builder()
        .limits(Limits {
            timeout: Duration::from_secs(30),
            ..Limits::default()
        })
        .build()?;
    let conn = conn_with(&engine, guests::STDOUT_FLOOD)?;
    let mib: i64 = conn.query_row("SELECT flood(64)", [], |r| r.get(0))?;
    assert_eq!(mib, 64);
    // The CLI test `hostile_output_never_reaches_the_terminal` checks that
    // none of it reaches the process's own stdout.
    Ok(())
}

#[test]
fn invalid_manifests_are_refused_at_load() {
    for (path, needle) in [
        (guests::BAD_ARITY, "arity"),
        (guests::DUP_NAMES_CASE, "declared twice"),
    ] {
        let err = engine().load_file(path).expect_err("invalid manifest");
        assert!(matches!(err, Error::Manifest { .. }), "{err}");
        assert!(err.to_string().contains(needle), "{err}");
    }
}

#[test]
fn a_granted_directory_cannot_be_escaped() -> Result<()> {
    let outside = tempfile::tempdir()?;
    std::fs::write(outside.path().join("secret.txt"), "outside secret")?;
    let granted = tempfile::tempdir()?;
    std::fs::write(granted.path().join("inside.txt"), "inside data")?;
    std::fs::create_dir(granted.path().join("sub"))?;
    std::os::unix::fs::symlink(outside.path(), granted.path().join("link-out"))?;
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        granted.path().join("secret-link"),
    )?;
    std::os::unix::fs::symlink("/etc", granted.path().join("etc"))?;

    let engine = engine();
    let component = engine
        .load_file(guests::DIR_ESCAPE)?
        .grant_dir(wasmudf::DirGrant::read_only(granted.path(), "/data"))?;
    let conn = Connection::open_in_memory()?;
    component.register(&conn)?;
    let read = |path: &str| -> rusqlite::Result<String> {
        conn.query_row("SELECT read_granted(?1)", [path], |r| r.get(0))
    };
    assert_eq!(read("/data/inside.txt")?, "inside data");
    assert_eq!(read("/data/sub/../inside.txt")?, "inside data");
    for escape in [
        "/data/../secret.txt",
        "/data/../../../../etc/passwd",
        "/data/link-out/secret.txt",
        "/data/secret-link",
        "/data/etc/passwd",
        "/etc/passwd",
        "/data/sub/../../etc/passwd",
    ] {
        match read(escape) {
            Ok(text) => panic!("{escape} escaped the grant: {text:?}"),
            Err(err) => assert!(!err.to_string().contains("outside secret"), "{err}"),
        }
    }
    // Read-only means read-only.
    let write = conn.query_row("SELECT write_granted('/data/new.txt', 'x')", [], |r| {
        r.get::<_, i64>(0)
    });
    assert!(write.is_err(), "wrote into a read-only grant");
    assert!(!granted.path().join("new.txt").exists());
    Ok(())
}

#[test]
fn a_read_write_grant_allows_writes_inside_only() -> Result<()> {
    let granted = tempfile::tempdir()?;
    let engine = engine();
    let component = engine
        .load_file(guests::DIR_ESCAPE)?
        .grant_dir(wasmudf::DirGrant::read_write(granted.path(), "/data"))?;
    let conn = Connection::open_in_memory()?;
    component.register(&conn)?;
    let n: i64 = conn.query_row("SELECT write_granted('/data/out.txt', 'hello')", [], |r| {
        r.get(0)
    })?;
    assert_eq!(n, 5);
    assert_eq!(
        std::fs::read_to_string(granted.path().join("out.txt"))?,
        "hello"
    );
    let escape = conn.query_row(
        "SELECT write_granted('/data/../escaped.txt', 'x')",
        [],
        |r| r.get::<_, i64>(0),
    );
    assert!(escape.is_err());
    assert!(
        !granted
            .path()
            .parent()
            .expect("parent")
            .join("escaped.txt")
            .exists()
    );
    Ok(())
}

/// While one connection is attacked, another on another thread keeps
/// answering correctly.
#[test]
fn an_attack_does_not_disturb_other_connections() -> Result<()> {
    let engine = engine();
    let victim_engine = engine.clone();
    let normal = std::thread::spawn(move || -> Result<()> {
        let conn = Connection::open_in_memory()?;
        victim_engine.load_file(guests::TEXT)?.register(&conn)?;
        for i in 0..200 {
            let d: i64 =
                conn.query_row("SELECT edit_distance('kitten', 'sitting') + ?1", [i], |r| {
                    r.get(0)
                })?;
            assert_eq!(d, 3 + i);
        }
        Ok(())
    });
    let conn = conn_with(&engine, guests::INFINITE_LOOP)?;
    for _ in 0..3 {
        check_attack(&conn, "SELECT spin()", &["deadline"])?;
    }
    normal.join().expect("normal thread")?;
    Ok(())
}

#[test]
fn deterministic_functions_get_no_varying_capabilities() -> Result<()> {
    let conn = Connection::open_in_memory()?;
    engine().load_file(guests::FAULTY)?.register(&conn)?;
    let (wall, frozen): (i64, i64) =
        conn.query_row("SELECT wall_clock_ns(), frozen_clock_ns()", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    // 2020-01-01 in nanoseconds: the real clock is later than that.
    assert!(wall > 1_577_836_800_000_000_000, "wall clock {wall}");
    assert_eq!(frozen, 0, "a deterministic function saw the time");
    Ok(())
}

/// No control character a terminal would obey: C0/C1 controls, DEL, and
/// the bidirectional overrides.
fn has_raw_controls(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c))
}

#[test]
fn guest_text_in_errors_is_escaped_and_capped() -> Result<()> {
    for direct in [true, false] {
        let engine = Engine::builder().direct_calls(direct).build()?;
        let conn = conn_with(&engine, guests::TERMINAL_ESCAPE)?;
        for (sql, needle) in [
            (
                "SELECT esc_error()",
                "esc_error: \\u{1b}]0;pwned-title\\u{7}\\u{1b}]52;c;",
            ),
            ("SELECT esc_panic()", "esc_panic: trapped:"),
        ] {
            let err = conn
                .query_row(sql, [], |row| row.get::<_, Value>(0))
                .expect_err(sql)
                .to_string();
            assert!(!has_raw_controls(&err), "{sql}: raw control in {err:?}");
            assert!(err.contains(needle), "{sql}: {err:?} lacks {needle:?}");
            assert!(err.contains("\\u{9b}2J\\u{202e}evil"), "{sql}: {err:?}");
        }
        // 12 MiB of guest error becomes a few KiB, marked as cut.
        let err = conn
            .query_row("SELECT giant_error(12)", [], |row| row.get::<_, Value>(0))
            .expect_err("giant error")
            .to_string();
        assert!(
            err.len() < wasmudf::MAX_GUEST_MESSAGE_BYTES + 512,
            "{} bytes",
            err.len()
        );
        assert!(
            err.contains("(truncated, 12583"),
            "{}",
            &err[err.len() - 80..]
        );
        assert!(!has_raw_controls(&err));
        // The value itself is data, returned as the guest made it.
        let text: String = conn.query_row("SELECT esc_text()", [], |r| r.get(0))?;
        assert!(text.starts_with("\x1b]0;pwned-title\x07"));
        let v: i64 = conn.query_row("SELECT identity(41) + 1", [], |r| r.get(0))?;
        assert_eq!(v, 42);
    }
    Ok(())
}

#[test]
fn call_error_display_escapes_every_part() {
    let err = wasmudf::CallError {
        function: "f\x1b]0;x\x07".into(),
        cause: wasmudf::CallErrorKind::Trap("boom (guest stderr: \x1b[2J\u{9b}c)".into()),
    };
    let shown = err.to_string();
    assert!(!has_raw_controls(&shown), "{shown:?}");
    assert_eq!(
        shown,
        "f\\u{1b}]0;x\\u{7}: trapped: boom (guest stderr: \\u{1b}[2J\\u{9b}c)"
    );
}

#[test]
fn guest_names_in_load_errors_are_escaped() {
    let err = Error::Manifest {
        origin: "x.wasm".into(),
        detail: "`a\x1b]52;c;Zm9v\x07` (arity 1) is declared twice".into(),
    };
    assert!(!has_raw_controls(&err.to_string()), "{err}");
}
