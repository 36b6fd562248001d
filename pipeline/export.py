"""Rows -> CSV files, written atomically: rows go to ``*.partial`` files that are renamed into
place only when the run ends, so a crash never leaves a CSV that looks complete.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any, Iterable

DIGIT_COLUMNS = ["source", "page", "field", "index", "x", "y", "w", "h", "digit", "confidence", "alt_digit",
                 "alt_confidence", "needs_review"]
FIELD_COLUMNS = ["source", "page", "field", "x", "y", "w", "h", "text", "n_digits", "min_confidence", "needs_review"]
ERROR_COLUMNS = ["source", "page", "stage", "error", "message"]


class CsvSink:
    """An append-only CSV written to ``name.partial`` and renamed to ``name`` by :meth:`commit`."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.columns = columns
        self._file = open(self.partial, "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._writer.writerow(columns)
        self.rows = 0

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append rows (dicts keyed by column)."""
        for row in rows:
            self._writer.writerow([row[c] for c in self.columns])
            self.rows += 1

    def commit(self) -> Path:
        """Flush, fsync and rename into place."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.partial, self.path)
        return self.path


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write JSON atomically (temp file + rename)."""
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
