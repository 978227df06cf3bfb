//! A component's aggregate or window function as a DataFusion
//! `AggregateUDF`.
//!
//! DataFusion always aggregates in two phases (partial accumulators per
//! partition, their states shipped and merged), so a guest's opaque state
//! has to cross between accumulators. Two ways:
//!
//! - **Merge** (the manifest says `mergeable`): the guest accumulator lives
//!   in a shared instance; `state()` is its `serialize` and `merge_batch`
//!   its `merge`.
//! - **Replay** (anything else, and every `DISTINCT`): the partial
//!   accumulator only buffers its rows (Arrow arrays, not copied); its
//!   state is those rows, and `evaluate` steps them through a fresh guest
//!   accumulator in one place. `DISTINCT` drops repeated rows first.
//!
//! A window function (`OVER`) in DataFusion is this aggregate with
//! `retract_batch` (the guest's `inverse`) and `evaluate` (its `value`); it
//! runs in one partition, so it needs no state.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BinaryArray, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature};
use wasmudf::{ColumnRef, FunctionKind, Value};

use crate::convert;
use crate::pool::{Function, Home, Shared, execution};

/// Aggregate or window function `index` of a component.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct WasmAggregate(pub(crate) Function);

impl WasmAggregate {
    /// Whether partial states are the guest's own (`serialize`/`merge`)
    /// rather than buffered rows.
    fn merges(&self, distinct: bool) -> bool {
        self.0.spec().mergeable && !distinct
    }

    fn is_window(&self) -> bool {
        self.0.spec().kind == FunctionKind::Window
    }

    fn live(&self, args: &AccumulatorArgs, window: bool) -> Result<Box<dyn Accumulator>> {
        let f = &self.0;
        let home = f.shared.home();
        let acc = home.lock().accumulator(f.index).map_err(execution)?;
        home.arrived();
        Ok(Box::new(Live {
            home,
            acc: Some(acc),
            index: f.index,
            name: f.name.clone(),
            ret: args.return_field.data_type().clone(),
            window,
        }))
    }

    fn replay(&self, args: &AccumulatorArgs) -> Box<dyn Accumulator> {
        let f = &self.0;
        Box::new(Replay {
            shared: f.shared.clone(),
            index: f.index,
            name: f.name.clone(),
            ret: args.return_field.data_type().clone(),
            types: args
                .expr_fields
                .iter()
                .map(|f| f.data_type().clone())
                .collect(),
            batches: VecDeque::new(),
            front: 0,
            distinct: args.is_distinct,
            bytes: 0,
        })
    }
}

impl AggregateUDFImpl for WasmAggregate {
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

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if self.merges(args.is_distinct) {
            self.live(&args, false)
        } else {
            Ok(self.replay(&args))
        }
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if self.is_window() && !args.is_distinct {
            self.live(&args, true)
        } else {
            Ok(self.replay(&args))
        }
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        if self.merges(args.is_distinct) {
            let state = Field::new(
                format_state_name(args.name, "state"),
                DataType::Binary,
                true,
            );
            return Ok(vec![Arc::new(state)]);
        }
        Ok(args
            .input_fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let rows =
                    DataType::List(Arc::new(Field::new_list_field(f.data_type().clone(), true)));
                Arc::new(Field::new(
                    format_state_name(args.name, &format!("rows{i}")),
                    rows,
                    true,
                ))
            })
            .collect())
    }
}

/// A guest accumulator in a shared instance.
#[derive(Debug)]
struct Live {
    /// Its instance holds the component, so the engine lives as long.
    home: Arc<Home>,
    acc: Option<wasmudf::Accumulator>,
    index: usize,
    name: String,
    ret: DataType,
    window: bool,
}

impl Live {
    fn acc(&self) -> Result<&wasmudf::Accumulator> {
        self.acc
            .as_ref()
            .ok_or_else(|| DataFusionError::Execution(format!("{}: accumulator gone", self.name)))
    }

