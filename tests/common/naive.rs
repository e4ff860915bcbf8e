//! The reference for every test: index loops written plainly, sharing no code with the crate.

#![allow(dead_code)]

use ndarray::{ArrayD, ArrayViewD, Dimension, IxDyn};
use num_complex::Complex;

/// Element arithmetic of the reference: wrapping for integers, IEEE for floats, OR and
/// AND for bool. (Half types: `common/half.rs`, whose reference sums in `f32`.)
pub trait Num: Copy + PartialEq + std::fmt::Debug + 'static {
    fn zero() -> Self;
    fn add(self, rhs: Self) -> Self;
    fn mul(self, rhs: Self) -> Self;
    fn conj(self) -> Self;
}

macro_rules! int_num {
    ($($t:ty),*) => {$(
        impl Num for $t {
            fn zero() -> Self { 0 }
            fn add(self, rhs: Self) -> Self { self.wrapping_add(rhs) }
            fn mul(self, rhs: Self) -> Self { self.wrapping_mul(rhs) }
            fn conj(self) -> Self { self }
        }
    )*};
}
int_num!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

macro_rules! float_num {
    ($($t:ty),*) => {$(
        impl Num for $t {
            fn zero() -> Self { 0.0 }
            fn add(self, rhs: Self) -> Self { self + rhs }
            fn mul(self, rhs: Self) -> Self { self * rhs }
            fn conj(self) -> Self { self }
        }
        impl Num for Complex<$t> {
            fn zero() -> Self { Complex::new(0.0, 0.0) }
            fn add(self, rhs: Self) -> Self { self + rhs }
            fn mul(self, rhs: Self) -> Self { self * rhs }
            fn conj(self) -> Self { Complex::new(self.re, -self.im) }
        }
    )*};
}
float_num!(f32, f64);

/// NumPy's bool arithmetic: `+` is OR, `*` is AND, so a sum of products is the OR of the ANDs.
impl Num for bool {
    fn zero() -> Self {
        false
    }
    fn add(self, rhs: Self) -> Self {
        self || rhs
    }
    fn mul(self, rhs: Self) -> Self {
        self && rhs
    }
    fn conj(self) -> Self {
        self
    }
}

/// `sum_k op(a[i.., k]) * b[j.., k]` for every output index, by plain loops;
/// a 0-d operand multiplies elementwise. `op` conjugates when `conj`.
pub fn inner<A: Num>(a: &ArrayViewD<A>, b: &ArrayViewD<A>, conj: bool) -> ArrayD<A> {
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
            let mut sum = A::zero();
            for kk in 0..k {
                sum = sum.add(op(a_rows[i * k + kk]).mul(b_rows[j * k + kk]));
            }
            out.push(sum);
        }
    }
    ArrayD::from_shape_vec(IxDyn(&out_shape), out).expect("m * n elements")
}

/// NumPy's `tensordot(a, b, (axis_a, axis_b))` by plain loops.
pub fn tensordot<A: Num>(a: &ArrayViewD<A>, b: &ArrayViewD<A>, axis_a: usize, axis_b: usize) -> ArrayD<A> {
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
        let mut sum = A::zero();
        for kk in 0..k {
            ai[axis_a] = kk;
            bi[axis_b] = kk;
            sum = sum.add(a[IxDyn(&ai)].mul(b[IxDyn(&bi)]));
        }
        *value = sum;
    }
    out
}
