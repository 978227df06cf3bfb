//! Unit tests of the conversions and the dispatch, on the host.

use crate::__private::{
    Acc, Component, Cur, Entry, aggregate_entry, call, call_columns, mergeable_aggregate_entry,
    mergeable_window_entry, table_entry, window_entry,
};
use crate::bindings::exports::wasmudf::udf::guest::{
    BlobColumn, Column, IntegerColumn, RealColumn, TextColumn,
};
use crate::{
    Aggregate, Error, Flags, FromArgs, FromValue, IntoValue, Mergeable, Table, Value, ValueType,
    Window,
};

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

#[test]
fn from_value_conversions() {
    assert_eq!(i64::from_value(&Value::Integer(5)), Ok(5));
    assert_eq!(
        i64::from_value(&text("x"))
            .unwrap_err()
            .at_arg(1)
            .to_string(),
        "argument 1 must be INTEGER, got TEXT"
    );
    assert_eq!(f64::from_value(&Value::Integer(2)), Ok(2.0));
    assert_eq!(f64::from_value(&Value::Real(2.5)), Ok(2.5));
    assert!(bool::from_value(&Value::Integer(-3)).unwrap());
    assert!(!bool::from_value(&Value::Integer(0)).unwrap());
    let t = text("hé");
    assert_eq!(<&str>::from_value(&t), Ok("hé"));
    assert_eq!(String::from_value(&t), Ok("hé".to_owned()));
    assert_eq!(<&[u8]>::from_value(&t), Ok("hé".as_bytes()));
    let b = Value::Blob(vec![1, 2]);
    assert_eq!(Vec::<u8>::from_value(&b), Ok(vec![1, 2]));
    assert_eq!(
        String::from_value(&b).unwrap_err().at_arg(3).to_string(),
        "argument 3 must be TEXT, got BLOB"
    );
    assert_eq!(Option::<i64>::from_value(&Value::Null), Ok(None));
    assert_eq!(Option::<i64>::from_value(&Value::Integer(1)), Ok(Some(1)));
    assert_eq!(Value::from_value(&Value::Null), Ok(Value::Null));
    assert!(<Option<i64>>::ACCEPTS_NULL && <&Value>::ACCEPTS_NULL && !i64::ACCEPTS_NULL);
}

#[test]
fn into_value_conversions() {
    assert_eq!(7i64.into_value(), Value::Integer(7));
    assert_eq!(7i32.into_value(), Value::Integer(7));
    assert_eq!(7u32.into_value(), Value::Integer(7));
    assert_eq!(true.into_value(), Value::Integer(1));
    assert_eq!(false.into_value(), Value::Integer(0));
    assert_eq!(1.5f64.into_value(), Value::Real(1.5));
    assert_eq!("a".into_value(), text("a"));
    assert_eq!([1u8, 2].into_value(), Value::Blob(vec![1, 2]));
    assert_eq!((&[3u8][..]).into_value(), Value::Blob(vec![3]));
    assert_eq!(None::<i64>.into_value(), Value::Null);
    assert_eq!(().into_value(), Value::Null);
    assert_eq!(Value::Real(0.5).type_name(), "REAL");
}

#[test]
fn from_args_tuples() {
    let row = [Value::Integer(1), text("a")];
    assert_eq!(<(i64, &str)>::from_args(&row), Ok(Some((1, "a"))));
    assert_eq!(<(i64, &str)>::ARITY, 2);
    assert_eq!(<&[Value]>::ARITY, -1);
    // A NULL for a non-Option parameter skips the row.
    let row = [Value::Null, text("a")];
    assert_eq!(<(i64, &str)>::from_args(&row), Ok(None));
    assert_eq!(
        <(Option<i64>, &str)>::from_args(&row),
        Ok(Some((None, "a")))
    );
    // A type mismatch names the argument.
    let row = [Value::Integer(1), Value::Integer(2)];
    assert_eq!(
        <(i64, &str)>::from_args(&row).unwrap_err().to_string(),
        "argument 2 must be TEXT, got INTEGER"
    );
    assert_eq!(
        <(i64,)>::from_args(&row).unwrap_err().to_string(),
        "expected 1 argument, got 2"
    );
}

