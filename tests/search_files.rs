//! Saved and memory-mapped indexes: `FlatIndex::save`, `load`, `open_mmap` and
//! `from_npy`, and the files they read and write.
//!
//! What it proves:
//! - A loaded and a mapped index answer every search (top-k for few-query and
//!   GEMM batches, 1-D, filtered, range) bit for bit as the saved one did, for
//!   f32, f64, f16 and bf16, every metric, ids as rows, the caller's ids, and
//!   after adds and removals, on 1 and 2 threads; their rows and ids equal a
//!   model of the edits kept here, and the files hold what the documented format
//!   says (read back with ndarray-npy's reader and a header parser written here,
//!   norms checked against `f64` norms). A loaded index edits like the original
//!   and numbers new rows after `next_id`; a mapped one refuses every edit with
//!   `ReadOnly` naming `vectors.npy`, and stays as it was.
//! - Saving over an index replaces it (even one that is mapped, which keeps
//!   answering with its old rows); saving onto anything else fails and leaves it
//!   untouched; a save that fails (parent a regular file, no parent, a write cut
//!   short by a file-size limit in a child process) leaves nothing `load`
//!   accepts and no temporary folder.
//! - A save killed at each of its file-system steps in turn (a child process
//!   aborted by the debug builds' `NDARRAY_INNER_CRASH_AT`), to a new path, over
//!   another index and over the same one, leaves the old or the new index,
//!   complete (for a new path: the new one or nothing loadable), never a mix; the
//!   next save succeeds and removes the crashed one's temporary folders. Two
//!   processes saving to one path at once leave one of the two, complete. Eight
//!   threads searching one shared index (loaded or mapped) get the sequential
//!   answers.
//! - Bad folders give `Io` / `BadFile` naming the file at fault, with a Display
//!   that starts with its path: truncated, extended or non-.npy `vectors.npy`,
//!   another format version or element type (the message names the one held),
//!   a manifest shape that disagrees, norms or ids of the wrong length or type,
//!   repeated or too-large ids, unknown metrics, missing files, Fortran-order or
//!   big-endian vectors, misaligned data for `open_mmap`.
//! - `from_npy` reads the `.npy` files NumPy wrote (committed in
//!   tests/fixtures/npy/ with the script that wrote them and the values it
//!   stored): f32, f64, f16, bf16 bits, C and Fortran order give the stored
//!   values; 3-D, 1-D, another element type and big-endian files are errors
//!   naming the file. What `save` writes has NumPy's header fields and the very
//!   data bytes NumPy writes for the same values.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use half::{bf16, f16};
use ndarray::{s, Array1, Array2, ShapeBuilder};
use ndarray_inner::search::{FlatIndex, Metric, RangeHits, StoredScalar, TopK};
use ndarray_inner::InnerError;
use ndarray_inner_test_kit::{with_threads, Rng};
use num_traits::{Float, NumCast};

const METRICS: [Metric; 3] = [Metric::InnerProduct, Metric::Cosine, Metric::L2];

// ---------------------------------------------------------------------------
// Temporary folders, removed on drop (also when a test fails)

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("search_files-{}-{n}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The names of the entries of the folder, sorted.
    fn entries(&self) -> Vec<String> {
        entries(&self.0)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------
// The element types

trait Elem: StoredScalar {
    const LABEL: &'static str;
    /// The `.npy` descriptor the files must hold.
    const DESCR: &'static str;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn bits(self) -> u64;
    fn from_le(bytes: &[u8]) -> Self;
}

macro_rules! elem {
    ($t:ty, $label:literal, $descr:literal, $size:literal, $from:expr, $to:expr, $bits:expr, $le:expr) => {
        impl Elem for $t {
            const LABEL: &'static str = $label;
            const DESCR: &'static str = $descr;
            fn from_f64(x: f64) -> Self {
                $from(x)
            }
            fn to_f64(self) -> f64 {
                $to(self)
            }
            fn bits(self) -> u64 {
                $bits(self) as u64
            }
            fn from_le(bytes: &[u8]) -> Self {
                let b: [u8; $size] = bytes.try_into().unwrap();
                $le(b)
            }
        }
    };
}
elem!(
    f32,
    "f32",
    "<f4",
    4,
    |x| x as f32,
    |x: f32| x as f64,
    f32::to_bits,
    f32::from_le_bytes
);
elem!(
    f64,
    "f64",
    "<f8",
    8,
    |x| x,
    |x: f64| x,
    f64::to_bits,
    f64::from_le_bytes
);
elem!(
    f16,
    "f16",
    "<f2",
    2,
    f16::from_f64,
    f16::to_f64,
    f16::to_bits,
    f16::from_le_bytes
);
elem!(
    bf16,
    "bf16",
    "<u2",
    2,
    bf16::from_f64,
    bf16::to_f64,
    bf16::to_bits,
    bf16::from_le_bytes
);

fn rows<S: Elem>(rng: &mut Rng, shape: (usize, usize)) -> Array2<S> {
    Array2::from_shape_simple_fn(shape, || S::from_f64(rng.unit()))
}

fn queries<S: Elem>(rng: &mut Rng, shape: (usize, usize)) -> Array2<S::Compute> {
    Array2::from_shape_simple_fn(shape, || <S::Compute as NumCast>::from(rng.unit()).unwrap())
}

fn permutation(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        p.swap(i, rng.below(i + 1));
    }
    p
}

// ---------------------------------------------------------------------------
// Comparing indexes

fn same_bits<A: Float>(x: A, y: A) -> bool {
    x.to_f64().unwrap().to_bits() == y.to_f64().unwrap().to_bits() || (x.is_nan() && y.is_nan())
}

#[track_caller]
fn assert_same_topk<A: Float + std::fmt::Debug>(a: &TopK<A>, b: &TopK<A>, what: &str) {
    assert_eq!(a.metric, b.metric, "{what}: metric");
    assert_eq!(a.indices, b.indices, "{what}: indices");
    assert_eq!(a.scores.dim(), b.scores.dim(), "{what}");
    for (x, y) in a.scores.iter().zip(&b.scores) {
        assert!(same_bits(*x, *y), "{what}: scores {x:?} and {y:?}");
    }
}

#[track_caller]
fn assert_same_range<A: Float + std::fmt::Debug>(a: &RangeHits<A>, b: &RangeHits<A>, what: &str) {
    assert_eq!(
        (&a.lims, &a.indices, a.metric),
        (&b.lims, &b.indices, b.metric),
        "{what}"
    );
    for (x, y) in a.scores.iter().zip(&b.scores) {
        assert!(same_bits(*x, *y), "{what}: range scores {x:?} and {y:?}");
    }
}

/// Every search of `index` for the batches `batches`.
struct Answers<A> {
    tops: Vec<TopK<A>>,
    ranges: Vec<RangeHits<A>>,
}

fn answers<S: Elem>(index: &FlatIndex<S>, batches: &[Array2<S::Compute>]) -> Answers<S::Compute> {
    let mut tops = Vec::new();
    let mut ranges = Vec::new();
    for q in batches {
        let top = index.search(q, 10).unwrap();
        let radius = if top.k() > 0 {
            top.scores[[0, top.k() / 2]]
        } else {
            <S::Compute as NumCast>::from(0.5).unwrap()
        };
        tops.push(index.search(&q.row(0), 10).unwrap());
        tops.push(index.search_filtered(q, 10, |id| id % 3 != 0).unwrap());
        tops.push(top);
        ranges.push(index.range_search(q, radius).unwrap());
        ranges.push(index.range_search_filtered(q, radius, |id| id % 2 == 0).unwrap());
    }
    Answers { tops, ranges }
}

/// `b` answers every search as `a` does, and holds the same rows and ids.
#[track_caller]
fn assert_same_index<S: Elem>(a: &FlatIndex<S>, b: &FlatIndex<S>, batches: &[Array2<S::Compute>], what: &str) {
    assert_eq!((a.len(), a.dim(), a.metric()), (b.len(), b.dim(), b.metric()), "{what}");
    assert_eq!(a.ids().collect::<Vec<_>>(), b.ids().collect::<Vec<_>>(), "{what}: ids");
    let bits = |i: &FlatIndex<S>| i.database().iter().map(|x| x.bits()).collect::<Vec<_>>();
    assert_eq!(bits(a), bits(b), "{what}: rows");
    for threads in [1, 2] {
        let (x, y) = with_threads(threads, || (answers(a, batches), answers(b, batches)));
        for (i, (p, q)) in x.tops.iter().zip(&y.tops).enumerate() {
            assert_same_topk(p, q, &format!("{what}, {threads} threads: search {i}"));
        }
        for (i, (p, q)) in x.ranges.iter().zip(&y.ranges).enumerate() {
            assert_same_range(p, q, &format!("{what}, {threads} threads: range search {i}"));
        }
    }
}

// ---------------------------------------------------------------------------
// Reading the files independently

/// A `.npy` file parsed here: `(descr, fortran_order, shape, header bytes, data bytes)`.
struct Npy {
    descr: String,
    fortran: bool,
    shape: Vec<usize>,
    header_len: usize,
    data: Vec<u8>,
}

/// Parses a version 1.0 `.npy` file by NumPy's rules (format.py): magic, version,
/// a little-endian u16 header length, an ASCII dict ending in '\n', the whole
/// header a multiple of 64 bytes (what NumPy writes, so that mapped data is aligned).
fn parse_npy(path: &Path) -> Npy {
    let bytes = fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY", "{}: magic", path.display());
    assert_eq!((bytes[6], bytes[7]), (1, 0), "{}: version", path.display());
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header_len = 10 + len;
    assert_eq!(header_len % 64, 0, "{}: header of {header_len} bytes", path.display());
    let dict = std::str::from_utf8(&bytes[10..header_len]).unwrap();
    assert!(dict.is_ascii() && dict.ends_with('\n'), "{}: {dict:?}", path.display());
    let dict: String = dict.trim_end().chars().filter(|c| *c != ' ').collect();
    let field = |key: &str| -> String {
        let at = dict
            .find(&format!("'{key}':"))
            .unwrap_or_else(|| panic!("{dict}: no {key}"));
        let rest = &dict[at + key.len() + 3..];
        let end = if rest.starts_with('(') {
            rest.find(')').unwrap() + 1
        } else {
            rest.find([',', '}']).unwrap()
        };
        rest[..end].to_string()
    };
    let descr = field("descr").trim_matches('\'').to_string();
    let fortran = match field("fortran_order").as_str() {
        "True" => true,
        "False" => false,
        other => panic!("fortran_order {other}"),
    };
    let shape_text = field("shape");
    let shape = shape_text
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    Npy {
        descr,
        fortran,
        shape,
        header_len,
        data: bytes[header_len..].to_vec(),
    }
}

/// The manifest `save` documents, for these parts.
fn manifest_text(element: &str, metric: &str, rows: usize, dim: usize, next_id: Option<usize>) -> String {
    let mut t = format!(
        "ndarray-inner FlatIndex\nformat_version = 1\nelement = {element}\nmetric = {metric}\nrows = {rows}\ndim = {dim}\n"
    );
    match next_id {
        None => t.push_str("ids = rows\n"),
        Some(n) => t.push_str(&format!("ids = ids.npy\nnext_id = {n}\n")),
    }
    t
}

fn metric_name(metric: Metric) -> &'static str {
    match metric {
        Metric::InnerProduct => "inner_product",
        Metric::Cosine => "cosine",
        _ => "l2",
    }
}

