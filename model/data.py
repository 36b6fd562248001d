"""MNIST loading: gzipped or raw IDX files, a Keras-style ``mnist.npz``, or the Keras cache.

Every loader takes a path; the Keras download is tried only when no path and no cached copy
exist. Shapes and labels are checked so that a wrong file fails loudly, naming itself.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
EXPECTED_COUNTS = {"train": 60_000, "test": 10_000}
KERAS_CACHE = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "mnist.npz"


class DataError(Exception):
    """MNIST data could not be found or is not what it claims to be."""


@dataclass(frozen=True)
class Mnist:
    """The MNIST arrays: images uint8 (N, 28, 28), labels uint8 (N,), and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    hashes: dict[str, str]


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (raw or gzipped) into a uint8 array.

    Args:
        path: an ``*-idx1-ubyte`` (labels) or ``*-idx3-ubyte`` (images) file, optionally ``.gz``.

    Returns:
        uint8 array of shape (N,) for labels or (N, rows, cols) for images.
    """
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"{path}: cannot read IDX file ({e})") from e
    if len(raw) < 8:
        raise DataError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08 or ndim not in (1, 3):
        raise DataError(f"{path}: not an unsigned-byte IDX file (bad magic {raw[:4].hex()})")
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    size = int(np.prod(dims))
    if len(raw) - header != size:
        raise DataError(f"{path}: header says {dims} ({size} bytes) but {len(raw) - header} bytes follow")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def _load_idx_folder(folder: Path) -> Mnist:
    paths = {}
    for key, stem in IDX_NAMES.items():
        found = _find_idx(folder, stem)
        if found is None:
            raise DataError(f"{folder}: missing {stem}[.gz]")
        paths[key] = found
    arrays = {key: read_idx(p) for key, p in paths.items()}
    return _checked(arrays, str(folder), {p.name: _sha256(p) for p in paths.values()})


def _load_npz(path: Path) -> Mnist:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in IDX_NAMES}
    except KeyError as e:
        raise DataError(f"{path}: npz lacks array {e}; expected x_train, y_train, x_test, y_test") from e
    except Exception as e:  # numpy raises several kinds on a corrupt file
        raise DataError(f"{path}: cannot read npz ({e})") from e
    return _checked(arrays, str(path), {path.name: _sha256(path)})


def _checked(arrays: dict[str, np.ndarray], source: str, hashes: dict[str, str]) -> Mnist:
    for split, count in EXPECTED_COUNTS.items():
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.shape != (count, 28, 28):
            raise DataError(f"{source}: x_{split} has shape {x.shape}, expected ({count}, 28, 28)")
        if y.shape != (count,):
            raise DataError(f"{source}: y_{split} has shape {y.shape}, expected ({count},)")
        if not (np.issubdtype(x.dtype, np.integer) and np.issubdtype(y.dtype, np.integer)):
            raise DataError(f"{source}: {split} images and labels must be integer arrays")
        if x.min() < 0 or x.max() > 255:
            raise DataError(f"{source}: x_{split} pixel values outside 0-255")
        if y.min() < 0 or y.max() > 9:
            raise DataError(f"{source}: y_{split} labels outside 0-9 ({y.min()}..{y.max()})")
    arrays = {k: v.astype(np.uint8) for k, v in arrays.items()}
    return Mnist(**arrays, source=source, hashes=hashes)


def default_locations() -> list[Path]:
    """Places searched when no ``--data`` is given, in order."""
    here = Path(__file__).resolve().parent.parent
    env = os.environ.get("DIGITS_MNIST")
    places = [Path(env)] if env else []
    return places + [here / "data" / "mnist", here.parent / "shared" / "data" / "mnist", KERAS_CACHE]


def load_mnist(path: str | Path | None = None, download: bool = True) -> Mnist:
    """Load MNIST from a folder of IDX files, a ``.npz`` file, or the default locations.

    Args:
        path: folder holding the four IDX files (``.gz`` or raw), or a Keras-style ``mnist.npz``.
            ``None`` searches :func:`default_locations`, then tries the Keras download.
        download: whether the Keras download may be tried when nothing is found.

    Returns:
        :class:`Mnist` with 60k train and 10k test images.

    Raises:
        DataError: naming where it looked and how to pass ``--data``.
    """
    if path is not None:
        p = Path(path)
        if p.is_dir():
            npz = p / "mnist.npz"
            return _load_npz(npz) if npz.is_file() and _find_idx(p, IDX_NAMES["x_train"]) is None else _load_idx_folder(p)
        if p.is_file():
            return _load_npz(p)
        raise DataError(f"{p}: no such file or folder; pass --data with a folder of MNIST IDX files or a mnist.npz")
    looked = default_locations()
    for place in looked:
        if place.is_dir() and _find_idx(place, IDX_NAMES["x_train"]) is not None:
            return _load_idx_folder(place)
        if place.is_file():
            return _load_npz(place)
    if download:
        try:
            import keras

            keras.datasets.mnist.load_data()
            return _load_npz(KERAS_CACHE)
        except Exception as e:  # no network: say where we looked
            reason = f"download failed ({type(e).__name__})"
    else:
        reason = "download disabled"
    where = ", ".join(str(p) for p in looked)
    raise DataError(
        f"MNIST not found; looked in {where}; {reason}. "
        "Pass --data with a folder of the IDX files (train-images-idx3-ubyte.gz, ...) or a mnist.npz."
    )
