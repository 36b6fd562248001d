"""The MNIST recipe on hand-made arrays: size, aspect, centre of mass, stroke weight, polarity."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.normalize import ink_mask, normalize_image, normalize_mask, stroke_width


def _com(img: np.ndarray) -> tuple[float, float]:
    f = img.astype(np.float64)
    ys, xs = np.mgrid[: img.shape[0], : img.shape[1]]
    return float((f * ys).sum() / f.sum()), float((f * xs).sum() / f.sum())


def _extent(img: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(img > 30)
    return int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)


def test_empty_mask_gives_black_28x28() -> None:
    out = normalize_mask(np.zeros((40, 30), np.uint8))
    assert out.shape == (28, 28) and out.dtype == np.uint8 and out.max() == 0


def test_tall_bar_keeps_aspect_and_is_centred() -> None:
    m = np.zeros((300, 300), np.uint8)
    m[50:250, 20:60] = 255  # 200 x 40, far off-centre
    out = normalize_mask(m)
    h, w = _extent(out)
    assert h == 20 and w in (4, 5)  # long side 20, aspect 5:1 kept
    cy, cx = _com(out)
    assert abs(cy - 14) <= 0.6 and abs(cx - 14) <= 0.6


def test_wide_shape_long_side_is_width() -> None:
    m = np.zeros((50, 120), np.uint8)
    m[20:30, 10:110] = 1
    h, w = _extent(normalize_mask(m))
    assert w == 20 and h <= 4


def test_thin_pen_stroke_is_thickened_to_mnist_weight() -> None:
    ring = np.zeros((400, 400), np.uint8)
    import cv2

    cv2.circle(ring, (200, 200), 150, 255, 2)  # 2 px pen on a 300 px digit: a hairline at 20 px
    out = normalize_mask(ring)
    assert 1.8 <= stroke_width(out > 127) <= 3.6


def _has_loop(img: np.ndarray, level: int) -> bool:
    import cv2

    _, hierarchy = cv2.findContours((img > level).astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    return hierarchy is not None and bool((hierarchy[0][:, 3] >= 0).any())


def test_narrow_loop_of_a_large_digit_stays_open() -> None:
    import cv2

    # a 9 whose loop is a slit 6 px wide in a 135 px glyph: under a pixel at the 20 px scale
    nine = np.zeros((140, 80), np.uint8)
    cv2.ellipse(nine, (40, 40), (26, 36), 0, 0, 360, 255, -1)
    cv2.ellipse(nine, (40, 40), (3, 22), 0, 0, 360, 0, -1)
    cv2.line(nine, (62, 50), (55, 135), 255, 12)
    assert _has_loop(normalize_mask(nine), 85)  # averaged shut, the loop would be grey ink


def test_mnist_digit_is_nearly_unchanged(mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = mnist_test
    for img in x[:20]:
        again = normalize_mask(img > 127)
        assert abs(_com(again)[0] - _com(img)[0]) < 1.5 and abs(_com(again)[1] - _com(img)[1]) < 1.5
        assert np.abs(again.astype(int) - img.astype(int)).mean() < 40


def test_polarity_detected_both_ways() -> None:
    dark_on_light = np.full((60, 40), 230, np.uint8)
    dark_on_light[10:50, 18:23] = 20
    light_on_dark = 255 - dark_on_light
    a, b = ink_mask(dark_on_light), ink_mask(light_on_dark)
    assert np.array_equal(a, b) and a[30, 20] == 255 and a[2, 2] == 0
    assert np.array_equal(normalize_image(dark_on_light), normalize_image(light_on_dark))


def test_28x28_image_passes_through_with_polarity_fixed(mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    img = mnist_test[0][0]
    assert np.array_equal(normalize_image(img), img)
    assert np.array_equal(normalize_image(255 - img), img)


def test_constant_image_reads_as_empty() -> None:
    assert normalize_image(np.full((50, 50), 128, np.uint8)).max() == 0


@pytest.mark.parametrize("bad", [np.zeros((5, 5, 3), np.uint8), np.zeros((5, 5), np.float32)])
def test_bad_inputs_name_the_parameter(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="gray"):
        normalize_image(bad)
