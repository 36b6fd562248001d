"""Classified glyphs of one page -> digit rows and field rows; printed text is dropped here.

A pure stage: a :class:`PageResult` (page, glyphs, 28x28 crops, predictions) in, CSV rows out.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from pipeline.classify import Predictions
from pipeline.config import Config, ScanConfig
from pipeline.segment import Glyph
from pipeline.sources import Page


@dataclass
class PageResult:
    """A segmented page waiting for (or done with) classification."""

    page: Page
    glyphs: list[Glyph]
    crops: np.ndarray  # (N, 28, 28) uint8
    preds: Predictions | None = None



def _looks_printed(conf: np.ndarray, rejected: np.ndarray, cfg: ScanConfig) -> bool:
    """Printed words and marks: many of their glyphs are classified "not a digit", or the rest
    read as digits only half-heartedly (a low median confidence), where handwritten digits read clearly."""
    return bool(rejected.mean() > cfg.text_share or np.median(conf) < cfg.text_median)


def _clear(idx: list[int], p: Predictions, rejected: np.ndarray, cfg: ScanConfig) -> bool:
    """Glyphs that read clearly as digits: none rejected, a median confidence of ``value_confidence``."""
    return not rejected[idx].any() and float(np.median(p.confidence[idx])) >= cfg.value_confidence


def _mostly_clear(idx: list[int], p: Predictions, rejected: np.ndarray, cfg: ScanConfig) -> bool:
    """A number of three or more digits with one poorly read digit inside it (a value with a
    doubtful digit, flagged for review), not a word: its ends are digits and its median is clear."""
    return (len(idx) >= 3 and int(rejected[idx].sum()) <= 1 and not rejected[idx[0]] and not rejected[idx[-1]]
            and float(np.median(p.confidence[idx])) >= cfg.value_confidence)


def printed_fields(glyphs: list[Glyph], by_field: dict[int, list[int]], p: Predictions, cfg: ScanConfig) -> set[int]:
    """Fields that belong to printed text: neighbouring fields on one line of similar height
    are taken together as a phrase (the words of a label and the value written after it). The
    phrase's fields that do not read clearly as digits (a glyph rejected, or a median confidence
    under ``value_confidence``), nor mostly (:func:`_mostly_clear`: a number with one doubtful
    digit inside), are judged together by :func:`_looks_printed`; a phrase of such fields only is
    handwriting. In a printed phrase, a clear field a word space or more away from
    the text is kept: it is the handwritten value written after its label or before its unit
    ("Total 818", "75 kg"), not a letter of the label that reads as a digit (the I of "Invoice").

    Args:
        by_field: field number -> indices of its glyphs in ``glyphs`` (and ``p``).
    """
    rejected = p.not_digit >= cfg.reject_threshold
    boxes = {f: (glyphs[idx[0]].line, min(glyphs[i].x for i in idx), max(glyphs[i].x + glyphs[i].w for i in idx),
                 float(np.median([glyphs[i].h for i in idx]))) for f, idx in by_field.items()}
    phrases: list[list[int]] = []
    for f in sorted(boxes, key=lambda f: (boxes[f][0], boxes[f][1])):
        line, x0, _, h = boxes[f]
        if phrases:
            pl, _, px1, ph = boxes[phrases[-1][-1]]
            if pl == line and x0 - px1 <= 1.5 * max(h, ph) and max(h, ph) <= 2.0 * min(h, ph):
                phrases[-1].append(f)
                continue
        phrases.append([f])

    def clear(f: int) -> bool:
        return _clear(by_field[f], p, rejected, cfg)

    def mostly_clear(f: int) -> bool:
        return _mostly_clear(by_field[f], p, rejected, cfg)

    def reads_as_value(f: int, phrase: list[int]) -> bool:
        """Clear digits (or a longer number with one doubtful digit inside, or three or more clear
        ones and a doubtful one at an end) a word space or more away from the words (a label
        before, a unit after);
        a lone stroke read as 1 is as likely a printed I or l as a value, and a lone ring read as 0 a
        printed o or O (the letters the model cannot tell from those digits), so neither is taken for
        one unless it stands well apart from the words (``LONE_GAP``: "Age    0", "Qty    1")."""
        idx, (_, x0, x1, h) = by_field[f], boxes[f]
        # gaps to the words in pixels (negative: overlapping) and their height
        gaps = [(boxes[g][1] - x1 if boxes[g][1] >= x1 else x0 - boxes[g][2], boxes[g][3]) for g in phrase if g != f]
        # in word spaces of the smaller writing (small print after a tall value) ...
        spaces = [d / min(h, gh) for d, gh in gaps if d >= 0]
        # ... and, well apart, of the taller one (a small printed o is no value)
        far = min((d / max(h, gh) for d, gh in gaps), default=0.0) >= LONE_GAP
        core = trim_rejected(idx, rejected)  # one doubtful end (two touching digits read as one)
        clear_core = len(core) >= 3 and len(idx) - len(core) == 1 and _clear(core, p, rejected, cfg)
        lone_letter = len(idx) == 1 and p.digit[idx[0]] in (0, 1) and not far
        # digits standing well apart from the words need not read as clearly (a thin-pen number)
        apart_digits = (far and len(idx) >= 2 and not rejected[idx].any()
                        and float(np.median(p.confidence[idx])) >= APART_CONFIDENCE)
        return (bool(spaces) and min(spaces) >= cfg.value_gap
                and (clear(f) or mostly_clear(f) or clear_core or apart_digits) and not lone_letter)

    printed: set[int] = set()
    for phrase in phrases:
        idx = [i for f in phrase if not (clear(f) or mostly_clear(f)) for i in by_field[f]]
        if idx and _looks_printed(p.confidence[idx], rejected[idx], cfg):
            printed.update(f for f in phrase if not reads_as_value(f, phrase))
    return printed


def trim_rejected(idx: list[int], rejected: np.ndarray) -> list[int]:
    """A field's glyph indices without the glyphs classified "not a digit" at its ends (a letter
    or colon of a label next to the field). Rejected glyphs inside the field stay: dropping them
    would silently shorten the number; their low confidence flags them for review instead (but for
    marks much shorter than the digits, :func:`without_marks`).

    Example:
        >>> trim_rejected([4, 5, 6, 7], np.array([False] * 4 + [True, False, True, True]))
        [5]
    """
    keep = [k for k, i in enumerate(idx) if not rejected[i]]
    return idx[keep[0] : keep[-1] + 1] if keep else []


SURE_VALUE = 0.9  # a value whose digits all read this clearly is cut at a word space of the smaller writing
LONE_GAP = 1.0  # a lone 0 or 1 in a printed phrase is its value only this many word spaces (x height) from its words
APART_CONFIDENCE = 0.5  # ... and digits that far apart are its value when none is rejected and their median reads this
MARK_HEIGHT = 0.6  # a rejected glyph inside a number under this x its digits' median height is no digit
END_HEIGHT = 0.8  # a rejected end glyph this x as tall as the number's digits ...
END_GAP = 1.2  # ... and at most this x their widest gap from them is one more digit, read poorly


def keep_digit_ends(idx: list[int], core: list[int], glyphs: list[Glyph]) -> list[int]:
    """``core`` (``idx`` without its rejected ends) given back a rejected glyph at either end that
    looks like one more digit of the number: alone at that end, as tall as the digits (``END_HEIGHT``
    of their median) and as close to its neighbour as they are to each other (``END_GAP`` x their
    widest gap). A digit the model reads poorly is kept, and flagged, rather than silently
    lost; a label's colon or its last letter, shorter or set apart, is still left out."""
    if len(core) < 2 or core == idx:
        return core
    def gap(a: int, b: int) -> int:  # from glyph a to glyph b on its right
        return glyphs[b].x - (glyphs[a].x + glyphs[a].w)

    h = float(np.median([glyphs[i].h for i in core]))
    reach = END_GAP * max(max(gap(a, b) for a, b in pairwise(core)), 0.1 * h)
    out = list(core)
    if idx.index(core[0]) == 1 and glyphs[idx[0]].h >= END_HEIGHT * h and gap(idx[0], core[0]) <= reach:
        out.insert(0, idx[0])
    if idx.index(core[-1]) == len(idx) - 2 and glyphs[idx[-1]].h >= END_HEIGHT * h and gap(core[-1], idx[-1]) <= reach:
        out.append(idx[-1])
    return out