#[crate::scalar(name = "plus", deterministic, innocuous)]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[crate::scalar]
fn fail(x: &str) -> Result<(), String> {
    Err(format!("bad {x}"))
}

#[crate::scalar(direct_only)]
fn count_args(args: &[Value]) -> u32 {
    args.len() as u32
}

#[derive(Default)]
struct Sum(i64, u32);

impl Aggregate for Sum {
    const NAME: &'static str = "sum_x";
    type Args<'a> = (i64,);
    type Output = i64;
    fn step(&mut self, (x,): (i64,)) -> Result<(), Error> {
        self.0 += x;
        self.1 += 1;
        Ok(())
    }
    fn finalize(self) -> Result<i64, Error> {
        Ok(self.0 * 1000 + i64::from(self.1))
    }
}

impl Window for Sum {
    fn inverse(&mut self, (x,): (i64,)) -> Result<(), Error> {
        self.0 -= x;
        self.1 -= 1;
        Ok(())
    }
    fn value(&self) -> Result<i64, Error> {
        Ok(self.0)
    }
}

impl Mergeable for Sum {
    fn serialize(&self) -> Result<Vec<u8>, Error> {
        let mut bytes = self.0.to_le_bytes().to_vec();
        bytes.extend(self.1.to_le_bytes());
        Ok(bytes)
    }
    fn deserialize(bytes: &[u8]) -> Result<Self, Error> {
        let bad = || Error::new("bad sum_x state");
        let (sum, count) = bytes.split_at_checked(8).ok_or_else(bad)?;
        Ok(Sum(
            i64::from_le_bytes(sum.try_into().map_err(|_| bad())?),
            u32::from_le_bytes(count.try_into().map_err(|_| bad())?),
        ))
    }
    fn merge(&mut self, other: Self) -> Result<(), Error> {
        self.0 += other.0;
        self.1 += other.1;
        Ok(())
    }
}

#[crate::scalar]
fn half(x: f64, label: Option<&str>) -> Option<String> {
    label.map(|l| format!("{l}{}", x / 2.0))
}

/// A result whose class depends on the row.
#[crate::scalar]
fn either(x: i64) -> Value {
    if x % 2 == 0 {
        Value::Integer(x)
    } else {
        text("odd")
    }
}

#[crate::scalar]
fn seven() -> i64 {
    7
}

struct Test;

impl Component for Test {
    const ENTRIES: &'static [Entry] = &[
        Entry::Scalar(add::DEF),
        Entry::Scalar(fail::DEF),
        Entry::Scalar(count_args::DEF),
        aggregate_entry::<Sum>(),
        window_entry::<Sum>(),
        mergeable_aggregate_entry::<Sum>(),
        mergeable_window_entry::<Sum>(),
        Entry::Scalar(half::DEF),
        Entry::Scalar(either::DEF),
        Entry::Scalar(seven::DEF),
        table_entry::<Upto>(),
        table_entry::<Ragged>(),
    ];
}

/// `upto(n, label)`: rows `(i, label)` for `i` in `1..=n`; for a negative
/// `n`, the same rows up to `-n` and then an error.
struct Upto {
    next: i64,
    n: i64,
    label: Option<String>,
}

impl Table for Upto {
    const NAME: &'static str = "upto";
    const FLAGS: Flags = Flags::DETERMINISTIC;
    const COLUMNS: &'static [&'static str] = &["i", "label"];
    type Args<'a> = (i64, Option<&'a str>);
    type Row = (i64, Option<String>);
    fn open((n, label): (i64, Option<&str>)) -> Result<Self, Error> {
        if n == i64::MIN {
            return Err(Error::new("no such count"));
        }
        Ok(Upto {
            next: 1,
            n,
            label: label.map(str::to_owned),
        })
    }
    fn next(&mut self) -> Result<Option<Self::Row>, Error> {
        if self.n < 0 && self.next > -self.n {
            return Err(Error::new(format!("failed at row {}", self.next)));
        }
        if self.next > self.n.abs() {
            return Ok(None);
        }
        self.next += 1;
        Ok(Some((self.next - 1, self.label.clone())))
    }
}

