"""Digit crops as the pipeline cuts them from pages, labelled, for training (MNIST *training* digits only).

    python samples/page_crops.py --out crops.npz [--pages 1000] [--seed 9000] [--mnist DIR] [--model FILE]

Renders synthetic form pages (every style of ``samples/synth.py``) filled in with MNIST training
images, segments them with the pipeline (``pipeline.segment``, scored by ``--model``) and keeps the
crops of the fields it cut into as many glyphs as the field has digits, each labelled with its
digit. The classifier then learns what the pipeline's crops look like: strokes redrawn by a pen,
binarized and normalized, a rule or box side taken off, part of a neighbour left on. Writes an
``.npz`` with ``x`` (N, 28, 28) uint8, ``y`` (N,) and ``source`` (N,), the index of each crop's
MNIST training image, which ``digits train --crops`` uses to leave validation digits out.
"""

from __future__ import annotations

import argparse
import sys
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from model.data import load_mnist
from pipeline.config import load_config
from pipeline.scan import make_scorer
from pipeline.segment import segment
from samples.synth import STYLES, render_page

MARGIN = 5  # a glyph belongs to a truth field when its centre is this close to the field's box


def page_crops(image: np.ndarray, truth: list, cfg, scorer) -> tuple[list[np.ndarray], list[int], list[int]]:
    """Segment one page; the crops of the fields segmented into exactly their number of digits,
    with their digits and image indices (the others are left out: which glyph is which is not known)."""
    glyphs = segment(image, cfg.segment, scorer)
    xs, ys, sources = [], [], []
    for t in truth:
        inside = [g for g in glyphs if t.x - MARGIN <= g.x + g.w / 2 <= t.x + t.w + MARGIN
                  and t.y - MARGIN <= g.y + g.h / 2 <= t.y + t.h + MARGIN]
        if len(inside) != len(t.text) or len({g.field for g in inside}) != 1:
            continue
        for g, ch, src in zip(sorted(inside, key=lambda g: g.index), t.text, t.sources, strict=True):
            xs.append(g.crop)
            ys.append(int(ch))
            sources.append(src)
    return xs, ys, sources


_worker: dict = {}


def _init(mnist: str, model: str) -> None:
    data = load_mnist(mnist or None)
    _worker.update(digits=data.x_train, labels=data.y_train, cfg=load_config(None),
                   scorer=make_scorer(Path(model), "litert", 256, threads=1))


def _page(args: tuple[int, int]) -> tuple[list[np.ndarray], list[int], list[int]]:
    seed, i = args
    rng = np.random.default_rng([seed, i])
    image, truth = render_page(rng, _worker["digits"], _worker["labels"], STYLES[i % len(STYLES)])
    if rng.random() < 0.5:  # half the pages through JPEG, as many scans are
        _, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(75, 95))])
        image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return page_crops(gray, truth, _worker["cfg"], _worker["scorer"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="the .npz to write")
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=9000)
    ap.add_argument("--mnist", type=str, default="", help="MNIST folder (default: the project's usual places)")
    ap.add_argument("--model", type=str, default=str(ROOT / "model" / "digits.keras"),
                    help="model that scores the segmenter's cuts")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    with Pool(args.workers, _init, (args.mnist, args.model)) as pool:
        parts = pool.map(_page, [(args.seed, i) for i in range(args.pages)], chunksize=4)
    x = [c for p in parts for c in p[0]]
    np.savez_compressed(args.out, x=np.stack(x) if x else np.zeros((0, 28, 28), np.uint8),
                        y=np.array([y for p in parts for y in p[1]], np.uint8),
                        source=np.array([s for p in parts for s in p[2]], np.int64))
    print(f"{len(x)} crops from {args.pages} pages -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
