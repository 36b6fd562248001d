"""Synthetic scanned form pages filled in with MNIST *test* digits, with exact ground truth.

A page is a letter-size form scanned at about 200 dpi (1700 x 2200 px): a printed title and
instructions, rows of printed labels ("Amount", "Meter reading", ...) each followed by a
handwritten number field of 1-10 digits, and a printed footer. Every handwritten digit is an
MNIST test digit rendered as pen ink: upscaled, thresholded to a stroke mask, re-stroked to the
page's pen width (thin ballpoint, normal pen, marker; a loop MNIST's pen filled in is drawn
round, not thinned to a line), and blended over the paper with
anti-aliased edges (supersampled). Styles add the hazards of real scans: comb boxes, ruled lines
the digits cross, grey paper with uneven light, dust and JPEG noise, skew, colour (blue ink, red
form lines) and hairline strokes.

Everything is deterministic given the ``numpy.random.Generator``. Only NumPy and OpenCV are used
(no TensorFlow).

Example:
    >>> rng = np.random.default_rng(0)
    >>> digits, labels = load_test_digits("/work/shared/data/mnist")
    >>> image, truth = render_page(rng, digits, labels, "boxes")
    >>> image.shape, truth[0].text  # doctest: +SKIP
    ((2200, 1700), '40213')
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

BLOB = 2.2  # see _outline_blobs
LOOP = 0.2  # see _outline_blobs
STYLES = ("clean", "boxes", "ruled", "grey", "noisy", "skewed", "blue", "thin", "mixed")
TRUTH_COLUMNS = ("source", "page", "x", "y", "w", "h", "text")
MAX_FIELDS = 12

# (label, min digits, max digits, printed units that may follow the field)
_KINDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("Account no.", 6, 10, ()),
    ("Amount", 1, 6, ("EUR", "USD", "dollars")),
    ("Date", 6, 8, ()),
    ("Meter reading", 4, 7, ("kWh", "units")),
    ("Score", 1, 3, ("pts", "points")),
    ("Zip code", 5, 5, ()),
    ("Phone", 7, 10, ()),
    ("Quantity", 1, 3, ("pcs", "boxes")),
    ("Age", 1, 2, ("years",)),
    ("Student ID", 5, 8, ()),
    ("Room", 2, 4, ()),
    ("Invoice no.", 4, 8, ()),
    ("Hours", 1, 2, ("h", "hrs")),
    ("Total", 2, 6, ("EUR", "kg")),
    ("Reference", 6, 10, ()),
    ("Weight", 2, 4, ("kg", "lb")),
)
_TITLES = (
    "METER READING FORM", "EXAM SCORE SHEET", "ORDER FORM", "SURVEY RESPONSE", "TIME SHEET",
    "DELIVERY NOTE", "INVENTORY COUNT", "PATIENT INTAKE", "WAREHOUSE TALLY", "CLAIM FORM",
)
_INSTRUCTIONS = (
    "Please write clearly in dark ink, one digit per box.",
    "Use block figures. Do not write outside the fields.",
    "Complete all sections and return this form to the office.",
    "For office use only where marked. Write numbers only.",
)
_FOOTERS = ("Signature", "Checked by", "Received by", "Approved")
_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX)
_INK_ALPHA_TRUTH = 0.35  # a pixel is ink (for the truth boxes) where the stroke coverage reaches this


@dataclass(frozen=True)
class TruthField:
    """One handwritten number on a page: tight box of its ink (final page pixels) and its digits."""

    page: int  # 1-based
    x: int
    y: int
    w: int
    h: int
    text: str
    sources: tuple[int, ...] = ()  # index of each digit's image in the digits the page was drawn from


@dataclass(frozen=True)
class _Look:
    """The hazards one page combines."""

    frame: str  # "underline" | "dotted" | "boxes" | "comb" | "ruled" | "plain"
    paper: str  # "white" | "grey"
    colour: bool
    pen: str  # "normal" | "thin" | "thick"
    noise: bool
    skew: bool
    size: str  # "small" | "normal" | "large"


@dataclass
class _Glyph:
    alpha: np.ndarray  # float32 (h, w) ink coverage in [0, 1]
    x: int  # left, relative to the field start
    bottom: int  # bottom row (exclusive), relative to the baseline


@dataclass
class _Field:
    text: str
    glyphs: list[_Glyph]
    width: int  # extent of the field's own drawing (boxes included), from x = 0
    top: int  # extents relative to the baseline (top < 0 < bottom)
    bottom: int
    lines: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)  # ("line"|"rect"|"dot", coords rel.)
    sources: tuple[int, ...] = ()  # index of each digit's image in the digits given


# ---------------------------------------------------------------------------------------------
# loading and validation


def load_test_digits(mnist_dir: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Load the MNIST *test* set only.

    Args:
        mnist_dir: folder with ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz``
            (the un-gzipped names work too).

    Returns:
        images uint8 (10000, 28, 28) white-on-black, labels uint8 (10000,).
    """
    from model.data import read_idx

    folder = Path(mnist_dir)
    arrays = []
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        path = folder / f"{stem}.gz"
        if not path.exists():
            path = folder / stem
        if not path.exists():
            raise FileNotFoundError(f"mnist_dir: {folder} has no {stem}[.gz]")
        arrays.append(read_idx(path))
    images, labels = arrays
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise ValueError(f"mnist_dir: unexpected test arrays {images.shape}, {labels.shape} in {folder}")
    return images, labels


