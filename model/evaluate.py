"""Metrics of a classifier on labelled 28x28 images: accuracy, per-digit precision/recall/F1,
confusion matrix, calibration; written as JSON-able dict, CSVs and PNGs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.contract import NOT_DIGIT
from model.train import expected_calibration_error


@dataclass(frozen=True)
class Report:
    """Evaluation of N predictions: confusion (10, 10) int (rows true, columns predicted) and scores."""

    accuracy: float
    ece: float
    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    n: int
    false_reject: float = 0.0  # share of the images with P(not a digit) > 0.5 (0 for a 10-output model)

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-able form."""
        per = {
            str(d): {"precision": float(self.precision[d]), "recall": float(self.recall[d]), "f1": float(self.f1[d]),
                     "support": int(self.confusion[d].sum())}
            for d in range(10)
        }
        return {"n": self.n, "accuracy": self.accuracy, "false_reject": self.false_reject, "ece": self.ece, "per_digit": per,
                "confusion": self.confusion.tolist()}


def evaluate(probs: np.ndarray, labels: np.ndarray) -> Report:
    """Score (N, 10) or (N, 11) probabilities against (N,) integer labels 0-9.

    The predicted digit is the argmax over the digit classes; with an 11th "not a digit" output,
    ``false_reject`` is the share of the (all digit) images whose P(not a digit) > 0.5.
    """
    labels = np.asarray(labels).astype(np.int64)
    digit_probs = probs[:, :NOT_DIGIT]
    pred = digit_probs.argmax(axis=1)
    confusion = np.zeros((10, 10), np.int64)
    np.add.at(confusion, (labels, pred), 1)
    tp = np.diag(confusion).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(tp / confusion.sum(axis=0))
        recall = np.nan_to_num(tp / confusion.sum(axis=1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    n = len(labels)
    accuracy = float(tp.sum() / n) if n else 0.0
    ece = expected_calibration_error(digit_probs, labels) if n else 0.0
    rejected = float((probs[:, NOT_DIGIT] > 0.5).mean()) if n and probs.shape[1] > NOT_DIGIT else 0.0
    return Report(accuracy, ece, confusion, precision, recall, f1, n, rejected)


def write_report(report: Report, probs: np.ndarray, labels: np.ndarray, images: np.ndarray, out_dir: Path) -> list[Path]:
    """Write metrics.json, per_digit.csv, confusion.csv/.png and worst_mistakes.png into ``out_dir``.

    Args:
        images: (N, 28, 28) uint8 model inputs, for the sheet of the most confident mistakes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / n for n in ("metrics.json", "per_digit.csv", "confusion.csv", "confusion.png", "worst_mistakes.png")]
    paths[0].write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    pd.DataFrame(
        {"digit": range(10), "precision": report.precision, "recall": report.recall, "f1": report.f1,
         "support": report.confusion.sum(axis=1)}
    ).to_csv(paths[1], index=False)
    pd.DataFrame(report.confusion, index=pd.Index(range(10), name="true"), columns=[f"pred_{d}" for d in range(10)]).to_csv(paths[2])

    fig, ax = plt.subplots(figsize=(6, 5.5))
    ax.imshow(np.log1p(report.confusion), cmap="Blues")
    for (i, j), v in np.ndenumerate(report.confusion):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7, color="white" if i == j else "black")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true",
           title=f"accuracy {report.accuracy:.4f} (n={report.n})")
    fig.tight_layout()
    fig.savefig(paths[3], dpi=100)
    plt.close(fig)

    pred = probs[:, :NOT_DIGIT].argmax(axis=1) if len(probs) else np.zeros(0, np.int64)
    wrong = np.flatnonzero(pred != labels)
    worst = wrong[np.argsort(-probs[wrong, pred[wrong]])][:40] if len(wrong) else wrong
    cols = 8
    rows = max(1, int(np.ceil(len(worst) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, worst):
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"true {labels[i]} pred {pred[i]}\n{probs[i, pred[i]]:.2f}", fontsize=7)
    fig.suptitle(f"{len(wrong)} mistakes; the {len(worst)} most confident")
    fig.tight_layout()
    fig.savefig(paths[4], dpi=100)
    plt.close(fig)
    return paths
