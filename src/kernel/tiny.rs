//! When a product is too small for a blocked kernel: the one threshold every kernel
//! (float GEMM, complex, integer) uses to take its dot-product path.

/// Up to this many multiply-adds a loop of dot products beats any kernel's setup,
/// whatever the shape: 8·8·8 f64 takes 0.31 µs either way through GEMM; i64
/// 0.38 µs against 0.53 µs packed (12³: 0.89 µs against 0.78 µs)...
pub const TINY_MACS: usize = 512;
/// ...and up to this many for outputs of at most [`TINY_OUTPUTS`] elements (long
/// dot products: (3,100).(5,100) f64 0.51 µs against 0.78 µs through GEMM, i64
/// 0.7 µs against 1.6 µs packed). Wider outputs go to the blocked kernels, which
/// reuse loaded rows in registers: (32,4).(32,4) f64 0.6 µs against 1.8 µs as dot
/// products, i64 1.0 µs against 2.7 µs.
pub const TINY_LONG_MACS: usize = 4096;
/// See [`TINY_LONG_MACS`].
pub const TINY_OUTPUTS: usize = 16;

/// Whether `(m, k) . (n, k)` takes the dot-product path.
pub fn is_tiny(m: usize, n: usize, k: usize) -> bool {
    let outputs = m.saturating_mul(n);
    let macs = outputs.saturating_mul(k);
    macs <= TINY_MACS || (outputs <= TINY_OUTPUTS && macs <= TINY_LONG_MACS)
}
