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
3. :func:`read_line`: a line is segmented into glyphs and fields (:func:`pipeline.segment.segment`),
   read by the classifier, split at hyphens, and its digit groups are matched against the
   :class:`PostalFormat`: the code is the last (or first, per format) fitting group on the
   last line of the block that carries digits. House numbers on the street line are never
   taken, even when they have the length of a code.
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
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

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
Predict = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # (N, 28, 28) uint8 -> digits (N,), confidences (N,)


# ---------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class PostalFormat:
    """How a country's postal code is written, from ``configs/postal/<name>.toml`` ``[format]``.

    ``groups`` lists the ways the code may be written, as digit-group lengths left to right
    (US: ``[[5], [5, 4]]``); between groups stands one of ``separators`` (a hyphen on paper,
    or a gap). A group written without its separator (``123456789``) fits too. ``output``
    gives the normalized form per digit count, ``#`` standing for a digit (``"#####-####"``).
    ``position`` says where on its line the code sits: ``end`` (after the city) or ``start``.
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
    path = Path(name)
    if path.suffix == ".toml" or path.is_file():
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
    if fmt.position not in ("end", "start"):
        raise ConfigError(f"{file} [format] position: expected 'end' or 'start', got {fmt.position!r}")
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
    keep = ok & (h <= 3.5 * text_h) & (w <= 10 * text_h) & ~((fill > 0.6) & (w * h > 6 * text_h * text_h))
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
    groups: dict[int, list[int]] = {}
    for k in range(len(idx)):
        groups.setdefault(_find(parent, k), []).append(int(idx[k]))
    lines = []
    for members in groups.values():
        m = np.array(members)
        hh = h[m]
        big = hh >= 0.5 * hh.max()
        if len(m) >= 15 and np.mean(w[m] < 0.3 * h[m]) > 0.8:
            continue  # a bar code
        if hh.max() < 8 or area[m].sum() < 40:
            continue
        x0, y0 = int(x[m].min()), int(y[m].min())
        x1, y1 = int((x[m] + w[m]).max()), int((y[m] + h[m]).max())
        lines.append(Line(x0, y0, x1 - x0, y1 - y0, float(np.median(hh[big])), tuple(int(v) + 1 for v in m)))
    lines.sort(key=lambda ln: (ln.y + ln.h / 2, ln.x))
    return _merge_line_pieces(lines), labels


def _merge_line_pieces(lines: list[Line]) -> list[Line]:
    """Join pieces of one line that lie side by side with a wider gap (city ... code)."""
    merged = True
    while merged:
        merged = False
        for i in range(len(lines)):
            for j in range(i + 1, len(lines)):
                a, b = lines[i], lines[j]
                hm = max(a.height, b.height)
                gap = max(a.x, b.x) - min(a.x + a.w, b.x + b.w)
                ca, cb = a.y + a.h / 2, b.y + b.h / 2
                if gap <= 6 * hm and abs(ca - cb) <= 0.45 * hm and 0.5 <= a.height / max(b.height, 1) <= 2.0:
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
    box: Box  # page pixels
    line: int  # 1-based line of the block, top to bottom


@dataclass(frozen=True)
class Token:
    """A glyph of a line with its reading; ``box`` in page pixels."""

    box: Box
    digit: int  # -1 for a mark that is not read (a short flat component: maybe a hyphen)
    confidence: float


Group = list[Token]


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


def digit_runs(tokens: Sequence[Token], cfg: PostalConfig) -> list[list[Group]]:
    """A line's readings -> runs of digit groups, left to right; the groups of one run may form one code.

    Digit-sized glyphs (at least ``cfg.tall`` x the line's digit height, its 80th percentile
    glyph height) make groups. A gap wider than ``cfg.split_gap`` x height ends a group, one
    wider than ``cfg.group_gap`` ends the run. Between digit-sized glyphs, a short flat mark in
    the middle of the digits' band is a hyphen (it ends the group, the run goes on); any other
    shorter glyph (a lowercase letter, a comma) ends the run: a number does not run through words.
    Short pieces lying over a digit-sized glyph (a detached stroke of it) are ignored.
    """
    if not tokens:
        return []
    toks = sorted(tokens, key=lambda t: t.box[0])
    ref_h = float(np.percentile([t.box[3] for t in toks], 80))
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
    runs: list[list[Group]] = []
    run: list[Group] = []
    group: Group = []
    last: Token | None = None
    for n, (kind, obj) in enumerate(items):
        if kind == "mark":
            x, y, w, h = obj
            if any(min(x + w, b[0] + b[2]) - max(x, b[0]) >= 0.4 * w for b in glyph_boxes):
                continue  # a loose part of a digit beside it (the flag of a 5), not a mark of its own
            near = min(glyph_boxes, key=lambda b: abs(b[0] + b[2] / 2 - x - w / 2)) if glyph_boxes else None
            hyphen = (near is not None and h < 0.4 * ref_h and w >= 0.7 * h
                      and near[1] + 0.2 * near[3] <= y + h / 2 <= near[1] + 0.8 * near[3])
            if group:
                run.append(group)
                group = []
            if not hyphen and run:
                runs.append(run)
                run = []
            continue
        t = obj
        if last is not None and (group or run):
            gap = t.box[0] - (last.box[0] + last.box[2])
            if gap > cfg.split_gap * ref_h and group:
                run.append(group)
                group = []
            if gap > cfg.group_gap * ref_h and run:
                runs.append(run)
                run = []
        group.append(t)
        last = t
    if group:
        run.append(group)
    if run:
        runs.append(run)
    return runs


def _code_confidence(conf: Sequence[float], how: str) -> float:
    return float(np.prod(conf)) if how == "product" else float(min(conf))


def line_candidates(tokens: Sequence[Token], fmt: PostalFormat, cfg: PostalConfig, line_no: int = 1) -> tuple[list[Candidate], bool]:
    """Codes of ``fmt`` among a line's readings, and whether the line carries digits at all.

    Leading and trailing glyphs of a run read under ``digit_threshold`` (letters beside a
    number) are trimmed; consecutive whole groups of one run are tried together (ZIP + 4) and
    alone.
    """
    cands: list[Candidate] = []
    has_digits = False
    for run in digit_runs(tokens, cfg):
        run = [list(g) for g in run]
        while run and run[0] and run[0][0].confidence < cfg.digit_threshold:
            run[0] = run[0][1:]
        while run and run[-1] and run[-1][-1].confidence < cfg.digit_threshold:
            run[-1] = run[-1][:-1]
        for g in run:
            if len(g) >= 2 and np.mean([t.confidence >= cfg.digit_threshold for t in g]) >= 0.6:
                has_digits = True
        for i in range(len(run)):
            for j in range(i, min(len(run), i + 3)):
                part = run[i : j + 1]
                if any(not g for g in part) or not fits([len(g) for g in part], fmt):
                    continue
                toks = [t for g in part for t in g]
                conf = tuple(round(t.confidence, 4) for t in toks)
                x0, y0 = min(t.box[0] for t in toks), min(t.box[1] for t in toks)
                x1 = max(t.box[0] + t.box[2] for t in toks)
                y1 = max(t.box[1] + t.box[3] for t in toks)
                code = format_code("".join(str(t.digit) for t in toks), fmt)
                cands.append(Candidate(code, _code_confidence(conf, cfg.confidence), conf, (x0, y0, x1 - x0, y1 - y0),
                                       line_no))
    return cands, has_digits


def pick(cands: Sequence[Candidate], fmt: PostalFormat) -> Candidate:
    """The code among one line's candidates: the last one on the line (or the first, for formats
    written before the town), and of those sharing that place the longest form (ZIP+4 over ZIP).
    Confidence plays no part: a doubtful code in the right place is reported as doubtful, never
    replaced by a confident one in the wrong place."""
    if fmt.position == "end":
        return max(cands, key=lambda c: (c.box[0] + c.box[2], len(c.digit_confidences)))
    return max(cands, key=lambda c: (-c.box[0], len(c.digit_confidences)))


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
        predict: glyphs (N, 28, 28) uint8 -> (digits (N,), confidences (N,)); e.g. from a
            :class:`pipeline.classify.Classifier` via :func:`classifier_predict`.
        segment_cfg: segmentation tunables (page pixels at about 150-200 dpi).

    Example:
        >>> reader = PostalReader(load_format("us"), PostalConfig(), classifier_predict(Classifier()))  # doctest: +SKIP
        >>> reader.read(cv2.imread("envelope.png")).code                                               # doctest: +SKIP
        '62704-1234'
    """

    def __init__(self, fmt: PostalFormat, cfg: PostalConfig, predict: Predict,
                 segment_cfg: SegmentConfig = SegmentConfig()) -> None:
        self.fmt, self.cfg, self.predict, self.segment_cfg = fmt, cfg, predict, segment_cfg

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
            gray = cv2.resize(gray, (int(round(W * scale)), int(round(H * scale))), interpolation=cv2.INTER_AREA)
        mask = binarize(gray, self.segment_cfg)
        lines, labels = find_lines(mask)
        block = destination_block(find_blocks(lines), gray.shape)
        if block is None:
            return PostalResult("not_found", message="no writing found")

        def page(b: Box) -> Box:
            x, y, w, h = b
            return (int(x / scale), int(y / scale), max(1, int(round(w / scale))), max(1, int(round(h / scale))))

        # read the lines of the block (for the code: from the bottom up; all for the candidates list)
        per_line: list[tuple[list[Candidate], bool]] = []
        for no, ln in enumerate(block.lines, start=1):
            tokens = [dataclasses.replace(t, box=page(t.box)) for t in self._read_line(mask, labels, ln)]
            per_line.append(line_candidates(tokens, self.fmt, self.cfg, no))
        chosen: Candidate | None = None
        searched = 0
        for cands, has_digits in reversed(per_line):
            if cands:
                chosen = pick(cands, self.fmt)
                break
            searched += 1
            if has_digits or searched >= self.cfg.search_lines:
                break  # digits that fit no code on the last line: not a house number above instead
        others = sorted((c for cs, _ in per_line for c in cs if c is not chosen), key=lambda c: (-c.line, -c.confidence))
        listed = tuple([chosen] if chosen else []) + tuple(others)
        common = dict(candidates=listed, block=page(block.box),
                      lines=tuple(page((ln.x, ln.y, ln.w, ln.h)) for ln in block.lines))
        if chosen is None:
            return PostalResult("not_found", message="no digit group of the format on the last line", **common)  # type: ignore[arg-type]
        status = "ok" if chosen.confidence >= self.cfg.threshold else "low_confidence"
        return PostalResult(status, chosen.code, chosen.confidence, chosen.digit_confidences, chosen.box, **common)  # type: ignore[arg-type]

    def _read_line(self, mask: np.ndarray, labels: np.ndarray, ln: Line) -> list[Token]:
        """Segment and classify one line's ink (only its own components): tokens in work pixels."""
        pad = int(max(4, 0.4 * ln.height))
        H, W = mask.shape
        x0, y0 = max(0, ln.x - pad), max(0, ln.y - pad)
        x1, y1 = min(W, ln.x + ln.w + pad), min(H, ln.y + ln.h + pad)
        own = np.isin(labels[y0:y1, x0:x1], ln.labels)
        crop = np.where(own, 0, 255).astype(np.uint8)
        glyphs = segment(crop, self.segment_cfg, lambda g: self.predict(g)[1])
        tokens: list[Token] = []
        if glyphs:
            digits, conf = self.predict(np.stack([normalize_mask(g.mask) for g in glyphs]))
            tokens = [Token((x0 + g.x, y0 + g.y, g.w, g.h), int(d), float(c)) for g, d, c in zip(glyphs, digits, conf)]
        # short flat components (hyphens) that the segmenter drops as specks or blobs: kept as marks
        n, _, stats, _ = cv2.connectedComponentsWithStats(own.astype(np.uint8), connectivity=8)
        for bx, by, bw, bh, area in stats[1:]:
            if 2 <= bh < 0.45 * ln.height and bh * 0.7 <= bw <= 2.5 * ln.height and area >= 6:
                tokens.append(Token((x0 + int(bx), y0 + int(by), int(bw), int(bh)), -1, 0.0))
        return tokens


