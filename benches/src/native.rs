//! Native rusqlite implementations of the benchmark guest's functions, for
//! the "native closure" column. Same names with a `_native` suffix.

use rusqlite::Connection;
use rusqlite::functions::{Aggregate, Context, FunctionFlags, WindowAggregate};

const FLAGS: FunctionFlags = FunctionFlags::SQLITE_UTF8.union(FunctionFlags::SQLITE_DETERMINISTIC);

/// `sum_i_native(x)`: wrapping sum of integers.
struct SumI;

impl Aggregate<i64, i64> for SumI {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<i64> {
        Ok(0)
    }
    fn step(&self, ctx: &mut Context<'_>, acc: &mut i64) -> rusqlite::Result<()> {
        *acc = acc.wrapping_add(ctx.get::<i64>(0)?);
        Ok(())
    }
    fn finalize(&self, _: &mut Context<'_>, acc: Option<i64>) -> rusqlite::Result<i64> {
        Ok(acc.unwrap_or(0))
    }
}

/// `median_native(x)`: REAL median of the values.
struct Median;

impl Aggregate<Vec<f64>, Option<f64>> for Median {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<Vec<f64>> {
        Ok(Vec::new())
    }
    fn step(&self, ctx: &mut Context<'_>, acc: &mut Vec<f64>) -> rusqlite::Result<()> {
        acc.push(ctx.get::<f64>(0)?);
        Ok(())
    }
    fn finalize(
        &self,
        _: &mut Context<'_>,
        acc: Option<Vec<f64>>,
    ) -> rusqlite::Result<Option<f64>> {
        let Some(mut v) = acc.filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        v.sort_by(f64::total_cmp);
        let n = v.len();
        Ok(Some(if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }))
    }
}

/// `sumsq_native(x)`: window-capable sum of squares of integers.
struct SumSq;

impl Aggregate<i64, i64> for SumSq {
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<i64> {
        Ok(0)
    }
    fn step(&self, ctx: &mut Context<'_>, acc: &mut i64) -> rusqlite::Result<()> {
        let x = ctx.get::<i64>(0)?;
        *acc = acc.wrapping_add(x.wrapping_mul(x));
        Ok(())
    }
    fn finalize(&self, _: &mut Context<'_>, acc: Option<i64>) -> rusqlite::Result<i64> {
        Ok(acc.unwrap_or(0))
    }
}

impl WindowAggregate<i64, i64> for SumSq {
    fn value(&self, acc: Option<&mut i64>) -> rusqlite::Result<i64> {
        Ok(acc.map_or(0, |a| *a))
    }
    fn inverse(&self, ctx: &mut Context<'_>, acc: &mut i64) -> rusqlite::Result<()> {
        let x = ctx.get::<i64>(0)?;
        *acc = acc.wrapping_sub(x.wrapping_mul(x));
        Ok(())
    }
}

/// Registers every native twin on `conn`.
///
/// # Errors
///
/// SQLite's, if a registration fails.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function("add1_native", 1, FLAGS, |ctx| {
        Ok(ctx.get::<i64>(0)?.wrapping_add(1))
    })?;
    conn.create_scalar_function("addf_native", 1, FLAGS, |ctx| Ok(ctx.get::<f64>(0)? + 1.0))?;
    conn.create_scalar_function("identity_native", 1, FLAGS, |ctx| {
        use rusqlite::types::{Value, ValueRef};
        Ok(match ctx.get_raw(0) {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        })
    })?;
    conn.create_scalar_function("upper_ascii_native", 1, FLAGS, |ctx| {
        let s = ctx
            .get_raw(0)
            .as_str()
            .map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?;
        Ok(s.to_ascii_uppercase())
    })?;
    conn.create_scalar_function("blob_rev_native", 1, FLAGS, |ctx| {
        let b = ctx
            .get_raw(0)
            .as_blob()
            .map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?;
        Ok(b.iter().rev().copied().collect::<Vec<u8>>())
    })?;
    conn.create_scalar_function("add3_native", 3, FLAGS, |ctx| {
        Ok(ctx
            .get::<i64>(0)?
            .wrapping_add(ctx.get::<i64>(1)?)
            .wrapping_add(ctx.get::<i64>(2)?))
    })?;
    conn.create_aggregate_function("sum_i_native", 1, FLAGS, SumI)?;
    conn.create_aggregate_function("median_native", 1, FLAGS, Median)?;
    conn.create_window_function("sumsq_native", 1, FLAGS, SumSq)?;
    Ok(())
}
