"""The network, the shipped model's files and runtimes, the predictor's contract."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from model.contract import CLASSES, NOT_DIGIT, to_input
from model.store import DEFAULT_MODEL, ModelError, load_keras, read_metadata, sha256_file


def test_network_shapes_and_softmax() -> None:
    from model.network import build_network

    net = build_network()
    assert net.input_shape == (None, 28, 28, 1) and net.output_shape == (None, 11) == (None, len(CLASSES))
    assert net.count_params() < 300_000
    probs = np.asarray(net(np.random.default_rng(0).random((4, 28, 28, 1), np.float32), training=False))
    assert probs.shape == (4, 11) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert build_network(classes=10).output_shape == (None, 10)
    with pytest.raises(ValueError, match="classes"):
        build_network(classes=12)


def test_to_input_contract() -> None:
    x = to_input(np.full((3, 28, 28), 255, np.uint8))
    assert x.shape == (3, 28, 28, 1) and x.dtype == np.float32 and x.max() == 1.0
    with pytest.raises(ValueError, match="images"):
        to_input(np.zeros((3, 32, 32)))


def test_shipped_model_metadata_matches_files() -> None:
    meta = read_metadata(DEFAULT_MODEL)
    assert meta["sha256"] == sha256_file(DEFAULT_MODEL)
    assert meta["tflite"]["sha256"] == sha256_file(DEFAULT_MODEL.with_suffix(".tflite"))
    assert meta["classes"] == list(CLASSES) and CLASSES[NOT_DIGIT] == "not a digit"
    assert meta["metrics"]["test_accuracy"] >= 0.995
    assert meta["metrics"]["test_false_reject"] < 0.005 and meta["metrics"]["negatives_reject"] > 0.95
    assert meta["metrics"]["underlined_false_reject"] < 0.02
    assert DEFAULT_MODEL.stat().st_size < 5 * 2**20


def test_classifier_probabilities(classifier, mnist_test) -> None:  # type: ignore[no-untyped-def]
    x, y = mnist_test
    p = classifier.predict(x[:500])
    assert np.allclose(p.probs.sum(axis=1), 1.0, atol=1e-4)
    assert (p.confidence >= p.alt_confidence).all() and (p.digit != p.alt_digit).all()
    assert (p.digit == y[:500]).mean() >= 0.99
    empty = classifier.predict(np.zeros((0, 28, 28), np.uint8))
    assert len(empty) == 0 and empty.probs.shape == (0, 11)


def test_shipped_model_rejects_printed_glyphs_not_digits(classifier, mnist_test) -> None:  # type: ignore[no-untyped-def]
    from model.negatives import negative_images
    from pipeline.normalize import normalize_mask

    digits = classifier.predict(mnist_test[0])
    assert (digits.not_digit > 0.5).mean() < 0.01
    negatives = classifier.predict(negative_images(300, 12345, normalize_mask, held_out=True))
    assert (negatives.not_digit > 0.5).mean() > 0.85


def test_tiny_eleven_class_training_writes_a_working_model(tmp_path: Path, mnist_test) -> None:  # type: ignore[no-untyped-def]
    from model.data import Mnist
    from model.train import PageCrops, TrainConfig, split, train
    from pipeline.classify import Classifier
    from pipeline.normalize import normalize_mask

    x, y = mnist_test
    data = Mnist(x[:1500], y[:1500], x[1500:], y[1500:], "mnist_test[:2000]", {})
    cfg = TrainConfig(epochs=10, batch_size=32, learning_rate=2e-3, augment=False, limit=1500, negatives=0.3,
                      negative_eval=200)
    crops = PageCrops(x[:60], y[:60].astype(np.int64), np.arange(60))  # any labelled images will do
    result = train(cfg, data, tmp_path, normalize_mask, quiet=True, crops=crops)
    meta = read_metadata(result.model_path)
    assert meta["classes"] == list(CLASSES) and meta["data"]["negatives"]["train"] == round(0.3 * 1200)
    # crops of validation digits are left out of training
    val_idx, train_idx = split(cfg, 1500)
    assert len(val_idx) == 300 and meta["data"]["page_crops"]["train"] == np.isin(np.arange(60), train_idx).sum() < 60
    m = result.metrics
    assert {"test_accuracy", "test_false_reject", "negatives_reject"} <= set(m)
    assert m["test_accuracy"] > 0.5 and m["negatives_reject"] > 0.5 and m["test_false_reject"] < 0.2
    for runtime in ("openvino", "litert", "keras"):
        p = Classifier(result.model_path, runtime=runtime).predict(x[1500:1600])
        assert p.probs.shape == (100, 11) and np.allclose(p.probs.sum(axis=1), 1.0, atol=1e-5)
        assert (p.digit == y[1500:1600]).mean() > 0.5


def test_page_crops_must_be_labelled_as_the_training_images_they_name(tmp_path: Path, mnist_test) -> None:  # type: ignore[no-untyped-def]
    from model.data import Mnist
    from model.train import PageCrops

    x, y = mnist_test
    data = Mnist(x[:100], y[:100], x[100:200], y[100:200], "mnist_test[:200]", {})
    path = tmp_path / "crops.npz"
    np.savez(path, x=x[:10], y=y[:10], source=np.arange(10))
    crops = PageCrops.load(path)
    crops.check(data)  # labels match
    np.savez(path, x=x[:10], y=(y[:10] + 1) % 10, source=np.arange(10))
    with pytest.raises(ValueError, match="crops.npz: its crops are not labelled"):
        PageCrops.load(path).check(data)
    np.savez(path, x=x[:10], y=y[:10], source=np.arange(10) + 95)  # past the training images
    with pytest.raises(ValueError, match="not labelled"):
        PageCrops.load(path).check(data)
    np.savez(path, x=x[:10, :20], y=y[:10], source=np.arange(10))
    with pytest.raises(ValueError, match=r"crops.npz: expected x \(N, 28, 28\)"):
        PageCrops.load(path)
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="junk.npz: not a page-crops file"):
        PageCrops.load(tmp_path / "junk.npz")


def test_fast_runtimes_agree_with_keras_on_a_probe_batch(mnist_test) -> None:  # type: ignore[no-untyped-def]
    from model.runtime import load_runtime

    probe = to_input(mnist_test[0][:256])
    slow, _ = load_runtime(DEFAULT_MODEL, "keras")
    b = slow(probe)
    lite, name = load_runtime(DEFAULT_MODEL, "litert")
    assert name == "litert"
    a = lite(probe)
    assert np.abs(a - b).max() < 1e-4 and (a.argmax(1) == b.argmax(1)).all()
    # OpenVINO computes in bfloat16 where the CPU has bf16 units (8 bits of mantissa), float32 elsewhere
    vino, name = load_runtime(DEFAULT_MODEL, "openvino")
    assert name == "openvino"
    a = vino(probe)
    assert np.abs(a - b).max() < 0.03 and (a.argmax(1) == b.argmax(1)).all()
    assert load_runtime(DEFAULT_MODEL)[1] == "openvino"  # what "auto" picks when it is installed


def test_openvino_answers_do_not_depend_on_batch_or_threads() -> None:
    """Batches of any size and any thread count give the same probabilities, bit for bit: the
    CSVs stay byte-identical whatever --workers and --batch-size."""
    from model.runtime import load_runtime

    x = np.random.default_rng(0).random((300, 28, 28, 1), np.float32)
    one, _ = load_runtime(DEFAULT_MODEL, "openvino", threads=1)
    two, _ = load_runtime(DEFAULT_MODEL, "openvino", threads=2)
    whole = two(x)
    assert np.array_equal(one(x), whole)
    assert np.array_equal(np.concatenate([one(x[k : k + 7]) for k in range(0, 300, 7)]), whole)
    assert one(x[:0]).shape == (0, whole.shape[1])


def test_missing_truncated_and_tampered_models_are_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        load_keras(tmp_path / "none.keras")
    copy = tmp_path / "digits.keras"
    shutil.copy(DEFAULT_MODEL, copy)
    shutil.copy(DEFAULT_MODEL.with_suffix(".json"), tmp_path / "digits.json")
    copy.write_bytes(copy.read_bytes()[:1000])
    with pytest.raises(ModelError, match="sha256 does not match") as e:
        load_keras(copy)
    assert str(copy) in str(e.value)
    meta = json.loads((tmp_path / "digits.json").read_text())
    meta["sha256"] = sha256_file(copy)
    (tmp_path / "digits.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="cannot load model"):
        load_keras(copy)
