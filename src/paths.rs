//! Which kernel path each product took, counted in debug builds, so that tests can
//! prove every fast path is exercised (`tests/paths.rs` pins each path to the
//! inputs that take it; `tests/differential.rs` checks its random cases reach them
//! all).
//!
//! Not part of the API: hidden from the docs and free to change. Release builds
//! compile the recording to nothing and [`count`] always returns 0.

#[cfg(debug_assertions)]
use std::sync::atomic::{AtomicU64, Ordering};

/// A path through the crate's kernels.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Path {
    /// A 0-d operand: elementwise products, no kernel.
    Scalar,
    /// An operand whose leading axes (for `tensordot`, its free or its contracted axes)
    /// could not be merged by strides was copied.
    OperandCopy,
    /// `inner_into` with an output not in standard layout, computed into a temporary.
    OutTemporary,
    /// Floats and complex: a loop of dot products, too small for GEMM's setup.
    FloatTiny,
    /// Floats and complex: one operand a single row, a matrix-vector product.
    FloatMatVec,
    /// Floats and complex: one GEMM through ndarray (matrixmultiply, or BLAS with the
    /// `blas` feature).
    FloatGemm,
    /// Floats and complex: one GEMM by the `gemm` crate.
    GemmCrate,
    /// The Hermitian product by complex GEMM: one block of conjugated rows.
    ConjBlock,
    /// Integers: a loop of wrapping dot products, too small to pack.
    IntegerSmall,
    /// Integers: the packed, register-tiled kernel.
    IntegerBlocked,
    /// Integers: the packed kernel split into bands of rows over rayon threads.
    IntegerBands,
    /// `f16`/`bf16`: blocks widened to `f32` for the `f32` kernels, rounded once.
    HalfWidened,
    /// `bool`: rows packed into bit words, ANDed word by word.
    BoolWords,
    /// A search on the calling thread.
    SearchSequential,
    /// A search one block after the other, each GEMM threaded, the scans on rayon.
    SearchThreadedGemm,
    /// A search with the queries split over rayon tasks.
    SearchSplitQueries,
    /// A search with the database split over rayon tasks, the results merged.
    SearchSplitDatabase,
    /// One GEMM block of queries times one block of database rows in a search.
    SearchBlock,
    /// One block of database rows for every query, by the few-query kernel.
    SearchFewBlock,
    /// A block of database rows gathered into a scratch (filtered rows, or a
    /// non-contiguous database for the few-query kernel).
    SearchGather,
    /// L2 candidates measured by the exact distance.
    SearchL2Exact,
    /// A block of half-precision database rows widened to `f32` for the kernels.
    SearchWiden,
}

impl Path {
    /// Every path.
    pub const ALL: [Path; 22] = [
        Path::Scalar,
        Path::OperandCopy,
        Path::OutTemporary,
        Path::FloatTiny,
        Path::FloatMatVec,
        Path::FloatGemm,
        Path::GemmCrate,
        Path::ConjBlock,
        Path::IntegerSmall,
        Path::IntegerBlocked,
        Path::IntegerBands,
        Path::HalfWidened,
        Path::BoolWords,
        Path::SearchSequential,
        Path::SearchThreadedGemm,
        Path::SearchSplitQueries,
        Path::SearchSplitDatabase,
        Path::SearchBlock,
        Path::SearchFewBlock,
        Path::SearchGather,
        Path::SearchL2Exact,
        Path::SearchWiden,
    ];

    /// Whether the path is part of a search rather than of `inner`.
    pub fn is_search(self) -> bool {
        matches!(
            self,
            Path::SearchSequential
                | Path::SearchThreadedGemm
                | Path::SearchSplitQueries
                | Path::SearchSplitDatabase
                | Path::SearchBlock
                | Path::SearchFewBlock
                | Path::SearchGather
                | Path::SearchL2Exact
                | Path::SearchWiden
        )
    }

    /// Whether this build has the path: the threaded ones need the `rayon`
    /// feature, a search's GEMM threaded inside needs BLAS's threads (the `blas`
    /// feature), and BLAS builds run every GEMM in BLAS.
    pub fn is_compiled(self) -> bool {
        match self {
            Path::IntegerBands | Path::SearchSplitQueries | Path::SearchSplitDatabase => cfg!(feature = "rayon"),
            Path::SearchThreadedGemm => cfg!(feature = "rayon") && cfg!(feature = "blas"),
            Path::GemmCrate => !cfg!(feature = "cblas"),
            _ => true,
        }
    }
}

#[cfg(debug_assertions)]
static COUNTS: [AtomicU64; Path::ALL.len()] = [const { AtomicU64::new(0) }; Path::ALL.len()];

/// Counts one use of `path` (debug builds only).
#[inline]
pub(crate) fn record(path: Path) {
    #[cfg(debug_assertions)]
    COUNTS[path as usize].fetch_add(1, Ordering::Relaxed);
    #[cfg(not(debug_assertions))]
    let _ = path;
}

/// Uses of `path` in this process so far, from every thread; always 0 in release builds.
#[doc(hidden)]
pub fn count(path: Path) -> u64 {
    #[cfg(debug_assertions)]
    return COUNTS[path as usize].load(Ordering::Relaxed);
    #[cfg(not(debug_assertions))]
    {
        let _ = path;
        0
    }
}

/// Whether this build counts paths (debug builds do).
#[doc(hidden)]
pub fn counting() -> bool {
    cfg!(debug_assertions)
}
