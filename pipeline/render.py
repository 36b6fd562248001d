"""Pictures for people: page overlays (boxes, readings, colour by confidence) and a contact
sheet of the crops that need review with their top-2 guesses.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from pipeline.segment import Glyph
from pipeline.sources import Page

FONT = cv2.FONT_HERSHEY_SIMPLEX


def colour(confidence: float) -> tuple[int, int, int]:
    """BGR: green when sure, orange when unsure, red when doubtful."""
    if confidence >= 0.9:
        return (40, 160, 40)
    if confidence >= 0.5:
        return (0, 140, 255)
    return (0, 0, 230)


def overlay_name(page: Page) -> str:
    """A safe PNG name for a page's overlay, e.g. ``scan.pdf-p2.png``."""
    stem = re.sub(r"[^\w.-]+", "_", Path(page.source).name)
    return f"{stem}-p{page.page}.png"


def overlay(image: np.ndarray, digits: Sequence[dict[str, Any]], path: Path) -> Path:
    """Draw each digit row's box and reading (colour by confidence) on the page, and a thin frame
    around each field with ``#field text`` under it; write a PNG.

    Args:
        image: (H, W) uint8 or (H, W, 3) BGR page as decoded (the rows' coordinates).
        digits: rows as in digits.csv (x, y, w, h, digit, confidence, field, index).
    """
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
    canvas = (canvas * 0.6 + 100).astype(np.uint8)  # fade the page so marks stand out
    k = max(1, round(min(canvas.shape[:2]) / 1700))  # marks as large on a fine scan as at 200 dpi
    fields: dict[Any, list[dict[str, Any]]] = {}
    for d in digits:
        fields.setdefault(d["field"], []).append(d)
        c = colour(d["confidence"])
        x, y, w, h = d["x"], d["y"], d["w"], d["h"]
        cv2.rectangle(canvas, (x, y), (x + w, y + h), c, 2 * k)
        scale = max(0.5, min(1.5 * k, h / 50))
        cv2.putText(canvas, f"{d['digit']}", (x, max(12, y - 4 * k)), FONT, scale, c, 2 * k, cv2.LINE_AA)
    for number, row in fields.items():
        x0, y0 = min(d["x"] for d in row) - 4 * k, min(d["y"] for d in row) - 4 * k
        x1, y1 = max(d["x"] + d["w"] for d in row) + 4 * k, max(d["y"] + d["h"] for d in row) + 4 * k
        c = colour(min(d["confidence"] for d in row))
        cv2.rectangle(canvas, (x0, y0), (x1, y1), c, k)
        text = "".join(str(d["digit"]) for d in sorted(row, key=lambda d: d["index"]))
        scale = max(0.45, min(0.9 * k, (y1 - y0) / 80))
        cv2.putText(canvas, f"#{number} {text}", (x0, y1 + int(22 * scale)), FONT, scale, c, k, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), canvas)
    return path


def review_items(crops: np.ndarray, glyphs: Sequence[Glyph], digits: Sequence[dict[str, Any]]) -> list[tuple[np.ndarray, str]]:
    """(28x28 crop, caption) for every digit row flagged needs_review."""
    by_box = {(g.x, g.y, g.w, g.h): k for k, g in enumerate(glyphs)}
    items = []
    for d in digits:
        k = by_box.get((d["x"], d["y"], d["w"], d["h"]))
        if d["needs_review"] and k is not None:
            caption = f"{Path(d['source']).name} p{d['page']} f{d['field']}#{d['index']}"
            guess = f"{d['digit']} {d['confidence']:.2f} / {d['alt_digit']} {d['alt_confidence']:.2f}"
            items.append((crops[k], caption + "\n" + guess))
    return items


def contact_sheet(items: Sequence[tuple[np.ndarray, str]], path: Path, cols: int = 8, limit: int = 400) -> Path:
    """A grid of crops with captions (file, page, field#index, top-2 guesses); PNG."""
    tile_w, tile_h, img = 180, 150, 112
    items = list(items)[:limit]
    rows = max(1, -(-len(items) // cols))
    sheet = np.full((rows * tile_h, cols * tile_w, 3), 255, np.uint8)
    for n, (crop, caption) in enumerate(items):
        r, c = divmod(n, cols)
        x, y = c * tile_w, r * tile_h
        big = cv2.resize(crop, (img, img), interpolation=cv2.INTER_NEAREST)
        sheet[y + 2 : y + 2 + img, x + 34 : x + 34 + img] = cv2.cvtColor(255 - big, cv2.COLOR_GRAY2BGR)
        for k, line in enumerate(caption.split("\n")):
            cv2.putText(sheet, line[:28], (x + 4, y + img + 14 + 14 * k), FONT, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), sheet)
    return path
