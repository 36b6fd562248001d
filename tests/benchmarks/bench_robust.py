"""How ``digits scan`` holds up on what real paper and scanners do to a page.

    python tests/benchmarks/bench_robust.py [--pages 12] [--seed 1234] [--mnist DIR] [--workdir DIR]
                                            [--reuse] [--pipeline-cmd CMD]

Renders synthetic form pages as :mod:`bench_scan` does (MNIST *test* digits, every style), then
writes each page again with one real-world defect at a time (a scanner's dark margins, a frame
printed round the form, a fold, a stamp, show-through from the back, a fax-like bilevel scan,
heavy JPEG, a soft scan, blur, low contrast, a binding shadow, punched holes, pepper noise, a grey
band shading each field)
into a folder of its own, runs the pipeline once over all the folders, and prints one row per defect beside the
clean pages of the same run (the baseline): field exact match, digit accuracy on right-length
fields, missed and spurious fields. The defects keep the page geometry, so the same truth boxes
score every folder. A benchmark script, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from samples.synth import default_mnist_dir, read_truth  # noqa: E402
from tests.benchmarks.bench_scan import DEFAULT_CMD, Box, generate, read_predictions, run_pipeline, score  # noqa: E402


def _margins(g: np.ndarray, rng: np.random.Generator, fields: list[Box]) -> np.ndarray:
    g = g.copy()
    left, top, bottom = (int(v) for v in rng.integers(20, 45, 3))
    g[:, :left], g[:top], g[-bottom:] = 20, 25, 30
    return g


def _frame(g: np.ndarray, rng: np.random.Generator, fields: list[Box]) -> np.ndarray:
    g = g.copy()
    m = int(rng.integers(40, 70))
    cv2.rectangle(g, (m, m), (g.shape[1] - m, g.shape[0] - m), 40, 3)
    return g


def _fold(g: np.ndarray, rng: np.random.Generator, fields: list[Box]) -> np.ndarray:
    g = g.astype(np.int16)
    h, w = g.shape
    g[:, w // 2 - 2 : w // 2 + 2] -= 60
    g[h // 2 - 1 : h // 2 + 2] -= 50
    return np.clip(g, 0, 255).astype(np.uint8)


def _stamp(g: np.ndarray, rng: np.random.Generator, fields: list[Box]) -> np.ndarray:
    g = g.copy()
    h, w = g.shape
    cx, cy = int(rng.integers(w // 3, 2 * w // 3)), int(rng.integers(h // 5, 4 * h // 5))
    cv2.circle(g, (cx, cy), 120, 185, 6)
    cv2.putText(g, "PAID", (cx - 90, cy + 20), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 185, 6)
    return g


def _show_through(g: np.ndarray, rng: np.random.Generator, fields: list[Box]) -> np.ndarray:
    back = cv2.GaussianBlur(cv2.flip(g, 1), (0, 0), 1.5).astype(np.float32)
    return np.clip(g.astype(np.float32) - 0.2 * (255 - back), 0, 255).astype(np.uint8)


def _bilevel(g: np.ndarray, rng: np.random.Generator, fields: list[Box]) -> np.ndarray:
    return np.where(g < 150, 0, 255).astype(np.uint8)


def _jpeg(g: np.ndarray, rng: np.random.Generator, fields: list[Box]) -> np.ndarray:
    return cv2.imdecode(cv2.imencode(".jpg", g, [cv2.IMWRITE_JPEG_QUALITY, 25])[1], cv2.IMREAD_GRAYSCALE)


def _soft(g: np.ndarray, rng: np.random.Generator, fields: list[Box]) -> np.ndarray:
    return cv2.GaussianBlur(g, (0, 0), 0.9)


def _blur(g: np.ndarray, rng: np.random.Generator, fields: list[Box]) -> np.ndarray:
    return cv2.GaussianBlur(g, (0, 0), 1.4)


def _low_contrast(g: np.ndarray, rng: np.random.Generator, fields: list[Box]) -> np.ndarray:
    return (140 + g.astype(np.float32) * (110 / 255)).astype(np.uint8)


def _shadow(g: np.ndarray, rng: np.random.Generator, fields: list[Box]) -> np.ndarray:
    f = np.ones(g.shape[1], np.float32)
    f[: g.shape[1] // 3] = np.linspace(0.45, 1.0, g.shape[1] // 3)
    return np.clip(g * f[None, :], 0, 255).astype(np.uint8)


def _holes(g: np.ndarray, rng: np.random.Generator, fields: list[Box]) -> np.ndarray:
    g = g.copy()
    for cy in (g.shape[0] // 5, g.shape[0] // 2, 4 * g.shape[0] // 5):
        cv2.circle(g, (45, cy), 22, 15, -1)
    return g


def _pepper(g: np.ndarray, rng: np.random.Generator, fields: list[Box]) -> np.ndarray:
    g = g.copy()
    g[rng.random(g.shape) < 0.004] = 0
    return g


def _shaded(g: np.ndarray, rng: np.random.Generator, fields: list[Box]) -> np.ndarray:
    out = g.astype(np.float32)
    for x, y, w, h in fields:  # a grey band across the middle of each field, 20% darker
        band = max(24, h // 2)
        out[max(0, y + h // 2 - band // 2) : y + h // 2 + band // 2, max(0, x - 10) : x + w + 10] *= 0.8
    return out.astype(np.uint8)


DEFECTS: dict[str, tuple[str, Callable[[np.ndarray, np.random.Generator, list[Box]], np.ndarray]]] = {
    "margins": ("dark scanner margins on three sides", _margins),
    "frame": ("a frame printed round the whole form", _frame),
    "fold": ("a fold across the middle, both ways", _fold),
    "stamp": ("a light stamp (ring and word) anywhere", _stamp),
    "show-through": ("the back page showing through, blurred, 20%", _show_through),
    "bilevel": ("fax-like: black and white, cut at 150", _bilevel),
    "jpeg25": ("JPEG at quality 25", _jpeg),
    "soft": ("a soft scan (Gaussian, sigma 0.9)", _soft),
    "blur": ("out of focus (Gaussian, sigma 1.4)", _blur),
    "low-contrast": ("grey paper, grey ink (140-250)", _low_contrast),
    "shadow": ("a binding shadow over the left third", _shadow),
    "holes": ("three punched holes in the margin", _holes),
    "pepper": ("pepper noise, 0.4% of pixels", _pepper),
    "shaded": ("a grey band (20% darker, half its height, 24 px or more) across every field", _shaded),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=12, help="clean pages to render (default 12)")
    ap.add_argument("--seed", type=int, default=1234, help="page seed (default 1234)")
    ap.add_argument("--mnist", type=Path, default=None, help="folder with the MNIST t10k IDX files")
    ap.add_argument("--workdir", type=Path, default=None, help="work folder (kept); default: a temporary one")
    ap.add_argument("--reuse", action="store_true", help="reuse WORKDIR/pages and truth.csv if present")
    ap.add_argument("--pipeline-cmd", default=DEFAULT_CMD, help="as bench_scan.py's")
    args = ap.parse_args(argv)
    temp = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="bench_robust_")) if temp else args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        if args.reuse and (workdir / "truth.csv").is_file():
            truth = read_truth(workdir / "truth.csv")
        else:
            truth = generate(workdir, args.pages, args.seed, args.mnist or default_mnist_dir())
        runs = workdir / "runs"
        shutil.rmtree(runs, ignore_errors=True)
        shutil.copytree(workdir / "pages", runs / "clean")
        for k, (name, (_, defect)) in enumerate(DEFECTS.items()):
            (runs / name).mkdir(parents=True)
            for i, page in enumerate(sorted((workdir / "pages").iterdir())):
                gray = cv2.imread(str(page), cv2.IMREAD_GRAYSCALE)
                fields = [(t.x, t.y, t.w, t.h) for source, t in truth if source == page.name]
                rng = np.random.default_rng([args.seed, k, i])
                cv2.imwrite(str(runs / name / page.name), defect(gray, rng, fields))
        out = workdir / "out"
        shutil.rmtree(out, ignore_errors=True)
        rc, elapsed, tail = run_pipeline(args.pipeline_cmd, runs, out)
        if not (out / "fields.csv").is_file():
            print(f"pipeline exit code {rc}, no fields.csv; output tail:\n{tail}", file=sys.stderr)
            return 1
        preds = read_predictions(out / "fields.csv")
        with (out / "fields.csv").open(newline="") as fh:
            folders = [Path(r["source"]).parent.name for r in csv.DictReader(fh)]
        n_pages = len(list((workdir / "pages").iterdir()))
        print(f"{n_pages} pages x {1 + len(DEFECTS)} versions, {len(truth)} truth fields each; "
              f"pipeline {elapsed:.0f} s (exit code {rc})\n")
        print("| version | defect | exact match | digit acc (right length) | missed | spurious |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name, what in [("clean", "none (baseline)")] + [(n, d) for n, (d, _) in DEFECTS.items()]:
            s = score(truth, [p for p, f in zip(preds, folders, strict=True) if f == name])
            print(f"| {name} | {what} | {s['field_exact_pct']:.1f}% | {s['digit_acc_same_length_pct']:.2f}% "
                  f"| {s['missed_fields']} | {s['spurious_fields']} |")
        return 0
    finally:
        if temp:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