/// `ragged()`: rows of one value although it declares two columns.
struct Ragged;

impl Table for Ragged {
    const NAME: &'static str = "ragged";
    const COLUMNS: &'static [&'static str] = &["a", "b"];
    type Args<'a> = ();
    type Row = Vec<Value>;
    fn open((): ()) -> Result<Self, Error> {
        Ok(Ragged)
    }
    fn next(&mut self) -> Result<Option<Vec<Value>>, Error> {
        Ok(Some(vec![Value::Integer(1)]))
    }
}

#[test]
fn table_functions_yield_rows_in_batches() {
    let upto = |args: &[Value]| Cur::<Test>::new(Test::ENTRIES, 10, args);
    let cur = upto(&[Value::Integer(5), text("x")]).expect("opens");
    let row = |i| [Value::Integer(i), text("x")];
    assert_eq!(cur.next_rows(2), Ok([row(1), row(2)].concat()));
    assert_eq!(cur.next_rows(0), Ok(vec![]));
    assert_eq!(cur.next_rows(9), Ok([row(3), row(4), row(5)].concat()));
    assert_eq!(cur.next_rows(9), Ok(vec![]), "done");
    assert_eq!(cur.next_rows(9), Ok(vec![]), "still done");
    // NULL for a parameter that cannot hold it: no rows, `open` not run.
    let none = upto(&[Value::Null, text("x")]).expect("opens");
    assert_eq!(none.next_rows(9), Ok(vec![]));
    // An `Option` parameter sees NULL.
    let nulls = upto(&[Value::Integer(1), Value::Null]).expect("opens");
    assert_eq!(nulls.next_rows(9), Ok(vec![Value::Integer(1), Value::Null]));
    // Errors: from `open`, from `next`, argument types and counts, the
    // wrong kind of function, a row of the wrong width.
    let err = |r: Result<Cur<Test>, String>| r.expect_err("refused");
    assert_eq!(
        err(upto(&[Value::Integer(i64::MIN), Value::Null])),
        "no such count"
    );
    let failing = upto(&[Value::Integer(-2), Value::Null]).expect("opens");
    assert_eq!(
        failing.next_rows(9),
        Err("failed at row 3".to_owned()),
        "a failure fails the batch"
    );
    assert_eq!(
        err(upto(&[text("5"), Value::Null])),
        "argument 1 must be INTEGER, got TEXT"
    );
    assert_eq!(err(upto(&[])), "expected 2 arguments, got 0");
    assert_eq!(
        err(Cur::<Test>::new(Test::ENTRIES, 0, &[])),
        "function 0 (plus) is not a table function"
    );
    assert_eq!(
        err(Cur::<Test>::new(Test::ENTRIES, 99, &[])),
        "no function with id 99"
    );
    let ragged = Cur::<Test>::new(Test::ENTRIES, 11, &[]).expect("opens");
    assert_eq!(
        ragged.next_rows(1),
        Err("a row has 1 value; the function declares 2 columns".to_owned())
    );
    // And the other entry points refuse a table function.
    assert!(call::<Test>(10, &[]).is_err());
    assert!(Acc::<Test>::new(Test::ENTRIES, 10).is_err());
}

#[test]
fn a_table_function_declares_its_columns() {
    use crate::bindings::exports::wasmudf::udf::guest::FunctionKind;
    let spec = Test::ENTRIES[10].spec();
    assert_eq!(spec.name, "upto");
    assert_eq!(spec.kind, FunctionKind::Table);
    assert_eq!(spec.arity, 2);
    assert_eq!(spec.columns, ["i", "label"]);
    // `Option<&str>` declares TEXT, as `&str` does.
    assert_eq!(spec.params, Some(vec![ValueType::Integer, ValueType::Text]));
    assert!(Test::ENTRIES[0].spec().columns.is_empty());
}

fn ints(data: Vec<i64>, valid: Option<Vec<u8>>) -> Column {
    Column::Integers(IntegerColumn { data, valid })
}

fn texts(parts: &[&str], valid: Option<Vec<u8>>) -> Column {
    let mut offsets = vec![0];
    let mut data = String::new();
    for p in parts {
        data.push_str(p);
        offsets.push(data.len() as u32);
    }
    Column::Texts(TextColumn {
        offsets,
        data,
        valid,
    })
}

