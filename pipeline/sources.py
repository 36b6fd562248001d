"""Inputs -> pages: find image and PDF files, decode them into grey (or BGR) pages.

Two stages, both lazy and both total (every failure comes back as a :class:`PageError` naming the
file, nothing is raised for a bad input):

- :func:`find_sources` turns the paths a person named (files and folders) into the supported files
  under them, in a deterministic order.
- :func:`read_pages` decodes one file into its pages, one page in memory at a time: PNG, JPEG and
  BMP give one page, TIFF every page of the file, PDF every page rendered at ``dpi``.

Images are decoded with Pillow (strict about truncated files, reads the header before the pixels,
reads the pages of a TIFF one by one); 16-bit colour, which Pillow cuts to its high byte, goes
through OpenCV instead. PDF pages are rendered with pypdfium2.

Conversions, so that every page comes out as ``uint8``:

- colour -> grey with OpenCV's ``cvtColor`` weights (0.299 R + 0.587 G + 0.114 B);
- transparency (alpha channel, transparent palette entry) -> composited on white paper;
- palette, CMYK, YCbCr, 1-bit, grey+alpha -> grey (or BGR when ``color=True``);
- samples deeper than 8 bits (16-bit grey or colour, 32-bit integer, float) -> scaled from the
  smallest bit depth that holds the image's largest sample: full scale is ``2**b - 1`` for the
  smallest ``b >= 8`` with ``max <= 2**b - 1``. A 12-bit scan stored in 16 bits (0..4095) comes
  out with full contrast (4095 -> 255), a true 16-bit image is divided by 257, and an image that
  only uses 0..255 is kept as it is. Levels stay proportional (no min/max stretch, so a blank grey
  page does not turn into amplified noise). Float images with a maximum <= 1 are taken as 0..1.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
from PIL import Image, ImageOps, UnidentifiedImageError

SUPPORTED = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pdf"}

# Pillow may only pick these decoders, whatever the file name says (no EPS, no exotic plugins).
_PIL_FORMATS = ("PNG", "JPEG", "TIFF", "BMP")  # JPEG also opens MPO (camera) files
_DEEP_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}
_ORIENTATION = 0x0112  # EXIF tag


@dataclass(frozen=True, eq=False)  # eq=False: comparing pages element-wise would be ambiguous
class Page:
    """One decoded page.

    ``image`` is (H, W) uint8 grey, or (H, W, 3) uint8 BGR when read with ``color=True``.
    ``source`` is the file path as a string, as found (not resolved); ``page`` is 1-based
    (1 for single images). ``dpi`` is the resolution the file states (a PDF: the one it was
    rendered at), 0 when it states none a scanner would (see :func:`_stated_dpi`).
    """

    image: np.ndarray
    source: str
    page: int
    dpi: float = 0.0


@dataclass(frozen=True)
class PageError:
    """A file, or one page of a file, that could not be found or decoded (one row of errors.csv).

    ``page`` is None when the whole file failed, else the 1-based page of a TIFF or PDF that
    failed. ``stage`` is ``"find"`` or ``"decode"``. ``error`` is a short machine-readable kind:
    ``not_found``, ``unsupported``, ``not_a_file``, ``permission``, ``symlink_loop``, ``io_error``
    (found by :func:`find_sources` or :func:`read_pages`); ``empty_file``, ``corrupt``,
    ``too_large``, ``encrypted_pdf``, ``no_pages`` (from :func:`read_pages`). ``message`` is
    for people and names the file and the problem.
    """

    source: str
    page: int | None
    stage: str
    error: str
    message: str


class SourceError(Exception):
    """A decode failure on its way to becoming a :class:`PageError` (used inside this module)."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


# ---------------------------------------------------------------------------------------------
# finding files


