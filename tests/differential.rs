//! Differential testing at scale: random cases (ndim 0..6, lengths 0..~70 with
//! sizes around the kernels' block edges, one case in 40 large enough for the
//! threaded and four-GEMM paths, every element type, every layout of both operands
//! and of `inner_into`'s output, NaN/Inf in real floats) against the naive
//! reference, with no panic allowed. A debug run of the default 4000 cases also
//! fails if some kernel path of `inner` was never taken (`HalfWidened` and
//! `BoolWords` included).
//!
//! `f16` and `bf16` (whole numbers, multiples of 1/8 and full-precision values, NaN/Inf
//! and -0.0) go against NumPy's float16 loop written out in `crates/test-kit/src/half.rs`
//! (f32 products and sums from +0.0, left to right, rounded once): bit for bit where
//! every partial sum is exact in f32, else at most one half ulp apart, or within
//! `2 gamma_K sum |a_k b_k|` plus an ulp where the sum cancels or K is long; the run
//! prints how many outputs fell under each rule and how many were one ulp off. `bool`
//! (sparse and dense) must equal the naive OR of ANDs exactly.
//!
//! CI runs the bounded slice under every feature set (`cargo test`, with
//! `--features blas`, with `--no-default-features`). The soak, about 6 minutes per
//! million cases on one Zen 4 core:
//!
//! ```sh
//! INNER_DIFF_CASES=2000000 INNER_DIFF_SEED=101 cargo test --release --test differential -- --nocapture
//! INNER_DIFF_CASES=2000000 INNER_DIFF_SEED=102 cargo test --release --features blas --test differential -- --nocapture
//! INNER_DIFF_CASES=2000000 INNER_DIFF_SEED=103 cargo test --release --no-default-features --test differential -- --nocapture
//! ```

use std::panic::{catch_unwind, AssertUnwindSafe};

use half::{bf16, f16};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};
use ndarray_inner::paths::{self, Path};
use ndarray_inner::{InnerError, InnerExt, InnerScalar};
use ndarray_inner_test_kit::layout::{make, Layout, Operand};
use ndarray_inner_test_kit::naive::Reference;
use ndarray_inner_test_kit::{half as half_ref, payload_message, Elem, Rng};
use num_complex::Complex;

/// Largest `output elements * K` of one case: keeps the debug-build reference quick.
const WORK_BUDGET: usize = 40_000;
/// One case in this many is large: past the thresholds of the complex four-GEMM
/// path and the integer kernel's threads, which `WORK_BUDGET` stays below.
const LARGE_EVERY: u64 = 40;

/// Lengths for one operand's axes: mostly small, sometimes at a block edge.
fn random_len(rng: &mut Rng) -> usize {
    const EDGES: [usize; 16] = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65];
    match rng.next_u64() % 8 {
        0..=4 => rng.next_u64() as usize % 5,
        5 | 6 => EDGES[rng.next_u64() as usize % EDGES.len()],
        _ => rng.next_u64() as usize % 71,
    }
}

/// Halves random axes until `output elements * K` and each operand's size are at most `WORK_BUDGET`, keeping the
/// last axes equal when both operands have one.
fn within_budget(rng: &mut Rng, sa: &mut [usize], sb: &mut [usize]) {
    let work = |sa: &[usize], sb: &[usize]| -> usize {
        let all = |s: &[usize]| s.iter().product::<usize>();
        // The operands themselves count too: an empty output can sit beside a huge operand.
        let products = match (sa.split_last(), sb.split_last()) {
            (None, _) => all(sb),
            (_, None) => all(sa),
            (Some((&k, la)), Some((_, lb))) => all(la).saturating_mul(all(lb)).saturating_mul(k.max(1)),
        };
        products.max(all(sa)).max(all(sb))
    };
    while work(sa, sb) > WORK_BUDGET {
        let s: &mut [usize] = if sb.is_empty() || (!sa.is_empty() && rng.next_u64().is_multiple_of(2)) {
            &mut *sa
        } else {
            &mut *sb
        };
        let axis = rng.next_u64() as usize % s.len();
        s[axis] /= 2;
        let k = s.last().copied();
        if let (Some(k), Some(a), Some(b)) = (k, sa.last_mut(), sb.last_mut()) {
            *a = k;
            *b = k;
        }
    }
}

