#!/usr/bin/env python3
"""Exact top-k search: the crate against faiss-cpu (IndexFlatIP / IndexFlatL2) and NumPy,
same data, same run.

Cases: for each database of --cases (f32, seeded standard normal), each metric of
--metrics (ip, l2), each query count of --queries (the first Q rows of one seeded
standard normal f32 query set) and each thread count of --threads, one row of the
table. Then the filtered cases: for each metric of --filtered-metrics (ip) and each
query count of --filtered-queries, the search restricted to the rows whose id (row
number) is a multiple of --filter (10: 10% of the rows kept), with the crate's
unfiltered search of the same queries alongside.

Storage: each unfiltered case runs once per store of --stores (default f32,f16):
f32 (the database as it is), f16 and bf16 (the database rounded to half precision,
round to nearest even; queries and scores stay f32), and mmap (f32, saved to a
folder and memory-mapped from it). The filtered cases are f32 only. With --stores
f32 the table and every run are those of the script before stores existed.

Engines, each run in its own process, in a rotating order, for several rounds:

- crate: `target/release/examples/search db.npy queries.npy K --metric ip|l2
  [--filter M] [--store f16|bf16] [--mmap DIR] --reps R --min-time S`, with
  RAYON_NUM_THREADS=t and MATMUL_NUM_THREADS=t (OPENBLAS_NUM_THREADS=t too, for a
  build with the `blas` feature). The example builds a `FlatIndex` once, untimed, and
  times `FlatIndex::search` (unfiltered) or `FlatIndex::search_filtered(.., |id| id % M
  == 0)`. f16/bf16: `--store f16|bf16`, the example converts the f32 database it
  loaded (untimed) into a `FlatIndex<f16>` / `FlatIndex<bf16>`. mmap: `--mmap DIR`, the
  example saves the index to DIR (untimed; DIR is in a temporary folder the script
  makes and deletes, on the file system of $TMPDIR), opens it with
  `FlatIndex::open_mmap` and times the mapped index; the save has just written the
  file and the warm-up search touches every page, so that is a warm page cache.
- faiss: `IndexFlatIP` (ip) or `IndexFlatL2` (l2), `index.add(db)`,
  `index.search(queries, K)`, with `faiss.omp_set_num_threads(t)`. Peers of the
  stores: f16, `IndexScalarQuantizer(d, ScalarQuantizer.QT_fp16, METRIC_INNER_PRODUCT
  or METRIC_L2)` (`index.train(db)` if not `is_trained`: a no-op for fp16), then
  `add` and `search` as above; bf16, the same with `QT_bf16` when this faiss has it
  (1.15 does; otherwise "n/a" in the table); mmap, the f32 flat index (the f32 row's
  faiss runs are shown again, not run twice). Filtered:
  `index.search(queries, K, params=faiss.SearchParameters(sel=selector))` with
  `selector = faiss.IDSelectorBatch(kept_ids)` (--faiss-selector batch, the
  default) or `faiss.IDSelectorBitmap(N, bitmap)` (--faiss-selector bitmap); both
  work in faiss 1.15 and give the exact filtered top-k. The selector is built
  untimed.
- numpy: `S = np.inner(queries, db)`, `np.argpartition(-S, K)[:, :K]`, then the K
  sorted, under `threadpoolctl.threadpool_limits(t)`. Inner product only, f32 only,
  and only for the query counts of --numpy-queries (1000): it makes the whole (Q, N)
  score matrix and is slow; the table says "skipped" elsewhere (L2, small batches,
  filtered, other stores).

Each process makes one untimed warm-up search, then times at least --reps searches
and goes on until they took --min-time seconds in all (so that a 1-query search is
timed hundreds of times and a 1000-query search --reps times), and reports their
median and its peak RSS (VmHWM / ru_maxrss, which includes the loaded database).
The table shows the median over rounds of those medians, the ratios (peer time /
crate time: above 1 means the crate is faster), and for the filtered rows the
crate's unfiltered time and unfiltered / filtered (above 1: filtering made the
search faster). The peers run without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (they
slow OpenBLAS down if set); the BLAS kernel NumPy and faiss use is printed.

The crate's answers are checked before the timing rounds, for every row of the
table (every query count and thread count), against an exact float64 reference:
inner products descending, or squared distances |q|^2 + |x|^2 - 2 q.x ascending
(float64 rounding ~1e-13, far below the tolerance), restricted to the kept ids for
the filtered cases. A hit is correct when its exact score is within a relative
1e-5 (of max(1, |k-th score|)) of the exact k-th best score, ties allowed; the
hits of a row must be distinct, admissible (id % M == 0 when filtered), sorted the
metric's way, and as many as the admissible rows (up to K; padding hits, index
usize::MAX with NaN score, fill the rest). The table shows the recall (1.000 is
right); problems are listed under it. For f16 and bf16 the exact reference is
computed on the values the index stores, widened: db.astype(float16) (NumPy rounds
to nearest even, as the crate's `half::f16::from_f32`) or db rounded to bfloat16
(nearest even: ml_dtypes if installed, else the same rounding on the f32 bits), in
float64; mmap is checked against the f32 reference. For f16 and bf16 the table also
shows "recall vs f32": the share of the float64 top-k of the original f32 vectors
that the half-precision index returns, what rounding the database costs; a property
of the data, printed, not checked.

On a machine shared with other work, every process run is checked for it: the
CPU time that other processes used during the run (from /proc/stat, less this
script's and its child's own) must stay under --max-share of one core, else the
run is repeated (up to --tries times, after waiting for the machine to be idle).
The output says how many runs were repeated.

Columns of the table:
    database, metric, Q, thr, filter   the case: (N, d), IP or L2, queries, threads,
                          "none" or the filter's rule
    store                 f32, f16, bf16 or mmap (only when --stores is not just f32)
    crate ms, faiss ms    median search time; faiss is the store's peer (above),
                          "n/a" when this faiss has no QT_bf16
    faiss/crate           faiss ms / crate ms: above 1, the crate is faster
    crate f32 ms          the crate's f32 time of the same case (in every row; with
                          stores only)
    f32/store             crate f32 ms / crate ms of this store: above 1, the store
                          is faster than f32 (f16, bf16, mmap rows; with stores only)
    crate unfiltered ms, unfiltered/filtered   filtered rows: the crate's unfiltered
                          f32 time, and it over the filtered time
    numpy ms, numpy/crate NumPy's time and it over the crate's
    crate/faiss/numpy RSS MiB   each engine's peak RSS (VmHWM), max over rounds;
                          it includes the f32 database each process loads (and, for
                          f16/bf16, the converted copy beside it; for mmap, the
                          mapped file's pages, file-backed but counted in VmHWM)
    recall                the crate's answers against the exact top-k of what it
                          stores (1.000 is right)
    recall vs f32         f16/bf16 rows: against the exact top-k of the f32 vectors
                          (with stores only)

Usage:
    python3 scripts/bench_search.py [--rounds 3] [--reps 5] [--min-time 0.3]
        [--threads 1,2] [--cases 100000x128,20000x768] [--metrics ip,l2]
        [--stores f32,f16,bf16,mmap]
        [--queries 1,16,64,1000] [--filter 10] [--filtered-queries 1,16]
        [--filtered-metrics ip] [--faiss-selector batch|bitmap]
        [--numpy-queries 1000] [--engines crate,faiss,numpy] [--k 10]
        [--features blas] [--max-share 0.1] [--tries 6]

Options:
    --rounds N            rounds of every (case, threads, engine) run (default 3)
    --reps R              searches each process times at least (default 5)
    --min-time S          ... and until they took S seconds in all (default 0.3)
    --threads LIST        thread counts (default 1,2)
    --cases LIST          databases NxD (default 100000x128,20000x768)
    --metrics LIST        ip and/or l2 for the unfiltered cases (default ip,l2)
    --stores LIST         storage of the unfiltered cases: any of f32, f16, bf16,
                          mmap (default f32,f16; f32 only: the table without store
                          columns)
    --queries LIST        query counts of the unfiltered cases (default 1,16,64,1000;
                          "none": no unfiltered cases)
    --filter M            filtered cases keep ids with id % M == 0 (default 10;
                          0: no filtered cases)
    --filtered-queries L  query counts of the filtered cases (default 1,16; "none":
                          no filtered cases)
    --filtered-metrics L  metrics of the filtered cases (default ip)
    --faiss-selector S    batch (IDSelectorBatch, default) or bitmap (IDSelectorBitmap)
    --numpy-queries LIST  query counts at which NumPy runs, IP only (default 1000)
    --engines LIST        any of crate,faiss,numpy (default all three)
    --k K                 hits per query (default 10)
    --features F          cargo features for the crate build, e.g. blas
    --max-share X, --tries N   the idle-machine check (default 0.1, 6)

The full table (the defaults): `python3 scripts/bench_search.py`; every store:
`python3 scripts/bench_search.py --stores f32,f16,bf16,mmap`.
On a shared machine the numbers are noisy: use several rounds and read medians.
"""

