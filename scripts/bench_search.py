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

Engines, each run in its own process, in a rotating order, for several rounds:

- crate: `target/release/examples/search db.npy queries.npy K --metric ip|l2
  [--filter M] --reps R --min-time S`, with RAYON_NUM_THREADS=t and
  MATMUL_NUM_THREADS=t (OPENBLAS_NUM_THREADS=t too, for a build with the `blas`
  feature). The example builds a `FlatIndex` once, untimed, and times
  `FlatIndex::search` (unfiltered) or `FlatIndex::search_filtered(.., |id| id % M == 0)`.
- faiss: `IndexFlatIP` (ip) or `IndexFlatL2` (l2), `index.add(db)`,
  `index.search(queries, K)`, with `faiss.omp_set_num_threads(t)`; filtered:
  `index.search(queries, K, params=faiss.SearchParameters(sel=selector))` with
  `selector = faiss.IDSelectorBatch(kept_ids)` (--faiss-selector batch, the
  default) or `faiss.IDSelectorBitmap(N, bitmap)` (--faiss-selector bitmap); both
  work in faiss 1.15 and give the exact filtered top-k. The selector is built
  untimed.
- numpy: `S = np.inner(queries, db)`, `np.argpartition(-S, K)[:, :K]`, then the K
  sorted, under `threadpoolctl.threadpool_limits(t)`. Inner product only, and only
  for the query counts of --numpy-queries (1000): it makes the whole (Q, N) score
  matrix and is slow; the table says "skipped" elsewhere (L2, small batches,
  filtered).

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
right); problems are listed under it.

On a machine shared with other work, every process run is checked for it: the
CPU time that other processes used during the run (from /proc/stat, less this
script's and its child's own) must stay under --max-share of one core, else the
run is repeated (up to --tries times, after waiting for the machine to be idle).
The output says how many runs were repeated.

Usage:
    python3 scripts/bench_search.py [--rounds 3] [--reps 5] [--min-time 0.3]
        [--threads 1,2] [--cases 100000x128,20000x768] [--metrics ip,l2]
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

The full table (the defaults): `python3 scripts/bench_search.py`.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_ENV_DROP = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
PAD = 2**64 - 1  # usize::MAX, the crate's padding index
TOL = 1e-5

