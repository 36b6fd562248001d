"""Page -> glyphs: binarize, deskew, remove form rules, components, merge, split, group.

The core is pure (a grey array in, :class:`Glyph` records out). Every length in the config is
in pixels of the page as decoded; boxes come back in those pixels too, even when the page was
deskewed for the work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Sequence

import cv2
import numpy as np

from pipeline.config import SegmentConfig
from pipeline.normalize import holes, normalize_mask

# (N, 28, 28) uint8 glyphs -> (N,) top-digit confidence, or (N, C) class probabilities (the digits
# 0-9, then "not a digit" when C > 10) from which the segmenter takes both
Scorer = Callable[[np.ndarray], np.ndarray]


def _score(scorer: Scorer, glyphs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(top-digit confidence, "not a digit" probability, top digit or -1 when the scorer answers
    confidences only), each (N,), of a scorer's answer."""
    out = np.asarray(scorer(glyphs), np.float32)
    if out.ndim == 1:
        return out, np.zeros(len(out), np.float32), np.full(len(out), -1)
    not_digit = out[:, 10] if out.shape[1] > 10 else np.zeros(len(out), np.float32)
    return out[:, :10].max(axis=1), not_digit, out[:, :10].argmax(axis=1)


@dataclass(frozen=True)
class Glyph:
    """One digit candidate: its box on the page, its ink, and its place in reading order.

    ``x, y, w, h`` are page pixels (as decoded). ``mask`` is a (h', w') uint8 array, 255 = ink,
    in the deskewed frame (scaled down on a page finer than ``SegmentConfig.work_dpi``).
    ``line``, ``field`` and ``index`` are 1-based; fields are numbered in reading order over the
    page, ``index`` is the position within the field. ``crop`` is the mask as the classifier reads
    it, (28, 28) uint8 (:func:`pipeline.normalize.normalize_mask`), set by :func:`segment`, which
    has mostly made it already while judging the glyph.
    """

    x: int
    y: int
    w: int
    h: int
    mask: np.ndarray
    line: int
    field: int
    index: int
    crop: np.ndarray | None = None


@dataclass(frozen=True)
class _Part:
    """A connected piece of ink in the deskewed frame: box and its mask (h, w) uint8 0/255."""

    x: int
    y: int
    w: int
    h: int
    mask: np.ndarray

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @cached_property
    def crop(self) -> np.ndarray:
        """The part as the classifier sees it (28x28), made once: the checks below score a part
        several times (doubtful, split, attach, join)."""
        return normalize_mask(self.mask)


@dataclass(frozen=True)
class _Rule:
    """A removed horizontal form rule: x range and the row of its top edge; for the bottom line of
    a row of printed boxes, also the row of the boxes' top line (else -1) and the columns of the
    boxes' sides."""

    x0: int
    x1: int
    y: int
    top: int = field(default=-1, repr=False)
    sides: tuple[int, ...] = field(default=(), repr=False)


def _check_gray(gray: np.ndarray) -> np.ndarray:
    g = np.asarray(gray)
    if g.ndim != 2 or g.dtype != np.uint8:
        raise ValueError(f"gray: expected a 2-D uint8 array, got {g.dtype} with shape {g.shape}")
    return g


def _components(binary: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, None]:
    """``cv2.connectedComponentsWithStats(binary, connectivity=8)`` for sparse ink, faster: the
    labels come from ``cv2.connectedComponents`` and the boxes and areas from the ink pixels only
    (OpenCV's stats pass over the whole page costs several times the labelling).

    Returns:
        (n labels incl. background 0, (H, W) int32 labels, (n, 5) int32 stats x, y, w, h, area
        with a zero row 0, None in place of the centroids).

    Example:
        >>> m = np.zeros((5, 6), np.uint8); m[1:3, 1:3] = 255; m[4, 5] = 255
        >>> _components(m)[2].tolist()
        [[0, 0, 0, 0, 0], [1, 1, 2, 2, 4], [5, 4, 1, 1, 1]]
    """
    if binary.size == 0:  # (OpenCV crashes on an empty image)
        return 1, np.zeros(binary.shape, np.int32), np.zeros((1, 5), np.int32), None
    n, labels = cv2.connectedComponents(binary, connectivity=8, ltype=cv2.CV_32S)
    stats = np.zeros((n, 5), np.int32)
    if n > 1:
        pts = cv2.findNonZero(binary).reshape(-1, 2)  # (x, y) of the ink, much faster than np.nonzero
        xs, ys = pts[:, 0], pts[:, 1]
        lab = labels[ys, xs]
        order = np.argsort(lab, kind="stable")
        ys, xs, lab = ys[order], xs[order], lab[order]
        starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
        x0, y0 = np.minimum.reduceat(xs, starts), np.minimum.reduceat(ys, starts)
        x1, y1 = np.maximum.reduceat(xs, starts), np.maximum.reduceat(ys, starts)
        stats[lab[starts]] = np.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1, np.diff(np.r_[starts, len(lab)])], axis=1)
    return n, labels, stats, None


FAINT = 0.4  # strokes apart from other ink that reach this share of the strong cut are pencil (binarize)
CRISP, SOFT = 0.48, 0.33  # edge steepness of a crisp scan and of a soft one (blurred, Gaussian sigma 0.9 px)
SHARPEN_SIGMA = 1.5  # the blur an unsharp mask takes away from a soft page's ink


def binarize(gray: np.ndarray, cfg: SegmentConfig = SegmentConfig()) -> np.ndarray:
    """Ink mask robust to uneven light, grey paper, soft scans and show-through: local background
    minus pixel, sharpened as much as the page is soft, then cut with hysteresis; writing on the
    back of the sheet seen through it is left out (:func:`_without_ghosts`).

    The strong cut comes from the page's Otsu threshold, which bold print raises above a faint
    pencil's contrast; strokes apart from the ink found that way are taken whole at the low cut
    when they reach ``FAINT`` of the strong cut (and 1.5 x ``min_contrast``) and a digit's height.

    Args:
        gray: (H, W) uint8 page, dark ink on light paper (a mostly dark page is inverted first).

    Returns:
        (H, W) uint8, 255 = ink.

    Example:
        >>> page = np.full((60, 60), 200, np.uint8); page[20:40, 28:32] = 40
        >>> int(binarize(page)[30, 30]), int(binarize(page)[5, 5])
        (255, 0)
    """
    g = _check_gray(gray)
    if g.size == 0:
        return np.zeros_like(g)
    return _ink_and_mask(g, cfg)[1]


def edge_steepness(gray: np.ndarray, min_contrast: float) -> float:
    """How crisp a page's edges are: the median, over pixels a third to two thirds of the way up
    an edge, of the grey gradient over the contrast around them (7x7), where that contrast is
    more than ``min_contrast`` (:func:`binarize` gives the page's Otsu cut, and at least twice
    ``SegmentConfig.min_contrast``: ink, not paper grain).

    About 0.5 for crisp anti-aliased ink, 0.33 once blurred with a Gaussian of sigma 0.9 px (a
    soft scanner), 0.25 at sigma 1.4; JPEG and noise lower it a little. A page with no such edge
    gives 1.0.

    Example: a ring drawn 4x finer and area-averaged down (anti-aliased), then blurred
        >>> big = np.full((240, 240), 220, np.uint8); _ = cv2.circle(big, (120, 120), 70, 30, 18)
        >>> page = cv2.resize(big, (60, 60), interpolation=cv2.INTER_AREA)
        >>> [round(edge_steepness(p, 90), 2) for p in (page, cv2.GaussianBlur(page, (0, 0), 0.9))]
        [0.53, 0.35]
    """
    g = _check_gray(gray)
    if min(g.shape) < 3:
        return 1.0
    r = _edge_ratios(g, min_contrast, step=3)  # every third row is plenty for a median
    return float(np.median(r)) if len(r) else 1.0


def _edge_ratios(g: np.ndarray, min_contrast: float, step: int = 1, where: np.ndarray | None = None) -> np.ndarray:
    """Gradient over the contrast around (7x7) at the pixels of ``g`` a third to two thirds of the
    way up an edge of more than ``min_contrast`` (see :func:`edge_steepness`): on every ``step``-th
    row, and only where ``where`` is set."""
    k = np.ones((7, 7), np.uint8)
    lo = cv2.erode(g, k)
    contrast = cv2.subtract(cv2.dilate(g, k), lo)
    rows = slice(1, g.shape[0] - 1, step)
    c = contrast[rows, 1:-1].astype(np.int16)
    rise = cv2.subtract(g[rows, 1:-1], lo[rows, 1:-1]).astype(np.int16) * 3
    sel = (c > min_contrast) & (rise > c) & (rise < 2 * c)
    if where is not None:
        sel &= where[rows, 1:-1] > 0
    y, x = np.nonzero(sel)
    c = c[y, x]
    y, x = step * y + 1, x + 1
    n = {(dy, dx): g[y + dy, x + dx].astype(np.int32) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx}
    gx = n[-1, 1] + 2 * n[0, 1] + n[1, 1] - n[-1, -1] - 2 * n[0, -1] - n[1, -1]
    gy = n[1, -1] + 2 * n[1, 0] + n[1, 1] - n[-1, -1] - 2 * n[-1, 0] - n[-1, 1]
    return np.hypot(gx, gy) / (8.0 * c)  # Sobel, over its weight 8


def _ink_and_mask(g: np.ndarray, cfg: SegmentConfig) -> tuple[np.ndarray, np.ndarray]:
    """The page's ink (:func:`_ink`), sharpened as much as the page is soft (not at all when
    crisp, in full when as soft as ``SOFT``; see :func:`edge_steepness`), and its mask.

    Sharpening is an unsharp mask. The cuts are those of the ink as scanned: sharpening steepens
    a soft page's edges, so the cut falls nearer each stroke's own edge and the gap between two
    blurred strokes opens again, but the cut itself, and so what faint ink is found at all,
    stays the same.
    """
    ink = _ink(g, cfg)
    otsu = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[0]
    steep = edge_steepness(g, max(otsu, 2.0 * cfg.min_contrast))
    sharpen = (CRISP - steep) / (CRISP - SOFT)
    if sharpen <= 0:
        return ink, _without_ghosts(g, ink, _mask(ink, cfg, otsu), otsu, steep, cfg)
    f = ink.astype(np.float32)
    f += min(sharpen, 1.0) * (f - cv2.GaussianBlur(f, (0, 0), SHARPEN_SIGMA))
    sharp = np.clip(f, 0, 255).astype(np.uint8)
    mask = _mask(sharp, cfg, otsu)
    # sharpening thins a faint hairline and can break it: the crests of the ink as scanned stay
    found = cv2.findNonZero(cv2.subtract(_mask(ink, cfg, otsu), mask))
    if found is not None:
        x, y = found.reshape(-1, 2).T
        crest = _ridge(ink, x, y, cfg.min_contrast / 2)
        mask[y[crest], x[crest]] = 255
    return sharp, _without_ghosts(g, ink, mask, otsu, steep, cfg)


GHOST = 0.8  # faint ink apart from the strong whose edges are less steep than this x the page's shows through ...
GHOST_HALF_WIDTH = 2.0  # ... when it is somewhere at least twice this wide; on such a page, faint ink
GHOST_SLOPE = 0.25  # that broad by the strong, rising less than this x the strong cut a pixel, goes too


def _without_ghosts(g: np.ndarray, ink: np.ndarray, mask: np.ndarray, otsu: float, steep: float,
                    cfg: SegmentConfig) -> np.ndarray:
    """``mask`` without writing on the back of the sheet seen through it (show-through): faint ink
    (under the strong cut, 4 px or more from ink over it), broader than a hairline, whose edges
    are far softer than the page's (``GHOST``; the paper blurs what shows through it). With it
    go the faint ink that joins it to the strong, and, on a page that shows through, faint ink
    as soft and broad by the strong (a ghost across a digit)."""
    strong = max(float(cfg.min_contrast), otsu)
    sure = cv2.dilate(cv2.compare(ink, float(np.floor(strong)), cv2.CMP_GT), np.ones((9, 9), np.uint8))
    faint = cv2.bitwise_and(mask, cv2.bitwise_not(sure))
    broad = cv2.distanceTransform(faint, cv2.DIST_L2, 3) >= GHOST_HALF_WIDTH  # a hairline measures soft too
    if not broad.any():
        return mask
    _, labels, stats, _ = cv2.connectedComponentsWithStats(faint, connectivity=8)
    gone = np.zeros_like(mask)
    for i in np.unique(labels[broad]):
        x, y, w, h = stats[i, :4]
        x0, y0, x1, y1 = max(0, x - 6), max(0, y - 6), min(g.shape[1], x + w + 6), min(g.shape[0], y + h + 6)
        own = (labels[y0:y1, x0:x1] == i).astype(np.uint8)
        near = cv2.dilate(own, np.ones((5, 5), np.uint8)) & ~sure[y0:y1, x0:x1]
        r = _edge_ratios(g[y0:y1, x0:x1], cfg.min_contrast, where=near)
        if len(r) >= 10 and np.median(r) < GHOST * steep:
            gone[y0:y1, x0:x1] |= own
    if not gone.any():
        return mask
    gone = cv2.dilate(gone, np.ones((9, 9), np.uint8))
    weak = cv2.bitwise_and(mask, cv2.compare(ink, float(np.floor(strong)), cv2.CMP_LE))
    slope = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    soft = np.where((weak > 0) & (slope < 8 * GHOST_SLOPE * strong), 255, 0).astype(np.uint8)
    wide = (cv2.distanceTransform(soft, cv2.DIST_L2, 3) >= GHOST_HALF_WIDTH).astype(np.uint8)
    gone |= cv2.dilate(wide, np.ones((5, 5), np.uint8)) & (soft > 0)
    out = mask.copy()
    out[(gone > 0) & (weak > 0)] = 0
    return out