import argparse
import json
import math
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import cpu_description, crate_isa  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_ENV_DROP = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
PAD = 2**64 - 1  # usize::MAX, the crate's padding index
TOL = 1e-5

FAISS_CODE = r"""
import json, resource, statistics, sys, time
import numpy as np, faiss
db_path, q_path = sys.argv[1], sys.argv[2]
k, t, reps, min_time = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
metric, filt, selector, store = sys.argv[7], int(sys.argv[8]), sys.argv[9], sys.argv[10]
db = np.load(db_path); q = np.load(q_path)
faiss.omp_set_num_threads(t)
if store in ("f16", "bf16"):
    qt = faiss.ScalarQuantizer.QT_fp16 if store == "f16" else faiss.ScalarQuantizer.QT_bf16
    index = faiss.IndexScalarQuantizer(db.shape[1], qt,
                                       faiss.METRIC_INNER_PRODUCT if metric == "ip" else faiss.METRIC_L2)
    if not index.is_trained:
        index.train(db)
else:
    index = (faiss.IndexFlatIP if metric == "ip" else faiss.IndexFlatL2)(db.shape[1])
index.add(db)
params = None
if filt:
    n = db.shape[0]
    if selector == "bitmap":
        bitmap = np.packbits(np.arange(n) % filt == 0, bitorder="little")  # kept alive: faiss holds a pointer
        sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
    else:
        sel = faiss.IDSelectorBatch(np.arange(0, n, filt, dtype=np.int64))
    params = faiss.SearchParameters(sel=sel)
index.search(q, k, params=params)  # warm-up, untimed, as the crate's example does
times = []
while len(times) < reps or sum(times) < min_time:
    t0 = time.perf_counter(); D, I = index.search(q, k, params=params); times.append(time.perf_counter() - t0)
    if len(times) >= 100000:
        break
print(json.dumps({"median": statistics.median(times), "n": len(times),
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

NUMPY_CODE = r"""
import json, resource, statistics, sys, time
import numpy as np
from threadpoolctl import threadpool_limits, threadpool_info
db_path, q_path = sys.argv[1], sys.argv[2]
k, t, reps, min_time = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
db = np.load(db_path); q = np.load(q_path)
times = []
with threadpool_limits(t):
    first = True  # the first is an untimed warm-up
    while first or len(times) < reps or sum(times) < min_time:
        t0 = time.perf_counter()
        s = np.inner(q, db)
        kk = min(k, db.shape[0])
        part = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        top = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        idx = np.take_along_axis(part, order, axis=1)
        if not first:
            times.append(time.perf_counter() - t0)
        first = False
        del s
        if len(times) >= 100000:
            break