def find_sources(paths: Iterable[str | Path]) -> Iterator[Path | PageError]:
    """Files and folders -> the supported files under them (or a :class:`PageError` each).

    Folders are walked recursively, entries in sorted name order, depth first, so the result is
    deterministic. Inside folders, hidden entries (names starting with ``.``) and files with an
    unsupported extension are skipped silently; a directory whose name looks like an image
    (``x.jpg/``) is walked like any folder (an empty one is a ``not_a_file`` error: a file was
    meant). Symbolic links are followed; a link that loops (to
    itself, or back to a folder being walked) gives one ``symlink_loop`` error and the walk goes
    on. A path named explicitly is never dropped silently: missing -> ``not_found``, unsupported
    extension -> ``unsupported``, not a regular file -> ``not_a_file``.

    Args:
        paths: files and folders, as ``str`` or :class:`~pathlib.Path`.

    Returns:
        An iterator of :class:`~pathlib.Path` (built from the paths as given, not resolved) and
        :class:`PageError` with ``stage="find"`` and ``page=None``.

    Example:
        >>> files = [p for p in find_sources(["scans/"]) if isinstance(p, Path)]
    """
    if isinstance(paths, (str, bytes, Path)):
        raise TypeError(f"paths must be an iterable of paths, not a single {type(paths).__name__}")
    return _find_all(paths)


def _find_all(paths: Iterable[str | Path]) -> Iterator[Path | PageError]:
    for raw in paths:
        path = Path(raw)
        found = _stat(path, str(path), "find")
        if isinstance(found, PageError):
            yield found
        elif stat.S_ISDIR(found.st_mode):
            if path.suffix.lower() in SUPPORTED and _list_dir(path) == []:
                yield _find_error(path, "not_a_file", "is an empty folder, not an image file")
            else:
                yield from _walk(path, found)
        elif not stat.S_ISREG(found.st_mode):
            yield _find_error(path, "not_a_file", "not a regular file")
        elif path.suffix.lower() in SUPPORTED:
            yield path
        else:
            yield _find_error(path, "unsupported", f"unsupported file type {path.suffix or '(no extension)'!r}; "
                              f"expected one of {', '.join(sorted(SUPPORTED))}")


def _walk(root: Path, root_stat: os.stat_result) -> Iterator[Path | PageError]:
    """Depth-first walk in sorted order with loop detection (iterative: no recursion limit)."""
    names = _list_dir(root)
    if isinstance(names, PageError):
        yield names
        return
    stack: list[tuple[Path, Iterator[str]]] = [(root, iter(names))]
    ancestors: list[tuple[int, int]] = [_dir_key(root_stat)]
    while stack:
        folder, entries = stack[-1]
        name = next(entries, None)
        if name is None:
            stack.pop()
            ancestors.pop()
            continue
        path = folder / name
        supported = path.suffix.lower() in SUPPORTED
        found = _stat(path, str(path), "find")
        if isinstance(found, PageError):
            # a broken link or a vanished file matters only when it looked like an input
            if found.error != "not_found" or supported:
                yield found
        elif stat.S_ISDIR(found.st_mode):
            key = _dir_key(found)
            if key in ancestors:
                yield _find_error(path, "symlink_loop", "symbolic link loops back to a folder being walked")
                continue
            sub = _list_dir(path)
            if isinstance(sub, PageError):
                yield sub
                continue
            if supported and not sub:  # an empty x.jpg/: a file was meant, never silently nothing
                yield _find_error(path, "not_a_file", "is an empty folder, not an image file")
                continue
            stack.append((path, iter(sub)))
            ancestors.append(key)
        elif supported:
            yield path if stat.S_ISREG(found.st_mode) else _find_error(path, "not_a_file", "not a regular file")


def _list_dir(folder: Path) -> list[str] | PageError:
    """Sorted names of a folder's entries, hidden ones left out."""
    try:
        names = os.listdir(folder)
    except PermissionError:
        return _find_error(folder, "permission", "cannot list folder: permission denied")
    except OSError as e:
        return _find_error(folder, "io_error", f"cannot list folder: {e.strerror or e}")
    return sorted(n for n in names if not n.startswith("."))


