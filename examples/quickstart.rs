//! `cargo run --release --example quickstart`: the well-known NumPy `np.inner` tutorial in Rust,
//! step by step, then what the crate does beyond it.
//!
//! Every step prints the crate's result (ndarray's `Display`) beside NumPy's, and asserts that
//! they agree: integers exactly, floats to within 1e-12 relative (the two sum in different
//! orders). The NumPy values are printed by `scripts/quickstart_numpy.py`; rerun it after
//! changing an input here.

use std::fmt::Display;

use ndarray::{arr0, array, Array, Array1, Array2, Array3, Dimension};
use ndarray_inner::search::{cosine_similarity, top_k, Metric};
use ndarray_inner::InnerExt;
use num_complex::Complex64;

/// Whether a crate result agrees with NumPy's.
trait AgreesWithNumpy {
    fn agrees_with(&self, numpy: &Self) -> bool;
}

impl AgreesWithNumpy for i64 {
    fn agrees_with(&self, numpy: &Self) -> bool {
        self == numpy
    }
}

impl AgreesWithNumpy for usize {
    fn agrees_with(&self, numpy: &Self) -> bool {
        self == numpy
    }
}

impl AgreesWithNumpy for f64 {
    fn agrees_with(&self, numpy: &Self) -> bool {
        (self - numpy).abs() <= 1e-12 * numpy.abs().max(1.0)
    }
}

impl AgreesWithNumpy for Complex64 {
    fn agrees_with(&self, numpy: &Self) -> bool {
        self.re.agrees_with(&numpy.re) && self.im.agrees_with(&numpy.im)
    }
}

/// Prints `got` and NumPy's value side by side under a heading, and asserts they agree.
fn show<A, D>(heading: &str, numpy_call: &str, got: &Array<A, D>, numpy: &Array<A, D>)
where
    A: AgreesWithNumpy + Display,
    D: Dimension,
{
    let agree = got.shape() == numpy.shape() && got.iter().zip(numpy).all(|(g, n)| g.agrees_with(n));
    print_beside(heading, numpy_call, &got.to_string(), &numpy.to_string(), agree);
    assert!(agree, "{heading}: the crate gives\n{got}\nNumPy gives\n{numpy}");
}

fn print_beside(heading: &str, numpy_call: &str, left: &str, right: &str, agree: bool) {
    println!("\n{heading}\n  {numpy_call}");
    let width = left
        .lines()
        .chain(["ndarray-inner"])
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    println!("  {:<width$}    NumPy", "ndarray-inner");
    let (left, right): (Vec<&str>, Vec<&str>) = (left.lines().collect(), right.lines().collect());
    for i in 0..left.len().max(right.len()) {
        let l = left.get(i).copied().unwrap_or("");
        let r = right.get(i).copied().unwrap_or("");
        println!("  {l:<width$}    {r}");
    }
    println!("  {}", if agree { "(agrees with NumPy)" } else { "MISMATCH" });
}

