#!/usr/bin/env python3
"""Times NumPy's np.inner and the crate's a.inner(&b) on the same shapes, with the
same thread count, in one run, and prints a table of medians and ratios.

    python3 scripts/compare_numpy.py                      # threads 1 and 2, default and blas
    python3 scripts/compare_numpy.py --threads 1 --features default --rounds 3

The crate side is `examples/bench_inner.rs` (built here with cargo --release); it
also times ndarray's raw `a.dot(&b.t())`, the expression `inner` replaces. Both
sides use the same timing: per-call time calibrated so a sample lasts ~10 ms,
samples alternated, the median kept. With --rounds R the NumPy and crate runs
alternate R times and the median of the R medians is reported, which damps bursts
of load from other processes on a shared machine.

Threads: the crate gets RAYON_NUM_THREADS and MATMUL_NUM_THREADS, NumPy and the
system OpenBLAS (feature blas) OPENBLAS_NUM_THREADS, all set to the same number;
NumPy's is also enforced with threadpoolctl. NumPy runs with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset (in its own command only), so its OpenBLAS picks its kernel
by itself; the kernel it reports is printed, with the CPU model, its vector
instruction sets and the crate's kernels' level (`--crate-env NDARRAY_INNER_ISA=avx2`
lowers it, to compare the levels on one machine).
"""

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import cpu_description, crate_isa  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (label, spec) with spec = "DTYPE A_SHAPE B_SHAPE [LAYOUT]", the format bench_inner reads.
TARGETS = [
    ("f64 1024^2", "f64 1024,1024 1024,1024"),
    ("f32 1024^2", "f32 1024,1024 1024,1024"),
    ("f64 (1000,768).(20000,768)", "f64 1000,768 20000,768"),
    ("f32 (1000,768).(20000,768)", "f32 1000,768 20000,768"),
    # Short and wide: a batch of queries against a database of embeddings.
    ("f32 (16,128).(100000,128)", "f32 16,128 100000,128"),
    ("f32 (64,128).(100000,128)", "f32 64,128 100000,128"),
    ("f64 (32,128,256).(512,256)", "f64 32,128,256 512,256"),
    ("f64 (16,64,256).(8,32,256)", "f64 16,64,256 8,32,256"),
    ("f64 (3,).(3,)", "f64 3 3"),
    ("f64 (4,4).(4,)", "f64 4,4 4"),
    ("f64 (2,3).(3,)", "f64 2,3 3"),
    ("i64 512^2", "i64 512,512 512,512"),
    ("i32 512^2", "i32 512,512 512,512"),
    ("c128 512^2", "c128 512,512 512,512"),
    ("c128 1024^2", "c128 1024,1024 1024,1024"),
    ("i64 (4,4).(4,4)", "i64 4,4 4,4"),
    # NumPy's float16 and bool inner are plain loops (bfloat16 through ml_dtypes too);
    # the crate widens half blocks to its f32 GEMM and packs bools into words.
    ("f16 512^2", "f16 512,512 512,512"),
    ("bf16 512^2", "bf16 512,512 512,512"),
    ("f16 (1000,768).(20000,768)", "f16 1000,768 20000,768"),
    ("bool 512^2, half true", "bool:0.5 512,512 512,512"),
    ("bool 512^2, 10% true", "bool:0.1 512,512 512,512"),
    ("bool 512^2, 1% true", "bool:0.01 512,512 512,512"),
]

NP_DTYPES = {"f32": "float32", "f64": "float64", "c64": "complex64", "c128": "complex128",
             "i32": "int32", "i64": "int64", "f16": "float16", "bf16": "bfloat16", "bool": "bool"}


def flops(spec):
    """2*M*N*K (8*M*N*K for complex) of one call."""
    parts = spec.split()
    a = [int(d) for d in parts[1].split(",")]
    b = [int(d) for d in parts[2].split(",")]
    k = a[-1]
    m = 1
    for d in a[:-1]:
        m *= d
    n = 1
    for d in b[:-1]:
        n *= d
    per = 8 if parts[0].startswith("c") else 2
    return per * m * n * k


# ---------------------------------------------------------------- NumPy worker