def default_mnist_dir() -> Path:
    """The first of the project's MNIST places (``$DIGITS_MNIST``, ``data/mnist``, ``../shared/data/mnist``)
    that holds the test images; raises FileNotFoundError if none does."""
    from model.data import default_locations

    for place in default_locations():
        names = ("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte")
        if place.is_dir() and any((place / n).exists() for n in names):
            return place
    raise FileNotFoundError("no MNIST test files found; pass --mnist DIR or set DIGITS_MNIST")


def _check(ok: bool, name: str, message: str) -> None:
    if not ok:
        raise ValueError(f"{name}: {message}")


# ---------------------------------------------------------------------------------------------
# pen strokes


def _thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a bool mask to a 1-px 8-connected skeleton (vectorized)."""
    img = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p2, p3, p4 = img[:-2, 1:-1], img[:-2, 2:], img[1:-1, 2:]
            p5, p6, p7 = img[2:, 2:], img[2:, 1:-1], img[2:, :-2]
            p8, p9, c = img[1:-1, :-2], img[:-2, :-2], img[1:-1, 1:-1]
            ring = (p2, p3, p4, p5, p6, p7, p8, p9, p2)
            b = sum(p.astype(np.int8) for p in ring[:8])
            a = sum(((ring[i] == 0) & (ring[i + 1] == 1)).astype(np.int8) for i in range(8))
            if step == 0:
                cond = ((p2 & p4 & p6) == 0) & ((p4 & p6 & p8) == 0)
            else:
                cond = ((p2 & p4 & p8) == 0) & ((p2 & p6 & p8) == 0)
            remove = (c == 1) & (b >= 2) & (b <= 6) & (a == 1) & cond
            if remove.any():
                img[1:-1, 1:-1][remove] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def _disc(diameter: float) -> np.ndarray:
    d = max(1, int(round(diameter)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d))


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1] of the given shape (cubic upsampling of a small grid)."""
    h, w = shape
    gh, gw = max(2, cells * h // max(h, w) + 2), max(2, cells * w // max(h, w) + 2)
    grid = rng.uniform(-1.0, 1.0, (gh, gw)).astype(np.float32)
    return np.clip(cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC), -1.0, 1.0)


def _outline_blobs(m8: np.ndarray, mask: np.ndarray, skel: np.ndarray, target: float) -> np.ndarray:
    """A filled loop, written over again as its outline at the pen width.

    MNIST's thick pen fills small loops (the loop of a 6 or 9 is a solid blob). Thinning such a
    blob to its skeleton leaves a line where the loop was, and the 6 becomes a 1; a thinner pen
    draws the loop around. A blob is the ink that a disc ``BLOB`` times as wide as the thin parts
    of the stroke fits in (their width: the first quartile along the skeleton). Only a blob of a
    loop's size (its area's square root ``LOOP`` x the digit's height or more) is a loop; a
    smaller one is where the pen pressed or paused (a stroke's end, a crossing). A ring there
    would draw a loop the writer never made (a 7 with a ring at its corner reads as a 2), and so
    would a solid dot (a 4 with a dot on its top reads as a 9): it is thinned with the rest.
    """
    full = mask.astype(np.uint8)
    dist = cv2.distanceTransform(full, cv2.DIST_L2, 5)
    half = float(np.percentile(dist[skel], 25)) if skel.any() else 0.0
    if half <= 0 or dist.max() <= BLOB * half:
        return m8
    blob = cv2.morphologyEx(full, cv2.MORPH_OPEN, _disc(2 * BLOB * half))
    _, labels, stats, _ = cv2.connectedComponentsWithStats(blob)
    big = np.sqrt(stats[:, cv2.CC_STAT_AREA]) >= LOOP * mask.shape[0]
    big[0] = False
    loop = big[labels].astype(np.uint8)
    inside = cv2.erode(loop, _disc(2 * max(target, 1.0) + 1))  # all of a loop but a pen-wide rim
    return (m8 | loop) & (1 - inside)


