//! NumPy's `np.tensordot(a, b, axes=(axes_a, axes_b))` as one call of the kernel.
//!
//! Each operand's axes are permuted, as a view, into its free axes (in their order)
//! followed by its contracted axes (in pair order, or in another order of the pairs
//! when that lets more of the groups merge); each group is then merged by
//! strides into one axis, giving `a2: (M, K)` and `b2: (N, K)`, and
//! `A::inner_2d(a2, b2)` writes `a2 · b2ᵀ` into the C-order output seen as `(M, N)`,
//! which is exactly the output of shape `free(a) ++ free(b)` in C order.

use ndarray::{ArrayD, ArrayRef, ArrayViewD, Axis, CowArray, Dimension, Ix2, IxDyn};

use crate::kernel::InnerScalar;
use crate::paths::{record, Path};
use crate::shape::zeros_checked;
use crate::InnerError;

/// `np.tensordot(a, b, axes=(axes_a, axes_b))`, or the error naming the shapes and axes.
pub(crate) fn tensordot<A, D, E>(
    a: &ArrayRef<A, D>,
    b: &ArrayRef<A, E>,
    axes_a: &[Axis],
    axes_b: &[Axis],
) -> Result<ArrayD<A>, InnerError>
where
    A: InnerScalar,
    D: Dimension,
    E: Dimension,
{
    check_axes(a.shape(), b.shape(), axes_a, axes_b)?;
    let free_a = free_axes(a.ndim(), axes_a);
    let free_b = free_axes(b.ndim(), axes_b);
    let out_shape: Vec<usize> = free_a
        .iter()
        .map(|&i| a.shape()[i])
        .chain(free_b.iter().map(|&i| b.shape()[i]))
        .collect();
    let mut out = zeros_checked::<A, IxDyn>(&out_shape, a.shape(), b.shape())?;
    let pairs = pair_order(a, b, axes_a, axes_b);
    let contracted_a: Vec<Axis> = pairs.iter().map(|&p| axes_a[p]).collect();
    let contracted_b: Vec<Axis> = pairs.iter().map(|&p| axes_b[p]).collect();
    let a_permuted = free_then_contracted(a, &free_a, &contracted_a);
    let b_permuted = free_then_contracted(b, &free_b, &contracted_b);
    let a2 = as_contraction_matrix(&a_permuted, pairs.len());
    let b2 = as_contraction_matrix(&b_permuted, pairs.len());
    let mn = (a2.nrows(), b2.nrows());
    let c = out
        .view_mut()
        .into_shape_with_order(mn)
        .expect("a new C-order output reshapes to (M, N)");
    A::inner_2d(a2.view(), b2.view(), c, false);
    Ok(out)
}

/// Checks, in this order: as many axes for `a` as for `b`; every axis in range (those
/// of `a` first); no axis twice in one list; paired axes of equal length (pair by pair).
fn check_axes(a_shape: &[usize], b_shape: &[usize], axes_a: &[Axis], axes_b: &[Axis]) -> Result<(), InnerError> {
    let indices = |axes: &[Axis]| axes.iter().map(|axis| axis.index()).collect::<Vec<usize>>();
    let (list_a, list_b) = (indices(axes_a), indices(axes_b));
    let call = || (a_shape.to_vec(), b_shape.to_vec(), list_a.clone(), list_b.clone());
    if list_a.len() != list_b.len() {
        let (a_shape, b_shape, axes_a, axes_b) = call();
        return Err(InnerError::TensordotAxesCount {
            a_shape,
            b_shape,
            axes_a,
            axes_b,
        });
    }
    for (operand, list, ndim) in [('a', &list_a, a_shape.len()), ('b', &list_b, b_shape.len())] {
        if let Some(&axis) = list.iter().find(|&&axis| axis >= ndim) {
            let (a_shape, b_shape, axes_a, axes_b) = call();
            return Err(InnerError::TensordotAxisOutOfBounds {
                operand,
                axis,
                a_shape,
                b_shape,
                axes_a,
                axes_b,
            });
        }
    }
    for (operand, list) in [('a', &list_a), ('b', &list_b)] {
        let repeated = list.iter().enumerate().find(|&(i, axis)| list[..i].contains(axis));
        if let Some((_, &axis)) = repeated {
            let (a_shape, b_shape, axes_a, axes_b) = call();
            return Err(InnerError::TensordotRepeatedAxis {
                operand,
                axis,
                a_shape,
                b_shape,
                axes_a,
                axes_b,
            });
        }
    }
    for (&a_axis, &b_axis) in list_a.iter().zip(&list_b) {
        if a_shape[a_axis] != b_shape[b_axis] {
            let (a_shape, b_shape, axes_a, axes_b) = call();
            return Err(InnerError::TensordotShapeMismatch {
                a_axis,
                b_axis,
                a_shape,
                b_shape,
                axes_a,
                axes_b,
            });
        }
    }
    Ok(())
}

