"""The Ray engine: ``digits scan --engine ray``, the scan's stages as a Ray Data pipeline.

    sources (listed here) -> Dataset of file names -> prepare (actor pool: decode, segment,
    normalize) -> classify (actor pool, batches of sources) -> rows and CSVs (here, in input order)

The stages are the local engine's own functions (:func:`pipeline.scan.prepare_source`,
:func:`pipeline.scan.classify_results`, :class:`pipeline.scan.Outputs`, which writes rows with
:func:`pipeline.fields.page_rows`), so the CSVs are byte-identical to ``--engine local``. Each actor
loads the classifier once: segmentation asks it whether to split touching digits. Results stream
back in input order (Ray Data ``preserve_order``); only file names are held here, never all pages.

Inputs are read by the workers and outputs written by this process, so on a cluster the input
paths must be readable at the same path on every node (shared storage), and the model file too
(the shipped model travels with the installed package).

Ray is an optional extra: ``pip install -e ".[ray]"``. ``pipeline.scan`` never imports this module.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.classify import Classifier
from pipeline.config import Config
from pipeline.export import source_key
from pipeline.fields import PageResult
from pipeline.scan import (
    Outputs,
    SourceResult,
    Stats,
    classify_results,
    make_scorer,
    prepare_source,
    write_run_json,
)
from pipeline.sources import PageError, find_sources

INSTALL_HINT = 'pip install -e ".[ray]"'
# CPUs reserved per actor: segmentation is ~90% of the work and classification ~10% (README stage
# split), so n prepare actors and one classify actor fit n CPUs (0.9 n + 0.1 <= n for n >= 1).
PREPARE_CPUS = 0.9
CLASSIFY_CPUS = 0.1
CLASSIFY_SOURCES = 8  # sources per classify call (its batches cross pages and sources)
MAX_BLOCKS = 10_000  # input blocks (a block's sources go through one actor call after another)


class RayUnavailable(RuntimeError):
    """``--engine ray`` cannot run: Ray (the ``ray`` extra) is not installed, or the cluster at
    the address given cannot be joined."""


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise RayUnavailable(f"--engine ray needs Ray Data, which is not installed ({e}); "
                             f"install the extra with: {INSTALL_HINT}") from e
    return ray


def _pack(results: list[SourceResult]) -> np.ndarray:
    """Source results as an object column of pickled bytes (opaque to Ray Data and Arrow)."""
    out = np.empty(len(results), dtype=object)
    out[:] = [pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL) for r in results]
    return out


def _unpack(column: Any) -> list[SourceResult]:
    return [pickle.loads(b) for b in column]


class PrepareActor:
    """Ray Data callable class: decode, segment and normalize sources (one file per row).

    The classifier is loaded once per actor (segmentation scores split candidates with it).
    Batches: ``{"idx": (B,) int64, "source": (B,) str}`` -> ``{"idx", "result": (B,) pickled SourceResult}``.
    """

    def __init__(self, cfg: Config, model_path: Path, runtime: str, keep_images: bool, cwd: str) -> None:
        if os.path.isdir(cwd):  # relative input names resolve as they did for the person who ran the scan
            os.chdir(cwd)
        self.cfg, self.keep_images = cfg, keep_images
        self.scorer = make_scorer(model_path, runtime, cfg.scan.batch_size)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = []
        for source in batch["source"]:
            source = str(source)
            try:
                results.append(prepare_source(Path(source), self.cfg, self.scorer, self.keep_images))
            except Exception as e:  # noqa: BLE001 -- a bug on one source costs that source, reported
                results.append(SourceResult(source_key(source), [PageError(
                    source, None, "worker", "crashed",
                    f"{source}: the Ray worker preparing it failed ({type(e).__name__}: {e})")]))
        return {"idx": batch["idx"], "result": _pack(results)}


class ClassifyActor:
    """Ray Data callable class: classify the crops of a batch of prepared sources in one go.

    The classifier is loaded once per actor; batches cross pages and sources as in the local engine.
    ``{"idx", "result"}`` -> the same, with every page's ``preds`` filled.
    """

    def __init__(self, model_path: Path, runtime: str, batch_size: int) -> None:
        self.clf = Classifier(model_path, batch_size=batch_size, runtime=runtime)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        sources = _unpack(batch["result"])
        t = time.perf_counter()
        classify_results([r for s in sources for r in s.items if isinstance(r, PageResult)], self.clf)
        if sources:
            sources[0].seconds["classify"] = sources[0].seconds.get("classify", 0.0) + time.perf_counter() - t
        return {"idx": batch["idx"], "result": _pack(sources)}


def _check_reachable(address: str, timeout_s: float = 10.0) -> None:
    """Fail fast on a ``host:port`` cluster address nobody answers at (``ray.init`` would retry for
    minutes); ``auto`` and ``ray://`` addresses are left to Ray, which reports them itself."""
    if "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise RayUnavailable(f"--ray-address {address}: expected host:port, ray://host:port or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise RayUnavailable(f"--ray-address {address}: no Ray cluster answers there ({e})") from e


