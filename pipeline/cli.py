"""The ``digits`` command line: thin wiring of stages, config and reports.

Heavy libraries (TensorFlow, OpenCV, pandas) are imported inside the commands, so that
``digits --help`` answers at once.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Read handwritten digits on scans into CSV.")
log = logging.getLogger("digits")

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", exists=True, dir_okay=False, help="TOML config file.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or info messages.")]
ModelOpt = Annotated[
    Optional[Path], typer.Option("--model", exists=True, dir_okay=False, help="Model file (.keras); default: the shipped model.")
]


@app.callback()
def _root() -> None:
    """Read handwritten digits on scans into CSV: scan, postal, segment, predict, evaluate, train."""


def _setup(quiet: bool) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s", stream=sys.stderr)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def train(
    data: Annotated[Optional[Path], typer.Option(help="MNIST folder (IDX files) or mnist.npz.")] = None,
    crops: Annotated[Optional[Path], typer.Option(help="Labelled page crops of MNIST training digits to add "
                                                       "(.npz from samples/page_crops.py).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the model, metadata, curves and card.")] = Path(__file__).resolve().parent.parent / "model",
    epochs: Annotated[Optional[int], typer.Option(min=1)] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1)] = None,
    learning_rate: Annotated[Optional[float], typer.Option(min=0.0)] = None,
    seed: Optional[int] = None,
    augment: Annotated[Optional[bool], typer.Option("--augment/--no-augment")] = None,
    early_stopping: Annotated[Optional[int], typer.Option(help="Patience in epochs (0: off).")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Train on the first N images only (smoke tests).")] = None,
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Retrain the CNN on MNIST plus generated "not a digit" glyphs; write digits.keras, digits.tflite,
    digits.json, curves and CARD.md."""
    _setup(quiet)
    from model.data import DataError, load_mnist
    from model.train import PageCrops, TrainConfig
    from model.train import train as run_training
    from pipeline.config import ConfigError, load_section

    try:
        cfg = load_section(
            TrainConfig,
            "train",
            config,
            "train.toml",
            dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
                 augment=augment, early_stopping_patience=early_stopping, limit=limit),
        )
        mnist = load_mnist(data)
        page_crops = PageCrops.load(crops) if crops is not None else None
        if page_crops is not None:
            page_crops.check(mnist)
    except (DataError, ConfigError, ValueError) as e:
        raise _fail(str(e))
    log.info("training on %s: %s", mnist.source, cfg)
    from pipeline.normalize import normalize_mask

    result = run_training(cfg, mnist, out, normalize_mask, quiet=quiet, crops=page_crops)
    m = result.metrics
    typer.echo(
        f"test accuracy {m['test_accuracy']:.4f}, false reject {m['test_false_reject']:.4f}, "
        f"negatives rejected {m['negatives_reject']:.4f}, loss {m['test_loss']:.4f}, ECE {m['test_ece']:.4f}, "
        f"{result.seconds:.0f} s -> {result.model_path}"
    )


InputsArg = Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).", show_default=False)]
RuntimeOpt = Annotated[str, typer.Option(help="Inference runtime: auto (OpenVINO, else LiteRT, else Keras), openvino, litert or keras.")]


def _report_errors(errors: list[Any]) -> None:
    for e in errors:
        where = f" page {e.page}" if e.page else ""
        typer.echo(f"error: {e.source}{where}: {e.message}", err=True)


