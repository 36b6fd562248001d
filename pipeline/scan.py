"""The scan job: sources -> pages -> glyphs -> 28x28 -> batches -> predictions -> rows -> CSVs.

Sources stream through a bounded pipeline. Each source (a file) is decoded, segmented and
normalized by :func:`prepare_source` -- in this process (``workers=1``) or in a pool of worker
processes, at most ``2 x workers`` sources in flight -- while this process classifies the glyphs
of the sources already prepared, in batches that cross source boundaries. Results are consumed in
input order, so the CSVs are byte-identical whatever the number of workers. After a batch, the
rows of its sources are appended to the partial CSVs, synced, and the sources are named in the
completion log (see :mod:`pipeline.export`), which is what ``resume=True`` trusts.

The per-source pieces (:func:`prepare_page`, :func:`prepare_source`, :func:`classify_results`,
:class:`Outputs`, :func:`write_run_json`) are plain functions and objects that other engines
(``pipeline.ray_engine``) reuse.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.store import ModelError
from pipeline import __version__
from pipeline.classify import Classifier, Predictions
from pipeline.config import Config
from pipeline.export import (
    COMPLETION_LOG,
    DIGIT_COLUMNS,
    ERROR_COLUMNS,
    FIELD_COLUMNS,
    CompletionLog,
    CsvSink,
    SourceKey,
    prepare_resume,
    source_key,
    write_json,
)
from pipeline.fields import PageResult, page_rows
from pipeline.segment import Scorer, segment
from pipeline.sources import Page, PageError, find_sources, read_pages

CSV_FILES = {"digits.csv": DIGIT_COLUMNS, "fields.csv": FIELD_COLUMNS, "errors.csv": ERROR_COLUMNS}
_NO_IMAGE = np.zeros((0, 0), np.uint8)
_MAX_PENDING = 64  # sources waiting for a batch to fill (blank pages add none to it)


@dataclass
class Stats:
    """Counts and stage timings of a run (for run.json). ``seconds`` of decode, segment and
    normalize are summed over worker processes; ``wait`` is this process waiting for them."""

    files: int = 0
    pages: int = 0
    pages_without_digits: int = 0
    digits: int = 0
    fields: int = 0
    fields_dropped_as_text: int = 0
    needs_review: int = 0
    errors: int = 0
    skipped_completed: int = 0  # sources left out by resume, done by an earlier run ...
    earlier_errors: int = 0  # ... and the errors.csv rows they had
    seconds: Counter[str] = field(default_factory=Counter)


@dataclass
class SourceResult:
    """One source, prepared: its pages (segmented, normalized, not yet classified) and errors in
    page order, with the seconds its stages took."""

    key: SourceKey
    items: list[PageResult | PageError]
    seconds: dict[str, float] = field(default_factory=dict)
    is_file: bool = True

    @property
    def n_glyphs(self) -> int:
        return sum(len(r.glyphs) for r in self.items if isinstance(r, PageResult))


def make_scorer(model_path: Path, runtime: str, batch_size: int, threads: int | None = None,
                loaded: Classifier | None = None) -> Scorer:
    """The scorer :func:`pipeline.segment.segment` asks how pieces read: glyphs -> class probabilities.

    Segmentation asks many small batches, in every worker process. OpenVINO's bfloat16 speed
    needs big batches and its import costs 0.2 s per process, so when OpenVINO classifies, the
    pieces are scored by LiteRT (float32) where it is installed; every engine and worker count
    scores alike, so the CSVs do not depend on them. Otherwise a classifier already ``loaded``
    with ``runtime`` scores.
    """
    if runtime in ("auto", "openvino"):
        try:
            return Classifier(model_path, batch_size=batch_size, runtime="litert", threads=threads).proba
        except ModelError:
            pass
    if loaded is not None:
        return loaded.proba
    return Classifier(model_path, batch_size=batch_size, runtime=runtime, threads=threads).proba


def prepare_page(page: Page, cfg: Config, scorer: Scorer, seconds: Counter[str] | None = None) -> PageResult:
    """Segment one page and normalize its glyphs (everything but classification).

    Args:
        page: a decoded page, ``image`` (H, W) uint8.
        scorer: see :func:`make_scorer`.
        seconds: if given, the ``segment`` time (normalization included) is added to it.

    Returns:
        A :class:`PageResult` with ``crops`` (N, 28, 28) uint8 and ``preds=None``.

    Example:
        >>> r = prepare_page(Page(np.full((300, 300), 240, np.uint8), "blank.png", 1), Config(), scorer)  # doctest: +SKIP
        >>> r.crops.shape                                                                               # doctest: +SKIP
        (0, 28, 28)
    """
    t = time.perf_counter()
    glyphs = segment(page.image, cfg.segment, scorer, page.dpi)
    crops = np.stack([g.crop for g in glyphs]) if glyphs else np.zeros((0, 28, 28), np.uint8)
    if seconds is not None:
        seconds["segment"] += time.perf_counter() - t
    return PageResult(page, glyphs, crops)


def prepare_source(path: Path, cfg: Config, scorer: Scorer, keep_images: bool = False) -> SourceResult:
    """Decode, segment and normalize every page of one file; failures become :class:`PageError`.

    A page that segmentation cannot handle (a bug, not bad data) gives a ``segment`` error row
    for that page and the others go on. ``keep_images=False`` drops the page images once
    segmented (only review overlays need them), so results are small to hold and to pickle.
    """
    seconds: Counter[str] = Counter()
    items: list[PageResult | PageError] = []
    source = str(path)
    t = time.perf_counter()
    for page in read_pages(path, dpi=cfg.sources.dpi, max_pixels=cfg.sources.max_pixels):
        seconds["decode"] += time.perf_counter() - t
        if isinstance(page, PageError):
            items.append(page)
        else:
            try:
                r = prepare_page(page, cfg, scorer, seconds)
            except Exception as e:  # noqa: BLE001 -- one page must not end the run
                items.append(PageError(source, page.page, "segment", "failed",
                                       f"{source} page {page.page}: segmentation failed ({type(e).__name__}: {e})"))
            else:
                if not keep_images:
                    r.page = Page(_NO_IMAGE, page.source, page.page)
                items.append(r)
        t = time.perf_counter()
    return SourceResult(source_key(source), items, dict(seconds))


def classify_results(results: list[PageResult], clf: Classifier) -> None:
    """Classify the crops of several pages in one go (batches cross pages); fill each ``preds``."""
    if not results:
        return
    preds = clf.predict(np.concatenate([r.crops for r in results]))
    at = 0
    for r in results:
        n = len(r.glyphs)
        r.preds = Predictions(preds.digit[at : at + n], preds.confidence[at : at + n], preds.alt_digit[at : at + n],
                              preds.alt_confidence[at : at + n], preds.probs[at : at + n])
        at += n


class Outputs:
    """The files of a run in ``out_dir``: partial CSVs, completion log, review overlays.

    ``resume=True`` keeps what an earlier run completed (see :func:`pipeline.export.prepare_resume`)
    and :attr:`done` names it; otherwise everything starts empty.
    """

    def __init__(self, out_dir: Path, cfg: Config, review: bool = False, resume: bool = False) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir, self.cfg, self.review = out_dir, cfg, review
        self.done: dict[str, SourceKey] = {}
        self.kept = dict.fromkeys(CSV_FILES, 0)
        if resume:
            self.done, self.kept = prepare_resume(out_dir, CSV_FILES)
        if not resume:
            for name in CSV_FILES:
                (out_dir / name).unlink(missing_ok=True)
        self.sinks = {name: CsvSink(out_dir / name, cols, append=resume) for name, cols in CSV_FILES.items()}
        self.log = CompletionLog(out_dir / COMPLETION_LOG, append=resume)
        self.sheet: list[tuple[np.ndarray, str]] = []

    def is_done(self, key: SourceKey) -> bool:
        """Whether an earlier run completed this source (same path, size and mtime)."""
        return self.done.get(key[0]) == key

    def write(self, sources: list[SourceResult], stats: Stats) -> None:
        """Append the rows of classified sources, sync them, then log the sources as complete."""
        from pipeline import render

        t = time.perf_counter()
        for s in sources:
            stats.files += s.is_file
            for item in s.items:
                if isinstance(item, PageError):
                    stats.errors += 1
                    self.sinks["errors.csv"].write([asdict(item)])
                    continue
                digits, fields, dropped = page_rows(item, self.cfg)
                self.sinks["digits.csv"].write(digits)
                self.sinks["fields.csv"].write(fields)
                stats.pages += 1
                stats.digits += len(digits)
                stats.fields += len(fields)
                stats.fields_dropped_as_text += dropped
                stats.needs_review += sum(d["needs_review"] for d in digits)
                stats.pages_without_digits += not digits
                if self.review and item.page.image.size:
                    render.overlay(item.page.image, digits, self.out_dir / "review" / render.overlay_name(item.page))
                    self.sheet.extend(render.review_items(item.crops, item.glyphs, digits))
        for sink in self.sinks.values():
            sink.sync()
        self.log.add(s.key for s in sources)
        stats.seconds["write"] += time.perf_counter() - t

    def commit(self) -> None:
        """The run is complete: contact sheet, CSVs renamed into place."""
        from pipeline import render

        if self.review and self.sheet:
            render.contact_sheet(self.sheet, self.out_dir / "review" / "needs_review.png")
        for sink in self.sinks.values():
            sink.commit()
        self.log.close()

    def close(self) -> None:
        """The run stops early: leave the partial CSVs and the log as they are (resumable)."""
        for sink in self.sinks.values():
            sink.close()
        self.log.close()


def write_run_json(out_dir: Path, cfg: Config, model_path: Path, runtime: str, inputs: list[Path], stats: Stats,
                   total_seconds: float, **extra: Any) -> Path:
    """run.json: version, model file + sha256 + runtime, config, inputs, counts, stage seconds."""
    return write_json(out_dir / "run.json", {
        "version": __version__,
        "model": {"file": str(model_path), "sha256": hashlib.sha256(Path(model_path).read_bytes()).hexdigest(),
                  "runtime": runtime},
        "config": asdict(cfg),
        "inputs": [str(p) for p in inputs],
        **extra,
        "counts": {k: v for k, v in asdict(stats).items() if k != "seconds"},
        "seconds": {**{k: round(v, 3) for k, v in sorted(stats.seconds.items())}, "total": round(total_seconds, 3)},
    })


def default_workers() -> int:
    """Worker processes by default: one per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# --- worker processes ---------------------------------------------------------------------------