def _connect(ray: Any, address: str | None) -> tuple[bool, str]:
    """Join the cluster at ``address``, else start a local Ray with this machine's CPUs; a Ray
    already initialised in this process is used as it is. Returns (started here, description)."""
    if ray.is_initialized():
        return False, "existing"
    quiet = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False,
             "configure_logging": True}
    if address:
        _check_reachable(address)
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError) as e:
            raise RayUnavailable(f"--ray-address {address}: cannot join that Ray cluster ({e}); a cluster with token "
                                 "authentication needs RAY_AUTH_MODE=token and its token (RAY_AUTH_TOKEN or "
                                 "~/.ray/auth_token) here") from e
        return True, address
    ray.init(address="local", num_cpus=os.cpu_count() or 1, **quiet)  # a new one, even if `ray start` runs here
    return True, "local"


def scan_ray(paths: list[Path], out_dir: Path, cfg: Config, model_path: Path | None, review: bool = False,
             progress: bool = True, address: str | None = None) -> Stats:
    """Run the scan on Ray Data and write the local engine's outputs into ``out_dir``.

    Args:
        paths: files and folders, as for :func:`pipeline.scan.scan`; on a cluster they must be
            readable at the same path on every node.
        model_path: the ``.keras`` model (None: the shipped one); on a cluster, on every node.
        address: a Ray cluster to join (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``);
            None starts a local Ray with ``os.cpu_count()`` CPUs. A Ray already initialised in
            this process is used as it is (and left running).

    Returns:
        The run's :class:`~pipeline.scan.Stats`; ``stats.errors > 0`` means some input failed.

    Raises:
        RayUnavailable: Ray is not installed (the message says how to install it), or the
            cluster at ``address`` cannot be joined.
        model.store.ModelError: the model cannot be loaded (checked here before Ray starts).
    """
    from tqdm import tqdm

    ray = _import_ray()
    paths = list(paths)
    started = time.perf_counter()
    clf = Classifier(model_path, batch_size=cfg.scan.batch_size, runtime=cfg.scan.runtime)  # fail early
    model, runtime = clf.model_path.resolve(), clf.runtime
    del clf
    items = list(find_sources(paths))  # names only
    files = [(i, str(p)) for i, p in enumerate(items) if not isinstance(p, PageError)]
    ours, where = _connect(ray, address)
    stats = Stats()
    try:
        out = Outputs(out_dir, cfg, review=review)
    except BaseException:
        if ours:
            ray.shutdown()
        raise
    bar = tqdm(total=len(items), desc="files", unit="file", disable=not progress)
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        results: Any = iter(())
        if files:
            results = _run(ray, files, cfg, model, review, cpus)
        for i, item in enumerate(items):
            if isinstance(item, PageError):
                s = SourceResult((item.source, None, None), [item], is_file=False)
            else:
                row = next(results)
                if int(row["idx"]) != i:
                    raise RuntimeError(f"ray engine: results out of order (expected source {i}, got {row['idx']})")
                s = pickle.loads(row["result"])
            for k, v in s.seconds.items():
                stats.seconds[k] += v
            out.write([s], stats)
            bar.update(1)
        if next(results, None) is not None:
            raise RuntimeError("ray engine: more results than sources")
    except BaseException:
        out.close()
        bar.close()
        raise
    finally:
        if ours:
            ray.shutdown()
    bar.close()
    out.commit()
    write_run_json(out_dir, cfg, model, runtime, paths, stats, time.perf_counter() - started,
                   engine="ray", ray={"address": where, "cpus": cpus})
    return stats


def _run(ray: Any, files: list[tuple[int, str]], cfg: Config, model: Path, review: bool, cpus: int) -> Any:
    """The Ray Data pipeline over ``(index, source)`` pairs; rows ``{"idx", "result"}`` in input order."""
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # not its progress-bar notice
    ds = ray.data.from_items([{"idx": i, "source": s} for i, s in files], override_num_blocks=min(len(files), MAX_BLOCKS))
    ds = ds.map_batches(PrepareActor, batch_size=1, num_cpus=PREPARE_CPUS,
                        compute=ray.data.ActorPoolStrategy(size=min(cpus, len(files))),
                        fn_constructor_args=(cfg, model, cfg.scan.runtime, review, os.getcwd()))
    ds = ds.map_batches(ClassifyActor, batch_size=CLASSIFY_SOURCES, num_cpus=CLASSIFY_CPUS,
                        compute=ray.data.ActorPoolStrategy(size=max(1, cpus // 8)),
                        fn_constructor_args=(model, cfg.scan.runtime, cfg.scan.batch_size))
    return iter(ds.iter_rows())
