//! Unit tests of the conversions and the dispatch, on the host.

use crate::__private::{Acc, Component, Entry, aggregate_entry, call, window_entry};
use crate::{Aggregate, Error, Flags, FromArgs, FromValue, IntoValue, Value, Window};

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

struct Test;

impl Component for Test {
    const ENTRIES: &'static [Entry] = &[
        Entry::Scalar(add::DEF),
        Entry::Scalar(fail::DEF),
        Entry::Scalar(count_args::DEF),
        aggregate_entry::<Sum>(),
        window_entry::<Sum>(),
    ];
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
    assert_eq!(names, ["plus", "fail", "count_args", "sum_x", "sum_x"]);
    assert_eq!(specs[3].arity, 1);
}
