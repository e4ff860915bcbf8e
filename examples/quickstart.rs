//! `cargo run --release --example quickstart`: NumPy's `np.inner` in Rust, step by step.
//!
//! Each step prints the crate's answer beside NumPy's (computed by
//! `scripts/quickstart_numpy.py`) and checks that they agree.

use ndarray::{arr0, array, Array, Array1, Array2, Array4, Axis};
use ndarray_inner::InnerExt;
use num_complex::Complex64;

fn check(name: &str, got: &[f64], numpy: &[f64]) {
    let ok = got.len() == numpy.len()
        && got
            .iter()
            .zip(numpy)
            .all(|(g, n)| (g - n).abs() <= 1e-12 * n.abs().max(1.0));
    println!(
        "{name:<28} {got:?}\n{:<28} {numpy:?}  {}",
        "  numpy:",
        if ok { "ok" } else { "MISMATCH" }
    );
    assert!(ok, "{name} disagrees with NumPy");
}

fn main() {
    // 1-D · 1-D: the dot product. np.inner([1, 2, 3], [0, 1, 0]) == 2
    let s: i64 = array![1i64, 2, 3].inner(&array![0i64, 1, 0]).into_scalar();
    check("1-D dot", &[s as f64], &[2.0]);

    // N-D · 1-D contracts the last axis. np.inner(np.arange(24).reshape(2,3,4), np.arange(4))
    let a = Array::from_iter(0..24i64).into_shape_with_order((2, 3, 4)).unwrap();
    let v: Array2<i64> = a.inner(&Array::from_iter(0..4i64));
    check(
        "3-D with 1-D",
        &v.mapv(|x| x as f64).into_raw_vec_and_offset().0,
        &[14., 38., 62., 86., 110., 134.],
    );

    // A 0-d operand multiplies. np.inner(np.eye(2), 7.0)
    let e: Array2<f64> = Array2::eye(2).inner(&arr0(7.0));
    check("0-d operand", e.as_slice().unwrap(), &[7., 0., 0., 7.]);

    // 2-D · 2-D is A · Bᵀ. np.inner([[1,2],[3,4]], [[1,3],[2,4]])
    let m: Array2<f64> = array![[1.0, 2.0], [3.0, 4.0]].inner(&array![[1.0, 3.0], [2.0, 4.0]]);
    check("2-D", m.as_slice().unwrap(), &[7., 10., 15., 22.]);

    // 3-D · 3-D: output shape a.shape[:-1] + b.shape[:-1] = (2, 3, 2, 3).
    let t: Array4<i64> = a.inner(&a);
    check(
        "3-D tensor t[1,2,0,1], sum",
        &[t[[1, 2, 0, 1]] as f64, t.sum() as f64],
        &[478., 19224.],
    );

    // Similarity scores: every query against every document.
    let queries = array![[0.1, 0.3, 0.5, 0.7], [0.9, 0.1, 0.0, 0.2]];
    let docs = array![[0.2, 0.4, 0.4, 0.8], [1.0, 0.0, 0.1, 0.1], [0.5, 0.5, 0.5, 0.5]];
    let scores: Array2<f64> = queries.inner(&docs);
    check(
        "scores",
        scores.as_slice().unwrap(),
        &[0.9, 0.22000000000000003, 0.8, 0.38000000000000006, 0.92, 0.6],
    );

    // Cosine similarity: the inner product of the row-normalised vectors.
    let unit = |x: &Array2<f64>| {
        let norms: Array1<f64> = x.map_axis(Axis(1), |row| row.inner(&row).into_scalar().sqrt());
        x / &norms.insert_axis(Axis(1))
    };
    let cosine: Array2<f64> = unit(&queries).inner(&unit(&docs));
    check(
        "cosine",
        cosine.as_slice().unwrap(),
        &[
            0.9819805060619659,
            0.23767469863579363,
            0.8728715609439697,
            0.409764538173066,
            0.9822872700456586,
            0.6469966392206304,
        ],
    );

    // A dense layer: weights stored (out, in), as in PyTorch's Linear: y = x · Wᵀ + b.
    let x = array![[1.0, -2.0, 0.5], [0.0, 1.0, 3.0]];
    let w = array![[0.2, 0.1, -0.4], [1.5, -0.3, 0.0]];
    let y: Array2<f64> = x.inner(&w) + &array![0.1, -0.2];
    check(
        "dense layer",
        y.as_slice().unwrap(),
        &[-0.1, 1.9000000000000001, -1.0, -0.5],
    );

    // Complex: `inner` does not conjugate (NumPy parity); `inner_conj` conjugates the first operand.
    let p = array![Complex64::new(1.0, 2.0), Complex64::new(3.0, -1.0)];
    let q = array![Complex64::new(2.0, -1.0), Complex64::new(0.0, 1.0)];
    let h = p.inner_conj(&q).into_scalar();
    check("complex, conjugated", &[h.re, h.im], &[-1.0, -2.0]);

    // Bad shapes: an error with NumPy's words, or a panic with the same message.
    let err = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
        .try_inner(&array![1.0, 2.0, 3.0, 4.0])
        .unwrap_err();
    println!("{:<28} {err}", "error");
}