#[test]
fn scalar_defs() {
    assert_eq!(add(1, 2), 3);
    assert_eq!(add::DEF.name, "plus");
    assert_eq!(add::DEF.arity, 2);
    assert_eq!(add::DEF.flags, Flags::DETERMINISTIC | Flags::INNOCUOUS);
    assert_eq!(fail::DEF.name, "fail");
    assert_eq!(fail::DEF.flags, Flags::NONE);
    assert_eq!(count_args::DEF.arity, -1);
    assert_eq!(count_args::DEF.flags, Flags::DIRECT_ONLY);
}

#[test]
fn scalar_dispatch() {
    assert_eq!(
        call::<Test>(0, &[Value::Integer(1), Value::Integer(2)]),
        Ok(Value::Integer(3))
    );
    assert_eq!(
        call::<Test>(0, &[Value::Null, Value::Integer(2)]),
        Ok(Value::Null)
    );
    assert_eq!(
        call::<Test>(0, &[Value::Integer(1), text("x")]),
        Err("argument 2 must be INTEGER, got TEXT".to_owned())
    );
    assert_eq!(
        call::<Test>(0, &[Value::Integer(1)]),
        Err("expected 2 arguments, got 1".to_owned())
    );
    assert_eq!(call::<Test>(1, &[text("x")]), Err("bad x".to_owned()));
    assert_eq!(
        call::<Test>(2, &[Value::Null, text("x"), Value::Integer(1)]),
        Ok(Value::Integer(3))
    );
    assert!(call::<Test>(3, &[Value::Integer(1)]).is_err());
    assert!(call::<Test>(99, &[]).is_err());
}

#[test]
fn accumulators() {
    assert!(Acc::<Test>::new(Test::ENTRIES, 0).is_err());
    assert!(Acc::<Test>::new(Test::ENTRIES, 99).is_err());

    // Aggregate: NULL rows skipped, batches split into rows.
    let acc = Acc::<Test>::new(Test::ENTRIES, 3).unwrap();
    acc.step_rows(&[Value::Integer(1), Value::Null, Value::Integer(2)], 3)
        .unwrap();
    acc.step_rows(&[], 0).unwrap();
    assert!(acc.step_rows(&[Value::Integer(1)], 2).is_err());
    assert_eq!(acc.current(), Err("not a window function".to_owned()));
    assert!(acc.inverse_rows(&[Value::Integer(1)], 1).is_err());
    assert_eq!(acc.finish_state(), Ok(Value::Integer(3002)));

    // Finalize with no rows stepped.
    let acc = Acc::<Test>::new(Test::ENTRIES, 3).unwrap();
    assert_eq!(acc.finish_state(), Ok(Value::Integer(0)));

    // Window.
    let acc = Acc::<Test>::new(Test::ENTRIES, 4).unwrap();
    acc.step_rows(&[Value::Integer(5), Value::Integer(7)], 2)
        .unwrap();
    assert_eq!(acc.current(), Ok(Value::Integer(12)));
    acc.inverse_rows(&[Value::Integer(5), Value::Null], 2)
        .unwrap();
    assert_eq!(acc.current(), Ok(Value::Integer(7)));
    assert_eq!(
        acc.step_rows(&[text("a")], 1),
        Err("argument 1 must be INTEGER, got TEXT".to_owned())
    );
    assert_eq!(acc.finish_state(), Ok(Value::Integer(7001)));
}

#[test]
fn manifest_order() {
    let specs: Vec<_> = Test::ENTRIES.iter().map(Entry::spec).collect();
    let names: Vec<_> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "plus",
            "fail",
            "count_args",
            "sum_x",
            "sum_x",
            "sum_x",
            "sum_x",
            "half",
            "either",
            "seven",
            "upto",
            "ragged"
        ]
    );
    assert_eq!(specs[3].arity, 1);
}

