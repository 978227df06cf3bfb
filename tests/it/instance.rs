//! The host API outside SQLite: a leased `Instance`, batched calls over
//! columns, and accumulators that serialise and merge across instances.
//! Every answer is checked against what SQLite gets from the same
//! component.

use anyhow::Result;
use rusqlite::Connection;
use wasmudf::{CallErrorKind, Column, ColumnRef, Instance, Value};
use wasmudf_tests::{component, engine, load_on};

fn sqlite(c: &wasmudf::Component, sql: &str) -> Result<Value> {
    let conn = Connection::open_in_memory()?;
    c.register(&conn)?;
    Ok(conn
        .query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0))?
        .into())
}

fn index(c: &wasmudf::Component, name: &str, arity: usize) -> usize {
    c.function_index(name, arity)
        .unwrap_or_else(|| panic!("no {name}/{arity}"))
}

#[test]
fn an_instance_is_send() {
    fn send<T: Send>() {}
    send::<Instance>();
    send::<wasmudf::Accumulator>();
}

#[test]
fn a_batch_gives_what_the_rows_give_one_by_one() -> Result<()> {
    let bench = component("bench");
    let add1 = index(&bench, "add1", 1);
    let mut inst = bench.instance();
    // 1, NULL, 3, i64::MAX (wraps).
    let data = [1, 0, 3, i64::MAX];
    let col = ColumnRef::Integers {
        data: &data,
        valid: Some(&[0b1101]),
    };
    let got = inst.call_columns(add1, &[col], 4)?;
    assert_eq!(
        got.to_values(),
        [
            Value::Integer(2),
            Value::Null,
            Value::Integer(4),
            Value::Integer(i64::MIN)
        ]
    );
    for row in 0..4 {
        let one = inst.call(add1, &[col.get(row).expect("row")])?;
        assert_eq!(Some(one), got.get(row), "row {row}");
    }
    assert_eq!(
        sqlite(&bench, "SELECT add1(9223372036854775807)")?,
        Value::Integer(i64::MIN)
    );

    // TEXT in, TEXT out, laid end to end.
    let upper = index(&bench, "upper_ascii", 1);
    let texts = ColumnRef::Texts {
        offsets: &[0, 3, 3, 8],
        data: "abcxy-é",
        valid: Some(&[0b101]),
    };
    let got = inst.call_columns(upper, &[texts], 3)?;
    assert_eq!(
        got.to_values(),
        [Value::from("ABC"), Value::Null, Value::from("XY-é")]
    );
    assert!(matches!(got, Column::Texts { .. }), "{got:?}");
    Ok(())
}

#[test]
fn a_0_1_0_component_answers_batches_row_by_row() -> Result<()> {
    let old = engine().load_file(format!(
        "{}/fixtures/wit-0.1.0/sha256.wasm",
        env!("CARGO_MANIFEST_DIR")
    ))?;
    let new = component("sha256");
    let blobs = ColumnRef::Blobs {
        offsets: &[0, 3, 3],
        data: b"abc",
        valid: None,
    };
    // The 0.1.0 build predates the example's rename (DataFusion has a
    // builtin `sha256`).
    let batch = |c: &wasmudf::Component, name: &str| -> Result<Vec<Value>> {
        let f = index(c, name, 1);
        Ok(c.instance().call_columns(f, &[blobs], 2)?.to_values())
    };
    let (a, b) = (batch(&old, "sha256")?, batch(&new, "sha256_of")?);
    assert_eq!(a, b);
    assert_eq!(a[0], sqlite(&new, "SELECT sha256_of(x'616263')")?);
    Ok(())
}

#[test]
fn partial_states_merge_across_instances_to_the_whole() -> Result<()> {
    let stats = component("stats");
    for name in ["median_of", "sumsq"] {
        let f = index(&stats, name, 1);
        let xs = [3.0, -1.5, 10.0, 2.0, 7.25];
        let whole = sqlite(
            &stats,
            &format!(
                "WITH v(x) AS (VALUES (3.0), (-1.5), (10.0), (2.0), (7.25)) SELECT {name}(x) FROM v"
            ),
        )?;
        for cut in 0..=xs.len() {
            let (left, right) = xs.split_at(cut);
            // Two instances, as two partitions on two threads would have.
            let (mut a, mut b) = (stats.instance(), stats.instance());
            let (acc_a, acc_b) = (a.accumulator(f)?, b.accumulator(f)?);
            a.step(
                &acc_a,
                &[ColumnRef::Reals {
                    data: left,
                    valid: None,
                }],
                left.len(),
            )?;
            b.step(
                &acc_b,
                &[ColumnRef::Reals {
                    data: right,
                    valid: None,
                }],
                right.len(),
            )?;
            let state = b.serialize(&acc_b)?;
            b.release(acc_b);
            a.merge(&acc_a, &state)?;
            assert_eq!(a.finish(acc_a)?, whole, "{name}, cut at {cut}");
        }
    }
    Ok(())
}

#[test]
fn a_window_steps_inverts_and_reports() -> Result<()> {
    let stats = component("stats");
    let f = index(&stats, "sumsq", 1);
    let mut inst = stats.instance();
    let acc = inst.accumulator(f)?;
    let values = [Value::Integer(3), Value::Null, Value::Integer(4)];
    inst.step(&acc, &[ColumnRef::Values(&values)], 3)?;
    assert_eq!(inst.value(&acc)?, Value::Integer(25));
    inst.inverse(
        &acc,
        &[ColumnRef::Integers {
            data: &[3],
            valid: None,
        }],
        1,
    )?;
    assert_eq!(inst.value(&acc)?, Value::Integer(16));
    assert_eq!(inst.finish(acc)?, Value::Integer(16));
    Ok(())
}