blas = [f"{i['internal_api']} {i.get('version')} {i.get('architecture')}" for i in threadpool_info() if i["user_api"] == "blas"]
print(json.dumps({"median": statistics.median(times), "n": len(times),
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "blas": blas}))
"""

INFO_CODE = r"""
import json
import numpy, faiss
from threadpoolctl import threadpool_info

print(json.dumps({"numpy": numpy.__version__, "faiss": faiss.__version__,
                  "qt_bf16": hasattr(faiss.ScalarQuantizer, "QT_bf16"),
                  "blas": [f"{i.get('filepath','').split('/')[-1]}: {i['internal_api']} {i.get('version')} {i.get('architecture')}" for i in threadpool_info() if i['user_api'] == 'blas']}))
"""


TCK = os.sysconf("SC_CLK_TCK")


def busy_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]  # all but idle and iowait


def wait_idle(limit=0.05, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        b0 = busy_jiffies()
        time.sleep(0.3)
        if (busy_jiffies() - b0) / TCK / 0.3 < limit:
            return


class Runner:
    """Runs processes, repeating those during which other processes used the CPU."""

    def __init__(self, max_share, tries):
        self.max_share, self.tries = max_share, tries
        self.runs = 0
        self.repeated = 0
        self.contaminated = 0

    def run(self, cmd, env):
        self.runs += 1
        for attempt in range(self.tries):
            wait_idle()
            r0, s0 = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
            b0, t0 = busy_jiffies(), time.time()
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            wall, b1 = time.time() - t0, busy_jiffies()
            r1, s1 = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
            mine = sum(getattr(b, f) - getattr(a, f) for a, b in ((r0, r1), (s0, s1)) for f in ("ru_utime", "ru_stime"))
            share = ((b1 - b0) / TCK - mine) / wall
            if share < self.max_share:
                return out
            self.repeated += 1
        self.contaminated += 1
        return out


def peer_env(t):
    env = {k: v for k, v in os.environ.items() if k not in PEER_ENV_DROP}
    env["OMP_NUM_THREADS"] = str(t)
    return env


def crate_env(t):
    return dict(os.environ, RAYON_NUM_THREADS=str(t), MATMUL_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t))


def crate_args(metric, filt, store="f32", mmap_dir=None):
    args = ["--metric", metric] + (["--filter", str(filt)] if filt else [])
    if store in ("f16", "bf16"):
        args += ["--store", store]
    elif store == "mmap":
        args += ["--mmap", mmap_dir]
    return args


def run_crate(runner, exe, db_path, q_path, k, t, reps, min_time, metric, filt, store="f32", mmap_dir=None):
    cmd = [exe, db_path, q_path, str(k), "--reps", str(reps), "--min-time", str(min_time), "--show", "0"]
    out = runner.run(cmd + crate_args(metric, filt, store, mmap_dir), crate_env(t))
    median = float(out.split("search: ")[1].split(" s")[0])
    n = int(out.split("(median of ")[1].split(")")[0])
    rss = float(out.split("(VmHWM): ")[1].split(" MiB")[0]) * 1024 * 1024
    return {"median": median, "n": n, "peak_rss": rss}


def run_peer(runner, code, db_path, q_path, k, t, reps, min_time, metric, filt, selector, store="f32"):
    cmd = [sys.executable, "-c", code, db_path, q_path, str(k), str(t), str(reps), str(min_time),
           metric, str(filt), selector, store]
    out = runner.run(cmd, peer_env(t))
    return json.loads(out.strip().splitlines()[-1])


def crate_hits(exe, db_path, q_path, k, t, metric, filt, store="f32", mmap_dir=None):
    """The crate's answers: {query: ([index, ...], [score, ...])}."""
    cmd = [exe, db_path, q_path, str(k), "--reps", "1", "--print-all"] + crate_args(metric, filt, store, mmap_dir)
    out = subprocess.run(cmd, env=crate_env(t), capture_output=True, text=True, check=True).stdout
    hits = {}
    for line in out.splitlines():
        if line.startswith("hits "):
            parts = line.split()
            pairs = [p.split(":") for p in parts[2:]]
            hits[int(parts[1])] = ([int(j) for j, _ in pairs], [float(s) for _, s in pairs])
    return hits


