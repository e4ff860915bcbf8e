//! The reference for every test: index loops written plainly, sharing no code with
//! the crate. Each element type's arithmetic is its [`Elem`]'s (wrapping integers,
//! `f32` sums rounded once for the half types, OR of ANDs for bool).

use ndarray::{ArrayD, ArrayViewD, Dimension, IxDyn};

use crate::half::Rule;
use crate::Elem;

/// `sum_k op(a[i.., k]) * b[j.., k]` for every output index, by plain loops;
/// a 0-d operand multiplies elementwise. `op` conjugates when `conj`.
///
/// # Panics
/// If the last axes differ (the reference is only called on aligned shapes).
pub fn inner<A: Elem>(a: &ArrayViewD<A>, b: &ArrayViewD<A>, conj: bool) -> ArrayD<A> {
    let op = |x: A| if conj { x.conj() } else { x };
    if a.ndim() == 0 {
        let s = op(a[IxDyn(&[])]);
        return b.map(|&x| s.mul(x));
    }
    if b.ndim() == 0 {
        let s = b[IxDyn(&[])];
        return a.map(|&x| op(x).mul(s));
    }
    let (na, nb) = (a.ndim(), b.ndim());
    let k = a.shape()[na - 1];
    assert_eq!(k, b.shape()[nb - 1], "the reference is only called on aligned shapes");
    let mut out_shape = a.shape()[..na - 1].to_vec();
    out_shape.extend_from_slice(&b.shape()[..nb - 1]);
    // The elements in logical (row-major) order: row `i` of `a` is `a_rows[i * k..][..k]`
    // whatever the strides, so the loops below index plain vectors.
    let a_rows: Vec<A> = a.iter().copied().collect();
    let b_rows: Vec<A> = b.iter().copied().collect();
    let (m, n) = (
        a.shape()[..na - 1].iter().product::<usize>(),
        b.shape()[..nb - 1].iter().product::<usize>(),
    );
    let mut out = Vec::with_capacity(m * n);
    for i in 0..m {
        for j in 0..n {
            let mut sum = A::Acc::default();
            for kk in 0..k {
                sum = A::mul_add(sum, op(a_rows[i * k + kk]), b_rows[j * k + kk]);
            }
            out.push(A::finish(sum));
        }
    }
    ArrayD::from_shape_vec(IxDyn(&out_shape), out).expect("m * n elements")
}

/// NumPy's `tensordot(a, b, (axis_a, axis_b))` (the crate's `inner_axes`) by plain loops.
///
/// # Panics
/// If the contracted axes differ in length.
pub fn tensordot<A: Elem>(a: &ArrayViewD<A>, b: &ArrayViewD<A>, axis_a: usize, axis_b: usize) -> ArrayD<A> {
    let k = a.shape()[axis_a];
    assert_eq!(k, b.shape()[axis_b]);
    let a_rest: Vec<usize> = (0..a.ndim()).filter(|&i| i != axis_a).collect();
    let b_rest: Vec<usize> = (0..b.ndim()).filter(|&i| i != axis_b).collect();
    let mut out_shape: Vec<usize> = a_rest.iter().map(|&i| a.shape()[i]).collect();
    out_shape.extend(b_rest.iter().map(|&i| b.shape()[i]));
    let mut out = ArrayD::from_elem(IxDyn(&out_shape), A::zero());
    for (index, value) in out.indexed_iter_mut() {
        let index = index.slice();
        let mut ai = vec![0; a.ndim()];
        for (pos, &axis) in a_rest.iter().enumerate() {
            ai[axis] = index[pos];
        }
        let mut bi = vec![0; b.ndim()];
        for (pos, &axis) in b_rest.iter().enumerate() {
            bi[axis] = index[a_rest.len() + pos];
        }
        let mut sum = A::Acc::default();
        for kk in 0..k {
            ai[axis_a] = kk;
            bi[axis_b] = kk;
            sum = A::mul_add(sum, a[IxDyn(&ai)], b[IxDyn(&bi)]);
        }
        *value = A::finish(sum);
    }
    out
}

/// The reference's answer and, for the half types, each output's [`Rule`] (C order).
#[derive(Clone, Debug)]
pub struct Reference<A> {
    pub want: ArrayD<A>,
    pub rules: Option<Vec<Rule>>,
}

impl<A: Elem> Reference<A> {
    /// `inner` (or `inner_conj`) by the reference.
    pub fn inner(a: &ArrayViewD<A>, b: &ArrayViewD<A>, conj: bool) -> Self {
        let want = inner(a, b, conj);
        let rules = A::rules(a, b, &want);
        Reference { want, rules }
    }

    /// `inner_axes(a, b, axis_a, axis_b)` by the reference.
    pub fn axes(a: &ArrayViewD<A>, b: &ArrayViewD<A>, axis_a: usize, axis_b: usize) -> Self {
        let want = tensordot(a, b, axis_a, axis_b);
        // The rules see the terms in the same order: the contracted axes moved last.
        let rules = A::rules(&contracted_last(a, axis_a), &contracted_last(b, axis_b), &want);
        Reference { want, rules }
    }

    /// `got` against the reference, element by element: the first disagreement.
    pub fn agrees(&self, got: &ArrayD<A>) -> Result<(), String> {
        self.agrees_with(got, |_, _| {})
    }

    /// As [`Reference::agrees`], calling `seen` with each half-type output's rule and
    /// how it was met (for the tests' tallies).
    pub fn agrees_with(
        &self,
        got: &ArrayD<A>,
        mut seen: impl FnMut(Rule, crate::half::Agreement),
    ) -> Result<(), String> {
        if got.shape() != self.want.shape() {
            return Err(format!(
                "shape {:?}, the reference has {:?}",
                got.shape(),
                self.want.shape()
            ));
        }
        for (idx, (&g, &w)) in got.iter().zip(&self.want).enumerate() {
            let rule = self.rules.as_ref().map(|rules| rules[idx]);
            let agreement = A::check(g, w, rule).map_err(|e| format!("element {idx} (C order): {e}"))?;
            if let (Some(rule), Some(agreement)) = (rule, agreement) {
                seen(rule, agreement);
            }
        }
        Ok(())
    }
}

/// `x` with `axis` moved last, the other axes in their order.
pub fn contracted_last<'a, A>(x: &ArrayViewD<'a, A>, axis: usize) -> ArrayViewD<'a, A> {
    let mut perm: Vec<usize> = (0..x.ndim()).filter(|&i| i != axis).collect();
    perm.push(axis);
    x.clone().permuted_axes(IxDyn(&perm))
}
