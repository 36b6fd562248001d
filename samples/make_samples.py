"""Write the committed sample scans and their ground truth (fixed seed, MNIST *test* digits only).

    python samples/make_samples.py [--mnist DIR] [--out samples]

Writes ``pages/`` (PNG, JPEG, a 2-page TIFF, a 2-page PDF at 200 dpi) and ``expected/truth.csv``
(``source,page,x,y,w,h,text``; source relative to ``pages/``, page 1-based). Same files every run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from samples.synth import TruthField, default_mnist_dir, load_test_digits, render_page, write_truth  # noqa: E402

SEED = 20240611
# file name -> styles of its pages
SAMPLES: dict[str, tuple[str, ...]] = {
    "form_clean.png": ("clean",),
    "form_boxes.png": ("boxes",),
    "form_grey.jpg": ("grey",),
    "form_skewed.png": ("skewed",),
    "form_blue.jpg": ("blue",),
    "batch.tif": ("ruled", "thin"),
    "scan.pdf": ("noisy", "mixed"),
}
JPEG_QUALITY = 85
PDF_DPI = 200


def _gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def _pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image)


def save_pages(path: Path, images: list[np.ndarray]) -> None:
    """Save one or more pages: PNG/JPEG (one page), TIFF (deflate, multi-page), PDF (8-bit gray, 200 dpi)."""
    suffix = path.suffix.lower()
    if suffix in (".png", ".jpg", ".jpeg"):
        if len(images) != 1:
            raise ValueError(f"images: {path.name} holds one page, got {len(images)}")
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if suffix != ".png" else [cv2.IMWRITE_PNG_COMPRESSION, 9]
        if not cv2.imwrite(str(path), images[0], params):
            raise OSError(f"{path}: could not write")
    elif suffix in (".tif", ".tiff"):
        pages = [_pil(im) for im in images]
        pages[0].save(path, save_all=True, append_images=pages[1:], compression="tiff_deflate", dpi=(PDF_DPI, PDF_DPI))
    elif suffix == ".pdf":
        pages = [Image.fromarray(_gray(im)) for im in images]
        stamp = time.gmtime(1_704_067_200)  # fixed dates (2024-01-01): the same bytes every run
        pages[0].save(path, save_all=True, append_images=pages[1:], resolution=float(PDF_DPI),
                      creationDate=stamp, modDate=stamp, title="digits sample scan", producer="make_samples.py")
    else:
        raise ValueError(f"path: unsupported sample type {path.name}")


def make_samples(mnist: Path, out: Path) -> list[tuple[str, TruthField]]:
    """Render every sample file into ``out/pages`` and write ``out/expected/truth.csv``."""
    digits, labels = load_test_digits(mnist)
    pages_dir = out / "pages"
    pages_dir.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, TruthField]] = []
    for i, (name, styles) in enumerate(SAMPLES.items()):
        rng = np.random.default_rng([SEED, i])
        images = []
        for page, style in enumerate(styles, start=1):
            image, truth = render_page(rng, digits, labels, style)
            images.append(image)
            rows += [(name, TruthField(page, t.x, t.y, t.w, t.h, t.text)) for t in truth]
        save_pages(pages_dir / name, images)
    write_truth(out / "expected" / "truth.csv", rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=None, help="folder with the MNIST t10k IDX files")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="samples folder")
    args = parser.parse_args(argv)
    mnist = args.mnist if args.mnist is not None else default_mnist_dir()
    rows = make_samples(mnist, args.out)
    total = 0
    for name in SAMPLES:
        size = (args.out / "pages" / name).stat().st_size
        total += size
        n = sum(1 for source, _ in rows if source == name)
        print(f"{name:18s} {size / 1024:8.1f} KiB  {n:3d} fields")
    print(f"{'total':18s} {total / 1024:8.1f} KiB  {len(rows):3d} fields -> {args.out / 'expected' / 'truth.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
