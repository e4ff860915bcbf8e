//! Every size at which a kernel or the search changes path, re-exported from where
//! it is defined (and documented with its measurement), so that the tests and
//! benches that probe sizes around each edge read the one definition. Not part of
//! the public API: the values change whenever a measurement moves them.

pub use crate::kernel::boolean::{B_BLOCK_ROWS as BOOL_B_BLOCK_ROWS, WORD as BOOL_WORD};
pub use crate::kernel::gemm::{CONJ_BLOCK_ROWS, SMALL_GEMM_MACS};
pub use crate::kernel::half::{A_BLOCK_ROWS as HALF_A_BLOCK_ROWS, B_BLOCK_ROWS as HALF_B_BLOCK_ROWS};
pub use crate::kernel::integer::{blocking as integer_blocking, Blocking as IntegerBlocking, NC as INTEGER_NC};
pub use crate::kernel::tiny::{is_tiny, TINY_LONG_MACS, TINY_MACS, TINY_OUTPUTS};
pub use crate::search::plan::{
    FEW_DB_BLOCK_BYTES, FEW_QUERIES_MAX, GEMM_DB_BLOCK_BYTES, GEMM_THREADED_MIN_OPERANDS, MIN_QUERIES_PER_TASK,
    PARALLEL_MIN_ELEMENTS, PARALLEL_MIN_MACS, QUERY_BLOCK,
};