/// The order in which to lay out the pairs along `K`: any order gives the same sum
/// (up to the order of float additions), but only some let the contracted axes of both
/// operands merge by strides. The pairs as given when that needs the fewest copies;
/// else the pairs sorted by `a`'s strides, largest first (C-like for `a`: F order and
/// pairs given against the memory order need it), or by `b`'s.
fn pair_order<A, D: Dimension, E: Dimension>(
    a: &ArrayRef<A, D>,
    b: &ArrayRef<A, E>,
    axes_a: &[Axis],
    axes_b: &[Axis],
) -> Vec<usize> {
    let given: Vec<usize> = (0..axes_a.len()).collect();
    if axes_a.len() < 2 || a.is_empty() || b.is_empty() {
        return given;
    }
    let by_strides = |strides: &[isize], axes: &[Axis]| {
        let mut order = given.clone();
        order.sort_by_key(|&p| std::cmp::Reverse(strides[axes[p].index()].unsigned_abs()));
        order
    };
    let copies = |order: &[usize]| {
        let merges_a = nests(order.iter().map(|&p| axes_a[p].index()), a.shape(), a.strides());
        let merges_b = nests(order.iter().map(|&p| axes_b[p].index()), b.shape(), b.strides());
        usize::from(!merges_a) + usize::from(!merges_b)
    };
    let candidates = [
        given.clone(),
        by_strides(a.strides(), axes_a),
        by_strides(b.strides(), axes_b),
    ];
    candidates
        .into_iter()
        .min_by_key(|order| copies(order))
        .expect("three candidates")
}

/// Whether `axes` of a non-empty operand, in this order, merge by strides into one
/// axis (the rule of ndarray's `to_shape`: each axis longer than 1 has the stride of
/// the next one longer than 1 times that one's length).
fn nests(axes: impl Iterator<Item = usize>, shape: &[usize], strides: &[isize]) -> bool {
    let mut long = axes.filter(|&i| shape[i] > 1);
    let Some(mut outer) = long.next() else {
        return true;
    };
    for inner in long {
        let span = isize::try_from(shape[inner])
            .ok()
            .and_then(|len| strides[inner].checked_mul(len));
        if span != Some(strides[outer]) {
            return false;
        }
        outer = inner;
    }
    true
}

/// The axes of an `ndim`-axis operand that are not contracted, in their order.
fn free_axes(ndim: usize, contracted: &[Axis]) -> Vec<usize> {
    (0..ndim).filter(|&i| !contracted.contains(&Axis(i))).collect()
}

/// The operand with its free axes first, in their order, then its contracted axes in
/// pair order: a view.
fn free_then_contracted<'a, A, D: Dimension>(
    operand: &'a ArrayRef<A, D>,
    free: &[usize],
    contracted: &[Axis],
) -> ArrayViewD<'a, A> {
    let order: Vec<usize> = free
        .iter()
        .copied()
        .chain(contracted.iter().map(|axis| axis.index()))
        .collect();
    operand.view().into_dyn().permuted_axes(IxDyn(&order))
}

/// The permuted operand (free axes, then `n_contracted` contracted axes) as the matrix
/// `(M, K)`: the free axes merged into rows (row-major, so row `i` is the `i`-th free
/// index in C order), the contracted axes merged into columns.
///
/// ndarray's `to_shape` walks the axes against the target `(M, K)` and merges each
/// group by strides (an axis merges with the next when
/// `stride[i] == stride[i + 1] * len[i + 1]`; axes of length 1 drop out), and since
/// `M` is exactly the product of the free axes' lengths the two groups never mix. So C
/// order, slices of it, reversed and stepped axes, and any group of a single axis (of
/// any stride, zero for a broadcast) give a view; only a group whose axes do not nest
/// (F order with two or more free axes, a broadcast axis beside another one, contracted
/// axes whose orders in memory differ between the operands) is copied, once, into C order.
fn as_contraction_matrix<'v, A: Clone>(permuted: &'v ArrayViewD<'_, A>, n_contracted: usize) -> CowArray<'v, A, Ix2> {
    let (free, contracted) = permuted.shape().split_at(permuted.ndim() - n_contracted);
    let rows: usize = free.iter().product();
    let cols: usize = contracted.iter().product();
    let matrix = permuted
        .to_shape((rows, cols))
        .expect("(M, K) has the operand's element count");
    if matrix.is_owned() {
        record(Path::OperandCopy);
    }
    matrix
}
