"""Upload validation: an image is what it decodes as, not what its name says."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

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


class InvalidUpload(ValueError):
    """A file we will not analyse; the message is shown to the clinician."""


class _NotAnImage(InvalidUpload):
    """Pillow does not recognise the bytes: they may still be a DICOM dataset without preamble."""


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


def validate_upload(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    max_frames: int = DEFAULT_MAX_DICOM_FRAMES,
) -> ValidatedUpload:
    """One slice from one file. A multi-frame DICOM file is refused here with a clear message;
    callers that can take several slices per file use `validate_upload_slices`."""
    slices = validate_upload_slices(
        data, max_bytes=max_bytes, max_pixels=max_pixels, max_frames=max_frames
    )
    if len(slices) > 1:
        raise InvalidUpload(
            f"This DICOM file holds {len(slices)} frames; upload one slice per file here."
        )
    return slices[0]


def validate_upload_slices(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    max_frames: int = DEFAULT_MAX_DICOM_FRAMES,
) -> list[ValidatedUpload]:
    """Every slice in one uploaded file: an image is one slice, a DICOM file one per frame.

    A file is DICOM by content, whatever its name: the 'DICM' marker after the preamble, or
    (for a bare dataset) a parse that finds pixel data once Pillow has not recognised it.
    """
    if not data:
        raise InvalidUpload("The file is empty.")
    if len(data) > max_bytes:
        raise InvalidUpload(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
    if dicom.has_dicom_magic(data):
        return _dicom_slices(data, max_pixels, max_frames)
    try:
        return [_validated_image(data, max_pixels)]
    except _NotAnImage:
        if dicom.parses_as_dicom(data):
            return _dicom_slices(data, max_pixels, max_frames)
        raise


def _dicom_slices(data: bytes, max_pixels: int, max_frames: int) -> list[ValidatedUpload]:
    """Rendered PNG slices; the DICOM bytes and header go no further than this function."""
    try:
        slices = dicom.render_slices(data, max_pixels=max_pixels, max_frames=max_frames)
    except dicom.DicomRejected as exc:
        raise InvalidUpload(str(exc)) from None
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


def _validated_image(data: bytes, max_pixels: int) -> ValidatedUpload:
    image, image_format = _decode(data, max_pixels)
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


def _decode(data: bytes, max_pixels: int) -> tuple[Image.Image, str]:
    """Open the header, check format and pixel count, then decode every pixel."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image_format = image.format or ""
            if image_format not in ALLOWED_FORMATS:
                raise InvalidUpload(
                    "This is not a supported image: upload JPEG, PNG, WEBP, TIFF or DICOM slices."
                )
            width, height = image.size
            if width * height > max_pixels or width < 1 or height < 1:
                raise InvalidUpload(
                    f"The image is {width}×{height} pixels; the limit is {max_pixels:,} pixels."
                )
            if getattr(image, "n_frames", 1) > 1:
                raise InvalidUpload(
                    "Animated or multi-page images are not accepted: upload one slice."
                )
            image.load()
    except InvalidUpload:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidUpload(f"The image has more than {max_pixels:,} pixels.") from None
    except UnidentifiedImageError:
        raise _NotAnImage(
            "This file is not an image we can read: upload JPEG, PNG, WEBP, TIFF or DICOM slices."
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise InvalidUpload("The image is damaged or incomplete and cannot be decoded.") from None
    return image, image_format
