"""Envelope -> postal code: colour-aware ink, the destination address block, its last line,
digit groups that fit the configured format, and a confidence with a reject option.

The steps, each a plain function over arrays and small records:

1. :func:`ink_gray`: a colour page becomes one grey channel in which pen ink (black, blue) is
   dark and colourful marks that are not pen ink (red or green stamps, red postmarks) fade
   into the paper.
2. :func:`find_lines` / :func:`find_blocks`: connected ink components are grouped into text
   lines and the lines into blocks; :func:`destination_block` picks the address block (the
   big block near the middle, not the return address in the top-left corner, not the stamps
   in the top-right one).
3. Each line of the block is segmented into glyphs (:func:`pipeline.segment.segment`, on the
   line's own crop) and read by the classifier; :func:`digit_runs` strings its digit-sized
   glyphs into runs, cut at gaps and at hyphens (a short flat mark in the middle of the
   digits' band), and :func:`line_candidates` keeps the stretches whose groups fit the
   :class:`PostalFormat`. :func:`pick` takes the last one on the line (the first, for formats
   written before the town). Only the last line of the block that carries digits is searched:
   house numbers on the street line are never taken, even when they have a code's length.
   When the line's glyphs, as cut, make no code, a digit the segmenter left in pieces (a 0 in
   two arcs, a 5 whose flag came off) is made whole where that reads a code
   (:meth:`PostalReader._merged_candidates`): the format's digit count chooses the cut.
4. The code's confidence is the product (or min) of its digit confidences; under the
   threshold its status is ``low_confidence`` instead of ``ok``.

Formats are data (``configs/postal/<name>.toml``), not code.

Example:
    >>> fmt = load_format("us")
    >>> normalize_code("12345 6789", fmt), normalize_code("1234", fmt)
    ('12345-6789', None)
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from pipeline.config import CONFIG_DIR, ConfigError, SegmentConfig, build, read_toml
from pipeline.normalize import normalize_mask
from pipeline.segment import binarize, segment

POSTAL_DIR = CONFIG_DIR / "postal"
POSTAL_COLUMNS = ["source", "page", "postal_code", "confidence", "digit_confidences", "x", "y", "w", "h", "status",
                  "candidates"]
STATUSES = ("ok", "low_confidence", "not_found", "error")
Box = tuple[int, int, int, int]  # x, y, w, h in page pixels


class Proba(Protocol):
    """What the reader needs of a classifier (:class:`pipeline.classify.Classifier` has it)."""

    def proba(self, glyphs: np.ndarray) -> np.ndarray:
        """(N, 28, 28) uint8 glyphs in MNIST form -> (N, 10) float32 probabilities."""
        ...


# ---------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class PostalFormat:
    """How a country's postal code is written, from ``configs/postal/<name>.toml`` ``[format]``.

    ``groups`` lists the ways the code may be written, as digit-group lengths left to right
    (US: ``[[5], [5, 4]]``); between groups stands one of ``separators`` (a hyphen on paper,
    or a gap). A group written without its separator (``123456789``) fits too. ``output``
    gives the normalized form per digit count, ``#`` standing for a digit (``"#####-####"``).
    ``position`` says where on its line the code sits: ``end`` (after the city), ``start``
    (before it) or ``any`` (either, as Brazilian addresses have it).
    A format that digits alone cannot express has ``supported = false`` and a ``message``.
    """

    name: str
    description: str = ""
    groups: tuple[tuple[int, ...], ...] = ((5,),)
    separators: tuple[str, ...] = ("-", " ")
    output: tuple[str, ...] = ("#####",)
    position: str = "end"
    supported: bool = True
    message: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", tuple(tuple(int(n) for n in g) for g in self.groups))
        object.__setattr__(self, "separators", tuple(self.separators))
        object.__setattr__(self, "output", tuple(self.output))

    @property
    def lengths(self) -> tuple[int, ...]:
        """The digit counts a code of this format may have, e.g. (5, 9)."""
        return tuple(sorted({sum(g) for g in self.groups}))

    def template(self, n_digits: int) -> str | None:
        """The output template with ``n_digits`` digits, if any."""
        for t in self.output:
            if t.count("#") == n_digits:
                return t
        return None


@dataclass(frozen=True)
class PostalConfig:
    """Tunables of `digits postal` (``[postal]`` in a format file or in ``--config``)."""

    threshold: float = 0.75  # code confidence under this -> status low_confidence
    confidence: str = "product"  # how digit confidences combine: product or min
    digit_threshold: float = 0.35  # a glyph read under this confidence does not count as a digit
    search_lines: int = 2  # lines searched for the code, from the bottom of the address block up
    tall: float = 0.65  # glyphs shorter than this x the line's digit height are not digits (lowercase letters)
    split_gap: float = 0.75  # a gap wider than this x digit height ends a digit group (ZIP | +4)
    group_gap: float = 1.6  # groups further apart than this x digit height are separate numbers
    tta: bool = True  # average each glyph's reading with copies turned by +-tta_degrees
    tta_degrees: float = 8.0
    not_digit: float = 0.3  # a group whose glyphs' mean "not a digit" probability exceeds this is a word
    merge_confidence: float = 0.85  # pieces of ink whose union reads at least this are tried as one digit
    work_width: int = 1800  # wider images are scaled down to this width for the work (coordinates are not)
    batch_size: int = 512

    def __post_init__(self) -> None:
        if self.confidence not in ("product", "min"):
            raise ConfigError(f"[postal] confidence: expected 'product' or 'min', got {self.confidence!r}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"[postal] threshold: expected a value in [0, 1], got {self.threshold}")
        if self.search_lines < 1:
            raise ConfigError(f"[postal] search_lines: expected >= 1, got {self.search_lines}")


def available_formats() -> list[str]:
    """Names of the shipped formats (``configs/postal/*.toml``)."""
    return sorted(p.stem for p in POSTAL_DIR.glob("*.toml"))


def _format_file(name: str | Path) -> Path:
    """A format name (``us``) -> ``configs/postal/us.toml``; a path to a ``.toml`` file as is."""
    path = Path(name)
    if path.suffix == ".toml" or len(path.parts) > 1:
        if not path.is_file():
            raise ConfigError(f"{path}: no such postal format file")
        return path
    file = POSTAL_DIR / f"{name}.toml"
    if not file.is_file():
        raise ConfigError(f"unknown postal format {str(name)!r}; known: {', '.join(available_formats())}")
    return file


def load_format(name: str | Path) -> PostalFormat:
    """The postal format ``name`` (``configs/postal/<name>.toml``) or a format TOML file.

    Raises:
        ConfigError: unknown name, bad file, an unsupported format (with its reason, e.g. ``ca``:
            letters and digits), or groups and output templates that disagree.
    """
    file = _format_file(name)
    table = read_toml(file).get("format")
    if not isinstance(table, dict):
        raise ConfigError(f"{file}: no [format] table")
    try:
        fmt = build(PostalFormat, table, where=f"{file} [format]")
    except TypeError as e:
        raise ConfigError(f"{file} [format]: {e}") from e
    if not fmt.supported:
        raise ConfigError(f"postal format {fmt.name!r} is not supported: {fmt.message or 'no reason given'}")
    if not fmt.groups or any(not g or min(g) < 1 for g in fmt.groups):
        raise ConfigError(f"{file} [format] groups: expected lists of positive group lengths, got {fmt.groups}")
    for n in fmt.lengths:
        if fmt.template(n) is None:
            raise ConfigError(f"{file} [format] output: no template with {n} '#' for groups {fmt.groups}")
    if fmt.position not in ("end", "start", "any"):
        raise ConfigError(f"{file} [format] position: expected 'end', 'start' or 'any', got {fmt.position!r}")
    return fmt


def load_postal_config(fmt: str | Path = "us", path: Path | None = None, overrides: dict[str, Any] | None = None) -> PostalConfig:
    """:class:`PostalConfig` from defaults, the format file's ``[postal]``, ``path``'s ``[postal]``, then overrides."""
    table = dict(read_toml(_format_file(fmt)).get("postal", {}))
    if path is not None:
        table.update(read_toml(path).get("postal", {}))
    return build(PostalConfig, table, overrides, where=f"{path or _format_file(fmt)} [postal]")


# ---------------------------------------------------------------------------------------------
# format rules over text


def fits(lengths: Sequence[int], fmt: PostalFormat) -> bool:
    """Whether digit groups of these lengths (left to right) are a way to write a code of ``fmt``.

    A written pattern fits exactly, or with some separators left out (``[9]`` fits ``[5, 4]``).

    Example:
        >>> us = PostalFormat("us", groups=((5,), (5, 4)), output=("#####", "#####-####"))
        >>> fits([5, 4], us), fits([9], us), fits([4, 5], us), fits([5, 5], us)
        (True, True, False, False)
    """
    lengths = list(lengths)
    if not lengths or min(lengths) < 1:
        return False
    cuts = set(np.cumsum(lengths)[:-1].tolist())
    for g in fmt.groups:
        if sum(g) == sum(lengths) and cuts <= set(np.cumsum(g)[:-1].tolist()):
            return True
    return False


def format_code(digits: str, fmt: PostalFormat) -> str:
    """Digits -> the normalized code (``"123456789"`` -> ``"12345-6789"`` for the US)."""
    t = fmt.template(len(digits))
    if t is None:
        raise ValueError(f"digits: {len(digits)} digits do not make a {fmt.name} code")
    it = iter(digits)
    return "".join(next(it) if c == "#" else c for c in t)


def normalize_code(text: str, fmt: PostalFormat) -> str | None:
    """A code as typed or read (``"12345 6789"``, ``"12345-6789"``, ``"12345678"``) -> its
    normalized form, or ``None`` when it does not fit the format.

    Example:
        >>> br = PostalFormat("br", groups=((5, 3),), output=("#####-###",))
        >>> normalize_code("12345678", br), normalize_code("12345-678", br), normalize_code("1234-5678", br)
        ('12345-678', '12345-678', None)
    """
    seps = "".join(re.escape(s) for s in fmt.separators if s.strip())
    parts = [p for p in re.split(rf"[\s{seps}]+", text.strip()) if p]
    if not parts or not all(p.isdigit() and p.isascii() for p in parts):
        return None
    if not fits([len(p) for p in parts], fmt):
        return None
    return format_code("".join(parts), fmt)


# ---------------------------------------------------------------------------------------------
# colour -> ink


def ink_gray(image: np.ndarray) -> np.ndarray:
    """A page as one grey channel where pen ink is dark: (H, W) uint8.

    Grey input comes back as is. For BGR input the red channel is the base (black and blue
    inks are dark in red light, red and orange stamps fade into the paper); strongly coloured
    pixels of any hue other than blue (green or purple stamps, coloured pictures) are set to
    the paper's level.

    Args:
        image: (H, W) uint8 grey or (H, W, 3) uint8 BGR.

    Example:
        >>> page = np.full((20, 20, 3), 240, np.uint8); page[5:10, 5:10] = (40, 40, 200)  # red
        >>> page[12:16, 5:10] = (150, 60, 20)                                             # blue ink
        >>> g = ink_gray(page); int(g[7, 7]) > 190, int(g[14, 7]) < 60
        (True, True)
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        raise ValueError(f"image: expected (H, W) or (H, W, 3) uint8, got {img.dtype} {img.shape}")
    if img.ndim == 2:
        return img
    bgr = img[..., :3]
    gray = bgr[..., 2].copy()
    hsv = cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    bluish = (hue >= 90) & (hue <= 135)
    colourful = (sat > 110) & (val > 70) & ~bluish
    if colourful.any():
        paper = np.percentile(gray, 90)
        gray[colourful] = np.uint8(paper)
    return gray


# ---------------------------------------------------------------------------------------------
# layout: components -> lines -> blocks


@dataclass(frozen=True)
class Line:
    """A line of writing: its box (work pixels), typical ink height and component labels."""

    x: int
    y: int
    w: int
    h: int
    height: float  # median height of its tall components
    labels: tuple[int, ...]


@dataclass(frozen=True)
class Block:
    """Lines that belong together (an address), top to bottom."""

    lines: tuple[Line, ...]

    @property
    def box(self) -> Box:
        x0 = min(ln.x for ln in self.lines)
        y0 = min(ln.y for ln in self.lines)
        x1 = max(ln.x + ln.w for ln in self.lines)
        y1 = max(ln.y + ln.h for ln in self.lines)
        return x0, y0, x1 - x0, y1 - y0


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def find_lines(mask: np.ndarray) -> tuple[list[Line], np.ndarray]:
    """Group the ink components of a mask into lines of writing.

    Components that are too big to be writing (stamp frames, postmark rings, long wavy
    cancellation lines) or too small (specks) are left out; bar codes (long runs of thin
    bars) are dropped as lines.

    Args:
        mask: (H, W) uint8, 255 = ink.

    Returns:
        (lines sorted top to bottom, the (H, W) int32 component label image).
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return [], labels
    x, y, w, h, area = (stats[1:, k].astype(np.int64) for k in range(5))
    ok = (area >= 12) & (h >= 4)
    if not ok.any():
        return [], labels
    tall = ok & (h >= 8)
    text_h = float(np.median(h[tall])) if tall.any() else float(np.median(h[ok]))
    fill = area / np.maximum(1, w * h)
    keep = ok & (h <= 3.5 * text_h) & (w <= 30 * text_h) & ~((fill > 0.6) & (h > 2 * text_h) & (w > 2 * text_h))
    idx = np.flatnonzero(keep)
    # union components that overlap vertically and are close horizontally
    parent = list(range(len(idx)))
    order = sorted(range(len(idx)), key=lambda k: x[idx[k]])
    for a_pos, a in enumerate(order):
        i = idx[a]
        for b in order[a_pos + 1 :]:
            j = idx[b]
            hm = max(h[i], h[j], text_h * 0.5)
            if x[j] - (x[i] + w[i]) > 3.0 * hm:
                break
            ov = min(y[i] + h[i], y[j] + h[j]) - max(y[i], y[j])
            if ov >= 0.45 * min(h[i], h[j]) and max(h[i], h[j]) <= 3.0 * max(min(h[i], h[j]), 0.4 * text_h):
                parent[_find(parent, b)] = _find(parent, a)
            elif ov >= 0.3 * min(h[i], h[j]) and min(h[i], h[j]) < 0.5 * text_h:
                parent[_find(parent, b)] = _find(parent, a)  # punctuation, dots, hyphens
            else:  # a flat stroke just above a glyph, overlapping its columns: the flag of a 5, the bar of a 7
                s, t = (i, j) if h[i] < h[j] else (j, i)
                hov = min(x[i] + w[i], x[j] + w[j]) - max(x[i], x[j])
                if (h[s] <= 0.5 * h[t] and w[s] >= 2 * h[s] and hov > 0 and y[s] < y[t]
                        and y[t] - (y[s] + h[s]) <= 0.4 * h[t]):
                    parent[_find(parent, b)] = _find(parent, a)
    groups: dict[int, list[int]] = {}
    for k in range(len(idx)):
        groups.setdefault(_find(parent, k), []).append(int(idx[k]))
    lines = []
    for members in groups.values():
        m = np.array(members)
        hh = h[m]
        big = hh >= 0.5 * hh.max()
        wm = float(np.median(w[m]))
        if len(m) >= 15 and wm <= 0.5 * hh.max() and np.mean(np.abs(w[m] - wm) <= max(1.0, 0.25 * wm)) > 0.9:
            continue  # a bar code: many narrow bars of one width (blur widens them all alike)
        if hh.max() < 8 or area[m].sum() < 40:
            continue
        x0, y0 = int(x[m].min()), int(y[m].min())
        x1, y1 = int((x[m] + w[m]).max()), int((y[m] + h[m]).max())
        lines.append(Line(x0, y0, x1 - x0, y1 - y0, float(np.median(hh[big])), tuple(int(v) + 1 for v in m)))
    lines.sort(key=lambda ln: (ln.y + ln.h / 2, ln.x))
    return _merge_line_pieces(lines), labels


def _merge_line_pieces(lines: list[Line]) -> list[Line]:
    """Join pieces of one line that lie side by side with a wider gap (city ... code).

    Pieces of about one writing size join when they overlap vertically by half the lower one;
    small writing lying within the band of much bigger writing (a town in small script beside
    a code in big digits, which sits higher and would otherwise be taken for a line of its own
    above the town) joins when it overlaps by most of its height.
    """
    merged = True
    while merged:
        merged = False
        for i in range(len(lines)):
            for j in range(i + 1, len(lines)):
                a, b = lines[i], lines[j]
                hm = max(a.height, b.height)
                gap = max(a.x, b.x) - min(a.x + a.w, b.x + b.w)
                ov = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
                ratio = a.height / max(b.height, 1)
                row = ((ov >= 0.5 * min(a.h, b.h) and 0.5 <= ratio <= 2.0)
                       or (ov >= 0.8 * min(a.h, b.h) and 1 / 3 <= ratio <= 3.0))
                if gap <= 6 * hm and row:
                    x0, y0 = min(a.x, b.x), min(a.y, b.y)
                    x1, y1 = max(a.x + a.w, b.x + b.w), max(a.y + a.h, b.y + b.h)
                    height = (a.height * len(a.labels) + b.height * len(b.labels)) / (len(a.labels) + len(b.labels))
                    lines[i] = Line(x0, y0, x1 - x0, y1 - y0, height, a.labels + b.labels)
                    del lines[j]
                    merged = True
                    break
            if merged:
                break
    lines.sort(key=lambda ln: (ln.y + ln.h / 2, ln.x))
    return lines


def find_blocks(lines: Sequence[Line]) -> list[Block]:
    """Group lines into blocks: lines stacked close under each other with overlapping extents."""
    n = len(lines)
    parent = list(range(n))
    for i in range(n):
        for j in range(i + 1, n):
            a, b = lines[i], lines[j]
            hm = max(a.height, b.height)
            top, bottom = (a, b) if a.y <= b.y else (b, a)
            vgap = bottom.y - (top.y + top.h)
            hov = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
            if vgap <= 2.2 * hm and hov > -1.0 * hm and 0.45 <= a.height / max(b.height, 1) <= 2.2:
                parent[_find(parent, j)] = _find(parent, i)
    groups: dict[int, list[Line]] = {}
    for i in range(n):
        groups.setdefault(_find(parent, i), []).append(lines[i])
    return [Block(tuple(sorted(g, key=lambda ln: ln.y + ln.h / 2))) for g in groups.values()]


def destination_block(blocks: Sequence[Block], shape: tuple[int, int]) -> Block | None:
    """The destination address among the blocks of an envelope of ``shape`` (H, W).

    It is the biggest writing near the middle: the score grows with the block's writing size
    and its number of lines and falls with its distance from the centre; blocks in the top
    corners (return address left, stamps and postmarks right) are heavily discounted.
    """
    H, W = shape
    best, best_score = None, -np.inf
    for b in blocks:
        x, y, w, h = b.box
        cx, cy = (x + w / 2) / W, (y + h / 2) / H
        height = float(np.median([ln.height for ln in b.lines]))
        score = np.log(height * max(w, height)) + 0.6 * min(len(b.lines), 4)
        score -= 4.0 * np.hypot(cx - 0.5, (cy - 0.55) * 0.6)
        if cy < 0.33 and (cx < 0.3 or cx > 0.7):
            score -= 3.0
        if y + h < 0.2 * H:
            score -= 1.5
        if score > best_score:
            best, best_score = b, score
    return best


# ---------------------------------------------------------------------------------------------
# reading a line


@dataclass(frozen=True)
class Candidate:
    """A digit group on the address block that fits the format."""

    code: str  # normalized
    confidence: float
    digit_confidences: tuple[float, ...]
    box: Box  # page pixels (work pixels inside the reader)
    line: int  # 1-based line of the block, top to bottom
    delimited: bool = True  # nothing digit-like follows it (precedes it, for codes before the town) in its run


@dataclass(frozen=True)
class Token:
    """A glyph of a line with its reading; ``box`` in the reader's work pixels."""

    box: Box
    digit: int
    confidence: float  # of the digit, among the ten digits
    not_digit: float = 0.0  # the classifier's probability that the glyph is no digit at all (a letter)


def _merge_marks(marks: list[Token], ref_h: float) -> list[Box]:
    """Boxes of short marks, neighbours within 0.3 x ``ref_h`` joined (a hyphen split in two)."""
    boxes: list[Box] = []
    for t in marks:
        x, y, w, h = t.box
        if boxes:
            px, py, pw, ph = boxes[-1]
            if x - (px + pw) <= 0.3 * ref_h:
                x0, y0 = min(px, x), min(py, y)
                boxes[-1] = (x0, y0, max(px + pw, x + w) - x0, max(py + ph, y + h) - y0)
                continue
        boxes.append((x, y, w, h))
    return boxes


@dataclass(frozen=True)
class Run:
    """Digit-sized glyphs that may belong to one number, left to right, and what lies between
    neighbours: ``cuts[k]`` is ``""`` (same group), ``"gap"`` (a wider gap: maybe a group
    boundary, maybe just loose writing) or ``"hyphen"`` (a group boundary) between
    ``tokens[k]`` and ``tokens[k + 1]``."""

    tokens: tuple[Token, ...]
    cuts: tuple[str, ...]


def digit_runs(tokens: Sequence[Token], cfg: PostalConfig) -> list[Run]:
    """A line's readings -> runs of digit-sized glyphs, left to right.

    Digit-sized glyphs are at least ``cfg.tall`` x the line's digit height (its 80th percentile
    glyph height). Between neighbours, a gap wider than ``cfg.split_gap`` x height may separate
    groups, one wider than ``cfg.group_gap`` ends the run. A short flat mark in the middle of
    the digits' band is a hyphen (a group boundary); a short piece high beside a digit (the
    detached flag of a 5) is ignored; any other short glyph (a lowercase letter, a comma, the
    broken-off tail of a digit) may separate groups, like a gap.
    """
    if not tokens:
        return []
    toks = sorted(tokens, key=lambda t: t.box[0])
    heights = np.array([t.box[3] for t in toks])
    ref_h = float(np.percentile(heights[heights >= 0.4 * heights.max()], 80))
    tall = [t.box[3] >= cfg.tall * ref_h for t in toks]
    items: list[tuple[str, Any]] = []
    k = 0
    while k < len(toks):
        if tall[k]:
            items.append(("glyph", toks[k]))
            k += 1
            continue
        start = k
        while k < len(toks) and not tall[k]:
            k += 1
        for box in _merge_marks(toks[start:k], ref_h):
            items.append(("mark", box))
    glyph_boxes = [t.box for kind, t in items if kind == "glyph"]
    runs: list[Run] = []
    run: list[Token] = []
    cuts: list[str] = []
    pending = ""  # what lies between the last glyph of the run and the next one

    def close() -> None:
        nonlocal run, cuts
        if run:
            runs.append(Run(tuple(run), tuple(cuts)))
        run, cuts = [], []

    for kind, obj in items:
        if kind == "mark":
            x, y, w, h = obj
            if any(min(x + w, b[0] + b[2]) - max(x, b[0]) >= 0.4 * w for b in glyph_boxes):
                continue  # a loose part of a digit it overlaps, not a mark of its own
            near = min(glyph_boxes, key=lambda b: abs(b[0] + b[2] / 2 - x - w / 2)) if glyph_boxes else None
            if near is not None and _hyphen_like(obj, near, ref_h):
                pending = "hyphen"
            elif near is not None and y + h <= near[1] + 0.6 * near[3]:
                continue  # a detached stroke high beside a digit (the flag of a 5), not a letter
            elif not pending:
                pending = "gap"  # a short glyph between digit-sized ones: maybe a boundary, maybe a stray stroke
            continue
        t = obj
        if run:
            gap = t.box[0] - (run[-1].box[0] + run[-1].box[2])
            if gap > cfg.group_gap * ref_h:
                close()
            else:
                cuts.append(pending or ("gap" if gap > cfg.split_gap * ref_h else ""))
        run.append(t)
        pending = ""
    close()
    return runs


def _code_confidence(conf: Sequence[float], how: str) -> float:
    return float(np.prod(conf)) if how == "product" else float(min(conf))


def _range_fits(cuts: Sequence[str], fmt: PostalFormat) -> bool:
    """Whether tokens with these inner boundaries can be read as a code: hyphens always separate
    groups, gaps may or may not (at most 6 gaps are tried both ways)."""
    forced = [k for k, c in enumerate(cuts) if c == "hyphen"]
    optional = [k for k, c in enumerate(cuts) if c == "gap"][:6]
    n = len(cuts) + 1
    for mask in range(1 << len(optional)):
        at = sorted(forced + [optional[b] for b in range(len(optional)) if mask >> b & 1])
        bounds = [0, *[k + 1 for k in at], n]
        if fits([b - a for a, b in itertools.pairwise(bounds)], fmt):
            return True
    return False


def line_candidates(tokens: Sequence[Token], fmt: PostalFormat, cfg: PostalConfig, line_no: int = 1) -> tuple[list[Candidate], bool]:
    """Codes of ``fmt`` among a line's readings, and whether the line carries digits at all.

    Glyphs at the ends of a run read under ``digit_threshold`` (letters beside a number) are
    trimmed. A candidate is a stretch of a run between gaps (or run ends) whose groups fit the
    format, hyphens inside it kept as group boundaries and gaps taken either way. A stretch
    never starts or ends at a hyphen: the part of a ZIP+4 on either side of it is no ZIP.
    """
    cands: list[Candidate] = []
    has_digits = False
    for run in digit_runs(tokens, cfg):
        toks, cuts = list(run.tokens), list(run.cuts)
        while toks and toks[0].confidence < cfg.digit_threshold:
            toks, cuts = toks[1:], cuts[1:]
        while toks and toks[-1].confidence < cfg.digit_threshold:
            toks, cuts = toks[:-1], cuts[:-1]
        if len(toks) >= 2 and np.mean([t.confidence >= cfg.digit_threshold for t in toks]) >= 0.6:
            has_digits = True
        # a code starts and ends at a run's end or at a gap, never at a hyphen (the +4 alone is no ZIP)
        edges = [0, *[k + 1 for k, c in enumerate(cuts) if c == "gap"], len(toks)]
        for a in edges[:-1]:
            for b in edges:
                if b <= a or b - a > max(fmt.lengths) or not _range_fits(cuts[a : b - 1], fmt):
                    continue
                part = toks[a:b]
                if np.mean([t.not_digit for t in part]) > cfg.not_digit:
                    continue  # letters of the town that read as digits: the classifier calls them no digits
                conf = tuple(round(t.confidence, 4) for t in part)
                x0, y0 = min(t.box[0] for t in part), min(t.box[1] for t in part)
                x1 = max(t.box[0] + t.box[2] for t in part)
                y1 = max(t.box[1] + t.box[3] for t in part)
                code = format_code("".join(str(t.digit) for t in part), fmt)
                delimited = {"end": b == len(toks), "start": a == 0}.get(fmt.position, a == 0 or b == len(toks))
                cands.append(Candidate(code, _code_confidence(conf, cfg.confidence), conf, (x0, y0, x1 - x0, y1 - y0),
                                       line_no, delimited))
    return cands, has_digits


def pick(cands: Sequence[Candidate], fmt: PostalFormat, ratio: float = 0.5) -> Candidate:
    """The code among one line's candidates.

    Overlapping candidates are one site: alternative readings of the same glyphs. Of those
    that start at the same glyph the longest stands (a ZIP+4 over its ZIP); of those that start
    elsewhere (a state's letters read as digits before the ZIP) the most confident. Sites far
    less confident than the best one (under ``ratio`` x its confidence: a word whose letters
    happen to read as digits) are dropped; of the rest, the last site on the line wins (the
    first, for formats written before the town; for ``any``, the most confident of those that
    start or end their run of digits). Otherwise confidence plays no part: a doubtful code in
    the right place is reported as doubtful.
    """
    groups: list[list[Candidate]] = []
    for c in sorted(cands, key=lambda c: c.box[0]):
        for g in groups:
            if any(_overlap(c.box, o.box) > 0 for o in g):
                g.append(c)
                break
        else:
            groups.append([c])
    sites = []
    for g in groups:
        by_start: dict[int, Candidate] = {}
        for c in g:
            if c.box[0] not in by_start or len(c.digit_confidences) > len(by_start[c.box[0]].digit_confidences):
                by_start[c.box[0]] = c
        sites.append(max(by_start.values(), key=lambda c: c.confidence))
    best = max(s.confidence for s in sites)
    sites = [s for s in sites if s.confidence >= ratio * best]
    if fmt.position == "end":
        return max(sites, key=lambda c: c.box[0] + c.box[2])
    if fmt.position == "start":
        return min(sites, key=lambda c: c.box[0])
    return max(sites, key=lambda c: (c.delimited, c.confidence))


# ---------------------------------------------------------------------------------------------
# the reader


@dataclass(frozen=True)
class PostalResult:
    """The reading of one envelope; boxes in page pixels (as decoded)."""

    status: str
    code: str = ""
    confidence: float = 0.0
    digit_confidences: tuple[float, ...] = ()
    box: Box | None = None
    candidates: tuple[Candidate, ...] = ()
    block: Box | None = None
    lines: tuple[Box, ...] = ()
    message: str = ""


class PostalReader:
    """Envelope image -> :class:`PostalResult`, for one postal format.

    Args:
        fmt: the format (see :func:`load_format`).
        cfg: tunables.
        classifier: anything with ``proba((N, 28, 28) uint8) -> (N, 10)``, e.g. a
            :class:`pipeline.classify.Classifier`.
        segment_cfg: segmentation tunables (page pixels at about 150-200 dpi).

    Example:
        >>> reader = PostalReader(load_format("us"), PostalConfig(), Classifier())  # doctest: +SKIP
        >>> reader.read(cv2.imread("envelope.png")).code                            # doctest: +SKIP
        '62704-1234'
    """

    def __init__(self, fmt: PostalFormat, cfg: PostalConfig, classifier: Proba,
                 segment_cfg: SegmentConfig | None = None) -> None:
        self.fmt, self.cfg, self.classifier = fmt, cfg, classifier
        self.segment_cfg = segment_cfg if segment_cfg is not None else SegmentConfig()

    def read_glyphs(self, glyphs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N, 28, 28) uint8 glyphs -> digits (N,) int, confidences (N,) float among the ten
        digits, and (N,) float probabilities of "not a digit" (0 for a 10-class model).

        With ``cfg.tta`` the probabilities are averaged over the glyph and copies of it turned
        by +-``cfg.tta_degrees`` (steadier readings of slanted or oddly segmented digits).
        """
        if len(glyphs) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32)
        if not self.cfg.tta:
            probs = self.classifier.proba(glyphs)
        else:
            c = (glyphs.shape[2] / 2 - 0.5, glyphs.shape[1] / 2 - 0.5)
            views = [glyphs]
            for angle in (self.cfg.tta_degrees, -self.cfg.tta_degrees):
                m = cv2.getRotationMatrix2D(c, angle, 1.0)
                views.append(np.stack([cv2.warpAffine(g, m, g.shape[::-1], flags=cv2.INTER_LINEAR) for g in glyphs]))
            probs = self.classifier.proba(np.concatenate(views)).reshape(len(views), len(glyphs), -1).mean(axis=0)
        not_digit = probs[:, 10] if probs.shape[1] > 10 else np.zeros(len(probs), np.float32)
        probs = probs[:, :10]  # the digits; an 11th column is "not a digit" (model.contract.NOT_DIGIT) ...
        probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)  # ... that the code groups are not
        return probs.argmax(axis=1).astype(np.int64), probs.max(axis=1), not_digit

    def read(self, image: np.ndarray) -> PostalResult:
        """Read the postal code on one envelope.

        Args:
            image: (H, W) uint8 grey or (H, W, 3) uint8 BGR.
        """
        gray = ink_gray(image)
        H, W = gray.shape
        if min(H, W) < 16:
            return PostalResult("not_found", message="image too small")
        scale = min(1.0, self.cfg.work_width / W)
        if scale < 1.0:
            gray = cv2.resize(gray, (round(W * scale), round(H * scale)), interpolation=cv2.INTER_AREA)
        mask = binarize(gray, self.segment_cfg)
        lines, labels = find_lines(mask)
        block = destination_block(find_blocks(lines), gray.shape)
        if block is None:
            return PostalResult("not_found", message="no writing found")

        def page(b: Box) -> Box:
            x, y, w, h = b
            return (int(x / scale), int(y / scale), max(1, round(w / scale)), max(1, round(h / scale)))

        # read the lines of the block (for the code: from the bottom up; all for the candidates list)
        reads = [self._read_pieces(gray, labels, ln) for ln in block.lines]
        per_line = [line_candidates(r.tokens, self.fmt, self.cfg, no) for no, r in enumerate(reads, start=1)]
        chosen: Candidate | None = None
        for searched, k in enumerate(reversed(range(len(per_line)))):
            cands, has_digits = per_line[k]
            merged = self._merged_candidates(reads[k], k + 1, cands)
            if merged is not None:
                cands = merged
                per_line[k] = (cands, has_digits)
            if cands:
                chosen = pick(cands, self.fmt)
                break
            if has_digits or searched + 1 >= self.cfg.search_lines:
                break  # digits that fit no code on the last line: not a house number above instead
        others = sorted((c for cs, _ in per_line for c in cs if c is not chosen), key=lambda c: (-c.line, -c.confidence))
        listed = tuple(dataclasses.replace(c, box=page(c.box)) for c in ([chosen] if chosen else []) + others)
        common: dict[str, Any] = {"candidates": listed, "block": page(block.box),
                                  "lines": tuple(page((ln.x, ln.y, ln.w, ln.h)) for ln in block.lines)}
        if chosen is None:
            return PostalResult("not_found", message="no digit group of the format on the last line", **common)
        # ok needs confidence, and a code that ends its run of digits (a ZIP with more digits
        # right after it may be the front of a ZIP+4 whose end did not read)
        status = "ok" if chosen.confidence >= self.cfg.threshold and chosen.delimited else "low_confidence"
        return PostalResult(status, chosen.code, chosen.confidence, chosen.digit_confidences, page(chosen.box), **common)

    def _read_pieces(self, gray: np.ndarray, labels: np.ndarray, ln: Line) -> _LineReading:
        """Segment and classify one line: its pieces of ink (line-crop pixels) and tokens (work pixels).

        The line's grey crop is segmented with its own threshold (faint strokes survive that
        a page-wide threshold, pulled up by dark stamps, would break), after blanking the ink
        of other lines (descenders from above, stray marks) to the paper's level.
        """
        pad = int(max(4, 0.4 * ln.height))
        H, W = gray.shape
        x0, y0 = max(0, ln.x - pad), max(0, ln.y - pad)
        x1, y1 = min(W, ln.x + ln.w + pad), min(H, ln.y + ln.h + pad)
        lab = labels[y0:y1, x0:x1]
        own = np.isin(lab, ln.labels)
        near = cv2.dilate(own.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        other = cv2.dilate(((lab > 0) & ~own).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        g = gray[y0:y1, x0:x1]
        paper = np.uint8(np.percentile(g, 75))
        crop = np.where(near & ~(other & ~own), g, paper).astype(np.uint8)
        glyphs = segment(crop, self.segment_cfg, lambda g: self.classifier.proba(g)[:, :10].max(axis=1))
        pieces = [_Piece((g.x, g.y, g.w, g.h), _box_mask(g)) for g in glyphs]
        n, comp, stats, _ = cv2.connectedComponentsWithStats(own.astype(np.uint8), connectivity=8)
        heights = np.array([float(p.box[3]) for p in pieces] or [ln.height])
        ref_h = float(np.percentile(heights[heights >= 0.4 * heights.max()], 80))
        # ink the segmenter dropped: hyphens and detached strokes (as specks), a filled-in 8 (as a
        # blob); judged by its pixels, not its box (the detached bar of a 7 lies in the box of its stem)
        covered = np.zeros(own.shape, np.uint8)
        for p in pieces:
            px, py, pw, ph = p.box
            np.maximum(covered[py : py + ph, px : px + pw], p.mask[: covered.shape[0] - py, : covered.shape[1] - px],
                       out=covered[py : py + ph, px : px + pw])
        covered = cv2.dilate(covered, np.ones((5, 5), np.uint8)) > 0
        for i in range(1, n):
            bx, by, bw, bh, area = (int(v) for v in stats[i])
            box = (bx, by, bw, bh)
            if bh < 2 or area < 6 or bh > 1.6 * ref_h or bw > 2.5 * ref_h:
                continue
            ink = comp[by : by + bh, bx : bx + bw] == i
            if covered[by : by + bh, bx : bx + bw][ink].mean() < 0.5:
                pieces.append(_Piece(box, np.where(ink, 255, 0).astype(np.uint8)))
        pieces = self._join_detached(pieces, ref_h)
        return _LineReading(pieces, (x0, y0), ref_h)

    def _merged_candidates(self, r: _LineReading, line_no: int, cands: list[Candidate]) -> list[Candidate] | None:
        """The line's candidates with a digit that the segmenter left in pieces made whole, when
        that reads a better code; ``None`` when no merge does.

        Neighbouring pieces (2 to 4, left to right, touching or overlapping in x) whose union is
        digit-shaped (at most 1.4 x as wide as tall, about the line's digit height) and reads as a
        digit with at least ``cfg.merge_confidence`` are merge options: a 0 or a 6 broken in two, a 5 whose
        flag came off and reads as a digit of its own, a 3 in three short bits. Each option alone,
        and all compatible ones together, are tried; the format decides (a code needs its digit
        count), then the confidence of the code (the union's reading counts in it).
        """
        best = pick(cands, self.fmt) if cands else None
        if best is not None and best.delimited:
            return None  # the pieces as cut already read as a code: merges only repair a line that does not
        pieces, ref_h = r.pieces, r.ref_h
        order = sorted(range(len(pieces)), key=lambda k: pieces[k].box[0])
        options: list[tuple[tuple[int, ...], _Piece]] = []
        for a in range(len(order)):
            for size in (2, 3, 4):
                group = tuple(order[a : a + size])
                if len(group) < size:
                    break
                right = pieces[group[0]].box[0] + pieces[group[0]].box[2]
                union = pieces[group[0]]
                touching = True
                for k in group[1:]:
                    if pieces[k].box[0] > right + 0.15 * ref_h:
                        touching = False
                        break
                    right = max(right, pieces[k].box[0] + pieces[k].box[2])
                    union = _union(union, pieces[k])
                if not touching:
                    break
                _, _, uw, uh = union.box
                if uw > 1.4 * uh or not self.cfg.tall * ref_h <= uh <= 1.4 * ref_h:
                    continue
                tallest = max(group, key=lambda k: pieces[k].box[3])
                if any(_hyphen_like(pieces[k].box, pieces[tallest].box, ref_h) for k in group if k != tallest):
                    continue
                options.append((group, union))
        if not options:
            return None
        digits, conf, nd = self.read_glyphs(np.stack([normalize_mask(u.mask) for _, u in options]))
        good = sorted((float(conf[i]), i) for i in range(len(options)) if conf[i] >= self.cfg.merge_confidence)[::-1]
        if not good:
            return None
        for c, i in good:
            options[i][1].digit, options[i][1].confidence, options[i][1].not_digit = int(digits[i]), c, float(nd[i])
        tries = [[options[i]] for _, i in good[:6]]
        together: list[tuple[tuple[int, ...], _Piece]] = []
        for _, i in good:
            if not any(set(options[i][0]) & set(g) for g, _ in together):
                together.append(options[i])
        if len(together) > 1:
            tries.append(together)
        found = None
        for t in tries:
            gone = {k for g, _ in t for k in g}
            alt = _LineReading([p for k, p in enumerate(pieces) if k not in gone] + [u for _, u in t], r.origin, ref_h)
            alt_cands, _ = line_candidates(alt.tokens, self.fmt, self.cfg, line_no)
            if not alt_cands:
                continue
            c = pick(alt_cands, self.fmt)
            if best is None or (c.delimited, c.confidence) > (best.delimited, best.confidence):
                best, found = c, alt_cands
        return found

    def _join_detached(self, pieces: list[_Piece], ref_h: float) -> list[_Piece]:
        """Read the pieces; join a short piece beside a digit (the detached flag of a 5, the
        tail of a 2) to that digit when the joined glyph reads at least as well."""
        if not pieces:
            return []
        tall = [p.box[3] >= self.cfg.tall * ref_h for p in pieces]
        joins: list[tuple[int, int, _Piece, bool]] = []
        for i, s in enumerate(pieces):
            if tall[i]:
                continue
            best, best_gap = None, None
            for j, t in enumerate(pieces):
                if not tall[j] or _hyphen_like(s.box, t.box, ref_h):
                    continue
                gap = max(s.box[0], t.box[0]) - min(s.box[0] + s.box[2], t.box[0] + t.box[2])
                within = s.box[1] >= t.box[1] - 0.5 * ref_h and s.box[1] + s.box[3] <= t.box[1] + t.box[3] + 0.3 * ref_h
                if within and gap <= 0.35 * ref_h and (best_gap is None or gap < best_gap):
                    best, best_gap = j, gap
            if best is not None:
                u = _union(s, pieces[best])
                # a stroke over the digit's own columns is part of it (the bar of a 7 whose stem
                # alone reads as a confident 1); one beside it joins only if it reads as well
                over = -best_gap >= 0.5 * s.box[2] and u.box[2] <= 1.2 * u.box[3]  # type: ignore[operator]
                joins.append((i, best, u, over))
        batch = [p.mask for p in pieces] + [u.mask for _, _, u, _ in joins]
        digits, conf, nd = self.read_glyphs(np.stack([normalize_mask(m) for m in batch]))
        for k, p in enumerate(pieces):
            p.digit, p.confidence, p.not_digit = int(digits[k]), float(conf[k]), float(nd[k])
        used: set[int] = set()
        order = sorted(range(len(joins)), key=lambda k: (not joins[k][3], -conf[len(pieces) + k]))
        for k in order:
            i, j, u, over = joins[k]
            c = float(conf[len(pieces) + k])
            if i in used or j in used or (c < pieces[j].confidence and not over):
                continue
            u.digit, u.confidence, u.not_digit = int(digits[len(pieces) + k]), c, float(nd[len(pieces) + k])
            pieces[j] = u
            used.update((i, j))
        return [p for k, p in enumerate(pieces) if not (k in used and tall[k] is False)]


@dataclass
class _LineReading:
    """The read pieces of one line (boxes in its crop) and where the crop lies in work pixels."""

    pieces: list[_Piece]
    origin: tuple[int, int]
    ref_h: float

    @property
    def tokens(self) -> list[Token]:
        x0, y0 = self.origin
        return [Token((x0 + p.box[0], y0 + p.box[1], p.box[2], p.box[3]), p.digit, p.confidence, p.not_digit)
                for p in self.pieces]


@dataclass
class _Piece:
    """A glyph candidate of a line crop: box, (h, w) uint8 ink mask in that box, its reading."""

    box: Box
    mask: np.ndarray
    digit: int = -1
    confidence: float = 0.0
    not_digit: float = 0.0


def _box_mask(g: Any) -> np.ndarray:
    """A segmenter glyph's mask in its page box (the mask is in the deskewed frame: resized to fit)."""
    m = g.mask
    if m.shape != (g.h, g.w):
        m = cv2.resize(m, (g.w, g.h), interpolation=cv2.INTER_NEAREST)
    return np.where(m > 0, 255, 0).astype(np.uint8)


def _union(a: _Piece, b: _Piece) -> _Piece:
    x, y = min(a.box[0], b.box[0]), min(a.box[1], b.box[1])
    w = max(a.box[0] + a.box[2], b.box[0] + b.box[2]) - x
    h = max(a.box[1] + a.box[3], b.box[1] + b.box[3]) - y
    mask = np.zeros((h, w), np.uint8)
    for p in (a, b):
        px, py, pw, ph = p.box
        np.maximum(mask[py - y : py - y + ph, px - x : px - x + pw], p.mask, out=mask[py - y : py - y + ph, px - x : px - x + pw])
    return _Piece((x, y, w, h), mask)


def _overlap(a: Box, b: Box) -> int:
    """Area of the intersection of two boxes."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def _hyphen_like(box: Box, near: Box, ref_h: float) -> bool:
    """A short flat mark in the middle of the digits' band (beside digit box ``near``)."""
    _, y, w, h = box
    return h < 0.4 * ref_h and w >= 0.7 * h and near[1] + 0.3 * near[3] <= y + h / 2 <= near[1] + 0.72 * near[3]


# ---------------------------------------------------------------------------------------------
# rows, review pictures, the job


def result_row(source: str, page: int | None, r: PostalResult) -> dict[str, Any]:
    """One postal.csv row (see :data:`POSTAL_COLUMNS`)."""
    x, y, w, h = r.box if r.box else ("", "", "", "")
    found = r.status in ("ok", "low_confidence")
    return {
        "source": source, "page": page, "postal_code": r.code, "confidence": round(r.confidence, 4) if found else "",
        "digit_confidences": " ".join(f"{c:.4f}" for c in r.digit_confidences), "x": x, "y": y, "w": w, "h": h,
        "status": r.status, "candidates": "; ".join(f"{c.code}:{c.confidence:.4f}" for c in r.candidates),
    }


def review_overlay(image: np.ndarray, r: PostalResult, path: Path) -> Path:
    """Draw the address block, its lines, the candidates and the chosen code; write a PNG."""
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image[..., :3].copy()
    canvas = (canvas * 0.6 + 100).astype(np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    if r.block:
        x, y, w, h = r.block
        cv2.rectangle(canvas, (x - 6, y - 6), (x + w + 6, y + h + 6), (200, 120, 0), 2)
    for x, y, w, h in r.lines:
        cv2.rectangle(canvas, (x, y), (x + w, y + h), (200, 180, 120), 1)
    for c in r.candidates[1 if r.box else 0 :]:
        x, y, w, h = c.box
        cv2.rectangle(canvas, (x, y), (x + w, y + h), (0, 140, 255), 2)
        cv2.putText(canvas, f"{c.code} {c.confidence:.2f}", (x, y + h + 18), font, 0.55, (0, 140, 255), 2, cv2.LINE_AA)
    colour = {"ok": (40, 160, 40), "low_confidence": (0, 140, 255)}.get(r.status, (0, 0, 230))
    if r.box:
        x, y, w, h = r.box
        cv2.rectangle(canvas, (x - 3, y - 3), (x + w + 3, y + h + 3), colour, 3)
        cv2.putText(canvas, f"{r.code} {r.confidence:.2f}", (x, max(18, y - 10)), font, 0.9, colour, 2, cv2.LINE_AA)
    title = f"{r.status}: {r.code or r.message}"
    cv2.putText(canvas, title, (10, canvas.shape[0] - 14), font, 0.8, colour, 2, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), canvas):
        raise OSError(f"{path}: cannot write the review overlay")
    return path


@dataclass
class PostalStats:
    """Counts of a `digits postal` run."""

    pages: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STATUSES})
    seconds: float = 0.0

    @property
    def errors(self) -> int:
        return self.by_status["error"]


def _pages(paths: Iterable[Path], dpi: int, max_pixels: int) -> Iterator[Any]:
    from pipeline.sources import PageError, find_sources, read_pages

    for item in find_sources(paths):
        if isinstance(item, PageError):
            yield item
            continue
        yield from read_pages(item, dpi=dpi, max_pixels=max_pixels, color=True)


def run_postal(paths: Iterable[Path], out: Path, reader: PostalReader, review: Path | None = None,
               progress: bool = True, dpi: int = 200, max_pixels: int = 100_000_000) -> PostalStats:
    """Read every envelope (image or PDF/TIFF page) under ``paths`` into ``out`` (postal.csv),
    with unreadable inputs also in ``errors.csv`` beside it and, with ``review``, an overlay each.

    Returns:
        The counts; ``stats.errors > 0`` means some input failed (the rest is written).
    """
    from tqdm import tqdm

    from pipeline.export import ERROR_COLUMNS, CsvSink
    from pipeline.render import overlay_name
    from pipeline.sources import PageError

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stats = PostalStats()
    started = time.perf_counter()
    rows, errors = CsvSink(out, POSTAL_COLUMNS), CsvSink(out.with_name("errors.csv"), ERROR_COLUMNS)
    for item in tqdm(_pages(paths, dpi, max_pixels), desc="envelopes", unit="page", disable=not progress):
        stats.pages += 1
        if isinstance(item, PageError):
            errors.write([dataclasses.asdict(item)])
            rows.write([{**result_row(item.source, item.page, PostalResult("error")), "candidates": ""}])
            stats.by_status["error"] += 1
            continue
        try:
            result = reader.read(item.image)
        except Exception as e:  # noqa: BLE001 -- a page the stage cannot handle: one error row, go on
            message = f"{item.source} page {item.page}: cannot read the postal code ({type(e).__name__}: {e})"
            errors.write([{"source": item.source, "page": item.page, "stage": "postal", "error": "failed",
                           "message": message}])
            result = PostalResult("error", message=message)
        rows.write([result_row(item.source, item.page, result)])
        stats.by_status[result.status] += 1
        if review is not None:
            review_overlay(item.image, result, Path(review) / overlay_name(item))
    rows.commit()  # only a finished run renames its CSVs into place
    errors.commit()
    stats.seconds = time.perf_counter() - started
    return stats
