//! Proves the SQL functions and `knn` give on Ballista exactly the answer of
//! local DataFusion and of `top_k` on the same vectors: in the in-process
//! cluster (`ballista::standalone`) and on a cluster of separate processes
//! (one `ndi-scheduler`, two `ndi-executor`s on loopback, ports chosen free),
//! over a Parquet dataset split into several files. The processes are
//! started by the test and always stopped (`Cluster`'s `Drop`).
#![cfg(feature = "ballista")]

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use common::*;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use ndarray::Array2;
use ndarray_inner::search::{top_k, Metric};
use ndarray_inner_datafusion::knn;

const D: usize = 16;
const FILES: usize = 3;
const ROWS_PER_FILE: usize = 700;

/// A folder removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ndi-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The dataset: `FILES` Parquet files of random vectors (ids 0..), and the
/// vectors as one matrix.
fn write_dataset(dir: &Path) -> Array2<f32> {
    let mut rng = Rng(99);
    let m = rng.matrix(FILES * ROWS_PER_FILE, D, false);
    for f in 0..FILES {
        let rows = dense(m[f * ROWS_PER_FILE..(f + 1) * ROWS_PER_FILE].to_vec());
        let b = batch(&rows, D, Layout::Fixed32, (f * ROWS_PER_FILE) as i64);
        let file = std::fs::File::create(dir.join(format!("part-{f}.parquet"))).unwrap();
        let mut w = ArrowWriter::try_new(file, b.schema(), None).unwrap();
        w.write(&b).unwrap();
        w.close().unwrap();
    }
    Array2::from_shape_fn((FILES * ROWS_PER_FILE, D), |(i, j)| m[i][j] as f32)
}

fn query_literal(q: &[f32]) -> String {
    literal(&q.iter().map(|&x| x as f64).collect::<Vec<_>>())
}

/// The SQL queries the tests run, each ordered so that results compare row by row.
fn queries_sql(q: &[f32]) -> Vec<String> {
    let lit = query_literal(q);
    vec![
        format!("SELECT id, array_cosine_similarity(embedding, {lit}) AS s FROM docs ORDER BY s DESC NULLS LAST, id LIMIT 10"),
        format!("SELECT id, array_squared_distance(embedding, {lit}) AS s FROM docs ORDER BY s, id LIMIT 10"),
        format!("SELECT id, array_inner_product(embedding, {lit}) AS s FROM docs WHERE id % 7 = 0 ORDER BY id"),
    ]
}

/// Runs every check against `ctx` (Ballista) and a local session on the same files.
async fn check_against_local(ctx: &SessionContext, dir: &Path, db: &Array2<f32>) {
    let local = SessionContext::new();
    ndarray_inner_datafusion::register(&local);
    let path = format!("{}/", dir.display());
    for c in [ctx, &local] {
        c.register_parquet("docs", &path, ParquetReadOptions::default())
            .await
            .unwrap();
    }
    let q: Vec<f32> = db.row(5).iter().map(|x| x * 0.5 + 0.1).collect();
    for sql in queries_sql(&q) {
        let remote = collect(ctx, &sql).await;
        let here = collect(&local, &sql).await;
        assert_eq!(ints(&remote, "id"), ints(&here, "id"), "{sql}");
        assert_eq!(floats(&remote, "s"), floats(&here, "s"), "{sql}");
    }
    // The SQL form's ranking is top_k's.
    let got = collect(ctx, &queries_sql(&q)[0]).await;
    let want = top_k(&ndarray::Array1::from(q.clone()), db, 10, Metric::Cosine).unwrap();
    assert_eq!(
        ints(&got, "id"),
        want.indices.iter().map(|&i| i as i64).collect::<Vec<_>>()
    );
    // knn, many queries at once: exactly top_k on the same vectors.
    let mut rng = Rng(7);
    let queries = Array2::from_shape_fn((20, D), |_| rng.value(false) as f32);
    for metric in [Metric::InnerProduct, Metric::Cosine, Metric::L2] {
        let batches: Vec<RecordBatch> = knn(ctx, "docs", "embedding", queries.view(), 5, metric)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let want = top_k(&queries, db, 5, metric).unwrap();
        assert_eq!(
            ints(&batches, "id"),
            want.indices.iter().map(|&i| i as i64).collect::<Vec<_>>(),
            "{metric:?}"
        );
        assert_eq!(
            ints(&batches, "query_index"),
            (0..20).flat_map(|q| [q; 5]).collect::<Vec<i64>>(),
            "{metric:?}"
        );
        let scores: Vec<Option<f64>> = want.scores.iter().map(|&s| Some(s as f64)).collect();
        assert_eq!(floats(&batches, "score"), scores, "{metric:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_answers_as_local_datafusion_and_top_k() {
    let scratch = Scratch::new("standalone");
    let db = write_dataset(&scratch.0);
    let ctx = ndarray_inner_datafusion::ballista::standalone().await.unwrap();
    check_against_local(&ctx, &scratch.0, &db).await;
}

/// The processes of a cluster, killed when dropped (a failed assertion too).
struct Cluster {
    children: Vec<Child>,
    scheduler_port: u16,
    _logs: Scratch,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, what: &str, children: &mut [Child]) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        for c in children.iter_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                panic!("{what}: a cluster process exited with {status}");
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} did not listen on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Cluster {
    /// One scheduler and `executors` executors, each its own process.
    fn start(executors: usize) -> Cluster {
        let logs = Scratch::new("cluster-logs");
        let log = |name: &str| std::fs::File::create(logs.0.join(name)).unwrap();
        let scheduler_port = free_port();
        let mut cluster = Cluster {
            children: Vec::new(),
            scheduler_port,
            _logs: Scratch(PathBuf::new()),
        };
        let scheduler = Command::new(env!("CARGO_BIN_EXE_ndi-scheduler"))
            .args(["--bind-host", "127.0.0.1", "--port", &scheduler_port.to_string()])
            .stdout(Stdio::from(log("scheduler.log")))
            .stderr(Stdio::from(log("scheduler.err")))
            .spawn()
            .expect("ndi-scheduler starts");
        cluster.children.push(scheduler);
        wait_for_port(scheduler_port, "ndi-scheduler", &mut cluster.children);
        for e in 0..executors {
            let (port, grpc) = (free_port(), free_port());
            let work = logs.0.join(format!("work-{e}"));
            std::fs::create_dir_all(&work).unwrap();
            let executor = Command::new(env!("CARGO_BIN_EXE_ndi-executor"))
                .args([
                    "--bind-host",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "--grpc-port",
                    &grpc.to_string(),
                ])
                .args([
                    "--scheduler-host",
                    "127.0.0.1",
                    "--scheduler-port",
                    &scheduler_port.to_string(),
                ])
                .args(["--concurrent-tasks", "2", "--work-dir", work.to_str().unwrap()])
                .stdout(Stdio::from(log(&format!("executor-{e}.log"))))
                .stderr(Stdio::from(log(&format!("executor-{e}.err"))))
                .spawn()
                .expect("ndi-executor starts");
            cluster.children.push(executor);
            wait_for_port(port, "ndi-executor", &mut cluster.children);
        }
        cluster._logs = logs;
        cluster
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_of_processes_answers_as_local_datafusion_and_top_k() {
    let scratch = Scratch::new("cluster-data");
    let db = write_dataset(&scratch.0);
    let cluster = Cluster::start(2);
    let url = format!("df://127.0.0.1:{}", cluster.scheduler_port);
    let ctx = ndarray_inner_datafusion::ballista::remote(&url).await.unwrap();
    check_against_local(&ctx, &scratch.0, &db).await;
    drop(cluster);
}
