"""The 28x28 input contract and the output classes, defined once and imported by train, evaluate,
predict and the pipeline.

A model input is float32 in [0, 1], white digit on black, shape (N, 28, 28, 1): exactly the
form of the MNIST images divided by 255.
"""

from __future__ import annotations

import numpy as np

SIZE = 28
INPUT_SHAPE = (SIZE, SIZE, 1)
DIGIT_CLASSES = tuple(str(d) for d in range(10))
NOT_DIGIT = 10  # index of the "not a digit" class (printed letters, rules, specks, noise)
CLASSES = DIGIT_CLASSES + ("not a digit",)  # the model's outputs, in order; a 10-output model has DIGIT_CLASSES
CONTRACT = {
    "input_shape": list(INPUT_SHAPE),
    "dtype": "float32",
    "range": [0.0, 1.0],
    "polarity": "white digit on black",
    "recipe": "MNIST: aspect-kept fit in 20x20, anti-aliased, centre of mass at the centre of 28x28",
}


def to_input(images: np.ndarray) -> np.ndarray:
    """Turn uint8 or float images into model input.

    Args:
        images: (N, 28, 28) or (N, 28, 28, 1); uint8 in [0, 255] or float in [0, 1].

    Returns:
        float32 array of shape (N, 28, 28, 1) in [0, 1].

    Example:
        >>> to_input(np.zeros((2, 28, 28), np.uint8)).shape
        (2, 28, 28, 1)
    """
    x = np.asarray(images)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1:] != (SIZE, SIZE):
        raise ValueError(f"images: expected shape (N, 28, 28) or (N, 28, 28, 1), got {x.shape}")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    else:
        x = np.clip(x.astype(np.float32), 0.0, 1.0)
    return x[..., None]
