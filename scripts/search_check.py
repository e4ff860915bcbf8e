#!/usr/bin/env python3
"""Checks `examples/search.rs` against NumPy's exact float64 top-k.

Makes seeded test databases and queries as .npy files, runs

    cargo run --release --example search -- db.npy queries.npy K --print-all [--metric cosine]

and compares every printed hit with the top-k of the float64 score matrix that
NumPy computes from the same data (`np.inner`, and cosine with the crate's
convention of 0 for a zero vector). A hit is correct when its exact score is at
least the exact k-th best score minus 1e-5 (ties within 1e-5 count as equal);
recall = correct hits / expected hits, and must be 1.0. Also checked: the printed
scores (within 1e-5 of the exact ones), each row's order (score descending,
ties by the lower index), NaN rows never above finite ones, k > N, N = 0, and the
errors for k = 0 and for a dimension mismatch.

Usage: python3 scripts/search_check.py [--keep DIR]
Exit status 0 when every case passes.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

TOL = 1e-5
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(args):
    cmd = ["cargo", "run", "--quiet", "--release", "--example", "search", "--"] + args
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)


def parse_hits(stdout, q):
    hits = [None] * q
    for line in stdout.splitlines():
        if line.startswith("hits "):
            parts = line.split()
            i = int(parts[1])
            pairs = [p.split(":") for p in parts[2:]]
            hits[i] = ([int(j) for j, _ in pairs], [float(s) for _, s in pairs])
    missing = [i for i, h in enumerate(hits) if h is None]
    if missing:
        raise AssertionError(f"no hits printed for queries {missing[:5]}...")
    return hits


def exact_scores(db, q, metric):
    db64, q64 = db.astype(np.float64), q.astype(np.float64)
    s = np.inner(q64, db64)
    if metric == "cosine":
        qn = np.linalg.norm(q64, axis=1)
        dn = np.linalg.norm(db64, axis=1)
        denom = np.outer(qn, dn)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = s / denom
        c[(denom == 0) & ~np.isnan(s)] = 0.0  # the crate's convention
        s = c
    return s


def check(name, db, q, k, metric="ip", tmp=".", exact=False):
    db_path = os.path.join(tmp, f"{name}_db.npy")
    q_path = os.path.join(tmp, f"{name}_q.npy")
    np.save(db_path, db)
    np.save(q_path, q)
    args = [db_path, q_path, str(k), "--print-all", "--reps", "1"]
    if metric == "cosine":
        args += ["--metric", "cosine"]
    out = run_example(args)
    if out.returncode != 0:
        raise AssertionError(f"{name}: example failed: {out.stderr.strip()}")
    nq, n = q.shape[0], db.shape[0]
    kk = min(k, n)
    hits = parse_hits(out.stdout, nq)
    s = exact_scores(db, q, metric)
    correct = 0
    max_err = 0.0
    for i, (idx, sc) in enumerate(hits):
        assert len(idx) == kk, f"{name}: query {i} has {len(idx)} hits, want {kk}"
        assert len(set(idx)) == kk, f"{name}: query {i} repeats an index"
        if kk == 0:
            continue
        row = s[i]
        finite = ~np.isnan(row)
        ranked = np.sort(row[finite])[::-1]
        n_finite = ranked.size
        # The exact k-th best score (NaN rows rank last, so they only count once the
        # finite rows are used up).
        kth = ranked[kk - 1] if kk <= n_finite else -np.inf
        for r, (j, got) in enumerate(zip(idx, sc)):
            true = row[j]
            if np.isnan(true):
                ok = r >= n_finite  # a NaN row only after every finite row
            else:
                ok = true >= kth - TOL
                err = abs(got - true)
                max_err = max(max_err, err)
                assert err <= TOL * max(1.0, abs(true)), f"{name}: query {i} rank {r}: score {got}, exact {true}"
            correct += ok
        if exact:
            # Exactly representable scores: the indices must be NumPy's ranking,
            # ties broken by the lower index, NaN last.
            want = np.lexsort((np.arange(n), -row))[:kk]
            assert list(want) == idx, f"{name}: query {i}: {idx} != NumPy's {list(want)}"
        for r in range(1, kk):
            a, b = sc[r - 1], sc[r]
            if np.isnan(b):
                ordered = not np.isnan(a) or idx[r - 1] < idx[r]
            else:
                ordered = not np.isnan(a) and (a > b or (a == b and idx[r - 1] < idx[r]))
            assert ordered, f"{name}: query {i}: ranks {r - 1} and {r} out of order"
    expected = nq * kk
    recall = correct / expected if expected else 1.0
    print(f"{name:28s} db {str(db.shape):14s} {str(db.dtype):8s} q {nq:5d} k {k:4d} {metric:6s} "
          f"recall {recall:.4f}  max |score error| {max_err:.2e}")
    assert recall == 1.0, f"{name}: recall {recall}"
    return recall


def check_error(name, db, q, k, want, tmp="."):
    db_path = os.path.join(tmp, f"{name}_db.npy")
    q_path = os.path.join(tmp, f"{name}_q.npy")
    np.save(db_path, db)
    np.save(q_path, q)
    out = run_example([db_path, q_path, str(k), "--print-all", "--reps", "1"])
    got = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else ""
    assert out.returncode == 2 and got == f"error: {want}", f"{name}: exit {out.returncode}, stderr {got!r}"
    print(f"{name:28s} error as expected: {want}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", help="write the .npy files here and keep them")
    opts = ap.parse_args()
    build = subprocess.run(["cargo", "build", "--quiet", "--release", "--example", "search"], cwd=ROOT)
    if build.returncode != 0:
        sys.exit("cargo build failed")
    tmp_ctx = tempfile.TemporaryDirectory()
    tmp = opts.keep or tmp_ctx.name
    os.makedirs(tmp, exist_ok=True)
    rng = np.random.default_rng(20240605)

    def emb(n, d, dtype=np.float32):
        return (rng.standard_normal((n, d)) / np.sqrt(d)).astype(dtype)

    # The main case: embeddings with duplicated rows (exact ties).
    db = emb(20000, 96)
    dup = rng.integers(0, 20000, size=(500, 2))
    db[dup[:, 0]] = db[dup[:, 1]]
    q = emb(300, 96)
    q[:20] = db[rng.integers(0, 20000, size=20)]  # queries that are database rows
    check("inner_product_f32", db, q, 10, tmp=tmp)
    db[123] = 0.0
    q[7] = 0.0
    check("cosine_f32_zero_vectors", db, q, 10, "cosine", tmp=tmp)
    check("inner_product_k100", db, q[:50], 100, tmp=tmp)
    # float64, another shape, more queries than a block.
    check("inner_product_f64", emb(5000, 300, np.float64), emb(700, 300, np.float64), 7, tmp=tmp)
    check("cosine_f64", emb(3000, 33, np.float64), emb(40, 33, np.float64), 5, "cosine", tmp=tmp)
    # Integer-valued data: many exact ties, broken by the lower index.
    ints = rng.integers(-2, 3, size=(4000, 8)).astype(np.float32)
    iq = rng.integers(-2, 3, size=(64, 8)).astype(np.float32)
    check("integer_ties", ints, iq, 25, tmp=tmp, exact=True)
    ints[rng.integers(0, 4000, size=40), 2] = np.nan
    check("integer_ties_nan_k_above_n", ints[:300], iq, 400, tmp=tmp, exact=True)
    # NaN rows never rank above finite ones (k above the finite count too).
    db = emb(3000, 16)
    db[rng.integers(0, 3000, size=100), 3] = np.nan
    check("nan_rows", db, emb(50, 16), 10, tmp=tmp)
    small = emb(12, 16)
    small[[2, 5], 0] = np.nan
    check("nan_rows_k_above_n", small, emb(5, 16), 20, tmp=tmp)
    # k > N, N = 0.
    check("k_above_n", emb(7, 16), emb(9, 16), 10, tmp=tmp)
    check("empty_database", emb(0, 16), emb(4, 16), 3, tmp=tmp)
    # Errors.
    check_error("k_zero", emb(10, 16), emb(2, 16), 0, "k must be at least 1, got k = 0", tmp=tmp)
    check_error("dimension_mismatch", emb(100, 32), emb(5, 64), 3,
                "shapes (5,64) and (100,32) not aligned: 64 (dim 1) != 32 (dim 1)", tmp=tmp)
    print("all cases pass: recall 1.0")


if __name__ == "__main__":
    main()
