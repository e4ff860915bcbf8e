#!/usr/bin/env python3
"""Exact top-k search: the crate against faiss-cpu IndexFlatIP and NumPy, same data, same run.

For each case (an f32 database and f32 queries, seeded standard normal) and each
thread count, the three engines run in separate processes, in a rotating order,
for several rounds:

- crate: `target/release/examples/search db.npy queries.npy K --reps R`
  with RAYON_NUM_THREADS=t and MATMUL_NUM_THREADS=t (OPENBLAS_NUM_THREADS=t too,
  for a build with the `blas` feature);
- faiss: `IndexFlatIP`, `index.add(db)`, `index.search(queries, K)`, with
  `faiss.omp_set_num_threads(t)`;
- numpy: `S = np.inner(queries, db)`, `np.argpartition(-S, K)[:, :K]`, then the K
  sorted, under `threadpoolctl.threadpool_limits(t)`.

Each process makes one untimed warm-up search, times R more and reports the median and
its peak RSS (VmHWM / ru_maxrss, which includes the loaded database). The table
shows the median over rounds of those medians, the ratios (peer time / crate
time: above 1 means the crate is faster) and the peak RSS. The peers run without
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (they slow OpenBLAS down if set); the BLAS
kernel NumPy and faiss use is printed. The crate's answers are checked against
exact float64 top-k (ties within 1e-5) in the first round.

On a machine shared with other work, every process run is checked for it: the
CPU time that other processes used during the run (from /proc/stat, less this
script's and its child's own) must stay under --max-share of one core, else the
run is repeated (up to --tries times, after waiting for the machine to be idle).
The table says how many runs were repeated.

Usage:
    python3 scripts/bench_search.py [--rounds 5] [--reps 5] [--threads 1,2]
        [--cases 100000x128,20000x768] [--queries 1000] [--k 10] [--features blas]

On a shared machine the numbers are noisy: use several rounds and read medians.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_ENV_DROP = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

FAISS_CODE = r"""
import json, resource, statistics, sys, time
import numpy as np, faiss
db_path, q_path, k, t, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
db = np.load(db_path); q = np.load(q_path)
faiss.omp_set_num_threads(t)
index = faiss.IndexFlatIP(db.shape[1]); index.add(db)
index.search(q, k)  # warm-up, untimed, as the crate's example does
times = []
for _ in range(reps):
    t0 = time.perf_counter(); D, I = index.search(q, k); times.append(time.perf_counter() - t0)