@app.command()
def predict(
    inputs: InputsArg,
    out: Annotated[Optional[Path], typer.Option(help="Write a CSV here instead of printing a table.")] = None,
    model: ModelOpt = None,
    runtime: RuntimeOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Classify single-digit images (any size, either polarity); print a table or write --out CSV.

    Columns: source, digit, confidence, alt_digit, alt_confidence. Pages after the first of a
    TIFF or PDF are named FILE#PAGE.
    """
    _setup(quiet)
    import numpy as np
    import pandas as pd
    from tqdm import tqdm

    from model.store import ModelError
    from pipeline.classify import Classifier
    from pipeline.normalize import normalize_image
    from pipeline.sources import PageError, find_sources, read_pages

    names: list[str] = []
    glyphs: list[np.ndarray] = []
    errors: list[Any] = []
    for item in tqdm(list(find_sources(inputs)), desc="reading", disable=quiet, unit="file"):
        if isinstance(item, PageError):
            errors.append(item)
            continue
        for page in read_pages(item):
            if isinstance(page, PageError):
                errors.append(page)
                continue
            names.append(page.source if page.page == 1 else f"{page.source}#{page.page}")
            glyphs.append(normalize_image(page.image))
    try:
        clf = Classifier(model, runtime=runtime)
    except ModelError as e:
        raise _fail(str(e))
    p = clf.predict(np.stack(glyphs) if glyphs else np.zeros((0, 28, 28), np.uint8))
    table = pd.DataFrame({"source": names, "digit": p.digit, "confidence": p.confidence.round(4),
                          "alt_digit": p.alt_digit, "alt_confidence": p.alt_confidence.round(4)})
    if out is not None:
        table.to_csv(out, index=False)
        log.info("%d images -> %s", len(table), out)
    elif len(table):
        typer.echo(table.to_string(index=False))
    _report_errors(errors)
    if errors:
        raise typer.Exit(1)


@app.command()
def evaluate(
    data: Annotated[
        Optional[Path],
        typer.Option(help="MNIST folder/npz (its test set), or a folder of labelled images in subfolders 0..9."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for metrics.json, CSVs and PNGs.")] = Path("evaluation"),
    model: ModelOpt = None,
    runtime: RuntimeOpt = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Accuracy, per-digit precision/recall/F1, confusion matrix (CSV + PNG), worst mistakes (PNG)."""
    _setup(quiet)
    import json

    from model.data import DataError, load_mnist
    from model.evaluate import evaluate as score
    from model.evaluate import write_report
    from model.store import ModelError
    from pipeline.classify import Classifier

    errors: list[Any] = []
    try:
        if data is not None and data.is_dir() and any((data / str(d)).is_dir() for d in range(10)):
            images, labels, errors = _labelled_folder(data)
        else:
            mnist = load_mnist(data)
            images, labels = mnist.x_test, mnist.y_test
        clf = Classifier(model, runtime=runtime)
    except (DataError, ModelError) as e:
        raise _fail(str(e))
    probs = clf.proba(images)
    report = score(probs, labels)
    write_report(report, probs, labels, images, out)
    if as_json:
        typer.echo(json.dumps({**report.as_dict(), "model": str(clf.model_path), "runtime": clf.runtime}, indent=2))
    else:
        typer.echo(f"accuracy {report.accuracy:.4f} on {report.n} images (ECE {report.ece:.4f}); reports in {out}")
    _report_errors(errors)
    if errors:
        raise typer.Exit(1)


def _labelled_folder(folder: Path) -> tuple[Any, Any, list[Any]]:
    """Images under folder/0 .. folder/9 -> (N, 28, 28) uint8 glyphs, (N,) labels, errors."""
    import numpy as np

    from pipeline.normalize import normalize_image
    from pipeline.sources import PageError, find_sources, read_pages

    glyphs, labels, errors = [], [], []
    for d in range(10):
        if not (folder / str(d)).is_dir():
            continue
        for item in find_sources([folder / str(d)]):
            pages = [item] if isinstance(item, PageError) else list(read_pages(item))
            for page in pages:
                if isinstance(page, PageError):
                    errors.append(page)
                else:
                    glyphs.append(normalize_image(page.image))
                    labels.append(d)
    images = np.stack(glyphs) if glyphs else np.zeros((0, 28, 28), np.uint8)
    return images, np.array(labels, np.int64), errors


def _config(config: Optional[Path], **overrides: dict[str, Any]) -> Any:
    from pipeline.config import ConfigError, load_config

    try:
        return load_config(config, **overrides)
    except (ConfigError, TypeError) as e:
        raise _fail(str(e), 2)


def _classifier(model: Optional[Path], cfg: Any) -> Any:
    from model.store import ModelError
    from pipeline.classify import Classifier

    try:
        return Classifier(model, batch_size=cfg.scan.batch_size, runtime=cfg.scan.runtime)
    except ModelError as e:
        raise _fail(str(e))


@app.command()
def scan(
    inputs: InputsArg,
    out: Annotated[Path, typer.Option(help="Output folder for digits.csv, fields.csv, errors.csv, run.json.")] = Path("results"),
    review: Annotated[bool, typer.Option(help="Also write review/ overlays and a sheet of uncertain crops.")] = False,
    review_threshold: Annotated[Optional[float], typer.Option(min=0.0, max=1.0, help="Flag digits under this confidence.")] = None,
    dpi: Annotated[Optional[int], typer.Option(min=30, help="PDF rendering resolution.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1)] = None,
    model: ModelOpt = None,
    runtime: Annotated[Optional[str], typer.Option(help="auto, openvino, litert or keras.")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Processes that decode and segment pages (1: all in one process). [default: one per CPU]")] = None,
    resume: Annotated[bool, typer.Option(help="Keep the sources an earlier, interrupted run completed in --out; do the rest.")] = False,
    engine: Annotated[str, typer.Option(help="local, or ray (needs the ray extra: pip install -e '.[ray]').")] = "local",
    ray_address: Annotated[Optional[str], typer.Option(help="Ray cluster address for --engine ray (default: a local Ray).")] = None,
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Digitize scans (PNG, JPEG, TIFF, BMP, PDF; files or folders) into CSVs in --out.

    Exit 0 when every input was read, 1 when some failed (listed in errors.csv; the rest is written).
    """
    _setup(quiet)
    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"expected local or ray, got {engine!r}", param_hint="--engine")
    cfg = _config(config, sources={"dpi": dpi}, scan={"review_threshold": review_threshold,
                                                      "batch_size": batch_size, "runtime": runtime})
    if engine == "ray":
        if resume or workers:
            raise typer.BadParameter("not with --engine ray (Ray sizes its own actor pools; --resume is the "
                                     "local engine's)", param_hint="--resume" if resume else "--workers")
        stats = _scan_ray(list(inputs), out, cfg, model, review, not quiet, ray_address)
    else:
        from pipeline.scan import default_workers
        from pipeline.scan import scan as run_scan

        clf = _classifier(model, cfg)
        try:
            stats = run_scan(inputs, out, cfg, clf, review=review, progress=not quiet,
                             workers=workers or default_workers(), resume=resume)
        except KeyboardInterrupt:
            typer.echo(f"\ninterrupted: the sources completed so far are kept in {out} (listed in completed.jsonl); "
                       "run the same command with --resume to do the rest", err=True)
            raise typer.Exit(130)
    log.info("%d pages, %d fields, %d digits (%d need review), %d errors -> %s",
             stats.pages, stats.fields, stats.digits, stats.needs_review, stats.errors, out)
    failed = stats.errors + getattr(stats, "earlier_errors", 0)
    if failed:
        typer.echo(f"{failed} input(s) could not be read; see {out / 'errors.csv'}", err=True)
        raise typer.Exit(1)


def _scan_ray(inputs: list[Path], out: Path, cfg: Any, model: Optional[Path], review: bool, progress: bool,
              address: Optional[str]) -> Any:
    """``digits scan --engine ray``: the Ray engine, imported only when asked for."""
    from model.store import ModelError

    try:
        from pipeline import ray_engine
    except ImportError as e:
        raise _fail(f"--engine ray is not available ({e}); install it with: pip install -e '.[ray]'", 2)
    unavailable = getattr(ray_engine, "RayUnavailable", ImportError)
    try:
        return ray_engine.scan_ray(inputs, out, cfg, model, review=review, progress=progress, address=address)
    except unavailable as e:
        raise _fail(str(e), 2)
    except ModelError as e:
        raise _fail(str(e))


@app.command()
def segment(
    inputs: InputsArg,
    out: Annotated[Path, typer.Option(help="Output folder for crops/ and manifest.csv.")] = Path("crops"),
    model: ModelOpt = None,
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Segmentation only: write each glyph as a 28x28 PNG and its raw crop, with manifest.csv."""
    _setup(quiet)
    import cv2
    from tqdm import tqdm

    from pipeline.export import ERROR_COLUMNS, CsvSink
    from pipeline.render import overlay_name
    from pipeline.scan import Stats, iter_pages
    from pipeline.segment import segment as find_glyphs
    from pipeline.sources import PageError

    cfg = _config(config)
    clf = _classifier(model, cfg)
    (out / "crops").mkdir(parents=True, exist_ok=True)
    columns = ["source", "page", "line", "field", "index", "x", "y", "w", "h", "crop28", "raw"]
    manifest, errors = CsvSink(out / "manifest.csv", columns), CsvSink(out / "errors.csv", ERROR_COLUMNS)
    for item in tqdm(iter_pages(inputs, cfg, Stats()), desc="pages", unit="page", disable=quiet):
        if isinstance(item, PageError):
            errors.write([vars(item)])
            continue
        stem = overlay_name(item)[: -len(".png")]
        for g in find_glyphs(item.image, cfg.segment, lambda x: clf.predict(x).confidence, item.dpi):
            name = f"{stem}-f{g.field:03d}-{g.index:02d}"
            cv2.imwrite(str(out / "crops" / f"{name}.png"), g.crop)
            cv2.imwrite(str(out / "crops" / f"{name}-raw.png"), 255 - g.mask)
            manifest.write([{"source": item.source, "page": item.page, "line": g.line, "field": g.field,
                             "index": g.index, "x": g.x, "y": g.y, "w": g.w, "h": g.h,
                             "crop28": f"crops/{name}.png", "raw": f"crops/{name}-raw.png"}])
    manifest.commit()
    errors.commit()
    log.info("%d glyphs -> %s", manifest.rows, out)
    if errors.rows:
        typer.echo(f"{errors.rows} input(s) could not be read; see {out / 'errors.csv'}", err=True)
        raise typer.Exit(1)


@app.command()
def postal(
    inputs: InputsArg,
    out: Annotated[Path, typer.Option(help="CSV to write; errors.csv is written beside it.")] = Path("postal.csv"),
    fmt: Annotated[str, typer.Option("--format", help="Postal format: us, de, fr, in, br (configs/postal/NAME.toml) or a format TOML file.")] = "us",
    threshold: Annotated[Optional[float], typer.Option(min=0.0, max=1.0, help="Codes read with less confidence are low_confidence.")] = None,
    review: Annotated[Optional[Path], typer.Option(file_okay=False, help="Write an overlay per envelope (block, candidates, chosen code) here.")] = None,
    model: ModelOpt = None,
    runtime: Annotated[str, typer.Option(help="auto, openvino, litert or keras.")] = "auto",
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Read the postal code on each envelope image (or TIFF/PDF page): one row per page in --out.

    Columns: source, page, postal_code, confidence, digit_confidences, x, y, w, h, status, candidates.
    status is ok, low_confidence (under --threshold), not_found or error (also in errors.csv).
    Exit 0 when every input was read, 1 when some failed (the rest is written), 2 for bad usage
    (an unknown or unsupported format such as ca).
    """
    _setup(quiet)
    from model.store import ModelError
    from pipeline.classify import Classifier
    from pipeline.config import ConfigError, SegmentConfig, SourceConfig, load_section
    from pipeline.postal import PostalReader, load_format, load_postal_config, run_postal

    try:
        postal_format = load_format(fmt)
        cfg = load_postal_config(fmt, config, {"threshold": threshold})
        seg = load_section(SegmentConfig, "segment", config, "default.toml")
        src = load_section(SourceConfig, "sources", config, "default.toml")
    except (ConfigError, TypeError) as e:
        raise _fail(str(e), 2)
    try:
        clf = Classifier(model, batch_size=cfg.batch_size, runtime=runtime)
    except (ModelError, ValueError) as e:
        raise _fail(str(e))
    stats = run_postal(inputs, out, PostalReader(postal_format, cfg, clf, seg), review=review, progress=not quiet,
                       dpi=src.dpi, max_pixels=src.max_pixels)
    log.info("%d envelopes (%s) -> %s", stats.pages, ", ".join(f"{k} {v}" for k, v in stats.by_status.items()), out)
    if stats.errors:
        typer.echo(f"{stats.errors} input(s) could not be read; see {out.with_name('errors.csv')}", err=True)
        raise typer.Exit(1)


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
