"""The MNIST recipe: one glyph (a binary ink mask or a grey image) -> a 28x28 model input.

MNIST digits are white on black, scaled (aspect kept) to fit 20x20 with anti-aliasing, placed
in 28x28 with their centre of mass at pixel (14, 14), with strokes about 2.3 px wide. Crops
from scans are brought to the same form here; ``digits predict`` and ``digits scan`` both use
:func:`normalize_mask` (and :func:`normalize_image` for whole single-digit images).
"""

from __future__ import annotations

import cv2
import numpy as np

from model.contract import SIZE

BOX = 20  # the digit's long side in the 28x28 image
TARGET_STROKE = 2.3  # MNIST's median stroke width at the 20 px scale (binary, threshold 127)
THIN = 1.8  # thicken strokes narrower than this at the 20 px scale
THICK = 4.5  # thin strokes wider than this
NARROW = 1.5  # loops narrower than this at the 20 px scale are kept open (they would blur shut)


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary mask, in pixels: 2 * area / perimeter.

    Args:
        mask: (H, W) array, nonzero = ink.

    Returns:
        The estimate; 0.0 for an empty mask.

    Example:
        >>> m = np.zeros((50, 50), np.uint8); m[10:40, 20:24] = 1
        >>> round(stroke_width(m), 1)
        3.8
    """
    m = (np.asarray(mask) > 0).astype(np.uint8)
    area = int(m.sum())
    if area == 0:
        return 0.0
    contours, _ = cv2.findContours(m, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * area / max(perimeter, 1.0)


def _adjust_stroke(mask: np.ndarray, scale: float) -> np.ndarray:
    """Dilate thin pen strokes (or erode marker strokes) so that at ``scale`` they match MNIST."""
    width = stroke_width(mask) * scale
    if width < THIN:
        radius = (TARGET_STROKE - width) / (2.0 * scale)
        k = 2 * int(round(radius)) + 1
        if k > 1:
            return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    elif width > THICK:
        k = 2 * int(round((width - TARGET_STROKE) / (2.0 * scale))) + 1
        if k > 1:
            eroded = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
            if eroded.sum() > 0.25 * mask.sum():  # keep the glyph: never erode it away
                return eroded
    return mask


def holes(mask: np.ndarray) -> list[np.ndarray]:
    """The outlines of a binary mask's holes (the background its loops enclose)."""
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    return [c for c, (_, _, _, parent) in zip(contours, hierarchy[0]) if parent >= 0]


def _narrow_holes(mask: np.ndarray, width: float) -> np.ndarray | None:
    """The holes of a binary mask narrower than ``width`` pixels on average (2 x area / perimeter,
    as :func:`stroke_width`), as (H, W) float32 0/1; None when there are none."""
    narrow = [c for c in holes(mask) if 2.0 * cv2.contourArea(c) < width * cv2.arcLength(c, True)]
    if not narrow:
        return None
    return (cv2.drawContours(np.zeros_like(mask), narrow, -1, 1, cv2.FILLED) & (mask == 0)).astype(np.float32)


def normalize_mask(mask: np.ndarray) -> np.ndarray:
    """Bring one glyph's binary ink mask to MNIST form.

    Args:
        mask: (H, W) array of any numeric dtype, nonzero = ink. Any size, any position.

    Returns:
        (28, 28) uint8, white digit on black, long side 20 px, centre of mass at (14, 14);
        all zeros for an empty mask.

    Example:
        >>> m = np.zeros((100, 60), np.uint8); m[10:90, 25:35] = 255
        >>> out = normalize_mask(m); out.shape, out.dtype, int(out[:, :4].max())
        ((28, 28), dtype('uint8'), 0)
    """
    m = (np.asarray(mask) > 0).astype(np.uint8)
    if m.ndim != 2:
        raise ValueError(f"mask: expected a 2-D array, got shape {m.shape}")
    out = np.zeros((SIZE, SIZE), np.uint8)
    x0, y0, w, h = cv2.boundingRect(m)
    if w == 0:
        return out
    # tight box, padded so that dilation has room
    scale = BOX / max(h, w)
    pad = int(np.ceil(TARGET_STROKE / scale)) + 1
    crop = cv2.copyMakeBorder(m[y0 : y0 + h, x0 : x0 + w], pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    crop = _adjust_stroke(crop, scale)
    x0, y0, w, h = cv2.boundingRect(crop)
    crop = crop[y0 : y0 + h, x0 : x0 + w]
    # aspect-kept resize so the long side is 20 px; area averaging anti-aliases
    scale = BOX / max(h, w)
    nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = np.clip(cv2.resize(crop.astype(np.float32), (nw, nh), interpolation=interp), 0.0, 1.0)
    if scale < 1:  # a loop too narrow to show at this scale (the small loop of a 9) stays open
        narrow = _narrow_holes(crop, NARROW / scale)
        if narrow is not None:
            opened = np.clip(small - cv2.resize(narrow, (nw, nh), interpolation=interp), 0.0, 1.0)
            small = opened if opened.max() > 0.5 else small  # never a glyph opened away to nothing
    # centre of mass to (14, 14), by whole pixels, as MNIST
    total = small.sum()
    cy = (small.sum(axis=1) * np.arange(nh)).sum() / total
    cx = (small.sum(axis=0) * np.arange(nw)).sum() / total
    top = min(max(round(SIZE / 2 - cy), 0), SIZE - nh)
    left = min(max(round(SIZE / 2 - cx), 0), SIZE - nw)
    out[top : top + nh, left : left + nw] = np.round(small * 255).astype(np.uint8)
    return out


def ink_mask(gray: np.ndarray) -> np.ndarray:
    """Binary ink mask of a single-digit image of either polarity (polarity read from the border).

    Args:
        gray: (H, W) uint8.

    Returns:
        (H, W) uint8, 255 where ink.
    """
    g = np.asarray(gray)
    if g.ndim != 2 or g.dtype != np.uint8:
        raise ValueError(f"gray: expected a 2-D uint8 array, got {g.dtype} {g.shape}")
    if g.size == 0:  # no border to read the polarity from, no ink
        return np.zeros_like(g)
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    dark_ink = np.median(border) > g.mean() if g.std() > 0 else True
    if dark_ink:
        g = 255 - g
    if int(g.max()) == int(g.min()):
        return np.zeros_like(g)
    _, mask = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return mask


def normalize_image(gray: np.ndarray) -> np.ndarray:
    """A whole single-digit image (any size, either polarity) -> 28x28 MNIST form.

    A 28x28 image is the model's own format: it only has its polarity fixed (so an MNIST
    image saved as PNG reads exactly as the raw array). Anything else goes through
    :func:`ink_mask` and :func:`normalize_mask`.

    Args:
        gray: (H, W) uint8.

    Returns:
        (28, 28) uint8, white digit on black.
    """
    g = np.asarray(gray)
    if g.ndim != 2 or g.dtype != np.uint8:
        raise ValueError(f"gray: expected a 2-D uint8 array, got {g.dtype} {g.shape}")
    if g.shape == (SIZE, SIZE):
        border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
        return 255 - g if np.median(border) > 127 else g.copy()
    return normalize_mask(ink_mask(g))
