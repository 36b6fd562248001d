"""Reliability of `digits scan`: workers, determinism, resume after SIGKILL, Ctrl-C, lean start-up."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.export import COMPLETION_LOG, read_completion_log
from tests.conftest import ROOT, digit_ink, draw_digits

runner = CliRunner()
CSVS = ("digits.csv", "fields.csv", "errors.csv")


def _page(mnist_test, seed: int, size: tuple[int, int] = (900, 700)) -> np.ndarray:  # type: ignore[no-untyped-def]
    """A grey page with three handwritten numbers (MNIST digits) at seeded places."""
    x, _ = mnist_test
    rng = np.random.default_rng(seed)
    page = np.full(size, 236, np.uint8)
    for row in range(3):
        idx = rng.integers(0, len(x), int(rng.integers(2, 6)))
        draw_digits(page, [digit_ink(x[i], 50) for i in idx], int(rng.integers(40, 200)), 150 + 250 * row, gap=12)
    return page


def _pages(folder: Path, mnist_test, n: int, size: tuple[int, int] = (900, 700)) -> Path:  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"page-{i:03d}.png"), _page(mnist_test, i, size))
    return folder


def _scan(inputs: list[Path], out: Path, *extra: str) -> object:
    return runner.invoke(app, ["scan", *map(str, inputs), "--out", str(out), "--quiet", *extra])


def _bytes(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in CSVS}


def test_workers_and_repeated_runs_give_byte_identical_csvs(tmp_path: Path, mnist_test) -> None:  # type: ignore[no-untyped-def]
    pages = _pages(tmp_path / "in", mnist_test, 6)
    (pages / "zz-bad.png").write_bytes(b"not an image")
    runs = {}
    for name, extra in [("w1", ["--workers", "1"]), ("w1b", ["--workers", "1"]), ("w2", ["--workers", "2"]),
                        ("w3", ["--workers", "3", "--batch-size", "7"])]:
        result = _scan([pages], tmp_path / name, *extra)
        assert result.exit_code == 1, result.output  # the bad file
        runs[name] = _bytes(tmp_path / name)
    assert runs["w1"]["digits.csv"].count(b"\n") > 20  # something was read
    assert runs["w1"] == runs["w1b"] == runs["w2"] == runs["w3"]
    assert json.loads((tmp_path / "w2" / "run.json").read_text())["workers"] == 2


def test_scan_of_one_page_imports_neither_tensorflow_nor_ray(tmp_path: Path, mnist_test) -> None:  # type: ignore[no-untyped-def]
    cv2.imwrite(str(tmp_path / "one.png"), _page(mnist_test, 0))
    code = (
        "import sys\n"
        "from pipeline.cli import app\n"
        f"try:\n    app(['scan', {str(tmp_path / 'one.png')!r}, '--out', {str(tmp_path / 'out')!r}, '-q'])\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules, 'ray' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False", "False", "False"], out.stderr
    assert (tmp_path / "out" / "fields.csv").read_text().count("\n") > 1


def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path: Path, mnist_test) -> None:  # type: ignore[no-untyped-def]
    pages = _pages(tmp_path / "in", mnist_test, 12, size=(1400, 1100))
    (pages / "bad.png").write_bytes(b"")  # an error row is a source's row too
    assert _scan([pages], tmp_path / "whole", "--workers", "1").exit_code == 1
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "pipeline.cli", "scan", str(pages), "--out", str(out), "-q", "--batch-size", "1", "--workers", "2"]
    rng = random.Random()
    for attempt in range(4):  # until the kill lands between the first and the last source
        at = rng.randint(1, 11)  # a random moment: right after the at-th source is logged
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while len(read_completion_log(out / COMPLETION_LOG)) < at and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.002)
        workers = _grandchildren(proc.pid)
        proc.send_signal(signal.SIGKILL)  # at once: a fast machine reads all 13 sources in about a second
        proc.wait()
        done = len(read_completion_log(out / COMPLETION_LOG))
        if 0 < done < 13:
            break
        # finished before the kill: try again from scratch
    else:
        pytest.fail("could not kill the run between its first and last source")
    assert not (out / "fields.csv").exists() and (out / "fields.csv.partial").exists()  # visibly unfinished
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "pool workers outlived the killed run"
    result = _scan([pages], out, "--resume")
    assert result.exit_code == 1, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["counts"]["skipped_completed"] == done
    for name in CSVS:
        got = (out / name).read_text(encoding="utf-8").splitlines()
        want = (tmp_path / "whole" / name).read_text(encoding="utf-8").splitlines()
        assert len(got) == len(set(got)) or name == "errors.csv"  # no row doubled
        assert sorted(got) == sorted(want), name
    assert not list(out.glob("*.partial"))


def _grandchildren(pid: int) -> list[int]:
    """Pool workers: children of the forkserver, itself a child of ``pid`` (Linux /proc)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    children = {p for p, pp in parents.items() if pp == pid}
    return [p for p, pp in parents.items() if pp in children]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds worker processes through /proc")
