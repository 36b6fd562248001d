"""`digits scan` end to end: outputs, golden sample CSV, PDF and TIFF input, odd names, blank pages."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.export import DIGIT_COLUMNS, ERROR_COLUMNS, FIELD_COLUMNS
from tests.conftest import ROOT, digit_ink, draw_digits

runner = CliRunner()


def _form(mnist_test, digits: str = "40213") -> np.ndarray:  # type: ignore[no-untyped-def]
    x, y = mnist_test
    page = np.full((500, 900), 235, np.uint8)
    masks = [digit_ink(x[int(np.flatnonzero(y == int(c))[0])], 60) for c in digits]
    draw_digits(page, masks, 150, 250, gap=14)
    return page


def _scan(inputs: list[Path], out: Path, *extra: str) -> object:
    return runner.invoke(app, ["scan", *map(str, inputs), "--out", str(out), "--quiet", *extra])


def test_scan_writes_the_four_outputs(tmp_path: Path, mnist_test) -> None:  # type: ignore[no-untyped-def]
    cv2.imwrite(str(tmp_path / "form.png"), _form(mnist_test))
    cv2.imwrite(str(tmp_path / "blank.png"), np.full((400, 400), 240, np.uint8))
    result = _scan([tmp_path / "form.png", tmp_path / "blank.png"], tmp_path / "out", "--review")
    assert result.exit_code == 0, result.output
    digits = pd.read_csv(tmp_path / "out" / "digits.csv", dtype={"text": str})
    fields = pd.read_csv(tmp_path / "out" / "fields.csv", dtype={"text": str})
    errors = pd.read_csv(tmp_path / "out" / "errors.csv")
    assert list(digits.columns) == DIGIT_COLUMNS and list(fields.columns) == FIELD_COLUMNS
    assert list(errors.columns) == ERROR_COLUMNS and errors.empty
    assert fields["text"].tolist() == ["40213"]
    assert digits["index"].tolist() == [1, 2, 3, 4, 5]
    assert ((digits["confidence"] >= digits["alt_confidence"]) & (digits["confidence"] <= 1)).all()
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["counts"]["pages"] == 2 and run["counts"]["pages_without_digits"] == 1
    assert len(run["model"]["sha256"]) == 64
    assert (tmp_path / "out" / "review" / "form.png-p1.png").is_file()
    assert not list((tmp_path / "out").glob("*.partial"))


def test_pdf_and_multipage_tiff(tmp_path: Path, mnist_test) -> None:  # type: ignore[no-untyped-def]
    pages = [Image.fromarray(_form(mnist_test, d)) for d in ("120", "4567")]
    pages[0].save(tmp_path / "two.tif", save_all=True, append_images=pages[1:], compression="tiff_deflate")
    pages[0].save(tmp_path / "two.pdf", save_all=True, append_images=pages[1:], resolution=200)
    result = _scan([tmp_path / "two.tif", tmp_path / "two.pdf"], tmp_path / "out")
    assert result.exit_code == 0, result.output
    fields = pd.read_csv(tmp_path / "out" / "fields.csv", dtype={"text": str})
    got = {(Path(s).suffix, p): t for s, p, t in zip(fields["source"], fields["page"], fields["text"])}
    assert got == {(".tif", 1): "120", (".tif", 2): "4567", (".pdf", 1): "120", (".pdf", 2): "4567"}


def test_odd_file_names_round_trip(tmp_path: Path, mnist_test) -> None:  # type: ignore[no-untyped-def]
    name = 'form, "quoted" naïve\nline.png'
    cv2.imencode(".png", _form(mnist_test, "77"))[1].tofile(str(tmp_path / name))
    result = _scan([tmp_path], tmp_path / "out")
    assert result.exit_code == 0, result.output
    fields = pd.read_csv(tmp_path / "out" / "fields.csv", dtype={"text": str})
    assert fields["source"].tolist() == [str(tmp_path / name)] and fields["text"].tolist() == ["77"]


def test_bad_file_gets_an_error_row_and_exit_1(tmp_path: Path, mnist_test) -> None:  # type: ignore[no-untyped-def]
    cv2.imwrite(str(tmp_path / "good.png"), _form(mnist_test, "58"))
    (tmp_path / "bad.png").write_bytes(b"this is not a png")
    result = _scan([tmp_path], tmp_path / "out")
    assert result.exit_code == 1
    errors = pd.read_csv(tmp_path / "out" / "errors.csv")
    assert errors["source"].tolist() == [str(tmp_path / "bad.png")]
    assert pd.read_csv(tmp_path / "out" / "fields.csv", dtype={"text": str})["text"].tolist() == ["58"]


def test_samples_reproduce_the_golden_fields_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The golden CSV comes from LiteRT, float32 on any CPU, so it holds to the last digit
    everywhere. The default runtime (OpenVINO, bfloat16 where the CPU has bf16 units) must read
    the same fields and flag the same ones for review; its confidences differ in the 2nd or 3rd decimal."""
    monkeypatch.chdir(ROOT)
    want = pd.read_csv(ROOT / "samples" / "expected" / "fields.csv", dtype={"text": str})
    result = _scan([Path("samples/pages")], tmp_path / "lite", "--runtime", "litert")
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "lite" / "fields.csv", dtype={"text": str}), want)
    result = _scan([Path("samples/pages")], tmp_path / "default")
    assert result.exit_code == 0, result.output
    got = pd.read_csv(tmp_path / "default" / "fields.csv", dtype={"text": str})
    conf = "min_confidence"
    pd.testing.assert_frame_equal(got.drop(columns=conf), want.drop(columns=conf))
    assert (got[conf] - want[conf]).abs().max() < 0.05


