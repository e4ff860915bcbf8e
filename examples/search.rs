//! Exact top-k search of a database of embeddings, from `.npy` files or a seeded
//! random set; prints the top hits, the throughput and the peak memory.
//!
//! The database goes into a [`FlatIndex`] once, before any timing (for cosine and
//! L2 that computes the rows' norms then); every timed search is
//! [`FlatIndex::search`], or with `--filter` [`FlatIndex::search_filtered`], so
//! that filtered and unfiltered searches are timed the same way. (The one-shot
//! [`top_k`](ndarray_inner::search::top_k) gives the same hits, and for cosine and
//! L2 also computes the database's norms at every call.)
//!
//! ```text
//! cargo run --release --example search -- [DB.npy QUERIES.npy] [K] [options]
//!
//!   DB.npy, QUERIES.npy  2-D float32 or float64 arrays, (N, d) and (Q, d), both
//!                        the same type; without them a seeded random set is made
//!   K                    hits per query (default 10)
//!   --metric ip|cosine|l2
//!                        inner product (default), cosine, or squared Euclidean
//!                        distance (`Metric::L2`: scores ascending, nearest first)
//!   --filter M           keep only the database rows whose id (row number) is a
//!                        multiple of M: `search_filtered(.., |id| id % M == 0)`;
//!                        a query with fewer than K such rows gets padding hits
//!                        (index usize::MAX, score NaN)
//!   --store f32|f16|bf16 the element type the index stores the database in
//!                        (default: the files' type, or f32): f16 and bf16 store
//!                        the database rounded to half precision, queries stay f32
//!   --mmap DIR           save the index to the folder DIR (untimed), open it again
//!                        with `FlatIndex::open_mmap` and time the mapped index
//!                        (the warm-up search pages the rows in); DIR is replaced
//!   --random N,D,Q       size of the random set (default 100000,128,1000)
//!   --seed S             seed of the random set (default 1)
//!   --reps R             searches to time at least, after one untimed warm-up
//!                        search (thread pools started, pages touched); the
//!                        median is reported (default 3)
//!   --min-time S         go on timing searches until they took S seconds in all
//!                        (default 0: exactly R searches)
//!   --show Q             queries whose hits are printed (default 3)
//!   --print-all          print every query's hits, one line each:
//!                        `hits <query> <index>:<score> ...` (for scripts/search_check.py
//!                        and scripts/bench_search.py; padding prints as
//!                        `18446744073709551615:NaN`)
//! ```
//!
//! Threads: `RAYON_NUM_THREADS` (the search's blocks) and `MATMUL_NUM_THREADS`
//! (inside each GEMM); `RAYON_NUM_THREADS=1 MATMUL_NUM_THREADS=1` is one thread.

use std::fmt::Display;
use std::process::ExitCode;
use std::time::Instant;

use half::{bf16, f16};
use ndarray::Array2;
use ndarray_inner::search::{FlatIndex, Metric, SearchScalar, StoredScalar, TopK};
use ndarray_npy::{read_npy, ReadNpyError, ReadableElement};

