"""Generated "not a digit" glyphs: printed letters and punctuation from real fonts, Hershey
letters, pieces of words, form-rule fragments, box corners, brackets, specks, blobs and noise.

Each generator returns a raw binary ink mask (H, W) uint8, 255 = ink, 0 = paper, of arbitrary
size, as the segmenter would cut it from a scan; the caller normalizes it to 28x28 with the
pipeline's own recipe (``model.train.train`` takes the normalizer as a parameter: model/ never
imports pipeline/). Printed digits are never drawn (they are digits), nor the characters that
are indistinguishable from a handwritten digit once normalized (``EXCLUDED``).

Fonts are split so that evaluation can use fonts training never saw: training draws from the
DejaVu TrueType families and six Hershey faces, the held-out set from STIX and two Hershey faces.
"""

from __future__ import annotations

import functools
import string
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

Normalizer = Callable[[np.ndarray], np.ndarray]

# Characters drawn as printed text. Digits are excluded (they are digits); so are the shapes a
# normalized handwritten digit can take: O o (0), I l i | ! / \ (1), and nothing else.
EXCLUDED = frozenset("0123456789OoIli|!/\\")
CHARS = "".join(c for c in string.ascii_letters + "()[]{}:;.?-_#%&*+=<>@$~^" if c not in EXCLUDED)
LETTERS = "".join(c for c in string.ascii_letters if c not in EXCLUDED)

_HERSHEY_TRAIN = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_COMPLEX_SMALL,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
)
_HERSHEY_HELD_OUT = (cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX)


@functools.lru_cache(maxsize=2)
def font_files(held_out: bool = False) -> tuple[Path, ...]:
    """TrueType fonts shipped with matplotlib: DejaVu (training) or STIX General (held out).

    Raises:
        FileNotFoundError: when matplotlib's font folder holds none of them.
    """
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pattern = "STIXGeneral*.ttf" if held_out else "DejaVu*.ttf"
    files = tuple(sorted(folder.glob(pattern)))
    if not files:
        raise FileNotFoundError(f"{folder}: no {pattern} fonts (matplotlib's data folder)")
    return files


@functools.lru_cache(maxsize=256)
def _font(path: Path, size: int):  # type: ignore[no-untyped-def]
    from PIL import ImageFont

    return ImageFont.truetype(str(path), size)


