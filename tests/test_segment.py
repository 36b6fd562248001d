"""Segmentation hazards, each a small drawn page with an exact expected outcome."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.config import SegmentConfig
from pipeline.normalize import normalize_mask
from pipeline.segment import (CRISP, _ink, _leaders, _mask, _Part, _ridge, binarize, edge_steepness, estimate_skew,
                              peel_ones, remove_rules, segment, split_wide)
from tests.conftest import digit_ink, draw_digits



def _pick(mnist_test, digits: str, start: int = 0) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    """The first MNIST test images (from ``start``) showing the wanted digits, in order."""
    x, y = mnist_test
    out = []
    for ch in digits:
        i = int(np.flatnonzero(y[start:] == int(ch))[0]) + start
        out.append(x[i])
    return out


def _read(classifier, glyphs) -> list[int]:  # type: ignore[no-untyped-def]
    """The digits the classifier reads in the glyphs' masks, in order."""
    return [int(d) for d in classifier.predict(np.stack([normalize_mask(g.mask) for g in glyphs])).digit]


def _fields(glyphs) -> list[list[int]]:  # type: ignore[no-untyped-def]
    by: dict[int, list[int]] = {}
    for g in glyphs:
        by.setdefault(g.field, []).append(g.index)
    return [by[k] for k in sorted(by)]


def _in_boxes(page: np.ndarray, digits: list[np.ndarray | None], top: int, bottom: int, bw: int, lift: int) -> None:
    """A row of printed boxes ``bw`` wide from x = 100, one per digit mask (None: an empty box), each
    digit centred in its box with its foot ``lift`` px over the bottom line; the lines first."""
    for i in range(len(digits)):
        cv2.rectangle(page, (100 + i * bw, top), (100 + (i + 1) * bw, bottom), 40, 2)
    for i, d in enumerate(digits):
        if d is not None:
            left = 100 + i * bw + (bw - d.shape[1]) // 2
            page[bottom - lift - d.shape[0] : bottom - lift, left : left + d.shape[1]][d > 0] = 30


def _comb(page: np.ndarray, digits: list[np.ndarray], x0: int, base: int, cell: int, tick: int, value: int,
          width: int) -> None:
    """A printed comb, one cell ``cell`` px wide per digit mask: a base line at row ``base`` and
    upright ticks ``tick`` px tall at every cell side (``width`` px lines of grey ``value``), each
    digit centred in its cell with its foot 3 px over the base."""
    cv2.line(page, (x0, base), (x0 + len(digits) * cell, base), value, width)
    for k in range(len(digits) + 1):
        cv2.line(page, (x0 + k * cell, base - tick), (x0 + k * cell, base), value, width)
    for k, ink in enumerate(digits):
        draw_digits(page, [ink], x0 + k * cell + (cell - ink.shape[1]) // 2, base - 3, gap=0)


def test_blank_and_tiny_pages_give_nothing() -> None:
    assert segment(np.full((800, 600), 235, np.uint8)) == []
    assert segment(np.zeros((800, 600), np.uint8)) == []
    assert segment(np.full((3, 3), 255, np.uint8)) == []
    noisy = np.random.default_rng(0).normal(200, 6, (600, 600)).clip(0, 255).astype(np.uint8)
    assert segment(noisy) == []


def test_one_field_in_reading_order(mnist_test) -> None:  # type: ignore[no-untyped-def]
    page = np.full((400, 800), 240, np.uint8)
    boxes = draw_digits(page, [digit_ink(m, 60) for m in _pick(mnist_test, "40213")], 100, 200, gap=12)
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4, 5]]
    for g, (x, y, w, h) in zip(glyphs, boxes):
        assert abs(g.x - x) <= 2 and abs(g.y - y) <= 2 and abs(g.w - w) <= 3 and abs(g.h - h) <= 3


def test_fine_page_worked_on_at_200_dpi_stated_or_guessed(mnist_test) -> None:  # type: ignore[no-untyped-def]
    page = np.full((400, 800), 240, np.uint8)
    boxes = draw_digits(page, [digit_ink(m, 90) for m in _pick(mnist_test, "40213")], 100, 250, gap=18)
    for dpi, work in ((0, 1.0), (200, 1.0), (600, 1 / 3)):  # 0: 400 px taken as 8.5 in, 47 dpi
        glyphs = segment(page, dpi=dpi)
        assert _fields(glyphs) == [[1, 2, 3, 4, 5]], dpi
        for g, (x, y, w, h) in zip(glyphs, boxes):  # boxes in page pixels, masks in the work's
            assert abs(g.x - x) <= 4 and abs(g.y - y) <= 3 and abs(g.w - w) <= 5 and abs(g.h - h) <= 4
            assert abs(g.mask.shape[0] - h * work) <= 2, dpi
    big = cv2.resize(page, None, fx=6, fy=6, interpolation=cv2.INTER_CUBIC)  # 2400 px: guessed 282 dpi
    assert all(g.mask.shape[0] < 0.8 * g.h for g in segment(big))
    assert all(g.mask.shape[0] >= g.h - 2 for g in segment(big, dpi=200))  # stated: kept as it is


def test_ruled_line_is_removed_but_touching_digits_stay(mnist_test) -> None:  # type: ignore[no-untyped-def]
    page = np.full((400, 900), 245, np.uint8)
    draw_digits(page, [digit_ink(m, 60) for m in _pick(mnist_test, "7193")], 150, 202, gap=14)
    cv2.line(page, (60, 200), (800, 200), 20, 3)  # the digits sit on, and cross, the rule
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4]]
    assert all(g.w < 80 for g in glyphs)  # no glyph carries the rule
    assert all(g.h >= 50 for g in glyphs)  # the strokes that touch the rule are kept


def test_comb_boxes_read_as_one_field_of_five(mnist_test) -> None:  # type: ignore[no-untyped-def]
    page = np.full((400, 900), 250, np.uint8)
    x0, y0, box = 100, 100, 90
    for k in range(6):
        cv2.line(page, (x0 + k * box, y0), (x0 + k * box, y0 + box), 40, 2)
    cv2.line(page, (x0, y0), (x0 + 5 * box, y0), 40, 2)
    cv2.line(page, (x0, y0 + box), (x0 + 5 * box, y0 + box), 40, 2)
    for k, m in enumerate(_pick(mnist_test, "58207")):
        ink = digit_ink(m, 62)
        draw_digits(page, [ink], x0 + k * box + (box - ink.shape[1]) // 2, y0 + box - 10, gap=0)
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4, 5]]
    assert all(g.h < 80 and g.w < 80 for g in glyphs)


def test_touching_digits_are_split(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    page = np.full((300, 600), 240, np.uint8)
    a, b = (digit_ink(m, 70) for m in _pick(mnist_test, "38"))
    draw_digits(page, [a, b], 100, 200, gap=-4)  # overlapping by 4 px: one component
    n, _ = cv2.connectedComponents((page < 128).astype(np.uint8))
    assert n - 1 == 1
    glyphs = segment(page, scorer=lambda x: classifier.predict(x).confidence)
    assert len(glyphs) == 2 and _fields(glyphs) == [[1, 2]]
    crops = np.stack([normalize_mask(g.mask) for g in glyphs])
    assert list(classifier.predict(crops).digit) == [3, 8]


def test_broken_stroke_is_merged(mnist_test) -> None:  # type: ignore[no-untyped-def]
    page = np.full((300, 500), 240, np.uint8)
    five = digit_ink(_pick(mnist_test, "5")[0], 80)
    five[int(0.2 * five.shape[0]) : int(0.2 * five.shape[0]) + 5, :] = 0  # cut the top bar off
    draw_digits(page, [five], 200, 200, gap=0)
    assert len(segment(page)) == 1


def test_specks_and_uneven_light_are_ignored(mnist_test) -> None:  # type: ignore[no-untyped-def]
    h, w = 500, 900
    yy, xx = np.mgrid[:h, :w]
    page = (215 - 70 * (xx / w) - 30 * (yy / h)).astype(np.uint8)  # grey, darker to the right
    draw_digits(page, [digit_ink(m, 55) for m in _pick(mnist_test, "692")], 120, 250, gap=10, ink=20)
    draw_digits(page, [digit_ink(m, 55) for m in _pick(mnist_test, "14")], 650, 250, gap=10, ink=20)
    rng = np.random.default_rng(1)
    for _ in range(60):  # dust
        cv2.circle(page, (int(rng.integers(0, w)), int(rng.integers(300, h))), int(rng.integers(1, 3)), 30, -1)
    assert _fields(segment(page)) == [[1, 2, 3], [1, 2]]


@pytest.mark.parametrize("angle", [-3.0, 3.0])
def test_skewed_page_keeps_fields(mnist_test, angle: float) -> None:  # type: ignore[no-untyped-def]
    page = np.full((700, 1200), 240, np.uint8)
    draw_digits(page, [digit_ink(m, 50) for m in _pick(mnist_test, "123456")], 150, 250, gap=10)
    draw_digits(page, [digit_ink(m, 50) for m in _pick(mnist_test, "7890", 100)], 150, 450, gap=10)
    cv2.line(page, (100, 252), (1100, 252), 30, 2)
    rot = cv2.getRotationMatrix2D((600, 350), angle, 1.0)
    page = cv2.warpAffine(page, rot, (1200, 700), borderValue=240)
    assert abs(estimate_skew(binarize(page)) + angle) < 0.5
    assert _fields(segment(page)) == [[1, 2, 3, 4, 5, 6], [1, 2, 3, 4]]


def test_fields_on_a_line_split_at_wide_gaps_and_sizes_vary(mnist_test) -> None:  # type: ignore[no-untyped-def]
    page = np.full((700, 1400), 240, np.uint8)
    draw_digits(page, [digit_ink(m, 18) for m in _pick(mnist_test, "31")], 100, 200, gap=4)
    draw_digits(page, [digit_ink(m, 18) for m in _pick(mnist_test, "42")], 300, 200, gap=4)
    draw_digits(page, [digit_ink(m, 190) for m in _pick(mnist_test, "7")], 600, 600, gap=0)
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2], [1, 2], [1]]
    assert glyphs[-1].h > 150


def test_hairline_stroke_fading_below_the_cut_is_followed_to_its_end() -> None:
    """A 7 written with a hairline pen on a page with bold print (which sets the binarization
    cut high): its stem fades to a light grey. The faint part is a ridge running on from the ink
    found, so the glyph keeps the whole stem instead of ending at the bar's corner."""
    page = np.full((200, 400), 250, np.uint8)
    cv2.putText(page, "Total", (20, 120), cv2.FONT_HERSHEY_DUPLEX, 1.6, 0, 4, cv2.LINE_AA)
    cv2.line(page, (250, 80), (290, 80), 110, 1, cv2.LINE_AA)
    cv2.line(page, (290, 80), (280, 100), 110, 1, cv2.LINE_AA)
    cv2.line(page, (280, 100), (268, 125), 195, 1, cv2.LINE_AA)  # fading
    seven = [g for g in segment(page) if 240 <= g.x <= 300]
    assert len(seven) == 1 and seven[0].y <= 81 and seven[0].y + seven[0].h >= 124


def test_remove_rules_reports_the_rule() -> None:
    page = np.zeros((100, 400), np.uint8)
    page[50:53, 20:380] = 255
    cleaned, rules = remove_rules(page)
    assert cleaned.max() == 0 and len(rules) == 1 and rules[0].x0 == 20 and rules[0].x1 == 380