fn main() {
    println!("== The np.inner tutorial ==");

    // 1-D with 1-D is the dot product: 1*4 + 2*5 + 3*6.
    let a = array![1i64, 2, 3];
    let b = array![4i64, 5, 6];
    show(
        "1. Two vectors: the dot product",
        "np.inner([1, 2, 3], [4, 5, 6])",
        &a.inner(&b),
        &arr0(32),
    );

    // 2-D with 2-D contracts the last axis of both: out[i, j] = A[i, :] · B[j, :], shape (2, 2).
    let a = array![[1i64, 2, 3], [4, 5, 6]];
    let b = array![[7i64, 8, 9], [10, 11, 12]];
    show(
        "2. Two matrices: every row of A with every row of B",
        "np.inner([[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]])",
        &a.inner(&b),
        &array![[50, 68], [122, 167]],
    );

    // inner is A · Bᵀ, not the matrix product A · B (which is inner with Bᵀ).
    let p = array![[1i64, 2], [3, 4]];
    let q = array![[5i64, 6], [7, 8]];
    show(
        "3. inner is not dot",
        "np.inner(P, Q)   (= P @ Q.T)",
        &p.inner(&q),
        &array![[17, 23], [39, 53]],
    );
    show(
        "   dot, for comparison",
        "np.dot(P, Q)   (= np.inner(P, Q.T))",
        &p.dot(&q),
        &array![[19, 22], [43, 50]],
    );
    show(
        "   inner with Qᵀ is dot",
        "np.inner(P, Q.T)",
        &p.inner(&q.t()),
        &array![[19, 22], [43, 50]],
    );

    // Cosine similarity of TF-IDF document vectors: inner products over the products of norms.
    // The tutorial prints other cosines for these three vectors; those are wrong, and these are
    // NumPy's (np.inner(docs, docs) / np.outer(norms, norms)), computed by the script.
    let docs: Array2<f64> = array![[0.5, 0.3, 0.2, 0.0], [0.4, 0.4, 0.1, 0.1], [0.0, 0.1, 0.3, 0.6]];
    let numpy_cosines = array![
        [0.9999999999999999, 0.9459053029269172, 0.21526419295572294],
        [0.9459053029269172, 1.0, 0.3287191293257128],
        [0.21526419295572294, 0.3287191293257128, 0.9999999999999999]
    ];
    let norms: Array1<f64> = docs
        .rows()
        .into_iter()
        .map(|d| d.inner(&d).into_scalar().sqrt())
        .collect();
    let by_hand = docs.inner(&docs) / (&norms.view().insert_axis(ndarray::Axis(1)) * &norms);
    show(
        "4. Cosine similarity of three TF-IDF documents",
        "np.inner(docs, docs) / np.outer(norms, norms)",
        &by_hand,
        &numpy_cosines,
    );
    show(
        "   the same with the crate's search::cosine_similarity",
        "np.inner(docs, docs) / np.outer(norms, norms)",
        &cosine_similarity(&docs, &docs),
        &numpy_cosines,
    );

    // A query scored against every row of a database; the best match is the highest score.
    // The database is chosen here: the tutorial's is not in this repository.
    let query = array![1.0, 2.0, 3.0, 4.0];
    let database = array![
        [0.1, 0.2, 0.3, 0.4],
        [0.4, 0.3, 0.2, 0.1],
        [0.9, 0.1, 0.0, 0.0],
        [0.0, 0.5, 0.5, 1.0]
    ];
    let scores: Array1<f64> = database.inner(&query);
    show(
        "5. A query against a database: scores",
        "np.inner(database, query)",
        &scores,
        &array![3.0, 2.0, 1.1, 6.5],
    );
    let best = top_k(&query, &database, 1, Metric::InnerProduct).expect("the rows have the query's length");
    show(
        "   best match (search::top_k, k = 1)",
        "np.argmax(scores)",
        &arr0(best.indices[[0, 0]]),
        &arr0(3),
    );

    // A dense layer: y = X · Wᵀ + b, with W stored (out, in) as in PyTorch's Linear.
    // X and W are chosen here (the tutorial prints a wrong output for its layer); this is NumPy's.
    let x = array![[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 0.0, 2.0], [-1.0, 0.0, 1.0, 0.5]];
    let w = array![[0.1, 0.2, 0.3, 0.4], [-0.5, 0.5, -0.5, 0.5]];
    let bias = array![0.1, -0.1];
    let y: Array2<f64> = x.inner(&w) + &bias;
    show(
        "6. A dense layer: X (3,4), W (2,4), b (2,)",
        "np.inner(X, W) + b",
        &y,
        &array![[3.1, 0.9], [0.75, 0.15], [0.5, 0.15]],
    );

    // Higher dimensions: out.shape = a.shape[:-1] + b.shape[:-1] = (3, 4) + (6,), the same as
    // np.einsum('ijk,lk->ijl', a, b). The values are aranges (the tutorial's are random).
    let a = Array::from_iter(0..60i64).into_shape_with_order((3, 4, 5)).unwrap();
    let b = Array::from_iter(0..30i64).into_shape_with_order((6, 5)).unwrap();
    let t: Array3<i64> = a.inner(&b);
    println!(
        "\n7. A (3,4,5) with a (6,5): shape {:?}, as np.einsum('ijk,lk->ijl', a, b)",
        t.shape()
    );
    show(
        "   the values",
        "np.inner(np.arange(60).reshape(3, 4, 5), np.arange(30).reshape(6, 5))",
        &t,
        &array![
            [
                [30, 80, 130, 180, 230, 280],
                [80, 255, 430, 605, 780, 955],
                [130, 430, 730, 1030, 1330, 1630],
                [180, 605, 1030, 1455, 1880, 2305]
            ],
            [
                [230, 780, 1330, 1880, 2430, 2980],
                [280, 955, 1630, 2305, 2980, 3655],
                [330, 1130, 1930, 2730, 3530, 4330],
                [380, 1305, 2230, 3155, 4080, 5005]
            ],
            [
                [430, 1480, 2530, 3580, 4630, 5680],
                [480, 1655, 2830, 4005, 5180, 6355],
                [530, 1830, 3130, 4430, 5730, 7030],
                [580, 2005, 3430, 4855, 6280, 7705]
            ]
        ],
    );

    // Misaligned last axes: `try_inner` returns the error (`inner` panics with it), in NumPy's words.
    let err = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
        .try_inner(&array![1.0, 2.0, 3.0, 4.0])
        .unwrap_err();
    let numpy_error = "shapes (2,3) and (4,) not aligned: 3 (dim 1) != 4 (dim 0)";
    let agree = err.to_string() == numpy_error;
    print_beside(
        "8. Misaligned shapes: an error, not a panic",
        "np.inner(np.ones((2, 3)), np.ones(4))  -> ValueError",
        &err.to_string(),
        numpy_error,
        agree,
    );
    assert!(agree, "the error reads {err}, NumPy's {numpy_error}");

    println!("\n== Beyond the tutorial ==");

    // N-D with 1-D contracts the last axis: NumPy's own docstring example.
    let a = Array::from_iter(0..24i64).into_shape_with_order((2, 3, 4)).unwrap();
    show(
        "9. N-D with 1-D",
        "np.inner(np.arange(24).reshape(2, 3, 4), np.arange(4))",
        &a.inner(&Array::from_iter(0..4i64)),
        &array![[14, 38, 62], [86, 110, 134]],
    );

    // A 0-d operand multiplies elementwise.
    show(
        "10. A 0-d operand",
        "np.inner(np.eye(2), 7.0)",
        &Array2::eye(2).inner(&arr0(7.0)),
        &array![[7.0, 0.0], [0.0, 7.0]],
    );

    // Complex: `inner` does not conjugate (as NumPy); `inner_conj` conjugates the first operand.
    let p = array![Complex64::new(1.0, 2.0), Complex64::new(3.0, -1.0)];
    let q = array![Complex64::new(2.0, -1.0), Complex64::new(0.0, 1.0)];
    show(
        "11. Complex, conjugated",
        "np.vdot([1+2j, 3-1j], [2-1j, 1j])",
        &p.inner_conj(&q),
        &arr0(Complex64::new(-1.0, -2.0)),
    );

    // Exact top-k search by cosine: each query's two most similar documents, best first.
    let queries = array![[0.1, 0.3, 0.5, 0.7], [0.9, 0.1, 0.0, 0.2]];
    let corpus = array![[0.2, 0.4, 0.4, 0.8], [1.0, 0.0, 0.1, 0.1], [0.5, 0.5, 0.5, 0.5]];
    let hits = top_k(&queries, &corpus, 2, Metric::Cosine).expect("the rows have the queries' length");
    show(
        "12. Top-2 by cosine: indices",
        "np.argsort(-cosines, axis=1)[:, :2]",
        &hits.indices,
        &array![[0, 2], [1, 2]],
    );
    show(
        "    and their cosines",
        "np.take_along_axis(cosines, top2, axis=1)",
        &hits.scores,
        &array![
            [0.9819805060619659, 0.8728715609439697],
            [0.9822872700456586, 0.6469966392206304]
        ],
    );
}
