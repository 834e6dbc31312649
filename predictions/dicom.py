"""DICOM uploads: recognise them by content, render the pixels, keep no identifying header.

A DICOM file carries the patient's name, id, birth date, accession number, institution, dates
and UIDs next to its pixels. We keep only what the analysis needs: every frame rendered to an
8-bit grayscale PNG (rescale slope/intercept, then the file's own VOI LUT or window, else a
0.5-99.5 percentile window; MONOCHROME1 inverted) and an allow-list of technical tags. The
header itself is never stored, and no message built here quotes a value read from it.

Multi-frame objects are analysed frame by frame (one slice each, capped by `max_frames`)
rather than refused: an enhanced MR series often arrives as one multi-frame file.
"""

from __future__ import annotations

import io
import logging
import math
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, apply_voi_lut, get_decoder, pixel_array
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

MAGIC_OFFSET = 128
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
PERCENTILE_WINDOW = (0.5, 99.5)
# Technical tags that cannot identify a patient, with the kind of value each must hold;
# everything else in the header is dropped. Kinds are enforced: a value of the wrong kind
# (a name typed into a numeric tag, say) is dropped too, never stored as text. No free text is
# kept: SeriesDescription "T1 PHI-John-Doe-MRN123456" was stored and shown, so it is now cut
# down to the words of a known vocabulary ("T1"), the vendor is one of a known list, and the
# scanner model name (free text with no vocabulary to check it against) is dropped.
META_KINDS = {
    "Modality": "code",
    "SeriesDescription": "sequence",
    "SliceThickness": "number",
    "PixelSpacing": "numbers",
    "Rows": "integer",
    "Columns": "integer",
    "Manufacturer": "vendor",
    "MagneticFieldStrength": "number",
    "PhotometricInterpretation": "code",
    "BitsStored": "integer",
    # Numbers of the series in its study and of the image in its series, as the scanner
    # counts them (1, 2, ...): they let a clinician tell which result is which file, and
    # they name nobody. Integers only; the UIDs stay dropped.
    "SeriesNumber": "integer",
    "InstanceNumber": "integer",
}
CODE_STRING = re.compile(r"[A-Z0-9_ ]{1,16}")
# Words an MR series description is made of: weighting, sequence, plane, contrast, options.
SEQUENCE_WORDS = frozenset(
    """
    T1 T2 T1W T2W T1WI T2WI T2* PD PDW FLAIR STIR DWI DTI ADC TRACE SWI SWAN GRE SE TSE FSE
    IR MPRAGE MP2RAGE SPGR FSPGR BRAVO VIBE SPACE CUBE VISTA FFE TFE EPI BOLD PERF DSC DCE ASL
    MRA TOF PC CISS FIESTA HASTE SSFSE B0 B1000 MAP
    AX AXIAL TRA TRANS COR CORONAL SAG SAGITTAL OBL 2D 3D
    PRE POST GD GAD C+ T1C T1CE T1GD CE CONTRAST FS FATSAT DIXON MPR MIP ISO
    BRAIN HEAD
    """.split()  # noqa: SIM905 (a word list reads better as words)
)
SEQUENCE_TOKEN = re.compile(r"[A-Z0-9+*]+")
# The vendor's first word, as scanners write it, to the name we show.
VENDORS = {
    "SIEMENS": "Siemens",
    "GE": "GE",
    "PHILIPS": "Philips",
    "TOSHIBA": "Toshiba",
    "CANON": "Canon",
    "HITACHI": "Hitachi",
    "FUJIFILM": "Fujifilm",
    "UIH": "United Imaging",
    "UNITED": "United Imaging",
    "ESAOTE": "Esaote",
}
MODALITY_NAMES = {
    "CT": "a CT image",
    "CR": "a radiograph (CR)",
    "DX": "a radiograph (DX)",
    "MG": "a mammogram",
    "US": "an ultrasound image",
    "PT": "a PET image",
    "NM": "a nuclear medicine image",
    "XA": "an angiogram",
    "RF": "a fluoroscopy image",
    "OT": "a secondary capture (modality OT)",
    "SC": "a secondary capture",
    "IO": "an intra-oral radiograph",
    "PX": "a panoramic radiograph",
    "OP": "an ophthalmic photograph",
    "SM": "a slide microscopy image",
    "ES": "an endoscopy image",
    "XC": "an external camera photograph",
}


