//! Test support for `ndarray-inner`, shared by its integration tests, benchmarks,
//! benchmark driver, fuzz target and BLAS mock tests:
//!
//! - [`Elem`]: the one element trait of the test values: the type's arithmetic as the
//!   reference uses it (wrapping integers, IEEE floats, `f16`/`bf16` summed in `f32`
//!   and rounded once, `bool` OR of ANDs, complex with optional conjugation) and its
//!   deterministic generators.
//! - [`naive`]: the reference for `inner`, `inner_conj` and `inner_axes`: plain loops
//!   over the index space, sharing no code with the crate.
//! - [`half`]: how far a half-precision result may lie from the reference, and why.
//! - [`layout`]: operands in every memory layout with the same logical values.
//! - [`Rng`]: a small seeded generator, so nothing needs `rand`.
//! - [`panic_message`], [`payload_message`], [`with_threads`].
//!
//! It does not depend on `ndarray-inner` (features would unify into the crate under
//! test): it works on plain ndarray, num-complex and half values, and its users add
//! the `InnerScalar` bound where they call the crate.

mod elem;
pub mod half;
pub mod layout;
pub mod naive;
mod panics;
mod rng;

pub use elem::{counter_value, filled, random_array, Elem};
pub use panics::{panic_message, payload_message, with_threads};
pub use rng::Rng;
