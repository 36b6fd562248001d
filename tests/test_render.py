"""Review pictures: page overlays and the contact sheet."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pipeline.render import colour, contact_sheet, overlay


def _row(field: int, index: int, x: int, digit: int, confidence: float) -> dict[str, object]:
    return {"field": field, "index": index, "x": x, "y": 100, "w": 30, "h": 40, "digit": digit,
            "confidence": confidence, "needs_review": confidence < 0.9}


def test_overlay_boxes_each_digit_and_frames_each_field_in_its_colour(tmp_path: Path) -> None:
    page = np.full((300, 400), 250, np.uint8)
    rows = [_row(1, 1, 50, 4, 0.99), _row(1, 2, 90, 2, 0.99), _row(2, 1, 250, 7, 0.3)]
    out = cv2.imread(str(overlay(page, rows, tmp_path / "review" / "p.png")))
    assert out.shape == (300, 400, 3)
    sure, doubtful = colour(0.99), colour(0.3)
    assert tuple(out[100, 60]) == sure and tuple(out[100, 260]) == doubtful  # top edges of the digit boxes
    assert tuple(out[96, 70]) == sure  # the frame of field 1, 4 px outside its digits
    assert tuple(out[96, 260]) == doubtful  # field 2's frame takes its least sure digit's colour
    assert tuple(out[200, 200]) != sure and tuple(out[200, 200]) != doubtful  # the page elsewhere is untouched


def test_contact_sheet_tiles_the_crops(tmp_path: Path) -> None:
    crops = np.zeros((10, 28, 28), np.uint8)
    crops[:, 10:18, 12:16] = 255
    sheet = cv2.imread(str(contact_sheet([(c, "a.png p1 f1#1\n1 0.51 / 7 0.40") for c in crops], tmp_path / "s.png", cols=4)))
    assert sheet.shape == (3 * 150, 4 * 180, 3)
    assert (sheet[2 + 56, 34 + 56] == 0).all()  # the first crop's stroke, drawn dark on white