def test_a_killed_worker_costs_nothing(tmp_path: Path, mnist_test) -> None:  # type: ignore[no-untyped-def]
    pages = _pages(tmp_path / "in", mnist_test, 12, size=(1400, 1100))
    assert _scan([pages], tmp_path / "whole", "--workers", "1").exit_code == 0
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "pipeline.cli", "scan", str(pages), "--out", str(out), "-q", "--workers", "2", "--batch-size", "1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not read_completion_log(out / COMPLETION_LOG) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    workers = _grandchildren(proc.pid)
    assert workers and proc.poll() is None, "the run ended before a worker could be killed"
    os.kill(workers[0], signal.SIGKILL)  # as the out-of-memory killer would
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err  # the source in the dead worker's hands was retried, nothing failed
    assert _bytes(out) == _bytes(tmp_path / "whole")


def test_resume_of_a_finished_run_does_only_new_and_changed_files(tmp_path: Path, mnist_test) -> None:  # type: ignore[no-untyped-def]
    pages = _pages(tmp_path / "in", mnist_test, 3)
    out = tmp_path / "out"
    assert _scan([pages], out).exit_code == 0
    first = _bytes(out)
    result = _scan([pages], out, "--resume")
    assert result.exit_code == 0 and _bytes(out) == first
    assert json.loads((out / "run.json").read_text())["counts"]["skipped_completed"] == 3
    cv2.imwrite(str(pages / "page-001.png"), _page(mnist_test, 99))  # changed: its old rows go
    cv2.imwrite(str(pages / "page-100.png"), _page(mnist_test, 100))  # new
    assert _scan([pages], out, "--resume").exit_code == 0
    assert _scan([pages], tmp_path / "fresh").exit_code == 0
    for name in CSVS:
        assert sorted((out / name).read_text().splitlines()) == sorted((tmp_path / "fresh" / name).read_text().splitlines())


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path: Path, mnist_test) -> None:  # type: ignore[no-untyped-def]
    pages = _pages(tmp_path / "in", mnist_test, 12, size=(1400, 1100))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "pipeline.cli", "scan", str(pages), "--out", str(out), "--batch-size", "1", "-q"]
    # the run must hear Ctrl-C even when the tests run in the background of a shell without job
    # control, which ignores SIGINT for its children: a handled signal is reset to default at exec
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.monotonic() + 120
    while not read_completion_log(out / COMPLETION_LOG) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before Ctrl-C arrived")
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert _scan([pages], out, "--resume").exit_code == 0
    assert _scan([pages], tmp_path / "whole").exit_code == 0
    assert _bytes(out) == _bytes(tmp_path / "whole")


def test_workers_must_be_positive(tmp_path: Path) -> None:
    assert _scan([tmp_path], tmp_path / "out", "--workers", "0").exit_code == 2
    assert _scan([tmp_path], tmp_path / "out", "--engine", "spark").exit_code == 2


def test_engine_ray_without_ray_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pipeline.ray_engine", None)  # as if not installed
    monkeypatch.delattr("pipeline.ray_engine", raising=False)  # imported by an earlier test: hide it too
    result = _scan([tmp_path], tmp_path / "out", "--engine", "ray")
    assert result.exit_code == 2 and "ray" in result.output.lower()


