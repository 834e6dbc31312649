"""A corpus of hostile uploads, generated in memory (nothing is read from disk or the network).

Each `Case` is one request: files as (name, bytes), or a raw multipart body for what a test
client will not send (non-UTF-8 names, broken boundaries). `may_succeed` marks the few cases
whose content is a genuine MRI-like slice (wrong extension, odd file name, 16-bit): for those
a finished analysis is the right answer, and the test checks what matters there instead
(random stored names, nothing echoed unescaped).
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, PngImagePlugin

from ml.testing import mri_like

BOUNDARY = "hostile-boundary-7731"
SCRIPT = b"<script>alert(document.cookie)</script>"


Part = tuple[str, str | bytes | None, bytes]  # (field name, file name or None, content)


@dataclass(frozen=True)
class Case:
    name: str
    files: list[tuple[str, bytes]] = field(default_factory=list)  # encoded by the test client
    fields: dict[str, str] = field(default_factory=dict)
    parts: list[Part] | None = None  # a multipart body written byte by byte instead
    cut: int = 0  # bytes dropped from the end of that body (no closing boundary)
    raw_body: bytes | None = None  # a body that is not multipart/form-data at all
    content_type: str | None = None  # overrides the multipart content type
    may_succeed: bool = False
    settings: dict[str, int] = field(default_factory=dict)


# --- pictures ------------------------------------------------------------------------------
def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def mri(size: int = 128, seed: int = 3) -> Image.Image:
    return Image.fromarray(mri_like(size, seed))


def photo(size: int = 128, seed: int = 5) -> Image.Image:
    """Colourful noise over gradients: plainly not an MRI slice."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    rgb = np.stack([xx * 255 / size, yy * 255 / size, rng.uniform(0, 255, (size, size))], -1)
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_header(width: int, height: int, idat: bytes = b"", depth: int = 8) -> bytes:
    """A PNG whose IHDR claims any size, with whatever IDAT data we choose."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat or zlib.compress(b"\x00" * 1024))
        + png_chunk(b"IEND", b"")
    )


def png_zero_bomb(width: int, height: int) -> bytes:
    """A real, complete PNG of zeros: tiny on disk, width*height bytes once decoded."""
    raw = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    data = b"".join(raw.compress(row) for _ in range(height)) + raw.flush()
    return png_with_header(width, height, data)


def jpeg_with_size(width: int, height: int) -> bytes:
    """A small JPEG whose SOF0 header is patched to claim another size."""
    data = bytearray(encode(photo(16), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def tiff_with_size(width: int, height: int) -> bytes:
    """A small little-endian TIFF whose first IFD is patched to claim another size."""
    data = bytearray(encode(mri(16), "TIFF"))
    (offset,) = struct.unpack_from("<I", data, 4)
    (entries,) = struct.unpack_from("<H", data, offset)
    for index in range(entries):
        at = offset + 2 + 12 * index
        tag, kind = struct.unpack_from("<HH", data, at)
        if tag in (256, 257):  # ImageWidth, ImageLength
            value = width if tag == 256 else height
            if kind == 3:
                struct.pack_into("<H", data, at + 8, min(value, 65535))
            else:
                struct.pack_into("<I", data, at + 8, value)
    return bytes(data)


def jpeg_with_segments(marker: int, payload: bytes, count: int) -> bytes:
    """A JPEG (photo) with `count` extra APPn/COM segments right after SOI."""
    body = encode(photo(64), "JPEG")
    chunk = payload[:65533]
    segment = bytes([0xFF, marker]) + struct.pack(">H", len(chunk) + 2) + chunk
    return body[:2] + segment * count + body[2:]


def png_with_chunk(kind: bytes, data: bytes, base: Image.Image | None = None) -> bytes:
    png = encode(base or photo(64), "PNG")
    end = png.rindex(b"IEND") - 4
    return png[:end] + png_chunk(kind, data) + png[end:]


def animated(fmt: str) -> bytes:
    frames = [photo(64, seed) for seed in range(3)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)


def dicom_mr() -> bytes:
    from pydicom import examples

    with open(examples.get_path("mr"), "rb") as handle:  # shipped inside the pydicom wheel
        return handle.read()


def rle_zero_row(width: int) -> bytes:
    """One row of zeros in DICOM RLE (PackBits): 2 bytes for every 128 pixels."""
    full, rest = divmod(width, 128)
    tail = b"" if rest == 0 else b"\x00\x00" if rest == 1 else bytes([257 - rest, 0])
    return b"\x81\x00" * full + tail


def dicom_rle_bomb(frames: int, size: int, bits: int = 8) -> bytes:
    """An RLE Lossless MR object of `frames` all-zero frames of size × size (issue 15: 15 frames
    of 6300 × 6300 in 9.3 MB held a web thread 18-49 s and 1.2 GB while it was decoded)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import MRImageStorage, RLELossless, generate_uid

    segment = rle_zero_row(size) * size
    segment += b"\x00" * (len(segment) % 2)
    count = bits // 8
    offsets = [64 + index * len(segment) for index in range(count)]
    frame = struct.pack("<16I", count, *offsets, *[0] * (15 - count)) + segment * count
    ds = Dataset()
    ds.Modality, ds.SOPClassUID, ds.SOPInstanceUID = "MR", MRImageStorage, generate_uid()
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    ds.NumberOfFrames = frames
    ds.PixelData = encapsulate([frame] * frames)
    ds["PixelData"].VR, ds["PixelData"].is_undefined_length = "OB", True
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = RLELossless
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def flip_bytes(data: bytes, seed: int, count: int = 8) -> bytes:
    rng = np.random.default_rng(seed)
    mutable = bytearray(data)
    for position in rng.integers(64, len(data) - 16, count):
        mutable[position] ^= 0xFF
    return bytes(mutable)


