"""Property-based tests: random arrays into segmentation and normalization.

Whatever the shape, dtype and values (empty, one pixel, constant, noise, blocks of ink), the
stages either return well-formed results (boxes inside the page, (28, 28) uint8 crops) or raise
their documented ``ValueError`` for input that is not a 2-D uint8 page / a 2-D mask.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pipeline.config import SegmentConfig
from pipeline.normalize import ink_mask, normalize_image, normalize_mask
from pipeline.segment import segment

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.float64, np.bool_])


@st.composite
def arrays(draw: st.DrawFn, max_side: int = 64, dtypes: st.SearchStrategy = DTYPES, dims: tuple[int, int] = (0, 3),
           kinds: tuple[str, ...] = ("noise", "constant", "blocks")) -> np.ndarray:
    """Any array: 0 to 3 dimensions (sides 0 to max_side), noise, a constant, or blocks of ink."""
    dtype = np.dtype(draw(dtypes))
    shape = draw(hnp.array_shapes(min_dims=dims[0], max_dims=dims[1], min_side=0, max_side=max_side))
    kind = draw(st.sampled_from(kinds))
    if kind == "noise":
        return draw(hnp.arrays(dtype, shape, elements=hnp.from_dtype(dtype, allow_nan=False, allow_infinity=False)))
    if dtype == np.bool_:
        value: object = draw(st.booleans())
    elif dtype.kind == "f":
        value = draw(st.floats(0, 255))
    else:
        value = draw(st.integers(0, int(min(np.iinfo(dtype).max, 65535))))
    a = np.full(shape, value, dtype)
    if kind == "blocks" and a.ndim == 2 and a.size:
        for _ in range(draw(st.integers(1, 6))):
            y, x = draw(st.integers(0, a.shape[0] - 1)), draw(st.integers(0, a.shape[1] - 1))
            h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
            a[y : y + h, x : x + w] = (not value) if dtype == np.bool_ else (0 if float(value) > 127 else 255)
    return a


def pages() -> st.SearchStrategy[np.ndarray]:
    """Mostly 2-D uint8 pages (some large enough to hold glyphs), sometimes anything."""
    page = arrays(max_side=160, dtypes=st.just(np.uint8), dims=(2, 2), kinds=("noise", "constant", "blocks", "blocks"))
    return st.one_of(page, page, page, arrays())


def _is_page(a: np.ndarray) -> bool:
    return a.ndim == 2 and a.dtype == np.uint8


@SETTINGS
@given(gray=pages(), seed=st.integers(0, 2**16), use_scorer=st.booleans())
def test_segment_boxes_stay_on_the_page(gray: np.ndarray, seed: int, use_scorer: bool) -> None:
    rng = np.random.default_rng(seed)
    scorer = (lambda glyphs: rng.random(len(glyphs)).astype(np.float32)) if use_scorer else None
    cfg = SegmentConfig(min_height=2, min_area=2, line_min_length=20)  # small pages still give glyphs
    try:
        glyphs = segment(gray, cfg, scorer)
    except ValueError as e:
        assert not _is_page(gray), e  # only a non-page may be refused
        assert "gray" in str(e)
        return
    assert _is_page(gray)
    h, w = gray.shape
    for g in glyphs:
        assert 0 <= g.x and 0 <= g.y and g.w > 0 and g.h > 0 and g.x + g.w <= w and g.y + g.h <= h, (g.x, g.y, g.w, g.h)
        assert g.mask.ndim == 2 and g.mask.dtype == np.uint8
        assert g.line >= 1 and g.field >= 1 and g.index >= 1
        crop = normalize_mask(g.mask)
        assert crop.shape == (28, 28) and crop.dtype == np.uint8


@SETTINGS
@given(mask=arrays())
def test_normalize_mask_gives_28x28_uint8(mask: np.ndarray) -> None:
    try:
        out = normalize_mask(mask)
    except ValueError as e:
        assert mask.ndim != 2 and "mask" in str(e)
        return
    assert mask.ndim == 2
    assert out.shape == (28, 28) and out.dtype == np.uint8
    if not np.any(mask):
        assert not out.any()


@SETTINGS
@given(gray=arrays())
def test_ink_mask_and_normalize_image(gray: np.ndarray) -> None:
    for fn, shape in ((ink_mask, gray.shape), (normalize_image, (28, 28))):
        try:
            out = fn(gray)
        except ValueError as e:
            assert not _is_page(gray) and "gray" in str(e)
            continue
        assert _is_page(gray)
        assert out.shape == shape and out.dtype == np.uint8
