//! [ndarray-inner](ndarray_inner)'s kernels and exact search for data in
//! Arrow tables: SQL functions for DataFusion, many-query [`knn()`] as a
//! DataFusion plan, and (feature `ballista`) both on a Ballista cluster.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> datafusion::error::Result<()> {
//! use datafusion::prelude::SessionContext;
//! use ndarray_inner_datafusion::register;
//!
//! let ctx = SessionContext::new();
//! register(&ctx);
//! let batches = ctx
//!     .sql("SELECT array_inner_product([1.0, 2.0], [3.0, 4.0]) AS ip,
//!                  array_squared_distance([1.0, 2.0], [3.0, 4.0]) AS d2")
//!     .await?
//!     .collect()
//!     .await?;
//! let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string();
//! assert!(text.contains("| 11.0 | 8.0 |"));
//! # Ok(())
//! # }
//! ```
//!
//! - [`register`]: `array_inner_product(v, q)`, `array_cosine_similarity(v, q)`
//!   and `array_squared_distance(v, q)` ([`functions`]).
//! - [`knn()`]: the `k` best rows for each of many queries, one GEMM per record
//!   batch, one partial top-k per partition, one exact merge.
//! - `ballista` (feature): an in-process cluster (`ballista::standalone`),
//!   the codecs that carry `knn` plans between processes, and the binaries
//!   `ndi-scheduler` and `ndi-executor`.
#![warn(missing_docs)]

pub mod functions;
pub mod knn;
mod vectors;

#[cfg(feature = "ballista")]
pub mod ballista;

use datafusion::prelude::SessionContext;

pub use knn::knn;

/// The README's Rust blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Registers the crate's SQL functions in `ctx`: `array_inner_product`,
/// `array_cosine_similarity` and `array_squared_distance`
/// ([`functions::VectorFunction`]). A function of the same name already
/// registered is replaced.
///
/// ```
/// use datafusion::execution::FunctionRegistry;
/// use datafusion::prelude::SessionContext;
///
/// let ctx = SessionContext::new();
/// ndarray_inner_datafusion::register(&ctx);
/// assert!(ctx.state().udf("array_cosine_similarity").is_ok());
/// ```
pub fn register(ctx: &SessionContext) {
    for udf in functions::VectorFunction::all() {
        ctx.register_udf(udf);
    }
}