# --- the corpus -----------------------------------------------------------------------------
def corpus() -> list[Case]:
    cases = [
        *_empty_and_stubs(),
        *_truncated(),
        *_disguised(),
        *_polyglots(),
        *_bombs_and_sizes(),
        *_decode_bombs(),
        *_modes(),
        *_metadata(),
        *_file_names(),
        *_bodies(),
    ]
    names = [case.name for case in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


def _one(name: str, data: bytes, filename: str = "slice.png", **kw: object) -> Case:
    return Case(name, files=[(filename, data)], **kw)  # type: ignore[arg-type]


def _empty_and_stubs() -> list[Case]:
    stubs = {
        "empty": b"",
        "one-nul": b"\x00",
        "spaces": b"   ",
        "newlines": b"\n" * 10,
        "jpeg-soi-only": b"\xff\xd8",
        "jpeg-soi-eoi": b"\xff\xd8\xff\xd9",
        "png-signature-only": b"\x89PNG\r\n\x1a\n",
        "tiff-header-only": b"II*\x00\x08\x00\x00\x00",
        "webp-riff-only": b"RIFF\x04\x00\x00\x00WEBP",
        "dicom-magic-only": b"\x00" * 128 + b"DICM",
        "dicom-preamble-only": b"\x00" * 128,
    }
    return [_one(name, data) for name, data in stubs.items()]


def _truncated() -> list[Case]:
    sources = {
        "jpeg": (encode(mri(), "JPEG", quality=90), "slice.jpg"),
        "png": (encode(mri(), "PNG"), "slice.png"),
        "tiff": (encode(mri(), "TIFF", compression="tiff_deflate"), "slice.tif"),
        "webp": (encode(mri(), "WEBP", quality=90), "slice.webp"),
        "dicom": (dicom_mr(), "slice.dcm"),
    }
    cases = []
    for kind, (data, filename) in sources.items():
        for fraction in (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9):
            cut = data[: max(1, int(len(data) * fraction))]
            cases.append(_one(f"truncated-{kind}-{int(fraction * 100)}pct", cut, filename))
    for seed in range(6):
        cases.append(_one(f"bitflip-png-{seed}", flip_bytes(sources["png"][0], seed)))
    return cases


DISGUISES = {
    "html": b"<!DOCTYPE html><html><body>" + SCRIPT + b"</body></html>",
    "svg-script": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
    + SCRIPT
    + b"</svg>",
    "svg-plain": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" '
    b'height="64"><circle cx="32" cy="32" r="20"/></svg>',
    "javascript": b"fetch('/scans/export.csv').then(r => r.text()).then(alert);",
    "php": b"<?php system($_GET['c']); ?>",
    "shell": b"#!/bin/sh\nrm -rf / --no-preserve-root\n",
    "xml-xxe": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
    "json": b'{"image": "not really", "label": "glioma"}',
    "csv": b"=cmd|' /C calc'!A0,label\n1,glioma\n",
    "pdf": b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF",
    "zip": b"PK\x03\x04" + b"\x00" * 26 + b"PK\x05\x06" + b"\x00" * 18,
    "gzip": gzip.compress(b"not an image" * 100),
    "elf": b"\x7fELF\x02\x01\x01" + b"\x00" * 57,
    "pe": b"MZ\x90\x00" + b"\x00" * 60 + b"PE\x00\x00",
    "gif": encode(photo(32).convert("P"), "GIF"),
    "bmp": encode(mri(32), "BMP"),
    "ico": encode(photo(32), "ICO"),
    "eicar": rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
    "nul-kilobyte": b"\x00" * 1024,
    "random-kilobyte": np.random.default_rng(1).bytes(1024),
    "random-64k": np.random.default_rng(2).bytes(65536),
    "utf16-text": "not an image ☠".encode("utf-16"),
}


def _disguised() -> list[Case]:
    return [
        _one(f"disguised-{kind}-as{extension.replace('.', '-')}", data, f"scan{extension}")
        for kind, data in DISGUISES.items()
        for extension in (".png", ".jpg", ".dcm")
    ]


def _polyglots() -> list[Case]:
    jpeg = encode(photo(), "JPEG")
    png = encode(photo(), "PNG")
    dicom = dicom_mr()
    return [
        _one("polyglot-jpeg-then-html", jpeg + DISGUISES["html"], "scan.jpg"),
        _one("polyglot-jpeg-then-zip", jpeg + DISGUISES["zip"], "scan.jpg"),
        _one("polyglot-jpeg-then-pdf", jpeg + DISGUISES["pdf"], "scan.jpg"),
        _one("polyglot-png-then-html", png + DISGUISES["html"], "scan.png"),
        _one("polyglot-png-text-chunk-script", png_with_chunk(b"tEXt", b"Comment\x00" + SCRIPT)),
        _one("polyglot-jpeg-comment-script", jpeg_with_segments(0xFE, SCRIPT, 1), "scan.jpg"),
        _one("polyglot-html-with-png-signature", b"\x89PNG\r\n\x1a\n" + DISGUISES["html"]),
        _one("polyglot-gif-header-script", b"GIF89a/*\x00\x00*/=1;" + SCRIPT, "scan.gif"),
        _one("polyglot-dicom-preamble-pe", b"MZ" + dicom[2:128] + dicom[128:], "scan.dcm"),
        _one("polyglot-dicom-preamble-html", DISGUISES["html"][:128].ljust(128) + dicom[128:]),
        _one("polyglot-svg-inside-png-name", DISGUISES["svg-script"], "scan.svg.png"),
    ]


def _bombs_and_sizes() -> list[Case]:
    claims = {
        "png-header-20000x20000": png_with_header(20000, 20000),
        "png-header-65535x65535": png_with_header(65535, 65535),
        "png-header-1x30000000": png_with_header(1, 30_000_000),
        "png-header-30000000x1": png_with_header(30_000_000, 1),
        "png-header-0x0": png_with_header(0, 0),
        "png-header-2147483647x1": png_with_header(2**31 - 1, 1),
        "png-bomb-7000x7000-zeros": png_zero_bomb(7000, 7000),
        "png-bomb-20000x20000-zeros": png_with_header(
            20000, 20000, zlib.compress(b"\x00" * 20001 * 200, 9)
        ),
        "jpeg-header-20000x20000": jpeg_with_size(20000, 20000),
        "jpeg-header-65500x65500": jpeg_with_size(65500, 65500),
        "jpeg-header-0x0": jpeg_with_size(0, 0),
        "tiff-header-65535x65535": tiff_with_size(65535, 65535),
        "png-idat-garbage": png_with_header(64, 64, b"\x78\x9c" + b"\xff" * 200),
        "png-many-empty-idat": png_with_header(64, 64)[:-12]
        + png_chunk(b"IDAT", b"") * 5000
        + png_chunk(b"IEND", b""),
    }
    cases = [_one(name, data) for name, data in claims.items()]
    small = {
        "1x1-png-gray": encode(Image.new("L", (1, 1), 128), "PNG"),
        "1x1-png-rgb": encode(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"),
        "1x1-jpeg": encode(Image.new("L", (1, 1), 128), "JPEG"),
        "1x1-tiff": encode(Image.new("L", (1, 1), 128), "TIFF"),
        "1x1-webp": encode(Image.new("RGB", (1, 1), 128), "WEBP"),
        "2x2-png": encode(Image.new("L", (2, 2), 90), "PNG"),
        "8x8-png-mri": encode(mri(8), "PNG"),
        "16x16-png-mri": encode(mri(16), "PNG"),
        "1x4000-png": encode(Image.new("L", (1, 4000), 100), "PNG"),
        "4000x1-png": encode(Image.new("L", (4000, 1), 100), "PNG"),
        "20000x1-png": encode(Image.new("L", (20000, 1), 100), "PNG"),
        "1x20000-png": encode(Image.new("L", (1, 20000), 100), "PNG"),
        "3x2000-jpeg": encode(Image.new("L", (3, 2000), 100), "JPEG"),
        "blank-black-512": encode(Image.new("L", (512, 512), 0), "PNG"),
        "blank-white-512": encode(Image.new("L", (512, 512), 255), "PNG"),
    }
    return cases + [_one(name, data) for name, data in small.items()]


# Files whose headers declare far more decoding than they weigh: each must be refused from
# the header, within DECODE_BOMB_SECONDS (a loose bound, not a benchmark).
DECODE_BOMB_SECONDS = 2.0


def _decode_bombs() -> list[Case]:
    big = png_zero_bomb(6300, 6300)  # 39.7 Mpx, under the per-image limit; ~40 kB
    frame_bomb = dicom_rle_bomb(15, 6300)
    return [
        _one("decode-bomb-dicom-rle-15x6300x6300", frame_bomb, "series.dcm"),
        _one("decode-bomb-dicom-rle-2x6300x6300", dicom_rle_bomb(2, 6300), "series.dcm"),
        _one("decode-bomb-dicom-rle-64-bit", dicom_rle_bomb(1, 2048, bits=64), "slice.dcm"),
        Case("decode-bomb-30-pngs-6300x6300", files=[(f"s{n}.png", big) for n in range(30)]),
        Case("decode-bomb-2-pngs-6300x6300", files=[(f"s{n}.png", big) for n in range(2)]),
    ]


def is_decode_bomb(case: Case) -> bool:
    return case.name.startswith("decode-bomb-")


def _modes() -> list[Case]:
    gray16 = Image.fromarray(mri_like(128, 9).astype(np.uint16) * 257)
    float_image = Image.fromarray(mri_like(64, 4).astype(np.float32) / 255.0)
    cmyk = photo().convert("CMYK")
    rgba_clear = photo().convert("RGBA")
    rgba_clear.putalpha(0)
    frames = [photo(64, seed) for seed in range(3)]
    cases = {
        "png-16bit-mri": (encode(gray16, "PNG"), True),
        "tiff-16bit-mri": (encode(gray16, "TIFF"), True),
        "tiff-32bit-int": (encode(gray16.convert("I"), "TIFF"), True),
        "tiff-float": (encode(float_image, "TIFF"), True),
        "png-1bit-photo": (encode(photo().convert("1"), "PNG"), False),
        "png-palette-photo": (encode(photo().convert("P"), "PNG"), False),
        "png-la-photo": (encode(photo().convert("LA"), "PNG"), False),
        "png-rgba-fully-transparent": (encode(rgba_clear, "PNG"), False),
        "png-interlaced-photo": (encode(photo(), "PNG", interlace=1), False),
        "jpeg-cmyk-photo": (encode(cmyk, "JPEG"), False),
        "tiff-cmyk-photo": (encode(cmyk, "TIFF"), False),
        "tiff-ycbcr-photo": (encode(photo(), "TIFF", compression="jpeg"), False),
        "jpeg-progressive-photo": (encode(photo(), "JPEG", progressive=True), False),
        "png-animated": (animated("PNG"), False),
        "webp-animated": (animated("WEBP"), False),
        "tiff-multipage": (
            encode(frames[0], "TIFF", save_all=True, append_images=frames[1:]),
            False,
        ),
        "gif-animated": (animated("GIF"), False),
        "webp-lossless-photo": (encode(photo(), "WEBP", lossless=True), False),
        "jpeg-photo": (encode(photo(), "JPEG"), False),
        "png-photo-rgb": (encode(photo(), "PNG"), False),
    }
    return [_one(name, data, may_succeed=ok) for name, (data, ok) in cases.items()]


def _metadata() -> list[Case]:
    exif = Image.Exif()
    exif[0x010E] = "A" * 60000  # ImageDescription: nearly a whole APP1 segment
    huge_text = PngImagePlugin.PngInfo()
    huge_text.add_text("Comment", "B" * 2_000_000)
    return [
        _one("jpeg-exif-60kb", encode(photo(), "JPEG", exif=exif.tobytes()), "scan.jpg"),
        _one(
            "jpeg-100-app1-segments", jpeg_with_segments(0xE1, b"Exif\x00\x00" + b"C" * 65000, 100)
        ),
        _one(
            "jpeg-icc-garbage",
            jpeg_with_segments(0xE2, b"ICC_PROFILE\x00\x01\x01" + b"D" * 5000, 3),
        ),
        _one("jpeg-comment-1000-segments", jpeg_with_segments(0xFE, b"E" * 1000, 1000)),
        _one("png-text-2mb", encode(photo(), "PNG", pnginfo=huge_text)),
        _one(
            "png-ztxt-bomb",
            png_with_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"F" * 8_000_000, 9)),
        ),
        _one(
            "png-iccp-bomb",
            png_with_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(b"\x00" * 8_000_000, 9)),
        ),
        _one("png-exif-chunk-garbage", png_with_chunk(b"eXIf", b"MM\x00*" + b"\xff" * 4000)),
        _one(
            "jpeg-exif-orientation-mri",
            encode(mri(), "JPEG", exif=_orientation(8)),
            "scan.jpg",
            may_succeed=True,
        ),
    ]


