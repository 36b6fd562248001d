"""Speed of ``digits scan --engine ray`` against the local engine, on the same generated pages.

    python tests/benchmarks/bench_ray.py [--pages 40] [--repeat 1] [--seed N] [--mnist DIR] [--workdir DIR]

Renders ``--pages`` varied form pages (``samples/synth.py``, as ``bench_scan.py`` does), then in
one run: the local engine with 1 and 2 worker processes, and the Ray engine on a local Ray with 1
and with 2 CPUs. Prints pages/s for each and whether each run's digits.csv, fields.csv and
errors.csv are byte-identical to the local engine's (workers=1). "scan s" is the scan call alone
(for Ray: actors starting and loading the model included); "start s" is ``ray.init``. Asserts
nothing (a benchmark, not a test); needs the ray extra.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from samples.synth import default_mnist_dir
from tests.benchmarks.bench_scan import generate

CSVS = ("digits.csv", "fields.csv", "errors.csv")


def same_csvs(a: Path, b: Path) -> bool:
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in CSVS)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--mnist", type=Path, default=None)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=1, help="rounds over the four runs; each run's best time is kept")
    args = ap.parse_args()

    import ray

    from pipeline.classify import Classifier
    from pipeline.config import load_config
    from pipeline.ray_engine import scan_ray
    from pipeline.scan import scan

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_ray_"))
    generate(work, args.pages, args.seed, args.mnist or default_mnist_dir())
    pages = work / "pages"
    cfg = load_config()
    clf = Classifier(batch_size=cfg.scan.batch_size, runtime=cfg.scan.runtime)
    reference = work / "local-1"

    def local(workers: int) -> tuple[float, float, int, Path]:
        out = work / f"local-{workers}"
        t = time.perf_counter()
        stats = scan([pages], out, cfg, clf, progress=False, workers=workers)
        return 0.0, time.perf_counter() - t, stats.pages, out

    def on_ray(cpus: int) -> tuple[float, float, int, Path]:
        out = work / f"ray-{cpus}"
        t = time.perf_counter()
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, logging_level=logging.ERROR,
                 log_to_driver=False)
        t2 = time.perf_counter()
        try:
            stats = scan_ray([pages], out, cfg, None, progress=False)
        finally:
            t3 = time.perf_counter()
            ray.shutdown()
        return t2 - t, t3 - t2, stats.pages, out

    runs = {"local, workers=1": lambda: local(1), "local, workers=2": lambda: local(2),
            "ray, 1 CPU": lambda: on_ray(1), "ray, 2 CPUs": lambda: on_ray(2)}
    best: dict[str, tuple[float, float, int]] = {}  # name -> start s, scan s, pages of its fastest run
    same = dict.fromkeys(runs, True)  # CSVs identical to the local engine's in every round
    for _ in range(args.repeat):  # rounds over all engines, so a busy spell hits each alike
        for name, run in runs.items():
            start, wall, n, out = run()
            same[name] = same[name] and same_csvs(reference, out)
            if name not in best or wall < best[name][1]:
                best[name] = (start, wall, n)
    rows = [(name, *best[name], same[name]) for name in runs]

    print(f"\n{args.pages} generated pages in {pages} (ray {ray.__version__}; best of {args.repeat})\n")
    print("| engine | start s | scan s | pages/s | CSVs identical to local |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, start, wall, n, same in rows:
        print(f"| {name} | {start:.1f} | {wall:.1f} | {n / wall:.2f} | {'yes' if same else 'NO'} |")
    r1, r2 = rows[2][2], rows[3][2]
    print(f"\nray 2 CPUs / 1 CPU speed-up: {r1 / r2:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