_worker: tuple[Config, Scorer, bool] | None = None


def _init_worker(cfg: Config, model_path: Path, runtime: str, batch_size: int, keep_images: bool,
                 main_pid: int) -> None:
    """Once per worker process: its own one-thread scorer (segmentation asks it about splits;
    the workers already share out the CPUs)."""
    global _worker
    import threading

    import cv2

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    threading.Thread(target=_exit_without, args=(main_pid,), daemon=True).start()
    cv2.setNumThreads(1)
    _worker = (cfg, make_scorer(model_path, runtime, batch_size, threads=1), keep_images)


def _exit_without(main_pid: int) -> None:
    """A worker outlives a main process killed outright (SIGKILL, out of memory): it ends itself
    then, and the pool's server with it, instead of waiting forever on a queue nobody reads."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(main_pid, 0)
        except (ProcessLookupError, PermissionError):  # gone (or its pid reused by another user)
            os._exit(1)


def _work(source: str) -> SourceResult:
    if _worker is None:
        raise RuntimeError("worker not initialised")
    cfg, scorer, keep_images = _worker
    return prepare_source(Path(source), cfg, scorer, keep_images)


def _failed(key: SourceKey, e: BaseException) -> SourceResult:
    source = key[0]
    return SourceResult(key, [PageError(source, None, "worker", "crashed",
                                        f"{source}: the worker process preparing it failed ({type(e).__name__}: {e})")])


def prepared_sources(todo: Iterable[Path | PageError], cfg: Config, clf: Classifier, workers: int,
                     keep_images: bool, stats: Stats) -> Iterator[SourceResult]:
    """Prepared sources in input order; ``workers > 1`` prepares them in a process pool, at
    most ``2 x workers`` ahead of the consumer. Fewer than two files run in this process (no pool
    start-up to pay for one page)."""
    items = iter(todo)
    head = [x for _, x in zip(range(2), items)]
    if workers > 1 and sum(isinstance(x, Path) for x in head) < 2:
        workers = 1
    todo = [*head, *items] if workers == 1 else _chain(head, items)
    if workers == 1:
        scorer = make_scorer(clf.model_path, clf.runtime, clf.batch_size, loaded=clf)
        for item in todo:
            if isinstance(item, PageError):
                yield SourceResult((item.source, None, None), [item], is_file=False)
            else:
                yield prepare_source(item, cfg, scorer, keep_images)
        return
    from concurrent.futures import Future, ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method), initializer=_init_worker,
                                   initargs=(cfg, clf.model_path, clf.runtime, clf.batch_size, keep_images,
                                             os.getpid()))

    pool = new_pool()

    def submit(item: Path) -> Future[SourceResult]:
        try:
            return pool.submit(_work, str(item))
        except BrokenProcessPool as e:  # broke since the last take(): the next take() restarts it
            fut: Future[SourceResult] = Future()
            fut.set_exception(e)
            return fut

    window: deque[tuple[Path | PageError, Future[SourceResult] | None]] = deque()

    def restarted(item: Path) -> SourceResult:
        """A worker died (killed, out of memory, crashed in native code) and took the pool with it.
        Which source killed it is unknown: ``item`` is retried alone in a fresh pool (a source that
        kills a worker twice is reported), then the others in flight are resubmitted."""
        nonlocal pool
        pool.shutdown(wait=True, cancel_futures=True)
        pool = new_pool()
        try:
            result = pool.submit(_work, str(item)).result()
        except BrokenProcessPool as e:
            pool.shutdown(wait=True, cancel_futures=True)
            pool = new_pool()
            result = _failed(source_key(str(item)), e)
        except Exception as e:  # noqa: BLE001 -- reported like any failed source
            result = _failed(source_key(str(item)), e)
        for i, (other, fut) in enumerate(window):
            if fut is not None and not (fut.done() and not fut.cancelled() and fut.exception() is None):
                window[i] = (other, submit(other))
        return result

    def take() -> SourceResult:
        item, fut = window.popleft()
        if isinstance(item, PageError):
            return SourceResult((item.source, None, None), [item], is_file=False)
        t = time.perf_counter()
        try:
            return fut.result()  # type: ignore[union-attr]
        except BrokenProcessPool:
            return restarted(item)
        except Exception as e:  # noqa: BLE001 -- a failed worker call costs its source, reported
            return _failed(source_key(str(item)), e)
        finally:
            stats.seconds["wait"] += time.perf_counter() - t

    try:
        for item in todo:
            window.append((item, submit(item) if isinstance(item, Path) else None))
            while len(window) >= 2 * workers:
                yield take()
        while window:
            yield take()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _chain(head: list[Any], rest: Iterator[Any]) -> Iterator[Any]:
    yield from head
    yield from rest


def scan(paths: Iterable[Path], out_dir: Path, cfg: Config, clf: Classifier, review: bool = False,
         progress: bool = True, workers: int = 1, resume: bool = False) -> Stats:
    """Run the whole job and write digits.csv, fields.csv, errors.csv and run.json into ``out_dir``.

    Args:
        workers: processes decoding and segmenting (1: all in this process).
        resume: skip sources an earlier run in ``out_dir`` completed (same path, size, mtime)
            and append the rest; rows of sources it left unfinished are discarded first.

    Returns:
        The run's :class:`Stats`; ``stats.errors + stats.earlier_errors > 0`` means some input
        failed (the rest is written).

    Raises:
        KeyboardInterrupt: after closing the outputs; completed sources stay in the partial
            CSVs and the completion log, and ``resume=True`` finishes the run.
    """
    from tqdm import tqdm

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: must be an integer >= 1, got {workers!r}")
    paths = list(paths)
    started = time.perf_counter()
    stats = Stats()
    out = Outputs(out_dir, cfg, review=review, resume=resume)
    stats.earlier_errors = out.kept["errors.csv"]

    def todo() -> Iterator[Path | PageError]:
        for item in find_sources(paths):
            key = (item.source, None, None) if isinstance(item, PageError) else source_key(str(item))
            if out.is_done(key):
                stats.skipped_completed += 1
            else:
                yield item

    bar = tqdm(desc="files", unit="file", disable=not progress)
    pending: list[SourceResult] = []

    def flush() -> None:
        pages = [r for s in pending for r in s.items if isinstance(r, PageResult)]
        t = time.perf_counter()
        classify_results(pages, clf)
        stats.seconds["classify"] += time.perf_counter() - t
        out.write(pending, stats)
        bar.update(len(pending))
        pending.clear()

    try:
        for s in prepared_sources(todo(), cfg, clf, workers, review, stats):
            for k, v in s.seconds.items():
                stats.seconds[k] += v
            pending.append(s)
            if sum(p.n_glyphs for p in pending) >= cfg.scan.batch_size or len(pending) >= _MAX_PENDING:
                flush()
        flush()
    except BaseException:
        out.close()
        bar.close()
        raise
    bar.close()
    out.commit()
    write_run_json(out_dir, cfg, clf.model_path, clf.runtime, paths, stats, time.perf_counter() - started,
                   workers=workers, resumed=resume)
    return stats


def iter_pages(paths: Iterable[Path], cfg: Config, stats: Stats) -> Iterator[Page | PageError]:
    """All pages of all inputs, lazily; failures come through as :class:`PageError` (for ``digits segment``)."""
    for item in find_sources(paths):
        if isinstance(item, PageError):
            yield item
            continue
        stats.files += 1
        t = time.perf_counter()
        for page in read_pages(item, dpi=cfg.sources.dpi, max_pixels=cfg.sources.max_pixels):
            stats.seconds["decode"] += time.perf_counter() - t
            yield page
            t = time.perf_counter()