# Bits per stored value each kind of pixel data may declare. Anything else (1-bit, 64-bit
# integers, nonsense) is refused from the header: it sets how much memory a frame decodes to.
BITS_ALLOCATED = {"PixelData": (8, 16, 32), "FloatPixelData": (32,), "DoubleFloatPixelData": (64,)}


@dataclass(frozen=True)
class Limits:
    """What a file may declare, all checked on the header before any pixel is decoded."""

    max_pixels: int  # per frame
    max_frames: int  # per file
    max_total_pixels: int  # rows × columns × frames: what is left of the request's budget
    one_slice: bool = False  # the caller takes one slice per file (the API)


class DicomRejected(ValueError):
    """A DICOM file we will not analyse. The message never quotes a header value."""


@dataclass(frozen=True)
class DicomSlice:
    png: bytes
    width: int
    height: int
    frame_index: int | None  # None for a single-frame object
    meta: dict[str, object] = field(default_factory=dict)


class _WithholdDetails(logging.Filter):
    """pydicom's warnings can quote header values (an invalid date, a name): keep the fact,
    drop the words."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = "%s reported a problem while reading an upload (details withheld)"
        record.args = (record.name,)
        return True


def _withhold_library_logs() -> None:
    names = ["pydicom", "pylibjpeg", "openjpeg", "libjpeg"]
    names += [name for name in logging.Logger.manager.loggerDict if name.startswith("pydicom.")]
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _WithholdDetails) for f in logger.filters):
            logger.addFilter(_WithholdDetails())


_withhold_library_logs()
logger = logging.getLogger(__name__)


def has_dicom_magic(data: bytes) -> bool:
    """Part 10 files: a 128-byte preamble, then 'DICM'."""
    return data[MAGIC_OFFSET : MAGIC_OFFSET + 4] == b"DICM"


def parses_as_dicom(data: bytes) -> bool:
    """For files without the preamble (raw datasets): a forced parse that finds pixel data."""
    try:
        with _quiet():
            return _has_pixels(_read(data))
    except Exception:  # any parser error on arbitrary bytes just means "not DICOM"
        return False


def render_slices(data: bytes, limits: Limits) -> list[DicomSlice]:
    """Check that `data` is an MR image we can decode, then render every frame.

    Raises DicomRejected with a message for the clinician. Cheap checks (modality, pixel
    format and bits, transfer syntax, size, frame count, rows × columns × frames) run on the
    header before any pixel is decoded: a "frame bomb" of 15 RLE frames of 6300 × 6300 in
    9.3 MB used to be decoded in full (18-49 s, 1.2 GB) before anything refused it.
    """
    try:
        with _quiet():
            return _render_slices(data, limits)
    except (DicomRejected, MemoryError):
        raise
    except Exception as exc:  # hostile input can break pydicom anywhere; its message may quote
        # header values, so only the exception's type is logged and the clinician gets a
        # plain refusal instead of a server error.
        logger.warning("a DICOM upload could not be parsed (%s)", type(exc).__name__)
        raise DicomRejected("The DICOM file is damaged and cannot be read.") from None


def _render_slices(data: bytes, limits: Limits) -> list[DicomSlice]:
    ds = _read(data)
    if not _has_pixels(ds):
        raise DicomRejected("This DICOM file holds no image (no pixel data), or it is incomplete.")
    _check_modality(ds)
    if str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES":
        raise DicomRejected(
            "This DICOM file says its pixels carry burned-in text, which can identify the "
            "patient; export the slice without annotations."
        )
    _check_pixel_format(ds, limits.max_pixels)
    _check_transfer_syntax(ds)
    frames = _frame_count(ds)
    _check_declared_size(ds, frames, limits)
    meta = technical_meta(ds)
    if frames > 1:
        meta["NumberOfFrames"] = frames
    return [
        DicomSlice(
            png=_png(_render(_decode_frame(ds, index if frames > 1 else None), ds)),
            width=int(ds.Columns),
            height=int(ds.Rows),
            frame_index=index if frames > 1 else None,
            meta=meta,
        )
        for index in range(frames)
    ]


def technical_meta(ds: Dataset) -> dict[str, object]:
    """The allow-listed technical tags as JSON values; absent or ill-formed ones are left out."""
    meta: dict[str, object] = {}
    for keyword, kind in META_KINDS.items():
        raw = ds.get(keyword)
        value = None if raw is None or isinstance(raw, bytes) else _META_CONVERTERS[kind](raw)
        if value is not None:
            meta[keyword] = value
    return meta


@contextmanager
def _quiet() -> Iterator[None]:
    """pydicom warns about odd values by quoting them, and Django sends warnings to the log."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _read(data: bytes) -> Dataset:
    try:
        ds = dcmread(io.BytesIO(data), force=True)
    except (InvalidDicomError, EOFError, OSError, ValueError, TypeError, KeyError,
            IndexError, AttributeError, NotImplementedError):  # fmt: skip
        raise DicomRejected("The DICOM file is damaged or incomplete and cannot be read.") from None
    if not ds.file_meta.get("TransferSyntaxUID"):
        # A bare dataset has no file meta: record the encoding pydicom found while reading,
        # which the pixel decoder needs.
        implicit, little = ds.original_encoding
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if implicit else
            ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        )  # fmt: skip
    return ds


