//! The blocked search: queries by blocks of database rows, each block's inner
//! products computed by the plan's kernel into a reused scratch block and handed,
//! a query's row at a time, to that query's collector; the threads share the
//! work as the plan says. The `Q x N` score matrix is never made.

use std::ops::Range;

use ndarray::{s, ArrayView2, ArrayViewMut2, ShapeBuilder};

use super::collect::{Block, Collector, Ctx, Query};
use super::heap::BlockRows;
use super::kernel::{dots_few, norms_into};
use super::metric::Metric;
use super::plan::{db_block_rows, Kernel, Plan, Split, QUERY_BLOCK};
use super::storage::{extend_widened, StoredScalar};
use super::SearchScalar;
use crate::kernel::Threads;
use crate::paths::{record, Path};

/// One search's inputs, after the checks: queries of the computing type `A`,
/// a database stored as `S` (`A` itself, or a half type widened block by block).
pub(crate) struct Search<'a, A, S = A> {
    pub metric: Metric,
    /// `(Q, d)`, any layout.
    pub queries: ArrayView2<'a, A>,
    /// `(N, d)`, any layout.
    pub db: ArrayView2<'a, S>,
    /// `|x|` of every database row, when the caller keeps them (an index);
    /// otherwise the norms are computed block by block, while the rows are in cache.
    pub db_norms: Option<&'a [A]>,
    /// For a filtered search, the database rows that may be returned, ascending.
    pub rows: Option<&'a [usize]>,
    /// The caller's id of each database row (an index with ids): results hold
    /// ids and break ties by them. `None`: the ids are the rows.
    pub ids: Option<&'a [usize]>,
}

/// Rows of queries per task at least, when a GEMM block's scan is split.
#[cfg(feature = "rayon")]
const MIN_SCAN_ROWS: usize = 64;

impl<'a, A: SearchScalar> Search<'a, A> {
    /// A search of a whole database given as an array: no norms kept, no
    /// filter, ids are rows.
    pub fn of_arrays(metric: Metric, queries: ArrayView2<'a, A>, db: ArrayView2<'a, A>) -> Self {
        Search {
            metric,
            queries,
            db,
            db_norms: None,
            rows: None,
            ids: None,
        }
    }
}

impl<'a, A: SearchScalar, S: StoredScalar<Compute = A>> Search<'a, A, S> {
    /// The rows searched: all of the database, or the admitted ones.
    pub fn n_rows(&self) -> usize {
        self.rows.map_or(self.db.nrows(), <[usize]>::len)
    }

    /// Runs the search by `plan`, one collector per query made by `make`. The
    /// result holds, for each part of the database searched on its own, every
    /// query's finished collector (one part unless the plan splits the database).
    pub fn run<C: Collector<A, S>>(&self, plan: Plan, make: impl Fn() -> C + Sync) -> Vec<Vec<C>> {
        let q = self.queries.nrows();
        let n = self.n_rows();
        let ctx = Ctx::new(self.metric, self.db, self.ids);
        let collectors = || -> Vec<C> { (0..q).map(|_| make()).collect() };
        #[cfg(not(feature = "rayon"))]
        let plan = Plan {
            split: Split::Sequential,
            ..plan
        };
        record(match plan.split {
            Split::Sequential => Path::SearchSequential,
            Split::ThreadedGemm => Path::SearchThreadedGemm,
            Split::Queries(_) => Path::SearchSplitQueries,
            Split::Database(_) => Path::SearchSplitDatabase,
        });
        match plan.split {
            Split::Sequential | Split::ThreadedGemm => {
                let mut all = collectors();
                let par_scan = plan.split == Split::ThreadedGemm;
                self.run_part(&ctx, plan.kernel, 0, 0..n, &mut all, par_scan);
                vec![all]
            }
            #[cfg(feature = "rayon")]
            Split::Queries(tasks) => {
                use rayon::prelude::*;
                let mut all = collectors();
                let per = q.div_ceil(tasks).max(1);
                all.par_chunks_mut(per).enumerate().for_each(|(c, part)| {
                    self.run_part(&ctx, plan.kernel, c * per, 0..n, part, false);
                });
                vec![all]
            }
            #[cfg(feature = "rayon")]
            Split::Database(parts) => {
                use rayon::prelude::*;
                // Parts of whole blocks: each block is then the same rows as in the
                // sequential plan, so a GEMM whose rounding depends on its block's
                // shape (OpenBLAS's edge kernels) gives the same scores.
                let nb = db_block_rows(plan.kernel, self.queries.ncols(), std::mem::size_of::<A>()).max(1);
                let per = n.div_ceil(parts).div_ceil(nb).max(1) * nb;
                (0..n.div_ceil(per))
                    .into_par_iter()
                    .map(|p| {
                        let mut part = collectors();
                        self.run_part(&ctx, plan.kernel, 0, p * per..((p + 1) * per).min(n), &mut part, false);
                        part
                    })
                    .collect()
            }
            #[cfg(not(feature = "rayon"))]
            Split::Queries(_) | Split::Database(_) => unreachable!("no threads without the rayon feature"),
        }
    }

