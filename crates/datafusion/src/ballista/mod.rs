//! The crate's SQL functions and [`knn`](crate::knn()) on Ballista (feature
//! `ballista`).
//!
//! Ballista runs a plan on executors that resolve SQL functions by name from
//! their own registry and decode plan nodes with their own codecs: every
//! process of a cluster needs the crate compiled in. This module gives each
//! process what it needs:
//!
//! - a client: [`remote`] (a running cluster) or [`standalone`] (a scheduler
//!   and an executor in this process), both with the SQL functions registered
//!   and the codecs that carry `knn` plans ([`codec`]);
//! - a scheduler: [`scheduler_config`], run by the `ndi-scheduler` binary;
//! - an executor: [`executor_config`], run by the `ndi-executor` binary.
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> datafusion::error::Result<()> {
//! // ndi-scheduler --port 50050 & ndi-executor --scheduler-port 50050 --port 50051 &
//! let ctx = ndarray_inner_datafusion::ballista::remote("df://127.0.0.1:50050").await?;
//! ctx.register_parquet("docs", "docs/", Default::default()).await?;
//! ctx.sql("SELECT id FROM docs ORDER BY array_cosine_similarity(embedding, [0.1, 0.2]) DESC LIMIT 5")
//!     .await?
//!     .show()
//!     .await?;
//! # Ok(())
//! # }
//! ```

pub mod codec;

use std::sync::Arc;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use ballista_executor::executor_process::ExecutorProcessConfig;
use ballista_scheduler::config::SchedulerConfig;
use datafusion::common::Result;
use datafusion::execution::{FunctionRegistry, SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::functions::VectorFunction;
use codec::{KnnLogicalCodec, KnnPhysicalCodec};

/// A Ballista session configuration with the codecs that carry `knn` plans.
///
/// ```
/// let config = ndarray_inner_datafusion::ballista::session_config();
/// assert!(config.options().extensions.iter().count() > 0);
/// ```
pub fn session_config() -> SessionConfig {
    SessionConfig::new_with_ballista()
        .with_ballista_logical_extension_codec(Arc::new(KnnLogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(KnnPhysicalCodec::default()))
}

/// Ballista's session state for `config`, with the crate's SQL functions: the
/// state a scheduler plans in.
///
/// # Errors
///
/// When Ballista cannot build its state from `config`.
pub fn session_state(config: SessionConfig) -> Result<SessionState> {
    let mut state = default_session_builder(config)?;
    for udf in VectorFunction::all() {
        state.register_udf(Arc::new(udf))?;
    }
    Ok(state)
}

/// A client of an in-process Ballista cluster (a scheduler and an executor
/// on this machine's loopback) with the crate's SQL functions registered on
/// the client, the scheduler and the executor, and the `knn` codecs.
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> datafusion::error::Result<()> {
/// let ctx = ndarray_inner_datafusion::ballista::standalone().await?;
/// let batches = ctx.sql("SELECT array_inner_product([1.0, 2.0], [3.0, 4.0]) AS ip").await?.collect().await?;
/// assert_eq!(batches[0].num_rows(), 1);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// When the scheduler or the executor cannot start.
pub async fn standalone() -> Result<SessionContext> {
    let state = SessionStateBuilder::new()
        .with_config(session_config())
        .with_default_features()
        .build();
    let mut state = state;
    for udf in VectorFunction::all() {
        state.register_udf(Arc::new(udf))?;
    }
    let ctx = SessionContext::standalone_with_state(state).await?;
    // Ballista's client state drops the functions registered before it connected.
    crate::register(&ctx);
    Ok(ctx)
}

/// A client of the Ballista scheduler at `url` (`df://host:port`) with the
/// crate's SQL functions and the `knn` codecs. The cluster's scheduler and
/// executors must have the crate too (`ndi-scheduler`, `ndi-executor`).
///
/// # Errors
///
/// When `url` is not a scheduler's address.
pub async fn remote(url: &str) -> Result<SessionContext> {
    let state = SessionStateBuilder::new()
        .with_config(session_config())
        .with_default_features()
        .build();
    let ctx = SessionContext::remote_with_state(url, state).await?;
    crate::register(&ctx);
    Ok(ctx)
}

/// Ballista's scheduler configuration with the crate's functions in the
/// state it plans in and the `knn` codecs; bind address and port are the
/// caller's to set.
pub fn scheduler_config() -> SchedulerConfig {
    let mut config = SchedulerConfig::default().with_override_session_builder(Arc::new(session_state));
    config.override_logical_codec = Some(Arc::new(KnnLogicalCodec::default()));
    config.override_physical_codec = Some(Arc::new(KnnPhysicalCodec::default()));
    config
}

/// Ballista's executor configuration with the crate's functions in its
/// registry and the `knn` codecs; addresses and ports are the caller's to set.
pub fn executor_config() -> ExecutorProcessConfig {
    let mut registry = BallistaFunctionRegistry::default();
    for udf in VectorFunction::all() {
        registry.scalar_functions.insert(udf.name().to_string(), Arc::new(udf));
    }
    ExecutorProcessConfig {
        override_function_registry: Some(Arc::new(registry)),
        override_logical_codec: Some(Arc::new(KnnLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(KnnPhysicalCodec::default())),
        override_config_producer: Some(Arc::new(session_config)),
        ..ExecutorProcessConfig::default()
    }
}
