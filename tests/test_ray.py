"""`digits scan --engine ray`: the same CSVs as the local engine, errors as rows, Ray kept optional.

Needs the ray extra (``pip install -e ".[ray]"``; CI installs it); deselect with ``-m "not ray"``.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import load_config
from tests.conftest import ROOT

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
pytestmark = pytest.mark.ray

CSVS = ("digits.csv", "fields.csv", "errors.csv")


@pytest.fixture(scope="session")
def local_ray() -> Iterator[None]:
    """One local Ray with 2 CPUs for the whole session (scan_ray uses a Ray already started)."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def both_engines(tmp_path_factory: pytest.TempPathFactory, local_ray: None) -> tuple[Path, Path, object, object]:
    """The samples plus a zero-byte PNG and a missing file, scanned by both engines (same config)."""
    from pipeline.classify import Classifier
    from pipeline.ray_engine import scan_ray
    from pipeline.scan import scan

    tmp = tmp_path_factory.mktemp("engines")
    pages = tmp / "pages"
    shutil.copytree(ROOT / "samples" / "pages", pages)
    (pages / "empty.png").write_bytes(b"")
    inputs = [pages, tmp / "missing.png"]
    cfg = load_config()
    local = scan(inputs, tmp / "local", cfg, Classifier(batch_size=cfg.scan.batch_size, runtime=cfg.scan.runtime),
                 progress=False, workers=1)
    stats = scan_ray(inputs, tmp / "ray", cfg, None, review=False, progress=False, address=None)
    return tmp / "local", tmp / "ray", local, stats


@pytest.mark.parametrize("name", CSVS)
def test_ray_csvs_are_byte_identical_to_local(both_engines: tuple[Path, Path, object, object], name: str) -> None:
    local, remote, _, _ = both_engines
    assert (remote / name).read_bytes() == (local / name).read_bytes()


def test_ray_run_reads_the_samples_and_reports_bad_inputs(both_engines: tuple[Path, Path, object, object]) -> None:
    _, ray_dir, local, stats = both_engines
    assert stats.pages == local.pages == 9 and stats.files == local.files  # type: ignore[attr-defined]
    assert stats.digits == local.digits > 100 and stats.errors == local.errors == 2  # type: ignore[attr-defined]
    errors = (ray_dir / "errors.csv").read_text().splitlines()
    assert any("empty.png" in e and "empty_file" in e for e in errors)
    assert any("missing.png" in e and "not_found" in e for e in errors)
    assert '"engine": "ray"' in (ray_dir / "run.json").read_text()
    assert not list(ray_dir.glob("*.partial"))


def test_without_ray_the_engine_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    page = ROOT / "samples" / "pages" / "form_clean.png"
    result = CliRunner().invoke(app, ["scan", str(page), "--out", str(tmp_path / "out"), "--engine", "ray", "--quiet"])
    assert result.exit_code == 2
    assert 'pip install -e ".[ray]"' in result.output or "pip install -e '.[ray]'" in result.output


def test_local_engine_does_not_import_ray(tmp_path: Path) -> None:
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom pipeline.cli import app\n"
            f"r = CliRunner().invoke(app, ['scan', {str(ROOT / 'samples' / 'pages' / 'form_clean.png')!r}, "
            f"'--out', {str(tmp_path / 'out')!r}, '--workers', '1', '--quiet'])\n"
            "print(r.exit_code, 'ray' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.stdout.split()[-2:] == ["0", "False"], done.stdout + done.stderr


def test_ray_address_joins_a_running_cluster(tmp_path: Path, local_ray: None) -> None:
    """A separate `digits scan --ray-address` process joins the session's Ray and writes the local CSVs."""
    from pipeline.classify import Classifier
    from pipeline.scan import scan

    page = ROOT / "samples" / "pages" / "form_clean.png"
    cfg = load_config()
    scan([page], tmp_path / "local", cfg, Classifier(batch_size=cfg.scan.batch_size, runtime=cfg.scan.runtime),
         progress=False, workers=1)
    address = ray.get_runtime_context().gcs_address
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "scan", str(page), "--out", str(tmp_path / "ray"),
                           "--engine", "ray", "--ray-address", address, "--quiet"],
                          check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "ray" / "run.json").read_text())["ray"]["address"] == address
    for name in CSVS:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def test_ray_address_nobody_answers_at_fails_fast(tmp_path: Path) -> None:
    page = ROOT / "samples" / "pages" / "form_clean.png"
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "scan", str(page), "--out", str(tmp_path / "out"),
                           "--engine", "ray", "--ray-address", "127.0.0.1:1", "--quiet"],
                          check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--ray-address 127.0.0.1:1" in done.stderr and "no Ray cluster answers" in done.stderr
    assert not (tmp_path / "out" / "digits.csv").exists()


@pytest.mark.parametrize("option", [["--resume"], ["--workers", "2"]])
def test_local_engine_options_are_refused_with_ray(tmp_path: Path, option: list[str]) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app

    page = ROOT / "samples" / "pages" / "form_clean.png"
    result = CliRunner().invoke(app, ["scan", str(page), "--out", str(tmp_path / "out"), "--engine", "ray", *option])
    assert result.exit_code == 2 and option[0] in result.output
    assert not (tmp_path / "out").exists()