def _has_pixels(ds: Dataset) -> bool:
    return any(keyword in ds for keyword in PIXEL_KEYWORDS)


def _check_modality(ds: Dataset) -> None:
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if modality == "MR":
        return
    if not modality:
        raise DicomRejected(
            "This DICOM file does not say which modality it is; only MR (magnetic resonance) "
            "brain slices can be analysed."
        )
    kind = MODALITY_NAMES.get(modality, "not an MR image")
    raise DicomRejected(
        f"This DICOM file is {kind}; only MR (magnetic resonance) brain slices can be analysed."
    )


def _check_pixel_format(ds: Dataset, max_pixels: int) -> None:
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    except (AttributeError, ValueError, TypeError):
        raise DicomRejected("The DICOM file is damaged: its image size is missing.") from None
    if samples != 1 or photometric not in MONOCHROME:
        raise DicomRejected("Colour DICOM images are not supported: upload the grayscale MR slice.")
    if rows < 1 or columns < 1:
        raise DicomRejected("The DICOM file is damaged: its image size is missing.")
    if rows * columns > max_pixels:
        raise DicomRejected(
            f"The image is {columns}×{rows} pixels; the limit is {max_pixels:,} pixels."
        )
    _check_bits(ds)


def _check_bits(ds: Dataset) -> None:
    """BitsAllocated sets the memory of every decoded frame; BitsStored must fit inside it."""
    keyword = next(keyword for keyword in PIXEL_KEYWORDS if keyword in ds)
    try:
        allocated = int(ds.get("BitsAllocated", 0) or 0)
        stored = int(ds.get("BitsStored", allocated) or allocated)
    except (ValueError, TypeError):
        raise DicomRejected("The DICOM file is damaged: its bit depth is unreadable.") from None
    if allocated not in BITS_ALLOCATED[keyword] or not 1 <= stored <= allocated:
        raise DicomRejected(
            "This DICOM file declares a bit depth we do not read: 8-, 12- and 16-bit "
            "grayscale slices are supported."
        )


def _check_declared_size(ds: Dataset, frames: int, limits: Limits) -> None:
    """Frame count and rows × columns × frames, from the header alone."""
    if limits.one_slice and frames > 1:
        raise DicomRejected(
            f"This DICOM file holds {frames} frames; upload one slice per file here."
        )
    if frames > limits.max_frames:
        raise DicomRejected(
            f"This DICOM file holds {frames} frames; the limit is {limits.max_frames} per file."
        )
    total = int(ds.Rows) * int(ds.Columns) * frames
    if total > limits.max_total_pixels:
        raise DicomRejected(
            f"This DICOM file declares {frames} frame(s) of {int(ds.Columns)}×{int(ds.Rows)} "
            f"pixels, more than this upload may decode ({limits.max_total_pixels:,} pixels "
            "left); send fewer or smaller slices at a time."
        )


def _check_transfer_syntax(ds: Dataset) -> None:
    """Compressed pixels need a decoder plugin; name the syntax only if it is a standard one."""
    uid = UID(str(ds.file_meta.TransferSyntaxUID))
    if uid.is_transfer_syntax and not uid.is_compressed:
        return
    try:
        if get_decoder(uid).is_available:
            return
    except NotImplementedError:
        pass
    name = f" ({uid.name})" if uid.is_transfer_syntax else ""
    raise DicomRejected(
        f"This DICOM file uses an unsupported transfer syntax{name}. Export it uncompressed, "
        "or as JPEG, JPEG-LS, JPEG 2000 or RLE."
    )


def _frame_count(ds: Dataset) -> int:
    try:
        return max(int(ds.get("NumberOfFrames", 1) or 1), 1)
    except (ValueError, TypeError):
        raise DicomRejected("The DICOM file is damaged: its frame count is unreadable.") from None