def _dir_key(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


def _find_error(path: Path, error: str, problem: str) -> PageError:
    return PageError(str(path), None, "find", error, f"{path}: {problem}")


def _stat(path: Path, source: str, stage: str) -> os.stat_result | PageError:
    """``os.stat`` (following links), its failures as a :class:`PageError` of ``stage`` naming ``source``."""

    def fail(error: str, problem: str) -> PageError:
        return PageError(source, None, stage, error, f"{source}: {problem}")

    try:
        return os.stat(path)
    except FileNotFoundError:
        return fail("not_found", "broken symbolic link" if os.path.islink(path) else "no such file or folder")
    except PermissionError:
        return fail("permission", "permission denied")
    except ValueError:  # a NUL byte in the name
        return fail("not_found", "invalid path")
    except OSError as e:
        if e.errno == errno.ELOOP:
            return fail("symlink_loop", "symbolic link loop")
        return fail("io_error", f"cannot access: {e.strerror or e}")


# ---------------------------------------------------------------------------------------------
# decoding pages


def read_pages(
    path: str | Path, dpi: int = 200, max_pixels: int = 100_000_000, color: bool = False
) -> Iterator[Page | PageError]:
    """Decode one file into its pages, lazily (one page in memory at a time).

    PNG, JPEG and BMP give one page (JPEG EXIF orientation applied). TIFF gives every page of the
    file; a page that fails to decode gives a :class:`PageError` for that page and the others
    still come (a broken page directory ends the file, as later pages cannot be reached). PDF gives
    every page rendered at ``dpi`` on white. The kind of file is decided by its content (a PDF
    header, else an image decoder), so a PNG named ``.jpg`` still reads.

    Every failure is yielded as a :class:`PageError` with ``stage="decode"`` naming the file:
    ``not_found``, ``permission``, ``symlink_loop``, ``not_a_file`` (a folder, a FIFO),
    ``unsupported`` (extension not in :data:`SUPPORTED`), ``empty_file`` (zero bytes),
    ``corrupt`` (not an image, truncated, broken PDF, bad page), ``too_large`` (more than
    ``max_pixels`` pixels, decided from the header or the PDF page size before any pixel is
    decoded), ``encrypted_pdf``, ``no_pages``, ``io_error``.

    Args:
        path: the file; ``Page.source`` is ``str(path)`` as given.
        dpi: PDF rendering resolution, dots per inch (> 0).
        max_pixels: refuse pages with more pixels than this (> 0). Pillow refuses on its own
            images above twice ``PIL.Image.MAX_IMAGE_PIXELS`` (about 179 M pixels by default),
            which is reported as ``too_large`` too.
        color: return (H, W, 3) uint8 BGR pages instead of (H, W) uint8 grey.

    Returns:
        An iterator of :class:`Page` and :class:`PageError`.

    Raises:
        ValueError: ``dpi`` or ``max_pixels`` is not a positive integer (bad usage, not bad data).

    Example:
        >>> for page in read_pages("form.pdf", dpi=200):
        ...     if isinstance(page, Page):
        ...         print(page.page, page.image.shape)  # 1 (2200, 1700)
    """
    _check_positive_int("dpi", dpi)
    _check_positive_int("max_pixels", max_pixels)
    return _read(path, str(path), dpi, max_pixels, color)


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _read(path: str | Path, source: str, dpi: int, max_pixels: int, color: bool) -> Iterator[Page | PageError]:
    """The decoder behind :func:`read_pages`: no exception leaves it, each becomes a PageError."""
    last_page = 0  # the last page yielded, to place an unexpected failure
    try:
        found = _stat(Path(path), source, "decode")
        if isinstance(found, PageError):
            yield found
            return
        if stat.S_ISDIR(found.st_mode):
            raise SourceError("not_a_file", "is a folder, not a file")
        if not stat.S_ISREG(found.st_mode):
            raise SourceError("not_a_file", "not a regular file")
        suffix = Path(path).suffix.lower()
        if suffix not in SUPPORTED:
            raise SourceError("unsupported", f"unsupported file type {suffix or '(no extension)'!r}")
        if found.st_size == 0:
            raise SourceError("empty_file", "empty file (0 bytes)")
        with _open(path) as fh:
            is_pdf = suffix == ".pdf" or fh.read(5) == b"%PDF-"
            fh.seek(0)
            pages = _pdf_pages(path, source, dpi, max_pixels, color) if is_pdf else \
                _image_pages(fh, path, source, max_pixels, color)
            for item in pages:
                last_page = item.page or last_page
                yield item
    except SourceError as e:
        yield PageError(source, None, "decode", e.error, f"{source}: {e.message}")
    except PermissionError:
        yield PageError(source, None, "decode", "permission", f"{source}: permission denied")
    except MemoryError:
        yield PageError(source, None, "decode", "too_large", f"{source}: out of memory while decoding")
    except OSError as e:
        yield PageError(source, None, "decode", "io_error", f"{source}: cannot read file: {e.strerror or e}")
    except Exception as e:  # noqa: BLE001 -- a decoder bug must not end the run: report it against the file
        page = last_page + 1 if last_page else None
        where = f" page {page}" if page else ""
        yield PageError(source, page, "decode", "corrupt", f"{source}{where}: cannot decode ({type(e).__name__}: {e})")


def _open(path: str | Path) -> BinaryIO:
    """Open a file for binary reading (one place, so tests can simulate permission errors)."""
    return open(path, "rb")


# --- images -------------------------------------------------------------------------------------


def _image_pages(fh: BinaryIO, path: str | Path, source: str, max_pixels: int,
                 color: bool) -> Iterator[Page | PageError]:
    """PNG/JPEG/BMP: one page; TIFF: page by page (Pillow reads only the header on open)."""
    try:
        with warnings.catch_warnings():  # bomb warnings (our own limit applies), corrupt-EXIF notes:
            warnings.simplefilter("ignore")  # the outcome is a Page or a PageError either way
            im = Image.open(fh, formats=_PIL_FORMATS)
    except Image.DecompressionBombError as e:
        raise SourceError("too_large", _bomb_message(e, max_pixels)) from None
    except UnidentifiedImageError:
        raise SourceError("corrupt", "cannot decode image: not a PNG, JPEG, TIFF or BMP image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise SourceError("corrupt", f"cannot decode image ({e})") from None
    with im:
        if im.format != "TIFF":
            page = _decode_frame(im, fh, path, 1, max_pixels, color)
            if isinstance(page, SourceError):
                raise page
            yield Page(page, source, 1, _stated_dpi(im))
            return
        number = 1
        while True:
            if number > 1:
                try:
                    im.seek(number - 1)
                except EOFError:
                    return
                except Exception as e:  # noqa: BLE001 -- the chain of page directories is broken
                    yield PageError(source, number, "decode", "corrupt",
                                    f"{source} page {number}: cannot read the page directory ({e}); "
                                    "later pages cannot be reached")
                    return
            frame = _decode_frame(im, fh, path, number, max_pixels, color)
            if isinstance(frame, SourceError):
                yield PageError(source, number, "decode", frame.error, f"{source} page {number}: {frame.message}")
            else:
                yield Page(frame, source, number, _stated_dpi(im))
            number += 1


def _decode_frame(im: Image.Image, fh: BinaryIO, path: str | Path, number: int, max_pixels: int,
                  color: bool) -> np.ndarray | SourceError:
    """The current frame of an opened image -> (H, W) grey or (H, W, 3) BGR uint8, or the failure."""
    w, h = im.size
    if w * h > max_pixels:
        return SourceError("too_large", f"image too large: {w}x{h} = {w * h:,} pixels > max_pixels {max_pixels:,}")
    if w <= 0 or h <= 0:
        return SourceError("corrupt", f"image has no pixels ({w}x{h})")
    try:
        if im.mode in ("RGB", "RGBA") and ";16" in _rawmode(im):
            bgr = _decode_deep_colour(im, fh, path, number)  # Pillow would keep only the high byte
            if bgr.shape[:2] != (h, w):
                return SourceError("corrupt", "cannot decode image (OpenCV and the header disagree on the size)")
            return _deep_colour_to_uint8(bgr, color)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im.load()
            if im.format in ("JPEG", "MPO"):
                im = _exif_upright(im)
            return _pil_to_array(im, color)
    except SourceError as e:
        return e
    except Image.DecompressionBombError as e:
        return SourceError("too_large", _bomb_message(e, max_pixels))
    except MemoryError:
        return SourceError("too_large", f"out of memory decoding a {w}x{h} image")
    except Exception as e:  # noqa: BLE001 -- OSError (truncated, decoder error), SyntaxError, ValueError...
        return SourceError("corrupt", f"cannot decode image ({e})")


def _stated_dpi(im: Image.Image) -> float:
    """The resolution an image file states, when it is a scanner's: 100-2400 dpi on both axes
    (the lower of the two); else 0 (none, or a screen default such as 72 or 96)."""
    try:
        x, y = (float(v) for v in im.info.get("dpi", (0, 0)))
    except (TypeError, ValueError):
        return 0.0
    return min(x, y) if 100 <= min(x, y) and max(x, y) <= 2400 else 0.0


def _bomb_message(e: Image.DecompressionBombError, max_pixels: int) -> str:
    """Pillow refused the size before reading pixels: say how large, against which limit."""
    found = re.search(r"\((\d+) pixels\)", str(e))
    if found is None:
        return f"image too large ({e})"
    pixels = int(found.group(1))
    if pixels > max_pixels:
        return f"image too large: {pixels:,} pixels > max_pixels {max_pixels:,}"
    return f"image too large: {pixels:,} pixels > Pillow's decompression-bomb limit ({e})"


def _rawmode(im: Image.Image) -> str:
    """The raw sample layout of the current frame (e.g. ``'RGB;16B'``), '' when unknown."""
    tile = getattr(im, "tile", None) or []
    if not tile:
        return ""
    args = tile[0][3]
    if isinstance(args, str):
        return args
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    return ""


def _decode_deep_colour(im: Image.Image, fh: BinaryIO, path: str | Path, number: int) -> np.ndarray:
    """16-bit colour through OpenCV -> (H, W, 3|4) uint16 BGR(A); the result is checked for None."""
    if im.format == "TIFF":
        ok, mats = cv2.imreadmulti(str(path), start=number - 1, count=1, flags=cv2.IMREAD_UNCHANGED)
        image = mats[0] if ok and mats else None
    else:
        fh.seek(0)
        image = cv2.imdecode(np.frombuffer(fh.read(), np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise SourceError("corrupt", "cannot decode image (OpenCV could not decode the 16-bit colour data)")
    if image.ndim == 2:
        image = image[:, :, None]
    return image


def _exif_upright(im: Image.Image) -> Image.Image:
    """Apply a camera's EXIF orientation; unreadable EXIF leaves the image as it is."""
    try:
        orientation = im.getexif().get(_ORIENTATION, 1)
    except Exception:  # noqa: BLE001 -- bad metadata must not lose the page
        return im
    return ImageOps.exif_transpose(im) if orientation in range(2, 9) else im


def _pil_to_array(im: Image.Image, color: bool) -> np.ndarray:
    """A loaded Pillow frame -> (H, W) uint8 grey or (H, W, 3) uint8 BGR."""
    mode = im.mode
    if mode in _DEEP_MODES:
        grey = _deep_to_uint8(np.asarray(im))
        return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR) if color else grey
    try:
        if mode in ("PA", "RGBa") or (mode in ("P", "L", "RGB") and "transparency" in im.info):
            im, mode = im.convert("RGBA"), "RGBA"  # a transparent palette entry or grey/colour key
        elif mode == "1":
            im, mode = im.convert("L"), "L"
        elif mode == "La":
            im, mode = im.convert("LA"), "LA"
        elif mode not in ("L", "LA", "RGB", "RGBA"):  # P, CMYK, YCbCr, RGBX, ...
            im, mode = im.convert("RGB"), "RGB"
    except ValueError as e:
        raise SourceError("unsupported", f"cannot convert colour mode {mode} ({e})") from None
    arr = np.asarray(im)
    if mode == "L":
        return cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR) if color else np.array(arr)
    if mode == "LA":
        grey = _composite_on_white(arr[:, :, 0], arr[:, :, 1])
        return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR) if color else grey
    rgb = _composite_on_white(arr[:, :, :3], arr[:, :, 3]) if mode == "RGBA" else arr
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR if color else cv2.COLOR_RGB2GRAY)


