//! Each kernel path is taken by the inputs meant for it, and gives the reference's
//! answer there: the crate counts the paths it takes in debug builds
//! (`ndarray_inner::paths`), and each check asserts exactly which ones one call took.
//! `tests/differential.rs` checks that its random cases reach every path too.
//! Half types (`HalfWidened`, then the f32 kernel of each widened block) are checked
//! against NumPy's float16 loop (`tests/common/half.rs`) bit for bit, their sums being
//! exact in f32; bool (`BoolWords`) against the naive OR of ANDs.
#![cfg(debug_assertions)]

mod common;
#[path = "common/half.rs"]
mod half_ref;

use std::collections::BTreeMap;

use common::naive;
use half::{bf16, f16};
use half_ref::{Half, Rule};
use ndarray::{arr0, s, Array, Array2, Array3, ArrayD, ArrayViewD, Axis, IxDyn, ShapeBuilder};
use ndarray_inner::paths::{count, Path};
use ndarray_inner::search::{top_k, FlatIndex, Metric, TopK};
use ndarray_inner::InnerExt;
use num_complex::Complex;

/// The paths `f` took, with how often.
fn taken<R>(f: impl FnOnce() -> R) -> (R, BTreeMap<String, u64>) {
    let before: Vec<u64> = Path::ALL.iter().map(|&p| count(p)).collect();
    let r = f();
    let mut paths = BTreeMap::new();
    for (&p, b) in Path::ALL.iter().zip(before) {
        if count(p) > b {
            paths.insert(format!("{p:?}"), count(p) - b);
        }
    }
    (r, paths)
}

fn expect(paths: &[(Path, u64)]) -> BTreeMap<String, u64> {
    paths.iter().map(|(p, n)| (format!("{p:?}"), *n)).collect()
}

/// `(m, k)` whole numbers, so every sum is exact whatever its order.
fn matrix<A: From<i8>>(m: usize, k: usize, seed: usize) -> Array2<A> {
    Array2::from_shape_fn((m, k), |(i, j)| A::from(((i * 7 + j * 3 + seed) % 11) as i8 - 5))
}

fn complex(m: usize, k: usize, seed: usize) -> Array2<Complex<f64>> {
    let re = matrix::<f64>(m, k, seed);
    let im = matrix::<f64>(m, k, seed + 5);
    ndarray::Zip::from(&re)
        .and(&im)
        .map_collect(|&r, &i| Complex::new(r, i))
}

fn to_c32(a: &Array2<Complex<f64>>) -> Array2<Complex<f32>> {
    a.mapv(|z| Complex::new(z.re as f32, z.im as f32))
}

/// `inner(a, b)` (`inner_conj` if `conj`) checked against the reference, returning the paths taken.
fn checked<A>(a: &ArrayViewD<'_, A>, b: &ArrayViewD<'_, A>, conj: bool) -> BTreeMap<String, u64>
where
    A: naive::Num + ndarray_inner::InnerScalar,
{
    let (got, paths) = taken(|| if conj { a.inner_conj(b) } else { a.inner(b) });
    assert_eq!(got, naive::inner(a, b, conj), "{:?} . {:?}", a.shape(), b.shape());
    paths
}

fn dyn2<A>(a: &Array2<A>) -> ArrayViewD<'_, A> {
    a.view().into_dyn()
}

fn scalar_operand() {
    let a = arr0(3.0f64).into_dyn();
    let b = ArrayD::from_shape_vec(IxDyn(&[2]), vec![1.0, -2.0]).unwrap();
    let (a, b) = (a.view(), b.view());
    assert_eq!(checked(&a, &b, false), expect(&[(Path::Scalar, 1)]));
    assert_eq!(checked(&b, &a, false), expect(&[(Path::Scalar, 1)]));
}

