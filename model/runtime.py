"""Inference runtimes for the shipped model: LiteRT (fast, no TensorFlow import) or Keras.

Both take float32 (N, 28, 28, 1) in [0, 1] and return softmax probabilities (N, C): C = 11 (digits 0-9,
then "not a digit", see model.contract) or 10 for an older model.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

import numpy as np

from model.store import ModelError, read_metadata, sha256_file

log = logging.getLogger(__name__)
Proba = Callable[[np.ndarray], np.ndarray]


def _litert(path: Path, threads: int) -> Proba:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path), num_threads=threads)
    inp = interp.get_input_details()[0]["index"]
    out = interp.get_output_details()[0]["index"]
    shape = [0]

    def proba(x: np.ndarray) -> np.ndarray:
        if x.shape[0] != shape[0]:
            interp.resize_tensor_input(inp, list(x.shape))
            interp.allocate_tensors()
            shape[0] = x.shape[0]
        interp.set_tensor(inp, np.ascontiguousarray(x, np.float32))
        interp.invoke()
        return np.array(interp.get_tensor(out))

    return proba


def _keras(path: Path) -> Proba:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from model.store import load_keras

    model = load_keras(path)

    def proba(x: np.ndarray) -> np.ndarray:
        return np.asarray(model(x, training=False))

    return proba


def load_runtime(model_path: Path, runtime: str = "auto", threads: int | None = None) -> tuple[Proba, str]:
    """Load the model for inference.

    Args:
        model_path: the ``.keras`` file; its ``.tflite`` twin beside it is used when the
            runtime allows and its sha256 matches the metadata.
        runtime: ``"auto"`` (LiteRT if available, else Keras with a warning), ``"litert"`` or ``"keras"``.
        threads: LiteRT threads (default: CPU count).

    Returns:
        (proba function, runtime name actually used).

    Raises:
        ModelError: missing/corrupt/tampered model, or the requested runtime is unavailable.
    """
    if runtime not in ("auto", "litert", "keras"):
        raise ValueError(f"runtime: expected auto, litert or keras, got {runtime!r}")
    model_path = Path(model_path)
    meta = read_metadata(model_path)
    if runtime in ("auto", "litert"):
        fast = model_path.with_suffix(".tflite")
        reason = ""
        if not fast.is_file():
            reason = f"{fast} not found"
        elif meta.get("tflite", {}).get("sha256") not in (None, sha256_file(fast)):
            reason = f"{fast}: sha256 does not match {model_path.with_suffix('.json').name}"
        else:
            try:
                return _litert(fast, threads or os.cpu_count() or 1), "litert"
            except ImportError:
                reason = "ai_edge_litert is not installed"
            except Exception as e:  # a corrupt flatbuffer
                reason = f"{fast}: cannot load ({e})"
        if runtime == "litert":
            raise ModelError(reason)
        log.warning("fast runtime unavailable (%s); falling back to Keras", reason)
    return _keras(model_path), "keras"
