//! The test kit (`crates/test-kit`) under the names `tests/paths.rs` still uses;
//! the other tests use `ndarray_inner_test_kit` directly.
#![allow(unused_imports)]

pub mod naive {
    pub use ndarray_inner_test_kit::naive::*;
    pub use ndarray_inner_test_kit::Elem as Num;
}
