"""Rows from classified glyphs: printed text dropped, values beside labels kept, rejected glyphs trimmed."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pipeline.classify import Predictions
from pipeline.config import Config
from pipeline.fields import PageResult, page_rows, trim_rejected
from pipeline.segment import Glyph
from pipeline.sources import Page

CFG = Config()


def _result(spec: list[tuple[int, int, int, float, float]]) -> PageResult:
    """Glyphs on one line from (field, x, digit, confidence, not_digit); all 20 px tall, 12 px wide."""
    glyphs = [Glyph(x, 100, 12, 20, np.zeros((20, 12), np.uint8), 1, f, k)
              for k, (f, x, *_rest) in enumerate(spec, start=1)]
    n = len(spec)
    probs = np.zeros((n, 11), np.float32)
    for i, (_f, _x, d, conf, nd) in enumerate(spec):
        probs[i, d], probs[i, 10] = conf, nd
        probs[i, (d + 1) % 10] = 1.0 - conf - nd
    order = np.argsort(-probs[:, :10], axis=1, kind="stable")
    rows = np.arange(n)
    preds = Predictions(order[:, 0], probs[rows, order[:, 0]], order[:, 1], probs[rows, order[:, 1]], probs)
    return PageResult(Page(np.zeros((300, 900), np.uint8), "page.png", 1), glyphs, np.zeros((n, 28, 28), np.uint8), preds)


def _texts(r: PageResult) -> list[str]:
    return [f["text"] for f in page_rows(r, CFG)[1]]


def test_printed_word_is_dropped_and_counted() -> None:
    word = [(1, 100 + 14 * k, 4, 0.02, 0.97) for k in range(5)]  # five letters read as "not a digit"
    digits, fields, dropped = page_rows(_result(word), CFG)
    assert digits == [] and fields == [] and dropped == 1


def test_value_after_its_label_is_kept() -> None:
    label = [(1, 100 + 14 * k, 8, 0.01, 0.98) for k in range(5)]  # "Total" ends at x = 168
    value = [(2, 190, 8, 0.99, 0.0), (2, 204, 1, 0.97, 0.01), (2, 218, 8, 0.98, 0.0)]
    assert _texts(_result(label + value)) == ["818"]


def test_letter_that_reads_as_a_digit_before_its_word_is_dropped() -> None:
    """The I of "Invoice": a clear "1" on its own, but with the rest of its word after it, not before."""
    i = [(1, 100, 1, 0.96, 0.04)]
    rest = [(2, 130 + 14 * k, 4, 0.01, 0.98) for k in range(5)]
    assert _texts(_result(i + rest)) == []


def test_value_touching_its_label_is_not_taken_for_a_value() -> None:
    label = [(1, 100 + 14 * k, 8, 0.01, 0.98) for k in range(5)]
    close = [(2, 170, 7, 0.99, 0.0)]  # 2 px after the label: a letter of it, not a value
    assert _texts(_result(label + close)) == []


def test_rejected_glyphs_are_trimmed_at_the_ends_only() -> None:
    reads = [(8, 0.02, 0.97), (1, 0.99, 0.0), (2, 0.1, 0.85), (3, 0.99, 0.0), (4, 0.98, 0.0), (5, 0.99, 0.0),
             (6, 0.97, 0.0), (0, 0.05, 0.9)]
    xs = [94] + [100 + 14 * k for k in range(1, 7)] + [204]  # the end glyphs set apart a little: label marks
    digits, fields, _ = page_rows(_result([(1, x, *read) for x, read in zip(xs, reads)]), CFG)
    assert [f["text"] for f in fields] == ["123456"]
    assert [d["index"] for d in digits] == [1, 2, 3, 4, 5, 6]
    assert [d["needs_review"] for d in digits] == [False, True, False, False, False, False]  # the doubtful one


def test_trim_rejected() -> None:
    rejected = np.array([True, False, True, False, True])
    assert trim_rejected([0, 1, 2, 3, 4], rejected) == [1, 2, 3]
    assert trim_rejected([0, 2, 4], rejected) == []
    assert trim_rejected([], rejected) == []


def test_ten_output_model_has_no_rejections() -> None:
    """An older 10-class model: not_digit is zero, clear digits are kept whatever their neighbours."""
    glyphs = [Glyph(100 + 14 * k, 100, 12, 20, np.zeros((20, 12), np.uint8), 1, 1, k + 1) for k in range(3)]
    probs = np.full((3, 10), 0.01, np.float32)
    probs[:, 5] = 0.91
    preds = Predictions(np.full(3, 5), probs[:, 5], np.zeros(3, np.int64), probs[:, 0], probs)
    r = PageResult(Page(np.zeros((300, 900), np.uint8), "p.png", 1), glyphs, np.zeros((3, 28, 28), np.uint8), preds)
    assert not preds.not_digit.any()
    assert _texts(r) == ["555"]


def test_lone_one_after_a_label_is_text_but_another_digit_is_a_value() -> None:
    """A single stroke read as 1 a word space from printed words is as likely an I or l: not taken
    for a value; another digit there is one, and so is a 1 standing well apart ("Qty    1")."""
    label = [(1, 100 + 14 * k, 8, 0.01, 0.98) for k in range(5)]  # ends at x = 168; 20 px tall
    assert _texts(_result(label + [(2, 180, 1, 0.99, 0.0)])) == []  # 0.6 x its height away
    assert _texts(_result(label + [(2, 180, 7, 0.99, 0.0)])) == ["7"]
    assert _texts(_result(label + [(2, 190, 1, 0.99, 0.0)])) == ["1"]  # 1.1 x its height away


def test_label_judged_without_the_value_written_after_it() -> None:
    """ "Room 9212": the label's R is rejected, its o, o, m read as digits half-heartedly; the clear
    value after it must not make the phrase look handwritten (the label's glyphs are dropped)."""
    room = [(1, 100, 7, 0.0, 1.0), (1, 114, 0, 0.32, 0.6), (1, 128, 0, 0.63, 0.37), (1, 142, 1, 0.38, 0.4)]
    value = [(2, 175, 9, 0.99, 0.0), (2, 189, 2, 0.99, 0.0), (2, 203, 1, 0.98, 0.01), (2, 217, 2, 0.99, 0.0)]
    assert _texts(_result(room + value)) == ["9212"]


def test_label_judged_without_a_value_with_one_doubtful_digit() -> None:
    """ "Phone 234888188": the label's P, h, o, n, e are rejected and the stem of its P reads as a clear
    1; the number after it has one digit inside it rejected (a box side cut with it). The number is
    a value, not text: it must not dilute the label's letters, or the P's stem is reported as a 1."""
    phone = [(1, 100, 7, 0.0, 1.0), (1, 114, 1, 0.98, 0.01)] + [(1, 128 + 14 * k, 4, 0.05, 0.9) for k in range(4)]
    number = [(2, 210 + 14 * k, 8, 0.99, 0.0) for k in range(9)]
    number[6] = (2, 294, 8, 0.2, 0.7)
    digits, fields, _ = page_rows(_result(phone + number), CFG)
    assert [f["text"] for f in fields] == ["888888888"]
    assert [d["needs_review"] for d in digits] == [False] * 6 + [True] + [False] * 2


def test_value_before_its_unit_is_kept() -> None:
    value = [(1, 100, 7, 0.99, 0.0), (1, 114, 5, 0.98, 0.0)]  # "75 kg": the value comes first
    unit = [(2, 150, 4, 0.01, 0.98), (2, 164, 9, 0.02, 0.97)]
    assert _texts(_result(value + unit)) == ["75"]


def test_half_hearted_reading_left_after_trimming_is_dropped() -> None:
    """A lone word whose first letter is rejected and whose other letters read as digits with much
    "not a digit" mass (mean over 0.3 once the R is trimmed) is text, not a number."""
    word = [(1, 100, 7, 0.0, 1.0), (1, 114, 0, 0.55, 0.45), (1, 128, 0, 0.6, 0.4), (1, 142, 1, 0.7, 0.3)]
    assert _texts(_result(word)) == []
    clear = [(1, 96, 7, 0.0, 1.0), (1, 114, 0, 0.95, 0.05), (1, 128, 0, 0.9, 0.1), (1, 142, 1, 0.97, 0.03)]
    assert _texts(_result(clear)) == ["001"]  # the same field read clearly keeps its digits


def test_lone_zero_after_a_label_is_text() -> None:
    """A single ring read as 0 a word space from printed words is as likely an o or O (the letters
    the model cannot tell from that digit): not taken for a value; two digits are, and so is a 0
    standing well apart ("Age    0")."""
    label = [(1, 100 + 14 * k, 8, 0.01, 0.98) for k in range(5)]
    assert _texts(_result(label + [(2, 180, 0, 0.97, 0.0)])) == []
    assert _texts(_result(label + [(2, 180, 0, 0.97, 0.0), (2, 194, 0, 0.97, 0.0)])) == ["00"]
    assert _texts(_result(label + [(2, 190, 0, 0.97, 0.0)])) == ["0"]


def test_small_printed_o_a_word_space_from_its_words_is_text() -> None:
    """A lowercase o between printed words reads as a clear 0; its gap to the words is a word space
    of the taller writing, though more than its own height: it is no value."""
    label = [(1, 100 + 14 * k, 8, 0.01, 0.98) for k in range(5)]
    r = _result(label + [(2, 180, 0, 0.97, 0.0)])
    small = replace(r.glyphs[-1], y=110, h=10)
    r = replace(r, glyphs=r.glyphs[:-1] + [small])
    assert _texts(r) == []


def test_doubtful_number_well_apart_from_label_and_unit_is_kept() -> None:
    """ "Weight 9666 kg" in a thin pen: two of its 6s read only half-heartedly, so the number is
    not clear; standing well apart from both words, none of it rejected, it is their value. The
    same number a word space from them is taken for part of the printed phrase."""
    label = [(1, 100 + 14 * k, 8, 0.01, 0.98) for k in range(5)]  # ends at x = 168
    confs = (1.0, 0.99, 0.61, 0.69)
    for start, want in ((192, ["9666"]), (180, [])):
        number = [(2, start + 14 * k, d, c, 0.3 if c < 0.9 else 0.0)
                  for k, (d, c) in enumerate(zip((9, 6, 6, 6), confs))]
        after = 2 * start - 168 + 68  # the unit 14 px farther from the number than the number from the label
        unit = [(3, after, 4, 0.01, 0.98), (3, after + 14, 9, 0.02, 0.97)]
        assert _texts(_result(label + number + unit)) == want, start


def test_sure_value_a_word_space_of_the_small_print_after_its_label_is_kept() -> None:
    """ "Age 81" grouped as one field: "Ag" 32 px tall and "e" 19, the digits 34 and 37, and 16 px
    between e and 8 (under half the field's median height, more than half the label's): the
    letters rejected and both digits sure, the value is cut from its label. Read half-heartedly,
    the digits stay with the printed word."""
    for conf, want in ((0.99, ["81"]), (0.7, [])):
        r = _result([(1, 100, 4, 0.0, 1.0), (1, 122, 9, 0.01, 0.98), (1, 150, 8, conf, 0.0), (1, 170, 1, 0.98, 0.01)])
        sized = [replace(g, y=120 - h, w=w, h=h) for g, w, h in zip(r.glyphs, (21, 12, 16, 7), (32, 19, 34, 37))]
        assert _texts(replace(r, glyphs=sized)) == want, conf


def test_sure_value_in_spaced_boxes_keeps_its_last_digit_from_the_unit_close_after() -> None:
    """ "13 yr" written into a comb: the 1 and the 3 (43 and 46 px tall) 39 px apart, the small
    unit 19 px after the 3 (a word space of the small print, not of the digits): the value is 13,
    not a 1 followed by the word "3y"."""
    r = _result([(1, 100, 1, 0.99, 0.01), (1, 144, 3, 1.0, 0.0), (1, 191, 4, 0.03, 0.97)])
    sized = [replace(g, y=150 - h, w=w, h=h) for g, w, h in zip(r.glyphs, (5, 28, 18), (43, 46, 25))]
    assert _texts(replace(r, glyphs=sized)) == ["13"]


def test_short_mark_inside_a_number_is_no_digit_but_a_poorly_read_digit_is() -> None:
    """A speck or dash between the digits (rejected, half their height) is left out; a rejected
    glyph as tall as the digits is a digit read poorly: it stays, flagged for review."""
    spec = [(1, 100, 8, 0.99, 0.0), (1, 114, 1, 0.98, 0.0), (1, 128, 1, 0.05, 0.9), (1, 142, 7, 0.99, 0.0)]
    r = _result(spec)
    assert _texts(r) == ["8117"]
    short = replace(r.glyphs[2], y=110, h=10)
    assert _texts(replace(r, glyphs=r.glyphs[:2] + [short] + r.glyphs[3:])) == ["817"]


def test_value_grouped_with_its_unit_is_kept() -> None:
    """ "57 pt" grouped as one field: the rejected letters a word space after the digits are the
    unit, judged as words of their own, and the clear digits before them are the value. Letters
    touching the digits stay part of the field, which reads as printed text."""
    value = [(1, 100, 5, 0.99, 0.0), (1, 114, 7, 0.99, 0.0)]
    assert _texts(_result(value + [(1, 140, 8, 0.01, 0.98), (1, 154, 8, 0.01, 0.98)])) == ["57"]
    assert _texts(_result(value + [(1, 128, 8, 0.01, 0.98), (1, 142, 8, 0.01, 0.98)])) == []


def test_value_with_one_doubtful_digit_after_its_label_is_kept() -> None:
    """A number after its label with one digit inside it read poorly (rejected): still the value,
    kept with that digit flagged; a short one (two glyphs) or one with a doubtful end is not."""
    label = [(1, 100 + 14 * k, 8, 0.01, 0.98) for k in range(5)]
    value = [(2, 190, 6, 0.99, 0.0), (2, 204, 3, 0.99, 0.0), (2, 218, 6, 0.25, 0.65), (2, 232, 6, 0.99, 0.0)]
    digits, fields, _ = page_rows(_result(label + value), CFG)
    assert [f["text"] for f in fields] == ["6366"] and [d["needs_review"] for d in digits] == [False, False, True, False]
    assert _texts(_result(label + value[1:3])) == []


def test_value_after_its_label_with_a_doubtful_last_digit_is_kept_and_flagged() -> None:
    """Three clear digits and a last one read as "not a digit" (a 1 and a 0 touching): the value,
    not a word of the label; before, the whole number was dropped with its label, lost silently.
    A clear pair with a doubtful end is still too little to tell from letters."""
    label = [(1, 100 + 14 * k, 8, 0.01, 0.98) for k in range(5)]
    value = [(2, 190, 9, 0.99, 0.0), (2, 204, 4, 0.99, 0.0), (2, 218, 1, 0.99, 0.0), (2, 232, 0, 0.3, 0.69)]
    digits, fields, _ = page_rows(_result(label + value), CFG)
    assert [f["text"] for f in fields] == ["9410"] and [d["needs_review"] for d in digits] == [False, False, False, True]
    short = [(2, 190, 4, 0.99, 0.0), (2, 204, 1, 0.99, 0.0), (2, 218, 0, 0.3, 0.69)]
    assert _texts(_result(label + short)) == []


def test_rest_of_a_bold_word_after_its_rejected_letter_is_dropped() -> None:
    """A bold "Room": its R rejected, its o's read as 0 half-heartedly, its m cut into strokes read
    as 1s (one of them rejected). What is left after trimming the R, right next to it, does not
    read clearly as a number: it is the rest of the word, not a value."""
    room = [(1, 100, 8, 0.01, 0.98), (1, 114, 0, 0.62, 0.38), (1, 128, 0, 0.62, 0.38), (1, 142, 1, 0.93, 0.07),
            (1, 149, 1, 0.28, 0.70), (1, 156, 1, 0.99, 0.0), (1, 163, 1, 0.94, 0.06)]
    assert _texts(_result(room)) == []


def test_value_grouped_with_a_label_whose_letter_reads_as_a_digit_is_kept() -> None:
    """"Phone 7034607" as one field: its h reads clearly as a 1, so the field does not start with
    a rejected glyph; cut at the word space after the label's last letter, the number is kept."""
    label = [(1, 100, 9, 0.0, 1.0), (1, 114, 1, 0.96, 0.04)] + [(1, 128 + 14 * k, 4, 0.01, 0.98) for k in range(3)]
    value = [(1, 190 + 14 * k, d, 0.99, 0.0) for k, d in enumerate([7, 0, 3, 4, 6, 0, 7])]
    assert _texts(_result(label + value)) == ["7034607"]


def test_label_whose_last_word_reads_as_digits_is_not_a_value() -> None:
    """"Account no." as one field: the "no." after the word space reads as digits, one of them
    poorly; it is not a value cut off from its label."""
    account = [(1, 100 + 14 * k, 4, 0.01, 0.98) for k in range(5)]
    no = [(1, 190, 1, 0.79, 0.1), (1, 204, 1, 0.36, 0.3), (1, 218, 0, 0.93, 0.05)]
    assert _texts(_result(account + no)) == []


def test_label_ending_in_letters_read_as_digits_is_cut_where_letters_and_digits_part_best() -> None:
    """"Total 849944" as one field, its o and l read as 0 and 1: the value is what follows the
    label; and a number with a wide gap inside it after its label is cut from the label only."""
    total = [(1, 100, 7, 0.05, 0.9), (1, 114, 0, 0.99, 0.0), (1, 128, 7, 0.02, 0.9), (1, 142, 3, 0.1, 0.85),
             (1, 156, 1, 0.97, 0.03)]
    value = [(1, 190 + 14 * k, d, 0.99, 0.0) for k, d in enumerate([8, 4, 9, 9, 4, 4])]
    assert _texts(_result(total + value)) == ["849944"]
    label = [(1, 100 + 14 * k, 4, 0.01, 0.98) for k in range(4)]  # ends at x = 154
    first = [(1, 180 + 14 * k, d, 0.99, 0.0) for k, d in enumerate([2, 0, 1, 2, 2, 0])]  # ends at x = 262
    second = [(1, 290, 2, 0.99, 0.0), (1, 304, 3, 0.99, 0.0)]
    assert _texts(_result(label + first + second)) == ["20122023"]


def test_tall_value_with_its_unit_close_after_it_is_kept() -> None:
    """"Hours: [3] hrs": a 3 written tall in a box, the unit's small letters a short word space
    after it (under half the 3's height, over half of the field's median) are cut off as words."""
    label = [(1, 100 + 14 * k, 4, 0.01, 0.98) for k in range(6)]  # ends at x = 182
    unit = [(2, 320 + 14 * k, 4, 0.01, 0.98) for k in range(3)]
    r = _result(label + [(2, 270, 3, 0.99, 0.0)] + unit)
    r.glyphs[6] = replace(r.glyphs[6], y=70, w=34, h=50)  # the 3 ends at x = 304, 16 px before the h
    assert _texts(r) == ["3"]


def test_tall_value_before_a_unit_in_small_print_is_kept() -> None:
    """"Amount: 9744 dollars": the unit's small print a word space of its own size after the tall
    handwritten value (less than half the value's height) does not make the value a word."""
    label = [(1, 100 + 14 * k, 4, 0.01, 0.98) for k in range(7)]  # ends at x = 196
    value = [(2, 250 + 24 * k, d, 0.99, 0.0) for k, d in enumerate([9, 7, 4, 4])]  # 22 px wide: ends at x = 344
    unit = [(3, 358 + 14 * k, d, c, nd) for k, (d, c, nd) in
            enumerate([(4, 0.0, 1.0), (0, 0.99, 0.0), (1, 0.98, 0.0), (1, 0.97, 0.0), (4, 0.0, 1.0), (4, 0.0, 1.0)])]
    r = _result(label + value + unit)
    for k in range(7, 11):
        r.glyphs[k] = replace(r.glyphs[k], y=84, w=22, h=36)
    assert _texts(r) == ["9744"]


def test_poorly_read_digit_at_the_end_of_a_number_is_kept_and_flagged() -> None:
    """The last digit of 508044094 reads as "not a digit" (an open 4 like a +): as tall as the
    others and as close, it is one more digit, kept and flagged for review, not silently dropped;
    a colon after the number (short) is still left out."""
    reads = [(5, 0.97, 0.0), (0, 0.94, 0.05), (8, 1.0, 0.0), (0, 1.0, 0.0), (4, 0.99, 0.0), (4, 1.0, 0.0),
             (0, 1.0, 0.0), (9, 1.0, 0.0), (4, 0.42, 0.58)]
    r = _result([(1, 100 + 14 * k, *read) for k, read in enumerate(reads)])
    digits, fields, _ = page_rows(r, CFG)
    assert [f["text"] for f in fields] == ["508044094"] and digits[-1]["needs_review"]
    r.glyphs[-1] = replace(r.glyphs[-1], y=112, h=8)  # a colon's lower dot, say
    assert _texts(r) == ["50804409"]


def test_number_in_spaced_boxes_with_its_unit_close_after_it_is_kept_whole() -> None:
    """"[6] [1] [3] [1] [5] [8] mm": the boxes space the digits a word space apart, and the unit
    follows the last digit closely; the last digits are not cut off with the unit as words."""
    boxed = [(1, 100 + 26 * k, d, 0.99, 0.0) for k, d in enumerate([6, 1, 3, 1, 5, 8])]  # 14 px apart
    boxed[4] = (1, 204, 5, 0.48, 0.12)  # a 5 read poorly
    unit = [(1, 250 + 14 * k, 4, 0.0, 1.0) for k in range(2)]  # 8 px after the 8
    assert _texts(_result(boxed + unit)) == ["613158"]
