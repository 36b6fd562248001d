"""The CNN: conv5x5(12)-BN-ReLU, max pool, conv3x3(32)-BN-ReLU, conv3x3(64)-BN-ReLU, max pool,
dense 128-BN-ReLU, softmax over the digits and "not a digit".

About 156k parameters and 3.7 MFLOP (2 x multiply-adds) per image. Chosen by measurement
(keras ``predict(batch_size=1024)`` vs LiteRT with 2 threads, batches of 512, on this machine's
CPU): few channels at full resolution and most of the work in two small 3x3 convs at 12x12 and
10x10 keep LiteRT (batch-norm folded, ReLU fused, XNNPACK) well ahead of Keras. Measured on
untrained candidates in one run on a busy machine: 12 first-layer channels 2.56-2.58x, 16
channels 2.14-2.19x, the previous 19.7 MFLOP network (32-32-pool-64-64) 1.2-1.6x; on a quiet
machine Keras with oneDNN closes in (1.6-1.9x for this network). In bfloat16 on AMX, OpenVINO
runs it about 6x as fast as Keras (see README, Speed).
"""

from __future__ import annotations

from typing import Any

from model.contract import CLASSES, INPUT_SHAPE


def build_network(dropout: float = 0.25, dense_units: int = 128, classes: int = len(CLASSES)) -> Any:
    """Build the (uncompiled) classifier.

    Args:
        dropout: dropout rate after each conv block (the dense block uses twice it, capped at 0.5).
        dense_units: width of the hidden dense layer.
        classes: number of outputs: 11 (digits 0-9 and "not a digit", the default) or 10.

    Returns:
        ``keras.Model`` mapping float32 (N, 28, 28, 1) in [0, 1] to softmax probabilities (N, classes).

    Example:
        >>> build_network().output_shape
        (None, 11)
    """
    import keras
    from keras import layers

    if classes not in (10, len(CLASSES)):
        raise ValueError(f"classes: expected 10 or {len(CLASSES)}, got {classes}")

    def conv(x: Any, filters: int, size: int) -> Any:
        x = layers.Conv2D(filters, size, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    inputs = keras.Input(shape=INPUT_SHAPE, name="digit")
    x = conv(inputs, 12, 5)  # 24x24x12
    x = layers.MaxPooling2D()(x)  # 12x12
    x = layers.Dropout(dropout / 2)(x)
    x = conv(x, 32, 3)  # 10x10x32
    x = conv(x, 64, 3)  # 8x8x64
    x = layers.MaxPooling2D()(x)  # 4x4x64
    x = layers.Dropout(dropout)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense_units, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(min(2 * dropout, 0.5))(x)
    outputs = layers.Dense(classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")