def test_pen_stroke_lying_on_a_grey_rule_stays_with_its_digit() -> None:
    """The foot of a 2 drawn right along a grey printed rule: the pen's ink there is darker than
    the rule, so it is kept when the rule is removed and the 2 keeps its foot (a 2 without it
    reads as a 7). Dark specks along the rule away from any stroke are not kept."""
    page = np.full((300, 600), 250, np.uint8)
    page[199:202, 40:560] = 150  # a grey rule, 3 px
    two = np.array([[205, 135], [222, 118], [245, 122], [250, 140], [236, 165], [205, 199]], np.int32)
    cv2.polylines(page, [two], False, 30, 3, cv2.LINE_8)
    page[199:202, 204:256] = 30  # its foot: exactly the rule's rows, as thick as the rule
    page[200, 400:403] = 30  # a dark speck on the rule, far from any stroke
    glyphs = segment(page)
    assert len(glyphs) == 1
    g = glyphs[0]
    foot = g.mask[-4:].any(axis=0)  # the glyph's lowest rows
    assert g.w >= 48 and foot.sum() >= 40, (g.x, g.y, g.w, g.h, foot.sum())
    cleaned, _ = remove_rules(binarize(page), ink=_ink(page, SegmentConfig()))
    assert cleaned[199:202, 210:250].all() and not cleaned[199:202, 395:410].any()


def test_dotted_leader_under_a_field_stays_out_of_the_digits(mnist_test) -> None:  # type: ignore[no-untyped-def]
    page = np.full((400, 800), 240, np.uint8)
    boxes = draw_digits(page, [digit_ink(m, 50) for m in _pick(mnist_test, "583")], 100, 200, gap=14)
    for x in range(90, 300, 12):  # a leader of 4 px dots, 6 px under the digits
        page[206:210, x : x + 4] = 30
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3]]
    for g, (x, y, w, h) in zip(glyphs, boxes):
        assert g.y + g.h <= y + h + 2, (g, (x, y, w, h))  # no dot hangs under a digit


def test_ones_filling_their_boxes_are_not_taken_for_box_sides(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A 1 touching the top and bottom of a heavy box is a full column of the frame, but thinner
    than the frame's lines and off its grid of evenly spaced sides: it stays ink."""
    page = np.full((300, 700), 250, np.uint8)
    x0, top, cell, height = 100, 100, 60, 64
    cv2.rectangle(page, (x0, top), (x0 + 5 * cell, top + height), 20, 5)  # a row of 5 boxes, 5 px lines
    for k in range(1, 5):
        cv2.line(page, (x0 + k * cell, top), (x0 + k * cell, top + height), 20, 5)
    for k in (0, 2, 4):  # a slanted 1 from the top line to the bottom line, 2 px pen
        cx = x0 + k * cell + cell // 2
        cv2.line(page, (cx + 4, top + 2), (cx - 4, top + height - 2), 40, 2)
    ink = [digit_ink(m, 44) for m in _pick(mnist_test, "47")]
    draw_digits(page, ink[:1], x0 + cell + 18, top + 54, gap=0)
    draw_digits(page, ink[1:], x0 + 3 * cell + 18, top + 54, gap=0)
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4, 5]]
    assert all(g.h >= 40 for g in glyphs)  # whole 1s, not the stubs left beside a removed "side"


def test_dashed_comb_rule_and_its_thin_ticks_are_removed(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A comb drawn with a thin rule that the scan left as dashes, and hairline ticks (not solid in
    their boxes): the rule is still found, the ticks dropped, the digits read as one field."""
    page = np.full((300, 900), 250, np.uint8)
    x0, base, cell = 100, 200, 80
    for x in range(x0, x0 + 5 * cell, 19):  # 15 px dashes, 4 px gaps
        cv2.line(page, (x, base), (min(x + 14, x0 + 5 * cell), base), 90, 1)
    for k in range(6):  # ticks 1 px wide, a little slanted, a third of the digits' height
        cv2.line(page, (x0 + k * cell, base - 22), (x0 + k * cell + 1, base), 90, 1)
    for k, m in enumerate(_pick(mnist_test, "54727")):
        ink = digit_ink(m, 60)
        draw_digits(page, [ink], x0 + k * cell + (cell - ink.shape[1]) // 2, base - 2, gap=0)
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4, 5]]
    assert all(g.h >= 40 for g in glyphs)


def test_stroke_running_into_a_rule_keeps_its_ink() -> None:
    """The base of a 2 lying along the rule it is written on: where stroke and rule
    overlap the ink is thicker than the rule, so those columns keep their ink (the 2 keeps its
    base instead of reading as a 7)."""
    page = np.full((300, 600), 250, np.uint8)
    cv2.line(page, (50, 200), (550, 200), 30, 3)  # the rule, rows 199-201
    two = np.array([(200, 150), (215, 140), (235, 145), (240, 160), (200, 197), (245, 197)], np.int32)
    cv2.polylines(page, [two], False, 30, 4)  # the base, rows 195-199, lies along the rule
    glyphs = segment(page)
    assert len(glyphs) == 1
    g = glyphs[0]
    assert g.x <= 200 and g.x + g.w >= 245 and g.y + g.h - 1 >= 200  # down into the rule


def test_thin_bar_of_a_seven_is_not_taken_for_an_underline() -> None:
    """The top bar of a 7 written with a fine pen is a hairline as long as a short underline,
    with nothing standing on it; its stem hangs from it, so it is the digit's bar, not a line."""
    page = np.full((300, 500), 245, np.uint8)
    cv2.line(page, (200, 100), (275, 100), 30, 2)  # the bar: 76 px, 2-3 rows
    cv2.line(page, (275, 100), (235, 170), 30, 3)  # the stem
    glyphs = segment(page)
    assert len(glyphs) == 1
    g = glyphs[0]
    assert g.y <= 100 and g.x <= 201 and g.w >= 70, g


def test_faint_edges_of_a_rule_do_not_glue_the_digits_on_it() -> None:
    """A scanned or levelled rule has blurred edges: short faint runs of ink (under a third of
    its darkness) one row over and under it. They are the rule's, not strokes: they do not join
    the digits standing on the rule, nor are they bridged across it into blocks at their feet."""
    page = np.full((300, 600), 250, np.uint8)
    page[199:202, 50:550] = 20  # the rule, rows 199-201
    for x0 in (120, 200, 280):
        page[198, x0 : x0 + 40] = 185  # its faint upper edge, in pieces
        page[202, x0 + 20 : x0 + 60] = 185  # and lower edge
    for x in (130, 150, 210, 230, 290, 310):
        cv2.line(page, (x + 8, 160), (x, 198), 30, 3)  # slanted 1s standing on the rule
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4, 5, 6]]
    assert all(g.w <= 16 for g in glyphs), [(g.x, g.w) for g in glyphs]


def test_rule_is_bridged_only_under_ink_that_crosses_it() -> None:
    """A removed rule is filled in again only between strokes that cross it (ink at least three
    rows tall, or as dark as half the rule): edge runs one row thick and fainter than that, over
    and under the rule by the foot of a digit, are not bridged into a block under the digit."""
    page = np.full((300, 600), 250, np.uint8)
    page[199:202, 50:550] = 20  # the rule, rows 199-201
    page[198, 140:170] = 160  # an upper edge run from the digit's foot, 0.4 of the rule's darkness
    page[202, 145:175] = 160  # a lower one under it
    cv2.line(page, (148, 160), (140, 197), 30, 3)  # a slanted 1 standing on the rule
    glyphs = segment(page)
    assert len(glyphs) == 1
    g = glyphs[0]
    under = int((np.nonzero(g.mask)[0] + g.y >= 199).sum())
    assert under <= 20, under  # the stroke's own columns through the rule, not a 25 x 4 block


def test_small_thin_one_is_a_digit_and_a_hairline_is_not(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A 1 written small with a fine pen has less ink than ``min_area`` but is a stroke over its
    height wider than a pixel: it is kept in its field. A 1-px fibre as tall is not a digit."""
    page = np.full((300, 700), 240, np.uint8)
    four, zero = (digit_ink(m, 18) for m in _pick(mnist_test, "40"))
    draw_digits(page, [four], 100, 150, gap=0)
    x1 = 100 + four.shape[1] + 6
    for r in range(17):  # a slanted 1, 17 rows of 1 or 2 px: 25 px of ink
        x = x1 + (16 - r) // 5
        page[133 + r, x : x + 1 + r % 2] = 30
    draw_digits(page, [zero], x1 + 10, 150, gap=0)
    page[130:147, 500] = 30  # the fibre, far from the field
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3]]
    assert glyphs[1].h >= 16 and glyphs[1].w <= 6


def test_one_px_one_with_a_serif_is_a_digit_and_a_slanted_fibre_is_not(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A small 1 of a fine pen can be a single pixel wide but for its serif and a step (22 rows,
    24 px of ink: less than 1.25 x its height): it is kept between its neighbours. A slanted
    1-px fibre as tall, one pixel per row, is not a digit."""
    page = np.full((300, 700), 240, np.uint8)
    nine, two = (digit_ink(m, 21) for m in _pick(mnist_test, "92"))
    draw_digits(page, [nine], 100, 152, gap=0)
    x1 = 100 + nine.shape[1] + 6
    page[130:152, x1] = 30  # the stem, rows 130-151
    page[130, x1 + 1] = page[150, x1 + 1] = 30  # the serif and a step
    draw_digits(page, [two], x1 + 6, 152, gap=0)
    for r in range(22):  # the fibre, far from the field: 22 px over two columns
        page[130 + r, 500 + r // 11] = 30
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3]]
    assert glyphs[1].h >= 21 and glyphs[1].w <= 3