#[test]
fn misuse_is_a_usage_error_naming_the_function() -> Result<()> {
    let stats = component("stats");
    let bench = component("bench");
    let median = index(&stats, "median_of", 1);
    let mut inst = stats.instance();
    let usage = |r: Result<Value, wasmudf::CallError>| match r {
        Err(e) => {
            assert!(matches!(e.cause, CallErrorKind::Usage(_)), "{e}");
            e.to_string()
        }
        Ok(v) => panic!("accepted: {v:?}"),
    };
    assert!(
        usage(inst.call(median, &[Value::Integer(1)])).starts_with("median_of: is a aggregate")
    );
    assert!(usage(inst.call(99, &[])).contains("no function #99"));
    let acc = inst.accumulator(median)?;
    assert!(usage(inst.inverse(&acc, &[], 0).map(|()| Value::Null)).contains("not a window"));
    let short = ColumnRef::Integers {
        data: &[1],
        valid: None,
    };
    assert!(
        usage(inst.step(&acc, &[short], 2).map(|()| Value::Null)).contains("1 values for 2 rows")
    );
    let bad = ColumnRef::Texts {
        offsets: &[0, 1, 2],
        data: "é",
        valid: None,
    };
    assert!(usage(inst.step(&acc, &[bad], 2).map(|()| Value::Null)).contains("inside a character"));
    // Another instance's accumulator is refused, not looked up in the wrong
    // store.
    let mut other = stats.instance();
    assert!(usage(other.value(&acc)).contains("another instance"));
    inst.release(acc);

    // Not mergeable: bench's add1 is a scalar; acc-live's aggregates are
    // not mergeable.
    let live = component("acc-live");
    let agg = live
        .functions()
        .iter()
        .position(|f| f.kind != wasmudf::FunctionKind::Scalar && !f.mergeable)
        .expect("an aggregate that is not mergeable");
    let mut li = live.instance();
    let acc = li.accumulator(agg)?;
    assert!(usage(li.serialize(&acc).map(|_| Value::Null)).contains("not mergeable"));
    li.release(acc);
    let add1 = index(&bench, "add1", 1);
    assert!(usage(bench.instance().call(add1, &[])).contains("takes 1 argument(s), was given 0"));
    Ok(())
}

#[test]
fn a_trap_replaces_only_the_instance_it_happened_in() -> Result<()> {
    let faulty = component("faulty");
    let trap_if = index(&faulty, "trap_if", 1);
    let noisy = index(&faulty, "noisy_sum", 1);
    let mut inst = faulty.instance();
    let acc = inst.accumulator(noisy)?;
    inst.step(
        &acc,
        &[ColumnRef::Integers {
            data: &[1, 2],
            valid: None,
        }],
        2,
    )?;
    let err = inst.call(trap_if, &[Value::Integer(1)]).expect_err("trap");
    assert!(matches!(err.cause, CallErrorKind::Trap(_)), "{err}");
    // `trap_if` is not deterministic, `noisy_sum` is: they run in two
    // instances, and a trap in one leaves the other's accumulator alone.
    assert_eq!(inst.value(&acc)?, Value::Integer(3));
    assert_eq!(inst.call(trap_if, &[Value::Integer(5)])?, Value::Integer(5));
    let err = inst
        .call(trap_if, &[Value::Integer(2)])
        .expect_err("guest error");
    assert_eq!(err.to_string(), "trap_if: asked to fail");
    inst.release(acc);
    Ok(())
}

#[test]
fn an_accumulator_outlived_by_a_trap_in_its_instance_is_lost() -> Result<()> {
    let engine = wasmudf::Engine::builder()
        .limits(wasmudf::Limits {
            timeout: std::time::Duration::from_millis(50),
            ..wasmudf::Limits::default()
        })
        .build()?;
    let spin = load_on(&engine, "finalize-loop");
    let f = index(&spin, "spin_final", 1);
    let mut inst = spin.instance();
    let (first, second) = (inst.accumulator(f)?, inst.accumulator(f)?);
    let rows = [Value::Integer(1)];
    inst.step(&second, &[ColumnRef::Values(&rows)], 1)?;
    let err = inst.finish(first).expect_err("spins");
    assert_eq!(err.cause, CallErrorKind::Deadline, "{err}");
    let err = inst.finish(second).expect_err("lost");
    assert_eq!(err.cause, CallErrorKind::StateLost, "{err}");
    // The next accumulator gets a fresh instance.
    let third = inst.accumulator(f)?;
    inst.step(&third, &[ColumnRef::Values(&rows)], 1)?;
    inst.release(third);
    Ok(())
}

#[test]
fn limits_apply_per_call() -> Result<()> {
    let engine = wasmudf::Engine::builder()
        .limits(wasmudf::Limits {
            timeout: std::time::Duration::from_millis(50),
            max_result_bytes: 4,
            ..wasmudf::Limits::default()
        })
        .build()?;
    let sleep = load_on(&engine, "sleep");
    let f = index(&sleep, "sleep", 1);
    let mut inst = sleep.instance();
    let err = inst
        .call_columns(
            f,
            &[ColumnRef::Integers {
                data: &[5000],
                valid: None,
            }],
            1,
        )
        .expect_err("deadline");
    assert_eq!(err.cause, CallErrorKind::Deadline, "{err}");
    let bench = load_on(&engine, "bench");
    let upper = index(&bench, "upper_ascii", 1);
    let err = bench
        .instance()
        .call_columns(
            upper,
            &[ColumnRef::Texts {
                offsets: &[0, 2, 7],
                data: "abcdefg",
                valid: None,
            }],
            2,
        )
        .expect_err("too big");
    assert_eq!(
        err.cause,
        CallErrorKind::TooBig { size: 5, limit: 4 },
        "{err}"
    );
    Ok(())
}