FAISS_CODE = r"""
import json, resource, statistics, sys, time
import numpy as np, faiss
db_path, q_path = sys.argv[1], sys.argv[2]
k, t, reps, min_time = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
metric, filt, selector = sys.argv[7], int(sys.argv[8]), sys.argv[9]
db = np.load(db_path); q = np.load(q_path)
faiss.omp_set_num_threads(t)
index = (faiss.IndexFlatIP if metric == "ip" else faiss.IndexFlatL2)(db.shape[1]); index.add(db)
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


def crate_args(metric, filt):
    return ["--metric", metric] + (["--filter", str(filt)] if filt else [])


def run_crate(runner, exe, db_path, q_path, k, t, reps, min_time, metric, filt):
    cmd = [exe, db_path, q_path, str(k), "--reps", str(reps), "--min-time", str(min_time), "--show", "0"]
    out = runner.run(cmd + crate_args(metric, filt), crate_env(t))
    median = float(out.split("search: ")[1].split(" s")[0])
    n = int(out.split("(median of ")[1].split(")")[0])
    rss = float(out.split("(VmHWM): ")[1].split(" MiB")[0]) * 1024 * 1024
    return {"median": median, "n": n, "peak_rss": rss}


def run_peer(runner, code, db_path, q_path, k, t, reps, min_time, metric, filt, selector):
    cmd = [sys.executable, "-c", code, db_path, q_path, str(k), str(t), str(reps), str(min_time),
           metric, str(filt), selector]
    out = runner.run(cmd, peer_env(t))
    return json.loads(out.strip().splitlines()[-1])


def crate_hits(exe, db_path, q_path, k, t, metric, filt):
    """The crate's answers: {query: ([index, ...], [score, ...])}."""
    cmd = [exe, db_path, q_path, str(k), "--reps", "1", "--print-all"] + crate_args(metric, filt)
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
                if len(real) != kk or len(idx) not in (k, kk):
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
    for m in metrics + fmetrics:
        if m not in ("ip", "l2"):
            sys.exit(f"unknown metric {m!r}: ip or l2")
    for e in engines:
        if e not in ("crate", "faiss", "numpy"):
            sys.exit(f"unknown engine {e!r}: crate, faiss or numpy")
    queries = int_list(opts.queries)
    fqueries = int_list(opts.filtered_queries) if opts.filter > 0 else []
    numpy_queries = set(int_list(opts.numpy_queries))

    # Cases (metric, Q, filter) and the engines that run them. A filtered case's
    # unfiltered crate time comes from the unfiltered case of the same metric and Q,
    # which is added (crate only) when --queries/--metrics leave it out.
    plan = {}
    helpers = set()  # cases run only for a filtered row's unfiltered time: no row of their own
    for m in metrics:
        for nq in queries:
            plan[(m, nq, 0)] = [e for e in engines if e != "numpy" or (m == "ip" and nq in numpy_queries)]
    for m in fmetrics:
        for nq in fqueries:
            plan[(m, nq, opts.filter)] = [e for e in engines if e != "numpy"]
            if "crate" in engines and (m, nq, 0) not in plan:
                plan[(m, nq, 0)] = ["crate"]
                helpers.add((m, nq, 0))
    plan = {c: es for c, es in plan.items() if es}
    if not plan:
        sys.exit("no cases: --queries and --filtered-queries are both empty (or no engine runs them)")
    max_q = max(nq for _, nq, _ in plan)

    print("command: " + shlex.join([os.path.basename(sys.executable)] + sys.argv))
    print("options: " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(opts).items() if v != ""))

    cmd = ["cargo", "build", "--quiet", "--release", "--example", "search"]
    if opts.features:
        cmd += ["--features", opts.features]
    subprocess.run(cmd, cwd=ROOT, check=True)
    exe = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "examples", "search")
    info = json.loads(subprocess.run([sys.executable, "-c", INFO_CODE], env=peer_env(1), capture_output=True,
                                     text=True, check=True).stdout)
    print(f"numpy {info['numpy']}, faiss {info['faiss']}; peers' BLAS (OPENBLAS_CORETYPE/L2_SIZE unset):")
    for b in info["blas"]:
        print(f"  {b}")
    print(f"crate: {exe} (features: {opts.features or 'default'}); rounds {opts.rounds}, per process at least "
          f"{opts.reps} searches and {opts.min_time} s of them; k = {opts.k}; f32, seeded standard normal")
    print(f"load average at start: {load():.2f}")

    rng = np.random.default_rng(12345)
    rows = []
    problems = []
    t_start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for case in opts.cases.split(","):
            n, d = map(int, case.split("x"))
            db = rng.standard_normal((n, d), dtype=np.float32)
            q_all = rng.standard_normal((max_q, d), dtype=np.float32)
            db_path = os.path.join(tmp, f"db_{case}.npy")
            np.save(db_path, db)
            q_paths = {}
            for nq in sorted({nq for _, nq, _ in plan}):
                q_paths[nq] = os.path.join(tmp, f"q_{case}_{nq}.npy")
                np.save(q_paths[nq], np.ascontiguousarray(q_all[:nq]))

            # The crate's answers, every (metric, filter) against one reference.
            recall = {}
            if "crate" in engines:
                for mf in sorted({(m, f) for m, _, f in plan}):
                    runs = {(mf[0], nq, mf[1], t): crate_hits(exe, db_path, q_paths[nq], opts.k, t, *mf)
                            for (m, nq, f) in plan if (m, f) == mf for t in threads}
                    rec, probs = check_answers(db, q_all, opts.k, mf[0], mf[1], runs)
                    recall.update(rec)
                    problems += [f"({n}, {d}) {p}" for p in probs]

            results = {(c, e, t): [] for c, es in plan.items() for e in es for t in threads}
            loads = []
            for r in range(opts.rounds):
                for c, es in plan.items():
                    metric, nq, filt = c
                    for t in threads:
                        order = es[r % len(es):] + es[:r % len(es)]
                        for e in order:
                            loads.append(load())
                            if e == "crate":
                                res = run_crate(runner, exe, db_path, q_paths[nq], opts.k, t, opts.reps,
                                                opts.min_time, metric, filt)
                            else:
                                res = run_peer(runner, FAISS_CODE if e == "faiss" else NUMPY_CODE, db_path,
                                               q_paths[nq], opts.k, t, opts.reps, opts.min_time, metric, filt,
                                               opts.faiss_selector)
                            results[(c, e, t)].append(res)

            def med(c, e, t):
                rs = results.get((c, e, t))
                return statistics.median(x["median"] for x in rs) if rs else None

            for c, es in plan.items():
                metric, nq, filt = c
                if c in helpers:
                    continue
                for t in threads:
                    row = {"db": f"({n}, {d})", "db_mib": db.nbytes / 2**20, "metric": metric, "q": nq,
                           "threads": t, "filter": filt, "recall": recall.get((metric, nq, filt, t)),
                           "load": statistics.median(loads)}
                    for e in ("crate", "faiss", "numpy"):
                        rs = results.get((c, e, t))
                        row[e] = med(c, e, t)
                        row[e + "_all"] = [x["median"] for x in rs] if rs else []
                        row[e + "_n"] = min(x["n"] for x in rs) if rs else None
                        row[e + "_rss"] = max(x["peak_rss"] for x in rs) / 2**20 if rs else None
                    row["unfiltered"] = med((metric, nq, 0), "crate", t) if filt else None
                    rows.append(row)
            del db, q_all

    print()
    f_peer = f"faiss IndexFlat + IDSelector{opts.faiss_selector.capitalize()}"
    head = ["database", "metric", "Q", "thr", "filter", "crate ms", "faiss ms", "faiss/crate",
            "crate unfiltered ms", "unfiltered/filtered", "numpy ms", "numpy/crate",
            "crate RSS MiB", "faiss RSS MiB", "numpy RSS MiB", "recall"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" if i < 5 else "---:" for i in range(len(head))) + "|")
    for row in rows:
        numpy_ms = fmt_ms(row["numpy"]) if "numpy" in engines else ""
        cells = [row["db"], row["metric"].upper(), str(row["q"]), str(row["threads"]),
                 f"id % {row['filter']} == 0" if row["filter"] else "none",
                 fmt_ms(row["crate"]) if "crate" in engines else "",
                 fmt_ms(row["faiss"]) if "faiss" in engines else "",
                 fmt_ratio(row["faiss"], row["crate"]),
                 fmt_ms(row["unfiltered"]) if row["filter"] and "crate" in engines else "",
                 fmt_ratio(row["unfiltered"], row["crate"]) if row["filter"] else "",
                 numpy_ms, fmt_ratio(row["numpy"], row["crate"]),
                 *(f"{row[e + '_rss']:.0f}" if row[e + "_rss"] is not None else "" for e in ("crate", "faiss", "numpy")),
                 fmt_recall(row["recall"])]
        print("| " + " | ".join(cells) + " |")
    print()
    db_sizes = ", ".join(sorted({f"{r['db']} {r['db_mib']:.0f} MiB" for r in rows}))
    print(f"ms: median over {opts.rounds} rounds of each process's median search time; ratios above 1: the crate "
          f"is faster (unfiltered/filtered above 1: filtering made the crate's search faster). Peers: faiss "
          f"IndexFlatIP / IndexFlatL2, filtered rows {f_peer} via SearchParameters(sel=...); numpy "
          f"(np.inner + argpartition) only for IP at Q in {sorted(numpy_queries)}, 'skipped' elsewhere (L2, "
          f"other Q, filtered). RSS includes the database ({db_sizes}). recall: the crate's answers against "
          f"exact float64 top-k (1.000 is right).")
    print()
    print("per-round medians (ms) [fewest searches timed in one process]:")
    for row in rows:
        for e in engines:
            if row[e + "_all"]:
                print(f"  {row['db']:14s} {row['metric']} Q={row['q']:<5d} thr={row['threads']} "
                      f"filter={row['filter']} {e:6s} " + " ".join(f"{x * 1e3:.3f}" for x in row[e + "_all"])
                      + f"  [{row[e + '_n']}]")
    if "crate" in engines and rows:
        over = max(r["crate_rss"] - r["db_mib"] for r in rows if r["crate_rss"] is not None)
        print(f"crate peak RSS over the database: at most {over:.0f} MiB (target: + 256 MiB at most)")
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
