//! The two execution nodes of [`knn`](super::knn): [`KnnPartialExec`], the
//! top-k of each partition, and [`KnnMergeExec`], their merge.
//!
//! A partition's candidates are its top-k rows for each query; every row
//! leaving `KnnPartialExec` carries an id, `partition << 40 | row` (the row's
//! place in its partition), so that the merge breaks ties as `top_k` does on
//! the whole table: by the partition, then the row; and a random tag of the
//! partial search it comes from, which tells the parts apart.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, PrimitiveArray, RecordBatch, UInt64Array};
use arrow::compute::{concat_batches, interleave_record_batch, take_record_batch};
use arrow::datatypes::{ArrowPrimitiveType, DataType, Field, Float32Type, Float64Type, Schema, SchemaRef, UInt64Type};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{exec_err, internal_err, DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, ExecutionPlanProperties, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use futures::StreamExt;
use ndarray::{Array2, Axis, CowArray, Ix2};
use ndarray_inner::search::{top_k, SearchScalar, TopK, PADDING};

use super::KnnSpec;
use crate::vectors::{Element, ListRows, Precision};

/// The id column of the candidates between the two nodes.
const ID: &str = "__knn_id";
/// The column naming the partial search a candidate comes from: a random
/// value per execution, since partition numbers need not be unique across
/// Ballista's tasks.
const PART: &str = "__knn_part";
/// Rows per partition an id has room for.
const ROW_BITS: u32 = 40;

fn to_df(err: ndarray_inner::InnerError) -> DataFusionError {
    DataFusionError::Execution(format!("knn: {err}"))
}

/// Per partition of its input: the `k` best rows for each query, as rows of
/// the input with `query_index`, `score` and an id; at most `Q·k` rows are
/// held besides the batch being read.
#[derive(Debug)]
pub struct KnnPartialExec {
    input: Arc<dyn ExecutionPlan>,
    column: usize,
    pub(crate) spec: KnnSpec,
    properties: Arc<PlanProperties>,
}

impl KnnPartialExec {
    /// The partial search of the vectors in column `column` of `input`.
    pub(crate) fn try_new(input: Arc<dyn ExecutionPlan>, column: usize, spec: KnnSpec) -> Result<Self> {
        let mut fields: Vec<Arc<Field>> = spec.output_schema(&input.schema())?.fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new(ID, DataType::UInt64, false)));
        fields.push(Arc::new(Field::new(PART, DataType::UInt64, false)));
        let schema = Arc::new(Schema::new(fields));
        let partitions = input.output_partitioning().partition_count();
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Ok(Self {
            input,
            column,
            spec,
            properties,
        })
    }

    /// The index of the vectors' column in the input.
    pub fn column(&self) -> usize {
        self.column
    }

    /// The plan it reads.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }
}

impl DisplayAs for KnnPartialExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KnnPartialExec: {}", self.spec)
    }
}

impl ExecutionPlan for KnnPartialExec {
    fn name(&self) -> &'static str {
        "KnnPartialExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return internal_err!("KnnPartialExec takes one input, got {}", children.len());
        }
        Ok(Arc::new(Self::try_new(
            children.swap_remove(0),
            self.column,
            self.spec.clone(),
        )?))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = self.schema();
        let (spec, column) = (self.spec.clone(), self.column);
        let out_schema = schema.clone();
        let once = futures::stream::once(async move {
            match spec.precision {
                Precision::F32 => partial::<Float32Type>(input, column, partition, spec, out_schema).await,
                Precision::F64 => partial::<Float64Type>(input, column, partition, spec, out_schema).await,
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, once)))
    }
}

/// Reads one partition and returns its candidates.
async fn partial<T>(
    mut input: SendableRecordBatchStream,
    column: usize,
    partition: usize,
    spec: KnnSpec,
    schema: SchemaRef,
) -> Result<RecordBatch>
where
    T: ArrowPrimitiveType,
    T::Native: Element + SearchScalar,
{
    let queries: Array2<T::Native> = spec.queries.mapv(|v| T::Native::from_f64(f64::from(v)));
    let mut state = Partial::<T::Native> {
        best: None,
        store: None,
        store_rows: Vec::new(),
        rows_seen: 0,
    };
    while let Some(batch) = input.next().await {
        state.push(&batch?, column, &queries, &spec)?;
    }
    state.finish::<T>(partition, &spec, schema)
}

/// One partition's running result.
struct Partial<A> {
    /// The best rows so far, by their place in the partition.
    best: Option<TopK<A>>,
    /// The rows `best` refers to, each once, in the order of `store_rows`.
    store: Option<RecordBatch>,
    /// The place in the partition of each row of `store`, ascending.
    store_rows: Vec<usize>,
    rows_seen: usize,
}