#[test]
fn declared_types_come_from_the_rust_signature() {
    let specs: Vec<_> = Test::ENTRIES.iter().map(Entry::spec).collect();
    assert_eq!(specs[0].returns, Some(ValueType::Integer));
    assert_eq!(
        specs[0].params,
        Some(vec![ValueType::Integer, ValueType::Integer])
    );
    // `Result<(), String>`: nothing to declare for the result.
    assert_eq!(specs[1].returns, None);
    assert_eq!(specs[1].params, Some(vec![ValueType::Text]));
    // Variadic over `Value`s: nothing declared.
    assert_eq!(specs[2].params, None);
    assert_eq!(specs[2].returns, Some(ValueType::Integer));
    assert_eq!(specs[3].returns, Some(ValueType::Integer));
    assert_eq!(specs[3].params, Some(vec![ValueType::Integer]));
    assert_eq!(specs[7].returns, Some(ValueType::Text));
    assert_eq!(
        specs[7].params,
        Some(vec![ValueType::Real, ValueType::Text])
    );
    assert_eq!(specs[8].returns, None);
    assert_eq!(specs[9].params, None);
    let mergeable: Vec<bool> = specs.iter().map(|s| s.mergeable).collect();
    assert_eq!(
        mergeable,
        [
            false, false, false, false, false, true, true, false, false, false, false, false
        ]
    );
}

#[test]
fn call_columns_runs_each_row_as_call_would() {
    // Rows 0 and 2 valid, row 1 NULL (its stored value is ignored).
    let a = ints(vec![1, 999, 3], Some(vec![0b101]));
    let b = ints(vec![10, 20, 30], None);
    let got = call_columns::<Test>(0, &[a.clone(), b.clone()], 3).unwrap();
    assert_eq!(got, ints(vec![11, 0, 33], Some(vec![0b101])));
    for r in 0..3 {
        let row = [
            crate::columns::ColumnRef::new(&a, 3, 1).unwrap().get(r),
            crate::columns::ColumnRef::new(&b, 3, 2).unwrap().get(r),
        ];
        let one = call::<Test>(0, &row).unwrap();
        let batch = crate::columns::ColumnRef::new(&got, 3, 1).unwrap().get(r);
        assert_eq!(one, batch, "row {r}");
    }

    // TEXT results laid end to end; REAL arguments widened from INTEGER.
    let got = call_columns::<Test>(
        7,
        &[
            Column::Reals(RealColumn {
                data: vec![3.0, 1.0],
                valid: None,
            }),
            texts(&["a=", "é="], None),
        ],
        2,
    )
    .unwrap();
    assert_eq!(got, texts(&["a=1.5", "é=0.5"], None));

    // Mixed classes come back as values; so do all-NULL and empty batches.
    let got = call_columns::<Test>(8, &[ints(vec![2, 3], None)], 2).unwrap();
    assert_eq!(got, Column::Values(vec![Value::Integer(2), text("odd")]));
    let got = call_columns::<Test>(0, &[ints(vec![1], Some(vec![0])), ints(vec![1], None)], 1);
    assert_eq!(got, Ok(Column::Values(vec![Value::Null])));
    assert_eq!(
        call_columns::<Test>(0, &[ints(vec![], None), ints(vec![], None)], 0),
        Ok(Column::Values(vec![]))
    );

    // No arguments: `rows` calls.
    assert_eq!(call_columns::<Test>(9, &[], 2), Ok(ints(vec![7, 7], None)));

    // The first failing row fails the batch with its own message.
    assert_eq!(
        call_columns::<Test>(1, &[texts(&["x", "y"], None)], 2),
        Err("bad x".to_owned())
    );
    let mixed = Column::Values(vec![Value::Integer(1), text("t")]);
    assert_eq!(
        call_columns::<Test>(0, &[mixed, ints(vec![10, 20], None)], 2),
        Err("argument 1 must be INTEGER, got TEXT".to_owned())
    );
    assert_eq!(
        call_columns::<Test>(0, &[ints(vec![1], None)], 1),
        Err("expected 2 arguments, got 1".to_owned())
    );
    assert_eq!(
        call_columns::<Test>(3, &[ints(vec![1], None)], 1),
        call::<Test>(3, &[Value::Integer(1)]).map(|_| ints(vec![], None))
    );
}