def test_sliver_left_under_a_removed_rule_is_not_merged_into_the_digits(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A rule whose lower edge is wavy (a skewed scan, deskewed) leaves 1-px slivers after the
    rule is removed; they are dropped, not merged into the digits above (which would stretch
    them down to the line and glue neighbours together)."""
    page = np.full((300, 800), 245, np.uint8)
    boxes = draw_digits(page, [digit_ink(m, 50) for m in _pick(mnist_test, "7193")], 150, 190, gap=14)
    cv2.line(page, (60, 200), (700, 200), 20, 3)  # rows 198-202
    for x in range(80, 680, 50):
        page[203, x : x + 30] = 20  # the wavy edge: 30 px bits of a fourth row
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4]]
    for g, (x, y, w, h) in zip(glyphs, boxes):
        assert g.y + g.h <= y + h + 2, (g, (x, y, w, h))


def test_digit_broken_into_side_by_side_pieces_is_joined(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A 0 whose stroke has gaps at top and bottom comes apart into a left and a right half, side
    by side (no shape rule can tell them from two digits): the classifier reads the union better
    than either half, so they are one glyph. A 1 and a 0 written as close stay two."""
    scorer = lambda x: classifier.predict(x).confidence  # noqa: E731
    page = np.full((300, 700), 240, np.uint8)
    one, zero = (digit_ink(m, 60) for m in _pick(mnist_test, "10"))
    broken = zero.copy()
    broken[:, zero.shape[1] // 2] = 0  # one blank column: two pieces whose boxes touch
    assert cv2.connectedComponents(broken)[0] - 1 == 2
    draw_digits(page, [broken], 100, 150, gap=0)
    draw_digits(page, [one, zero], 400, 150, gap=1)
    glyphs = segment(page, scorer=scorer)
    assert _fields(glyphs) == [[1], [1, 2]]
    crops = np.stack([normalize_mask(g.mask) for g in glyphs])
    assert list(classifier.predict(crops).digit) == [0, 1, 0]


def test_digits_in_one_box_row_are_one_field_however_low_they_sit(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A row of wide boxes: its bottom line is found twice (as the boxes' bottom and as a long
    rule, a row or two apart). One digit ends above the line, the next one crosses it: they
    are still written on the same line, so the wide gap of the boxes does not split the field."""
    page = np.full((300, 800), 250, np.uint8)
    x0, top, cell, height = 100, 100, 110, 90
    cv2.rectangle(page, (x0, top), (x0 + 3 * cell, top + height), 20, 3)
    for k in (1, 2):
        cv2.line(page, (x0 + k * cell, top), (x0 + k * cell, top + height), 20, 3)
    ink = [digit_ink(m, 60) for m in _pick(mnist_test, "125")]
    for k, (m, bottom) in enumerate(zip(ink, (top + height - 6, top + height + 6, top + height - 4))):
        draw_digits(page, [m], x0 + k * cell + (cell - m.shape[1]) // 2, bottom, gap=0)
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3]]


def test_wide_digit_broken_across_its_middle_is_joined(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A 5 written wide, its stroke broken across the middle: the two pieces, one over the other,
    read poorly as digits and their union is too wide to be merged by shape alone; the union
    reads as a clear 5, so they are joined."""
    page = np.full((300, 600), 240, np.uint8)
    ink = digit_ink(_pick(mnist_test, "5", start=23)[0], 60)
    ink = np.where(cv2.resize(ink, (72, 60), interpolation=cv2.INTER_LINEAR) > 127, 255, 0).astype(np.uint8)
    ink[32:34] = 0
    draw_digits(page, [ink], 100, 200, gap=0)
    glyphs = segment(page, scorer=classifier.proba)
    assert _read(classifier, glyphs) == [5]


def test_detached_flag_of_a_five_is_given_back(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A 5 whose flag was written apart, beside the top of its stem (they hardly overlap, so no
    shape rule merges them): the classifier reads the union better than the body alone, so the
    flag is part of the glyph, not dropped as a speck; the field does not break at the gap it left."""
    page = np.full((300, 600), 240, np.uint8)
    body = np.array([(112, 130), (108, 158), (125, 153), (138, 162), (140, 178), (130, 192), (104, 190)], np.int32)
    cv2.polylines(page, [body], False, 30, 4)
    cv2.line(page, (136, 127), (162, 125), 30, 4)  # the flag, right of the stem's top
    draw_digits(page, [digit_ink(_pick(mnist_test, "3")[0], 70)], 208, 194, gap=0)
    glyphs = segment(page, scorer=lambda x: classifier.predict(x).confidence)
    assert _fields(glyphs) == [[1, 2]]
    five = glyphs[0]
    assert five.y <= 125 and five.x + five.w >= 162  # the flag is in the glyph
    assert _read(classifier, glyphs) == [5, 3]


def test_comb_tick_crossed_by_a_stroke_is_still_a_tick(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A bit of pen stroke touching a tick (a digit's tail cut off where it crossed it, a flick)
    is joined to it: the piece is wider than a tick, but its full-height columns are a tick's
    bar holding most of its ink, and it is shorter than the digits: dropped, not read as a 1."""
    page = np.full((300, 900), 250, np.uint8)
    x0, base, cell = 100, 200, 80
    _comb(page, [digit_ink(m, 60) for m in _pick(mnist_test, "54727")], x0, base, cell, 30, 40, 2)
    cv2.line(page, (x0 + 2 * cell + 1, base - 14), (x0 + 2 * cell + 9, base - 12), 40, 2)  # a flick on a tick
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4, 5]]
    assert all(g.h >= 40 for g in glyphs)


def test_solid_bold_letter_is_left_to_the_classifier(classifier) -> None:  # type: ignore[no-untyped-def]
    """Bold print fills its letters' boxes like a blot: the N of a bold "ON" is still a candidate
    (the classifier rejects it as not a digit), so the O beside it is seen inside a word instead of
    standing alone as a clear 0."""
    page = np.full((200, 600), 245, np.uint8)
    cv2.putText(page, "ON", (100, 120), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 20, 7)
    glyphs = segment(page, scorer=lambda x: classifier.predict(x).confidence)
    assert _fields(glyphs) == [[1, 2]]
    n = glyphs[1]
    assert float((n.mask > 0).mean()) > 0.75  # as solid as a blot
    assert classifier.predict(normalize_mask(n.mask)[None]).not_digit[0] >= 0.5


def test_upright_ones_standing_on_the_underline_are_digits(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A 1 written as a straight upright bar on the field's underline looks like a comb tick, but it
    is as tall as the digits beside it and not on an even grid of bars: it stays a digit. Bars
    alone on a rule (an empty comb) are still dropped."""
    page = np.full((300, 900), 245, np.uint8)
    nine, zero = (digit_ink(m, 50) for m in _pick(mnist_test, "90"))
    cv2.line(page, (80, 201), (500, 201), 30, 2)  # the underline, rows 200-202
    x = 100
    for ink in (nine, None, zero, None):
        if ink is None:
            page[150:200, x + 6 : x + 10] = 30  # a 1: a solid bar 4 px wide, 50 px tall, on the line
            x += 16
        else:
            draw_digits(page, [ink], x, 199, gap=0)
            x += ink.shape[1] + 12
    cv2.line(page, (600, 201), (850, 201), 30, 2)
    for k in range(5):  # an empty comb: ticks on a rule
        page[170:200, 610 + 50 * k : 613 + 50 * k] = 30
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4]]
    assert [g.w <= 5 for g in glyphs] == [False, True, False, True]


def test_dash_of_a_dotted_separator_beside_a_number_is_dropped(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A short solid dash (a vertical dotted separator, a colon) a little way after a number is
    too short to join its field, so it would stand alone and read as a 1: being under a third of
    the height of the digit beside it, it is a speck, not a field of its own."""
    page = np.full((300, 700), 245, np.uint8)
    boxes = draw_digits(page, [digit_ink(m, 60) for m in _pick(mnist_test, "52")], 100, 200, gap=12)
    x = boxes[-1][0] + boxes[-1][2] + 25
    page[160:175, x : x + 5] = 30  # the dash, 15 px tall, at the digits' middle
    page[150:210, 500:520] = 30  # a solid bar as tall as the digits, far away, stays
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2], [1]]
    assert abs(glyphs[-1].x - 500) <= 2


def test_specks_beside_digits_are_found_across_chunks() -> None:
    """The speck test runs in chunks of parts (bounded memory on pages with thousands of parts):
    a dash beside its digit is dropped wherever it falls in the list."""
    from pipeline.segment import _drop_specks_beside_digits, _Part

    tall = [_Part(100 * k, 0, 20, 60, np.full((60, 20), 255, np.uint8)) for k in range(400)]
    dash = [_Part(100 * k + 30, 20, 4, 15, np.full((15, 4), 255, np.uint8)) for k in range(400)]
    kept = _drop_specks_beside_digits(tall + dash, 0.35)
    assert len(kept) == 400 and all(p.h == 60 for p in kept)


def test_short_underline_of_a_one_digit_field_is_removed(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A one-digit field's underline is shorter than a form rule, but a straight thin run 1.5 x
    as long as the digit on it is tall: it is removed, not read as part of the digit. A digit's
    own long flat stroke over the field's rule is not a second underline: it stays."""
    page = np.full((400, 900), 245, np.uint8)
    seven = digit_ink(_pick(mnist_test, "7")[0], 50)
    box = draw_digits(page, [seven], 120, 152, gap=0)[0]
    cv2.line(page, (100, 152), (190, 152), 30, 2)  # 91 px long, rows 151-153, the 7 touches it
    page[300:346, 400:404] = 30  # a 2 drawn as a top, a stem and a flat base 1.5 x its height ...
    cv2.line(page, (372, 300), (402, 300), 30, 3)
    cv2.line(page, (372, 345), (444, 345), 30, 2)
    cv2.line(page, (300, 356), (700, 356), 30, 2)  # ... over the field's long rule
    glyphs = segment(page)
    assert _fields(glyphs) == [[1], [1]]
    g = glyphs[0]
    assert abs(g.x - box[0]) <= 2 and g.w <= box[2] + 3 and g.y + g.h <= 152  # no underline in it
    assert glyphs[1].w >= 70  # the long base is kept


def test_printed_m_stays_one_glyph_not_three_ones(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A printed m is wider than a digit, and its three strokes each read as a clear 1: cut up,
    a label such as "Room" came out as the number 00111. The classifier is sure the whole m is
    not a digit, so it stays one glyph (and the label is dropped as text); two touching digits
    are still cut apart."""
    page = np.full((160, 600), 255, np.uint8)
    cv2.putText(page, "mm", (40, 80), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 0, 2, cv2.LINE_AA)
    draw_digits(page, [digit_ink(m, 40) for m in _pick(mnist_test, "40")], 350, 60, gap=-3)
    glyphs = segment(page, scorer=classifier.proba)
    letters = [g for g in glyphs if g.x < 300]
    assert len(letters) == 2
    assert (classifier.predict(np.stack([normalize_mask(g.mask) for g in letters])).not_digit > 0.5).all()
    digits = [g for g in glyphs if g.x >= 300]
    assert _read(classifier, digits) == [4, 0]
    # asked for the top digit's confidence only, the segmenter cuts the m into strokes
    assert len([g for g in segment(page, scorer=lambda x: classifier.predict(x).confidence) if g.x < 300]) > 2


def test_dots_of_a_leader_level_with_the_digit_bottoms_are_not_ink(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """Digits dipping onto their dotted leader: the dots beside and under their bottoms are printed
    (a row of evenly spaced specks of one size), so no glyph takes one and no dot is a glyph."""
    page = np.full((300, 700), 240, np.uint8)
    inks = [digit_ink(m, 40) for m in _pick(mnist_test, "7604")]
    boxes = draw_digits(page, inks, 100, 200, gap=18)
    dots = 0
    for x in range(80, 400, 9):  # 3 px dots, their rows level with the digits' last rows
        if not (page[195:200, x - 1 : x + 4] < 128).any():  # not drawn over a stroke
            page[196:199, x : x + 3] = 40
            dots += 1
    assert dots >= 20
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4]]
    for g, box, ink in zip(glyphs, boxes, inks):
        assert (g.x, g.y, g.w, g.h) == box
        assert np.count_nonzero(g.mask) == np.count_nonzero(ink)  # not a dot more


def test_short_underline_reaching_past_a_single_digit_is_removed(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """An underline under a one-digit field, thicker than a hairline and shorter than 1.5 x the digit,
    with the stem of a 7 standing on it: printed, since it runs on past the digit on both sides.
    The flat thick top bar of a 5, as long, has nothing digit-sized standing on it: it stays."""
    page = np.full((400, 900), 245, np.uint8)
    seven = digit_ink(_pick(mnist_test, "7")[0], 56)
    box = draw_digits(page, [seven], 130, 153, gap=0)[0]
    cv2.line(page, (130 - 15, 154), (130 + box[2] + 12, 154), 30, 4)  # rows 152-156, 4 px thick
    assert box[2] + 27 < 1.5 * 56
    cv2.line(page, (400, 300), (470, 300), 30, 7)  # a 5: a thick bar 70 px long ...
    cv2.line(page, (402, 300), (398, 330), 30, 5)  # ... its stem ...
    cv2.ellipse(page, (425, 350), (27, 22), 0, -150, 150, 30, 5)  # ... and its bowl
    glyphs = segment(page)
    assert _fields(glyphs) == [[1], [1]]
    g = glyphs[0]
    assert (g.x, g.w) == (box[0], box[2]) and g.y + g.h <= box[1] + box[3]  # no underline in the 7
    assert glyphs[1].w >= 70  # the bar of the 5 is kept


def test_short_last_letter_of_a_label_close_to_the_number_is_not_its_digit(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A printed label set close before the handwritten number: its last letter (the l of "Total",
    read as a 1) falls within the field's gap, but is much shorter than the digits: not a digit."""
    page = np.full((300, 700), 245, np.uint8)
    (tw, _), _ = cv2.getTextSize("Total", cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)
    cv2.putText(page, "Total", (60, 200), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 20, 2)
    x0 = 60 + tw + 22
    boxes = draw_digits(page, [digit_ink(m, 44) for m in _pick(mnist_test, "583")], x0, 200, gap=12)
    glyphs = segment(page)
    digits = [g for g in glyphs if g.x >= x0 - 2]
    assert [g.index for g in digits] == [1, 2, 3]  # the number's field starts at its first digit
    assert [(g.x, g.w) for g in digits] == [(x, w) for x, _, w, _ in boxes]


def test_thick_underline_clear_of_the_digit_is_removed(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A short printed underline, thicker than a hairline, that the digit above does not touch:
    nothing hangs under it, so it is a line, not a stroke of the digit merged into it."""
    page = np.full((300, 500), 245, np.uint8)
    ink = digit_ink(_pick(mnist_test, "9")[0], 60)
    box = draw_digits(page, [ink], 150, 180, gap=0)[0]
    assert box[2] <= 60
    cx = box[0] + box[2] // 2
    page[190:195, cx - 35 : cx + 35] = 40  # 5 px thick, 70 px long, 10 px under the digit
    glyphs = segment(page)
    assert len(glyphs) == 1
    g = glyphs[0]
    assert abs(g.x - box[0]) <= 2 and abs(g.w - box[2]) <= 3 and g.y == box[1] and g.h == box[3]  # no line in it


def test_touching_digits_that_read_as_no_digit_together_are_still_cut(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A 0 and a 6 touching read together as "not a digit", as a printed m does; but cut, they
    read as a 0 and a 6, not as strokes that read as 1s: they are cut, not kept whole as a letter."""
    page = np.full((300, 600), 240, np.uint8)
    a, b = (digit_ink(m, 70) for m in _pick(mnist_test, "06", start=200))
    draw_digits(page, [a, b], 100, 200, gap=-4)
    n, _ = cv2.connectedComponents((page < 128).astype(np.uint8))
    assert n - 1 == 1
    whole = classifier.predict(np.stack([normalize_mask(page < 128)]))
    assert whole.not_digit[0] > 0.9
    glyphs = segment(page, scorer=classifier.proba)
    assert len(glyphs) == 2
    assert _read(classifier, glyphs) == [0, 6]


@pytest.mark.parametrize(("pair", "start", "gap"), [("00", 600, -6), ("30", 200, -12)])
def test_digits_written_into_a_zero_are_cut_through_its_loop(mnist_test, classifier, pair, start, gap) -> None:  # type: ignore[no-untyped-def]
    """Two 0s, or a 3 whose lower bowl runs into a 0: the cut between them opens the 0's loop, as
    a cut of a wide 0 into two arcs does; but its pieces read as a 0 again (a loop digit for the
    loop opened), so the cut is not marked down for it, and the pair reads as two digits."""
    page = np.full((300, 600), 240, np.uint8)
    draw_digits(page, [digit_ink(m, 70) for m in _pick(mnist_test, pair, start=start)], 100, 200, gap=gap)
    assert cv2.connectedComponents((page < 128).astype(np.uint8))[0] - 1 == 1
    glyphs = segment(page, scorer=classifier.proba)
    assert _read(classifier, glyphs) == [int(c) for c in pair]


def test_open_loop_of_a_six_is_not_cut_off_as_a_seven(classifier) -> None:  # type: ignore[no-untyped-def]
    """A wide 6 whose loop is left open (an MNIST test 6 as the bench's page generator draws it,
    from a noisy page: ``tests/data/open_six.png``): cut in two, its stem reads as a 6 and the
    rest of the loop, lower and shorter, as a 7. A loopless 6 with such a piece beside it is one
    digit: it stays whole. (Its reading is a toss-up between a 6 and a 0: the noisy page's JPEG
    measures as soft as a blurred scan, and sharpened, the whole reads 0 at 0.64, 6 at 0.35.)"""
    crop = cv2.imread(str(Path(__file__).parent / "data" / "open_six.png"), cv2.IMREAD_GRAYSCALE)
    page = np.full((200, 300), int(np.median(crop)), np.uint8)
    page[60 : 60 + crop.shape[0], 100 : 100 + crop.shape[1]] = crop
    glyphs = segment(page, scorer=classifier.proba)
    assert len(glyphs) == 1 and glyphs[0].w >= 0.9 * (crop < np.median(crop) - 40).any(axis=0).sum()
    read = classifier.predict(np.stack([normalize_mask(g.mask) for g in glyphs]))
    assert {int(read.digit[0]), int(read.alt_digit[0])} == {0, 6}


@pytest.mark.parametrize(("gap", "sigma"), [(10, 0.9), (12, 1.2)])
def test_gap_between_strokes_stays_open_on_a_soft_scan(gap, sigma) -> None:  # type: ignore[no-untyped-def]
    """Two strokes 4 px wide, 2.5 (3) px apart, anti-aliased, on a scan blurred with a Gaussian of
    sigma 0.9 (1.2) px: the blur fills the gap with ink darker than the low cut, but the page is
    measured soft and sharpened first, and the strokes stay apart."""
    big = np.full((400, 400), 235, np.uint8)
    for x in (120, 136 + gap):
        big[80:320, x : x + 16] = 40
    crisp = cv2.resize(big, (100, 100), interpolation=cv2.INTER_AREA)
    soft = cv2.GaussianBlur(crisp, (0, 0), sigma)
    assert edge_steepness(crisp, 90) >= CRISP > 0.4 > edge_steepness(soft, 90)
    assert [cv2.connectedComponents(binarize(p))[0] - 1 for p in (crisp, soft)] == [2, 2]


def test_soft_scan_of_a_thick_three_is_no_eight(classifier) -> None:  # type: ignore[no-untyped-def]
    """A field written with a thick pen on a soft scan (a bench page blurred with a Gaussian of
    sigma 0.9 px, ``tests/data/soft_28380.png``): the blur closes the gaps of the 3 against its
    middle stroke, and unsharpened it reads as an 8."""
    page = cv2.imread(str(Path(__file__).parent / "data" / "soft_28380.png"), cv2.IMREAD_GRAYSCALE)
    assert _read(classifier, segment(page, scorer=classifier.proba)) == [2, 8, 3, 8, 0]


def test_sharpening_keeps_the_crests_of_the_ink_as_scanned() -> None:
    """Sharpening thins strokes, and a faint one can break: on the soft scan of
    ``tests/data/soft_28380.png`` every crest (ridge) pixel of the unsharpened page's mask stays
    in the mask (sharpening alone drops a few)."""
    page = cv2.imread(str(Path(__file__).parent / "data" / "soft_28380.png"), cv2.IMREAD_GRAYSCALE)
    cfg = SegmentConfig()
    ink = _ink(page, cfg)
    otsu = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[0]
    x, y = cv2.findNonZero(_mask(ink, cfg, otsu)).reshape(-1, 2).T
    crest = _ridge(ink, x, y, cfg.min_contrast / 2)
    assert crest.sum() > 100 and binarize(page)[y[crest], x[crest]].min() == 255


@pytest.mark.parametrize(("frame", "rules"), [("printed", True), ("printed", False), ("scanner margins", True)])
def test_frame_around_the_form_is_no_box_to_write_in(mnist_test, frame, rules) -> None:  # type: ignore[no-untyped-def]
    """Two numbers on one line, each on its own rule (or on none), inside a printed frame around
    the form (or the dark margins a scanner leaves around the page): the frame's lines go, but it
    holds printed lines of its own, or is taller than any digit, so it is no box written in
    (whose digits are one field however far apart): the numbers stay two fields."""
    page = np.full((600, 1000), 240, np.uint8)
    if frame == "printed":
        cv2.rectangle(page, (20, 20), (980, 580), 30, 3)
    else:
        page[:, :30], page[:25], page[-20:] = 20, 25, 30
    for x0 in (100, 600) if rules else ():
        page[300:303, x0 : x0 + 300] = 40
    draw_digits(page, [digit_ink(m, 50) for m in _pick(mnist_test, "123")], 130, 296, gap=12)
    draw_digits(page, [digit_ink(m, 50) for m in _pick(mnist_test, "45")], 630, 296, gap=12)
    assert _fields(segment(page)) == [[1, 2, 3], [1, 2]]


def test_ring_around_a_number_is_dropped_and_the_number_read(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A ring drawn around a number (or a stamp's circle around its word): merged with what it
    holds, it read as one big 0. A closed loop holding other writing is no digit: the ring goes,
    and the digits inside are read on their own."""
    page = np.full((400, 700), 240, np.uint8)
    draw_digits(page, [digit_ink(m, 50) for m in _pick(mnist_test, "27")], 300, 225, gap=10)
    cv2.circle(page, (350, 200), 75, 30, 3)
    glyphs = segment(page, scorer=classifier.proba)
    assert _read(classifier, glyphs) == [2, 7]


def test_long_upright_line_through_the_digits_is_removed(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A fold, or a table's column line, runs down the page through a number: a thin upright line
    taller than any digit is taken off like a rule (and the strokes crossing it bridged), not
    left to glue the digits it touches into one piece too tall to be a digit."""
    page = np.full((700, 600), 240, np.uint8)
    boxes = draw_digits(page, [digit_ink(m, 50) for m in _pick(mnist_test, "4096")], 150, 400, gap=10)
    x = boxes[1][0] + boxes[1][2] // 2  # down the middle of the 0
    page[:, x - 1 : x + 2] = 60
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4]]
    assert all(40 <= g.h <= 60 for g in glyphs)


def test_box_side_between_two_close_digits_is_not_bridged_back() -> None:
    """Small 1s in a row of boxes with heavy sides, two 3 px from the side between them: the side
    is removed and stays removed (a stroke crossing a line is bridged back only across the line's
    own thickness, not from one digit to the next, which would glue them into one glyph)."""
    page = np.full((200, 400), 245, np.uint8)
    x0, y0, cell, side = 100, 60, 30, 4
    for k in range(4):
        page[y0 : y0 + 40, x0 + k * cell : x0 + k * cell + side] = 30
    page[y0 : y0 + side, x0 : x0 + 3 * cell + side] = 30
    page[y0 + 40 - side : y0 + 40, x0 : x0 + 3 * cell + side] = 30
    ones = [x0 + cell - 7, x0 + cell + side + 3, x0 + 2 * cell + 12]  # two close to the side between them
    for x in ones:  # slanted 1s, 2 px strokes, 5 px wide
        cv2.line(page, (x + 3, y0 + 9), (x, y0 + 31), 30, 2)
    glyphs = segment(page)
    assert len(glyphs) == 3 and all(g.w <= 6 for g in glyphs), [(g.x, g.w) for g in glyphs]


def test_one_tall_glyph_does_not_make_the_rest_of_its_field_short(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """One glyph twice the height of its neighbours (a digit with a stroke running up) leaves the
    other digits of the field in place: they are not taken for the short letters of a label."""
    page = np.full((400, 800), 240, np.uint8)
    inks = [digit_ink(m, 60) for m in _pick(mnist_test, "40213")]
    inks[2] = digit_ink(_pick(mnist_test, "2")[0], 120)
    draw_digits(page, inks, 100, 300, gap=14)
    assert _fields(segment(page)) == [[1, 2, 3, 4, 5]]


def test_heavy_comb_ticks_are_not_read_as_ones(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A comb printed heavy: 5 px ticks, 18 px tall, on a 5 px rule. The ticks are
    as thick as the printed line, wider than a hairline tick: still ticks, not 1s between the digits."""
    page = np.full((300, 700), 250, np.uint8)
    x0, base, cell = 100, 200, 56
    page[base : base + 5, x0 : x0 + 5 * cell + 5] = 30
    for k in range(6):
        page[base - 18 : base, x0 + k * cell : x0 + k * cell + 5] = 30
    for k, m in enumerate(_pick(mnist_test, "53594")):
        ink = digit_ink(m, 44)
        draw_digits(page, [ink], x0 + k * cell + 5 + (cell - 5 - ink.shape[1]) // 2, base - 3, gap=0)
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4, 5]]
    assert all(g.h >= 30 for g in glyphs)


def test_narrow_one_touching_the_next_digit_is_split(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A 1 touching a 7: together hardly wider than tall, so not wide enough to be tried as two
    digits by shape; but read poorly as one digit, they are tried, and read as 1 and 7."""
    page = np.full((300, 600), 240, np.uint8)
    one, seven = (digit_ink(m, 70) for m in _pick(mnist_test, "17", start=100))
    draw_digits(page, [one, seven], 100, 200, gap=-3)
    n, labels = cv2.connectedComponents((page < 128).astype(np.uint8))
    ys, xs = np.nonzero(labels)
    assert n - 1 == 1 and xs.max() - xs.min() + 1 <= 1.15 * (ys.max() - ys.min() + 1)
    glyphs = segment(page, scorer=classifier.proba)
    assert _read(classifier, glyphs) == [1, 7]


@pytest.mark.parametrize(("pair", "start"), [("91", 160), ("51", 160), ("71", 320)])
def test_one_written_into_the_side_of_a_digit_is_cut_off(mnist_test, classifier, pair, start) -> None:  # type: ignore[no-untyped-def]
    """A 1 written into the side of a 9, a 5 or a 7: one component hardly wider than tall, read
    as the other digit alone; a seam near its side cuts off a full-height 1 and leaves the digit."""
    page = np.full((300, 600), 240, np.uint8)
    draw_digits(page, [digit_ink(m, 70) for m in _pick(mnist_test, pair, start=start)], 100, 200, gap=-4)
    assert cv2.connectedComponents((page < 128).astype(np.uint8))[0] - 1 == 1
    glyphs = segment(page, scorer=classifier.proba)
    assert _read(classifier, glyphs) == [int(c) for c in pair]


@pytest.mark.parametrize(("pair", "start"), [("71", 160), ("17", 390), ("41", 70), ("14", 230)])
def test_doubtful_pair_with_a_one_is_cut_at_a_narrow_place(mnist_test, classifier, pair, start) -> None:  # type: ignore[no-untyped-def]
    """A 1 run into a 7 or a 4: one component hardly wider than tall that reads as one doubtful
    digit. The cuts near the middle and along seams take a piece of one digit into the other;
    the narrow places off the middle (a wide digit beside a narrow one) find the cut."""
    page = np.full((300, 600), 240, np.uint8)
    draw_digits(page, [digit_ink(m, 70) for m in _pick(mnist_test, pair, start=start)], 100, 200, gap=-5)
    assert cv2.connectedComponents((page < 128).astype(np.uint8))[0] - 1 == 1
    glyphs = segment(page, scorer=classifier.proba)
    assert _read(classifier, glyphs) == [int(c) for c in pair]


def test_single_digits_are_not_cut_into_a_one(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """The stem of a 4 or a 9, the side of a 0 or a 6: a full-height stroke at the side of a
    digit, but what is left without it does not read clearly enough: none of the first 2,000
    MNIST test digits is cut (with 0.9 for ``PEEL_CONFIDENCE`` and 0.8 for ``PEEL_HEIGHT``, a 4
    was)."""
    x, y = mnist_test
    for i in range(len(x)):
        ink = digit_ink(x[i], 70)
        part = _Part(100, 100, ink.shape[1], ink.shape[0], ink)
        assert peel_ones([part], classifier.proba, 10) == [part], f"MNIST test image {i} ({y[i]})"


def test_overlapping_digits_no_straight_cut_separates_are_cut_along_a_seam(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A 2 whose foot runs under the 0 written over it: every straight cut takes a piece of one
    digit into the other, so the pair read as one 2; a cut that bends around the strokes reads 2, 0."""
    page = np.full((300, 600), 240, np.uint8)
    two, zero = (digit_ink(m, 70) for m in _pick(mnist_test, "20", start=50))
    draw_digits(page, [two, zero], 100, 200, gap=-6)
    n, _ = cv2.connectedComponents((page < 128).astype(np.uint8))
    assert n - 1 == 1
    glyphs = segment(page, scorer=classifier.proba)
    assert _read(classifier, glyphs) == [2, 0]


def test_a_cut_through_a_loop_loses_to_the_whole_glyph() -> None:
    """A wide 0 cut down the middle gives a "(" and a ")", which a classifier may read more
    surely (as a 1 and a 7) than the whole 0. A cut that opens a loop is marked down, so the
    0 stays whole; a cut that leaves the loops alone (two 0s side by side) still wins."""
    def scorer(crops: np.ndarray) -> np.ndarray:  # narrow ink: a sure 1; a ring: a fair 0; wider: a poor 0
        out = np.zeros((len(crops), 11), np.float32)
        for row, c in zip(out, crops):
            w = np.ptp(np.nonzero(c.reshape(28, 28) > 60)[1])
            row[1 if w < 12 else 0] = 0.97 if w < 12 else 0.9 if w < 19 else 0.6
            row[10] = 1.0 - row.sum()
        return out

    ring = np.zeros((40, 32), np.uint8)
    cv2.ellipse(ring, (16, 20), (13, 17), 0, 0, 360, 255, 3)
    assert len(split_wide(_Part(0, 0, 32, 40, ring), doubtful=True, scorer=scorer)) == 1
    two = np.zeros((40, 64), np.uint8)
    two[:, :32], two[:, 32:] = ring, ring
    two[18:22, 28:36] = 255  # touching
    assert len(split_wide(_Part(0, 0, 64, 40, two), scorer=scorer)) == 2


def test_wide_written_two_stays_one_glyph(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A 2 written nearly twice as wide as tall is one digit: cut in two, one piece reads as no
    digit at all, so the whole glyph, which reads as a 2, competes with the cuts and wins."""
    page = np.full((300, 600), 240, np.uint8)
    ink = digit_ink(_pick(mnist_test, "2")[0], 50)
    wide = np.where(cv2.resize(ink, (int(1.9 * 50), 50), interpolation=cv2.INTER_LINEAR) > 127, 255, 0).astype(np.uint8)
    draw_digits(page, [wide], 100, 200, gap=0)
    glyphs = segment(page, scorer=classifier.proba)
    assert len(glyphs) == 1
    assert classifier.predict(normalize_mask(glyphs[0].mask)[None]).digit[0] == 2


def test_digit_is_not_cut_into_pieces_much_shorter_than_it(classifier) -> None:  # type: ignore[no-untyped-def]
    """A 7 whose stem bends back: nearly as wide as tall and read as a 7 (0.59), so tried as two
    touching digits; its top and its bent foot read as a 7 and a 6 (0.96 or more), but each is
    about half the glyph's height, as no two digits written side by side are: one glyph, a 7."""
    page = np.full((300, 400), 240, np.uint8)
    stem = [(125, 105), (162, 102), (150, 118), (125, 135), (110, 150), (98, 165), (104, 175), (112, 178), (122, 176)]
    cv2.polylines(page, [np.array(stem, np.int32)], False, 30, 4)
    glyphs = segment(page, scorer=classifier.proba)
    assert len(glyphs) == 1
    assert classifier.predict(normalize_mask(glyphs[0].mask)[None]).digit[0] == 7


def test_small_digits_in_wide_boxes_are_one_field_however_far_apart(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """Small digits in a row of wide boxes, one box left empty: the gaps between them are several
    digit heights, but one row of boxes holds one field."""
    page = np.full((300, 900), 250, np.uint8)
    x0, y0, cell, height = 100, 100, 90, 60
    cv2.rectangle(page, (x0, y0), (x0 + 6 * cell, y0 + height), 40, 2)
    for k in range(1, 6):
        cv2.line(page, (x0 + k * cell, y0), (x0 + k * cell, y0 + height), 40, 2)
    for k, m in zip((0, 1, 3, 4), _pick(mnist_test, "5830")):
        draw_digits(page, [digit_ink(m, 24)], x0 + k * cell + 30, y0 + 40, gap=0)
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4]]


def test_thin_digit_broken_across_its_middle_is_one_glyph(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A faint thin pen breaks where the stroke is lightest: a small 3 and 2 cut through the middle
    come out as two stacked halves each, a pixel apart, which are one digit each."""
    page = np.full((200, 300), 245, np.uint8)
    digits = []
    for m in _pick(mnist_test, "32"):
        ink = digit_ink(m, 22)
        mid = ink.shape[0] // 2
        ink[mid : mid + 1, :] = 0
        digits.append(ink)
    draw_digits(page, digits, 100, 100, gap=8)
    glyphs = segment(page)
    assert [(g.field, g.index) for g in glyphs] == [(1, 1), (1, 2)]
    assert all(g.h >= 20 for g in glyphs)


def test_sides_of_an_open_box_are_not_ones(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A one-digit field printed as a tray (a rule with short sides rising from its ends): the
    sides, nearly as tall as the digit, are not read as 1s on either side of it."""
    page = np.full((200, 300), 245, np.uint8)
    x0, x1, y = 100, 165, 150
    cv2.line(page, (x0, y), (x1, y), 60, 2)
    for x in (x0, x1):
        cv2.line(page, (x, y - 33), (x, y), 60, 1)
    draw_digits(page, [digit_ink(_pick(mnist_test, "6")[0], 45)], 123, y - 3, gap=0)
    glyphs = segment(page)
    assert len(glyphs) == 1 and 118 <= glyphs[0].x <= 128 and glyphs[0].h >= 40


def test_underline_shorter_than_half_a_rule_under_one_small_digit_is_removed(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """"Score: 3" with a 38 px underline through the foot of the 3: too short for a rule (60 px),
    still not part of the digit; the bar of a 5 (ink under it) is kept."""
    page = np.full((200, 400), 245, np.uint8)
    three = digit_ink(_pick(mnist_test, "3")[0], 20)
    draw_digits(page, [three], 110, 120, gap=0)
    cv2.line(page, (100, 118), (137, 118), 60, 2)
    draw_digits(page, [digit_ink(_pick(mnist_test, "5", 50)[0], 60)], 250, 150, gap=0)
    glyphs = segment(page)
    assert len(glyphs) == 2
    small, big = sorted(glyphs, key=lambda g: g.h)
    assert small.w <= three.shape[1] + 1 and small.h >= 16  # the 3 alone, in one piece
    assert big.h >= 55 and big.w >= 55  # the 5 whole, its bar on it


def test_strokes_dipping_through_a_short_underline_do_not_keep_it_but_a_digits_own_foot_stays(
        mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A stroke that lies along a short underline and dips a row or two under it does not make the
    underline part of the digit: a small 3 on a 38 px hairline is found alone, and a 2 and a 1 whose
    feet lie along a 41 px one are two clean digits. A wide 2's own flat foot, thicker where it
    curves (ink under most of it, one digit on it), is no underline: the 2 stays in its field."""
    page = np.full((300, 700), 245, np.uint8)
    three = digit_ink(_pick(mnist_test, "3")[0], 20)
    box3 = draw_digits(page, [three], 110, 122, gap=0)[0]
    cv2.line(page, (100, 119), (137, 119), 60, 1)  # the 3's lowest two rows under it
    two = np.zeros((28, 26), np.uint8)
    cv2.ellipse(two, (13, 7), (10, 6), 0, 180, 360, 255, 3)
    cv2.line(two, (23, 8), (2, 25), 255, 3)
    two[25:28] = 255  # its foot, along the underline and a row under it
    draw_digits(page, [two], 560, 123, gap=0)
    page[94:124, 592:596] = 30  # a 1 standing through it
    cv2.line(page, (560, 121), (600, 121), 60, 1)
    wide = np.zeros((25, 34), np.uint8)
    cv2.ellipse(wide, (17, 8), (14, 7), 0, 180, 360, 255, 3)
    cv2.line(wide, (31, 9), (3, 22), 255, 3)
    wide[21:23] = 255  # a flat foot as long as the 2 is wide, the curve's lower edge under it
    wide[23:25, 6:28] = 255
    draw_digits(page, [wide] + [digit_ink(m, 28) for m in _pick(mnist_test, "390")], 300, 230, gap=5)
    for x in range(290, 470, 8):  # a dotted leader under the field
        cv2.circle(page, (x, 240), 1, 60, -1)
    glyphs = segment(page, scorer=classifier.proba)
    assert [(g.x, g.w) for g in glyphs if g.x < 200] == [(box3[0], box3[2])]
    assert [(g.x, g.w <= 6) for g in glyphs if g.x > 500] == [(560, False), (592, True)]
    assert [len(f) for f in _fields([g for g in glyphs if 200 < g.x < 500])] == [4]


def test_small_digit_broken_into_halves_whose_rows_overlap_is_one_glyph() -> None:
    """A small faint 6 broken where its stem meets its loop: two pieces about as tall as each
    other, one over the other with two rows in common. Each alone is too short for a digit; the
    union is 1.8 x as tall as the taller one, yet it is one digit, not two."""
    page = np.full((200, 400), 245, np.uint8)
    stem = np.zeros((16, 11), np.uint8)
    cv2.line(stem, (9, 0), (1, 8), 255, 1)  # rows 0-8
    loop = np.zeros((16, 11), np.uint8)
    cv2.ellipse(loop, (6, 11), (4, 4), 0, 0, 360, 255, 1)  # rows 7-15
    stem[cv2.dilate(loop, np.ones((3, 3), np.uint8)) > 0] = 0  # broken where they meet
    page[100:116, 100:111][(stem | loop) > 0] = 30
    assert [(g.y, g.h) for g in segment(page)] == [(100, 16)]


def test_short_bar_along_the_top_edge_of_the_page() -> None:
    """A short thick bar in the page's first rows, with ink under most of it: judging it as an
    underline looks at the rows above it, which there are none of (OpenCV crashed the process on
    the empty image); it is no digit."""
    page = np.full((200, 300), 245, np.uint8)
    page[0:3, 100:140] = 30
    page[3:5, 100:125] = 30
    assert segment(page) == []


def test_one_pixel_one_inside_a_box_is_a_digit(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A 1 of a fine pen inside a box of a row of boxes, away from its sides: one pixel a row with
    one step, as little ink as a slanted fibre; a box is where a digit is written, so it is kept."""
    page = np.full((200, 400), 245, np.uint8)
    top, bottom, bw = 60, 95, 35
    six, eight, three = (digit_ink(m, 22) for m in _pick(mnist_test, "683"))
    _in_boxes(page, [six, eight, None, three], top, bottom, bw, lift=6)
    c = 100 + 2 * bw + 17
    page[bottom - 28 : bottom - 17, c + 1] = 30
    page[bottom - 17 : bottom - 6, c] = 30
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4]] and (glyphs[2].x, glyphs[2].w, glyphs[2].h) == (c, 2, 22)


def test_digit_in_several_pieces_inside_one_box_is_joined(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A thin pen's 5 broken across in three places, four pieces in its box, none of which reads as
    a digit and some too small for one: a box holds one digit, and together they read as the 5."""
    page = np.full((200, 500), 245, np.uint8)
    digits = [digit_ink(m, 48) for m in _pick(mnist_test, "3851")]
    five = cv2.erode(digits[2], np.ones((3, 3), np.uint8))
    for r in (9, 21, 34):
        five[r : r + 2] = 0
    assert cv2.connectedComponents(five)[0] - 1 == 4
    digits[2] = five
    _in_boxes(page, digits, top=50, bottom=115, bw=60, lift=8)
    glyphs = segment(page, scorer=classifier.proba)
    assert _fields(glyphs) == [[1, 2, 3, 4]]
    assert _read(classifier, glyphs) == [3, 8, 5, 1]


def test_bar_of_a_five_come_off_inside_its_box_is_joined(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A small 5 in a row of boxes whose bar came off, 8 px over its body, too thin for a digit on
    its own: the body alone reads as a 3, the two pieces in the box together as the 5."""
    page = np.full((200, 400), 245, np.uint8)
    digits = [digit_ink(m, 26) for m in _pick(mnist_test, "2259", 75)]
    digits[2][5:13] = 0
    assert cv2.connectedComponents(digits[2])[0] - 1 == 2
    _in_boxes(page, digits, top=80, bottom=115, bw=34, lift=4)
    glyphs = segment(page, scorer=classifier.proba)
    assert _fields(glyphs) == [[1, 2, 3, 4]]
    assert _read(classifier, glyphs) == [2, 2, 5, 9]


def test_faint_pencil_beside_bold_print_is_found(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """Bold print sets the page's strong ink cut far above a faint pencil's contrast: the pencil
    digits, on their own away from other ink, are still taken whole."""
    page = np.full((300, 600), 235, np.uint8)
    for k in range(6):  # a bold printed label: dark, heavy strokes
        cv2.rectangle(page, (40 + 30 * k, 100), (60 + 30 * k, 140), 20, -1)
    faint = [digit_ink(m, 30) for m in _pick(mnist_test, "372")]
    draw_digits(page, faint, 300, 140, gap=10, ink=190)  # contrast 45 on this paper
    glyphs = [g for g in segment(page) if g.x >= 290]
    assert len(glyphs) == 3 and all(g.h >= 27 for g in glyphs)


def test_short_comb_under_a_field_is_removed(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A five-cell comb shorter than a rule (ticks rising from both ends of its base): its base and
    ticks go, its digits are one field; a 0 with a flat bottom as wide keeps its sides."""
    page = np.full((300, 600), 245, np.uint8)
    x0, y, cell = 100, 150, 22  # 115 px: short of a rule
    cv2.line(page, (x0, y), (x0 + 5 * cell, y), 60, 3)
    for k in range(6):
        cv2.line(page, (x0 + k * cell, y - 8), (x0 + k * cell, y), 60, 2)
    for k, m in enumerate(_pick(mnist_test, "7171")):
        ink = digit_ink(m, 18)
        draw_digits(page, [ink], x0 + k * cell + (cell - ink.shape[1]) // 2 + 1, y - 1, gap=0)  # on the base
    zero = np.zeros((50, 70), np.uint8)
    cv2.ellipse(zero, (35, 25), (33, 23), 0, 0, 360, 255, 5)
    zero[43:50, 10:60] = 255  # a flat foot as long as a short underline
    draw_digits(page, [zero], 400, 200, gap=0)
    glyphs = segment(page)
    combed = [g for g in glyphs if g.x < 300]
    assert len(combed) == 4 and len({g.field for g in combed}) == 1
    assert all(g.y + g.h <= y for g in combed)  # no base in the digits
    assert [(g.w >= 65, g.h >= 45) for g in glyphs if g.x >= 300] == [(True, True)]


def test_comb_ticks_nearly_as_tall_as_the_digits_are_not_ones_when_some_touch_a_digit(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """Ticks three quarters of the digits' height on a comb's rule: where a digit touches a
    tick, that tick is part of the digit, and the grid of the rest has gaps; the rest are still
    the comb's, not 1s between the digits."""
    page = np.full((300, 700), 245, np.uint8)
    x0, y, cell = 60, 200, 62
    cv2.line(page, (x0, y), (x0 + 8 * cell, y), 40, 2)
    for k in range(9):
        cv2.line(page, (x0 + k * cell, y - 34), (x0 + k * cell, y), 40, 2)
    digits = _pick(mnist_test, "638502")
    for k, m in zip((0, 1, 2, 4, 5, 6), digits):
        ink = digit_ink(m, 44)
        left = x0 + k * cell + (cell - ink.shape[1]) // 2 + 1
        if k == 2:
            left = x0 + (k + 1) * cell - ink.shape[1] + 2  # the 8 written over its box's right side
        draw_digits(page, [ink], left, y - 3, gap=0)
    glyphs = segment(page)
    assert len(glyphs) == 6 and all(g.h >= 40 for g in glyphs)


@pytest.mark.parametrize("apart", [4, 12])
def test_halves_of_a_zero_a_gap_apart_are_joined(mnist_test, classifier, apart) -> None:  # type: ignore[no-untyped-def]
    """A 0 broken at top and bottom whose halves lie a few pixels apart, "( )": each half reads
    unsure (a 1, or no digit), the union a clear 0, so they are one glyph. A 1 and a 0 the same
    gap apart stay two: the 1 reads clearly."""
    page = np.full((300, 800), 240, np.uint8)
    one, zero = (digit_ink(m, 60) for m in _pick(mnist_test, "10"))
    mid = zero.shape[1] // 2
    broken = np.hstack([zero[:, :mid], np.zeros((zero.shape[0], apart), zero.dtype), zero[:, mid + 1 :]])
    assert cv2.connectedComponents(broken)[0] - 1 == 2
    draw_digits(page, [broken], 100, 150, gap=0)
    draw_digits(page, [one, zero], 400, 150, gap=apart)
    glyphs = segment(page, scorer=classifier.proba)
    assert _fields(glyphs) == [[1], [1, 2]]
    assert _read(classifier, glyphs) == [0, 1, 0]


def test_steps_of_a_box_line_off_level_go_with_the_line(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A thin box row a little off level, or resampled by the deskew, steps from one pixel row to
    the next: short runs of its top line lie in the row above its full row. Where a digit touches
    the line under such a run, the run went back onto the digit as a bar when the line was taken
    off (a 0 read as a 2, a 1 as a 7); now the runs go with the line."""
    page = np.full((300, 600), 240, np.uint8)
    x0, top, bw, bh = 100, 100, 60, 66
    digits = [digit_ink(m, 50) for m in _pick(mnist_test, "1040")]
    for i, d in enumerate(digits):
        left = x0 + i * bw
        cv2.rectangle(page, (left, top), (left + bw, top + bh), 40, 1)
        h, w = d.shape
        x = left + (bw - w) // 2
        page[top + 1 : top + 1 + h, x : x + w][d > 0] = 30  # the digit touches the top line ...
        cols = np.flatnonzero(d[0] > 0)
        page[top - 1, x + cols.min() - 2 : x + cols.max() + 3] = 40  # ... under a step of it
    glyphs = segment(page, scorer=classifier.proba)
    assert _fields(glyphs) == [[1, 2, 3, 4]]
    assert all(g.y > top for g in glyphs)  # no piece of the line on any digit
    crops = np.stack([normalize_mask(g.mask) for g in glyphs])
    assert list(classifier.predict(crops).digit) == [1, 0, 4, 0]


@pytest.mark.parametrize("index", [59, 95])  # a 5 and a 4 that, drawn wide, the classifier reads cut in two
def test_a_wide_digit_inside_one_box_is_not_cut(mnist_test, classifier, index) -> None:  # type: ignore[no-untyped-def]
    """A box holds one digit: a wide digit between two sides of a row of boxes stays whole,
    however its halves read."""
    x, y = mnist_test
    d = digit_ink(x[index], 56)
    d = cv2.resize(d, (int(d.shape[1] * 1.6), d.shape[0]), interpolation=cv2.INTER_NEAREST)
    page = np.full((260, 500), 240, np.uint8)
    cv2.rectangle(page, (100, 80), (210, 150), 40, 2)
    cv2.rectangle(page, (210, 80), (320, 150), 40, 2)
    left = 100 + (110 - d.shape[1]) // 2
    page[88 : 88 + d.shape[0], left : left + d.shape[1]][d > 0] = 30
    glyphs = segment(page, scorer=classifier.proba)
    assert len(glyphs) == 1
    assert _read(classifier, glyphs) == [y[index]]


@pytest.mark.parametrize("number", ["21", "10", "77"])
def test_number_in_one_wide_box_stays_two_digits(mnist_test, classifier, number) -> None:  # type: ignore[no-untyped-def]
    """A box on its own, twice as wide as tall, holds a whole number, not one digit: its two digits
    are not joined into one glyph, however clearly the two read together as one digit."""
    page = np.full((200, 400), 245, np.uint8)
    cv2.rectangle(page, (100, 60), (220, 115), 40, 2)
    x = 125
    for m in _pick(mnist_test, number):
        d = digit_ink(m, 34)
        page[105 - d.shape[0] : 105, x : x + d.shape[1]][d > 0] = 30
        x += d.shape[1] + 8
    glyphs = segment(page, scorer=classifier.proba)
    assert [str(d) for d in _read(classifier, glyphs)] == list(number)


def test_two_pieces_in_one_box_are_joined(classifier) -> None:  # type: ignore[no-untyped-def]
    """A 4 whose bar stops short of its stem, in a row of boxes: two pieces, the stem a clear 1,
    so no rule for loose pieces joins them; but a box holds one digit, and together they read as
    a clear 4."""
    page = np.full((260, 500), 240, np.uint8)
    cv2.rectangle(page, (100, 60), (180, 160), 40, 2)
    cv2.rectangle(page, (180, 60), (260, 160), 40, 2)
    cv2.line(page, (128, 72), (116, 120), 30, 4)  # the 4's left stroke ...
    cv2.line(page, (116, 120), (140, 120), 30, 4)  # ... its bar, 8 px short of ...
    cv2.line(page, (152, 82), (150, 150), 30, 4)  # ... its stem
    glyphs = segment(page, scorer=classifier.proba)
    assert len(glyphs) == 1
    assert _read(classifier, glyphs) == [4]


def test_short_one_standing_in_a_box_is_a_digit_not_a_tick(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A 1 written short, standing on the bottom of its box: a thin bar on a rule, much shorter
    than the digits beside it, like the tick of a comb field; but it stands inside a box, away
    from the sides, so it is a digit."""
    page = np.full((260, 500), 240, np.uint8)
    top, bottom, bw = 60, 140, 70
    for i in range(3):
        cv2.rectangle(page, (100 + i * bw, top), (100 + (i + 1) * bw, bottom), 40, 2)
    two, zero = (digit_ink(m, 62) for m in _pick(mnist_test, "20"))
    for i, d in ((0, two), (2, zero)):
        left = 100 + i * bw + (bw - d.shape[1]) // 2
        page[bottom - 4 - d.shape[0] : bottom - 4, left : left + d.shape[1]][d > 0] = 30
    cv2.line(page, (100 + bw + 36, bottom - 36), (100 + bw + 35, bottom - 3), 30, 4)  # the 1, 34 px tall
    glyphs = segment(page, scorer=classifier.proba)
    assert _fields(glyphs) == [[1, 2, 3]]
    assert _read(classifier, glyphs) == [2, 1, 0]


def test_digits_run_into_each_other_across_a_box_side_are_cut_there(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """Two 9s written into neighbouring boxes, each leaning over the side between them into the
    other: one part across the side that reads as one 9 clearly. A box holds one digit, so it
    is cut along the side, and the field reads 6993."""
    page = np.full((200, 400), 240, np.uint8)
    top, bottom, bw = 60, 110, 34
    for i in range(4):
        cv2.rectangle(page, (100 + i * bw, top), (100 + (i + 1) * bw, bottom), 40, 2)
    lefts = [104, 100 + bw + 10, 100 + 2 * bw - 2, 100 + 3 * bw + 4]
    for left, m in zip(lefts, _pick(mnist_test, "6993", 40)):
        d = digit_ink(m, 38)
        page[bottom - 5 - d.shape[0] : bottom - 5, left : left + d.shape[1]][d > 0] = 30
    glyphs = segment(page, scorer=classifier.proba)
    assert _fields(glyphs) == [[1, 2, 3, 4]]
    assert _read(classifier, glyphs) == [6, 9, 9, 3]


def test_soft_box_lines_are_not_put_back_as_pen_ink_on_them(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A row of boxes printed with soft lines (a 2 px line blurred: its grey edges are most of its
    pixels, so its dark core stands out from them like pen ink lying on a line). Digits crossing
    the sides must not bring the whole frame back with them: the row reads 053543, six digits."""
    lines = np.full((300, 800), 255, np.uint8)
    top, bottom, bw = 100, 190, 90
    cv2.rectangle(lines, (100, top), (100 + 6 * bw, bottom), 60, 2)
    for i in range(1, 6):
        cv2.line(lines, (100 + i * bw, top), (100 + i * bw, bottom), 60, 2)
    page = np.minimum(cv2.GaussianBlur(lines, (0, 0), 1.0), 245)
    for i, m in enumerate(_pick(mnist_test, "053543")):
        d = digit_ink(m, 60)
        left = 100 + i * bw + (-3 if i % 2 else (bw - d.shape[1]) // 2)  # every other digit over its left side
        page[bottom - 10 - d.shape[0] : bottom - 10, left : left + d.shape[1]][d > 0] = 30
    glyphs = segment(page, scorer=classifier.proba)
    assert _fields(glyphs) == [[1, 2, 3, 4, 5, 6]] and max(g.w for g in glyphs) < 70
    assert _read(classifier, glyphs) == [0, 5, 3, 5, 4, 3]


def test_digit_broken_across_its_middle_a_few_pixels_apart_is_one_glyph(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A thin pen's 3 broken across its middle, its halves 5 px apart (a seventh of the upper
    half's height) and together much taller than either: the two halves of one digit."""
    page = np.full((300, 400), 240, np.uint8)
    three = digit_ink(_pick(mnist_test, "3")[0], 60)
    broken = np.vstack([three[:33], np.zeros((5, three.shape[1]), np.uint8), three[38:]])
    assert cv2.connectedComponents(broken)[0] - 1 == 2
    draw_digits(page, [broken], 150, 200, gap=0)
    glyphs = segment(page, scorer=classifier.proba)
    assert len(glyphs) == 1
    assert _read(classifier, glyphs) == [3]


def test_slanted_one_broken_across_its_middle_is_one_glyph(classifier) -> None:  # type: ignore[no-untyped-def]
    """A thin pen's slanted 1 broken across its middle, 6 px apart: its halves hardly overlap
    side by side, but the upper half's stroke ends over the lower half's start. One glyph, a 1
    (it had come out as two pieces, each too short for the field: the 1 was lost)."""
    page = np.full((300, 400), 240, np.uint8)
    cv2.line(page, (190, 100), (160, 170), 30, 4)
    page[133:139] = 240
    glyphs = segment(page, scorer=classifier.proba)
    assert len(glyphs) == 1
    assert glyphs[0].h >= 65
    assert _read(classifier, glyphs) == [1]


def test_loop_of_a_six_come_off_its_stem_is_joined_to_it(classifier) -> None:  # type: ignore[no-untyped-def]
    """A 6 whose small loop came off its stem, a few pixels to its right, a third of its height:
    the stem alone reads as a 1, not clearly, and the loop as a clear 0 (but it is too small
    to be a digit); the union reads as a 6."""
    page = np.full((300, 600), 240, np.uint8)
    stem = np.array([(138, 102), (126, 110), (118, 128), (115, 150), (117, 166), (123, 172)], np.int32)
    cv2.polylines(page, [stem], False, 30, 5)
    cv2.ellipse(page, (158, 160), (11, 9), 40, 0, 360, 30, 4)  # the loop, its box 4 px right of the stem's
    glyphs = segment(page, scorer=classifier.proba)
    assert len(glyphs) == 1
    assert _read(classifier, glyphs) == [6]


def test_heavy_single_box_is_removed_from_the_digit_in_it(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A one-digit box drawn with lines a sixth of its width (more ink than paper outside the
    digit's area): still a frame, not a blob; the digit inside comes out alone."""
    page = np.full((300, 600), 245, np.uint8)
    cv2.rectangle(page, (100, 100), (160, 160), 25, 10)
    ink = digit_ink(_pick(mnist_test, "7")[0], 34)
    (x, y, w, h), = draw_digits(page, [ink], 130 - ink.shape[1] // 2, 147, gap=0)
    glyphs = segment(page)
    assert len(glyphs) == 1
    g = glyphs[0]
    assert abs(g.x - x) <= 2 and abs(g.y - y) <= 2 and abs(g.w - w) <= 3 and abs(g.h - h) <= 3


def test_wide_digit_touching_a_narrow_one_is_cut_where_they_meet(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A 7 as wide as tall whose stem runs into the loop of a narrow 9: the pair reads as no digit
    whole, and the thinnest column near its middle cuts through the 7's bar; the cut is found at
    another narrow place of the ink, further right, where the two pieces read as 7 and 9."""
    x, y = mnist_test
    seven, nine = digit_ink(x[60], 60), digit_ink(x[12], 60)
    assert (y[60], y[12], seven.shape[1]) == (7, 9, 60)
    page = np.full((300, 600), 240, np.uint8)
    draw_digits(page, [seven, nine], 100, 200, gap=-4)
    assert cv2.connectedComponents((page < 128).astype(np.uint8))[0] - 1 == 1  # one piece of ink
    glyphs = segment(page, scorer=classifier.proba)
    assert _read(classifier, glyphs) == [7, 9]


def test_hairline_comb_ticks_three_quarters_as_tall_as_the_digits_on_a_tilted_page(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A comb of hairline ticks 3/4 as tall as the digits, the page tilted 1 degree: levelled,
    the ticks are no longer solid bars, and they are too tall to be told from 1s by height; they
    are all one height and evenly spaced, so they are ticks (1s on a rule differ in height)."""
    page = np.full((400, 900), 250, np.uint8)
    x0, base, cell = 150, 250, 80
    cv2.line(page, (x0, base), (x0 + 4 * cell, base), 60, 1)
    for k in range(5):
        cv2.line(page, (x0 + k * cell, base - 42), (x0 + k * cell, base), 60, 1)
    for k, m in enumerate(digit_ink(m, 56) for m in _pick(mnist_test, "4305")):
        draw_digits(page, [m], x0 + k * cell + (cell - m.shape[1]) // 2, base - 4, gap=0)
    page = cv2.warpAffine(page, cv2.getRotationMatrix2D((450, 200), 1.0, 1.0), (900, 400), borderValue=250)
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4]]
    assert all(g.h >= 50 for g in glyphs)


def test_comb_ticks_touching_the_digits_are_removed_from_them(mnist_test) -> None:  # type: ignore[no-untyped-def]
    """A comb drawn heavy (3 px), its ticks under half the digits' height, digits written against
    them: each touching tick would be part of its digit's glyph (a 6 with a bar down its left side).
    The ticks are found along the rule, one at each end and evenly spaced, and taken out."""
    page = np.full((400, 900), 250, np.uint8)
    x0, base, cell = 150, 250, 60
    cv2.line(page, (x0, base), (x0 + 4 * cell, base), 40, 3)
    for k in range(5):
        cv2.line(page, (x0 + k * cell, base - 20), (x0 + k * cell, base), 40, 3)
    boxes = []
    for k, m in enumerate(digit_ink(m, 44) for m in _pick(mnist_test, "6204")):
        x = x0 + k * cell + (2 if k % 2 == 0 else cell - m.shape[1] - 2)  # against a tick
        boxes += draw_digits(page, [m], x, base - 3, gap=0)
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4]]
    assert all(g.h <= 45 for g in glyphs)  # no tick hangs under a digit
    assert abs(glyphs[0].x - boxes[0][0]) <= 1 and abs(glyphs[0].w - boxes[0][2]) <= 2  # the 6 alone


def test_two_digits_written_into_each_other_that_read_as_one_are_cut(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A 7 and a 3 written into each other make one piece about as wide as tall, which reads as
    an 8 fairly but not fully surely: it is tried cut too, and two pieces that read very clearly
    (none a 1) win. A 0 and an 8 alone stay whole."""
    x, y = mnist_test
    seven, three = digit_ink(x[41], 60), digit_ink(x[76], 60)
    assert (y[41], y[76]) == (7, 3)
    page = np.full((300, 800), 240, np.uint8)
    draw_digits(page, [seven, three], 100, 200, gap=-10)
    draw_digits(page, [digit_ink(m, 60) for m in _pick(mnist_test, "08")], 400, 200, gap=40)
    glyphs = segment(page, scorer=classifier.proba)
    assert _fields(glyphs) == [[1, 2], [1, 2]]
    assert _read(classifier, glyphs) == [7, 3, 0, 8]


def test_box_sides_thinner_than_the_top_line_are_still_sides(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A noisy scan thins some sides of a row of heavy boxes (5 px against the 7 px top and bottom
    lines, with soft edges) and leaves the first side a hairline at the frame's edge: all are
    sides, removed with their edges, not bridged back into bars read as 1s."""
    page = np.full((300, 800), 235, np.uint8)
    x0, top, cell, height = 100, 100, 80, 68
    page[top : top + 7, x0 : x0 + 5 * cell + 5] = 40
    page[top + height - 7 : top + height, x0 : x0 + 5 * cell + 5] = 40
    page[top : top + height, x0 : x0 + 1] = 40  # the first side: 1 px
    for k in range(1, 6):
        page[top : top + height, x0 + k * cell : x0 + k * cell + (5 if k in (3, 5) else 7)] = 40
    for k in (3, 5):  # the thin sides' soft edges, along 45% of their height
        page[top + 10 : top + 10 + int(0.45 * height), [x0 + k * cell - 1, x0 + k * cell + 5]] = 150
    for k, m in enumerate(_pick(mnist_test, "20583")):
        draw_digits(page, [digit_ink(m, 40)], x0 + k * cell + 25, top + height - 12, gap=0)
    glyphs = segment(page, scorer=classifier.proba)
    assert _fields(glyphs) == [[1, 2, 3, 4, 5]], [(g.x, g.w, g.h) for g in glyphs]
    assert all(g.h >= 35 for g in glyphs)


def test_soft_edges_of_a_box_side_are_neither_bridged_into_a_bar_nor_left_as_ones(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """The sides of a grey row of boxes have soft edges: a lighter column each side of a 3 px core,
    along 45% of its height. The core is removed; the edges are no stroke crossing it (1 px wide),
    so they are not bridged back into a bar, and the edge left the whole way along a side is dropped."""
    page = np.full((300, 800), 235, np.uint8)
    x0, top, cell, height = 100, 100, 80, 68
    page[top : top + 4, x0 : x0 + 5 * cell + 3] = 60
    page[top + height - 4 : top + height, x0 : x0 + 5 * cell + 3] = 60
    soft = np.arange(top + 15, top + 15 + int(0.45 * height))  # the edges' rows
    for k in range(6):
        x = x0 + k * cell
        page[top : top + height, x : x + 3] = 60
        page[soft, x - 1] = 150
        page[soft, x + 3] = 150
    page[top + 20 : top + 20 + int(0.45 * height), x0 + 5 * cell + 3] = 150  # the last side's: one run
    for k, m in enumerate(_pick(mnist_test, "20583")):
        draw_digits(page, [digit_ink(m, 40)], x0 + k * cell + 25, top + height - 12, gap=0)
    glyphs = segment(page, scorer=classifier.proba)
    assert _fields(glyphs) == [[1, 2, 3, 4, 5]], [(g.x, g.w, g.h) for g in glyphs]


@pytest.mark.parametrize("angle", [-2.5, 2.5])
def test_hairline_comb_ticks_on_a_skewed_page_are_removed(mnist_test, angle: float) -> None:  # type: ignore[no-untyped-def]
    """A comb drawn in hairlines on a skewed page: levelled again, each tick leans across two or
    three columns, none of them as tall as the tick. The ticks are found at their full height and
    removed, none is left as a 1."""
    page = np.full((400, 900), 250, np.uint8)
    _comb(page, [digit_ink(m, 48) for m in _pick(mnist_test, "241820")], 100, 250, 70, 24, 80, 1)
    page = cv2.warpAffine(page, cv2.getRotationMatrix2D((450, 200), angle, 1.0), (900, 400), borderValue=250)
    glyphs = segment(page)
    assert _fields(glyphs) == [[1, 2, 3, 4, 5, 6]], [(g.x, g.w, g.h) for g in glyphs]



def test_bigger_dots_a_leader_steps_over_are_its_dots_too() -> None:
    """A leader as a grey scan gave it: dots 3-5 px wide every 8-10 px, and three bigger ones
    (7 x 5) too close to their neighbours for the chain to link them. They lie on its row between
    its ends, so they are its dots too: left in, they glued under the digits above them, made those
    tall, and the smaller digits beside them were dropped as specks."""
    m = np.zeros((40, 220), np.uint8)
    small = ((10, 3), (18, 5), (28, 4), (36, 5), (46, 3), (54, 5), (90, 5), (100, 3), (110, 3), (118, 4))
    for x, w in small:
        m[20:23, x : x + w] = 255
    for x in (62, 72, 80):
        m[19:24, x : x + 7] = 255
    dots, rules = _leaders(m, 9)
    assert len(rules) == 1 and (dots[:, 62:87] == m[:, 62:87]).all()  # the bigger ones among them


@pytest.mark.parametrize("digit", ["8", "1"])
def test_underline_half_a_rule_long_under_one_digit_is_removed(mnist_test, digit: str) -> None:  # type: ignore[no-untyped-def]
    """A one-digit field underlined by a run exactly half a rule long (60 px at 200 dpi), the
    digit's foot dipping through it: the underline is removed, not read with the digit."""
    page = np.full((300, 400), 245, np.uint8)
    (x, y, w, h), = draw_digits(page, [digit_ink(m, 38) for m in _pick(mnist_test, digit)], 170, 200, gap=0)
    page[195:197, x + w // 2 - 30 : x + w // 2 + 30] = 60  # 2 px thick, 60 px long, 4 px over the digit's foot
    glyphs = segment(page)
    assert len(glyphs) == 1 and glyphs[0].w <= w + 2 and glyphs[0].h <= h + 2, [(g.x, g.w, g.h) for g in glyphs]


def test_two_with_a_long_foot_stays_one_glyph(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """A 2 whose foot runs on far to the right and turns up at its end, 2.4 x as wide as tall: too
    wide to be weighed whole against its cuts, but every cut leaves a piece of foot that is no
    digit. It reads as a 2 whole, so it stays one glyph."""
    page = np.full((200, 400), 245, np.uint8)
    two = digit_ink(_pick(mnist_test, "2", start=2)[0], 40)
    h, w = two.shape
    long = np.zeros((h, int(2.4 * h)), np.uint8)
    long[:, :w] = two
    foot = int(np.flatnonzero(two[-4:].any(axis=0))[-1])  # the foot's right end
    end = long.shape[1] - 3  # along the line, then a flourish up at its end (half the height)
    cv2.polylines(long, [np.array([(foot - 2, h - 3), (end - 6, h - 4), (end, h // 2)], np.int32)], False, 255, 4)
    draw_digits(page, [long], 100, 150, gap=0)
    glyphs = segment(page, scorer=classifier.proba)
    assert len(glyphs) == 1, [(g.x, g.w, g.h) for g in glyphs]
    assert int(classifier.predict(np.stack([glyphs[0].crop])).digit[0]) == 2


def _written(mnist_test, digits: str, size: tuple[int, int], x: int, y_bottom: int, ink: int,  # type: ignore[no-untyped-def]
             bold: int = 1) -> np.ndarray:
    """A crisp page (anti-aliased: drawn 4 x finer and area-averaged down) of paper 245 with one
    field of MNIST digits 40 px tall at (x, y_bottom), ``ink`` dark (a pen ``bold`` / 4 px bolder)."""
    big = np.full((4 * size[0], 4 * size[1]), 245, np.uint8)
    pen = np.ones((bold, bold), np.uint8)
    draw_digits(big, [cv2.dilate(digit_ink(d, 160), pen) for d in _pick(mnist_test, digits)], 4 * x, 4 * y_bottom,
                gap=40, ink=ink)
    return cv2.resize(big, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def test_show_through_from_the_back_is_not_read(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """Writing on the back of the sheet seen through it (a felt pen): mirrored, blurred by the
    paper (a Gaussian of sigma 1.5 px) and 20% as dark, as faint as pencil. One number of the back shows
    through beside the front's field, another right across it. The ghosts are no ink: the front
    reads 3057 in one field and nothing else is found (without the ghost test the lone ghost is
    taken as pencil, and the other joins the front's digits, those it touches at the weak cut).
    Where the ghost crosses a digit it darkens it as much as the digit's own ink does (the small
    loop of the 0 fills, and it reads as a 9), so the glyphs are compared with those of the front
    alone by their boxes: each holds the one it stands for, and a stroke end of the ghost left
    on a digit makes it at most 8 px taller."""
    front = _written(mnist_test, "3057", (200, 700), 60, 110, 70)  # a ballpoint
    back = (_written(mnist_test, "8142", (200, 700), 60, 190, 0, bold=9)
            & _written(mnist_test, "6929", (200, 700), 420, 120, 0, bold=9))
    back = cv2.GaussianBlur(cv2.flip(back, 1), (0, 0), 1.5).astype(np.float32)
    page = np.clip(front - 0.2 * (255 - back), 0, 255).astype(np.uint8)
    alone = segment(front, scorer=classifier.proba)
    assert _read(classifier, alone) == [3, 0, 5, 7]
    glyphs = segment(page, scorer=classifier.proba)
    boxes = [(g.x, g.y, g.w, g.h) for g in glyphs]
    assert _fields(glyphs) == [[1, 2, 3, 4]], boxes
    assert all(x <= a.x and y <= a.y and x + w >= a.x + a.w and a.y + a.h <= y + h <= a.y + a.h + 8
               and w <= a.w + 8 for a, (x, y, w, h) in zip(alone, boxes)), boxes


def test_faint_crisp_pencil_is_still_read(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    """The ghost test keeps writing as faint as a ghost when its edges are as crisp as the page's:
    a field in pencil 55 grey levels under the paper (a ghost's darkness), under one in dark ink,
    reads whole (it goes when the test takes off all faint ink measured less steep than 1.3 x the page)."""
    ink = _written(mnist_test, "3057", (200, 700), 60, 110, 30)
    page = ink & _written(mnist_test, "8142", (200, 700), 60, 180, 190)
    glyphs = segment(page, scorer=classifier.proba)
    assert _read(classifier, glyphs) == [3, 0, 5, 7, 8, 1, 4, 2] and _fields(glyphs) == [[1, 2, 3, 4]] * 2, \
        [(g.x, g.y, g.w, g.h) for g in glyphs]


def _small_comb(mnist_test, digits: str, speck: bool) -> np.ndarray:  # type: ignore[no-untyped-def]
    """A comb too short for a rule (cells 23 px wide, ticks 7 px, a 3 px grey line) with small
    digits (18 px) standing on its base, each at the right of its cell, the last one against the
    last tick; ``speck``: a dot of dust under the comb."""
    page = np.full((160, 400), 240, np.uint8)
    x0, base, cell = 100, 100, 23
    cv2.line(page, (x0, base), (x0 + len(digits) * cell, base), 90, 3)
    for k in range(len(digits) + 1):
        cv2.line(page, (x0 + k * cell, base - 7), (x0 + k * cell, base), 90, 3)
    for k, m in enumerate(_pick(mnist_test, digits)):
        ink = digit_ink(m, 18)
        draw_digits(page, [ink], x0 + (k + 1) * cell - ink.shape[1] - 2, base - 1, gap=0)
    if speck:
        page[base + 12 : base + 14, x0 + 20 : x0 + 22] = 60
    return page


@pytest.mark.parametrize("digits, speck", [("78759", False), ("17", True)])
def test_short_comb_is_taken_off(mnist_test, classifier, digits, speck) -> None:  # type: ignore[no-untyped-def]
    """The base of a short comb is found by its ticks at both ends. A digit standing against the
    last tick is joined to it above the base, but the ink standing outermost at the end is still
    the tick (before, any wider ink in the end's columns hid it, and the comb and its digits were
    one piece, read as no number); and dust under a comb of two cells is no ink hanging under it
    (before, a 2 x 2 speck kept the comb)."""
    glyphs = segment(_small_comb(mnist_test, digits, speck), scorer=classifier.proba)
    assert _read(classifier, glyphs) == [int(c) for c in digits], [(g.x, g.y, g.w, g.h) for g in glyphs]
    assert _fields(glyphs) == [list(range(1, len(digits) + 1))]


@pytest.mark.parametrize("shade", [0.8, 0.88])
def test_shaded_band_across_a_field_is_paper(mnist_test, classifier, shade) -> None:  # type: ignore[no-untyped-def]
    """A grey band across a field (a form's shaded field, a highlighter: 12-20% darker, 24 px tall,
    narrower than the paper estimate's closing) is paper, not ink: the digits read apart, in one
    field. At 20% the band was taken for ink before and glued the digits together (read 2, 7, 5);
    at 12% it is under the binarization's cut either way (a guard: the band test must not make
    a light band worse)."""
    page = _written(mnist_test, "30571", (200, 700), 60, 110, 40).astype(np.float32)
    page[75:99, 45:340] *= shade
    glyphs = segment(page.astype(np.uint8), scorer=classifier.proba)
    assert _read(classifier, glyphs) == [3, 0, 5, 7, 1] and _fields(glyphs) == [[1, 2, 3, 4, 5]], \
        [(g.x, g.y, g.w, g.h) for g in glyphs]