/// The folder `dir` saved from an index over `rows` (the model) with `ids`:
/// every file as documented.
fn check_folder<S: Elem>(dir: &Path, metric: Metric, d: usize, rows: &[Vec<S>], ids: Option<(&[usize], usize)>) {
    let n = rows.len();
    let mut want_files = vec!["flatindex.txt", "vectors.npy"];
    if metric != Metric::InnerProduct {
        want_files.push("norms.npy");
    }
    if ids.is_some() {
        want_files.push("ids.npy");
    }
    want_files.sort();
    assert_eq!(entries(dir), want_files, "{}", dir.display());
    assert_eq!(
        fs::read_to_string(dir.join("flatindex.txt")).unwrap(),
        manifest_text(S::LABEL, metric_name(metric), n, d, ids.map(|i| i.1))
    );
    let v = parse_npy(&dir.join("vectors.npy"));
    assert_eq!(
        (v.descr.as_str(), v.fortran, v.shape.clone()),
        (S::DESCR, false, vec![n, d])
    );
    let size = std::mem::size_of::<S>();
    assert_eq!(v.data.len(), n * d * size, "vectors.npy data");
    for (r, row) in rows.iter().enumerate() {
        for (c, x) in row.iter().enumerate() {
            let at = (r * d + c) * size;
            assert_eq!(
                S::from_le(&v.data[at..at + size]).bits(),
                x.bits(),
                "vectors.npy [{r}, {c}]"
            );
        }
    }
    if metric != Metric::InnerProduct {
        let norms = parse_npy(&dir.join("norms.npy"));
        let csize = std::mem::size_of::<S::Compute>();
        let cdescr = if csize == 8 { "<f8" } else { "<f4" };
        assert_eq!((norms.descr.as_str(), norms.shape.clone()), (cdescr, vec![n]));
        assert_eq!(norms.data.len(), n * csize);
        for (r, row) in rows.iter().enumerate() {
            let want: f64 = row.iter().map(|x| x.to_f64() * x.to_f64()).sum::<f64>().sqrt();
            let b = &norms.data[r * csize..(r + 1) * csize];
            let got = if csize == 8 {
                f64::from_le_bytes(b.try_into().unwrap())
            } else {
                f32::from_le_bytes(b.try_into().unwrap()) as f64
            };
            let tol = if csize == 8 { 1e-13 } else { 1e-5 };
            assert!(
                (got - want).abs() <= tol * want.max(1e-300),
                "norm {r}: {got} vs {want}"
            );
        }
    }
    if let Some((ids, _)) = ids {
        // ndarray-npy's reader, independent of the crate's.
        let file: Array1<u64> = ndarray_npy::read_npy(dir.join("ids.npy")).unwrap();
        assert_eq!(file.to_vec(), ids.iter().map(|&i| i as u64).collect::<Vec<_>>());
    }
}

// ---------------------------------------------------------------------------
// Round trips

/// An index with `ids` mode 0 (ids are rows), 1 (the caller's ids) or 2 (the
/// caller's ids, then adds and removals); and the model: its rows, its ids, the
/// next id (mode 0 with no edits: none).
type Model<S> = (FlatIndex<S>, Vec<Vec<S>>, Vec<usize>, Option<usize>);

