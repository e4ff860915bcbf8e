//! NumPy's `np.inner` as a method of every [`ndarray`] array, exact to NumPy's
//! semantics, plus the exact similarity search built on it.
//!
//! ```
//! use ndarray::{array, Array2};
//! use ndarray_inner::InnerExt;
//!
//! let a = array![[1.0, 2.0], [3.0, 4.0]];
//! let b = array![[1.0, 3.0], [2.0, 4.0]];
//! let c: Array2<f64> = a.inner(&b);
//! assert_eq!(c, array![[7.0, 10.0], [15.0, 22.0]]);
//! ```
//!
//! - [`InnerExt`]: `inner`, `try_inner`, `inner_into`, `inner_conj`, `inner_axes`
//!   on `Array`, `ArrayView`, `ArrayViewMut`, `ArcArray` and `CowArray`.
//! - [`InnerError`]: every error, with the shapes, in NumPy's words.
//! - [`InnerScalar`]: the element types (floats, complex, integers).
//! - [`InnerDim`]: the typed output dimensions.
//! - [`search`]: exact top-k and range search by inner product, cosine or L2
//!   distance, over arrays or a [`FlatIndex`](search::FlatIndex) with ids and filters.
//! - [`isa()`]: the instruction-set level ([`Isa`]) the kernels run at, detected once
//!   per process and lowered by `NDARRAY_INNER_ISA=portable|avx2|avx512`.
#![warn(missing_docs)]
// `unsafe` is denied crate-wide and allowed, each time with a `// SAFETY:` comment, only in the
// calls into code compiled for a level run-time detection found (src/isa.rs): the AVX2 search
// kernels (src/search/kernel/avx2.rs and their dispatch in kernel/mod.rs) and the integer
// micro-kernels' AVX-512 and AVX2 copies (src/kernel/integer.rs); the gemm crate's raw-pointer
// GEMM (src/kernel/gemm_crate.rs), `madvise` on large outputs (src/output.rs), the file
// mapping of `open_mmap` (src/search/io.rs) and the atomic folder swap of `save`
// (`renameat2`, src/search/save.rs). `forbid` is not possible because ndarray's `s!`
// and multiversion's dispatch expand to code that allows it locally.
#![deny(unsafe_code)]

// Links the system OpenBLAS that ndarray's `blas` feature calls into.
#[cfg(feature = "blas")]
extern crate blas_src;

mod error;
mod ext;
mod isa;
mod kernel;
mod output;
#[doc(hidden)]
pub mod paths;
mod shape;
mod tensordot;
#[doc(hidden)]
pub mod thresholds;

pub use error::InnerError;
pub use ext::{InnerExt, InnerOutput};
pub use isa::{isa, Isa};
pub use kernel::InnerScalar;
pub use shape::InnerDim;
pub mod search;

/// Compiles and runs every `rust` code block of README.md as a doctest, so the README's examples
/// cannot drift from the API (`cargo test --doc`).
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