#[test]
fn malformed_columns_are_errors_naming_the_column() {
    let cases = [
        (ints(vec![1], None), "column 2: 1 values for 2 rows"),
        (
            ints(vec![1, 2], Some(vec![])),
            "column 2: a validity bitmap of 0 bytes for 2 rows",
        ),
        (
            Column::Texts(TextColumn {
                offsets: vec![0, 2],
                data: "é".to_owned(),
                valid: None,
            }),
            "column 2: 1 values for 2 rows",
        ),
        (
            Column::Texts(TextColumn {
                offsets: vec![0, 1, 2],
                data: "é".to_owned(),
                valid: None,
            }),
            "column 2: offset 1 is inside a character",
        ),
        (
            Column::Blobs(BlobColumn {
                offsets: vec![0, 3, 2],
                data: vec![1, 2],
                valid: None,
            }),
            "column 2: offsets decrease at row 2",
        ),
        (
            Column::Blobs(BlobColumn {
                offsets: vec![0, 1, 5],
                data: vec![1, 2],
                valid: None,
            }),
            "column 2: the last offset is 5 but the data has 2 bytes",
        ),
        (
            Column::Blobs(BlobColumn {
                offsets: vec![],
                data: vec![],
                valid: None,
            }),
            "column 2: no offsets (a column of n rows has n + 1)",
        ),
    ];
    for (bad, message) in cases {
        assert_eq!(
            call_columns::<Test>(2, &[ints(vec![1, 2], None), bad], 2),
            Err(message.to_owned())
        );
    }
}

#[test]
fn step_columns_steps_each_row() {
    let by_rows = Acc::<Test>::new(Test::ENTRIES, 4).unwrap();
    by_rows
        .step_rows(&[Value::Integer(5), Value::Null, Value::Integer(7)], 3)
        .unwrap();
    let by_columns = Acc::<Test>::new(Test::ENTRIES, 4).unwrap();
    by_columns
        .step_columns(&[ints(vec![5, 0, 7], Some(vec![0b101]))], 3)
        .unwrap();
    assert_eq!(by_rows.current(), by_columns.current());
    by_columns
        .inverse_columns(&[ints(vec![5], None)], 1)
        .unwrap();
    assert_eq!(by_columns.current(), Ok(Value::Integer(7)));
    assert_eq!(
        by_columns.step_columns(&[texts(&["a"], None)], 1),
        Err("argument 1 must be INTEGER, got TEXT".to_owned())
    );
    assert_eq!(
        by_columns.step_columns(&[ints(vec![1, 2], None)], 1),
        Err("column 1: 2 values for 1 rows".to_owned())
    );
    assert_eq!(by_columns.finish_state(), Ok(Value::Integer(7001)));
}

#[test]
fn serialize_and_merge() {
    let a = Acc::<Test>::new(Test::ENTRIES, 5).unwrap();
    a.step_rows(&[Value::Integer(1), Value::Integer(2)], 2)
        .unwrap();
    let b = Acc::<Test>::new(Test::ENTRIES, 5).unwrap();
    b.step_rows(&[Value::Integer(10)], 1).unwrap();
    let state = b.serialize_state().unwrap();
    // The serialized accumulator stays usable.
    b.step_rows(&[Value::Integer(100)], 1).unwrap();
    a.merge_state(&state).unwrap();
    assert_eq!(a.finish_state(), Ok(Value::Integer(13003)));
    assert_eq!(b.finish_state(), Ok(Value::Integer(110002)));
    let w = Acc::<Test>::new(Test::ENTRIES, 6).unwrap();
    assert_eq!(w.merge_state(&[1, 2]), Err("bad sum_x state".to_owned()));

    // Not mergeable: both refuse, naming the function.
    let plain = Acc::<Test>::new(Test::ENTRIES, 3).unwrap();
    let refusal = Err("function sum_x is not mergeable".to_owned());
    assert_eq!(plain.serialize_state(), refusal);
    assert_eq!(plain.merge_state(&state), refusal.map(|_: Vec<u8>| ()));
}

/// A parameter type of the user's own: converted by `from_value` alone.
#[derive(Debug, PartialEq)]
struct Even(i64);