def _deep_colour_to_uint8(bgra: np.ndarray, color: bool) -> np.ndarray:
    """(H, W, 3|4) uint16 BGR(A) -> (H, W) grey or (H, W, 3) BGR uint8 (alpha on white)."""
    bgr = _deep_to_uint8(bgra[:, :, :3])
    if bgra.shape[2] == 4:
        alpha = np.round(bgra[:, :, 3] * (255 / np.iinfo(bgra.dtype).max)).astype(np.uint8)
        bgr = _composite_on_white(bgr, alpha)
    return bgr if color else cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def _deep_to_uint8(values: np.ndarray) -> np.ndarray:
    """Samples of any depth -> uint8, full scale taken from the smallest bit depth that holds them.

    Full scale is ``2**b - 1`` for the smallest ``b >= 8`` with ``max(values) <= 2**b - 1``;
    floats whose maximum is <= 1 are taken as 0..1. Negative samples and NaN become 0.

    Args:
        values: any shape, any integer or float dtype (e.g. (H, W) uint16).

    Returns:
        The same shape, uint8, rounded.

    Example:
        >>> _deep_to_uint8(np.array([0, 2048, 4095], np.uint16))  # a 12-bit scan in 16 bits
        array([  0, 128, 255], dtype=uint8)
    """
    if values.dtype == np.uint8:
        return np.array(values)
    if values.size == 0:
        return np.zeros(values.shape, np.uint8)
    if values.dtype.kind == "f":
        finite = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        top = float(finite.max())
        full = 1.0 if top <= 1.0 else float(2 ** max(8, math.ceil(top).bit_length()) - 1)
        return np.round(np.clip(finite, 0, full) * (255 / full)).astype(np.uint8)
    top = int(values.max())
    full = 2 ** max(8, top.bit_length()) - 1
    if values.dtype in (np.uint16, np.dtype(">u2"), np.dtype("<u2")):
        lut = np.round(np.arange(65536, dtype=np.float64) * (255 / full)).clip(0, 255).astype(np.uint8)
        return lut[values.astype(np.uint16, copy=False)]  # 1 byte a pixel, no float copy of the page
    scaled = np.clip(values, 0, None).astype(np.float32) * np.float32(255 / full)
    return np.round(scaled).astype(np.uint8)