impl<A: Element + SearchScalar> Partial<A> {
    fn push(&mut self, batch: &RecordBatch, column: usize, queries: &Array2<A>, spec: &KnnSpec) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let vectors = ListRows::<A>::new(batch.column(column), spec.cx())?;
        let matrix = vectors.matrix(queries.ncols(), spec.cx(), "the queries")?;
        // Rows that cannot be scored are left out; `kept[i]` is row i's place in the batch.
        let (database, kept): (CowArray<'_, A, Ix2>, Option<Vec<usize>>) = match vectors.validity() {
            None => (matrix, None),
            Some(valid) => {
                let kept: Vec<usize> = (0..n).filter(|&i| valid[i]).collect();
                (CowArray::from(matrix.select(Axis(0), &kept)), Some(kept))
            }
        };
        let offset = self.rows_seen;
        self.rows_seen += n;
        if database.nrows() == 0 {
            return Ok(());
        }
        let mut found = top_k(queries, &database, spec.k, spec.metric).map_err(to_df)?;
        found
            .indices
            .mapv_inplace(|i| offset + kept.as_ref().map_or(i, |kept| kept[i]));
        let best = match self.best.take() {
            None => found,
            Some(best) => TopK::merge(&[(best, 0), (found, 0)], spec.k).map_err(to_df)?,
        };
        // Keep exactly the rows `best` refers to: from the store or this batch.
        let mut rows: Vec<usize> = best.indices.iter().copied().filter(|&r| r != PADDING).collect();
        rows.sort_unstable();
        rows.dedup();
        let picks: Vec<(usize, usize)> = rows
            .iter()
            .map(|&r| match r.checked_sub(offset) {
                Some(i) => (1, i),
                None => (
                    0,
                    self.store_rows.binary_search(&r).expect("a kept row is in the store"),
                ),
            })
            .collect();
        let store = match &self.store {
            Some(store) => interleave_record_batch(&[store, batch], &picks)?,
            None => interleave_record_batch(&[batch, batch], &picks)?,
        };
        self.store = Some(store);
        self.store_rows = rows;
        self.best = Some(best);
        Ok(())
    }

    /// The candidates: for each query its hits, best first, as rows of the
    /// input with `query_index`, `score` and the id.
    fn finish<T>(self, partition: usize, spec: &KnnSpec, schema: SchemaRef) -> Result<RecordBatch>
    where
        T: ArrowPrimitiveType<Native = A>,
    {
        let (Some(best), Some(store)) = (self.best, self.store) else {
            return Ok(RecordBatch::new_empty(schema));
        };
        if self.rows_seen >= 1 << ROW_BITS || partition >= 1 << (64 - ROW_BITS) {
            return exec_err!("knn: partition {partition} has more than 2^{ROW_BITS} rows");
        }
        let mut take = Vec::new();
        let (mut query_index, mut scores, mut ids) = (Vec::new(), Vec::new(), Vec::new());
        for ((q, j), &row) in best.indices.indexed_iter() {
            if row == PADDING {
                continue;
            }
            take.push(
                self.store_rows
                    .binary_search(&row)
                    .expect("a hit's row is in the store") as u64,
            );
            query_index.push(q as u64);
            scores.push(best.scores[(q, j)]);
            ids.push(((partition as u64) << ROW_BITS) | row as u64);
        }
        let _ = spec;
        let salt = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), partition);
        let part = UInt64Array::from(vec![salt; ids.len()]);
        let rows = take_record_batch(&store, &UInt64Array::from(take))?;
        let mut columns: Vec<ArrayRef> = rows.columns().to_vec();
        columns.push(Arc::new(UInt64Array::from(query_index)));
        columns.push(Arc::new(PrimitiveArray::<T>::from_iter_values(scores)));
        columns.push(Arc::new(UInt64Array::from(ids)));
        columns.push(Arc::new(part));
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

/// The merge of the partitions' candidates into the exact answer, on one
/// partition: [`TopK::merge`], then the rows of the hits, ordered by query,
/// then best first.
#[derive(Debug)]
pub struct KnnMergeExec {
    input: Arc<dyn ExecutionPlan>,
    pub(crate) spec: KnnSpec,
    projection: Option<Vec<usize>>,
    properties: Arc<PlanProperties>,
}

impl KnnMergeExec {
    /// The merge of `input`'s candidates (one partition: the output of a
    /// [`KnnPartialExec`], coalesced), keeping the columns in `projection`.
    pub(crate) fn try_new(
        input: Arc<dyn ExecutionPlan>,
        spec: KnnSpec,
        projection: Option<Vec<usize>>,
    ) -> Result<Self> {
        let full = Self::full_schema(&input.schema());
        let schema = match &projection {
            Some(p) => Arc::new(full.project(p)?),
            None => full,
        };
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Ok(Self {
            input,
            spec,
            projection,
            properties,
        })
    }

    /// The candidates' schema without the id.
    fn full_schema(candidates: &Schema) -> SchemaRef {
        let fields: Vec<Arc<Field>> = candidates
            .fields()
            .iter()
            .filter(|f| f.name() != ID && f.name() != PART)
            .cloned()
            .collect();
        Arc::new(Schema::new_with_metadata(fields, candidates.metadata().clone()))
    }

