"""Synthetic envelopes with a handwritten postal code, for the golden samples and the benchmark.

An envelope is a colour (BGR) image of about 1400 x 640 px (a #10 envelope scanned or
photographed at ~150 dpi) with:

- the destination address block near the centre: a name, a street line that starts with a
  house number (1-5 digits, drawn as MNIST digits too, so a 5-digit house number is a real
  distractor), sometimes an apartment line, and the city line with the postal code;
- a smaller return address in the top-left corner, with its own postal code (MNIST digits);
- one or two stamps in the top-right corner (saturated colours, printed value digits) and a
  postmark (a ring with a printed town and date, wavy cancellation lines), black or red;
- sometimes a printed bar code at the bottom;
- paper tint (white, cream, manila, blue, pink, grey), black or blue ink, uneven light,
  noise, blur, a small rotation, JPEG.

Names, streets and cities are written with OpenCV's Hershey script fonts (a cursive look);
every postal-code and house-number digit is an MNIST *test* digit (never a training digit),
so a model trained on MNIST training data has not seen them.

Only NumPy and OpenCV are used (no TensorFlow). Everything is deterministic given the
``numpy.random.Generator``.

Example:
    >>> pool = DigitPool.load()                                  # doctest: +SKIP
    >>> env = render_envelope(np.random.default_rng(0), pool)   # doctest: +SKIP
    >>> env.image.shape, env.code                                # doctest: +SKIP
    ((640, 1400, 3), '62704-1234')

Run ``python samples/envelopes.py`` to (re)write ``samples/envelopes/`` and their true codes,
``samples/expected/postal_truth.csv`` (``samples/expected/postal.csv`` is what ``digits postal``
reads on them, the regression golden).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"
FORMATS = ("us", "de", "fr", "in", "br")

SCRIPT_FONTS = (cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX)
PRINT_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX)

# BGR colours
PAPERS = {
    "white": (244, 245, 246), "cream": (214, 236, 246), "manila": (150, 205, 232), "blue": (242, 226, 208),
    "pink": (228, 218, 248), "grey": (212, 214, 214),
}
INKS = {"black": (38, 32, 30), "blue": (160, 62, 24), "royal": (196, 92, 38), "navy": (112, 44, 28),
        "graphite": (70, 66, 64)}
STAMP_COLOURS = ((40, 40, 200), (50, 150, 40), (170, 60, 20), (150, 40, 140), (20, 130, 235), (40, 170, 200),
                 (120, 90, 20))

FIRST = ("John", "Mary", "Anna", "Peter", "Laura", "James", "Emma", "Lucas", "Sofia", "Paul", "Clara", "Henry",
         "Julia", "Mark", "Alice", "David", "Rosa", "Oliver", "Nora", "Samuel")
LAST = ("Smith", "Miller", "Brown", "Wilson", "Garcia", "Martin", "Keller", "Moreau", "Sharma", "Silva",
        "Schmidt", "Dubois", "Taylor", "Lopez", "Walker", "Young", "Fischer", "Bernard", "Patel", "Costa")
STREETS = ("Main Street", "Oak Avenue", "Maple Road", "Elm St", "Park Lane", "Cedar Drive", "Hill Road",
           "Lake View Dr", "Church St", "Mill Lane", "Sunset Blvd", "River Road", "Pine Court", "Bahnhofstrasse",
           "Rue de la Paix", "Gartenweg", "Rua Augusta", "MG Road")
US_CITIES = (("Springfield", "IL"), ("Portland", "OR"), ("Madison", "WI"), ("Austin", "TX"), ("Denver", "CO"),
             ("Boston", "MA"), ("Salem", "OR"), ("Dayton", "OH"), ("Reno", "NV"), ("Tampa", "FL"),
             ("Albany", "NY"), ("Columbus", "GA"), ("Richmond", "VA"), ("Fresno", "CA"))
CITIES = {"de": ("Berlin", "Hamburg", "Munchen", "Koln", "Leipzig", "Bremen"),
          "fr": ("Paris", "Lyon", "Marseille", "Nantes", "Lille", "Rennes"),
          "in": ("Mumbai", "New Delhi", "Chennai", "Pune", "Kolkata", "Jaipur"),
          "br": ("Sao Paulo SP", "Rio de Janeiro RJ", "Curitiba PR", "Recife PE", "Salvador BA")}
TOWNS = ("NEW YORK NY", "CHICAGO IL", "BERLIN", "PARIS", "DALLAS TX", "SEATTLE WA", "MUMBAI", "LYON")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
CODE_LENGTHS = {"us": (5,), "de": (5,), "fr": (5,), "in": (6,), "br": (5, 3)}


# ---------------------------------------------------------------------------------------------
# MNIST test digits


@dataclass(frozen=True)
class DigitPool:
    """MNIST *test* images (N, 28, 28) uint8 white-on-black with their labels, drawn by label."""

    images: np.ndarray
    labels: np.ndarray

    @classmethod
    def load(cls, mnist_dir: Path = MNIST_DIR) -> DigitPool:
        """Read ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` (test set only)."""
        from model.data import read_idx

        images = read_idx(Path(mnist_dir) / "t10k-images-idx3-ubyte.gz")
        labels = read_idx(Path(mnist_dir) / "t10k-labels-idx1-ubyte.gz")
        if images.shape[1:] != (28, 28) or len(images) != len(labels):
            raise ValueError(f"mnist_dir: unexpected test arrays {images.shape}, {labels.shape} in {mnist_dir}")
        return cls(images, labels)

    def draw(self, rng: np.random.Generator, digit: int) -> np.ndarray:
        """A random test image of ``digit``."""
        idx = np.flatnonzero(self.labels == digit)
        return self.images[int(rng.choice(idx))]


def _stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary mask (2 x area / perimeter), px."""
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * float(mask.sum()) / max(perimeter, 1.0)


def render_digit(image: np.ndarray, height: float, pen: float, rng: np.random.Generator) -> np.ndarray:
    """One MNIST digit as pen ink: float32 (h, w) coverage in [0, 1], cropped, about ``height`` tall.

    The digit is upscaled (x2 supersampled), thresholded to a stroke mask, and its strokes are
    thinned or thickened to the pen width ``pen`` (measured on the digit itself, so that all
    digits of a code look written with one pen); thinning stops short of breaking a stroke.
    The mask is then area-averaged down (anti-aliased edges).
    """
    d = image.astype(np.float32) / 255.0
    ys, xs = np.nonzero(d > 0.3)
    if len(ys) == 0:
        return np.zeros((1, 1), np.float32)
    crop = np.pad(d[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], 2)
    scale = 2.0 * height / (ys.max() + 1 - ys.min())
    up = cv2.resize(crop, None, fx=scale * rng.uniform(0.9, 1.1), fy=scale, interpolation=cv2.INTER_CUBIC)
    up = cv2.GaussianBlur(up, (0, 0), 0.25 * scale)
    mask = (up > 0.4).astype(np.uint8)
    pad = int(2 * pen) + 4
    mask = np.pad(mask, pad)
    width, target = _stroke_width(mask), 2.0 * pen
    parts = cv2.connectedComponents(mask)[0]
    r = round(abs(width - target) / 2.0)
    if width > target:
        for rr in range(r, 0, -1):  # the largest erosion that breaks nothing
            thin = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rr + 1, 2 * rr + 1)))
            if cv2.connectedComponents(thin)[0] <= parts and thin.sum() > 0.3 * mask.sum():
                mask = thin
                break
    elif r > 0:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    h, w = mask.shape
    m = np.pad(mask.astype(np.float32), ((0, h % 2), (0, w % 2)))
    alpha = cv2.resize(m, (m.shape[1] // 2, m.shape[0] // 2), interpolation=cv2.INTER_AREA)
    ys, xs = np.nonzero(alpha > 0.02)
    if len(ys) == 0:
        return np.zeros((1, 1), np.float32)
    return alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


# ---------------------------------------------------------------------------------------------
# lines of writing: script text, MNIST digits, hyphens, on one baseline


@dataclass
class Line:
    """A line of writing as an alpha strip; ``baseline`` is its row, ``boxes`` the digit boxes."""

    alpha: np.ndarray
    baseline: int
    boxes: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)  # tag -> x, y, w, h in the strip


def _script(rng: np.random.Generator, text: str, font: int, cap: float, thick: int) -> tuple[np.ndarray, int]:
    """Handwriting-like text as alpha, with its baseline row.

    OpenCV's script fonts are drawn (x2 supersampled; OpenCV 5 renders them as an italic face),
    then slanted and warped by a smooth random displacement, so no two words look alike.
    """
    scale = 2.0 * cap / 22.0
    (w, h), base = cv2.getTextSize(text, font, scale, 2 * thick)
    pad = 4 * thick + int(cap)
    canvas = np.zeros((h + base + 2 * pad, w + 2 * pad), np.uint8)
    org = (pad, h + pad)
    cv2.putText(canvas, text, org, font, scale, 255, 2 * thick, cv2.LINE_AA)
    # slant and warp
    hh, ww_ = canvas.shape
    shear = rng.uniform(-0.1, 0.25)
    m = np.float32([[1, -shear, shear * org[1]], [0, 1, 0]])
    canvas = cv2.warpAffine(canvas, m, (ww_, hh), flags=cv2.INTER_LINEAR)
    amp = 2 * cap * rng.uniform(0.03, 0.07)
    gy, gx = max(2, hh // 40 + 2), max(2, ww_ // 40 + 2)
    dx = cv2.resize(rng.uniform(-amp, amp, (gy, gx)).astype(np.float32), (ww_, hh), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(rng.uniform(-amp, amp, (gy, gx)).astype(np.float32), (ww_, hh), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:hh, 0:ww_].astype(np.float32)
    canvas = cv2.remap(canvas, xx + dx, yy + dy, cv2.INTER_LINEAR)
    m = canvas.astype(np.float32) / 255.0
    m = np.pad(m, ((0, m.shape[0] % 2), (0, m.shape[1] % 2)))
    alpha = cv2.resize(m, (m.shape[1] // 2, m.shape[0] // 2), interpolation=cv2.INTER_AREA)
    return alpha, org[1] // 2


def compose_line(rng: np.random.Generator, pool: DigitPool, items: list[tuple[str, str]], cap: float, pen: float,
                 font: int, digit_height: float) -> Line:
    """Lay out items on one baseline.

    Args:
        items: ``("text", "Springfield, IL")``, ``("digits", "62704")`` (tagged ``"digits:TAG"``
            to record its box), ``("hyphen", "")`` or ``("gap", "")`` (one word space).
        cap: script capital height; digit_height: MNIST digit height (px).
    """
    strip_h = int(cap * 4 + digit_height)
    baseline = int(cap * 1.6 + digit_height)
    width = 40 + sum(int(len(t) * cap * 1.3 + digit_height) for _, t in items) + int(6 * digit_height)
    alpha = np.zeros((strip_h, width), np.float32)
    x = 10
    boxes: dict[str, tuple[int, int, int, int]] = {}
    thick = max(1, round(pen))
    for kind, text in items:
        tag = kind.split(":", 1)[1] if ":" in kind else ""
        kind = kind.split(":", 1)[0]
        if kind == "text":
            a, base = _script(rng, text, font, cap, thick)
            y0 = baseline - base
            _paste(alpha, a, x, y0)
            x += a.shape[1] + int(cap * rng.uniform(0.5, 0.9))
        elif kind == "gap":
            x += int(digit_height * rng.uniform(0.5, 0.9))
        elif kind == "hyphen":
            w = int(digit_height * rng.uniform(0.3, 0.5))
            y = int(baseline - digit_height * rng.uniform(0.42, 0.58))
            x += int(digit_height * rng.uniform(0.12, 0.3))
            tilt = int(rng.integers(-2, 3))
            canvas = np.zeros((int(digit_height), w + 8), np.uint8)
            mid = int(digit_height) // 2
            cv2.line(canvas, (4, mid + tilt), (w + 4, mid - tilt), 255, max(2, round(pen * 1.1)), cv2.LINE_AA)
            _paste(alpha, canvas.astype(np.float32) / 255.0, x - 4, y - mid)
            x += w + int(digit_height * rng.uniform(0.12, 0.3))
        elif kind == "digits":
            x0, y_top, y_bot = x, strip_h, 0
            size = digit_height * rng.uniform(0.93, 1.07)
            for ch in text:
                a = render_digit(pool.draw(rng, int(ch)), size * rng.uniform(0.9, 1.08), pen * rng.uniform(0.95, 1.05), rng)
                y = baseline - a.shape[0] + int(rng.integers(-2, 3))
                _paste(alpha, a, x, y)
                y_top, y_bot = min(y_top, y), max(y_bot, y + a.shape[0])
                step = int(size * rng.uniform(0.1, 0.35))
                x += a.shape[1] + step
            x -= step
            if tag:
                boxes[tag] = (x0, y_top, x - x0, y_bot - y_top)
        else:
            raise ValueError(f"items: unknown kind {kind!r}")
    alpha = alpha[:, : min(width, x + 10)]
    return Line(np.clip(alpha, 0, 1), baseline, boxes)


def _paste(dst: np.ndarray, src: np.ndarray, x: int, y: int) -> None:
    """Add ``src`` into ``dst`` at (x, y) (max of coverages), clipped to ``dst``."""
    h, w = src.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(dst.shape[1], x + w), min(dst.shape[0], y + h)
    if x1 <= x0 or y1 <= y0:
        return
    region = dst[y0:y1, x0:x1]
    np.maximum(region, src[y0 - y : y1 - y, x0 - x : x1 - x], out=region)


def _blend(img: np.ndarray, alpha: np.ndarray, colour: tuple[int, int, int] | np.ndarray, x: int = 0, y: int = 0,
           opacity: float = 1.0) -> None:
    """Blend ink of ``colour`` with coverage ``alpha`` into the float image at (x, y)."""
    h, w = alpha.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(img.shape[1], x + w), min(img.shape[0], y + h)
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x, None] * opacity
    region = img[y0:y1, x0:x1]
    region[:] = region * (1 - a) + np.asarray(colour, np.float32) * a


# ---------------------------------------------------------------------------------------------
# envelope parts


def _code_text(rng: np.random.Generator, fmt: str, plus4: bool) -> tuple[list[tuple[str, str]], str]:
    """Items for the postal code as written, and its normalized form."""
    if fmt == "us":
        zip5 = "".join(str(int(v)) for v in rng.integers(0, 10, 5))
        if not plus4:
            return [("digits:code", zip5)], zip5
        four = "".join(str(int(v)) for v in rng.integers(0, 10, 4))
        sep = ("hyphen", "") if rng.random() < 0.7 else ("gap", "")
        return [("digits:code", zip5), sep, ("digits:code2", four)], f"{zip5}-{four}"
    if fmt == "br":
        a = "".join(str(int(v)) for v in rng.integers(0, 10, 5))
        b = "".join(str(int(v)) for v in rng.integers(0, 10, 3))
        sep = ("hyphen", "") if rng.random() < 0.8 else ("gap", "")
        return [("digits:code", a), sep, ("digits:code2", b)], f"{a}-{b}"
    n = 6 if fmt == "in" else 5
    first = str(int(rng.integers(1, 10)))
    code = first + "".join(str(int(v)) for v in rng.integers(0, 10, n - 1))
    return [("digits:code", code)], code


def _house_number(rng: np.random.Generator, five_share: float) -> str:
    n = 5 if rng.random() < five_share else int(rng.choice([1, 2, 3, 4], p=[0.15, 0.35, 0.3, 0.2]))
    return str(int(rng.integers(1, 10))) + "".join(str(int(v)) for v in rng.integers(0, 10, n - 1))


def _address_lines(rng: np.random.Generator, fmt: str, plus4: bool, five_share: float) -> tuple[list[list[tuple[str, str]]], str]:
    """The destination (or return) address as lines of items, and its normalized postal code."""
    name = f"{rng.choice(['', 'Mr. ', 'Ms. ', 'Dr. '])}{rng.choice(FIRST)} {rng.choice(LAST)}"
    street = [("digits", _house_number(rng, five_share)), ("text", str(rng.choice(STREETS)))]
    if fmt in ("de", "fr", "br") and rng.random() < 0.5:  # number after the street name
        street = street[::-1]
    lines: list[list[tuple[str, str]]] = [[("text", name)], street]
    if rng.random() < 0.2:
        lines.append([("text", str(rng.choice(["Apt", "Suite", "Unit"]))), ("digits", _house_number(rng, 0.0)[:2])])
    code_items, code = _code_text(rng, fmt, plus4)
    if fmt == "us":
        city, state = US_CITIES[int(rng.integers(len(US_CITIES)))]
        lines.append([("text", f"{city}," if rng.random() < 0.6 else city), ("text", state), ("gap", ""), *code_items])
    elif fmt in ("de", "fr"):
        lines.append([*code_items, ("gap", ""), ("text", str(rng.choice(CITIES[fmt])))])
    elif fmt == "in":
        lines.append([("text", str(rng.choice(CITIES[fmt]))), ("gap", ""), *code_items])
    else:  # br
        if rng.random() < 0.25:
            lines.append([("text", str(rng.choice(CITIES[fmt]))), ("gap", ""), *code_items])
        else:
            lines.append([*code_items, ("gap", ""), ("text", str(rng.choice(CITIES[fmt])))])
    return lines, code


def _stamp(rng: np.random.Generator, img: np.ndarray, x: int, y: int, w: int, h: int,
           paper: tuple[int, int, int]) -> None:
    """A postage stamp: saturated picture, white perforated margin, printed value."""
    colour = STAMP_COLOURS[int(rng.integers(len(STAMP_COLOURS)))]
    cv2.rectangle(img, (x, y), (x + w, y + h), (250, 250, 250), -1)
    for t in range(0, w, 8):  # perforation
        cv2.circle(img, (x + t, y), 3, paper, -1)
        cv2.circle(img, (x + t, y + h), 3, paper, -1)
    for t in range(0, h, 8):
        cv2.circle(img, (x, y + t), 3, paper, -1)
        cv2.circle(img, (x + w, y + t), 3, paper, -1)
    m = 9
    cv2.rectangle(img, (x + m, y + m), (x + w - m, y + h - m), colour, -1)
    second = STAMP_COLOURS[int(rng.integers(len(STAMP_COLOURS)))]
    cx, cy = x + w // 2 + int(rng.integers(-10, 10)), y + h // 2 + int(rng.integers(-5, 15))
    shape = rng.integers(3)
    if shape == 0:
        cv2.circle(img, (cx, cy), int(min(w, h) * 0.25), second, -1)
    elif shape == 1:
        pts = np.array([[cx, cy - 30], [cx - 30, cy + 25], [cx + 30, cy + 25]], np.int32)
        cv2.fillPoly(img, [pts], second)
    else:
        for k in range(4):
            cv2.line(img, (x + m + 5, cy - 20 + 12 * k), (x + w - m - 5, cy - 28 + 12 * k), second, 4)
    value = str(int(rng.choice([37, 55, 58, 63, 68, 73, 80, 95, 120, 145])))
    ink = (250, 250, 250) if sum(colour) < 450 else (20, 20, 20)
    font = PRINT_FONTS[int(rng.integers(len(PRINT_FONTS)))]
    cv2.putText(img, value, (x + m + 6, y + m + 30), font, 1.0, ink, 2, cv2.LINE_AA)
    cv2.putText(img, str(rng.choice(["USA", "FOREVER", "POSTAGE", "DEUTSCHLAND", "FRANCE", "INDIA", "BRASIL"])),
                (x + m + 4, y + h - m - 8), font, 0.45, ink, 1, cv2.LINE_AA)


def _postmark(rng: np.random.Generator, img: np.ndarray, cx: int, cy: int, colour: tuple[int, int, int]) -> None:
    """A cancellation: a ring with printed town and date, and wavy lines to its right."""
    layer = np.zeros(img.shape[:2], np.uint8)
    r = int(rng.integers(52, 70))
    cv2.circle(layer, (cx, cy), r, 255, 3, cv2.LINE_AA)
    cv2.circle(layer, (cx, cy), r - 14, 255, 1, cv2.LINE_AA)
    font = PRINT_FONTS[int(rng.integers(len(PRINT_FONTS)))]
    town = str(rng.choice(TOWNS))
    cv2.putText(layer, town[:10], (cx - r + 16, cy - 12), font, 0.42, 255, 1, cv2.LINE_AA)
    date = f"{int(rng.integers(1, 29)):02d} {rng.choice(MONTHS)} {int(rng.integers(2019, 2026))}"
    cv2.putText(layer, date, (cx - r + 12, cy + 8), font, 0.42, 255, 1, cv2.LINE_AA)
    cv2.putText(layer, f"{int(rng.integers(10000, 99999))}", (cx - 26, cy + 30), font, 0.5, 255, 1, cv2.LINE_AA)
    x0 = cx + r + 6
    for k in range(int(rng.integers(3, 7))):
        y = cy - 40 + 16 * k
        xs = np.arange(x0, min(img.shape[1] - 10, x0 + int(rng.integers(180, 320))))
        ys = y + 6 * np.sin(xs / 14.0 + k)
        pts = np.stack([xs, ys], 1).astype(np.int32)
        cv2.polylines(layer, [pts], False, 255, 3, cv2.LINE_AA)
    _blend(img, layer.astype(np.float32) / 255.0, colour, opacity=float(rng.uniform(0.55, 0.9)))


def _barcode(rng: np.random.Generator, img: np.ndarray, x: int, y: int) -> None:
    """A POSTNET-like bar code: 52 bars, full or half height."""
    for k in range(52):
        tall = k in (0, 51) or rng.random() < 0.4
        h = 16 if tall else 7
        cv2.rectangle(img, (x + 7 * k, y + 16 - h), (x + 7 * k + 2, y + 16), (30, 30, 30), -1)


# ---------------------------------------------------------------------------------------------
# envelope


@dataclass(frozen=True)
class Envelope:
    """A rendered envelope: BGR uint8 image, its normalized postal code and the code's box."""

    image: np.ndarray
    code: str
    box: tuple[int, int, int, int]  # x, y, w, h of the code's ink (before rotation)
    fmt: str
    look: dict[str, object]


def render_envelope(rng: np.random.Generator, pool: DigitPool, fmt: str = "us", plus4_share: float = 0.3,
                    five_digit_house_share: float = 0.3, **look: object) -> Envelope:
    """Draw one envelope.

    Args:
        rng: the random source (everything is drawn from it).
        pool: MNIST test digits.
        fmt: postal format of the destination: us, de, fr, in or br.
        plus4_share: share of US codes written as ZIP+4.
        five_digit_house_share: share of street lines whose house number has 5 digits.
        look: fix some random choices: ``paper``, ``ink``, ``blur`` (sigma), ``rotate`` (degrees),
            ``barcode`` (bool), ``plus4`` (bool), ``noise`` (sigma), ``dark`` (postmark colour black).

    Returns:
        The :class:`Envelope`.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt: expected one of {FORMATS}, got {fmt!r}")
    W = int(rng.integers(1300, 1500))
    H = int(W / rng.uniform(2.05, 2.35))
    paper_name = str(look.get("paper", rng.choice(list(PAPERS), p=[0.35, 0.15, 0.15, 0.12, 0.1, 0.13])))
    ink_name = str(look.get("ink", rng.choice(list(INKS), p=[0.35, 0.25, 0.15, 0.15, 0.1])))
    paper = np.array(PAPERS[paper_name], np.float32) + rng.uniform(-6, 6, 3).astype(np.float32)
    paper_bgr = (int(paper[0]), int(paper[1]), int(paper[2]))
    img = np.empty((H, W, 3), np.float32)
    img[:] = paper
    ink = np.array(INKS[ink_name], np.float32) + rng.uniform(-12, 12, 3).astype(np.float32)
    font = SCRIPT_FONTS[int(rng.integers(len(SCRIPT_FONTS)))]

    # stamps and postmark (top right)
    u8 = np.clip(img, 0, 255).astype(np.uint8)
    sw, sh = int(rng.integers(100, 135)), int(rng.integers(120, 155))
    sx, sy = W - sw - int(rng.integers(30, 70)), int(rng.integers(25, 55))
    _stamp(rng, u8, sx, sy, sw, sh, paper_bgr)
    if rng.random() < 0.3:
        sw2 = int(rng.integers(90, 120))
        _stamp(rng, u8, sx - sw2 - 14, sy + int(rng.integers(-5, 10)), sw2, sh - 10, paper_bgr)
    img = u8.astype(np.float32)
    pm_dark = bool(look.get("dark", rng.random() < 0.6))
    pm_colour = (50, 45, 45) if pm_dark else (40, 40, 190)
    _postmark(rng, img, sx - int(rng.integers(20, 70)), sy + sh // 2 + int(rng.integers(-10, 30)), pm_colour)

    # return address (top left), smaller writing, with its own code
    r_cap = float(rng.uniform(15, 20))
    r_lines, _ = _address_lines(rng, fmt, False, 0.2)
    rx, ry = int(rng.integers(30, 70)), int(rng.integers(25, 50))
    pen_r = max(1.3, r_cap * float(rng.uniform(0.07, 0.11)))
    for items in r_lines:
        line = compose_line(rng, pool, items, r_cap, pen_r, font, r_cap * rng.uniform(1.1, 1.35))
        _blend(img, line.alpha, ink, rx, ry - line.baseline + int(r_cap * 1.3))
        ry += int(r_cap * rng.uniform(2.0, 2.4))

    # destination block (centre)
    plus4 = bool(look.get("plus4", rng.random() < plus4_share)) if fmt == "us" else False
    lines, code = _address_lines(rng, fmt, plus4, five_digit_house_share)
    cap = float(rng.uniform(24, 34))
    digit_h = cap * float(rng.uniform(1.05, 1.4))
    pen = max(1.8, digit_h * float(rng.uniform(0.065, 0.13)))  # fine ballpoint .. felt tip at ~150 dpi, px
    spacing = max(cap * rng.uniform(2.3, 2.9), digit_h * 1.45)
    bx = int(W * rng.uniform(0.30, 0.42))
    by = int(H * rng.uniform(0.40, 0.50))
    code_box = (0, 0, 0, 0)
    for items in lines:
        line = compose_line(rng, pool, items, cap, pen * rng.uniform(0.95, 1.05), font, digit_h)
        x = bx + int(rng.integers(-15, 16))
        y = by - line.baseline
        if x + line.alpha.shape[1] > W - 20:
            x = max(20, W - 20 - line.alpha.shape[1])
        _blend(img, line.alpha, ink, x, y)
        if "code" in line.boxes:
            boxes = [line.boxes[k] for k in ("code", "code2") if k in line.boxes]
            x0 = min(b[0] for b in boxes)
            y0 = min(b[1] for b in boxes)
            x1 = max(b[0] + b[2] for b in boxes)
            y1 = max(b[1] + b[3] for b in boxes)
            code_box = (x + x0, y + y0, x1 - x0, y1 - y0)
        by += int(spacing)

    if bool(look.get("barcode", rng.random() < 0.2)):
        u8 = np.clip(img, 0, 255).astype(np.uint8)
        _barcode(rng, u8, int(W * rng.uniform(0.45, 0.6)), H - 40)
        img = u8.astype(np.float32)

    # light, noise, blur, rotation
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    gx, gy = rng.uniform(-0.12, 0.12, 2)
    light = 1.0 + gx * (xx / W - 0.5) + gy * (yy / H - 0.5)
    img *= light[..., None]
    noise = float(look.get("noise", rng.uniform(1.5, 6.0)))
    img += rng.normal(0, noise, img.shape).astype(np.float32)
    blur = float(look.get("blur", rng.choice([0.0, 0.6, 0.9, 1.2], p=[0.4, 0.25, 0.2, 0.15])))
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    angle = float(look.get("rotate", rng.uniform(-2.0, 2.0) if rng.random() < 0.5 else 0.0))
    out = np.clip(img, 0, 255).astype(np.uint8)
    if angle:
        m = cv2.getRotationMatrix2D((W / 2, H / 2), angle, 1.0)
        out = cv2.warpAffine(out, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    info = {"paper": paper_name, "ink": ink_name, "blur": blur, "rotate": round(angle, 2), "plus4": plus4,
            "noise": round(noise, 1)}
    return Envelope(out, code, code_box, fmt, info)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through JPEG at ``quality`` (compression artefacts)."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("image: JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


# ---------------------------------------------------------------------------------------------
# the committed samples

SAMPLES = (  # file name, seed, look; a .png name with "gray" is written as a grey scan
    ("envelope-01-black.jpg", 11, {"paper": "white", "ink": "black", "plus4": False, "barcode": False, "blur": 0.0}),
    ("envelope-02-blue-zip4.jpg", 12, {"paper": "cream", "ink": "blue", "plus4": True, "blur": 0.6}),
    ("envelope-03-manila.jpg", 13, {"paper": "manila", "ink": "navy", "plus4": False, "dark": False}),
    ("envelope-04-house5.jpg", 14, {"paper": "white", "ink": "royal", "plus4": False, "barcode": True}),
    ("envelope-05-pink-zip4.jpg", 15, {"paper": "pink", "ink": "black", "plus4": True, "rotate": 1.5}),
    ("envelope-06-photo.jpg", 16, {"paper": "grey", "ink": "blue", "plus4": False, "blur": 1.0, "noise": 5.0}),
    ("envelope-07-gray-scan.png", 17, {"paper": "white", "ink": "black", "plus4": True, "noise": 0.0, "blur": 0.6}),
)


def write_samples(out_dir: Path = ROOT / "samples" / "envelopes", expected: Path = ROOT / "samples" / "expected" / "postal_truth.csv") -> list[tuple[str, str]]:
    """Render :data:`SAMPLES` (US codes) into ``out_dir`` and their codes into ``expected``.

    Files of ``out_dir`` named ``envelope-*`` that are not in :data:`SAMPLES` are removed.
    """
    pool = DigitPool.load()
    out_dir.mkdir(parents=True, exist_ok=True)
    expected.parent.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("envelope-*"):
        if old.name not in {name for name, _, _ in SAMPLES}:
            old.unlink()
    rows = []
    for name, seed, look in SAMPLES:
        rng = np.random.default_rng(seed)
        five = 1.0 if "house5" in name else 0.3
        env = render_envelope(rng, pool, "us", five_digit_house_share=five, **look)
        path = out_dir / name
        image = cv2.cvtColor(env.image, cv2.COLOR_BGR2GRAY) if "gray" in name else env.image
        params = [cv2.IMWRITE_JPEG_QUALITY, 85] if path.suffix == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 9]
        if not cv2.imwrite(str(path), image, params):
            raise OSError(f"{path}: cannot write")
        rows.append((f"samples/envelopes/{name}", env.code))
    with open(expected, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["source", "postal_code"])
        w.writerows(rows)
    return rows


if __name__ == "__main__":
    for source, code in write_samples():
        print(f"{source}: {code}")
