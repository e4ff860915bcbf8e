//! Memory: no operand copies for layouts whose leading axes merge, and a search's
//! peak memory bounded by its blocks, never the `Q x N` score matrix. A counting
//! global allocator measures the bytes each call allocates and its peak. (Its own
//! test binary, one test function, so no other test allocates at the same time.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{s, Array, Array2, Array3, ArrayView2, ArrayView3, Axis, ShapeBuilder};
use ndarray_inner::search::{top_k, FlatIndex, Metric};
use ndarray_inner::InnerExt;

struct Counting;

/// Bytes allocated so far (frees not subtracted).
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
/// Bytes allocated and not yet freed, and the most there have been.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grow(bytes: usize) {
    ALLOCATED.fetch_add(bytes, Ordering::Relaxed);
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grow(new_size.saturating_sub(layout.size()));
        LIVE.fetch_sub(layout.size().saturating_sub(new_size), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes allocated by `f` (the second of two runs, so one-time set-up such as a
/// thread pool is not counted).
fn allocated_by<R>(mut f: impl FnMut() -> R) -> usize {
    drop(f());
    let before = ALLOCATED.load(Ordering::SeqCst);
    let r = f();
    let after = ALLOCATED.load(Ordering::SeqCst);
    drop(r);
    after - before
}

/// The most bytes live at once during `f`, above those live when it started (the
/// second of two runs).
fn peak_during<R>(mut f: impl FnMut() -> R) -> usize {
    drop(f());
    let start = LIVE.load(Ordering::SeqCst);
    PEAK.store(start, Ordering::SeqCst);
    drop(f());
    PEAK.load(Ordering::SeqCst) - start
}

#[test]
fn memory_use() {
    mergeable_layouts_are_not_copied();
    search_peak_memory_is_bounded();
}

fn mergeable_layouts_are_not_copied() {
    const K: usize = 1024;
    let big = Array3::<f64>::from_shape_fn((8, 64, K), |(i, j, k)| (i + 2 * j + 3 * k) as f64 % 7.0);
    let small = Array2::<f64>::from_shape_fn((16, K), |(i, k)| (i * k) as f64 % 5.0);
    let operand_bytes = big.len() * 8; // 4 MiB
    let out_bytes = 8 * 64 * 16 * 8; // 64 KiB
                                     // GEMM packing scratch is bounded by the kernel's block sizes, not by the operands.
    let allowance = out_bytes + operand_bytes / 4;

    let f_order = {
        let mut f = Array::<f64, _>::zeros((8, 64, K).f());
        f.assign(&big);
        f
    };
    let mergeable: Vec<(&str, ArrayView3<f64>)> = vec![
        ("C order", big.view()),
        ("outer axis sliced", big.slice(s![2..6, .., ..])),
        ("one leading axis of length 1", big.slice(s![3..4, .., ..])),
        ("last axis stepped", big.slice(s![.., .., ..;2])),
        ("last axis reversed", big.slice(s![.., .., ..;-1])),
    ];
    for (name, a) in mergeable {
        let b: ArrayView2<f64> = small.slice(s![.., ..a.len_of(Axis(2))]);
        let bytes = allocated_by(|| a.inner(&b));
        eprintln!("{name}: {bytes} bytes allocated");
        assert!(
            bytes <= allowance,
            "{name}: {bytes} bytes allocated, more than {allowance}"
        );
    }
    // F order with three axes cannot be viewed as (M, K): one copy, which the counter must see.
    let bytes = allocated_by(|| f_order.inner(&small));
    assert!(
        bytes >= operand_bytes,
        "F order: only {bytes} bytes allocated, a copy was expected"
    );

    // 2-D operands are always views, in any layout: the transposed F-order matrix too.
    let ft = f_order
        .index_axis(Axis(0), 0)
        .to_owned()
        .reversed_axes()
        .reversed_axes();
    let bytes = allocated_by(|| ft.inner(&small));
    assert!(bytes <= 64 * 16 * 8 + operand_bytes / 4, "2-D F order: {bytes} bytes");

    // inner_into a C-order output allocates nothing for the output.
    let mut out = Array3::<f64>::zeros((8, 64, 16));
    let bytes = allocated_by(|| big.inner_into(&small, &mut out).unwrap());
    assert!(bytes < out_bytes.max(operand_bytes / 4), "inner_into: {bytes} bytes");
}

/// A search's peak is the result, the norms, one block of queries and one 4 MiB
/// score block per thread, plus GEMM packing: never the `Q x N` scores.
fn search_peak_memory_is_bounded() {
    let (q, n, d, k) = (2048, 20_000, 32, 10);
    let queries = Array2::<f32>::from_shape_fn((q, d), |(i, j)| ((i * 7 + j * 3) % 17) as f32 - 8.0);
    let database = Array2::<f32>::from_shape_fn((n, d), |(i, j)| ((i * 5 + j * 11) % 19) as f32 - 9.0);
    let full_scores = q * n * 4; // 164 MB
    let threads = rayon::current_num_threads();
    let blocks = threads * (4 << 20) + threads * 1024 * d * 4;
    let result = q * k * (4 + 8);
    let norms = (q + n) * 4;
    let packing = threads * (2 << 20);
    let bound = blocks + result + norms + packing;
    for metric in [Metric::InnerProduct, Metric::Cosine] {
        let peak = peak_during(|| top_k(&queries, &database, k, metric).unwrap());
        eprintln!("top_k {metric:?}: peak {peak} bytes above the inputs, bound {bound}, full scores {full_scores}");
        assert!(peak <= bound, "{metric:?}: peak {peak} bytes, more than {bound}");
    }
    let index = FlatIndex::new(database.clone(), Metric::Cosine);
    let peak = peak_during(|| index.search(&queries, k).unwrap());
    assert!(peak <= bound, "FlatIndex: peak {peak} bytes, more than {bound}");
}