fn float_tiny_matvec_and_gemm() {
    for f32s in [false, true] {
        let run = |m, n, k| {
            if f32s {
                checked(&dyn2(&matrix::<f32>(m, k, 1)), &dyn2(&matrix::<f32>(n, k, 2)), false)
            } else {
                checked(&dyn2(&matrix::<f64>(m, k, 1)), &dyn2(&matrix::<f64>(n, k, 2)), false)
            }
        };
        assert_eq!(run(2, 3, 4), expect(&[(Path::FloatTiny, 1)]));
        assert_eq!(run(8, 8, 8), expect(&[(Path::FloatTiny, 1)]));
        assert_eq!(run(1, 50, 100), expect(&[(Path::FloatMatVec, 1)]));
        assert_eq!(run(50, 1, 100), expect(&[(Path::FloatMatVec, 1)]));
        // Small real GEMMs run on matrixmultiply, larger ones on the `gemm` crate
        // (BLAS builds: every GEMM in BLAS).
        let large = if cfg!(feature = "blas") {
            Path::FloatGemm
        } else {
            Path::GemmCrate
        };
        assert_eq!(run(9, 8, 8), expect(&[(Path::FloatGemm, 1)]));
        const { assert!(40 * 70 * 33 >= ndarray_inner::thresholds::SMALL_GEMM_MACS) };
        assert_eq!(run(40, 70, 33), expect(&[(large, 1)]));
        assert_eq!(run(70, 40, 33), expect(&[(large, 1)]));
    }
}

fn complex_paths() {
    // A complex GEMM runs on the `gemm` crate, which conjugates while packing (BLAS
    // builds: zgemm, the Hermitian one on blocks of conjugated rows).
    let (a, b) = (complex(300, 8, 3), complex(8, 8, 4));
    let (a, b) = (dyn2(&a), dyn2(&b));
    if cfg!(feature = "blas") {
        assert_eq!(checked(&a, &b, false), expect(&[(Path::FloatGemm, 1)]));
        let blocks = expect(&[(Path::ConjBlock, 2), (Path::FloatGemm, 2)]);
        assert_eq!(checked(&a, &b, true), blocks);
    } else {
        assert_eq!(checked(&a, &b, false), expect(&[(Path::GemmCrate, 1)]));
        assert_eq!(checked(&a, &b, true), expect(&[(Path::GemmCrate, 1)]));
        let c32 = (to_c32(&complex(300, 8, 3)), to_c32(&complex(8, 8, 4)));
        assert_eq!(
            checked(&dyn2(&c32.0), &dyn2(&c32.1), true),
            expect(&[(Path::GemmCrate, 1)])
        );
    }

    // A Hermitian matrix-vector product conjugates 256 rows at a time.
    let (a, v) = (complex(300, 16, 3), complex(1, 16, 4));
    let blocks = expect(&[(Path::ConjBlock, 2), (Path::FloatMatVec, 2)]);
    assert_eq!(checked(&dyn2(&a), &dyn2(&v), true), blocks);
    assert_eq!(checked(&dyn2(&to_c32(&a)), &dyn2(&to_c32(&v)), true), blocks);
    let (a, b) = (to_c32(&complex(3, 2, 5)), to_c32(&complex(2, 2, 6)));
    assert_eq!(
        checked(&dyn2(&a), &dyn2(&b), true),
        expect(&[(Path::ConjBlock, 1), (Path::FloatTiny, 1)])
    );
}

fn integer_small_blocked_and_bands() {
    let run = |m, n, k| checked(&dyn2(&matrix::<i32>(m, k, 1)), &dyn2(&matrix::<i32>(n, k, 2)), false);
    assert_eq!(run(2, 3, 4), expect(&[(Path::IntegerSmall, 1)]));
    assert_eq!(run(1, 50, 100), expect(&[(Path::IntegerBlocked, 1)]));
    assert_eq!(run(40, 40, 40), expect(&[(Path::IntegerBlocked, 1)]));

    // 2^21 multiply-adds on two threads: a band of rows each.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let (a, b) = (matrix::<i64>(128, 128, 1), matrix::<i64>(128, 128, 2));
    let (a, b) = (dyn2(&a), dyn2(&b));
    let paths = pool.install(|| checked(&a, &b, false));
    if cfg!(feature = "rayon") {
        assert_eq!(paths, expect(&[(Path::IntegerBlocked, 1), (Path::IntegerBands, 1)]));
    } else {
        assert_eq!(paths, expect(&[(Path::IntegerBlocked, 1)]));
    }
    // One thread: no bands.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    assert_eq!(
        pool.install(|| checked(&a, &b, false)),
        expect(&[(Path::IntegerBlocked, 1)])
    );
}

