"""Uploaded images are stored as their pixels only: metadata can name the patient."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from predictions.tests.images import mri_like
from predictions.uploads import Limits, validate_upload

MARKER = "MARKER-PATIENT-DOE-4411"
LIMITS: Limits = {"max_bytes": 10**7, "max_pixels": 10**7}


def jpeg_with_exif(orientation: int = 1) -> bytes:
    image = Image.fromarray(mri_like(64)[:, :48])  # 48 wide, 64 high
    exif = Image.Exif()
    exif[0x010E] = MARKER  # ImageDescription
    exif[0x013B] = MARKER  # Artist
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, comment=MARKER.encode())
    return buffer.getvalue()


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("PatientName", MARKER)
    buffer = io.BytesIO()
    Image.fromarray(mri_like(64)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


@pytest.mark.parametrize("data", [jpeg_with_exif(), png_with_text()])
def test_stored_bytes_carry_no_metadata(data):
    assert MARKER.encode() in data

    stored = validate_upload(data, **LIMITS)

    assert MARKER.encode() not in stored.data
    assert stored.content_type == "image/png"
    reopened = Image.open(io.BytesIO(stored.data))
    assert not reopened.info.get("exif")
    assert "PatientName" not in reopened.info


def test_pixels_are_unchanged_by_stripping():
    data = png_with_text()

    stored = validate_upload(data, **LIMITS)

    original = np.asarray(Image.open(io.BytesIO(data)))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(stored.data))), original)


def test_exif_orientation_is_applied_before_storing():
    stored = validate_upload(jpeg_with_exif(orientation=6), **LIMITS)  # rotate 90°

    assert (stored.width, stored.height) == (64, 48)
    assert Image.open(io.BytesIO(stored.data)).size == (64, 48)


def test_source_format_and_upload_hash_describe_the_original():
    data = jpeg_with_exif()

    stored = validate_upload(data, **LIMITS)

    import hashlib

    assert stored.source_format == "JPEG"
    assert stored.sha256 == hashlib.sha256(data).hexdigest()


def test_cmyk_and_float_images_are_stored_as_png():
    cmyk = io.BytesIO()
    Image.fromarray(mri_like(32)).convert("CMYK").save(cmyk, format="JPEG")
    floats = io.BytesIO()
    Image.fromarray(mri_like(32).astype(np.float32) / 7).save(floats, format="TIFF")

    for data in (cmyk.getvalue(), floats.getvalue()):
        stored = validate_upload(data, **LIMITS)
        assert Image.open(io.BytesIO(stored.data)).format == "PNG"


def _stored(image: Image.Image, fmt: str) -> tuple[np.ndarray, Image.Image]:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    stored = validate_upload(buffer.getvalue(), **LIMITS)
    return np.asarray(image), Image.open(io.BytesIO(stored.data))


def test_gray_stored_as_colour_is_kept_as_gray_without_losing_a_value():
    gray = mri_like(64)
    original, reopened = _stored(Image.fromarray(np.stack([gray] * 3, axis=2)), "PNG")

    assert reopened.mode == "L"
    assert np.array_equal(np.asarray(reopened), original[..., 0])
    assert np.array_equal(np.asarray(reopened.convert("RGB")), original)


def test_colour_and_gray_images_keep_every_pixel():
    gray = mri_like(64)
    colour = np.stack([gray, gray, 255 - gray], axis=2)  # one channel differs
    for image in (Image.fromarray(colour), Image.fromarray(gray)):
        original, reopened = _stored(image, "TIFF")
        assert reopened.mode == image.mode
        assert np.array_equal(np.asarray(reopened), original)