def without_marks(idx: list[int], rejected: np.ndarray, glyphs: list[Glyph]) -> list[int]:
    """A number's glyphs without the rejected ones inside it that are much shorter than its digits
    (under ``MARK_HEIGHT`` of their median): a dash, a dot, a speck or a scratch between the digits,
    not a digit read poorly (that one is as tall as the rest and stays, flagged)."""
    if len(idx) < 3:
        return idx
    h = float(np.median([glyphs[i].h for i in idx]))
    return [i for i in idx if not (rejected[i] and glyphs[i].h < MARK_HEIGHT * h)]


def split_words(idx: list[int], glyphs: list[Glyph], p: Predictions, rejected: np.ndarray,
                cfg: ScanConfig) -> tuple[list[int], list[int], list[int]]:
    """A field's glyphs -> (words before, the value, words after), cut at word spaces (``value_gap``
    x the median height of its glyphs) between words and a value: words are glyphs of which over
    ``text_share`` are classified "not a digit" (``rejected``, per glyph of the page); the value
    reads clearly, each digit at 0.5 or more; of several such spaces, the one with the most
    letters on the words' side and the fewest on the value's ("Phone 7034607", whose h reads as a 1, is cut before the 7; in
    "Account no." the "no." is not a value). Words after the value that begin with a glyph read as
    a digit are set farther apart from it than its digits are from each other (a number written
    into spaced boxes keeps its last digits when its unit follows close after them).

    Example:
        >>> from pipeline.segment import Glyph
        >>> gl = [Glyph(x, 0, 10, 20, None, 1, 1, k) for k, x in enumerate([0, 11, 22, 60, 71])]
        >>> conf, nd = np.array([0.0, 0.9, 0.0, 1.0, 0.9]), np.array([1.0, 0.1, 1.0, 0.0, 0.0])
        >>> p = Predictions(np.array([2, 1, 2, 7, 0]), conf, np.zeros(5, int), 1 - conf, np.zeros((5, 11)), nd)
        >>> split_words([0, 1, 2, 3, 4], gl, p, nd >= 0.5, ScanConfig())
        ([0, 1, 2], [3, 4], [])
    """
    digits = trim_rejected(idx, rejected)
    if not digits:
        return [], idx, []
    space = cfg.value_gap * float(np.median([glyphs[i].h for i in idx]))  # small letters beside a tall digit
    gaps = [0] + [glyphs[idx[k]].x - max(glyphs[i].x + glyphs[i].w for i in idx[:k]) for k in range(1, len(idx))]
    cuts = [k for k in range(1, len(idx)) if gaps[k] >= space]

    def share(part: list[int]) -> float:
        return float(rejected[part].mean()) if part else 0.0

    def words(part: list[int]) -> bool:
        return share(part) > cfg.text_share

    def value(part: list[int]) -> bool:  # every glyph (letters after it aside) read clearly as a digit
        conf = p.confidence[trim_rejected(part, rejected)]
        return bool(len(conf) and conf.min() >= 0.5 and np.median(conf) >= cfg.value_confidence)

    def sure(k: int, digits: list[int], letter: int) -> bool:  # a value whose digits all read surely
        # is parted from a rejected letter beside it by a word space of the smaller writing ("Age 81",
        # the 8 and 1 tall beside small print), not only of the field's median height
        smaller = min(float(np.median([glyphs[i].h for i in part])) for part in (idx[:k], idx[k:]))
        return (gaps[k] >= cfg.value_gap * smaller and bool(rejected[letter]) and not rejected[digits].any()
                and p.confidence[digits].min() >= SURE_VALUE)

    # of the spaces between words and a value, the one that parts letters from digits best
    starts = set(cuts) | {k for k in range(1, len(idx)) if sure(k, idx[k:], idx[k - 1])}
    start = max([k for k in sorted(starts) if words(idx[:k]) and value(idx[k:])],
                key=lambda k: share(idx[:k]) - share(idx[k:]), default=0)

    def apart(k: int) -> bool:  # words after the value that start with what reads as a digit are set
        # farther apart than its digits are from each other (not the 58 of 613158 mm in spaced boxes)
        return bool(rejected[idx[k]]) or gaps[k] > max(gaps[start + 1 : k], default=0)

    ends = set(cuts) | {k for k in range(start + 1, len(idx)) if sure(k, idx[start:k], idx[k])}  # ("13 yr")
    end = max([k for k in sorted(ends) if k > start and words(idx[k:]) and value(idx[start:k]) and apart(k)],
              key=lambda k: share(idx[k:]) - share(idx[start:k]), default=len(idx))
    return idx[:start], idx[start:end], idx[end:]