def numpy_worker(specs, threads, budget):
    import numpy as np
    import threadpoolctl

    info = threadpoolctl.threadpool_info()
    out = {"numpy": np.__version__, "blas": [
        {k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")} for i in info]}
    rng = np.random.default_rng(12345)
    results = {}
    with threadpoolctl.threadpool_limits(limits=threads):
        for spec in specs:
            parts = spec.split()
            dtype, _, density = parts[0].partition(":")
            dt = NP_DTYPES[dtype]
            a_shape = tuple(int(d) for d in parts[1].split(","))
            b_shape = tuple(int(d) for d in parts[2].split(","))
            layout = parts[3] if len(parts) > 3 else "c"

            def make(shape):
                if dt == "bool":
                    return rng.random(size=shape) < float(density or 0.5)
                if dt == "bfloat16":
                    import ml_dtypes
                    return rng.uniform(-1, 1, size=shape).astype(ml_dtypes.bfloat16)
                if dt.startswith("int"):
                    return rng.integers(-100, 101, size=shape).astype(dt)
                x = rng.uniform(-1, 1, size=shape)
                if dt.startswith("complex"):
                    x = x + 1j * rng.uniform(-1, 1, size=shape)
                return x.astype(dt)

            if layout == "f":
                a, b = np.asfortranarray(make(a_shape)), np.asfortranarray(make(b_shape))
            elif layout == "strided":
                wide = lambda s: s[:-1] + (2 * s[-1],)
                a, b = make(wide(a_shape))[..., ::2], make(wide(b_shape))[..., ::2]
            elif layout == "bcast":
                a, b = make(a_shape), np.broadcast_to(make(b_shape[-1:]), b_shape)
            else:
                a, b = make(a_shape), make(b_shape)
            results[spec] = time_calls(lambda: np.inner(a, b), budget)
    out["results"] = results
    return out


def time_calls(f, budget):
    """Median seconds per call, with the same sampling as bench_inner."""
    start = time.perf_counter()
    n = 0
    while n < 3 or time.perf_counter() - start < 0.02:
        f()
        n += 1
    t1 = max((time.perf_counter() - start) / n, 1e-9)
    reps = max(1, int(0.01 / t1))
    samples = min(41, max(5, int(budget / (2 * reps * t1))))
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(reps):
            f()
        times.append((time.perf_counter() - start) / reps)
    return statistics.median(times)


# ---------------------------------------------------------------- drivers

def build_crate(features):
    cmd = ["cargo", "build", "--release", "--example", "bench_inner"]
    if features != "default":
        cmd += ["--features", features]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    # Keep one binary per feature set: the next build overwrites the path.
    src = os.path.join(target, "release", "examples", "bench_inner")
    dst = os.path.join(target, "release", "examples", f"bench_inner-{features}")
    subprocess.run(["cp", src, dst], check=True)
    return dst


CRATE_ENV = {}


def run_crate(binary, specs, threads, budget):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), MATMUL_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), BENCH_BUDGET_S=str(budget), **CRATE_ENV)
    p = subprocess.run([binary], input="\n".join(specs) + "\n", env=env, check=True,
                       capture_output=True, text=True)
    out = {}
    for line in p.stdout.splitlines():
        spec, ti, td, _n = line.split("\t")
        out[spec] = (float(ti), float(td))
    return out


def run_numpy(specs, threads, budget):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(var, None)
    cmd = ["env", "-u", "OPENBLAS_CORETYPE", "-u", "OPENBLAS_L2_SIZE", sys.executable, __file__,
           "--numpy-worker", "--threads", str(threads), "--budget", str(budget)]
    p = subprocess.run(cmd, input="\n".join(specs) + "\n", env=env, check=True,
                       capture_output=True, text=True)
    return json.loads(p.stdout)


