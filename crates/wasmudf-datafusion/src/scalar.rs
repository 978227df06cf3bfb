//! A component's scalar function as a DataFusion `ScalarUDF`: one guest
//! call (`call-columns`) per record batch.

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature};

use crate::convert;
use crate::pool::Function;

/// Scalar function `index` of a component.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct WasmScalar(pub(crate) Function);

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
        let rows = args.number_rows;
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<_>>()?;
        let mut lent = convert::Lent::default();
        let columns = lent.lend(&arrays)?;
        let f = &self.0;
        let column = f
            .shared
            .with_instance(|inst| inst.call_columns(f.index, &columns, rows))?;
        let array = convert::to_array(&f.name, column, args.return_type())?;
        Ok(ColumnarValue::Array(array))
    }
}
