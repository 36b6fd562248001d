"""Inference runtimes for the shipped model: OpenVINO or LiteRT (fast, no TensorFlow import), or Keras.

All take float32 (N, 28, 28, 1) in [0, 1] and return softmax probabilities (N, C): C = 11 (digits 0-9,
then "not a digit", see model.contract) or 10 for an older model. OpenVINO and LiteRT both run the
``.tflite`` exported at training time. OpenVINO computes in bfloat16 on CPUs with native bf16
matrix units (Intel AMX, AVX-512 BF16), several times faster there, and in float32 elsewhere;
it is always given batches of ``OPENVINO_CHUNK`` images, so that its answers do not depend on how
many images a call brings.
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


OPENVINO_CHUNK = 256  # images per OpenVINO inference


def _openvino(path: Path, threads: int) -> Proba:
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(path))
    model.reshape([-1, 28, 28, 1])  # any batch size, one compiled model
    # no thread pinning: several worker processes each run their own model on the same cores
    compiled = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": threads, "ENABLE_CPU_PINNING": False,
                                                 "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    n_out = compiled.outputs[0].partial_shape[1].get_length()

    def proba(x: np.ndarray) -> np.ndarray:
        # always in chunks of one size, the last padded: on CPUs without bf16 units OpenVINO's
        # float32 kernels depend on the batch size, and the answers must not
        padded = np.zeros((-(-len(x) // OPENVINO_CHUNK) * OPENVINO_CHUNK, 28, 28, 1), np.float32)
        padded[: len(x)] = x
        out = np.zeros((len(padded), n_out), np.float32)
        for at in range(0, len(padded), OPENVINO_CHUNK):
            request.infer({0: padded[at : at + OPENVINO_CHUNK]})
            out[at : at + OPENVINO_CHUNK] = request.get_output_tensor(0).data
        return out[: len(x)]

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
        runtime: ``"auto"`` (OpenVINO if installed, else LiteRT, else Keras with a warning),
            ``"openvino"``, ``"litert"`` or ``"keras"``.
        threads: OpenVINO or LiteRT threads (default: CPU count).

    Returns:
        (proba function, runtime name actually used).

    Raises:
        ModelError: missing/corrupt/tampered model, or the requested runtime is unavailable.
    """
    if runtime not in ("auto", *FAST, "keras"):
        raise ValueError(f"runtime: expected auto, openvino, litert or keras, got {runtime!r}")
    model_path = Path(model_path)
    meta = read_metadata(model_path)
    if runtime != "keras":
        fast = model_path.with_suffix(".tflite")
        reasons = []
        if not fast.is_file():
            reasons.append(f"{fast} not found")
        elif meta.get("tflite", {}).get("sha256") not in (None, sha256_file(fast)):
            reasons.append(f"{fast}: sha256 does not match {model_path.with_suffix('.json').name}")
        else:
            for name in FAST if runtime == "auto" else (runtime,):
                try:
                    return FAST[name][0](fast, threads or os.cpu_count() or 1), name
                except ImportError:
                    reasons.append(f"{FAST[name][1]} is not installed")
                except Exception as e:  # a corrupt flatbuffer
                    reasons.append(f"{fast}: {name} cannot load it ({e})")
        if runtime != "auto":
            raise ModelError("; ".join(reasons))
        log.warning("fast runtime unavailable (%s); falling back to Keras", "; ".join(reasons))
    return _keras(model_path), "keras"


# the fast runtimes, in the order "auto" tries them: loader and the package it needs
FAST: dict[str, tuple[Callable[[Path, int], Proba], str]] = {
    "openvino": (_openvino, "openvino"),
    "litert": (_litert, "ai_edge_litert"),
}