def check_answers(db, q, k, metric, filt, runs):
    """Checks the crate's answers of several runs (each {query: hits}, on prefixes of `q`)
    against exact float64 top-k; returns ({run: recall}, [problem, ...])."""
    n = db.shape[0]
    kept = np.arange(0, n, filt) if filt else np.arange(n)
    db64 = db.astype(np.float64)[kept]
    db_sq = np.einsum("ij,ij->i", db64, db64)
    kk = min(k, kept.size)
    pos = np.full(n, -1)
    pos[kept] = np.arange(kept.size)
    correct = {key: 0 for key in runs}
    total = {key: 0 for key in runs}
    problems = []
    nq = max((len(h) for h in runs.values()), default=0)
    for start in range(0, nq, 100):
        q64 = q[start:start + 100].astype(np.float64)
        s = q64 @ db64.T  # scores of the kept rows only
        if metric == "l2":
            s = np.einsum("ij,ij->i", q64, q64)[:, None] + db_sq[None, :] - 2.0 * s
            key_s = -s  # higher is better
        else:
            key_s = s
        kth = -np.partition(-key_s, kk - 1, axis=1)[:, kk - 1] if kk else np.full(s.shape[0], -np.inf)
        for key, hits in runs.items():
            for r in range(s.shape[0]):
                i = start + r
                if i not in hits:
                    continue
                idx, sc = hits[i]
                real = [(j, x) for j, x in zip(idx, sc) if j != PAD]
                total[key] += kk
                if len(real) != kk or len(idx) not in (k, kk, min(k, n)):
                    problems.append(f"{key} query {i}: {len(real)} hits (+{len(idx) - len(real)} padding), want {kk}")
                if len({j for j, _ in real}) != len(real):
                    problems.append(f"{key} query {i}: an index repeats")
                bad = [j for j, _ in real if not (0 <= j < n and pos[j] >= 0)]
                if bad:
                    problems.append(f"{key} query {i}: inadmissible ids {bad[:5]}")
                vals = [x for _, x in real]
                if any((b < a if metric == "l2" else b > a) for a, b in zip(vals, vals[1:])):
                    problems.append(f"{key} query {i}: scores not sorted {'ascending' if metric == 'l2' else 'descending'}")
                tol = TOL * max(1.0, abs(kth[r]))
                for j, x in real:
                    if j in bad:
                        continue
                    exact = s[r, pos[j]]
                    if key_s[r, pos[j]] >= kth[r] - tol:
                        correct[key] += 1
                    if not abs(x - exact) <= TOL * max(1.0, abs(exact)) * 10:
                        problems.append(f"{key} query {i}: score of {j} is {x}, exact {exact:.6g}")
    recall = {key: correct[key] / total[key] if total[key] else 1.0 for key in runs}
    return recall, problems