impl<'a> FromValue<'a> for Even {
    fn from_value(v: &'a Value) -> Result<Self, Error> {
        match i64::from_value(v)? {
            i if i % 2 == 0 => Ok(Even(i)),
            _ => Err(Error::new("odd")),
        }
    }
}

/// Four rows of every kind of column, with NULLs among them.
fn sample_columns() -> Vec<Column> {
    vec![
        ints(vec![1, 0, -4, 3], Some(vec![0b1101])),
        ints(vec![2, -5, 0, -6], None),
        Column::Reals(RealColumn {
            data: vec![0.5, -2.0, 0.0, 1e300],
            valid: Some(vec![0b1110]),
        }),
        texts(&["", "é", "ab", "x"], Some(vec![0b0111])),
        Column::Blobs(BlobColumn {
            offsets: vec![0, 0, 2, 2, 3],
            data: vec![1, 2, 3],
            valid: Some(vec![0b1011]),
        }),
        Column::Values(vec![
            Value::Integer(2),
            text("t"),
            Value::Null,
            Value::Real(1.5),
        ]),
    ]
}

/// `from_column` reads columns in place; it must agree with `from_value`
/// on the same row made into a value, errors included.
#[test]
fn column_conversions_are_the_value_conversions() {
    use crate::__private::{ColumnRef, arg, column_arg};
    macro_rules! agree {
        ($column:expr, $($ty:ty),*) => {$(
            let c = ColumnRef::new($column, 4, 1).unwrap();
            for row in 0..4 {
                let owned = c.get(row);
                // `from_column` sees a NULL row only if the type takes NULL.
                if <$ty>::ACCEPTS_NULL || !c.is_null(row) {
                    let by_value = <$ty>::from_value(&owned);
                    let by_column = <$ty>::from_column(&c, row);
                    assert_eq!(by_column, by_value, "{} at row {row} of {:?}", stringify!($ty), $column);
                }
                let by_value = arg::<$ty>(&owned, 2);
                let by_column = column_arg::<$ty>(&c, row, 2);
                assert_eq!(by_column, by_value, "{} at row {row} of {:?}", stringify!($ty), $column);
            }
        )*};
    }
    for column in &sample_columns() {
        agree!(
            column,
            i64,
            f64,
            bool,
            &str,
            String,
            &[u8],
            Vec<u8>,
            Value,
            &Value,
            Option<i64>,
            Option<f64>,
            Option<&str>,
            Option<Vec<u8>>,
            Even,
            Option<Even>
        );
    }
}

/// `push_into` writes results in place; it must build the column that the
/// results made into values build.
#[test]
fn result_columns_are_typed_while_the_classes_agree() {
    use crate::__private::{ColumnBuilder, ColumnRef};
    use crate::columns::build;
    macro_rules! same_column {
        ($($results:expr),* $(,)?) => {$({
            let results = $results;
            let values: Vec<Value> = results.clone().into_iter().map(IntoValue::into_value).collect();
            let mut pushed = ColumnBuilder::with_capacity(1);
            for r in results {
                r.push_into(&mut pushed);
            }
            let pushed = pushed.finish();
            let built = build(values.clone());
            assert_eq!(pushed, built, "{values:?}");
            // It reads back as the values, and it is typed exactly when the
            // non-NULL rows have one class.
            let c = ColumnRef::new(&built, values.len(), 1).unwrap();
            let back: Vec<Value> = (0..values.len()).map(|r| c.get(r)).collect();
            assert_eq!(back, values);
            let mut classes: Vec<&str> = values.iter().filter(|v| !v.is_null()).map(Value::type_name).collect();
            classes.dedup();
            assert_eq!(matches!(built, Column::Values(_)), classes.len() != 1, "{values:?}");
            if let Column::Integers(IntegerColumn { valid, .. }) = &built {
                assert_eq!(valid.is_some(), values.iter().any(Value::is_null));
            }
        })*};
    }
    let nine = |i: i64| (i % 3 != 0).then_some(i);
    same_column!(
        Vec::<i64>::new(),
        vec![1i64, -2, 3],
        (0..20).map(nine).collect::<Vec<_>>(),
        // The first NULL after valid rows, inside a byte and past one.
        (1..30).map(nine).collect::<Vec<_>>(),
        (1..20).map(|i| (i != 10).then_some(i)).collect::<Vec<_>>(),
        (1..20)
            .map(|i| (i != 8).then(|| i.to_string()))
            .collect::<Vec<_>>(),
        vec![None, None, Some(1.5f64), None, Some(-0.0)],
        vec![true, false],
        vec![7i32, -7],
        vec![u32::MAX],
        vec![
            Some("é".to_owned()),
            None,
            Some(String::new()),
            Some("ab".to_owned())
        ],
        vec!["x", "", "yz"],
        vec![None, Some(vec![1u8, 2]), Some(vec![])],
        vec![&b"ab"[..], b""],
        vec![[1u8, 2], [3, 4]],
        vec![(), ()],
        vec![None::<i64>, None],
        vec![
            Value::Null,
            Value::Integer(1),
            text("t"),
            Value::Null,
            Value::Real(2.0)
        ],
        vec![Value::Blob(vec![1]), Value::Null, Value::Blob(vec![])],
        vec![
            Value::Null,
            Value::Null,
            Value::Real(1.0),
            Value::Integer(1)
        ],
    );
}