fn build<S: Elem>(rng: &mut Rng, n: usize, d: usize, metric: Metric, mode: usize) -> Model<S> {
    let data = rows::<S>(rng, (n, d));
    let mut model: Vec<Vec<S>> = data.rows().into_iter().map(|r| r.to_vec()).collect();
    if mode == 0 {
        return (FlatIndex::new(data, metric), model, (0..n).collect(), None);
    }
    let mut ids: Vec<usize> = permutation(rng, n).into_iter().map(|p| 5 * p + 2).collect();
    let mut index = FlatIndex::with_ids(data, ids.clone(), metric).unwrap();
    let mut next = ids.iter().max().map_or(0, |m| m + 1);
    if mode == 2 {
        let more = rows::<S>(rng, (40, d));
        let more_ids: Vec<usize> = (0..40).map(|i| 5 * i + 4).collect();
        index.add_with_ids(&more, &more_ids).unwrap();
        model.extend(more.rows().into_iter().map(|r| r.to_vec()));
        ids.extend(&more_ids);
        next = next.max(5 * 39 + 5);
        // F-order rows through add.
        let tail = rows::<S>(rng, (7, d));
        let mut tail_f = Array2::<S>::from_elem(tail.dim().f(), S::default());
        tail_f.assign(&tail);
        index.add(&tail_f).unwrap();
        model.extend(tail.rows().into_iter().map(|r| r.to_vec()));
        ids.extend(next..next + 7);
        next += 7;
        let doomed: Vec<usize> = (0..n / 4).map(|_| ids[rng.below(ids.len())]).chain([1, 3]).collect();
        let want = ids.iter().filter(|i| doomed.contains(i)).count();
        assert_eq!(index.remove_ids(&doomed).unwrap(), want);
        let keep: Vec<bool> = ids.iter().map(|i| !doomed.contains(i)).collect();
        model = model
            .into_iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(r, _)| r)
            .collect();
        ids.retain(|i| !doomed.contains(i));
        // The largest id removed on purpose: next_id must still be after it.
        let largest = *ids.iter().max().unwrap();
        if largest + 1 == next {
            assert_eq!(index.remove_ids(&[largest]).unwrap(), 1);
            let at = ids.iter().position(|&i| i == largest).unwrap();
            ids.remove(at);
            model.remove(at);
        }
    }
    assert_eq!(index.ids().collect::<Vec<_>>(), ids);
    (index, model, ids, Some(next))
}

fn check_round_trip<S: Elem>(seed: u64, n: usize, d: usize) {
    let mut rng = Rng(seed);
    let dir = TempDir::new(&format!("round-trip-{}", S::LABEL));
    for metric in METRICS {
        for mode in 0..3 {
            let what = format!("{} ({n},{d}) {metric:?} ids mode {mode}", S::LABEL);
            let (index, model, ids, next) = build::<S>(&mut rng, n, d, metric, mode);
            let path = dir.join(&format!("{metric:?}-{mode}"));
            index.save(&path).unwrap();
            let id_file = next.map(|nx| (&ids[..], nx));
            check_folder::<S>(&path, metric, d, &model, id_file);
            let batches: Vec<_> = [1, 5, 17].iter().map(|&q| queries::<S>(&mut rng, (q, d))).collect();
            let loaded = FlatIndex::<S>::load(&path).unwrap();
            let mapped = FlatIndex::<S>::open_mmap(&path).unwrap();
            assert_same_index(&index, &loaded, &batches, &format!("{what}: loaded"));
            assert_same_index(&index, &mapped, &batches, &format!("{what}: mapped"));
            // A clone of a mapped index maps the same rows.
            assert_same_index(&index, &mapped.clone(), &batches[..1], &format!("{what}: mapped clone"));
            // The model kept here: rows and ids.
            let model_bits: Vec<u64> = model.iter().flatten().map(|x| x.bits()).collect();
            let mapped_bits: Vec<u64> = mapped.database().iter().map(|x| x.bits()).collect();
            assert_eq!(mapped_bits, model_bits, "{what}: mapped rows and the model");
            assert_eq!(loaded.ids().collect::<Vec<_>>(), ids, "{what}: ids and the model");
            check_read_only(mapped, &index, &batches, &what);
            check_edits_after_load(&mut rng, index, loaded, &batches, &what);
        }
    }
}

/// A mapped index refuses every edit with `ReadOnly` naming its `vectors.npy`,
/// and answers as before.
fn check_read_only<S: Elem>(
    mut mapped: FlatIndex<S>,
    saved: &FlatIndex<S>,
    batches: &[Array2<S::Compute>],
    what: &str,
) {
    let d = mapped.dim();
    let row = Array2::<S>::from_elem((1, d), S::from_f64(0.25));
    let first = mapped.ids().next();
    let errors = [
        mapped.add(&row).unwrap_err(),
        mapped.add_with_ids(&row, &[usize::MAX - 7]).unwrap_err(),
        mapped.remove_ids(&[]).unwrap_err(),
        mapped.remove_ids(&first.into_iter().collect::<Vec<_>>()).unwrap_err(),
    ];
    for e in errors {
        match &e {
            InnerError::ReadOnly { path } => assert_eq!(path.file_name().unwrap(), "vectors.npy", "{what}: {e}"),
            other => panic!("{what}: {other:?}, not ReadOnly"),
        }
        assert!(e.to_string().contains("vectors.npy"), "{what}: {e}");
    }
    assert_same_index(
        saved,
        &mapped,
        &batches[..1],
        &format!("{what}: mapped after refused edits"),
    );
}

/// A loaded index edits as the original does, new rows numbered after `next_id`.
fn check_edits_after_load<S: Elem>(
    rng: &mut Rng,
    mut original: FlatIndex<S>,
    mut loaded: FlatIndex<S>,
    batches: &[Array2<S::Compute>],
    what: &str,
) {
    let d = original.dim();
    let more = rows::<S>(rng, (9, d));
    original.add(&more).unwrap();
    loaded.add(&more).unwrap();
    let ids: Vec<usize> = original.ids().collect();
    let victims: Vec<usize> = ids.iter().step_by(3).copied().collect();
    assert_eq!(
        original.remove_ids(&victims).unwrap(),
        loaded.remove_ids(&victims).unwrap(),
        "{what}"
    );
    let fresh = ids.iter().max().map_or(0, |m| m + 1000);
    original
        .add_with_ids(&more.slice(s![..2, ..]), &[fresh, fresh + 1])
        .unwrap();
    loaded
        .add_with_ids(&more.slice(s![..2, ..]), &[fresh, fresh + 1])
        .unwrap();
    assert_same_index(&original, &loaded, &batches[..2], &format!("{what}: edited after load"));
}

#[test]
fn f32_loaded_and_mapped_answer_as_saved() {
    check_round_trip::<f32>(1, 700, 33);
}

#[test]
fn f64_loaded_and_mapped_answer_as_saved() {
    check_round_trip::<f64>(2, 700, 33);
}

#[test]
fn f16_loaded_and_mapped_answer_as_saved() {
    check_round_trip::<f16>(3, 700, 33);
}

#[test]
fn bf16_loaded_and_mapped_answer_as_saved() {
    check_round_trip::<bf16>(4, 700, 33);
}

/// A database the few-query kernel splits over 2 threads, and GEMM blocks.
#[test]
fn large_loaded_and_mapped_answer_as_saved() {
    let mut rng = Rng(5);
    let dir = TempDir::new("large");
    for metric in METRICS {
        let f = FlatIndex::<f32>::new(rows(&mut rng, (2100, 128)), metric);
        let h = FlatIndex::<f16>::new(rows(&mut rng, (2100, 128)), metric);
        f.save(dir.join("f32")).unwrap();
        h.save(dir.join("f16")).unwrap();
        let fq: Vec<_> = [1, 16, 100]
            .iter()
            .map(|&q| queries::<f32>(&mut rng, (q, 128)))
            .collect();
        let hq: Vec<_> = [1, 2, 100]
            .iter()
            .map(|&q| queries::<f16>(&mut rng, (q, 128)))
            .collect();
        assert_same_index(&f, &FlatIndex::load(dir.join("f32")).unwrap(), &fq, "f32 loaded");
        assert_same_index(&f, &FlatIndex::open_mmap(dir.join("f32")).unwrap(), &fq, "f32 mapped");
        assert_same_index(&h, &FlatIndex::load(dir.join("f16")).unwrap(), &hq, "f16 loaded");
        assert_same_index(&h, &FlatIndex::open_mmap(dir.join("f16")).unwrap(), &hq, "f16 mapped");
    }
}

/// No rows, and rows of length 0.
#[test]
fn empty_indexes_round_trip() {
    let dir = TempDir::new("empty");
    for metric in METRICS {
        for (n, d) in [(0, 8), (3, 0), (0, 0)] {
            let what = format!("({n},{d}) {metric:?}");
            let index = FlatIndex::<f32>::new(Array2::zeros((n, d)), metric);
            let path = dir.join(&format!("{metric:?}-{n}-{d}"));
            index.save(&path).unwrap();
            check_folder::<f32>(&path, metric, d, &vec![vec![0.0; d]; n], None);
            let queries = Array2::<f32>::ones((2, d));
            for opened in [FlatIndex::<f32>::load(&path), FlatIndex::<f32>::open_mmap(&path)] {
                let opened = opened.unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!((opened.len(), opened.dim()), (n, d), "{what}");
                assert_same_topk(
                    &opened.search(&queries, 3).unwrap(),
                    &index.search(&queries, 3).unwrap(),
                    &what,
                );
            }
        }
    }
}