fn operand_copies_and_output_temporaries() {
    // C order and outer-sliced 3-D operands are views; F order, or a slice of a
    // middle axis, cannot be merged by strides.
    let c3 = Array::from_shape_fn((3, 4, 5), |(i, j, k)| (i * 20 + j * 5 + k) as f64);
    let f3 = Array::from_shape_vec((3, 4, 5).f(), c3.iter().copied().collect()).unwrap();
    let b = matrix::<f64>(2, 5, 1);
    let b = dyn2(&b);
    let tiny = expect(&[(Path::FloatTiny, 1)]);
    let copied = expect(&[(Path::OperandCopy, 1), (Path::FloatTiny, 1)]);
    assert_eq!(checked(&c3.view().into_dyn(), &b, false), tiny);
    assert_eq!(checked(&c3.slice(s![1..3, .., ..]).into_dyn(), &b, false), tiny);
    assert_eq!(checked(&f3.view().into_dyn(), &b, false), copied);
    assert_eq!(checked(&c3.slice(s![.., 1..3, ..]).into_dyn(), &b, false), copied);

    // An F-order output goes through a C-order temporary.
    let (a, b) = (matrix::<f64>(3, 4, 1), matrix::<f64>(2, 4, 2));
    let mut out = Array2::<f64>::zeros((3, 2).f());
    let ((), paths) = taken(|| a.inner_into(&b, &mut out).unwrap());
    assert_eq!(paths, expect(&[(Path::OutTemporary, 1), (Path::FloatTiny, 1)]));
    assert_eq!(out.into_dyn(), naive::inner(&dyn2(&a), &dyn2(&b), false));
}

/// `inner(a, b)` of half-precision `(m, k)` and `(n, k)` whole numbers, checked against
/// NumPy's float16 loop bit for bit (every sum is exact in f32), returning the paths.
fn half_checked<H: Half + From<i8> + ndarray_inner::InnerScalar>(
    m: usize,
    n: usize,
    k: usize,
) -> BTreeMap<String, u64> {
    let (a, b) = (matrix::<H>(m, k, 1), matrix::<H>(n, k, 2));
    let (a, b) = (dyn2(&a), dyn2(&b));
    let (got, paths) = taken(|| a.inner(&b));
    let (want, rules) = half_ref::inner(&a, &b);
    assert!(
        rules.iter().all(|r| *r == Rule::Exact),
        "{m}x{k} . {n}x{k}: sums not exact in f32"
    );
    assert_eq!(got.shape(), want.shape());
    let same = got.iter().zip(&want).all(|(g, w)| g.bits() == w.bits());
    assert!(same, "{} ({m}, {k}) . ({n}, {k}) differs from NumPy's loop", H::NAME);
    paths
}

