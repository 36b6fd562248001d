"""Typed configuration in one place: frozen dataclasses filled from ``configs/*.toml``.

Every tunable has a default here; a TOML file overrides some; CLI options override the file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import tomllib
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "configs"
T = TypeVar("T")


class ConfigError(Exception):
    """A config file is unreadable or names an unknown setting."""


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, naming it in any error."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: cannot read config ({e})") from e


def build(cls: type[T], table: dict[str, Any], overrides: dict[str, Any] | None = None, where: str = "") -> T:
    """Make a frozen dataclass from a TOML table and CLI overrides (``None`` values are ignored).

    Raises:
        ConfigError: a key that ``cls`` does not have, naming it and where it came from.
    """
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(table) - names
    if unknown:
        raise ConfigError(f"{where or cls.__name__}: unknown setting(s) {sorted(unknown)}; known: {sorted(names)}")
    values = {**table, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    return cls(**values)


def load_section(cls: type[T], section: str, path: Path | None, default_file: str, overrides: dict[str, Any] | None = None) -> T:
    """Load ``[section]`` of ``path`` (or ``configs/<default_file>``) into ``cls`` with overrides."""
    file = path if path is not None else CONFIG_DIR / default_file
    table = read_toml(file).get(section, {}) if file.is_file() else {}
    return build(cls, table, overrides, where=f"{file} [{section}]")


@dataclass(frozen=True)
class SourceConfig:
    """Decoding of inputs."""

    dpi: int = 200  # PDF rendering resolution
    max_pixels: int = 100_000_000  # refuse larger images (decompression-bomb guard), read from the header


@dataclass(frozen=True)
class SegmentConfig:
    """Page -> glyphs. Lengths are in pixels of the page worked on: as decoded, or scaled down to
    ``work_dpi``."""

    work_dpi: int = 200  # a page finer than 1.15x this is worked on scaled down to it; its resolution is
    # what its file states (PDF: [sources] dpi), else its shorter side taken as 8.5 in; boxes stay in
    # page pixels; 0: never

    min_contrast: int = 24  # ink must be this much darker than the local paper (0-255)
    background_kernel: int = 41  # odd; wider than the widest pen stroke
    max_skew_deg: float = 4.0  # deskew search range
    line_min_length: int = 120  # straight runs at least this long are form rules, not ink
    line_max_thickness: int = 9  # thicker runs are not printed rules
    min_height: int = 10  # glyphs shorter than this are specks
    min_area: int = 30
    max_height: int = 400
    speck_ratio: float = 0.35  # glyphs under this share of their field's median height are dropped
    merge_overlap: float = 0.5  # merge parts overlapping horizontally by this share of the narrower
    split_aspect: float = 1.15  # components wider than this x height are tried as 2 or more digits
    field_gap: float = 0.75  # a gap wider than this x digit height ends a field
    box_gap: float = 2.0  # ... except between digits over one rule or in one comb box row


@dataclass(frozen=True)
class ScanConfig:
    """Classification and reporting for `digits scan`."""

    batch_size: int = 512
    review_threshold: float = 0.90  # digits under this confidence are flagged needs_review
    reject_threshold: float = 0.5  # glyphs whose "not a digit" probability reaches this are not digits ...
    text_share: float = 0.4  # ... and a phrase with more than this share of them is printed text: dropped
    text_median: float = 0.6  # a phrase whose median digit confidence is under this is dropped too
    value_gap: float = 0.5  # a clear digit field this x its (or the label's smaller) height away from a printed label is its value
    value_confidence: float = 0.85  # a field reads clearly as digits: none rejected, median confidence this or more
    text_not_digit: float = 0.3  # a field whose glyphs' mean "not a digit" probability exceeds this is text: dropped
    runtime: str = "auto"


@dataclass(frozen=True)
class Config:
    """Everything `digits scan` / `segment` / `predict` tune, as read from configs/default.toml."""

    sources: SourceConfig = SourceConfig()
    segment: SegmentConfig = SegmentConfig()
    scan: ScanConfig = ScanConfig()


def load_config(path: Path | None = None, **overrides: dict[str, Any]) -> Config:
    """Read ``path`` (default ``configs/default.toml``) into :class:`Config`.

    Args:
        overrides: per section, e.g. ``scan={"batch_size": 256}``; ``None`` values ignored.
    """
    file = path if path is not None else CONFIG_DIR / "default.toml"
    table = read_toml(file) if file.is_file() else {}
    sections = {f.name: f.type for f in dataclasses.fields(Config)}
    unknown = set(table) - set(sections)
    if unknown:
        raise ConfigError(f"{file}: unknown section(s) {sorted(unknown)}; known: {sorted(sections)}")
    parts = {
        name: build(cls, table.get(name, {}), overrides.get(name), where=f"{file} [{name}]")
        for name, cls in (("sources", SourceConfig), ("segment", SegmentConfig), ("scan", ScanConfig))
    }
    return Config(**parts)