/// `next_id` is saved: new rows of a loaded index are numbered after the
/// largest id ever held, even when that row was removed before the save.
#[test]
fn a_loaded_index_numbers_new_rows_after_next_id() {
    let dir = TempDir::new("next-id");
    let mut index = FlatIndex::<f32>::with_ids(Array2::ones((3, 2)), vec![5, 100, 7], Metric::L2).unwrap();
    assert_eq!(index.remove_ids(&[100]).unwrap(), 1);
    index.save(dir.join("i")).unwrap();
    let text = fs::read_to_string(dir.join("i").join("flatindex.txt")).unwrap();
    assert!(text.contains("next_id = 101\n"), "{text}");
    let mut loaded = FlatIndex::<f32>::load(dir.join("i")).unwrap();
    loaded.add(&Array2::zeros((2, 2))).unwrap();
    assert_eq!(loaded.ids().collect::<Vec<_>>(), [5, 7, 101, 102]);
    assert!(!loaded.contains_id(100));
    assert!(loaded.contains_id(101));
}

// ---------------------------------------------------------------------------
// Replacing, refusing, failing

/// Entries of `dir` that look like a save's temporary or set-aside folders.
fn leftovers(dir: &Path) -> Vec<String> {
    entries(dir).into_iter().filter(|e| e.starts_with('.')).collect()
}

#[test]
fn saving_over_an_index_replaces_it_and_a_mapped_one_keeps_its_rows() {
    let mut rng = Rng(6);
    let dir = TempDir::new("resave");
    let path = dir.join("index");
    let a = FlatIndex::<f32>::with_ids(rows(&mut rng, (300, 16)), (0..300).rev().collect(), Metric::Cosine).unwrap();
    let b = FlatIndex::<f32>::new(rows(&mut rng, (200, 16)), Metric::L2);
    let batches = [queries::<f32>(&mut rng, (5, 16))];
    a.save(&path).unwrap();
    let mapped_a = FlatIndex::<f32>::open_mmap(&path).unwrap();
    b.save(&path).unwrap();
    assert_eq!(dir.entries(), ["index"], "nothing beside the index");
    let loaded = FlatIndex::<f32>::load(&path).unwrap();
    assert_same_index(&b, &loaded, &batches, "re-saved: loaded");
    check_folder::<f32>(
        &path,
        Metric::L2,
        16,
        &b.database().rows().into_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
        None,
    );
    // The mapped index still reads the old file (renamed away, not written).
    assert_same_index(&a, &mapped_a, &batches, "mapped before the re-save");
    drop(mapped_a);
    // Another element type replaces it too.
    let h = FlatIndex::<f16>::new(rows(&mut rng, (50, 16)), Metric::InnerProduct);
    h.save(&path).unwrap();
    assert_same_index(
        &h,
        &FlatIndex::<f16>::load(&path).unwrap(),
        &[queries::<f16>(&mut rng, (3, 16))],
        "f16 over f32",
    );
    let err = FlatIndex::<f32>::load(&path).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("holds f16 vectors, not f32: open it as FlatIndex::<f16>"),
        "{err}"
    );
    assert_eq!(dir.entries(), ["index"]);
}

#[test]
fn saving_onto_something_else_fails_and_leaves_it_untouched() {
    let dir = TempDir::new("refuse");
    let index = FlatIndex::<f32>::new(Array2::ones((4, 3)), Metric::Cosine);
    // A regular file.
    let file = dir.join("file");
    fs::write(&file, b"precious").unwrap();
    // A folder with other files.
    let folder = dir.join("folder");
    fs::create_dir(&folder).unwrap();
    fs::write(folder.join("vectors.npy"), b"not mine").unwrap();
    // An empty folder.
    let empty = dir.join("empty");
    fs::create_dir(&empty).unwrap();
    for path in [&file, &folder, &empty] {
        let err = index.save(path).unwrap_err();
        match &err {
            InnerError::Io { path: p, kind, .. } => {
                assert_eq!(p, path);
                assert_eq!(*kind, std::io::ErrorKind::AlreadyExists, "{err}");
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().starts_with(&path.display().to_string()), "{err}");
    }
    assert_eq!(fs::read(&file).unwrap(), b"precious");
    assert_eq!(entries(&folder), ["vectors.npy"]);
    assert_eq!(fs::read(folder.join("vectors.npy")).unwrap(), b"not mine");
    assert!(entries(&empty).is_empty());
    assert_eq!(dir.entries(), ["empty", "file", "folder"], "no temporary folder");
}

#[test]
fn a_failed_save_leaves_nothing_behind() {
    let dir = TempDir::new("fail");
    let index = FlatIndex::<f32>::new(Array2::ones((4, 3)), Metric::L2);
    fs::write(dir.join("file"), b"x").unwrap();
    // The parent is a regular file; the parent does not exist.
    for (path, parent) in [
        (dir.join("file").join("index"), dir.join("file")),
        (dir.join("missing").join("index"), dir.join("missing")),
        (dir.join("missing").join("deeper").join("index"), dir.join("missing")),
    ] {
        let err = index.save(&path).unwrap_err();
        let InnerError::Io { path: p, .. } = &err else {
            panic!("{}: {err:?}", path.display());
        };
        println!("save to {}: {err}", path.display());
        // It names a path in the folder asked for (the temporary folder beside it).
        assert!(p.starts_with(path.parent().unwrap()), "{err}");
        assert!(err.to_string().starts_with(&p.display().to_string()), "{err}");
        assert!(FlatIndex::<f32>::load(&path).is_err());
        assert!(!path.exists());
        if parent.is_dir() {
            assert!(leftovers(&parent).is_empty());
        }
    }
    assert_eq!(dir.entries(), ["file"], "nothing created");
    assert_eq!(fs::read(dir.join("file")).unwrap(), b"x");
    // A path with no folder name.
    let err = index.save("").unwrap_err();
    assert!(
        matches!(
            err,
            InnerError::Io {
                kind: std::io::ErrorKind::InvalidInput,
                ..
            }
        ),
        "{err:?}"
    );
}

const FSIZE_CHILD: &str = "NDI_SEARCH_FILES_FSIZE_CHILD";

/// A write cut short: a child process of this test with a file-size limit of
/// 64 KiB (`ulimit -f`, SIGXFSZ ignored so that the write fails with EFBIG)
/// saves an index whose vectors take 200 KiB, once to a new path and once over
/// an index saved before: the save fails, no temporary folder is left, the old
/// index is still there and loads.
#[test]
fn a_save_cut_short_by_a_full_disk_leaves_nothing_behind() {
    if let Some(dir) = std::env::var_os(FSIZE_CHILD) {
        let dir = PathBuf::from(dir);
        let mut rng = Rng(7);
        let big = FlatIndex::<f32>::new(rows(&mut rng, (1600, 32)), Metric::Cosine);
        for name in ["new", "old"] {
            let err = big.save(dir.join(name)).unwrap_err();
            println!("{name}: {err}");
            let InnerError::Io { path, .. } = &err else {
                panic!("{err:?}");
            };
            assert!(path.starts_with(&dir), "{err}");
        }
        return;
    }
    let dir = TempDir::new("fsize");
    let small = FlatIndex::<f32>::new(Array2::ones((4, 3)), Metric::Cosine);
    small.save(dir.join("old")).unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 128 && trap '' XFSZ && exec \"$0\" --exact a_save_cut_short_by_a_full_disk_leaves_nothing_behind --nocapture --test-threads 1")
        .arg(&exe)
        .env(FSIZE_CHILD, &dir.0)
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            println!("skipped: no sh to set a file-size limit ({e})");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("new: ") && stdout.contains("old: "), "{stdout}");
    assert_eq!(dir.entries(), ["old"], "no temporary folder, no new index:\n{stdout}");
    assert!(FlatIndex::<f32>::load(dir.join("new")).is_err());
    let old = FlatIndex::<f32>::load(dir.join("old")).unwrap();
    assert_same_index(
        &small,
        &old,
        &[Array2::ones((1, 3))],
        "the old index after the failed save",
    );
}

