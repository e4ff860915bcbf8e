//! The codecs that carry [`knn`](crate::knn()) plans between Ballista's client,
//! scheduler and executors: [`KnnLogicalCodec`] for the [`KnnTable`] in a
//! logical plan, [`KnnPhysicalCodec`] for [`KnnPartialExec`] and
//! [`KnnMergeExec`]. Everything else goes to Ballista's own codecs.
//!
//! The encoding is a magic prefix naming the node, then its fields:
//! little-endian `u64` integers, length-prefixed UTF-8 strings, the queries as
//! `f32` bits, and (for the table) its input plan in DataFusion's protobuf.

use std::any::Any;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Extension;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::bytes::{
    logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use ndarray::Array2;
use ndarray_inner::search::Metric;

use crate::knn::{KnnMergeExec, KnnPartialExec, KnnSpec, KnnTable};
use crate::vectors::Precision;

const TABLE: &[u8] = b"ndarray-inner:KnnTable:1\0";
const PARTIAL: &[u8] = b"ndarray-inner:KnnPartialExec:1\0";
const MERGE: &[u8] = b"ndarray-inner:KnnMergeExec:1\0";

/// Ballista's logical codec, plus [`KnnTable`].
#[derive(Debug, Default)]
pub struct KnnLogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

/// Ballista's physical codec, plus [`KnnPartialExec`] and [`KnnMergeExec`].
#[derive(Debug, Default)]
pub struct KnnPhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl LogicalExtensionCodec for KnnLogicalCodec {
    fn try_decode(&self, buf: &[u8], inputs: &[LogicalPlan], ctx: &TaskContext) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        let Some(body) = buf.strip_prefix(TABLE) else {
            return self.inner.try_decode_table_provider(buf, table_ref, schema, ctx);
        };
        let mut r = Reader(body);
        let spec = r.spec()?;
        let input = logical_plan_from_bytes_with_extension_codec(r.bytes()?, ctx, self)?;
        let table = KnnTable::try_new(input, &spec.table, &spec.column, spec.queries, spec.k, spec.metric)?;
        Ok(Arc::new(table))
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let any: &dyn Any = node.as_ref();
        let Some(table) = any.downcast_ref::<KnnTable>() else {
            return self.inner.try_encode_table_provider(table_ref, node, buf);
        };
        buf.extend_from_slice(TABLE);
        put_spec(buf, &table.spec);
        let input = logical_plan_to_bytes_with_extension_codec(table.input(), self)?;
        put_bytes(buf, &input);
        Ok(())
    }

    fn try_decode_file_format(&self, buf: &[u8], ctx: &TaskContext) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(&self, buf: &mut Vec<u8>, node: Arc<dyn FileFormatFactory>) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }
}

impl PhysicalExtensionCodec for KnnPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = || {
            inputs
                .first()
                .cloned()
                .ok_or_else(|| DataFusionError::Internal("a knn node arrived without its input".into()))
        };
        if let Some(body) = buf.strip_prefix(PARTIAL) {
            let mut r = Reader(body);
            let spec = r.spec()?;
            let column = r.usize()?;
            return Ok(Arc::new(KnnPartialExec::try_new(input()?, column, spec)?));
        }
        if let Some(body) = buf.strip_prefix(MERGE) {
            let mut r = Reader(body);
            let spec = r.spec()?;
            let projection = match r.usize()? {
                0 => None,
                _ => Some(r.usizes()?),
            };
            return Ok(Arc::new(KnnMergeExec::try_new(input()?, spec, projection)?));
        }
        self.inner.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let any: &dyn Any = node.as_ref();
        if let Some(partial) = any.downcast_ref::<KnnPartialExec>() {
            buf.extend_from_slice(PARTIAL);
            put_spec(buf, &partial.spec);
            put_u64(buf, partial.column() as u64);
            return Ok(());
        }
        if let Some(merge) = any.downcast_ref::<KnnMergeExec>() {
            buf.extend_from_slice(MERGE);
            put_spec(buf, &merge.spec);
            match merge.projection() {
                None => put_u64(buf, 0),
                Some(p) => {
                    put_u64(buf, 1);
                    put_u64(buf, p.len() as u64);
                    p.iter().for_each(|&i| put_u64(buf, i as u64));
                }
            }
            return Ok(());
        }
        self.inner.try_encode(node, buf, proto_converter)
    }
}

fn put_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    put_u64(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

fn put_spec(buf: &mut Vec<u8>, spec: &KnnSpec) {
    put_bytes(buf, spec.table.as_bytes());
    put_bytes(buf, spec.column.as_bytes());
    put_u64(buf, spec.k as u64);
    put_u64(
        buf,
        match spec.metric {
            Metric::Cosine => 1,
            Metric::L2 => 2,
            _ => 0,
        },
    );
    put_u64(buf, u64::from(spec.precision == Precision::F64));
    let (q, d) = spec.queries.dim();
    put_u64(buf, q as u64);
    put_u64(buf, d as u64);
    for v in spec.queries.iter() {
        buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }
}

/// Reads what the `put_` functions wrote; every error is a clear decode error.
struct Reader<'a>(&'a [u8]);

fn truncated() -> DataFusionError {
    DataFusionError::Internal("a knn plan node is truncated".into())
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(truncated());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn usize(&mut self) -> Result<usize> {
        usize::try_from(self.u64()?).map_err(|_| truncated())
    }

    fn usizes(&mut self) -> Result<Vec<usize>> {
        let n = self.usize()?;
        (0..n).map(|_| self.usize()).collect()
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.usize()?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| truncated())
    }

    fn spec(&mut self) -> Result<KnnSpec> {
        let table = self.string()?;
        let column = self.string()?;
        let k = self.usize()?;
        let metric = match self.u64()? {
            0 => Metric::InnerProduct,
            1 => Metric::Cosine,
            2 => Metric::L2,
            _ => return Err(truncated()),
        };
        let precision = if self.u64()? == 1 {
            Precision::F64
        } else {
            Precision::F32
        };
        let q = self.usize()?;
        let d = self.usize()?;
        let len = q.checked_mul(d).ok_or_else(truncated)?;
        let raw = self.take(len.checked_mul(4).ok_or_else(truncated)?)?;
        let values: Vec<f32> = raw
            .chunks_exact(4)
            .map(|c| f32::from_bits(u32::from_le_bytes(c.try_into().expect("4 bytes"))))
            .collect();
        let queries = Array2::from_shape_vec((q, d), values).map_err(|_| truncated())?;
        Ok(KnnSpec {
            table,
            column,
            queries: Arc::new(queries),
            k,
            metric,
            precision,
        })
    }
}