fn half_widened() {
    for bf in [false, true] {
        let run = |m, n, k| {
            if bf {
                half_checked::<bf16>(m, n, k)
            } else {
                half_checked::<f16>(m, n, k)
            }
        };
        let widened = |then: &[(Path, u64)]| {
            let mut all = vec![(Path::HalfWidened, 1)];
            all.extend_from_slice(then);
            expect(&all)
        };
        // One block each: the f32 kernel f32 operands of that shape would take.
        assert_eq!(run(2, 3, 4), widened(&[(Path::FloatTiny, 1)]));
        assert_eq!(run(1, 50, 100), widened(&[(Path::FloatMatVec, 1)]));
        assert_eq!(run(50, 1, 100), widened(&[(Path::FloatMatVec, 1)]));
        assert_eq!(run(9, 8, 8), widened(&[(Path::FloatGemm, 1)]));
        assert_eq!(run(3, 2, 0), widened(&[(Path::FloatTiny, 1)])); // K = 0: zeros
                                                                    // a in blocks of 512 rows, b (one block) widened once: a GEMM, then one row.
        assert_eq!(run(513, 3, 2), widened(&[(Path::FloatGemm, 1), (Path::FloatTiny, 1)]));
        // Two blocks of a times two of b (2048 rows): four GEMMs, each large enough
        // for the `gemm` crate (88 · 52 · 4 multiply-adds the smallest).
        const { assert!(88 * 52 * 4 >= ndarray_inner::thresholds::SMALL_GEMM_MACS) };
        let large = if cfg!(feature = "blas") {
            Path::FloatGemm
        } else {
            Path::GemmCrate
        };
        assert_eq!(run(600, 2100, 4), widened(&[(large, 4)]));
        // No rows: no kernel.
        assert_eq!(run(0, 3, 4), expect(&[]));
    }
    // A 0-d operand: each product rounded once, no kernel.
    let (s, v) = (
        arr0(f16::from_f32(0.1)).into_dyn(),
        dyn2(&matrix::<f16>(2, 3, 1)).to_owned(),
    );
    let (got, paths) = taken(|| s.inner(&v));
    assert_eq!(paths, expect(&[(Path::Scalar, 1)]));
    assert_eq!(got, half_ref::inner(&s.view(), &v.view()).0);
    // An F-order 3-D operand is copied; an F-order output goes through a temporary.
    let c3 = Array::from_shape_fn((3, 4, 5), |(i, j, k)| f16::from(((i * 20 + j * 5 + k) % 13) as i8 - 6));
    let f3 = Array::from_shape_vec((3, 4, 5).f(), c3.iter().copied().collect()).unwrap();
    let b = matrix::<f16>(2, 5, 1);
    let (got, paths) = taken(|| f3.inner(&b));
    assert_eq!(
        paths,
        expect(&[(Path::OperandCopy, 1), (Path::HalfWidened, 1), (Path::FloatTiny, 1)])
    );
    assert_eq!(got.into_dyn(), half_ref::inner(&f3.view().into_dyn(), &dyn2(&b)).0);
    let a = matrix::<bf16>(3, 4, 1);
    let b = matrix::<bf16>(2, 4, 2);
    let mut out = Array2::from_elem((3, 2).f(), bf16::NAN);
    let ((), paths) = taken(|| a.inner_into(&b, &mut out).unwrap());
    assert_eq!(
        paths,
        expect(&[(Path::OutTemporary, 1), (Path::HalfWidened, 1), (Path::FloatTiny, 1)])
    );
    assert_eq!(out.into_dyn(), half_ref::inner(&dyn2(&a), &dyn2(&b)).0);
}

fn bool_words() {
    // True where the pattern is 5: sparse enough that outputs are true and false.
    let bools = |m, k, seed| matrix::<i8>(m, k, seed).mapv(|x| x == 5);
    let run = |m, n, k| {
        let (a, b) = (bools(m, k, 1), bools(n, k, 2));
        let paths = checked(&dyn2(&a), &dyn2(&b), false);
        let out = naive::inner(&dyn2(&a), &dyn2(&b), false);
        (paths, out.iter().filter(|&&x| x).count(), out.len())
    };
    let words = expect(&[(Path::BoolWords, 1)]);
    let (paths, _, _) = run(2, 3, 4);
    assert_eq!(paths, words);
    // Three 64-bit words per row (the last one partial), b in two blocks of 256 rows.
    let (paths, trues, len) = run(3, 300, 130);
    assert_eq!(paths, words);
    assert!(0 < trues && trues < len, "{trues} of {len} true");
    let (paths, trues, _) = run(2, 3, 0); // K = 0: all false
    assert_eq!((paths, trues), (words.clone(), 0));
    assert_eq!(run(0, 3, 4).0, expect(&[]));
    // inner_conj is inner; a 0-d operand is elementwise AND; an F-order 3-D operand is copied.
    let (a, b) = (bools(4, 70, 3), bools(5, 70, 4));
    assert_eq!(checked(&dyn2(&a), &dyn2(&b), true), words);
    let t = arr0(true).into_dyn();
    assert_eq!(checked(&t.view(), &dyn2(&a), false), expect(&[(Path::Scalar, 1)]));
    let c3 = Array::from_shape_fn((3, 4, 70), |(i, j, k)| (i + 2 * j + 3 * k) % 7 == 0);
    let f3 = Array::from_shape_vec((3, 4, 70).f(), c3.iter().copied().collect()).unwrap();
    assert_eq!(
        checked(&f3.view().into_dyn(), &dyn2(&b), false),
        expect(&[(Path::OperandCopy, 1), (Path::BoolWords, 1)])
    );
}