def system_openblas_core():
    """The kernel the system OpenBLAS (feature blas) picks in this environment."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        return f"{lib.openblas_get_config().decode()} core={lib.openblas_get_corename().decode()}"
    except OSError as e:
        return f"unavailable ({e})"


def measure(specs, threads_list, features_list, rounds, budget):
    """{(features, threads): {spec: {"numpy": s, "inner": s, "dot": s}}} plus NumPy's BLAS info."""
    binaries = {f: build_crate(f) for f in features_list}
    table = {}
    np_info = None
    for threads in threads_list:
        np_runs, crate_runs = [], {f: [] for f in features_list}
        for _ in range(rounds):
            r = run_numpy(specs, threads, budget)
            np_info = {k: r[k] for k in ("numpy", "blas")}
            np_runs.append(r["results"])
            for f in features_list:
                crate_runs[f].append(run_crate(binaries[f], specs, threads, budget))
        for f in features_list:
            rows = {}
            for spec in specs:
                rows[spec] = {
                    "numpy": statistics.median(r[spec] for r in np_runs),
                    "inner": statistics.median(r[spec][0] for r in crate_runs[f]),
                    "dot": statistics.median(r[spec][1] for r in crate_runs[f]),
                }
            table[(f, threads)] = rows
    return table, np_info


def fmt_time(s):
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    return f"{s * 1e3:.2f} ms"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--features", nargs="*", default=["default", "blas"],
                    help="crate feature sets: 'default' or a --features value such as 'blas'")
    ap.add_argument("--rounds", type=int, default=1, help="alternate NumPy and crate runs this often")
    ap.add_argument("--budget", type=float, default=1.0, help="seconds of sampling per shape and side")
    ap.add_argument("--only", default=None, help="keep targets whose label contains this (several: A|B|C)")
    ap.add_argument("--json", default=None, help="also write the raw medians here")
    ap.add_argument("--crate-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for the crate's runs only, e.g. "
                         "GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (transparent huge pages for large "
                         "buffers, which NumPy asks for by itself)")
    ap.add_argument("--numpy-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.numpy_worker:
        specs = [l.strip() for l in sys.stdin if l.strip()]
        print(json.dumps(numpy_worker(specs, args.threads[0], args.budget)))
        return

    for kv in args.crate_env:
        key, _, value = kv.partition("=")
        CRATE_ENV[key] = value
    wanted = None if args.only is None else args.only.split("|")
    targets = [(l, s) for l, s in TARGETS if wanted is None or any(w in l for w in wanted)]
    specs = [s for _, s in targets]
    label = dict((s, l) for l, s in targets)
    table, np_info = measure(specs, args.threads, args.features, args.rounds, args.budget)

    print(f"NumPy {np_info['numpy']}, BLAS (OPENBLAS_CORETYPE/L2_SIZE unset): {np_info['blas']}")
    if "blas" in ",".join(args.features):
        print(f"system OpenBLAS for --features blas: {system_openblas_core()}")
    print(f"CPU: {cpu_description()}")
    for f in args.features:
        binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release",
                              "examples", f"bench_inner-{f}")
        print(f"crate kernels ({f}): {crate_isa(binary, dict(os.environ, **CRATE_ENV))}")
    print(f"load average at end: {os.getloadavg()}; rounds={args.rounds}, budget={args.budget}s per shape")
    if CRATE_ENV:
        print(f"crate runs with extra environment: {CRATE_ENV}")
    print()
    hdr = f"{'shape':30} {'feat':8} {'thr':>3} {'numpy':>10} {'inner':>10} {'dot':>10} " \
          f"{'np/inner':>9} {'dot/inner':>9} {'GFLOP/s':>8}"
    print(hdr)
    print("-" * len(hdr))
    raw = []
    for (f, threads), rows in table.items():
        for spec in specs:
            r = rows[spec]
            gf = flops(spec) / r["inner"] / 1e9
            print(f"{label[spec]:30} {f:8} {threads:>3} {fmt_time(r['numpy']):>10} {fmt_time(r['inner']):>10} "
                  f"{fmt_time(r['dot']):>10} {r['numpy'] / r['inner']:>8.2f}x {r['dot'] / r['inner']:>8.2f}x "
                  f"{gf:>8.1f}")
            raw.append(dict(label=label[spec], spec=spec, features=f, threads=threads, **r))
    print()
    print("np/inner > 1: the crate is faster than NumPy; dot/inner >= 0.95: inner costs what raw dot does.")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"numpy": np_info, "rows": raw}, fh, indent=1)


if __name__ == "__main__":
    main()