struct Options {
    files: Option<(String, String)>,
    k: usize,
    metric: Metric,
    filter: Option<usize>,
    store: Option<String>,
    mmap: Option<String>,
    random: (usize, usize, usize),
    seed: u64,
    reps: usize,
    min_time: f64,
    show: usize,
    print_all: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        files: None,
        k: 10,
        metric: Metric::InnerProduct,
        filter: None,
        store: None,
        mmap: None,
        random: (100_000, 128, 1000),
        seed: 1,
        reps: 3,
        min_time: 0.0,
        show: 3,
        print_all: false,
    };
    let mut positional = Vec::new();
    let mut args = std::env::args().skip(1);
    let number = |v: Option<String>, what: &str| -> Result<usize, String> {
        v.as_deref()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{what} needs a number"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--isa" => {
                // For the benchmark scripts: the kernels' level, then nothing else.
                println!("{} (detected {})", ndarray_inner::isa(), ndarray_inner::Isa::detected());
                std::process::exit(0);
            }
            "--metric" => {
                opts.metric = match args.next().as_deref() {
                    Some("ip") => Metric::InnerProduct,
                    Some("cosine") => Metric::Cosine,
                    Some("l2") => Metric::L2,
                    _ => return Err("--metric takes ip, cosine or l2".into()),
                }
            }
            "--filter" => match number(args.next(), "--filter")? {
                0 => return Err("--filter takes M >= 1".into()),
                m => opts.filter = Some(m),
            },
            "--store" => match args.next() {
                Some(t) if ["f32", "f16", "bf16"].contains(&t.as_str()) => opts.store = Some(t),
                _ => return Err("--store takes f32, f16 or bf16".into()),
            },
            "--mmap" => opts.mmap = Some(args.next().ok_or("--mmap needs a folder")?),
            "--random" => {
                let v = args.next().unwrap_or_default();
                let dims: Vec<usize> = v.split(',').filter_map(|s| s.parse().ok()).collect();
                let [n, d, q] = dims[..] else {
                    return Err("--random takes N,D,Q".into());
                };
                opts.random = (n, d, q);
            }
            "--seed" => opts.seed = number(args.next(), "--seed")? as u64,
            "--reps" => opts.reps = number(args.next(), "--reps")?.max(1),
            "--min-time" => {
                opts.min_time = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|t: &f64| t.is_finite() && *t >= 0.0)
                    .ok_or("--min-time needs a number of seconds")?
            }
            "--show" => opts.show = number(args.next(), "--show")?,
            "--print-all" => opts.print_all = true,
            "-h" | "--help" => return Err(String::new()),
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}")),
            _ => positional.push(arg),
        }
    }
    match positional.len() {
        0 | 1 => {}
        2 | 3 => opts.files = Some((positional[0].clone(), positional[1].clone())),
        _ => return Err("too many arguments".into()),
    }
    if positional.len() % 2 == 1 {
        opts.k = positional
            .last()
            .and_then(|s| s.parse().ok())
            .ok_or("K must be a number")?;
    }
    Ok(opts)
}

/// splitmix64, for a reproducible random set without dependencies.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[-1, 1)`.
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// The process's peak resident memory (`VmHWM`) in bytes, on Linux.
fn peak_rss() -> Option<u64> {
    status_kib("VmHWM:")
}

/// A line of `/proc/self/status` in bytes, on Linux.
fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The most searches one run times, whatever `--min-time` asks.
const MAX_REPS: usize = 100_000;

/// Runs the searches with the database stored as `opts.store` asks.
/// (For files: the peak memory then includes the f32 database read, dropped
/// once rounded.)
fn run_stored(db: Array2<f32>, queries: Array2<f32>, opts: &Options, source: &str) -> ExitCode {
    match opts.store.as_deref() {
        Some("f16") => {
            let rounded = db.mapv(f16::from_f32);
            drop(db);
            run(rounded, queries, opts, source)
        }
        Some("bf16") => {
            let rounded = db.mapv(bf16::from_f32);
            drop(db);
            run(rounded, queries, opts, source)
        }
        _ => run(db, queries, opts, source),
    }
}