def _composite_on_white(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Lay colour with an alpha channel on white paper: ``c * a + 255 * (1 - a)``, rounded.

    Args:
        colour: (H, W) or (H, W, C) uint8.
        alpha: (H, W) uint8, 0 = transparent, 255 = opaque.

    Returns:
        uint8 of ``colour``'s shape.

    Example:
        >>> _composite_on_white(np.array([[0, 0]], np.uint8), np.array([[0, 255]], np.uint8))
        array([[255,   0]], dtype=uint8)
    """
    a = alpha.astype(np.uint16)
    if colour.ndim == 3:
        a = a[:, :, None]
    out = (colour.astype(np.uint16) * a + 255 * (255 - a) + 127) // 255
    return out.astype(np.uint8)


# --- PDF ----------------------------------------------------------------------------------------


def _pdf_pages(path: str | Path, source: str, dpi: int, max_pixels: int, color: bool) -> Iterator[Page | PageError]:
    """Every page rendered at ``dpi`` on white; the size is checked before rendering."""
    doc = _open_pdf(path)
    try:
        if len(doc) == 0:
            raise SourceError("no_pages", "PDF has no pages")
        scale = dpi / 72
        for index in range(len(doc)):
            page = _render_pdf_page(doc, index, scale, max_pixels, color)
            if isinstance(page, SourceError):
                yield PageError(source, index + 1, "decode", page.error, f"{source} page {index + 1}: {page.message}")
            else:
                yield Page(page, source, index + 1, float(dpi))
    finally:
        doc.close()


def _open_pdf(path: str | Path) -> pdfium.PdfDocument:
    """Load a PDF with pdfium's own call, so that a failure's reason is this load's.

    ``pypdfium2.PdfDocument(path)`` refuses a document with zero pages and then reports
    ``FPDF_GetLastError()``, which pdfium leaves unchanged on a successful load: an empty PDF read
    after an encrypted one would be called encrypted. Here the handle says whether the load failed.
    """
    handle = pdfium_raw.FPDF_LoadDocument(os.fsencode(path) + b"\0", None)
    if not handle:
        code = pdfium_raw.FPDF_GetLastError()
        if code in (pdfium_raw.FPDF_ERR_PASSWORD, pdfium_raw.FPDF_ERR_SECURITY):
            raise SourceError("encrypted_pdf", "PDF is encrypted (password protected); cannot read it")
        if code == pdfium_raw.FPDF_ERR_FILE:
            raise SourceError("io_error", "cannot open the PDF file")
        reason = {pdfium_raw.FPDF_ERR_FORMAT: "not a PDF or damaged"}.get(code, f"pdfium error {code}")
        raise SourceError("corrupt", f"broken PDF, cannot open it ({reason})")
    return pdfium.PdfDocument(handle)


def _render_pdf_page(doc: pdfium.PdfDocument, index: int, scale: float, max_pixels: int,
                     color: bool) -> np.ndarray | SourceError:
    """Page ``index`` -> (H, W) grey or (H, W, 3) BGR uint8, or why not."""
    try:
        page = doc[index]
    except Exception as e:  # noqa: BLE001 -- one bad page must not end the file
        return SourceError("corrupt", f"cannot load page ({e})")
    try:
        width, height = page.get_size()
        w, h = math.ceil(width * scale), math.ceil(height * scale)  # as pypdfium2 sizes the bitmap
        if w * h > max_pixels:
            return SourceError("too_large", f"page too large at this dpi: {w}x{h} = {w * h:,} pixels "
                                            f"> max_pixels {max_pixels:,}")
        if w <= 0 or h <= 0:
            return SourceError("corrupt", f"page has no area ({width}x{height} pt)")
        bitmap = page.render(scale=scale)  # BGR on white
        try:
            bgr = bitmap.to_numpy()
            if bgr.ndim != 3 or bgr.shape[2] < 3:
                return SourceError("corrupt", f"unexpected rendered bitmap of shape {bgr.shape}")
            bgr = bgr[:, :, :3]  # a view of pdfium's buffer, freed below: copy out of it
            return np.array(bgr, copy=True) if color else cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        finally:
            bitmap.close()
    except MemoryError:
        return SourceError("too_large", "out of memory rendering the page")
    except Exception as e:  # noqa: BLE001 -- one bad page must not end the file
        return SourceError("corrupt", f"cannot render page ({e})")
    finally:
        page.close()