// ---------------------------------------------------------------------------
// Crashes: a save killed at every one of its steps

const CRASH_CHILD: &str = "NDI_SEARCH_FILES_CRASH_PATH";

/// The two indexes of the crash tests, with ids and norms (cosine): every file of
/// the layout is written.
fn crash_index(which: &str) -> FlatIndex<f32> {
    let (seed, n) = if which == "old" { (21, 40) } else { (22, 60) };
    let mut rng = Rng(seed);
    let ids = (0..n).map(|i| 3 * i + seed as usize).collect();
    FlatIndex::<f32>::with_ids(rows(&mut rng, (n, 8)), ids, Metric::Cosine).unwrap()
}

/// The child of the crash tests: saves `crash_index(NDI_..._CRASH_INDEX)` to the
/// path in `CRASH_CHILD`; nothing when run as a test of its own.
#[test]
fn crash_child_saves_an_index() {
    let (Some(path), Ok(which)) = (
        std::env::var_os(CRASH_CHILD),
        std::env::var("NDI_SEARCH_FILES_CRASH_INDEX"),
    ) else {
        return;
    };
    crash_index(&which).save(PathBuf::from(path)).unwrap();
}

/// Runs the child saving `which` to `path`, aborted at its `crash_at`-th
/// file-system step (debug builds count them); whether it finished.
fn save_in_child(path: &Path, which: &str, crash_at: Option<usize>) -> bool {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "crash_child_saves_an_index", "--test-threads", "1"])
        .env(CRASH_CHILD, path)
        .env("NDI_SEARCH_FILES_CRASH_INDEX", which)
        .env_remove("NDARRAY_INNER_CRASH_AT")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(at) = crash_at {
        cmd.env("NDARRAY_INNER_CRASH_AT", at.to_string());
    }
    cmd.status().unwrap().success()
}

/// Which of `candidates` the folder at `path` holds, loaded and mapped alike
/// (`None`: nothing loadable, by either).
fn held(path: &Path, candidates: &[&str], what: &str) -> Option<String> {
    let batches = [queries::<f32>(&mut Rng(23), (3, 8))];
    let loaded = FlatIndex::<f32>::load(path);
    let mapped = FlatIndex::<f32>::open_mmap(path);
    assert_eq!(loaded.is_ok(), mapped.is_ok(), "{what}: load and open_mmap disagree");
    let (Ok(loaded), Ok(mapped)) = (loaded, mapped) else {
        return None;
    };
    let found = candidates
        .iter()
        .find(|c| {
            let want = crash_index(c);
            loaded.len() == want.len() && loaded.ids().eq(want.ids())
        })
        .unwrap_or_else(|| panic!("{what}: the folder holds neither of {candidates:?} (a mixed index)"));
    let want = crash_index(found);
    assert_same_index(&want, &loaded, &batches, &format!("{what}: loaded"));
    assert_same_index(&want, &mapped, &batches, &format!("{what}: mapped"));
    Some(found.to_string())
}

/// A save killed (aborted) at each of its file-system steps in turn, for a new
/// path, over another index, and over the same index: the path holds the old
/// index or the new one, complete, loaded and mapped alike (for a new path, the
/// new index or nothing loadable); the next save succeeds and removes what the
/// crashed one left beside the path.
#[test]
fn a_save_killed_at_any_step_leaves_the_old_or_the_new_index() {
    if !cfg!(debug_assertions) {
        println!("skipped: the crash steps exist in debug builds only");
        return;
    }
    let dir = TempDir::new("crash");
    for (case, before) in [("create", None), ("replace", Some("old")), ("re-save", Some("new"))] {
        let mut steps = None;
        for at in 1..200 {
            let path = dir.join(&format!("{case}-{at}"));
            if let Some(before) = before {
                crash_index(before).save(&path).unwrap();
            }
            let finished = save_in_child(&path, "new", Some(at));
            let what = format!("{case}, killed at step {at}");
            let found = held(&path, &["old", "new"], &what);
            match (before, found.as_deref()) {
                (_, Some("new")) => {}
                (Some(b), Some(f)) => assert_eq!(f, b, "{what}"),
                (None, None) => assert!(!finished, "{what}: a finished save left nothing"),
                (b, f) => panic!("{what}: was {b:?}, holds {f:?}"),
            }
            if finished {
                assert_eq!(found.as_deref(), Some("new"), "{what}");
            }
            // The next save works and cleans up after the crashed one.
            crash_index("old").save(&path).unwrap();
            assert_eq!(
                held(&path, &["old"], &format!("{what}, saved again")).as_deref(),
                Some("old")
            );
            assert_eq!(
                leftovers(&dir.0),
                Vec::<String>::new(),
                "{what}: litter after the next save"
            );
            fs::remove_dir_all(&path).unwrap();
            if finished {
                steps = Some(at - 1);
                break;
            }
        }
        let steps = steps.expect("the save finished within 200 steps");
        println!("{case}: {steps} steps, each crashed once");
        assert!(steps >= 15, "{case}: only {steps} crash steps");
    }
}

/// Two processes saving different indexes to one path at once: the path ends
/// with one of the two, complete, and nothing beside it.
#[test]
fn two_processes_saving_at_once_leave_one_complete_index() {
    let dir = TempDir::new("race");
    for round in 0..6 {
        let path = dir.join(&format!("index-{round}"));
        if round % 2 == 1 {
            crash_index("old").save(&path).unwrap();
        }
        let spawn = |which: &str| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "crash_child_saves_an_index", "--test-threads", "1"])
                .env(CRASH_CHILD, &path)
                .env("NDI_SEARCH_FILES_CRASH_INDEX", which)
                .env_remove("NDARRAY_INNER_CRASH_AT")
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        };
        let (mut a, mut b) = (spawn("old"), spawn("new"));
        assert!(
            a.wait().unwrap().success() && b.wait().unwrap().success(),
            "round {round}"
        );
        assert!(held(&path, &["old", "new"], &format!("race {round}")).is_some());
        assert_eq!(leftovers(&dir.0), Vec::<String>::new(), "race {round}: litter");
    }
}

/// Many threads searching one shared index (loaded and mapped, behind an `Arc`)
/// at once get the answers of the same searches made one after the other.
#[test]
fn threads_sharing_one_index_get_the_sequential_answers() {
    let mut rng = Rng(24);
    let dir = TempDir::new("shared");
    let path = dir.join("index");
    let built = FlatIndex::<f32>::with_ids(
        rows(&mut rng, (3000, 24)),
        (0..3000).map(|i| 7 * i).collect(),
        Metric::L2,
    )
    .unwrap();
    built.save(&path).unwrap();
    let batches: Vec<Array2<f32>> = [1, 5, 40].iter().map(|&q| queries::<f32>(&mut rng, (q, 24))).collect();
    for (label, index) in [
        ("loaded", FlatIndex::<f32>::load(&path).unwrap()),
        ("mapped", FlatIndex::<f32>::open_mmap(&path).unwrap()),
    ] {
        let index = std::sync::Arc::new(index);
        let want: Vec<TopK<f32>> = batches.iter().map(|q| index.search(q, 7).unwrap()).collect();
        std::thread::scope(|scope| {
            for t in 0..8 {
                let (index, batches, want) = (std::sync::Arc::clone(&index), &batches, &want);
                scope.spawn(move || {
                    for round in 0..20 {
                        let b = (t + round) % batches.len();
                        let got = index.search(&batches[b], 7).unwrap();
                        assert_same_topk(&got, &want[b], &format!("{label}: thread {t}, round {round}"));
                    }
                });
            }
        });
    }
}

