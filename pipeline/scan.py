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
from typing import Any, Iterable, Iterator

import numpy as np

from pipeline import __version__
from pipeline.classify import Classifier, Predictions
from pipeline.config import Config, ScanConfig
from pipeline.export import DIGIT_COLUMNS, ERROR_COLUMNS, FIELD_COLUMNS, CsvSink, write_json
from pipeline.normalize import normalize_mask
from pipeline.segment import Glyph, segment
from pipeline.sources import Page, PageError, find_sources, read_pages


@dataclass
class PageResult:
    """A segmented page waiting for (or done with) classification."""

    page: Page
    glyphs: list[Glyph]
    crops: np.ndarray  # (N, 28, 28) uint8
    preds: Predictions | None = None


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


def _looks_printed(conf: np.ndarray, cfg: ScanConfig) -> bool:
    """Printed words and marks: the classifier reads them as digits only half-heartedly (a low
    median confidence, or many low ones), where real digits read clearly."""
    return bool(np.median(conf) < cfg.text_median or (conf < cfg.text_threshold).mean() > cfg.text_share)


def printed_fields(glyphs: list[Glyph], by_field: dict[int, list[int]], conf: np.ndarray, cfg: ScanConfig) -> set[int]:
    """Fields that belong to printed text: neighbouring fields on one line of similar height
    are taken together as a phrase (the words of a label), judged by :func:`_looks_printed`.

    Args:
        by_field: field number -> indices of its glyphs in ``glyphs`` (and ``conf``).
    """
    boxes = {f: (glyphs[idx[0]].line, min(glyphs[i].x for i in idx), max(glyphs[i].x + glyphs[i].w for i in idx),
                 float(np.median([glyphs[i].h for i in idx]))) for f, idx in by_field.items()}
    phrases: list[list[int]] = []
    for f in sorted(boxes, key=lambda f: (boxes[f][0], boxes[f][1])):
        line, x0, _, h = boxes[f]
        if phrases:
            pl, _, px1, ph = boxes[phrases[-1][-1]]
            if pl == line and x0 - px1 <= 1.5 * max(h, ph) and max(h, ph) <= 1.4 * min(h, ph):
                phrases[-1].append(f)
                continue
        phrases.append([f])
    printed: set[int] = set()
    for phrase in phrases:
        idx = [i for f in phrase for i in by_field[f]]
        if _looks_printed(conf[idx], cfg):
            printed.update(phrase)
    return printed


def page_rows(r: PageResult, cfg: Config) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Digit and field rows of a classified page; fields that read as printed text are dropped.

    Returns:
        (digit rows, field rows, number of fields dropped as text).
    """
    if r.preds is None:
        raise ValueError(f"{r.page.source} page {r.page.page}: not classified yet")
    p, sc = r.preds, cfg.scan
    by_field: dict[int, list[int]] = {}
    for i, g in enumerate(r.glyphs):
        by_field.setdefault(g.field, []).append(i)
    digits, fields, dropped, number = [], [], 0, 0
    printed = printed_fields(r.glyphs, by_field, p.confidence, sc)
    for f, idx in by_field.items():
        conf = p.confidence[idx]
        if f in printed:
            dropped += 1
            continue
        number += 1
        gs = [r.glyphs[i] for i in idx]
        x0, y0 = min(g.x for g in gs), min(g.y for g in gs)
        x1, y1 = max(g.x + g.w for g in gs), max(g.y + g.h for g in gs)
        review = bool((conf < sc.review_threshold).any())
        base = {"source": r.page.source, "page": r.page.page, "field": number}
        for k, i in enumerate(idx, start=1):
            g = r.glyphs[i]
            digits.append({**base, "index": k, "x": g.x, "y": g.y, "w": g.w, "h": g.h, "digit": int(p.digit[i]),
                           "confidence": round(float(p.confidence[i]), 4), "alt_digit": int(p.alt_digit[i]),
                           "alt_confidence": round(float(p.alt_confidence[i]), 4),
                           "needs_review": bool(p.confidence[i] < sc.review_threshold)})
        fields.append({**base, "x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0,
                       "text": "".join(str(int(p.digit[i])) for i in idx), "n_digits": len(idx),
                       "min_confidence": round(float(conf.min()), 4), "needs_review": review})
    return digits, fields, dropped


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
