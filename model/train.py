"""Training: augmentation, the fit loop with a per-epoch progress bar, best-checkpoint,
test metrics, the saved artifacts (``.keras``, ``.tflite``, metadata JSON, curves PNG, card).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from model.contract import CLASSES, CONTRACT, NOT_DIGIT, to_input
from model.data import Mnist
from model.negatives import negative_images, underlined_digits
from model.store import MODEL_NAME, sha256_file, write_metadata


@dataclass(frozen=True)
class TrainConfig:
    """Every tunable of a training run (``configs/train.toml`` mirrors these)."""

    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 1e-3
    lr_decay: float = 0.88  # learning rate multiplied by this after each epoch
    clean_epochs: int = 3  # the last epochs see un-augmented images (settles batch-norm statistics)
    seed: int = 1
    validation_size: int = 5000  # images held out of the 60k training set for checkpointing
    early_stopping_patience: int = 0  # 0: off
    dropout: float = 0.25
    augment: bool = True
    rotation_deg: float = 10.0
    shift: float = 0.1  # fraction of 28 px
    zoom: float = 0.1
    thickness_prob: float = 0.2  # share of images made one pixel thinner or thicker
    limit: int = 0  # train on the first N training images only (0: all); for smoke tests
    negatives: float = 0.2  # generated "not a digit" images added, as a share of the training digits
    negative_eval: int = 5000  # held-out negatives (other seed, held-out fonts) for the reject rate
    underlined: float = 0.05  # training digits added again drawn on a rule or dotted leader, as a share


@dataclass(frozen=True)
class PageCrops:
    """Labelled digit crops cut from pages by the segmenter (``samples/page_crops.py``), added to
    the training images: each crop's MNIST *training* image index (``source``), so that crops of
    validation digits are left out."""

    x: np.ndarray  # uint8 (N, 28, 28), the pipeline's normalized crops
    y: np.ndarray  # (N,) digits
    source: np.ndarray  # (N,) index into the MNIST training images
    path: str = ""

    @classmethod
    def load(cls, path: Path) -> PageCrops:
        """Read ``x``, ``y`` and ``source`` from an ``.npz``; ValueError naming the file if it is not one."""
        try:
            with np.load(path) as z:
                crops = cls(z["x"], z["y"].astype(np.int64), z["source"].astype(np.int64), str(path))
        except (OSError, KeyError, ValueError) as e:
            raise ValueError(f"{path}: not a page-crops file (.npz with x, y, source): {e}") from e
        n = len(crops.x)
        if crops.x.shape[1:] != (28, 28) or crops.y.shape != (n,) or crops.source.shape != (n,):
            raise ValueError(f"{path}: expected x (N, 28, 28), y (N,), source (N,); got {crops.x.shape}, "
                             f"{crops.y.shape}, {crops.source.shape}")
        return crops

    def check(self, data: Mnist) -> None:
        """ValueError unless every crop names an MNIST training image of its own label (crops
        built from other data would leak into validation or teach wrong labels)."""
        known = (self.source >= 0) & (self.source < len(data.y_train))
        if not known.all() or (data.y_train[self.source] != self.y).any():
            raise ValueError(f"{self.path}: its crops are not labelled as the MNIST training images they name "
                             f"(built from other data?)")


def split(cfg: TrainConfig, n_images: int) -> tuple[np.ndarray, np.ndarray]:
    """(validation, training) indices of the MNIST training images: a fixed, seeded subset held
    out for checkpointing; ``cfg.limit`` > 0 keeps only that many images in all."""
    n = n_images if cfg.limit <= 0 else min(cfg.limit, n_images)
    order = np.random.default_rng(cfg.seed).permutation(n_images)[:n]
    n_val = min(cfg.validation_size, n // 5)
    return order[:n_val], order[n_val:]


@dataclass(frozen=True)
class TrainResult:
    """What a run produced: the model file, its test metrics and the per-epoch history."""

    model_path: Path
    metrics: dict[str, float]
    history: dict[str, list[float]]
    seconds: float


def _augmenter(cfg: TrainConfig) -> Any:
    """A batch transform (B, 28, 28, 1) float32 -> same: stroke weight, rotation, shift, zoom."""
    import keras
    import tensorflow as tf
    from keras import layers

    geometric = keras.Sequential(
        [
            layers.RandomRotation(cfg.rotation_deg / 360.0, fill_mode="constant", seed=cfg.seed),
            layers.RandomTranslation(cfg.shift, cfg.shift, fill_mode="constant", seed=cfg.seed + 1),
            layers.RandomZoom(cfg.zoom, fill_mode="constant", seed=cfg.seed + 2),
        ]
    )

    def augment(x: Any, y: Any) -> tuple[Any, Any]:
        # stroke weight: 2x2 grey erosion or dilation on a share of the batch
        thicker = tf.nn.max_pool2d(x, 2, 1, "SAME")
        thinner = -tf.nn.max_pool2d(-x, 2, 1, "SAME")
        r = tf.random.uniform([tf.shape(x)[0], 1, 1, 1], seed=cfg.seed + 3)
        p = cfg.thickness_prob
        x = tf.where(r < p / 2, thinner, tf.where(r < p, thicker, x))
        x = geometric(x, training=True)
        return tf.clip_by_value(x, 0.0, 1.0), y

    return augment


class _EpochBar:
    """Keras callback showing one tqdm bar per epoch with loss/accuracy, then val metrics."""

    def __new__(cls, steps: int, epochs: int, quiet: bool) -> Any:
        import keras
        from tqdm.auto import tqdm

        class Bar(keras.callbacks.Callback):  # type: ignore[misc]
            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self.bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{epochs}", disable=quiet, leave=True)

            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                self.bar.update(1)
                if logs and batch % 20 == 0:
                    self.bar.set_postfix(loss=f"{logs['loss']:.4f}", acc=f"{logs['accuracy']:.4f}")

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                logs = logs or {}
                self.bar.set_postfix(
                    loss=f"{logs.get('loss', 0):.4f}",
                    acc=f"{logs.get('accuracy', 0):.4f}",
                    val_acc=f"{logs.get('val_accuracy', 0):.4f}",
                )
                self.bar.close()

        return Bar()


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE: |accuracy - confidence| averaged over equal-width confidence bins, weighted by count.

    Args:
        probs: (N, 10) softmax rows.
        labels: (N,) true classes.
    """
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    return float(ece)


