//! Shared by the integration tests: the naive reference and the layout makers.
#![allow(dead_code)]

pub mod layout;
pub mod naive;
mod rng;

#[allow(unused_imports)] // not every test binary draws random numbers
pub use rng::Rng;
