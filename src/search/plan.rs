//! How a search runs: which kernel computes the inner products and how the
//! work is split over threads, as a pure function of the sizes, of the thread
//! counts and of the instruction-set level (all passed in, never read here), so
//! that a unit test can check every decision at every level.

use crate::isa::Isa;

/// Which kernel computes a block's inner products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// `kernel::dots_few`: register tiles, each block of database rows read once
    /// for all the queries, no packing. Up to [`FEW_QUERIES_MAX`] queries.
    Few,
    /// The GEMM of `inner` (matrixmultiply, or BLAS), on blocks of up to
    /// [`QUERY_BLOCK`] queries by [`GEMM_DB_BLOCK_BYTES`] of database rows.
    Gemm,
}

/// How the threads share a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Split {
    /// Everything on the calling thread.
    Sequential,
    /// One block after the other, each GEMM threaded inside (BLAS's threads),
    /// the scan of each block split over the rayon threads.
    ThreadedGemm,
    /// The queries split into this many rayon tasks.
    Queries(usize),
    /// The database split into this many rayon tasks, results merged.
    Database(usize),
}

/// A search's plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub kernel: Kernel,
    pub split: Split,
}

/// Most queries that take `Kernel::Few`; more go to GEMM (see `few_queries_max`, which
/// gives it per instruction-set level with the figures).
pub const FEW_QUERIES_MAX: usize = 16;

/// Most queries that take `Kernel::Few` at `isa`. One thread, f32, k = 10
/// (`examples/search.rs --random N,d,Q`), few-query kernel / GEMM:
/// - `Isa::Avx2`, CI's 2-core AMD EPYC (Zen 1), medians of 10: `(100000, 128)` 16
///   queries 21.0 / 23.0 ms, 32 queries 38.1 / 34.1 ms; `(20000, 768)` 16 queries
///   20.1 / 23.5 ms, 32 queries 36.8 / 37.0 ms.
/// - `Isa::Avx512`, a 2-core AMD EPYC Zen 4 (the AVX2 kernels, the `gemm` crate's
///   AVX-512 GEMM): `(100000, 128)` 16 queries 9.4 ms few-query, 17 queries 12.4 ms
///   and 32 queries 17.0 ms by GEMM; `(20000, 768)` 12.5 ms, 18.9 ms and 23.4 ms.
/// - `Isa::Portable` (the plain-Rust tiles, which `multiversion` still compiles for
///   the CPU's vectors), on that Zen 4: 16 queries 9.1 ms and 12.1 ms, 17 by GEMM
///   15.0 and 17.6 ms.
///
/// The same crossover at every level measured.
pub const fn few_queries_max(isa: Isa) -> usize {
    match isa {
        Isa::Portable | Isa::Avx2 | Isa::Avx512 => FEW_QUERIES_MAX,
    }
}
/// Rows of queries per GEMM block (more queries form several blocks).
pub const QUERY_BLOCK: usize = 1024;
/// Bytes of database rows' scores per query in a GEMM block: 1024 scores of
/// f32, 512 of f64. With [`QUERY_BLOCK`] the scratch block is 4 MiB.
pub const GEMM_DB_BLOCK_BYTES: usize = 4096;
/// Bytes of database rows per `Kernel::Few` block: 128 KiB stays in the L2
/// cache while every query tile passes over it.
pub const FEW_DB_BLOCK_BYTES: usize = 128 << 10;

/// Below this many multiply-adds (`Q·N·d`) a GEMM search stays on the calling
/// thread: thread start-up would cost more than it saves.
pub const PARALLEL_MIN_MACS: usize = 1 << 24;
/// Below this many database elements read (`N·d`) a `Kernel::Few` search stays
/// on the calling thread (a 1 MiB f32 database takes about 40 µs to read).
pub const PARALLEL_MIN_ELEMENTS: usize = 1 << 18;
/// Fewest queries per task when the queries are split over threads.
pub const MIN_QUERIES_PER_TASK: usize = 64;
/// With BLAS threads (the `blas` feature), a GEMM block is worth threading
/// inside from `(m + n)·k >= 2^15` multiply-adds' worth of operands on (where
/// matrixmultiply, measured first, gave a product a second thread).
pub const GEMM_THREADED_MIN_OPERANDS: usize = 1 << 15;

/// Database rows per block for `kernel` and elements of `elem_bytes` bytes.
pub(crate) fn db_block_rows(kernel: Kernel, d: usize, elem_bytes: usize) -> usize {
    match kernel {
        Kernel::Gemm => GEMM_DB_BLOCK_BYTES / elem_bytes.max(1),
        // Whole tiles of 4 rows, at least 16 rows.
        Kernel::Few => (FEW_DB_BLOCK_BYTES / (d.max(1) * elem_bytes.max(1))).max(16) / 4 * 4,
    }
}

/// The plan for `q` queries against `n` rows of length `d`: `threads` rayon
/// threads (1 without the `rayon` feature), `gemm_threaded` whether the GEMM has
/// threads of its own (the `gemm` crate's or BLAS's), `isa` the level in use.
pub(crate) fn plan(
    q: usize,
    n: usize,
    d: usize,
    elem_bytes: usize,
    threads: usize,
    gemm_threaded: bool,
    isa: Isa,
) -> Plan {
    let kernel = if q <= few_queries_max(isa) {
        Kernel::Few
    } else {
        Kernel::Gemm
    };
    let split = split(kernel, q, n, d, elem_bytes, threads, gemm_threaded);
    Plan { kernel, split }
}

