"""Speed benchmark (a script, not a test): classification runtimes side by side, and the scan job.

    python tests/benchmarks/bench_speed.py [--pages 20] [--crops 20000] [--rss 100 1000] [--quick]

Prints, measured in one run on this machine:
- classification img/s: the default runtime (OpenVINO where installed, running the shipped
  digits.tflite, in bfloat16 on CPUs with bf16 units), LiteRT on the same file, and
  keras.Model.predict(batch_size=1024), on the same crops; the default runtime's ratio to Keras
  and its share of the FLOP ceiling (numpy float32 matmul GFLOP/s), plus its agreement with Keras;
- start-up: `digits scan` of one page, whole process, vs `python -c "import tensorflow"`;
- end-to-end `digits scan` pages/s and digits/s, --workers 1 vs the default (and `--engine ray`
  when the ray extra is installed), with the per-stage time split from run.json
  (decode/segment/normalize summed over worker processes) and whether the CSVs are identical;
- peak RSS of `digits scan` (largest process, from RUSAGE_CHILDREN) over --rss page counts made
  by hard-linking copies of the generated pages (so the 1,000 cost no rendering).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from model.contract import to_input
from model.runtime import load_runtime
from model.store import DEFAULT_MODEL


def matmul_gflops(n: int = 2048, repeat: int = 5) -> float:
    a = np.random.default_rng(0).random((n, n), np.float32)
    a @ a
    t = time.perf_counter()
    for _ in range(repeat):
        a @ a
    return 2 * n**3 * repeat / (time.perf_counter() - t) / 1e9


def model_flops() -> float:
    """Multiply-adds x 2 per image of the shipped network (conv and dense layers)."""
    import keras

    model = keras.models.load_model(DEFAULT_MODEL, safe_mode=True, compile=False)
    flops = 0
    for layer in model.layers:
        w = layer.get_weights()
        if not w or w[0].ndim not in (2, 4):
            continue
        out = layer.output.shape
        positions = int(np.prod(out[1:-1])) if len(out) > 2 else 1
        flops += 2 * positions * int(np.prod(w[0].shape))
    return float(flops)


def rate(fn, x: np.ndarray, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    fn(x[:1024])
    best = 0.0
    for _ in range(repeat):
        t = time.perf_counter()
        fn(x)
        best = max(best, len(x) / (time.perf_counter() - t))
    return best


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=False, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t


def peak_rss_mib(cmd: list[str]) -> float:
    """Peak resident memory of the largest process a command starts (a fresh parent per call,
    since RUSAGE_CHILDREN keeps the maximum over every child ever waited for)."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=False, capture_output=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], check=True, capture_output=True, text=True, cwd=ROOT)
    return int(out.stdout.strip()) / 1024


