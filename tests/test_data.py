"""MNIST loading: IDX (gz and raw), npz, corrupt and wrong-shaped files, nothing found."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.data import DataError, load_mnist, read_idx
from tests.conftest import fake_mnist, write_idx


def test_read_idx_roundtrip_gz_and_raw(tmp_path: Path) -> None:
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a.gz", a)), a)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a", a, gz=False)), a)


@pytest.mark.parametrize(
    "payload, problem",
    [(b"", "too short"), (b"\x00\x00\x0d\x03" + b"\x00" * 12, "bad magic"),
     (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "header says")],
)
def test_read_idx_rejects_corrupt_files(tmp_path: Path, payload: bytes, problem: str) -> None:
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(payload)
    with pytest.raises(DataError, match=problem) as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "x.gz", np.zeros((10, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(DataError, match="cannot read"):
        read_idx(path)


@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_folder(tmp_path: Path, gz: bool) -> None:
    m = load_mnist(fake_mnist(tmp_path / "mnist", gz=gz))
    assert m.x_train.shape == (60_000, 28, 28) and m.y_test.shape == (10_000,)
    assert m.x_train.dtype == np.uint8 and 0 <= m.y_train.min() and m.y_train.max() <= 9
    assert len(m.hashes) == 4


def test_load_npz_file_and_folder(tmp_path: Path) -> None:
    z = np.zeros
    np.savez(tmp_path / "mnist.npz", x_train=z((60_000, 28, 28), np.uint8), y_train=z(60_000, np.uint8),
             x_test=z((10_000, 28, 28), np.uint8), y_test=z(10_000, np.uint8))
    assert load_mnist(tmp_path / "mnist.npz").x_test.shape == (10_000, 28, 28)
    assert load_mnist(tmp_path).source.endswith("mnist.npz")


def test_wrong_shapes_and_labels_fail_clearly(tmp_path: Path) -> None:
    z = np.zeros
    np.savez(tmp_path / "small.npz", x_train=z((100, 28, 28), np.uint8), y_train=z(100, np.uint8),
             x_test=z((10_000, 28, 28), np.uint8), y_test=z(10_000, np.uint8))
    with pytest.raises(DataError, match=r"x_train has shape \(100, 28, 28\), expected \(60000, 28, 28\)"):
        load_mnist(tmp_path / "small.npz")
    y = z(10_000, np.uint8)
    y[0] = 11
    np.savez(tmp_path / "labels.npz", x_train=z((60_000, 28, 28), np.uint8), y_train=z(60_000, np.uint8),
             x_test=z((10_000, 28, 28), np.uint8), y_test=y)
    with pytest.raises(DataError, match="labels outside 0-9"):
        load_mnist(tmp_path / "labels.npz")
    np.savez(tmp_path / "keys.npz", images=z(3))
    with pytest.raises(DataError, match="lacks array"):
        load_mnist(tmp_path / "keys.npz")


def test_missing_data_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import model.data as data

    monkeypatch.setattr(data, "default_locations", lambda: [tmp_path / "nowhere"])
    with pytest.raises(DataError) as e:
        load_mnist(download=False)
    assert str(tmp_path / "nowhere") in str(e.value) and "--data" in str(e.value)
    with pytest.raises(DataError, match="no such file or folder"):
        load_mnist(tmp_path / "missing")


def test_negatives_are_deterministic_binary_and_normalized() -> None:
    from model.negatives import negative_images, negative_mask
    from pipeline.normalize import normalize_mask

    a = negative_images(60, 3, normalize_mask)
    assert a.shape == (60, 28, 28) and a.dtype == np.uint8
    assert np.array_equal(a, negative_images(60, 3, normalize_mask))
    assert not np.array_equal(a, negative_images(60, 4, normalize_mask))
    assert (a.reshape(60, -1).max(axis=1) > 0).all()  # every image has ink
    rng = np.random.default_rng(0)
    for _ in range(40):
        m = negative_mask(rng, held_out=True)
        assert m.ndim == 2 and m.dtype == np.uint8 and set(np.unique(m)) <= {0, 255} and m.any()
        assert m[0].any() and m[:, 0].any()  # cropped tight to the ink


def test_negatives_never_draw_digits_and_hold_out_fonts() -> None:
    from model.negatives import CHARS, EXCLUDED, LETTERS, font_files

    assert not set(CHARS) & (set("0123456789") | EXCLUDED) and set(LETTERS) <= set(CHARS)
    train, held_out = set(font_files()), set(font_files(held_out=True))
    assert train and held_out and not train & held_out


def test_negatives_validate_their_parameters() -> None:
    from model.negatives import negative_images

    with pytest.raises(ValueError, match="n:"):
        negative_images(-1, 0, lambda m: np.zeros((28, 28), np.uint8))
    with pytest.raises(ValueError, match="normalizer"):
        negative_images(1, 0, lambda m: np.zeros((20, 20), np.uint8))


def test_underlined_digits_keep_their_digit_and_are_deterministic() -> None:
    from model.negatives import _underline, underlined_digits
    from pipeline.normalize import normalize_mask

    digits = np.zeros((3, 28, 28), np.uint8)
    digits[:, 6:22, 12:16] = 255  # three "1"s
    a, idx = underlined_digits(digits, 20, 5, normalize_mask)
    b, idx_b = underlined_digits(digits, 20, 5, normalize_mask)
    assert a.shape == (20, 28, 28) and a.dtype == np.uint8 and idx.shape == (20,)
    assert np.array_equal(a, b) and np.array_equal(idx, idx_b) and ((idx >= 0) & (idx < 3)).all()
    plain = normalize_mask(digits[0])
    assert all(not np.array_equal(img, plain) for img in a)
    rng = np.random.default_rng(0)
    for _ in range(20):  # the raw mask: the digit on top, a line remnant under it
        m = _underline(rng, digits[0])
        assert m.shape[0] > 16 * 4 and m[-1].any() and set(np.unique(m)) <= {0, 255}
    with pytest.raises(ValueError, match="images"):
        underlined_digits(digits[:0], 1, 0, normalize_mask)
