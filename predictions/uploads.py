"""Uploads: an image is what it decodes as, not what its name says.

The upload's rules (formats, pixel limits per image and per request, one slice per file,
DICOM by content) are checked here from what each header declares; the pixels are decoded by
ml.image.decode's size-limited open, the one in the code base."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field
from typing import NotRequired, TypedDict

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ml.image.decode import UnreadableImage, open_checked
from ml.image.png import encode_png
from predictions import dicom

# Formats a clinician may upload, with the content type we store for them.
ALLOWED_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "TIFF": ("image/tiff", "tif"),
}
DICOM_MAGIC_OFFSET = dicom.MAGIC_OFFSET
# Frames analysed from one multi-frame DICOM file when the caller does not say (settings do).
DEFAULT_MAX_DICOM_FRAMES = 64
# Pixels one request may decode, all files and frames together (settings: MAX_UPLOAD_PIXELS).
DEFAULT_MAX_UPLOAD_PIXELS = 64_000_000


class Limits(TypedDict):
    """The size limits validate_upload and validate_upload_slices take as keywords."""

    max_bytes: int
    max_pixels: int
    max_frames: NotRequired[int]


class InvalidUpload(ValueError):
    """A file we will not analyse; the message is shown to the clinician."""


class _NotAnImage(InvalidUpload):
    """Pillow does not recognise the bytes: they may still be a DICOM dataset without preamble."""


class PixelBudget:
    """The pixels one request may decode, charged from what each header declares.

    A per-image limit alone let 30 PNGs of 39.7 Mpx (1.1 MB on the wire) hold a web thread
    for 11.5 s, and a DICOM file of 15 RLE frames of 6300 × 6300 (9.3 MB) for 18-49 s and
    1.2 GB. Every file is charged before any of its pixels is decoded, so a request decodes at
    most `limit` pixels however its files are shaped.
    """

    def __init__(self, limit: int = DEFAULT_MAX_UPLOAD_PIXELS) -> None:
        self.limit = limit
        self.used = 0

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def charge(self, pixels: int) -> None:
        if pixels > self.remaining:
            raise InvalidUpload(
                f"The files of this upload hold more than {self.limit:,} pixels in all; "
                "send fewer or smaller slices at a time."
            )
        self.used += pixels


@dataclass(frozen=True)
class ValidatedUpload:
    data: bytes  # what is stored: the upload itself, or for DICOM the rendered PNG
    source_format: str
    content_type: str
    extension: str
    width: int
    height: int
    sha256: str
    dicom_meta: dict[str, object] = field(default_factory=dict)  # allow-listed tags only
    frame_index: int | None = None  # the frame of a multi-frame DICOM file
    position: int | None = None  # the file's place in its upload, 1 for the first


def validate_upload(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    max_frames: int = DEFAULT_MAX_DICOM_FRAMES,
    budget: PixelBudget | None = None,
) -> ValidatedUpload:
    """One slice from one file. A multi-frame DICOM file is refused from its header, before
    any frame is decoded (the API used to render every frame first, then refuse);
    callers that can take several slices per file use `validate_upload_slices`."""
    [validated] = validate_upload_slices(
        data,
        max_bytes=max_bytes,
        max_pixels=max_pixels,
        max_frames=max_frames,
        budget=budget,
        one_slice=True,
    )
    return validated


def validate_upload_slices(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    max_frames: int = DEFAULT_MAX_DICOM_FRAMES,
    budget: PixelBudget | None = None,
    one_slice: bool = False,
) -> list[ValidatedUpload]:
    """Every slice in one uploaded file: an image is one slice, a DICOM file one per frame.

    A file is DICOM by content, whatever its name: the 'DICM' marker after the preamble, or
    (for a bare dataset) a parse that finds pixel data once Pillow has not recognised it.
    `budget` is shared by the files of one request; without it the file gets one of its own.
    """
    if not data:
        raise InvalidUpload("The file is empty.")
    if len(data) > max_bytes:
        raise InvalidUpload(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
    budget = budget if budget is not None else PixelBudget()
    limits = dicom.Limits(max_pixels, max_frames, budget.remaining, one_slice)
    if dicom.has_dicom_magic(data):
        return _dicom_slices(data, limits, budget)
    try:
        return [_validated_image(data, max_pixels, budget)]
    except _NotAnImage:
        if dicom.parses_as_dicom(data):
            return _dicom_slices(data, limits, budget)
        raise


def _dicom_slices(data: bytes, limits: dicom.Limits, budget: PixelBudget) -> list[ValidatedUpload]:
    """Rendered PNG slices; the DICOM bytes and header go no further than this function."""
    try:
        slices = dicom.render_slices(data, limits)
    except dicom.DicomRejected as exc:
        raise InvalidUpload(str(exc)) from None
    budget.charge(sum(item.width * item.height for item in slices))  # checked by the header
    content_type, extension = ALLOWED_FORMATS["PNG"]
    return [
        ValidatedUpload(
            data=item.png,
            source_format="DICOM",
            content_type=content_type,
            extension=extension,
            width=item.width,
            height=item.height,
            sha256=hashlib.sha256(item.png).hexdigest(),
            dicom_meta=dict(item.meta),
            frame_index=item.frame_index,
        )
        for item in slices
    ]


def _validated_image(data: bytes, max_pixels: int, budget: PixelBudget) -> ValidatedUpload:
    image, image_format = _decode(data, max_pixels, budget)
    clean, (width, height) = without_metadata(image)
    content_type, extension = ALLOWED_FORMATS["PNG"]
    return ValidatedUpload(
        data=clean,
        source_format=image_format,
        content_type=content_type,
        extension=extension,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),  # of the upload: finds the same file again
    )


# Modes PNG stores as they are; anything else (CMYK, YCbCr, LAB, 32-bit float) is converted.
# Pillow cannot write 32-bit integer ("I") as PNG: it is scaled to 16 bits like float.
PNG_MODES = {"1", "L", "LA", "I;16", "P", "RGB", "RGBA"}


def without_metadata(image: Image.Image) -> tuple[bytes, tuple[int, int]]:
    """The pixels alone, as a lossless PNG, turned upright by their EXIF orientation.

    EXIF, XMP, ICC comments, PNG text chunks and TIFF tags can carry a patient's name or a
    date of birth; none of them survive this. The decoded pixels are unchanged, so the model
    sees exactly what the original file holds.
    """
    upright = ImageOps.exif_transpose(image) or image
    if upright.mode in ("F", "I"):
        pixels = np.asarray(upright, dtype=np.float64)
        low, high = float(pixels.min()), float(pixels.max())
        scaled = (pixels - low) / (high - low) * 65535 if high > low else pixels * 0
        upright = Image.fromarray(scaled.astype(np.uint16))
    elif upright.mode not in PNG_MODES:
        upright = upright.convert("RGB")
    if upright.mode in ("L", "RGB"):  # nearly every slice: ml.image.png writes these ~4x faster
        pixels = np.asarray(upright)
        if pixels.ndim == 3 and _same_channels(pixels):
            pixels = pixels[..., 0]  # gray stored as colour (most JPEG slices): nothing is lost
        return encode_png(pixels), upright.size
    buffer = io.BytesIO()
    upright.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue(), upright.size


def _same_channels(rgb: np.ndarray) -> bool:
    """Whether red, green and blue are equal in every pixel: then one channel is the image,
    and a gray PNG of it decodes to the same slice for the model (and about twice as fast)."""
    return bool(
        np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
    )


def _decode(data: bytes, max_pixels: int, budget: PixelBudget) -> tuple[Image.Image, str]:
    """Check what the header declares (format, pixel count: this image's and the request's
    budget, frames), then decode every pixel through ml.image's size-limited open."""
    image_format, (width, height), frames = _header(data, max_pixels)
    if image_format not in ALLOWED_FORMATS:
        raise InvalidUpload(
            "This is not a supported image: upload JPEG, PNG, WEBP, TIFF or DICOM slices."
        )
    if width * height > max_pixels or width < 1 or height < 1:
        raise InvalidUpload(
            f"The image is {width}×{height} pixels; the limit is {max_pixels:,} pixels."
        )
    if frames > 1:
        raise InvalidUpload("Animated or multi-page images are not accepted: upload one slice.")
    budget.charge(width * height)
    try:
        return open_checked(data, max_pixels), image_format
    except UnreadableImage as exc:
        if isinstance(exc.__cause__, Image.DecompressionBombError | Image.DecompressionBombWarning):
            raise InvalidUpload(f"The image has more than {max_pixels:,} pixels.") from None
        raise InvalidUpload("The image is damaged or incomplete and cannot be decoded.") from None


def _header(data: bytes, max_pixels: int) -> tuple[str, tuple[int, int], int]:
    """The format, size and frame count the file declares, read without decoding a pixel."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                return image.format or "", image.size, getattr(image, "n_frames", 1)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidUpload(f"The image has more than {max_pixels:,} pixels.") from None
    except UnidentifiedImageError:
        raise _NotAnImage(
            "This file is not an image we can read: upload JPEG, PNG, WEBP, TIFF or DICOM slices."
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise InvalidUpload("The image is damaged or incomplete and cannot be decoded.") from None