// ---------------------------------------------------------------------------
// Bad folders

/// A saved folder, every file present: cosine (norms), with ids.
fn good_folder(dir: &TempDir, name: &str) -> PathBuf {
    let mut rng = Rng(8);
    let path = dir.join(name);
    FlatIndex::<f32>::with_ids(rows(&mut rng, (20, 6)), (100..120).collect(), Metric::Cosine)
        .unwrap()
        .save(&path)
        .unwrap();
    path
}

fn edit_manifest(path: &Path, from: &str, to: &str) {
    let file = path.join("flatindex.txt");
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.contains(from), "{text}");
    fs::write(&file, text.replace(from, to)).unwrap();
}

/// Writes a `.npy` file: this header, then `data`.
fn write_npy_raw(path: &Path, descr: &str, fortran: bool, shape: &[usize], data: &[u8]) {
    let header = ndarray_npy::npy::header::Header {
        type_descriptor: py_literal::Value::String(descr.into()),
        layout: if fortran {
            ndarray_npy::npy::header::Layout::Fortran
        } else {
            ndarray_npy::npy::header::Layout::Standard
        },
        shape: shape.to_vec(),
    };
    let mut f = fs::File::create(path).unwrap();
    f.write_all(&header.to_bytes().unwrap()).unwrap();
    f.write_all(data).unwrap();
}

/// The error expected: `BadFile` or `Io` of `kind`, naming `file`, saying `says`.
enum Want {
    Bad(&'static str, &'static str),
    Io(&'static str, std::io::ErrorKind),
}

#[track_caller]
fn assert_error(result: Result<FlatIndex<f32>, InnerError>, folder: &Path, want: &Want, what: &str) {
    let err = match result {
        Ok(_) => panic!("{what}: accepted"),
        Err(e) => e,
    };
    let shown = err.to_string();
    let (path, file) = match (&err, want) {
        (InnerError::BadFile { path, reason }, Want::Bad(file, says)) => {
            assert!(reason.contains(says), "{what}: {shown:?} does not say {says:?}");
            (path, file)
        }
        (InnerError::Io { path, kind, .. }, Want::Io(file, want_kind)) => {
            assert_eq!(kind, want_kind, "{what}: {shown}");
            (path, file)
        }
        (other, _) => panic!("{what}: {other:?}"),
    };
    assert_eq!(path, &folder.join(file), "{what}: {shown}");
    assert!(shown.starts_with(&path.display().to_string()), "{what}: {shown}");
}

#[test]
fn bad_folders_name_the_file_at_fault() {
    use std::io::ErrorKind::NotFound;
    let dir = TempDir::new("bad");
    type Corrupt = fn(&Path);
    let cases: Vec<(&str, Corrupt, Want)> = vec![
        (
            "truncated vectors",
            |p| {
                let f = fs::OpenOptions::new().write(true).open(p.join("vectors.npy")).unwrap();
                let len = f.metadata().unwrap().len();
                f.set_len(len - 4).unwrap();
            },
            Want::Bad("vectors.npy", "is truncated"),
        ),
        (
            "vectors cut inside the header",
            |p| {
                let f = fs::OpenOptions::new().write(true).open(p.join("vectors.npy")).unwrap();
                f.set_len(20).unwrap();
            },
            Want::Bad("vectors.npy", "not a .npy file"),
        ),
        (
            "extra bytes after the vectors",
            |p| {
                let mut f = fs::OpenOptions::new().append(true).open(p.join("vectors.npy")).unwrap();
                f.write_all(&[0, 0, 0, 0]).unwrap();
            },
            Want::Bad("vectors.npy", "has extra bytes"),
        ),
        (
            "wrong magic",
            |p| {
                let mut bytes = fs::read(p.join("vectors.npy")).unwrap();
                bytes[..6].copy_from_slice(b"PK\x03\x04zz");
                fs::write(p.join("vectors.npy"), bytes).unwrap();
            },
            Want::Bad("vectors.npy", "not a .npy file"),
        ),
        (
            "format version 2",
            |p| edit_manifest(p, "format_version = 1", "format_version = 2"),
            Want::Bad("flatindex.txt", "format version 2"),
        ),
        (
            "another first line",
            |p| edit_manifest(p, "ndarray-inner FlatIndex", "faiss IndexFlat"),
            Want::Bad("flatindex.txt", "not a saved FlatIndex"),
        ),
        (
            "no format_version line",
            |p| edit_manifest(p, "format_version = 1\n", ""),
            Want::Bad("flatindex.txt", "no format_version line"),
        ),
        (
            "unknown metric",
            |p| edit_manifest(p, "metric = cosine", "metric = hamming"),
            Want::Bad("flatindex.txt", "unknown metric \"hamming\""),
        ),
        (
            "rows not a number",
            |p| edit_manifest(p, "rows = 20", "rows = twenty"),
            Want::Bad("flatindex.txt", "is not a number"),
        ),
        (
            "ids neither rows nor ids.npy",
            |p| edit_manifest(p, "ids = ids.npy", "ids = labels.npy"),
            Want::Bad("flatindex.txt", "expected rows or ids.npy"),
        ),
        (
            "manifest says more rows",
            |p| edit_manifest(p, "rows = 20", "rows = 21"),
            Want::Bad("vectors.npy", "the manifest says (21,6)"),
        ),
        (
            "manifest says another dim",
            |p| edit_manifest(p, "dim = 6", "dim = 5"),
            Want::Bad(
                "vectors.npy",
                "holds an array of shape (20,6), the manifest says (20,5)",
            ),
        ),
        (
            "norms one short",
            |p| write_npy_raw(&p.join("norms.npy"), "<f4", false, &[19], &[0; 76]),
            Want::Bad("norms.npy", "holds an array of shape (19,), the manifest says (20,)"),
        ),
        (
            "norms of another type",
            |p| write_npy_raw(&p.join("norms.npy"), "<f8", false, &[20], &[0; 160]),
            Want::Bad("norms.npy", "holds '<f8' elements, not f32"),
        ),
        (
            "norms truncated",
            |p| write_npy_raw(&p.join("norms.npy"), "<f4", false, &[20], &[0; 79]),
            Want::Bad("norms.npy", "is truncated"),
        ),
        (
            "ids one too many",
            |p| write_npy_raw(&p.join("ids.npy"), "<u8", false, &[21], &[0; 168]),
            Want::Bad("ids.npy", "holds an array of shape (21,), the manifest says (20,)"),
        ),
        (
            "ids repeated",
            |p| {
                let ids: Vec<u8> = (0..20u64).flat_map(|i| (100 + i.min(18)).to_le_bytes()).collect();
                write_npy_raw(&p.join("ids.npy"), "<u8", false, &[20], &ids);
            },
            Want::Bad("ids.npy", "id 118 is given twice"),
        ),
        (
            "an id not below next_id",
            |p| edit_manifest(p, "next_id = 120", "next_id = 119"),
            Want::Bad("ids.npy", "id 119 is reserved or not below next_id = 119"),
        ),
        (
            "ids of another type",
            |p| write_npy_raw(&p.join("ids.npy"), "<i4", false, &[20], &[0; 80]),
            Want::Bad("ids.npy", "holds '<i4' elements, not u64"),
        ),
        (
            "vectors in Fortran order",
            |p| {
                let v = parse_npy(&p.join("vectors.npy"));
                write_npy_raw(&p.join("vectors.npy"), "<f4", true, &[20, 6], &v.data);
            },
            Want::Bad("vectors.npy", "Fortran order"),
        ),
        (
            "big-endian vectors",
            |p| {
                let v = parse_npy(&p.join("vectors.npy"));
                write_npy_raw(&p.join("vectors.npy"), ">f4", false, &[20, 6], &v.data);
            },
            Want::Bad("vectors.npy", "big-endian"),
        ),
        (
            "no vectors.npy",
            |p| fs::remove_file(p.join("vectors.npy")).unwrap(),
            Want::Io("vectors.npy", NotFound),
        ),
        (
            "no norms.npy",
            |p| fs::remove_file(p.join("norms.npy")).unwrap(),
            Want::Io("norms.npy", NotFound),
        ),
        (
            "no ids.npy",
            |p| fs::remove_file(p.join("ids.npy")).unwrap(),
            Want::Io("ids.npy", NotFound),
        ),
        (
            "no manifest",
            |p| fs::remove_file(p.join("flatindex.txt")).unwrap(),
            Want::Io("flatindex.txt", NotFound),
        ),
        (
            "no folder",
            |p| fs::remove_dir_all(p).unwrap(),
            Want::Io("flatindex.txt", NotFound),
        ),
    ];
    for (i, (what, corrupt, want)) in cases.iter().enumerate() {
        let path = good_folder(&dir, &format!("case-{i}"));
        FlatIndex::<f32>::load(&path).unwrap_or_else(|e| panic!("{what}: the good folder: {e}"));
        corrupt(&path);
        assert_error(FlatIndex::<f32>::load(&path), &path, want, &format!("load: {what}"));
        assert_error(
            FlatIndex::<f32>::open_mmap(&path),
            &path,
            want,
            &format!("open_mmap: {what}"),
        );
    }
}

/// Opening a folder as another element type names the type it holds.
#[test]
fn another_element_type_says_which_it_holds() {
    let dir = TempDir::new("types");
    FlatIndex::<f16>::new(Array2::from_elem((3, 2), f16::ONE), Metric::L2)
        .save(dir.join("f16"))
        .unwrap();
    FlatIndex::<f32>::new(Array2::ones((3, 2)), Metric::L2)
        .save(dir.join("f32"))
        .unwrap();
    let path = dir.join("f16");
    for err in [
        FlatIndex::<f32>::load(&path).unwrap_err(),
        FlatIndex::<f32>::open_mmap(&path).unwrap_err(),
    ] {
        assert!(matches!(&err, InnerError::BadFile { path: p, .. } if *p == path.join("flatindex.txt")));
        assert!(
            err.to_string()
                .ends_with("holds f16 vectors, not f32: open it as FlatIndex::<f16>"),
            "{err}"
        );
    }
    let path = dir.join("f32");
    for (err, name) in [
        (FlatIndex::<f64>::load(&path).map(|_| ()).unwrap_err(), "f64"),
        (FlatIndex::<bf16>::open_mmap(&path).map(|_| ()).unwrap_err(), "bf16"),
        (FlatIndex::<f16>::load(&path).map(|_| ()).unwrap_err(), "f16"),
    ] {
        assert!(
            err.to_string()
                .ends_with(&format!("holds f32 vectors, not {name}: open it as FlatIndex::<f32>")),
            "{err}"
        );
    }
    // The manifest's element is checked against the file: an f32 file under a
    // manifest that says f16.
    edit_manifest(&path, "element = f32", "element = f16");
    let err = FlatIndex::<f16>::load(&path).unwrap_err();
    assert!(
        matches!(&err, InnerError::BadFile { path: p, .. } if *p == path.join("vectors.npy")),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("holds '<f4' elements, not f16 ('<f2')"),
        "{err}"
    );
}

/// `open_mmap` needs the data aligned for the element type; `load` reads it anyway.
#[test]
fn misaligned_data_is_an_error_for_open_mmap_only() {
    let dir = TempDir::new("misaligned");
    let path = dir.join("i");
    let index = FlatIndex::<f32>::new(
        Array2::from_shape_fn((5, 3), |(i, j)| (i * 3 + j) as f32),
        Metric::InnerProduct,
    );
    index.save(&path).unwrap();
    // A version 1.0 header of 66 bytes: the data starts at an offset that is
    // not a multiple of 4 (NumPy itself pads to 64).
    let data = parse_npy(&path.join("vectors.npy")).data;
    let mut dict = b"{'descr': '<f4', 'fortran_order': False, 'shape': (5, 3), }".to_vec();
    while 10 + dict.len() + 1 < 66 {
        dict.push(b' ');
    }
    dict.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((dict.len() as u16).to_le_bytes());
    bytes.extend(&dict);
    bytes.extend(&data);
    fs::write(path.join("vectors.npy"), &bytes).unwrap();
    let loaded = FlatIndex::<f32>::load(&path).unwrap();
    assert_eq!(loaded.database(), index.database());
    let err = FlatIndex::<f32>::open_mmap(&path).unwrap_err();
    assert!(
        matches!(&err, InnerError::BadFile { path: p, .. } if *p == path.join("vectors.npy")),
        "{err:?}"
    );
    assert!(err.to_string().contains("not aligned for f32"), "{err}");
}

// ---------------------------------------------------------------------------
// NumPy's files

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/npy")
        .join(name)
}

