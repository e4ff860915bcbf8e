//! Fuzzes `inner`, `inner_conj`, `inner_into` and the mismatch error against the
//! naive reference of the tests, on shapes, layouts and values read from the fuzzer's
//! bytes. A panic or a disagreement is a crash. Run from the crate's root:
//!
//! ```sh
//! cargo +nightly fuzz run inner -- -max_total_time=600
//! ```
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use ndarray::{ArrayD, IxDyn};
use ndarray_inner::{InnerError, InnerExt, InnerScalar};
use ndarray_inner_test_kit::layout::{make, Layout, Operand};
use ndarray_inner_test_kit::{naive, Elem as TestElem};
use num_complex::Complex;

/// Largest `output elements * K` (and operand size) of one input.
const WORK_BUDGET: usize = 1 << 16;

/// An element type of the fuzzer: the test kit's (values from one fuzzer byte with
/// `from_byte`, results compared with `same`) that the crate multiplies.
trait Elem: TestElem + InnerScalar {}
impl<T: TestElem + InnerScalar> Elem for T {}

fn layout(u: &mut Unstructured<'_>) -> Result<Layout> {
    Ok(match u.int_in_range(0..=5u8)? {
        0 => Layout::C,
        1 => Layout::F,
        2 => Layout::Permuted(u.arbitrary()?),
        3 => Layout::Reversed(u.arbitrary()?),
        4 => Layout::Stepped(u.arbitrary()?),
        _ => Layout::Broadcast(u.arbitrary()?),
    })
}

fn shape(u: &mut Unstructured<'_>, k: usize) -> Result<Vec<usize>> {
    let ndim = u.int_in_range(0..=4usize)?;
    let mut s: Vec<usize> = (0..ndim).map(|_| u.int_in_range(0..=9usize)).collect::<Result<_>>()?;
    if let Some(last) = s.last_mut() {
        *last = k;
    }
    Ok(s)
}

fn operand<A: Elem>(u: &mut Unstructured<'_>, shape: &[usize]) -> Result<ArrayD<A>> {
    let n: usize = shape.iter().product();
    let bytes = u.bytes(n.min(u.len()))?;
    // Too few bytes left: repeat them (or zeros), so short inputs still make arrays.
    let values: Vec<A> = (0..n)
        .map(|i| A::from_byte(bytes.get(i % bytes.len().max(1)).copied().unwrap_or(0)))
        .collect();
    Ok(ArrayD::from_shape_vec(IxDyn(shape), values).expect("n elements"))
}

fn same<A: Elem>(got: &ArrayD<A>, want: &ArrayD<A>) -> bool {
    got.shape() == want.shape() && got.iter().zip(want).all(|(&g, &w)| g.same(w))
}

fn case<A: Elem>(u: &mut Unstructured<'_>) -> Result<()> {
    let k = u.int_in_range(0..=70usize)?;
    let (sa, sb) = (shape(u, k)?, shape(u, k)?);
    let size = |s: &[usize]| s.iter().product::<usize>();
    let lead = |s: &[usize]| s.split_last().map_or(1, |(_, l)| size(l));
    if lead(&sa) * lead(&sb) * k.max(1) > WORK_BUDGET {
        return Ok(());
    }
    let (la, lb) = (layout(u)?, layout(u)?);
    let a = make(&operand::<A>(u, &sa)?, la);
    let b = make(&operand::<A>(u, &sb)?, lb);
    let (a, b) = (a.view(), b.view());
    let what = format!("{} {sa:?} {la:?} . {sb:?} {lb:?}", std::any::type_name::<A>());

    let want = naive::inner(&a, &b, false);
    assert!(same(&a.inner(&b), &want), "inner differs: {what}");
    assert!(
        same(&a.inner_conj(&b), &naive::inner(&a, &b, true)),
        "inner_conj differs: {what}"
    );
    let lo = match layout(u)? {
        Layout::Broadcast(_) => Layout::C,
        l => l,
    };
    let Operand::Owned(mut out) = make(&ArrayD::from_elem(want.raw_dim(), A::zero()), lo) else {
        unreachable!("only Broadcast makes a broadcast operand")
    };
    a.inner_into(&b, &mut out).expect("the output has the right shape");
    assert!(same(&out, &want), "inner_into {lo:?} differs: {what}");
    if !sb.is_empty() && !sa.is_empty() {
        let mut sb2 = sb.clone();
        *sb2.last_mut().unwrap() += 1;
        let b2 = ArrayD::from_elem(IxDyn(&sb2), A::zero());
        assert!(
            matches!(a.try_inner(&b2), Err(InnerError::NotAligned { .. })),
            "mismatch: {what}"
        );
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = match u.int_in_range(0..=8u8).unwrap_or(0) {
        0 => case::<f32>(&mut u),
        1 => case::<f64>(&mut u),
        2 => case::<Complex<f32>>(&mut u),
        3 => case::<Complex<f64>>(&mut u),
        4 => case::<i8>(&mut u),
        5 => case::<i32>(&mut u),
        6 => case::<i64>(&mut u),
        7 => case::<u8>(&mut u),
        _ => case::<u64>(&mut u),
    };
});