# --- the bad-input corpus, end to end through `digits scan` and `digits postal` -------------------

# file name -> error kind in errors.csv (exactly one row each); every other input must work
BAD = {"empty.png": "empty_file", "truncated.png": "corrupt", "truncated.jpg": "corrupt", "text.png": "corrupt",
       "x.jpg": "not_a_file", "huge.png": "too_large", "multi.tif": "corrupt", "broken.pdf": "corrupt",
       "encrypted.pdf": "encrypted_pdf", "no-pages.pdf": "no_pages", "unreadable.png": "permission",
       "loop.png": "symlink_loop"}
ODD_NAME = 'form, "quoted"\nnaïve.png'
# inputs that work: name -> (pages, at least this many digits)
GOOD = {"form.png": (1, 5), "form16.png": (1, 5), "form16.tif": (1, 5), "rgba.png": (1, 5), "cmyk.jpg": (1, 5),
        "inverted.png": (1, 5), "blank.png": (1, 0), "black.png": (1, 0), "dot.png": (1, 0), ODD_NAME: (1, 5),
        "multi.tif": (2, 0)}


def _corpus(folder: Path, mnist_test, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    """Every kind of awkward input in one folder, made here (see BAD and GOOD)."""
    from PIL import Image

    from pipeline import sources
    from tests.test_sources import encrypted_pdf, hand_pdf, pdf_with_pages, png_header_only, tiff_with_corrupt_page

    folder.mkdir()
    x, y = mnist_test
    form = np.full((500, 900), 235, np.uint8)
    draw_digits(form, [digit_ink(x[int(np.flatnonzero(y == int(c))[0])], 60) for c in "40213"], 150, 250, gap=14)
    cv2.imwrite(str(folder / "form.png"), form)
    deep = form.astype(np.uint16) * 257
    cv2.imwrite(str(folder / "form16.png"), deep)
    cv2.imwrite(str(folder / "form16.tif"), deep)
    rgba = np.dstack([cv2.cvtColor(form, cv2.COLOR_GRAY2RGB), np.full(form.shape, 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    Image.fromarray(form).convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    cv2.imwrite(str(folder / "inverted.png"), 255 - form)
    cv2.imwrite(str(folder / "blank.png"), np.full((500, 700), 240, np.uint8))
    cv2.imwrite(str(folder / "black.png"), np.zeros((500, 700), np.uint8))
    cv2.imwrite(str(folder / "dot.png"), np.array([[42]], np.uint8))
    cv2.imencode(".png", form)[1].tofile(str(folder / ODD_NAME))
    (folder / "empty.png").write_bytes(b"")
    data = (folder / "form.png").read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    cv2.imwrite(str(folder / "full.jpg"), form)
    data = (folder / "full.jpg").read_bytes()
    (folder / "full.jpg").unlink()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "text.png").write_text("not an image, just text\n")
    (folder / "x.jpg").mkdir()
    png_header_only(folder / "huge.png", 30000, 30000)
    tiff_with_corrupt_page(folder / "multi.tif")
    data = pdf_with_pages(folder / "full.pdf", [200, 50]).read_bytes()
    (folder / "full.pdf").unlink()
    (folder / "broken.pdf").write_bytes(data[: len(data) // 2])
    (folder / "encrypted.pdf").write_bytes(encrypted_pdf())
    (folder / "no-pages.pdf").write_bytes(hand_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                                                    b"<< /Type /Pages /Kids [] /Count 0 >>"]))
    cv2.imwrite(str(folder / "unreadable.png"), form)
    os.symlink(folder / "loop.png", folder / "loop.png")
    real_open = sources._open

    def denied(path: str | Path):  # type: ignore[no-untyped-def]  # root reads anything: simulate chmod 000
        if Path(path).name == "unreadable.png":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path)

    monkeypatch.setattr(sources, "_open", denied)
    return folder


def _read_csv(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _check_errors(errors: list[dict[str, str]], folder: Path) -> None:
    got = {Path(e["source"]).name: e["error"] for e in errors}
    assert len(errors) == len(BAD) and got == BAD, errors
    for e in errors:
        assert e["source"] in e["message"] and e["stage"] in ("find", "decode")
    assert {e["page"] for e in errors if Path(e["source"]).name == "multi.tif"} == {"2"}


def test_bad_input_corpus_through_scan(tmp_path: Path, mnist_test, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    folder = _corpus(tmp_path / "in", mnist_test, monkeypatch)
    result = _scan([folder], tmp_path / "out", "--workers", "1")  # in-process: the monkeypatch applies
    assert result.exit_code == 1, result.output
    _check_errors(_read_csv(tmp_path / "out" / "errors.csv"), folder)
    digits = _read_csv(tmp_path / "out" / "digits.csv")
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["counts"]["pages"] == sum(n for n, _ in GOOD.values())
    for name, (_, at_least) in GOOD.items():
        found = "".join(d["digit"] for d in digits if Path(d["source"]).name == name)
        assert len(found) >= at_least, (name, found)
        if at_least:
            assert "40213" in found, (name, found)
    for name in ("blank.png", "dot.png", "black.png"):
        assert not [d for d in digits if Path(d["source"]).name == name]


def test_bad_input_corpus_through_postal(tmp_path: Path, mnist_test, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    folder = _corpus(tmp_path / "in", mnist_test, monkeypatch)
    result = runner.invoke(app, ["postal", str(folder), "--out", str(tmp_path / "out" / "postal.csv"), "--quiet"])
    assert result.exit_code == 1, result.output
    _check_errors(_read_csv(tmp_path / "out" / "errors.csv"), folder)
    rows = _read_csv(tmp_path / "out" / "postal.csv")
    status = {}
    for r in rows:
        status.setdefault(Path(r["source"]).name, []).append(r["status"])
    for name, (pages, _) in GOOD.items():
        assert len([s for s in status[name] if s != "error"]) == pages, (name, status[name])


# --- model files ----------------------------------------------------------------------------------


def _model_copy(folder: Path) -> Path:
    import shutil

    folder.mkdir()
    for ext in (".keras", ".tflite", ".json"):
        shutil.copy(ROOT / "model" / f"digits{ext}", folder / f"digits{ext}")
    return folder / "digits.keras"


@pytest.mark.parametrize("damage", ["truncated", "tampered", "tampered_tflite", "bad_json"])
def test_damaged_model_files_give_a_clear_error(tmp_path: Path, damage: str) -> None:
    model = _model_copy(tmp_path / "model")
    cv2.imwrite(str(tmp_path / "blank.png"), np.full((100, 100), 240, np.uint8))
    target = model.with_suffix(".tflite") if damage == "tampered_tflite" else model
    data = bytearray(target.read_bytes())
    if damage == "truncated":
        target.write_bytes(bytes(data[: len(data) // 2]))
    elif damage == "bad_json":
        model.with_suffix(".json").write_text("{ not json")
        target = model.with_suffix(".json")
    else:
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    extra = ["--runtime", "litert"] if damage == "tampered_tflite" else []
    result = _scan([tmp_path / "blank.png"], tmp_path / "out", "--model", str(model), *extra)
    assert result.exit_code == 1, result.output
    assert str(target) in result.output and "Traceback" not in result.output
    if damage in ("truncated", "tampered"):
        assert "sha256 does not match" in result.output and "digits train" in result.output
    assert not (tmp_path / "out" / "digits.csv").exists()


def test_missing_model_file_is_named(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "blank.png"), np.full((100, 100), 240, np.uint8))
    result = _scan([tmp_path / "blank.png"], tmp_path / "out", "--model", str(tmp_path / "nope.keras"))
    assert result.exit_code == 2 and "nope.keras" in result.output
    from model.store import ModelError
    from pipeline.classify import Classifier

    with pytest.raises(ModelError, match="nope.keras: model file not found"):
        Classifier(tmp_path / "nope.keras")