def _crop(mask: np.ndarray) -> np.ndarray:
    """Tight box of the ink; a single pixel when there is none."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return np.full((1, 1), 255, np.uint8)
    return np.where(mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] > 0, 255, 0).astype(np.uint8)


def _distort(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """Small rotation/shear (a skewed scan) and, sometimes, thicker or thinner strokes."""
    h, w = mask.shape
    pad = max(h, w) // 2 + 2
    m = np.pad(mask, pad)
    angle, shear = rng.uniform(-6, 6), rng.uniform(-0.15, 0.15)
    c = (m.shape[1] / 2, m.shape[0] / 2)
    a = cv2.getRotationMatrix2D(c, angle, 1.0)
    a[0, 1] += shear
    m = cv2.warpAffine(m, a, (m.shape[1], m.shape[0]), flags=cv2.INTER_LINEAR)
    m = (m > 127).astype(np.uint8) * 255
    r = rng.random()
    if r < 0.15:
        m = cv2.dilate(m, np.ones((2, 2), np.uint8))
    elif r < 0.25 and min(h, w) > 20:
        thin = cv2.erode(m, np.ones((2, 2), np.uint8))
        m = thin if thin.any() else m
    return _crop(m)


def _render_ttf(rng: np.random.Generator, text: str, fonts: tuple[Path, ...], overlap: int = 0) -> np.ndarray:
    """Draw ``text`` with one random TrueType font, size and stroke; letters touch by ``overlap`` px."""
    from PIL import Image, ImageDraw

    size = int(rng.integers(14, 72))
    font = _font(fonts[int(rng.integers(len(fonts)))], size)
    stroke = int(rng.integers(0, 2 + size // 24)) if rng.random() < 0.4 else 0
    img = Image.new("L", (size * (len(text) + 2) + 8, size * 2 + 8), 0)
    draw = ImageDraw.Draw(img)
    x = size // 2
    for ch in text:
        draw.text((x, size // 2), ch, fill=255, font=font, stroke_width=stroke, stroke_fill=255)
        x += int(draw.textlength(ch, font=font)) + 2 * stroke - overlap
    return np.asarray(img)


def _render_hershey(rng: np.random.Generator, text: str, faces: tuple[int, ...]) -> np.ndarray:
    face = faces[int(rng.integers(len(faces)))] | (cv2.FONT_ITALIC if rng.random() < 0.3 else 0)
    scale = float(rng.uniform(0.6, 2.5))
    thickness = int(rng.integers(1, 5))
    (tw, th), base = cv2.getTextSize(text, face, scale, thickness)
    img = np.zeros((th + base + 20, tw + 20), np.uint8)
    cv2.putText(img, text, (10, th + 10), face, scale, 255, thickness, cv2.LINE_AA)
    return img


def _rule(rng: np.random.Generator) -> np.ndarray:
    """A fragment of a printed horizontal rule, dotted leader or underline, maybe with end ticks."""
    w, t = int(rng.integers(30, 240)), int(rng.integers(1, 6))
    tick = int(rng.integers(6, 30))
    m = np.zeros((t + 2 * tick + 4, w + 4), np.uint8)
    y = tick + 2
    if rng.random() < 0.25:  # dotted or dashed leader
        step, on = int(rng.integers(4, 14)), int(rng.integers(2, 8))
        for x in range(2, w + 2, step):
            m[y : y + t, x : x + min(on, step - 1)] = 255
    else:
        m[y : y + t, 2 : w + 2] = 255
    kind = rng.integers(4)
    if kind == 1:  # comb: ticks up along the rule
        step = int(rng.integers(20, 60))
        for x in range(2, w + 2, step):
            m[y - tick : y, x : x + t] = 255
    elif kind == 2:  # end ticks up or down
        lo, hi = (y - tick, y) if rng.random() < 0.5 else (y + t, y + t + tick)
        m[lo:hi, 2 : 2 + t] = 255
        m[lo:hi, w + 2 - t : w + 2] = 255
    return m


def _corner(rng: np.random.Generator) -> np.ndarray:
    """A box corner, T junction or cross of printed rules (arms of random lengths)."""
    a, b, t = int(rng.integers(10, 80)), int(rng.integers(10, 80)), int(rng.integers(1, 6))
    m = np.zeros((2 * a + t, 2 * b + t), np.uint8)
    arms = [(0, 1, 0, 1), (1, 0, 1, 0), (1, 1, 0, 0), (0, 0, 1, 1)]  # up, down, left, right switches
    kind = int(rng.integers(3))
    if kind == 0:  # corner: one vertical and one horizontal arm
        up, left = rng.random() < 0.5, rng.random() < 0.5
        sel = (up, not up, left, not left)
    elif kind == 1:  # T junction
        sel = arms[int(rng.integers(4))]
        sel = tuple(not s for s in sel) if rng.random() < 0.5 else (True, True, sel[2], not sel[2])
    else:  # cross
        sel = (True, True, True, True)
    up, down, left, right = sel
    if up:
        m[:a, b : b + t] = 255
    if down:
        m[a:, b : b + t] = 255
    if left:
        m[a : a + t, :b] = 255
    if right:
        m[a : a + t, b:] = 255
    m[a : a + t, b : b + t] = 255
    return m


def _speck(rng: np.random.Generator) -> np.ndarray:
    """A speck, blob or smudge: one filled irregular shape or a few dots."""
    s = int(rng.integers(3, 40))
    m = np.zeros((3 * s + 4, 3 * s + 4), np.uint8)
    c = np.array([1.5 * s + 2, 1.5 * s + 2])
    if rng.random() < 0.6:  # irregular polygon blob
        k = int(rng.integers(5, 12))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        rad = s * rng.uniform(0.4, 1.0, k)
        pts = np.stack([c[0] + rad * np.cos(ang) * rng.uniform(0.5, 1.5), c[1] + rad * np.sin(ang)], 1)
        cv2.fillPoly(m, [pts.astype(np.int32)], 255)
    else:  # a cluster of dots
        for _ in range(int(rng.integers(2, 7))):
            p = c + rng.normal(0, s / 2, 2)
            cv2.circle(m, (int(p[0]), int(p[1])), int(rng.integers(1, max(2, s // 3))), 255, -1)
    return m


def _noise(rng: np.random.Generator) -> np.ndarray:
    """Scanner noise: blurred random field, thresholded into scattered specks."""
    h, w = int(rng.integers(12, 80)), int(rng.integers(12, 80))
    field = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), float(rng.uniform(0.6, 2.5)))
    q = float(rng.uniform(0.75, 0.95))
    return (field > np.quantile(field, q)).astype(np.uint8) * 255


KINDS = ("font_char", "font_pair", "hershey_char", "hershey_pair", "rule", "corner", "speck", "noise")
WEIGHTS = (0.36, 0.14, 0.14, 0.06, 0.09, 0.08, 0.08, 0.05)


def negative_mask(rng: np.random.Generator, held_out: bool = False, kind: str | None = None) -> np.ndarray:
    """One random "not a digit" ink mask.

    Args:
        rng: the random source (the only one used).
        held_out: draw text from the held-out fonts (STIX, two Hershey faces) instead of the training ones.
        kind: one of ``KINDS`` (default: drawn with probabilities ``WEIGHTS``).

    Returns:
        (H, W) uint8 mask, 255 = ink, tight box, at least one ink pixel.
    """
    drawn = KINDS[int(rng.choice(len(KINDS), p=WEIGHTS))]
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    kind = kind or drawn
    fonts = font_files(held_out)
    faces = _HERSHEY_HELD_OUT if held_out else _HERSHEY_TRAIN
    if kind == "font_char":
        mask = _render_ttf(rng, CHARS[int(rng.integers(len(CHARS)))], fonts)
    elif kind == "font_pair":
        text = "".join(LETTERS[int(i)] for i in rng.integers(len(LETTERS), size=int(rng.integers(2, 4))))
        mask = _render_ttf(rng, text, fonts, overlap=int(rng.integers(1, 6)))
    elif kind == "hershey_char":
        mask = _render_hershey(rng, CHARS[int(rng.integers(len(CHARS)))], faces)
    elif kind == "hershey_pair":
        text = "".join(LETTERS[int(i)] for i in rng.integers(len(LETTERS), size=int(rng.integers(2, 4))))
        mask = _render_hershey(rng, text, faces)
    elif kind == "rule":
        mask = _rule(rng)
    elif kind == "corner":
        mask = _corner(rng)
    elif kind == "speck":
        mask = _speck(rng)
    else:
        mask = _noise(rng)
    return _distort(rng, _crop(mask))


def negative_images(n: int, seed: int, normalizer: Normalizer, held_out: bool = False) -> np.ndarray:
    """``n`` generated negatives normalized to MNIST form; the same ``seed`` gives the same images.

    Args:
        n: how many (>= 0).
        seed: random seed.
        normalizer: mask (H, W) -> (28, 28) uint8, the pipeline's recipe (``pipeline.normalize.normalize_mask``).
        held_out: use the held-out fonts (for evaluation).

    Returns:
        (n, 28, 28) uint8, white on black.
    """
    if n < 0:
        raise ValueError(f"n: must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        img = np.asarray(normalizer(negative_mask(rng, held_out)))
        if img.shape != (28, 28):
            raise ValueError(f"normalizer: expected a (28, 28) image, got {img.shape}")
        out[i] = img
    return out


def _underline(rng: np.random.Generator, digit: np.ndarray) -> np.ndarray:
    """A digit's ink mask with a rule fragment or dotted leader under it, as the segmenter cuts a
    digit written on (or just above) a printed line whose remnant stayed attached."""
    big = cv2.resize(digit, None, fx=4, fy=4, interpolation=cv2.INTER_LINEAR)
    mask = _crop((big > 127).astype(np.uint8) * 255)
    h, w = mask.shape
    gap, t = int(rng.integers(0, max(2, h // 6))), int(rng.integers(2, max(3, h // 10)))
    left, right = int(rng.integers(-w // 3, w // 4)), int(rng.integers(-w // 4, w // 3))
    x0, x1 = min(0, left), max(w, w + right)
    out = np.zeros((h + gap + t, x1 - x0), np.uint8)
    out[:h, -x0 : -x0 + w] = mask
    y = h + gap
    if rng.random() < 0.5:  # solid rule remnant
        out[y : y + t, max(0, left - x0) : w - x0 + right] = 255
    else:  # dotted leader
        step = int(rng.integers(2 * t + 1, 4 * t + 3))
        for x in range(int(rng.integers(0, step)), out.shape[1] - t, step):
            out[y : y + t, x : x + t] = 255
    return out


def underlined_digits(images: np.ndarray, n: int, seed: int, normalizer: Normalizer) -> tuple[np.ndarray, np.ndarray]:
    """``n`` of the 28x28 digit ``images`` (picked at random) redrawn on a rule or dotted leader.

    These stay digits (positives): a digit whose line remnant the segmenter left attached must not
    be taken for "not a digit" because rule fragments and leaders alone are negatives.

    Args:
        images: (N, 28, 28) uint8 MNIST digits, N >= 1 when n > 0.
        n: how many (>= 0).
        seed: random seed.
        normalizer: mask (H, W) -> (28, 28) uint8 (the pipeline's recipe).

    Returns:
        (n, 28, 28) uint8 images and (n,) int64 indices into ``images`` (to take their labels).
    """
    if n < 0:
        raise ValueError(f"n: must be >= 0, got {n}")
    if n and not len(images):
        raise ValueError("images: no digits to underline")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, max(1, len(images)), n)
    out = np.zeros((n, 28, 28), np.uint8)
    for i, j in enumerate(picks):
        out[i] = normalizer(_underline(rng, images[j]))
    return out, picks.astype(np.int64)