def _orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


HOSTILE_NAMES: list[str | bytes] = [
    "../../../../etc/passwd",
    "..\\..\\..\\windows\\system32\\config\\sam.png",
    "/etc/shadow.png",
    "C:\\Windows\\evil.png",
    "a\x00b.png",
    "name\r\nContent-Type: text/html.png",
    "x" * 300 + ".png",
    "y" * 5000 + ".png",
    "%2e%2e%2f%2e%2e%2fpasswd.png",
    "\u202egnp.exe",
    "CON.png",
    ".htaccess",
    "index.php.png",
    "<script>alert(1)</script>.png",
    '"quoted" name.png',
    "résumé-ü-ñ-日本.png",
    b"\xff\xfe\xfa\xfb.png",
    b"\xc0\xaf\xc0\xaf.png",
    b"\xe2\x28\xa1.png",
    "",
]


def _file_names() -> list[Case]:
    cases = [
        Case(f"name-{number}-garbage", parts=[("images", name, DISGUISES["html"])])
        for number, name in enumerate(HOSTILE_NAMES)
    ]
    for number, name in enumerate(HOSTILE_NAMES[:6] + HOSTILE_NAMES[13:14] + HOSTILE_NAMES[16:17]):
        part = ("images", name, encode(mri(96, 11 + number), "PNG"))
        cases.append(Case(f"name-{number}-real-slice", parts=[part], may_succeed=True))
    return cases


