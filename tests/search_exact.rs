//! probe
mod common;
use ndarray::{array, s, Array2};
use ndarray_inner::search::{range_search, top_k, FlatIndex, Metric, TopK};

#[test]
fn probe() {
    let db = array![[1.0f64], [1.0], [1.0], [0.0]];
    let idx = FlatIndex::with_ids(db.clone(), vec![30, 20, 10, 5], Metric::InnerProduct).unwrap();
    let h = idx.search(&array![1.0], 2).unwrap();
    println!("with_ids search k=2: {:?}", h.indices);
    let r = idx.range_search(&array![1.0], 0.5).unwrap();
    println!("range: {:?}", r.indices);
    let a = FlatIndex::with_ids(db.slice(s![..2, ..]).to_owned(), vec![30, 20], Metric::InnerProduct).unwrap();
    let b = FlatIndex::with_ids(db.slice(s![2.., ..]).to_owned(), vec![10, 5], Metric::InnerProduct).unwrap();
    let m = TopK::merge(
        &[
            (a.search(&array![1.0], 2).unwrap(), 0),
            (b.search(&array![1.0], 2).unwrap(), 0),
        ],
        2,
    )
    .unwrap();
    println!("merged: {:?}", m.indices);
    let h = idx.search_filtered(&array![1.0], 3, |_| true).unwrap();
    println!("filtered: {:?}", h.indices);
    let _ = (
        top_k(&array![1.0], &db, 1, Metric::L2),
        range_search(&array![1.0], &db, 1.0, Metric::L2),
        Array2::<f64>::zeros((1, 1)),
    );
}
