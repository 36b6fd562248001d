"""The predictor's contract: top-2 digits, confidences out of the full softmax, not_digit,
10-output models still working, rows summing to 1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.contract import NOT_DIGIT
from pipeline.classify import Classifier, Predictions


def tiny_model(path: Path, classes: int, reject_bias: float = 0.0, scale: float = 10.0) -> Path:
    """A tiny untrained softmax model (no metadata file beside it), saved as ``path``."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    w, b = model.layers[-1].get_weights()
    if classes > NOT_DIGIT:
        b[NOT_DIGIT] = reject_bias
    model.layers[-1].set_weights([w * scale, b])
    model.save(path)
    return path


@pytest.fixture(scope="module")
def glyphs() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (37, 28, 28)).astype(np.uint8)


@pytest.mark.parametrize("classes", [10, 11])
def test_predictions_contract(tmp_path: Path, glyphs: np.ndarray, classes: int) -> None:
    clf = Classifier(tiny_model(tmp_path / "m.keras", classes), batch_size=16, runtime="keras")
    p = clf.predict(glyphs)
    assert len(p) == len(glyphs) and p.probs.shape == (len(glyphs), classes)
    assert np.allclose(p.probs.sum(axis=1), 1.0, atol=1e-5)
    assert p.digit.dtype == np.int64 and p.not_digit.dtype == np.float32 and p.not_digit.shape == (len(glyphs),)
    assert ((p.digit >= 0) & (p.digit <= 9) & (p.alt_digit <= 9)).all() and (p.digit != p.alt_digit).all()
    rows = np.arange(len(p))
    assert np.array_equal(p.confidence, p.probs[rows, p.digit])
    assert np.array_equal(p.alt_confidence, p.probs[rows, p.alt_digit])
    assert np.array_equal(p.digit, p.probs[:, :10].argmax(axis=1))
    assert (p.confidence >= p.alt_confidence).all()
    if classes == 10:
        assert not p.not_digit.any()
    else:
        assert np.array_equal(p.not_digit, p.probs[:, NOT_DIGIT]) and p.not_digit.min() > 0
    empty = clf.predict(np.zeros((0, 28, 28), np.uint8))
    assert len(empty) == 0 and empty.probs.shape == (0, classes) and empty.not_digit.shape == (0,)


def test_mass_on_not_a_digit_lowers_the_digit_confidence(tmp_path: Path, glyphs: np.ndarray) -> None:
    plain = Classifier(tiny_model(tmp_path / "a.keras", 11, scale=1.0), runtime="keras").predict(glyphs)
    rejecting = Classifier(tiny_model(tmp_path / "b.keras", 11, 12.0, scale=1.0), runtime="keras").predict(glyphs)
    assert (rejecting.not_digit > 0.5).all() and (plain.not_digit < 0.5).mean() > 0.5
    assert (rejecting.confidence < 0.5).all()
    # the digits are still ranked: the argmax over 0-9 is unchanged by the reject bias
    assert np.array_equal(rejecting.digit, plain.digit)


def test_predictions_built_from_slices_derive_not_digit() -> None:
    probs = np.full((3, 11), 1 / 11, np.float32)
    probs[1, NOT_DIGIT] = 0.9
    z = np.zeros(3, np.int64)
    p = Predictions(z, probs[:, 0], z, probs[:, 1], probs)  # positional, as scan.py slices them
    assert p.not_digit.dtype == np.float32 and np.allclose(p.not_digit, probs[:, NOT_DIGIT])
    assert not Predictions(z, z, z, z, probs[:, :10]).not_digit.any()