def multipart(parts: list[Part], boundary: str = BOUNDARY) -> bytes:
    """A multipart/form-data body written byte by byte (names may be any bytes)."""
    out = bytearray()
    for field_name, filename, data in parts:
        out += f"--{boundary}\r\n".encode()
        disposition = f'Content-Disposition: form-data; name="{field_name}"'.encode()
        if filename is not None:
            raw = filename if isinstance(filename, bytes) else filename.encode("utf-8")
            disposition += b'; filename="' + raw + b'"'
            disposition += b"\r\nContent-Type: application/octet-stream"
        out += disposition + b"\r\n\r\n" + data + b"\r\n"
    return bytes(out + f"--{boundary}--\r\n".encode())


def _bodies() -> list[Case]:
    slice_png = encode(mri(96), "PNG")
    one_slice: list[Part] = [("images", "a.png", slice_png)]
    megabyte = {"MAX_UPLOAD_BYTES": 1024 * 1024}
    injected = 'a.png"\r\nContent-Type: text/html\r\nX: "'
    return [
        Case(
            "over-size-limit", files=[("big.png", b"\x00" * (1024 * 1024 + 1))], settings=megabyte
        ),
        Case(
            "over-size-limit-png",
            files=[("big.png", encode(photo(1200), "PNG"))],
            settings=megabyte,
        ),
        Case(
            "too-many-files-for-the-form",
            files=[(f"s{i}.png", slice_png) for i in range(6)],
            settings={"MAX_FILES_PER_UPLOAD": 5},
        ),
        Case(
            "too-many-files-for-django",
            files=[(f"s{i}.png", slice_png) for i in range(6)],
            settings={"DATA_UPLOAD_MAX_NUMBER_FILES": 5},
        ),
        Case(
            "one-bad-file-among-good",
            files=[("a.png", slice_png), ("b.png", DISGUISES["html"]), ("c.png", slice_png)],
        ),
        Case(
            "case-reference-too-long",
            files=[("a.png", slice_png)],
            fields={"case_reference": "R" * 101},
        ),
        Case(
            "case-reference-3mb",
            files=[("a.png", slice_png)],
            fields={"case_reference": "R" * 3_000_000},
        ),
        Case("no-file-at-all", fields={"case_reference": "x"}),
        Case("missing-boundary", parts=one_slice, content_type="multipart/form-data"),
        Case("wrong-boundary", parts=one_slice, content_type="multipart/form-data; boundary=other"),
        Case("unterminated-body", parts=one_slice, cut=40),
        Case("json-body", raw_body=b'{"images": "a.png"}', content_type="application/json"),
        Case("text-body", raw_body=b"images=a.png", content_type="text/plain"),
        Case(
            "urlencoded-body",
            raw_body=b"images=%89PNG",
            content_type="application/x-www-form-urlencoded",
        ),
        Case("images-as-plain-field", parts=[("images", None, slice_png)]),
        Case(
            "header-injection-in-part-garbage",
            parts=[("images", injected, DISGUISES["html"])],
        ),
        Case(
            "header-injection-in-part-real-slice",
            parts=[("images", injected, slice_png)],
            may_succeed=True,
        ),
    ]