/// What gen_npy.py stored for `name`: descr, Fortran flag, shape, values in C order.
fn expected(name: &str) -> (String, bool, Vec<usize>, Vec<f64>) {
    let text = fs::read_to_string(fixture("expected.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let e = &json[name];
    let values = e["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse::<f64>().unwrap())
        .collect();
    let shape = e["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    (
        e["descr"].as_str().unwrap().to_string(),
        e["fortran_order"].as_bool().unwrap(),
        shape,
        values,
    )
}

/// `from_npy` of the fixture `name` holds exactly the values the script stored,
/// and answers as an index over those values, every metric.
fn check_fixture<S: Elem>(name: &str) -> FlatIndex<S> {
    let (descr, fortran, shape, values) = expected(name);
    let npy = parse_npy(&fixture(name));
    assert_eq!(
        (npy.descr, npy.fortran, npy.shape),
        (descr.clone(), fortran, shape.clone()),
        "{name}"
    );
    assert_eq!(descr, S::DESCR, "{name}");
    let want = Array2::from_shape_vec((shape[0], shape[1]), values.iter().map(|&v| S::from_f64(v)).collect()).unwrap();
    let mut first = None;
    for metric in METRICS {
        let index = FlatIndex::<S>::from_npy(fixture(name), metric).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(index.metric(), metric);
        assert_eq!(index.ids().collect::<Vec<_>>(), (0..shape[0]).collect::<Vec<_>>());
        let got: Vec<u64> = index.database().iter().map(|x| x.bits()).collect();
        let want_bits: Vec<u64> = want.iter().map(|x| x.bits()).collect();
        assert_eq!(got, want_bits, "{name}: the values NumPy stored");
        for (g, w) in index.database().iter().zip(&values) {
            assert_eq!(g.to_f64(), *w, "{name}");
        }
        let reference = FlatIndex::<S>::new(want.clone(), metric);
        let batches = [queries::<S>(&mut Rng(9), (3, shape[1]))];
        assert_same_index(&reference, &index, &batches, name);
        first.get_or_insert(index);
    }
    first.unwrap()
}

#[test]
fn from_npy_reads_what_numpy_wrote() {
    let c = check_fixture::<f32>("f32_c.npy");
    let f = check_fixture::<f32>("f32_fortran.npy");
    let batches = [queries::<f32>(&mut Rng(10), (4, 5))];
    assert_same_index(&c, &f, &batches, "f32 C and Fortran order");
    check_fixture::<f64>("f64_c.npy");
    let c = check_fixture::<f16>("f16_c.npy");
    let f = check_fixture::<f16>("f16_fortran.npy");
    assert_same_index(
        &c,
        &f,
        &[queries::<f16>(&mut Rng(11), (4, 5))],
        "f16 C and Fortran order",
    );
    check_fixture::<bf16>("bf16_bits.npy");
}

#[track_caller]
fn assert_from_npy_error<S: Elem>(path: &Path, says: &str) {
    let err = FlatIndex::<S>::from_npy(path, Metric::Cosine).map(|_| ()).unwrap_err();
    let InnerError::BadFile { path: p, reason } = &err else {
        panic!("{}: {err:?}", path.display());
    };
    assert_eq!(p, path);
    assert!(reason.contains(says), "{err}: does not say {says:?}");
    assert!(err.to_string().starts_with(&path.display().to_string()), "{err}");
}

#[test]
fn from_npy_refuses_other_shapes_types_and_byte_orders() {
    assert_from_npy_error::<f32>(
        &fixture("f32_3d.npy"),
        "holds an array of shape (2,3,4), not a 2-D (rows, d) one",
    );
    assert_from_npy_error::<f32>(&fixture("f32_1d.npy"), "holds an array of shape (6,), not a 2-D");
    assert_from_npy_error::<f32>(&fixture("f64_c.npy"), "holds '<f8' elements, not f32 ('<f4')");
    assert_from_npy_error::<f64>(&fixture("f32_c.npy"), "holds '<f4' elements, not f64 ('<f8')");
    assert_from_npy_error::<f16>(&fixture("bf16_bits.npy"), "holds '<u2' elements, not f16 ('<f2')");
    assert_from_npy_error::<bf16>(&fixture("f16_c.npy"), "holds '<f2' elements, not bf16 ('<u2')");
    assert_from_npy_error::<f32>(
        &fixture("f32_big_endian.npy"),
        "holds '>f4' elements, not f32 ('<f4') (big-endian",
    );
    let dir = TempDir::new("from-npy");
    // Truncated and extended copies of NumPy's file.
    let bytes = fs::read(fixture("f32_c.npy")).unwrap();
    fs::write(dir.join("short.npy"), &bytes[..bytes.len() - 1]).unwrap();
    assert_from_npy_error::<f32>(&dir.join("short.npy"), "is truncated");
    let mut long = bytes.clone();
    long.extend([0; 4]);
    fs::write(dir.join("long.npy"), &long).unwrap();
    assert_from_npy_error::<f32>(&dir.join("long.npy"), "has extra bytes");
    fs::write(dir.join("text.npy"), b"hello").unwrap();
    assert_from_npy_error::<f32>(&dir.join("text.npy"), "not a .npy file");
    let missing = dir.join("missing.npy");
    let err = FlatIndex::<f32>::from_npy(&missing, Metric::L2).unwrap_err();
    assert!(
        matches!(&err, InnerError::Io { path, kind: std::io::ErrorKind::NotFound, .. } if *path == missing),
        "{err:?}"
    );
}

/// A larger Fortran-order file (ndarray-npy writes F-order arrays as such):
/// the same index as the C-order file of the same values.
#[test]
fn from_npy_fortran_order_equals_c_order() {
    let mut rng = Rng(12);
    let dir = TempDir::new("fortran");
    let c: Array2<f32> = rows(&mut rng, (300, 17));
    let mut f = Array2::<f32>::zeros((300, 17).f());
    f.assign(&c);
    ndarray_npy::write_npy(dir.join("c.npy"), &c).unwrap();
    ndarray_npy::write_npy(dir.join("f.npy"), &f).unwrap();
    assert!(parse_npy(&dir.join("f.npy")).fortran && !parse_npy(&dir.join("c.npy")).fortran);
    let batches: Vec<_> = [1, 5, 20].iter().map(|&q| queries::<f32>(&mut rng, (q, 17))).collect();
    for metric in METRICS {
        let from_c = FlatIndex::<f32>::from_npy(dir.join("c.npy"), metric).unwrap();
        let from_f = FlatIndex::<f32>::from_npy(dir.join("f.npy"), metric).unwrap();
        assert_eq!(from_f.database(), c);
        assert_same_index(&from_c, &from_f, &batches, &format!("{metric:?}: C and F order"));
        assert_same_index(
            &FlatIndex::new(c.clone(), metric),
            &from_f,
            &batches,
            &format!("{metric:?}: new"),
        );
    }
}

/// What `save` writes is what NumPy writes: the same header fields and the very
/// data bytes of NumPy's file of the same values (vectors of every type, norms,
/// ids); and a folder whose vectors.npy NumPy wrote opens and maps.
///
/// With `NDI_SEARCH_FILES_KEEP=<dir>` it also saves a folder of each type there,
/// to check with NumPy: `python3 tests/fixtures/npy/gen_npy.py --check <dir>/f16`.
#[test]
fn saved_files_are_numpy_files() {
    let dir = TempDir::new("numpy");
    fn same_as_numpy<S: Elem>(dir: &TempDir, fixture_name: &str, metric: Metric) -> PathBuf {
        let (_, _, shape, values) = expected(fixture_name);
        let rows =
            Array2::from_shape_vec((shape[0], shape[1]), values.iter().map(|&v| S::from_f64(v)).collect()).unwrap();
        let path = dir.join(S::LABEL);
        FlatIndex::<S>::with_ids(
            rows,
            (0..shape[0]).map(|i| 10 * i + [3, 1, 1 << 40][i % 3]).collect(),
            metric,
        )
        .unwrap()
        .save(&path)
        .unwrap();
        let ours = parse_npy(&path.join("vectors.npy"));
        let numpy = parse_npy(&fixture(fixture_name));
        assert_eq!(
            (&ours.descr, ours.fortran, &ours.shape),
            (&numpy.descr, false, &numpy.shape),
            "{fixture_name}"
        );
        assert_eq!(ours.data, numpy.data, "{fixture_name}: data bytes");
        assert_eq!(ours.header_len % 64, 0);
        if let Some(keep) = std::env::var_os("NDI_SEARCH_FILES_KEEP") {
            let keep = Path::new(&keep).join(S::LABEL);
            let _ = fs::remove_dir_all(&keep);
            FlatIndex::<S>::load(&path).unwrap().save(&keep).unwrap();
            println!("saved {}", keep.display());
        }
        path
    }
    same_as_numpy::<f32>(&dir, "f32_c.npy", Metric::Cosine);
    same_as_numpy::<f64>(&dir, "f64_c.npy", Metric::L2);
    same_as_numpy::<f16>(&dir, "f16_c.npy", Metric::InnerProduct);
    same_as_numpy::<bf16>(&dir, "bf16_bits.npy", Metric::Cosine);

    // Norms and ids: the header fields and data bytes of NumPy's 1-D files.
    let norms_index = FlatIndex::<f32>::with_ids(
        ndarray::array![[0.5f32, 0.0], [0.0, 1.0], [1.5, 0.0]],
        vec![3, 1, 1 << 40],
        Metric::L2,
    )
    .unwrap();
    let path = dir.join("norms");
    norms_index.save(&path).unwrap();
    for (ours, theirs) in [("norms.npy", "norms_f32.npy"), ("ids.npy", "ids_u8.npy")] {
        let a = parse_npy(&path.join(ours));
        let b = parse_npy(&fixture(theirs));
        assert_eq!(
            (a.descr, a.fortran, a.shape, a.data),
            (b.descr, b.fortran, b.shape, b.data),
            "{ours}"
        );
    }

    // A folder around NumPy's own vectors.npy, with a manifest written here.
    let path = dir.join("numpy-vectors");
    fs::create_dir(&path).unwrap();
    fs::copy(fixture("f32_c.npy"), path.join("vectors.npy")).unwrap();
    fs::write(
        path.join("flatindex.txt"),
        manifest_text("f32", "inner_product", 7, 5, None),
    )
    .unwrap();
    let (_, _, _, values) = expected("f32_c.npy");
    let want = Array2::from_shape_vec((7, 5), values.iter().map(|&v| v as f32).collect()).unwrap();
    let batches = [queries::<f32>(&mut Rng(13), (3, 5))];
    let reference = FlatIndex::new(want.clone(), Metric::InnerProduct);
    for opened in [
        FlatIndex::<f32>::load(&path).unwrap(),
        FlatIndex::<f32>::open_mmap(&path).unwrap(),
    ] {
        assert_eq!(opened.database(), want);
        assert_same_index(&reference, &opened, &batches, "NumPy's vectors.npy in a folder");
    }
}