    /// The columns of the output, as indices into the table's columns and the two of the hits.
    pub fn projection(&self) -> Option<&[usize]> {
        self.projection.as_deref()
    }
}

impl DisplayAs for KnnMergeExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KnnMergeExec: {}", self.spec)
    }
}

impl ExecutionPlan for KnnMergeExec {
    fn name(&self) -> &'static str {
        "KnnMergeExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    // DataFusion 55 still reads this through `input_distribution_requirements`'s default;
    // the optimizer (and Ballista's stage planner) then puts a coalesce below.
    #[allow(deprecated)]
    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition]
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return internal_err!("KnnMergeExec takes one input, got {}", children.len());
        }
        Ok(Arc::new(Self::try_new(
            children.swap_remove(0),
            self.spec.clone(),
            self.projection.clone(),
        )?))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return internal_err!("KnnMergeExec has one partition, asked for {partition}");
        }
        let parts = self.input.output_partitioning().partition_count();
        if parts != 1 {
            return internal_err!("KnnMergeExec reads one partition, its input has {parts}");
        }
        let mut input = self.input.execute(0, context)?;
        let in_schema = self.input.schema();
        let (spec, projection, schema) = (self.spec.clone(), self.projection.clone(), self.schema());
        let once = futures::stream::once(async move {
            let mut batches = Vec::new();
            while let Some(batch) = input.next().await {
                batches.push(batch?);
            }
            let candidates = concat_batches(&in_schema, &batches)?;
            let merged = match spec.precision {
                Precision::F32 => merge::<Float32Type>(&candidates, &spec)?,
                Precision::F64 => merge::<Float64Type>(&candidates, &spec)?,
            };
            Ok(match &projection {
                Some(p) => merged.project(p)?,
                None => merged,
            })
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, once)))
    }
}

/// The exact hits among `candidates` (rows of [`KnnPartialExec`]'s output),
/// without the id column.
fn merge<T>(candidates: &RecordBatch, spec: &KnnSpec) -> Result<RecordBatch>
where
    T: ArrowPrimitiveType,
    T::Native: SearchScalar,
{
    let n_cols = candidates.num_columns();
    let query_index = candidates.column(n_cols - 4).as_primitive::<UInt64Type>().values();
    let scores = candidates.column(n_cols - 3).as_primitive::<T>().values();
    let ids = candidates.column(n_cols - 2).as_primitive::<UInt64Type>().values();
    let salts = candidates.column(n_cols - 1).as_primitive::<UInt64Type>().values();
    let n_queries = spec.queries.nrows();
    // Each candidate's rank by (partition, row), then part: unique, and ordered as
    // top_k breaks ties. TopK::merge works on these ranks.
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_unstable_by_key(|&r| (ids[r], salts[r], query_index[r]));
    let mut rank = vec![0usize; ids.len()];
    for (i, &r) in order.iter().enumerate() {
        rank[r] = i;
    }
    // Each part's hits, per query, in the order they came (best first).
    let mut parts: HashMap<u64, Vec<Vec<usize>>> = HashMap::new();
    for (row, &salt) in salts.iter().enumerate() {
        let q = query_index[row] as usize;
        if q >= n_queries {
            return internal_err!("knn: a candidate answers query {q} of {n_queries}");
        }
        parts.entry(salt).or_insert_with(|| vec![Vec::new(); n_queries])[q].push(row);
    }
    let mut tops = Vec::with_capacity(parts.len());
    for per_query in parts.values() {
        let width = per_query[0].len();
        if per_query.iter().any(|r| r.len() != width) {
            return internal_err!("knn: a partition sent different numbers of hits per query");
        }
        let mut indices = Array2::<usize>::zeros((n_queries, width));
        let mut part_scores = Array2::<T::Native>::zeros((n_queries, width));
        for (q, rows) in per_query.iter().enumerate() {
            for (j, &row) in rows.iter().enumerate() {
                indices[(q, j)] = rank[row];
                part_scores[(q, j)] = scores[row];
            }
        }
        tops.push((
            TopK {
                indices,
                scores: part_scores,
                metric: spec.metric,
            },
            0,
        ));
    }
    let schema = KnnMergeExec::full_schema(&candidates.schema());
    if tops.is_empty() {
        return Ok(RecordBatch::new_empty(schema));
    }
    let merged = TopK::merge(&tops, spec.k).map_err(to_df)?;
    let take: Vec<u64> = merged
        .indices
        .iter()
        .filter(|&&r| r != PADDING)
        .map(|&r| order[r] as u64)
        .collect();
    let rows = take_record_batch(candidates, &UInt64Array::from(take))?;
    Ok(rows
        .project(&(0..n_cols - 2).collect::<Vec<_>>())?
        .with_schema(schema)?)
}
