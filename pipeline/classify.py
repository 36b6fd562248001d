"""Batches of 28x28 glyphs -> top-2 digits with probabilities, via the model stage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.contract import to_input
from model.store import DEFAULT_MODEL


@dataclass(frozen=True)
class Predictions:
    """Top-2 readings of N glyphs: int arrays ``digit``/``alt_digit``, float32 confidences, (N, 10) probs."""

    digit: np.ndarray
    confidence: np.ndarray
    alt_digit: np.ndarray
    alt_confidence: np.ndarray
    probs: np.ndarray

    def __len__(self) -> int:
        return len(self.digit)


class Classifier:
    """The predictor: model input contract + model + top-2 postprocessing, batched internally.

    Example:
        >>> clf = Classifier()                                   # doctest: +SKIP
        >>> clf.predict(np.zeros((0, 28, 28), np.uint8)).digit   # doctest: +SKIP
        array([], dtype=int64)
    """

    def __init__(self, model_path: Path | None = None, batch_size: int = 512, runtime: str = "auto") -> None:
        from model.runtime import load_runtime

        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        self.model_path = Path(model_path) if model_path else DEFAULT_MODEL
        self.batch_size = batch_size
        self._proba, self.runtime = load_runtime(self.model_path, runtime)

    def proba(self, glyphs: np.ndarray) -> np.ndarray:
        """(N, 28, 28) uint8 glyphs in MNIST form -> (N, 10) float32 probabilities (rows sum to 1)."""
        x = to_input(glyphs) if len(glyphs) else np.zeros((0, 28, 28, 1), np.float32)
        out = np.zeros((len(x), 10), np.float32)
        for start in range(0, len(x), self.batch_size):
            batch = x[start : start + self.batch_size]
            n = len(batch)
            if n < self.batch_size and len(x) > self.batch_size:  # keep one tensor shape: pad the tail
                batch = np.concatenate([batch, np.zeros((self.batch_size - n, 28, 28, 1), np.float32)])
            out[start : start + n] = self._proba(batch)[:n]
        return out

    def predict(self, glyphs: np.ndarray) -> Predictions:
        """(N, 28, 28) uint8 glyphs -> :class:`Predictions`; N may be 0."""
        probs = self.proba(glyphs)
        order = np.argsort(-probs, axis=1, kind="stable")
        rows = np.arange(len(probs))
        return Predictions(
            digit=order[:, 0].astype(np.int64),
            confidence=probs[rows, order[:, 0]],
            alt_digit=order[:, 1].astype(np.int64),
            alt_confidence=probs[rows, order[:, 1]],
            probs=probs,
        )