fn split(
    kernel: Kernel,
    q: usize,
    n: usize,
    d: usize,
    elem_bytes: usize,
    threads: usize,
    gemm_threaded: bool,
) -> Split {
    if threads <= 1 {
        return Split::Sequential;
    }
    let blocks = n.div_ceil(db_block_rows(kernel, d, elem_bytes).max(1));
    match kernel {
        Kernel::Few => {
            // Memory-bound: each thread reads its own part of the database.
            let parts = threads.min(blocks);
            if n.saturating_mul(d.max(1)) >= PARALLEL_MIN_ELEMENTS && parts > 1 {
                Split::Database(parts)
            } else {
                Split::Sequential
            }
        }
        Kernel::Gemm => {
            if q.saturating_mul(n).saturating_mul(d.max(1)) < PARALLEL_MIN_MACS {
                return Split::Sequential;
            }
            let operands = d.saturating_mul(q.min(QUERY_BLOCK) + n.min(db_block_rows(kernel, d, elem_bytes)));
            if gemm_threaded && operands >= GEMM_THREADED_MIN_OPERANDS {
                Split::ThreadedGemm
            } else if q >= threads * MIN_QUERIES_PER_TASK {
                Split::Queries(threads.min(q.div_ceil(MIN_QUERIES_PER_TASK)))
            } else if blocks > 1 {
                Split::Database(threads.min(blocks))
            } else {
                Split::Sequential
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F32: usize = 4;

    #[test]
    fn few_queries_split_the_database_once_it_is_worth_a_thread() {
        // One query, (100000, 128): every thread reads its part.
        let p = plan(1, 100_000, 128, F32, 2, true, Isa::Avx2);
        assert_eq!(
            p,
            Plan {
                kernel: Kernel::Few,
                split: Split::Database(2)
            }
        );
        assert_eq!(
            plan(16, 20_000, 768, F32, 4, false, Isa::Avx2).split,
            Split::Database(4)
        );
        // A small database stays on the calling thread; so does one thread.
        assert_eq!(plan(1, 1000, 128, F32, 2, true, Isa::Avx2).split, Split::Sequential);
        assert_eq!(plan(16, 100_000, 128, F32, 1, true, Isa::Avx2).split, Split::Sequential);
        // Never more parts than blocks (of 128 KiB: 256 rows of 128, 16 of 8192).
        assert_eq!(plan(1, 2048, 128, F32, 8, true, Isa::Avx2).split, Split::Database(8));
        assert_eq!(plan(1, 40, 8192, F32, 8, true, Isa::Avx2).split, Split::Database(3));
    }

    #[test]
    fn many_queries_take_gemm_threaded_inside_or_split() {
        assert_eq!(
            plan(FEW_QUERIES_MAX, 10, 4, F32, 1, false, Isa::Avx2).kernel,
            Kernel::Few
        );
        assert_eq!(
            plan(FEW_QUERIES_MAX + 1, 10, 4, F32, 1, false, Isa::Avx2).kernel,
            Kernel::Gemm
        );
        // (1000, 128) queries: the GEMM's own threads, scans on rayon.
        assert_eq!(
            plan(1000, 100_000, 128, F32, 2, true, Isa::Avx2).split,
            Split::ThreadedGemm
        );
        // A single-threaded GEMM: the queries split, or, for too few, the database.
        assert_eq!(
            plan(1000, 100_000, 128, F32, 2, false, Isa::Avx2).split,
            Split::Queries(2)
        );
        assert_eq!(
            plan(100, 100_000, 128, F32, 2, false, Isa::Avx2).split,
            Split::Database(2)
        );
        // Short rows: too small for the GEMM to thread.
        assert_eq!(plan(4096, 2048, 2, F32, 2, true, Isa::Avx2).split, Split::Queries(2));
        // Too little work for threads at all.
        assert_eq!(plan(100, 100, 8, F32, 2, true, Isa::Avx2).split, Split::Sequential);
    }

    /// The same decisions at every level (the figures of `few_queries_max`).
    #[test]
    fn every_level_plans_alike() {
        for isa in Isa::ALL {
            assert_eq!(few_queries_max(isa), FEW_QUERIES_MAX);
            assert_eq!(plan(16, 100_000, 128, F32, 2, true, isa).kernel, Kernel::Few, "{isa}");
            assert_eq!(plan(17, 100_000, 128, F32, 2, true, isa).kernel, Kernel::Gemm, "{isa}");
            assert_eq!(
                plan(1, 100_000, 128, F32, 2, true, isa).split,
                Split::Database(2),
                "{isa}"
            );
        }
    }

    #[test]
    fn block_sizes() {
        assert_eq!(db_block_rows(Kernel::Gemm, 128, 4), 1024);
        assert_eq!(db_block_rows(Kernel::Gemm, 128, 8), 512);
        assert_eq!(db_block_rows(Kernel::Few, 128, 4), 256);
        assert_eq!(db_block_rows(Kernel::Few, 768, 4), 40);
        assert_eq!(db_block_rows(Kernel::Few, 100_000, 8), 16);
    }
}
