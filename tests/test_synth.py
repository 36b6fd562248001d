"""samples/synth.py: the page generator draws what its truth says."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.normalize import holes
from samples.synth import render_digit


def _holes(ink: np.ndarray) -> int:
    return len(holes(np.pad(ink > 0.25, 2).astype(np.uint8)))


@pytest.mark.parametrize(("pen", "uniform"), [(1.0, True), (2.0, False)])
def test_a_filled_loop_is_written_as_a_loop(pen: float, uniform: bool) -> None:
    six = np.zeros((28, 28), np.uint8)
    cv2.line(six, (19, 2), (9, 18), 255, 2)  # the stem of a 6 ...
    cv2.circle(six, (13, 19), 5, 255, -1)  # ... and its loop, filled in by a thick pen
    assert _holes(render_digit(np.random.default_rng(0), six, 60, pen, uniform=uniform)) == 1


@pytest.mark.parametrize(("pen", "uniform"), [(1.0, True), (2.0, False)])
def test_open_and_looped_strokes_keep_their_shape(pen: float, uniform: bool) -> None:
    zero, one = np.zeros((28, 28), np.uint8), np.zeros((28, 28), np.uint8)
    cv2.ellipse(zero, (14, 14), (7, 10), 0, 0, 360, 255, 2)
    cv2.line(one, (15, 4), (12, 24), 255, 2)
    assert _holes(render_digit(np.random.default_rng(0), zero, 60, pen, uniform=uniform)) == 1
    assert _holes(render_digit(np.random.default_rng(0), one, 60, pen, uniform=uniform)) == 0


@pytest.mark.parametrize(("pen", "uniform"), [(1.0, True), (2.0, False)])
def test_a_blot_where_the_pen_pressed_is_no_loop(pen: float, uniform: bool) -> None:
    seven = np.zeros((28, 28), np.uint8)
    cv2.line(seven, (6, 4), (21, 4), 255, 2)  # the bar of a 7 ...
    cv2.line(seven, (21, 4), (11, 24), 255, 2)  # ... its stem
    cv2.circle(seven, (21, 5), 3, 255, -1)  # ... and a blot at the corner, where the pen turned
    ink = render_digit(np.random.default_rng(0), seven, 60, pen, uniform=uniform)
    assert _holes(ink) == 0