def render_digit(
    rng: np.random.Generator, digit: np.ndarray, height: float, pen: float, supersample: int = 2,
    uniform: bool = False,
) -> np.ndarray:
    """Render one 28x28 MNIST digit as pen ink of a given height and stroke width.

    Args:
        rng: random source (pressure variation).
        digit: uint8 (28, 28) white-on-black MNIST digit.
        height: target height of the ink in page pixels.
        pen: stroke width in page pixels (the MNIST stroke is thinned or thickened to it).
        supersample: the stroke is built at this multiple of the page resolution, then area-averaged
            down, which gives anti-aliased edges.
        uniform: draw the skeleton only, at exactly the pen width (a fine ballpoint); otherwise the
            MNIST stroke is eroded to about the pen width and keeps some of its own weight variation.

    Returns:
        float32 (h, w) ink coverage in [0, 1], cropped to the ink (h is about ``height``).
    """
    _check(digit.shape == (28, 28), "digit", f"expected shape (28, 28), got {digit.shape}")
    _check(height >= 4, "height", f"must be >= 4 px, got {height}")
    d = digit.astype(np.float32) / 255.0
    ys, xs = np.nonzero(d > 0.3)
    if len(ys) == 0:
        return np.zeros((1, 1), np.float32)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = np.pad(d[y0:y1, x0:x1], 2)
    ss = supersample
    scale = height * ss / (y1 - y0)
    # 1. upscale smoothly, threshold to the stroke mask
    up = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    if scale > 2:
        up = cv2.GaussianBlur(up, (0, 0), 0.3 * scale)
    mask = up > 0.45
    if not mask.any():
        mask = up >= up.max() * 0.5
    # 2. re-stroke to the pen width: erode the thick parts, keep the skeleton so nothing breaks
    target = pen * ss
    skel = _thin(mask)
    natural = mask.sum() / max(1, skel.sum())
    m8 = mask.astype(np.uint8)
    if uniform or target < natural * 0.9:
        spine = cv2.dilate(skel.astype(np.uint8), _disc(target)) if target >= 1.5 else skel.astype(np.uint8)
        r = int(0.6 * (natural - target))
        m8 = spine if uniform else (cv2.erode(m8, _disc(2 * r + 1)) if r > 0 else m8) | spine
        m8 = _outline_blobs(m8, mask, skel, target)
    elif target > natural * 1.1:
        m8 = cv2.dilate(m8, _disc(target - natural + 1))
    # 3. anti-alias: area-average down to page resolution
    h, w = m8.shape
    ph, pw = (-h) % ss, (-w) % ss
    m = np.pad(m8.astype(np.float32), ((0, ph), (0, pw)))
    alpha = cv2.resize(m, ((w + pw) // ss, (h + ph) // ss), interpolation=cv2.INTER_AREA)
    ys, xs = np.nonzero(alpha > 0.02)
    if len(ys) == 0:
        return np.zeros((1, 1), np.float32)
    alpha = alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    # 4. ink pressure: a little uneven along the stroke
    pressure = 1.0 - 0.12 * (1.0 + _smooth_noise(rng, alpha.shape, 4)) / 2.0
    return np.clip(alpha * pressure, 0.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# page look, fields, layout


def _look_for(style: str, rng: np.random.Generator) -> _Look:
    frames = ("underline", "dotted", "boxes", "comb", "ruled", "plain")
    u = rng.random()
    size = "small" if u < 0.15 else "large" if u > 0.85 else "normal"
    frame = str(rng.choice(frames, p=[0.25, 0.1, 0.2, 0.1, 0.25, 0.1]))
    base = dict(frame=frame, paper="white", colour=False, pen="normal", noise=False, skew=False, size=size)
    if style == "clean":
        base.update(frame=str(rng.choice(["underline", "underline", "dotted", "plain"])),
                    pen="thick" if rng.random() < 0.2 else "normal")
    elif style == "boxes":
        base.update(frame="boxes" if rng.random() < 0.7 else "comb")
    elif style == "ruled":
        base.update(frame="ruled")
    elif style == "grey":
        base.update(paper="grey")
    elif style == "noisy":
        base.update(noise=True, paper="grey" if rng.random() < 0.3 else "white")
    elif style == "skewed":
        base.update(skew=True)
    elif style == "blue":
        base.update(colour=True)
    elif style == "thin":
        base.update(pen="thin")
    elif style == "mixed":
        while True:
            flags = dict(paper="grey" if rng.random() < 0.5 else "white", colour=bool(rng.random() < 0.35),
                         pen=str(rng.choice(["normal", "thin", "thick"], p=[0.5, 0.3, 0.2])),
                         noise=bool(rng.random() < 0.5), skew=bool(rng.random() < 0.5))
            hazards = ((flags["paper"] == "grey") + flags["colour"] + (flags["pen"] != "normal") + flags["noise"]
                       + flags["skew"])
            if hazards >= 2:
                break
        base.update(flags)
    return _Look(**base)  # type: ignore[arg-type]


def _field_text(rng: np.random.Generator, label: str, lo: int, hi: int) -> str:
    if label == "Date":
        day, month, year = rng.integers(1, 29), rng.integers(1, 13), rng.integers(2015, 2026)
        long_year = hi == 8 and rng.random() < 0.6
        return f"{day:02d}{month:02d}{year:04d}" if long_year else f"{day:02d}{month:02d}{year % 100:02d}"
    n = int(rng.integers(lo, hi + 1))
    text = "".join(str(v) for v in rng.integers(0, 10, n))
    if label in ("Amount", "Total", "Quantity", "Age", "Hours", "Weight", "Score") and n > 1 and text[0] == "0":
        text = str(rng.integers(1, 10)) + text[1:]
    return text


def _pen_width(rng: np.random.Generator, look: _Look, hb: float) -> float:
    if look.pen == "thin":
        return float(max(0.8, rng.uniform(1.0, 2.0) * hb / 60.0))
    if look.pen == "thick":
        return float(max(2.0, hb * rng.uniform(0.12, 0.17)))
    return float(max(1.3, hb * rng.uniform(0.05, 0.085)))


def _make_field(
    rng: np.random.Generator, pools: list[np.ndarray], digits: np.ndarray, text: str, hb: float, pen: float,
    frame: str, uniform: bool,
) -> _Field:
    """Render the digits of one field and its printed frame, relative to (x=0, baseline=0)."""
    scale = rng.uniform(0.93, 1.07)
    alphas, sources = [], []
    for ch in text:
        idx = int(rng.choice(pools[int(ch)]))
        sources.append(idx)
        h = hb * scale * rng.uniform(0.88, 1.12)
        if frame in ("boxes", "comb"):
            h = min(h, hb * 1.02)
        alphas.append(render_digit(rng, digits[idx], h, pen * rng.uniform(0.9, 1.1), uniform=uniform))
    glyphs: list[_Glyph] = []
    lines: list[tuple[str, tuple[int, ...]]] = []
    ref_w = 0.6 * hb
    t = int(rng.integers(1, 3 if hb < 30 else 4))  # printed line thickness
    if frame in ("boxes", "comb"):
        bw = int(round(max(hb * rng.uniform(1.0, 1.35), max(a.shape[1] for a in alphas) * 1.05)))
        bh = int(round(hb * rng.uniform(1.22, 1.45)))
        pad = int(round(hb * rng.uniform(0.08, 0.18)))
        nbox = len(text) + (int(rng.integers(1, 3)) if rng.random() < 0.3 else 0)
        top, bottom = -(bh - pad), pad
        for i, a in enumerate(alphas):
            h, w = a.shape
            slack = max(0.0, (bw - w) / 2.0)
            cx = i * bw + bw / 2.0 + rng.uniform(-0.6, 0.6) * slack
            if rng.random() < 0.1:  # lean on a vertical line
                over = rng.uniform(0, 0.06) * hb
                cx = i * bw + (w / 2.0 - over if rng.random() < 0.5 else bw - w / 2.0 + over)
            b = rng.normal(0, 0.04 * hb)
            if rng.random() < 0.15:  # sit on the bottom line
                b = pad + rng.uniform(-0.02, 0.06) * hb
            glyphs.append(_Glyph(a, int(round(cx - w / 2.0)), int(round(b))))
        width = nbox * bw
        if frame == "boxes":
            for i in range(nbox):
                lines.append(("rect", (i * bw, top, (i + 1) * bw, bottom, t)))
        else:
            lines.append(("line", (0, bottom, width, bottom, t)))
            tick = int(bh * rng.uniform(0.3, 0.45))
            for i in range(nbox + 1):
                lines.append(("line", (i * bw, bottom - tick, i * bw, bottom, t)))
        return _Field(text, glyphs, width, min(top, min(g.bottom - g.alpha.shape[0] for g in glyphs)),
                      max(bottom, max(g.bottom for g in glyphs)) + t, lines, tuple(sources))

    # free handwriting: small gaps, sometimes touching, slight drift of the baseline
    touching = rng.random() < 0.12
    drift = rng.uniform(-0.02, 0.02) * hb
    x = 0.0
    for i, a in enumerate(alphas):
        h, w = a.shape
        b = i * drift + rng.normal(0, 0.035 * hb)
        if frame == "ruled":
            b = rng.uniform(-0.04, 0.12) * hb  # digits sit on or cross the rule
        glyphs.append(_Glyph(a, int(round(x)), int(round(b))))
        gap = rng.uniform(0.1, 0.5) * ref_w
        if touching and rng.random() < 0.5:
            gap = rng.uniform(-0.15, 0.0) * min(w, ref_w)
        x += w + gap
    width = max(g.x + g.alpha.shape[1] for g in glyphs)
    top = min(g.bottom - g.alpha.shape[0] for g in glyphs)
    bottom = max(g.bottom for g in glyphs)
    lo, hi = -int(hb * rng.uniform(0.15, 0.5)), width + int(hb * rng.uniform(0.2, 0.8))
    if frame == "underline":
        y = bottom + int(hb * rng.uniform(0.08, 0.25)) + t
        lines.append(("line", (lo, y, hi, y, t)))
        bottom = y + t
    elif frame == "ruled":
        lines.append(("line", (lo, 0, hi, 0, t)))
        bottom = max(bottom, t)
    elif frame == "dotted":
        y = bottom + int(hb * rng.uniform(0.1, 0.25)) + 2
        step = int(rng.integers(8, 14))
        for xx in range(lo, hi, step):
            lines.append(("dot", (xx, y, 1 + int(rng.random() < 0.3))))
        bottom = y + 3
    if frame in ("underline", "ruled", "dotted"):
        width = hi
    return _Field(text, glyphs, width, top, bottom, lines, tuple(sources))


@dataclass
class _Canvas:
    h: int
    w: int
    text: np.ndarray  # uint8 coverage of printed black text
    lines: np.ndarray  # uint8 coverage of printed form lines
    ink: np.ndarray  # float32 coverage of handwriting
    fields: np.ndarray  # int16 field id (1-based) of handwriting pixels

    @classmethod
    def empty(cls, h: int, w: int) -> _Canvas:
        return cls(h, w, np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8), np.zeros((h, w), np.float32),
                   np.zeros((h, w), np.int16))

    def put_text(self, text: str, x: int, baseline: int, font: int, scale: float, thick: int) -> None:
        cv2.putText(self.text, text, (int(x), int(baseline)), font, scale, 255, thick, cv2.LINE_AA)

    def draw_field(self, f: _Field, x0: int, base: int, fid: int) -> None:
        for kind, c in f.lines:
            if kind == "rect":
                cv2.rectangle(self.lines, (x0 + c[0], base + c[1]), (x0 + c[2], base + c[3]), 255, c[4], cv2.LINE_8)
            elif kind == "line":
                cv2.line(self.lines, (x0 + c[0], base + c[1]), (x0 + c[2], base + c[3]), 255, c[4], cv2.LINE_8)
            else:
                cv2.circle(self.lines, (x0 + c[0], base + c[1]), c[2], 255, -1, cv2.LINE_AA)
        for g in f.glyphs:
            h, w = g.alpha.shape
            x, y = x0 + g.x, base + g.bottom - h
            region = self.ink[y : y + h, x : x + w]
            np.maximum(region, g.alpha, out=region)
            self.fields[y : y + h, x : x + w][g.alpha >= _INK_ALPHA_TRUTH] = fid


def _text_size(text: str, font: int, scale: float, thick: int) -> tuple[int, int]:
    (w, h), _ = cv2.getTextSize(text, font, scale, thick)
    return w, h


def _layout(rng: np.random.Generator, look: _Look, digits: np.ndarray, labels: np.ndarray,
            width: int, height: int) -> tuple[_Canvas, list[_Field]]:
    """Draw the printed form and the handwriting on layers; return them and the fields drawn."""
    cv = _Canvas.empty(height, width)
    pools = [np.flatnonzero(labels == d) for d in range(10)]
    margin = int(rng.integers(int(0.055 * width), int(0.085 * width)))
    font = int(rng.choice(_FONTS))
    y = margin
    # title, instructions, a rule
    tscale = rng.uniform(1.5, 2.2) * width / 1700
    tw, th = _text_size(title := str(rng.choice(_TITLES)), font, tscale, 3)
    cv.put_text(title, margin, y + th, font, tscale, 3)
    y += th + int(rng.integers(25, 45))
    iscale = rng.uniform(0.65, 0.85) * width / 1700
    instr = str(rng.choice(_INSTRUCTIONS))
    iw, ih = _text_size(instr, font, iscale, 1)
    cv.put_text(instr, margin, y + ih, font, iscale, 1)
    y += ih + int(rng.integers(20, 35))
    cv2.line(cv.lines, (margin, y), (width - margin, y), 255, int(rng.integers(2, 4)))
    y += int(rng.integers(50, 90))

    hb_range = {"small": (18, 30), "normal": (40, 90), "large": (95, 150)}[look.size]
    hb_page = rng.uniform(*hb_range) * width / 1700
    lscale = rng.uniform(0.75, 1.15) * width / 1700
    lthick = 1 if lscale < 0.9 else 2
    target = int(rng.integers(8, MAX_FIELDS + 1))
    footer_space = int(hb_page * 0.5) + 160
    right = width - margin
    drawn: list[_Field] = []
    kinds = list(range(len(_KINDS)))
    while len(drawn) < target:
        # build one row: label + field (+ units), one to three per row
        items: list[tuple[int, str, int, _Field, str, int]] = []  # (x_label, label, x_field, field, unit, x_unit)
        x = margin + int(rng.integers(0, 40))
        per_row = int(rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15]))
        while len(items) < per_row and len(drawn) + len(items) < target:
            label, lo, hi, units = _KINDS[int(rng.choice(kinds))]
            label_text = label + (":" if rng.random() < 0.4 else "")
            lw, _ = _text_size(label_text, font, lscale, lthick)
            hb = hb_page * rng.uniform(0.9, 1.1)
            close = rng.random() < 0.25
            gap_lf = int(max(12, hb * (rng.uniform(0.25, 0.6) if close else rng.uniform(0.8, 2.0))))
            text = _field_text(rng, label, lo, hi)
            room = right - (x + lw + gap_lf)
            # drop digits until the field fits (estimate), at least one
            while len(text) > 1 and len(text) * hb * 1.0 > room:
                text = text[:-1]
            if room < hb * 1.5:
                break
            pen = _pen_width(rng, look, hb)
            f = _make_field(rng, pools, digits, text, hb, pen, look.frame, look.pen == "thin")
            unit = str(rng.choice(units)) if units and rng.random() < 0.35 else ""
            uw = _text_size(unit, font, lscale, lthick)[0] if unit else 0
            ugap = int(hb * rng.uniform(0.3, 0.7)) if unit else 0
            lead = max(0, -min(c[0] for _, c in f.lines)) if f.lines else 0  # lines reaching left of x=0
            x_field = x + lw + gap_lf + lead
            end = x_field + f.width + ugap + uw
            if end > right:
                if items:
                    break
                continue  # try another (shorter) kind on an empty row
            items.append((x, label_text, x_field, f, unit, x_field + f.width + ugap))
            x = end + int(max(1.5 * hb, 40) + rng.uniform(20, 160))
        if not items:
            break
        fields = [it[3] for it in items]
        _, lh = _text_size("Ag", font, lscale, lthick)
        up = max(max(-f.top for f in fields), lh)
        down = max(max(f.bottom for f in fields), 8)
        base = y + up
        if base + down > height - margin - footer_space:
            break
        for x_label, label_text, x_field, f, unit, x_unit in items:
            lift = int(hb_page * rng.uniform(0.0, 0.15))
            cv.put_text(label_text, x_label, base - lift, font, lscale, lthick)
            drawn.append(f)
            cv.draw_field(f, x_field, base, len(drawn))
            if unit:
                cv.put_text(unit, x_unit, base - lift, font, lscale, lthick)
        y = base + down + int(min(hb_page * rng.uniform(0.5, 1.2), 110) + rng.integers(25, 60))
    # footer: a signature line and a small print line
    fy = height - margin - 40
    fw, _ = _text_size(foot := str(rng.choice(_FOOTERS)), font, lscale, lthick)
    cv.put_text(foot, margin, fy, font, lscale, lthick)
    cv2.line(cv.lines, (margin + fw + 20, fy + 4), (margin + fw + 20 + int(width * 0.3), fy + 4), 255, 2)
    cv.put_text("Form " + str(rng.choice(["A", "B", "C", "X"])) + " rev. " + str(rng.choice(["a", "b", "c"])),
                width - margin - 220, height - margin // 2, font, 0.6 * width / 1700, 1)
    return cv, drawn


# ---------------------------------------------------------------------------------------------
# paper, ink, scanner


def _colours(rng: np.random.Generator, look: _Look) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (paper, printed text, form lines, ink) as transmission factors in [0, 1] per channel."""
    if look.colour:
        paper = np.array([rng.uniform(0.86, 0.93), rng.uniform(0.93, 0.97), rng.uniform(0.95, 0.99)], np.float32)
        if look.paper == "grey":
            paper *= rng.uniform(0.8, 0.92)
        text = np.full(3, rng.uniform(0.05, 0.15), np.float32)
        lines = np.array([rng.uniform(0.2, 0.45), rng.uniform(0.2, 0.45), rng.uniform(0.8, 0.95)], np.float32)
        ink = np.array([rng.uniform(0.5, 0.65), rng.uniform(0.18, 0.3), rng.uniform(0.08, 0.18)], np.float32)
        return paper, text, lines, ink
    paper = np.array([rng.uniform(0.96, 1.0) if look.paper == "white" else rng.uniform(0.7, 0.88)], np.float32)
    text = np.array([rng.uniform(0.03, 0.15)], np.float32)
    lines = np.array([rng.uniform(0.05, 0.55)], np.float32)
    ink = np.array([rng.uniform(0.05, 0.2) if rng.random() < 0.7 else rng.uniform(0.25, 0.38)], np.float32)
    return paper, text, lines, ink


def _compose(cv: _Canvas, paper: np.ndarray, text: np.ndarray, lines: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """Multiply the layers over the paper: float32 (H, W, C) in [0, 1]."""
    img = np.empty((cv.h, cv.w, len(paper)), np.float32)
    img[:] = paper
    for cover, colour in ((cv.lines.astype(np.float32) / 255.0, lines), (cv.text.astype(np.float32) / 255.0, text),
                          (cv.ink, ink)):
        rows = np.flatnonzero(cover.any(axis=1))
        if len(rows) == 0:
            continue
        r0, r1 = rows[0], rows[-1] + 1
        c = cover[r0:r1, :, None]
        img[r0:r1] *= 1.0 - c * (1.0 - colour)
    return img


def _truth_boxes(fields: np.ndarray, n: int) -> list[tuple[int, int, int, int]]:
    ys, xs = np.nonzero(fields)
    ids = fields[ys, xs].astype(np.int64) - 1
    x0 = np.full(n, np.iinfo(np.int64).max)
    y0 = np.full(n, np.iinfo(np.int64).max)
    x1 = np.full(n, -1)
    y1 = np.full(n, -1)
    np.minimum.at(x0, ids, xs)
    np.minimum.at(y0, ids, ys)
    np.maximum.at(x1, ids, xs)
    np.maximum.at(y1, ids, ys)
    return [(int(x0[i]), int(y0[i]), int(x1[i] - x0[i] + 1), int(y1[i] - y0[i] + 1)) for i in range(n)]


def _illuminate(rng: np.random.Generator, img: np.ndarray) -> None:
    """Uneven light (gradient + vignette) and paper texture, in place."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    ramp = ((xx / w - 0.5) * math.cos(ang) + (yy / h - 0.5) * math.sin(ang))
    cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
    vign = ((xx - cx) ** 2 + (yy - cy) ** 2) / float(w * w + h * h)
    light = 1.0 + rng.uniform(0.08, 0.22) * ramp - rng.uniform(0.1, 0.35) * vign
    light += rng.uniform(0.01, 0.03) * _smooth_noise(rng, (h, w), 24)
    light += rng.normal(0, rng.uniform(0.008, 0.02), (h, w)).astype(np.float32)
    img *= light[..., None]


def _dust(rng: np.random.Generator, img: np.ndarray, keep_out: list[tuple[int, int, int, int]], hb: float) -> None:
    """Specks, a few blobs (away from the fields), salt and pepper, slight blur; in place."""
    h, w = img.shape[:2]
    layer = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(200, 1500))):
        cv2.circle(layer, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(0, 2)),
                   int(rng.integers(80, 256)), -1, cv2.LINE_AA)
    blobs = 0
    for _ in range(200):
        if blobs >= int(rng.integers(3, 13)):
            break
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = rng.uniform(3, max(4, min(12, 0.3 * hb)))
        pad = r + 0.6 * hb
        if any(x - pad < cx < x + bw + pad and y - pad < cy < y + bh + pad for x, y, bw, bh in keep_out):
            continue
        axes = (max(1, int(r)), max(1, int(r * rng.uniform(0.4, 1.0))))
        cv2.ellipse(layer, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, int(rng.integers(150, 256)), -1,
                    cv2.LINE_AA)
        blobs += 1
    dark = rng.uniform(0.1, 0.4)
    img *= (1.0 - (layer.astype(np.float32) / 255.0) * (1.0 - dark))[..., None]
    p = rng.uniform(0.0005, 0.002)
    salt = rng.random((h, w)) < p
    img[salt] = rng.uniform(0.0, 1.0, (int(salt.sum()), 1)).astype(np.float32)
    sigma = rng.uniform(0.5, 1.0)
    img[:] = cv2.GaussianBlur(img, (0, 0), sigma).reshape(img.shape)


