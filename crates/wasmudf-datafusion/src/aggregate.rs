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
//!   accumulator in one place. `DISTINCT` drops repeated rows first
//!   (compared in Arrow's row format, as SQLite compares values: `-0.0`
//!   is `0.0`).
//!
//! Either way the guest is stepped in runs of at most 1,024 rows and the
//! byte budget SQLite uses ([`crate::pool::step_batch_bytes`]), each run
//! one crossing under its own deadline, so a group of any size needs no
//! more guest memory at once than in SQLite. The rows a `Replay` buffers
//! and the states shipped between phases count against the query's
//! [`crate::Options::max_query_state_bytes`].
//!
//! An aggregate called with no argument (`count_rows()`) is given one
//! placeholder NULL argument by `planning.rs` (DataFusion's physical
//! aggregates need one), which the accumulators drop.
//!
//! A window function (`OVER`) in DataFusion is this aggregate with
//! `retract_batch` (the guest's `inverse`) and `evaluate` (its `value`); it
//! runs in one partition, so it needs no state.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BinaryArray, Float64Array, ListArray, UInt32Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature};
use wasmudf::{Arity, FunctionKind, Value};

use crate::convert::{self, Lent};
use crate::planning::is_placeholder;
use crate::pool::{Function, Home, Pool, STEP_BATCH_ROWS, Scope, Shared, execution};

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

    /// Whether the call's arguments are only the placeholder of a call
    /// with none (or the function takes none: the SQL planner refused a
    /// call that gives it some).
    fn no_arguments(&self, fields: &[FieldRef]) -> bool {
        self.0.spec().arity == Arity::Exactly(0) || matches!(fields, [only] if is_placeholder(only))
    }

    fn live(&self, args: &AccumulatorArgs, window: bool) -> Result<Box<dyn Accumulator>> {
        let f = &self.0;
        let home = f.scope.home(&f.shared);
        let acc = home.lock().accumulator(f.index).map_err(execution)?;
        home.arrived();
        Ok(Box::new(Live {
            shared: f.shared.clone(),
            scope: f.scope.clone(),
            home,
            acc: Some(acc),
            index: f.index,
            name: f.name.clone(),
            ret: args.return_field.data_type().clone(),
            window,
            no_arguments: self.no_arguments(args.expr_fields),
        }))
    }

    fn replay(&self, args: &AccumulatorArgs) -> Box<dyn Accumulator> {
        let f = &self.0;
        Box::new(Replay {
            shared: f.shared.clone(),
            scope: f.scope.clone(),
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
            no_arguments: self.no_arguments(args.expr_fields),
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

    fn return_field(&self, arg_fields: &[FieldRef]) -> Result<FieldRef> {
        // A call with no argument is typed as one, not as one NULL.
        let types: Vec<DataType> = if self.no_arguments(arg_fields) {
            Vec::new()
        } else {
            arg_fields.iter().map(|f| f.data_type().clone()).collect()
        };
        let ty = self.0.return_type(&types)?;
        Ok(Arc::new(Field::new(self.name(), ty, self.is_nullable())))
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

/// The instance an accumulator lives in: a home, locked for one run at a
/// time (so the other partitions' accumulators there take turns), or an
/// instance leased for the whole replay.
enum On<'a> {
    Home(&'a Home),
    Instance(&'a mut wasmudf::Instance),
}

impl On<'_> {
    fn run<R>(&mut self, f: impl FnOnce(&mut wasmudf::Instance) -> R) -> R {
        match self {
            On::Home(home) => f(&mut home.lock()),
            On::Instance(instance) => f(instance),
        }
    }
}

/// Steps `rows` rows of `arrays` into `acc` in runs under SQLite's row and
/// byte budget, one crossing each.
fn step_runs(
    shared: &Shared,
    mut on: On<'_>,
    acc: &wasmudf::Accumulator,
    arrays: &[ArrayRef],
    rows: usize,
    inverse: bool,
) -> Result<()> {
    for run in convert::chunks(arrays, rows, STEP_BATCH_ROWS, shared.batch_bytes) {
        let part = convert::slice(arrays, &run);
        let mut lent = Lent::default();
        let columns = lent.lend(&part)?;
        let stepped = on.run(|inst| {
            if inverse {
                inst.inverse(acc, &columns, run.len())
            } else {
                inst.step(acc, &columns, run.len())
            }
        });
        stepped.map_err(execution)?;
    }
    Ok(())
}

/// A guest accumulator in a home of its query.
#[derive(Debug)]
struct Live {
    shared: Arc<Shared>,
    scope: Arc<Scope>,
    /// Its instance holds the component, so the engine lives as long.
    home: Arc<Home>,
    acc: Option<wasmudf::Accumulator>,
    index: usize,
    name: String,
    ret: DataType,
    window: bool,
    no_arguments: bool,
}

impl Live {
    fn acc(&self) -> Result<&wasmudf::Accumulator> {
        self.acc
            .as_ref()
            .ok_or_else(|| DataFusionError::Execution(format!("{}: accumulator gone", self.name)))
    }

    fn apply(&mut self, values: &[ArrayRef], inverse: bool) -> Result<()> {
        let rows = values.first().map_or(0, |a| a.len());
        let args = if self.no_arguments { &[] } else { values };
        let acc = self.acc()?;
        step_runs(&self.shared, On::Home(&self.home), acc, args, rows, inverse)
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
        let value = if self.window {
            self.home.lock().value(acc).map_err(execution)?
        } else {
            // `finish` would consume the state, and DataFusion may evaluate
            // again (a running aggregate over a growing window frame): a
            // copy of it is finished instead, in an instance leased for it
            // alone. Not in the home: the bindings componentize-js 0.23
            // generates delete, at `finish`, the table entry at the
            // *handle's index* rather than the finished accumulator's, so
            // finishing out of creation order among a home's live
            // accumulators (DataFusion evaluates one aggregate's groups,
            // then the next's) broke another one, and its next call
            // aborted the guest. A leased instance holds one accumulator
            // at a time, so that delete can only hit the finished one or
            // one already gone.
            let state = self.home.lock().serialize(acc).map_err(execution)?;
            let mut inst = self.shared.lease();
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
        // Shipped to the final phase; counted until the query ends.
        self.scope
            .hold(&self.shared, &self.name, bytes.len(), Pool::Reserve)?;
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
        for state in states.iter().flatten() {
            self.home.lock().merge(acc, state).map_err(execution)?;
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
    scope: Arc<Scope>,
    index: usize,
    name: String,
    ret: DataType,
    types: Vec<DataType>,
    /// Argument arrays, a batch at a time, with the bytes each holds (by
    /// `convert::logical_size`); rows before `front` of the first batch
    /// were retracted.
    batches: VecDeque<(Vec<ArrayRef>, usize)>,
    front: usize,
    distinct: bool,
    /// The bytes `batches` holds, counted in `scope`.
    bytes: usize,
    no_arguments: bool,
}

impl Replay {
    fn push(&mut self, values: Vec<ArrayRef>) -> Result<()> {
        if values.first().is_none_or(|a| a.is_empty()) {
            return Ok(());
        }
        let size = values.iter().map(|a| convert::logical_size(a)).sum();
        self.scope
            .hold(&self.shared, &self.name, size, Pool::Skip)?;
        self.bytes += size;
        self.batches.push_back((values, size));
        Ok(())
    }

    /// The buffered batches, the retracted rows sliced off.
    fn current(&self) -> impl Iterator<Item = Vec<ArrayRef>> + '_ {
        self.batches.iter().enumerate().map(|(i, (batch, _))| {
            let skip = if i == 0 { self.front } else { 0 };
            batch
                .iter()
                .map(|a| a.slice(skip, a.len() - skip))
                .collect()
        })
    }

    /// Each distinct row of `batches` once, in first-seen order, and the
    /// bytes used to find them.
    fn distinct_rows(&self, batches: &[Vec<ArrayRef>]) -> Result<(Vec<Vec<ArrayRef>>, usize)> {
        let converter = RowConverter::new(
            self.types
                .iter()
                .map(|t| SortField::new(t.clone()))
                .collect(),
        )?;
        let keys = batches
            .iter()
            .map(|b| {
                converter
                    .convert_columns(&comparable(b)?)
                    .map_err(Into::into)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut used: usize = keys.iter().map(|k| k.size()).sum();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (batch, rows) in batches.iter().zip(&keys) {
            let keep: Vec<u32> = (0..rows.num_rows())
                .filter(|&i| seen.insert(rows.row(i)))
                .filter_map(|i| u32::try_from(i).ok())
                .collect();
            if keep.is_empty() {
                continue;
            }
            let keep = UInt32Array::from(keep);
            let taken = batch
                .iter()
                .map(|a| take(a.as_ref(), &keep, None))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            used += taken
                .iter()
                .map(|a| convert::logical_size(a))
                .sum::<usize>();
            out.push(taken);
        }
        used += seen.capacity() * std::mem::size_of::<usize>() * 3;
        Ok((out, used))
    }

    /// Steps `batches` through a fresh accumulator on a leased instance.
    fn step_all(&self, batches: &[Vec<ArrayRef>]) -> Result<Value> {
        let mut inst = self.shared.lease();
        let acc = inst.accumulator(self.index).map_err(execution)?;
        let stepped = (|| -> Result<()> {
            for batch in batches {
                let rows = batch.first().map_or(0, |a| a.len());
                let args: &[ArrayRef] = if self.no_arguments { &[] } else { batch };
                step_runs(
                    &self.shared,
                    On::Instance(&mut inst),
                    &acc,
                    args,
                    rows,
                    false,
                )?;
            }
            Ok(())
        })();
        match stepped {
            Ok(()) => inst.finish(acc).map_err(execution),
            Err(e) => {
                inst.release(acc);
                Err(e)
            }
        }
    }
}

/// `batch` with every REAL `-0.0` made `0.0`, for comparing rows as SQLite
/// does.
fn comparable(batch: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
    batch
        .iter()
        .map(|a| {
            Ok(match a.as_any().downcast_ref::<Float64Array>() {
                Some(reals) => {
                    let zeroed: Float64Array =
                        reals.unary::<_, Float64Type>(|x| if x == 0.0 { 0.0 } else { x });
                    Arc::new(zeroed) as ArrayRef
                }
                None => a.clone(),
            })
        })
        .collect()
}

impl Accumulator for Replay {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.push(values.to_vec())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        // Rows leave a frame oldest first.
        let mut n = values.first().map_or(0, |a| a.len());
        while n > 0 {
            let Some((first, _)) = self.batches.front() else {
                break;
            };
            let left = first.first().map_or(0, |a| a.len()) - self.front;
            if n < left {
                self.front += n;
                break;
            }
            n -= left;
            self.front = 0;
            if let Some((_, size)) = self.batches.pop_front() {
                self.bytes -= size;
                self.scope.release(size, Pool::Skip);
            }
        }
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let batches: Vec<Vec<ArrayRef>> = self.current().collect();
        let value = if self.distinct {
            let (rows, used) = self.distinct_rows(&batches)?;
            self.scope
                .hold(&self.shared, &self.name, used, Pool::Reserve)?;
            let value = self.step_all(&rows);
            self.scope.release(used, Pool::Reserve);
            value?
        } else {
            self.step_all(&batches)?
        };
        convert::to_scalar(&self.name, value, &self.ret)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.bytes
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let batches: Vec<Vec<ArrayRef>> = self.current().collect();
        let lists = self
            .types
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
                Ok(ListArray::try_new(
                    field,
                    OffsetBuffer::from_lengths([values.len()]),
                    values,
                    None,
                )?)
            })
            .collect::<Result<Vec<_>>>()?;
        // Shipped to the final phase; counted until the query ends.
        let size = lists
            .iter()
            .map(|l| convert::logical_size(l.values()))
            .sum();
        self.scope
            .hold(&self.shared, &self.name, size, Pool::Reserve)?;
        Ok(lists
            .into_iter()
            .map(|l| ScalarValue::List(Arc::new(l)))
            .collect())
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
            self.push(lists.iter().map(|l| l.value(j)).collect())?;
        }
        Ok(())
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.scope.release(self.bytes, Pool::Skip);
    }
}
