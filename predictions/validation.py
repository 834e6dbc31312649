"""Upload validation: an image is what it decodes as, not what its name says."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

# Formats a clinician may upload, with the content type we store for them.
ALLOWED_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "TIFF": ("image/tiff", "tif"),
}
DICOM_MAGIC_OFFSET = 128


class InvalidUpload(ValueError):
    """A file we will not analyse; the message is shown to the clinician."""


@dataclass(frozen=True)
class ValidatedUpload:
    data: bytes
    source_format: str
    content_type: str
    extension: str
    width: int
    height: int
    sha256: str


def validate_upload(data: bytes, *, max_bytes: int, max_pixels: int) -> ValidatedUpload:
    if not data:
        raise InvalidUpload("The file is empty.")
    if len(data) > max_bytes:
        raise InvalidUpload(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
    if data[DICOM_MAGIC_OFFSET : DICOM_MAGIC_OFFSET + 4] == b"DICM":
        raise InvalidUpload("DICOM files are not accepted yet: export the slice as PNG or JPEG.")
    width, height, image_format = _decode(data, max_pixels)
    content_type, extension = ALLOWED_FORMATS[image_format]
    return ValidatedUpload(
        data=data,
        source_format=image_format,
        content_type=content_type,
        extension=extension,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _decode(data: bytes, max_pixels: int) -> tuple[int, int, str]:
    """Open the header, check format and pixel count, then decode every pixel."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image_format = image.format or ""
            if image_format not in ALLOWED_FORMATS:
                raise InvalidUpload(
                    "This is not a supported image: upload JPEG, PNG, WEBP or TIFF slices."
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
        raise InvalidUpload(
            "This file is not an image we can read: upload JPEG, PNG, WEBP or TIFF slices."
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise InvalidUpload("The image is damaged or incomplete and cannot be decoded.") from None
    return width, height, image_format