def copies(pages: Path, folder: Path, n: int) -> Path:
    """``n`` pages as hard links to the generated ones, in turn."""
    folder.mkdir()
    src = sorted(pages.iterdir())
    for i in range(n):
        os.link(src[i % len(src)], folder / f"copy{i:05d}.png")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--crops", type=int, default=20000)
    ap.add_argument("--rss", type=int, nargs=2, default=[100, 1000], metavar=("SMALL", "LARGE"))
    ap.add_argument("--quick", action="store_true", help="Small sizes for development: 6 pages, 4096 crops, RSS 10 vs 40.")
    args = ap.parse_args()
    if args.quick:
        args.pages, args.crops, args.rss = 6, 4096, [10, 40]

    from model.data import read_idx

    mnist = ROOT.parent / "shared" / "data" / "mnist" / "t10k-images-idx3-ubyte.gz"
    x = np.resize(read_idx(mnist), (args.crops, 28, 28)) if mnist.is_file() else \
        np.random.default_rng(0).integers(0, 256, (args.crops, 28, 28)).astype(np.uint8)
    x = to_input(x)

    fast, fast_name = load_runtime(DEFAULT_MODEL)  # what digits runs: "auto"
    litert, _ = load_runtime(DEFAULT_MODEL, "litert")
    import keras

    model = keras.models.load_model(DEFAULT_MODEL, safe_mode=True, compile=False)

    def batched(proba):  # type: ignore[no-untyped-def]
        return lambda a: np.concatenate([proba(a[i : i + 512]) for i in range(0, len(a), 512)])

    r_fast = rate(batched(fast), x)
    r_lite = rate(batched(litert), x)
    r_keras = rate(lambda a: model.predict(a, batch_size=1024, verbose=0), x)
    gflops, flops = matmul_gflops(), model_flops()
    p_fast, p_keras = batched(fast)(x[:10000]), model.predict(x[:10000], batch_size=1024, verbose=0)
    precision = "float32"
    if fast_name == "openvino":
        import openvino as ov

        compiled = ov.Core().compile_model(str(DEFAULT_MODEL.with_suffix(".tflite")), "CPU")
        precision = compiled.get_property("INFERENCE_PRECISION_HINT").to_string()

    with tempfile.TemporaryDirectory() as tmp:
        pages = Path(tmp) / "pages"
        subprocess.run([sys.executable, "-c", (
            "import sys, numpy as np, cv2; sys.path.insert(0, '.'); from samples.synth import *; "
            "d, l = load_test_digits(default_mnist_dir()); rng = np.random.default_rng(5); "
            f"from pathlib import Path; p = Path({str(pages)!r}); p.mkdir(); "
            f"[cv2.imwrite(str(p / f'page{{i:03d}}.png'), render_page(rng, d, l, STYLES[i % len(STYLES)])[0]) for i in range({args.pages})]"
        )], check=True, cwd=ROOT)
        one = sorted(pages.iterdir())[0]
        scan = [sys.executable, "-m", "pipeline.cli", "scan", "--quiet"]
        t_one = timed([*scan, str(one), "--out", f"{tmp}/one"])
        t_tf = timed([sys.executable, "-c", "import tensorflow"])
        runs, csvs = {}, {}
        engines = [("--workers 1", ["--workers", "1"]), ("default workers", [])]
        if importlib.util.find_spec("ray") is not None:  # the ray extra
            engines.append(("--engine ray (local Ray, its start-up included)", ["--engine", "ray"]))
        for i, (label, extra) in enumerate(engines):
            out = Path(tmp) / f"all{i}"
            t_all = timed([*scan, str(pages), "--out", str(out), *extra])
            runs[label] = (t_all, json.loads((out / "run.json").read_text()))
            csvs[label] = [(out / name).read_bytes() for name in ("digits.csv", "fields.csv", "errors.csv")]
        rss = {n: peak_rss_mib([*scan, str(copies(pages, Path(tmp) / f"copies{n}", n)), "--out", f"{tmp}/rss{n}"])
               for n in args.rss}

    rows = [
        (f"classify: {fast_name}, the default runtime (digits.tflite, {precision}, batches of 512)", f"{r_fast:,.0f} img/s"),
        ("classify: LiteRT (digits.tflite, float32, batches of 512)", f"{r_lite:,.0f} img/s"),
        ("classify: keras.Model.predict(batch_size=1024)", f"{r_keras:,.0f} img/s"),
        (f"  ratio {fast_name} / Keras (floor 2x)", f"{r_fast / r_keras:.2f}x"),
        ("  model FLOPs per image", f"{flops / 1e6:.1f} MFLOP"),
        ("  numpy float32 matmul", f"{gflops:.0f} GFLOP/s"),
        (f"  {fast_name} share of the FLOP ceiling (floor 75%)", f"{100 * r_fast * flops / 1e9 / gflops:.0f}%"),
        ("  LiteRT share of the FLOP ceiling", f"{100 * r_lite * flops / 1e9 / gflops:.0f}%"),
        (f"  {fast_name} vs Keras on 10,000 MNIST test crops: same top class",
         f"{100 * (p_fast.argmax(1) == p_keras.argmax(1)).mean():.2f}%"),
        ("  largest probability difference", f"{np.abs(p_fast - p_keras).max():.4f}"),
        ("start-up: digits scan of one page (whole process)", f"{t_one:.2f} s"),
        ("start-up: python -c 'import tensorflow'", f"{t_tf:.2f} s"),
    ]
    for label, (t_all, run) in runs.items():
        rows += [(f"end to end: digits scan of {args.pages} generated pages, {label}", f"{t_all:.1f} s"),
                 ("  workers", f"{run['workers']}" if "workers" in run else f"Ray, {run['ray']['cpus']} CPUs"),
                 ("  pages/s (floor 5)", f"{args.pages / t_all:.2f}"),
                 ("  digits/s", f"{run['counts']['digits'] / t_all:.0f}"),
                 ("  fields per page", f"{run['counts']['fields'] / args.pages:.1f}")]
        rows += [(f"  stage {k}", f"{v:.2f} s") for k, v in run["seconds"].items()]
        rows += [("  CSVs byte-identical to --workers 1", "yes" if csvs[label] == csvs["--workers 1"] else "NO")]
    small, large = args.rss
    rows += [(f"peak RSS, digits scan of {n} pages", f"{v:.0f} MiB") for n, v in rss.items()]
    rows += [(f"  RSS {large} / {small} pages (floor: within 10%)", f"{rss[large] / rss[small]:.3f}")]
    width = max(len(r[0]) for r in rows)
    print("-" * (width + 18))
    for name, value in rows:
        print(f"{name:<{width}}  {value:>14}")
    print("-" * (width + 18))


if __name__ == "__main__":
    main()
