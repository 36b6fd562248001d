"""The command line through CliRunner: help without TensorFlow, predict, evaluate, train, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from typer.testing import CliRunner

from pipeline.cli import app
from tests.conftest import ROOT, fake_mnist

runner = CliRunner()
COMMANDS = ["scan", "postal", "segment", "predict", "evaluate", "train"]


def test_help_does_not_import_tensorflow() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "import typer.main\n"
        "from pipeline.cli import app\n"
        "names = list(typer.main.get_command(app).commands)\n"
        "for args in [['--help']] + [[n, '--help'] for n in names]:\n"
        "    r = CliRunner().invoke(app, args)\n"
        "    assert r.exit_code == 0, (args, r.output)\n"
        "print(sorted(names), 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip().endswith("False False"), out
    for name in ("scan", "segment", "predict", "evaluate", "train"):
        assert f"'{name}'" in out


def test_bad_usage_exits_2() -> None:
    assert runner.invoke(app, ["predict"]).exit_code == 2
    assert runner.invoke(app, ["scan", "--no-such-option", "x"]).exit_code == 2


def _write_digits(folder: Path, images: np.ndarray, style: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        if style == "big-dark-on-light":
            img = 255 - cv2.resize(img, (90, 120), interpolation=cv2.INTER_CUBIC)
            img = np.pad(img, 20, constant_values=255)
        path = folder / f"{i:03d}.png"
        cv2.imwrite(str(path), img)
        paths.append(path)
    return paths


def test_predict_mnist_png_equals_raw_array(tmp_path: Path, mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    x, _ = mnist_test
    _write_digits(tmp_path / "png", x[:60], "raw")
    result = runner.invoke(app, ["predict", str(tmp_path / "png"), "--out", str(tmp_path / "p.csv"), "--quiet"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "p.csv")
    assert list(table.columns) == ["source", "digit", "confidence", "alt_digit", "alt_confidence"]
    assert (table["digit"].to_numpy() == classifier.predict(x[:60]).digit).all()


def test_predict_any_size_either_polarity(tmp_path: Path, mnist_test) -> None:  # type: ignore[no-untyped-def]
    x, y = mnist_test
    _write_digits(tmp_path / "big", x[:100], "big-dark-on-light")
    result = runner.invoke(app, ["predict", str(tmp_path / "big"), "--out", str(tmp_path / "p.csv"), "--quiet"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "p.csv")
    assert (table["digit"].to_numpy() == y[:100]).mean() >= 0.95


def test_predict_bad_file_exits_1_and_keeps_the_rest(tmp_path: Path, mnist_test) -> None:  # type: ignore[no-untyped-def]
    _write_digits(tmp_path / "in", mnist_test[0][:3], "raw")
    (tmp_path / "in" / "broken.png").write_text("not an image")
    result = runner.invoke(app, ["predict", str(tmp_path / "in"), "--out", str(tmp_path / "p.csv"), "--quiet"])
    assert result.exit_code == 1
    assert "broken.png" in result.output
    assert len(pd.read_csv(tmp_path / "p.csv")) == 3


def test_evaluate_labelled_folder_json(tmp_path: Path, mnist_test) -> None:  # type: ignore[no-untyped-def]
    x, y = mnist_test
    for d in range(10):
        _write_digits(tmp_path / "data" / str(d), x[:200][y[:200] == d][:5], "raw")
    result = runner.invoke(app, ["evaluate", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "ev"), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["n"] == 50 and metrics["accuracy"] >= 0.96
    assert set(metrics["per_digit"]) == {str(d) for d in range(10)}
    for name in ("confusion.csv", "confusion.png", "per_digit.csv", "worst_mistakes.png", "metrics.json"):
        assert (tmp_path / "ev" / name).is_file()
    confusion = pd.read_csv(tmp_path / "ev" / "confusion.csv", index_col=0)
    assert confusion.to_numpy().sum() == 50


def test_train_one_epoch_on_tiny_data_is_reproducible(tmp_path: Path) -> None:
    data = fake_mnist(tmp_path / "mnist")
    metrics = []
    for run in ("a", "b"):
        out = tmp_path / run
        result = runner.invoke(app, ["train", "--data", str(data), "--out", str(out), "--epochs", "1",
                                     "--limit", "400", "--batch-size", "64", "--quiet"])
        assert result.exit_code == 0, result.output
        meta = json.loads((out / "digits.json").read_text())
        assert meta["recipe"]["epochs"] == 1 and meta["recipe"]["limit"] == 400
        assert meta["data"]["train"] + meta["data"]["validation"] == 400
        for name in ("digits.keras", "digits.tflite", "training_curves.png", "CARD.md"):
            assert (out / name).is_file(), name
        metrics.append(meta["metrics"])
    assert metrics[0]["test_accuracy"] == metrics[1]["test_accuracy"]
    assert abs(metrics[0]["test_loss"] - metrics[1]["test_loss"]) < 1e-3


def test_train_without_data_fails_clearly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 1 and "--data" in result.output


def test_train_with_crops_of_other_data_fails_clearly(tmp_path: Path) -> None:
    data = fake_mnist(tmp_path / "mnist")
    crops = tmp_path / "crops.npz"
    np.savez(crops, x=np.zeros((5, 28, 28), np.uint8), y=np.arange(5), source=np.arange(5) + 60_000)
    result = runner.invoke(app, ["train", "--data", str(data), "--crops", str(crops), "--out", str(tmp_path / "m")])
    assert result.exit_code == 1 and "crops.npz" in result.output and "not labelled" in result.output
    assert not (tmp_path / "m").exists()