def reject_metrics(probs: np.ndarray, labels: np.ndarray, negative_probs: np.ndarray) -> dict[str, float]:
    """Digit accuracy and the not-a-digit reject rates of one model.

    Args:
        probs: (N, C) softmax rows of labelled digits, C = 10 or 11.
        labels: (N,) digits 0-9.
        negative_probs: (M, C) softmax rows of "not a digit" images.

    Returns:
        ``test_accuracy`` (argmax over the digit classes), ``test_false_reject`` (share of digits
        with P(not a digit) > 0.5) and ``negatives_reject`` (share of negatives with it > 0.5).
    """
    def rejected(p: np.ndarray) -> float:
        return float((p[:, NOT_DIGIT] > 0.5).mean()) if p.shape[1] > NOT_DIGIT and len(p) else 0.0

    return {
        "test_accuracy": float((probs[:, :NOT_DIGIT].argmax(axis=1) == labels).mean()),
        "test_false_reject": rejected(probs),
        "negatives_reject": rejected(negative_probs),
    }


def train(
    cfg: TrainConfig, data: Mnist, out_dir: Path, normalizer: Callable[[np.ndarray], np.ndarray], quiet: bool = False,
    crops: PageCrops | None = None,
) -> TrainResult:
    """Train the CNN on MNIST plus generated "not a digit" glyphs; write the artifacts into ``out_dir``.

    Args:
        cfg: the recipe.
        data: MNIST arrays (see :func:`model.data.load_mnist`).
        out_dir: receives ``digits.keras``, ``digits.tflite``, ``digits.json``,
            ``training_curves.png`` and ``CARD.md``.
        normalizer: binary ink mask (H, W) -> (28, 28) uint8 MNIST form; the pipeline's own
            recipe (``pipeline.normalize.normalize_mask``), so that the negatives look like the
            crops the classifier will see.
        quiet: no progress bars.
        crops: digit crops the segmenter cut from pages, added to the training images (those of
            validation digits left out); their labels must match their MNIST training images.

    Returns:
        :class:`TrainResult` with test accuracy, reject rates, loss and calibration error.
    """
    import keras
    import tensorflow as tf

    from model.network import build_network

    start = time.perf_counter()
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    out_dir.mkdir(parents=True, exist_ok=True)

    val_idx, train_idx = split(cfg, len(data.x_train))
    n, n_val = len(val_idx) + len(train_idx), len(val_idx)
    if cfg.negatives < 0:
        raise ValueError(f"negatives: must be >= 0, got {cfg.negatives}")
    # generated negatives, class NOT_DIGIT: seeds apart for training, validation and the held-out test
    n_neg, n_val_neg = round(cfg.negatives * len(train_idx)), round(cfg.negatives * n_val)
    n_eval_neg = cfg.negative_eval if cfg.limit <= 0 else min(cfg.negative_eval, n)
    neg_train = negative_images(n_neg, cfg.seed, normalizer)
    neg_val = negative_images(n_val_neg, cfg.seed + 1_000_003, normalizer)
    neg_test = negative_images(n_eval_neg, cfg.seed + 2_000_003, normalizer, held_out=True)
    # positives: digits on a line remnant (rule fragments and leaders alone are negatives)
    under, picks = underlined_digits(data.x_train[train_idx], round(cfg.underlined * len(train_idx)), cfg.seed, normalizer)
    n_eval_under = min(len(data.x_test), 2000) if cfg.underlined > 0 else 0
    under_test, under_picks = underlined_digits(data.x_test, n_eval_under, cfg.seed + 3_000_017, normalizer)
    # page crops of training digits only (a crop of a validation digit would leak into the checkpointing)
    if crops is None:
        crops = PageCrops(np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64))
    crops.check(data)
    used = np.isin(crops.source, train_idx)
    crop_x, crop_y = crops.x[used], crops.y[used]
    x_train = to_input(np.concatenate([data.x_train[train_idx], under, neg_train, crop_x]))
    y_train = np.concatenate(
        [data.y_train[train_idx], data.y_train[train_idx][picks], np.full(n_neg, NOT_DIGIT), crop_y]
    ).astype(np.int32)
    x_val = to_input(np.concatenate([data.x_train[val_idx], neg_val]))
    y_val = np.concatenate([data.y_train[val_idx], np.full(n_val_neg, NOT_DIGIT)]).astype(np.int32)

    clean = tf.data.Dataset.from_tensor_slices((x_train, y_train))
    clean = clean.shuffle(len(x_train), seed=cfg.seed, reshuffle_each_iteration=True).batch(cfg.batch_size)
    # one augmentation call at a time: the random transforms are drawn in a fixed order (reproducible)
    ds = clean.map(_augmenter(cfg), num_parallel_calls=1) if cfg.augment else clean
    n_clean = min(cfg.clean_epochs, cfg.epochs - 1) if cfg.augment else 0
    steps = int(np.ceil(len(x_train) / cfg.batch_size))

    model = build_network(dropout=cfg.dropout)
    model.compile(
        optimizer=keras.optimizers.Adam(cfg.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    with tempfile.TemporaryDirectory() as tmp:
        best = Path(tmp) / "best.keras"
        callbacks = [
            _EpochBar(steps, cfg.epochs, quiet),  # the same callbacks serve both fits: best is kept
            keras.callbacks.LearningRateScheduler(lambda epoch: cfg.learning_rate * cfg.lr_decay**epoch),
            keras.callbacks.ModelCheckpoint(best, monitor="val_accuracy", save_best_only=True),
        ]
        if cfg.early_stopping_patience > 0:
            callbacks.append(
                keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=cfg.early_stopping_patience)
            )
        fit = model.fit(ds.prefetch(tf.data.AUTOTUNE), epochs=cfg.epochs - n_clean, validation_data=(x_val, y_val),
                        callbacks=callbacks, verbose=0)
        history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
        if n_clean:
            fit = model.fit(clean.prefetch(tf.data.AUTOTUNE), initial_epoch=cfg.epochs - n_clean, epochs=cfg.epochs,
                            validation_data=(x_val, y_val), callbacks=callbacks, verbose=0)
            for k, vs in fit.history.items():
                history.setdefault(k, []).extend(float(v) for v in vs)
        model = keras.models.load_model(best, safe_mode=True)
    seconds = time.perf_counter() - start

    probs = model.predict(to_input(data.x_test), batch_size=1024, verbose=0)
    neg_probs = model.predict(to_input(neg_test), batch_size=1024, verbose=0) if len(neg_test) else probs[:0]
    under_probs = model.predict(to_input(under_test), batch_size=1024, verbose=0) if len(under_test) else probs[:0]
    under_metrics = reject_metrics(under_probs, data.y_test[under_picks], neg_probs[:0])
    metrics = {
        **reject_metrics(probs, data.y_test, neg_probs),
        "underlined_accuracy": under_metrics["test_accuracy"] if len(under_test) else 0.0,
        "underlined_false_reject": under_metrics["test_false_reject"],
        "test_loss": float(keras.losses.sparse_categorical_crossentropy(data.y_test, probs).numpy().mean()),
        "test_ece": expected_calibration_error(probs[:, :NOT_DIGIT], data.y_test),
        "best_val_accuracy": max(history["val_accuracy"]),
        "train_seconds": round(seconds, 1),
        "parameters": int(model.count_params()),
    }

    # save weights into a fresh, uncompiled network: no optimizer state in the shipped file
    shipped = build_network(dropout=cfg.dropout)
    shipped.set_weights(model.get_weights())
    model_path = out_dir / f"{MODEL_NAME}.keras"
    shipped.save(model_path)
    fast_path = export_tflite(shipped, out_dir / f"{MODEL_NAME}.tflite")
    write_metadata(
        model_path,
        {
            "classes": list(CLASSES),
            "contract": CONTRACT,
            "metrics": metrics,
            "recipe": asdict(cfg),
            "data": {"source": data.source, "sha256": data.hashes, "train": len(train_idx), "validation": n_val,
                     "negatives": {"train": n_neg, "validation": n_val_neg, "test": n_eval_neg},
                     "underlined": {"train": len(under), "test": n_eval_under},
                     "page_crops": {"file": Path(crops.path).name if crops.path else "",
                                    "sha256": sha256_file(Path(crops.path)) if crops.path else "",
                                    "train": len(crop_x)}},
            "history": history,
            "tflite": {"file": fast_path.name, "sha256": sha256_file(fast_path)},
            "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        },
    )
    plot_curves(history, out_dir / "training_curves.png")
    write_card(out_dir / "CARD.md", cfg, metrics, data, len(crop_x))
    return TrainResult(model_path, metrics, history, seconds)


def export_tflite(model: Any, path: Path) -> Path:
    """Export a Keras model to a float32 TFLite flatbuffer for fast CPU inference."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        model.export(tmp, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        path.write_bytes(converter.convert())
    return path


def plot_curves(history: dict[str, list[float]], path: Path) -> None:
    """Loss and accuracy per epoch, train vs validation, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in zip(axes, ("loss", "accuracy")):
        epochs = range(1, len(history[key]) + 1)
        ax.plot(epochs, history[key], label="train (augmented)")
        ax.plot(epochs, history[f"val_{key}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_card(path: Path, cfg: TrainConfig, metrics: dict[str, float], data: Mnist, n_crops: int = 0) -> None:
    """Write the model card: data, recipe, metrics, how to reproduce."""
    recipe = "\n".join(f"| `{k}` | {v} |" for k, v in asdict(cfg).items())
    hashes = "\n".join(f"- `{name}`: `{h}`" for name, h in sorted(data.hashes.items()))
    crops = (f"""
Page crops: {n_crops:,} crops of MNIST training digits (none of the validation ones) as the
pipeline cuts them from synthetic form pages (`samples/page_crops.py`: pages drawn by
`samples/synth.py` in all its styles, segmented and normalized by the pipeline), so that the model
also learns the crops it is given: strokes redrawn by a pen, binarized, a rule or box side taken
off, part of a neighbour left on.
""" if n_crops else "")
    command = ("python samples/page_crops.py --out crops.npz\n    digits train --data path/to/mnist --crops crops.npz --out model/"
               if n_crops else "digits train --data path/to/mnist --out model/")
    path.write_text(
        f"""# Model card: digits CNN

A small CNN that reads one handwritten digit from a 28x28 MNIST-style image, or says that the
image is not a digit (printed letters and punctuation, pieces of words, form rules, specks, noise).

## Input contract

float32 in [0, 1], white digit on black, shape (N, 28, 28, 1); the digit fitted (aspect kept) in
20x20 and centred by centre of mass (`pipeline/normalize.py` brings scan crops to this form).
Output: softmax probabilities over 11 classes, the digits 0-9 and class 10 "not a digit"
(rows sum to 1; `model/contract.py`). A digit's confidence is its share of the whole softmax, so
mass on "not a digit" lowers it.

## Architecture

conv5x5(12)-BN-ReLU, maxpool 2x2, dropout, conv3x3(32)-BN-ReLU, conv3x3(64)-BN-ReLU, maxpool 2x2,
dropout, dense 128-BN-ReLU, dropout, dense 11 softmax; {metrics['parameters']:,} parameters,
3.7 MFLOP per image (`model/network.py`). Chosen by measuring Keras `predict` against LiteRT
(`digits.tflite`, 2 threads) on untrained candidates: LiteRT runs it 1.6-2.6x as fast as Keras
(depending on the machine's load), OpenVINO in bfloat16 on AMX about 6x.

## Data

MNIST from `{data.source}`: 60,000 training images of which {cfg.validation_size:,} held out
for checkpointing (best validation accuracy), 10,000 test images for the figures below.
{hashes}

"Not a digit" (class 10): {round(cfg.negatives * 100)}% as many generated glyphs as training digits
(`model/negatives.py`), drawn as binary ink masks and normalized with the pipeline's own recipe
(`pipeline.normalize.normalize_mask`, passed in by `digits train`): letters and punctuation from
the DejaVu Sans/Serif/Mono TrueType fonts (all weights and slants) at 14-72 px with random stroke,
six OpenCV Hershey faces (script ones included), 2-3 touching letters, rule fragments and dotted
leaders with ticks, box corners, T junctions and crosses, specks, blobs and scanner noise, each
slightly rotated and sheared. Never drawn: printed digits, and O o I l i | ! / \\ (a normalized
handwritten 0 or 1 looks the same). The reject rate below is measured on {cfg.negative_eval:,} negatives from
another seed and fonts training never saw (STIX General, Hershey triplex and script complex).
Since rule fragments and leaders alone are negatives, {round(cfg.underlined * 100)}% of the training digits are added
again drawn on a rule fragment or dotted leader (the remnant a segmenter leaves attached), as
positives.
{crops}
## Recipe

Adam, sparse categorical cross-entropy, accuracy; learning rate decayed per epoch.
Augmentation: rotation, shift, zoom, and stroke weight (2x2 grey erosion or dilation), so the
model holds up on pen strokes thinner or thicker than MNIST's.

| setting | value |
| --- | --- |
{recipe}

## Metrics (MNIST test set, 10,000 images)

| metric | value |
| --- | --- |
| accuracy (argmax over the digits 0-9) | {metrics['test_accuracy']:.4f} |
| false reject: MNIST test digits with P(not a digit) > 0.5 | {metrics['test_false_reject']:.4f} |
| held-out negatives with P(not a digit) > 0.5 | {metrics['negatives_reject']:.4f} |
| MNIST test digits drawn on a rule or leader: accuracy | {metrics['underlined_accuracy']:.4f} |
| ... of them with P(not a digit) > 0.5 | {metrics['underlined_false_reject']:.4f} |
| cross-entropy | {metrics['test_loss']:.4f} |
| expected calibration error (15 bins) | {metrics['test_ece']:.4f} |
| best validation accuracy | {metrics['best_val_accuracy']:.4f} |
| training time (this machine's CPU) | {metrics['train_seconds']:.0f} s |

## Reproduce

    {command}

Seeds (Python, NumPy, TensorFlow, augmentation, data split) are fixed by `seed`; the tests train
the tiny recipe twice and check the two runs agree.
`digits evaluate --data path/to/mnist` reports the accuracy above.

## Limits

Trained on MNIST and generated printed glyphs: isolated handwritten digits in the MNIST style.
Crops from scans must be normalized first. Handwritten letters, and printed glyphs unlike the
generated ones, may still be read as digits; a single straight stroke is always read as a 1 and
a ring as a 0, whether written or printed.
"""
    )