/// `got` against the reference, element by element (the first disagreement); the
/// half types' outcomes go into this thread's tally.
fn agree_array<A: Elem>(got: &ArrayD<A>, r: &Reference<A>) -> Result<(), String> {
    r.agrees_with(got, |rule, agreement| half_ref::record_named(A::NAME, rule, agreement))
}

/// One random case of element type `A`: inner, inner_conj, inner_axes, and a
/// mismatched shape; returns a description of any disagreement.
/// Shapes of a large case: `(m, k) . (n, k)` with 2^17 to 2^22 multiply-adds,
/// `a`'s rows sometimes split over two axes.
fn large_shapes(rng: &mut Rng) -> (Vec<usize>, Vec<usize>) {
    let mut len = |lo: u64, hi: u64| (lo + rng.next_u64() % (hi - lo + 1)) as usize;
    let (m, n, k) = (len(96, 170), len(40, 170), len(24, 150));
    let sa = if m % 3 == 0 { vec![3, m / 3, k] } else { vec![m, k] };
    (sa, vec![n, k])
}

fn case<A: Elem + InnerScalar>(rng: &mut Rng) -> Result<(), String> {
    let (mut sa, mut sb);
    if rng.next_u64().is_multiple_of(LARGE_EVERY) {
        (sa, sb) = large_shapes(rng);
    } else {
        let k = random_len(rng);
        let (na, nb) = (rng.next_u64() as usize % 7, rng.next_u64() as usize % 7);
        sa = (0..na).map(|_| random_len(rng)).collect();
        sb = (0..nb).map(|_| random_len(rng)).collect();
        if let Some(l) = sa.last_mut() {
            *l = k;
        }
        if let Some(l) = sb.last_mut() {
            *l = k;
        }
        within_budget(rng, &mut sa, &mut sb);
    }
    let (na, nb) = (sa.len(), sb.len());
    let special = rng.next_u64().is_multiple_of(4);
    let (la, lb) = (Layout::random(rng), Layout::random(rng));
    let a = make(
        &ArrayD::from_shape_simple_fn(IxDyn(&sa), || A::varied(rng, special)),
        la,
    );
    let b = make(
        &ArrayD::from_shape_simple_fn(IxDyn(&sb), || A::varied(rng, special)),
        lb,
    );
    let (a, b): (ArrayViewD<A>, ArrayViewD<A>) = (a.view(), b.view());
    let what = format!("{} {sa:?} {la:?} . {sb:?} {lb:?}", std::any::type_name::<A>());

    let run = |f: &dyn Fn() -> ArrayD<A>| {
        catch_unwind(AssertUnwindSafe(f)).map_err(|p| format!("panic {:?}: {what}", payload_message(p)))
    };
    let want = Reference::inner(&a, &b, false);
    let got = run(&|| a.inner(&b))?;
    agree_array(&got, &want).map_err(|e| format!("inner differs, {e}: {what}"))?;
    let got = run(&|| a.inner_conj(&b))?;
    agree_array(&got, &Reference::inner(&a, &b, true)).map_err(|e| format!("inner_conj differs, {e}: {what}"))?;
    // inner_into an output of any writable layout.
    let lo = match Layout::random(rng) {
        Layout::Broadcast(_) => Layout::F,
        layout => layout,
    };
    let Operand::Owned(mut out) = make(&ArrayD::from_elem(want.want.raw_dim(), A::zero()), lo) else {
        unreachable!("only Broadcast makes a broadcast operand")
    };
    catch_unwind(AssertUnwindSafe(|| a.inner_into(&b, &mut out)))
        .map_err(|p| format!("panic {:?}: {what}", payload_message(p)))?
        .map_err(|e| format!("inner_into error {e}: {what}"))?;
    agree_array(&out, &want).map_err(|e| format!("inner_into {lo:?} differs, {e}: {what}"))?;
    if na > 0 && nb > 0 {
        let (i, j) = (rng.next_u64() as usize % na, rng.next_u64() as usize % nb);
        let rest = |s: &[usize], skip: usize| -> usize {
            s.iter()
                .enumerate()
                .filter(|&(x, _)| x != skip)
                .fold(1usize, |p, (_, &l)| p.saturating_mul(l))
        };
        let axes_out = rest(&sa, i).saturating_mul(rest(&sb, j));
        if sa[i] == sb[j] && axes_out.saturating_mul(sa[i].max(1)) <= WORK_BUDGET {
            let got = run(&|| a.inner_axes(&b, Axis(i), Axis(j)))?;
            agree_array(&got, &Reference::axes(&a, &b, i, j))
                .map_err(|e| format!("inner_axes({i}, {j}) differs, {e}: {what}"))?;
        }
        // The same operands with b's last axis one longer: an error, never a panic.
        let mut sb2 = sb.clone();
        *sb2.last_mut().unwrap() += 1;
        let b2 = ArrayD::from_elem(IxDyn(&sb2), A::zero());
        let err = catch_unwind(AssertUnwindSafe(|| a.try_inner(&b2)))
            .map_err(|p| format!("panic {:?}: {what}", payload_message(p)))?;
        let Err(err @ InnerError::NotAligned { .. }) = err else {
            return Err(format!("mismatch not reported: {what}"));
        };
        // The panicking forms panic with the error's message.
        for conj in [false, true] {
            let panicked = catch_unwind(AssertUnwindSafe(|| {
                drop(if conj { a.inner_conj(&b2) } else { a.inner(&b2) })
            }));
            if panicked.err().map(payload_message) != Some(err.to_string()) {
                return Err(format!("panic message is not {err} (conj {conj}): {what}"));
            }
        }
    }
    Ok(())
}