print(json.dumps({"median": statistics.median(times), "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

NUMPY_CODE = r"""
import json, resource, statistics, sys, time
import numpy as np
from threadpoolctl import threadpool_limits, threadpool_info
db_path, q_path, k, t, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
db = np.load(db_path); q = np.load(q_path)
times = []
with threadpool_limits(t):
    for rep in range(reps + 1):  # the first is an untimed warm-up
        t0 = time.perf_counter()
        s = np.inner(q, db)
        kk = min(k, db.shape[0])
        part = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        top = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        idx = np.take_along_axis(part, order, axis=1)
        if rep:
            times.append(time.perf_counter() - t0)
        del s
blas = [f"{i['internal_api']} {i.get('version')} {i.get('architecture')}" for i in threadpool_info() if i["user_api"] == "blas"]
print(json.dumps({"median": statistics.median(times), "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "blas": blas}))
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
        self.repeated = 0
        self.contaminated = 0

    def run(self, cmd, env):
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


def run_crate(runner, exe, db_path, q_path, k, t, reps):
    env = dict(os.environ, RAYON_NUM_THREADS=str(t), MATMUL_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t))
    out = runner.run([exe, db_path, q_path, str(k), "--reps", str(reps), "--show", "0"], env)
    median = float(out.split("search: ")[1].split(" s")[0])
    rss = float(out.split("(VmHWM): ")[1].split(" MiB")[0]) * 1024 * 1024
    return {"median": median, "peak_rss": rss}


def run_peer(runner, code, db_path, q_path, k, t, reps):
    out = runner.run([sys.executable, "-c", code, db_path, q_path, str(k), str(t), str(reps)], peer_env(t))
    return json.loads(out.strip().splitlines()[-1])


def check_crate(exe, db, q, db_path, q_path, k):
    """Recall of the crate's answers against exact float64 top-k (ties within 1e-5)."""
    out = subprocess.run([exe, db_path, q_path, str(k), "--reps", "1", "--print-all"],
                         capture_output=True, text=True, check=True).stdout
    hits = {}
    for line in out.splitlines():
        if line.startswith("hits "):
            parts = line.split()
            hits[int(parts[1])] = [int(p.split(":")[0]) for p in parts[2:]]
    db64 = db.astype(np.float64)
    correct = total = 0
    for start in range(0, q.shape[0], 100):
        s = np.inner(q[start:start + 100].astype(np.float64), db64)
        kk = min(k, db.shape[0])
        kth = -np.sort(-s, axis=1)[:, kk - 1]
        for r in range(s.shape[0]):
            idx = hits[start + r]
            total += kk
            correct += sum(1 for j in set(idx) if s[r, j] >= kth[r] - 1e-5)
    return correct / total


def load():
    return os.getloadavg()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--cases", default="100000x128,20000x768")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--features", default="", help="cargo features for the crate build, e.g. blas")
    ap.add_argument("--engines", default="crate,faiss,numpy")
    ap.add_argument("--max-share", type=float, default=0.1,
                    help="repeat a run when other processes used more than this share of one core during it")
    ap.add_argument("--tries", type=int, default=6)
    opts = ap.parse_args()
    runner = Runner(opts.max_share, opts.tries)

    cmd = ["cargo", "build", "--quiet", "--release", "--example", "search"]
    if opts.features:
        cmd += ["--features", opts.features]
    subprocess.run(cmd, cwd=ROOT, check=True)
    exe = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "examples", "search")
    info = json.loads(subprocess.run([sys.executable, "-c", INFO_CODE], env=peer_env(1), capture_output=True,
                                     text=True, check=True).stdout)
    threads = [int(t) for t in opts.threads.split(",")]
    engines = opts.engines.split(",")
    print(f"numpy {info['numpy']}, faiss {info['faiss']}; peers' BLAS (OPENBLAS_CORETYPE/L2_SIZE unset):")
    for b in info["blas"]:
        print(f"  {b}")
    print(f"crate: {exe} (features: {opts.features or 'default'}); "
          f"rounds {opts.rounds}, {opts.reps} searches per process, Q = {opts.queries}, k = {opts.k}")
    print(f"load average at start: {load():.2f}")

    rng = np.random.default_rng(12345)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in opts.cases.split(","):
            n, d = map(int, case.split("x"))
            db = rng.standard_normal((n, d), dtype=np.float32)
            q = rng.standard_normal((opts.queries, d), dtype=np.float32)
            db_path, q_path = os.path.join(tmp, f"db_{case}.npy"), os.path.join(tmp, f"q_{case}.npy")
            np.save(db_path, db)
            np.save(q_path, q)
            recall = check_crate(exe, db, q, db_path, q_path, opts.k) if "crate" in engines else float("nan")
            results = {(e, t): [] for e in engines for t in threads}
            loads = []
            for r in range(opts.rounds):
                for t in threads:
                    order = engines[r % len(engines):] + engines[:r % len(engines)]
                    for e in order:
                        loads.append(load())
                        if e == "crate":
                            res = run_crate(runner, exe, db_path, q_path, opts.k, t, opts.reps)
                        else:
                            res = run_peer(runner, FAISS_CODE if e == "faiss" else NUMPY_CODE, db_path, q_path,
                                           opts.k, t, opts.reps)
                        results[(e, t)].append(res)
            for t in threads:
                row = {"case": f"({n}, {d})", "threads": t, "db_mib": db.nbytes / 2**20, "recall": recall,
                       "load": statistics.median(loads)}
                for e in engines:
                    rs = results[(e, t)]
                    row[e] = statistics.median(x["median"] for x in rs)
                    row[e + "_all"] = [x["median"] for x in rs]
                    row[e + "_rss"] = max(x["peak_rss"] for x in rs) / 2**20
                rows.append(row)
            del db, q

    print()
    head = f"{'database':16s} {'thr':>3s} " + " ".join(f"{e + ' s':>9s}" for e in engines)
    ratios = [e for e in engines if e != "crate" and "crate" in engines]
    head += "".join(f" {e + '/crate':>12s}" for e in ratios)
    head += "".join(f" {e + ' RSS':>11s}" for e in engines) + f" {'db MiB':>7s} {'recall':>6s} {'load':>5s}"
    print(head)
    for row in rows:
        line = f"{row['case']:16s} {row['threads']:3d} " + " ".join(f"{row[e]:9.4f}" for e in engines)
        line += "".join(f" {row[e] / row['crate']:11.2f}x" for e in ratios)
        line += "".join(f" {row[e + '_rss']:7.0f} MiB" for e in engines)
        line += f" {row['db_mib']:7.1f} {row['recall']:6.3f} {row['load']:5.2f}"
        print(line)
    print()
    print("per-round medians (s):")
    for row in rows:
        for e in engines:
            print(f"  {row['case']:16s} {row['threads']} {e:6s} " + " ".join(f"{x:.4f}" for x in row[e + '_all']))
    if "crate" in engines:
        for row in rows:
            over = row["crate_rss"] - row["db_mib"]
            print(f"crate peak RSS {row['case']} {row['threads']} thr: {row['crate_rss']:.0f} MiB = database "
                  f"{row['db_mib']:.0f} MiB + {over:.0f} MiB (target: + 256 MiB at most)")
    print(f"runs repeated because other processes used the CPU: {runner.repeated}; "
          f"runs still disturbed after {opts.tries} tries (kept): {runner.contaminated}")
    print(f"load average at end: {load():.2f}")


if __name__ == "__main__":
    main()