def _ridge(ink: np.ndarray, x: np.ndarray, y: np.ndarray, drop: float) -> np.ndarray:
    """Whether each pixel (x, y) of ``ink`` is on a ridge: at least as dark as both its
    neighbours across it in one of four directions, and ``drop`` darker than one of them."""
    pad = cv2.copyMakeBorder(ink, 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    c = pad[y + 1, x + 1].astype(np.int16)
    ridge = np.zeros(len(x), bool)
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        a, b = pad[y + 1 + dy, x + 1 + dx].astype(np.int16), pad[y + 1 - dy, x + 1 - dx].astype(np.int16)
        ridge |= (c >= np.maximum(a, b)) & (c - np.minimum(a, b) >= drop)
    return ridge


def _ink(g: np.ndarray, cfg: SegmentConfig) -> np.ndarray:
    """How much darker than the local paper each pixel is (uint8), a shaded band's paper its own;
    a mostly dark page is inverted."""
    if np.median(g) < 100:  # white ink on a dark page
        g = 255 - g
    # paper: grey closing (removes dark strokes narrower than the kernel) on a 1/4 image
    f = 4 if min(g.shape) >= 64 else 1
    small = cv2.resize(g, (max(1, g.shape[1] // f), max(1, g.shape[0] // f)), interpolation=cv2.INTER_AREA)
    k = max(3, (cfg.background_kernel // f) | 1)
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    paper = cv2.blur(paper, (3, 3))
    paper = cv2.resize(paper, (g.shape[1], g.shape[0]), interpolation=cv2.INTER_LINEAR)
    # a shaded band across the writing (a form's grey field, a highlighter) too narrow for that
    # closing is paper too: the paper closed along the rows (a third of a rule, about a digit's
    # width), where it is light (half to SHADE x min_contrast under the paper) over a band at
    # least BAND px tall and as long (no pen stroke is that broad and that light). Taken for ink,
    # it glued the digits it covers together
    run = cfg.line_min_length // 3
    along = cv2.morphologyEx(g, cv2.MORPH_CLOSE, np.ones((1, run | 1), np.uint8))
    band = cv2.inRange(cv2.subtract(paper, along), max(1, cfg.min_contrast // 2), SHADE * cfg.min_contrast)
    band = cv2.morphologyEx(band, cv2.MORPH_OPEN, np.ones((BAND, run), np.uint8))
    if band.any():
        paper = np.where(cv2.dilate(band, np.ones((3, 3), np.uint8)) > 0, np.minimum(paper, along), paper)
    return cv2.subtract(paper, g)


SHADE = 3  # a shaded band (see _ink) is at most this x min_contrast darker than the paper ...
BAND = 20  # ... and at least this tall (it holds writing; a printed line, even blurred, is thinner)


def _mask(ink: np.ndarray, cfg: SegmentConfig, otsu: float) -> np.ndarray:
    """The ink mask of :func:`binarize`, from the page's darkness below its paper (:func:`_ink`)
    and its Otsu cut."""
    if int(ink.max()) < cfg.min_contrast:
        return np.zeros_like(ink)
    strong = max(float(cfg.min_contrast), otsu)
    weak = max(cfg.min_contrast * 0.6, strong * 0.5)
    # hysteresis: weak pixels connected to strong ones
    candidate = cv2.compare(ink, float(np.floor(weak)), cv2.CMP_GT)  # ink is integer: > floor(t) is > t
    pts, kept = _hysteresis(candidate, cv2.compare(ink, float(np.floor(strong)), cv2.CMP_GT))
    out = np.zeros_like(ink)
    out[pts[:, 1], pts[:, 0]] = np.where(kept, 255, 0)
    # faint pencil on a page whose bold print sets the strong cut too high: its strokes are among
    # the weak ink left out, found again whole at the low floor
    low, faint = cfg.min_contrast * 0.6, max(cfg.min_contrast * 1.5, FAINT * strong)
    if weak > low and faint < strong and not kept.all():
        cand = cv2.compare(ink, float(np.floor(low)), cv2.CMP_GT)
        cand &= cv2.bitwise_not(cv2.dilate(out, np.ones((3, 3), np.uint8)))
        pts, on = _hysteresis(cand, cand & cv2.compare(ink, faint, cv2.CMP_GE), cfg.min_height)
        out[pts[on, 1], pts[on, 0]] = 255
    return out


def _follow_ridges(ink: np.ndarray, binary: np.ndarray, cfg: SegmentConfig) -> np.ndarray:
    """``binary`` (the mask of ``ink``, see :func:`_ink`) grown along the ridges of faint ink it touches.

    A hairline pen stroke is a pixel wide: anti-aliased, it fades along its length below the
    cuts of :func:`binarize`, and a digit falls apart (the top of a 2, the arms of a 4). From the
    ink found, the mask follows pixels darker than the low cut (0.6 x ``min_contrast``) that are
    ridges: at least as dark as both neighbours across them in one of four directions, and
    1.5 x ``min_contrast`` darker than one of those. The soft edge of a stroke, the halo of bold
    print and paper grain are not ridges.

    Example: a stroke found down to row 9 fades on as a faint hairline; its soft edge is no ridge
        >>> ink = np.zeros((20, 20), np.uint8); ink[2:10, 10] = 200; ink[10:18, 10] = 40; ink[2:10, 11] = 40
        >>> grown = _follow_ridges(ink, np.where(ink > 100, 255, 0).astype(np.uint8), SegmentConfig())
        >>> int(grown[15, 10]), int(grown[5, 11])
        (255, 0)
    """
    found = cv2.findNonZero(cv2.subtract(cv2.compare(ink, float(np.floor(cfg.min_contrast * 0.6)), cv2.CMP_GT),
                                         binary))
    if found is None or not binary.any():
        return binary
    x, y = found.reshape(-1, 2).T
    ridge = _ridge(ink, x, y, 1.5 * cfg.min_contrast)
    x, y = x[ridge], y[ridge]
    if not len(x):
        return binary
    # the runs of ridge pixels that touch the ink found join it
    lines = np.zeros_like(binary)
    lines[y, x] = 255
    _, labels = cv2.connectedComponents(lines, connectivity=8)
    near = cv2.copyMakeBorder(binary, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    touch = np.zeros(len(x), bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            touch |= near[y + 1 + dy, x + 1 + dx] > 0
    joined = np.isin(labels[y, x], labels[y[touch], x[touch]])
    out = binary.copy()
    out[y[joined], x[joined]] = 255
    return out


def _hysteresis(candidate: np.ndarray, sure: np.ndarray, min_height: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of ``candidate`` ((N, 2) as x, y) and, for each, whether its 8-connected
    component holds a pixel of ``sure`` (and is ``min_height`` or more tall). Only the ink
    pixels are indexed: ink is sparse."""
    found = cv2.findNonZero(candidate)
    if found is None:
        return np.zeros((0, 2), np.int32), np.zeros(0, bool)
    if min_height:
        n, labels, stats, _ = _components(candidate)
    else:
        n, labels = cv2.connectedComponents(candidate, connectivity=8)
    keep = np.zeros(n, bool)
    hits = cv2.findNonZero(sure)
    if hits is not None:
        hits = hits.reshape(-1, 2)
        keep[labels[hits[:, 1], hits[:, 0]]] = True
    if min_height:
        keep &= stats[:, cv2.CC_STAT_HEIGHT] >= min_height
    keep[0] = False
    pts = found.reshape(-1, 2)
    return pts, keep[labels[pts[:, 1], pts[:, 0]]]


def estimate_skew(binary: np.ndarray, max_deg: float = 4.0) -> float:
    """Page skew in degrees (rotate by it to level the page), by projection-profile sharpness.

    Args:
        binary: (H, W) uint8 ink mask.

    Returns:
        Angle in degrees in [-max_deg, max_deg] (counter-clockwise positive, OpenCV convention).
    """
    if binary.size == 0 or not binary.any():
        return 0.0
    f = 4 if min(binary.shape) >= 200 else 1
    small = cv2.resize(binary, (binary.shape[1] // f, binary.shape[0] // f), interpolation=cv2.INTER_AREA)
    h, w = small.shape
    centre = (w / 2, h / 2)

    def sharpness(angle: float) -> float:
        m = cv2.getRotationMatrix2D(centre, angle, 1.0)
        rows = cv2.warpAffine(small, m, (w, h), flags=cv2.INTER_LINEAR).sum(axis=1, dtype=np.float64)
        return float(np.sum(np.diff(rows) ** 2))

    coarse = np.arange(-max_deg, max_deg + 1e-9, 0.25)
    best = max(coarse, key=sharpness)
    fine = np.arange(best - 0.25, best + 0.25 + 1e-9, 0.05)
    return float(max(fine, key=sharpness))


def _frames(binary: np.ndarray, rule: int, tallest: int) -> tuple[np.ndarray, np.ndarray, list[_Rule], np.ndarray]:
    """Printed boxes of any size (single boxes, comb rows): components whose top and bottom rows
    and a side column are filled edge to edge. Returns their horizontal and vertical line pixels
    (full rows and full columns of the component), each box row's bottom line as a rule, and a
    mask of the areas the box rows cover (their sides are judged here, not as comb bars). A
    frame around a section of the form or the page (taller than the ``tallest`` digit, or with a
    rule at least ``rule`` px long, or a box, inside it; or a scanner's dark margins round the
    page) has its lines taken too, but is no box written in: no rule, no area."""
    hmask, vmask, area_mask = np.zeros_like(binary), np.zeros_like(binary), np.zeros_like(binary)
    rules: list[_Rule] = []
    boxes: list[tuple[int, int, int, int]] = []
    lines = np.ones((1, rule | 1), np.uint8)  # a rule inside a frame
    n, labels, stats, _ = _components(binary)
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if w < 12 or h < 12 or area > 0.8 * w * h:
            continue
        m = labels[y : y + h, x : x + w] == i
        band_r, band_c = max(2, h // 6), max(2, w // 6)
        if m[band_r:-band_r, band_c:-band_c].mean() > 0.5:  # a blob, not a frame with a digit inside
            continue
        full_r = m.sum(axis=1) >= 0.85 * w
        full_c = m.sum(axis=0) >= 0.85 * h
        if not (full_r[:band_r].any() and full_r[-band_r:].any() and (full_c[:band_c].any() or full_c[-band_c:].any())):
            continue
        # the rows/columns next to a full one that are mostly ink belong to the (thick, antialiased) line
        near_r = (m.sum(axis=1) >= 0.5 * w) & (np.convolve(full_r, [1, 1, 1], "same") > 0)
        near_c = (m.sum(axis=0) >= 0.5 * h) & (np.convolve(full_c, [1, 1, 1], "same") > 0)
        # a printed box's sides are as thick as its top (or as most of its sides, on a noisy scan
        # that thins some): a much thinner full column is a pen stroke touching the top and
        # bottom (a 1 filling its box), not a side
        starts, ends = _runs(near_c)
        thick = min(_run_length(near_r, 0), int(np.median(ends - starts)) if len(starts) > 2 else h)
        sides = _runs_like(near_c, thick)
        for a, b in zip(starts, ends):
            if a <= 2 or b >= w - 2:  # the outer sides, however thin: no pen stroke stands at the frame's edge
                sides[a:b] = True
        near_c = _regular_runs(sides)
        hmask[y : y + h, x : x + w][near_r, :] = np.where(m[near_r, :], 255, 0)
        vmask[y : y + h, x : x + w][:, near_c] = np.where(m[:, near_c], 255, 0)
        hmask[y : y + h, x : x + w][_steps(m, near_r)] = 255  # (not the sides: 1s stand along them)
        # a frame around a section of the form, or the page (a scanner's dark margins), is taller
        # than a digit or holds printed lines of its own: its lines go, but it is no box written in
        if h > tallest:
            continue
        inside = binary[y + band_r : y + h - band_r, x + band_c : x + w - band_c].copy()
        inside[m[band_r:-band_r, band_c:-band_c]] = 0
        if inside.size and cv2.morphologyEx(inside, cv2.MORPH_OPEN, lines).any():
            continue
        bottom = int(np.flatnonzero(full_r)[-1])
        rules.append(_Rule(x, x + w, y + bottom, top=y + int(np.flatnonzero(full_r)[0]),
                           sides=tuple(int(x + (a + b) // 2) for a, b in zip(*_runs(near_c)))))
        boxes.append((x, y, w, h))
    # a frame around boxes: no box written in either
    written = [not any(bx > x and by > y and bx + bw < x + w and by + bh < y + h for bx, by, bw, bh in boxes)
               for x, y, w, h in boxes]
    for (x, y, w, h), ok in zip(boxes, written):
        if ok:
            area_mask[y : y + h, x : x + w] = 255
    return hmask, vmask, [r for r, ok in zip(rules, written) if ok], area_mask


def _steps(m: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """The pieces of a box's lines (the rows ``lines`` of its mask ``m``) in the rows beside them.

    A line a little off level, or resampled by the deskew, steps from one row to the next, so the
    rows beside its full ones hold pieces of it: runs along the row at least ``STEP_RUN`` long (and
    a twelfth of the box), or with no ink beyond them. A pen stroke crossing the line makes short
    runs that go on past it.
    """
    out = np.zeros(m.shape, bool)
    at = np.flatnonzero(lines)
    if not len(at):
        return out
    for r in np.flatnonzero((np.convolve(lines, [1, 1, 1], "same") > 0) & ~lines):
        past = r + (1 if r > at[np.abs(at - r).argmin()] else -1)
        beyond = m[past] if 0 <= past < len(m) else np.zeros(m.shape[1], bool)
        for a, b in zip(*_runs(m[r])):
            if b - a >= max(STEP_RUN, m.shape[1] // 12) or not beyond[max(0, a - 1) : b + 1].any():
                out[r, a:b] = True
    return out


STEP_RUN = 8  # see _steps
SPECK = 6  # pieces of ink of fewer pixels are dust
EDGE_FAINT = 0.3  # ink by a rule (2 rows at most) fainter than this x the lines' darkness is the rule's blurred edge
DIP = 0.3  # a short underline may have strokes dipping 2 rows under it in this share of its length at most
CROSS_DARK = 0.5  # a removed rule is bridged from ink 3 rows tall by it or at least this x as dark as the lines


def _run_length(flags: np.ndarray, start: int) -> int:
    """Length of the run of True beginning at or after ``start`` (0 when there is none)."""
    on = np.flatnonzero(flags[start:])
    if len(on) == 0:
        return 0
    rest = flags[start + on[0] :]
    off = np.flatnonzero(~rest)
    return int(off[0]) if len(off) else len(rest)


def _typical_run(mask: np.ndarray) -> int:
    """Median length of the runs of ink along the rows of ``mask`` (0 when there is none): the
    thickness of the vertical lines in it (of the horizontal ones, given its transpose).

    Example:
        >>> m = np.zeros((4, 12), np.uint8); m[:, 1:4] = 255; m[:, 8:11] = 255; m[0, 6] = 255
        >>> _typical_run(m), _typical_run(m.T)
        (3, 4)
    """
    d = np.diff(np.pad(mask > 0, ((0, 0), (1, 1))).astype(np.int8), axis=1).ravel()
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return int(np.median(ends - starts)) if len(starts) else 0


def _like_line(width: int, thickness: int) -> bool:
    """A printed bar is about as thick as the printed line it joins (a thinner pen stroke
    touching a heavy frame is ink): at most a quarter, or 1 px, thinner."""
    return width >= thickness - max(1.0, 0.25 * thickness)


def _runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the runs of True in ``flags`` (1-D) start, and where they end (exclusive)."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(np.int8), [0]])))
    return edges[::2], edges[1::2]


def _runs_like(flags: np.ndarray, thickness: int) -> np.ndarray:
    """``flags`` (1-D bool) without the runs too thin to be a line ``thickness`` thick."""
    out = flags.copy()
    for a, b in zip(*_runs(flags)):
        if not _like_line(int(b - a), thickness):
            out[a:b] = False
    return out


def _regular_runs(flags: np.ndarray, gaps: bool = False) -> np.ndarray:
    """``flags`` (1-D bool, the full columns of a box row) without the runs off the row's grid.

    The sides of a row of printed boxes are evenly spaced from its first to its last: the grid
    of the most cells whose every side is a run is kept; a run between (a 1 or a 7 filling its
    box, touching top and bottom) is ink. With ``gaps``, up to half of the sides may be missing
    (a side a digit touches is part of that digit's glyph): the grid hitting the most runs wins.

    Example:
        >>> f = np.zeros(31, bool); f[[0, 10, 14, 20, 30]] = True
        >>> np.flatnonzero(_regular_runs(f)).tolist()
        [0, 10, 20, 30]
    """
    starts, ends = _runs(flags)
    if len(starts) <= 2:
        return flags
    centres = (starts + ends - 1) / 2.0
    span = centres[-1] - centres[0]
    best: list[int] = [0, len(centres) - 1]
    for cells in range(2, 2 * len(centres) if gaps else len(centres)):
        period = span / cells
        hit = []
        for k in range(cells + 1):
            d = np.abs(centres - (centres[0] + k * period))
            if d.min() <= 0.15 * period:
                hit.append(int(d.argmin()))
            elif not gaps:
                break
        else:
            # with ``gaps``, sides may be missing (joined to a digit), up to half of them
            if len(hit) > len(best) and 2 * (cells + 1 - len(hit)) <= cells + 1:
                best = hit
    out = np.zeros_like(flags)
    for i in best:
        out[starts[i] : ends[i]] = True
    return out


def _leaders(binary: np.ndarray, t: int, min_dots: int = 5) -> tuple[np.ndarray, list[_Rule]]:
    """Dotted leaders: ``min_dots`` or more printed dots (small round specks of about one size,
    at most ``t`` + 1 px) in a row on one baseline, evenly spaced (dots hidden under a digit leave
    a gap of up to four steps). Returns their pixels and each row as a rule: a field written on
    dots is written on a line. Left in, the dots glue to the digits above them (a 7 with a dot
    under it reads as 2) and field boxes grow down to them.

    Example:
        >>> m = np.zeros((20, 120), np.uint8)
        >>> for x in range(5, 115, 10): m[12:15, x : x + 3] = 255
        >>> dots, rules = _leaders(m, 9)
        >>> int(dots.sum() // 255), rules
        (99, [_Rule(x0=5, x1=108, y=12)])
    """
    _, labels, stats, _ = _components(binary)
    x, y, w, h, area = (stats[:, k].astype(np.float32) for k in range(5))
    size = np.maximum(w, h)
    dot = (size <= t + 1) & (np.minimum(w, h) >= 0.5 * size) & (area >= 0.4 * w * h) & (area >= 2)
    dot[0] = False
    ids = np.flatnonzero(dot)
    ids = ids[np.argsort(x[ids] + w[ids] / 2)]
    cx, cy = x + w / 2, y + h / 2
    nxt: dict[int, int] = {}
    taken: set[int] = set()
    for k, i in enumerate(ids):  # each dot links to the nearest dot of its size on its row to the right
        best, best_dx = -1, 0.0
        for j in ids[k + 1 :]:
            dx = cx[j] - cx[i]
            if dx > 14 * max(size[i], 2):
                break
            if (j not in taken and dx >= 1.5 * max(size[i], size[j]) and abs(cy[j] - cy[i]) <= max(1.5, 0.4 * size[i])
                    and max(size[i], size[j]) <= 2.5 * min(size[i], size[j]) and (best < 0 or dx < best_dx)):
                best, best_dx = int(j), float(dx)
        if best >= 0:
            nxt[int(i)] = best
            taken.add(best)
    mask, rules = np.zeros_like(binary), []
    for i in ids:
        if int(i) in taken:
            continue
        chain = [int(i)]
        while chain[-1] in nxt:
            chain.append(nxt[chain[-1]])
        while len(chain) >= min_dots:
            dx = np.diff(cx[chain])
            steps = dx / float(np.median(dx))  # each gap in typical steps: 1, or 2-4 over a digit
            even = (np.abs(steps - np.round(steps)) <= 0.25) & (np.round(steps) <= 4)
            cut = int(np.argmin(even)) if not even.all() else len(dx)
            run, chain = chain[: cut + 1], chain[cut + 1 :]
            if len(run) >= min_dots:
                rules.append(_Rule(int(x[run[0]]), int(x[run[-1]] + w[run[-1]]), int(min(y[run]))))
                # with the dots between that it stepped over (a bigger one, a blot)
                level, big = float(np.median(cy[run])), 2.5 * float(np.median(size[run]))
                run += [int(j) for j in ids if cx[run[0]] < cx[j] < cx[run[-1]] and int(j) not in run
                        and size[j] <= big and abs(cy[j] - level) <= max(1.5, 0.2 * big)]
                for j in run:
                    sx, sy, sw, sh = (int(v) for v in stats[j, :4])
                    mask[sy : sy + sh, sx : sx + sw][labels[sy : sy + sh, sx : sx + sw] == j] = 255
    return mask, rules


def _runs_past(above: np.ndarray, x: int, w: int, tall: int) -> bool:
    """Whether a run (columns ``x`` to ``x + w`` just under ``above``) reaches past both sides of
    the ink standing on it (pieces at least half of ``tall``, the height of all the ink joined to
    the run) by 0.15 x ``tall``: a printed underline under a single digit (the stem of a 7 on it),
    not the base of a 2, which ends where the digit does, nor the bar of a 5, which nothing
    digit-sized (10 px, a third of the run) stands on."""
    if tall < max(10, w / 3):  # nothing digit-sized stands on it
        return False
    _, labels, stats, _ = _components(above)
    on = [k for k in np.unique(labels[-2:, x : x + w]) if k and stats[k, 3] >= 0.5 * tall]
    if not on:
        return False
    left = min(int(stats[k, 0]) for k in on)
    right = max(int(stats[k, 0] + stats[k, 2]) for k in on)
    return min(left - x, x + w - right) >= 0.15 * tall


def _standing(above: np.ndarray, x: int, w: int, tall: int) -> int:
    """How many pieces of ink at least half of ``tall`` stand on the run at columns ``x`` to
    ``x + w`` just under ``above``: two digits on a short underline, one on its own foot."""
    _, labels, stats, _ = _components(above)
    return sum(1 for k in np.unique(labels[-2:, x : x + w]) if k and stats[k, 3] >= 0.5 * tall)


def _ticks_at_ends(binary: np.ndarray, x: int, y: int, w: int, t: int) -> bool:
    """Whether thin upright bars (4 px or taller, no wider than a line, nothing else joined to
    them above the run) rise from both ends of the run at columns ``x`` to ``x + w`` whose top row
    is ``y``: the base of a printed comb or tray, too short for a rule. At each end the ink
    standing outermost counts (a digit written against the last tick stands in the end's columns
    too). (The sides of a 0 rising from its flat bottom are joined above it.)"""
    if w < 5 or y < 4:
        return False
    above = binary[max(0, y - 4 * t - 8) : y, max(0, x - t) : x + w + t]
    _, labels, stats, _ = _components(above)
    edge = min(t, w // 2)
    x0 = x - max(0, x - t)

    def bar(cols: slice, end: Callable[[int], int]) -> bool:  # the ink standing outermost there
        ids = [k for k in np.unique(labels[-1, cols]) if k]
        return bool(ids) and bool(stats[k := max(ids, key=end), 2] <= t and stats[k, 3] >= 4)

    return (bar(slice(x0, x0 + edge), lambda k: -stats[k, 0])
            and bar(slice(x0 + w - edge, x0 + w), lambda k: stats[k, 0] + stats[k, 2]))


def _comb_ticks(binary: np.ndarray, rules: list[_Rule]) -> np.ndarray:
    """The ticks of printed combs: on a rule (not a box row's), thin bars rising from it, three
    or more, one at each end of the rule, evenly spaced and of one height (a digit's stroke
    crossing a tick, or a 1 standing on the rule, is not removed above that height). Found
    column by column, so a digit touching a tick does not hide it. Returns their pixels."""
    out = np.zeros_like(binary)
    for r in rules:
        w = r.x1 - r.x0
        if r.top >= 0 or w < 20 or r.y < 4:
            continue
        below = binary[r.y : r.y + 12, r.x0 : r.x1] > 0
        thick = max(1, int(np.median(np.cumprod(below, axis=0).sum(axis=0))))
        reach = 32
        while True:  # ink straight up from the rule, per column (looking further while a run fills the window)
            run = np.cumprod(binary[max(0, r.y - reach) : r.y, r.x0 : r.x1][::-1] > 0, axis=0).sum(axis=0)
            if run.max() < reach or reach >= r.y:
                break
            reach *= 2
        bars = [(a, b) for a, b in zip(*_runs(run >= max(4, 2 * thick))) if b - a <= thick + 2]
        if len(bars) < 3 or bars[0][0] > thick + 2 or bars[-1][1] < w - thick - 2:
            continue
        # a hairline tick leans across columns after the deskew: its height is its tallest column's
        heights = [float(run[a:b].max() if thick <= 2 else np.median(run[a:b])) for a, b in bars]
        height = float(np.median(heights))
        tall = [bar for bar, h in zip(bars, heights) if h >= 0.8 * height]  # taller: a stroke crossing it
        if len(tall) < 3:
            continue
        alike = np.zeros(w, bool)
        for a, b in tall:
            alike[a:b] = True
        top, bottom = max(0, r.y - round(height) - 1), r.y + thick + 1  # its anti-aliased ends too
        for a, b in zip(*_runs(_regular_runs(alike, gaps=True))):
            out[top:bottom, r.x0 + a : r.x0 + b] = binary[top:bottom, r.x0 + a : r.x0 + b]
    return out


def _ink_on_lines(ink: np.ndarray, lines: np.ndarray, contrast: int) -> np.ndarray:
    """The pixels of the ``lines`` mask ``contrast`` darker than their line's core (the third
    quartile of its darkness: its blurred edges are lighter): pen ink lying on a grey or coloured
    printed line, the foot of a 2 along its rule. A line as dark as the pen hides it."""
    out = np.zeros_like(lines)
    n, labels, stats, _ = _components(lines)
    for i in range(1, n):
        x, y, w, h, _ = stats[i]
        own = labels[y : y + h, x : x + w] == i
        dark = ink[y : y + h, x : x + w]
        level = float(np.percentile(dark[own], 75))
        out[y : y + h, x : x + w][own & (dark >= level + contrast)] = 255
    return out


def remove_rules(binary: np.ndarray, cfg: SegmentConfig = SegmentConfig(),
                 ink: np.ndarray | None = None) -> tuple[np.ndarray, list[_Rule]]:
    """Remove printed form structure: long thin horizontal rules, the bars of comb boxes joining
    two rules, printed boxes of any size, and thin upright lines taller than any digit (a fold, a
    table's column lines, a page edge).

    Strokes that cross a removed line are bridged again, so digits touching a line keep their ink;
    with ``ink``, pen strokes lying on a lighter line keep theirs too, and the faint blurred edges
    of a rule (``EDGE_FAINT``) go with it instead of gluing the digits on it together.

    Args:
        binary: (H, W) uint8 ink mask, page level (deskewed).
        ink: the page's darkness below its paper (:func:`_ink`), aligned with ``binary``.

    Returns:
        (cleaned mask, the horizontal rules found: long rules and the bottom lines of boxes).
    """
    t = cfg.line_max_thickness
    dots, leaders = _leaders(binary, t)
    if leaders:
        binary = cv2.bitwise_and(binary, cv2.bitwise_not(dots))
    fh, fv, rules, boxed = _frames(binary, cfg.line_min_length, cfg.max_height)
    rules += leaders
    # rules: long thin horizontal runs. A thin rule comes out of a scan or the deskew as dashes:
    # horizontal bits of it are joined across short gaps first
    long_run = np.ones((1, cfg.line_min_length | 1), np.uint8)
    bits = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((1, t | 1), np.uint8))
    joined = cv2.morphologyEx(bits, cv2.MORPH_CLOSE, np.ones((1, t | 1), np.uint8))
    horiz = cv2.morphologyEx(joined, cv2.MORPH_OPEN, long_run)
    n, labels, stats, _ = _components(horiz)
    solid = cv2.findNonZero(cv2.morphologyEx(binary, cv2.MORPH_OPEN, long_run))
    unbroken = np.zeros(n, bool)  # rules with one long run of ink somewhere
    if solid is not None:
        solid = solid.reshape(-1, 2)
        unbroken[labels[solid[:, 1], solid[:, 0]]] = True
    hmask, inked = fh.copy(), np.zeros_like(binary)
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        # a rule joined from dashes is a hairline (the feet of bold letters in a row are not)
        if h <= (t + 2 if unbroken[i] else 3) and area >= 0.5 * w:
            hmask[y : y + h, x : x + w][labels[y : y + h, x : x + w] == i] = 255
            rules.append(_Rule(int(x), int(x + w), int(y)))
            # where a stroke lies along the rule (the base of a 2), the ink is thicker than the
            # rule: those columns keep their ink
            # (not in box rows: their sides and the digits touching them are judged in _frames)
            y0, y1 = max(0, y - h - 2), min(binary.shape[0], y + 2 * h + 2)
            if not boxed[y0:y1, x : x + w].any():
                over = cv2.morphologyEx(binary[y0:y1, x : x + w], cv2.MORPH_OPEN, np.ones((h + 3, 1), np.uint8))
                inked[y0:y1, x : x + w] |= over
    # short underlines (a one- or two-digit field): a solid run shorter than a rule, but reaching
    # past both sides of the ink standing on it, or (a hairline) at least 1.5 x as long as that
    # ink is tall, or on its own with no ink hanging under it (a digit's own bar or base is none
    # of these: the detached bar of a 5 or a 7 has the digit under it), or the base of a short
    # comb or tray (thin bars rising from both its ends). A second pass takes runs
    # down to a quarter of a rule (under one small digit) that have no ink at all under them and
    # are longer than the ink on them is tall: the bar of a 4 has its stem under it.
    ruled = hmask.copy()  # the long rules and box lines found so far
    half = cfg.line_min_length // 2
    for shortest in (half, half // 2):
        # (an odd kernel no longer than ``shortest``: a run exactly half a rule long is one)
        short = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((1, (shortest - 1) | 1), np.uint8))
        short = cv2.bitwise_and(short, cv2.bitwise_not(hmask))
        if not short.any():
            continue
        n, labels, stats, _ = _components(short)
        for i in range(1, n):
            x, y, w, h, area = stats[i]
            if (h > t or w >= (cfg.line_min_length | 1) or boxed[y : y + h, x : x + w].any()
                    or ruled[y + h : y + h + 3 * t, x : x + w].any()):  # a field has one line under it
                continue
            if shortest < half and w > half:  # the first pass judged the runs this long
                continue
            # the ink standing on it: what is joined to it, seen in a window around it
            y0, x0, x1 = max(0, y - 2 * w), max(0, x - w), min(binary.shape[1], x + 2 * w)
            _, wl, ws, _ = _components(binary[y0 : y + h, x0:x1])
            on = np.unique(wl[y - y0 :, x - x0 : x - x0 + w])
            tall = max(int(ws[k, 3]) for k in on if k)
            # the ink hanging from it (the stem of a 7 from its bar; a stroke standing on a line
            # may dip a row or two through it), and any ink under it
            _, dl, ds, _ = _components(binary[y : y + h + w, x0:x1])
            hang = max(int(ds[k, 1] + ds[k, 3]) for k in np.unique(dl[:h, x - x0 : x - x0 + w]) if k) - h
            # the rows just under it: a stroke dipping through it, or one digit's own foot
            dip = binary[y + h : y + h + 2, x : x + w].any(axis=0).mean() > DIP and _standing(
                binary[y0:y, x0:x1], x - x0, w, tall - h) < 2
            below = _components(binary[y + h + 2 : y + h + w // 2, x : x + w])[2][1:, 4]
            under = hang > 2 or dip or bool((below >= SPECK).any())  # (dust under it is no ink)
            if shortest < half and (under or w < 1.2 * (tall - h)):
                continue
            alone = tall == h and not under  # no ink on it or under it
            # a hairline's length against the ink on it; not the bar of a 7
            hairline = h <= 3 and w >= 1.5 * (tall - h) and hang <= max(t, tall - h)
            if (alone or _ticks_at_ends(binary, x, y, w, t) or hairline
                    or _runs_past(binary[y0:y, x0:x1], x - x0, w, tall - h)):
                hmask[y : y + h, x : x + w][labels[y : y + h, x : x + w] == i] = 255
                rules.append(_Rule(int(x), int(x + w), int(y)))
    # long upright lines (a table's column lines, a fold, the margin line of ruled paper, a page
    # edge): runs taller than any digit, no thicker than a printed line, and the whole of a piece
    # of ink that thin and that tall (a line leaning a little has no such run all the way)
    upright = np.zeros_like(binary)
    # (looked for only where ink runs half a tallest digit down a column: most pages have none)
    deep = cv2.erode(binary, np.ones((cfg.max_height // 2 | 1, 1), np.uint8)).any()
    tall = np.ones((cfg.max_height | 1, 1), np.uint8)
    for mask, thin in ((cv2.morphologyEx(binary, cv2.MORPH_OPEN, tall), t), (binary, 2 * t)) if deep else ():
        n, labels, stats, _ = _components(mask)
        for i in np.flatnonzero((stats[1:, 2] <= thin) & (stats[1:, 3] > cfg.max_height)) + 1:
            x, y, w, h, _ = stats[i]
            upright[y : y + h, x : x + w][labels[y : y + h, x : x + w] == i] = 255
    if not rules and not upright.any():
        return binary, rules
    core = float(np.percentile(ink[hmask > 0], 75)) if ink is not None and hmask.any() else 0.0  # the lines' darkness
    if core:  # a rule's blurred edges (a scan, the deskew) along it, far fainter than its core: the rule's too
        faint = cv2.compare(ink, EDGE_FAINT * core, cv2.CMP_LT)
        hmask |= binary & faint & cv2.dilate(hmask, np.ones((5, 1), np.uint8))
    # comb-box bars: thin vertical runs joining a rule above to a rule below
    near = cv2.dilate(hmask, np.ones((2 * t + 1, 3), np.uint8))
    vert = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((15, 1), np.uint8))
    n, labels, stats, _ = _components(vert)
    vmask = fv | _comb_ticks(binary, rules) | upright
    for i in range(1, n):
        x, y, w, h, _ = stats[i]
        if w <= t and near[y, x : x + w].any() and near[y + h - 1, x : x + w].any() and not boxed[y + h // 2, x]:
            # the rule's thickness where the bar meets it: a much thinner "bar" is a pen stroke
            col = hmask[max(0, y - 2 * t - 2) : y + h + 2 * t + 2, x + w // 2] > 0
            if _like_line(int(w), max(_run_length(col, 0), _run_length(col[::-1], 0))):
                vmask[labels == i] = 255
    # remove, then bridge strokes that crossed a removed line
    cleaned = cv2.bitwise_and(binary, cv2.bitwise_not(cv2.bitwise_or(hmask, vmask)))
    # (across the lines' own thickness: a wider bridge joins two digits on either side of a box side)
    th, tv = min(t, _typical_run(hmask.T)), min(t, _typical_run(vmask))
    # only from strokes crossing a line: ink 3 px long across it, or half as dark as the lines (not
    # a faint edge left along it)
    dark = cleaned & cv2.compare(ink, CROSS_DARK * core, cv2.CMP_GE) if core else np.zeros_like(cleaned)
    crossing = cv2.morphologyEx(cleaned, cv2.MORPH_OPEN, np.ones((3, 1), np.uint8)) | dark
    bridge_v = cv2.morphologyEx(crossing, cv2.MORPH_CLOSE, np.ones((th + 3, 1), np.uint8))
    crossing = cv2.morphologyEx(cleaned, cv2.MORPH_OPEN, np.ones((1, 3), np.uint8)) | dark
    bridge_h = cv2.morphologyEx(crossing, cv2.MORPH_CLOSE, np.ones((1, tv + 3), np.uint8))
    cleaned |= bridge_v & hmask
    cleaned |= bridge_h & vmask
    cleaned |= inked & hmask & cv2.bitwise_not(cv2.dilate(vmask, np.ones((3, 2 * t + 1), np.uint8)))  # not bars
    if ink is not None:  # pen ink on the lines, where it touches a stroke kept (not specks along a line,
        # nor a soft line's own dark core, which stands out from its grey edges as far as a rule runs)
        on = _ink_on_lines(ink, hmask | vmask, cfg.min_contrast) & cv2.bitwise_not(cleaned)
        n, labels, stats, _ = _components(on)
        for i in range(1, n):
            x, y, w, h, _ = stats[i]
            if max(w, h) >= cfg.line_min_length:
                continue
            y0, x0 = max(0, y - 1), max(0, x - 1)
            own = (labels[y0 : y + h + 1, x0 : x + w + 1] == i).astype(np.uint8)
            if (cv2.dilate(own, np.ones((3, 3), np.uint8)) & cleaned[y0 : y + h + 1, x0 : x + w + 1]).any():
                cleaned[y0 : y + h + 1, x0 : x + w + 1][own > 0] = 255
    return cleaned, rules


def _parts(binary: np.ndarray, min_area: int) -> list[_Part]:
    n, labels, stats, _ = _components(binary)
    parts = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area >= min_area:
            mask = np.where(labels[y : y + h, x : x + w] == i, 255, 0).astype(np.uint8)
            parts.append(_Part(x, y, w, h, mask))
    return parts


def _union(a: _Part, b: _Part) -> _Part:
    x, y = min(a.x, b.x), min(a.y, b.y)
    w, h = max(a.x + a.w, b.x + b.w) - x, max(a.y + a.h, b.y + b.h) - y
    mask = np.zeros((h, w), np.uint8)
    for p in (a, b):
        mask[p.y - y : p.y - y + p.h, p.x - x : p.x - x + p.w] |= p.mask
    return _Part(x, y, w, h, mask)


def _without_rings(parts: list[_Part], min_height: int) -> list[_Part]:
    """The parts without the rings around other writing: a stamp's circle around its word, a
    ring or a box drawn around a number. A part whose closed loop holds another part at least
    ``min_height`` tall (not a speck of dust in a 0) is no digit: the ring is dropped, and what it
    holds is left to be read on its own (merged into the ring, it would read as one big 0)."""
    if not parts:
        return parts
    x, y, w, h = np.array([(p.x, p.y, p.w, p.h) for p in parts], np.int64).T
    tall = np.flatnonzero(h >= min_height)
    rings = set()
    for k in np.flatnonzero((h >= 2 * min_height) & (w >= 2 * min_height)):
        inner = tall[(x[tall] > x[k]) & (x[tall] + w[tall] < x[k] + w[k])
                     & (y[tall] > y[k]) & (y[tall] + h[tall] < y[k] + h[k])]
        centres = [(float(x[q] + w[q] / 2 - x[k]), float(y[q] + h[q] / 2 - y[k])) for q in inner]
        if centres and any(cv2.pointPolygonTest(c, pt, False) > 0 for c in holes(parts[k].mask) for pt in centres):
            rings.add(int(k))
    return [p for k, p in enumerate(parts) if k not in rings]


def merge_parts(parts: list[_Part], cfg: SegmentConfig = SegmentConfig()) -> list[_Part]:
    """Join the broken pieces of one digit (the detached top of a 5, an open 4).

    Two parts merge when they overlap horizontally by ``merge_overlap`` of the narrower, lie
    close vertically, and the union is still digit-shaped (not wider than ~1.1 x its height).
    A dot-sized part wholly below or above a digit (a dotted leader, a speck of dust) is not a
    piece of it: digits have no dots.
    """
    parts = sorted(parts, key=lambda p: -p.mask.size)
    box = np.array([_box_ends(p) for p in parts], np.int64).reshape(-1, 8)
    # the first mergeable pair in (i, j) order, merging into i, until no pair is left; only pairs
    # with the merged part can change, so the scan goes on from its row instead of restarting
    r = 0
    while r < len(parts):
        hit = np.flatnonzero(_mergeable(box[r], box[r + 1 :], cfg))
        if not len(hit):
            r += 1
            continue
        q = r + 1 + int(hit[0])
        parts[r] = _union(parts[r], parts[q])
        box[r] = _box_ends(parts[r])
        del parts[q]
        box = np.delete(box, q, axis=0)
        while r > 0 and len(hit := np.flatnonzero(_mergeable(box[:r], box[r], cfg))):
            p = int(hit[0])  # an earlier part now pairs with the grown one: it takes it
            parts[p] = _union(parts[p], parts[r])
            box[p] = _box_ends(parts[p])
            del parts[r]
            box = np.delete(box, r, axis=0)
            r = p
    return parts


def _box_ends(p: _Part) -> tuple[int, ...]:
    """A part's box (x, y, w, h) and the first and last ink columns of its top and of its bottom row."""
    top, bottom = np.flatnonzero(p.mask[0]), np.flatnonzero(p.mask[-1])
    return (p.x, p.y, p.w, p.h, p.x + top[0], p.x + top[-1], p.x + bottom[0], p.x + bottom[-1])


def _mergeable(a: np.ndarray, b: np.ndarray, cfg: SegmentConfig) -> np.ndarray:
    """Which pairs of parts :func:`merge_parts` joins, given as :func:`_box_ends`; ``a`` is the
    earlier part of each pair (it counts as the bigger on equal heights). Either side may be one
    part (8,) or many (N, 8)."""
    ax, ay, aw, ah, a_top0, a_top1, a_bot0, a_bot1 = (a[..., k] for k in range(8))
    bx, by, bw, bh, b_top0, b_top1, b_bot0, b_bot1 = (b[..., k] for k in range(8))
    ovx = np.minimum(ax + aw, bx + bw) - np.maximum(ax, bx)
    narrow = np.minimum(aw, bw)
    gap = np.maximum(ay, by) - np.minimum(ay + ah, by + bh)
    a_big = ah >= bh
    big_y, big_h = np.where(a_big, ay, by), np.where(a_big, ah, bh)
    small_y, small_w, small_h = np.where(a_big, by, ay), np.where(a_big, bw, aw), np.where(a_big, bh, ah)
    # a dot wholly under or over the digit (a leader, a speck of dust) is not a piece of it
    dot = (((small_y >= big_y + big_h) | (small_y + small_h <= big_y))
           & (np.maximum(small_w, small_h) <= 0.25 * big_h))
    uw = np.maximum(ax + aw, bx + bw) - np.minimum(ax, bx)
    uh = np.maximum(ay + ah, by + bh) - np.minimum(ay, by)
    side_by_side = (small_h >= 0.6 * big_h) & (ovx < 0.8 * narrow)  # two tall strokes: likely two digits
    # a thin pen's digit broken across its middle: two halves stacked, a few pixels apart at most,
    # overlapping by half the narrower, or (a slanted stroke broken: a 1; each half a stroke, not
    # the dash of a dashed line) where the upper half's lowest ink lies within the gap's size of
    # the lower half's highest
    stacked = (gap >= 0) & (gap <= np.maximum(1, 0.35 * big_h)) & (uh <= 2.2 * big_h)
    a_over = ay + ah <= by
    apart = np.where(a_over, np.maximum(b_top0 - a_bot1, a_bot0 - b_top1), np.maximum(a_top0 - b_bot1, b_bot0 - a_top1))
    # (or whose rows overlap a little: a faint digit broken across its middle, the halves alike)
    overlap = (gap < 0) & (-gap <= 0.35 * small_h) & (small_h >= 0.6 * big_h)
    halves = (stacked | overlap) & (ovx >= 0.5 * narrow)
    stroke = stacked & (apart <= np.maximum(2, gap)) & (small_h >= np.maximum(small_w, 0.3 * big_h))
    return (~dot & (uw <= 1.1 * uh) & (stroke | ((ovx >= cfg.merge_overlap * narrow) & (gap <= 0.4 * big_h)
            & (((uh <= 1.6 * big_h) & ~side_by_side) | halves))))


def _cut(part: _Part, cuts: Sequence[int | np.ndarray]) -> list[_Part]:
    """The part cut at ``cuts``, left to right: a column, or a column per row (a seam)."""
    pieces = []
    cols = np.arange(part.w)
    bounds = [0, *cuts, part.w]
    for c0, c1 in zip(bounds[:-1], bounds[1:]):
        if np.ndim(c0) == 0 and np.ndim(c1) == 0:
            m = part.mask[:, c0:c1]
            x0 = int(c0)
        else:
            inside = (cols >= np.reshape(c0, (-1, 1))) & (cols < np.reshape(c1, (-1, 1)))
            m, x0 = np.where(inside, part.mask, 0).astype(np.uint8), 0
        ys, xs = np.nonzero(m)
        if len(ys) == 0:
            continue
        y0, y1, a, b = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        pieces.append(_Part(part.x + x0 + int(a), part.y + int(y0), int(b - a), int(y1 - y0), m[y0:y1, a:b].copy()))
    return pieces


def _windows(part: _Part, n: int) -> list[tuple[int, int, float]]:
    """For each of the n-1 cuts, the columns searched (lo, hi) and the even split point."""
    step = part.w / n
    out = []
    for k in range(1, n):
        lo, hi = max(int(k * step - 0.3 * step), 1), min(int(k * step + 0.3 * step) + 1, part.w - 1)
        out.append((lo, hi, k * step))
    return out


def _cut_points(part: _Part, n: int) -> list[int]:
    """n-1 columns near the even split points where the ink is thinnest."""
    profile = (part.mask > 0).sum(axis=0).astype(np.float64)
    cuts = []
    for lo, hi, even in _windows(part, n):
        window = profile[lo:hi]
        if len(window) == 0:
            cuts.append(int(even))
            continue
        # thinnest column; ties broken towards the even split point
        cols = np.arange(lo, lo + len(window))
        cuts.append(int(cols[np.lexsort((np.abs(cols - even), window))[0]]))
    return cuts


PAIR_CUTS = 3  # two touching digits of unlike widths (a wide 7 and a narrow 9): this many more cuts tried ...
PAIR_CUT_WHOLE = 0.5  # ... when the part reads as a digit less clearly than this whole (and its pieces
                      # more clearly than this, geometric mean)


def _pair_cuts(part: _Part) -> list[int]:
    """Columns between a fifth and four fifths of the part where its ink is locally thinnest,
    ``PAIR_CUTS`` of the thinnest, other than the one :func:`_cut_points` takes for two pieces."""
    profile = (part.mask > 0).sum(axis=0).astype(np.float64)
    lo, hi = max(1, int(0.2 * part.w)), min(part.w - 1, int(0.8 * part.w) + 1)
    if hi - lo < 3:
        return []
    p = profile[lo - 1 : hi + 1]
    minima = np.flatnonzero((p[1:-1] <= p[:-2]) & (p[1:-1] < p[2:])) + lo
    taken = set(_cut_points(part, 2))
    return [int(c) for c in minima[np.argsort(profile[minima], kind="stable")] if int(c) not in taken][:PAIR_CUTS]


def _seams(part: _Part, counts: Sequence[int]) -> list[list[np.ndarray]]:
    """For each n in ``counts``, n-1 seams near the even split points: per row, the column where
    the cut goes, a path that moves at most one column a row and crosses the least ink (two digits
    that overlap side by side, the foot of a 2 under the next digit, which no straight cut
    separates). All the windows are searched in one pass over the rows."""
    windows = [w for n in counts for w in _windows(part, n)]
    paths = _seam_paths(part, windows)
    out, k = [], 0
    for n in counts:
        out.append(paths[k : k + n - 1])
        k += n - 1
    return out


def _seam_paths(part: _Part, windows: Sequence[tuple[int, int, float]]) -> list[np.ndarray]:
    """For each window (lo, hi, even) of columns, the seam in it that crosses the least ink (ties
    towards ``even``): per row, the column where the cut goes, moving at most one column a row."""
    ink = (part.mask > 0).astype(np.float64)
    blocks, starts = [], []
    for lo, hi, even in windows:  # the windows side by side, walled off from each other
        cols = np.arange(lo, max(hi, lo + 1))
        starts.append(sum(b.shape[1] for b in blocks))
        blocks += [ink[:, cols.clip(0, part.w - 1)] + 0.01 * np.abs(cols - even) / max(1.0, hi - lo),
                   np.full((part.h, 1), np.inf)]
    cost = np.hstack(blocks)
    total = np.empty_like(cost)  # least cost of a path from the top row to each pixel
    total[0] = cost[0]
    best = np.empty(cost.shape[1])
    for y in range(1, part.h):
        prev = total[y - 1]
        best[:] = prev
        np.minimum(best[1:], prev[:-1], out=best[1:])
        np.minimum(best[:-1], prev[1:], out=best[:-1])
        np.add(best, cost[y], out=total[y])
    paths = []
    for (lo, hi, _), a in zip(windows, starts):
        width = max(hi, lo + 1) - lo
        path = np.empty(part.h, np.int64)
        x = a + int(total[-1, a : a + width].argmin())
        for y in range(part.h - 1, -1, -1):
            path[y] = x
            if y:
                b = max(x - 1, a)
                x = b + int(total[y - 1, b : min(x + 2, a + width)].argmin())
        paths.append(path - a + lo)
    return paths


SUSPECT = 0.99  # a part nearly as wide as tall read less surely than this ...
SUSPECT_WIDTH = 0.8  # ... and at least this x as wide as tall is tried cut too (13 read as an 8) ...
SUSPECT_CUT = 0.95  # ... a cut taken only when its pieces read this clearly, none of them as a 1 ...
SUSPECT_ONES = 0.8  # ... unless the part reads less clearly than this whole (a 1 touching a 7 read as a 0)


def _doubtful(parts: list[_Part], scorer: Scorer, cfg: SegmentConfig) -> dict[int, float]:
    """The parts nearly as wide as tall (0.75 to ``split_aspect`` x) to be tried as touching
    digits too (:func:`split_wide`), by ``id``, with the least reading a cut of each needs: those
    the classifier reads poorly as a digit (under 0.5; any cut that beats the whole), perhaps a
    narrow digit touching the next (a 1 joined to a 9), where a letter's "not a digit" reading
    keeps it whole against a cut into strokes; and those at least ``SUSPECT_WIDTH`` x as wide as
    tall read less surely than ``SUSPECT``, two digits written into each other that read as one
    (73 as a 3; a cut of ``SUSPECT_CUT``, no piece a 1 unless the part reads under
    ``SUSPECT_ONES`` whole: a 0 falls into a 1 and a 7 that read clearly). Needs a scorer that answers class probabilities (else none are)."""
    cand = [p for p in parts if 0.75 * p.h < p.w <= cfg.split_aspect * p.h]
    if not cand:
        return {}
    conf, _, digit = _score(scorer, np.stack([p.crop for p in cand]))
    out = {id(p): 0.0 for p, c, d in zip(cand, conf, digit) if c < 0.5 and d >= 0}
    out.update({id(p): SUSPECT_CUT for p, c, d in zip(cand, conf, digit)
                if 0.5 <= c < SUSPECT and d >= 0 and p.w >= SUSPECT_WIDTH * p.h and p.h >= 2 * cfg.min_height})
    return out


def split_wide(part: _Part, cfg: SegmentConfig = SegmentConfig(), scorer: Scorer | None = None,
               doubtful: float | None = None) -> list[_Part]:
    """Split a component much wider than a digit into touching digits.

    Also tried, with a probability ``scorer``, when ``doubtful`` (see :func:`_doubtful`: the least
    reading a cut needs) though not that wide. Candidate splits into 2..6 pieces cut at the
    thinnest columns, and with a ``scorer`` also (for parts up to ``SEAM_WIDTH`` x as wide as tall and twice the least digit
    height) into 2 or 3 along the seams that cross the least ink (:func:`_seams`), and, when the
    part reads as no digit whole or is ``doubtful``, into 2 at other narrow places (:func:`_pair_cuts`:
    a wide 7 touching a narrow 9, a 1 run into a 7), taken only when no other cut will do and both
    pieces read clearly (and as a doubtful part's cuts must); a cut that
    opens a closed loop of the part (:func:`_loops`) scores ``LOOP_CUT`` x its confidence, unless
    as many of its pieces read as a digit with a loop (``LOOP_DIGITS``) as the part has loops (a 0
    or a 3 run into a 0: the cut opens the pair's loop, but the 0 still reads as one), and
    one that leaves a piece shorter than ``SHORT_PIECE`` x the part none when the unsplit part
    competes and reads at all as a digit (0.3 or more: digits side by side fill the part's
    height, the top and the foot of a 7 with a bent stem do not, however clearly each reads), nor
    one that cuts the open loop off a 6 (:func:`_open_six`); the one
    whose pieces the classifier reads most confidently (geometric mean) wins, the unsplit part
    competing when it is not too wide, scored by how sure the classifier is of it as a digit (a
    wider one, up to ``LONG_FOOT`` x as wide as tall, stays whole when it reads as a digit and its
    best cut poorly: a 2 whose foot runs on).
    Against a cut whose pieces read as 1s (all, or all but one), it also counts how sure the
    classifier is of it as "not a digit": a printed m or n stays whole rather than falling into
    strokes, while touching digits (30, 891), which together read as no digit, are still cut.
    Without a scorer, the count comes from the aspect ratio.
    """
    if part.w <= cfg.split_aspect * part.h and doubtful is None:
        return [part]
    most = int(np.clip(round(part.w / (0.45 * part.h)), 2, 6))
    options = [_cut(part, _cut_points(part, n)) for n in range(2, most + 1)]
    written_into = scorer is not None and part.w <= SEAM_WIDTH * part.h and part.h >= 2 * cfg.min_height
    if written_into:  # two or three digits written into each other (not a word, nor print): also along seams
        options += [_cut(part, seams) for seams in _seams(part, range(2, min(most, 3) + 1))]
    options = [o for o in options if len(o) > 1]
    if not options:
        return [part]
    if scorer is None:
        if part.w <= 1.6 * part.h:  # without a classifier to judge, only clearly double-wide parts
            return [part]
        want = max(2, int(round(part.w / (0.7 * part.h))))
        return min(options, key=lambda o: abs(len(o) - want))
    whole = part.w <= 2.1 * part.h  # a 2 or a 7 may be written twice as wide as tall
    glyphs = np.stack([p.crop for o in options for p in o] + ([part.crop] if whole else []))
    conf, not_digit, digit = _score(scorer, glyphs)
    conf = np.clip(conf, 1e-6, 1.0)
    n_plain = len(options)
    need = doubtful or 0.0  # set only for parts not wider than split_aspect (_doubtful)
    if written_into and whole and (conf[-1] < PAIR_CUT_WHOLE or need):  # no digit whole, or doubtful: more cuts
        extra = [o for o in (_cut(part, [c]) for c in _pair_cuts(part)) if len(o) > 1]
        if extra:
            more = _score(scorer, np.stack([p.crop for o in extra for p in o]))
            conf, not_digit, digit = (np.concatenate([a[:-1], b, a[-1:]]) for a, b in
                                      zip((conf, not_digit, digit), (np.clip(more[0], 1e-6, 1.0), *more[1:])))
            options += extra
    scores, ones, has_one, at = [], [], [], 0
    loops = _loops(part.mask, part.h) if whole else 0
    for o in options:
        scores.append(float(np.exp(np.log(conf[at : at + len(o)]).mean())))
        if (loops and sum(_loops(p.mask, part.h) for p in o) < loops
                and np.isin(digit[at : at + len(o)], LOOP_DIGITS).sum() < loops):
            scores[-1] *= LOOP_CUT  # a cut through a loop: a wide 0 or 6 falls into a 1 and a 7
        pairs = zip(o, o[1:], digit[at:], digit[at + 1 :], strict=False)
        if whole and conf[-1] >= 0.3 and (min(q.h for q in o) < SHORT_PIECE * part.h
                                          or any(_open_six(a, b, int(d), int(e)) for a, b, d, e in pairs)):
            scores[-1] = 0.0  # side-by-side digits fill the part's height: pieces of one (or a 6 and its open loop)
        ones.append(bool((digit[at : at + len(o)] == 1).sum() >= len(o) - 1))
        has_one.append(bool((digit[at : at + len(o)] == 1).any()))
        at += len(o)

    def beats_whole(k: int) -> bool:  # the unsplit part wins over a cut that reads less clearly than it
        return not whole or scores[k] >= max(MIN_CUT, max(conf[-1], not_digit[-1]) if ones[k] else conf[-1])

    no_ones = need and whole and conf[-1] >= SUSPECT_ONES
    plain = [k for k in range(n_plain) if beats_whole(k) and scores[k] >= need and not (no_ones and has_one[k])]
    # where no other cut will do: the extra cuts, when their pieces read clearly
    valid = plain or [k for k in range(n_plain, len(options)) if scores[k] >= max(PAIR_CUT_WHOLE, need)
                      and beats_whole(k) and not (no_ones and has_one[k])]
    if not valid:
        return [part]
    best = max(valid, key=lambda k: scores[k])
    if not whole and scores[best] < POOR_CUT and part.w <= LONG_FOOT * part.h:  # (a 2 with a long foot)
        if float(_score(scorer, part.crop[None])[0][0]) >= LONG_FOOT_WHOLE:
            return [part]
    return options[best]


SEAM_WIDTH = 2.1  # parts up to this x as wide as tall (and twice the least digit height) are also cut along seams
LOOP_CUT = 0.5  # a cut that opens a loop of the part scores this x its confidence, unless ...
LOOP_DIGITS = (0, 8, 9)  # ... as many pieces read as these (not 6: a wide 0's left arc reads as one)
SHORT_PIECE = 0.6  # a cut into a piece shorter than this x the part never beats it whole when it reads as a digit
MIN_CUT = 0.1  # a cut whose pieces read less clearly than this (geometric mean) never beats the unsplit part
POOR_CUT = 0.3  # a part too wide to compete with its cuts (up to LONG_FOOT x as wide as tall), whose best
LONG_FOOT = 3.0  # cut reads less clearly than POOR_CUT, stays whole when it reads as a digit at LONG_FOOT_WHOLE
LONG_FOOT_WHOLE = 0.8  # or more: a 2 whose foot runs on, cut into a 2 and a piece of foot that is no digit


def _open_six(a: _Part, b: _Part, digit_a: int, digit_b: int) -> bool:
    """Whether ``b``, the piece right of ``a`` (they read as ``digit_a`` and ``digit_b``), is the
    open loop of a 6 cut off it: ``a`` reads as a 6 but has no loop, and ``b``, read as a 7 or a 9,
    sits in its lower part (its top at least ``OPEN_SIX_DROP`` x ``a``'s height lower, and ``b``
    at most ``OPEN_SIX_HEIGHT`` x as tall), where the loop of a 6 is."""
    return (digit_a == 6 and digit_b in (7, 9) and not _loops(a.mask, a.h)
            and b.y - a.y >= OPEN_SIX_DROP * a.h and b.h <= OPEN_SIX_HEIGHT * a.h)


OPEN_SIX_DROP, OPEN_SIX_HEIGHT = 0.2, 0.8


def _loops(mask: np.ndarray, height: int) -> int:
    """Closed loops in a mask: holes of at least (0.15 x ``height``)^2 pixels."""
    return sum(1 for c in holes(mask) if cv2.contourArea(c) >= (0.15 * height) ** 2)


PEEL_WIDTH = (0.55, 1.2)  # parts this x as wide as tall are tried for a 1 written into one side ...
PEEL_ROWS = 0.85  # ... on a side with ink in this share of the rows at least; the pieces ...
PEEL_HEIGHT = 0.9  # ... both at least this x the part's height, one at most ...
PEEL_ONE = 0.4  # ... this x as wide as the part is tall ...
PEEL_CONFIDENCE = 0.99  # ... read as a 1, and the other as another digit, at least this clearly


def peel_ones(parts: list[_Part], scorer: Scorer, min_height: int,
              keep: set[int] | frozenset[int] = frozenset()) -> list[_Part]:
    """Cut a 1 off the side of the digit it was written into (91, 51, 10 read as 9, 5, 0).

    A part not much wider than tall reads as one digit, often clearly, when a 1 touches it, and
    is no candidate for :func:`split_wide`. Each such part (``PEEL_WIDTH``, at least twice
    ``min_height`` tall) is cut along the seam that crosses the least ink in its left and in
    its right third or so, where that side has ink in nearly every row (``PEEL_ROWS``, as a 1
    has); a cut is taken when both pieces are nearly the part's height (``PEEL_HEIGHT``), the
    narrow one (``PEEL_ONE``) reads as a 1 and the other as another digit at least
    ``PEEL_CONFIDENCE``, and no loop of the part is opened (a 0 does not fall into two arcs).
    The clearest such cut wins. Parts whose ``id`` is in ``keep`` (one in a box) are left whole.
    """
    lo_w, hi_w = PEEL_WIDTH
    options: list[tuple[int, list[_Part]]] = []
    for k, p in enumerate(parts):
        if id(p) in keep or not (lo_w * p.h <= p.w <= hi_w * p.h and p.h >= 2 * min_height):
            continue
        sides = [(max(1, int(0.15 * p.w)), max(2, int(0.45 * p.w)), 0.3 * p.w),
                 (int(0.55 * p.w), min(p.w - 1, int(0.85 * p.w) + 1), 0.7 * p.w)]
        rows = [p.mask[:, : sides[0][1]].any(axis=1).mean(), p.mask[:, sides[1][0] :].any(axis=1).mean()]
        sides = [side for side, r in zip(sides, rows) if r >= PEEL_ROWS]
        for path in _seam_paths(p, sides) if sides else []:
            pieces = _cut(p, [path])
            if (len(pieces) == 2 and min(q.h for q in pieces) >= PEEL_HEIGHT * p.h
                    and min(q.w for q in pieces) <= PEEL_ONE * p.h):
                options.append((k, pieces))
    if not options:
        return parts
    conf, _, digit = _score(scorer, np.stack([q.crop for _, pieces in options for q in pieces]))
    best: dict[int, tuple[float, list[_Part]]] = {}
    for n, (k, pieces) in enumerate(options):
        c, d = conf[2 * n : 2 * n + 2], digit[2 * n : 2 * n + 2]
        one = 0 if pieces[0].w <= pieces[1].w else 1
        if (d[one] == 1 and d[1 - one] not in (1, -1) and c.min() >= PEEL_CONFIDENCE
                and sum(_loops(q.mask, parts[k].h) for q in pieces) >= _loops(parts[k].mask, parts[k].h)
                and float(c.prod()) > best.get(k, (0.0, []))[0]):
            best[k] = (float(c.prod()), pieces)
    return [q for k, p in enumerate(parts) for q in (best[k][1] if k in best else [p])]


def attach_bars(parts: list[_Part], scorer: Scorer, min_height: int, max_height: int) -> list[_Part]:
    """Give a digit back its detached top bar (the flag of a 5 written in two strokes that do not
    meet, the bar of a 7): a flat piece by the top of a digit, beside it or above it, that
    :func:`merge_parts` leaves out because the two hardly overlap horizontally. Left alone, the
    bar is dropped as a speck, the 5 reads as a 6 or a 0, and the gap it leaves can split the field.

    A flat piece (at least twice as wide as tall) is a candidate for a digit at least three times
    its height and ``min_height`` to ``max_height`` tall when it lies in the digit's top third (from half the
    digit's height above its top), at most a third of that height away horizontally, and is no
    wider than 1.5 x the digit's height. It is attached to the candidate digit whose union with it the
    classifier reads best, when that union reads at least ``JOIN_CONFIDENCE`` and about as well
    as the digit alone or better (``BAR_MARGIN``: the bar alone is no digit and would be lost; a
    5's body alone reads as a clear 6); a digit takes one bar at most.

    Args:
        parts: pieces of ink (deskewed frame), after :func:`merge_parts`.
        scorer: how glyphs read (:data:`Scorer`); the top digit's confidence is used.

    Returns:
        The parts, attached bars replaced by the unions (order not kept).
    """
    flat = [k for k, p in enumerate(parts) if p.w >= 2 * p.h]
    if not flat:
        return parts
    box = np.array([(p.x, p.y, p.w, p.h) for p in parts], np.int64).reshape(-1, 4)
    x, y, w, h = box.T
    pairs = []
    for k in flat:
        b = parts[k]
        gap = np.maximum(b.x - (x + w), x - (b.x + b.w))
        near = ((h >= 3 * b.h) & (h >= min_height) & (h <= max_height) & (b.w <= 1.5 * h) & (gap <= h / 3)
                & (b.y + b.h <= y + h / 3) & (b.y >= y - h / 2))
        pairs += [(k, int(d)) for d in np.flatnonzero(near)]
    if not pairs:
        return parts
    digits = sorted({d for _, d in pairs})
    unions = [_union(parts[d], parts[k]) for k, d in pairs]
    conf, _, _ = _score(scorer, np.stack([parts[d].crop for d in digits] + [u.crop for u in unions]))
    alone = dict(zip(digits, conf[: len(digits)]))
    best: dict[int, tuple[float, int]] = {}  # bar -> (union confidence, pair)
    for n, (k, d) in enumerate(pairs):
        cu = float(conf[len(digits) + n])
        if cu >= JOIN_CONFIDENCE and cu > float(alone[d]) - BAR_MARGIN and cu > best.get(k, (0.0, -1))[0]:
            best[k] = (cu, n)
    used: set[int] = set()
    out = []
    for cu, n in sorted(best.values(), reverse=True):
        k, d = pairs[n]
        if d not in used:
            used.update((k, d))
            out.append(unions[n])
    return out + [p for i, p in enumerate(parts) if i not in used]


BAR_MARGIN = 0.01  # a bar is attached when the union reads no less clearly than the digit alone, less this
BOX_JOIN = 0.5  # the pieces in one box are joined when the union reads this clearly (join_in_boxes)
BOX_WIDTH = 1.5  # a box on its own at most this x as wide as tall holds one digit (_cell_of); a wider one, a number
JOIN_CONFIDENCE = 0.9  # a union of two pieces must read at least this clearly to replace them ...
JOIN_UNSURE = 0.95  # ... and one of the pieces must read less clearly than this
FRAGMENT = 0.7  # a piece at most this x as tall as its neighbour, apart from it, is a fragment of it ...
FRAGMENT_GAP = 0.3  # ... when the gap is at most this x the neighbour's height
HALVES_WIDTH = 1.3  # two pieces that far apart or closer, both read less clearly than JOIN_UNSURE and
                    # together no wider than this x their height, are the halves of a 0: "( )"
HALVES, ONE_BOX = -2, -3  # join_pieces' codes for such halves, and for the two pieces inside one box


def join_pieces(parts: list[_Part], scorer: Scorer, rules: Sequence[_Rule] = (), t: int = 0) -> list[_Part]:
    """Join two side-by-side pieces of one digit that :func:`merge_parts` cannot tell from two
    digits by shape alone: the halves of a 0 or a 6 with a gap in the stroke, a 2 or a 7 whose
    top came off.

    Candidates are neighbours whose boxes touch or overlap (at most 1 px apart), overlapping
    vertically by half the shorter, whose union is digit-shaped (no wider than 2 x its height,
    no taller than 1.3 x the taller piece); or one over the other (overlapping horizontally by
    half the narrower, at most 0.15 x the taller apart, the union no taller than 2.2 x the taller
    and no wider than 1.5 x its height): a wide digit broken across its middle, which
    :func:`merge_parts` leaves apart by shape alone. A pair is joined when the classifier reads the union
    at least ``JOIN_CONFIDENCE`` and better than each piece,
    and at least one piece reads less clearly than ``JOIN_UNSURE`` (two clear digits, a 1 and a
    0 written close, stay two). Also tried: a fragment (at most ``FRAGMENT`` x as tall as its
    neighbour, about within its height) across a gap of up to ``FRAGMENT_GAP`` x the neighbour's
    height, the loop of a 6 come off its stem; only the neighbour's reading counts against the
    union (the loop alone reads as a 0 but is no digit at its size); and two pieces of about one
    height across such a gap, both read less clearly than ``JOIN_UNSURE``, together no wider than
    ``HALVES_WIDTH`` x their height: the two arcs of a 0 broken at top and bottom, "( )"; and,
    with the page's ``rules`` (``t``: their greatest thickness), the two pieces inside one box of a
    row of printed boxes (:func:`_cell_of`), joined whenever the union reads ``JOIN_CONFIDENCE``:
    a box holds one digit.
    Pairs are taken best gain first, each part in one pair at most.

    Args:
        parts: candidate glyphs (deskewed frame).
        scorer: how glyphs read (:data:`Scorer`); the top digit's confidence is used.
        rules: the page's rules (:func:`remove_rules`), for its rows of boxes.
        t: the greatest thickness of a printed line (``SegmentConfig.line_max_thickness``).

    Returns:
        The parts, joined pairs replaced by their union (order not kept).
    """
    order = sorted(range(len(parts)), key=lambda i: parts[i].x)
    reach = FRAGMENT_GAP * max((p.h for p in parts), default=0)
    pairs, fragments = [], []  # fragments: the small piece of a pair across a gap, else -1 (or HALVES, ONE_BOX)
    for a_pos, i in enumerate(order):
        a = parts[i]
        for j in order[a_pos + 1 :]:
            b = parts[j]
            gap = b.x - (a.x + a.w)
            if gap > reach:
                break
            ovy = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
            uh = max(a.y + a.h, b.y + b.h) - min(a.y, b.y)
            uw = max(a.x + a.w, b.x + b.w) - min(a.x, b.x)
            if gap > 1:  # across a gap: a fragment beside a digit's body, about in its height, or two halves
                small, big = (i, b) if a.h < b.h else (j, a)
                if gap > FRAGMENT_GAP * big.h:
                    continue
                if parts[small].h <= FRAGMENT * big.h and uh <= 1.15 * big.h:
                    pairs.append((i, j))
                    fragments.append(small)
                elif ovy >= 0.5 * min(a.h, b.h) and uw <= HALVES_WIDTH * uh and uh <= 1.3 * big.h:
                    pairs.append((i, j))
                    fragments.append(HALVES)
                continue
            ovx = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
            beside = ovy >= 0.5 * min(a.h, b.h) and uw <= 2.0 * uh and uh <= 1.3 * max(a.h, b.h)
            # or one over the other, all but touching: a digit broken across its middle
            stacked = (ovx >= 0.5 * min(a.w, b.w) and -ovy <= max(1.0, 0.15 * max(a.h, b.h))
                       and uw <= 1.5 * uh and uh <= 2.2 * max(a.h, b.h))
            if beside or stacked:
                pairs.append((i, j))
                fragments.append(-1)
    for ks in _cells(parts, rules, t).values():  # the two pieces in one box of a row of boxes: one digit
        if len(ks) == 2:
            pair = (ks[1], ks[0]) if (ks[1], ks[0]) in pairs else (ks[0], ks[1])
            if pair in pairs:  # already a candidate: judged as one box's pieces
                fragments[pairs.index(pair)] = ONE_BOX
            else:
                pairs.append(pair)
                fragments.append(ONE_BOX)
    if not pairs:
        return parts
    singles = sorted({k for pair in pairs for k in pair})
    unions = [_union(parts[i], parts[j]) for i, j in pairs]
    conf, _, _ = _score(scorer, np.stack([parts[k].crop for k in singles] + [u.crop for u in unions]))
    conf = np.clip(conf, 1e-6, 1.0)
    single = dict(zip(singles, conf[: len(singles)]))
    gains = []
    for n, ((i, j), small) in enumerate(zip(pairs, fragments)):
        # a fragment is no digit at its size, however it reads (the loop of a 6 reads as a 0)
        pieces = [float(single[k]) for k in (i, j) if k != small]
        cu = float(conf[len(singles) + n])
        unsure = max(pieces) if small == HALVES else min(pieces)
        if cu >= JOIN_CONFIDENCE and (small == ONE_BOX or (cu > max(pieces) and unsure < JOIN_UNSURE)):
            gains.append((cu - float(np.exp(np.mean(np.log(pieces)))), n))
    used: set[int] = set()
    out = []
    for _, n in sorted(gains, reverse=True):
        i, j = pairs[n]
        if i not in used and j not in used:
            used.update((i, j))
            out.append(unions[n])
    return out + [p for k, p in enumerate(parts) if k not in used]


def join_in_boxes(parts: list[_Part], scorer: Scorer, rules: Sequence[_Rule], t: int) -> list[_Part]:
    """The pieces inside one box of a row of printed boxes (:func:`_cell_of`: not a wide box on its
    own; specks too small for a digit included), joined when the union reads as a digit at least ``BOX_JOIN`` and more
    clearly than the biggest piece alone: a box holds one digit, and a thin pen's digit may come
    apart in several pieces (the bar, the middle and the belly of a 5, none of which reads as a
    digit), or lose a bar too thin to be a digit on its own (the body of a 5 reads as a 3).
    Judged before the specks are dropped; :func:`join_pieces` judges the pieces left later."""
    groups = [ks for ks in _cells(parts, rules, t).values() if len(ks) >= 2]
    if not groups:
        return parts
    unions = []
    for ks in groups:
        u = parts[ks[0]]
        for k in ks[1:]:
            u = _union(u, parts[k])
        unions.append(u)
    biggest = [max(ks, key=lambda k: int((parts[k].mask > 0).sum())) for ks in groups]
    conf, _, _ = _score(scorer, np.stack([u.crop for u in unions] + [parts[k].crop for k in biggest]))
    n = len(groups)
    joined = {k for g, ks in enumerate(groups) if conf[g] >= BOX_JOIN and conf[g] > conf[n + g] for k in ks}
    return [u for g, u in enumerate(unions) if groups[g][0] in joined] + [p for k, p in enumerate(parts) if k not in joined]


def _anchor(p: _Part, rules: list[_Rule]) -> int | None:
    """Index of the rule this part is written on (just below it, or crossing its bottom; for a row
    of boxes, anywhere between its top and bottom lines: a small digit high in a tall box), if any."""
    best, best_d = None, None
    for i, r in enumerate(rules):
        if r.x0 - 0.2 * p.w <= p.cx <= r.x1 + 0.2 * p.w:
            if r.top >= 0 and r.top <= p.y + p.h / 2 <= r.y:
                return i
            d = r.y - (p.y + p.h)
            if -0.5 * p.h <= d <= 0.6 * p.h and (best_d is None or abs(d) < best_d):
                best, best_d = i, abs(d)
    return best


def _same_lines(rules: list[_Rule], t: int) -> list[int]:
    """For each rule, the index of the first rule of the printed line it belongs to: rules whose x
    ranges overlap and whose rows are at most ``t`` apart are one line (a box row's bottom line is
    found both as the box's bottom and as a long rule, a row or two apart).

    Example:
        >>> _same_lines([_Rule(0, 100, 50), _Rule(0, 100, 52), _Rule(0, 100, 90)], 9)
        [0, 0, 2]
    """
    parent = list(range(len(rules)))
    for i, a in enumerate(rules):
        for j in range(i):
            b = rules[j]
            if abs(a.y - b.y) <= t and min(a.x1, b.x1) > max(a.x0, b.x0):
                parent[i] = parent[j]
                break
    return parent


def _drop_specks_beside_digits(parts: list[_Part], ratio: float) -> list[_Part]:
    """Without the parts under ``ratio`` of the height of a part beside them (at most that part's
    height away, their middle within its rows): the dashes of a dotted separator, a colon, a
    speck by a number. Too short to be grouped with the digits, they would stand alone as fields
    of their own (a short bar reads as a confident 1).

    Example:
        >>> tall = _Part(0, 0, 20, 60, np.full((60, 20), 255, np.uint8))
        >>> dash = _Part(30, 20, 4, 15, np.full((15, 4), 255, np.uint8))
        >>> len(_drop_specks_beside_digits([tall, dash], 0.35))
        1
    """
    if len(parts) < 2:
        return parts
    b = np.array([(p.x, p.y, p.w, p.h) for p in parts], np.float32)
    x, y, w, h = (b[:, k] for k in range(4))
    mid = y + h / 2
    drop = np.zeros(len(parts), bool)
    for a in range(0, len(parts), 256):  # [part i of the chunk, part j beside it], memory bounded
        i = slice(a, a + 256)
        gap = np.maximum(x[None, :] - (x[i] + w[i])[:, None], x[i][:, None] - (x + w)[None, :])
        drop[i] = ((h[i][:, None] < ratio * h[None, :]) & (gap <= h[None, :])
                   & (mid[i][:, None] >= y[None, :]) & (mid[i][:, None] <= (y + h)[None, :])).any(axis=1)
    return [p for p, d in zip(parts, drop) if not d]


def _group(parts: list[_Part], rules: list[_Rule], cfg: SegmentConfig) -> list[list[_Part]]:
    """Runs of digits on one line -> fields (each sorted left to right)."""
    parts = _drop_specks_beside_digits(parts, cfg.speck_ratio)
    n = len(parts)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    line_of = _same_lines(rules, cfg.line_max_thickness)
    raw = [_anchor(p, rules) for p in parts]
    anchors = [None if a is None else line_of[a] for a in raw]
    # the end of the row of boxes a part is written in: digits in one row of boxes are one field,
    # however far apart (small digits in wide boxes, an empty box between them)
    row_end = [None if a is None or rules[a].top < 0 else rules[a].x1 for a in raw]
    # a bar inside a box, off its sides, is a short 1: the ticks of a comb stand on a rule, and the
    # sides of boxes (taken off by _frames, or left in pieces) stand where the sides are
    in_box = {id(p) for p in parts if _off_sides(p, rules, cfg.line_max_thickness)}
    order = sorted(range(n), key=lambda i: parts[i].x)
    for a_pos, i in enumerate(order):
        a = parts[i]
        for j in order[a_pos + 1 :]:
            b = parts[j]
            hm = max(a.h, b.h)
            gap = b.x - (a.x + a.w)
            in_row = row_end[i] is not None and row_end[j] == row_end[i] and anchors[j] == anchors[i]
            if gap > cfg.box_gap * hm and not in_row:
                if row_end[i] is None or b.x > row_end[i]:
                    break
                continue
            ovy = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
            if ovy < 0.5 * min(a.h, b.h) or hm > 2.5 * min(a.h, b.h):
                continue
            same = anchors[i] is not None and anchors[i] == anchors[j]
            differ = anchors[i] is not None and anchors[j] is not None and anchors[i] != anchors[j]
            if differ or (gap > (cfg.box_gap if same else cfg.field_gap) * hm and not in_row):
                continue
            parent[find(j)] = find(i)
    groups: dict[int, list[_Part]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(parts[i])
    fields = []
    for g in groups.values():
        g.sort(key=lambda p: p.x)
        if len(g) > 1:  # specks beside real digits
            med = float(np.median([p.h for p in g]))
            g = [p for p in g if p.h >= cfg.speck_ratio * med]
            # comb ticks between them: thin bars on the rule, much shorter than the other glyphs
            # (or, three or more of one height, evenly spaced: a comb's ticks may reach most of the
            # digits' height; 1s written on the rule differ in height)
            bar = [_is_tick(p, rules, cfg.line_max_thickness, solid=False) and id(p) not in in_box for p in g]
            if 0 < sum(bar) < len(g):
                tall = float(np.median([p.h for p, b in zip(g, bar) if not b]))
                tick = float(np.median([p.h for p, b in zip(g, bar) if b]))
                alike = [b and p.h < 0.9 * tall and abs(p.h - tick) <= max(2.0, 0.05 * tick) for p, b in zip(g, bar)]
                grid = _on_grid(g, alike) if sum(alike) >= 3 else [False] * len(g)
                g = [p for p, b, on in zip(g, bar, grid) if not (b and (p.h < 0.7 * tall or on))]
        solid = [_is_tick(p, rules, cfg.line_max_thickness) for p in g]
        if all(solid):
            continue  # solid bars on a rule and nothing else: the ticks of an empty comb
        if sum(solid) >= 3:  # the sides of a row of boxes are evenly spaced; an upright 1 is off their grid
            g = [p for p, on in zip(g, _on_grid(g, solid)) if not on]
        elif any(solid):  # the sides of an open box (a tray) rise from the very ends of its rule
            g = [p for p, b in zip(g, solid) if not (b and _at_rule_end(p, rules))]
        fields.append(_without_short_ends(g))
    return fields


def _on_grid(g: list[_Part], bars: list[bool]) -> list[bool]:
    """Which of a field's glyphs are bars (``bars``) on the even grid of the most of them
    (:func:`_regular_runs`, sides may be missing: a side touching a digit is part of it)."""
    x0 = min(p.x for p in g)
    flags = np.zeros(max(p.x + p.w for p in g) - x0, bool)
    for p, b in zip(g, bars):
        flags[p.x - x0 : p.x - x0 + p.w] |= b
    grid = _regular_runs(flags, gaps=True)
    return [b and bool(grid[p.x - x0 : p.x - x0 + p.w].any()) for p, b in zip(g, bars)]


SHORT_END = 0.6  # glyphs at a field's ends under this share of its digits' height are not digits


def _without_short_ends(g: list[_Part]) -> list[_Part]:
    """A field without the glyphs at its ends much shorter than its digits (under ``SHORT_END`` of
    the upper quartile of its heights): the last letters of a label printed close before the
    number (the l of "Total" reads as a clear 1), a unit after it.

    Example:
        >>> part = lambda x, h: _Part(x, 0, 10, h, np.full((h, 10), 255, np.uint8))
        >>> [p.h for p in _without_short_ends([part(0, 20), part(12, 22), part(30, 44), part(50, 40), part(70, 45)])]
        [44, 40, 45]
    """
    if len(g) < 3:
        return g
    low = SHORT_END * float(np.percentile([p.h for p in g], 75))  # one tall blob cannot move it far
    lo, hi = 0, len(g)
    while lo < hi and g[lo].h < low:
        lo += 1
    while hi > lo and g[hi - 1].h < low:
        hi -= 1
    return g[lo:hi]


def _reading_order(fields: list[list[_Part]]) -> list[tuple[int, list[_Part]]]:
    """Fields -> (line number, field) in reading order: lines top to bottom, fields left to right."""
    def box(f: list[_Part]) -> tuple[int, int]:
        return min(p.y for p in f), max(p.y + p.h for p in f)

    lines: list[list[list[_Part]]] = []
    bands: list[tuple[float, float]] = []
    for f in sorted(fields, key=lambda f: sum(box(f)) / 2):
        top, bottom = box(f)
        mid = (top + bottom) / 2
        if bands and bands[-1][0] <= mid <= bands[-1][1]:
            lines[-1].append(f)
        else:
            lines.append([f])
            bands.append((top, bottom))
    ordered = []
    for no, line in enumerate(lines, start=1):
        for f in sorted(line, key=lambda f: min(p.x for p in f)):
            ordered.append((no, f))
    return ordered


def _enough_ink(p: _Part, min_area: int, beside: Sequence[_Part] = (), in_box: bool = False) -> bool:
    """Not a speck: ``min_area`` pixels of ink, or a stroke over its height that is more than a
    hairline (a thin 1 of a small hand has less ink than ``min_area``; a 1-px fibre or the edge of
    a printed line left beside a stroke is no wider than one pixel: ink ~ height). A 1 of a fine
    pen may be one pixel wide but for a serif or a step: over two columns or more, ink of 1.05 x
    its height is enough (a slanted fibre has one pixel a row) when one of the parts ``beside``
    it, at most its height away, is about as tall (0.6-1.6 x): a digit of its number, not a
    digit's neighbour much taller (the thin side of a printed box). ``in_box``: the part stands
    inside a box of a row of boxes, away from its sides, where a digit is written: a stroke of
    one pixel a row is enough there.

    Example:
        >>> one = _Part(0, 0, 2, 15, np.full((15, 2), 255, np.uint8))
        >>> hair = _Part(0, 0, 1, 15, np.full((15, 1), 255, np.uint8))
        >>> _enough_ink(one, 30), _enough_ink(hair, 30)
        (True, False)
    """
    area = int((p.mask > 0).sum())
    if area >= min_area or area >= 1.25 * max(p.h, p.w):
        return True
    return p.w >= 2 and area >= (1.0 if in_box else 1.05) * p.h and any(
        q is not p and 0.6 * q.h <= p.h <= 1.6 * q.h and max(q.x - p.x - p.w, p.x - q.x - q.w) <= q.h
        and min(p.y + p.h, q.y + q.h) - max(p.y, q.y) >= 0.5 * p.h for q in beside)


def _drop_line_residue(parts: list[_Part], binary: np.ndarray, cleaned: np.ndarray) -> list[_Part]:
    """Without the flat slivers (at most 2 px tall) lying along a removed printed line: the wavy
    edge of a rule after deskew or scanning, left by the line removal. Merged into a digit above
    them they would stretch it down to the line and glue it to its neighbours. Likewise the
    slivers 1 px wide along a removed box side, the whole way (they would read as 1s)."""
    flat = [p for p in parts if p.h <= 2 and p.w >= 2 * p.h]
    upright = [p for p in parts if p.w == 1 and p.h >= 3]
    if not flat and not upright:
        return parts
    removed = cv2.bitwise_and(binary, cv2.bitwise_not(cleaned))
    drop = set()
    for p in flat:
        y0, x0 = max(0, p.y - 2), max(0, p.x - 2)
        if removed[y0 : p.y + p.h + 2, x0 : p.x + p.w + 2].any():
            drop.add(id(p))
    for p in upright:
        beside = removed[p.y : p.y + p.h, max(0, p.x - 1) : p.x + 2].any(axis=1)
        if beside.mean() >= 0.9:
            drop.add(id(p))
    return [p for p in parts if id(p) not in drop]


def _is_tick(p: _Part, rules: list[_Rule], t: int, solid: bool = True) -> bool:
    """A printed tick of a comb field: a (solid, unless ``solid`` is False) straight, thin
    vertical bar standing on a rule. A thin tick deskewed or anti-aliased is not solid in its box:
    those are told from a 1 by their height among the field's digits (see :func:`_group`); such a
    tick may carry a bit of a digit's stroke that crossed it: a bar of full-height columns no
    wider than a tick holding most of the ink is a tick too."""
    thin = max(4, 0.2 * p.h, 0.6 * t)  # a heavy printed tick is as thick as a heavy printed line
    if solid and (float((p.mask > 0).mean()) < 0.7 or p.w > thin):
        return False
    if not solid and p.w > thin:
        m = p.mask > 0
        bar = np.flatnonzero(m.sum(axis=0) >= 0.8 * p.h)
        if not len(bar) or bar[-1] - bar[0] + 1 > thin or m[:, bar[0] : bar[-1] + 1].sum() < 0.7 * m.sum():
            return False
    bottom = p.y + p.h
    return any(r.x0 - t <= p.cx <= r.x1 + t and -t <= r.y - bottom <= t + 2 for r in rules)


def _in_row(p: _Part, r: _Rule, t: int) -> bool:
    """Whether a part lies within the height of the row of printed boxes ``r`` (a rule with sides)."""
    return len(r.sides) >= 2 and r.top - t <= p.y and p.y + p.h <= r.y + t


def _box_of(p: _Part, rules: Sequence[_Rule], t: int) -> tuple[int, int] | None:
    """The box of a row of printed boxes a part lies inside (between two of its sides, within the
    row's height), as (rule, left side) indices; None when it lies in none. A box holds one digit:
    such a part is not cut into several, and two parts in one box are tried joined."""
    for i, r in enumerate(rules):
        if not _in_row(p, r, t):
            continue
        left = [k for k, s in enumerate(r.sides) if s <= p.x + t]
        right = [s for s in r.sides if s >= p.x + p.w - t]
        if left and right and not any(p.x + t < s < p.x + p.w - t for s in r.sides):
            return i, left[-1]
    return None


SIDE_SHARE = 0.3  # a part in a row of boxes reaching this x a box's width past a side on both sides ...
SIDE_CUT = 0.5  # ... is cut along the side when the pieces read at least this clearly (see split_at_side)


def _sides_inside(p: _Part, rules: Sequence[_Rule], t: int) -> list[int]:
    """The columns of the box sides that a part lying in a row of boxes (within the row's height)
    reaches across, by ``SIDE_SHARE`` x the boxes' width or more on both sides."""
    for r in rules:
        if not _in_row(p, r, t):
            continue
        reach = SIDE_SHARE * float(np.median(np.diff(r.sides)))
        return [s for s in r.sides if p.x + reach <= s <= p.x + p.w - reach]
    return []


def split_at_side(part: _Part, rules: Sequence[_Rule], t: int, scorer: Scorer) -> list[_Part]:
    """Digits written into boxes side by side that run into each other across the box sides
    between them (a box holds one digit; the sides themselves are gone): the part cut along the
    seams nearest the sides (:func:`_sides_inside`), when every piece is as tall as a digit
    (``SHORT_PIECE`` x the part) and reads as one at ``SIDE_CUT`` or more and, unless the whole
    reads less clearly than ``SUSPECT_ONES``, none as a 1 (a wide digit's tail over a side)."""
    sides = _sides_inside(part, rules, t)
    if not sides:
        return [part]
    reach = max(2, int(0.15 * part.w / len(sides)))
    seams = _seam_paths(part, [(max(1, s - part.x - reach), min(part.w - 1, s - part.x + reach + 1), float(s - part.x))
                               for s in sides])
    pieces = _cut(part, seams)
    if len(pieces) != len(sides) + 1 or min(q.h for q in pieces) < SHORT_PIECE * part.h:
        return [part]
    conf, not_digit, digit = _score(scorer, np.stack([q.crop for q in pieces] + [part.crop]))
    n = len(pieces)
    if (conf[:n] < SIDE_CUT).any() or (not_digit[:n] >= 0.5).any() or ((digit[:n] == 1).any() and conf[n] >= SUSPECT_ONES):
        return [part]
    return pieces


def _cell_of(p: _Part, rules: Sequence[_Rule], t: int) -> tuple[int, int] | None:
    """:func:`_box_of`, for a cell that holds one digit only: a box of a row of two or more, or a
    box on its own at most ``BOX_WIDTH`` x as wide as tall (a wider one holds a whole number)."""
    key = _box_of(p, rules, t)
    if key is None:
        return None
    r = rules[key[0]]
    return key if len(r.sides) >= 3 or r.sides[-1] - r.sides[0] <= BOX_WIDTH * (r.y - r.top) else None


def _cells(parts: Sequence[_Part], rules: Sequence[_Rule], t: int) -> dict[tuple[int, int], list[int]]:
    """The indices of the parts in each cell (:func:`_cell_of`) that holds any."""
    cells: dict[tuple[int, int], list[int]] = {}
    for k, p in enumerate(parts):
        key = _cell_of(p, rules, t)
        if key is not None:
            cells.setdefault(key, []).append(k)
    return cells


def _off_sides(p: _Part, rules: list[_Rule], t: int) -> bool:
    """Whether a part lies inside one box of a row of boxes (:func:`_box_of`) with its centre
    away from the box's sides (by ``t`` and a sixth of the box's width)."""
    box = _box_of(p, rules, t)
    if box is None:
        return False
    sides = rules[box[0]].sides
    left, right = sides[box[1]], sides[min(box[1] + 1, len(sides) - 1)]
    return min(p.cx - left, right - p.cx) >= max(t, (right - left) / 6)


def _at_rule_end(p: _Part, rules: list[_Rule]) -> bool:
    """Whether a bar stands on one end of a rule (within its own width): the side of a printed box."""
    reach = max(2.0, p.w)
    return any(min(abs(p.cx - r.x0), abs(p.cx - r.x1)) <= reach and -2 <= r.y - (p.y + p.h) <= 2 for r in rules)


def segment(
    gray: np.ndarray, cfg: SegmentConfig = SegmentConfig(), scorer: Scorer | None = None, dpi: float = 0.0
) -> list[Glyph]:
    """Find the handwritten digit candidates on a page, in reading order.

    Args:
        gray: (H, W) uint8 page, dark ink on light paper (or fully inverted).
        cfg: tunables.
        scorer: optional classifier (:data:`Scorer`) for choosing how to split, join and attach pieces.
        dpi: the page's resolution (:attr:`pipeline.sources.Page.dpi`); 0: unknown, the shorter
            side is taken as 8.5 in (a letter or A4 page). A page finer than 1.15 x
            ``cfg.work_dpi`` is worked on scaled down to ``cfg.work_dpi``.

    Returns:
        Glyphs with page-pixel boxes, grouped into lines and fields. A blank page gives [].

    Example:
        >>> page = np.full((200, 300), 255, np.uint8)
        >>> segment(page)
        []
    """
    g = _check_gray(gray)
    if g.size == 0 or min(g.shape) < 8:
        return []
    page_shape = g.shape
    dpi = dpi or min(g.shape) / 8.5
    scale = cfg.work_dpi / dpi if 0 < 1.15 * cfg.work_dpi < dpi else 1.0
    if scale < 1.0:  # a fine scan: work at about 200 dpi, where the lengths in cfg are meant
        g = cv2.resize(g, (round(g.shape[1] * scale), round(g.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    ink, binary = _ink_and_mask(g, cfg)
    angle = estimate_skew(binary, cfg.max_skew_deg)
    h, w = binary.shape
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    if abs(angle) >= 0.2:  # level the grey page, not the mask: rules stay straight and solid
        paper = int(np.median(g))
        ink, binary = _ink_and_mask(cv2.warpAffine(g, rot, (w, h), flags=cv2.INTER_LINEAR, borderValue=paper), cfg)
    binary = _follow_ridges(ink, binary, cfg)
    cleaned, rules = remove_rules(binary, cfg, ink)
    parts = _drop_line_residue(_parts(cleaned, min_area=SPECK), binary, cleaned)
    parts = merge_parts(_without_rings(parts, cfg.min_height), cfg)
    if scorer is not None:
        parts = join_in_boxes(attach_bars(parts, scorer, cfg.min_height, cfg.max_height), scorer, rules,
                              cfg.line_max_thickness)
    def plausible(p: _Part, beside: Sequence[_Part]) -> bool:  # (the box looked up only for a part short of ink)
        return cfg.min_height <= p.h <= cfg.max_height and (_enough_ink(p, cfg.min_area, beside) or (
            _enough_ink(p, cfg.min_area, beside, in_box=True) and _off_sides(p, rules, cfg.line_max_thickness)))

    parts = [p for p in parts if plausible(p, parts)]
    if scorer is not None:  # two digits run into each other across a box side: cut there
        parts = [q for p in parts for q in split_at_side(p, rules, cfg.line_max_thickness, scorer)]
    boxed = {id(p) for p in parts if _cell_of(p, rules, cfg.line_max_thickness) is not None}  # one digit: not cut
    doubtful = _doubtful([p for p in parts if id(p) not in boxed], scorer, cfg) if scorer is not None else {}
    parts = [q for p in parts for q in ([p] if id(p) in boxed else split_wide(p, cfg, scorer, doubtful.get(id(p))))
             if plausible(q, parts)]
    if scorer is not None:
        parts = peel_ones(parts, scorer, cfg.min_height, boxed)
        parts = join_pieces(parts, scorer, rules, cfg.line_max_thickness)
    back = cv2.invertAffineTransform(rot)
    glyphs, moved = [], abs(angle) >= 0.2 or scale < 1
    for field_no, (line_no, members) in enumerate(_reading_order(_group(parts, rules, cfg)), start=1):
        for index, p in enumerate(members, start=1):
            x, y, bw, bh = _to_page(p, back / scale, page_shape) if moved else (p.x, p.y, p.w, p.h)
            glyphs.append(Glyph(x, y, bw, bh, p.mask, line_no, field_no, index, p.crop))
    return glyphs


def _to_page(p: _Part, back: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Box of a deskewed (and maybe scaled-down) part in page pixels: the axis-aligned box of its ink
    taken back to the page by ``back`` (2x3 affine)."""
    ys, xs = np.nonzero(p.mask)
    pts = np.stack([xs + p.x + 0.5, ys + p.y + 0.5, np.ones(len(xs))])
    px, py = back @ pts
    x0, y0 = int(np.clip(np.floor(px.min()), 0, shape[1] - 1)), int(np.clip(np.floor(py.min()), 0, shape[0] - 1))
    x1, y1 = int(np.clip(np.ceil(px.max()), x0 + 1, shape[1])), int(np.clip(np.ceil(py.max()), y0 + 1, shape[0]))
    return x0, y0, x1 - x0, y1 - y0