def test_segmentation_scores_pieces_with_litert_when_openvino_classifies() -> None:
    """Small scoring batches in every worker: LiteRT (float32, quick to import), whatever the
    classifying runtime, so the CSVs are the same for any worker count or engine."""
    from model.store import DEFAULT_MODEL
    from pipeline.classify import Classifier
    from pipeline.scan import make_scorer

    for runtime in ("auto", "openvino", "litert"):
        assert make_scorer(DEFAULT_MODEL, runtime, 64).__self__.runtime == "litert"  # type: ignore[attr-defined]
    assert make_scorer(DEFAULT_MODEL, "keras", 64).__self__.runtime == "keras"  # type: ignore[attr-defined]
    lite = Classifier(DEFAULT_MODEL, runtime="litert")
    assert make_scorer(DEFAULT_MODEL, "litert", 64, loaded=lite).__self__ is lite  # type: ignore[attr-defined]


def test_a_fine_scan_reads_like_the_same_page_at_200_dpi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 600 dpi scan is worked on at about 200 dpi, where segmentation's lengths are meant: the same
    fields and texts as the 200 dpi page (skewed: boxes go back through the rotation and the
    scale), boxes in the fine page's own pixels. Worked on as decoded, it gave two fields more."""
    monkeypatch.chdir(ROOT)
    page = cv2.imread("samples/pages/form_skewed.png")
    fine = tmp_path / "fine"
    fine.mkdir()
    cv2.imwrite(str(fine / "form_skewed.png"), cv2.resize(page, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC))
    for pages, out in ((Path("samples/pages/form_skewed.png"), "coarse"), (fine, "fine")):
        result = _scan([pages], tmp_path / out, "--runtime", "litert")
        assert result.exit_code == 0, result.output
    coarse = pd.read_csv(tmp_path / "coarse" / "fields.csv", dtype={"text": str})
    got = pd.read_csv(tmp_path / "fine" / "fields.csv", dtype={"text": str})
    assert len(coarse) == 7 and list(got["text"]) == list(coarse["text"])
    for c in ("x", "y", "w", "h"):  # resampling moves an edge pixel or a speck, not more
        assert ((got[c] - 3 * coarse[c]).abs() <= 0.2 * got["h"]).all(), c
