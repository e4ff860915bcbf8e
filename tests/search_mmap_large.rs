//! A memory-mapped index larger than the memory a search may use: a 3 GiB
//! `f32` database (3,145,728 rows of 256) written to disk by this test a chunk at
//! a time (never held in memory), with the `.npy` header of ndarray-npy and a
//! `flatindex.txt` manifest written here in the documented format, opened with
//! `FlatIndex::open_mmap` and searched.
//!
//! What it proves:
//! - The top-10 of 4 queries equals a streaming `f64` brute force computed here
//!   while the rows were written: the planted best and second-best rows of every
//!   query (near the end and the start of the file) come first, and every hit's
//!   score is within the `f32` rounding bound of its `f64` score, the j-th within
//!   that bound of the j-th best `f64` score (no better row missed). A range search
//!   returns exactly the rows the brute force finds beyond the radius.
//! - The search's anonymous memory stays small: `RssAnon` of this process
//!   (/proc/self/status), sampled during the searches and read after them, stays
//!   under 256 MiB while 3 GiB of rows are read through the mapping.
//!
//! Its own test binary, with one test, so that no other test allocates in this
//! process. Skipped, with a message, when the disk has no room for 3.5 GiB. The
//! folder is removed at the end, also on failure (a guard's Drop).

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use ndarray::Array2;
use ndarray_inner::search::{FlatIndex, Metric};
use ndarray_inner_test_kit::Rng;
use ndarray_npy::npy::header::{Header, Layout};

const D: usize = 256;
/// 3 GiB of `f32` rows.
const N: usize = (3usize << 30) / (D * 4);
const CHUNK_ROWS: usize = 4096;
const Q: usize = 4;
const K: usize = 10;
/// The reference keeps a few more than `K`, for ties at the boundary.
const KEEP: usize = K + 4;
const RSS_LIMIT_KIB: u64 = 256 << 10;
/// Only the planted rows score above this (random rows score ~N(0, 5.3²)).
const RADIUS: f32 = 100.0;

/// Removes the folder when the test ends, whichever way.
struct Guard(PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Free KiB on the filesystem of `dir`, from `df -Pk` (None if unknown).
fn free_kib(dir: &Path) -> Option<u64> {
    let out = std::process::Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}

fn rss_anon_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("RssAnon in /proc/self/status")
}

/// The planted rows: row `BEST[j]` is `2 q_j`, row `SECOND[j]` is `1.5 q_j`.
const BEST: [usize; Q] = [N - 1, N - 2 - CHUNK_ROWS, N / 2 + 3, 5];
const SECOND: [usize; Q] = [0, N - 1 - 2 * CHUNK_ROWS, N / 3, N - 7];

/// A streaming top-`KEEP` per query, in `f64`, and the rows beyond `RADIUS`.
struct Reference {
    /// Per query `(score, row)`, best first.
    top: Vec<Vec<(f64, usize)>>,
    within: Vec<Vec<usize>>,
}

impl Reference {
    fn offer(&mut self, j: usize, score: f64, row: usize) {
        if score > RADIUS as f64 {
            self.within[j].push(row);
        }
        let top = &mut self.top[j];
        if top.len() == KEEP && score <= top[KEEP - 1].0 {
            return;
        }
        let at = top.iter().position(|&(s, _)| score > s).unwrap_or(top.len());
        top.insert(at, (score, row));
        top.truncate(KEEP);
    }
}

