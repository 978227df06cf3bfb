//! The plan codecs that carry wasmudf functions between Ballista's roles.
//!
//! DataFusion's protobuf plans name a UDF and leave a `fun_definition`
//! blob to the extension codec. Ours writes a [`Shipped`] message there:
//! the component's SHA-256, the function's manifest index and, when the
//! store allows, the component's bytes. Every other node and function
//! passes through to Ballista's own codecs, unchanged.

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use prost::Message;
use wasmudf::Component;

use crate::store::{ComponentStore, Entry};

/// Our blobs start with this, so a blob another codec wrote is never read
/// as ours by chance (any bytes can parse as some protobuf message).
const MAGIC: &[u8] = b"wasmudf\x01";

/// One wasmudf function in a plan.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Shipped {
    /// SHA-256 of the component's bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) sha256: Vec<u8>,
    /// The function's index in the component's manifest.
    #[prost(uint32, tag = "2")]
    pub(crate) index: u32,
    /// The component itself, when the encoding store ships it.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub(crate) component: Option<Vec<u8>>,
}

/// Ballista's logical and physical codecs, with wasmudf functions shipped
/// by content hash through one [`ComponentStore`].
///
/// Install it on all three roles: the client's session config
/// ([`crate::client_config`]), the scheduler ([`crate::scheduler_config`]) and
/// the executors ([`crate::executor_config`]).
#[derive(Debug, Clone)]
pub struct WasmCodec {
    store: Arc<ComponentStore>,
    logical: Arc<BallistaLogicalExtensionCodec>,
    physical: Arc<BallistaPhysicalExtensionCodec>,
}

impl WasmCodec {
    /// A codec that looks functions up in, and loads shipped ones into,
    /// `store`.
    pub fn new(store: Arc<ComponentStore>) -> WasmCodec {
        WasmCodec {
            store,
            logical: Arc::new(BallistaLogicalExtensionCodec::default()),
            physical: Arc::new(BallistaPhysicalExtensionCodec::default()),
        }
    }

    /// The store this codec resolves functions in.
    pub fn store(&self) -> &Arc<ComponentStore> {
        &self.store
    }

    fn encode(&self, (component, index): (&Component, usize), buf: &mut Vec<u8>) -> Result<()> {
        let sha256 = component.sha256();
        let index = u32::try_from(index)
            .map_err(|_| DataFusionError::Internal("manifest index above u32".into()))?;
        let message = Shipped {
            sha256: sha256.to_vec(),
            index,
            component: self.store.shippable(&sha256).map(|b| b.to_vec()),
        };
        buf.extend_from_slice(MAGIC);
        message
            .encode(buf)
            .map_err(|e| DataFusionError::Internal(format!("encoding a wasmudf function: {e}")))
    }

    /// The store entry and manifest index `buf` names; `None` when `buf`
    /// is not ours.
    fn decode(&self, name: &str, buf: &[u8]) -> Result<Option<(Arc<Entry>, usize)>> {
        if buf.is_empty() {
            // A plan that names the function without shipping it (a plain
            // Ballista client): the store's only function of that name.
            return Ok(self.store.by_name(name));
        }
        let Some(body) = buf.strip_prefix(MAGIC) else {
            return Ok(None);
        };
        let message = Shipped::decode(body).map_err(|e| {
            DataFusionError::Plan(format!("{name}: a malformed wasmudf function message: {e}"))
        })?;
        let hash: [u8; 32] = message.sha256.as_slice().try_into().map_err(|_| {
            DataFusionError::Plan(format!(
                "{name}: a wasmudf component hash of {} bytes, not 32",
                message.sha256.len()
            ))
        })?;
        let entry = self
            .store
            .resolve(hash, name, message.component.as_deref())
            .map_err(|e| DataFusionError::Plan(e.to_string()))?;
        Ok(Some((entry, message.index as usize)))
    }

    /// A scalar UDF from `buf`, or what `other` (Ballista's codec) makes
    /// of a blob that is not ours.
    fn scalar(
        &self,
        name: &str,
        buf: &[u8],
        other: impl FnOnce() -> Result<Arc<ScalarUDF>>,
    ) -> Result<Arc<ScalarUDF>> {
        self.decode_as(name, buf, "scalar", Entry::scalar)?
            .map_or_else(other, Ok)
    }

    /// As [`WasmCodec::scalar`], for aggregate and window UDFs.
    fn aggregate(
        &self,
        name: &str,
        buf: &[u8],
        other: impl FnOnce() -> Result<Arc<AggregateUDF>>,
    ) -> Result<Arc<AggregateUDF>> {
        self.decode_as(name, buf, "aggregate or window", Entry::aggregate)?
            .map_or_else(other, Ok)
    }

    fn decode_as<T>(
        &self,
        name: &str,
        buf: &[u8],
        kind: &str,
        pick: impl FnOnce(&Entry, usize) -> Option<Arc<T>>,
    ) -> Result<Option<Arc<T>>> {
        let Some((entry, index)) = self.decode(name, buf)? else {
            return Ok(None);
        };
        pick(&entry, index).map(Some).ok_or_else(|| {
            DataFusionError::Plan(format!(
                "{name}: function #{index} of {} is not a {kind} function",
                wasmudf::escape_controls(entry.component.origin())
            ))
        })
    }
}

