"""Shared fixtures: tiny MNIST-format files, hand-drawn digit pages, the shipped model."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    """Write a uint8 array as an IDX file (gzipped when ``gz``)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def fake_mnist(folder: Path, n_train: int = 60_000, n_test: int = 10_000, gz: bool = True) -> Path:
    """A folder of IDX files with MNIST's names and shapes (random content)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    sfx = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{sfx}", rng.integers(0, 256, (n_train, 28, 28)), gz)
    write_idx(folder / f"train-labels-idx1-ubyte{sfx}", rng.integers(0, 10, n_train), gz)
    write_idx(folder / f"t10k-images-idx3-ubyte{sfx}", rng.integers(0, 256, (n_test, 28, 28)), gz)
    write_idx(folder / f"t10k-labels-idx1-ubyte{sfx}", rng.integers(0, 10, n_test), gz)
    return folder


@pytest.fixture(scope="session")
def mnist_test() -> tuple[np.ndarray, np.ndarray]:
    """The first 2,000 real MNIST test digits and labels (from ../shared, else the committed sample)."""
    from model.data import read_idx

    if (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        x = read_idx(MNIST_DIR / "t10k-images-idx3-ubyte.gz")[:2000]
        y = read_idx(MNIST_DIR / "t10k-labels-idx1-ubyte.gz")[:2000]
        return x, y
    with np.load(ROOT / "tests" / "data" / "mnist_test_sample.npz") as f:
        return f["x"], f["y"]


@pytest.fixture(scope="session")
def classifier():  # type: ignore[no-untyped-def]
    """The shipped model behind the predictor, loaded once."""
    from pipeline.classify import Classifier

    return Classifier()


def digit_ink(mnist_image: np.ndarray, height: int) -> np.ndarray:
    """An MNIST digit as a binary pen mask of the given height (255 = ink), cropped to its ink."""
    ys, xs = np.nonzero(mnist_image > 60)
    crop = mnist_image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    scale = height / crop.shape[0]
    big = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), height), interpolation=cv2.INTER_CUBIC)
    return np.where(big > 110, 255, 0).astype(np.uint8)


def draw_digits(page: np.ndarray, masks: list[np.ndarray], x: int, y_bottom: int, gap: int, ink: int = 30) -> list[tuple[int, int, int, int]]:
    """Draw ink masks left to right on a grey page, bottoms aligned; return their boxes."""
    boxes = []
    for m in masks:
        h, w = m.shape
        y = y_bottom - h
        region = page[y : y + h, x : x + w]
        region[m > 0] = ink
        boxes.append((x, y, w, h))
        x += w + gap
    return boxes
