//! Exact top-k search: `top_k` and `FlatIndex::search` on the issue's target sizes,
//! cosine, f64, single-query latency, `TopK::merge`, `cosine_similarity`, and the
//! "today" approach the search replaces (the full `inner` matrix, then a sort of
//! every row). Throughput is in queries (criterion's "elem/s" reads queries/s).
//!
//! ```text
//! cargo bench --bench search                                   # default threads
//! RAYON_NUM_THREADS=1 MATMUL_NUM_THREADS=1 cargo bench --bench search
//! cargo bench --bench search -- 'top_k/ip'                     # one group
//! ```
//!
//! faiss and NumPy on the same data: `python3 scripts/bench_search.py`.
//! The large cases take about 0.3 s per search, so samples are few; raise
//! `--sample-size` for steadier figures.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::{s, Array2};
use ndarray_inner::search::{cosine_similarity, top_k, FlatIndex, Metric, TopK};
use ndarray_inner::InnerExt;

use ndarray_inner_test_kit::Rng;

/// A `shape` matrix uniform in `[-1, 1)`, the same on every run.
fn matrix_f32(rng: &mut Rng, shape: (usize, usize)) -> Array2<f32> {
    Array2::from_shape_simple_fn(shape, || rng.unit() as f32)
}

fn large(c: &mut Criterion) {
    let mut rng = Rng(1);
    let mut group = c.benchmark_group("top_k");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for &(n, d) in &[(100_000usize, 128usize), (20_000, 768)] {
        let db = matrix_f32(&mut rng, (n, d));
        let queries = matrix_f32(&mut rng, (1000, d));
        group.throughput(Throughput::Elements(1000));
        group.bench_function(BenchmarkId::new("ip/f32/q1000/k10", format!("{n}x{d}")), |b| {
            b.iter(|| top_k(black_box(&queries), black_box(&db), 10, Metric::InnerProduct).unwrap())
        });
        group.bench_function(BenchmarkId::new("cosine/f32/q1000/k10", format!("{n}x{d}")), |b| {
            b.iter(|| top_k(black_box(&queries), black_box(&db), 10, Metric::Cosine).unwrap())
        });
        let index = FlatIndex::new(db.clone(), Metric::Cosine);
        group.bench_function(
            BenchmarkId::new("flat_index_cosine/f32/q1000/k10", format!("{n}x{d}")),
            |b| b.iter(|| index.search(black_box(&queries), 10).unwrap()),
        );
    }
    let db = matrix_f32(&mut rng, (100_000, 128)).mapv(f64::from);
    let queries = matrix_f32(&mut rng, (200, 128)).mapv(f64::from);
    group.throughput(Throughput::Elements(200));
    group.bench_function(BenchmarkId::new("ip/f64/q200/k10", "100000x128"), |b| {
        b.iter(|| top_k(black_box(&queries), black_box(&db), 10, Metric::InnerProduct).unwrap())
    });
    group.finish();
}

fn small(c: &mut Criterion) {
    let mut rng = Rng(2);
    let mut group = c.benchmark_group("small");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let db = matrix_f32(&mut rng, (100_000, 128));
    let l2_index = FlatIndex::new(db.clone(), Metric::L2);
    let ip_index = FlatIndex::new(db.clone(), Metric::InnerProduct);
    for &q in &[1usize, 16, 64] {
        let queries = matrix_f32(&mut rng, (q, 128));
        group.throughput(Throughput::Elements(q as u64));
        group.bench_function(BenchmarkId::new("ip/f32/k10/100000x128", format!("q{q}")), |b| {
            b.iter(|| top_k(black_box(&queries), black_box(&db), 10, Metric::InnerProduct).unwrap())
        });
        group.bench_function(BenchmarkId::new("l2_index/f32/k10/100000x128", format!("q{q}")), |b| {
            b.iter(|| l2_index.search(black_box(&queries), 10).unwrap())
        });
        // A tenth of the rows admitted: only they are read.
        group.bench_function(
            BenchmarkId::new("ip_index_filtered10/f32/k10/100000x128", format!("q{q}")),
            |b| {
                b.iter(|| {
                    ip_index
                        .search_filtered(black_box(&queries), 10, |id| id.is_multiple_of(10))
                        .unwrap()
                })
            },
        );
    }
    let db = matrix_f32(&mut rng, (1000, 64));
    let queries = matrix_f32(&mut rng, (10, 64));
    group.throughput(Throughput::Elements(10));
    group.bench_function("ip/f32/k5/1000x64/q10", |b| {
        b.iter(|| top_k(black_box(&queries), black_box(&db), 5, Metric::InnerProduct).unwrap())
    });
    // The search against what users do without it: the whole score matrix, then a
    // sort of every row.
    let db = matrix_f32(&mut rng, (20_000, 128));
    let queries = matrix_f32(&mut rng, (200, 128));
    group.throughput(Throughput::Elements(200));
    group.bench_function("ip/f32/k10/20000x128/q200/top_k", |b| {
        b.iter(|| top_k(black_box(&queries), black_box(&db), 10, Metric::InnerProduct).unwrap())
    });
    group.bench_function("ip/f32/k10/20000x128/q200/inner_then_sort", |b| {
        b.iter(|| {
            let scores: Array2<f32> = black_box(&queries).inner(black_box(&db));
            let hits: Vec<Vec<usize>> = scores
                .rows()
                .into_iter()
                .map(|row| {
                    let mut idx: Vec<usize> = (0..row.len()).collect();
                    idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
                    idx.truncate(10);
                    idx
                })
                .collect();
            hits
        })
    });
    group.finish();
}

fn merge_and_cosine(c: &mut Criterion) {
    let mut rng = Rng(3);
    let mut group = c.benchmark_group("other");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let db = matrix_f32(&mut rng, (40_000, 64));
    let queries = matrix_f32(&mut rng, (1000, 64));
    let parts: Vec<(TopK<f32>, usize)> = (0..8)
        .map(|p| {
            let rows = p * 5000..(p + 1) * 5000;
            (
                top_k(&queries, &db.slice(s![rows.clone(), ..]), 10, Metric::InnerProduct).unwrap(),
                rows.start,
            )
        })
        .collect();
    group.throughput(Throughput::Elements(1000));
    group.bench_function("merge/8_shards/q1000/k10", |b| {
        b.iter(|| TopK::merge(black_box(&parts), 10).unwrap())
    });
    let a = matrix_f32(&mut rng, (1000, 128));
    let b2 = matrix_f32(&mut rng, (1000, 128));
    group.throughput(Throughput::Elements(1000));
    group.bench_function("cosine_similarity/f32/1000x1000x128", |b| {
        b.iter(|| cosine_similarity(black_box(&a), black_box(&b2)))
    });
    group.finish();
}

criterion_group!(benches, large, small, merge_and_cosine);
criterion_main!(benches);
