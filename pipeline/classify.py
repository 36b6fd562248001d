"""Batches of 28x28 glyphs -> top-2 digits with probabilities, via the model stage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.contract import NOT_DIGIT, to_input
from model.store import DEFAULT_MODEL


@dataclass(frozen=True)
class Predictions:
    """Readings of N glyphs.

    Attributes:
        digit, alt_digit: (N,) int64, the two most probable digits (0-9).
        confidence, alt_confidence: (N,) float32, their probabilities out of the full softmax (mass
            on "not a digit" lowers them).
        probs: (N, C) float32 softmax rows, C = 11 (digits, then "not a digit") or 10 (an older model).
        not_digit: (N,) float32 probability of "not a digit" (class ``NOT_DIGIT``); zeros for a
            10-output model. Derived from ``probs`` when not given.
    """

    digit: np.ndarray
    confidence: np.ndarray
    alt_digit: np.ndarray
    alt_confidence: np.ndarray
    probs: np.ndarray
    not_digit: np.ndarray = None  # type: ignore[assignment]  # filled from probs in __post_init__

    def __post_init__(self) -> None:
        if self.not_digit is None:
            p = np.asarray(self.probs)
            value = p[:, NOT_DIGIT] if p.ndim == 2 and p.shape[1] > NOT_DIGIT else np.zeros(len(p))
            object.__setattr__(self, "not_digit", np.asarray(value, np.float32))

    def __len__(self) -> int:
        return len(self.digit)


class Classifier:
    """The predictor: model input contract + model + top-2 postprocessing, batched internally.

    Example:
        >>> clf = Classifier()                                   # doctest: +SKIP
        >>> clf.predict(np.zeros((0, 28, 28), np.uint8)).digit   # doctest: +SKIP
        array([], dtype=int64)
    """

    def __init__(self, model_path: Path | None = None, batch_size: int = 512, runtime: str = "auto",
                 threads: int | None = None) -> None:
        from model.runtime import load_runtime

        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        self.model_path = Path(model_path) if model_path else DEFAULT_MODEL
        self.batch_size = batch_size
        self._proba, self.runtime = load_runtime(self.model_path, runtime, threads=threads)
        self.n_classes = int(self._proba(np.zeros((1, 28, 28, 1), np.float32)).shape[1])

    def proba(self, glyphs: np.ndarray) -> np.ndarray:
        """(N, 28, 28) uint8 glyphs in MNIST form -> (N, C) float32 probabilities (rows sum to 1).

        C is the model's output count: 11 (digits 0-9, then "not a digit") or 10.
        """
        x = to_input(glyphs) if len(glyphs) else np.zeros((0, 28, 28, 1), np.float32)
        out = np.zeros((len(x), self.n_classes), np.float32)
        for start in range(0, len(x), self.batch_size):
            batch = x[start : start + self.batch_size]
            n = len(batch)
            if n < self.batch_size and len(x) > self.batch_size:  # keep one tensor shape: pad the tail
                batch = np.concatenate([batch, np.zeros((self.batch_size - n, 28, 28, 1), np.float32)])
            out[start : start + n] = self._proba(batch)[:n]
        return out

    def predict(self, glyphs: np.ndarray) -> Predictions:
        """(N, 28, 28) uint8 glyphs -> :class:`Predictions` (top-2 among the digits); N may be 0."""
        probs = self.proba(glyphs)
        order = np.argsort(-probs[:, :NOT_DIGIT], axis=1, kind="stable")
        rows = np.arange(len(probs))
        return Predictions(
            digit=order[:, 0].astype(np.int64),
            confidence=probs[rows, order[:, 0]],
            alt_digit=order[:, 1].astype(np.int64),
            alt_confidence=probs[rows, order[:, 1]],
            probs=probs,
        )
