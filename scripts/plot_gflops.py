#!/usr/bin/env python3
"""Draws GFLOP/s (Gop/s for integers) against size for square (n, n).(n, n)
products: the crate's a.inner(&b), ndarray's raw a.dot(&b.t()), and NumPy's
np.inner, measured in one run with the same thread count (default 1).

    pip install matplotlib
    python3 scripts/plot_gflops.py                    # writes docs/gflops.svg
    python3 scripts/plot_gflops.py --threads 2 --out docs/gflops-2t.svg

Timing is scripts/compare_numpy.py's (same binary, same sampling, NumPy with
OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset); the raw medians go to a JSON file
beside the figure so that the plot can be redrawn with --replot.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_numpy as cmp  # noqa: E402

PANELS = [
    ("f64", [16, 32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048]),
    ("f32", [16, 32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048]),
    ("c128", [16, 32, 64, 128, 256, 512, 1024]),
    ("i64", [16, 32, 64, 128, 256, 512, 1024]),
]


def measure(threads, rounds, budget):
    specs = [f"{dt} {n},{n} {n},{n}" for dt, sizes in PANELS for n in sizes]
    table, np_info = cmp.measure(specs, [threads], ["default"], rounds, budget)
    rows = table[("default", threads)]
    return {"threads": threads, "numpy": np_info,
            "rows": {s: rows[s] for s in specs}, "load": os.getloadavg()}


def plot(data, out):
    import matplotlib
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # text as text: a small SVG
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PANELS), figsize=(4 * len(PANELS), 3.4), sharex=False)
    for ax, (dt, sizes) in zip(axes, PANELS):
        series = {"ndarray-inner a.inner(&b)": "inner", "ndarray a.dot(&b.t())": "dot", "NumPy np.inner": "numpy"}
        style = {"inner": "o-", "dot": "s--", "numpy": "^:"}
        for label, key in series.items():
            xs, ys = [], []
            for n in sizes:
                spec = f"{dt} {n},{n} {n},{n}"
                if spec in data["rows"]:
                    xs.append(n)
                    ys.append(cmp.flops(spec) / data["rows"][spec][key] / 1e9)
            ax.plot(xs, ys, style[key], label=label, markersize=4)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("n  ((n,n).(n,n))")
        ax.set_ylabel("Gop/s" if dt.startswith("i") else "GFLOP/s")
        ax.set_title(dt)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    blas = data["numpy"]["blas"][0] if data["numpy"]["blas"] else {}
    fig.suptitle(f"{data['threads']} thread(s); NumPy {data['numpy']['numpy']} "
                 f"(OpenBLAS {blas.get('version', '?')}, {blas.get('architecture', '?')} kernel); medians",
                 fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out)
    print(f"wrote {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--budget", type=float, default=0.5)
    ap.add_argument("--out", default=os.path.join(cmp.ROOT, "docs", "gflops.svg"))
    ap.add_argument("--replot", action="store_true", help="redraw from the JSON beside --out")
    args = ap.parse_args()
    data_path = os.path.splitext(args.out)[0] + ".json"
    if args.replot:
        with open(data_path) as fh:
            data = json.load(fh)
    else:
        data = measure(args.threads, args.rounds, args.budget)
        os.makedirs(os.path.dirname(os.path.abspath(data_path)), exist_ok=True)
        with open(data_path, "w") as fh:
            json.dump(data, fh, indent=1)
    plot(data, args.out)


if __name__ == "__main__":
    main()