def _decode_frame(ds: Dataset, index: int | None) -> np.ndarray:
    try:
        frame = pixel_array(ds, index=index, raw=True)
    except MemoryError:
        raise
    except Exception:  # decoders raise many types for corrupt streams; the message may quote tags
        raise DicomRejected(
            "The DICOM file's pixel data is damaged or incomplete and cannot be decoded."
        ) from None
    if frame.ndim != 2:
        raise DicomRejected("The DICOM file's pixel data does not have the size its header says.")
    return frame


def _render(stored: np.ndarray, ds: Dataset) -> np.ndarray:
    """Stored values -> 8-bit display values, as a DICOM viewer would show them."""
    values = _modality_values(stored, ds)
    shown = _voi_window(values, ds)
    if shown is None:
        shown = _percentile_window(values)
    if str(ds.get("PhotometricInterpretation", "")).strip().upper() == "MONOCHROME1":
        shown = 1.0 - shown  # MONOCHROME1: the lowest value is displayed white
    return np.round(shown * 255).astype(np.uint8)


def _modality_values(stored: np.ndarray, ds: Dataset) -> np.ndarray:
    try:
        return np.asarray(apply_modality_lut(stored, ds))
    except (ValueError, TypeError, AttributeError, IndexError, KeyError):
        return stored  # a broken rescale is ignored: the percentile window is scale-free anyway


def _voi_window(values: np.ndarray, ds: Dataset) -> np.ndarray | None:
    """The file's own VOI LUT or window centre/width, as 0..1; None when absent or invalid."""
    uses_lut = bool(ds.get("VOILUTSequence"))
    has_window = "WindowCenter" in ds and "WindowWidth" in ds
    if not (uses_lut or has_window):
        return None
    try:
        if uses_lut:  # a LUT maps integers; its output is 0 .. 2**bits - 1
            shown = apply_voi_lut(np.round(values).astype(np.int64), ds)
            low, high = 0.0, float(2 ** int(ds.VOILUTSequence[0].LUTDescriptor[2]) - 1)
        else:
            shown = apply_voi_lut(values.astype(np.float64), ds, prefer_lut=False)
            # The window's output range depends on bit depth and rescale; asking the same
            # function about two extreme inputs gives it without re-deriving pydicom's rules.
            low, high = apply_voi_lut(np.array([-1e300, 1e300]), ds, prefer_lut=False)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, NotImplementedError):
        return None
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return None
    return np.clip((np.asarray(shown, dtype=np.float64) - low) / (high - low), 0.0, 1.0)


def _percentile_window(values: np.ndarray) -> np.ndarray:
    """0.5-99.5 percentile window: robust to a few hot pixels and to any scale or offset."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(values.shape)
    low, high = np.percentile(finite, PERCENTILE_WINDOW)
    if high <= low:
        return np.zeros(values.shape)  # a flat image stays flat (black)
    scaled = (np.nan_to_num(values, nan=low) - low) / (high - low)
    return np.clip(scaled, 0.0, 1.0)


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def finite_number(value: object) -> float | None:
    """A header value as a finite float (None for a missing, malformed, infinite or NaN one)."""
    try:
        number = float(str(value))
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _integer(value: object) -> int | None:
    number = finite_number(value)
    return int(number) if number is not None and number.is_integer() else None


def _numbers(value: object) -> list[float] | None:
    items = list(value) if isinstance(value, list | tuple | MultiValue) else [value]
    numbers = [finite_number(item) for item in items]
    known = [number for number in numbers if number is not None]
    return known if known and len(known) == len(numbers) <= 3 else None


def _code(value: object) -> str | None:
    """A DICOM code string (CS): capitals, digits, space and underscore, at most 16."""
    text = str(value).strip()
    return text if CODE_STRING.fullmatch(text) else None


def _sequence(value: object) -> str | None:
    """The words of a series description that are in SEQUENCE_WORDS, in order; the rest
    (names, record numbers, anything typed at the console) is dropped unseen."""
    words = [w for w in SEQUENCE_TOKEN.findall(str(value).upper()) if w in SEQUENCE_WORDS]
    return " ".join(words[:8]) or None


def _vendor(value: object) -> str | None:
    words = SEQUENCE_TOKEN.findall(str(value).upper())
    return VENDORS.get(words[0]) if words else None


_META_CONVERTERS = {
    "code": _code,
    "sequence": _sequence,
    "vendor": _vendor,
    "number": finite_number,
    "numbers": _numbers,
    "integer": _integer,
}
