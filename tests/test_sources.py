"""pipeline.sources: finding input files and decoding them into pages.

Every input is made here in tmp_path (no committed binaries): images with OpenCV and Pillow,
PDFs with Pillow, pypdfium2 or by hand (the encrypted and the empty ones).
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageFile

from pipeline import sources
from pipeline.sources import SUPPORTED, Page, PageError, find_sources, read_pages

RNG = np.random.default_rng(7)


# --- helpers ------------------------------------------------------------------------------------


def pages_of(path: Path | str, **kw: object) -> list[Page | PageError]:
    return list(read_pages(path, **kw))  # type: ignore[arg-type]


def one_page(path: Path | str, **kw: object) -> Page:
    items = pages_of(path, **kw)
    assert len(items) == 1, items
    assert isinstance(items[0], Page), items[0]
    return items[0]


def one_error(path: Path | str, **kw: object) -> PageError:
    items = pages_of(path, **kw)
    assert len(items) == 1, items
    assert isinstance(items[0], PageError), items[0]
    assert items[0].stage == "decode"
    assert str(path) in items[0].message  # the message names the file
    return items[0]


def grey_png(path: Path, h: int = 30, w: int = 40) -> np.ndarray:
    img = RNG.integers(0, 256, (h, w), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)
    return img


def pdf_with_pages(path: Path, values: list[int], size: tuple[int, int] = (200, 100)) -> Path:
    """A PDF of flat grey pages, each ``size`` pixels at 200 dpi (so 72 x 36 pt by default)."""
    imgs = [Image.fromarray(np.full(size[::-1], v, np.uint8)) for v in values]
    imgs[0].save(path, save_all=True, append_images=imgs[1:], resolution=200)
    return path


def hand_pdf(objects: list[bytes], trailer_extra: bytes = b"") -> bytes:
    """A minimal PDF: numbered objects, a correct xref table, a trailer with /Root 1 0 R."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer_extra, xref)
    return bytes(out)


_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    i = j = 0
    out = bytearray()
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def encrypted_pdf(user_password: bytes = b"secret", owner_password: bytes = b"owner") -> bytes:
    """A one-page PDF under the standard security handler, RC4 40-bit (PDF 1.4, algorithms 2-4).

    The page has no content stream, so nothing else needs encrypting.
    """
    def pad(password: bytes) -> bytes:
        return (password + _PAD)[:32]

    owner_key = _rc4(hashlib.md5(pad(owner_password)).digest()[:5], pad(user_password))
    perms, doc_id = -4, bytes(16)
    key = hashlib.md5(pad(user_password) + owner_key + perms.to_bytes(4, "little", signed=True) + doc_id).digest()[:5]
    user_key = _rc4(key, _PAD)
    encrypt = b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>" % (
        owner_key.hex().encode(), user_key.hex().encode(), perms)
    ident = doc_id.hex().encode()
    return hand_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                     b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                     b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 36] >>",
                     encrypt],
                    b"/Encrypt 4 0 R /ID [<%s> <%s>] " % (ident, ident))