impl LogicalExtensionCodec for WasmCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.logical.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.logical.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        self.logical
            .try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        self.logical.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.logical.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.logical.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.scalar(name, buf, || self.logical.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        match wasmudf_datafusion::scalar_origin(node) {
            Some(origin) => self.encode(origin, buf),
            None => self.logical.try_encode_udf(node, buf),
        }
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.aggregate(name, buf, || self.logical.try_decode_udaf(name, buf))
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        match wasmudf_datafusion::aggregate_origin(node) {
            Some(origin) => self.encode(origin, buf),
            None => self.logical.try_encode_udaf(node, buf),
        }
    }
}

impl PhysicalExtensionCodec for WasmCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.physical.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        self.physical.try_encode(node, buf, proto_converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.scalar(name, buf, || self.physical.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        match wasmudf_datafusion::scalar_origin(node) {
            Some(origin) => self.encode(origin, buf),
            None => self.physical.try_encode_udf(node, buf),
        }
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.aggregate(name, buf, || self.physical.try_decode_udaf(name, buf))
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        match wasmudf_datafusion::aggregate_origin(node) {
            Some(origin) => self.encode(origin, buf),
            None => self.physical.try_encode_udaf(node, buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Arc<ComponentStore> {
        let engine = wasmudf::Engine::new().expect("engine");
        Arc::new(ComponentStore::new(engine, 2))
    }

    fn stats_bytes() -> &'static [u8] {
        wasmudf_test_guests::EXAMPLES
            .iter()
            .find(|(n, _)| *n == "stats")
            .expect("the stats example")
            .1
    }

    /// An aggregate of the stats example, encoded by a store that has it.
    fn encoded(sender: &Arc<ComponentStore>) -> (String, Vec<u8>) {
        let component = sender.insert("stats", stats_bytes()).expect("loads");
        let udfs = wasmudf_datafusion::udfs(&component, 2).expect("udfs");
        let f = &udfs.aggregates[0];
        let mut buf = Vec::new();
        LogicalExtensionCodec::try_encode_udaf(&WasmCodec::new(sender.clone()), f, &mut buf)
            .expect("encodes");
        (f.name().to_owned(), buf)
    }

    #[test]
    fn a_shipped_function_decodes_in_an_empty_store_as_the_same_function() {
        let (name, buf) = encoded(&store());
        let receiver = store();
        let codec = WasmCodec::new(receiver.clone());
        let f = LogicalExtensionCodec::try_decode_udaf(&codec, &name, &buf).expect("decodes");
        assert_eq!(f.name(), name);
        assert_eq!(receiver.len(), 1);
        // A second task's decode finds it in the store: the same function
        // (compiled once), with accumulator instances of its own.
        let g = PhysicalExtensionCodec::try_decode_udaf(&codec, &name, &buf).expect("decodes");
        assert_eq!(receiver.len(), 1);
        assert_eq!(f, g);
        assert!(!Arc::ptr_eq(&f, &g));
    }

    #[test]
    fn bytes_that_do_not_hash_to_the_declared_hash_are_refused() {
        let (name, buf) = encoded(&store());
        let mut message = Shipped::decode(&buf[MAGIC.len()..]).expect("ours");
        let bytes = message.component.as_mut().expect("shipped");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let mut tampered = MAGIC.to_vec();
        message.encode(&mut tampered).expect("encodes");
        let receiver = store();
        let err = LogicalExtensionCodec::try_decode_udaf(
            &WasmCodec::new(receiver.clone()),
            &name,
            &tampered,
        )
        .expect_err("tampered");
        assert!(err.to_string().contains("not to the declared"), "{err}");
        assert!(receiver.is_empty());
    }

    #[test]
    fn a_hash_without_bytes_needs_the_component_in_the_store() {
        let sender =
            Arc::new(ComponentStore::new(wasmudf::Engine::new().expect("engine"), 2).ship_limit(0));
        let (name, buf) = encoded(&sender);
        let err = LogicalExtensionCodec::try_decode_udaf(&WasmCodec::new(store()), &name, &buf)
            .expect_err("not shipped");
        assert!(
            err.to_string()
                .contains("is not in this process's component store"),
            "{err}"
        );
        // A store that loaded the same bytes from its own folder has it.
        let receiver = store();
        receiver
            .insert("stats from a folder", stats_bytes())
            .expect("loads");
        LogicalExtensionCodec::try_decode_udaf(&WasmCodec::new(receiver), &name, &buf)
            .expect("found by hash");
    }

    #[test]
    fn blobs_of_other_codecs_and_malformed_ones_are_told_apart() {
        let codec = WasmCodec::new(store());
        // Not ours: Ballista's codec answers (it knows no such function).
        assert!(LogicalExtensionCodec::try_decode_udf(&codec, "f", b"other").is_err());
        let mut bad = MAGIC.to_vec();
        bad.extend_from_slice(&[0xff, 0xff, 0xff]);
        let err = LogicalExtensionCodec::try_decode_udf(&codec, "f", &bad).expect_err("malformed");
        assert!(
            err.to_string()
                .contains("malformed wasmudf function message"),
            "{err}"
        );
        // A scalar slot naming an aggregate is refused by kind.
        let (name, buf) = encoded(&store());
        let err = LogicalExtensionCodec::try_decode_udf(&codec, &name, &buf).expect_err("kind");
        assert!(
            err.to_string().contains("is not a scalar function"),
            "{err}"
        );
    }
}