fn run<S, A>(db: Array2<S>, queries: Array2<A>, opts: &Options, source: &str) -> ExitCode
where
    S: StoredScalar<Compute = A>,
    A: SearchScalar + Display,
{
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into());
    let metric = match opts.metric {
        Metric::InnerProduct => "inner product",
        Metric::Cosine => "cosine",
        Metric::L2 => "squared L2",
        _ => "other metric",
    };
    let filter = match opts.filter {
        Some(m) => format!("rows with id % {m} == 0 ({} of {})", db.nrows().div_ceil(m), db.nrows()),
        None => "all rows".to_string(),
    };
    println!(
        "database {:?} {} ({:.1} MiB) and queries {:?}, {source}; k = {}, {metric}, {filter}; \
         RAYON_NUM_THREADS={threads}",
        db.dim(),
        std::any::type_name::<S>(),
        mib(db.len() * std::mem::size_of::<S>()),
        queries.dim(),
        opts.k,
    );
    // Built once, outside the timing.
    let mut index = FlatIndex::new(db, opts.metric);
    if let Some(dir) = &opts.mmap {
        let reopened = index.save(dir).and_then(|()| FlatIndex::open_mmap(dir));
        match reopened {
            Ok(mapped) => index = mapped,
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(2);
            }
        }
        println!("searching the index saved to {dir} and memory-mapped from it");
    }
    let search = || match opts.filter {
        Some(m) => index.search_filtered(&queries, opts.k, move |id: usize| id.is_multiple_of(m)),
        None => index.search(&queries, opts.k),
    };
    let mut times = Vec::new();
    let mut total = 0.0;
    let mut hits: Option<TopK<A>> = None;
    // The first search is the untimed warm-up.
    for rep in 0..=MAX_REPS {
        let start = Instant::now();
        match search() {
            Ok(h) => hits = Some(h),
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(2);
            }
        }
        if rep > 0 {
            let elapsed = start.elapsed().as_secs_f64();
            times.push(elapsed);
            total += elapsed;
            if times.len() >= opts.reps && total >= opts.min_time {
                break;
            }
        }
    }
    let hits = hits.expect("at least one search");
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let print_row = |i: usize, prefix: &str| {
        let row: Vec<String> = hits
            .indices
            .row(i)
            .iter()
            .zip(hits.scores.row(i))
            .map(|(j, s)| format!("{j}:{s}"))
            .collect();
        println!("{prefix}{}", row.join(" "));
    };
    if opts.print_all {
        for i in 0..hits.num_queries() {
            print_row(i, &format!("hits {i} "));
        }
    } else {
        for i in 0..opts.show.min(hits.num_queries()) {
            print_row(i, &format!("query {i}: "));
        }
    }
    println!(
        "search: {median:.7} s (median of {}), {:.0} queries/s",
        times.len(),
        queries.nrows() as f64 / median
    );
    match peak_rss() {
        Some(bytes) => println!("peak memory (VmHWM): {:.1} MiB", mib(bytes as usize)),
        None => println!("peak memory: unknown (no /proc/self/status)"),
    }
    if let Some(bytes) = status_kib("RssAnon:") {
        println!("anonymous memory now (RssAnon): {:.1} MiB", mib(bytes as usize));
    }
    ExitCode::SUCCESS
}

/// Reads a 2-D `.npy` file of `A`; `Ok(None)` when it holds another element type.
fn read<A: ReadableElement>(path: &str) -> Result<Option<Array2<A>>, String> {
    match read_npy::<_, Array2<A>>(path) {
        Ok(a) => Ok(Some(a)),
        Err(ReadNpyError::WrongDescriptor(_)) => Ok(None),
        Err(err) => Err(format!("{path}: {err}")),
    }
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(opts) => opts,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("error: {msg}");
            }
            eprintln!(
                "usage: search [DB.npy QUERIES.npy] [K] [--metric ip|cosine|l2] [--filter M] [--store T] [--mmap DIR] [--random N,D,Q] \
                 [--seed S] [--reps R] [--min-time S] [--show Q] [--print-all]"
            );
            return ExitCode::from(2);
        }
    };
    match &opts.files {
        None => {
            let (n, d, q) = opts.random;
            let mut rng = SplitMix64(opts.seed);
            let source = format!("random (seed {})", opts.seed);
            // Made in the stored type directly, so that the peak memory is the
            // index's: the same values as rounding an f32 set.
            match opts.store.as_deref() {
                Some("f16") => {
                    let db = Array2::from_shape_simple_fn((n, d), || f16::from_f32(rng.unit()));
                    let queries = Array2::from_shape_simple_fn((q, d), || rng.unit());
                    run(db, queries, &opts, &source)
                }
                Some("bf16") => {
                    let db = Array2::from_shape_simple_fn((n, d), || bf16::from_f32(rng.unit()));
                    let queries = Array2::from_shape_simple_fn((q, d), || rng.unit());
                    run(db, queries, &opts, &source)
                }
                _ => {
                    let db = Array2::from_shape_simple_fn((n, d), || rng.unit());
                    let queries = Array2::from_shape_simple_fn((q, d), || rng.unit());
                    run(db, queries, &opts, &source)
                }
            }
        }
        Some((db_path, q_path)) => {
            let loaded = (|| -> Result<ExitCode, String> {
                let source = format!("from {db_path} and {q_path}");
                if let (Some(db), Some(q)) = (read::<f32>(db_path)?, read::<f32>(q_path)?) {
                    return Ok(run_stored(db, q, &opts, &source));
                }
                if let (Some(db), Some(q)) = (read::<f64>(db_path)?, read::<f64>(q_path)?) {
                    return Ok(run(db, q, &opts, &source));
                }
                Err("the two files must both be float32 or both float64, 2-D".into())
            })();
            loaded.unwrap_or_else(|msg| {
                eprintln!("error: {msg}");
                ExitCode::from(2)
            })
        }
    }
}