    /// Searches positions `positions` of the rows for the queries
    /// `q_first..q_first + collectors.len()`, one collector each, and finishes them.
    /// With `par_scan` each block's rows are handed over on the rayon threads.
    fn run_part<C: Collector<A, S>>(
        &self,
        ctx: &Ctx<'_, A, S>,
        kernel: Kernel,
        q_first: usize,
        positions: Range<usize>,
        collectors: &mut [C],
        par_scan: bool,
    ) {
        let d = self.queries.ncols();
        let qb = match kernel {
            Kernel::Few => collectors.len().max(1),
            Kernel::Gemm => QUERY_BLOCK,
        };
        let nb = db_block_rows(kernel, d, std::mem::size_of::<A>())
            .min(positions.len())
            .max(1);
        let uses_norms = self.metric.uses_norms();
        let mut q_c: Vec<A> = Vec::with_capacity(qb.min(collectors.len()) * d);
        let mut q_f: Vec<A> = Vec::new();
        let mut q_norms: Vec<A> = Vec::new();
        let mut gathered: Vec<A> = Vec::new();
        let mut x_norms: Vec<A> = Vec::new();
        let mut scores = vec![A::zero(); qb.min(collectors.len()) * nb];
        for (b, group) in collectors.chunks_mut(qb).enumerate() {
            let q0 = q_first + b * qb;
            let q1 = q0 + group.len();
            let qv = self.queries.slice(s![q0..q1, ..]);
            // The queries in C order: contiguous rows for the kernels and collectors.
            q_c.clear();
            match qv.as_slice() {
                Some(rows) => q_c.extend_from_slice(rows),
                None => q_c.extend(qv.rows().into_iter().flat_map(|r| r.into_iter().copied())),
            }
            q_norms.clear();
            if uses_norms {
                norms_into(&q_c, q1 - q0, &mut q_norms);
            } else {
                q_norms.resize(q1 - q0, A::zero());
            }
            if kernel == Kernel::Gemm {
                // And in F order, copied once per block: the GEMM then packs it
                // with contiguous copies instead of a strided gather per block.
                q_f.clear();
                for column in qv.columns() {
                    q_f.extend(column.iter().copied());
                }
            }
            let mut p0 = positions.start;
            while p0 < positions.end {
                let p1 = (p0 + nb).min(positions.end);
                let width = p1 - p0;
                // One query against rows stored in half precision: widened in
                // registers by the kernel. More queries share one widened block
                // (16 queries on (100000, 128) f16: 33 ms widening in registers
                // for every pair of queries, 22 ms through the block).
                let stored = match kernel {
                    Kernel::Few if group.len() == 1 => self.stored_rows(p0..p1),
                    _ => None,
                };
                let block = match stored {
                    Some(_) => None,
                    None => Some(self.block(p0..p1, kernel, &mut gathered)),
                };
                x_norms.clear();
                if uses_norms {
                    self.block_norms(p0..p1, block, &mut x_norms);
                }
                let out = &mut scores[..(q1 - q0) * width];
                match (kernel, block) {
                    (Kernel::Few, None) => {
                        record(Path::SearchFewBlock);
                        S::dots_few(&q_c, stored.expect("no block: stored rows"), d, out);
                    }
                    (Kernel::Few, Some(block)) => {
                        record(Path::SearchFewBlock);
                        dots_few(&q_c, block.as_slice().expect("few-query blocks are contiguous"), d, out);
                    }
                    (Kernel::Gemm, block) => {
                        record(Path::SearchBlock);
                        let block = block.expect("GEMM blocks are computing-type views");
                        let q_blk = ArrayView2::from_shape((q1 - q0, d).f(), &q_f[..]).expect("q_f holds the block");
                        let o =
                            ArrayViewMut2::from_shape((q1 - q0, width), &mut *out).expect("scratch holds the block");
                        // The GEMM's own threads only where the plan gives it the
                        // threads (`ThreadedGemm`); inside a split, one thread each.
                        let threads = if par_scan { Threads::current() } else { Threads(1) };
                        A::inner_2d_on(q_blk, block, o, threads);
                    }
                }
                let rows = BlockRows {
                    start: p0,
                    listed: self.rows,
                    ids: self.ids,
                };
                let info = Block { rows, norms: &x_norms };
                let offer = |(r, (row, c)): (usize, (&mut [A], &mut C))| {
                    let query = Query {
                        row: &q_c[r * d..(r + 1) * d],
                        norm: q_norms[r],
                    };
                    c.offer(ctx, &query, row, &info);
                };
                if par_scan {
                    #[cfg(feature = "rayon")]
                    {
                        use rayon::prelude::*;
                        out.par_chunks_exact_mut(width)
                            .zip(group.par_iter_mut())
                            .enumerate()
                            .with_min_len(MIN_SCAN_ROWS)
                            .for_each(offer);
                    }
                } else {
                    out.chunks_exact_mut(width)
                        .zip(group.iter_mut())
                        .enumerate()
                        .for_each(offer);
                }
                p0 = p1;
            }
            for (r, c) in group.iter_mut().enumerate() {
                let query = Query {
                    row: &q_c[r * d..(r + 1) * d],
                    norm: q_norms[r],
                };
                c.finish(ctx, &query);
            }
        }
    }