def render_page(
    rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray, style: str, width: int = 1700,
    height: int = 2200,
) -> tuple[np.ndarray, list[TruthField]]:
    """Render one filled-in form page and the truth of its handwritten fields.

    Args:
        rng: the only source of randomness (same generator state -> same page).
        digits: uint8 (N, 28, 28) MNIST test digits (white on black).
        labels: uint8 (N,) their labels.
        style: one of ``STYLES``.
        width, height: page size in pixels (letter at 200 dpi by default).

    Returns:
        (image, truth): image uint8 (H, W) gray, or (H, W, 3) BGR for colour pages; truth: one
        ``TruthField`` (page=1) per field, in reading order, box tight around the field's ink.
    """
    _check(style in STYLES, "style", f"must be one of {STYLES}, got {style!r}")
    _check(digits.ndim == 3 and digits.shape[1:] == (28, 28), "digits", f"expected (N, 28, 28), got {digits.shape}")
    _check(labels.shape == (len(digits),), "labels", f"expected ({len(digits)},), got {labels.shape}")
    _check(width >= 600 and height >= 600, "width/height", f"page too small: {width}x{height}")
    look = _look_for(style, rng)
    cv, drawn = _layout(rng, look, digits, labels, width, height)
    paper, text_c, line_c, ink_c = _colours(rng, look)
    img = _compose(cv, paper, text_c, line_c, ink_c)
    fields = cv.fields
    if look.skew:
        angle = rng.uniform(-3.0, 3.0)
        if abs(angle) < 0.3:
            angle = math.copysign(0.3, angle)
        m = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, 1.0)
        border = tuple(float(v) for v in paper) + (0.0,) * (4 - len(paper))
        img = cv2.warpAffine(img, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=border).reshape(height, width, len(paper))
        fields = cv2.warpAffine(fields, m, (width, height), flags=cv2.INTER_NEAREST,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    boxes = _truth_boxes(fields, len(drawn))
    if look.paper == "grey":
        _illuminate(rng, img)
    if look.noise:
        hb = float(np.median([b[3] for b in boxes])) if boxes else 40.0
        _dust(rng, img, boxes, hb)
    out = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    out = out[..., 0] if out.shape[2] == 1 else out
    if look.noise and rng.random() < 0.7:  # JPEG artefacts
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 70))])
        out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    truth = [TruthField(1, x, y, w, h, f.text, f.sources) for (x, y, w, h), f in zip(boxes, drawn, strict=True)]
    return out, truth


# ---------------------------------------------------------------------------------------------
# truth CSV


def write_truth(path: str | Path, rows: Iterable[tuple[str, TruthField]]) -> None:
    """Write ``source,page,x,y,w,h,text`` rows (source: file name relative to the pages folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(TRUTH_COLUMNS)
        for source, t in rows:
            out.writerow([source, t.page, t.x, t.y, t.w, t.h, t.text])


def read_truth(path: str | Path) -> list[tuple[str, TruthField]]:
    """Read a truth CSV written by ``write_truth``; text is kept as a string (leading zeros)."""
    with Path(path).open(newline="") as fh:
        return [(r["source"], TruthField(int(r["page"]), int(r["x"]), int(r["y"]), int(r["w"]), int(r["h"]), r["text"]))
                for r in csv.DictReader(fh)]


def style_cycle(n: int, styles: Sequence[str] = STYLES) -> list[str]:
    """The first ``n`` styles of a round-robin over ``styles``."""
    return [styles[i % len(styles)] for i in range(n)]