/// The search paths `f` took, leaving out the products inside.
fn search_paths(f: impl FnOnce() -> TopK<f32>) -> (TopK<f32>, BTreeMap<String, u64>) {
    let (r, mut paths) = taken(f);
    paths.retain(|p, _| p.starts_with("Search"));
    (r, paths)
}

fn search_blocks_and_plans() {
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    // Each case: queries, database, k, and the plan on two threads. On one thread
    // every search is sequential; the answers must not depend on the plan.
    let threaded = |plan| {
        if cfg!(feature = "rayon") {
            plan
        } else {
            Path::SearchSequential
        }
    };
    let cases = [
        // 3 queries x 1000 rows of 64 f32: the few-query kernel, two blocks of 512
        // rows (128 KiB), too small a database for threads.
        (
            matrix::<f32>(3, 64, 1),
            matrix::<f32>(1000, 64, 2),
            5,
            Path::SearchSequential,
            (Path::SearchFewBlock, 2),
        ),
        // 2 queries x 8192 rows: the few-query kernel with the database split in two.
        (
            matrix::<f32>(2, 64, 11),
            matrix::<f32>(8192, 64, 12),
            4,
            threaded(Path::SearchSplitDatabase),
            (Path::SearchFewBlock, 16),
        ),
        // 1030 queries: GEMM, two query blocks.
        (
            matrix::<f32>(1030, 2, 3),
            matrix::<f32>(10, 2, 4),
            3,
            Path::SearchSequential,
            (Path::SearchBlock, 2),
        ),
        // 2^24 multiply-adds of long rows: threaded GEMMs (the database is a 256-row
        // block), with BLAS only.
        (
            matrix::<f32>(1024, 64, 5),
            matrix::<f32>(256, 64, 6),
            4,
            threaded(Path::SearchThreadedGemm),
            (Path::SearchBlock, 1),
        ),
        // Short rows, many queries: the queries split over two tasks, 2 x 2 blocks each.
        (
            matrix::<f32>(4096, 2, 7),
            matrix::<f32>(2048, 2, 8),
            2,
            threaded(Path::SearchSplitQueries),
            (Path::SearchBlock, 8),
        ),
        // Short rows, 64 queries (GEMM): the database split over two tasks, 64 blocks each.
        (
            matrix::<f32>(64, 2, 9),
            matrix::<f32>(131_072, 2, 10),
            3,
            threaded(Path::SearchSplitDatabase),
            (Path::SearchBlock, 128),
        ),
    ];
    // A search's GEMM runs threaded inside only on BLAS's threads (`blas`).
    let cases = cases
        .into_iter()
        .filter(|case| case.3 != Path::SearchThreadedGemm || cfg!(feature = "blas"));
    for (queries, database, k, plan, (block, blocks)) in cases {
        let what = format!("{:?} in {:?}", queries.dim(), database.dim());
        let (seq, seq_paths) = search_paths(|| {
            one.install(|| top_k(&queries, &database, k, Metric::InnerProduct))
                .unwrap()
        });
        assert_eq!(
            seq_paths,
            expect(&[(Path::SearchSequential, 1), (block, blocks)]),
            "{what}"
        );
        let (par, par_paths) = search_paths(|| {
            two.install(|| top_k(&queries, &database, k, Metric::InnerProduct))
                .unwrap()
        });
        assert_eq!(par_paths, expect(&[(plan, 1), (block, blocks)]), "{what}");
        assert_eq!(par.indices, seq.indices, "{what}");
        assert_eq!(par.scores, seq.scores, "{what}");
    }
    // A filtered search gathers the admitted rows, block by block; so does the
    // few-query kernel for a database that is not in C order.
    let (queries, database) = (matrix::<f32>(2, 64, 13), matrix::<f32>(1000, 64, 14));
    let index = FlatIndex::new(database.clone(), Metric::InnerProduct);
    let (hits, paths) = search_paths(|| {
        one.install(|| index.search_filtered(&queries, 3, |id| id % 3 == 0))
            .unwrap()
    });
    let kept = database.select(Axis(0), &(0..1000).step_by(3).collect::<Vec<_>>());
    let want = top_k(&queries, &kept, 3, Metric::InnerProduct).unwrap();
    assert_eq!(hits.indices, want.indices.mapv(|i| 3 * i));
    assert_eq!(
        paths,
        expect(&[
            (Path::SearchSequential, 1),
            (Path::SearchFewBlock, 1),
            (Path::SearchGather, 1)
        ])
    );
    let columns = database.t().as_standard_layout().into_owned();
    let (by_columns, paths) = search_paths(|| {
        one.install(|| top_k(&queries, &columns.t(), 3, Metric::InnerProduct))
            .unwrap()
    });
    assert_eq!(by_columns, top_k(&queries, &database, 3, Metric::InnerProduct).unwrap());
    assert_eq!(
        paths,
        expect(&[
            (Path::SearchSequential, 1),
            (Path::SearchFewBlock, 2),
            (Path::SearchGather, 2)
        ])
    );
    // L2 measures its candidates exactly: the first k rows of each query at once,
    // then each 32-score chunk that holds a candidate (two chunks after them here).
    let (queries, database) = (matrix::<f32>(2, 8, 15), matrix::<f32>(50, 8, 16));
    let (_, mut paths) = search_paths(|| one.install(|| top_k(&queries, &database, 3, Metric::L2)).unwrap());
    let exact = paths.remove("SearchL2Exact").unwrap_or(0);
    assert!((2..=6).contains(&exact), "{exact} exact measurements");
    assert_eq!(paths, expect(&[(Path::SearchSequential, 1), (Path::SearchFewBlock, 1)]));
    // A half-precision index searched by enough queries for GEMM: its blocks are widened
    // to f32 (how many, and the plan around them, are the search's to choose: only the
    // widening is pinned here), and the answer is the f32 index's (whole numbers: exact).
    let (queries, database) = (matrix::<f32>(64, 8, 17), matrix::<f32>(1000, 8, 18));
    let half = FlatIndex::new(database.mapv(f16::from_f32), Metric::InnerProduct);
    let (hits, paths) = search_paths(|| one.install(|| half.search(&queries, 3)).unwrap());
    assert!(paths.contains_key("SearchWiden"), "{paths:?}");
    let want = FlatIndex::new(database, Metric::InnerProduct)
        .search(&queries, 3)
        .unwrap();
    assert_eq!(hits.indices, want.indices);
    assert_eq!(hits.scores, want.scores);
}

