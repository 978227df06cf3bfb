//! The `wasmudf` binary, run as a user would.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn wasmudf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasmudf"))
        .args(args)
        .output()
        .expect("wasmudf runs")
}

/// Runs `wasmudf` with `args` (a `shell` command line), `script` on its
/// standard input and a fresh `HOME`, to the end.
fn shell(args: &[&str], script: &str) -> Output {
    let home = tempfile::tempdir().expect("tempdir");
    shell_in(args, script, &[("HOME", home.path())])
}

/// [`shell`] with the given environment variables set instead.
fn shell_in(args: &[&str], script: &str, env: &[(&str, &std::path::Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasmudf"));
    cmd.args(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("shell starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write script");
    child.wait_with_output().expect("shell exits")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn query_json_answers_with_the_example_functions() {
    for threads in ["1", "4"] {
        let out = wasmudf(&[
            "query",
            "--threads",
            threads,
            "--json",
            "SELECT unicode_upper('straße') AS u, levenshtein('kitten', 'sitting') AS d",
            "SELECT median(value) AS m, sumsq(value) AS s FROM json_each('[1,2,3,4]')",
            "SELECT 'abc' REGEXP '^a' AS r, greatest(1, 2.5) AS g, hex(sha256('abc')) AS h",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert_eq!(
            lines,
            [
                r#"[{"u":"STRASSE","d":3}]"#,
                r#"[{"m":2.5,"s":30}]"#,
                r#"[{"r":1,"g":2.5,"h":"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"}]"#,
            ]
        );
    }
}

#[test]
fn statements_in_one_argument_and_across_arguments_share_the_database() {
    let out = wasmudf(&[
        "query",
        "--json",
        "CREATE TABLE t(x); INSERT INTO t VALUES (3), (1), (2);",
        "SELECT median(x) AS m FROM t",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().last(), Some(r#"[{"m":2.0}]"#));
}

#[test]
fn query_prints_a_table_by_default() {
    let out = wasmudf(&["query", "SELECT identity(42) AS answer"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("answer") && text.contains("42"), "{text}");
}

#[test]
fn a_database_file_persists_between_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("x.db");
    let db = db.to_str().expect("utf-8 path");
    let out = wasmudf(&[
        "query",
        "--db",
        db,
        "CREATE TABLE t(x); INSERT INTO t VALUES (sha256('a'))",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = wasmudf(&[
        "query",
        "--db",
        db,
        "--json",
        "SELECT length(x) AS n FROM t",
    ]);
    assert_eq!(stdout(&out).trim(), r#"[{"n":32}]"#);
}

#[test]
fn inspect_lists_kind_arity_and_flags() {
    let out = wasmudf(&["inspect", wasmudf_test_guests::STATS]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in ["median", "aggregate", "sumsq", "window", "deterministic"] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    // `stats` has only aggregates and windows: they take the direct path.
    assert!(
        text.contains("scalars yes, aggregates and windows yes"),
        "{text}"
    );
    let out = wasmudf(&["inspect", wasmudf_test_guests::GREATEST]);
    assert!(stdout(&out).contains("variadic"));
    assert!(stdout(&out).contains("scalars yes"));
    assert!(stdout(&out).contains("wasmudf:udf@0.2.0"));
    // A table function shows its columns.
    let out = wasmudf(&["inspect", wasmudf_test_guests::SPLIT]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in ["split", "table", "ordinal, part", "language Rust"] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
}

#[test]
fn query_runs_table_functions_of_the_example_components() {
    let out = wasmudf(&[
        "query",
        "--json",
        r"SELECT s.part, m.match FROM split('a1,b22', ',') AS s, regex_matches('\d+', s.part) AS m",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        r#"[{"part":"a1","match":"1"},{"part":"b22","match":"22"}]"#
    );
}

#[test]
fn udf_flag_takes_a_file_or_a_folder() {
    let out = wasmudf(&[
        "query",
        "--udf",
        wasmudf_test_guests::BENCH,
        "--json",
        "SELECT add1(1) AS x",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), r#"[{"x":2}]"#);
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, path) in [
        ("a.wasm", wasmudf_test_guests::IDENTITY),
        ("b.wasm", wasmudf_test_guests::TEXT),
    ] {
        std::fs::copy(path, dir.path().join(name)).expect("copy");
    }
    std::fs::write(dir.path().join("notes.txt"), "not a component").expect("write");
    let folder = dir.path().to_str().expect("utf-8 path");
    let out = wasmudf(&[
        "query",
        "--udf",
        folder,
        "--json",
        "SELECT identity(unicode_upper('a')) AS x",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), r#"[{"x":"A"}]"#);
}

#[test]
fn errors_go_to_stderr_with_a_nonzero_exit_and_no_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"definitely not wasm").expect("write");
    let cases: Vec<Vec<&str>> = vec![
        vec!["query", "--udf", junk.to_str().expect("utf-8"), "SELECT 1"],
        vec!["query", "SELECT no_such_function(1)"],
        vec!["query", "SELECT levenshtein(1, 2)"],
        vec!["query", "--timeout-ms", "100", "SELECT sleep(5000)"],
        vec!["inspect", "/nonexistent.wasm"],
    ];
    for args in cases {
        let out = wasmudf(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(err.starts_with("error:"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let out = wasmudf(&["query", "--timeout-ms", "100", "SELECT sleep(5000)"]);
    assert!(stderr(&out).contains("deadline"), "{}", stderr(&out));
}

#[test]
fn shell_runs_statements_and_dot_commands_from_stdin() {
    let script = format!(
        ".functions\nSELECT unicode_upper('shell')\n  AS up;\n.load {}\nSELECT add1(41) AS a;\n.quit\n",
        wasmudf_test_guests::BENCH
    );
    let out = shell(&["shell"], &script);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in ["levenshtein", "SHELL", "loaded 1 component", "42"] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
}

/// A component that would shadow other functions is refused by `.load`,
/// and the shell's connections go on answering with the builtins. With
/// `.bail off` the script runs on, and still exits 1, as `sqlite3` does.
#[test]
fn shell_refuses_a_component_that_shadows_builtins_and_answers_on() {
    let script = format!(
        ".bail off\n.load {}\nSELECT abs(-5) || lower('OK') AS r;\nSELECT greatest(1, 7) AS g;\n.quit\n",
        wasmudf_test_guests::SHADOW_BUILTINS
    );
    let out = shell(&["shell"], &script);
    let (text, err) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{err}");
    // The shell has the examples loaded, `greatest` among them.
    assert!(
        err.contains("`greatest` (arity 2) clashes with `greatest` (variadic) of component"),
        "{err}"
    );
    assert!(!text.contains("loaded 1 component"), "{text}");
    for needle in ["5ok", "7"] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
}

/// Runs a `wasmudf shell` script that must succeed; its stdout.
fn shell_ok(script: &str) -> String {
    let out = shell(&["shell"], script);
    assert!(
        out.status.success(),
        "{script}\nstdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(stderr(&out), "", "{script}");
    stdout(&out)
}

/// Piped input, as `sqlite3 < script.sql`: no banner, no prompts, rows in
/// `list` mode, and SQL left without `;` at the end still runs.
#[test]
fn shell_piped_input_prints_rows_only() {
    assert_eq!(shell_ok("SELECT 1, 'a';\nSELECT\n  2\n"), "1|a\n2\n");
    assert_eq!(shell_ok(""), "");
}

#[test]
fn shell_lists_tables_schema_and_indexes_as_sqlite3_does() {
    let script = "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT);\n\
                  CREATE INDEX tb ON t(b);\n\
                  CREATE VIEW v AS SELECT a FROM t;\n\
                  CREATE TABLE other(x UNIQUE);\n\
                  CREATE TEMP TABLE scratch(y);\n\
                  .tables\n.tables t%\n.schema t\n.indexes\n.indexes t\n";
    assert_eq!(
        shell_ok(script),
        "other         t             temp.scratch  v           \n\
         t\n\
         CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT);\n\
         CREATE INDEX tb ON t(b);\n\
         sqlite_autoindex_other_1  tb                      \n\
         tb\n"
    );
}

#[test]
fn shell_modes_and_headers_print_exactly() {
    let query = "SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2.5, NULL;\n";
    let mut script = String::new();
    for setting in [
        ".mode list",
        ".headers on",
        ".mode csv",
        ".headers off",
        ".mode csv",
        ".mode line",
        ".mode json",
        ".mode markdown",
        ".mode table",
        ".mode box",
        ".mode list\n.separator ,\n.nullvalue NULL",
    ] {
        script.push_str(setting);
        script.push('\n');
        script.push_str(query);
    }
    let expected = [
        "1|x\n2.5|\n",
        "a|b\n1|x\n2.5|\n",
        "a,b\r\n1,x\r\n2.5,\r\n",
        "1,x\r\n2.5,\r\n",
        "1,x\r\n2.5,\r\n",
        "    a = 1\n    b = x\n\n    a = 2.5\n    b = \n",
        "[{\"a\":1,\"b\":\"x\"},\n{\"a\":2.5,\"b\":null}]\n",
        "|  a  | b |\n|-----|---|\n| 1   | x |\n| 2.5 |   |\n",
        "+-----+---+\n|  a  | b |\n+-----+---+\n| 1   | x |\n| 2.5 |   |\n+-----+---+\n",
        "┌─────┬───┐\n│  a  │ b │\n├─────┼───┤\n│ 1   │ x │\n│ 2.5 │   │\n└─────┴───┘\n",
        "1,x\n2.5,NULL\n",
    ];
    assert_eq!(shell_ok(&script), expected.concat());
}

#[test]
fn shell_timer_and_changes_report_each_statement() {
    let text = shell_ok(
        ".timer on\nSELECT 1;\n.timer off\n.changes on\nCREATE TABLE t(x);\n\
         INSERT INTO t VALUES (1), (2);\nSELECT count(*) FROM t;\n",
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(lines[0], "1");
    let seconds = lines[1]
        .strip_prefix("Run Time: real ")
        .and_then(|s| s.parse::<f64>().ok());
    assert!(seconds.is_some_and(|s| s < 10.0), "{text}");
    assert_eq!(
        &lines[2..],
        [
            "changes: 0   total_changes: 0",
            "changes: 2   total_changes: 2",
            "2",
            "changes: 0   total_changes: 2",
        ]
    );
}

#[test]
fn shell_read_runs_a_file_and_names_its_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("setup.sql");
    std::fs::write(
        &file,
        "CREATE TABLE t(x);\nINSERT INTO t VALUES (7);\n.mode csv\nSELECT x * 6 FROM t;\n",
    )
    .expect("write");
    let script = format!(".read {}\nSELECT x FROM t;\n", file.display());
    assert_eq!(shell_ok(&script), "42\r\n7\r\n");
    // An error inside the file names the file's line.
    std::fs::write(&file, "SELECT 1;\n\nSELECT * FROM nope;\n").expect("write");
    let out = shell(
        &["shell"],
        &format!(".read {}\nSELECT 2;\n", file.display()),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "1\n", "bail stops the rest");
    // SQLite gives no position for a missing table, so no marker either.
    assert_eq!(
        stderr(&out),
        "Parse error near line 3: no such table: nope\n"
    );
}

#[test]
fn shell_output_and_once_write_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (all, once) = (dir.path().join("all.txt"), dir.path().join("once.txt"));
    let script = format!(
        ".output {}\nSELECT 1;\nSELECT 2;\n.output\nSELECT 3;\n.once {}\nSELECT 4;\nSELECT 5;\n",
        all.display(),
        once.display()
    );
    assert_eq!(shell_ok(&script), "3\n5\n");
    assert_eq!(std::fs::read_to_string(&all).expect("read"), "1\n2\n");
    assert_eq!(std::fs::read_to_string(&once).expect("read"), "4\n");
    // A folder that is not there is an error, not a panic.
    let out = shell(&["shell"], ".output /nonexistent/dir/x.txt\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: cannot open"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn shell_import_creates_a_table_from_the_header_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("items.csv");
    std::fs::write(&csv, "name,qty\nab,3\n\"c,d\",4\n").expect("write");
    let script = format!(
        ".import {} items\n.mode csv\n.headers on\nSELECT name, qty * 2 AS d FROM items;\n\
         .schema items\n.import --skip 1 {} items\n.headers off\nSELECT count(*) FROM items;\n",
        csv.display(),
        csv.display()
    );
    assert_eq!(
        shell_ok(&script),
        "name,d\r\nab,6\r\n\"c,d\",8\r\n\
         CREATE TABLE \"items\"(\"name\" TEXT, \"qty\" TEXT);\n\
         4\r\n"
    );
}

#[test]
fn shell_open_switches_to_a_new_database_with_the_same_components() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("new.db");
    let script = format!(
        "CREATE TABLE before(x);\n.open {}\nCREATE TABLE t(x);\nINSERT INTO t VALUES (sha256('a'));\n\
         SELECT length(x) FROM t;\n.tables\n.open\n.tables\nSELECT levenshtein('a', 'b');\n",
        db.display()
    );
    assert_eq!(shell_ok(&script), "32\nt\n1\n");
    let conn = rusqlite::Connection::open(&db).expect("database opens");
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .expect("the table is in the file");
    assert_eq!(n, 1);
}

#[test]
fn shell_functions_takes_like_and_glob_patterns() {
    let text = shell_ok(".functions lev%\n.functions *median*\n");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("levenshtein ") && lines[0].contains("scalar"));
    assert!(lines[1].starts_with("median ") && lines[1].contains("aggregate"));
    assert_eq!(shell_ok(".functions nothing_like_this\n"), "");
}

/// `.functions` lists what the library loaded, not a table of that name:
/// a database file's own `wasmudf_functions` neither hides a function nor
/// adds one, and `.tables` and `.schema` show the file, not the catalog
/// the library keeps in `temp`.
#[test]
fn shell_functions_come_from_the_library_not_from_the_database_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("fake.db");
    rusqlite::Connection::open(&db)
        .and_then(|conn| {
            conn.execute_batch(
                "CREATE TABLE wasmudf_functions(name, kind, arity, flags, component);
                 INSERT INTO wasmudf_functions VALUES ('evil_fn', 'scalar', 1, '', 'x.wasm');",
            )
        })
        .expect("the file is written");
    let db_arg = db.to_str().expect("a UTF-8 path");
    let out = shell(
        &["shell", "--db", db_arg],
        ".functions\n.functions evil%\n.tables\n.schema\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("levenshtein"), "{text}");
    assert!(!text.contains("evil_fn"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    // `.tables` and `.schema` show the file's table, and only it.
    assert!(lines.contains(&"wasmudf_functions"), "{text}");
    assert!(!text.contains("temp."), "{text}");
    assert!(!text.contains("VIRTUAL"), "{text}");
}

/// `.load` of a file already loaded replaces the component while the
/// shell runs; `.unload` by file stem removes it.
#[test]
fn shell_load_replaces_a_loaded_component_and_unload_removes_it() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let swap = dir.path().join("swap.wasm");
    std::fs::copy(wasmudf_test_guests::SWAP_A, &swap).expect("copy");
    let home = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasmudf"))
        .arg("shell")
        .env("HOME", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("shell starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    writeln!(stdin, ".load {}\nSELECT swap_version();", swap.display()).expect("write");
    let mut seen = Vec::new();
    // Wait until version a has answered before the file changes.
    for line in lines.by_ref() {
        let line = line.expect("read");
        let done = line == "a";
        seen.push(line);
        if done {
            break;
        }
    }
    assert_eq!(seen, ["loaded 1 component(s)", "a"]);
    std::fs::copy(wasmudf_test_guests::SWAP_B, &swap).expect("copy");
    writeln!(
        stdin,
        ".load {}\nSELECT swap_version(), swap_mix(1);\n.unload swap\nSELECT swap_version();",
        swap.display()
    )
    .expect("write");
    drop(stdin);
    let rest: Vec<String> = lines.map(|l| l.expect("read")).collect();
    let out = child.wait_with_output().expect("shell exits");
    let err = stderr(&out);
    assert_eq!(
        rest,
        [
            format!("replaced {}", swap.display()),
            "b|b:1".to_string(),
            format!("unloaded {}", swap.display()),
        ],
        "{err}"
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("no such function: swap_version"), "{err}");
}

#[test]
fn shell_bail_stops_piped_input_at_the_first_error_and_bail_off_goes_on() {
    let out = shell(&["shell"], "SELECT 1;\nSELECT nope;\nSELECT 2;\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "1\n");
    assert_eq!(
        stderr(&out),
        "Parse error near line 2: no such column: nope\n  SELECT nope;\n         ^--- error here\n"
    );
    let out = shell(
        &["shell"],
        ".bail off\nSELECT 1;\nCREATE TABLE t(x UNIQUE);\nINSERT INTO t VALUES (1);\n\
         INSERT INTO t VALUES (1);\nSELECT levenshtein(1, 2);\nSELECT 2;\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "1\n2\n");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[0],
        "Runtime error near line 5: UNIQUE constraint failed: t.x"
    );
    assert!(
        lines[1].starts_with("Runtime error near line 6: ") && lines[1].contains("levenshtein"),
        "{err}"
    );
    assert!(!err.contains("Error code"), "{err}");
    // A dot command's error counts too.
    let out = shell(&["shell"], ".mode nonsense\nSELECT 1;\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains("unknown mode nonsense"),
        "{}",
        stderr(&out)
    );
}

/// One connection, as `sqlite3` has: a transaction spans inputs, and a
/// temp table lasts.
#[test]
fn shell_transactions_and_temp_tables_span_statements() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("tx.db");
    let db_arg = db.to_str().expect("utf-8 path");
    let out = shell(
        &["shell", "--db", db_arg],
        "CREATE TABLE t(x);\nBEGIN;\nINSERT INTO t VALUES (1);\nROLLBACK;\nSELECT count(*) FROM t;\n\
         BEGIN;\nINSERT INTO t VALUES (2);\n.load /nonexistent.wasm\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "0\n");
    assert!(
        stderr(&out).contains("inside a transaction"),
        "{}",
        stderr(&out)
    );
    let text = shell_ok(
        "CREATE TEMP TABLE scratch(x);\nINSERT INTO scratch VALUES (5);\n\
         BEGIN;\nINSERT INTO scratch SELECT x + 1 FROM scratch;\nCOMMIT;\nSELECT sum(x) FROM scratch;\n",
    );
    assert_eq!(text, "11\n");
}

/// `--query-timeout-ms` stops one statement; the shell goes on.
#[test]
fn shell_query_timeout_stops_one_statement() {
    let out = shell(
        &["shell", "--query-timeout-ms", "300"],
        ".bail off\nSELECT sleep(5000);\nSELECT 2;\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "2\n");
    assert!(
        stderr(&out).starts_with("Runtime error near line 2: query timed out after 300 ms"),
        "{}",
        stderr(&out)
    );
}

/// Every hostile guest's attack: `(component, SQL, limit flags, what the
/// error must say)`.
type Attack = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
);

fn attacks() -> &'static [Attack] {
    use wasmudf_test_guests as g;
    &[
        (
            g::INFINITE_LOOP,
            "SELECT spin()",
            &["--timeout-ms", "200"],
            "deadline",
        ),
        (
            g::INFINITE_LOOP,
            "SELECT spin()",
            &["--fuel", "1000000"],
            "fuel",
        ),
        (
            g::FINALIZE_LOOP,
            "SELECT spin_final(1)",
            &["--timeout-ms", "200"],
            "deadline",
        ),
        (
            g::MEMORY_BOMB,
            "SELECT bomb(500)",
            &["--memory-mib", "32"],
            "memory limit",
        ),
        (
            g::DEEP_RECURSION,
            "SELECT recurse(100000000)",
            &["--stack-kib", "256"],
            "stack overflow",
        ),
        (g::UNREACHABLE, "SELECT hit_unreachable()", &[], "trapped"),
        (g::PANIC, "SELECT boom('cli boom')", &[], "cli boom"),
        (
            g::HUGE_RESULT,
            "SELECT huge_text(100)",
            &["--memory-mib", "512", "--max-result-mib", "8"],
            "too big",
        ),
        (
            g::READ_PASSWD,
            "SELECT read_file('/etc/passwd')",
            &[],
            "read_file",
        ),
        (
            g::OPEN_SOCKET,
            "SELECT connect('127.0.0.1:9')",
            &[],
            "denied",
        ),
        (g::BAD_ARITY, "SELECT 1", &[], "invalid manifest"),
        (
            g::SHADOW_BUILTINS,
            "SELECT abs(-1)",
            &[],
            "clashes with SQLite's builtin `abs`",
        ),
        (
            g::BAD_CURSOR,
            "SELECT * FROM ragged()",
            &[],
            "ragged: a batch of 3 values",
        ),
        (
            g::SHADOW_MODULES,
            "SELECT * FROM json_each('[1]')",
            &[],
            "clashes with SQLite's builtin `json_each`",
        ),
        (g::HUGE_MANIFEST, "SELECT 1", &[], "at most 4096"),
        (
            g::HUGE_MANIFEST,
            "SELECT 1",
            &["--max-functions", "100"],
            "at most 100 are allowed",
        ),
    ]
}

/// Hostile components through the CLI with its limit flags: a clear error,
/// exit code 1 (never a signal), nothing on stdout but results.
#[test]
fn hostile_components_end_in_clear_errors() {
    let cases = attacks();
    for (udf, sql, flags, needle) in cases {
        let mut args = vec!["query", "--udf", udf];
        args.extend_from_slice(flags);
        args.push(sql);
        let out = wasmudf(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{sql} {flags:?}: {err}");
        assert!(
            err.contains(needle),
            "{sql} {flags:?}: {err:?} lacks {needle:?}"
        );
        // The guest may panic; the host must not.
        assert!(!err.contains("thread 'main' panicked"), "{err}");
        assert!(stdout(&out).is_empty(), "{sql}: stdout {:?}", stdout(&out));
    }
}

/// Every hostile guest through one `wasmudf shell` session, as a user
/// would: `.load` it, run its attack, then ask the same connection a
/// normal UDF query. Each attack ends in an error line (at `.load` or in
/// the query), and every follow-up query answers.
#[test]
fn hostile_components_in_one_shell_session_leave_it_answering() {
    // Each attack is an error: the script must run on past them.
    let mut script = String::from(".bail off\n");
    let mut expected = 0;
    for (udf, sql, _, _) in attacks() {
        script.push_str(&format!(
            ".load {udf}\n{sql};\nSELECT 'ok-' || (identity(41) + 1) AS r;\n"
        ));
        expected += 1;
    }
    script.push_str(".quit\n");
    let out = shell(
        &[
            "shell",
            "--timeout-ms",
            "500",
            "--memory-mib",
            "32",
            "--stack-kib",
            "256",
            "--max-result-mib",
            "8",
        ],
        &script,
    );
    let (text, err) = (stdout(&out), stderr(&out));
    // The errors make the exit status 1, as with `sqlite3`.
    assert_eq!(out.status.code(), Some(1), "{err}");
    // A guest's own panic is quoted in its error; the host must not panic.
    assert!(!err.contains("thread 'main' panicked"), "{err}");
    assert_eq!(text.matches("ok-42").count(), expected, "{text}\n{err}");
    assert!(
        err.matches("error").count() >= expected,
        "an attack ended without an error: {err}"
    );
}

#[test]
fn hostile_output_never_reaches_the_terminal() {
    let out = wasmudf(&[
        "query",
        "--udf",
        wasmudf_test_guests::STDOUT_FLOOD,
        "--timeout-ms",
        "30000",
        "--json",
        "SELECT flood(8) AS n",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), r#"[{"n":8}]"#);
    assert!(
        stderr(&out).len() < 1024,
        "guest stderr leaked: {} bytes",
        out.stderr.len()
    );
}

#[test]
fn the_environment_is_not_inherited() {
    let out = Command::new(env!("CARGO_BIN_EXE_wasmudf"))
        .args(["query", "--udf", wasmudf_test_guests::READ_ENV, "--json"])
        .arg("SELECT env_count() AS n, env_var('HOME') AS home, arg_count() AS a")
        .env("WASMUDF_SECRET", "x")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), r#"[{"n":0,"home":null,"a":0}]"#);
}

#[test]
fn compiled_components_are_cached_and_no_cache_bypasses_it() {
    let cache = tempfile::tempdir().expect("tempdir");
    let run = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasmudf"));
        cmd.env("XDG_CACHE_HOME", cache.path())
            .args(["query", "--json"])
            .args(extra)
            .arg("SELECT identity(7) AS x");
        cmd.output().expect("runs")
    };
    // (components, direct-path modules) in the cache.
    let entries = || {
        let names: Vec<String> = std::fs::read_dir(cache.path().join("wasmudf"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|name| name.ends_with(".cwasm"))
                    .collect()
            })
            .unwrap_or_default();
        let direct = names
            .iter()
            .filter(|n| n.ends_with(".direct.cwasm"))
            .count();
        (names.len() - direct, direct)
    };
    let out = run(&["--no-cache"]);
    assert_eq!(stdout(&out).trim(), r#"[{"x":7}]"#);
    assert_eq!(entries(), (0, 0), "--no-cache wrote the cache");
    let out = run(&[]);
    assert_eq!(stdout(&out).trim(), r#"[{"x":7}]"#);
    let (components, direct) = entries();
    assert_eq!(components, wasmudf_test_guests::EXAMPLES.len());
    // A direct-path module is compiled on a component's first direct call
    // only: the query called `identity`, and nothing else.
    assert_eq!(direct, 1);
    // A second start loads from the cache and answers the same.
    let out = run(&[]);
    assert_eq!(stdout(&out).trim(), r#"[{"x":7}]"#);
    // A corrupt entry is ignored, recompiled and rewritten.
    for e in std::fs::read_dir(cache.path().join("wasmudf"))
        .expect("cache dir")
        .flatten()
    {
        std::fs::write(e.path(), b"garbage").expect("corrupt");
    }
    let out = run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), r#"[{"x":7}]"#);
}

#[test]
fn a_query_timeout_stops_a_multi_statement_input_and_nothing_after_it_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("x.db");
    let db = db.to_str().expect("utf-8 path");
    let out = wasmudf(&[
        "query",
        "--db",
        db,
        "--query-timeout-ms",
        "300",
        "CREATE TABLE t(x); BEGIN; INSERT INTO t VALUES (1); SELECT sleep(5000); \
         INSERT INTO t VALUES (2); COMMIT; INSERT INTO t VALUES (3)",
    ]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));
    let conn = rusqlite::Connection::open(db).expect("database opens");
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .expect("the table was created before the timeout");
    assert_eq!(rows, 0, "a statement after the timeout committed");
}

/// Raw bytes a terminal would obey: ESC, BEL, any other C0 control but
/// newline, the 8-bit CSI (U+009B) and the right-to-left override (U+202E).
fn raw_controls(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|&c| (c.is_control() && c != '\n') || c == '\u{202e}')
        .map(|c| format!("{c:?}"))
        .collect()
}

fn assert_clean(what: &str, out: &Output) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let found = raw_controls(bytes);
        assert!(
            found.is_empty(),
            "{what}: raw {found:?} on {stream}: {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn guest_control_characters_never_reach_the_terminal() {
    let udf = wasmudf_test_guests::TERMINAL_ESCAPE;
    let escaped = r"\u{1b}]52;c;ZWNobyBwd25lZA==\u{7}";
    // Values: in a table, and as JSON (which must still parse back).
    let out = wasmudf(&["query", "--udf", udf, "SELECT esc_text() AS t"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_clean("table", &out);
    assert!(stdout(&out).contains(escaped), "{}", stdout(&out));
    let out = wasmudf(&["query", "--udf", udf, "--json", "SELECT esc_text() AS t"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_clean("json", &out);
    let rows: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("valid JSON");
    assert!(
        rows[0]["t"]
            .as_str()
            .is_some_and(|t| t.starts_with("\x1b]0;pwned-title\x07") && t.ends_with("\u{202e}evil")),
        "{rows}"
    );
    // Errors: the guest's own, and a trap quoting its stderr.
    for sql in ["SELECT esc_error()", "SELECT esc_panic()"] {
        for json in [false, true] {
            let mut args = vec!["query", "--udf", udf];
            if json {
                args.push("--json");
            }
            args.push(sql);
            let out = wasmudf(&args);
            assert_eq!(out.status.code(), Some(1), "{sql}");
            assert_clean(sql, &out);
            assert!(stderr(&out).contains(escaped), "{sql}: {}", stderr(&out));
        }
    }
    // A 12 MiB error is cut, even with a small result limit.
    let out = wasmudf(&[
        "query",
        "--udf",
        udf,
        "--max-result-mib",
        "1",
        "SELECT giant_error(12)",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_clean("giant_error", &out);
    assert!(
        out.stderr.len() < 8 << 10,
        "{} bytes on stderr",
        out.stderr.len()
    );
    assert!(
        stderr(&out).contains("(truncated, 12583040 bytes)"),
        "{}",
        stderr(&out)
    );
    // Function names: `inspect` and the shell's `.functions`.
    let out = wasmudf(&["inspect", udf]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_clean("inspect", &out);
    assert!(stdout(&out).contains(r"esc_name\u{1b}]0;pwned-name\u{7}"));
    let out = shell(
        &["shell", "--udf", udf],
        ".functions\nSELECT esc_text();\nSELECT esc_error();\n.quit\n",
    );
    // The last statement fails, so piped input exits 1.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_clean("shell", &out);
    assert!(stdout(&out).contains(r"esc_name\u{1b}]0;pwned-name\u{7}"));
    // A file name is text the CLI prints, too.
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("evil\x1b]0;file\x07.wasm");
    std::fs::write(&junk, b"junk").expect("write");
    let out = wasmudf(&["query", "--udf", junk.to_str().expect("utf-8"), "SELECT 1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_clean("file name", &out);
}

/// A cache location that cannot be written (a read-only home, say) costs a
/// warning, not the query.
#[test]
fn an_unusable_cache_location_does_not_stop_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let not_a_dir = dir.path().join("home");
    std::fs::write(&not_a_dir, b"").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_wasmudf"))
        .args(["query", "--json", "SELECT identity(7) AS x"])
        .env_remove("XDG_CACHE_HOME")
        .env("HOME", &not_a_dir)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), r#"[{"x":7}]"#);
    assert!(
        stderr(&out).starts_with("warning: compiled-code cache"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_folder_load_follows_links_and_names_what_it_skips() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().expect("tempdir");
    symlink(
        wasmudf_test_guests::IDENTITY,
        dir.path().join("identity.wasm"),
    )
    .expect("link");
    symlink(dir.path().join("gone"), dir.path().join("dangling.wasm")).expect("link");
    std::fs::write(dir.path().join("README.md"), "docs").expect("write");
    let folder = dir.path().to_str().expect("utf-8 path");
    let out = wasmudf(&[
        "query",
        "--udf",
        folder,
        "--json",
        "SELECT identity(3) AS x",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), r#"[{"x":3}]"#);
    let err = stderr(&out);
    assert!(
        err.contains("note: skipped") && err.contains("dangling.wasm: symbolic link"),
        "{err}"
    );
    assert!(!err.contains("README"), "{err}");
}

/// A cache for the tests that compile a language runtime (12 to 18 MB of
/// component): kept under the target directory, so the runtimes are
/// compiled once per checkout rather than once per test.
fn lang_cache() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-lang-cache");
    std::fs::create_dir_all(&dir).expect("cache dir");
    dir
}

fn wasmudf_cached(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasmudf"))
        .env("XDG_CACHE_HOME", lang_cache())
        .args(args)
        .output()
        .expect("wasmudf runs")
}

/// The JavaScript and Python example guests as a user runs them: JSON
/// output, four threads, 64-bit integers, NULLs, thrown errors that leave
/// the session usable, aggregates over groups.
#[test]
fn javascript_and_python_guests_answer_through_the_cli() {
    let js = wasmudf_test_guests::JS_EXAMPLES;
    let py = wasmudf_test_guests::PY_EXAMPLES;
    let out = wasmudf_cached(&[
        "query",
        "--json",
        "--threads",
        "4",
        "--udf",
        js,
        "--udf",
        py,
        "SELECT js_i64_add(9223372036854775806, 1) AS a, py_add(-9223372036854775807, -1) AS b, \
         js_slugify(NULL) AS c, js_slugify('Héllo, Wörld!') AS d, js_sleep(20) AS e",
        "CREATE TABLE t(g, x); INSERT INTO t SELECT value % 3, value % 5 FROM json_each('[1,2,3,4,5,6,7,8,9,10,11,12]')",
        "SELECT g, js_mode(x) AS mode, py_stdev(x) AS sd FROM t GROUP BY g ORDER BY g",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert_eq!(
        lines[0],
        r#"[{"a":9223372036854775807,"b":-9223372036854775808,"c":null,"d":"hello-world","e":20}]"#
    );
    // g = 0: x = 3, 1, 4, 2; g = 1: 1, 4, 2, 0; g = 2: 2, 0, 3, 1. The
    // sample standard deviations are sqrt(5/3) and sqrt(35/12).
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(lines.last().expect("rows")).expect("JSON");
    assert_eq!(rows.len(), 3);
    for (row, var) in rows.iter().zip([5.0 / 3.0, 35.0 / 12.0, 5.0 / 3.0]) {
        let sd = row["sd"].as_f64().expect("REAL stdev");
        assert!((sd - f64::sqrt(var)).abs() < 1e-12, "{row}");
    }
    assert_eq!(rows[0]["mode"], 1);
    assert_eq!(rows[1]["mode"], 0);
    assert_eq!(rows[2]["mode"], 0);
    // A thrown error is the statement's error; the session answers on.
    for (udf, failing, after, answer) in [
        (
            js,
            "SELECT js_format('{3}', 1);",
            "SELECT js_slugify('A b') AS s;",
            "a-b",
        ),
        (
            py,
            "SELECT py_add(9223372036854775807, 1);",
            "SELECT py_add(40, 2) AS s;",
            "42",
        ),
    ] {
        let cache = lang_cache();
        let script = format!(".bail off\n{failing}\n{after}\n");
        let out = shell_in(
            &["shell", "--udf", udf],
            &script,
            &[("XDG_CACHE_HOME", &cache)],
        );
        let (o, e) = (stdout(&out), stderr(&out));
        let name = failing.split(['(', ' ']).nth(1).expect("function name");
        assert!(e.contains(name), "{failing}: {e}");
        assert!(o.contains(answer), "{after} after {failing}: {o}\n{e}");
    }
}

/// `inspect` loads through the compiled-code cache, as `query` does: a
/// second inspect of a JavaScript component must not recompile it.
#[test]
fn inspect_uses_the_compiled_code_cache() {
    let cache = tempfile::tempdir().expect("tempdir");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wasmudf"))
            .env("XDG_CACHE_HOME", cache.path())
            .arg("inspect")
            .args(extra)
            .arg(wasmudf_test_guests::STATS)
            .output()
            .expect("runs")
    };
    let cwasm = || {
        std::fs::read_dir(cache.path().join("wasmudf"))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".cwasm"))
                    .count()
            })
            .unwrap_or(0)
    };
    let out = run(&["--no-cache"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(cwasm(), 0, "--no-cache wrote the cache");
    let out = run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("median"), "{}", stdout(&out));
    assert_eq!(cwasm(), 1, "inspect did not cache the component");
}

/// `wasmudf new` in each language: the project builds with the command its
/// README gives, and the component answers the project's test query.
#[test]
fn new_projects_build_and_pass_their_test_query() {
    let parent = tempfile::tempdir().expect("tempdir");
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let run = |cmd: &mut Command, what: &str| {
        let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            out.status.success(),
            "{what} failed:\n{}\n{}",
            stdout(&out),
            stderr(&out)
        );
    };
    for (lang, name) in [
        ("rust", "demo-rs"),
        ("js", "demo-js"),
        ("python", "demo-py"),
    ] {
        let dir_arg = parent.path().to_str().expect("utf-8 path");
        let out = wasmudf(&["new", "--lang", lang, name, "--dir", dir_arg]);
        assert!(out.status.success(), "{}", stderr(&out));
        let project = parent.path().join(name);
        let component = match lang {
            "rust" => {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                // A target directory kept between runs, so only the first
                // run compiles the SDK for wasm.
                let target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("new-rust");
                let mut cmd = Command::new(cargo);
                cmd.args(["build", "--release", "--target", "wasm32-wasip2"])
                    .current_dir(&project)
                    .env("CARGO_TARGET_DIR", &target);
                for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET"] {
                    cmd.env_remove(var);
                }
                run(&mut cmd, "cargo build of the Rust template");
                target.join("wasm32-wasip2/release/demo_rs.wasm")
            }
            "js" => {
                run(
                    Command::new("npm")
                        .args(["install", "--no-audit", "--no-fund"])
                        .current_dir(&project),
                    "npm install of the JS template",
                );
                run(
                    Command::new("npm")
                        .args(["run", "build"])
                        .current_dir(&project),
                    "npm run build of the JS template",
                );
                project.join("demo_js.wasm")
            }
            _ => {
                // The README's third command, with the checkout's own
                // virtual environment standing in for the first two.
                let py = repo.join("guests/python/.venv/bin/wasmudf-guest-py");
                run(
                    Command::new(py)
                        .args(["build", "app.py", "-o", "demo_py.wasm"])
                        .current_dir(&project),
                    "wasmudf-guest-py build of the Python template",
                );
                project.join("demo_py.wasm")
            }
        };
        let sql = std::fs::read_to_string(project.join("test.sql")).expect("test.sql");
        let udf = component.to_str().expect("utf-8 path");
        let out = wasmudf_cached(&["query", "--json", "--udf", udf, &sql]);
        assert!(out.status.success(), "{lang}: {}", stderr(&out));
        assert_eq!(stdout(&out).trim(), r#"[{"ok":1}]"#, "{lang}");
    }
}

/// `--engine datafusion` over Parquet and CSV files gives the answers
/// `--engine sqlite` gives over the same rows, with the example components
/// loaded by default.
#[test]
fn datafusion_over_parquet_and_csv_answers_as_sqlite_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = "(1, 'straße', 1.5), (2, 'kitten', 2.0), (3, NULL, 10.0), (4, 'abc', NULL), (5, 'sitting', -3.25)";
    let parquet = dir.path().join("t.parquet");
    let copy = format!(
        "COPY (SELECT column1 AS id, column2 AS s, column3 AS x FROM (VALUES {rows})) TO '{}' STORED AS PARQUET",
        parquet.display()
    );
    let out = wasmudf(&["query", "--engine", "datafusion", &copy]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = dir.path().join("t.csv");
    std::fs::write(
        &csv,
        "id,s,x\n1,straße,1.5\n2,kitten,2.0\n3,,10.0\n4,abc,\n5,sitting,-3.25\n",
    )
    .expect("csv");

    let queries = [
        "SELECT id, unicode_upper(s) AS u, levenshtein(s, 'sitting') AS l, regexp('^[a-z]+$', s) AS r, \
         sha256(s) AS h, greatest(x, 0.0) AS g, greatest(id, 3) AS gi, identity(x) AS i FROM t ORDER BY id",
        "SELECT median(x) AS m, sumsq(x) AS q, sumsq(id) AS qi FROM t",
        "SELECT id, sumsq(x) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS w FROM t ORDER BY id",
    ];
    for query in queries {
        let sqlite_sql = format!("WITH t(id, s, x) AS (VALUES {rows}) {query}",);
        let expected = wasmudf(&["query", "--json", &sqlite_sql]);
        assert!(
            expected.status.success(),
            "{}",
            String::from_utf8_lossy(&expected.stderr)
        );
        for table in [&parquet, &csv] {
            let arg = format!("t={}", table.display());
            let got = wasmudf(&[
                "query",
                "--engine",
                "datafusion",
                "--table",
                &arg,
                "--json",
                query,
            ]);
            assert!(
                got.status.success(),
                "{query}: {}",
                String::from_utf8_lossy(&got.stderr)
            );
            assert_eq!(stdout(&got), stdout(&expected), "{query} over {arg}");
        }
    }

    // A missing file and a trap are errors that say what happened.
    let out = wasmudf(&[
        "query",
        "--engine",
        "datafusion",
        "--table",
        "t=nope.parquet",
        "SELECT 1",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("opening nope.parquet"));
    let out = wasmudf(&["query", "--table", "t=x.csv", "SELECT 1"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--table is for --engine datafusion"));
}