def page_rows(r: PageResult, cfg: Config) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Digit and field rows of a classified page. Words a word space away from the number in
    its field are cut off and judged as words of their own (:func:`split_words`); fields that
    read as printed text are dropped (:func:`printed_fields`: a value grouped with its label or
    unit is kept); glyphs classified "not a digit" at the ends of the rest are left out
    (:func:`trim_rejected`) unless they look like one more digit (:func:`keep_digit_ends`); a
    field whose remaining glyphs have a mean "not a digit" probability over ``text_not_digit``
    is dropped too (the "oom" of "Room" once its R is trimmed).

    Returns:
        (digit rows, field rows, number of fields dropped as text).
    """
    if r.preds is None:
        raise ValueError(f"{r.page.source} page {r.page.page}: not classified yet")
    p, sc = r.preds, cfg.scan
    by_field: dict[int, list[int]] = {}
    for i, g in enumerate(r.glyphs):
        by_field.setdefault(g.field, []).append(i)
    digits, fields, dropped, number = [], [], 0, 0
    rejected = p.not_digit >= sc.reject_threshold
    # words a word space or more away from the rest of their field (the letters of a label or
    # unit grouped with the number) are judged as words of their own, the rest as the value
    # beside them; a rejected glyph close to the digits stays with them (a digit read poorly)
    judged: dict[int, list[int]] = {}
    core: dict[int, list[int]] = {}
    for f, idx in by_field.items():
        before, value, after = split_words(idx, r.glyphs, p, rejected, sc)
        judged[f], core[f] = value, without_marks(keep_digit_ends(value, trim_rejected(value, rejected), r.glyphs),
                                                  rejected, r.glyphs)
        if before:
            judged[-2 * f] = before
        if after:
            judged[-2 * f - 1] = after
    printed = printed_fields(r.glyphs, judged, p, sc)
    for f, idx in by_field.items():
        idx = core[f] if f not in printed else []
        if idx and float(p.not_digit[idx].mean()) > sc.text_not_digit:
            idx = []  # what is left reads as digits only half-heartedly: the rest of a word
        if idx and judged[f] != idx and not (_clear(idx, p, rejected, sc) or _mostly_clear(idx, p, rejected, sc)):
            idx = []  # rejected letters close before or after it, and it does not read clearly: a word
        if not idx:
            dropped += 1
            continue
        conf = p.confidence[idx]
        number += 1
        gs = [r.glyphs[i] for i in idx]
        x0, y0 = min(g.x for g in gs), min(g.y for g in gs)
        x1, y1 = max(g.x + g.w for g in gs), max(g.y + g.h for g in gs)
        review = bool((conf < sc.review_threshold).any())
        base = {"source": r.page.source, "page": r.page.page, "field": number}
        for k, i in enumerate(idx, start=1):
            g = r.glyphs[i]
            digits.append({**base, "index": k, "x": g.x, "y": g.y, "w": g.w, "h": g.h, "digit": int(p.digit[i]),
                           "confidence": round(float(p.confidence[i]), 4), "alt_digit": int(p.alt_digit[i]),
                           "alt_confidence": round(float(p.alt_confidence[i]), 4),
                           "needs_review": bool(p.confidence[i] < sc.review_threshold)})
        fields.append({**base, "x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0,
                       "text": "".join(str(int(p.digit[i])) for i in idx), "n_digits": len(idx),
                       "min_confidence": round(float(conf.min()), 4), "needs_review": review})
    return digits, fields, dropped