/// Writes the database to `path` (header, then chunks of rows) while scoring
/// every row against the queries in `f64`. Returns `Err` on a write error.
fn write_database(path: &Path, queries: &Array2<f32>) -> std::io::Result<Reference> {
    let header = Header {
        type_descriptor: py_literal::Value::String("<f4".into()),
        layout: Layout::Standard,
        shape: vec![N, D],
    };
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    out.write_all(&header.to_bytes().unwrap())?;
    // The queries interleaved, one [f64; Q] per column.
    let qi: Vec<[f64; Q]> = (0..D)
        .map(|k| std::array::from_fn(|j| queries[[j, k]] as f64))
        .collect();
    let mut reference = Reference {
        top: vec![Vec::new(); Q],
        within: vec![Vec::new(); Q],
    };
    let mut rng = Rng(0x3_61b);
    let mut chunk = vec![0f32; CHUNK_ROWS * D];
    let mut row0 = 0;
    while row0 < N {
        let rows = CHUNK_ROWS.min(N - row0);
        let chunk = &mut chunk[..rows * D];
        for x in chunk.iter_mut() {
            // Uniform in [-1, 1): 24 random bits.
            *x = (rng.next_u64() >> 40) as f32 * (1.0 / (1u32 << 23) as f32) - 1.0;
        }
        for j in 0..Q {
            for (scale, planted) in [(2.0f32, BEST[j]), (1.5, SECOND[j])] {
                if (row0..row0 + rows).contains(&planted) {
                    let r = planted - row0;
                    for k in 0..D {
                        chunk[r * D + k] = scale * queries[[j, k]];
                    }
                }
            }
        }
        for (r, x) in chunk.chunks_exact(D).enumerate() {
            let mut s = [0f64; Q];
            for (&xv, q) in x.iter().zip(&qi) {
                let xv = xv as f64;
                s[0] += q[0] * xv;
                s[1] += q[1] * xv;
                s[2] += q[2] * xv;
                s[3] += q[3] * xv;
            }
            for (j, &score) in s.iter().enumerate() {
                reference.offer(j, score, row0 + r);
            }
        }
        out.write_all(bytemuck::cast_slice(chunk))?;
        row0 += rows;
    }
    out.flush()?;
    Ok(reference)
}

/// Row `r` read from the file (not through the mapping).
fn row_from_file(path: &Path, data_offset: u64, r: usize) -> Vec<f64> {
    let mut f = File::open(path).unwrap();
    f.seek(SeekFrom::Start(data_offset + (r * D * 4) as u64)).unwrap();
    let mut bytes = vec![0u8; D * 4];
    f.read_exact(&mut bytes).unwrap();
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
        .collect()
}