#[test]
fn random_cases_agree_with_the_reference() {
    let cases: usize = std::env::var("INNER_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let seed: u64 = std::env::var("INNER_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03);
    // The panics the cases expect would each print a message: silence them; an
    // unexpected panic is reported as a failure with its case.
    std::panic::set_hook(Box::new(|_| {}));
    // Two threads whatever the machine, so the integer kernel's bands are reachable.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    // The cases run on one thread of the pool, which keeps their half-type tally.
    let (failures, tally) = pool.install(|| (run_cases(&mut rng, cases), half_ref::take_tally()));
    eprintln!(
        "differential: {cases} cases, seed {seed}, {} disagreements",
        failures.len()
    );
    for line in tally.summary() {
        eprintln!("  {line} outputs compared");
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} cases disagree, first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );

    // Both rules of the half types were exercised (bit for bit, and one ulp allowed).
    if cases >= 4000 {
        for ty in ["float16", "bfloat16"] {
            for rule in ["bit-exact", "one-ulp"] {
                assert!(tally.count(ty, rule, None) > 0, "no {ty} output under the {rule} rule");
            }
        }
    }

    // Debug builds count the kernel paths: the random cases must have reached every
    // one that `inner` has in this build (the search's are in tests/paths.rs).
    if paths::counting() && cases >= 4000 {
        let missed: Vec<Path> = Path::ALL
            .into_iter()
            .filter(|p| p.is_compiled() && !p.is_search() && paths::count(*p) == 0)
            .collect();
        assert!(missed.is_empty(), "paths no case reached: {missed:?}");
    }
}

/// Runs `cases` random cases; returns the disagreements.
fn run_cases(rng: &mut Rng, cases: usize) -> Vec<String> {
    let mut failures = Vec::new();
    for _ in 0..cases {
        let result = match rng.next_u64() % 17 {
            0 => case::<f32>(rng),
            1 => case::<f64>(rng),
            2 => case::<Complex<f32>>(rng),
            3 => case::<Complex<f64>>(rng),
            4 => case::<i8>(rng),
            5 => case::<i16>(rng),
            6 => case::<i32>(rng),
            7 => case::<i64>(rng),
            8 => case::<isize>(rng),
            9 => case::<u8>(rng),
            10 => case::<u16>(rng),
            11 => case::<u32>(rng),
            12 => case::<u64>(rng),
            13 => case::<usize>(rng),
            14 => case::<f16>(rng),
            15 => case::<bf16>(rng),
            _ => case::<bool>(rng),
        };
        if let Err(e) = result {
            failures.push(e);
        }
    }
    failures
}