def bf16_widened(x):
    """f32 `x` rounded to bfloat16 (to nearest, ties to even, as `half::bf16::from_f32`), as float64."""
    try:
        import ml_dtypes
        return x.astype(ml_dtypes.bfloat16).astype(np.float64)
    except ImportError:
        return bf16_widened_bits(x)


def bf16_widened_bits(x):
    """bf16_widened without ml_dtypes: round the f32 bits (finite inputs; NaN stays NaN)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    out = r.view(np.float32).astype(np.float64)
    out[np.isnan(x)] = np.nan
    return out


def stored_values(db, store):
    """The values the crate's index holds for `store`, widened to float64 (the exact reference's input)."""
    if store == "f16":
        return db.astype(np.float16).astype(np.float64)
    if store == "bf16":
        return bf16_widened(db)
    return db.astype(np.float64)


def exact_top_ids(db, q, k, metric):
    """The float64 top-k ids of every query of `q` over all of `db` (unfiltered), (Q, k)."""
    db64 = db.astype(np.float64)
    db_sq = np.einsum("ij,ij->i", db64, db64)
    kk = min(k, db.shape[0])
    out = []
    for start in range(0, q.shape[0], 100):
        q64 = q[start:start + 100].astype(np.float64)
        s = q64 @ db64.T
        if metric == "l2":
            s = 2.0 * s - db_sq[None, :]  # higher is better; |q|^2 does not change the order
        out.append(np.argpartition(-s, kk - 1, axis=1)[:, :kk])
    return np.concatenate(out) if out else np.zeros((0, kk), dtype=np.int64)


def recall_vs(top, runs):
    """{run: share of the ids in `top` (Q, k) that the run's hits (on prefixes of the queries) contain}."""
    rec = {}
    for key, hits in runs.items():
        found = sum(len(set(hits[i][0]) & set(top[i].tolist())) for i in hits)
        total = sum(top.shape[1] for _ in hits)
        rec[key] = found / total if total else 1.0
    return rec


def load():
    return os.getloadavg()[0]


def int_list(s):
    return [] if s.strip().lower() in ("", "none") else [int(x) for x in s.split(",")]


def fmt_ms(x):
    return "skipped" if x is None else f"{x * 1e3:.3f}" if x < 0.1 else f"{x * 1e3:.1f}"


def fmt_ratio(a, b):
    return "" if a is None or b is None else f"{a / b:.2f}x"


def fmt_recall(r):
    # Rounded down, so that one wrong hit in 10^4 does not print as 1.000.
    return "" if r is None else "1.000" if r == 1 else f"{math.floor(r * 1e4) / 1e4:.4f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=5, help="searches each process times at least")
    ap.add_argument("--min-time", type=float, default=0.3, help="... and until they took this many seconds")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--cases", default="100000x128,20000x768")
    ap.add_argument("--metrics", default="ip,l2")
    ap.add_argument("--stores", default="f32,f16", help="storage of the unfiltered cases: f32, f16, bf16, mmap")
    ap.add_argument("--queries", default="1,16,64,1000")
    ap.add_argument("--filter", type=int, default=10, help="filtered cases keep ids with id %% M == 0 (0: none)")
    ap.add_argument("--filtered-queries", default="1,16", help='"none": no filtered cases')
    ap.add_argument("--filtered-metrics", default="ip")
    ap.add_argument("--faiss-selector", choices=("batch", "bitmap"), default="batch")
    ap.add_argument("--numpy-queries", default="1000", help="query counts at which NumPy runs (IP only)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--features", default="", help="cargo features for the crate build, e.g. blas")
    ap.add_argument("--engines", default="crate,faiss,numpy")
    ap.add_argument("--max-share", type=float, default=0.1,
                    help="repeat a run when other processes used more than this share of one core during it")
    ap.add_argument("--tries", type=int, default=6)
    opts = ap.parse_args()
    runner = Runner(opts.max_share, opts.tries)

    threads = int_list(opts.threads)
    engines = opts.engines.split(",")
    metrics = [m for m in opts.metrics.split(",") if m]
    fmetrics = [m for m in opts.filtered_metrics.split(",") if m]
    stores = list(dict.fromkeys(s for s in opts.stores.split(",") if s))
    for m in metrics + fmetrics:
        if m not in ("ip", "l2"):
            sys.exit(f"unknown metric {m!r}: ip or l2")
    for e in engines:
        if e not in ("crate", "faiss", "numpy"):
            sys.exit(f"unknown engine {e!r}: crate, faiss or numpy")
    for st in stores:
        if st not in ("f32", "f16", "bf16", "mmap"):
            sys.exit(f"unknown store {st!r}: f32, f16, bf16 or mmap")
    if not stores:
        sys.exit("--stores is empty: give at least one of f32, f16, bf16, mmap")
    show_store = stores != ["f32"]
    queries = int_list(opts.queries)
    fqueries = int_list(opts.filtered_queries) if opts.filter > 0 else []
    numpy_queries = set(int_list(opts.numpy_queries))
    info = json.loads(subprocess.run([sys.executable, "-c", INFO_CODE], env=peer_env(1), capture_output=True,
                                     text=True, check=True).stdout)
    faiss_stores = {"f32", "f16"} | ({"bf16"} if info["qt_bf16"] else set())

    # Cases (metric, Q, filter, store) and the engines that run them. A filtered
    # case's unfiltered crate time comes from the unfiltered f32 case of the same
    # metric and Q, as does the f32 time of a half-precision or mmap row, and the
    # faiss time of an mmap row (its peer is faiss's flat index, as for f32): such a
    # case is added (with only the engines needed) when the options leave it out.
    plan = {}
    helpers = set()  # cases run only for another row's numbers: no row of their own

    def need(case, es):
        if case not in plan:
            plan[case] = []
            helpers.add(case)
        plan[case] += [e for e in es if e not in plan[case]]

    for m in metrics:
        for nq in queries:
            for st in stores:
                plan[(m, nq, 0, st)] = [e for e in engines
                                        if e == "crate"
                                        or (e == "faiss" and st in faiss_stores)
                                        or (e == "numpy" and st == "f32" and m == "ip" and nq in numpy_queries)]
            f32_case = (m, nq, 0, "f32")
            if "crate" in engines and show_store:
                need(f32_case, ["crate"])
            if "faiss" in engines and "crate" in engines and "mmap" in stores:
                need(f32_case, ["faiss"])  # the mmap row's peer (no mmap row without the crate)
    for m in fmetrics:
        for nq in fqueries:
            plan[(m, nq, opts.filter, "f32")] = [e for e in engines if e != "numpy"]
            if "crate" in engines:
                need((m, nq, 0, "f32"), ["crate"])
    plan = {c: es for c, es in plan.items() if es}
    if not plan:
        sys.exit("no cases: --queries and --filtered-queries are both empty (or no engine runs them)")
    max_q = max(nq for _, nq, _, _ in plan)

    print("command: " + shlex.join([os.path.basename(sys.executable)] + sys.argv))
    print("options: " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(opts).items() if v != ""))

    cmd = ["cargo", "build", "--quiet", "--release", "--example", "search"]
    if opts.features:
        cmd += ["--features", opts.features]
    subprocess.run(cmd, cwd=ROOT, check=True)
    exe = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "examples", "search")
    print(f"numpy {info['numpy']}, faiss {info['faiss']}; peers' BLAS (OPENBLAS_CORETYPE/L2_SIZE unset):")
    for b in info["blas"]:
        print(f"  {b}")
    print(f"CPU: {cpu_description()}")
    print(f"crate kernels: {crate_isa(exe, dict(os.environ))} (NDARRAY_INNER_ISA lowers it)")
    print(f"crate: {exe} (features: {opts.features or 'default'}); rounds {opts.rounds}, per process at least "
          f"{opts.reps} searches and {opts.min_time} s of them; k = {opts.k}; f32, seeded standard normal")
    if show_store:
        peers = {"f32": "IndexFlat", "f16": "IndexScalarQuantizer QT_fp16",
                 "bf16": "IndexScalarQuantizer QT_bf16" if info["qt_bf16"] else "n/a (this faiss has no QT_bf16)",
                 "mmap": "IndexFlat (the f32 runs)"}
        print("stores (unfiltered cases): " + ", ".join(f"{st} (faiss: {peers[st]})" for st in stores))
    print(f"load average at start: {load():.2f}")

    rng = np.random.default_rng(12345)
    rows = []
    problems = []
    t_start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        # --mmap DIR: the example saves the index there (replacing an earlier save).
        mmap_dir = os.path.join(tmp, "mmap", "index")
        os.mkdir(os.path.dirname(mmap_dir))
        if "mmap" in stores:
            print(f"mmap: the crate's index is saved to and mapped from {mmap_dir} (deleted at the end)")
        for case in opts.cases.split(","):
            n, d = map(int, case.split("x"))
            db = rng.standard_normal((n, d), dtype=np.float32)
            q_all = rng.standard_normal((max_q, d), dtype=np.float32)
            db_path = os.path.join(tmp, f"db_{case}.npy")
            np.save(db_path, db)
            q_paths = {}
            for nq in sorted({nq for _, nq, _, _ in plan}):
                q_paths[nq] = os.path.join(tmp, f"q_{case}_{nq}.npy")
                np.save(q_paths[nq], np.ascontiguousarray(q_all[:nq]))

            # The crate's answers, every (metric, filter, store) against one reference:
            # the exact top-k of the values the index stores (mmap: the f32 values).
            recall = {}
            recall_f32 = {}
            if "crate" in engines:
                refs = {}
                for mfs in sorted({(m, f, st) for m, _, f, st in plan}):
                    m, f, st = mfs
                    runs = {(m, nq, f, st, t): crate_hits(exe, db_path, q_paths[nq], opts.k, t, m, f, st, mmap_dir)
                            for (m2, nq, f2, st2) in plan if (m2, f2, st2) == mfs for t in threads}
                    ref_store = "f32" if st == "mmap" else st
                    if ref_store not in refs:
                        refs[ref_store] = stored_values(db, ref_store)
                    rec, probs = check_answers(refs[ref_store], q_all, opts.k, m, f, runs)
                    recall.update(rec)
                    problems += [f"({n}, {d}) {st} {p}" if show_store else f"({n}, {d}) {p}" for p in probs]
                    if st in ("f16", "bf16") and not f:
                        recall_f32.update(recall_vs(exact_top_ids(db, q_all, opts.k, m), runs))
                del refs

            results = {(c, e, t): [] for c, es in plan.items() for e in es for t in threads}
            loads = []
            for r in range(opts.rounds):
                for c, es in plan.items():
                    metric, nq, filt, st = c
                    for t in threads:
                        order = es[r % len(es):] + es[:r % len(es)]
                        for e in order:
                            loads.append(load())
                            if e == "crate":
                                res = run_crate(runner, exe, db_path, q_paths[nq], opts.k, t, opts.reps,
                                                opts.min_time, metric, filt, st, mmap_dir)
                            else:
                                res = run_peer(runner, FAISS_CODE if e == "faiss" else NUMPY_CODE, db_path,
                                               q_paths[nq], opts.k, t, opts.reps, opts.min_time, metric, filt,
                                               opts.faiss_selector, st)
                            results[(c, e, t)].append(res)

            def med(c, e, t):
                rs = results.get((c, e, t))
                return statistics.median(x["median"] for x in rs) if rs else None

            for c, es in plan.items():
                metric, nq, filt, st = c
                if c in helpers:
                    continue
                f32_case = (metric, nq, 0, "f32")
                for t in threads:
                    row = {"db": f"({n}, {d})", "db_mib": db.nbytes / 2**20, "metric": metric, "q": nq,
                           "threads": t, "filter": filt, "store": st,
                           "recall": recall.get((metric, nq, filt, st, t)),
                           "recall_f32": recall_f32.get((metric, nq, filt, st, t)),
                           "load": statistics.median(loads)}
                    for e in ("crate", "faiss", "numpy"):
                        # mmap's faiss peer is the f32 flat index: the f32 case's runs.
                        src = f32_case if (e == "faiss" and st == "mmap") else c
                        rs = results.get((src, e, t))
                        row[e] = med(src, e, t)
                        row[e + "_all"] = [x["median"] for x in rs] if rs and src == c else []
                        row[e + "_n"] = min(x["n"] for x in rs) if rs else None
                        row[e + "_rss"] = max(x["peak_rss"] for x in rs) / 2**20 if rs else None
                    row["unfiltered"] = med(f32_case, "crate", t) if filt else None
                    row["crate_f32"] = row["crate"] if st == "f32" else med(f32_case, "crate", t)
                    rows.append(row)
            del db, q_all

    print()
    f_peer = f"faiss IndexFlat + IDSelector{opts.faiss_selector.capitalize()}"
    head = ["database", "metric", "Q", "thr", "filter"] + (["store"] if show_store else []) + [
            "crate ms", "faiss ms", "faiss/crate"] + (["crate f32 ms", "f32/store"] if show_store else []) + [
            "crate unfiltered ms", "unfiltered/filtered", "numpy ms", "numpy/crate",
            "crate RSS MiB", "faiss RSS MiB", "numpy RSS MiB", "recall"] + (["recall vs f32"] if show_store else [])
    n_left = 6 if show_store else 5
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" if i < n_left else "---:" for i in range(len(head))) + "|")
    for row in rows:
        st = row["store"]
        numpy_ms = fmt_ms(row["numpy"]) if "numpy" in engines else ""
        if "faiss" not in engines:
            faiss_ms = ""
        elif st == "bf16" and not info["qt_bf16"]:
            faiss_ms = "n/a"
        else:
            faiss_ms = fmt_ms(row["faiss"])
        store_cells = []
        if show_store:
            store_cells = [fmt_ms(row["crate_f32"]) if "crate" in engines else "",
                           fmt_ratio(row["crate_f32"], row["crate"]) if st != "f32" else ""]
        cells = [row["db"], row["metric"].upper(), str(row["q"]), str(row["threads"]),
                 f"id % {row['filter']} == 0" if row["filter"] else "none",
                 *([st] if show_store else []),
                 fmt_ms(row["crate"]) if "crate" in engines else "",
                 faiss_ms,
                 fmt_ratio(row["faiss"], row["crate"]),
                 *store_cells,
                 fmt_ms(row["unfiltered"]) if row["filter"] and "crate" in engines else "",
                 fmt_ratio(row["unfiltered"], row["crate"]) if row["filter"] else "",
                 numpy_ms, fmt_ratio(row["numpy"], row["crate"]),
                 *(f"{row[e + '_rss']:.0f}" if row[e + "_rss"] is not None else "" for e in ("crate", "faiss", "numpy")),
                 fmt_recall(row["recall"]),
                 *([fmt_recall(row["recall_f32"])] if show_store else [])]
        print("| " + " | ".join(cells) + " |")
    print()
    db_sizes = ", ".join(sorted({f"{r['db']} {r['db_mib']:.0f} MiB" for r in rows}))
    print(f"ms: median over {opts.rounds} rounds of each process's median search time; ratios above 1: the crate "
          f"is faster (unfiltered/filtered above 1: filtering made the crate's search faster). Peers: faiss "
          f"IndexFlatIP / IndexFlatL2, filtered rows {f_peer} via SearchParameters(sel=...); numpy "
          f"(np.inner + argpartition) only for IP at Q in {sorted(numpy_queries)}, 'skipped' elsewhere (L2, "
          f"other Q, filtered{', other stores' if show_store else ''}). RSS includes the database ({db_sizes}). "
          f"recall: the crate's answers against exact float64 top-k (1.000 is right).")
    if show_store:
        print(f"store: f16/bf16, the crate's FlatIndex<f16>/<bf16> (f32 queries) against faiss IndexScalarQuantizer "
              f"QT_fp16/QT_bf16; mmap, the crate's saved and memory-mapped f32 index (warm page cache) against "
              f"faiss's f32 IndexFlat (the f32 row's runs). crate f32 ms: the crate's f32 time of the same case; "
              f"f32/store above 1: this store is faster than f32. recall is against the exact top-k of the stored "
              f"(widened) values; recall vs f32 (f16/bf16): against the exact top-k of the original f32 vectors, "
              f"what half precision costs (not a failure).")
    print()
    print("per-round medians (ms) [fewest searches timed in one process]:")
    for row in rows:
        for e in engines:
            if row[e + "_all"]:
                print(f"  {row['db']:14s} {row['metric']} Q={row['q']:<5d} thr={row['threads']} "
                      f"filter={row['filter']} " + (f"{row['store']:4s} " if show_store else "") + f"{e:6s} "
                      + " ".join(f"{x * 1e3:.3f}" for x in row[e + "_all"]) + f"  [{row[e + '_n']}]")
    if "crate" in engines and rows:
        f32_rows = [r for r in rows if r["store"] == "f32" and r["crate_rss"] is not None]
        if f32_rows:
            over = max(r["crate_rss"] - r["db_mib"] for r in f32_rows)
            print(f"crate peak RSS over the database: at most {over:.0f} MiB (target: + 256 MiB at most)"
                  + (" (f32 rows)" if show_store else ""))
        for st in stores:
            if st == "f32":
                continue
            rs = [r for r in rows if r["store"] == st and r["crate_rss"] is not None]
            if rs:
                over = max(r["crate_rss"] - r["db_mib"] for r in rs)
                what = "the f32 array it loaded stays alive beside the half-precision copy" if st != "mmap" else \
                    "VmHWM counts the mapped file's pages, touched after the loaded f32 index is dropped"
                print(f"crate peak RSS over the f32 database, {st} rows: at most {over:.0f} MiB ({what})")
    if problems:
        print(f"answer check: {len(problems)} problems, first ones:")
        for p in problems[:20]:
            print(f"  {p}")
    elif "crate" in engines:
        print("answer check: no problems")
    print(f"runs: {runner.runs}; repeated because other processes used the CPU: {runner.repeated}; "
          f"still disturbed after {opts.tries} tries (kept): {runner.contaminated}")
    print(f"load average at end: {load():.2f}; took {(time.time() - t_start) / 60:.1f} min")


if __name__ == "__main__":
    main()