def classifier_predict(clf: Any) -> Predict:
    """Adapt a :class:`pipeline.classify.Classifier` to the reader's ``predict``."""

    def predict(glyphs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = clf.predict(glyphs)
        return p.digit, p.confidence

    return predict


# ---------------------------------------------------------------------------------------------
# rows, review pictures, the job


def result_row(source: str, page: int, r: PostalResult) -> dict[str, Any]:
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


def _pages(paths: Iterable[Path]) -> Iterator[Any]:
    from pipeline.sources import PageError, find_sources, read_pages

    for item in find_sources(paths):
        if isinstance(item, PageError):
            yield item
            continue
        yield from read_pages(item, color=True)


def run_postal(paths: Iterable[Path], out: Path, reader: PostalReader, review: Path | None = None,
               progress: bool = True) -> PostalStats:
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
    for item in tqdm(_pages(paths), desc="envelopes", unit="page", disable=not progress):
        stats.pages += 1
        if isinstance(item, PageError):
            errors.write([dataclasses.asdict(item)])
            rows.write([{**result_row(item.source, item.page, PostalResult("error")), "candidates": ""}])
            stats.by_status["error"] += 1
            continue
        try:
            result = reader.read(item.image)
        except (ValueError, cv2.error) as e:  # a page the stage cannot handle: one error row, go on
            errors.write([{"source": item.source, "page": item.page, "stage": "postal",
                           "error": type(e).__name__, "message": str(e)}])
            result = PostalResult("error", message=str(e))
        rows.write([result_row(item.source, item.page, result)])
        stats.by_status[result.status] += 1
        if review is not None:
            review_overlay(item.image, result, Path(review) / overlay_name(item))
    rows.commit()  # only a finished run renames its CSVs into place
    errors.commit()
    stats.seconds = time.perf_counter() - started
    return stats
