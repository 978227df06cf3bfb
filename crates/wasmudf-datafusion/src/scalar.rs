//! A component's scalar function as a DataFusion `ScalarUDF`: a record
//! batch crosses into the guest (`call-columns`) in runs of at most 1,024
//! rows and SQLite's byte budget, so the guest never holds more of a batch
//! at once than SQLite's batched aggregates hand it, and each run has a
//! deadline of its own.

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::concat;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature};

use crate::convert::{self, Lent};
use crate::pool::{Function, STEP_BATCH_ROWS, execution};

/// Scalar function `index` of a component.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct WasmScalar(pub(crate) Function);

impl WasmScalar {
    /// The results of `rows` rows of `arrays`, run by run on one leased
    /// instance.
    fn call(&self, arrays: &[ArrayRef], rows: usize, ty: &DataType) -> Result<ArrayRef> {
        let f = &self.0;
        let runs = convert::chunks(arrays, rows, STEP_BATCH_ROWS, f.shared.batch_bytes);
        let mut inst = f.shared.lease();
        let mut parts = Vec::with_capacity(runs.len());
        for run in &runs {
            let part = convert::slice(arrays, run);
            let mut lent = Lent::default();
            let columns = lent.lend(&part)?;
            let column = inst
                .call_columns(f.index, &columns, run.len())
                .map_err(execution)?;
            parts.push(convert::to_array(&f.name, column, ty)?);
        }
        drop(inst);
        match parts.as_slice() {
            [] => convert::from_values(&f.name, &[], ty),
            [one] => Ok(one.clone()),
            many => {
                let refs: Vec<&dyn datafusion::arrow::array::Array> =
                    many.iter().map(|a| a.as_ref()).collect();
                Ok(concat(&refs)?)
            }
        }
    }
}

impl ScalarUDFImpl for WasmScalar {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn signature(&self) -> &Signature {
        &self.0.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.0.coerce_types(arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.0.return_type(arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ty = args.return_type().clone();
        // A deterministic function of literals answers the same on every
        // row: one call per batch (DataFusion would fold it while planning
        // if the function were not `Volatile`; see `pool::Function::new`).
        let constant = !args.args.is_empty()
            && args.number_rows > 0
            && self.0.spec().flags.deterministic
            && args
                .args
                .iter()
                .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if constant { 1 } else { args.number_rows };
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<_>>()?;
        let array = self.call(&arrays, rows, &ty)?;
        if constant {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &array, 0,
            )?));
        }
        Ok(ColumnarValue::Array(array))
    }
}