#[test]
#[cfg_attr(
    target_endian = "big",
    ignore = "the rows are written little-endian, as the index maps them"
)]
fn a_3_gib_mapped_database_is_searched_exactly_in_little_anonymous_memory() {
    let start = Instant::now();
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).unwrap();
    let need_kib = ((N * D * 4) >> 10) as u64 + (512 << 10);
    match free_kib(base) {
        Some(free) if free < need_kib => {
            println!(
                "skipped: {} has {} MiB free, the test needs {} MiB",
                base.display(),
                free >> 10,
                need_kib >> 10
            );
            return;
        }
        None => println!("free space of {} unknown: trying", base.display()),
        _ => {}
    }
    let dir = base.join(format!("search_mmap_large-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    let guard = Guard(dir);
    let vectors = guard.0.join("vectors.npy");

    let mut rng = Rng(0x9e37);
    let queries = Array2::from_shape_simple_fn((Q, D), || rng.unit() as f32);
    let reference = match write_database(&vectors, &queries) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::StorageFull => {
            println!("skipped: no room for the 3 GiB database ({e})");
            return;
        }
        Err(e) => panic!("{}: {e}", vectors.display()),
    };
    let manifest =
        format!("ndarray-inner FlatIndex\nformat_version = 1\nelement = f32\nmetric = inner_product\nrows = {N}\ndim = {D}\nids = rows\n");
    std::fs::write(guard.0.join("flatindex.txt"), manifest).unwrap();
    let file_len = std::fs::metadata(&vectors).unwrap().len();
    let data_offset = file_len - (N * D * 4) as u64;
    let written = start.elapsed();
    println!(
        "wrote {} MiB ({N} x {D} f32) and scored it in f64 in {:.1} s",
        file_len >> 20,
        written.as_secs_f64()
    );

    let rss_before = rss_anon_kib();
    // Samples RssAnon while the searches run.
    let running = AtomicBool::new(true);
    let peak = AtomicU64::new(rss_before);
    let t = Instant::now();
    let (hits, range) = std::thread::scope(|scope| {
        scope.spawn(|| {
            while running.load(Ordering::Relaxed) {
                peak.fetch_max(rss_anon_kib(), Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
        let index = FlatIndex::<f32>::open_mmap(&guard.0).unwrap();
        assert_eq!((index.len(), index.dim(), index.metric()), (N, D, Metric::InnerProduct));
        let hits = index.search(&queries, K).unwrap();
        let range = index.range_search(&queries, RADIUS).unwrap();
        running.store(false, Ordering::Relaxed);
        (hits, range)
    });
    let searched = t.elapsed();
    let rss_after = rss_anon_kib();
    let peak = peak.load(Ordering::Relaxed).max(rss_after);
    println!(
        "open_mmap + top-{K} of {Q} queries + range search: {:.2} s; RssAnon before {rss_before} KiB, peak {peak} KiB, \
         after {rss_after} KiB",
        searched.as_secs_f64(),
    );

    // (a) The hits are the f64 brute force's.
    let u = 1.0 / (1u64 << 24) as f64;
    for j in 0..Q {
        let top = &reference.top[j];
        assert_eq!(
            (top[0].1, top[1].1),
            (BEST[j], SECOND[j]),
            "query {j}: the planted rows lead the reference"
        );
        // |x_k| <= 2 |q_k| <= 2, so sum |q_k x_k| <= 2 sum |q_k|.
        let abs_q: f64 = queries.row(j).iter().map(|&v| (v as f64).abs()).sum();
        let tol = 2.0 * (D as f64 + 2.0) * u * 2.0 * abs_q.max(1.0) * 2.0;
        let row: Vec<(usize, f32)> = hits.hits(j).collect();
        assert_eq!(row.len(), K);
        assert_eq!(
            (row[0].0, row[1].0),
            (BEST[j], SECOND[j]),
            "query {j}: planted rows first"
        );
        for (i, &(id, s)) in row.iter().enumerate() {
            let s = s as f64;
            let want = match top.iter().find(|t| t.1 == id) {
                Some(t) => t.0,
                None => {
                    let x = row_from_file(&vectors, data_offset, id);
                    x.iter().zip(queries.row(j)).map(|(a, &b)| a * b as f64).sum()
                }
            };
            assert!(
                (s - want).abs() <= tol,
                "query {j} hit {i}: row {id} scores {s}, f64 {want}"
            );
            assert!(
                (s - top[i].0).abs() <= tol,
                "query {j} hit {i}: {s}, the f64 {i}-th best is {} (row {}): a row was missed",
                top[i].0,
                top[i].1
            );
            if i > 0 {
                assert!(s <= row[i - 1].1 as f64, "query {j}: out of order");
            }
        }
        let mut got: Vec<usize> = range.hits(j).map(|h| h.0).collect();
        got.sort_unstable();
        let mut want = reference.within[j].clone();
        want.sort_unstable();
        assert_eq!(got, want, "query {j}: range search beyond {RADIUS}");
        assert_eq!(want.len(), 2, "query {j}: only the planted rows are beyond the radius");
    }
    // (b) Little anonymous memory: the rows stayed in the mapping. (The reading
    // works: a running process has some anonymous memory.)
    assert!(rss_before > 0, "RssAnon read as 0");
    assert!(rss_after < RSS_LIMIT_KIB, "RssAnon after the search: {rss_after} KiB");
    assert!(peak < RSS_LIMIT_KIB, "RssAnon peak during the search: {peak} KiB");
    drop(guard);
    println!("total {:.1} s", start.elapsed().as_secs_f64());
}
