"""Rows -> CSV files, written atomically and resumably.

Rows go to ``*.partial`` files that are renamed into place only when the run ends, so a crash
never leaves a CSV that looks complete. Beside them, a completion log (``completed.jsonl``) gets
one line per source *after* that source's rows are flushed and fsynced into the partial CSVs:
a reader (and ``--resume``) trusts only rows of sources named in the log.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

DIGIT_COLUMNS = ["source", "page", "field", "index", "x", "y", "w", "h", "digit", "confidence", "alt_digit",
                 "alt_confidence", "needs_review"]
FIELD_COLUMNS = ["source", "page", "field", "x", "y", "w", "h", "text", "n_digits", "min_confidence", "needs_review"]
ERROR_COLUMNS = ["source", "page", "stage", "error", "message"]
COMPLETION_LOG = "completed.jsonl"

SourceKey = tuple[str, int | None, int | None]  # (source as given, size in bytes, mtime_ns); None: not a file


class CsvSink:
    """An append-only CSV written to ``name.partial`` and renamed to ``name`` by :meth:`commit`.

    With ``append=True`` an existing ``name.partial`` is continued (its header kept).
    """

    def __init__(self, path: Path, columns: list[str], append: bool = False) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.columns = columns
        cont = append and self.partial.is_file() and self.partial.stat().st_size > 0
        self._file = open(self.partial, "a" if cont else "w", newline="", encoding="utf-8")  # noqa: SIM115 -- held open across writes
        self._writer = csv.writer(self._file)
        if not cont:
            self._writer.writerow(columns)
        self.rows = 0

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append rows (dicts keyed by column)."""
        for row in rows:
            self._writer.writerow([row[c] for c in self.columns])
            self.rows += 1

    def sync(self) -> None:
        """Flush and fsync what was written so far (before the completion log names it)."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Flush and close, leaving ``name.partial`` in place (an interrupted run)."""
        if not self._file.closed:
            self._file.flush()
            self._file.close()

    def commit(self) -> Path:
        """Flush, fsync and rename into place."""
        self.sync()
        self._file.close()
        os.replace(self.partial, self.path)
        return self.path


class CompletionLog:
    """``completed.jsonl``: one JSON line per finished source, appended and fsynced in order.

    Each line is ``{"source": str, "size": int | null, "mtime_ns": int | null}`` (nulls for
    inputs that are not files, e.g. a folder that could not be listed).
    """

    def __init__(self, path: Path, append: bool = False) -> None:
        self.path = Path(path)
        self._file = open(self.path, "a" if append else "w", encoding="utf-8")  # noqa: SIM115 -- held open across writes

    def add(self, keys: Iterable[SourceKey]) -> None:
        """Record sources as complete (call after their rows were synced)."""
        for source, size, mtime in keys:
            self._file.write(json.dumps({"source": source, "size": size, "mtime_ns": mtime}, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def read_completion_log(path: Path) -> dict[str, SourceKey]:
    """Source -> its key, from a completion log; a torn last line (killed mid-write) is ignored."""
    done: dict[str, SourceKey] = {}
    if not path.is_file():
        return done
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                entry = json.loads(line)
                done[entry["source"]] = (entry["source"], entry["size"], entry["mtime_ns"])
            except (ValueError, KeyError, TypeError):
                continue
    return done


def source_key(source: str) -> SourceKey:
    """(source, size, mtime_ns) of a file as it is now; (source, None, None) when it cannot be read."""
    try:
        st = os.stat(source)
    except (OSError, ValueError):
        return (source, None, None)
    return (source, st.st_size, st.st_mtime_ns)


def prepare_resume(out_dir: Path, names: dict[str, list[str]]) -> tuple[dict[str, SourceKey], dict[str, int]]:
    """Get ``out_dir`` ready to continue a run: the sources that are complete and unchanged.

    A logged file whose size or mtime changed since (or that is gone) counts as not done. Each
    CSV (its ``.partial``, else the committed file of a finished run) is rewritten as
    ``.partial`` keeping only rows of sources that are done, so rows of a source that was
    interrupted half-written are discarded and none is doubled when it is read again.

    Args:
        names: CSV file name -> its columns, e.g. ``{"digits.csv": DIGIT_COLUMNS}``.

    Returns:
        (source -> key of every source to skip, CSV name -> rows kept); the log is rewritten to
        hold exactly these sources.
    """
    log_path = out_dir / COMPLETION_LOG
    done = {s: k for s, k in read_completion_log(log_path).items() if k[1] is None or source_key(s) == k}
    tmp = log_path.with_name(log_path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"source": source, "size": size, "mtime_ns": mtime}, ensure_ascii=False) + "\n" for source, size, mtime in done.values())
    os.replace(tmp, log_path)
    kept = dict.fromkeys(names, 0)
    for name, columns in names.items():
        final, partial = out_dir / name, out_dir / (name + ".partial")
        old = partial if partial.is_file() else final if final.is_file() else None
        tmp = out_dir / (name + ".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as dst:
            writer = csv.writer(dst)
            writer.writerow(columns)
            if old is not None:
                with open(old, newline="", encoding="utf-8") as src:
                    reader = csv.reader(src)
                    next(reader, None)
                    for row in reader:
                        if len(row) == len(columns) and row[0] in done:
                            writer.writerow(row)
                            kept[name] += 1
        os.replace(tmp, partial)
        if old == final:
            final.unlink()
    return done, kept


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write JSON atomically (temp file + rename)."""
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