    fn apply(&mut self, values: &[ArrayRef], inverse: bool) -> Result<()> {
        let rows = values.first().map_or(0, |a| a.len());
        let mut lent = convert::Lent::default();
        let columns = lent.lend(values)?;
        let acc = self.acc()?;
        let mut inst = self.home.lock();
        let result = if inverse {
            inst.inverse(acc, &columns, rows)
        } else {
            inst.step(acc, &columns, rows)
        };
        result.map_err(execution)
    }
}

impl Accumulator for Live {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.apply(values, false)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.apply(values, true)
    }

    fn supports_retract_batch(&self) -> bool {
        self.window
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let acc = self.acc()?;
        let mut inst = self.home.lock();
        let value = if self.window {
            inst.value(acc).map_err(execution)?
        } else {
            // `finish` would consume the state, and DataFusion may evaluate
            // again (a running aggregate over a growing window frame): a
            // copy of it is finished instead.
            let state = inst.serialize(acc).map_err(execution)?;
            let copy = inst.accumulator(self.index).map_err(execution)?;
            if let Err(e) = inst.merge(&copy, &state) {
                inst.release(copy);
                return Err(execution(e));
            }
            inst.finish(copy).map_err(execution)?
        };
        convert::to_scalar(&self.name, value, &self.ret)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let acc = self.acc()?;
        let bytes = self.home.lock().serialize(acc).map_err(execution)?;
        Ok(vec![ScalarValue::Binary(Some(bytes))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(states) = states.first() else {
            return Ok(());
        };
        let states = states
            .as_any()
            .downcast_ref::<BinaryArray>()
            .ok_or_else(|| DataFusionError::Internal("state is not Binary".into()))?;
        let acc = self.acc()?;
        let mut inst = self.home.lock();
        for state in states.iter().flatten() {
            inst.merge(acc, state).map_err(execution)?;
        }
        Ok(())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(acc) = self.acc.take() {
            self.home.lock().release(acc);
            self.home.left();
        }
    }
}

/// Buffered rows, stepped through a fresh guest accumulator on `evaluate`.
#[derive(Debug)]
struct Replay {
    shared: Arc<Shared>,
    index: usize,
    name: String,
    ret: DataType,
    types: Vec<DataType>,
    /// Argument arrays, a batch at a time; rows before `front` of the first
    /// batch were retracted.
    batches: VecDeque<Vec<ArrayRef>>,
    front: usize,
    distinct: bool,
    bytes: usize,
}

impl Replay {
    fn push(&mut self, values: Vec<ArrayRef>) {
        if values.first().is_some_and(|a| !a.is_empty()) {
            self.bytes += values
                .iter()
                .map(|a| a.get_array_memory_size())
                .sum::<usize>();
            self.batches.push_back(values);
        }
    }

    /// The buffered batches, the retracted rows sliced off.
    fn current(&self) -> impl Iterator<Item = Vec<ArrayRef>> + '_ {
        self.batches.iter().enumerate().map(|(i, batch)| {
            let skip = if i == 0 { self.front } else { 0 };
            batch
                .iter()
                .map(|a| a.slice(skip, a.len() - skip))
                .collect()
        })
    }

    /// Each distinct row once, in first-seen order, as value columns.
    fn distinct_rows(&self) -> Result<Vec<Vec<Value>>> {
        let width = self.types.len();
        let mut seen = HashSet::new();
        let mut columns: Vec<Vec<Value>> = vec![Vec::new(); width];
        for batch in self.current() {
            let rows = batch.first().map_or(0, |a| a.len());
            for r in 0..rows {
                let key = batch
                    .iter()
                    .map(|a| ScalarValue::try_from_array(a, r))
                    .collect::<Result<Vec<_>>>()?;
                if seen.contains(&key) {
                    continue;
                }
                for (column, scalar) in columns.iter_mut().zip(&key) {
                    column.push(to_value(scalar)?);
                }
                seen.insert(key);
            }
        }
        Ok(columns)
    }
}