/// `tensordot` merges each operand's groups of axes by strides into one kernel call:
/// no copy for C order, for F order (the pairs laid out in memory order), for a
/// broadcast single-axis group; one copy for an operand whose free axes cannot merge,
/// or whose contracted axes are in the other operand's opposite memory order. A 0-d
/// operand goes through the kernel too (no `Scalar` path).
fn tensordot_views_and_copies() {
    let c =
        |shape: (usize, usize, usize)| Array::from_shape_fn(shape, |(i, j, k)| ((i * 7 + j * 3 + k) % 11) as f64 - 5.0);
    let fortran = |a: &Array3<f64>| {
        let mut f = Array3::zeros(a.raw_dim().f());
        f.assign(a);
        f
    };
    let run = |a: ArrayViewD<'_, f64>, b: ArrayViewD<'_, f64>, axes_a: &[usize], axes_b: &[usize]| {
        let (pa, pb): (Vec<Axis>, Vec<Axis>) = (
            axes_a.iter().map(|&i| Axis(i)).collect(),
            axes_b.iter().map(|&i| Axis(i)).collect(),
        );
        let (got, paths) = taken(|| a.tensordot(&b, &pa, &pb));
        // Against inner over the same contraction, the operands copied into C order
        // with the contracted axes last (the paths of those calls are not counted).
        let last = |v: &ArrayViewD<'_, f64>, axes: &[usize]| {
            let mut order: Vec<usize> = (0..v.ndim()).filter(|i| !axes.contains(i)).collect();
            order.extend_from_slice(axes);
            let moved = v.view().permuted_axes(IxDyn(&order));
            let free: usize = moved.shape()[..v.ndim() - axes.len()].iter().product();
            let k: usize = moved.shape()[v.ndim() - axes.len()..].iter().product();
            moved
                .as_standard_layout()
                .into_owned()
                .into_shape_with_order((free, k))
                .unwrap()
        };
        let want = naive::inner(&dyn2(&last(&a, axes_a)), &dyn2(&last(&b, axes_b)), false);
        assert_eq!(got.as_slice().unwrap(), want.as_slice().unwrap());
        paths
    };
    let tiny = expect(&[(Path::FloatTiny, 1)]);
    let copied = expect(&[(Path::OperandCopy, 1), (Path::FloatTiny, 1)]);
    let (a, b) = (c((2, 3, 4)), c((3, 4, 5)));
    assert_eq!(run(a.view().into_dyn(), b.view().into_dyn(), &[1, 2], &[0, 1]), tiny);
    let (fa, fb) = (fortran(&a), fortran(&b));
    assert_eq!(run(fa.view().into_dyn(), fb.view().into_dyn(), &[1, 2], &[0, 1]), tiny);
    // F order, two free axes: they cannot merge row-major.
    let b_lead = c((4, 5, 2));
    assert_eq!(run(fa.view().into_dyn(), b_lead.view().into_dyn(), &[2], &[0]), copied);
    // Pairs crossed against b's memory order: one of the two operands is copied.
    let b_crossed = c((4, 3, 5));
    assert_eq!(
        run(a.view().into_dyn(), b_crossed.view().into_dyn(), &[1, 2], &[1, 0]),
        copied
    );
    // A broadcast contracted axis alone in its group is a zero stride, no copy.
    let column = Array2::from_shape_fn((3, 1), |(i, _)| i as f64 + 1.0);
    let wide = column.broadcast((3, 4)).unwrap().into_dyn();
    let m = c((4, 2, 1)).into_shape_with_order((4, 2)).unwrap();
    assert_eq!(run(wide, m.view().into_dyn(), &[1], &[0]), tiny);
    // Broadcast beside another free axis: copied.
    let row = c((2, 1, 4));
    let spread = row.broadcast((2, 3, 4)).unwrap().into_dyn();
    assert_eq!(run(spread, m.view().into_dyn(), &[2], &[0]), copied);
    // A 0-d operand: the outer product through the kernel.
    let s = arr0(2.0).into_dyn();
    assert_eq!(run(s.view(), m.view().into_dyn(), &[], &[]), tiny);
}

/// One test, so that no other test's calls land in the counters between a call and
/// its check, and so that it can tell whether the cases above reached every path.
#[test]
fn each_path_is_taken_by_its_inputs_and_every_path_is_reached() {
    // The search plans depend on whether the GEMM has threads of its own: fix that
    // before any search, as CI's 2 cores would.
    std::env::set_var("MATMUL_NUM_THREADS", "2");
    std::env::set_var("OPENBLAS_NUM_THREADS", "2");
    scalar_operand();
    float_tiny_matvec_and_gemm();
    complex_paths();
    integer_small_blocked_and_bands();
    operand_copies_and_output_temporaries();
    half_widened();
    bool_words();
    search_blocks_and_plans();
    tensordot_views_and_copies();
    let missed: Vec<Path> = Path::ALL
        .into_iter()
        .filter(|&p| p.is_compiled() && count(p) == 0)
        .collect();
    assert!(missed.is_empty(), "paths with no case here: {missed:?}");
}
