//! The test kit's half-precision rules (`ndarray_inner_test_kit::half`), for the tests
//! that declare `#[path = "common/half.rs"] mod half_ref;`.
#![allow(unused_imports)]

pub use ndarray_inner_test_kit::half::*;
