"""Classified glyphs of one page -> digit rows and field rows; printed text is dropped here.

A pure stage: a :class:`PageResult` (page, glyphs, 28x28 crops, predictions) in, CSV rows out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.classify import Predictions
from pipeline.config import Config, ScanConfig
from pipeline.segment import Glyph
from pipeline.sources import Page


@dataclass
class PageResult:
    """A segmented page waiting for (or done with) classification."""

    page: Page
    glyphs: list[Glyph]
    crops: np.ndarray  # (N, 28, 28) uint8
    preds: Predictions | None = None



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
