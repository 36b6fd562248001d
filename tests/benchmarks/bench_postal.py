"""Accuracy benchmark of the postal stage on synthetic envelopes (MNIST *test* digits only).

    python tests/benchmarks/bench_postal.py [--n 120] [--seed 7] [--formats us,us,us,de,fr,in,br]
                                            [--jpeg-share 0.3] [--threshold T] [--set KEY=JSON] [--model FILE]
                                            [--write DIR] [--fail DIR]

Renders ``--n`` envelopes with ``samples/envelopes.py`` (varied layout, paper tint, black/blue
ink, blur, noise, rotation, stamps and postmarks, bar codes, ZIP+4 on 30% of US codes, 5-digit
house numbers on 30% of street lines as distractors, a JPEG round trip on ``--jpeg-share``),
formats drawn in turn from ``--formats``, reads each with :class:`pipeline.postal.PostalReader`
and the shipped model, and prints:

- ok accuracy: share of ``ok`` codes that are exactly right;
- reject rate: share of envelopes not ``ok`` (``low_confidence`` or ``not_found``);
- overall exact match: share of all envelopes whose ``ok`` code is exactly right;

per format and in total, at the configured threshold, plus a sweep over thresholds (the same
readings re-judged) and timings. The floors of the issue are ok accuracy >= 97% with reject <= 10%.
``--write DIR`` also saves the envelopes as PNG and their codes as ``DIR/expected.csv`` (to run
``digits postal DIR`` on them); ``--fail DIR`` writes review overlays of the misses.
This is a benchmark script, not a pytest test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cv2
import numpy as np

from pipeline.classify import Classifier
from pipeline.postal import PostalReader, load_format, load_postal_config, review_overlay
from samples.envelopes import DigitPool, jpeg, render_envelope

FLOOR_OK_ACCURACY = 0.97
FLOOR_REJECT = 0.10


def _score(rows: list[dict], threshold: float | None = None, how: str = "confidence") -> dict[str, float]:
    """ok accuracy, reject rate, overall exact match of rows (status re-judged at ``threshold``,
    on the code confidence, or on ``how`` = "min" of its digit confidences)."""
    n = len(rows)
    ok = [r for r in rows if (r["status"] == "ok" if threshold is None
                              else r["found"] and r[how] >= threshold)]
    right = sum(r["code"] == r["truth"] for r in ok)
    return {"n": n, "ok": len(ok), "ok_right": right,
            "ok_accuracy": right / len(ok) if ok else float("nan"),
            "reject": 1 - len(ok) / n if n else float("nan"),
            "overall": right / n if n else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=120, help="number of envelopes (>= 100 for the floors)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--formats", default="us,us,us,de,fr,in,br", help="formats drawn in turn")
    ap.add_argument("--jpeg-share", type=float, default=0.3)
    ap.add_argument("--threshold", type=float, default=None, help="override each format's threshold")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="override a [postal] setting, e.g. --set tta=true")
    ap.add_argument("--model", type=Path, default=None, help="model file (.keras); default: the shipped model")
    ap.add_argument("--write", type=Path, default=None, help="also save the envelopes and expected.csv here")
    ap.add_argument("--fail", type=Path, default=None, help="write review overlays of misses here")
    args = ap.parse_args()

    formats = args.formats.split(",")
    pool = DigitPool.load()
    t0 = time.perf_counter()
    clf = Classifier(args.model)
    load_s = time.perf_counter() - t0
    readers = {}
    overrides: dict[str, object] = {"threshold": args.threshold}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    for f in sorted(set(formats)):
        readers[f] = PostalReader(load_format(f), load_postal_config(f, overrides=overrides), clf)
    rng = np.random.default_rng(args.seed)
    rows: list[dict] = []
    render_s = read_s = 0.0
    if args.write:
        args.write.mkdir(parents=True, exist_ok=True)
    for i in range(args.n):
        fmt = formats[i % len(formats)]
        t = time.perf_counter()
        env = render_envelope(rng, pool, fmt)
        image = jpeg(env.image, int(rng.integers(60, 92))) if rng.random() < args.jpeg_share else env.image
        render_s += time.perf_counter() - t
        t = time.perf_counter()
        res = readers[fmt].read(image)
        read_s += time.perf_counter() - t
        name = f"env-{i:04d}-{fmt}.png"
        rows.append({"name": name, "fmt": fmt, "truth": env.code, "status": res.status, "code": res.code,
                     "confidence": res.confidence, "min": min(res.digit_confidences, default=0.0),
                     "found": res.status in ("ok", "low_confidence"), **env.look})
        if args.write:
            cv2.imwrite(str(args.write / name), image)
        if args.fail and not (res.status == "ok" and res.code == env.code):
            review_overlay(image, res, args.fail / name)
    if args.write:
        with open(args.write / "expected.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["source", "format", "postal_code"])
            w.writerows([(r["name"], r["fmt"], r["truth"]) for r in rows])

    # the table
    print(f"postal benchmark: {args.n} envelopes, formats {args.formats}, seed {args.seed}, "
          f"JPEG share {args.jpeg_share}, model runtime {clf.runtime}, settings {readers[formats[0]].cfg}")
    head = f"{'format':<8}{'n':>5}{'ok':>6}{'ok right':>10}{'ok acc':>9}{'reject':>9}{'overall':>9}{'low':>6}{'none':>6}"
    print(head)
    print("-" * len(head))
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["fmt"]].append(r)
    for name, rs in [*sorted(groups.items()), ("all", rows)]:
        s = _score(rs)
        low = sum(r["status"] == "low_confidence" for r in rs)
        none = sum(r["status"] == "not_found" for r in rs)
        print(f"{name:<8}{s['n']:>5}{s['ok']:>6}{s['ok_right']:>10}{s['ok_accuracy']:>9.1%}{s['reject']:>9.1%}"
              f"{s['overall']:>9.1%}{low:>6}{none:>6}")
    total = _score(rows)
    verdict = total["ok_accuracy"] >= FLOOR_OK_ACCURACY and total["reject"] <= FLOOR_REJECT
    print(f"floors (ok accuracy >= {FLOOR_OK_ACCURACY:.0%}, reject <= {FLOOR_REJECT:.0%}): "
          f"{'met' if verdict else 'NOT met'}")
    us_plus4 = [r for r in rows if r["fmt"] == "us" and "-" in r["truth"]]
    if us_plus4:
        s = _score(us_plus4)
        print(f"US ZIP+4 only: n {s['n']}, ok accuracy {s['ok_accuracy']:.1%}, reject {s['reject']:.1%}")
    print("\nthreshold sweep (same readings, all formats; code confidence, and min digit confidence):")
    print(f"{'threshold':>10}{'ok acc':>9}{'reject':>9}{'overall':>9}   {'min: ok acc':>12}{'reject':>9}")
    for t in (0.0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95):
        s, m = _score(rows, t), _score(rows, t, "min")
        print(f"{t:>10.2f}{s['ok_accuracy']:>9.1%}{s['reject']:>9.1%}{s['overall']:>9.1%}   "
              f"{m['ok_accuracy']:>12.1%}{m['reject']:>9.1%}")
    print(f"\ntimings: model load {load_s:.2f} s, render {render_s / args.n * 1000:.0f} ms/envelope, "
          f"read {read_s / args.n * 1000:.0f} ms/envelope")
    misses = [r for r in rows if not (r["status"] == "ok" and r["code"] == r["truth"])]
    if misses:
        print("\nmisses (first 25):")
        for r in misses[:25]:
            print(f"  {r['name']}: truth {r['truth']}, {r['status']} {r['code']} ({r['confidence']:.3f}); "
                  f"paper {r['paper']}, ink {r['ink']}, blur {r['blur']}")


if __name__ == "__main__":
    main()
