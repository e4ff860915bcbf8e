//! Panics and thread pools in tests.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The message of a caught panic's payload (`"(not a string)"` if it has none).
pub fn payload_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "(not a string)".to_string(), |s| s.to_string()),
    }
}

/// Runs `f`, which must panic, and returns its message.
///
/// # Panics
/// If `f` returns.
pub fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("should panic");
    payload_message(payload)
}

/// Runs `f` in a rayon pool of `threads` threads, so that the parallel paths run
/// whatever the machine. Without the crate's `rayon` feature the crate has no
/// threads of its own and the pool just runs `f`.
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a rayon pool")
        .install(f)
}
