"""Model files and their metadata: save, hash, and load in Keras safe mode with checks."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from model.contract import CLASSES, DIGIT_CLASSES, INPUT_SHAPE

MODEL_NAME = "digits"
DEFAULT_MODEL = Path(__file__).resolve().parent / f"{MODEL_NAME}.keras"


class ModelError(Exception):
    """A model file is missing, corrupt, or does not match its metadata."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def metadata_path(model_path: Path) -> Path:
    """``digits.keras`` -> ``digits.json`` beside it."""
    return Path(model_path).with_suffix(".json")


def write_metadata(model_path: Path, meta: dict[str, Any]) -> None:
    """Write the metadata JSON beside the model, with the model file's sha256."""
    meta = {"model_file": Path(model_path).name, "sha256": sha256_file(model_path), **meta}
    metadata_path(model_path).write_text(json.dumps(meta, indent=2) + "\n")


def read_metadata(model_path: Path) -> dict[str, Any]:
    """Read and check the metadata of a model file (sha256, classes, input shape).

    Raises:
        ModelError: naming the file and what is wrong.
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ModelError(f"{model_path}: model file not found; run `digits train` or pass --model")
    meta_file = metadata_path(model_path)
    if not meta_file.is_file():
        return {}
    try:
        meta: dict[str, Any] = json.loads(meta_file.read_text())
    except ValueError as e:
        raise ModelError(f"{meta_file}: metadata is not valid JSON ({e})") from e
    if meta.get("sha256") and meta["sha256"] != sha256_file(model_path):
        raise ModelError(
            f"{model_path}: sha256 does not match {meta_file.name}; the file is truncated or was "
            "changed. Restore it (git checkout model/) or retrain with `digits train`."
        )
    if tuple(meta.get("classes", CLASSES)) not in (CLASSES, DIGIT_CLASSES):
        raise ModelError(f"{model_path}: classes {meta.get('classes')} are neither {CLASSES} nor the digits 0-9")
    if tuple(meta.get("contract", {}).get("input_shape", INPUT_SHAPE)) != INPUT_SHAPE:
        raise ModelError(f"{model_path}: input shape is not {INPUT_SHAPE}")
    return meta


def load_keras(model_path: Path) -> Any:
    """Load a ``.keras`` model in safe mode after checking its metadata.

    Raises:
        ModelError: missing, corrupt or tampered file, or wrong input/output shape.
    """
    read_metadata(model_path)
    import keras

    try:
        model = keras.models.load_model(model_path, safe_mode=True, compile=False)
    except Exception as e:  # keras raises many kinds for a bad file
        raise ModelError(f"{model_path}: cannot load model ({type(e).__name__}: {e})") from e
    if tuple(model.input_shape[1:]) != INPUT_SHAPE or model.output_shape[-1] not in (len(DIGIT_CLASSES), len(CLASSES)):
        raise ModelError(
            f"{model_path}: model maps {model.input_shape} -> {model.output_shape}, expected 28x28x1 -> 10 or 11"
        )
    return model