/// A batched scalar gives, row for row, what the row call gives; a
/// failing row fails the batch with the row call's message.
#[test]
fn batched_scalars_are_the_row_calls() {
    let columns = sample_columns();
    // plus(i64, i64), variadic count_args, half(f64, Option<&str>),
    // either(i64) -> Value, fail(&str).
    let pairs = columns
        .iter()
        .flat_map(|a| columns.iter().map(move |b| vec![a.clone(), b.clone()]));
    let singles = columns.iter().map(|a| vec![a.clone()]);
    let cases = pairs
        .map(|args| (0, args))
        .chain(
            columns
                .iter()
                .flat_map(|a| columns.iter().map(move |b| (7, vec![a.clone(), b.clone()]))),
        )
        .chain(singles.clone().map(|args| (8, args)))
        .chain(singles.clone().map(|args| (1, args)))
        .chain(singles.map(|args| (2, args)));
    for (id, args) in cases {
        let refs: Vec<_> = args
            .iter()
            .map(|c| crate::columns::ColumnRef::new(c, 4, 1).unwrap())
            .collect();
        let by_rows: Result<Vec<Value>, String> = (0..4)
            .map(|r| call::<Test>(id, &refs.iter().map(|c| c.get(r)).collect::<Vec<_>>()))
            .collect();
        let batched = call_columns::<Test>(id, &args, 4);
        match (by_rows, batched) {
            (Ok(rows), Ok(column)) => {
                assert_eq!(column, crate::columns::build(rows), "{id} {args:?}")
            }
            (Err(row), Err(batch)) => assert_eq!(batch, row, "{id} {args:?}"),
            (rows, batch) => panic!("{id} {args:?}: rows {rows:?}, batch {batch:?}"),
        }
    }
}

/// Stepping and retracting a batch of columns is stepping and retracting
/// its rows made into values, errors included.
#[test]
fn batched_steps_are_the_row_steps() {
    for column in sample_columns() {
        let values: Vec<Value> = {
            let c = crate::columns::ColumnRef::new(&column, 4, 1).unwrap();
            (0..4).map(|r| c.get(r)).collect()
        };
        let by_rows = Acc::<Test>::new(Test::ENTRIES, 4).unwrap();
        let by_columns = Acc::<Test>::new(Test::ENTRIES, 4).unwrap();
        let stepped = by_rows.step_rows(&values, 4);
        assert_eq!(
            by_columns.step_columns(&[column.clone()], 4),
            stepped,
            "{column:?}"
        );
        assert_eq!(by_columns.current(), by_rows.current(), "{column:?}");
        let retracted = by_rows.inverse_rows(&values, 4);
        assert_eq!(by_columns.inverse_columns(&[column.clone()], 4), retracted);
        assert_eq!(by_columns.current(), by_rows.current(), "{column:?}");
        // A plain aggregate refuses to retract, whichever way.
        let plain = Acc::<Test>::new(Test::ENTRIES, 3).unwrap();
        assert_eq!(
            plain.inverse_columns(&[column.clone()], 4),
            plain.inverse_rows(&values, 4)
        );
    }
}