def png_header_only(path: Path, w: int, h: int) -> Path:
    """A PNG whose header claims w x h grey pixels, with no real pixel data (a few dozen bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    return path


def full_contrast(v: np.ndarray, full: int) -> np.ndarray:
    return np.round(v.astype(np.float64) * 255 / full).astype(np.uint8)


# --- images: exact values -----------------------------------------------------------------------


def test_grey_png_round_trips_exactly(tmp_path: Path) -> None:
    img = grey_png(tmp_path / "g.png", 37, 53)
    page = one_page(tmp_path / "g.png")
    assert page.image.dtype == np.uint8 and page.image.shape == (37, 53)
    np.testing.assert_array_equal(page.image, img)
    assert page.source == str(tmp_path / "g.png") and page.page == 1
    page.image[0, 0] = 1  # a writable array of its own


def test_read_pages_is_lazy_iterator(tmp_path: Path) -> None:
    grey_png(tmp_path / "g.png")
    it = read_pages(tmp_path / "g.png")
    assert iter(it) is it and not isinstance(it, list)


def test_colour_png_to_grey_with_opencv_weights(tmp_path: Path) -> None:
    bgr = np.array([[[0, 0, 255], [0, 255, 0], [255, 0, 0], [255, 255, 255], [0, 0, 0]]], np.uint8)
    noise = RNG.integers(0, 256, (10, 5, 3), dtype=np.uint8)
    img = np.concatenate([bgr, noise])
    cv2.imwrite(str(tmp_path / "c.png"), img)
    grey = one_page(tmp_path / "c.png").image
    assert grey.shape == (11, 5)
    assert grey[0].tolist() == [76, 150, 29, 255, 0]  # red, green, blue, white, black
    np.testing.assert_array_equal(grey, cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))


def test_color_true_gives_bgr(tmp_path: Path) -> None:
    img = RNG.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "c.png"), img)
    page = one_page(tmp_path / "c.png", color=True)
    assert page.image.shape == (9, 7, 3) and page.image.dtype == np.uint8
    np.testing.assert_array_equal(page.image, img)  # BGR, as OpenCV wrote it
    grey = grey_png(tmp_path / "g.png", 4, 6)
    out = one_page(tmp_path / "g.png", color=True).image
    assert out.shape == (4, 6, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], grey)


def test_rgba_transparent_background_reads_white(tmp_path: Path) -> None:
    rgba = np.zeros((10, 10, 4), np.uint8)  # black, fully transparent
    rgba[2:8, 4:6, 3] = 255  # an opaque black stroke
    rgba[0, 0] = (0, 0, 0, 128)  # half-transparent black
    rgba[0, 1] = (0, 0, 255, 255)  # opaque blue
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    grey = one_page(tmp_path / "a.png").image
    assert grey[9, 9] == 255 and grey[5, 5] == 0 and grey[0, 0] == 127 and grey[0, 1] == 29
    assert (grey == 255).sum() == 100 - 12 - 2
    bgr = one_page(tmp_path / "a.png", color=True).image
    assert bgr[9, 9].tolist() == [255, 255, 255] and bgr[0, 1].tolist() == [255, 0, 0]


def test_palette_with_transparency_reads_white(tmp_path: Path) -> None:
    im = Image.new("P", (6, 4), 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.putpixel((1, 1), 1)
    im.save(tmp_path / "p.png", transparency=0)
    grey = one_page(tmp_path / "p.png").image
    assert grey[0, 0] == 255 and grey[1, 1] == 76


def test_other_modes_to_grey(tmp_path: Path) -> None:
    bits = np.zeros((5, 8), bool)
    bits[1, 2] = True
    Image.fromarray(bits).save(tmp_path / "one_bit.png")
    assert one_page(tmp_path / "one_bit.png").image.tolist() == (bits * 255).astype(np.uint8).tolist()
    la = np.zeros((3, 3, 2), np.uint8)
    la[1, 1] = (40, 255)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    grey = one_page(tmp_path / "la.png").image
    assert grey[1, 1] == 40 and grey[0, 0] == 255
    Image.new("CMYK", (5, 4), (0, 0, 0, 255)).save(tmp_path / "cmyk.jpg")
    cmyk = one_page(tmp_path / "cmyk.jpg").image
    assert cmyk.shape == (4, 5) and cmyk.max() <= 5  # full black ink
    Image.new("RGB", (6, 3), (255, 255, 255)).save(tmp_path / "w.bmp")
    assert one_page(tmp_path / "w.bmp").image.tolist() == [[255] * 6] * 3


def test_16_bit_grey_png_and_tiff_full_contrast(tmp_path: Path) -> None:
    twelve_bit = np.arange(0, 4096, 4, dtype=np.uint16).reshape(32, 32)  # 0..4092, a 12-bit scan
    twelve_bit[-1, -1] = 4095
    full = np.linspace(0, 65535, 64 * 8).astype(np.uint16).reshape(8, 64)
    for ext in (".png", ".tif"):
        cv2.imwrite(str(tmp_path / f"d12{ext}"), twelve_bit)
        grey = one_page(tmp_path / f"d12{ext}").image
        assert grey.dtype == np.uint8 and grey.min() == 0 and grey.max() == 255
        np.testing.assert_array_equal(grey, full_contrast(twelve_bit, 4095))
        cv2.imwrite(str(tmp_path / f"d16{ext}"), full)
        np.testing.assert_array_equal(one_page(tmp_path / f"d16{ext}").image, full_contrast(full, 65535))
    # values that fit in 8 bits are kept as they are, not stretched
    low = np.array([[0, 10, 200]], np.uint16)
    cv2.imwrite(str(tmp_path / "low.png"), low)
    assert one_page(tmp_path / "low.png").image.tolist() == [[0, 10, 200]]


def test_16_bit_colour_png_and_tiff(tmp_path: Path) -> None:
    bgr = RNG.integers(0, 4096, (6, 5, 3)).astype(np.uint16)
    bgr[0, 0] = (4095, 4095, 4095)
    for ext in (".png", ".tif"):
        cv2.imwrite(str(tmp_path / f"c16{ext}"), bgr)
        expected = full_contrast(bgr, 4095)
        np.testing.assert_array_equal(one_page(tmp_path / f"c16{ext}", color=True).image, expected)
        grey = one_page(tmp_path / f"c16{ext}").image
        np.testing.assert_array_equal(grey, cv2.cvtColor(expected, cv2.COLOR_BGR2GRAY))
        assert grey[0, 0] == 255


def test_deep_to_uint8_rule() -> None:
    assert sources._deep_to_uint8(np.array([0, 2048, 4095], np.uint16)).tolist() == [0, 128, 255]
    assert sources._deep_to_uint8(np.array([0, 257, 65535], np.uint16)).tolist() == [0, 1, 255]
    assert sources._deep_to_uint8(np.array([0, 0], np.uint16)).tolist() == [0, 0]  # a black page, no 0/0
    assert sources._deep_to_uint8(np.array([0.0, 0.5, 1.0], np.float32)).tolist() == [0, 128, 255]
    assert sources._deep_to_uint8(np.array([-5, 1023], np.int32)).tolist() == [0, 255]


def test_one_by_one_image(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "dot.png"), np.array([[42]], np.uint8))
    page = one_page(tmp_path / "dot.png")
    assert page.image.shape == (1, 1) and page.image[0, 0] == 42


def test_jpeg_exif_orientation_applied(tmp_path: Path) -> None:
    im = Image.new("L", (20, 10), 255)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    im.save(tmp_path / "phone.jpg", exif=exif)
    assert one_page(tmp_path / "phone.jpg").image.shape == (20, 10)


def test_content_decides_not_the_extension(tmp_path: Path) -> None:
    img = grey_png(tmp_path / "g.png")
    os.replace(tmp_path / "g.png", tmp_path / "really_a_png.jpg")
    np.testing.assert_array_equal(one_page(tmp_path / "really_a_png.jpg").image, img)


# --- multi-page TIFF ----------------------------------------------------------------------------


def tiff_pages(path: Path, values: list[int], compression: str | None = None) -> Path:
    frames = [Image.fromarray(np.full((30, 40), v, np.uint8)) for v in values]
    frames[0].save(path, save_all=True, append_images=frames[1:], compression=compression)
    return path


def test_multi_page_tiff_gives_every_page(tmp_path: Path) -> None:
    tiff_pages(tmp_path / "m.tif", [10, 20, 30, 40])
    items = pages_of(tmp_path / "m.tif")
    assert [p.page for p in items] == [1, 2, 3, 4]
    assert all(isinstance(p, Page) and p.image.shape == (30, 40) for p in items)
    assert [int(p.image[0, 0]) for p in items if isinstance(p, Page)] == [10, 20, 30, 40]


def tiff_with_corrupt_page(path: Path) -> Path:
    """A 3-page deflate TIFF (values 10, 20, 30) whose page 2 pixel data is garbage (IFDs intact)."""
    tiff_pages(path, [10, 20, 30], compression="tiff_adobe_deflate")
    with Image.open(path) as im:  # where page 2's (deflate-compressed) pixels are
        im.seek(1)
        tags = im.tag_v2  # type: ignore[attr-defined]  # a TIFF frame's tags
        offset, count = tags[273][0], tags[279][0]
    data = bytearray(path.read_bytes())
    data[offset:offset + count] = b"\xff" * count
    path.write_bytes(bytes(data))
    return path


def test_multi_page_tiff_with_one_corrupt_page(tmp_path: Path) -> None:
    path = tiff_with_corrupt_page(tmp_path / "m.tiff")
    items = pages_of(path)
    assert [p.page for p in items] == [1, 2, 3]
    assert isinstance(items[0], Page) and items[0].image[0, 0] == 10
    bad = items[1]
    assert isinstance(bad, PageError) and bad.error == "corrupt" and bad.stage == "decode"
    assert str(path) in bad.message and "page 2" in bad.message
    assert isinstance(items[2], Page) and items[2].image[0, 0] == 30


def test_multi_page_tiff_page_too_large_only_that_page(tmp_path: Path) -> None:
    frames = [Image.fromarray(np.full(s, 9, np.uint8)) for s in [(10, 10), (40, 40), (10, 10)]]
    frames[0].save(tmp_path / "m.tif", save_all=True, append_images=frames[1:])
    items = pages_of(tmp_path / "m.tif", max_pixels=1000)
    assert [type(p).__name__ for p in items] == ["Page", "PageError", "Page"]
    assert isinstance(items[1], PageError) and items[1].error == "too_large" and items[1].page == 2


# --- PDF ----------------------------------------------------------------------------------------


def test_pdf_pages_at_dpi(tmp_path: Path) -> None:
    path = pdf_with_pages(tmp_path / "two.pdf", [200, 50])
    items = pages_of(path, dpi=200)
    assert [p.page for p in items] == [1, 2]
    assert all(isinstance(p, Page) and p.image.shape == (100, 200) and p.image.dtype == np.uint8 for p in items)
    assert [int(np.median(p.image)) for p in items if isinstance(p, Page)] == pytest.approx([200, 50], abs=2)
    half = pages_of(path, dpi=100)
    assert [p.image.shape for p in half if isinstance(p, Page)] == [(50, 100), (50, 100)]
    colour = pages_of(path, dpi=100, color=True)
    assert [p.image.shape for p in colour if isinstance(p, Page)] == [(50, 100, 3), (50, 100, 3)]
    # each page owns its pixels (pdfium's bitmap buffer is freed after rendering)
    assert all(p.image.flags.owndata for p in items + half + colour if isinstance(p, Page))
    assert [int(np.median(p.image)) for p in colour if isinstance(p, Page)] == pytest.approx([200, 50], abs=2)
    assert [p.dpi for p in items + half if isinstance(p, Page)] == [200, 200, 100, 100]


def test_a_scanners_stated_resolution_is_kept(tmp_path: Path) -> None:
    """Segmentation works fine scans at 200 dpi: it needs the resolution a file states, when a
    scanner would state it (not a screen default, nor nothing)."""
    img = Image.fromarray(np.full((30, 40), 200, np.uint8))
    for name, dpi, want in (("a.png", (300, 300), 300), ("b.jpg", (600, 600), 600), ("c.png", (72, 72), 0),
                            ("d.tif", (204, 98), 0), ("e.jpg", None, 0)):
        img.save(tmp_path / name, **({"dpi": dpi} if dpi else {}))
        assert one_page(tmp_path / name).dpi == pytest.approx(want, abs=0.5), name
    frames = [Image.fromarray(np.full((30, 40), v, np.uint8)) for v in (10, 20)]
    frames[0].save(tmp_path / "two.tif", save_all=True, append_images=frames[1:], dpi=(400, 400))
    assert [p.dpi for p in pages_of(tmp_path / "two.tif") if isinstance(p, Page)] == [400, 400]


def test_pdf_colour_page_bgr(tmp_path: Path) -> None:
    Image.new("RGB", (40, 20), (255, 0, 0)).save(tmp_path / "red.pdf", resolution=72)
    page = one_page(tmp_path / "red.pdf", dpi=72, color=True)
    assert page.image.shape == (20, 40, 3)
    b, g, r = (int(v) for v in np.median(page.image.reshape(-1, 3), axis=0))
    assert r > 240 and g < 15 and b < 15
    assert abs(int(np.median(one_page(tmp_path / "red.pdf", dpi=72).image)) - 76) <= 3


def test_pdf_page_too_large_checked_before_rendering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = pdfium.PdfDocument.new()
    doc.new_page(72, 36)
    doc.new_page(14400, 14400)  # 200 x 200 inches: 40000 x 40000 pixels at 200 dpi
    doc.save(tmp_path / "big.pdf")
    doc.close()

    real_render = pdfium.PdfPage.render
    calls: list[tuple[float, float]] = []

    def render(self: pdfium.PdfPage, **kw: object) -> pdfium.PdfBitmap:
        calls.append(self.get_size())
        return real_render(self, **kw)

    monkeypatch.setattr(pdfium.PdfPage, "render", render)
    items = pages_of(tmp_path / "big.pdf")
    assert isinstance(items[0], Page) and items[0].image.shape == (100, 200)
    assert isinstance(items[1], PageError) and items[1].error == "too_large" and items[1].page == 2
    assert "40000x40000" in items[1].message
    assert calls == [(72, 36)]  # the big page was never rendered


def test_broken_pdf_is_corrupt(tmp_path: Path) -> None:
    data = pdf_with_pages(tmp_path / "full.pdf", [200, 50]).read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[: len(data) // 2])
    err = one_error(tmp_path / "cut.pdf")
    assert err.error == "corrupt" and err.page is None
    (tmp_path / "junk.pdf").write_bytes(b"%PDF-1.4\nthis is not a PDF at all\n")
    assert one_error(tmp_path / "junk.pdf").error == "corrupt"
    (tmp_path / "text.pdf").write_bytes(b"hello")
    assert one_error(tmp_path / "text.pdf").error == "corrupt"


def test_encrypted_pdf(tmp_path: Path) -> None:
    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypted_pdf())
    doc = pdfium.PdfDocument(path, password="secret")  # the file is sound: the password opens it
    assert len(doc) == 1
    doc.close()
    err = one_error(path)
    assert err.error == "encrypted_pdf" and err.page is None and "encrypted" in err.message


def test_pdf_without_pages(tmp_path: Path) -> None:
    # read an encrypted PDF first: pdfium keeps its last error across a successful load
    (tmp_path / "locked.pdf").write_bytes(encrypted_pdf())
    assert one_error(tmp_path / "locked.pdf").error == "encrypted_pdf"
    (tmp_path / "hand.pdf").write_bytes(hand_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                                                  b"<< /Type /Pages /Kids [] /Count 0 >>"]))
    assert one_error(tmp_path / "hand.pdf").error == "no_pages"
    doc = pdfium.PdfDocument.new()  # pdfium's own empty document
    doc.save(tmp_path / "pdfium.pdf")
    doc.close()
    assert one_error(tmp_path / "pdfium.pdf").error == "no_pages"


# --- bad inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["empty.png", "empty.pdf", "empty.tif"])
def test_zero_byte_file(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    err = one_error(tmp_path / name)
    assert err.error == "empty_file" and err.page is None


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".bmp"])
def test_truncated_image_is_corrupt(tmp_path: Path, ext: str) -> None:
    img = RNG.integers(0, 256, (60, 80), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / f"full{ext}"), img)
    data = (tmp_path / f"full{ext}").read_bytes()
    (tmp_path / f"cut{ext}").write_bytes(data[: len(data) * 2 // 3])
    err = one_error(tmp_path / f"cut{ext}")
    assert err.error == "corrupt" and err.page in (None, 1)


def test_text_file_named_png(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("not an image, just text\n")
    err = one_error(tmp_path / "notes.png")
    assert err.error == "corrupt" and "cannot decode image" in err.message


def test_other_image_formats_are_refused(tmp_path: Path) -> None:
    Image.new("L", (4, 4)).save(tmp_path / "anim.png", format="GIF")
    assert one_error(tmp_path / "anim.png").error == "corrupt"


def test_huge_image_refused_from_the_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = png_header_only(tmp_path / "huge.png", 30000, 30000)
    assert path.stat().st_size < 100

    def no_decode(*args: object, **kw: object) -> None:
        raise AssertionError("decoded the pixels")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    monkeypatch.setattr(cv2, "imdecode", no_decode)
    err = one_error(path)
    assert err.error == "too_large" and "900,000,000 pixels > max_pixels 100,000,000" in err.message
    bigger = png_header_only(tmp_path / "bomb.png", 100000, 100000)  # past Pillow's own bomb limit too
    assert one_error(bigger, max_pixels=10**11).error == "too_large"


def test_max_pixels_boundary(tmp_path: Path) -> None:
    grey_png(tmp_path / "g.png", 100, 100)
    assert isinstance(one_page(tmp_path / "g.png", max_pixels=10_000), Page)
    assert one_error(tmp_path / "g.png", max_pixels=9_999).error == "too_large"


def test_bad_parameters_raise_naming_them(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dpi"):
        read_pages(tmp_path / "x.png", dpi=0)
    with pytest.raises(ValueError, match="max_pixels"):
        read_pages(tmp_path / "x.png", max_pixels=-1)
    with pytest.raises(TypeError, match="paths"):
        find_sources("scans")  # type: ignore[arg-type]


def test_folder_named_like_an_image(tmp_path: Path) -> None:
    folder = tmp_path / "x.jpg"
    folder.mkdir()
    grey_png(folder / "inside.png")
    assert list(find_sources([tmp_path])) == [folder / "inside.png"]
    assert list(find_sources([folder])) == [folder / "inside.png"]
    err = one_error(folder)
    assert err.error == "not_a_file"
    (tmp_path / "empty.png").mkdir()
    (err,) = find_sources([tmp_path / "empty.png"])
    assert isinstance(err, PageError) and err.error == "not_a_file" and "empty folder" in err.message
    assert [e.error for e in find_sources([tmp_path]) if isinstance(e, PageError)] == ["not_a_file"]


def test_missing_and_unsupported_files(tmp_path: Path) -> None:
    assert one_error(tmp_path / "gone.png").error == "not_found"
    (tmp_path / "notes.txt").write_text("hi")
    assert one_error(tmp_path / "notes.txt").error == "unsupported"


def test_fifo_is_not_a_file_and_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.png")
    assert one_error(tmp_path / "pipe.png").error == "not_a_file"
    (err,) = find_sources([tmp_path / "pipe.png"])
    assert isinstance(err, PageError) and err.error == "not_a_file"
    (err,) = find_sources([tmp_path])
    assert isinstance(err, PageError) and err.error == "not_a_file"


def test_permission_denied_maps_to_permission(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # We run as root, where chmod 000 does not stop reading: simulate the failure of open().
    grey_png(tmp_path / "g.png")
    pdf_with_pages(tmp_path / "p.pdf", [100])

    def denied(path: str | Path) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(sources, "_open", denied)
    for name in ("g.png", "p.pdf"):
        err = one_error(tmp_path / name)
        assert err.error == "permission" and err.page is None


def test_unlistable_folder_maps_to_permission(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked").mkdir()
    grey_png(tmp_path / "a.png")
    real = os.listdir

    def listdir(path: str | Path) -> list[str]:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "listdir", listdir)
    items = list(find_sources([tmp_path]))
    assert items[0] == tmp_path / "a.png"
    assert isinstance(items[1], PageError) and items[1].error == "permission" and items[1].stage == "find"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_for_real(tmp_path: Path) -> None:
    grey_png(tmp_path / "g.png")
    os.chmod(tmp_path / "g.png", 0)
    assert one_error(tmp_path / "g.png").error == "permission"


def test_unexpected_decoder_failure_becomes_a_page_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    grey_png(tmp_path / "g.png")

    def boom(*args: object, **kw: object) -> None:
        raise RuntimeError("decoder bug")

    monkeypatch.setattr(sources, "_image_pages", boom)
    err = one_error(tmp_path / "g.png")
    assert err.error == "corrupt" and "decoder bug" in err.message


# --- finding files ------------------------------------------------------------------------------


def test_find_sources_sorted_recursive_and_filtered(tmp_path: Path) -> None:
    root = tmp_path / "scans"
    for rel in ["b.png", "a.PDF", "sub/z.tif", "sub/deeper/c.jpeg", "sub/a.bmp", "a_dir/x.jpg",
                "README.txt", ".hidden.png", ".git/k.png", "sub/.DS_Store", "noext"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    expected = [root / "a.PDF", root / "a_dir/x.jpg", root / "b.png", root / "sub/a.bmp",
                root / "sub/deeper/c.jpeg", root / "sub/z.tif"]
    assert list(find_sources([root])) == expected
    assert list(find_sources([str(root)])) == expected
    # named paths come in the order given; a hidden file named explicitly is taken
    named = list(find_sources([root / "b.png", root / "sub", root / ".hidden.png"]))
    assert named == [root / "b.png", root / "sub/a.bmp", root / "sub/deeper/c.jpeg", root / "sub/z.tif",
                     root / ".hidden.png"]
    missing, unsupported = find_sources([root / "nope.png", root / "README.txt"])
    assert isinstance(missing, PageError) and (missing.stage, missing.error) == ("find", "not_found")
    assert isinstance(unsupported, PageError) and unsupported.error == "unsupported"
    assert str(root / "README.txt") in unsupported.message


def test_symlink_loops_reported_and_walk_goes_on(tmp_path: Path) -> None:
    root = tmp_path / "scans"
    (root / "sub").mkdir(parents=True)
    grey_png(root / "a.png")
    grey_png(root / "sub/b.png")
    os.symlink(root, root / "sub/up")  # a folder link back to an ancestor
    os.symlink(root / "self.png", root / "self.png")  # a link to itself
    os.symlink(root / "sub/b.png", root / "c.png")  # an ordinary file link, followed
    os.symlink(root / "missing.png", root / "dangling.png")  # a broken link
    items = list(find_sources([root]))
    paths = [i for i in items if isinstance(i, Path)]
    errors = {Path(e.source).name: e.error for e in items if isinstance(e, PageError)}
    assert paths == [root / "a.png", root / "c.png", root / "sub/b.png"]
    assert errors == {"self.png": "symlink_loop", "up": "symlink_loop", "dangling.png": "not_found"}
    assert all(e.stage == "find" for e in items if isinstance(e, PageError))
    (err,) = find_sources([root / "self.png"])
    assert isinstance(err, PageError) and err.error == "symlink_loop"
    assert one_error(root / "self.png").error == "symlink_loop"
    assert one_page(root / "c.png").source == str(root / "c.png")  # the link's name, not the target's


@pytest.mark.parametrize("name", ['a, b.png', 'quote "x" \'y\'.png', "sp ace.tif", "new\nline.pdf",
                                  "Zählerstand_東京_ñ.png", "tab\there;semi.tiff", "weird, \"16\"\n.tif"])
def test_awkward_file_names(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".pdf"):
        pdf_with_pages(path, [100, 150])
    elif name.startswith("weird"):
        cv2.imwrite(str(tmp_path / "plain.tif"), np.full((5, 4, 3), 4095, np.uint16))  # 16-bit colour: OpenCV path
        os.replace(tmp_path / "plain.tif", path)
    else:
        grey_png(path)
    assert list(find_sources([tmp_path])) == [path]
    items = pages_of(path)
    assert items and all(isinstance(p, Page) and p.source == str(path) for p in items)
    assert items[0].page == 1


def test_supported_extensions() -> None:
    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pdf"} == SUPPORTED
