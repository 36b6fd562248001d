"""The scan job: sources -> pages -> glyphs -> 28x28 -> batches -> predictions -> rows -> CSVs.

Pages stream: each is decoded, segmented and normalized, its glyphs wait in a queue that is
classified whenever it holds a full batch (so batches cross page boundaries), and a page's rows
are written as soon as its glyphs are read.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from pipeline import __version__
from pipeline.classify import Classifier, Predictions
from pipeline.config import Config
from pipeline.export import DIGIT_COLUMNS, ERROR_COLUMNS, FIELD_COLUMNS, CsvSink, write_json
from pipeline.fields import PageResult, page_rows
from pipeline.normalize import normalize_mask
from pipeline.segment import segment
from pipeline.sources import Page, PageError, find_sources, read_pages


@dataclass
class Stats:
    """Counts and stage timings of a run (for run.json)."""

    files: int = 0
    pages: int = 0
    pages_without_digits: int = 0
    digits: int = 0
    fields: int = 0
    fields_dropped_as_text: int = 0
    needs_review: int = 0
    errors: int = 0
    seconds: Counter[str] = field(default_factory=Counter)


def iter_pages(paths: Iterable[Path], cfg: Config, stats: Stats) -> Iterator[Page | PageError]:
    """All pages of all inputs, lazily; failures come through as :class:`PageError`."""
    for item in find_sources(paths):
        if isinstance(item, PageError):
            yield item
            continue
        stats.files += 1
        t = time.perf_counter()
        for page in read_pages(item, dpi=cfg.sources.dpi, max_pixels=cfg.sources.max_pixels):
            stats.seconds["decode"] += time.perf_counter() - t
            yield page
            t = time.perf_counter()


def scan(paths: Iterable[Path], out_dir: Path, cfg: Config, clf: Classifier, review: bool = False,
         progress: bool = True) -> Stats:
    """Run the whole job and write digits.csv, fields.csv, errors.csv and run.json into ``out_dir``.

    Returns:
        The run's :class:`Stats`; ``stats.errors > 0`` means some input failed (the rest is written).
    """
    from tqdm import tqdm

    from pipeline import render

    paths = list(paths)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    stats = Stats()
    sinks = {"digits": CsvSink(out_dir / "digits.csv", DIGIT_COLUMNS),
             "fields": CsvSink(out_dir / "fields.csv", FIELD_COLUMNS),
             "errors": CsvSink(out_dir / "errors.csv", ERROR_COLUMNS)}
    sheet: list[tuple[np.ndarray, str]] = []
    pending: list[PageResult] = []

    def scorer(glyphs: np.ndarray) -> np.ndarray:
        return clf.predict(glyphs).confidence

    def flush() -> None:
        if not pending:
            return
        t = time.perf_counter()
        preds = clf.predict(np.concatenate([r.crops for r in pending]))
        stats.seconds["classify"] += time.perf_counter() - t
        at = 0
        for r in pending:
            n = len(r.glyphs)
            r.preds = Predictions(*(a[at : at + n] for a in (preds.digit, preds.confidence, preds.alt_digit,
                                                               preds.alt_confidence, preds.probs)))
            at += n
            t = time.perf_counter()
            digits, fields, dropped = page_rows(r, cfg)
            sinks["digits"].write(digits)
            sinks["fields"].write(fields)
            stats.seconds["write"] += time.perf_counter() - t
            stats.digits += len(digits)
            stats.fields += len(fields)
            stats.fields_dropped_as_text += dropped
            stats.needs_review += sum(d["needs_review"] for d in digits)
            stats.pages_without_digits += not digits
            if review:
                render.overlay(r.page.image, digits, out_dir / "review" / render.overlay_name(r.page))
                sheet.extend(render.review_items(r.crops, r.glyphs, digits))
        pending.clear()

    bar = tqdm(desc="pages", unit="page", disable=not progress)
    for item in iter_pages(paths, cfg, stats):
        if isinstance(item, PageError):
            stats.errors += 1
            sinks["errors"].write([asdict(item)])
            continue
        stats.pages += 1
        t = time.perf_counter()
        glyphs = segment(item.image, cfg.segment, scorer)
        t2 = time.perf_counter()
        crops = np.stack([normalize_mask(g.mask) for g in glyphs]) if glyphs else np.zeros((0, 28, 28), np.uint8)
        stats.seconds["segment"] += t2 - t
        stats.seconds["normalize"] += time.perf_counter() - t2
        pending.append(PageResult(item, glyphs, crops))
        if sum(len(r.glyphs) for r in pending) >= cfg.scan.batch_size:
            flush()
        bar.update(1)
    flush()
    bar.close()
    if review and sheet:
        render.contact_sheet(sheet, out_dir / "review" / "needs_review.png")
    for s in sinks.values():
        s.commit()
    write_json(out_dir / "run.json", {
        "version": __version__,
        "model": {"file": str(clf.model_path), "sha256": hashlib.sha256(clf.model_path.read_bytes()).hexdigest(),
                  "runtime": clf.runtime},
        "config": asdict(cfg),
        "inputs": [str(p) for p in paths],
        "counts": {k: v for k, v in asdict(stats).items() if k != "seconds"},
        "seconds": {**{k: round(v, 3) for k, v in stats.seconds.items()},
                    "total": round(time.perf_counter() - started, 3)},
    })
    return stats
