//! Owned rows and owned parameters: what crosses between the async caller
//! and the blocking thread that steps the statement.

use std::sync::Arc;

use rusqlite::ToSql;
use rusqlite::types::{FromSql, ToSqlOutput, Value, ValueRef};

/// One result row, owned, with its column names.
///
/// # Examples
///
/// ```no_run
/// # async fn f(db: wasmudf::Database) -> wasmudf::Result<()> {
/// let row = db.query_row("SELECT 1 AS one, 'a' AS letter", ()).await?;
/// let one: i64 = row.get(0)?;
/// let letter: String = row.get_by_name("letter")?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// Copies the current row of a statement whose column names are
    /// `columns`.
    pub(crate) fn read(columns: &Arc<[String]>, row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        let values = (0..columns.len())
            .map(|i| row.get_ref(i).map(crate::value::to_owned_lossy))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Row {
            columns: columns.clone(),
            values,
        })
    }

    /// The value at column `idx`, converted with [`FromSql`].
    ///
    /// # Errors
    ///
    /// [`rusqlite::Error::InvalidColumnIndex`] for a bad index, or the
    /// conversion's error.
    pub fn get<T: FromSql>(&self, idx: usize) -> rusqlite::Result<T> {
        let value = self
            .values
            .get(idx)
            .ok_or(rusqlite::Error::InvalidColumnIndex(idx))?;
        T::column_result(ValueRef::from(value)).map_err(|e| match e {
            rusqlite::types::FromSqlError::InvalidType => rusqlite::Error::InvalidColumnType(
                idx,
                self.columns[idx].clone(),
                ValueRef::from(value).data_type(),
            ),
            other => rusqlite::Error::FromSqlConversionFailure(
                idx,
                ValueRef::from(value).data_type(),
                Box::new(other),
            ),
        })
    }

    /// The value of the column named `name` (the first, if several share
    /// it), converted with [`FromSql`].
    ///
    /// # Errors
    ///
    /// [`rusqlite::Error::InvalidColumnName`], or the conversion's error.
    pub fn get_by_name<T: FromSql>(&self, name: &str) -> rusqlite::Result<T> {
        let idx = self
            .columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| rusqlite::Error::InvalidColumnName(name.to_string()))?;
        self.get(idx)
    }

    /// The column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The values, in column order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// The values, in column order, by value.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
}

/// Statement parameters, converted to owned values when a query is made so
/// that the query's future is `Send + 'static`.
///
/// Implemented for `()`, arrays, slices and vectors of [`ToSql`] values
/// (including `rusqlite::params![...]`), and tuples of up to six.
pub trait ToParams {
    /// Converts the parameters.
    ///
    /// # Errors
    ///
    /// A parameter's own [`ToSql`] error.
    fn to_params(self) -> rusqlite::Result<Vec<Value>>;
}

fn owned(param: &dyn ToSql) -> rusqlite::Result<Value> {
    Ok(match param.to_sql()? {
        ToSqlOutput::Borrowed(v) => crate::value::to_owned_lossy(v),
        ToSqlOutput::Owned(v) => v,
        other => {
            return Err(rusqlite::Error::ToSqlConversionFailure(
                format!("unsupported parameter kind {other:?}").into(),
            ));
        }
    })
}

impl ToParams for () {
    fn to_params(self) -> rusqlite::Result<Vec<Value>> {
        Ok(Vec::new())
    }
}

impl<T: ToSql> ToParams for &[T] {
    fn to_params(self) -> rusqlite::Result<Vec<Value>> {
        self.iter().map(|p| owned(p)).collect()
    }
}

impl<T: ToSql> ToParams for Vec<T> {
    fn to_params(self) -> rusqlite::Result<Vec<Value>> {
        self.as_slice().to_params()
    }
}

impl<T: ToSql, const N: usize> ToParams for [T; N] {
    fn to_params(self) -> rusqlite::Result<Vec<Value>> {
        self.as_slice().to_params()
    }
}

impl<T: ToSql, const N: usize> ToParams for &[T; N] {
    fn to_params(self) -> rusqlite::Result<Vec<Value>> {
        self.as_slice().to_params()
    }
}

macro_rules! tuple_params {
    ($($name:ident),+) => {
        impl<$($name: ToSql),+> ToParams for ($($name,)+) {
            #[allow(non_snake_case)]
            fn to_params(self) -> rusqlite::Result<Vec<Value>> {
                let ($($name,)+) = self;
                Ok(vec![$(owned(&$name)?),+])
            }
        }
    };
}
tuple_params!(A);
tuple_params!(A, B);
tuple_params!(A, B, C);
tuple_params!(A, B, C, D);
tuple_params!(A, B, C, D, E);
tuple_params!(A, B, C, D, E, F);