    /// The database rows at `positions` in the computing type: a view of the
    /// database where it can be, else gathered into `gathered` (listed rows of a
    /// filtered search, a block that is not contiguous for the few-query kernel,
    /// or rows stored in half precision, widened).
    fn block<'s>(&'s self, positions: Range<usize>, kernel: Kernel, gathered: &'s mut Vec<A>) -> ArrayView2<'s, A> {
        let d = self.db.ncols();
        gathered.clear();
        match self.rows {
            None => match S::compute_view(self.db.slice_move(s![positions.clone(), ..])) {
                Ok(view) if kernel == Kernel::Gemm || view.as_slice().is_some() => return view,
                Ok(view) => {
                    record(Path::SearchGather);
                    gathered.extend(view.rows().into_iter().flat_map(|r| r.into_iter().copied()));
                }
                Err(stored) => {
                    record(Path::SearchWiden);
                    for row in stored.rows() {
                        extend_widened(row, gathered);
                    }
                }
            },
            Some(listed) => {
                record(Path::SearchGather);
                for &r in &listed[positions.clone()] {
                    extend_widened(self.db.row(r), gathered);
                }
            }
        }
        ArrayView2::from_shape((positions.len(), d), &gathered[..]).expect("gathered holds the block")
    }

    /// The stored rows at `positions` as one slice, for the few-query kernel to
    /// widen in registers: rows stored in half precision, unfiltered and
    /// contiguous, with their norms kept (an index) when the metric needs them.
    fn stored_rows(&self, positions: Range<usize>) -> Option<&'a [S]> {
        if self.rows.is_some() || (self.metric.uses_norms() && self.db_norms.is_none()) {
            return None;
        }
        match S::compute_view(self.db.slice_move(s![positions, ..])) {
            Ok(_) => None,
            Err(stored) => stored.to_slice(),
        }
    }

    /// `|x|` of the rows at `positions` (whose rows are `block`, given unless the
    /// norms are kept) into `out`.
    fn block_norms(&self, positions: Range<usize>, block: Option<ArrayView2<'_, A>>, out: &mut Vec<A>) {
        match (self.db_norms, self.rows) {
            (Some(all), None) => out.extend_from_slice(&all[positions]),
            (Some(all), Some(listed)) => out.extend(listed[positions].iter().map(|&r| all[r])),
            (None, _) => {
                let block = block.expect("a block where no norms are kept");
                match block.as_slice() {
                    Some(rows) => norms_into(rows, block.nrows(), out),
                    None => {
                        let mut row_buf = Vec::with_capacity(block.ncols());
                        for row in block.rows() {
                            row_buf.clear();
                            row_buf.extend(row.iter().copied());
                            norms_into(&row_buf, 1, out);
                        }
                    }
                }
            }
        }
    }
}
