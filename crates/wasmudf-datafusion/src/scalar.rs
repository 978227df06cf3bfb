//! A component's scalar function as a DataFusion `ScalarUDF`: one guest
//! call (`call-columns`) per record batch.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::convert;
use crate::pool::Shared;

/// Scalar function `index` of a component.
#[derive(Debug)]
pub(crate) struct WasmScalar {
    shared: Arc<Shared>,
    index: usize,
    name: String,
    signature: Signature,
}

impl WasmScalar {
    /// `name` is the SQL name as DataFusion looks it up.
    pub(crate) fn new(shared: Arc<Shared>, index: usize, name: String) -> WasmScalar {
        let spec = shared.spec(index);
        let volatility = if spec.flags.deterministic {
            Volatility::Immutable
        } else {
            Volatility::Volatile
        };
        WasmScalar {
            name,
            signature: Signature::user_defined(volatility),
            shared,
            index,
        }
    }
}

/// Two copies of one component (decoded apart, loaded twice) are the same
/// function: equality is the component's content and the manifest index.
impl PartialEq for WasmScalar {
    fn eq(&self, other: &Self) -> bool {
        self.shared.sha256 == other.shared.sha256 && self.index == other.index
    }
}

impl Eq for WasmScalar {}

impl Hash for WasmScalar {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.shared.sha256.hash(state);
        self.index.hash(state);
    }
}

impl ScalarUDFImpl for WasmScalar {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        convert::coerce(self.shared.spec(self.index), arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        convert::return_type(self.shared.spec(self.index), arg_types)
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
        let column = self
            .shared
            .with_instance(|inst| inst.call_columns(self.index, &columns, rows))?;
        let array = convert::to_array(&self.name, column, args.return_type())?;
        Ok(ColumnarValue::Array(array))
    }
}
