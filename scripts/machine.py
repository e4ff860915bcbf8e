"""What machine a benchmark runs on: the CPU model and vector instruction sets, and the
level the crate's kernels run at. Shared by scripts/compare_numpy.py and
scripts/bench_search.py, which print both beside their figures."""

import os
import subprocess


def cpu_description():
    """The CPU model and the vector instruction sets it offers, from /proc/cpuinfo."""
    model, flags, family = "unknown CPU", set(), {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown CPU":
                    model = value.strip()
                elif key.strip() in ("cpu family", "model") and key.strip() not in family:
                    family[key.strip()] = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    sets = [s for s in ("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni",
                        "avx512_vpopcntdq", "avx512_bf16", "avx512_fp16") if s in flags]
    ids = f", family {family.get('cpu family', '?')} model {family.get('model', '?')}" if family else ""
    return f"{model}{ids} ({os.cpu_count()} CPUs; {' '.join(sets) or 'no AVX2'})"


def crate_isa(binary, env):
    """The crate's kernels' level in `binary` under `env`: 'LEVEL (detected LEVEL)'."""
    p = subprocess.run([binary, "--isa"], env=env, capture_output=True, text=True)
    return p.stdout.strip() or f"unknown ({p.stderr.strip()[:200]})"