/// A buffered scalar (of a coerced type) as a guest value.
fn to_value(s: &ScalarValue) -> Result<Value> {
    Ok(match s {
        s if s.is_null() => Value::Null,
        ScalarValue::Int64(Some(i)) => Value::Integer(*i),
        ScalarValue::Float64(Some(r)) => Value::Real(*r),
        ScalarValue::Utf8(Some(t)) => Value::Text(t.clone()),
        ScalarValue::Binary(Some(b)) => Value::Blob(b.clone()),
        other => return exec_err!("internal: a {} argument reached a guest", other.data_type()),
    })
}

impl Accumulator for Replay {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.push(values.to_vec());
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        // Rows leave a frame oldest first.
        let mut n = values.first().map_or(0, |a| a.len());
        while n > 0 {
            let Some(first) = self.batches.front() else {
                break;
            };
            let left = first.first().map_or(0, |a| a.len()) - self.front;
            if n < left {
                self.front += n;
                break;
            }
            n -= left;
            self.front = 0;
            if let Some(gone) = self.batches.pop_front() {
                self.bytes -= gone
                    .iter()
                    .map(|a| a.get_array_memory_size())
                    .sum::<usize>();
            }
        }
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let distinct = if self.distinct {
            Some(self.distinct_rows()?)
        } else {
            None
        };
        let index = self.index;
        let batches: Vec<Vec<ArrayRef>> = self.current().collect();
        // Lent before an instance is leased: a refusal here is DataFusion's
        // error, not a guest call's.
        let mut lents: Vec<convert::Lent> = batches.iter().map(|_| Default::default()).collect();
        let lent = lents
            .iter_mut()
            .zip(&batches)
            .map(|(l, batch)| Ok((l.lend(batch)?, batch.first().map_or(0, |a| a.len()))))
            .collect::<Result<Vec<_>>>()?;
        let value = self.shared.with_instance(|inst| {
            let acc = inst.accumulator(index)?;
            let stepped = match &distinct {
                Some(columns) => {
                    let refs: Vec<ColumnRef<'_>> =
                        columns.iter().map(|c| ColumnRef::Values(c)).collect();
                    let rows = columns.first().map_or(0, Vec::len);
                    inst.step(&acc, &refs, rows)
                }
                None => lent
                    .iter()
                    .try_for_each(|(columns, rows)| inst.step(&acc, columns, *rows)),
            };
            match stepped {
                Ok(()) => inst.finish(acc),
                Err(e) => {
                    inst.release(acc);
                    Err(e)
                }
            }
        })?;
        convert::to_scalar(&self.name, value, &self.ret)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.bytes
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let batches: Vec<Vec<ArrayRef>> = self.current().collect();
        self.types
            .iter()
            .enumerate()
            .map(|(i, ty)| {
                let parts: Vec<&dyn Array> = batches.iter().map(|b| b[i].as_ref()).collect();
                let values = if parts.is_empty() {
                    datafusion::arrow::array::new_empty_array(ty)
                } else {
                    datafusion::arrow::compute::concat(&parts)?
                };
                let field = Arc::new(Field::new_list_field(ty.clone(), true));
                let list = ListArray::try_new(
                    field,
                    OffsetBuffer::from_lengths([values.len()]),
                    values,
                    None,
                )?;
                Ok(ScalarValue::List(Arc::new(list)))
            })
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states
            .iter()
            .map(|s| {
                s.as_any()
                    .downcast_ref::<ListArray>()
                    .ok_or_else(|| DataFusionError::Internal("state is not a List".into()))
            })
            .collect::<Result<Vec<_>>>()?;
        let partials = lists.first().map_or(0, |l| l.len());
        for j in 0..partials {
            self.push(lists.iter().map(|l| l.value(j)).collect());
        }
        Ok(())
    }
}
